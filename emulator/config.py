"""Settings: every knob of the emulator, with its default and environment variable.

One dataclass serves the CLI (each option also reads ``TELNYX_EMULATOR_<NAME>``), the Docker image
(which is configured only through the environment) and the pytest plugin (marker arguments), so
a setting means the same thing wherever it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .connections import ConnectionSpec

DEFAULT_PORT = 8787
ENV_PREFIX = "TELNYX_EMULATOR_"

# (chosen) Upper bounds of the numeric settings, wherever they are given (CLI, environment,
# the pytest marker and ``emulator.mock()``): generous for any real use, and far from what
# breaks later (an "inf" timeout, a retention that overflows a timestamp, an int64 seed).
MAX_SECONDS = 86_400.0  # a day: delays, windows, timeouts
MAX_TIME_SCALE = 1_000.0
MAX_WEBHOOK_TIMEOUT = 600.0  # Telnyx's own longest timeout_secs
MAX_RETRIES = 20
MAX_INT32 = 2**31 - 1
MAX_SEED = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    time_scale: float = 1.0
    strict: bool = False
    api_keys: tuple[str, ...] = ()  # empty = any non-empty bearer token is accepted
    tenancy: str = "per_key"  # or "single": every API key reaches one tenant (emulator/tenancy.py)
    scenario_dirs: tuple[Path, ...] = ()
    signing_key: str | None = None  # Base64 Ed25519 seed; None = a fresh key per start
    seed: int | None = None  # makes IDs reproducible
    dedup_window_secs: float = 60.0
    retention_secs: float = 600.0
    max_body_bytes: int = 1_048_576
    max_live_calls: int = 10_000
    journal_limit: int = 10_000
    webhook_timeout_secs: float = 2.0
    webhook_retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0)
    delivery: str | None = None  # default delivery policy (faults), e.g. "shuffled,duplicate=0.1"
    command_faults: str | None = None  # e.g. "429:3" (next 3 commands) or "500:p=0.1"
    admin_token: str | None = None  # required in X-Emulator-Admin-Token for /_emulator/*
    no_admin: bool = False  # remove /_emulator/* (health and recording downloads stay)
    # The emulator's address as apps reach it, for recording links; None = where it listens.
    public_url: str | None = None
    webhook_allow: tuple[str, ...] = ()  # hosts (host or host:port, * wildcards) webhooks may go to
    # Per API key: its commands get 429 while more of its webhooks than this wait.
    max_pending_webhooks: int = 100_000
    # Forget an API key that has had no request for max(retention, dedup window) and holds no
    # call and no waiting webhook, so 100,000 one-off keys do not grow memory for ever. The
    # pytest plugin turns it off: one test's few keys, virtual time that jumps hours.
    forget_idle_tenants: bool = True
    # Call Control Applications every API key starts with (config file, --webhook-url, marker).
    connections: tuple[ConnectionSpec, ...] = ()
    # A Dial naming no known connection: "accept" it (chosen default) or "reject" it with
    # Telnyx's 10015 (also what --strict does).
    unknown_connections: str = "accept"
    config_file: Path | None = None  # where `connections` came from, for messages
    log_format: str = "text"
    log_level: str = "info"
    extra: dict[str, str] = field(default_factory=dict)
