"""A throwaway PostgreSQL cluster for tests: `initdb` in a temp dir, `pg_ctl` on a free loopback
port, removed by `stop()`.

initdb refuses to run as root, so as root the cluster runs as the `postgres` system user (created
if missing); the temp dir is made directly under /tmp and handed to that user, because pytest's
own temp dirs are private to root. Debian's packages: postgresql (server) and
postgresql-client (psql), binaries under /usr/lib/postgresql/<version>/bin.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.support import programs
from tests.support.net import free_port

INSTALL_HINT = "apt-get install postgresql (Debian) to run the PostgreSQL store tests"
USER = "postgres"
TOOLS = ("initdb", "pg_ctl", "psql")


class PostgresUnavailable(Exception):
    """PostgreSQL is installed but the cluster could not be started."""


def find_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl and psql: from PATH, else the newest
    /usr/lib/postgresql/*/bin; None when PostgreSQL is not installed."""
    on_path = programs.find("pg_ctl")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(
        versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True
    )
    for bindir in candidates:
        if all(programs.find(str(bindir / tool)) for tool in TOOLS):
            return bindir
    return None


@dataclass
class PostgresCluster:
    bindir: Path
    root: Path  # temp dir: data/, the log, and the unix socket
    port: int
    run_as: str | None  # system user the server runs as; None when we are not root

    def url(self, database: str = "postgres") -> str:
        """A URL as users write it, for the cluster's superuser (trust auth, no password)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str) -> None:
        """Run one SQL statement as the superuser; raises CalledProcessError with psql's output."""
        subprocess.run(
            [
                *(str(self.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"),
                *("-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", "postgres", "-c", sql),
            ],
            check=True,
            capture_output=True,
            text=True,
        )

    def create_database(self) -> str:
        """A new empty database with a unique name; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and remove every file of the cluster."""
        try:
            _run(self, "pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start(bindir: Path) -> PostgresCluster:
    """initdb a new cluster in a temp dir and start it on a free port on 127.0.0.1."""
    root = Path(tempfile.mkdtemp(prefix="escalatord-pg-"))
    run_as = None
    if os.geteuid() == 0:
        run_as = USER
        entry = _system_user(USER)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    cluster = PostgresCluster(bindir=bindir, root=root, port=0, run_as=run_as)
    data = str(root / "data")
    try:
        # --no-sync and fsync=off: a throwaway cluster need not survive a power cut.
        _run(
            cluster,
            "initdb",
            "-D",
            data,
            "-U",
            USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        for _ in range(3):  # another process may take the free port before the server binds it
            cluster.port = free_port()
            options = (
                f"-p {cluster.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={root}"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            log = str(root / "server.log")
            started = _run(
                cluster,
                "pg_ctl",
                "-D",
                data,
                "-l",
                log,
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
                check=False,
            )
            if started.returncode == 0:
                return cluster
        tail = (root / "server.log").read_text(errors="replace")[-2000:]
        raise PostgresUnavailable(f"pg_ctl start failed: {started.stdout}{started.stderr}\n{tail}")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _run(
    cluster: PostgresCluster, tool: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    command = [str(cluster.bindir / tool), *args]
    if cluster.run_as is not None:
        command = ["runuser", "-u", cluster.run_as, "--", *command]
    # cwd: the server's user may not be allowed into ours.
    result = subprocess.run(command, cwd=cluster.root, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise PostgresUnavailable(
            f"{tool} failed ({result.returncode}): {result.stdout}{result.stderr}"
        )
    return result


def _system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            [
                *("useradd", "--system", "--user-group", "--no-create-home"),
                *("--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name),
            ],
            check=True,
        )
        return pwd.getpwnam(name)
