"""Stem conduction of a sheathed probe (labauto.temperature.immersion): the decay lengths the
published rules give, read through the exponential model, and the budget's bound from them.

Published digits:
* NPL, good-practice module "Measurements in liquids" (npl.co.uk, temperature measurements in
  practice), tip 1: the sensing length plus at least 20 diameters -> "no more than 0.1 % of the
  difference between the liquid temperature and the outside environment temperature";
* panrantemperaturecalibration.com Blog-Details?article_id=2394, a calibration laboratory's
  rules of thumb for a liquid bath: "1% accuracy - immerse 5 diameters + length of the actual
  sensing element", "0.01% accuracy - 10 diameters + ...", "0.0001% accuracy - 15 diameters".
"""
from __future__ import annotations

import math

import pytest

from labauto.errors import LabautoError
from labauto.temperature.immersion import (DECAY_PER_DIAMETER_MAX, DECAY_PER_DIAMETER_MIN,
                                           LAB_RULES, NPL_DIAMETERS, NPL_FRACTION,
                                           ProbeImmersion, decay_length_per_diameter)


def test_the_published_rules_as_decay_lengths():
    # NPL tip 1: 20 diameters, 0.1 % -> l <= 20 D / ln(1000)
    assert (NPL_DIAMETERS, NPL_FRACTION) == (20.0, 0.001)
    assert DECAY_PER_DIAMETER_MAX == pytest.approx(2.8953, abs=1e-4)
    # the laboratory's three rows are one exponential: 5 D / ln(100) each time
    assert LAB_RULES == ((5.0, 0.01), (10.0, 0.0001), (15.0, 0.000001))
    for diameters, fraction in LAB_RULES:
        assert decay_length_per_diameter(diameters, fraction) == pytest.approx(1.0857, abs=1e-4)
    assert DECAY_PER_DIAMETER_MIN == pytest.approx(1.0857, abs=1e-4)


def probe(depth_mm: float, room=(22.0, 24.0)) -> ProbeImmersion:
    return ProbeImmersion(depth_m=depth_mm / 1e3, sensing_length_m=0.020, diameter_m=0.003,
                          room_min_c=room[0], room_max_c=room[1])


def test_at_the_rules_depths_the_model_gives_the_rules_fractions():
    # 3 mm sheath, 20 mm element: NPL's depth is 20 + 60 = 80 mm, the lab's 35, 50, 65 mm
    npl = probe(80.0)
    assert npl.diameters == pytest.approx(20.0)
    assert npl.fraction(npl.decay_range_m[1]) == pytest.approx(0.001, rel=1e-12)
    lo = npl.decay_range_m[0]
    for depth, fraction in ((35.0, 0.01), (50.0, 1e-4), (65.0, 1e-6)):
        assert probe(depth).fraction(lo) == pytest.approx(fraction, rel=1e-12)


def test_the_error_reads_toward_the_room():
    p = probe(80.0)
    ell = p.decay_range_m[1]
    assert p.error(100.0, 23.0, ell) == pytest.approx(-0.077)       # 0.1 % of 77 K, low
    assert p.error(-40.0, 23.0, ell) == pytest.approx(+0.063)       # below the room: high
    assert p.error(23.0, 23.0, ell) == 0.0


def test_the_bound_at_the_digital_thermometers_depth():
    # 150 mm: 130 mm = 43.33 diameters beyond the element; the fraction 0.001^(43.33/20)
    p = probe(150.0)
    frac = 0.001 ** (130.0 / 60.0)
    assert frac == pytest.approx(3.162e-7, rel=1e-3)
    assert p.bound(100.0) == pytest.approx(78.0 * frac)              # room at 22 °C
    assert p.bound(0.0) == pytest.approx(24.0 * frac)                # room at 24 °C
    assert p.bound(23.0) == pytest.approx(1.0 * frac)
    # shallower, the same probe: 100 mm gives 1e-4 of 78 K, 120 mm 1e-5
    assert probe(100.0).bound(100.0) == pytest.approx(7.8e-3, rel=1e-9)
    assert probe(120.0).bound(100.0) == pytest.approx(7.8e-4, rel=1e-9)
    # every decay length the simulation may draw gives at most the bound
    for ell in (p.decay_range_m[0], sum(p.decay_range_m) / 2, p.decay_range_m[1]):
        assert abs(p.error(100.0, 22.0, ell)) <= p.bound(100.0) * (1 + 1e-12)
    assert math.isclose(p.decay_range_m[1] / p.decay_range_m[0], 2.8953 / 1.0857, rel_tol=1e-4)


def test_an_element_above_the_surface_is_refused():
    with pytest.raises(LabautoError, match="not under the surface"):
        probe(20.0)
    with pytest.raises(LabautoError, match="range is empty"):
        probe(150.0, room=(24.0, 22.0))
