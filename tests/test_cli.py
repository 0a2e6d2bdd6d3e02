"""The ``telnyx-emulator`` command: options and their environment twins, mistakes, keygen,
scenarios, health, and the server's log lines (readable and JSON, never a secret).

In-process through ``emulator.cli.main([...])`` where that is enough, and as real subprocesses
(``python -m emulator``) where the process boundary matters: exit status, signals, stderr.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from emulator import cli, logs
from emulator._version import __version__
from emulator.config import ENV_PREFIX, Settings
from emulator.connections import ConnectionSpec
from emulator.signing import Signer

from .servers import EmulatorServer, Receiver

ROOT = Path(__file__).resolve().parent.parent
BAD_SCENARIO = "name: broken\noutcome: explode\nring_secs: -1\n"


@pytest.fixture(autouse=True)
def _clean_env_and_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No TELNYX_EMULATOR_* from the outer environment; logging restored after ``serve`` ran."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    logger = logging.getLogger("telnyx_emulator")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


def run(
    *argv: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "emulator", *argv],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("telnyx-emulator: error: "), err
    return lines[0]


# --- mistakes: one line, exit 2 --------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["serve", "--port", "abc"], "--port: expected a port number, got 'abc'"),
        (["serve", "--port", "70000"], "--port: must be between 0 and 65535, got 70000"),
        (["serve", "--time-scale", "-1"], "--time-scale: must be between 0 and 1000, got '-1'"),
        (["serve", "--time-scale", "inf"], "--time-scale: must be between 0 and 1000"),
        (["serve", "--time-scale", "nan"], "--time-scale: must be between 0 and 1000"),
        # Every number has its range (issue #12): none reaches the server out of it.
        (["serve", "--webhook-timeout", "1e400"], "--webhook-timeout: must be between 0 and 600"),
        (["serve", "--retention", "86401"], "--retention: must be between 0 and 86400"),
        (["serve", "--dedup-window", "1e308"], "--dedup-window: must be between 0 and 86400"),
        (["serve", "--webhook-retries", "1,inf"], "--webhook-retries: expected comma-separated"),
        (["serve", "--webhook-retries", ",".join(["1"] * 21)], "at most 20 retry delays"),
        (["serve", "--max-live-calls", "2147483648"], "must be between 1 and 2147483647"),
        (["serve", "--max-body-bytes", "9" * 30], "--max-body-bytes: must be between 1 and"),
        (["serve", "--seed", "9" * 30], "--seed: must fit in 64 bits"),
        (["health", "--wait", "inf"], "--wait: must be between 0 and 86400"),
        (["serve", "--scenarios", "/nonexistent"], "--scenarios: not a directory: /nonexistent"),
        (["serve", "--bogus"], "unrecognized arguments: --bogus"),
        (["serve", "--log-format", "yaml"], "--log-format: must be one of text, json"),
        (["serve", "--webhook-retries", "1,x"], "--webhook-retries: expected comma-separated"),
        (["serve", "--max-live-calls", "0"], "--max-live-calls: must be between 1 and"),
        (["keygen", "--format", "xml"], "--format: invalid choice: 'xml'"),
        (["scenarios"], "scenarios needs an action"),
        (["scenarios", "check", "/nonexistent"], "no such file or directory: /nonexistent"),
        (["health", "--url", "localhost:8787"], "must start with http:// or https://"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_options_get_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    code, _out, err = main(capsys, *argv)
    assert code == 2
    line = one_error_line(err)
    assert says in line
    assert line.endswith("--help')")


@pytest.mark.parametrize(
    ("argv", "says", "help_of"),
    [
        (
            ["serve", "--delivery", "shuffle"],
            "unknown delivery setting 'shuffle'; did you mean 'shuffled'? known: in_order, "
            "shuffled,",
            "telnyx-emulator serve",
        ),
        (
            ["serve", "--delivery", "shuffled,duplicat=0.2"],
            "did you mean 'duplicate'?",
            "telnyx-emulator serve",
        ),
        (["serve", "--command-faults", "492:3"], "did you mean '429'?", "telnyx-emulator serve"),
        (
            ["serve", "--prot", "8788"],
            "unrecognized arguments: --prot 8788; did you mean --port?",
            "telnyx-emulator serve",
        ),
        (["serve", "--bogus"], "unrecognized arguments: --bogus", "telnyx-emulator serve"),
        (["serve", "--log-format", "jsno"], "did you mean json?", "telnyx-emulator serve"),
        (["srve"], "did you mean serve?", "telnyx-emulator"),
        (["keygen", "--format", "jsn"], "did you mean json?", "telnyx-emulator keygen"),
        (["scenarios", "chek", "x"], "did you mean check?", "telnyx-emulator scenarios"),
        (
            ["scenarios", "list", "--scenarios-dir", "x"],
            "unrecognized arguments: --scenarios-dir x; did you mean --scenarios?",
            "telnyx-emulator scenarios list",
        ),
    ],
)
def test_near_misses_name_the_fix_and_the_right_help(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str, help_of: str
) -> None:
    code, _out, err = main(capsys, *argv)
    assert code == 2
    line = one_error_line(err)
    assert says in line
    assert line.endswith(f"(see '{help_of} --help')")


def test_serve_reads_dot_env_and_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``keygen > .env`` pins the key for ``serve`` started in that directory; the environment
    wins over the file."""
    monkeypatch.chdir(tmp_path)
    signer = Signer()
    (tmp_path / ".env").write_text(
        f"TELNYX_EMULATOR_SIGNING_KEY={signer.private_key_base64}\n"
        f"TELNYX_PUBLIC_KEY={signer.public_key}\n"
        "export TELNYX_EMULATOR_TIME_SCALE='0.5'\n"
        "TELNYX_EMULATOR_SEED=7\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("TELNYX_EMULATOR_SEED", "8")
    env_file = cli.EnvFile.load()
    settings = cli.settings_from_args(cli.build_parser().parse_args(["serve"]), env_file)
    assert settings.signing_key == signer.private_key_base64
    assert settings.time_scale == 0.5
    assert settings.seed == 8  # the environment wins
    assert env_file.used == ["TELNYX_EMULATOR_SIGNING_KEY", "TELNYX_EMULATOR_TIME_SCALE"]
    assert env_file.overridden == ["TELNYX_EMULATOR_SEED"]
    # And the real command, as a user runs it: the banner shows the pinned key and says why.
    monkeypatch.delenv("TELNYX_EMULATOR_SEED")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner: list[str] = []
        for _ in range(12):  # the banner is a handful of lines; never wait past it
            banner.append(proc.stdout.readline().strip())
            if banner[-1].startswith("read from"):
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert f"TELNYX_PUBLIC_KEY={signer.public_key}" in banner
    assert banner[-1] == (
        "read from .env: TELNYX_EMULATOR_SEED, TELNYX_EMULATOR_SIGNING_KEY, "
        "TELNYX_EMULATOR_TIME_SCALE"
    )


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PORT", "abc", "TELNYX_EMULATOR_PORT: expected a port number, got 'abc'"),
        ("PORT", "70000", "TELNYX_EMULATOR_PORT: must be between 0 and 65535"),
        ("TIME_SCALE", "-1", "TELNYX_EMULATOR_TIME_SCALE: must be between 0 and 1000"),
        ("WEBHOOK_TIMEOUT", "nan", "TELNYX_EMULATOR_WEBHOOK_TIMEOUT: must be between 0 and 600"),
        ("MAX_PENDING_WEBHOOKS", "1e3", "TELNYX_EMULATOR_MAX_PENDING_WEBHOOKS: expected a whole"),
        ("SEED", "-" + "9" * 20, "TELNYX_EMULATOR_SEED: must fit in 64 bits"),
        ("DELIVERY", "delay=inf", "TELNYX_EMULATOR_DELIVERY: delay must be a finite number"),
        ("COMMAND_FAULTS", "timeout:p=nan", "TELNYX_EMULATOR_COMMAND_FAULTS: probability must"),
        ("SCENARIOS", "/nonexistent", "TELNYX_EMULATOR_SCENARIOS: not a directory"),
        ("STRICT", "maybe", "TELNYX_EMULATOR_STRICT: expected 1 or 0"),
        ("LOG_LEVEL", "loud", "TELNYX_EMULATOR_LOG_LEVEL: must be one of"),
    ],
)
def test_bad_environment_values_get_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    says: str,
) -> None:
    monkeypatch.setenv(ENV_PREFIX + name, value)
    code, _, err = main(capsys, "serve")
    assert code == 2
    assert says in one_error_line(err)


def test_bad_signing_key_gets_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = main(capsys, "serve", "--port", "0", "--signing-key", "not-base64!")
    assert code == 2
    assert "--signing-key (TELNYX_EMULATOR_SIGNING_KEY): the signing key is not valid Base64" in (
        one_error_line(err)
    )
    short = "c2hvcnQ="  # Base64 of 5 bytes
    code, _, err = main(capsys, "serve", "--port", "0", "--signing-key", short)
    assert code == 2
    assert "must be Base64 of 32 bytes, got 5 bytes" in one_error_line(err)


def test_bad_scenario_dir_for_serve_names_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "broken.yaml").write_text(BAD_SCENARIO, encoding="utf-8")
    code, out, err = main(capsys, "serve", "--port", "0", "--scenarios", str(tmp_path))
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in err
    assert lines[0].startswith(f"telnyx-emulator: scenario error: {tmp_path / 'broken.yaml'}:2: ")
    assert "'explode'" in lines[0]
    assert "broken.yaml:3: ring_secs" in lines[1]


def test_port_in_use_gets_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, _, err = main(capsys, "serve", "--port", str(port))
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in one_error_line(err)


def test_mistakes_as_a_real_process() -> None:
    """No traceback reaches a terminal, whatever goes wrong first (flag, env or file)."""
    for argv, env in [
        (["serve", "--port", "abc"], {}),
        (["serve"], {"TELNYX_EMULATOR_PORT": "abc"}),
        (["serve", "--signing-key", "xyz"], {"TELNYX_EMULATOR_PORT": "0"}),
        (["--unknown"], {}),
    ]:
        done = run(*argv, env=env)
        assert done.returncode == 2, (argv, done.stderr)
        assert done.stdout == ""
        one_error_line(done.stderr)
    done = run()
    assert done.returncode == 2 and "usage: telnyx-emulator" in done.stderr


# --- options and their environment twins -----------------------------------------------------


def test_cli_defaults_are_the_settings_defaults() -> None:
    args = cli.build_parser().parse_args(["serve"])
    settings = cli.settings_from_args(args)
    assert settings == Settings()


def test_every_option_has_an_environment_twin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "b"
    other.mkdir()
    config = tmp_path / "telnyx-emulator.yaml"
    config.write_text("connections: [{id: '77', webhook_event_url: 'http://app/x'}]\n")
    env = {
        "HOST": "::1",
        "PORT": "0",
        "TIME_SCALE": "0.5",
        "API_KEYS": "KEY_ONE, KEY_TWO",
        "SCENARIOS": f"{tmp_path}{os.pathsep}{other}",
        "SIGNING_KEY": "x" * 44,
        "SEED": "7",
        "DEDUP_WINDOW": "30",
        "MAX_BODY_BYTES": "2048",
        "MAX_LIVE_CALLS": "5",
        "WEBHOOK_TIMEOUT": "1.5",
        "WEBHOOK_RETRIES": "0.5, 1",
        "LOG_FORMAT": "JSON",
        "LOG_LEVEL": "debug",
        "STRICT": "true",
        "RETENTION": "120",
        "MAX_PENDING_WEBHOOKS": "50",
        "DELIVERY": "shuffled,duplicate=0.5",
        "COMMAND_FAULTS": "429:2",
        "ADMIN_TOKEN": "admin-secret",
        "PUBLIC_URL": "http://emulator.internal:8787",
        "WEBHOOK_ALLOW": "127.0.0.1, app.internal:8080",
        "NO_ADMIN": "1",
        "CONFIG": str(config),
        "WEBHOOK_URL": "http://127.0.0.1:5000/hooks",
        "CONNECTION_ID": "1234",
        "NUMBERS": "+13125550100, +13125550101",
        "UNKNOWN_CONNECTIONS": "reject",
    }
    options = {dest for _f, dest, *_ in cli.SERVE_OPTIONS} | {"strict", "no_admin"}
    assert {k.lower() for k in env} == options, "a new option needs a line here"
    for name, value in env.items():
        monkeypatch.setenv(ENV_PREFIX + name, value)
    settings = cli.settings_from_args(cli.build_parser().parse_args(["serve"]))
    assert settings == Settings(
        host="::1",
        port=0,
        time_scale=0.5,
        strict=True,
        api_keys=("KEY_ONE", "KEY_TWO"),
        scenario_dirs=(tmp_path, other),
        signing_key="x" * 44,
        seed=7,
        dedup_window_secs=30.0,
        max_body_bytes=2048,
        max_live_calls=5,
        webhook_timeout_secs=1.5,
        webhook_retry_delays=(0.5, 1.0),
        retention_secs=120.0,
        max_pending_webhooks=50,
        delivery="shuffled,duplicate=0.5",
        command_faults="429:2",
        admin_token="admin-secret",
        public_url="http://emulator.internal:8787",
        no_admin=True,
        webhook_allow=("127.0.0.1", "app.internal:8080"),
        log_format="json",
        log_level="debug",
        connections=(
            ConnectionSpec(
                id="77",
                fields={"webhook_event_url": "http://app/x", "application_name": "connection-1"},
                origin=f"{config}:1",
            ),
            ConnectionSpec(
                id="1234",
                fields={
                    "application_name": "default",
                    "webhook_event_url": "http://127.0.0.1:5000/hooks",
                },
                numbers=("+13125550100", "+13125550101"),
                default=True,
                origin="--webhook-url",
            ),
        ),
        unknown_connections="reject",
        config_file=config,
    )
    # A flag wins over its environment twin.
    args = cli.build_parser().parse_args(["serve", "--port", "9999", "--api-key", "K3"])
    settings = cli.settings_from_args(args)
    assert settings.port == 9999 and settings.api_keys == ("K3",)


def test_help_reads_well(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["serve", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag, dest, *_ in cli.SERVE_OPTIONS:
        assert flag in text and cli._env_name(dest) in text
    for group in ("server:", "calls and scenarios:", "webhooks:", "logging:"):
        assert f"\n{group}\n" in text
    assert "--port PORT" in text and "--time-scale FACTOR" in text  # placeholders, not DESTs
    assert "TIME_SCALE " not in text.replace("TELNYX_EMULATOR_TIME_SCALE", "")
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    top = capsys.readouterr().out
    for command in ("serve", "health", "keygen", "scenarios"):
        assert re.search(rf"^\s+{command}\b", top, re.M), command
    assert "TELNYX_BASE_URL=http://127.0.0.1:8787/v2" in top


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"telnyx-emulator {__version__}"


# --- keygen -----------------------------------------------------------------------------------


def test_keygen_env_pins_the_public_key(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = main(capsys, "keygen")
    assert code == 0
    values = dict(line.split("=", 1) for line in out.strip().splitlines())
    assert set(values) == {"TELNYX_EMULATOR_SIGNING_KEY", "TELNYX_PUBLIC_KEY"}
    signer = Signer.from_base64(values["TELNYX_EMULATOR_SIGNING_KEY"])
    assert signer.public_key == values["TELNYX_PUBLIC_KEY"]
    code, again, _ = main(capsys, "keygen")
    assert again != out  # a new pair each time


def test_keygen_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = main(capsys, "keygen", "--format", "json")
    data = json.loads(out)
    assert code == 0 and set(data) == {"signing_key", "public_key"}
    assert Signer.from_base64(data["signing_key"]).public_key == data["public_key"]


# --- scenarios --------------------------------------------------------------------------------


def test_scenarios_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = main(capsys, "scenarios", "check", str(ROOT / "scenarios"))
    assert code == 0 and "valid" in out
    (tmp_path / "broken.yaml").write_text(BAD_SCENARIO, encoding="utf-8")
    (tmp_path / "unparsable.yml").write_text("name: [unclosed\n", encoding="utf-8")
    code, out, _ = main(capsys, "scenarios", "check", str(tmp_path))
    assert code == 1
    problems = [line for line in out.splitlines() if re.match(r".+\.ya?ml:\d+: ", line)]
    files = {line.split(":", 1)[0] for line in problems}
    assert files == {str(tmp_path / "broken.yaml"), str(tmp_path / "unparsable.yml")}
    assert len(problems) >= 3 and out.strip().endswith("problem(s) found")


def test_scenarios_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "gold.yaml").write_text(
        "name: gold\nmatch:\n  to: ['\\+15550009999']\noutcome: busy\n", encoding="utf-8"
    )
    code, out, _ = main(capsys, "scenarios", "list", "--scenarios", str(tmp_path))
    assert code == 0
    rows = out.splitlines()
    names = [r.split()[0] for r in rows]
    assert names[0] == "gold" and "answered" in names and "busy" in names
    assert "\\+15550009999" in rows[0] and "busy" in rows[0]
    starts = {r.index(r.split()[1]) for r in rows}  # the match column lines up
    assert len(starts) == 1
    (tmp_path / "broken.yaml").write_text(BAD_SCENARIO, encoding="utf-8")
    code, _, err = main(capsys, "scenarios", "list", "--scenarios", str(tmp_path))
    assert code == 1 and "broken.yaml:2:" in err


# --- health -----------------------------------------------------------------------------------


def test_health(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    start_emulator: Callable[..., EmulatorServer],
) -> None:
    server = start_emulator()
    code, out, _ = main(capsys, "health", "--url", server.base_url)  # the /v2 form works too
    assert code == 0 and out.startswith(f"healthy: {server.url}/_emulator/health")
    monkeypatch.setenv("TELNYX_EMULATOR_PORT", str(server.port))
    monkeypatch.setenv("TELNYX_EMULATOR_HOST", "0.0.0.0")
    assert main(capsys, "health")[0] == 0
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    started = time.monotonic()
    code, _, err = main(capsys, "health", "--url", f"http://127.0.0.1:{port}", "--wait", "0.5")
    assert code == 1 and time.monotonic() - started >= 0.5
    assert err.startswith("telnyx-emulator: not healthy: ")


# --- the server process: banner, log lines, secrets, SIGTERM ---------------------------------


class Process:
    def __init__(self, *argv: str, tmp_path: Path, env: dict[str, str] | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        full_env.update(env or {})
        self.stderr_path = tmp_path / "stderr.log"
        with self.stderr_path.open("w") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "emulator", *argv],
                cwd=ROOT,
                env=full_env,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.url = self._wait_url()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def _wait_url(self) -> str:
        deadline = time.monotonic() + 20
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("no URL: " + self.stderr_path.read_text()) from None
            self.stdout.append(line)
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                for _ in range(3):
                    self.stdout.append(self.lines.get(timeout=5))
                return m[1]

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(15)
        time.sleep(0.05)
        while not self.lines.empty():
            self.stdout.append(self.lines.get())
        return code, self.stderr_path.read_text()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def test_json_logs_have_the_fields_and_no_secret(tmp_path: Path, receiver: Receiver) -> None:
    signing_key = Signer().private_key_base64
    api_key = "KEY_SECRET_0123456789"
    password = "hunter2-sip-password"
    url_password = "hook-pass-987"
    hook = receiver.url.replace("http://", f"http://hookuser:{url_password}@") + "/hook"
    server = Process(
        "serve",
        "--port",
        "0",
        "--time-scale",
        "0.01",
        "--log-format",
        "json",
        "--api-key",
        api_key,
        tmp_path=tmp_path,
        env={"TELNYX_EMULATOR_SIGNING_KEY": signing_key},
    )
    try:
        auth = {"Authorization": f"Bearer {api_key}"}
        with httpx.Client(base_url=server.url, headers=auth, timeout=10) as client:
            r = client.post(
                "/_emulator/calls",
                json={"from": "+15551230000", "to": "+15559870000", "webhook_url": hook},
            )
            ccid = r.json()["data"]["call_control_id"]
            body = {
                "to": "sip:alice@example.com",
                "sip_auth_username": "alice",
                "sip_auth_password": password,
                "command_id": "cmd-1",
            }
            path = f"/v2/calls/{ccid}/actions/transfer"
            assert client.post(path, json=body).status_code == 200
            assert client.post(path, json=body).status_code == 200  # duplicate
            assert client.post(path, json={**body, "to": "12"}).status_code == 422
            assert client.post(path, headers={"Authorization": "Bearer"}).status_code == 401
            receiver.wait_for(lambda rs: "call.bridged" in [x.event_type for x in rs])
            journal = client.get("/_emulator/commands").json()["data"]
            assert password not in json.dumps(journal)
            assert journal[0]["body"]["sip_auth_password"] == "[redacted]"
    finally:
        code, stderr = server.stop()
        server.kill()
    assert code == 0
    output = stderr + "".join(server.stdout)
    for secret in (signing_key, api_key, password, url_password):
        assert secret not in output
    records = [json.loads(line) for line in stderr.splitlines()]  # every line is JSON
    commands = [r for r in records if r.get("event") == "command"]
    assert [c["result"] for c in commands] == ["accepted", "duplicate", "rejected"]
    for c in commands:
        assert c["method"] == "POST" and c["path"] == path and c["command"] == "transfer"
        assert c["call_control_id"] == ccid and c["command_id"] == "cmd-1"
        assert {"time", "level", "message", "status"} <= set(c)
    assert commands[2]["status"] == 422 and commands[2]["error_codes"]
    requests = [r for r in records if r.get("event") == "request"]
    assert any(r["status"] == 401 for r in requests)
    assert any(r["status"] == 201 and r["call_control_id"] == ccid for r in requests)
    hooks = [r for r in records if r.get("event") == "webhook"]
    assert "call.initiated" in [h["event_type"] for h in hooks]
    for h in hooks:
        assert h["http_status"] == 200 and h["attempt"] >= 1 and h["latency_ms"] >= 0
        assert h["url"].endswith("/hook") and "hookuser:[redacted]@" in h["url"]


def test_text_logs_are_one_readable_line(tmp_path: Path) -> None:
    server = Process("serve", "--port", "0", tmp_path=tmp_path)
    try:
        assert server.stdout[1].strip() == f"TELNYX_BASE_URL={server.url}/v2"
        assert server.stdout[2].strip().startswith("TELNYX_PUBLIC_KEY=")
        auth = {"Authorization": "Bearer KEY_TEXT"}
        with httpx.Client(base_url=server.url, headers=auth, timeout=10) as client:
            ccid = client.post(
                "/_emulator/calls", json={"from": "+15551230000", "to": "+15559870000"}
            ).json()["data"]["call_control_id"]
            client.post(f"/v2/calls/{ccid}/actions/transfer", json={"to": "12"})
            client.get("/_emulator/webhooks")  # inspection reads: debug only
    finally:
        code, stderr = server.stop()
        server.kill()
    assert code == 0
    lines = stderr.strip().splitlines()
    assert len(lines) == 2, stderr
    assert lines[0].endswith(f"POST /_emulator/calls -> 201 call={ccid}")
    assert re.search(
        rf"INFO +POST /v2/calls/{re.escape(ccid)}/actions/transfer -> 422 transfer "
        rf"call={re.escape(ccid)} result=rejected errors=\d+",
        lines[1],
    ), lines[1]


def test_formatters_scrub_secrets() -> None:
    logs.add_secrets("PINNED-SIGNING-KEY-VALUE", "short")
    record = logging.LogRecord(
        "telnyx_emulator.test", logging.INFO, __file__, 1, "sent %s", ("Bearer abc.def",), None
    )
    record.sip_auth_password = "pw"
    record.detail = {"nested": {"password": "x"}, "url": "https://u:p4ss@h/x"}
    record.note = "key PINNED-SIGNING-KEY-VALUE; short stays"
    text = logs.TextFormatter("%(message)s").format(record)
    assert text == "sent Bearer [redacted]"
    data = json.loads(logs.JsonFormatter().format(record))
    assert data["sip_auth_password"] == "[redacted]"
    assert data["detail"] == {
        "nested": {"password": "[redacted]"},
        "url": "https://u:[redacted]@h/x",
    }
    assert data["note"] == "key [redacted]; short stays"
    assert logs.scrub('{"sip_auth_password": "pw1"}') == '{"sip_auth_password": "[redacted]"}'
    assert logs.scrub("basic scenario answered") == "basic scenario answered"
