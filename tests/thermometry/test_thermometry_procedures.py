"""Temperature comparison procedures and reference certificates: what loads, and bad input
refused with file:line (setpoint outside the heat source's or the DUT's range, unknown
thermocouple type, reference certificate past due)."""
from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from labauto.errors import SourceError
from labauto.procedure.reference_thermometer import load_reference_thermometer
from labauto.procedure.temperature import (is_temperature_procedure,
                                           load_temperature_procedure)
from labauto.units import Q_

ROOT = Path(__file__).resolve().parents[2]
PT100 = ROOT / "procedures" / "temperature" / "pt100_comparison.yaml"
CERT = ROOT / "procedures" / "references" / "sprt-5681-1234.yaml"
TODAY = dt.date(2026, 12, 5)


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def refused_at(path: Path, fragment: str, reason: str) -> None:
    """Loading ``path`` is refused for ``reason`` at the line holding ``fragment``."""
    with pytest.raises(SourceError) as info:
        load_temperature_procedure(path, today=TODAY)
    line = line_of(path.read_text(), fragment)
    assert f"{path}:{line}: " in str(info.value)
    assert reason in str(info.value)


@pytest.fixture()
def copy(tmp_path: Path):
    """The Pt100 procedure and its reference certificate copied to tmp_path, edited."""
    (tmp_path / "references").mkdir()
    (tmp_path / "temperature").mkdir()
    shutil.copy(CERT, tmp_path / "references" / CERT.name)

    def make(replace: dict[str, str] | None = None, cert: dict[str, str] | None = None,
             source: Path = PT100) -> Path:
        text = source.read_text()
        for old, new in (replace or {}).items():
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / "temperature" / "p.yaml"
        path.write_text(text)
        ctext = CERT.read_text()
        for old, new in (cert or {}).items():
            assert old in ctext, old
            ctext = ctext.replace(old, new)
        (tmp_path / "references" / CERT.name).write_text(ctext)
        return path
    return make


def test_the_pt100_procedure_loads():
    assert is_temperature_procedure(PT100)
    p = load_temperature_procedure(PT100, today=TODAY)
    assert [pt.id for pt in p.points] == ["T-40C", "T0C", "T50C", "T100C", "T200C", "T300C", "T420C",
                                          "T100C-return"]
    assert [pt.heat_source for pt in p.points] == ["bath"] * 4 + ["well"] * 3 + ["bath"]
    assert p.points[4].steps[0].text.startswith("Move the SPRT and the Pt100")
    assert p.points[4].line == line_of(PT100.read_text(), "{setpoint: 200 degC")
    assert p.heat_sources["well"].safe_setpoint == Q_(50, "degC")
    assert p.stability.max_slope == Q_(0.01, "K/min") and p.stability.window == Q_(5, "min")
    assert (p.dut.sensor, p.dut.read_by, p.dut.channel) == ("pt100", "readout", 2)
    assert p.dut.self_heating_current == Q_(2, "mA")        # measured, not allowed for
    assert "dut_self_heating" not in p.evaluation


def test_the_reference_certificate():
    ref = load_reference_thermometer(CERT)
    assert ref.kind == "SPRT (ITS-90)" and ref.serial == "1234"
    assert ref.range == pytest.approx((83.8058 - 273.15, 660.323))
    # its curve inverts itself on both sub-ranges
    for t in (-40.0, 0.0, 156.5985, 419.527):
        assert ref.temperature(Q_(ref.resistance(t), "ohm")).m == pytest.approx(t, abs=1e-9)
    # W(0.01 °C) = 1 on both sub-ranges: R(TPW) is the certificate's (the ITS-90 reference
    # functions give W_r(273.16 K) = 1 to their published digits, ~5e-9 here)
    assert ref.resistance(0.01) == pytest.approx(25.54972, abs=2e-7)
    assert ref.expanded_uncertainty(-40.0) == Q_(2, "mK")
    assert ref.expanded_uncertainty(300.0) == Q_(5, "mK")
    assert ref.standard_uncertainty(100.0) == Q_(1.5, "mK")


@pytest.mark.parametrize("edit, fragment, reason", [
    ({"{setpoint: 420 degC, heat_source: well}": "{setpoint: 700 degC, heat_source: well}"},
     "setpoint: 700 degC", "setpoint 700 °C is outside the Fluke 9144's (well) setpoint range 50 °C to 660 °C"),
    ({"{setpoint: -40 degC, heat_source: bath}": "{setpoint: -40 degC, heat_source: well}"},
     "setpoint: -40 degC", "setpoint -40 °C is outside the Fluke 9144's (well) setpoint range"),
    ({"range: {min: -50 degC, max: 450 degC}": "range: {min: -50 degC, max: 400 degC}"},
     "setpoint: 420 degC", "setpoint 420 °C is outside the DUT's range -50 °C to 400 °C"),
    ({"{setpoint: 0 degC, heat_source: bath}": "{setpoint: 0 degC, heat_source: oven}"},
     "heat_source: oven", "no heat source 'oven'; the procedure names bath, well"),
    ({"bath: {model: fluke_7060, safe_setpoint: 20 degC}": "bath: {model: fluke_7060, safe_setpoint: 200 degC}"},
     "safe_setpoint: 200 degC", "safe_setpoint 200 °C is outside the Fluke 7060's setpoint range"),
    ({"max_slope: 0.01 K/min": "max_slope: 0.01 K"}, "max_slope: 0.01 K", "max_slope"),
    ({"  window: 5 min": "  windw: 5 min"}, "windw", "unknown key 'windw'"),
    ({"  self_heating_current: 2 mA": "  self_heating_current: 1 mA"}, "self_heating_current",
     "self_heating_current 1 mA must be larger than the measuring current 1 mA"),
    ({"  read_by: readout\n  channel: 2": "  read_by: dmm\n  channel: 2"}, "self_heating_current",
     "the second measuring current of a PRT read by the readout"),
    ({"  - {setpoint: 50 degC, heat_source: bath}\n  - {setpoint: 100 degC, heat_source: bath}\n"
      "  - step: Move the SPRT and the Pt100 from the bath into the metrology well (wipe them dry)\n"
      "  - {setpoint: 200 degC, heat_source: well}\n  - {setpoint: 300 degC, heat_source: well}\n"
      "  - {setpoint: 420 degC, heat_source: well}\n": ""},
     "fit: cvd", "fit 'cvd': 2 distinct setpoint(s) cannot determine R0, A, B; measure at least 3"),
])
def test_bad_input_names_the_line(copy, edit, fragment, reason):
    refused_at(copy(edit), fragment, reason)


def test_every_problem_is_reported_at_once(copy):
    path = copy({"{setpoint: 420 degC, heat_source: well}": "{setpoint: 700 degC, heat_source: well}",
                 "{setpoint: -40 degC, heat_source: bath}": "{setpoint: -90 degC, heat_source: bath}"})
    with pytest.raises(SourceError) as info:
        load_temperature_procedure(path, today=TODAY)
    text = str(info.value)
    assert len(info.value.problems) == 2
    assert f":{line_of(path.read_text(), '-90 degC')}: setpoint -90 °C is outside" in text
    assert f":{line_of(path.read_text(), '700 degC')}: setpoint 700 °C is outside" in text


def test_a_reference_past_due_is_refused_at_its_certificate_line(copy):
    path = copy(cert={"due: 2027-08-10": "due: 2026-11-30"})
    with pytest.raises(SourceError) as info:
        load_temperature_procedure(path, today=TODAY)
    cert = path.parent.parent / "references" / CERT.name
    due_line = line_of(cert.read_text(), "due: 2026-11-30")
    ref_line = line_of(path.read_text(), "certificate: ../references")
    text = str(info.value)
    assert text.startswith(f"{path}:{ref_line}: {cert.resolve()}:{due_line}: the reference "
                           "thermometer Fluke 5681 serial 1234 was due for calibration on 2026-11-30")
    assert "it is 2026-12-05" in text
    load_temperature_procedure(path, today=dt.date(2026, 11, 30))     # still usable on its due day


def test_a_coefficient_the_subrange_lacks_is_refused_in_the_certificate(copy):
    path = copy(cert={"a: -1.5e-5, b: -2.0e-6, c: 1.0e-6": "a: -1.5e-5, b: -2.0e-6, d: 1.0e-6"})
    with pytest.raises(SourceError, match=re.escape("'d' is not a coefficient of ITS-90 sub-range 7")):
        load_temperature_procedure(path, today=TODAY)


THERMOCOUPLE = """\
procedure: {id: TC, title: t, version: "1", method: m}
kind: temperature comparison
reference: {certificate: ../references/sprt-5681-1234.yaml, readout: fluke_1594a}
dut: {sensor: thermocouple, type: X, range: {min: 0 degC, max: 400 degC}, read_by: dmm}
dmm: keysight_34465a
heat_sources:
  well: {model: fluke_9144, safe_setpoint: 50 degC}
stability: {window: 5 min, max_slope: 0.01 K/min, max_std: 5 mK, timeout: 60 min}
settings: {readings: 4}
points:
  - {setpoint: 100 degC, heat_source: well}
"""


def test_an_unknown_thermocouple_type_is_refused(copy):
    path = copy()
    path.write_text(THERMOCOUPLE)
    with pytest.raises(SourceError) as info:
        load_temperature_procedure(path, today=TODAY)
    assert f"{path}:4: unknown thermocouple type 'X': the IEC 60584-1 tables have types B, E, J, K, N, R, S, T" \
        in str(info.value)
    path.write_text(THERMOCOUPLE.replace("type: X", "type: n"))
    p = load_temperature_procedure(path, today=TODAY)
    assert (p.dut.type, p.dut.reference_junction, p.dut.dmm_range) == ("N", "ice point", Q_(100, "mV"))
    assert p.evaluation["fit"] == 0          # one setpoint: an offset only, unless a fit is stated
    path.write_text(THERMOCOUPLE.replace("type: X", "type: N") + "evaluation: {fit: 2}\n")
    with pytest.raises(SourceError) as info:
        load_temperature_procedure(path, today=TODAY)
    assert f"{path}:12: fit 2: 1 distinct setpoint(s) cannot determine a degree-2 deviation " \
           "polynomial's 3 coefficients; measure at least 3 temperatures or fit less" in str(info.value)


def test_a_bad_date_in_the_reference_certificate_names_its_key_and_line(copy):
    path = copy(cert={"date: 2026-02-10": "date: 10.02.2026"})
    cert = path.parent.parent / "references" / CERT.name
    with pytest.raises(SourceError) as info:
        load_temperature_procedure(path, today=TODAY)
    line = line_of(cert.read_text(), "date: 10.02.2026")
    assert f"{cert.resolve()}:{line}: date: '10.02.2026' is not a date (YYYY-MM-DD)" in str(info.value)


DIGITAL = ROOT / "procedures" / "temperature" / "digital_thermometer.yaml"
IMMERSION = ("immersion: {depth: 150 mm, sensing_length: 20 mm, diameter: 3 mm, "
             "room: {min: 22 degC, max: 24 degC}}")


def test_the_digital_thermometers_immersion_loads():
    p = load_temperature_procedure(DIGITAL, today=TODAY)
    imm = p.dut.immersion
    assert (imm.depth_m, imm.sensing_length_m, imm.diameter_m) == pytest.approx((0.150, 0.020, 0.003))
    assert (imm.room_min_c, imm.room_max_c) == (22.0, 24.0)
    assert "dut_immersion" not in p.evaluation
    assert "150 mm deep" in p.points[0].steps[0].text


@pytest.mark.parametrize("edit, fragment, reason", [
    ({"depth: 150 mm": "depth: 79 mm"}, "depth: 79 mm",
     "immersed 79 mm: a 3 mm probe needs its sensing length plus 20 diameters, 80 mm"),
    ({"depth: 150 mm": "depth: 300 mm"}, "depth: 300 mm",
     "immersed 300 mm: deeper than the Fluke 7060's (bath) immersion depth 250 mm"),
    ({"room: {min: 22 degC, max: 24 degC}": "room: {min: 24 degC, max: 22 degC}"}, "room:",
     "the room's range 24 °C to 22 °C is empty"),
    ({", room: {min: 22 degC, max: 24 degC}": ""}, "immersion:", "room"),
    ({"  coverage_factor: 2": "  dut_immersion: 10 mK\n  coverage_factor: 2"}, "dut_immersion:",
     "state one or the other"),
])
def test_a_bad_immersion_is_refused_at_its_line(copy, edit, fragment, reason):
    assert IMMERSION in DIGITAL.read_text()
    refused_at(copy(edit, source=DIGITAL), fragment, reason)


PT100_IMMERSION = ("immersion: {depth: 200 mm, sensing_length: 30 mm, diameter: 6 mm, "
                   "room: {min: 22 degC, max: 24 degC}, heat_sources: [bath]}")


def test_the_pt100s_immersion_is_stated_for_the_bath_only():
    """The stem-conduction model and its rules are for stirred liquids: the Pt100's 200 mm is
    stated for the bath; its metrology-well points keep evaluation.dut_immersion (±5 mK)."""
    p = load_temperature_procedure(PT100, today=TODAY)
    imm = p.dut.immersion
    assert (imm.depth_m, imm.sensing_length_m, imm.diameter_m) == pytest.approx((0.200, 0.030, 0.006))
    assert p.dut.immersion_heat_sources == ("bath",)
    assert p.dut.immersion_in("bath") is imm and p.dut.immersion_in("well") is None
    assert p.evaluation["dut_immersion"].to("mK").m == pytest.approx(5.0)
    assert "to 200 mm" in p.points[0].steps[0].text
    # x = 170 mm = 28.33 D: |t - t_room,far| * 0.001^(28.33/20); at 100 °C 78 K * 5.62e-5
    assert imm.bound(100.0) == pytest.approx(78.0 * 0.001 ** (170 / 120), rel=1e-12)
    assert imm.bound(100.0) * 1e3 == pytest.approx(4.386, abs=5e-4)


@pytest.mark.parametrize("edit, fragment, reason", [
    ({"heat_sources: [bath]}": "heat_sources: [oven]}"}, "heat_sources: [oven]",
     "immersion: no heat source 'oven'; the procedure has bath, well"),
    ({"heat_sources: [bath]}": "heat_sources: bath}"}, "heat_sources: bath}",
     "immersion: heat_sources lists the names of the heat sources it is for"),
    # stated for the well too: 200 mm is deeper than the 9144's 150 mm
    ({"heat_sources: [bath]}": "heat_sources: [bath, well]}"}, "depth: 200 mm",
     "immersed 200 mm: deeper than the Fluke 9144's (well) immersion depth 150 mm"),
    # stated for every heat source (no heat_sources key): the same, and dut_immersion beside it
    ({", heat_sources: [bath]}": "}"}, "depth: 200 mm",
     "immersed 200 mm: deeper than the Fluke 9144's (well) immersion depth 150 mm"),
    ({", heat_sources: [bath]}": "}"}, "dut_immersion:", "state one or the other"),
])
def test_a_bad_immersion_of_the_pt100_is_refused_at_its_line(copy, edit, fragment, reason):
    assert PT100_IMMERSION in PT100.read_text()
    refused_at(copy(edit), fragment, reason)


RETURN = "  - {setpoint: 100 degC, heat_source: bath, id: T100C-return, return_of: T100C}\n"


def test_the_pt100s_hysteresis_is_checked_at_a_return_point():
    """100 °C again after 420 °C (DKD-R 5-1 / EURAMET practice): the budget's hysteresis is the
    measured difference, so evaluation.hysteresis is not stated."""
    p = load_temperature_procedure(PT100, today=TODAY)
    assert [q.id for q in p.points][-2:] == ["T420C", "T100C-return"]
    back = p.points[-1]
    assert (back.return_of, back.heat_source, back.setpoint.to("degC").m) == ("T100C", "bath", 100.0)
    assert back.to_dict()["return_of"] == "T100C" and "return_of" not in p.points[0].to_dict()
    assert "back into the bath" in back.steps[0].text
    assert "hysteresis" not in p.evaluation


@pytest.mark.parametrize("edit, fragment, reason", [
    ({"return_of: T100C}": "return_of: T150C}"}, "return_of: T150C",
     "return_of: no earlier point 'T150C'"),
    ({RETURN: RETURN.replace("100 degC", "50 degC")}, "return_of: T100C",
     "return_of: a return point revisits a first visit at its setpoint in its heat source; "
     "'T100C' is 100 °C in bath"),
    ({"  dut_immersion: 5 mK": "  hysteresis: 10 mK\n  dut_immersion: 5 mK"}, "hysteresis: 10 mK",
     "hysteresis: the DUT's hysteresis is measured at the return point (return_of)"),
    ({"id: T100C-return, ": ""}, "return_of: T100C", "duplicate point id 'T100C'"),
])
def test_a_bad_return_point_is_refused_at_its_line(copy, edit, fragment, reason):
    assert RETURN in PT100.read_text()
    refused_at(copy(edit), fragment, reason)
