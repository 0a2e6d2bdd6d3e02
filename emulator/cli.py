"""The ``telnyx-emulator`` command.

Every ``serve`` option has an environment-variable twin (``TELNYX_EMULATOR_<OPTION>``) because CI
services and the Docker image are configured through the environment. Mistakes get one line that
says what is wrong and exit status 2: never a traceback.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._version import __version__
from .config import DEFAULT_PORT, ENV_PREFIX, Settings

PROG = "telnyx-emulator"


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


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
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None


def _directory(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"not a directory: {text}")
    return path


def _retry_delays(text: str) -> tuple[float, ...]:
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        return tuple(_positive_float(p) for p in parts)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated seconds: {exc}") from None


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise argparse.ArgumentTypeError(f"must be one of {', '.join(choices)}, got {text!r}")
        return text.lower()

    return parse


# (flag, dest, type, default, help, multiple) — the env var is TELNYX_EMULATOR_<DEST upper>.
SERVE_OPTIONS: list[tuple[str, str, Callable[[str], Any] | None, Any, str, bool]] = [
    (
        "--host",
        "host",
        None,
        "127.0.0.1",
        "address to bind (use 0.0.0.0 only in a container)",
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
        _positive_float,
        1.0,
        "multiply every scenario delay and timer: 1 = real time, 0.01 = 100x faster, 0 = at once",
        False,
    ),
    (
        "--api-key",
        "api_keys",
        None,
        (),
        "accept only this bearer token (repeatable; env: comma-separated); "
        "default: any non-empty token",
        True,
    ),
    (
        "--scenarios",
        "scenarios",
        _directory,
        (),
        "directory of your scenario YAML files (repeatable; env: os.pathsep-separated); "
        "yours win by name",
        True,
    ),
    (
        "--signing-key",
        "signing_key",
        None,
        None,
        "Base64 Ed25519 private key (from `keygen`) so the webhook public key stays the "
        "same across runs",
        False,
    ),
    ("--seed", "seed", _seed, None, "seed for reproducible IDs", False),
    (
        "--dedup-window",
        "dedup_window",
        _positive_float,
        60.0,
        "seconds a command_id is remembered per call",
        False,
    ),
    (
        "--max-body-bytes",
        "max_body_bytes",
        _count,
        1_048_576,
        "largest accepted request body (413 beyond)",
        False,
    ),
    (
        "--max-live-calls",
        "max_live_calls",
        _count,
        10_000,
        "live calls per API key (429 beyond)",
        False,
    ),
    (
        "--webhook-timeout",
        "webhook_timeout",
        _positive_float,
        2.0,
        "seconds to wait for the app to answer a webhook",
        False,
    ),
    (
        "--webhook-retries",
        "webhook_retries",
        _retry_delays,
        (1.0, 2.0, 4.0),
        "default retry delays in seconds, comma-separated (a command's "
        "webhook_retries_policies wins)",
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
        "log verbosity",
        False,
    ),
]


def _env_name(dest: str) -> str:
    return ENV_PREFIX + dest.upper()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="A local emulator of the Telnyx Call Control API: validates commands, "
        "answers with Telnyx's bodies and errors, and sends the signed webhooks Telnyx would.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    serve = sub.add_parser(
        "serve",
        help="run the emulator server",
        description="Run the emulator. Every option can also be set with the environment "
        "variable shown in brackets.",
    )
    for flag, dest, _type, default, help_text, multiple in SERVE_OPTIONS:
        kwargs: dict[str, Any] = {"dest": dest, "help": f"{help_text} [{_env_name(dest)}]"}
        if multiple:
            kwargs["action"] = "append"
        if _type is not None:
            kwargs["type"] = _type
        kwargs["default"] = None
        shown = default if not isinstance(default, tuple) else ",".join(map(str, default)) or None
        if shown is not None:
            kwargs["help"] += f" (default: {shown})"
        serve.add_argument(flag, **kwargs)
    serve.add_argument(
        "--strict",
        action="store_true",
        default=None,
        help=f"reject unknown body fields, to catch typos [{_env_name('strict')}=1]",
    )

    keygen = sub.add_parser("keygen", help="print a new Ed25519 signing key pair to pin in CI")
    keygen.add_argument("--format", choices=["env", "json"], default="env")

    scen = sub.add_parser("scenarios", help="check or list scenario files")
    scen_sub = scen.add_subparsers(dest="scenarios_command", metavar="ACTION", parser_class=_Parser)
    check = scen_sub.add_parser(
        "check", help="validate scenario files; print every problem as file:line: reason"
    )
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    lst = scen_sub.add_parser("list", help="list the scenarios in force: name, match rule, outcome")
    lst.add_argument(
        "--scenarios",
        dest="scenarios",
        action="append",
        type=_directory,
        default=None,
        help="also load this directory of your scenarios (repeatable)",
    )
    return parser


def _from_env(dest: str, parse: Callable[[str], Any] | None, multiple: bool) -> Any:
    raw = os.environ.get(_env_name(dest))
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


def settings_from_args(args: argparse.Namespace) -> Settings:
    values: dict[str, Any] = {}
    for _flag, dest, parse, default, _help, multiple in SERVE_OPTIONS:
        value = getattr(args, dest)
        if value is None:
            value = _from_env(dest, parse, multiple)
        values[dest] = default if value is None else value
    strict = args.strict
    if strict is None:
        strict = os.environ.get(_env_name("strict"), "").lower() in ("1", "true", "yes", "on")
    return Settings(
        host=values["host"],
        port=values["port"],
        time_scale=values["time_scale"],
        strict=bool(strict),
        api_keys=tuple(values["api_keys"]),
        scenario_dirs=tuple(values["scenarios"]),
        signing_key=values["signing_key"],
        seed=values["seed"],
        dedup_window_secs=values["dedup_window"],
        max_body_bytes=values["max_body_bytes"],
        max_live_calls=values["max_live_calls"],
        webhook_timeout_secs=values["webhook_timeout"],
        webhook_retry_delays=tuple(values["webhook_retries"]),
        log_format=values["log_format"],
        log_level=values["log_level"],
    )


def serve(settings: Settings, *, out: Any = None) -> int:
    import uvicorn

    from . import logs
    from .scenarios import ScenarioBook, ScenarioError
    from .server import build_api, create_app
    from .signing import SigningKeyError

    out = out or sys.stdout
    logs.configure(settings.log_format, settings.log_level)
    try:
        scenarios = ScenarioBook.load(settings.scenario_dirs)
        api = build_api(settings, scenarios)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(f"{PROG}: scenario error: {problem}", file=sys.stderr)
        return 2
    except SigningKeyError as exc:
        print(f"{PROG}: --signing-key: {exc}", file=sys.stderr)
        return 2
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        print(
            f"{PROG}: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    sock.listen(2048)
    port = sock.getsockname()[1]
    shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
    base = f"http://{shown_host}:{port}"
    print(f"{PROG} {__version__} listening on {base}", file=out)
    print(f"  TELNYX_BASE_URL={base}/v2", file=out)
    print(f"  TELNYX_PUBLIC_KEY={api.signer.public_key}", file=out)
    print(f"  scenarios: {', '.join(s.name for s in scenarios)}", file=out)
    out.flush()
    app = create_app(settings, api=api)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0


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
        try:
            book = sc.ScenarioBook.load(tuple(args.scenarios or ()))
        except sc.ScenarioError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            return 1
        for scenario in book:
            rule = ", ".join(p.pattern for p in scenario.match_to) or "(any other destination)"
            print(f"{scenario.name:<16} {rule:<28} {sc.describe(scenario)}", file=out)
        return 0
    raise UsageError("scenarios needs an action: check or list")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "serve":
            return serve(settings_from_args(args))
        if args.command == "keygen":
            return keygen(args.format)
        if args.command == "scenarios":
            return scenarios_command(args)
        parser.print_help()
        return 2
    except UsageError as exc:
        print(f"{PROG}: error: {exc} (see '{PROG} --help')", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
