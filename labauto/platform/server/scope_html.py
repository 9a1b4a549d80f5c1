"""HTML of accreditation: the per-result section of the verification page and the public
capability / certificate search page (everything shown is HTML-escaped)."""
from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from labauto.platform.server.cmc import KINDS
from labauto.platform.server.html import _page

_BADGE = {"accredited": "#0a7d32", "covered": "#0a7d32",
          "partly covered by accreditation": "#b36b00", "not covered by accreditation": "#555",
          "accreditation suspended": "#b00020", "accreditation withdrawn": "#b00020",
          "no results assessed": "#555"}

_STYLE = ("<style>.badge{color:#fff;border-radius:.3rem;padding:.1rem .4rem;font-size:.85rem;"
          "white-space:nowrap}table.results td,table.results th{padding:.3rem .4rem;border-bottom:1px solid #ddd;"
          "text-align:left;vertical-align:top;font-size:.92rem}table.results td:first-child{width:auto;color:#222}"
          "form.search{display:grid;grid-template-columns:10rem 1fr;gap:.4rem .8rem;margin:1rem 0}"
          "form.search input,form.search select{padding:.3rem;font-size:1rem}"
          ".error{color:#b00020;font-weight:600}.note{color:#555;font-size:.85rem}</style>")


def badge(status: str) -> str:
    return (f"<span class=\"badge\" data-status=\"{escape(status)}\" "
            f"style=\"background:{_BADGE.get(status, '#555')}\">{escape(status.upper())}</span>")


def accreditation_section(acc: dict[str, Any]) -> str:
    """The verification page's accreditation block: overall status, scope, one line per result."""
    parts = [_STYLE, f"<h2>Accreditation</h2><p id=\"accreditation-status\">{badge(acc['status'])}"]
    sc = acc.get("scope")
    if sc:
        parts.append(f" scope version {sc['version']} of {escape(sc['body'])}, valid from {escape(sc['valid_from'])}"
                     + (f" to {escape(sc['valid_until'])}" if sc["valid_until"] else ""))
        if sc.get("status_reason"):
            parts.append(f" — {escape(sc['status_on_calibration_date'])}: {escape(sc['status_reason'])}")
    else:
        parts.append(" no accredited scope of this lab was valid on the calibration date "
                     f"({escape(acc['calibration_date'])})")
    parts.append("</p>")
    if acc.get("lab_accreditation_today") in ("suspended", "withdrawn"):
        parts.append(f"<p class=\"error\" id=\"lab-today\">The lab's accreditation is "
                     f"{escape(acc['lab_accreditation_today'])} today.</p>")
    if acc["results"]:
        rows = []
        for r in acc["results"]:
            t = r["text"]
            where = escape(t["value"]) + (f" at {escape(t['frequency'])}" if t["frequency"] else "")
            rows.append(f"<tr><td>{escape(r['name'])}</td><td>{escape(r['quantity'] or '—')}</td>"
                        f"<td>{where}</td><td>{escape(t['uncertainty'])} (k = {r['k']:g})</td>"
                        f"<td>{escape(t['cmc'] or '—')}</td><td>{badge(r['status'])}"
                        f"<div class=\"note\">{escape(r['note'])}</div></td></tr>")
        parts.append("<table class=\"results\" id=\"results\"><thead><tr><th>Result</th><th>Quantity</th>"
                     "<th>Value</th><th>U</th><th>CMC</th><th>Status</th></tr></thead><tbody>"
                     + "".join(rows) + "</tbody></table>")
    return "".join(parts)


def _input(name: str, label: str, value: str, placeholder: str) -> str:
    return (f"<label for=\"{name}\">{label}</label><input id=\"{name}\" name=\"{name}\" "
            f"value=\"{escape(value)}\" placeholder=\"{escape(placeholder)}\">")


def search_page(form: dict[str, str], found: dict[str, Any] | None, error: str | None) -> str:
    options = "".join(f"<option{' selected' if k.name == form['quantity'] else ''}>{escape(k.name)}</option>"
                      for k in KINDS)
    labs = form["what"] == "labs"
    body = [_STYLE, "<h1>Search accredited capabilities and certificates</h1>",
            "<form class=\"search\" method=\"get\" action=\"/search\">",
            "<label for=\"what\">Find</label><select id=\"what\" name=\"what\">"
            f"<option value=\"labs\"{' selected' if labs else ''}>labs accredited for</option>"
            f"<option value=\"certificates\"{'' if labs else ' selected'}>certificates with results of</option></select>",
            f"<label for=\"quantity\">Quantity</label><select id=\"quantity\" name=\"quantity\">{options}</select>",
            _input("value", "At value (labs)", form["value"], "10 V"),
            _input("max_cmc", "CMC at most (labs)", form["max_cmc"], "5 µV/V or 50 µV"),
            _input("frequency", "Frequency (AC)", form["frequency"], "1 kHz"),
            _input("value_min", "From (certificates)", form["value_min"], "1 V"),
            _input("value_max", "To (certificates)", form["value_max"], "100 V"),
            "<span></span><button id=\"go\" type=\"submit\">Search</button></form>"]
    if error:
        body.append(f"<p class=\"error\" id=\"error\">{escape(error)}</p>")
    elif found is not None and labs:
        body.append(f"<p id=\"count\">{found['count']} accredited capabilit{'y' if found['count'] == 1 else 'ies'} "
                    f"for {escape(found['quantity'])} on {escape(found['date'])}</p>")
        rows = "".join(
            f"<tr><td>{escape(i['lab'])}</td><td>{escape(i['accreditation_id'])}</td>"
            f"<td>{escape(i['row']['range'])}{(' at ' + escape(i['row']['frequency'])) if i['row']['frequency'] else ''}</td>"
            f"<td>{escape(i['row']['cmc'])} (k = {i['row']['k']:g})</td>"
            f"<td>{escape(i['cmc_at_value_text'] or '—')}</td><td>{escape(i['row']['conditions'] or '')}</td></tr>"
            for i in found["items"])
        body.append("<table class=\"results\" id=\"capabilities\"><thead><tr><th>Lab</th><th>Accreditation</th>"
                    "<th>Range</th><th>CMC</th><th>CMC at value</th><th>Conditions</th></tr></thead>"
                    f"<tbody>{rows}</tbody></table>")
    elif found is not None:
        body.append(f"<p id=\"count\">{found['total']} certificate(s)</p>")
        rows = "".join(
            f"<tr><td><a href=\"/verify/{quote(h['certificate_id'], safe='')}\">{escape(h['certificate_id'])}</a></td>"
            f"<td>{escape(h['lab'])}</td><td>{escape(h['end_performance'] or '—')}</td>"
            f"<td>{len(h['results'])}</td><td>{escape(h['status'])}</td></tr>" for h in found["items"])
        body.append("<table class=\"results\" id=\"certificates\"><thead><tr><th>Certificate</th><th>Lab</th>"
                    "<th>Calibrated</th><th>Matching results</th><th>Status</th></tr></thead>"
                    f"<tbody>{rows}</tbody></table>")
    return _page("Search accredited capabilities", "".join(body))
