"""The human-readable temperature certificate (PDF, reportlab): the same frame as
:mod:`labauto.certificate.pdf` (header, identification, reference standards, statements,
authorisation, page numbers, end mark), with a temperature error table, the fitted
coefficients with their uncertainties and correlation matrix, the figure of errors with U bars
and fit residuals, and the per-point budgets as an annex."""
from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any
from xml.sax.saxutils import escape

from labauto.certificate.pdf import (END_MARK, _Doc, _numbered_canvas, calibration_dates,
                                     signature_statement)
from labauto.certificate.statements import RELATES_ONLY, propagated_temperature_statement
from labauto.temperature.fits import CvdFit
from labauto.temperature.results import TemperatureCalibrationResult
from labauto.uncertainty.rounding import round_result

NBSP = "\u00a0"
_UNIT_TEXT = {"ohm": "Ω", "mV": "mV", "uV": "µV", "K": "K", "degC": "°C"}


def _pair(value: float, U: float) -> tuple[str, str]:
    v, u = round_result(value, U)
    return f"{v:f}", f"{u:f}"


def _identification(r: TemperatureCalibrationResult, d: _Doc) -> list:
    from labauto.certificate.pdf_tables import identification_table
    from labauto.conditions import conditions_text

    it, c = r.item, r.customer
    norms, method = r.method
    n = sorted({len(p.point.dut) for p in r.points})
    rows = [
        ("Customer", escape(f"{c.name}, {c.address}")),
        ("Item calibrated", escape(f"{it.manufacturer} {it.model}, serial no. {it.serial_number}")),
        ("Condition on receipt", escape(r.item_condition_statement)),
        ("Adjustment", escape(r.adjustment_statement)),
        ("Method", escape(f"{method}; {norms}")),
        ("Procedure", escape(f"{r.procedure.id} \"{r.procedure.title}\" version "
                             f"{r.procedure.version}, SHA-256 {r.procedure.sha256}")),
        ("Readings", escape(f"{n[0]}" + (f" to {n[-1]}" if len(n) > 1 else "")
                            + " readings of the item and of the reference per point")),
        ("Date of receipt", escape(r.receipt_date)),
        ("Date of calibration", escape(calibration_dates(r))),   # uses calibration_date/_end
        ("Date of issue", escape(r.issue_date)),
        ("Location", escape(r.location)),
        ("Environmental conditions", escape(conditions_text(r.environment) or "not recorded")),
        ("Immersion depth", escape("not stated" if r.immersion_depth_m is None
                                   else f"{r.immersion_depth_m * 1000:g} mm")),
        ("Calibration performed by", escape(r.performed_by)),
    ]
    return [identification_table(rows, d.st)]


def _statements(r: TemperatureCalibrationResult, d: _Doc) -> list:
    ks = ", ".join(dict.fromkeys(f"{p.k:.2f}" for p in r.points))
    propagated = propagated_temperature_statement(r)
    story = [d.p("Statements", d.h2), d.p(RELATES_ONLY), d.p("Traceability: " + r.traceability),
             d.markup("Measurement uncertainty: the reported expanded uncertainty <i>U</i> is the "
                      "combined standard uncertainty multiplied by the coverage factor <i>k</i> "
                      f"(<i>k</i> = {ks}), which corresponds to a coverage probability of "
                      "approximately 95 %. It was evaluated according to JCGM 100:2008 (GUM) and "
                      "EA-4/02; values are rounded according to ILAC-P14:09/2020. The error is "
                      "the item's temperature by its nominal characteristic minus the "
                      "calibration temperature." + (" " + escape(propagated) if propagated else ""))]
    story += [d.p("Remark: " + x) for x in r.remarks]
    return story


def _authorisation(r: TemperatureCalibrationResult, d: _Doc, dcc_sha256: str | None,
                   verify_url: str | None, pades_signed: bool) -> list:
    a = r.authoriser
    out = [d.p("Authorisation", d.h2),
           d.p(f"Authorised by: {a.name}" + (f", {a.identifier}" if a.identifier else "")),
           d.p(f"Date of issue: {r.issue_date}"),
           d.p("Electronic signature: " + signature_statement(r, dcc_sha256, pades_signed))]
    if dcc_sha256:
        out.append(d.p(f"SHA-256 of the signed digital calibration certificate (DCC): {dcc_sha256}"))
    if verify_url:
        out.append(d.p(f"Verify this certificate at: {verify_url}"))
    return out


def _results(r: TemperatureCalibrationResult, d: _Doc) -> list:
    from labauto.certificate.pdf_tables import _grid_table

    unit = _UNIT_TEXT.get(r.value_unit, r.value_unit)
    kind = r.dut_kind
    if kind == "indicating":
        header = ["t / °C", "t<sub>ref</sub> / °C", "Indication / °C", "Error / K", "<i>U</i> / K", "<i>k</i>"]
    else:
        what = "R" if kind == "prt" else "E"
        header = ["t / °C", "t<sub>ref</sub> / °C", f"{what}(t) / {escape(unit)}",
                  f"<i>U</i>({what}) / {escape(unit)}", "Error / K", "<i>U</i> / K", "<i>k</i>"]
    rows = []
    names = point_names(r)
    for p, name in zip(r.points, names):
        e, ue = _pair(p.error, p.U_error)
        tref = f"{p.reference_temperature:.4f}"
        if kind == "indicating":
            ind = sum(p.point.dut) / len(p.point.dut)
            rows.append([name, tref, f"{ind:g}", e, ue, f"{p.k:.2f}"])
        else:
            y, uy = _pair(p.value, p.U)
            rows.append([name, tref, y, uy, e, ue, f"{p.k:.2f}"])
    ncol = len(header)
    heading = d.p("Results", d.h2)
    heading.keepWithNext = 1
    returns = return_note(r)
    note = d.p("t: calibration temperature at which the result is stated; t_ref: the reference "
               "temperature measured at the item's sensing element; the item's value is "
               "corrected from t_ref to t with its nominal sensitivity." + returns, d.small)
    return [heading, _grid_table(header, rows, [1] * ncol, d.st, [True] * ncol), note]


def _coefficients(r: TemperatureCalibrationResult, d: _Doc) -> list:
    from labauto.certificate.pdf_tables import _grid_table, number_markup

    fit = r.fit
    if fit is None:
        return []
    if isinstance(fit, CvdFit):
        title = "Fitted characteristic: Callendar–Van Dusen (IEC 60751)"
        units = {"R0": "Ω", "A": "K<super>−1</super>", "B": "K<super>−2</super>", "C": "K<super>−4</super>"}
        names = list(fit.coefficients)
        eq = ("R(t) = R<sub>0</sub>[1 + A·t + B·t<super>2</super> + C·(t − 100 °C)·t<super>3</super>], "
              "the C term below 0 °C only")
    else:
        title = f"Fitted characteristic: type {fit.letter} reference function + deviation polynomial"
        names = list(fit.names)
        units = {n: "mV" + (f"·K<super>−{i}</super>" if i else "") for i, n in enumerate(names)}
        eq = (f"E(t) = E<sub>ref</sub>(t) + Σ d<sub>k</sub>·t<super>k</super>, E<sub>ref</sub> "
              f"the type {fit.letter} reference function of IEC 60584-1, t in °C, E in mV")
    u = fit.standard_uncertainties
    fixed = getattr(fit, "fixed", {})
    rows = [[n, number_markup(fit.coefficients[n], 9), units.get(n, ""),
             "held" if n in fixed else number_markup(u[n], 2)] for n in names]
    table = _grid_table(["Coefficient", "Value", "Unit", "<i>u</i> (k = 1)"], rows, [1, 2, 1, 1],
                        d.st, [False, True, False, True])
    fitted = [n for n in names if n not in fixed]
    corr = fit.correlation
    crow = [[n] + [f"{corr[i, j]:+.3f}" for j in range(len(fitted))] for i, n in enumerate(fitted)]
    ctable = _grid_table(["r"] + fitted, crow, [1] * (len(fitted) + 1), d.st,
                         [False] + [True] * len(fitted))
    how = "weighted" if fit.method == "WLS" else "ordinary"
    chi = (f" χ² = {fit.chi_square:.3g} ({'within' if fit.consistent else 'ABOVE'} its 95 % limit "
           f"{fit.chi_square_limit:.3g})." if fit.chi_square is not None and fit.chi_square_limit else "")
    return [d.p(title, d.h2), d.markup(eq), table,
            d.p(f"Correlation coefficients of the fitted coefficients ({how} least squares, "
                f"{fit.n} points, {fit.dof} degrees of freedom).{chi}", d.small), ctable,
            d.p("The standard uncertainty of a temperature computed with this characteristic from "
                "the curve alone" + (" (the calibration points' uncertainties, with the influences "
                                     "they share -- the reference's calibration, its drift, the "
                                     "readouts, self-heating, the heat source's gradients -- "
                                     "correlated between them)"
                                     if getattr(fit.fit, "y_correlated", False) else "")
                + " is at most "
                f"{_kelvin(max(fit.u_temperature(x) for x in _grid(fit.t_min, fit.t_max)))} "
                f"between {fit.t_min:g} °C and {fit.t_max:g} °C; add the uncertainty of the "
                "reading it is computed from. " + _curve_expanded(fit)
                + "The characteristic is not valid outside this range.", d.small)]


def _curve_expanded(fit: Any) -> str:
    """The curve's expanded uncertainty (95 %) over its range, with its coverage factors."""
    grid = _grid(fit.t_min, fit.t_max)
    ks = [fit.k_temperature(x) for x in grid]
    U = max(fit.expanded_temperature(x) for x in grid)
    if min(ks) == max(ks) == 2.0:
        k = "k = 2"
    else:
        k = (f"k = {min(ks):.2f}" if max(ks) - min(ks) < 0.005
             else f"k = {min(ks):.2f} to {max(ks):.2f}")
        k += ", from the distribution of the points' inputs propagated through the fit"
    return (f"Its expanded uncertainty (about 95 % coverage probability, {k}) is at most "
            f"{_kelvin(U)}. ")


def _kelvin(x: float) -> str:
    """A temperature difference (K) to two significant digits, in mK below 1 K."""
    mk = float(f"{1e3 * x:.2g}")
    return f"{mk:g} mK" if mk < 1000 else f"{float(f'{x:.2g}'):g} K"


def _grid(a: float, b: float, n: int = 41) -> list[float]:
    return [a + (b - a) * i / (n - 1) for i in range(n)]


def _plot(r: TemperatureCalibrationResult, d: _Doc) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import Image

    from labauto.certificate.temperature_plot import error_and_residual_plot

    png = error_and_residual_plot(r)
    h = 145 * mm * (5.2 if r.fit is not None else 2.6) / 7.0
    return [Image(io.BytesIO(png), width=145 * mm, height=h),
            d.p("Figure: errors with their expanded uncertainty U (bars)"
                + ("; residuals of the fitted characteristic with ± U (95 %) of the curve (band)."
                   if r.fit is not None else "."), d.small)]


def _revisits(r: TemperatureCalibrationResult) -> list[bool]:
    """Whether each point repeats a temperature listed before it: a return point (the
    hysteresis check).  The result lists its points by temperature, sorted stably, so a later
    visit follows the earlier one."""
    seen: set[float] = set()
    out = []
    for p in r.points:
        out.append(p.nominal in seen)
        seen.add(p.nominal)
    return out


def point_names(r: TemperatureCalibrationResult, unit: str = "") -> list[str]:
    """Each point's t as the certificate names it (``unit``: "" in the results table's t / °C
    column, " °C" elsewhere); a return point is "100 (return)"."""
    return [f"{p.nominal:g}{unit}" + (" (return)" if back else "")
            for p, back in zip(r.points, _revisits(r))]


def return_note(r: TemperatureCalibrationResult) -> str:
    """What the table's "(return)" rows are ("" without a return point)."""
    twice = list(dict.fromkeys(p.nominal for p, back in zip(r.points, _revisits(r)) if back))
    if not twice:
        return ""
    temps = ", ".join(f"{t:g} °C" for t in twice)
    return (f" {temps} was measured twice, the row marked (return) later in the run (a return "
            "point): the difference between the two visits is the item's hysteresis, in each "
            "budget as dt_hyst and dt_hyst_A.")


def _annex(r: TemperatureCalibrationResult, d: _Doc) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Spacer

    from labauto.certificate.pdf_tables import budget_table

    story = [d.p("Annex: uncertainty budgets", d.h2)]
    for p, name in zip(r.points, point_names(r, " °C")):
        for label, b in ((f"{name}: temperature at the item (t_X)", p.reference_budget),
                         (f"{name}: {'error' if p.unit == 'K' else 'value'} of the item",
                          p.budget)):
            row = SimpleNamespace(budget=b, expanded_uncertainty=b.expanded_uncertainty,
                                  coverage_probability=b.coverage_probability)
            story.append(KeepTogether([d.markup(f"<b>{escape(label)}</b>"),
                                       budget_table(row, d.st), Spacer(1, 3 * mm)]))
    return story


def render_temperature_pdf(result: TemperatureCalibrationResult, *, dcc_sha256: str | None = None,
                           verify_url: str | None = None, pades_signed: bool = False) -> bytes:
    """The temperature certificate as PDF bytes (deterministic for the same arguments)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, PageBreak, SimpleDocTemplate, Spacer

    from labauto.certificate.pdf_fonts import register_fonts
    from labauto.certificate.pdf_tables import standards_table

    r, d = result, _Doc()
    lab = r.laboratory
    story = [d.markup(f"<b>{escape(lab.name)}</b>", d.h3),
             d.p(" · ".join(x for x in (lab.address, lab.email) if x)),
             d.p(f"Accredited calibration laboratory, accreditation {lab.identifier}"
                 if lab.identifier else ""),
             Spacer(1, 3 * mm), d.p(r.title, d.h1),
             d.markup(f"Certificate no. <b>{escape(r.certificate_id)}</b>", d.h3)]
    story += _identification(r, d)
    story += [d.p("Reference standards", d.h2), standards_table(r.standards, d.st)]
    st = _statements(r, d)
    story += st[:-1]
    story.append(KeepTogether(st[-1:] + _authorisation(r, d, dcc_sha256, verify_url, pades_signed)))
    story += _results(r, d)
    story += _coefficients(r, d)
    story.append(KeepTogether(_plot(r, d)))
    story.append(PageBreak())
    story += _annex(r, d)
    story.append(d.p(f"— {END_MARK} {r.certificate_id} —", d.end))
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=15 * mm, bottomMargin=18 * mm,
                            title=f"{r.title} {r.certificate_id}", author=lab.name, invariant=1)
    doc.build(story, canvasmaker=_numbered_canvas(r.certificate_id, register_fonts()))
    return out.getvalue()


__all__ = ["render_temperature_pdf"]
