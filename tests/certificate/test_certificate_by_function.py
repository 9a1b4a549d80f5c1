"""A multi-function certificate, as issued for the full Keysight 34465A performance verification
(procedures/keysight_34465a_verification.yaml: DCV, ACV, FREQ, RES4W, RES2W, DCI, ACI) on the
zero-latency simulated lab with the plain engine: results grouped by function, each in its own
unit, in the JSON (a per-function summary), the DCC (one dcc:result per function, D-SI units,
the signal frequency of AC points; valid against PTB's 3.3.0 XSD and dcc.sch without error or
warning) and the PDF (one section, table and plot per function; every page rendered and looked
at as a reader would)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from lxml import etree

from labauto.calibration import run_calibration
from labauto.certificate.dcc_xml import parse_dcc_summary
from labauto.engine.operator import AutoConfirm, set_operator
from labauto.platform.server.dcc_results import extract_results
from labauto.sim import SimulatedLab

PV = Path(__file__).resolve().parents[2] / "procedures" / "keysight_34465a_verification.yaml"
FUNCTIONS = {"DCV": ("DC voltage", "V", "\\volt"), "ACV": ("AC voltage", "V", "\\volt"),
             "FREQ": ("Frequency", "Hz", "\\hertz"), "RES4W": ("Resistance, 4-wire", "Ω", "\\ohm"),
             "RES2W": ("Resistance, 2-wire", "Ω", "\\ohm"), "DCI": ("DC current", "A", "\\ampere"),
             "ACI": ("AC current", "A", "\\ampere")}
NS = {"dcc": "https://ptb.de/dcc", "si": "https://ptb.de/si"}


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pv")
    previous = set_operator(AutoConfirm())
    try:
        with SimulatedLab(seed=21, latency="zero") as lab:
            outcome = run_calibration(PV, dut_resource=lab.resources["dmm"],
                                      standard_resource=lab.resources["calibrator"],
                                      runs_dir=folder / "runs", out_dir=folder / "certificates",
                                      settle_scale=0.0, timeout_ms=5000, publish=False)
    finally:
        set_operator(previous)
    return outcome


def test_json_summarises_each_function_in_its_unit(issued):
    data = json.loads(issued.files["json"].read_bytes())
    summary = {f["function"]: f for f in data["functions"]}
    assert list(summary) == list(dict.fromkeys(p["function"] for p in data["points"]))
    assert set(summary) == set(FUNCTIONS)
    for fn, (name, unit, _) in FUNCTIONS.items():
        s = summary[fn]
        points = [p for p in data["points"] if p["function"] == fn]
        assert (s["name"], s["unit"], s["points"]) == (name, unit, len(points))
        assert s["point_ids"] == [p["point_id"] for p in points]
        assert s["decisions"]["pass"] + s["decisions"]["fail"] == len(points)
        assert 0 <= s["largest_tolerance_used"]["fraction"] < 1          # every point passed
        assert all(p["error"]["unit"].endswith(unit) for p in points)
    assert sum(s["points"] for s in summary.values()) == len(data["points"]) == 48
    # FREQ in hertz (not mHz beside kHz); AC functions list their signal frequencies
    assert {p["error"]["unit"] for p in data["points"] if p["function"] == "FREQ"} == {"Hz"}
    assert summary["ACV"]["frequencies_hz"] == [20.0, 1000.0, 50000.0]
    assert summary["DCV"]["frequencies_hz"] == []


def test_dcc_has_one_result_per_function_valid_with_no_warning(issued, dcc_schema_dir):
    from labauto.platform.server.schematron import RuleBook

    xml = issued.files["xml"].read_bytes()
    root = etree.fromstring(xml)
    schema = etree.XMLSchema(etree.parse(str(dcc_schema_dir / "v3.3.0" / "dcc.xsd")))
    assert schema.validate(root), schema.error_log
    report = RuleBook(dcc_schema_dir, processes=0).check(root, "3.3.0")
    assert report.applied and not report.errors and not report.warnings, \
        [f.text() for f in report.errors + report.warnings]
    results = root.findall(".//dcc:results/dcc:result", NS)
    names = [r.findtext("dcc:name/dcc:content", namespaces=NS) for r in results]
    assert names == [f"{FUNCTIONS[f][0]} ({f})" for f in ("DCV", "ACV", "FREQ", "RES4W", "RES2W",
                                                           "DCI", "ACI")]
    for res in results:
        fn = res.findtext("dcc:name/dcc:content", namespaces=NS).rsplit("(", 1)[1][:-1]
        dsi = FUNCTIONS[fn][2]
        for point in res.findall("dcc:data/dcc:list", NS):
            units = {q.get("refType"): q.findtext("si:real/si:unit", namespaces=NS)
                     for q in point.findall("dcc:quantity", NS)}
            for ref in ("basic_nominalValue", "basic_measuredValue", "basic_measurementError"):
                assert units[ref].endswith(dsi), (fn, ref, units[ref])
            assert ("labauto_signalFrequency" in units) == (fn in ("ACV", "ACI")), fn
            if fn in ("ACV", "ACI"):
                assert units["labauto_signalFrequency"].endswith("\\hertz")
    s = parse_dcc_summary(xml)
    assert [(f["function"], f["points"]) for f in s["functions"]] == [
        ("DCV", 12), ("ACV", 11), ("FREQ", 3), ("RES4W", 7), ("RES2W", 2), ("DCI", 8), ("ACI", 5)]
    acv = [p for p in s["points"] if p["function"] == "ACV"]
    assert [float(p["frequency"].to("Hz").magnitude) for p in acv[:3]] == [1000.0, 50000.0, 20.0]
    # the platform reads every point with its quantity kind and, for AC, its frequency
    scope = extract_results(root)
    assert len(scope) == 48
    kinds = {r.name.split(":")[0]: r for r in scope}
    assert kinds["ACV-1V-+1V-20Hz"].frequency == 20.0 and kinds["DCV-10V-+10V"].frequency is None
    assert {r.unit for r in scope} == {"V", "A", "ohm", "Hz"}


def _pages(pdf_path: Path):
    doc = pdfium.PdfDocument(str(pdf_path))
    return doc, [doc[i].get_textpage().get_text_range() for i in range(len(doc))]


def test_pdf_one_section_and_plot_per_function_every_page_rendered(issued):
    doc, texts = _pages(issued.files["pdf"])
    n = len(doc)
    flat = [" ".join(t.split()) for t in texts]
    joined = " ".join(flat)
    for fn, (name, unit, _) in FUNCTIONS.items():
        assert joined.count(f"Results: {fn} — {name} ({unit})") == 1, fn
        assert joined.count(f"at each {fn} point, as a percentage") == 1, fn      # its plot
        assert joined.count(f"Budgets: {fn} — {name} ({unit})") == 1, fn
    # sections in procedure order; a function's plot on the page of its caption
    order = [joined.index(f"Results: {fn} ") for fn in FUNCTIONS]
    assert order == sorted(order)
    for i in range(n):
        page = doc[i]
        assert f"Page {i + 1} of {n}" in texts[i] and "Certificate LA-" in texts[i]
        img = page.render(scale=1).to_numpy()                   # 842 x 596 px, 1 px = 1 pt
        ink = img.min(axis=2) < 128
        assert ink[: 842 - 60].sum() > (2000 if i == n - 1 else 5000), f"page {i + 1} looks empty"
        assert not ink[:, :40].any() and not ink[:, 596 - 40:].any(), f"page {i + 1}: ink in a margin"
        images = [o for o in page.get_objects() if o.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE]
        captions = flat[i].count(", as a percentage of the point's tolerance")
        assert len(images) >= captions, f"page {i + 1}: a caption without its plot"
        # no heading left alone at the foot of a page: the last line is not a heading
        body = [line for line in texts[i].splitlines() if line.strip()]
        last = [line for line in body if "Page " not in line and "Certificate LA-" not in line
                and "shall not be reproduced" not in line][-1]
        assert not last.startswith(("Results:", "Budgets:", "Annex")), (i + 1, last)
    assert "End of certificate" in flat[-1]
    # a results page: what a reader sees is readable (no text over text)
    results_page = next(i for i, t in enumerate(flat) if "Results: ACV" in t)
    tp = doc[results_page].get_textpage()
    boxes = np.array([tp.get_charbox(j) for j in range(tp.count_chars())
                      if not tp.get_text_range(j, 1).isspace()])
    l, b, r, t = (boxes[:, k][:, None] for k in range(4))
    w = np.minimum(r, r.T) - np.maximum(l, l.T)
    h = np.minimum(t, t.T) - np.maximum(b, b.T)
    area = (r - l) * (t - b)
    overlap = (w > 0) & (h > 0) & (w * h > 0.3 * np.minimum(area, area.T))
    np.fill_diagonal(overlap, False)
    assert not overlap.any()


def test_every_results_table_cell_fits_its_column(issued):
    from reportlab.platypus import Paragraph, Table

    from labauto.certificate.pdf import build_story
    from labauto.certificate.pdf_tables import CONTENT_WIDTH, PADDING

    def tables(flowables):
        for f in flowables:
            if isinstance(f, Table):
                yield f
            for attr in ("_content", "_flowables"):
                if isinstance(getattr(f, attr, None), list):
                    yield from tables(getattr(f, attr))

    found = 0
    for t in tables(build_story(issued.result)):
        assert sum(t._argW) <= CONTENT_WIDTH + 0.01
        for row in t._cellvalues:
            for w, cell in zip(t._argW, row):
                if isinstance(cell, Paragraph):
                    assert cell.minWidth() <= w - PADDING + 0.01, (cell.text, cell.minWidth(), w)
        found += 1
    assert found >= 7 + 48                         # a results table per function, a budget per point
