"""Call Control Applications ("connections") and the phone numbers assigned to them.

On Telnyx a voice app does not name a webhook URL in every command: the Call Control Application
holds the app's webhook URL, failover URL and timeout, phone numbers are assigned to it, and every
call on it (inbound to one of its numbers, or dialled with its ``connection_id``) reports there
(NOTES §5; docs "receiving webhooks": "delivered to the primary URL specified on the Voice API
Application associated with the call"). Without this an app that dials with only a
``connection_id`` gets no webhook at all.

Each tenant (API key) has its own :class:`ConnectionStore`, filled at its creation from the
configured :class:`ConnectionSpec` templates (config file, ``--webhook-url``, the pytest marker),
then changed through ``/v2/call_control_applications``. Pure data and rules: no I/O.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, ApiFailure

RECORD_TYPE = "call_control_application"
# Every field of a Call Control Application as Telnyx answers it, with the spec's defaults
# (components/schemas/CallControlApplication). id, created_at and updated_at are set on creation.
DEFAULTS: Mapping[str, Any] = {
    "active": True,
    "anchorsite_override": "Latency",
    "application_name": "",
    "call_cost_in_webhooks": False,
    "dtmf_type": "RFC 2833",
    "first_command_timeout": False,
    "first_command_timeout_secs": 30,
    "inbound": {
        "channel_limit": None,
        "shaken_stir_enabled": False,
        "sip_subdomain": None,
        "sip_subdomain_receive_settings": "from_anyone",
    },
    "outbound": {"channel_limit": None, "outbound_voice_profile_id": None},
    "redact_dtmf_debug_logging": False,
    "tags": [],
    # (chosen) "2": the spec's default is "1", but the emulator sends only API v2 webhooks and
    # refuses "1" (see webhook_api_version_error); apps created today are v2.
    "webhook_api_version": "2",
    "webhook_event_failover_url": "",
    "webhook_event_url": "",
    "webhook_timeout_secs": None,
}
_NESTED = ("inbound", "outbound")


def stable_id(name: str) -> str:
    """A 19-digit connection id derived from a name: a connection declared in a config file
    without an ``id`` keeps the same id across restarts, so an app's .env can name it."""
    digest = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")
    return str(10**18 + digest % (9 * 10**18))


@dataclass(frozen=True, slots=True)
class ConnectionSpec:
    """A configured connection: the template every tenant's store starts with."""

    id: str
    fields: Mapping[str, Any]  # request-body fields (application_name, webhook_event_url, ...)
    numbers: tuple[str, ...] = ()
    default: bool = False  # receives calls to unassigned numbers and on unknown connection ids
    origin: str = ""  # "file:line", or "--webhook-url"; for messages


@dataclass(slots=True)
class Connection:
    id: str
    record: dict[str, Any]  # the Telnyx-shaped body, as the API answers it

    @property
    def url(self) -> str | None:
        return self.record.get("webhook_event_url") or None

    @property
    def failover_url(self) -> str | None:
        return self.record.get("webhook_event_failover_url") or None

    @property
    def timeout_secs(self) -> float | None:
        """Per-webhook timeout; None (or the spec's 0) = the server's ``--webhook-timeout``."""
        value = self.record.get("webhook_timeout_secs")
        return float(value) if value else None

    @property
    def active(self) -> bool:
        return bool(self.record.get("active", True))

    def to_json(self) -> dict[str, Any]:
        return copy.deepcopy(self.record)


def _merge(record: dict[str, Any], fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        if key in _NESTED and isinstance(value, dict) and isinstance(record.get(key), dict):
            record[key] = {**record[key], **copy.deepcopy(value)}
        elif key not in ("id", "record_type", "created_at", "updated_at"):
            record[key] = copy.deepcopy(value)


def not_found(what: str, ident: str) -> ApiFailure:
    return ApiFailure(
        404, [ApiError("10005", "Resource not found", f"No {what} with id '{ident}' exists.")]
    )


def invalid_connection_id(detail: str | None = None, *, parameter: bool = False) -> ApiFailure:
    """Telnyx's answer to a Dial on a connection it can't use (spec example
    ``invalid_connection_id``)."""
    return ApiFailure(
        422,
        [
            ApiError(
                "10015",
                "Invalid value for connection_id (Call Control App ID)",
                detail
                or "The requested connection_id (Call Control App ID) is either invalid or does "
                "not exist. Only Call Control Apps with valid webhook URL are accepted.",
                pointer=None if parameter else "/connection_id",
                parameter="connection_id" if parameter else None,
            )
        ],
    )


def webhook_api_version_error(pointer: str = "/webhook_api_version") -> ApiFailure:
    """(chosen) v1 webhooks have another format and are not emulated: refused, not faked."""
    return ApiFailure(
        422,
        [
            ApiError(
                "10015",
                "Invalid value",
                "The emulator sends only API v2 webhooks: webhook_api_version '1' is not "
                "emulated. Use '2'.",
                pointer,
            )
        ],
    )


class ConnectionStore:
    """One tenant's connections and number assignments."""

    def __init__(self, *, reject_unknown: bool = False) -> None:
        # reject_unknown: a Dial naming no known connection gets Telnyx's 10015 (strict mode,
        # --unknown-connections reject); otherwise the call goes ahead (see for_dial).
        self.reject_unknown = reject_unknown
        self._by_id: dict[str, Connection] = {}
        self._numbers: dict[str, str] = {}  # phone number -> connection id
        self.default_id: str | None = None
        # Changed through the API since seeding: state the user made, so the API key is never
        # forgotten as idle (Api._forget_idle_tenants).
        self.changed = False

    @classmethod
    def seeded(
        cls, specs: tuple[ConnectionSpec, ...], now_iso: str, *, reject_unknown: bool = False
    ) -> ConnectionStore:
        store = cls(reject_unknown=reject_unknown)
        for spec in specs:
            store._add(spec.id, spec.fields, now_iso)
            for number in spec.numbers:
                store._numbers[number] = spec.id
            if spec.default:
                store.default_id = spec.id
        return store

    # -- CRUD (the /v2/call_control_applications routes) ---------------------------------------

    def _add(self, ident: str, fields: Mapping[str, Any], now_iso: str) -> Connection:
        record: dict[str, Any] = {"id": ident, "record_type": RECORD_TYPE}
        record.update(copy.deepcopy(dict(DEFAULTS)))
        _merge(record, fields)
        record["created_at"] = record["updated_at"] = now_iso
        connection = self._by_id[ident] = Connection(ident, record)
        return connection

    def create(
        self, fields: Mapping[str, Any], now_iso: str, new_id: Callable[[], str]
    ) -> Connection:
        self.changed = True
        if fields.get("webhook_api_version") == "1":
            raise webhook_api_version_error()
        ident = new_id()
        while ident in self._by_id:
            ident = new_id()
        return self._add(ident, fields, now_iso)

    def get(self, ident: str) -> Connection:
        connection = self._by_id.get(ident)
        if connection is None:
            raise not_found("call control application", ident)
        return connection

    def update(self, ident: str, fields: Mapping[str, Any], now_iso: str) -> Connection:
        self.changed = True
        connection = self.get(ident)
        if fields.get("webhook_api_version") == "1":
            raise webhook_api_version_error()
        _merge(connection.record, fields)
        connection.record["updated_at"] = now_iso
        return connection

    def delete(self, ident: str) -> Connection:
        """Remove a connection; (chosen) its numbers become unassigned, and calls still up on
        it report to the default connection, if any, else nowhere (``not_sent``)."""
        self.changed = True
        connection = self.get(ident)
        del self._by_id[ident]
        for number in [n for n, c in self._numbers.items() if c == ident]:
            del self._numbers[number]
        if self.default_id == ident:
            self.default_id = None
        return connection

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, ident: object) -> bool:
        return ident in self._by_id

    # -- numbers --------------------------------------------------------------------------------

    def assign(self, number: str, ident: str) -> None:
        self.changed = True
        if ident not in self._by_id:
            raise invalid_connection_id()
        self._numbers[number] = ident

    def unassign(self, number: str) -> None:
        self.changed = True
        if self._numbers.pop(number, None) is None:
            raise ApiFailure(
                404,
                [
                    ApiError(
                        "10005",
                        "Resource not found",
                        f"The number '{number}' is not assigned to any connection.",
                    )
                ],
            )

    def numbers(self) -> list[dict[str, str]]:
        return [{"phone_number": n, "connection_id": c} for n, c in self._numbers.items()]

    def numbers_of(self, ident: str) -> list[str]:
        return [n for n, c in self._numbers.items() if c == ident]

    # -- where calls belong and report (the engine's questions) ----------------------------------

    def for_inbound(self, to: str) -> str | None:
        """The connection an inbound call to ``to`` arrives on: the number's, else the default."""
        return self._numbers.get(to) or self.default_id

    def for_dial(self, ident: str) -> None:
        """Check a Dial's ``connection_id``: Telnyx refuses an unknown or inactive one (10015).

        (chosen) Unless ``reject_unknown``, an unknown id is accepted: an app keeps its real
        connection id in its environment, and its calls then report to the command's
        ``webhook_url`` or the default connection, as if the id were that connection's.
        """
        connection = self._by_id.get(ident)
        if connection is None:
            if self.reject_unknown:
                raise invalid_connection_id()
            return
        if not connection.active:
            raise invalid_connection_id(
                f"The Call Control App '{ident}' is not active (active: false): it can't be used."
            )

    def reporting_to(self, ident: str) -> Connection | None:
        """The connection whose URLs a call on ``ident`` falls back to: itself, or the default
        connection for an id the store does not know. Looked up at each webhook, so a PATCHed
        URL applies to the calls already up, as the application setting it is."""
        connection = self._by_id.get(ident)
        if connection is None and self.default_id is not None:
            connection = self._by_id.get(self.default_id)
        return connection
