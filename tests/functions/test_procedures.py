"""Procedures with points of any function: checked against the models before any instrument is
touched, every problem at its file:line."""
from __future__ import annotations

import glob

from pathlib import Path

import pytest

from labauto.procedure import ProcedureError, load_procedure
from labauto.units import Q_

ROOT = Path(__file__).resolve().parents[2]

HEAD = """\
procedure:
  id: T-MULTI
  title: Multi-function test
  version: "1.0"
  method: Direct comparison
dut: keysight_34465a
standard: fluke_5522a
settings:
  readings: 3
  settle_time: 1 s
  nplc: 10
decision_rule: simple-acceptance
points:
"""   # points start at line 14


def _problems(write_procedure, *lines: str) -> list[tuple[int, str]]:
    with pytest.raises(ProcedureError) as exc:
        load_procedure(write_procedure(HEAD + "\n".join(lines) + "\n"))
    return list(exc.value.problems)


def test_points_of_every_function(write_procedure):
    p = load_procedure(write_procedure(HEAD + "\n".join([
        "  - {function: DCV, range: 10 V, nominal: 10 V}",
        "  - {function: ACV, range: 1 V, nominal: 1 V, frequency: [20 Hz, 1 kHz]}",
        "  - step: Move the lead to the 3 A terminal",
        "  - {function: DCI, range: 1 A, nominal: 1 A}",
        "  - {function: ACI, range: 1 A, nominal: 1 A, frequency: 1 kHz}",
        "  - {function: RES4W, range: 1 kohm, nominal: 1 kohm, settings: {offset_compensation: true}}",
        "  - {function: RES2W, range: 1 kohm, nominal: 1 kohm}",
        "  - {function: FREQ, range: 300 kHz, nominal: 1 kHz}",
    ]) + "\n"))
    ids = [pt.id for pt in p.points]
    assert ids == ["DCV-10V-+10V", "ACV-1V-+1V-20Hz", "ACV-1V-+1V-1kHz", "DCI-1A-+1A",
                   "ACI-1A-+1A-1kHz", "RES4W-1kOhm-+1kOhm", "RES2W-1kOhm-+1kOhm",
                   "FREQ-300kHz-+1kHz"]
    by = {pt.id: pt for pt in p.points}
    assert by["DCV-10V-+10V"].meter_settings == {"nplc": 10.0, "autozero": True}
    # the fastest AC filter the signal allows: 20 Hz at 20 Hz, 200 Hz at 1 kHz
    assert by["ACV-1V-+1V-20Hz"].meter_settings == {"bandwidth": Q_(20, "Hz")}
    assert by["ACV-1V-+1V-1kHz"].meter_settings == {"bandwidth": Q_(200, "Hz")}
    assert by["RES4W-1kOhm-+1kOhm"].meter_settings["offset_compensation"] is True
    assert by["RES4W-1kOhm-+1kOhm"].source_settings == {"compensation": "NONE"}
    assert by["RES2W-1kOhm-+1kOhm"].source_settings == {"compensation": "WIRE2"}
    assert [s.text for s in by["DCI-1A-+1A"].steps] == ["Move the lead to the 3 A terminal"]
    assert by["DCI-1A-+1A"].steps[0].line == 16
    # tolerances per function and band: 34465A ACV 1 V at 20 Hz: 0.06 % + 0.04 % of 1 V
    assert by["ACV-1V-+1V-20Hz"].tolerance.to("mV").m == pytest.approx(1.0)
    # 34465A 4-wire 1 kOhm: 0.0080 % of reading + 0.0006 % of range = 86 mOhm
    assert by["RES4W-1kOhm-+1kOhm"].tolerance.to("mohm").m == pytest.approx(86)
    # 2-wire: + 0.2 Ohm (no math null)
    assert by["RES2W-1kOhm-+1kOhm"].tolerance.to("mohm").m == pytest.approx(286)
    # FREQ 1 kHz: 0.01 %; standard: 2.5 ppm + 5 uHz
    assert by["FREQ-300kHz-+1kHz"].tolerance.to("Hz").m == pytest.approx(0.1)
    assert by["FREQ-300kHz-+1kHz"].standard_spec.to("mHz").m == pytest.approx(2.505)
    assert p.functions == ("DCV", "ACV", "DCI", "ACI", "RES4W", "RES2W", "FREQ")


@pytest.mark.parametrize("line, fragment", [
    ("  - {function: TEMP, range: 10 V, nominal: 10 V}", "function 'TEMP' is not supported"),
    ("  - {function: DCI, range: 2 A, nominal: 1 A}", "no DCI range 2 A"),
    ("  - {function: ACV, range: 1 V, nominal: 1 V}", "an ACV point needs a frequency"),
    ("  - {function: ACV, range: 1 V, nominal: 1 V, frequency: 1 MHz}",
     "1 MHz is outside every specified band"),
    ("  - {function: DCV, range: 1 V, nominal: 1 V, frequency: 1 kHz}", "DCV is not an AC function"),
    ("  - {function: ACV, range: 1 V, nominal: 1 V, frequency: 50 Hz, settings: {bandwidth: 200 Hz}}",
     "the 200 Hz AC filter is specified for signals above 200 Hz"),
    ("  - {function: ACV, range: 1 V, nominal: 1 V, frequency: 1 kHz, settings: {nplc: 10}}",
     "ACV has no setting 'nplc'"),
    ("  - {function: ACI, range: 10 A, nominal: 10 A, frequency: 20 Hz}",
     "20 Hz is outside every specified band"),                   # 5522A 11 A range: from 45 Hz
])
def test_bad_points_are_refused_at_their_line(write_procedure, line, fragment):
    problems = _problems(write_procedure, line)
    assert len(problems) == 1, problems
    assert problems[0][0] == 14 and fragment in problems[0][1], problems


def _model_variant(model_dir, name: str, edit) -> None:
    text = (ROOT / "instruments" / "keysight_34465a" / "model.yaml").read_text()
    model_dir(name, edit(text).replace("model: 34465A", f"model: {name.upper()}"))


def test_four_wire_on_a_two_wire_only_model(write_procedure, model_dir):
    def drop_res4w(text: str) -> str:
        start = text.index("  RES4W:")
        return text[:start] + text[text.index("  FREQ:"):]
    _model_variant(model_dir, "twowire", drop_res4w)
    text = HEAD.replace("dut: keysight_34465a", "dut: twowire")
    with pytest.raises(ProcedureError) as exc:
        load_procedure(write_procedure(text + "  - {function: RES4W, range: 1 kohm, nominal: 1 kohm}\n"))
    (line, reason), = exc.value.problems
    assert line == 14 and "has no function 'RES4W'" in reason and "2-wire-only model" in reason


def test_a_source_point_beyond_its_compliance(write_procedure, model_dir):
    # a meter whose 10 A shunt is 1 ohm: 10 A needs 10 V, the 5522A gives 4 V on its 20 A range
    _model_variant(model_dir, "bigshunt", lambda t: t.replace(
        "{range: 10 A,   full_scale: 12 A,    resolution: 10 uA,  shunt_resistance: 0.01 ohm",
        "{range: 10 A,   full_scale: 12 A,    resolution: 10 uA,  shunt_resistance: 1 ohm"))
    text = HEAD.replace("dut: keysight_34465a", "dut: bigshunt")
    with pytest.raises(ProcedureError) as exc:
        load_procedure(write_procedure(text + "  - {function: DCI, range: 10 A, nominal: [1 A, 10 A]}\n"))
    (line, reason), = exc.value.problems
    assert line == 14 and "needs 10 V, beyond the Fluke 5522A's compliance voltage 4 V" in reason


def test_contributions_per_function_and_range(write_procedure):
    text = HEAD.replace("points:\n", "contributions:\n"
                        "  - {name: heat, function: DCI, range: [10 A], distribution: rectangular, half_width: 500 ppm}\n"
                        "  - {name: emf, function: DCV, distribution: rectangular, half_width: 1 uV}\n"
                        "points:\n")
    p = load_procedure(write_procedure(text + "  - {function: DCI, range: 10 A, nominal: 10 A}\n"
                                              "  - {function: DCI, range: 1 A, nominal: 1 A}\n"
                                              "  - {function: DCV, range: 1 V, nominal: 1 V}\n"))
    assert [[c.name for c in pt.contributions] for pt in p.points] == [["heat"], [], ["emf"]]
    # a relative amount is taken of the nominal: 500 ppm of 10 A = 5 mA half-width
    heat = p.points[0].contributions[0].as_input("A", p.points[0].nominal)
    assert heat.u.to("mA").m == pytest.approx(5 / 3 ** 0.5)


def test_a_step_after_the_last_point_is_refused(write_procedure):
    problems = _problems(write_procedure, "  - {range: 1 V, nominal: 1 V, function: DCV}",
                         "  - step: Remove the leads")
    assert len(problems) == 1 and "comes after the last point" in problems[0][1]


def test_every_bundled_procedure_is_valid():
    files = sorted(glob.glob(str(ROOT / "procedures" / "*.yaml")))
    assert len(files) >= 3
    for f in files:
        assert load_procedure(f).points
