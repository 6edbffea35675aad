"""`escalatord drill`: rehearse an escalation with real people.

    escalatord drill (--rule R | --policy P | --check C) [--as PERSON]

Opens a real incident marked as a drill (incidents/drills.py) in the configured database, as
snooze and reassign write from this process: the running daemon's tick pages its levels to
the people on call, and it is acknowledged as any other (the ack link, `escalatord ack`).
--rule R rehearses rule R (its owner, runbook, steps, category and policy) on the first check
it matches (else a pseudo-check "drill"); --check C rehearses a failure of check C through the
rule that matches it; --policy P is a bare drill of that policy on the pseudo-check "drill".

Exit codes, as the other commands: 0 opened; 1 no database at the configured path; 2 a usage
error (not exactly one of --rule, --policy, --check; an unknown name, listed with the
configured ones; a rule, or the rule a check matches, without a policy) or a rejected config.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from escalatord.commands.common import (
    config_option,
    fail,
    load_config,
    run_async,
    unknown_name,
    who,
    with_store,
)
from escalatord.core import planning, rules
from escalatord.core.durations import format_duration
from escalatord.core.status import Status

if TYPE_CHECKING:
    from escalatord.config.model import Config
    from escalatord.store.db import Store

PSEUDO_CHECK = "drill"  # the check a drill names when no configured check is concerned


def _from_rule(config: Config, name: str, where: str) -> tuple[str, dict[str, str], Any]:
    found = {r.name: r for r in config.rules}
    if name not in found:
        unknown_name("rule", name, list(found), where, 2)
    rule = found[name]
    check = next(
        (c for c in config.checks if rules.matches(rule, c.labels, c.name, Status.CRITICAL)),
        None,
    )
    decision = rules.Decision(
        rules=(rule.name,),
        severity=rule.severity or rules.DEFAULT_SEVERITY,
        policy=rule.policy,
        owner=rule.owner or "",
        runbook=rule.runbook or "",
        steps=tuple(rule.steps),
        category=rule.category,
    )
    if check is None:
        return PSEUDO_CHECK, {}, decision
    return check.name, dict(check.labels), decision


def _from_check(config: Config, name: str, where: str) -> tuple[str, dict[str, str], Any]:
    if name not in config.check_by_name:
        unknown_name("check", name, list(config.check_by_name), where, 2)
    labels = dict(config.check_by_name[name].labels)
    decision = rules.match(config.rules, labels, name, Status.CRITICAL)
    if decision is None:
        fail([f"error: no rule matches check {name!r} when it fails: nothing to rehearse"], 2)
    return name, labels, decision


def _target(
    config: Config, rule: str | None, policy: str | None, check: str | None, where: str
) -> tuple[str, str, dict[str, str], Any]:
    """(target, check, labels, decision) of the drill asked for."""
    if rule is not None:
        name, labels, decision = _from_rule(config, rule, where)
        target = f"rule={rule}"
    elif check is not None:
        name, labels, decision = _from_check(config, check, where)
        target = f"check={check}"
    else:
        assert policy is not None
        if policy not in config.policy_by_name:
            unknown_name("policy", policy, list(config.policy_by_name), where, 2)
        decision = rules.Decision(
            rules=(), severity="critical", policy=policy, owner="", runbook="", steps=()
        )
        name, labels, target = PSEUDO_CHECK, {}, f"policy={policy}"
    if decision.policy is None:
        fail([f"error: {target.replace('=', ' ')} has no policy: a drill would page nobody"], 2)
    return target, name, labels, decision


@click.command()
@config_option
@click.option("--rule", default=None, metavar="R", help="Rehearse rule R on a check it matches.")
@click.option("--policy", default=None, metavar="P", help="A bare drill of policy P.")
@click.option("--check", default=None, metavar="C", help="Rehearse a failure of check C.")
@click.option(
    "--as",
    "person",
    default=None,
    metavar="PERSON",
    help="Who starts it: a [[person]] of the config (default: your user name).",
)
def drill(
    config_path: str,
    rule: str | None,
    policy: str | None,
    check: str | None,
    person: str | None,
) -> None:
    """Open a real incident marked as a drill ("DRILL" in its title, incident.drill = true):
    the running daemon pages it by the real ladder; acknowledge it as any other. Its time to
    acknowledge is recorded and kept out of real MTTA."""
    from escalatord.escalation.recipients import ConfigResolver
    from escalatord.incidents.drills import open_drill

    if sum(x is not None for x in (rule, policy, check)) != 1:
        raise click.UsageError("give exactly one of --rule R, --policy P, --check C")
    config = load_config(config_path)
    if person is not None and person not in config.person_by_name:
        unknown_name("person", person, list(config.person_by_name), config_path, 2)
    by = person or who()
    target, name, labels, decision = _target(config, rule, policy, check, config_path)
    decision = decision.with_priority({c.name: c.priority for c in config.categories})
    snap = planning.snapshot(config.policy_by_name[decision.policy])
    resolver = ConfigResolver(lambda: config)

    async def work(store: Store) -> tuple[int, list[str]]:
        now = datetime.now(UTC)
        async with store.write() as conn:
            incident_id = await open_drill(
                conn,
                target=target,
                check=name,
                labels=labels,
                decision=decision,
                policy_snapshot=snap,
                now=now,
                by=by,
            )
            lines = []
            # The first cycle of the ladder, each level resolved at its time (who is on call
            # then): what will be paged if nobody acknowledges.
            for step in planning.plan(snap, now):
                if step.cycle:
                    break
                got = await resolver(conn, step.notify, step.due_at)
                reached = got.describe() or "nobody"
                missed = "".join(f"; {n.name}: {n.why}" for n in got.nobody)
                lines.append(
                    f"  level {step.level} after {format_duration(step.due_at - now)}: "
                    f"{reached}{missed}"
                )
        return incident_id, lines

    incident_id, lines = run_async(with_store(config, work))
    click.echo(
        f"drill incident {incident_id} opened by {by}: {target}, check {name}, "
        f"policy {decision.policy}"
    )
    click.echo("will be paged, until acknowledged:")
    for line in lines:
        click.echo(line)
