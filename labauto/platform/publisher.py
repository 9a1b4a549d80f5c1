"""Deliver the outbox to the platform: :func:`drain`.

The loop, until nothing is pending or the deadline passes:

1. take the pending entry due longest (since its enqueue or its retry time; no earlier version
   of the same certificate still pending);
2. publish it; on success the client has already read the record back by hash and checked it
   equals our SHA-256 — only then is the entry marked ``acknowledged``;
3. a transient failure (platform down, timeout, 5xx) counts an attempt and schedules the entry
   after an exponential backoff with jitter; the drain itself then pauses before its next
   request by the same backoff over its run of consecutive failures (at least any Retry-After
   the platform sent), so an outage costs one probe per pause, not one request per entry;
4. a permanent rejection (4xx about the document) marks the entry ``rejected`` with the
   platform's reason — it is kept, and the drain goes on with the others;
5. a configuration error (bad token, wrong URL) stops the drain at once: the documents are not
   at fault, so nothing is marked rejected.

Crash safety comes from the order of effects: the entry is committed before the request, and
marked acknowledged only after the platform's answer.  A crash in between leaves it pending; the
resend is answered "already present" (the platform is idempotent by content) and counted in
``already_present``.  An OS file lock lets one drain at a time work on an outbox.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from labauto.platform.client import (PlatformClient, PlatformConfigurationError, PlatformError,
                                     PlatformRejected, PlatformUnavailable)
from labauto.platform.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass
class DrainReport:
    """What one drain did.  Counts are of entries, except ``retries`` (failed attempts)."""

    acknowledged: int = 0        # stored on the platform by this drain (HTTP 201)
    already_present: int = 0     # the platform already had the identical document (HTTP 200)
    rejected: int = 0            # refused for good by the platform during this drain
    remaining: int = 0           # still pending afterwards
    retries: int = 0             # transient failures, each followed by a backoff
    elapsed_s: float = 0.0
    stopped: str | None = None   # why the drain ended with entries pending (deadline, config, busy)
    configuration_error: bool = False   # stopped by a bad token / URL: fix it, nothing was rejected
    rejections: list[tuple[str, str]] = field(default_factory=list)   # (certificate id, reason)
    last_error: str | None = None

    @property
    def delivered(self) -> int:
        return self.acknowledged + self.already_present

    @property
    def ok(self) -> bool:
        """Everything is on the platform and nothing was rejected."""
        return self.remaining == 0 and self.rejected == 0 and self.stopped is None

    def __str__(self) -> str:
        text = (f"{self.acknowledged} acknowledged, {self.already_present} already present, "
                f"{self.rejected} rejected, {self.remaining} remaining")
        extra = []
        if self.retries:
            extra.append(f"{self.retries} transient failure(s) retried")
        if self.stopped:
            extra.append(f"stopped: {self.stopped}")
        if self.remaining and self.last_error and self.last_error != self.stopped:
            extra.append(f"last error: {self.last_error}")
        extra.append(f"{self.elapsed_s:.1f} s")
        return f"{text} ({'; '.join(extra)})"


def drain(outbox: Outbox, client: PlatformClient, *, deadline_s: float = 30.0,
          sleep: Callable[[float], None] = time.sleep,
          on_result: Callable[[str, object], None] | None = None) -> DrainReport:
    """Send due entries in order until none is pending or ``deadline_s`` (seconds, on the
    outbox's clock) has passed; no new attempt starts after the deadline.

    ``sleep`` is injectable (tests pass one that advances a fake clock); ``on_result(outcome,
    entry)`` is called after each attempt with outcome ``acknowledged``, ``already_present``,
    ``rejected`` or ``retry``.
    """
    clock = outbox.clock
    start = clock()
    end = start + deadline_s
    report = DrainReport()
    with outbox.drain_lock(timeout_s=max(0.0, deadline_s)) as locked:
        if not locked:
            report.stopped = (f"another publisher (pid {outbox.drain_lock_holder() or '?'}) is "
                              f"draining {outbox.path}")
        else:
            report.stopped = _run(outbox, client, end, sleep, report, on_result)
    report.remaining = outbox.counts()["pending"]
    report.elapsed_s = clock() - start
    log.info("outbox drain: %s", report)
    return report


def _run(outbox: Outbox, client: PlatformClient, end: float, sleep: Callable[[float], None],
         report: DrainReport, on_result: Callable[[str, object], None] | None) -> str | None:
    """The delivery loop; returns why it stopped with entries pending (None: nothing pending)."""
    clock = outbox.clock
    streak, pause_until = 0, 0.0        # consecutive transient failures; no request before pause_until
    while True:
        now = clock()
        if now > end:
            return "deadline reached"
        if pause_until > now:
            if pause_until > end:
                return f"deadline reached (next attempt due in {pause_until - now:.1f} s)"
            sleep(pause_until - now)
            continue
        entry = outbox.next_due(now)
        if entry is None:
            wake = outbox.next_wakeup()
            if wake is None:
                return None
            if wake > end:
                return f"deadline reached (next attempt due in {wake - now:.1f} s)"
            sleep(max(0.0, wake - now))
            continue
        dcc, pdf, js = outbox.payload(entry)
        try:
            record = client.publish(dcc, pdf=pdf, json=js)
        except PlatformConfigurationError as exc:
            outbox.mark_failed(entry.seq, str(exc), count=False)
            report.last_error = str(exc)
            report.configuration_error = True
            log.error("outbox: %s", exc)
            return str(exc)
        except PlatformRejected as exc:
            done = outbox.mark_rejected(entry.seq, exc.reason, http_status=exc.status_code, stage=exc.stage)
            report.rejected += 1
            report.rejections.append((entry.certificate_id, exc.reason))
            log.warning("outbox: %s rejected by the platform: %s", entry.certificate_id, exc.reason)
            outcome = "rejected"
            streak = 0
        except PlatformError as exc:
            # PlatformUnavailable (transient), or PlatformMismatch (an acknowledgement whose hash
            # did not check out): keep it pending, back off; a resend is safe (idempotent by content)
            not_before = (clock() + exc.retry_after_s
                          if isinstance(exc, PlatformUnavailable) and exc.retry_after_s else None)
            done = outbox.mark_failed(entry.seq, str(exc), not_before=not_before)
            streak += 1
            pause_until = max(clock() + outbox.backoff.delay(streak, outbox.rng), not_before or 0.0)
            report.retries += 1
            report.last_error = str(exc)
            log.info("outbox: %s not delivered (attempt %d, next in %.1f s): %s", entry.certificate_id,
                     done.attempts, (done.next_attempt_at or clock()) - clock(), exc)
            outcome = "retry"
        else:
            created = bool(record.get("created"))
            done = outbox.mark_acknowledged(entry.seq, created=created, status=record.get("status"),
                                            version=record.get("version"))
            if created:
                report.acknowledged += 1
            else:
                report.already_present += 1
            outcome = "acknowledged" if created else "already_present"
            streak = 0
        if on_result is not None:
            on_result(outcome, done)
