"""The sans-I/O engine: one tenant's calls, the commands on them, and the webhooks they cause.

It never touches a socket, an event loop or the system time. Commands come in as plain
dictionaries (already validated against ``schemas/``); time comes from the injected clock;
what Telnyx would do later (the far end answering, a timer firing, AMD reporting) is planned on
the shared :class:`~emulator.timeline.Timeline`; every webhook goes into the shared
:class:`~emulator.delivery.Outbox`. Adapters drive the timeline and drain the outbox.

Leg A is the call a transfer is issued on; leg B is the outbound leg the transfer dials.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import errors, webhooks
from .activities import (
    ENDS_ON_BRIDGE,
    ENDS_ON_MACHINE,
    Activities,
    Activity,
    ActivityKind,
    EndReason,
    OnEnd,
)
from .audio_lengths import AudioLengths
from .calls import CallStore, Leg, Routing, iso
from .clock import Clock
from .connections import ConnectionStore
from .dedup import Deduplicator
from .delivery import DEFAULT_RETRY_DELAYS, Outbox, WebhookRecord, dumps
from .errors import ApiFailure
from .events import EventLog
from .faults import FaultPlan
from .ids import IdFactory
from .journal import Journal
from .media_stream import StreamHub
from .person import Cue, FarEnd, FarEndInput, Hear
from .queues import QueueStore
from .recording_transcriptions import RecordingTranscriptionStore
from .recordings import PublicBase, RecordingStore
from .redaction import redact_value
from .scenarios import Hangup, Scenario, Step
from .state import LegEvent, LegState, allows, check_command
from .tenancy import tenant_id
from .timeline import Entry, Timeline

log = logging.getLogger("telnyx_emulator.engine")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    time_scale: float = 1.0  # multiplies every scenario delay and timer (0 = at once, in order)
    dedup_window_secs: float = 60.0
    retention_secs: float = 600.0  # ended calls stay queryable this long (Telnyx: 10 min)
    journal_limit: int = 10_000  # commands and webhooks kept per tenant for inspection
    max_live_calls: int = 10_000
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS


# Standard AMD modes report call.machine.detection.ended; premium ones the premium events.
STANDARD_AMD = frozenset({"detect", "detect_beep", "detect_words", "greeting_end"})
PREMIUM_AMD = frozenset({"premium", "premium_ios_call_screening_detection"})
PREMIUM_RESULT = {"human": "human_residence", "machine": "machine", "not_sure": "not_sure"}

# (hangup_cause, hangup_source, sip_hangup_cause) of the app's own hang-ups.
APP_HANGUP = ("normal_clearing", "caller", "16")
APP_CANCEL = ("originator_cancel", "caller", "487")  # a leg that is still ringing: SIP CANCEL
# The far end hangs up as a person does: a normal BYE (Q.850 16).
FAR_END_HANGUP = ("normal_clearing", "16")

# Webhooks that go with a change of the leg's state: the event log shows the leg's new summary
# before them (AMD results change nothing).
STATE_EVENTS = frozenset({"call.initiated", "call.answered", "call.bridged", "call.hangup"})

# What else happens when a leg is answered, by the families that need it (the recording family
# starts ``record: record-from-answer`` recordings of Dial and Transfer legs): called after
# ``call.answered`` with the engine and the leg. The families append to it at import.
ANSWER_HOOKS: list[Callable[[Engine, Leg], None]] = []


class Engine:
    def __init__(
        self,
        tenant: str,
        *,
        clock: Clock,
        ids: IdFactory,
        timeline: Timeline,
        outbox: Outbox,
        config: EngineConfig,
        events: EventLog | None = None,
        faults: FaultPlan | None = None,
        links: PublicBase | None = None,
        streams: StreamHub | None = None,
    ) -> None:
        self.tenant = tenant
        self.tenant_id = tenant_id(tenant)
        self.events = events if events is not None else EventLog(clock)
        self.clock = clock
        self.ids = ids
        self.timeline = timeline
        self.outbox = outbox
        self.config = config
        self.streams = streams if streams is not None else StreamHub()  # media streams (#17)
        self.calls = CallStore(config.retention_secs)
        self.dedup = Deduplicator(config.dedup_window_secs)
        self.connection_id = ids.connection_id()
        # Call Control Applications and numbers; the Api seeds it from the configuration.
        self.connections = ConnectionStore()
        self.faults = faults or FaultPlan()
        self.commands = Journal(config.journal_limit)
        # The emulator's public address, for the recording links it hands out (shared).
        self.links = links if links is not None else PublicBase()
        # Real lengths of audio files the server measured before a command ran (shared).
        self.audio_lengths = AudioLengths()
        self.recordings = RecordingStore()
        self.recording_transcriptions = RecordingTranscriptionStore()
        self.queues = QueueStore()
        # Dial dedup (per API key, no call_control_id): command_id -> (when, call_control_id),
        # oldest first.
        self._dials: dict[str, tuple[float, str]] = {}
        self.webhooks: deque[WebhookRecord] = deque(maxlen=config.journal_limit)
        self._command_seq = itertools.count(1)
        # Whoever else wants what the far end of any leg does (see emulator.person).
        self.far_end_listeners: list[Callable[[Leg, FarEndInput], None]] = []
        self.last_used = clock.now()  # the Api's idle-tenant rule reads it

    # -- lookups ------------------------------------------------------------------------------

    def leg(self, call_control_id: str) -> Leg:
        self.housekeeping()
        leg = self.calls.get(call_control_id)
        if leg is None:
            raise errors.invalid_call_control_id()
        return leg

    def housekeeping(self) -> None:
        now = self.clock.now()
        self.calls.expire(now)
        self.dedup.expire(now)

    # -- the command pipeline -----------------------------------------------------------------

    def run_command(
        self,
        command: str,
        call_control_id: str,
        body: dict[str, Any],
        action: Callable[[Leg], None],
    ) -> bool:
        """The pipeline of every command on a call: look the leg up (90015), apply
        ``command_id`` dedup, the state rules (90018, 90034, ...), the body's ``client_state``
        (so the webhooks the command causes carry it), then act.

        Returns False when the command was a duplicate (ignored, as Telnyx ignores it). If the
        action fails, the leg's ``client_state`` is put back: a refused command changes nothing.
        """
        leg = self.leg(call_control_id)
        now = self.clock.now()
        command_id = body.get("command_id")
        if isinstance(command_id, str) and self.dedup.is_duplicate(
            call_control_id, command_id, now
        ):
            return False
        check_command(command, leg.state)
        before = leg.client_state
        if "client_state" in body:
            leg.client_state = body["client_state"]
        try:
            action(leg)
        except ApiFailure:
            leg.client_state = before
            raise
        if isinstance(command_id, str):
            self.dedup.remember(call_control_id, command_id, now)
        return True

    def journal_command(
        self,
        *,
        method: str,
        path: str,
        command: str,
        call_control_id: str | None,
        body: Any,
        status: int,
        result: str,
        errors_: list[dict[str, Any]] | None = None,
        fault: str | None = None,
        at: float | None = None,  # when the command arrived (default: now)
        encoded_body: bytes | None = None,
    ) -> dict[str, Any]:
        """Record a command's outcome. ``encoded_body`` is the body from
        :meth:`encode_journal_body`, encoded before the command acted (see that method); the
        entry returned is the stored one without its body."""
        entry = {
            "id": next(self._command_seq),
            "at": iso(self.clock.now() if at is None else at),
            "method": method,
            "path": path,
            "command": command,
            "call_control_id": call_control_id,
            # Only a string is a command_id (a rejected body's other value stays in "body").
            "command_id": _command_id(body),
            "status": status,
            "result": result,  # accepted | duplicate | rejected | not_emulated
            "errors": errors_ or [],
        }
        if fault is not None:  # an injected command fault (command_429, command_500)
            entry["fault"] = fault
        if encoded_body is None:
            encoded_body = self.encode_journal_body(body)
        self.commands.append(entry, encoded_body)
        if self.events.on:  # someone watches: the entry as stored, body included
            shown = {**entry, "body": json.loads(encoded_body)}
            self.events.record(
                "command", self.tenant_id, shown, call_control_id=call_control_id,
                call_session_id=self._session_of(call_control_id),
            )  # fmt: skip
        return entry

    def _session_of(self, call_control_id: str | None) -> str | None:
        leg = self.calls.get(call_control_id) if call_control_id is not None else None
        return leg.call_session_id if leg is not None else None

    def changed(self, leg: Leg) -> None:
        """Tell the event log about a leg's new state (a no-op while nobody is watching)."""
        if self.events.on:
            self.events.record(
                "call",
                self.tenant_id,
                leg.summary(self.clock.now()),
                call_control_id=leg.call_control_id,
                call_session_id=leg.call_session_id,
            )

    @staticmethod
    def encode_journal_body(body: Any) -> bytes:
        """The body as the journal shows it: secrets redacted, JSON-encoded.

        Called before a command acts, so that nothing the journal needs can fail once the
        command has had an effect: a command is all or nothing (docs/reliability.md).
        """
        return dumps(redact_value(body))

    # -- inbound calls ------------------------------------------------------------------------

    def create_inbound(self, params: dict[str, Any], scenario: Scenario | None = None) -> Leg:
        """Simulate a call arriving at the app (``POST /_emulator/calls``); ``scenario`` scripts
        the caller once the app answers."""
        self.check_capacity()
        now = self.clock.now()
        leg = Leg(
            tenant=self.tenant,
            call_control_id=self.ids.call_control_id(),
            call_leg_id=self.ids.leg_uuid(),
            call_session_id=self.ids.leg_uuid(),
            connection_id=str(
                params.get("connection_id")
                or self.connections.for_inbound(params["to"])
                or self.connection_id
            ),
            direction="incoming",
            from_=params["from"],
            to=params["to"],
            created_at=now,
            routing=Routing(
                url=params.get("webhook_url"),
                method=params.get("webhook_url_method", "POST"),
                failover_url=params.get("webhook_failover_url"),
            ),
            state=LegState.PARKED,
            client_state=params.get("client_state"),
            caller_id_name=params.get("caller_id_name"),
            scenario=scenario,
        )
        self.calls.add(leg)
        self.emit(leg, "call.initiated", webhooks.initiated(leg))
        caller_hangs_up = params.get("hangup_after_secs")
        if caller_hangs_up is not None:
            self.after(
                leg, caller_hangs_up, lambda: self.end(leg, "normal_clearing", "caller", "16")
            )
        return leg

    # -- outbound legs: a transfer's leg B, a Dial ---------------------------------------------

    def place_outbound(
        self,
        p: dict[str, Any],
        scenario: Scenario,
        *,
        to: str,
        from_: str,
        call_session_id: str | None,
        connection_id: str,
        routing: Routing,
        client_state: str | None,
        parent: Leg | None = None,
        timeout_cause: str = "timeout",
    ) -> Leg:
        """Create an outgoing leg (a new session unless one is given), send its
        ``call.initiated`` and plan what the scenario says the far end does."""
        b = Leg(
            tenant=self.tenant,
            call_control_id=self.ids.call_control_id(),
            call_leg_id=self.ids.leg_uuid(),
            call_session_id=call_session_id or self.ids.leg_uuid(),
            connection_id=connection_id,
            direction="outgoing",
            from_=from_,
            to=to,
            created_at=self.clock.now(),
            routing=routing,
            state=LegState.RINGING,
            client_state=client_state,
            caller_id_name=p.get("from_display_name"),
            custom_headers=list(p.get("custom_headers") or []),
            sip_headers=list(p.get("sip_headers") or []),
            parent=parent,
            scenario=scenario,
            command=p,
        )
        self.calls.add(b)
        self.emit(b, "call.initiated", webhooks.initiated(b))
        self._plan_outbound(b, scenario, p, timeout_cause)
        return b

    def _plan_outbound(
        self, b: Leg, scenario: Scenario, p: dict[str, Any], timeout_cause: str = "timeout"
    ) -> None:
        timeout = float(p.get("timeout_secs", 30))
        if scenario.outcome == "answer" and scenario.ring_secs < timeout:
            self.after(b, scenario.ring_secs, lambda: self._far_end_answers(b))
        else:
            # Rings out (no answer before timeout_secs), or fails after ringing (busy, ...).
            rings_out = scenario.outcome in ("answer", "no_answer")
            h = scenario.hangup
            if h is None:
                h = (
                    Hangup("timeout", "408", "callee")
                    if rings_out
                    else Hangup("unspecified", "unspecified", "unknown")
                )
            if rings_out and h.cause == "timeout" and timeout_cause != "timeout":
                h = dataclasses.replace(h, cause=timeout_cause)  # Dial's retry_on_timeout=false
            after = timeout if rings_out else scenario.ring_secs
            self.after(b, after, lambda: self.end(b, h.cause, h.source, h.sip_code))

    def answer(self, leg: Leg) -> None:
        """The leg is answered (by the app's answer command, or by the far end):
        ``call.answered``."""
        leg.apply(LegEvent.ANSWER)
        leg.answered_at = self.clock.now()
        self.emit(leg, "call.answered", webhooks.answered(leg))
        for hook in ANSWER_HOOKS:
            hook(self, leg)
        if leg.scenario is not None and leg.scenario.far_end and leg.far_end is None:
            leg.far_end = FarEnd(
                leg.scenario.far_end,
                lambda secs, step: self.after(leg, secs, step),
                lambda step: self._far_end_acts(leg, step),
            )
            leg.far_end.start()

    # -- the person on the line (emulator.person) ----------------------------------------------

    def _far_end_acts(self, leg: Leg, step: Step) -> None:
        if step.action == "press":
            self.far_end_press(leg, step.value)
        elif step.action == "say":
            self.far_end_say(leg, step.value)
        elif step.action == "hangup":
            self.far_end_hangs_up(leg)

    def far_end_press(self, leg: Leg, digits: str) -> None:
        """The far end presses ``digits`` (all at this moment, in order): ``call.dtmf.received``
        for each, and each goes to whatever listens on the leg (a running gather). Digits
        pressed while nothing listens are not remembered (Telnyx documents no type-ahead).
        (chosen) Digits a payment collects are not reported: card data stays out of webhooks."""
        for digit in digits:
            if not leg.alive:
                return
            if not self.collecting_payment(leg):
                payload = webhooks.media_payload(leg)
                payload["digit"] = digit
                self.emit(leg, "call.dtmf.received", payload)
            self._heard(leg, FarEndInput("dtmf", digit, self.clock.now()))

    def collecting_payment(self, leg: Leg) -> bool:
        """A ``pay`` is collecting on ``leg``: what the far end presses is card data."""
        return (
            leg.activities is not None and leg.activities.running(ActivityKind.PAYMENT) is not None
        )

    def far_end_say(self, leg: Leg, text: str) -> None:
        """The far end says ``text``: whatever listens on the leg hears it (transcription)."""
        self._heard(leg, FarEndInput("speech", text, self.clock.now()))

    def far_end_hangs_up(self, leg: Leg) -> None:
        """The far end hangs up: ``hangup_source`` ``caller`` on an incoming leg (the caller is
        the far end), ``callee`` on an outgoing one."""
        source = "caller" if leg.direction == "incoming" else "callee"
        self.end(leg, FAR_END_HANGUP[0], source, FAR_END_HANGUP[1])

    def _heard(self, leg: Leg, heard: FarEndInput) -> None:
        if leg.activities is not None:
            for activity in leg.activities:
                if activity.hear is not None and activity.running:
                    activity.hear(heard)
        for listener in self.far_end_listeners:
            listener(leg, heard)

    def cue(self, leg: Leg, cue: Cue, value: str = "") -> None:
        """The far end of ``leg`` hears ``cue`` (a prompt starting, digits the app sent): a
        scripted far end may react."""
        if leg.far_end is not None and leg.alive:
            leg.far_end.hear(cue, value)

    def _far_end_answers(self, b: Leg) -> None:
        self.answer(b)
        for step in b.on_answer:  # e.g. Dial's stream_url: the stream starts with the call
            step()
        b.on_answer.clear()
        # The SDK documents time_limit_secs as the longest an answered leg may last.
        limit = float(b.command.get("time_limit_secs", 14400))
        self.after(b, limit, lambda: self.end(b, "time_limit", "unknown", "unspecified"))
        a = b.parent
        if a is not None and a.alive and a.dialing is b:
            a.dialing = None
            self.bridge(a, b)
        elif b.command.get("bridge_on_answer"):
            self._bridge_linked(b)
            if not b.alive:
                return
        assert b.scenario is not None
        self._plan_amd(b, b.scenario, b.command)
        if b.scenario.hangup_after_secs is not None:
            source = b.scenario.hangup_after_source
            self.after(
                b,
                b.scenario.hangup_after_secs,
                lambda: self.end(b, "normal_clearing", source, "16"),
            )

    def bridge(self, a: Leg, b: Leg) -> None:
        """Join two live legs: ``call.bridged`` for leg B, then for leg A (NOTES §4)."""
        a.apply(LegEvent.BRIDGE)
        b.apply(LegEvent.BRIDGE)
        a.peer, b.peer = b, a
        now = self.clock.now()
        for leg in (b, a):  # a queued call leaves its queue (call.dequeued, reason bridged)
            if leg.activities is not None:
                leg.activities.stop_kinds(ENDS_ON_BRIDGE, EndReason.BRIDGED, now)
        self.emit(b, "call.bridged", webhooks.bridged(b))
        self.emit(a, "call.bridged", webhooks.bridged(a))

    def join(self, first: Leg, second: Leg) -> None:
        """Bridge two live legs, freeing each from what it was doing before:
        ``call.bridged`` for ``first``, then for ``second``."""
        self._free_for_bridge(first, keep=second)
        self._free_for_bridge(second, keep=first)
        self.bridge(second, first)  # bridge(a, b) sends b's call.bridged first

    def _free_for_bridge(self, leg: Leg, *, keep: Leg) -> None:
        """(chosen) A leg joining a new bridge stops what it was doing: a leg it is still
        dialling (pending transfer) is cancelled, and an old peer other than ``keep`` is
        unbridged and then follows its own ``park_after_unbridge`` (stays up if ``self``, else
        is hung up), as when a bridge ends because the other side left."""
        if leg.dialing is not None and leg.dialing.alive:
            self.end(leg.dialing, *APP_CANCEL)
        old = leg.peer
        if old is None or old is keep:
            return
        old.peer = leg.peer = None
        leg.apply(LegEvent.UNBRIDGE)
        self.changed(leg)
        if not old.alive:
            return
        if old.park_after_unbridge == "self":
            old.apply(LegEvent.UNBRIDGE)
            self.changed(old)
        else:
            self.end(old, *APP_HANGUP)

    def _bridge_linked(self, b: Leg) -> None:
        """A Dial with ``bridge_on_answer`` was answered: bridge it with its ``link_to`` call.

        (chosen) If that call has ended or is still ringing, the new call stays up unbridged;
        with ``prevent_double_bridge`` and a linked call bridged elsewhere, the new call is
        hung up (Telnyx: "prevents bridging and hangs up the call").
        """
        link = self.calls.get(str(b.command.get("link_to")))
        if link is None or not allows(link.state, LegEvent.BRIDGE):
            return
        if b.command.get("prevent_double_bridge") and link.peer is not None:
            self.end(b, *APP_HANGUP)
            return
        self.join(b, link)

    # -- primitives the command effects use (emulator/commands/) -------------------------------

    def apply_leg_options(self, leg: Leg, p: dict[str, Any]) -> None:
        """What a command changes for the leg's later webhooks: client_state and routing."""
        if "client_state" in p:
            leg.client_state = p["client_state"]
        routing = leg.routing
        if "webhook_url" in p:
            routing.url = p["webhook_url"]
            routing.method = p.get("webhook_url_method", "POST")
        elif "webhook_url_method" in p:
            routing.method = p["webhook_url_method"]
        if "webhook_urls" in p:
            routing.urls = {k: list(v) for k, v in p["webhook_urls"].items()}
        if "webhook_urls_method" in p:
            routing.urls_method = p["webhook_urls_method"]
        routing.retries_ms.update(retry_policies(p))

    def recall_dial(self, command_id: str) -> Leg | None:
        """The call a Dial with this ``command_id`` placed within the dedup window, if any
        (Dial dedup is per API key: there is no ``call_control_id`` yet)."""
        now = self.clock.now()
        horizon = now - self.config.dedup_window_secs
        while self._dials:
            oldest = next(iter(self._dials))
            if self._dials[oldest][0] > horizon:
                break
            del self._dials[oldest]
        seen = self._dials.get(command_id)
        return self.calls.get(seen[1]) if seen is not None else None

    def remember_dial(self, command_id: str, leg: Leg) -> None:
        self._dials.pop(command_id, None)
        self._dials[command_id] = (self.clock.now(), leg.call_control_id)

    def start_activity(
        self,
        leg: Leg,
        kind: ActivityKind,
        on_end: OnEnd,
        *,
        secs: float | None = None,
        data: dict[str, Any] | None = None,
        hear: Hear | None = None,
    ) -> Activity:
        """Start an activity on a live leg (see :mod:`emulator.activities`).

        Running activities that conflict with it are replaced (they end first, ``replaced``),
        or it is refused with the conflict table's error before anything changes. With
        ``secs`` it ends by itself (``completed``) that many emulated seconds later. ``hear``
        receives what the far end does while it runs (see :mod:`emulator.person`).
        """
        now = self.clock.now()
        activity = Activity(kind, now, on_end, data if data is not None else {}, hear=hear)
        if leg.activities is None:
            leg.activities = Activities()
        leg.activities.admit(activity, now)
        if secs is not None:
            self.plan_activity_end(leg, activity, secs)
        return activity

    def finish_activity(self, leg: Leg, activity: Activity) -> None:
        """End a running activity as done (``completed``) now, before any planned end: a
        gather that got its digits."""
        if leg.activities is not None:
            leg.activities.finish(activity, self.clock.now())

    def plan_activity_end(self, leg: Leg, activity: Activity, secs: float | None) -> None:
        """(Re)plan when a running activity ends by itself (``completed``), ``secs`` emulated
        seconds from now; None drops the planned end (a paused recording's ``max_length``)."""
        if activity.planned_end is not None:
            activity.planned_end.cancel()
            activity.planned_end = None
        running = leg.activities
        if secs is None or running is None or not activity.running:
            return
        activity.planned_end = self.after(
            leg, secs, lambda: running.finish(activity, self.clock.now())
        )

    def stop_activity(
        self, leg: Leg, kind: ActivityKind, reason: EndReason = EndReason.STOPPED
    ) -> Activity | None:
        """End the leg's newest running activity of ``kind`` (None if there is none)."""
        if leg.activities is None:
            return None
        return leg.activities.stop(kind, reason, self.clock.now())

    # -- answering machine detection ------------------------------------------------------------

    def _plan_amd(self, b: Leg, scenario: Scenario, p: dict[str, Any]) -> None:
        mode = p.get("answering_machine_detection", "disabled")
        if mode not in STANDARD_AMD and mode not in PREMIUM_AMD:
            return
        cfg = p.get("answering_machine_detection_config") or {}
        amd = scenario.amd
        total = cfg.get("total_analysis_time_millis", 3500) / 1000.0
        timed_out = amd.detection_secs > total
        detect_at = min(amd.detection_secs, total)
        result = "not_sure" if timed_out else amd.result
        machine = result == "machine"

        greeting = amd.greeting if machine else None
        greeting_at = max(detect_at, amd.greeting_secs)
        if greeting is not None and mode in STANDARD_AMD:
            cap = detect_at + cfg.get("greeting_total_analysis_time_millis", 5000) / 1000.0
            if greeting_at > cap:
                greeting, greeting_at = "not_sure", cap

        def report(event_type: str, value: str) -> Callable[[], None]:
            def step() -> None:
                self.emit(b, event_type, webhooks.machine_result(b, value))
                if value == "machine" and b.activities is not None:
                    # (chosen) A machine answered: what plays to it, and a gather for its
                    # digits, stop with status cancelled_amd (activities.ENDS_ON_MACHINE).
                    b.activities.stop_kinds(ENDS_ON_MACHINE, EndReason.AMD, self.clock.now())

            return step

        if mode in STANDARD_AMD:
            self.after(b, detect_at, report("call.machine.detection.ended", result))
            if greeting is not None and (
                mode in ("greeting_end", "detect_words")
                or (mode == "detect_beep" and greeting == "beep_detected")
            ):
                self.after(b, greeting_at, report("call.machine.greeting.ended", greeting))
            return

        premium = "not_sure" if timed_out else (amd.premium_result or PREMIUM_RESULT[result])
        if mode == "premium_ios_call_screening_detection" and amd.call_screening:
            self.after(
                b, detect_at, report("call.machine.premium.call_screening.detected", "screening")
            )
        self.after(b, detect_at, report("call.machine.premium.detection.ended", premium))
        if premium == "machine" and amd.greeting == "beep_detected":
            self.after(
                b, greeting_at, report("call.machine.premium.greeting.ended", "beep_detected")
            )

    # -- ending legs ----------------------------------------------------------------------------

    def end(self, leg: Leg, cause: str, source: str, sip: str) -> None:
        """Hang a leg up, and what hangs up with it: a leg it was dialling, its bridged peer."""
        if not leg.alive:
            return
        leg.cancel_timers()
        leg.command = {}  # nothing reads it once the leg has ended; free it now
        peer = leg.peer
        leg.apply(LegEvent.HANGUP)
        leg.ended_at = self.clock.now()
        leg.hangup_cause, leg.hangup_source, leg.sip_hangup_cause = cause, source, sip
        leg.peer = None
        self.calls.ended(leg)
        leg.far_end = None
        if leg.parent is not None and leg.parent.dialing is leg:
            leg.parent.dialing = None
        if leg.activities is not None:  # their ending webhooks come before call.hangup
            leg.activities.stop_all(EndReason.CALL_ENDED, self.clock.now())
        self.emit(leg, "call.hangup", webhooks.hangup(leg))
        if leg.dialing is not None and leg.dialing.alive:
            self.end(leg.dialing, "originator_cancel", "caller", "487")
        if peer is not None and peer.alive:
            peer.peer = None
            if peer.park_after_unbridge == "self":
                peer.apply(LegEvent.UNBRIDGE)
                self.changed(peer)
            else:
                self.end(peer, cause, source, sip)

    # -- plumbing -------------------------------------------------------------------------------

    def after(
        self, leg: Leg, secs: float, step: Callable[[], None], *, outlives_leg: bool = False
    ) -> Entry:
        """Plan a step for a leg ``secs`` emulated seconds from now (scaled by the time scale);
        it is dropped if the leg has ended by then, unless ``outlives_leg`` (what Telnyx sends
        after the hang-up: a recording's transcription). Cancel the returned entry to drop it."""

        def guarded() -> None:
            if leg.alive or outlives_leg:
                step()

        def failed(exc: Exception) -> None:
            """The step raised (a bug): visible on the call in ``GET /_emulator/calls`` and in
            the log with its traceback; the timeline goes on with every other step."""
            message = f"{type(exc).__name__}: {exc}"
            leg.record_error(f"a timed step failed: {message}")
            log.error(
                "call %s: a timed step failed: %s",
                leg.call_control_id,
                message,
                exc_info=exc,
                extra={
                    "event": "step_failed",
                    "call_control_id": leg.call_control_id,
                    "error": message,
                },
            )

        scale = self.config.time_scale
        # At scale 0 everything is due at once; the emulated time keeps the order.
        when = 0.0 if scale == 0 else self.clock.now() + secs * scale
        emulated = self.timeline.emulated_now + secs
        entry = self.timeline.at(when, guarded, emulated=emulated, on_error=failed)
        if not outlives_leg:
            leg.timers.append(entry)
        return entry

    def emit(self, leg: Leg, event_type: str, payload: dict[str, Any]) -> None:
        now = self.clock.now()
        data = webhooks.envelope_data(event_type, self.ids.event_id(), now, payload)
        retries = leg.routing.retries_ms.get(event_type)
        delays = (
            tuple(ms / 1000.0 for ms in retries)
            if retries is not None
            else self.config.retry_delays
        )
        scenario_policy = leg.scenario.delivery if leg.scenario is not None else None
        policy = scenario_policy or self.faults.delivery
        data_json = dumps(data)
        # Precedence (NOTES §5): the event's webhook_urls, else the call's webhook_url (set by
        # a command), else its connection's webhook_event_url; the failover URL and the attempt
        # timeout are the connection's unless the call has its own failover URL.
        connection = self.connections.reporting_to(leg.connection_id)
        failover_url = leg.routing.failover_url
        timeout_secs = None
        if connection is not None:
            failover_url = failover_url or connection.failover_url
            timeout_secs = connection.timeout_secs
        events = self.events
        if events.on and event_type in STATE_EVENTS:
            self.changed(leg)
        for url, method in leg.routing.targets(event_type):
            if url is None and connection is not None:
                url, method = connection.url, "POST"
            record = WebhookRecord(
                id=data["id"],
                tenant=self.tenant,
                event_type=event_type,
                call_control_id=leg.call_control_id,
                call_session_id=leg.call_session_id,
                url=url,
                method=method,
                data_json=data_json,
                created_at=now,
                failover_url=failover_url,
                retry_delays=delays,
                policy=policy,
                timeout_secs=timeout_secs,
            )
            self.webhooks.append(record)
            self.outbox.put(record, now)
            if events.on:
                events.record(
                    "webhook",
                    self.tenant_id,
                    record.to_json(),
                    call_control_id=leg.call_control_id,
                    call_session_id=leg.call_session_id,
                )

    def check_capacity(self) -> None:
        if self.calls.live_count() >= self.config.max_live_calls:
            raise errors.too_many_requests(
                f"The emulator holds {self.config.max_live_calls} live calls for this API key "
                "(--max-live-calls); hang some up or reset.",
            )

    def reset(self) -> None:
        for leg in self.calls:
            leg.cancel_timers()
        self.calls = CallStore(self.config.retention_secs)
        self.dedup = Deduplicator(self.config.dedup_window_secs)
        self._dials.clear()
        self.recordings = RecordingStore()
        self.recording_transcriptions = RecordingTranscriptionStore()
        self.queues = QueueStore()
        self.commands.clear()
        self.webhooks.clear()
        self.outbox.drop_tenant(self.tenant)
        self.streams.drop_tenant(self.tenant)
        if self.events.on:
            self.events.record("reset", self.tenant_id, {})


def _command_id(body: Any) -> str | None:
    command_id = body.get("command_id") if isinstance(body, dict) else None
    return command_id if isinstance(command_id, str) else None


def first_destination(to: str | list[str]) -> str:
    """The destination a Dial rings: the first of a list, without a ``,<DTMF digits>`` suffix."""
    first = to[0] if isinstance(to, list) else to
    return first.split(",", 1)[0] if first.startswith("+") else first


def retry_policies(p: dict[str, Any]) -> dict[str, list[int]]:
    policies = p.get("webhook_retries_policies") or {}
    return {
        event: list(policy.get("retries_ms") or [])
        for event, policy in policies.items()
        if isinstance(policy, dict)
    }
