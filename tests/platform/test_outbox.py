"""The durable outbox: commit before the network, survive crashes, never two contents per id,
versions in order, exponential backoff with jitter."""
from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from labauto.platform.outbox import Backoff, Outbox, OutboxConflict, OutboxError, dcc_identity


class FakeClock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_enqueue_is_committed_durably_and_survives_reopening(tmp_path, make_dcc):
    path = tmp_path / "sub" / "outbox.sqlite3"          # folder created on first use
    dcc = make_dcc("CAL-0001")
    box = Outbox(path)
    entry = box.enqueue(dcc, pdf=b"%PDF-1.7 x", json=b'{"a": 1}')
    assert (entry.certificate_id, entry.state, entry.attempts) == ("CAL-0001", "pending", 0)
    assert entry.sha256 == hashlib.sha256(dcc).hexdigest()
    assert (entry.has_pdf, entry.has_json, entry.replaces) == (True, True, None)
    # WAL journal, fsync on every commit
    assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2          # FULL
    box.close()

    # another connection (another process would do the same) sees the committed row
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT certificate_id, state FROM entries").fetchall() == [("CAL-0001", "pending")]
    raw.close()

    again = Outbox(path)
    assert again.get("CAL-0001") == entry
    assert again.payload(entry) == (dcc, b"%PDF-1.7 x", b'{"a": 1}')
    assert again.pending() == [entry] and again.counts() == {"pending": 1, "acknowledged": 0, "rejected": 0}


def test_enqueued_entries_survive_sigkill_of_the_writer(tmp_path, make_dcc):
    """A child enqueues DCCs and reports each commit; it is SIGKILLed mid-stream.  Every
    reported entry is there afterwards, and the file is intact."""
    path = tmp_path / "outbox.sqlite3"
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(200):
        (docs / f"{i:03d}.xml").write_bytes(make_dcc(f"CRASH-{i:03d}"))
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, pathlib
        from labauto.platform.outbox import Outbox
        box = Outbox({str(path)!r})
        for f in sorted(pathlib.Path({str(docs)!r}).glob('*.xml')):
            e = box.enqueue(f.read_bytes())
            print(e.certificate_id, e.sha256, flush=True)
        import time; time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    reported = []
    for line in child.stdout:
        reported.append(tuple(line.split()))
        if len(reported) == 25:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert child.returncode == -signal.SIGKILL

    box = Outbox(path)
    assert box._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {(e.certificate_id, e.sha256) for e in box.entries()}
    assert set(reported) <= stored                      # every acknowledged enqueue is durable
    assert all(e.state == "pending" for e in box.entries())
    for cid, sha in reported:
        assert hashlib.sha256(box.payload(box.get(cid))[0]).hexdigest() == sha


def test_reenqueueing_the_identical_document_is_a_no_op(tmp_path, make_dcc):
    box = Outbox(tmp_path / "o.sqlite3")
    dcc = make_dcc("CAL-1")
    first = box.enqueue(dcc, pdf=b"%PDF-1 a")
    assert box.enqueue(dcc) == first
    assert box.enqueue(dcc, pdf=b"%PDF-1 other") == first           # attachments of the first kept
    assert box.payload(first)[1] == b"%PDF-1 a"
    box.mark_acknowledged(first.seq, created=True, status="valid", version=1)
    again = box.enqueue(dcc)
    assert (again.seq, again.state) == (first.seq, "acknowledged")
    assert len(box.entries()) == 1


def test_a_different_document_under_a_queued_id_is_refused(tmp_path, make_dcc):
    box = Outbox(tmp_path / "o.sqlite3")
    first = box.enqueue(make_dcc("CAL-2", serial="SN-1"))
    with pytest.raises(OutboxConflict) as err:
        box.enqueue(make_dcc("CAL-2", serial="SN-2"))
    msg = str(err.value)
    assert "CAL-2" in msg and first.sha256 in msg and "replacedUniqueIdentifier" in msg
    # still refused once delivered, and when the amendment names another certificate
    box.mark_acknowledged(first.seq, created=True)
    with pytest.raises(OutboxConflict):
        box.enqueue(make_dcc("CAL-2", serial="SN-2", amends="CAL-9"))
    assert [e.sha256 for e in box.entries()] == [first.sha256]


def test_an_amendment_is_accepted_and_waits_for_the_version_it_replaces(tmp_path, make_dcc):
    clock = FakeClock()
    box = Outbox(tmp_path / "o.sqlite3", clock=clock, backoff=Backoff(base_s=10, jitter=0))
    original = box.enqueue(make_dcc("CAL-3"))
    other = box.enqueue(make_dcc("CAL-4"))
    amended = box.enqueue(make_dcc("CAL-3", serial="SN-9", amends="CAL-3", type_of_change="amended"))
    renamed = box.enqueue(make_dcc("CAL-3b", amends="CAL-3", type_of_change="substituted"))
    assert (amended.certificate_id, amended.replaces, amended.type_of_change) == ("CAL-3", "CAL-3", "amended")
    assert amended.is_amendment and renamed.replaces == "CAL-3"
    assert box.get("CAL-3") == amended                      # the newest version of the id

    assert box.next_due() == original
    box.mark_failed(original.seq, "platform down")          # original retries at t+10 s
    # the amendment and the substitute wait behind it; the unrelated certificate does not
    assert box.next_due() == other
    box.mark_acknowledged(other.seq, created=True)
    assert box.next_due() is None
    assert box.next_wakeup() == pytest.approx(clock.t + 10)
    clock.t += 10
    assert box.next_due().seq == original.seq
    box.mark_acknowledged(original.seq, created=True)
    assert box.next_due() == amended
    box.mark_acknowledged(amended.seq, created=True)
    assert box.next_due() == renamed


@pytest.mark.parametrize("doc, words", [
    (b"not xml at all", "not well-formed"),
    (b"<a/>", "not a DCC"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><x/>', "DOCTYPE"),
])
def test_documents_that_are_not_dccs_are_refused(tmp_path, doc, words):
    box = Outbox(tmp_path / "o.sqlite3")
    with pytest.raises(OutboxError, match=words):
        box.enqueue(doc)
    assert box.entries() == []


def test_a_dcc_without_id_is_refused(tmp_path, make_dcc):
    dcc = make_dcc("ID-PLACEHOLDER").replace(b"ID-PLACEHOLDER", b"  ")
    with pytest.raises(OutboxError, match="uniqueIdentifier"):
        Outbox(tmp_path / "o.sqlite3").enqueue(dcc)
    assert dcc_identity(make_dcc(" X-1 ")).certificate_id == "X-1"


def test_backoff_schedule_is_exponential_capped_and_jittered():
    b = Backoff(base_s=1.0, factor=2.0, cap_s=10.0, jitter=0.0)
    assert [b.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 10, 10, 10]
    assert b.delay(10**9) == 10                              # no overflow after many failures
    j = Backoff(base_s=1.0, factor=2.0, cap_s=10.0, jitter=0.5)
    rng = random.Random(42)
    delays = [j.delay(4, rng) for _ in range(500)]
    assert min(delays) >= 4.0 and max(delays) <= 8.0         # ceiling 8, scaled into [0.5, 1]
    assert max(delays) - min(delays) > 3.5                   # actually spread, not constant
    for bad in (dict(base_s=0), dict(factor=0.5), dict(cap_s=0.5), dict(jitter=1.0)):
        with pytest.raises(ValueError):
            Backoff(**bad)


def test_failed_attempts_are_counted_and_scheduled(tmp_path, make_dcc):
    clock = FakeClock(5000.0)
    box = Outbox(tmp_path / "o.sqlite3", clock=clock, backoff=Backoff(base_s=2, cap_s=20, jitter=0))
    e = box.enqueue(make_dcc("CAL-5"))
    schedule = []
    for n in range(1, 6):
        e = box.mark_failed(e.seq, f"refused {n}")
        schedule.append(e.next_attempt_at - clock.t)
        assert (e.attempts, e.last_error, e.state) == (n, f"refused {n}", "pending")
    assert schedule == [2, 4, 8, 16, 20]
    e = box.mark_failed(e.seq, "503", not_before=clock.t + 100)    # the server's Retry-After wins
    assert e.next_attempt_at == clock.t + 100 and e.attempts == 6
    e = box.mark_failed(e.seq, "bad token", count=False)            # recorded, not counted
    assert (e.attempts, e.last_error, e.next_attempt_at) == (6, "bad token", clock.t + 100)
    assert box.retry_now() == 1 and box.next_due() == box.entry(e.seq)


def test_rejected_entries_are_kept_and_can_be_requeued(tmp_path, make_dcc):
    clock = FakeClock()
    box = Outbox(tmp_path / "o.sqlite3", clock=clock)
    e = box.enqueue(make_dcc("CAL-6"))
    r = box.mark_rejected(e.seq, "the DCC is not signed", http_status=422, stage="signature")
    assert (r.state, r.last_error, r.http_status, r.rejected_stage, r.rejected_at) == (
        "rejected", "the DCC is not signed", 422, "signature", clock.t)
    assert box.pending() == [] and box.entries("rejected") == [r]
    assert box.mark_acknowledged(e.seq, created=True).state == "rejected"   # only pending changes
    with pytest.raises(OutboxError, match="unknown outbox state"):
        box.entries("lost")
    q = box.requeue(e.seq)
    assert (q.state, q.attempts, q.next_attempt_at) == ("pending", 1, None)
    assert box.next_due() == q


def test_one_publisher_at_a_time(tmp_path):
    a, b = Outbox(tmp_path / "o.sqlite3"), Outbox(tmp_path / "o.sqlite3")
    with a.drain_lock() as got_a:
        assert got_a
        with b.drain_lock(timeout_s=0.1) as got_b:
            assert not got_b
        assert b.drain_lock_holder() == str(os.getpid())
    with b.drain_lock() as got_b:
        assert got_b


def test_a_newer_outbox_format_is_refused(tmp_path):
    path = tmp_path / "o.sqlite3"
    Outbox(path).close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version=99")
    raw.close()
    with pytest.raises(OutboxError, match="newer labauto"):
        Outbox(path)
