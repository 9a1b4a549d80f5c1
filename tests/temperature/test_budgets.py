"""Per-point budgets of a comparison calibration, validated against EA-4/02 S5.

EA-4/02 M:2013 example S5, "Calibration of a type N thermocouple at 1000 °C": printed result
"36 229 µV ± 50 µV" (k = 2) for the emf at 1000.0 °C with the reference junction at 0 °C; the
furnace temperature at the DUT t_X = 1000.5 °C with u = 0.641 K.  (The EA document was not at
hand: these printed digits are quoted from memory; the GUM Workbench figures below were read
from its published reproduction and pin every input.)
GUM Workbench's reproduction of the example (metrodata.de/examples/S05_1.smu, S05_2.smu)
gives u(t_X) = 0.640870516811861 K, and for the emf u = 24.9662506362208 µV after carrying
u(t_X) rounded to 0.641 K into the second stage; its emf estimate 36 267.23 µV uses
delta t = t_X - t (+0.5 K) where EA-4/02 S5.3 has t - t_X (-0.5 K): EA prints 36 229 µV.
The inputs are in labauto.temperature.budgets.ea402_s5 with their clause numbers.
"""
from __future__ import annotations

import math

import pytest

from labauto.temperature import thermocouples
from labauto.temperature.budgets import (ComparisonPoint, Influence, dut_influences, ea402_s5,
                                         point_budget, reference_influences)
from labauto.temperature.errors import TemperatureError


@pytest.fixture(scope="module")
def s5():
    return point_budget(ea402_s5(), k=2)


def test_ea402_s5_furnace_temperature(s5):
    assert s5.reference_temperature == pytest.approx(1000.5, abs=1e-9)
    u = float(s5.reference_budget.combined_uncertainty.magnitude)
    assert u == pytest.approx(0.640870516811861, abs=1e-12)       # GUM Workbench S05_1
    assert round(u, 3) == 0.641                                     # EA-4/02 S5


def test_ea402_s5_emf_to_its_printed_digits(s5):
    assert s5.unit == "uV"
    assert round(s5.value) == 36229                                 # "36 229 µV"
    assert s5.k == 2.0
    assert round(s5.U) == 50                                        # "± 50 µV"
    # GUM Workbench's 36 267.2307692308 µV is the same indication moved the other way (+0.5 K)
    assert s5.value + 2 * 0.5 * s5.sensitivity == pytest.approx(36267.2307692308, abs=1e-9)
    # every other input checked against GUM Workbench's second stage, which carried
    # u(t_X) rounded to 0.641 K: replace our unrounded t_X part by the rounded one
    u_tx = float(s5.reference_budget.combined_uncertainty.magnitude)
    rest = s5.u ** 2 - (u_tx * s5.sensitivity) ** 2
    assert math.sqrt(rest + (0.641 * s5.sensitivity) ** 2) == pytest.approx(24.9662506362208, abs=1e-9)


def test_ea402_s5_rows_name_every_influence(s5):
    rows = {r.name: r for r in s5.budget.rows}
    assert set(rows) == {"t_S", "X_i", "dt_S", "dV_iS1", "dV_iS2", "dV_RS", "dt_0S", "dt_D",
                         "dt_F", "dV_iX1", "dV_iX2", "dV_R", "dV_LX", "dt_0X"}
    # the furnace non-uniformity dominates: (1 K / sqrt 3) / 0.026 K/µV = 22.2 µV
    assert float(rows["dt_F"].contribution.to("uV").magnitude) == pytest.approx(
        1 / math.sqrt(3) / 0.026, rel=1e-12)
    assert float(rows["dt_0X"].contribution.to("uV").magnitude) == pytest.approx(
        0.1 / math.sqrt(3) / 0.039, rel=1e-12)
    # error in temperature against IEC 60584-1 (type N 1000 °C: 36.256 mV)
    assert s5.error == pytest.approx((36228.769 - 1000 * thermocouples.emf("N", 1000.0)) / (1 / 0.026),
                                     abs=1e-4)


def test_prt_point_with_standard_influences():
    refs = reference_influences(calibration_U=0.010, drift=0.005, readout_U=0.002, axial=0.010,
                                radial=0.005, stability=0.004, immersion=0.003, self_heating=0.001)
    dut = dut_influences("prt", unit="ohm", resolution=0.0001, readout_U=0.0004, hysteresis=0.010,
                         self_heating=0.004, immersion=0.005)
    point = ComparisonPoint(nominal=100.0, reference=[100.012, 100.010, 100.014, 100.012],
                            dut=[138.5150, 138.5160, 138.5155, 138.5155], dut_kind="prt",
                            influences=refs + dut)
    r = point_budget(point)
    assert r.sensitivity == pytest.approx(100 * (3.9083e-3 + 2 * -5.775e-7 * 100), rel=1e-12)
    assert r.sensitivity == pytest.approx(0.37928, rel=1e-5)       # IEC 60751 dR/dt at 100 °C
    # Y = mean R + S (t - t_X): 138.5155 + 0.37928 * (100 - 100.012)
    assert r.value == pytest.approx(138.5155 + r.sensitivity * (100.0 - 100.012), abs=1e-9)
    # error of the DUT in temperature against IEC 60751 at 100 °C (138.5055 ohm)
    assert r.error == pytest.approx((r.value - 138.50550) / r.sensitivity, abs=1e-6)
    # u_c by hand: reference side in K times S, DUT side in ohm, K sides times S
    u_ref_k2 = ((0.010 / 2) ** 2 + 0.005 ** 2 / 3 + (0.002 / 2) ** 2 + 0.010 ** 2 / 3 + 0.005 ** 2 / 3
                + 0.004 ** 2 / 3 + 0.003 ** 2 / 3 + 0.001 ** 2 / 3 + (0.0016330 / 2) ** 2)
    u_dut = ((0.0004 / 2) ** 2 + (0.00005 ** 2) / 3 + (0.000408248 / 2) ** 2
             + (r.sensitivity ** 2) * (0.005 ** 2 / 3 + 0.004 ** 2 / 3 + 0.005 ** 2 / 3))
    assert r.u == pytest.approx(math.sqrt(u_ref_k2 * r.sensitivity ** 2 + u_dut), rel=1e-4)
    assert r.k == pytest.approx(2.0, abs=0.3)            # t_95(nu_eff), nu_eff large here
    names = {row.name for row in r.budget.rows}
    assert {"dt_cal", "dt_drift", "dt_readout", "dt_axial", "dt_radial", "dt_stab", "dt_imm_S",
            "dt_sh_S", "dX_readout", "dX_res", "dt_hyst", "dt_sh_X", "dt_imm_X"} <= names


def test_indicating_thermometer_error():
    point = ComparisonPoint(nominal=50.0, reference=[50.02, 50.03], dut=[50.1, 50.1],
                            dut_kind="indicating",
                            influences=reference_influences(calibration_U=0.02)
                            + dut_influences("indicating", unit="degC", resolution=0.1))
    r = point_budget(point)
    assert r.unit == "K"
    assert r.error == pytest.approx(50.1 - 50.025, abs=1e-12)
    assert r.value == r.error


def test_paired_readings_take_the_scatter_of_their_differences():
    """Each DUT reading bracketed by reference readings: a wander of the bath moves both series
    (here 27.5 mK +- 6.5 mK in both), so what reaches E is the scatter of the differences
    D_k = X_k - t_S,k (91, 90, 89, 90 mK: s = 0.8165 mK, u = s/2), not the two series' own
    scatters added as if independent (s 6.455 mK and 6.245 mK, u 3.227 and 3.122 mK; the
    correlation GUM 5.2.3 describes ignored).  By hand, with U(cal) = 10 mK (k = 2):
    paired u_c = sqrt(5^2 + 0.40825^2) = 5.01664 mK, unpaired sqrt(5^2 + 3.2275^2 + 3.1225^2)
    = 6.72061 mK; the estimate is the same (E = 90 mK)."""
    ref = [50.020, 50.030, 50.025, 50.035]
    dut = [50.111, 50.120, 50.114, 50.125]
    infl = reference_influences(calibration_U=0.010)

    def budget(paired):
        return point_budget(ComparisonPoint(nominal=50.0, reference=ref, dut=dut,
                                            dut_kind="indicating", influences=infl,
                                            paired=paired), k=2)

    paired, unpaired = budget(True), budget(False)
    assert paired.error == pytest.approx(0.090, abs=1e-12) == unpaired.error
    assert paired.u == pytest.approx(5.01664e-3, rel=1e-5)
    assert unpaired.u == pytest.approx(6.72061e-3, rel=1e-5)
    rows = {r.name: r for r in paired.budget.rows}
    assert float(rows["D_i"].contribution.to("K").m) == pytest.approx(0.40825e-3, rel=1e-4)
    assert float(rows["t_S"].contribution.to("K").m) == 0.0     # cancels in E
    assert rows["D_i"].dof == 3
    # t_X keeps the reference's own Type A: the temperature at the DUT is its mean
    assert paired.reference_budget.combined_uncertainty.m == pytest.approx(
        math.sqrt(5e-3 ** 2 + 3.2275e-3 ** 2), rel=1e-4)


def test_paired_prt_differences_are_brought_to_t_by_the_reference():
    """A PRT: D_k = R_k - S_X (t_S,k - t); at 50 °C S_X = 100 (A + 2 B 50) = 0.385055 ohm/K
    (IEC 60751), so 119.40, 119.41, 119.405 ohm against 50.020, 50.030, 50.025 °C give
    D = 119.392299, 119.398448, 119.395374 ohm: s = 3.0747 mohm, u = s/sqrt(3) = 1.7752 mohm;
    Y unchanged (119.395374 ohm)."""
    point = ComparisonPoint(nominal=50.0, reference=[50.020, 50.030, 50.025],
                            dut=[119.40, 119.41, 119.405], dut_kind="prt", paired=True)
    r = point_budget(point, k=2)
    assert r.sensitivity == pytest.approx(0.385055, abs=1e-6)
    assert r.value == pytest.approx(119.405 + r.sensitivity * (50.0 - 50.025), abs=1e-9)
    assert r.u == pytest.approx(1.7752e-3, rel=2e-4)


def test_the_self_heating_measured_at_two_currents():
    """A Pt100 at 100 °C (S_X = 100 (A + 2 B 100) = 0.37928 ohm/K), the reference at 100.000 °C
    throughout: 138.5070 +- 0.0002 ohm at 1 mA (s = 0.2 mohm, three readings), 138.5115 at
    2 mA.  Self-heating grows as I², so at 1 mA it is (R2 - R1) I1²/(I2² - I1²) =
    4.5 mohm / 3 = 1.5 mohm = 3.95486 mK; u = sqrt(2) 0.2/sqrt(3) mohm / 3 / S_X = 0.143518 mK
    with (2u²)²/(2 u⁴/2) = 4 degrees of freedom.  The DUT's value is corrected down by it."""
    from labauto.temperature.budgets import measured_self_heating

    point = ComparisonPoint(nominal=100.0, reference=[100.0] * 3,
                            dut=[138.5070, 138.5072, 138.5068], dut_kind="prt", paired=True)
    inf = measured_self_heating(point, [100.0] * 3, [138.5115, 138.5117, 138.5113], 1e-3, 2e-3)
    assert (inf.name, inf.side, inf.distribution, inf.unit) == ("dt_sh_X", "dut", "normal", "K")
    assert inf.estimate == pytest.approx(-3.95486e-3, rel=1e-5)
    assert inf.standard_uncertainty == pytest.approx(0.143518e-3, rel=1e-5)
    assert inf.dof == pytest.approx(4.0)
    r = point_budget(ComparisonPoint(nominal=100.0, reference=[100.0] * 3,
                                     dut=[138.5070, 138.5072, 138.5068], dut_kind="prt",
                                     paired=True, influences=[inf]), k=2)
    assert r.value == pytest.approx(138.5070 - 0.0015, abs=1e-9)
    with pytest.raises(TemperatureError, match="must exceed the first"):
        measured_self_heating(point, [100.0] * 3, [138.5115] * 3, 2e-3, 1e-3)


def test_the_hysteresis_is_measured_at_a_return_point():
    """A Pt100 read 138.5070 ohm at 100 °C (three paired readings, s 0.2 mohm) and, revisited
    after the highest point, 138.5080 ohm (s 0.2 mohm).  With S_X = R0 (A + 2 B t) = 0.37928
    ohm/K (IEC 60751 at 100 °C) the reading changed by d = 1.0 mohm / S_X = 2.63657 mK: the
    dt_hyst row is rectangular with half-width d/2 = 1.31829 mK; its Type A u(d)/2 =
    sqrt(2) 0.2/sqrt(3) mohm / S_X / 2 = 0.215275 mK with 4 degrees of freedom."""
    from labauto.temperature.budgets import measured_hysteresis

    first = ComparisonPoint(nominal=100.0, reference=[100.0] * 3,
                            dut=[138.5070, 138.5072, 138.5068], dut_kind="prt", paired=True)
    back = ComparisonPoint(nominal=100.0, reference=[100.0] * 3,
                           dut=[138.5080, 138.5082, 138.5078], dut_kind="prt", paired=True)
    hyst, type_a = measured_hysteresis(first, back)
    assert (hyst.name, hyst.distribution, hyst.estimate) == ("dt_hyst", "rectangular", 0.0)
    assert hyst.value == pytest.approx(1.31829e-3, rel=1e-5)
    assert hyst.standard_uncertainty == pytest.approx(1.31829e-3 / math.sqrt(3), rel=1e-5)
    assert (type_a.name, type_a.distribution, type_a.estimate) == ("dt_hyst_A", "normal", 0.0)
    assert type_a.standard_uncertainty == pytest.approx(0.215275e-3, rel=1e-5)
    assert type_a.dof == pytest.approx(4.0)
    # the same readings back: no difference, only the Type A
    (same,) = measured_hysteresis(first, first)
    assert same.name == "dt_hyst_A"
    elsewhere = ComparisonPoint(nominal=0.0, reference=[0.0] * 3, dut=[100.0] * 3,
                                dut_kind="prt", paired=True)
    with pytest.raises(TemperatureError, match="does not revisit 100 °C"):
        measured_hysteresis(first, elsewhere)


def test_paired_readings_must_pair():
    with pytest.raises(TemperatureError, match="as many reference readings as DUT readings"):
        ComparisonPoint(nominal=0.0, reference=[0.0, 0.0, 0.0], dut=[1.0, 1.0],
                        dut_kind="indicating", paired=True)
    with pytest.raises(TemperatureError, match="no pooled"):
        ComparisonPoint(nominal=0.0, reference=[0.0, 0.0], dut=[1.0, 1.0],
                        dut_kind="indicating", paired=True, dut_sd=(0.01, 9))


def test_thermocouple_point_reference_junction_uses_seebeck_at_0():
    infl = dut_influences("thermocouple", unit="mV", thermocouple_type="K", reference_junction=0.1)
    assert infl[0].sensitivity == pytest.approx(-thermocouples.seebeck("K", 0.0), rel=1e-12)
    assert thermocouples.seebeck("K", 0.0) == pytest.approx(0.0395, abs=0.0005)   # ~39.5 µV/K


def test_bad_points_are_refused_clearly():
    with pytest.raises(TemperatureError, match="one reading of the reference"):
        point_budget(ComparisonPoint(nominal=0.0, reference=[0.0], dut=[100.0, 100.0], dut_kind="prt"))
    with pytest.raises(TemperatureError, match="dut_kind"):
        ComparisonPoint(nominal=0.0, reference=[0.0], dut=[1.0], dut_kind="thermistor")
    with pytest.raises(TemperatureError, match="thermocouple_type"):
        ComparisonPoint(nominal=0.0, reference=[0.0], dut=[1.0], dut_kind="thermocouple")
    with pytest.raises(TemperatureError, match="known types"):
        ComparisonPoint(nominal=0.0, reference=[0.0], dut=[1.0], dut_kind="thermocouple",
                        thermocouple_type="Q")
    with pytest.raises(TemperatureError, match="given twice"):
        ComparisonPoint(nominal=0.0, reference=[0.0, 0.0], dut=[1.0, 1.0], dut_kind="prt",
                        influences=reference_influences(calibration_U=0.1)
                        + reference_influences(calibration_U=0.1))
    with pytest.raises(TemperatureError, match="side"):
        Influence("dt_x", "x", "source", "rectangular", 0.1)


def test_the_model_file_of_s5_gives_the_same_budget(s5):
    """labauto/uncertainty/examples/ea402_s5_thermocouple.yaml (labauto uncertainty evaluate)."""
    from pathlib import Path

    from labauto.uncertainty import gum
    from labauto.uncertainty.modelfile import load_model

    path = Path(__file__).resolve().parents[2] / "labauto" / "uncertainty" / "examples" / "ea402_s5_thermocouple.yaml"
    result = gum(load_model(path).model)
    v = result.budget("V_X", k=2)
    assert float(v.estimate.to("uV").magnitude) == pytest.approx(s5.value, abs=1e-9)
    assert float(v.combined_uncertainty.to("uV").magnitude) == pytest.approx(s5.u, rel=1e-12)
    t = result.budget("t_X", k=2)
    assert float(t.combined_uncertainty.magnitude) == pytest.approx(0.640870516811861, abs=1e-12)
