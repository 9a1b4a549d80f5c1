"""Traceability on the platform: the chain from a certificate up to its roots, and the reverse
"which certificates depend on X" (recall impact).

A link is a DCC ``measuringEquipment/certificate`` naming the reference standard's certificate
(``referralID``), optionally with the SHA-256 of the exact document used (``procedure`` SHA-256,
``value``).  Links are stored as declared and resolved at query time, so a link naming a
certificate not yet on the platform is *dangling* until that certificate arrives.
"""
from __future__ import annotations

from collections import deque
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labauto.platform.server.models import CertificateRecord, TraceLink
from labauto.platform.server.service import _iso, current, get_current


def _node(row: CertificateRecord) -> dict[str, Any]:
    return {"certificate_id": row.certificate_id, "sha256": row.sha256, "status": row.status,
            "lab": row.lab.name, "accreditation_id": row.lab.accreditation_id,
            "revocation_reason": row.revocation_reason,
            "superseded_by": row.superseded_by.certificate_id if row.superseded_by else None,
            "item": {"manufacturer": row.item_manufacturer, "model": row.item_model,
                     "serial": row.item_serial},
            "end_performance": _iso(row.end_date), "dangling": False}


def _resolve(session: Session, link: TraceLink) -> tuple[CertificateRecord | None, bool | None]:
    """The stored document a link names: the exact version by declared SHA-256 if stored,
    else the current version of the id (hash mismatch), else None (dangling)."""
    if link.procedure.upper().replace("_", "-") in ("SHA-256", "SHA256") and len(link.declared_hash) == 64:
        exact = session.scalar(select(CertificateRecord).where(
            CertificateRecord.sha256 == link.declared_hash,
            CertificateRecord.certificate_id == link.referral_id))
        if exact is not None:
            return exact, True
    row = current(session, link.referral_id)
    return row, (None if row is None else False)


def chain(session: Session, certificate_id: str, *, max_nodes: int = 10_000) -> dict[str, Any]:
    """The traceability graph from a certificate up to its roots (breadth first).

    ``complete`` is false while some referenced certificate is not on the platform;
    ``all_valid`` is true only if every node is valid and every declared hash matches.
    """
    start = get_current(session, certificate_id)
    nodes: dict[int, dict[str, Any]] = {start.id: _node(start)}
    edges, dangling, roots = [], [], []
    queue: deque[CertificateRecord] = deque([start])
    while queue and len(nodes) < max_nodes:
        row = queue.popleft()
        links = session.scalars(select(TraceLink).where(TraceLink.certificate_row_id == row.id)
                                .order_by(TraceLink.id)).all()
        if not links:
            roots.append(row.certificate_id)
        for link in links:
            target, match = _resolve(session, link)
            edges.append({"from": row.certificate_id, "from_sha256": row.sha256, "to": link.referral_id,
                          "declared_hash": link.declared_hash, "procedure": link.procedure,
                          "resolved_sha256": target.sha256 if target else None, "hash_match": match})
            if target is None:
                if link.referral_id not in dangling:
                    dangling.append(link.referral_id)
            elif target.id not in nodes:
                nodes[target.id] = _node(target)
                queue.append(target)
    return {"certificate_id": start.certificate_id, "sha256": start.sha256, "status": start.status,
            "nodes": list(nodes.values()), "edges": edges, "roots": roots, "dangling": dangling,
            "complete": not dangling,
            "all_valid": all(n["status"] == "valid" for n in nodes.values())
            and all(e["hash_match"] for e in edges) and not dangling}


def dependents(session: Session, certificate_id: str, *, max_nodes: int = 100_000) -> dict[str, Any]:
    """Every stored certificate that depends on ``certificate_id``, directly or transitively
    (recall impact), with its depth and the certificate it depends through."""
    start = get_current(session, certificate_id)
    seen: set[int] = set()
    out: list[dict[str, Any]] = []
    queue: deque[tuple[str, int]] = deque([(start.certificate_id, 0)])
    visited_ids = {start.certificate_id}
    while queue and len(out) < max_nodes:
        cid, depth = queue.popleft()
        rows = session.scalars(select(CertificateRecord).join(
            TraceLink, TraceLink.certificate_row_id == CertificateRecord.id)
            .where(TraceLink.referral_id == cid).order_by(CertificateRecord.id)).all()
        for row in rows:
            if row.id in seen:
                continue
            seen.add(row.id)
            node = _node(row)
            node.update(depth=depth + 1, via=cid)
            out.append(node)
            if row.certificate_id not in visited_ids:
                visited_ids.add(row.certificate_id)
                queue.append((row.certificate_id, depth + 1))
    return {"certificate_id": start.certificate_id, "status": start.status,
            "count": len(out), "dependents": out}
