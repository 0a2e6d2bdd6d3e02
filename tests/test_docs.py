"""The README, docs/ and examples/ say only true things about the command line, and their
snippets run: every Python block, and the shell blocks marked to run.

**Shell snippets.** Put the HTML comment ``<!-- test: run -->`` on the line right before a fenced
``sh``/``bash``/``shell`` block (``console`` blocks: only their ``$ `` lines run).
``<!-- test: run exit=1 -->`` expects that exit status instead of 0. Unmarked shell blocks are
never run (``telnyx-emulator serve`` would not return).

**Python snippets** all run, unless marked:

- a block that defines ``def test_...`` runs with pytest, in a fresh project, as a user's test
  file (the ``telnyx_emulator`` fixture comes from the plugin);
- ``<!-- test: file NAME -->``: the block is a file the snippets use (``receiver.py``), written to
  the working directory before anything runs;
- ``<!-- test: excerpt PATH -->``: the block quotes PATH (a test that runs elsewhere); each of its
  lines must appear there, in order;
- ``<!-- test: skip REASON -->``: not run, for a block that truly cannot run (say why). Use it
  sparingly: ``test_skips_are_few_and_justified`` keeps the list short;
- any other block is pasted into ``python``: it runs in its place among the shell snippets.

The runnable blocks of one file run in order as one bash script (``set -euo pipefail``), so a
variable exported in one block is there in the next, in a fresh temporary directory, against an
emulator started for that file:

- ``localhost:8787`` / ``127.0.0.1:8787`` in a snippet become that emulator's address;
  ``TELNYX_EMULATOR_URL`` (``http://127.0.0.1:PORT``) and ``TELNYX_EMULATOR_PORT`` are set too,
  so ``"$TELNYX_EMULATOR_URL/_emulator/health"`` and ``telnyx-emulator health`` find it;
- any other ``localhost:PORT`` / ``127.0.0.1:PORT`` (your app's ``webhook_url``, and
  ``("127.0.0.1", PORT)`` in Python) becomes a webhook receiver that answers 200. When the file
  starts its own receiver (a shell line ending in ``&``), that port is a free one instead, and
  the script waits after that line until something listens on it;
- ``curl`` fails on an HTTP error (``--fail-with-body``), ``telnyx-emulator`` is this checkout's
  CLI, and ``python`` is the test's interpreter (with the ``telnyx`` SDK), as in the activated
  virtualenv the README sets up; background jobs are killed when the script ends;
- the emulator runs at ``--time-scale 0.01``, so a scenario's seconds are hundredths.

Under ``CI=true`` nothing here is skipped: a missing ``bash``, ``curl`` or ``jq`` fails the test
(``.ci/run`` installs them when it can). Elsewhere such a test is skipped with the reason.

Every ``telnyx-emulator`` command line in any block or inline code span, and every
``TELNYX_EMULATOR_*`` variable, must exist.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
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
from .test_plugin_xdist import run_pytest, write_project

ROOT = Path(__file__).resolve().parent.parent
MARKDOWN = sorted([*ROOT.glob("README.md"), *(ROOT / "docs").glob("*.md")])
EXAMPLES = sorted((ROOT / "examples").glob("*.yml"))
RUNNABLE = {"sh", "bash", "shell", "console"}
SHELLISH = RUNNABLE | {"yaml", "yml", "dockerfile", "text", ""}
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
MARK = re.compile(r"^\s*<!--\s*test:\s*run(?:\s+exit=(\d+))?\s*-->\s*$")
PYTHON_MARK = re.compile(r"^\s*<!--\s*test:\s*(file|excerpt|skip)\s+(\S.*?)\s*-->\s*$")
PYTHON = {"python", "py"}


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    run: bool
    exit: int = 0
    how: str | None = None  # a Python block's mark: file, excerpt or skip
    arg: str = ""  # ... and its argument: the file name, the quoted path, the reason

    @property
    def is_test(self) -> bool:
        return self.lang in PYTHON and self.how is None and "def test_" in self.text

    @property
    def is_script(self) -> bool:
        """A Python block pasted into ``python``, run in its place in the file's script."""
        return self.lang in PYTHON and self.how is None and not self.is_test

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
        python_mark = PYTHON_MARK.match(lines[i - 1]) if i > 0 else None
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
                python_mark[1] if python_mark else None,
                python_mark[2] if python_mark else "",
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
    # Not on PyPI: the job checks the repository out, then installs that path.
    checkout = next(s for s in steps if s.get("with", {}).get("path") == "telnyx-emulator")
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert steps.index(checkout) < steps.index(install)
    assert "./telnyx-emulator" in install["run"].split()


def test_every_install_instruction_works_as_written() -> None:
    """telnyx-emulator is not on PyPI: nothing may tell a user to ``pip install`` it by name."""
    by_name = re.compile(r"pip3? install\b[^\n`|&;]*?(?<![\w./-])telnyx-emulator(?![\w./-])")
    problems = [
        f"{path.relative_to(ROOT)}: {m[0]}"
        for path in [*MARKDOWN, *EXAMPLES, ROOT / "Dockerfile"]
        for m in by_name.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not problems, problems
    assert by_name.search("pip install -r requirements.txt telnyx-emulator")
    assert not by_name.search("pip install ./telnyx-emulator")
    assert not by_name.search("pip install path/to/telnyx-emulator")


# --- the snippets run -------------------------------------------------------------------------


def _runnable() -> list[Path]:
    return [p for p in MARKDOWN if any(b.run or b.is_script for b in blocks(p))]


def _python_blocks() -> list[Block]:
    return [b for p in MARKDOWN for b in blocks(p) if b.lang in PYTHON]


def test_marks_are_on_runnable_blocks() -> None:
    for path in MARKDOWN:
        lines = path.read_text(encoding="utf-8").splitlines()
        fenced = {b.line - 2 for b in blocks(path) if b.run or b.how}
        for i, line in enumerate(lines):
            known = MARK.match(line) or PYTHON_MARK.match(line)
            if re.match(r"\s*<!--\s*test\b", line) and not known:
                raise AssertionError(f"{path.relative_to(ROOT)}:{i + 1}: unknown mark {line!r}")
            if known:
                assert i in fenced, (
                    f"{path.relative_to(ROOT)}:{i + 1}: mark not right before a fence"
                )
        for block in blocks(path):
            if block.run:
                assert block.lang in RUNNABLE, f"{block.where}: cannot run a {block.lang!r} block"
            if block.how in ("excerpt", "skip"):
                assert block.lang in PYTHON, f"{block.where}: {block.how} marks Python blocks"


def test_skips_are_few_and_justified() -> None:
    skipped = [b for b in _python_blocks() if b.how == "skip"]
    assert len(skipped) <= 2, [b.where for b in skipped]
    assert all(len(b.arg.split()) >= 3 for b in skipped), "say why a block cannot run"


def test_every_python_snippet_is_run_somewhere() -> None:
    """The harness's own guard: each Python block is run as a script, a test or a file, or
    checked as an excerpt, and the README's pytest example is among the tests."""
    python = _python_blocks()
    assert python, "no Python blocks found: the parser is broken"
    for block in python:
        assert block.is_script or block.is_test or block.how in ("file", "excerpt", "skip"), (
            block.where
        )
    readme = [b for b in python if b.path.name == "README.md"]
    assert any(b.is_test for b in readme) and any(b.is_script for b in readme)
    for block in python:
        if block.how == "file":
            assert re.fullmatch(r"[\w.-]+", block.arg), f"{block.where}: a plain file name"


@pytest.mark.parametrize(
    "block",
    [b for b in _python_blocks() if b.how == "excerpt"],
    ids=lambda b: b.where,
)
def test_python_excerpts_match_their_source(block: Block) -> None:
    source = [line.rstrip() for line in (ROOT / block.arg).read_text().splitlines()]
    position = 0
    for line in (raw.rstrip() for raw in block.text.splitlines()):
        if not line.strip():
            continue
        try:
            position = source.index(line, position) + 1
        except ValueError:
            raise AssertionError(
                f"{block.where}: not in {block.arg} (in order): {line!r}"
            ) from None


@pytest.mark.parametrize(
    "path",
    sorted({b.path for b in _python_blocks() if b.is_test}),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_python_test_snippets_pass_with_pytest(path: Path, tmp_path: Path) -> None:
    """As a user pastes them into their project's tests (one file each; the fixture comes from
    the plugin). One pytest run per Markdown file: the SDK's import is paid once."""
    tests = [b for b in blocks(path) if b.is_test]
    project = write_project(tmp_path, tests[0].text)
    for n, block in enumerate(tests[1:], start=2):
        (project / f"test_generated_{n}.py").write_text(block.text, encoding="utf-8")
    result = run_pytest(project, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    expected = sum(len(re.findall(r"^def test_", b.text, re.M)) for b in tests)
    assert f"{expected} passed" in result.stdout, result.stdout


def _needed_tools(path: Path) -> list[str]:
    code = "\n".join(b.commands() for b in blocks(path) if b.run)
    return ["bash", *(tool for tool in ("curl", "jq") if re.search(rf"\b{tool}\b", code))]


def _require(tools: list[str]) -> None:
    """Skip when a tool is missing, except under CI, where a skipped README test would let a
    broken README pass: there it fails."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed (.ci/run installs them with apt-get as root)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true: {message}; the docs' snippets must run in CI")
    pytest.skip(message)


def test_ci_installs_the_tools_the_snippets_need() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    [loop] = re.findall(r"^for tool in ([\w ]+); do$", script, re.M)
    needed = {tool for path in _runnable() for tool in _needed_tools(path)} - {"bash"}
    assert needed and needed <= set(loop.split()), (needed, loop)
    assert 'apt-get install -y -qq "${missing[@]}"' in script


def test_ci_never_skips_the_snippets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: no-such-tool-xyz not installed"):
        _require(["bash", "no-such-tool-xyz"])
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _require(["no-such-tool-xyz"])


@pytest.fixture
def shim(tmp_path: Path) -> Path:
    """A bin directory with ``telnyx-emulator`` = this checkout's CLI and ``python`` = this
    interpreter, as in the virtualenv the README activates."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, command in (("telnyx-emulator", "-m emulator "), ("python", "")):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" {command}"$@"\n')
        script.chmod(0o755)
    return bin_dir


WAIT_FOR_PORT = """__wait_for_port() {
  python - "$1" <<'__PY__'
import socket, sys, time
deadline = time.monotonic() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"nothing listens on port {sys.argv[1]} after 30 s")
        time.sleep(0.05)
__PY__
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("path", _runnable(), ids=lambda p: str(p.relative_to(ROOT)))
def test_snippets_run(
    path: Path, shim: Path, tmp_path: Path, start_emulator: object, receiver: Receiver
) -> None:
    _require(_needed_tools(path))
    server: EmulatorServer = start_emulator(time_scale=0.01)  # type: ignore[operator]
    address = f"127.0.0.1:{server.port}"
    found = blocks(path)
    own_receiver = any(
        line.rstrip().endswith("&") and not line.rstrip().endswith("&&")
        for b in found
        if b.run
        for line in b.commands().splitlines()
    )
    hook_port = _free_port() if own_receiver else receiver.port

    def substitute(code: str) -> str:
        code = re.sub(r"(localhost|127\.0\.0\.1):(?!8787\b)\d+", f"127.0.0.1:{hook_port}", code)
        code = re.sub(
            r"""(["'](?:localhost|127\.0\.0\.1)["'],\s*)(?!8787\b)\d+""",
            rf"\g<1>{hook_port}",
            code,
        )
        return re.sub(r"(localhost|127\.0\.0\.1):8787\b", address, code)

    workdir = tmp_path / "work"
    workdir.mkdir()
    parts = [
        "set -euo pipefail",
        "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT",
        'curl() { command curl --fail-with-body --silent --show-error --max-time 10 "$@"; }',
        WAIT_FOR_PORT,
    ]
    for block in found:
        if block.how == "file":
            (workdir / block.arg).write_text(substitute(block.text) + "\n", encoding="utf-8")
        if not (block.run or block.is_script):
            continue
        parts.append(f"echo '--- {block.where}' >&2")
        if block.is_script:
            parts.append(f"python - <<'__PY__'\n{substitute(block.text)}\n__PY__")
            continue
        lines = []
        for line in substitute(block.commands()).splitlines():
            lines.append(line)
            if line.rstrip().endswith("&") and not line.rstrip().endswith("&&"):
                lines.append(f"__wait_for_port {hook_port}")
        code = "\n".join(lines)
        if block.exit:
            parts.append(
                f"set +e\n(\n{code}\n)\nrc=$?\nset -e\n"
                f'[ "$rc" -eq {block.exit} ] || {{ echo "{block.where}: exit $rc, '
                f'expected {block.exit}" >&2; exit 99; }}'
            )
        else:
            parts.append(code)
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
    if own_receiver:
        # The file's receiver verified what it got (its traceback would be on stderr).
        assert "Traceback" not in done.stderr, done.stderr
