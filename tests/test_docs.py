"""The README, docs/ and examples/ say only true things about the command line, and their marked
shell snippets run.

**Marking a snippet to run.** Put the HTML comment ``<!-- test: run -->`` on the line right
before a fenced ``sh``/``bash``/``shell`` block (``console`` blocks: only their ``$ `` lines run).
``<!-- test: run exit=1 -->`` expects that exit status instead of 0. The marked blocks of one
file run in order as one bash script (``set -euo pipefail``), so a variable set in one block is
there in the next, in a fresh temporary directory, against an emulator started for that file:

- ``localhost:8787`` / ``127.0.0.1:8787`` in a snippet become that emulator's address;
  ``TELNYX_EMULATOR_URL`` (``http://127.0.0.1:PORT``) and ``TELNYX_EMULATOR_PORT`` are set too,
  so ``"$TELNYX_EMULATOR_URL/_emulator/health"`` and ``telnyx-emulator health`` find it;
- any other ``localhost:PORT`` / ``127.0.0.1:PORT`` (your app's ``webhook_url``) becomes a
  webhook receiver that answers 200;
- ``curl`` fails on an HTTP error (``--fail-with-body``), and ``telnyx-emulator`` is this
  checkout's CLI;
- the emulator runs at ``--time-scale 0.01``, so a scenario's seconds are hundredths.

Unmarked blocks are never run (``telnyx-emulator serve`` would not return), but every
``telnyx-emulator`` command line in any block or inline code span, and every
``TELNYX_EMULATOR_*`` variable, must exist.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from emulator import cli
from emulator.config import Settings

from .servers import EmulatorServer, Receiver

ROOT = Path(__file__).resolve().parent.parent
MARKDOWN = sorted([*ROOT.glob("README.md"), *(ROOT / "docs").glob("*.md")])
EXAMPLES = sorted((ROOT / "examples").glob("*.yml"))
RUNNABLE = {"sh", "bash", "shell", "console"}
SHELLISH = RUNNABLE | {"yaml", "yml", "dockerfile", "text", ""}
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
MARK = re.compile(r"^\s*<!--\s*test:\s*run(?:\s+exit=(\d+))?\s*-->\s*$")


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    run: bool
    exit: int = 0

    def commands(self) -> str:
        if self.lang == "console":
            return "\n".join(
                line.strip()[2:] for line in self.text.splitlines() if line.strip().startswith("$ ")
            )
        return self.text

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m[2], m[3].lower()
        mark = MARK.match(lines[i - 1]) if i > 0 else None
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j])
            j += 1
        out.append(
            Block(
                path,
                i + 1,
                lang,
                "\n".join(body),
                mark is not None,
                int(mark[1] or 0) if mark else 0,
            )
        )
        i = j + 1
    return out


def _outside_fences(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return re.sub(r"^(```+|~~~+).*?^\1\s*$", "", text, flags=re.M | re.S)


# --- the command lines mentioned must exist ---------------------------------------------------


def _command_lines(path: Path) -> Iterator[tuple[str, str]]:
    """(where, text after 'telnyx-emulator') for every command line in blocks, code spans,
    YAML examples and the Dockerfile."""
    sources: list[tuple[str, str]] = []
    if path.suffix == ".md":
        for block in blocks(path):
            if block.lang in SHELLISH:
                sources.append((block.where, block.text))
        for span in re.findall(r"`([^`\n]+)`", _outside_fences(path)):
            sources.append((str(path.relative_to(ROOT)), span))
    else:
        sources.append((str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")))
    for where, text in sources:
        text = re.sub(r"\\\n\s*", " ", text)
        for line in text.splitlines():
            for m in re.finditer(r"(?<![\w./:@-])telnyx-emulator(?![\w.:@/-])", line):
                yield where, line[m.end() :]


def _check_command(parser: argparse.ArgumentParser, rest: str) -> str | None:
    """None if ``telnyx-emulator <rest>`` names real subcommands and flags, else the problem."""
    tokens: list[str] = []
    for token in rest.split():
        if token in {"|", "||", "&&", ";", "&", ")", "#"} or token.startswith((">", "2>", "#")):
            break
        tokens.append(token.strip("\"'`,"))
    if not tokens or not re.match(r"^(-{1,2}[a-z]|[a-z])", tokens[0]):
        return None  # the name on its own (pip install telnyx-emulator, an image name, prose)
    current = parser
    words = iter(tokens)
    for token in words:
        if token.startswith("-"):
            flag = token.split("=", 1)[0]
            if flag not in current._option_string_actions:
                return f"{current.prog} has no option {flag}"
            continue
        subparsers = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers:
            continue  # an option's value or a positional argument
        choices = subparsers[0].choices
        if token not in choices:
            if current is parser:
                return f"no subcommand {token!r}"
            return f"{current.prog} has no action {token!r}"
        current = choices[token]
    return None


@pytest.mark.parametrize(
    "path",
    [*MARKDOWN, *EXAMPLES, ROOT / "Dockerfile"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_command_line_mentioned_exists(path: Path) -> None:
    parser = cli.build_parser()
    problems = [
        f"{where}: telnyx-emulator{rest}: {problem}"
        for where, rest in _command_lines(path)
        if (problem := _check_command(parser, rest)) is not None
    ]
    assert not problems, "\n".join(problems)


def test_the_checker_catches_mistakes() -> None:
    parser = cli.build_parser()
    assert _check_command(parser, " serve --port 0 --time-scale 0.01 > log 2>&1 &") is None
    assert _check_command(parser, " scenarios check my-scenarios/") is None
    assert _check_command(parser, ' keygen >> "$GITHUB_ENV"') is None
    assert _check_command(parser, " serve --prot 0") == "telnyx-emulator serve has no option --prot"
    assert _check_command(parser, " scenarios lint x") is not None
    assert _check_command(parser, " start") == "no subcommand 'start'"
    assert _check_command(parser, ":latest") is None and _check_command(parser, " .") is None


def test_every_variable_mentioned_exists() -> None:
    known = {cli._env_name(dest) for _f, dest, *_ in cli.SERVE_OPTIONS}
    known |= {cli._env_name("strict"), cli._env_name("no_admin"), cli.URL_ENV}
    files = [*MARKDOWN, *EXAMPLES, ROOT / "Dockerfile"]
    problems = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in sorted(set(re.findall(r"\bTELNYX_EMULATOR_[A-Z][A-Z_]*", path.read_text())))
        if name not in known
    ]
    assert not problems, f"not a real variable: {problems}"


def test_configuration_md_lists_every_option_with_its_default() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = {m[1]: m[0] for m in re.finditer(r"^\| `(--[a-z-]+)[^|]*\|.*$", text, re.M)}
    defaults = Settings()
    for flag, dest, _type, default, _help, _multiple in cli.SERVE_OPTIONS:
        assert flag in rows, f"docs/configuration.md has no row for {flag}"
        assert f"`{cli._env_name(dest)}`" in rows[flag]
        if default not in (None, ()):
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
            assert f"`{shown}`" in rows[flag], f"{flag}: default {shown} not documented"
    assert "--strict" in rows and "`TELNYX_EMULATOR_STRICT`" in rows["--strict"]
    assert not defaults.strict
    subcommands = next(
        a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    ).choices
    for name in subcommands:
        assert f"telnyx-emulator {name}" in text, f"docs/configuration.md does not show {name}"


def _slug(heading: str) -> str:
    heading = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", heading))


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    problems = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _outside_fences(path)):
        if re.match(r"^[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            problems.append(f"{target}: no such file")
            continue
        if anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+\s+(.*)$", _outside_fences(linked), re.M)
            if anchor not in {_slug(h) for h in headings}:
                problems.append(f"{target}: no such heading")
    assert not problems, f"{path.relative_to(ROOT)}: {problems}"


def test_examples_are_consistent() -> None:
    compose = yaml.safe_load((ROOT / "examples" / "docker-compose.yml").read_text())
    telnyx, app = compose["services"]["telnyx"], compose["services"]["app"]
    assert "/scenarios" in " ".join(telnyx["volumes"])
    assert app["depends_on"]["telnyx"]["condition"] == "service_healthy"
    assert app["environment"]["TELNYX_BASE_URL"] == "http://telnyx:8787/v2"
    workflow = yaml.safe_load((ROOT / "examples" / "github-actions.yml").read_text())
    service = workflow["jobs"]["with-service-container"]["services"]["telnyx"]
    assert service["ports"] == ["8787:8787"]
    steps = workflow["jobs"]["with-background-process"]["steps"]
    start = next(s for s in steps if s.get("name") == "Start the Telnyx emulator")
    assert "telnyx-emulator health --wait" in start["run"] and "&\n" in start["run"]


# --- the marked snippets run -------------------------------------------------------------------


def _runnable() -> list[Path]:
    return [p for p in MARKDOWN if any(b.run for b in blocks(p))]


def test_marks_are_on_runnable_blocks() -> None:
    for path in MARKDOWN:
        lines = path.read_text(encoding="utf-8").splitlines()
        fenced = {b.line - 2 for b in blocks(path) if b.run}
        for i, line in enumerate(lines):
            if re.match(r"\s*<!--\s*test\b", line) and not MARK.match(line):
                raise AssertionError(f"{path.relative_to(ROOT)}:{i + 1}: unknown mark {line!r}")
            if MARK.match(line):
                assert i in fenced, (
                    f"{path.relative_to(ROOT)}:{i + 1}: mark not right before a fence"
                )
        for block in blocks(path):
            if block.run:
                assert block.lang in RUNNABLE, f"{block.where}: cannot run a {block.lang!r} block"


@pytest.fixture
def shim(tmp_path: Path) -> Path:
    """A bin directory with ``telnyx-emulator`` = this checkout's CLI."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "telnyx-emulator"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m emulator "$@"\n')
    script.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("path", _runnable(), ids=lambda p: str(p.relative_to(ROOT)))
def test_marked_snippets_run(
    path: Path, shim: Path, tmp_path: Path, start_emulator: object, receiver: Receiver
) -> None:
    for tool in ("bash", "curl", "jq"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    server: EmulatorServer = start_emulator(time_scale=0.01)  # type: ignore[operator]
    address = f"127.0.0.1:{server.port}"
    hook = f"127.0.0.1:{receiver.port}"
    parts = [
        "set -euo pipefail",
        'curl() { command curl --fail-with-body --silent --show-error --max-time 10 "$@"; }',
    ]
    for block in blocks(path):
        if not block.run:
            continue
        code = block.commands()
        code = re.sub(r"(localhost|127\.0\.0\.1):(?!8787\b)\d+", hook, code)  # first!
        code = re.sub(r"(localhost|127\.0\.0\.1):8787\b", address, code)
        parts.append(f"echo '--- {block.where}' >&2")
        if block.exit:
            parts.append(
                f"set +e\n(\n{code}\n)\nrc=$?\nset -e\n"
                f'[ "$rc" -eq {block.exit} ] || {{ echo "{block.where}: exit $rc, '
                f'expected {block.exit}" >&2; exit 99; }}'
            )
        else:
            parts.append(code)
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELNYX_")}
    env.update(
        PATH=f"{shim}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT),
        TELNYX_EMULATOR_PORT=str(server.port),
        TELNYX_EMULATOR_URL=server.url,
    )
    done = subprocess.run(
        ["bash", "-c", "\n".join(parts)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
