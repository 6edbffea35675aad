"""What an escalatord command printed, and the secret that must never be in it."""

from __future__ import annotations

import subprocess

SECRET = "s3cr3t-hook-token-9f2c"  # given by ${ESCALATORD_TEST_TOKEN}; must never be printed


def output(proc: subprocess.CompletedProcess[str]) -> str:
    """Everything the command printed, for assertion messages and secret checks."""
    return proc.stdout + proc.stderr
