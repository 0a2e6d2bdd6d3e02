"""The documentation's command tables, rendered from the declarations.

``scripts/command_tables.py`` writes them into README.md and docs/commands.md between
``<!-- BEGIN <name> -->`` / ``<!-- END <name> -->`` markers; ``tests/test_command_tables.py``
fails when the committed text differs from what this module renders, so the tables cannot
drift from the registry.
"""

from __future__ import annotations

from ..state import REFUSALS, LegState
from .registry import Command, commands

STATES = (LegState.PARKED, LegState.RINGING, LegState.ANSWERED, LegState.BRIDGED)


def status(command: Command) -> str:
    return "emulated" if command.emulated else f"not yet (#{command.issue})"


def _endpoint(command: Command) -> str:
    return f"`{command.method} {command.http_path.replace('{call_control_id}', '{id}')}`"


def _webhooks(command: Command) -> str:
    return ", ".join(f"`{w}`" for w in command.webhooks) or "—"


def readme_table() -> str:
    rows = [
        "| Command | Endpoint | SDK method | Status | Webhooks it can cause |",
        "|---|---|---|---|---|",
    ]
    for c in commands():
        sdk = f"`{c.sdk.removeprefix('client.')}`"
        rows.append(f"| {c.summary} | {_endpoint(c)} | {sdk} | {status(c)} | {_webhooks(c)} |")
    return "\n".join(rows)


def summary_table() -> str:
    rows = [
        "| Command | Endpoint | SDK | Family | Status | Webhooks it can cause |",
        "|---|---|---|---|---|---|",
    ]
    for c in commands():
        rows.append(
            f"| {c.summary} | {_endpoint(c)} | `{c.sdk}` | `{c.family}` | {status(c)} "
            f"| {_webhooks(c)} |"
        )
    return "\n".join(rows)


def state_table() -> str:
    """Which command each live state accepts (✔) or refuses (the error code)."""
    rows = [
        "| Command | " + " | ".join(s.value for s in STATES) + " |",
        "|---|" + "---|" * len(STATES),
    ]
    for c in commands():
        if c.scope != "call":
            continue
        cells = []
        for state in STATES:
            refusal = REFUSALS.get((c.name, state))
            cells.append("✔" if refusal is None else refusal().errors[0].code)
        rows.append(f"| {c.name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


# (file relative to the repository, table name) -> renderer
TABLES = {
    ("README.md", "command-table"): readme_table,
    ("docs/commands.md", "command-summary"): summary_table,
    ("docs/commands.md", "command-states"): state_table,
}


def replace_table(text: str, name: str, table: str) -> str:
    """``text`` with the block between the table's markers replaced by ``table``."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    head, found, rest = text.partition(begin)
    if not found or end not in rest:
        raise ValueError(f"markers for {name!r} not found")
    _, _, tail = rest.partition(end)
    return f"{head}{begin}\n{table}\n{end}{tail}"
