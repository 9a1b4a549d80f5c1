"""The public verification page people reach from the QR code on a certificate's PDF."""
from __future__ import annotations

from html import escape
from typing import Any

_COLOURS = {"valid": ("#0a7d32", "VALID"), "superseded": ("#b36b00", "SUPERSEDED"),
            "revoked": ("#b00020", "REVOKED")}

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;"
          "color:#222}h1{font-size:1.3rem}.status{font-size:1.6rem;font-weight:700;padding:.6rem 1rem;"
          "color:#fff;border-radius:.4rem;display:inline-block}table{border-collapse:collapse;width:100%}"
          "td{padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}td:first-child{"
          "color:#555;width:14rem}code{word-break:break-all}")


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>")


def not_found_page(certificate_id: str) -> str:
    return _page("Certificate not found",
                 f"<h1>Calibration certificate {escape(certificate_id)}</h1>"
                 "<p class=\"status\" style=\"background:#555\">NOT FOUND</p>"
                 "<p>No certificate with this identifier has been published on this platform. "
                 "If you hold a paper or PDF copy, contact the issuing laboratory.</p>")


def verification_page(rec: dict[str, Any], chain: dict[str, Any] | None = None) -> str:
    from labauto.platform.server.scope_html import accreditation_section
    colour, label = _COLOURS[rec["status"]]
    item = rec["item"]
    rows = [("Certificate", rec["certificate_id"] + (f" (version {rec['version']})" if rec["version"] > 1 else "")),
            ("Issued by", f"{rec['lab']} — accreditation {rec['accreditation_id']}"),
            ("Item", " ".join(x for x in (item["manufacturer"], item["model"]) if x) or item["name"] or "—"),
            ("Serial number", item["serial"] or "—"),
            ("Calibration date", " to ".join(dict.fromkeys(
                x for x in (rec["dates"]["begin_performance"], rec["dates"]["end_performance"]) if x)) or "—"),
            ("Issue date", rec["dates"]["issue"] or "—"),
            ("Published", rec["published_at"]),
            ("Signed by", rec["signer"]["subject"] + (f" on {rec['signer']['signing_time']}"
                                                      if rec["signer"].get("signing_time") else ""))]
    if rec["status"] == "revoked":
        rows.append(("Revoked", f"{rec['revoked_at']}: {rec['revocation_reason']}"))
    if rec["superseded_by"]:
        rows.append(("Superseded by", f"{rec['superseded_by']} (sha256 {rec['superseded_by_sha256']})"))
    if chain and (len(chain["nodes"]) > 1 or chain["dangling"]):
        trace = f"{len(chain['nodes']) - 1} reference certificate(s) on the platform"
        if chain["dangling"]:
            trace += f"; not on the platform: {', '.join(chain['dangling'])}"
        bad = [n for n in chain["nodes"][1:] if n["status"] != "valid"]
        if bad:
            trace += "; NOT VALID: " + ", ".join(f"{n['certificate_id']} ({n['status']})" for n in bad)
        rows.append(("Traceability", trace))
    table = "".join(f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in rows)
    cid = escape(rec["certificate_id"])
    body = (f"<h1>Calibration certificate {cid}</h1>"
            f"<p class=\"status\" style=\"background:{colour}\">{label}</p><table>{table}</table>"
            f"<p>SHA-256 of the signed digital calibration certificate (DCC):<br>"
            f"<code>{escape(rec['sha256'])}</code></p>"
            f"<p>Compare it with the value printed on your copy. "
            f"<a href=\"/api/v1/certificates/{cid}/document\">Download the signed DCC (XML)</a> · "
            f"<a href=\"/api/v1/certificates/{cid}\">machine-readable record (JSON)</a></p>"
            + (accreditation_section(rec["accreditation"]) if rec.get("accreditation") else ""))
    return _page(f"Certificate {rec['certificate_id']}: {label}", body)
