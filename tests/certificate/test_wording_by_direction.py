"""A certificate names the item's error by the direction of the calibration: a meter under test
has an error of indication, a source under test an error of the output setting (PDF, DCC,
JSON)."""
from __future__ import annotations

import io
import json

from lxml import etree
from pypdf import PdfReader

from labauto.certificate.dcc_xml import build_dcc
from labauto.certificate.json_writer import to_json
from labauto.certificate.pdf import render_pdf
from labauto.results import CalibrationResult

DCC = "{https://ptb.de/dcc}"


def _names(xml: bytes, ref: str) -> set[str]:
    root = etree.fromstring(xml)
    return {q.find(f"{DCC}name/{DCC}content").text for q in root.iter(f"{DCC}quantity")
            if q.get("refType") == ref}


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())


def test_a_source_under_test_has_an_error_of_the_output_setting(make_cal_result):
    result = make_cal_result(measurement_model="error of output")
    xml = build_dcc(result)
    assert _names(xml, "basic_measurementError") == {"Error of the output setting"}
    assert _names(xml, "basic_measuredValue") == {"Mean reading of the reference meter"}
    assert _names(xml, "basic_nominalValue") == {"Setting"}
    assert b"Error of indication" not in xml and b"error of indication" not in xml
    data = json.loads(to_json(result))
    assert (data["measurement_model"], data["error_quantity"]) == (
        "error of output", "error of the output setting")
    assert CalibrationResult.from_dict(data).measurement_model == "error of output"
    text = _text(render_pdf(result, dcc_sha256="0" * 64, verify_url="https://x.example/v"))
    assert "Mean reading of the reference meter" in text
    assert "Figure: error of the output setting with its expanded uncertainty" in text
    assert "Mean indication" not in text and "Nominal value" not in text
    # the decision rule's statement names the item's error in its own words too
    assert "a point passes when its error of the output setting lies within" in text


def test_a_meter_under_test_keeps_its_error_of_indication(cal_result):
    xml = build_dcc(cal_result)
    assert _names(xml, "basic_measurementError") == {"Error of indication"}
    assert json.loads(to_json(cal_result))["error_quantity"] == "error of indication"
