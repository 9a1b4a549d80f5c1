"""The PDF certificate as a person sees it: every page rendered (pypdfium2, the PDF engine of
Chromium) and checked for what a reader would notice — missing glyphs (black boxes), text
running out of its table column or over other text, a page holding only the signature block,
the certificate id and "Page i of N" on every page — and for the ISO/IEC 17025 7.8 content."""
from __future__ import annotations

import dataclasses
import io

import numpy as np
import pypdfium2 as pdfium
import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from reportlab.platypus import Paragraph, Table

from labauto.certificate import pdf_fonts
from labauto.certificate.pdf import build_story, format_datetime, render_pdf
from labauto.certificate.pdf_tables import (CONTENT_WIDTH, PADDING, negligible_markup, number_markup,
                                            quantity_markup)
from labauto.units import Q_

SHA = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
URL = "https://nqi.example/verify/LA-2026-00042"
# characters the base-14 fonts lack (they printed as black boxes): exponents, ohm, less-or-equal
SPECIAL = "Reference resistor 10 kΩ, drift ≤ 2×10⁻⁶/K, u = 3 µΩ/Ω (k = 2); α₂₀ = 3.9×10⁻³ K⁻¹."


def _pages_text(pdf: bytes) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]


@pytest.fixture(scope="module")
def special_result(make_cal_result):
    return make_cal_result(remarks=("Readings were taken after a warm-up of 4 h.", SPECIAL),
                           item_condition="no visible damage; self-test passed")


@pytest.fixture(scope="module")
def pdf(special_result) -> bytes:
    return render_pdf(special_result, dcc_sha256=SHA, verify_url=URL)


def test_every_page_renders_with_id_page_x_of_y_and_content(pdf):
    doc = pdfium.PdfDocument(pdf)
    n = len(doc)
    assert n == 4                 # identification + statements + signature, results, 2 annex pages
    for i in range(n):
        page = doc[i]
        text = page.get_textpage().get_text_range()
        assert "Certificate LA-2026-00042" in text and f"Page {i + 1} of {n}" in text
        assert "shall not be reproduced except in full" in text
        img = page.render(scale=1).to_numpy()          # 842 x 596 px, 1 px = 1 pt
        ink = (img.min(axis=2) < 128)
        body = ink[: 842 - 60]                         # above the footer
        assert body.sum() > 5000, f"page {i + 1} looks empty"
        # nothing drawn into the left and right 15 mm margins (text or a table running off)
        assert not ink[:, :40].any() and not ink[:, 596 - 40:].any(), f"page {i + 1}: ink in a margin"
    last = doc[n - 1].get_textpage().get_text_range()
    assert "End of certificate LA-2026-00042" in last                 # 7.8.2.1 d)


def test_no_page_holds_only_the_authorisation(make_cal_result):
    """However much precedes it (0 to 9 remarks move it across the page break), the
    authorisation block shares its page with the text before it."""
    for n in range(10):
        remarks = tuple(f"Remark number {i}: the DUT was warmed up for 4 h before the first "
                        "reading and its front terminals were used." for i in range(n))
        pages = _pages_text(render_pdf(make_cal_result(remarks=remarks), dcc_sha256=SHA,
                                       verify_url=URL))
        [page] = [p for p in pages if "Authorised by" in p]
        before = page[:page.index("Authorisation")]
        assert len(before.strip()) > 20, (n, page[:200])


def test_every_character_is_in_the_embedded_font(pdf):
    """No black boxes: every font in the PDF is embedded DejaVu Sans (no base-14 font), and every
    character on every page is in the DejaVu cmap (a missing one would print as a box)."""
    reader = PdfReader(io.BytesIO(pdf))
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for f in [font] + [d.get_object() for d in font.get("/DescendantFonts", [])]:
                if "/FontDescriptor" in f:
                    assert "/FontFile2" in f["/FontDescriptor"], f["/BaseFont"]
            assert "DejaVuSans" in font["/BaseFont"], font["/BaseFont"]
    cmaps = [set(TTFont(pdf_fonts.font_file(name)).getBestCmap())
             for name in (pdf_fonts.REGULAR, pdf_fonts.BOLD, pdf_fonts.ITALIC, pdf_fonts.BOLD_ITALIC)]
    covered = set.intersection(*cmaps)
    text = "".join(_pages_text(pdf))
    missing = {c for c in text if ord(c) not in covered and c not in "\r\n\ufffe\uffff"}
    assert not missing, missing
    flat = " ".join(text.split())
    for s in ("10 kΩ", "≤ 2×10⁻⁶/K", "µΩ/Ω", "α₂₀"):
        assert s in flat, s


def _tables(flowables):
    for f in flowables:
        if isinstance(f, Table):
            yield f
            for row in f._cellvalues:
                for cell in row:
                    if isinstance(cell, list):
                        yield from _tables(cell)
        for attr in ("_content", "_flowables"):          # KeepTogether and friends
            if isinstance(getattr(f, attr, None), list):
                yield from _tables(getattr(f, attr))


def test_every_table_cell_fits_its_column(special_result):
    """No text runs into the neighbouring column: every table fits the text width and every cell's
    longest unbreakable word (numbers are joined to their units) fits its column."""
    tables = list(_tables(build_story(special_result, dcc_sha256=SHA, verify_url=URL)))
    assert len(tables) >= 14          # identification, standards, QR, results, 10 budgets
    for t in tables:
        widths = t._argW
        assert sum(widths) <= CONTENT_WIDTH + 0.01
        for row in t._cellvalues:
            for w, cell in zip(widths, row):
                assert not isinstance(cell, str) or not cell, f"bare string cell {cell!r}"
                if isinstance(cell, Paragraph):
                    assert cell.minWidth() <= w - PADDING + 0.01, (cell.text, cell.minWidth(), w)


def test_no_glyph_overlaps_another(pdf):
    doc = pdfium.PdfDocument(pdf)
    for i in range(len(doc)):
        tp = doc[i].get_textpage()
        boxes = np.array([tp.get_charbox(j) for j in range(tp.count_chars())
                          if not tp.get_text_range(j, 1).isspace()])
        l, b, r, t = (boxes[:, k][:, None] for k in range(4))
        w = np.minimum(r, r.T) - np.maximum(l, l.T)
        h = np.minimum(t, t.T) - np.maximum(b, b.T)
        area = (r - l) * (t - b)
        # kerned italics touch (an oblique "f" over the next "i"); text over text covers a glyph
        overlap = (w > 0) & (h > 0) & (w * h > 0.3 * np.minimum(area, area.T))
        np.fill_diagonal(overlap, False)
        assert not overlap.any(), f"page {i + 1}: {int(overlap.sum()) // 2} overlapping glyph pairs"


def test_17025_content(pdf, special_result):
    text = " ".join(" ".join(_pages_text(pdf)).split())
    for s in ["The results relate only to the item calibrated",                # 7.8.2.1 l)
              "Condition on receipt no visible damage; self-test passed",      # 7.8.2.1 g)
              "Adjustment not adjusted; the results are as found",             # 7.8.4.1 d)
              "10 readings per point",
              "Electronic signature: This certificate is issued electronically",
              "signed by the laboratory with an XML signature (XAdES)",
              "Date of calibration 2026-11-20 (last reading 09:20 UTC)",
              "coverage factor k stated for each point (k = 2.00)",
              "Results: DCV", "Decision"]:
        assert s in text, s
    # the U/k statement once, not once per writer and once more as a remark
    assert text.count("multiplied by the coverage factor") == 1
    assert "2026-11-20T09:20:18" not in text


def test_adjusted_and_pades_statements(make_cal_result):
    r = make_cal_result(adjusted=True)
    text = " ".join(" ".join(_pages_text(render_pdf(r, dcc_sha256=SHA, pades_signed=True))).split())
    assert "adjusted during the calibration" in text
    assert "this PDF carries the laboratory's electronic signature (PAdES)" in text
    text = " ".join(" ".join(_pages_text(render_pdf(r))).split())
    assert "This PDF carries no electronic signature." in text
    assert "Condition on receipt not recorded" in text


def test_numbers_in_engineering_units_and_real_superscripts():
    assert quantity_markup(Q_(2.8867513e-8, "V")) == "28.9\u00a0nV"
    assert quantity_markup(Q_(5.77e-7, "V"), unit=Q_(1, "mV").units) == "5.77×10<super>−4</super>\u00a0mV"
    assert number_markup(2.89e-8) == "2.89×10<super>−8</super>"
    assert number_markup(9.996e6) == "1.00×10<super>7</super>"
    assert number_markup(0.00123) == "0.00123"
    assert number_markup(999.7) == "1000"


def test_negligible_budget_values_print_as_about_zero():
    """A resolution averaged out by the readings' scatter has u = 1.23e-223 V (seen on the demo
    certificate, next to a contribution printed '0 mV'): both print as ≈ 0; a small value that
    still means something keeps its digits; an input in another unit is never judged by u_c."""
    u_c = Q_(537e-9, "V")
    assert negligible_markup(Q_(1.23e-223, "V"), u_c) == "≈\u00a00"
    assert negligible_markup(Q_(0.0, "mV"), u_c) == "≈\u00a00"
    assert negligible_markup(Q_(5.77e-10, "V"), u_c) == "5.77×10<super>−10</super>\u00a0V"
    assert negligible_markup(Q_(1e-20, "ohm"), u_c) == quantity_markup(Q_(1e-20, "ohm"))


def test_datetimes_as_a_certificate_states_them():
    assert format_datetime("2026-12-05T08:35:58.463786+00:00") == "2026-12-05 08:35 UTC"
    assert format_datetime("2026-12-05T09:35:58+01:00") == "2026-12-05 08:35 UTC"
    assert format_datetime("2026-11-20T09:20:18Z") == "2026-11-20 09:20 UTC"
    assert format_datetime("2026-11-20") == "2026-11-20"


def test_result_model_keeps_condition_and_adjustment(make_cal_result):
    from labauto.results import CalibrationResult

    r = make_cal_result(item_condition="scratched case", adjusted=True)
    back = CalibrationResult.from_dict(r.to_dict())
    assert (back.item_condition, back.adjusted) == ("scratched case", True)
    old = {k: v for k, v in r.to_dict().items() if k not in ("item_condition", "adjusted")}
    assert dataclasses.replace(CalibrationResult.from_dict(old)).adjusted is False
