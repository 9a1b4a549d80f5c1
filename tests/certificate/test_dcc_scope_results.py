"""The platform reads labauto's own DCC results for the accreditation-scope check: one result per
point with its quantity (keyed on the D-SI unit and the function), value, U and k."""
from __future__ import annotations

import pytest
from lxml import etree

from labauto.certificate.dcc_xml import build_dcc
from labauto.platform.server.dcc_results import extract_results


def test_labauto_dcc_results_are_read_with_quantity_value_and_uncertainty(cal_result):
    results = extract_results(etree.fromstring(build_dcc(cal_result)))
    assert len(results) == len(cal_result.points)
    for r, p in zip(results, cal_result.points):
        assert r.kind is not None and r.kind.name == "DC voltage"
        assert r.unit == "V" and r.frequency is None
        assert r.value == pytest.approx(p.nominal.to("V").magnitude, abs=1e-15)
        assert r.uncertainty == pytest.approx(p.expanded_uncertainty.to("V").magnitude, rel=1e-12)
        assert r.k == pytest.approx(p.coverage_factor)
        assert p.point_id in r.name
