"""The ``telnyx-emulator`` command.

Every ``serve`` option has an environment-variable twin (``TELNYX_EMULATOR_<OPTION>``) because CI
services and the Docker image are configured through the environment. Mistakes get one line that
says what is wrong and exit status 2: never a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import ipaddress
import math
import os
import re
import signal
import socket
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from ._version import __version__
from .config import (
    DEFAULT_PORT,
    ENV_PREFIX,
    MAX_INT32,
    MAX_RETRIES,
    MAX_SECONDS,
    MAX_SEED,
    MAX_TIME_SCALE,
    MAX_WEBHOOK_TIMEOUT,
    Settings,
)
from .config_file import ConfigError
from .connections import ConnectionSpec

PROG = "telnyx-emulator"
# Not a server option: where a running emulator is, for clients (``health``, your scripts).
URL_ENV = ENV_PREFIX + "URL"


class UsageError(Exception):
    def __init__(self, message: str, prog: str = PROG) -> None:
        super().__init__(message)
        self.prog = prog  # the (sub)command whose --help explains the mistake


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse names the choices of a near miss but not the one meant: add it.
        invalid = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if invalid is not None:
            choices = [c.strip(" '") for c in invalid[2].split(",")]
            message += _did_you_mean(invalid[1], choices)
        raise UsageError(message, self.prog)


def _did_you_mean(word: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _unrecognized(
    parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str]
) -> UsageError:
    """Options the chosen subcommand does not know, reported by that subcommand.

    argparse reports them from the top-level parser, which sends the user to
    ``telnyx-emulator --help``; the options are explained in the subcommand's help."""
    current = parser
    while True:
        subparsers = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, subparsers[0].dest, None) if subparsers else None
        if name is None:
            break
        current = subparsers[0].choices[name]
    message = f"unrecognized arguments: {' '.join(extra)}"
    options = sorted(current._option_string_actions)
    for word in extra:
        if word.startswith("--"):
            hint = _did_you_mean(word.split("=", 1)[0], options)
            if hint:
                return UsageError(message + hint, current.prog)
    return UsageError(message, current.prog)


def _bounded_float(high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (math.isfinite(value) and 0 <= value <= high):
            raise argparse.ArgumentTypeError(f"must be between 0 and {high:g}, got {text!r}")
        return value

    return parse


_seconds = _bounded_float(MAX_SECONDS)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {value}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= MAX_INT32:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_INT32}, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not -MAX_SEED <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must fit in 64 bits (|seed| <= {MAX_SEED})")
    return value


def _directory(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"not a directory: {text}")
    return path


def _retry_delays(text: str) -> tuple[float, ...]:
    parts = [p for p in text.replace(" ", "").split(",") if p]
    if len(parts) > MAX_RETRIES:
        raise argparse.ArgumentTypeError(f"at most {MAX_RETRIES} retry delays, got {len(parts)}")
    try:
        return tuple(_seconds(p) for p in parts)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated seconds: {exc}") from None


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")) or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"expected an http:// or https:// URL, got {text!r}")
    return text


def _connection_id(text: str) -> str:
    if not text.isdigit() or len(text) > 32:
        raise argparse.ArgumentTypeError(f"expected a numeric connection id, got {text!r}")
    return text


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise argparse.ArgumentTypeError(
                f"must be one of {', '.join(choices)}, got {text!r}"
                + _did_you_mean(text.lower(), choices)
            )
        return text.lower()

    return parse


def _fault_spec(kind: str) -> Callable[[str], str]:
    """Check a --delivery / --command-faults value now, so a typo is one line at start-up."""

    def check(text: str) -> str:
        from .faults import CommandFaults, DeliveryPolicy, FaultSpecError

        parse = DeliveryPolicy.parse if kind == "delivery" else CommandFaults.parse
        try:
            parse(text)
        except FaultSpecError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    return check


# (flag, dest, type, default, help, multiple) — the env var is TELNYX_EMULATOR_<DEST upper>.
SERVE_OPTIONS: list[tuple[str, str, Callable[[str], Any] | None, Any, str, bool]] = [
    (
        "--host",
        "host",
        None,
        "127.0.0.1",
        "address to listen on; use 0.0.0.0 only inside a container",
        False,
    ),
    (
        "--port",
        "port",
        _port,
        DEFAULT_PORT,
        "port to listen on; 0 picks a free one and prints it",
        False,
    ),
    (
        "--time-scale",
        "time_scale",
        _bounded_float(MAX_TIME_SCALE),
        1.0,
        "multiply every scenario delay and timer: 1 = real time, 0.01 = 100x faster, 0 = at once",
        False,
    ),
    (
        "--api-key",
        "api_keys",
        None,
        (),
        "accept only this API key as bearer token; repeatable. Without it any non-empty "
        "token is accepted. Each key is its own tenant",
        True,
    ),
    (
        "--scenarios",
        "scenarios",
        _directory,
        (),
        "directory of your scenario YAML files, loaded beside the bundled ones (yours win "
        "by name); repeatable",
        True,
    ),
    (
        "--signing-key",
        "signing_key",
        None,
        None,
        "Base64 Ed25519 private key from 'telnyx-emulator keygen', so the webhook public key "
        "stays the same across runs; without it every start makes a new key",
        False,
    ),
    ("--seed", "seed", _seed, None, "integer seed for reproducible call and event IDs", False),
    (
        "--dedup-window",
        "dedup_window",
        _seconds,
        60.0,
        "seconds a command_id is remembered per call",
        False,
    ),
    (
        "--max-body-bytes",
        "max_body_bytes",
        _count,
        1_048_576,
        "largest request body accepted, in bytes; larger gets 413",
        False,
    ),
    (
        "--max-live-calls",
        "max_live_calls",
        _count,
        10_000,
        "live calls per API key; more gets 429",
        False,
    ),
    (
        "--webhook-timeout",
        "webhook_timeout",
        _bounded_float(MAX_WEBHOOK_TIMEOUT),
        2.0,
        "seconds to wait for the app to answer a webhook",
        False,
    ),
    (
        "--webhook-retries",
        "webhook_retries",
        _retry_delays,
        (1.0, 2.0, 4.0),
        "default retry delays in seconds, comma-separated; a command's "
        "webhook_retries_policies overrides them",
        False,
    ),
    (
        "--retention",
        "retention",
        _seconds,
        600.0,
        "seconds an ended call stays queryable (Telnyx: 10 minutes); then it is forgotten",
        False,
    ),
    (
        "--max-pending-webhooks",
        "max_pending_webhooks",
        _count,
        100_000,
        "webhooks allowed to wait for delivery; beyond it, commands get 429",
        False,
    ),
    (
        "--delivery",
        "delivery",
        _fault_spec("delivery"),
        None,
        "inject webhook faults, e.g. 'shuffled,duplicate=0.2,delay=0.5-3,drop_first=1,"
        "signature=bad' (see docs/faults.md)",
        False,
    ),
    (
        "--command-faults",
        "command_faults",
        _fault_spec("commands"),
        None,
        "inject command faults: '429:3' (next 3 commands), '500:p=0.1', 'timeout:1'",
        False,
    ),
    (
        "--admin-token",
        "admin_token",
        None,
        None,
        "require this token in the X-Emulator-Admin-Token header for /_emulator/*",
        False,
    ),
    (
        "--public-url",
        "public_url",
        None,
        None,
        "the emulator's address as the app reaches it, for the recording links it hands out "
        "(default: the address it listens on)",
        False,
    ),
    (
        "--webhook-allow",
        "webhook_allow",
        None,
        (),
        "send webhooks only to these hosts (host or host:port, * wildcards); repeatable. "
        "Others are recorded as blocked",
        True,
    ),
    (
        "--config",
        "config",
        Path,
        None,
        "YAML file declaring connections, their numbers and scenario files (default: "
        "./telnyx-emulator.yaml when it exists; see docs/configuration.md)",
        False,
    ),
    (
        "--webhook-url",
        "webhook_url",
        _url,
        None,
        "one connection without a file: every call that has no webhook_url of its own reports "
        "here (inbound calls to any number, Dials on any connection_id)",
        False,
    ),
    (
        "--connection-id",
        "connection_id",
        _connection_id,
        None,
        "the id of --webhook-url's connection, to match your app's TELNYX_CONNECTION_ID "
        "(default: a fixed 19-digit id)",
        False,
    ),
    (
        "--number",
        "numbers",
        None,
        (),
        "a phone number of --webhook-url's connection; repeatable",
        True,
    ),
    (
        "--unknown-connections",
        "unknown_connections",
        _choice("accept", "reject"),
        "accept",
        "a Dial naming no known connection_id: accept it (its webhooks go to the command's "
        "webhook_url or the default connection) or reject it with Telnyx's 10015, as --strict does",
        False,
    ),
    (
        "--log-format",
        "log_format",
        _choice("text", "json"),
        "text",
        "text (readable) or json (one object per line)",
        False,
    ),
    (
        "--log-level",
        "log_level",
        _choice("debug", "info", "warning", "error"),
        "info",
        "debug also logs inspection reads (GET /_emulator/...)",
        False,
    ),
]


def _env_name(dest: str) -> str:
    return ENV_PREFIX + dest.upper()


# How ``serve --help`` shows each option: its placeholder and its group.
_METAVARS = {
    "host": "ADDR",
    "port": "PORT",
    "time_scale": "FACTOR",
    "api_keys": "KEY",
    "scenarios": "DIR",
    "signing_key": "KEY",
    "seed": "N",
    "dedup_window": "SECS",
    "max_body_bytes": "BYTES",
    "max_live_calls": "N",
    "webhook_timeout": "SECS",
    "webhook_retries": "SECS,...",
    "retention": "SECS",
    "max_pending_webhooks": "N",
    "delivery": "POLICY",
    "command_faults": "FAULT",
    "admin_token": "TOKEN",
    "public_url": "URL",
    "webhook_allow": "HOST",
    "config": "FILE",
    "webhook_url": "URL",
    "connection_id": "ID",
    "numbers": "NUMBER",
    "unknown_connections": "{accept,reject}",
    "log_format": "{text,json}",
    "log_level": "{debug,info,warning,error}",
}
_GROUPS = {
    "server": (
        "host",
        "port",
        "api_keys",
        "admin_token",
        "public_url",
        "max_body_bytes",
        "max_live_calls",
        "max_pending_webhooks",
    ),
    "calls and scenarios": ("scenarios", "time_scale", "dedup_window", "retention", "seed"),
    "connections": ("config", "webhook_url", "connection_id", "numbers", "unknown_connections"),
    "webhooks": ("signing_key", "webhook_timeout", "webhook_retries", "webhook_allow"),
    "fault injection": ("delivery", "command_faults"),
    "logging": ("log_format", "log_level"),
}

_EXAMPLES = f"""\
examples:
  {PROG} serve                       listen on http://127.0.0.1:{DEFAULT_PORT}
  {PROG} serve --port 0              pick a free port and print the URL
  {PROG} serve --time-scale 0.01     run scenarios 100x faster
  {PROG} health --wait 30            wait until a server answers (CI, Docker)
  {PROG} keygen >> .env              pin the webhook signing key
  {PROG} scenarios check my-scenarios/
  {PROG} config check telnyx-emulator.yaml
  {PROG} serve --webhook-url http://127.0.0.1:5000/webhooks   every call reports there

Point your app at the emulator with TELNYX_BASE_URL=http://127.0.0.1:{DEFAULT_PORT}/v2 and
verify webhooks with the public key that 'serve' prints (also at GET /_emulator/public-key).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="A local emulator of the Telnyx Call Control API: validates commands,\n"
        "answers with Telnyx's bodies and errors, and sends the signed webhooks Telnyx would.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    serve = sub.add_parser(
        "serve",
        help="run the emulator server",
        description="Run the emulator until interrupted (Ctrl-C or SIGTERM). Every option can "
        "also be set with the environment variable named after it; a flag wins over the "
        "environment.",
    )
    groups = {title: serve.add_argument_group(title) for title in _GROUPS}
    group_of = {dest: groups[title] for title, dests in _GROUPS.items() for dest in dests}
    for flag, dest, _type, default, help_text, multiple in SERVE_OPTIONS:
        kwargs: dict[str, Any] = {"dest": dest, "default": None, "metavar": _METAVARS.get(dest)}
        if multiple:
            kwargs["action"] = "append"
        if _type is not None:
            kwargs["type"] = _type
        shown = default if not isinstance(default, tuple) else ",".join(map(str, default)) or None
        extra = f"env {_env_name(dest)}"
        if multiple:
            extra += f", '{os.pathsep if dest == 'scenarios' else ','}'-separated"
        if shown is not None:
            extra = f"default: {shown}; {extra}"
        kwargs["help"] = f"{help_text} ({extra})"
        group_of.get(dest, serve).add_argument(flag, **kwargs)
    groups["server"].add_argument(
        "--no-admin",
        action="store_true",
        default=None,
        help=f"remove the /_emulator API (health stays) (env {_env_name('no_admin')}=1)",
    )
    groups["calls and scenarios"].add_argument(
        "--strict",
        action="store_true",
        default=None,
        help=f"reject unknown body fields with 422, to catch typos (env {_env_name('strict')}=1)",
    )

    health = sub.add_parser(
        "health",
        help="check that a running emulator answers; exit 0 if it does",
        description="Ask a running emulator's GET /_emulator/health. Exit 0 when it answers, "
        "1 when it does not (after --wait seconds). The Docker image's HEALTHCHECK and CI "
        "jobs use it.",
    )
    health.add_argument(
        "--url",
        metavar="URL",
        help=f"the emulator's base URL (default: ${URL_ENV}, else http://127.0.0.1:PORT "
        f"with PORT from {_env_name('port')} or {DEFAULT_PORT})",
    )
    health.add_argument(
        "--wait",
        metavar="SECS",
        type=_seconds,
        default=0.0,
        help="keep trying for up to SECS seconds (default: 0, a single try)",
    )

    keygen = sub.add_parser(
        "keygen",
        help="print a new Ed25519 signing key pair to pin in CI",
        description="Print a new webhook signing key pair. Give the private key to 'serve' "
        f"({_env_name('signing_key')}) and the public key to your app (TELNYX_PUBLIC_KEY).",
    )
    keygen.add_argument(
        "--format",
        choices=["env", "json"],
        default="env",
        help="env: KEY=value lines for a .env file or $GITHUB_ENV (default); json: one object",
    )

    scen = sub.add_parser(
        "scenarios",
        help="check or list scenario files",
        description="Check scenario files, or list the scenarios a server would use.",
    )
    scen_sub = scen.add_subparsers(dest="scenarios_command", metavar="ACTION", parser_class=_Parser)
    check = scen_sub.add_parser(
        "check",
        help="validate scenario files; print every problem as file:line: reason",
        description="Validate scenario files without starting a server. Prints every problem "
        "as file:line: reason; exit 1 if there is any.",
    )
    check.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="a scenario file, or a directory of *.yaml/*.yml files",
    )
    lst = scen_sub.add_parser(
        "list",
        help="list the scenarios in force: name, match rule, outcome",
        description="List the scenarios a server would use, bundled and yours, in matching "
        "order: name, the destination pattern it matches, what the far end does.",
    )
    lst.add_argument(
        "--scenarios",
        dest="scenarios",
        metavar="DIR",
        action="append",
        type=_directory,
        default=None,
        help="also load this directory of your scenarios "
        f"(repeatable; env {_env_name('scenarios')})",
    )
    conf = sub.add_parser(
        "config",
        help="check a config file (connections, numbers, scenarios)",
        description="Check a telnyx-emulator.yaml without starting a server.",
    )
    conf_sub = conf.add_subparsers(dest="config_command", metavar="ACTION", parser_class=_Parser)
    conf_check = conf_sub.add_parser(
        "check",
        help="validate a config file; print every problem as file:line: reason",
        description="Validate a config file and the scenario files it names. Prints every "
        "problem as file:line: reason; exit 1 if there is any.",
    )
    conf_check.add_argument(
        "path",
        nargs="?",
        type=Path,
        metavar="FILE",
        help="the config file (default: ./telnyx-emulator.yaml)",
    )
    return parser


ENV_FILE = ".env"


@dataclass(frozen=True)
class EnvFile:
    """The ``TELNYX_EMULATOR_*`` settings of ``./.env``, which ``serve`` and ``health`` read.

    README and ``keygen`` suggest ``telnyx-emulator keygen > .env`` to pin the signing key; a
    server that ignored the file would silently make a new key on every start. The environment
    wins over the file (the usual dotenv rule), so CI and Docker settings are never overridden.
    Other names in the file (``TELNYX_PUBLIC_KEY``, the app's own) are left to the app.
    """

    path: Path
    values: Mapping[str, str]

    @classmethod
    def load(cls, path: Path = Path(ENV_FILE)) -> EnvFile:
        if not path.is_file():
            return cls(path, {})
        from dotenv import dotenv_values

        values = {
            name: value
            for name, value in dotenv_values(path).items()
            if name.startswith(ENV_PREFIX) and value is not None
        }
        return cls(path, values)

    @property
    def used(self) -> list[str]:
        return sorted(n for n in self.values if n not in os.environ)

    @property
    def overridden(self) -> list[str]:
        return sorted(n for n in self.values if n in os.environ)

    def get(self, name: str) -> str | None:
        return os.environ.get(name, self.values.get(name))


_NO_ENV_FILE = EnvFile(Path(ENV_FILE), {})


def _from_env(
    dest: str, parse: Callable[[str], Any] | None, multiple: bool, env: EnvFile = _NO_ENV_FILE
) -> Any:
    raw = env.get(_env_name(dest))
    if raw is None or raw == "":
        return None
    try:
        if multiple:
            sep = os.pathsep if dest == "scenarios" else ","
            items = [p.strip() for p in raw.split(sep) if p.strip()]
            return [parse(p) if parse else p for p in items]
        return parse(raw) if parse else raw
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"{_env_name(dest)}: {exc}") from None


def _env_flag(dest: str, env: EnvFile = _NO_ENV_FILE) -> bool:
    raw = (env.get(_env_name(dest)) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise UsageError(
        f"{_env_name(dest)}: expected 1 or 0 (or true/false, yes/no, on/off), got {raw!r}"
    )


def settings_from_args(args: argparse.Namespace, env: EnvFile = _NO_ENV_FILE) -> Settings:
    """The flags, else the environment, else ``env`` (``./.env``), else the defaults."""
    values: dict[str, Any] = {}
    for _flag, dest, parse, default, _help, multiple in SERVE_OPTIONS:
        value = getattr(args, dest)
        if value is None:
            value = _from_env(dest, parse, multiple, env)
        values[dest] = default if value is None else value
    strict = args.strict
    if strict is None:
        strict = _env_flag("strict", env)
    no_admin = args.no_admin
    if no_admin is None:
        no_admin = _env_flag("no_admin", env)
    connections, scenario_paths, config_path = _connections(values)
    return Settings(
        host=values["host"],
        port=values["port"],
        time_scale=values["time_scale"],
        strict=bool(strict),
        api_keys=tuple(values["api_keys"]),
        scenario_dirs=(*scenario_paths, *values["scenarios"]),
        signing_key=values["signing_key"],
        seed=values["seed"],
        dedup_window_secs=values["dedup_window"],
        max_body_bytes=values["max_body_bytes"],
        max_live_calls=values["max_live_calls"],
        webhook_timeout_secs=values["webhook_timeout"],
        webhook_retry_delays=tuple(values["webhook_retries"]),
        retention_secs=values["retention"],
        max_pending_webhooks=values["max_pending_webhooks"],
        delivery=values["delivery"],
        command_faults=values["command_faults"],
        admin_token=values["admin_token"],
        public_url=values["public_url"],
        no_admin=bool(no_admin),
        webhook_allow=tuple(values["webhook_allow"]),
        connections=connections,
        unknown_connections=values["unknown_connections"],
        config_file=config_path,
        log_format=values["log_format"],
        log_level=values["log_level"],
    )


def _connections(
    values: dict[str, Any],
) -> tuple[tuple[ConnectionSpec, ...], tuple[Path, ...], Path | None]:
    """The connections and scenario paths of the config file (``--config``, else
    ./telnyx-emulator.yaml if present) and of ``--webhook-url``. Raises ConfigError."""
    import dataclasses

    from . import config_file

    explicit: Path | None = values["config"]
    if explicit is not None and not explicit.is_file():
        raise UsageError(f"--config ({_env_name('config')}): no such file: {explicit}")
    path = config_file.find(explicit)
    loaded = config_file.load(path) if path is not None else None
    specs = loaded.connections if loaded is not None else ()
    if values["webhook_url"] is not None:
        single = config_file.shortcut(
            values["webhook_url"],
            connection_id=values["connection_id"],
            numbers=tuple(values["numbers"]),
        )
        if any(s.id == single.id for s in specs):
            raise UsageError(f"--connection-id {single.id} is also a connection of {path}")
        # The flag's connection is the default: the file's default steps aside.
        specs = (*(dataclasses.replace(s, default=False) for s in specs), single)
    elif values["connection_id"] is not None or values["numbers"]:
        raise UsageError("--connection-id and --number describe --webhook-url's connection")
    return specs, (loaded.scenario_paths if loaded is not None else ()), path


def serve(settings: Settings, *, out: Any = None, env_file: EnvFile = _NO_ENV_FILE) -> int:
    import uvicorn

    from . import logs
    from .scenarios import ScenarioBook, ScenarioError
    from .server import (
        H11_MAX_INCOMPLETE_EVENT_SIZE,
        ShutdownAwareServer,
        build_api,
        create_app,
    )
    from .signing import SigningKeyError

    out = out or sys.stdout
    logs.configure(settings.log_format, settings.log_level)
    logs.add_secrets(settings.signing_key, settings.admin_token, *settings.api_keys)
    try:
        scenarios = ScenarioBook.load(settings.scenario_dirs)
        api = build_api(settings, scenarios)
        logs.add_secrets(api.signer.private_key_base64)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(f"{PROG}: scenario error: {problem}", file=sys.stderr)
        return 2
    except SigningKeyError as exc:
        print(f"{PROG}: error: --signing-key ({_env_name('signing_key')}): {exc}", file=sys.stderr)
        return 2
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP; without
    # it every response on a kept-alive connection waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        print(
            f"{PROG}: error: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    sock.listen(2048)
    bound, port = sock.getsockname()[:2]
    listening = f"http://{_url_host(bound)}:{port}"  # what the socket is really bound to
    # Clients on this machine reach a wildcard address through loopback.
    wildcard = ipaddress.ip_address(bound).is_unspecified
    base = (
        f"http://{_url_host('::1' if ':' in bound else '127.0.0.1')}:{port}"
        if wildcard
        else listening
    )
    api.links.url = settings.public_url or base  # recording links (emulator/recordings.py)
    app = create_app(settings, api=api)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        h11_max_incomplete_event_size=H11_MAX_INCOMPLETE_EVENT_SIZE,
    )
    _tune_gc()
    server = ShutdownAwareServer(config)
    if threading.current_thread() is threading.main_thread():
        # Installed before the banner, so a SIGTERM sent as soon as it appears (before uvicorn
        # has its own handlers) still stops the server cleanly instead of killing the process.
        # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal it caught: that
        # second delivery lands here too, harmlessly, so `docker stop` and CI see status 0.
        signal.signal(signal.SIGTERM, lambda signum, frame: setattr(server, "should_exit", True))
    print(f"{PROG} {__version__} listening on {listening}", file=out)
    if not (ipaddress.ip_address(bound).is_loopback or settings.no_admin or settings.admin_token):
        print(
            f"{PROG}: warning: listening on {bound}, beyond this machine, and the admin API "
            "(/_emulator/*: inspection, faults, reset) needs no token; pass --admin-token "
            "(or --no-admin)",
            file=sys.stderr,
        )

    print(f"  TELNYX_BASE_URL={base}/v2", file=out)
    print(f"  TELNYX_PUBLIC_KEY={api.signer.public_key}", file=out)
    if not settings.no_admin:
        print(f"  dashboard: {base}/_emulator/ui", file=out)
    print(f"  scenarios: {', '.join(s.name for s in scenarios)}", file=out)
    main_connection = next((spec for spec in settings.connections if spec.default), None)
    if main_connection is not None:  # what the app dials with (connection_id)
        print(f"  TELNYX_CONNECTION_ID={main_connection.id}", file=out)
    if settings.config_file is not None:
        print(f"  config: {settings.config_file}", file=out)
    for spec in settings.connections:
        numbers = ", ".join(spec.numbers) or "no numbers"
        default = ", default" if spec.default else ""
        print(
            f"  connection {spec.fields.get('application_name')} ({spec.id}{default}): "
            f"{spec.fields.get('webhook_event_url')}; {numbers}",
            file=out,
        )
    if env_file.used:
        print(f"  read from {env_file.path}: {', '.join(env_file.used)}", file=out)
    if env_file.overridden:
        shown = ", ".join(env_file.overridden)
        print(f"  ignored in {env_file.path} (set in the environment): {shown}", file=out)
    out.flush()
    server.run(sockets=[sock])
    if api.background_failure is not None:
        print(f"{PROG}: error: {api.background_failure} (see the log above)", file=sys.stderr)
        return 1
    return 0


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address  # an IPv6 address in a URL


def health(url: str | None, wait: float, out: Any = None, env_file: EnvFile = _NO_ENV_FILE) -> int:
    import time
    import urllib.error
    import urllib.request

    out = out or sys.stdout
    if url is None:
        url = (env_file.get(URL_ENV) or "").strip() or None
    if url is None:
        port = _from_env("port", _port, False, env_file)
        host = (env_file.get(_env_name("host")) or "").strip()
        if host in ("", "0.0.0.0", "::", "[::]"):
            host = "127.0.0.1"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        url = f"http://{host}:{DEFAULT_PORT if port is None else port}"
    if not url.startswith(("http://", "https://")):
        raise UsageError(
            f"--url ({URL_ENV}) must start with http:// or https://, got {url!r}",
            f"{PROG} health",
        )
    base = url.rstrip("/")
    base = base.removesuffix("/v2")
    target = f"{base}/_emulator/health"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    deadline = time.monotonic() + wait
    while True:
        try:
            with opener.open(target, timeout=2) as response:
                if response.status == 200:
                    print(f"healthy: {target}", file=out)
                    return 0
                reason = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code}"
        except urllib.error.URLError as exc:
            reason = str(exc.reason)
        except OSError as exc:
            reason = str(exc)
        if time.monotonic() >= deadline:
            print(f"{PROG}: not healthy: {target}: {reason}", file=sys.stderr)
            return 1
        time.sleep(0.2)


def _tune_gc() -> None:
    """Keep garbage-collection pauses out of request latency in the long-running server.

    Live calls are many small objects; with CPython's default thresholds a full collection
    under load scans all of them and stalls requests for hundreds of milliseconds (measured in
    bench/, docs/performance.md). Everything loaded at start-up is frozen out of collections,
    and young collections run less often. Most engine objects are freed by reference counting;
    the collector only has to find the few cycles (bridged legs point at each other).
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def keygen(fmt: str, out: Any = None) -> int:
    import json

    from .signing import Signer

    out = out or sys.stdout
    signer = Signer()
    if fmt == "json":
        print(
            json.dumps({"signing_key": signer.private_key_base64, "public_key": signer.public_key}),
            file=out,
        )
    else:
        print(f"TELNYX_EMULATOR_SIGNING_KEY={signer.private_key_base64}", file=out)
        print(f"TELNYX_PUBLIC_KEY={signer.public_key}", file=out)
    return 0


def scenarios_command(args: argparse.Namespace, out: Any = None) -> int:
    from . import scenarios as sc

    out = out or sys.stdout
    if args.scenarios_command == "check":
        missing = [p for p in args.paths if not p.exists()]
        if missing:
            raise UsageError(f"no such file or directory: {missing[0]}")
        problems = sc.check_paths(args.paths)
        for problem in problems:
            print(problem, file=out)
        if problems:
            print(f"{len(problems)} problem(s) found", file=out)
            return 1
        print("all scenario files are valid", file=out)
        return 0
    if args.scenarios_command == "list":
        dirs = args.scenarios
        if dirs is None:
            dirs = _from_env("scenarios", _directory, True)
        try:
            book = sc.ScenarioBook.load(tuple(dirs or ()))
        except sc.ScenarioError as exc:
            for problem in exc.problems:
                print(f"{PROG}: scenario error: {problem}", file=sys.stderr)
            return 1
        rows = [
            (
                s.name,
                ", ".join(p.pattern for p in s.match_to) or "(any other destination)",
                sc.describe(s),
            )
            for s in book
        ]
        name_w = max((len(r[0]) for r in rows), default=0)
        rule_w = max((len(r[1]) for r in rows), default=0)
        for name, rule, outcome in rows:
            print(f"{name:<{name_w}}  {rule:<{rule_w}}  {outcome}", file=out)
        return 0
    raise UsageError("scenarios needs an action: check or list", f"{PROG} scenarios")


def config_command(args: argparse.Namespace, out: Any = None) -> int:
    from . import config_file

    out = out or sys.stdout
    if args.config_command != "check":
        raise UsageError("config needs an action: check", f"{PROG} config")
    path = args.path or Path(config_file.DEFAULT_FILE)
    if not path.is_file():
        raise UsageError(f"no such file: {path}", f"{PROG} config check")
    problems = config_file.check(path)
    for problem in problems:
        print(problem, file=out)
    if problems:
        print(f"{len(problems)} problem(s) found", file=out)
        return 1
    loaded = config_file.load(path)
    for line in loaded.describe():
        print(line, file=out)
    print(f"{path} is valid", file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            raise _unrecognized(parser, args, extra)
        if args.command == "serve":
            env_file = EnvFile.load()
            return serve(settings_from_args(args, env_file), env_file=env_file)
        if args.command == "health":
            return health(args.url, args.wait, env_file=EnvFile.load())
        if args.command == "keygen":
            return keygen(args.format)
        if args.command == "scenarios":
            return scenarios_command(args)
        if args.command == "config":
            return config_command(args)
        parser.print_help(sys.stderr)
        return 2
    except UsageError as exc:
        print(f"{PROG}: error: {exc} (see '{exc.prog} --help')", file=sys.stderr)
        return 2
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{PROG}: config error: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
