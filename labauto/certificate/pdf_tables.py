"""The certificate's tables, one builder per section: identification, reference standards,
results of one function, uncertainty budget of one point.

Every cell that holds free text is a Paragraph in a column of fixed width, so long texts wrap
inside their cell instead of running into the neighbour; numbers are printed in engineering
units ("28.9 nV", not "2.89e-08 V") and, where a power of ten is unavoidable, with a real
superscript.  Reportlab is imported here, so import this module only when rendering.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence
from xml.sax.saxutils import escape

import pint
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Table, TableStyle

from labauto.certificate.pdf_fonts import BOLD, REGULAR
from labauto.certificate.wording import Wording
from labauto.results import Equipment, PointResult
from labauto.uncertainty.rounding import round_for_report, round_uncertainty
from labauto.units import engineering_unit

# A4 (210 mm) less 18 mm margins each side, less the 6 pt padding on each side of the frame
CONTENT_WIDTH = 174 * mm - 12


@dataclass(frozen=True)
class Styles:
    body: ParagraphStyle
    cell: ParagraphStyle          # table text, left aligned
    num: ParagraphStyle           # table numbers, right aligned
    head: ParagraphStyle          # table header row
    key: ParagraphStyle           # left column of the identification table


def make_styles(base: ParagraphStyle) -> Styles:
    cell = ParagraphStyle("cell", parent=base, fontName=REGULAR, fontSize=7.5, leading=9)
    return Styles(body=base, cell=cell,
                  num=ParagraphStyle("num", parent=cell, alignment=2),
                  head=ParagraphStyle("head", parent=cell, fontName=BOLD),
                  key=ParagraphStyle("key", parent=base, fontName=BOLD))


# every table names the font: reportlab's cell default (Helvetica) would be put in the file
GRID = TableStyle([("FONTNAME", (0, 0), (-1, -1), REGULAR),
                   ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                   ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
                   ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                   ("TOPPADDING", (0, 0), (-1, -1), 2.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                   ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3)])


NBSP = "\u00a0"                   # joins a number and its unit: they never wrap apart
PADDING = 6                       # left + right cell padding of GRID, points


def column_widths(data: list[list[Paragraph]], fractions: Sequence[float]) -> list[float]:
    """Widths that fit every column's longest unbreakable word (a number with its unit is one:
    it is joined by a no-break space), the space left over shared in ``fractions``; if the
    words do not fit side by side, those widths scaled down (long words are then split)."""
    need = [max(row[i].minWidth() for row in data) + PADDING for i in range(len(fractions))]
    spare = CONTENT_WIDTH - sum(need)
    if spare < 0:
        return [CONTENT_WIDTH * n / sum(need) for n in need]
    return [n + spare * f / sum(fractions) for n, f in zip(need, fractions)]


def _grid_table(header: Sequence[str], rows: list[list], fractions: Sequence[float],
                st: Styles, numeric: Sequence[bool]) -> Table:
    """A gridded table of Paragraph cells: text columns left, numeric columns right aligned."""
    def cell(value, col: int):
        if isinstance(value, Paragraph):
            return value
        return Paragraph(str(value), st.num if numeric[col] else st.cell)

    data = [[Paragraph(h, st.head) for h in header]]      # header texts are markup
    data += [[cell(v, i) for i, v in enumerate(row)] for row in rows]
    t = Table(data, colWidths=column_widths(data, fractions), repeatRows=1)
    t.setStyle(GRID)
    return t


# -- numbers ---------------------------------------------------------------------------------

def number_markup(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits as Paragraph markup; outside 1e-3 .. 1e6 as a
    mantissa times a power of ten with a real superscript (``2.89×10<super>-8</super>``)."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else escape(str(x))
    exp = math.floor(math.log10(abs(x)))
    if -3 <= exp < 6:
        return f"{x:.{max(0, digits - 1 - exp)}f}"
    mantissa = x / 10 ** exp
    if abs(round(mantissa, digits - 1)) >= 10:
        mantissa, exp = mantissa / 10, exp + 1
    return f"{mantissa:.{digits - 1}f}×10<super>{'−' if exp < 0 else ''}{abs(exp)}</super>"


def unit_text(u: pint.Unit | pint.Quantity) -> str:
    units = u.units if isinstance(u, pint.Quantity) else u
    return escape(f"{units:~P}")


def quantity_markup(q: pint.Quantity, digits: int = 3, unit: pint.Unit | None = None) -> str:
    """``q`` in ``unit`` (default: its engineering unit, nV ... MV) to ``digits`` significant
    digits, as Paragraph markup."""
    unit = unit or engineering_unit(q)
    q = q.to(unit)
    text = number_markup(float(q.magnitude), digits)
    u = unit_text(q)
    return f"{text}{NBSP}{u}" if u else text


def dof_text(nu: float) -> str:
    if nu == math.inf:
        return "∞"
    return ">\u00a01000" if nu >= 1000 else f"{nu:.0f}" if nu >= 10 else f"{nu:.1f}".rstrip("0").rstrip(".")


# -- sections --------------------------------------------------------------------------------

KEY_WIDTH = 47 * mm


def identification_table(rows: list[tuple[str, str]], st: Styles) -> Table:
    """Two columns, key and value (value is Paragraph markup)."""
    data = [[Paragraph(escape(k), st.key), Paragraph(v, st.body)] for k, v in rows]
    t = Table(data, colWidths=[KEY_WIDTH, CONTENT_WIDTH - KEY_WIDTH])
    t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), REGULAR), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                           ("LEFTPADDING", (0, 0), (-1, -1), 0),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                           ("TOPPADDING", (0, 0), (-1, -1), 1.5)]))
    return t


def standards_table(standards: Sequence[Equipment], st: Styles) -> Table:
    rows = [[escape(f"{s.manufacturer} {s.model}"), escape(s.serial_number),
             escape(s.certificate_id), escape(s.calibrated_by), escape(s.calibration_due)]
            for s in standards]
    return _grid_table(["Reference standard", "Serial no.", "Calibration certificate",
                        "Calibrated by", "Calibration due"], rows, [32, 16, 26, 32, 16], st,
                       [False] * 5)


RESULT_HEADER = ["Point", "Range", "Nominal value", "Frequency", "Mean indication", "Mean readback",
                 "n", "Error", "<i>U</i>", "<i>k</i>", "<i>p</i>", "Tolerance\u00a0±", "Decision"]


def _mean_cell(value, p: PointResult) -> str:
    """A mean in the point's unit, rounded as its U is (ILAC-P14)."""
    m, _ = round_for_report(value, p.expanded_uncertainty, p.nominal.units)
    return f"{m:f}{NBSP}{unit_text(p.nominal)}"


def tolerance_markup(p: PointResult) -> str:
    """± tolerance in the unit of the error, or in its own engineering unit where that would
    need four digits or more before the point (``10 Hz``, not ``10000 mHz``)."""
    t = p.tolerance.to(p.error.units)
    if abs(float(t.magnitude)) >= 1000:
        t = t.to(engineering_unit(t))
    return f"{float(t.magnitude):g}{NBSP}{unit_text(t)}"


def results_table(points: Sequence[PointResult], st: Styles, words: Wording | None = None, *,
                  show_p: bool = True) -> Table:
    """The results of the points of one function: mean of n readings, error with U (ILAC-P14
    rounding), k, p (``show_p``; else stated once above the table), tolerance and decision."""
    rows = []
    for p in points:
        e, U = round_for_report(p.error, p.expanded_uncertainty, p.error.units)
        eu = unit_text(p.error)
        decision = escape(p.decision.upper())
        if p.decision != "pass":
            decision = f'<font color="#c00000"><b>{decision}</b></font>'
        # a readback row: the reference meter's mean in the mean column, the source's own
        # readback (the indication its error is of) in a column of its own
        seen = p.reference if p.readbacks else p.mean
        rows.append([escape(p.point_id), plain_quantity(p.range), plain_quantity(p.nominal),
                     "" if p.frequency is None else plain_quantity(p.frequency),
                     _mean_cell(seen, p), _mean_cell(p.mean, p) if p.readbacks else "",
                     str(len(p.readings)),
                     f"{e:f}{NBSP}{eu}", f"{U:f}{NBSP}{eu}", f"{p.coverage_factor:.2f}",
                     f"{100 * p.coverage_probability:g}{NBSP}%", tolerance_markup(p), decision])
    fractions = [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    numeric = [False, True, True, True, True, True, True, True, True, True, True, True, False]
    header = list(RESULT_HEADER)
    if words is not None:
        header[2], header[4], header[5] = words.nominal, words.mean, words.readback
    drop = ([] if show_p else [header.index("<i>p</i>")]) \
        + ([] if any(p.frequency is not None for p in points) else [header.index("Frequency")]) \
        + ([] if any(p.readbacks for p in points) else [5])
    for col in sorted(drop, reverse=True):
        for seq in (header, fractions, numeric, *rows):
            del seq[col]
    # the point ids take the width the other columns leave; a long id breaks after a hyphen
    others = sum(max(Paragraph(str(row[i]), st.num if numeric[i] else st.cell).minWidth()
                     for row in [[f"<b>{h}</b>" for h in header], *rows]) + PADDING
                 for i in range(1, len(header)))
    room = max(CONTENT_WIDTH - others - PADDING, 20 * mm)
    for row in rows:
        row[0] = break_after_hyphens(row[0], room, st.cell)
    return _grid_table(header, rows, fractions, st, numeric)


def break_after_hyphens(text: str, width: float, style: ParagraphStyle) -> str:
    """``text`` (markup without tags) in lines no wider than ``width``, broken only after a
    hyphen (``ACV-100mV-<br/>+100mV-50kHz``), so an identifier keeps every character and no
    line runs into the next column."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    def w(s: str) -> float:
        return stringWidth(s.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"),
                           style.fontName, style.fontSize)

    if w(text) <= width:
        return text
    lines, line = [], ""
    for part in re.split(r"(?<=-)", text):
        if line and w(line + part) > width:
            lines.append(line)
            line = part
        else:
            line += part
    lines.append(line)
    return "<br/>".join(lines)


def plain_quantity(q: pint.Quantity) -> str:
    """``100 mV``, ``-10 V``, ``1 kHz``: the value as given (shortest form), unit joined."""
    return escape(f"{float(q.magnitude):g}{NBSP}{q.units:~P}")


BUDGET_HEADER = ["Input quantity", "Source of the value", "u(x<sub>i</sub>)", "Distribution",
                 "ν<sub>i</sub>", "|c<sub>i</sub>|·u(x<sub>i</sub>)", "Share"]


NEGLIGIBLE = 1e-12        # of u_c: a value this small prints as "≈ 0" in a budget table


def negligible_markup(q: pint.Quantity, u_c: pint.Quantity) -> str:
    """``q`` as :func:`quantity_markup` gives it, or "≈ 0" where it is in u_c's dimension and
    below NEGLIGIBLE × u_c (a resolution averaged out by the readings' scatter has
    u ≈ 1e-223 V: its digits say nothing, and 0 would claim too much).  The DCC and JSON keep
    the computed values."""
    if q.dimensionality == u_c.dimensionality and \
            abs(float(q.to(u_c.units).magnitude)) < NEGLIGIBLE * abs(float(u_c.magnitude)):
        return "≈ 0"
    return quantity_markup(q)


def budget_table(p: PointResult, st: Styles) -> Table:
    """The uncertainty budget of one point, every value in its own engineering unit."""
    b = p.budget
    u_c = b.combined_uncertainty
    rows = [[escape(c.name), escape(c.source), negligible_markup(c.standard_uncertainty, u_c),
             escape(c.distribution), dof_text(c.dof), negligible_markup(c.contribution, u_c),
             f"{100 * c.variance_share:.1f}{NBSP}%"] for c in b.rows]
    rows.append(["<b>Combined standard uncertainty</b>", "", "", "", dof_text(b.dof_eff),
                 f"<b>{quantity_markup(b.combined_uncertainty)}</b>", ""])
    U = p.expanded_uncertainty
    rows.append([f"<b>Expanded uncertainty</b> (k = {b.coverage_factor:.2f}, "
                 f"p ≈ {100 * p.coverage_probability:g} %)", "", "", "", "",
                 f"<b>{round_uncertainty(float(U.magnitude)):f}{NBSP}{unit_text(U)}</b>", ""])
    t = _grid_table(BUDGET_HEADER, rows, [3, 2, 0, 1, 0, 0, 0], st,
                    [False, False, True, False, True, True, True])
    n = len(rows)
    t.setStyle(TableStyle([("SPAN", (0, n - 1), (3, n - 1)), ("SPAN", (0, n), (4, n))]))
    return t
