"""Publishing glue between issuing and the NQI platform client: enqueue durably, then drain.

``enqueue_issued`` runs as part of issuing (before any network call); ``publish_issued`` tries
to deliver now when a platform is configured (LABAUTO_PLATFORM_URL + LABAUTO_PLATFORM_TOKEN)
and otherwise leaves the certificate queued for ``labauto publish drain``.  Whatever happens on
the network, the certificate stays in the outbox until the platform has acknowledged it and
the stored hash was checked (``labauto.platform.publisher.drain``).
"""
from __future__ import annotations

import os
from typing import Any

from labauto.config import outbox_path
from labauto.platform.client import PlatformClient, PlatformError
from labauto.platform.outbox import Outbox
from labauto.platform.publisher import drain


def _files(issued: Any) -> tuple[bytes, bytes | None, bytes | None]:
    f = issued.files
    return (f["xml"].read_bytes(), f["pdf"].read_bytes() if "pdf" in f else None,
            f["json"].read_bytes() if "json" in f else None)


def enqueue_issued(issued: Any) -> str:
    dcc, pdf, js = _files(issued)
    box = Outbox(outbox_path())
    try:
        return str(box.enqueue(dcc, pdf=pdf, json=js).state)
    finally:
        box.close()


def not_requested(issued: Any) -> dict[str, Any]:
    """The publication state of a certificate issued with publication not requested: it is not
    in the outbox, so no later ``labauto publish drain`` sends it."""
    return {"state": "not requested",
            "detail": f"— not queued; `labauto publish add {issued.files['xml']}` queues it"}


DEFAULT_DEADLINE_S = 30.0


def publish_issued(issued: Any, *, deadline_s: float | None = None) -> dict[str, Any]:
    """Deliver the outbox now if a platform is configured; report this certificate's state as
    the outbox records it (acknowledged = stored by the platform with the same SHA-256).
    ``deadline_s``: how long to keep trying an unreachable platform before leaving the
    certificate queued (default LABAUTO_PUBLISH_DEADLINE_S, else 30 s)."""
    if deadline_s is None:
        deadline_s = float(os.environ.get("LABAUTO_PUBLISH_DEADLINE_S") or DEFAULT_DEADLINE_S)
    url, token = os.environ.get("LABAUTO_PLATFORM_URL"), os.environ.get("LABAUTO_PLATFORM_TOKEN")
    path = outbox_path()
    if not url or not token:
        return {"state": "queued", "detail": f"in the outbox {path}; no platform configured "
                "(LABAUTO_PLATFORM_URL/LABAUTO_PLATFORM_TOKEN) — `labauto publish drain` delivers it"}
    box = Outbox(path)
    try:
        report: Any = None
        try:
            with PlatformClient(url, token) as client:
                report = drain(box, client, deadline_s=deadline_s)
        except PlatformError as exc:        # e.g. a configuration error: nothing is lost
            report = exc
        entry = box.get(issued.certificate_id)
    finally:
        box.close()
    if entry is not None and entry.state == "acknowledged" and entry.sha256 == issued.dcc_sha256:
        return {"state": "published",
                "detail": f"platform status {entry.platform_status}, sha256 verified",
                "platform_status": entry.platform_status}
    if entry is not None and entry.state == "rejected":
        return {"state": "rejected", "detail": f"the platform refused it: {entry.last_error}; it "
                f"stays in the outbox {path} (`labauto publish status`)"}
    return {"state": "queued", "detail": f"not yet acknowledged ({report}); it stays in the "
            f"outbox {path} — `labauto publish drain` delivers it"}
