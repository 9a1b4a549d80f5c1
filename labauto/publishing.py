"""Publishing glue between issuing and the NQI platform client: enqueue durably, then drain.

``enqueue_issued`` runs as part of issuing (before any network call); ``publish_issued`` tries
to deliver now when a platform is configured (LABAUTO_PLATFORM_URL + LABAUTO_PLATFORM_TOKEN)
and otherwise leaves the certificate queued for ``labauto publish drain``.
"""
from __future__ import annotations

import os
from typing import Any

from labauto.config import outbox_path
from labauto.platform.client import PlatformClient
from labauto.platform.outbox import Outbox
from labauto.platform.publisher import drain


def _files(issued: Any) -> tuple[bytes, bytes | None, bytes | None]:
    f = issued.files
    return (f["xml"].read_bytes(), f["pdf"].read_bytes() if "pdf" in f else None,
            f["json"].read_bytes() if "json" in f else None)


def enqueue_issued(issued: Any) -> str:
    dcc, pdf, js = _files(issued)
    entry = Outbox(outbox_path()).enqueue(dcc, pdf=pdf, json=js)
    return str(entry.state)


def publish_issued(issued: Any, *, deadline_s: float = 30.0) -> dict[str, Any]:
    url, token = os.environ.get("LABAUTO_PLATFORM_URL"), os.environ.get("LABAUTO_PLATFORM_TOKEN")
    box = outbox_path()
    if not url or not token:
        return {"state": "queued", "detail": f"in the outbox {box}; no platform configured "
                "(LABAUTO_PLATFORM_URL/LABAUTO_PLATFORM_TOKEN) — `labauto publish drain` delivers it"}
    with PlatformClient(url, token) as client:
        report = drain(Outbox(box), client, deadline_s=deadline_s)
        record = client.get_certificate(issued.certificate_id) if report.acknowledged or report.already_present else None
    state = "published" if record and record.get("sha256") == issued.dcc_sha256 else "queued"
    detail = (f"platform status {record.get('status')}, sha256 verified" if state == "published"
              else f"not yet acknowledged ({report}); it stays in the outbox {box}")
    return {"state": state, "detail": detail, "record": record or {}}
