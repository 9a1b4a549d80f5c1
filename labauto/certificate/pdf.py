"""Human-readable calibration certificate (PDF, reportlab) with the ISO/IEC 17025 7.8.2.1 /
7.8.4.1 content: identification, dates, method, results with U rounded per ILAC-P14,
statements, authoriser, error plot, budget annex, and optionally the signed DCC's SHA-256 and a
QR code to its verification URL.  Every page carries the certificate id and "Page i of N"."""
from __future__ import annotations

import io

import qrcode
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (Image, KeepTogether, PageBreak, Paragraph, SimpleDocTemplate,
                                Spacer, Table, TableStyle)
from xml.sax.saxutils import escape

from labauto.certificate.plot import error_plot
from labauto.conditions import conditions_text
from labauto.results import CalibrationResult
from labauto.uncertainty.rounding import round_for_report, round_uncertainty

NOT_REPRODUCED = "This certificate shall not be reproduced except in full without the " \
                 "written approval of the issuing laboratory."


def _numbered_canvas(cert_id: str):
    class NumberedCanvas(rl_canvas.Canvas):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self._pages: list[dict] = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            n = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont("Helvetica", 8)
                self.drawString(18 * mm, 10 * mm, f"Certificate {cert_id}")
                self.drawRightString(A4[0] - 18 * mm, 10 * mm,
                                     f"Page {self._pageNumber} of {n}")
                self.setFont("Helvetica", 6.5)
                self.drawCentredString(A4[0] / 2, 6 * mm, NOT_REPRODUCED)
                super().showPage()
            super().save()
    return NumberedCanvas


def _kv_table(rows, col0=45 * mm):
    t = Table(rows, colWidths=[col0, A4[0] - 36 * mm - col0])
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                           ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                           ("FONTNAME", (0, 0), (0, -1), "Helvetica-Bold"),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 2), ("TOPPADDING", (0, 0), (-1, -1), 2)]))
    return t


_GRID = TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
                    ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                    ("FONTSIZE", (0, 0), (-1, -1), 7.5), ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE")])


def render_pdf(result: CalibrationResult, *, dcc_sha256: str | None = None,
               verify_url: str | None = None) -> bytes:
    """The certificate as PDF bytes."""
    r = result
    ss = getSampleStyleSheet()
    body = ss["BodyText"].clone("b", fontSize=8.5, leading=11)
    h2 = ss["Heading2"].clone("h2", fontSize=11, spaceBefore=8, spaceAfter=4)
    P = lambda text, st=body: Paragraph(escape(text), st)  # noqa: E731
    story = []
    lab = r.laboratory
    story += [Paragraph(f"<b>{escape(lab.name)}</b>", ss["Heading3"]),
              P(f"{lab.address} · {lab.email}"),
              P(f"Accredited calibration laboratory, accreditation {lab.identifier}"),
              Spacer(1, 4 * mm),
              Paragraph(escape(r.title), ss["Title"]),
              Paragraph(f"Certificate no. <b>{escape(r.certificate_id)}</b>", ss["Heading3"])]
    if r.amends:
        story.append(P(f"This certificate amends and replaces certificate {r.amends}."))
    it = r.item
    env = conditions_text(r.environment)
    story.append(_kv_table([
        ["Customer", P(f"{r.customer.name}, {r.customer.address}"
                       + (f" (customer no. {r.customer.identifier})" if r.customer.identifier else ""))],
        ["Item calibrated", P(f"{it.manufacturer} {it.model}, serial no. {it.serial_number}"
                              + (f", firmware {it.firmware}" if it.firmware else ""))],
        ["Method / procedure", P(f"{r.procedure.id} \"{r.procedure.title}\" version "
                                 f"{r.procedure.version}, SHA-256 {r.procedure.sha256}")],
        ["Date of receipt", r.receipt_date],
        ["Date of calibration", f"{r.calibration_date} (last reading {r.calibration_end})"],
        ["Date of issue", r.issue_date],
        ["Location", P(r.location)],
        ["Environmental conditions", P(env)],
        ["Calibration performed by", P(r.performed_by)],
        ["Software", P(r.software or "labauto")],
    ]))
    story.append(Paragraph("Reference standards", h2))
    rows = [["Standard", "Serial no.", "Certificate", "Issued by", "Due"]]
    for s in r.standards:
        rows.append([f"{s.manufacturer} {s.model}", s.serial_number, s.certificate_id,
                     s.calibrated_by, s.calibration_due])
    story.append(Table(rows, style=_GRID, repeatRows=1))
    story.append(Paragraph("Statements", h2))
    story += [P("Traceability: " + r.traceability),
              P("Measurement uncertainty: the reported expanded uncertainty U is the combined "
                "standard uncertainty multiplied by the coverage factor k stated for each "
                "point; it corresponds to the coverage probability p stated (approximately "
                "95 %). It was evaluated according to JCGM 100:2008 (GUM). Values are rounded "
                "according to ILAC-P14:09/2020."),
              P(f"Conformity: decision rule \"{r.decision_rule.name}\" ({r.decision_rule.reference}): "
                f"{r.decision_rule.description} Overall result: {r.overall_decision.upper()}.")]
    story += [P("Remark: " + x) for x in r.remarks]

    story.append(PageBreak())
    story.append(Paragraph("Results", h2))
    rows = [["Point", "Range", "Nominal", "Mean indication", "Error", "U", "k", "p",
             "Tolerance ±", "Decision"]]
    for p in r.points:
        e, U = round_for_report(p.error, p.expanded_uncertainty, p.error.units)
        m, _ = round_for_report(p.mean, p.expanded_uncertainty, p.nominal.units)
        eu = f"{p.error.units:~P}"
        rows.append([p.point_id, f"{p.function} {p.range:~P}", f"{p.nominal:~P}",
                     f"{m:f} {p.nominal.units:~P}", f"{e:f} {eu}", f"{U:f} {eu}",
                     f"{p.coverage_factor:.2f}",
                     f"{100 * p.coverage_probability:g} %",
                     f"{p.tolerance.to(p.error.units).magnitude:g} {eu}", p.decision.upper()])
    t = Table(rows, repeatRows=1)
    t.setStyle(_GRID)
    for i, p in enumerate(r.points, start=1):
        if p.decision != "pass":
            t.setStyle(TableStyle([("TEXTCOLOR", (-1, i), (-1, i), colors.red)]))
    story.append(t)
    story.append(Spacer(1, 4 * mm))
    png = error_plot(r)
    story.append(Image(io.BytesIO(png), width=145 * mm, height=145 * mm * 720 / 1050))

    auth = [P(f"Authorised by: {r.authoriser.name}"
              + (f", {r.authoriser.identifier}" if r.authoriser.identifier else "")),
            P(f"Date of issue: {r.issue_date}")]
    if dcc_sha256:
        auth.append(P(f"SHA-256 of the signed digital calibration certificate (DCC): {dcc_sha256}"))
    if verify_url:
        qr = qrcode.QRCode(border=1, box_size=4)
        qr.add_data(verify_url)
        qr.make(fit=True)
        buf = io.BytesIO()
        qr.make_image().save(buf, format="PNG")
        auth += [P(f"Verify this certificate at: {verify_url}"),
                 Image(io.BytesIO(buf.getvalue()), width=28 * mm, height=28 * mm, hAlign="LEFT")]
    story.append(KeepTogether([Paragraph("Authorisation", h2)] + auth))

    story.append(PageBreak())
    story.append(Paragraph("Annex: uncertainty budgets", h2))
    for p in r.points:
        b = p.budget
        rows = [["Input quantity", "Source", "u(x)", "Distribution", "dof", "|c|·u(x)", "Share"]]
        for c in b.rows:
            rows.append([c.name, c.source, f"{c.standard_uncertainty:.3g~P}", c.distribution,
                         "inf" if c.dof == float("inf") else f"{c.dof:g}",
                         f"{c.contribution:.3g~P}", f"{100 * c.variance_share:.1f} %"])
        nu = "inf" if b.dof_eff == float("inf") else (f"{b.dof_eff:.0f}" if b.dof_eff < 1000 else "> 1000")
        rows.append(["Combined", "", f"{b.combined_uncertainty:.3g~P}", "", nu, "", ""])
        rows.append([f"Expanded (k = {b.coverage_factor:.2f})", "",
                     f"{round_uncertainty(float(p.expanded_uncertainty.magnitude)):f} "
                     f"{p.expanded_uncertainty.units:~P}", "", "", "", ""])
        t = Table(rows, repeatRows=1, colWidths=[42 * mm, 36 * mm, 22 * mm, 22 * mm, 10 * mm,
                                                 22 * mm, 16 * mm])
        t.setStyle(_GRID)
        risk = []
        if p.conformance_probability is not None:
            risk = [P(f"Decision {p.decision.upper()}: probability that the error lies within the "
                      f"tolerance p_c = {100 * p.conformance_probability:.2f} %, probability that "
                      f"this decision is wrong {100 * (p.specific_risk or 0.0):.2f} % (JCGM 106:2012, "
                      f"normal distribution with u = U/k).")]
        story.append(KeepTogether([P(f"<b>{p.point_id}</b>: {b.measurand}".replace("<b>", "")
                                     .replace("</b>", "")), t, *risk, Spacer(1, 3 * mm)]))

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=15 * mm, bottomMargin=18 * mm,
                            title=f"{r.title} {r.certificate_id}", author=lab.name,
                            invariant=1)
    doc.build(story, canvasmaker=_numbered_canvas(r.certificate_id))
    return out.getvalue()
