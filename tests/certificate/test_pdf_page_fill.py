"""No page of a certificate is left mostly empty (issue 10 item 5): a long results section
used to move whole to the next page, leaving the page before it holding little more than the
authorisation block. Each page is rendered (pypdfium2) and the lowest drawn row above the
footer measured; every page but the last must be filled to at least 40 % of its body height."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pypdfium2 as pdfium
import pytest

ROOT = Path(__file__).resolve().parents[2]
FOOTER = 60            # pt at the foot of an A4 page holding the id, page number and notice


def _fills(doc: pdfium.PdfDocument) -> list[float]:
    """Per page: the lowest drawn row above the footer, as a fraction of the body height."""
    out = []
    for i in range(len(doc)):
        page = doc[i]
        body_h = int(page.get_height()) - FOOTER
        ink = page.render(scale=1).to_numpy()[:body_h].min(axis=2) < 200      # 1 px = 1 pt
        rows = ink.any(axis=1).nonzero()[0]
        out.append(float(rows.max()) / body_h if len(rows) else 0.0)
    return out


@pytest.fixture(scope="module", params=["fluke_5522a_dcv_3458a.yaml", "keysight_34465a_dcv.yaml"])
def certificate(request, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("fill")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    subprocess.run([sys.executable, "-m", "labauto.cli", "demo", "--procedure",
                    str(ROOT / "procedures" / request.param), "--latency", "zero", "--no-prefect",
                    "--no-platform", "--workdir", str(work)],
                   check=True, env=env, cwd=ROOT, capture_output=True, timeout=300)
    [pdf] = (work / "certificates").glob("*/certificate.pdf")
    return pdf


def test_no_page_but_the_last_is_mostly_empty(certificate):
    fills = _fills(pdfium.PdfDocument(certificate))
    assert len(fills) >= 3
    assert all(f > 0.4 for f in fills[:-1]), [round(f, 2) for f in fills]
    assert all(f <= 1.0 for f in fills)


def test_a_long_results_table_splits_with_its_header_repeated_and_the_plot_after_its_last_rows(
        make_cal_result):
    """A results table that does not fit below the authorisation splits: its header row is repeated on the next page,
    and the plot's caption is on the page holding the table's last point."""
    from labauto.certificate.pdf import render_pdf

    many = tuple(make_cal_result().points) * 4          # 40 points, the QR code beside the
    doc = pdfium.PdfDocument(render_pdf(make_cal_result(points=many), dcc_sha256="a" * 64,
                                        verify_url="https://nqi.example/verify/LA-1"))
    # before the fix the section moved whole to page 3 and page 2 was filled to 0.29
    texts = [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    with_rows = [t for t in texts if "Decision" in t and "Tolerance" in t]
    assert len(with_rows) >= 2                       # the header row on each page of the table
    last_id = many[-1].point_id
    [caption_page] = [i for i, t in enumerate(texts) if "Figure:" in t]
    assert texts[caption_page].count(last_id) >= 1
    fills = _fills(doc)
    assert all(f > 0.4 for f in fills[:-1]), [round(f, 2) for f in fills]

