from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from labauto.certificate.pdf import render_pdf

SHA = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
URL = "https://nqi.example/verify/LA-2026-00042"


@pytest.fixture(scope="module")
def pages(cal_result):
    pdf = render_pdf(cal_result, dcc_sha256=SHA, verify_url=URL)
    assert pdf.startswith(b"%PDF")
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def test_id_and_page_x_of_y_on_every_page(pages):
    n = len(pages)
    assert n >= 3
    for i, text in enumerate(pages, start=1):
        assert "LA-2026-00042" in text
        assert f"Page {i} of {n}" in text
        assert "shall not be reproduced except in full" in text


def test_required_content(pages):
    text = " ".join("\n".join(pages).split())      # line breaks fall where the font puts them
    for s in ["Acme Metrology Lab GmbH", "D-K-12345-01-00", "Widget Works AG", "Keysight",
              "34465A", "MY57001234", "DCV-DMM-001", "version 2.1",
              "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b",
              "2026-11-18", "2026-11-20", "2026-11-23", "Braunschweig", "23.1",
              "Dr. Erika Mustermann", "traceable to the SI", "simple-acceptance",
              "Simple acceptance (ILAC-G8:09/2019 4.2.1, w = 0)", "Annex: uncertainty budgets",
              "calibrator specification", "thermal EMF", "Type A", "DUT resolution", SHA, URL]:
        assert s in text, s


def test_rounded_values_in_results_table(pages):
    text = pages[1]
    # ILAC-P14: U to 2 significant digits rounded up, error to the same decimal place
    for row in ["P02", "2.1 µV", "4.3 µV", "P05", "-11 µV", "20 µV", "P06", "0.12 mV",
                "0.20 mV", "P08", "6.1 mV", "2.5 mV", "FAIL", "1000.021 V", "25 mV"]:
        assert row in text, row
    assert len(re.findall(r"PASS", text)) == 9


def test_without_hash_and_url(cal_result):
    pdf = render_pdf(cal_result)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "SHA-256 of the signed" not in text
    assert "Verify this certificate" not in text


def test_deterministic(cal_result):
    assert render_pdf(cal_result, dcc_sha256=SHA) == render_pdf(cal_result, dcc_sha256=SHA)
