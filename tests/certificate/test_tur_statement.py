"""The certificate names the points whose test uncertainty ratio (tolerance / U) is below 4
(PDF statements, DCC statement), and says nothing where every point reaches 4."""
from __future__ import annotations

import dataclasses

from labauto.certificate.dcc_xml import build_dcc
from labauto.certificate.statements import tur_statement


def test_points_below_tur_4_are_named_with_their_tur(make_cal_result):
    result = make_cal_result()
    turs = {p.point_id: p.tur for p in result.points}
    # the sample 34465A against a 5522A: TUR 1.75 to 2.1 at every point
    assert tur_statement(result).startswith(
        f"Test uncertainty ratio (tolerance / U) below 4 at every point (TUR "
        f"{min(turs.values()):.1f} to {max(turs.values()):.1f})")
    high = dataclasses.replace(result, points=tuple(
        dataclasses.replace(p, tur=5.0) if p.point_id != "P06" else p for p in result.points))
    text = tur_statement(high)
    assert f"at 1 of {len(result.points)} points: P06 ({turs['P06']:.1f})." in text
    assert b"labauto_lowTestUncertaintyRatio" in build_dcc(high)
    every = dataclasses.replace(result, points=tuple(dataclasses.replace(p, tur=4.0)
                                                     for p in result.points))
    assert tur_statement(every) is None
    assert b"labauto_lowTestUncertaintyRatio" not in build_dcc(every)
