"""Human-readable calibration certificate (PDF, reportlab).

Content per ISO/IEC 17025:2017 7.8.2.1 and 7.8.4.1 (the item letters are cited in the code):
title; laboratory name and address; location of the calibration; the certificate id and
"Page i of N" on every page and a marked end; customer; method; description, identification and
condition on receipt of the item; dates of receipt, calibration and issue; the statement that the
results relate only to the item calibrated; results with units, each with its expanded
uncertainty, k and coverage probability, and the number of readings; conditions; traceability;
whether the item was adjusted; the decision rule of the conformity statement; the authoriser;
the electronic-signature statement; the uncertainty budgets as an annex.

Layout: identification, statements and the authorisation block (kept with the statement before
it, so that no page holds only the signature) come first; then one results section per function
(:func:`results_section`, one table builder each), the error plot, and the budget annex.
The text is set in DejaVu Sans, embedded (:mod:`labauto.certificate.pdf_fonts`).
"""
from __future__ import annotations

import datetime as dt
import io
import math
from typing import Sequence
from xml.sax.saxutils import escape

from labauto.certificate.statements import (RELATES_ONLY, adjustment_statement,
                                           propagated_interval_statement, tur_statement)
from labauto.certificate.wording import in_words, wording
from labauto.results import CalibrationResult, FunctionResults, PointResult

NOT_REPRODUCED = "This certificate shall not be reproduced except in full without the " \
                 "written approval of the issuing laboratory."
END_MARK = "End of certificate"


def format_datetime(text: str) -> str:
    """An ISO 8601 date-time as a certificate states it: ``2026-12-05 08:35 UTC`` (minutes, UTC);
    a date stays a date."""
    if len(text) <= 10:
        return text
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is not None:
        return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return t.strftime("%Y-%m-%d %H:%M")


def calibration_dates(r: CalibrationResult) -> str:
    end = format_datetime(r.calibration_end) if r.calibration_end else ""
    if not end:
        return r.calibration_date
    if end[:10] == r.calibration_date:
        return f"{r.calibration_date} (last reading {end[11:]})"
    return f"{r.calibration_date} to {end[:10]} (last reading {end})"


def environment_text(r: CalibrationResult) -> str:
    """The environmental conditions as one line: the range the environment logger observed,
    with its uncertainty and the lab's limits, or that they were not recorded
    (:func:`labauto.conditions.conditions_text`)."""
    from labauto.conditions import conditions_text

    return conditions_text(r.environment)


def readings_text(points: Sequence[PointResult]) -> str:
    counts = sorted({len(p.readings) for p in points})
    if len(counts) == 1:
        return (f"{counts[0]} readings per point; the results state their mean and the "
                "uncertainty includes their experimental standard deviation of the mean")
    return f"{counts[0]} to {counts[-1]} readings per point (column n of the results)"


def adjustment_text(r: CalibrationResult) -> str:
    return adjustment_statement(r)


def signature_statement(r: CalibrationResult, dcc_sha256: str | None, pades_signed: bool) -> str:
    """The electronic-signature statement.  ``pades_signed`` is the hook for the PAdES signature
    of the PDF itself: the caller that signs the rendered PDF passes True."""
    if pades_signed:
        return ("This certificate is signed electronically and is valid without a handwritten "
                "signature: this PDF carries the laboratory's electronic signature (PAdES), shown "
                "in the signature panel of a PDF reader, and the digital calibration certificate "
                "(DCC, XML) with the same results carries the laboratory's XML signature (XAdES).")
    if dcc_sha256:
        return ("This certificate is issued electronically and is valid without a handwritten "
                "signature. Its authoritative electronic form is the digital calibration "
                "certificate (DCC, XML) with the same results, signed by the laboratory with an "
                "XML signature (XAdES); its SHA-256 is stated below. This PDF is the "
                "human-readable form of that DCC and carries no electronic signature of its own.")
    return "This PDF carries no electronic signature."


def _numbered_canvas(cert_id: str, font: str):
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas as rl_canvas

    class NumberedCanvas(rl_canvas.Canvas):
        """Draws the footer (certificate id, "Page i of N") once the page count is known."""

        def __init__(self, *a, **kw):
            kw["initialFontName"] = font     # else Helvetica is put in the file, unused
            super().__init__(*a, **kw)
            self._pages: list[dict] = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            n = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(font, 8)
                self.drawString(18 * mm, 10 * mm, f"Certificate {cert_id}")
                self.drawRightString(A4[0] - 18 * mm, 10 * mm,
                                     f"Page {self._pageNumber} of {n}")
                self.setFont(font, 6.5)
                self.drawCentredString(A4[0] / 2, 6 * mm, NOT_REPRODUCED)
                super().showPage()
            super().save()
    return NumberedCanvas


class _Doc:
    """Styles and paragraph helpers of one certificate."""

    def __init__(self) -> None:
        from reportlab.lib.styles import getSampleStyleSheet

        from labauto.certificate.pdf_fonts import BOLD, BOLD_ITALIC, register_fonts
        from labauto.certificate.pdf_tables import make_styles

        self.font = register_fonts()
        ss = getSampleStyleSheet()
        body = ss["BodyText"].clone("b", fontName=self.font, fontSize=8.5, leading=11)
        self.st = make_styles(body)
        self.h1 = ss["Title"].clone("t", fontName=BOLD, fontSize=17, leading=21)
        self.h2 = ss["Heading2"].clone("h2", fontName=BOLD, fontSize=11, spaceBefore=8, spaceAfter=4)
        self.h3 = ss["Heading3"].clone("h3", fontName=BOLD_ITALIC, fontSize=11, spaceAfter=3)
        self.small = body.clone("small", fontSize=7.5, leading=9.5)
        self.note = self.small.clone("note", spaceAfter=3)
        self.end = body.clone("end", alignment=1, spaceBefore=6)

    def p(self, text: str, style=None):
        from reportlab.platypus import Paragraph

        return Paragraph(escape(text), style or self.st.body)

    def markup(self, text: str, style=None):
        from reportlab.platypus import Paragraph

        return Paragraph(text, style or self.st.body)


def header_section(r: CalibrationResult, d: _Doc) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

    lab = r.laboratory
    story = [d.markup(f"<b>{escape(lab.name)}</b>", d.h3),                         # 7.8.2.1 b)
             d.p(" · ".join(x for x in (lab.address, lab.email) if x)),
             d.p(f"Accredited calibration laboratory, accreditation {lab.identifier}"),
             Spacer(1, 3 * mm),
             d.p(r.title, d.h1),                                                    # a)
             d.markup(f"Certificate no. <b>{escape(r.certificate_id)}</b>", d.h3)]  # d)
    if r.amends:
        story.append(d.p(f"This certificate amends and replaces certificate {r.amends}."))
    return story


def identification_section(r: CalibrationResult, d: _Doc) -> list:
    from labauto.certificate.pdf_tables import identification_table

    it, c = r.item, r.customer
    item = f"{it.manufacturer} {it.model}, serial no. {it.serial_number}" \
        + (f", firmware {it.firmware}" if it.firmware else "")
    rows = [
        ("Customer", escape(f"{c.name}, {c.address}"                               # e)
                            + (f" (customer no. {c.identifier})" if c.identifier else ""))),
        ("Item calibrated", escape(item)),                                          # g)
        ("Condition on receipt", escape(r.item_condition_statement)),                # g)
        ("Adjustment", escape(adjustment_text(r))),                                 # 7.8.4.1 d)
        ("Method / procedure", escape(f"{r.procedure.id} \"{r.procedure.title}\" version "  # f)
                                      f"{r.procedure.version}, SHA-256 {r.procedure.sha256}")),
        ("Readings", escape(readings_text(r.points + r.as_left_points))),
        ("Date of receipt", escape(r.receipt_date)),                                # h)
        ("Date of calibration", escape(calibration_dates(r))),                      # i)
        ("Date of issue", escape(r.issue_date)),                                    # j)
        ("Location", escape(r.location)),                                           # c)
        ("Environmental conditions", escape(environment_text(r) or "not recorded")),  # 7.8.4.1 b)
        ("Calibration performed by", escape(r.performed_by)),
        ("Software", escape(r.software or "labauto")),
    ]
    return [identification_table(rows, d.st)]


def standards_section(r: CalibrationResult, d: _Doc) -> list:
    from labauto.certificate.pdf_tables import standards_table

    return [d.p("Reference standards", d.h2), standards_table(r.standards, d.st)]


def statements_section(r: CalibrationResult, d: _Doc) -> list:
    every = r.points + r.as_left_points
    ks = ", ".join(dict.fromkeys(f"{k:.2f}" for k in sorted(p.coverage_factor for p in every)))
    ps = ", ".join(dict.fromkeys(f"{100 * x:g} %" for x in sorted(p.coverage_probability
                                                                  for p in every)))
    propagated = propagated_interval_statement(r)
    story = [d.p("Statements", d.h2),
             d.p(RELATES_ONLY),                                                     # 7.8.2.1 l)
             d.p("Traceability: " + r.traceability),                                # 7.8.4.1 c)
             d.markup("Measurement uncertainty: the reported expanded uncertainty <i>U</i> is the "
                      "combined standard uncertainty multiplied by the coverage factor <i>k</i> "
                      f"stated for each point (<i>k</i> = {ks}); for the effective degrees of "
                      "freedom of each budget it corresponds to a coverage probability <i>p</i> of "
                      f"approximately {ps}. It was evaluated according to JCGM 100:2008 (GUM); "
                      "values are rounded according to ILAC-P14:09/2020."
                      + (" " + escape(propagated) if propagated else "")),
             d.p(f"Conformity: decision rule \"{r.decision_rule.name}\" "                 # 7.8.6
                 f"({r.decision_rule.reference}): {in_words(r.decision_rule.description, r.measurement_model)} "
                 f"Overall result: {r.overall_decision.upper()}"
                 + (f" as left (as found: {r.as_found_decision.upper()})." if r.as_left_points
                    else "."))]
    low_tur = tur_statement(r)
    if low_tur:
        story.append(d.p(low_tur))
    story += [d.p("Remark: " + x) for x in r.remarks]
    return story


def results_section(f: FunctionResults, r: CalibrationResult, d: _Doc, phase: str = "") -> list:
    """One function's section (7.8.2.1 m), 7.8.4.1 a)): heading with the function's name and
    unit, its results table, and its plot kept with its caption."""
    from labauto.certificate.pdf_tables import results_table

    heading = d.p(f"Results{' ' + phase if phase else ''}: {f.function} — {f.name} ({f.unit})", d.h2)
    ps = sorted({p.coverage_probability for p in f.points})
    note = [d.p(f"{len(f.points)} points; conformity of the function: {f.decision.upper()}"
                + (f"; coverage probability p ≈ {100 * ps[0]:g} % for every point." if len(ps) == 1
                   else "."), d.note)]
    # a long table splits across pages (its header row repeated); the heading never ends a
    # page and the plot stays with the table's last rows
    table = results_table(f.points, d.st, wording(r.measurement_model), show_p=len(ps) > 1)
    return [TableWithPlot([heading, *note], table, plot_section(f, r, d, phase))]


def _height(f, aW: float) -> float:
    _, h = f.wrap(aW, 0xffffff)
    return h + f.getSpaceBefore() + f.getSpaceAfter()


def _make_table_with_plot():
    from reportlab.platypus import Flowable, Table

    class TableWithPlot(Flowable):
        """``head`` (heading, note), ``table`` (one header row, repeated on each page) and
        ``tail`` (the plot and its caption). Where the whole does not fit, the table splits:
        the head goes with at least MIN_ROWS rows, the tail with the table's last MIN_ROWS
        rows; where not even the head and MIN_ROWS rows fit, all of it moves to the next page.
        Nothing is drawn by this flowable itself: split() hands its pieces to the frame."""

        MIN_ROWS = 3

        def __init__(self, head: list, table: Table, tail: list) -> None:
            super().__init__()
            self.head, self.table, self.tail = head, table, tail
            self._content = [*head, table, *tail]        # the flowables, as KeepTogether names them

        def wrap(self, aW, aH):
            return aW, 0xffffff            # always split (as KeepTogether does)

        def split(self, aW, aH):
            hh = sum(_height(f, aW) for f in self.head)
            ht = _height(self.table, aW)
            hp = sum(_height(f, aW) for f in self.tail)
            if hh + ht + hp <= aH:
                return [*self.head, self.table, *self.tail]
            rows = list(self.table._rowHeights)          # set by wrap(); rows[0] is the header
            n = len(rows) - 1
            if n < 2 * self.MIN_ROWS:                      # a short table: kept whole
                return [*self.head, self.table, *self.tail] if self._at_top() else []
            first = rows[0] + sum(rows[1:1 + self.MIN_ROWS])
            if hh + first > aH:
                return []                                   # to the next page, whole
            # the table up to where the page ends, but leave MIN_ROWS rows for the tail
            room = min(aH - hh, sum(rows[:n + 1 - self.MIN_ROWS]) + 0.5)
            parts = self.table.split(aW, room)
            if len(parts) != 2:
                return []
            return [*self.head, parts[0], TableWithPlot([], parts[1], self.tail)]

        def _at_top(self) -> bool:
            frame = getattr(self, "_frame", None)
            return bool(frame and getattr(frame, "_atTop", False))

        def draw(self):                                     # never called: wrap() forces split
            raise AssertionError("TableWithPlot is drawn through its pieces")

    return TableWithPlot


class _Lazy:
    cls = None


def TableWithPlot(head, table, tail):  # noqa: N802 - a flowable's constructor
    if _Lazy.cls is None:
        _Lazy.cls = _make_table_with_plot()
    return _Lazy.cls(head, table, tail)


def plot_section(f: FunctionResults, r: CalibrationResult, d: _Doc, phase: str = "") -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Spacer

    from labauto.certificate.plot import function_plot

    png = function_plot(f, r.certificate_id, r.measurement_model)
    return [Spacer(1, 2 * mm), Image(io.BytesIO(png), width=150 * mm, height=150 * mm * 2.9 / 7.0),
            d.p(f"Figure: {wording(r.measurement_model).subject} with its expanded uncertainty U "
                f"(bars) at each {f.function} point{' ' + phase if phase else ''}, as a percentage of the point's tolerance "
                "(limits red dashed); the values are in the table above.", d.small)]


def authorisation_section(r: CalibrationResult, d: _Doc, *, dcc_sha256: str | None,
                          verify_url: str | None, pades_signed: bool) -> list:
    """Authoriser (7.8.2.1 o)), date of issue, the electronic-signature statement, the signed
    DCC's SHA-256 and, with a verification URL, a QR code to it beside the text."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Table, TableStyle

    from labauto.certificate.pdf_tables import CONTENT_WIDTH

    a = r.authoriser
    text = [d.p(f"Authorised by: {a.name}" + (f", {a.identifier}" if a.identifier else "")),
            d.p(f"Date of issue: {r.issue_date}"),
            d.p("Electronic signature: " + signature_statement(r, dcc_sha256, pades_signed))]
    if dcc_sha256:
        text.append(d.p(f"SHA-256 of the signed digital calibration certificate (DCC): {dcc_sha256}"))
    if not verify_url:
        return [d.p("Authorisation", d.h2), *text]
    import qrcode

    qr = qrcode.QRCode(border=1, box_size=4)
    qr.add_data(verify_url)
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image().save(buf, format="PNG")
    text.append(d.p(f"Verify this certificate at: {verify_url}"))
    side = 26 * mm
    t = Table([[text, Image(io.BytesIO(buf.getvalue()), width=side, height=side)]],
              colWidths=[CONTENT_WIDTH - side - 4 * mm, side + 4 * mm])
    t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), d.font), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                           ("LEFTPADDING", (0, 0), (0, 0), 0),
                           ("RIGHTPADDING", (-1, 0), (-1, 0), 0), ("ALIGN", (-1, 0), (-1, 0), "RIGHT")]))
    return [d.p("Authorisation", d.h2), t]


def _limit_note(p: PointResult) -> str:
    """`` against the acceptance limit ±AL (tolerance ±T)`` where a guard band moved the limit
    (guarded acceptance or rejection), so that the decision can be checked from the page."""
    tol = p.tolerance
    al = p.acceptance_limit.to(tol.units)
    if math.isclose(float(al.magnitude), float(tol.magnitude), rel_tol=1e-9, abs_tol=0.0):
        return ""
    unit, NBSP = f"{tol.units:~P}", "\u00a0"
    return (f" against the acceptance limit ±{float(al.magnitude):.4g}{NBSP}{unit} (tolerance "
            f"±{float(tol.magnitude):.4g}{NBSP}{unit}, guard band "
            f"{abs(float(tol.magnitude) - float(al.magnitude)):.3g}{NBSP}{unit})")


def budget_annex(r: CalibrationResult, d: _Doc) -> list:
    """The uncertainty budget of every point, grouped by function like the results (as found,
    then as left after an adjustment)."""
    story = [d.p("Annex: uncertainty budgets", d.h2)]
    phases = [("as found", r.functions()), ("as left", r.as_left_functions())] \
        if r.as_left_points else [("", r.functions())]
    for phase, functions in phases:
        for f in functions:
            story += _function_budgets(f, d, phase)
    return story


def adjustment_section(r: CalibrationResult, d: _Doc) -> list:
    """ISO/IEC 17025 7.8.4.1: the adjustment between the as-found and as-left results."""
    from reportlab.platypus import KeepTogether

    a = r.adjustment
    pts = a.get("points", ())
    lines = [d.p("Adjustment", d.h2),
             d.p(f"The item was {adjustment_statement(r)}. As-found result: "
                 f"{r.as_found_decision.upper()}; as-left result: {r.overall_decision.upper()}.")]
    if pts:
        lines.append(d.p("Adjusted with the item's calibration commands ("
                         + (a.get("commands_reference") or "its model file") + ") at: "
                         + "; ".join(f"{p['function']} range {p['range']['value']:g} "
                                     f"{p['range']['unit']} at {p['value']['value']:g} "
                                     f"{p['value']['unit']}"
                                     + (f" {p['frequency']['value']:g} {p['frequency']['unit']}"
                                        if p.get("frequency") else "") for p in pts) + "."))
    return [KeepTogether(lines)]


def _function_budgets(f: FunctionResults, d: _Doc, phase: str = "") -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Spacer

    from labauto.certificate.pdf_tables import budget_table

    story = []
    heading = d.p(f"Budgets{' ' + phase if phase else ''}: {f.function} — {f.name} ({f.unit})", d.h3)
    for p in f.points:
        risk = []
        if p.conformance_probability is not None:
            risk = [d.p(f"Decision {p.decision.upper()}{_limit_note(p)}: probability that the error lies within "
                        f"the tolerance p_c = {100 * p.conformance_probability:.2f} %, probability "
                        f"that this decision is wrong {100 * (p.specific_risk or 0.0):.2f} % "
                        "(JCGM 106:2012, normal distribution with u = U/k).", d.small)]
        # the function's heading goes with its first budget: never alone at a page's foot
        story.append(KeepTogether(([] if story else [heading])
                                  + [d.markup(f"<b>{escape(p.point_id)}</b>: "
                                              f"{escape(p.budget.measurand)}"),
                                     budget_table(p, d.st), *risk, Spacer(1, 3 * mm)]))
    return story


def build_story(result: CalibrationResult, *, dcc_sha256: str | None = None,
                verify_url: str | None = None, pades_signed: bool = False) -> list:
    """The flowables of the certificate, in reading order."""
    from reportlab.platypus import KeepTogether, PageBreak

    r, d = result, _Doc()
    story = header_section(r, d) + identification_section(r, d) + standards_section(r, d)
    statements = statements_section(r, d)
    # the authorisation moves with the statement before it: a page never holds it alone
    story += statements[:-1]
    story.append(KeepTogether(statements[-1:] + authorisation_section(
        r, d, dcc_sha256=dcc_sha256, verify_url=verify_url, pades_signed=pades_signed)))
    if not r.as_left_points:
        for f in r.functions():
            story += results_section(f, r, d)
    else:                                   # 7.8.4.1: as found, the adjustment, as left
        for f in r.functions():
            story += results_section(f, r, d, "as found")
        story += adjustment_section(r, d)
        for f in r.as_left_functions():
            story += results_section(f, r, d, "as left")
    story.append(PageBreak())
    story += budget_annex(r, d)
    story.append(d.p(f"— {END_MARK} {r.certificate_id} —", d.end))                  # 7.8.2.1 d)
    return story


def render_pdf(result: CalibrationResult, *, dcc_sha256: str | None = None,
               verify_url: str | None = None, pades_signed: bool = False) -> bytes:
    """The certificate as PDF bytes (deterministic for the same arguments).

    ``pades_signed``: the caller signs the returned PDF with a PAdES signature (the certificate
    then says so); without it, the statement names the signed DCC as the signed form.
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    from labauto.certificate.pdf_fonts import register_fonts

    story = build_story(result, dcc_sha256=dcc_sha256, verify_url=verify_url,
                        pades_signed=pades_signed)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=15 * mm, bottomMargin=18 * mm,
                            title=f"{result.title} {result.certificate_id}",
                            author=result.laboratory.name, invariant=1)
    doc.build(story, canvasmaker=_numbered_canvas(result.certificate_id, register_fonts()))
    return out.getvalue()
