"""``GET /v2/call_events``: Telnyx's Debugging list, built from what the emulator journaled.

Telnyx lists, per call leg, the commands the app sent and the webhooks it was sent (``type``
``command`` or ``webhook``, ordered by ``occurred_at``; spec ``ListCallEvents``). The emulator
keeps both already, for its inspection API: the command journal and the webhook records. This
module turns them into ``CallEvent`` records and applies Telnyx's filters. Pure: no I/O.

An event is listed while its leg is known (ended legs for ``--retention``, 10 minutes by
default) and its journal entry is kept (the newest ``journal_limit`` per API key).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from .calls import Leg, iso
from .engine import Engine
from .pagination import bad_parameter

FILTERS = (
    "type",
    "leg_id",
    "application_session_id",
    "connection_id",
    "product",
    "failed",
    "from",
    "to",
    "occurred_at.eq",
    "occurred_at.gt",
    "occurred_at.gte",
    "occurred_at.lt",
    "occurred_at.lte",
)
# Spec: "If filter for leg_id or application_session_id is not present, it only filters events
# from the last 24 hours."
RECENT_SECS = 24 * 3600.0


def _timestamp(name: str, text: str) -> float:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise bad_parameter(
            name, f"'{name}' must be an ISO 8601 time such as 2019-03-29T11:10:00Z."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # (chosen) a time without a zone is UTC
    return moment.timestamp()


def _boolean(name: str, text: str) -> bool:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    raise bad_parameter(name, f"'{name}' must be true or false, got '{text}'.")


def _event(leg: Leg, kind: str, name: str, at: str, metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "record_type": "call_event",
        "call_leg_id": leg.call_leg_id,
        "call_session_id": leg.call_session_id,
        "event_timestamp": at,
        "name": name,
        "type": kind,
        "metadata": metadata,
    }


def _events(engine: Engine) -> Iterator[tuple[float, Leg, dict[str, Any], bool]]:
    """(time, leg, event, failed) for every journaled command and webhook of a known leg."""
    legs: dict[str, Leg | None] = {}

    def leg_of(ccid: str | None) -> Leg | None:
        if ccid is None:
            return None
        if ccid not in legs:
            legs[ccid] = engine.calls.get(ccid)
        return legs[ccid]

    for entry in engine.commands:
        leg = leg_of(entry.get("call_control_id"))
        if leg is None:  # a Dial refused before any call existed, or a call since forgotten
            continue
        metadata = {
            k: entry.get(k)
            for k in ("command", "method", "path", "command_id", "status", "result", "errors")
        }
        metadata["call_control_id"] = entry.get("call_control_id")
        metadata["body"] = entry.get("body")
        failed = entry.get("result") == "rejected"
        yield (
            _timestamp("at", entry["at"]),
            leg,
            _event(leg, "command", str(entry.get("command")), entry["at"], metadata),
            failed,
        )
    for record in list(engine.webhooks):
        leg = leg_of(record.call_control_id)
        if leg is None:
            continue
        shown = record.to_json()
        metadata = {
            "event": shown["body"]["data"],
            "call_control_id": record.call_control_id,
            "url": shown["url"],
            "method": shown["method"],
            "delivery_status": shown["status"],
            "attempts": shown["attempts"],
        }
        at = iso(record.created_at)
        yield (
            record.created_at,
            leg,
            _event(leg, "webhook", record.event_type, at, metadata),
            record.status in ("failed", "not_sent", "blocked"),
        )


def list_events(engine: Engine, wanted: Mapping[str, str], now: float) -> list[dict[str, Any]]:
    """The tenant's call events matching Telnyx's filters (``wanted``: dotted filter names, as
    :func:`emulator.pagination.filters` gives them), oldest first."""
    bounds = [k for k in wanted if k.startswith("occurred_at.")]
    if len(bounds) > 1:
        raise bad_parameter(
            f"filter[occurred_at][{bounds[1].split('.')[1]}]",
            "Only one filter[occurred_at] can be passed.",
        )
    when: tuple[str, float] | None = None
    if bounds:
        name = bounds[0]
        when = (name.split(".")[1], _timestamp(f"filter[{name}]", wanted[name]))
    failed = _boolean("filter[failed]", wanted["failed"]) if "failed" in wanted else None
    kind = wanted.get("type")
    if kind is not None and kind not in ("command", "webhook"):
        raise bad_parameter("filter[type]", "'filter[type]' must be one of: command, webhook.")
    product = wanted.get("product")
    if product is not None and product not in ("call_control", "fax", "texml"):
        raise bad_parameter(
            "filter[product]", "'filter[product]' must be one of: call_control, fax, texml."
        )
    if product in ("fax", "texml"):
        return []  # only Call Control is emulated: no fax or TeXML events exist
    recent_only = "leg_id" not in wanted and "application_session_id" not in wanted
    out: list[tuple[float, int, dict[str, Any]]] = []
    for order, (at, leg, event, is_failed) in enumerate(_events(engine)):
        if recent_only and at < now - RECENT_SECS:
            continue
        if kind is not None and event["type"] != kind:
            continue
        if failed is not None and is_failed != failed:
            continue
        if "leg_id" in wanted and leg.call_leg_id != wanted["leg_id"]:
            continue
        if "application_session_id" in wanted and (
            leg.call_session_id != wanted["application_session_id"]
        ):
            continue
        if "connection_id" in wanted and leg.connection_id != wanted["connection_id"]:
            continue
        if "from" in wanted and leg.from_ != wanted["from"]:
            continue
        if "to" in wanted and leg.to != wanted["to"]:
            continue
        if when is not None and not _compare(at, when):
            continue
        out.append((at, order, event))
    out.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in out]


def _compare(at: float, when: tuple[str, float]) -> bool:
    op, bound = when
    if op == "eq":
        return abs(at - bound) < 1e-6
    if op == "gt":
        return at > bound
    if op == "gte":
        return at >= bound
    if op == "lt":
        return at < bound
    return at <= bound
