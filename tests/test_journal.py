"""What the engine keeps after the fact is stored encoded, and reads back unchanged."""

from __future__ import annotations

import gc
import json

from emulator.delivery import dumps
from emulator.journal import Journal

from .harness import Harness


def test_journal_is_bounded_and_reads_back_copies() -> None:
    journal = Journal(limit=3)
    for n in range(5):
        journal.append({"id": n, "body": {"to": ["+1", "+2"]}, "errors": []})
    assert len(journal) == 3 and [e["id"] for e in journal] == [2, 3, 4]
    first = journal[0]
    first["body"]["to"].append("+3")  # a reader's copy: the journal does not change
    assert journal[0]["body"] == {"to": ["+1", "+2"]}
    journal.amend({"id": 3, "fault": "timeout"})
    assert [e.get("fault") for e in journal] == [None, "timeout", None]
    journal.clear()
    assert list(journal) == []


def test_webhook_bodies_are_encoded_once_and_sent_byte_for_byte() -> None:
    h = Harness()
    a = h.inbound(webhook_url="http://127.0.0.1:9/hook")
    h.transfer(a, to="+13125550106")
    h.run(60)
    assert h.sent
    for sent in h.sent:
        record = sent.attempt.record
        body = json.loads(sent.attempt.content)
        # What went out is exactly the one-shot encoding of {"data", "meta"}...
        assert sent.attempt.content == dumps({"data": body["data"], "meta": body["meta"]})
        assert body["data"] == record.data and body["data"]["event_type"] == record.event_type
        # ...and the journal keeps the data as bytes, which the cyclic GC does not track.
        assert isinstance(record.data_json, bytes)
    engine = h.api.tenant("KEY")
    gc.collect()
    assert not any(gc.is_tracked(raw) for raw in engine.commands._entries)
    assert [c["command"] for c in engine.commands] == ["transfer"]


def test_stored_json_takes_its_own_size_not_the_encoders_buffer() -> None:
    """orjson returns its whole working buffer (4 kB for a 600-byte body); journals keep
    thousands of encodings, so each must be an exact-size copy."""
    import tracemalloc

    value = {"data": {"payload": {f"field_{n}": "x" * 20 for n in range(20)}}}
    tracemalloc.start()
    try:
        kept = [dumps(value) for _ in range(100)]
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(kept[0]) > 500
    assert used / len(kept) < len(kept[0]) + 200
