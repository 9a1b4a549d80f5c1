"""Instrument model files: the function table, specifications per range and frequency band,
and command templates validated against the role when the file loads (file:line)."""
from __future__ import annotations

from pathlib import Path

import pytest

from labauto.errors import SourceError
from labauto.instruments import load_instrument_model
from labauto.units import Q_

ROOT = Path(__file__).resolve().parents[2]

METER = """\
manufacturer: Acme
model: M1
role: meter
identity: '^Acme,M1,(?P<serial>[^,]+),(?P<firmware>.+)$'
commands:
  configure: "CONF:{mnemonic} {range}"
  read: "READ?"
  settings:
    nplc: "{mnemonic}:NPLC {value}"
functions:
  DCV:
    quantity: V
    mnemonic: VOLT
    settings:
      nplc: {values: [1, 10], default: 10}
    ranges:
      - {range: 10 V, resolution: 10 uV, accuracy: {reading: 0.01 %}}
"""


def _error(model_dir, text: str) -> SourceError:
    path = model_dir("m1", text)
    with pytest.raises(SourceError) as exc:
        load_instrument_model(str(path))
    return exc.value


def test_the_34465a_and_5522a_describe_every_function():
    for key in ("keysight_34465a", "fluke_5522a"):
        m = load_instrument_model(key)
        assert set(m.functions) == {"DCV", "ACV", "DCI", "ACI", "RES2W", "RES4W", "FREQ"}
        assert m.datasheet and all(f.specification for f in m.functions.values())


def test_ac_specification_per_frequency_band():
    # 34465A ACV 1 V range, 10 Hz to 20 kHz: 0.06 % of reading + 0.04 % of range
    r = load_instrument_model("keysight_34465a").function("ACV").range_named(Q_(1, "V"))
    assert r.accuracy_halfwidth(Q_(1, "V"), Q_(1, "kHz")).to("mV").m == pytest.approx(1.0)
    # 50 kHz to 100 kHz: 0.60 % + 0.08 %
    assert r.accuracy_halfwidth(Q_(0.5, "V"), Q_(60, "kHz")).to("mV").m == pytest.approx(3.8)
    with pytest.raises(KeyError, match="outside every specified band"):
        r.accuracy_halfwidth(Q_(1, "V"), Q_(1, "MHz"))
    with pytest.raises(KeyError, match="give a frequency"):
        r.accuracy_halfwidth(Q_(1, "V"))
    # 5522A ACV 3.29999 V range, 45 Hz to 10 kHz: 150 ppm + 60 uV
    c = load_instrument_model("fluke_5522a").function("ACV").range_for(Q_(1, "V"))
    assert c.accuracy_halfwidth(Q_(1, "V"), Q_(1, "kHz")).to("uV").m == pytest.approx(210)


def test_frequency_function_picks_its_band_by_its_value():
    r = load_instrument_model("keysight_34465a").function("FREQ").ranges[0]
    assert r.accuracy_halfwidth(Q_(1, "kHz")).to("Hz").m == pytest.approx(0.1)    # 0.01 %
    assert r.accuracy_halfwidth(Q_(20, "Hz")).to("mHz").m == pytest.approx(6.0)   # 0.03 %


def test_a_minimal_meter_file_loads(model_dir):
    m = load_instrument_model(str(model_dir("m1", METER)))
    assert m.role == "meter" and m.function("DCV").commands["configure"] == "CONF:{mnemonic} {range}"
    assert m.function("DCV").setting_commands == {"nplc": "{mnemonic}:NPLC {value}"}


@pytest.mark.parametrize("change, line, fragment", [
    (("{mnemonic} {range}", "{mnemonc} {range}"), 6, "uses {mnemonc}"),
    (('  configure: "CONF', '  configur: "CONF'), 6, "did you mean 'configure'"),
    (('  read: "READ?"\n', ''), 10, "operation 'read' has no command template"),  # the DCV row
    (('    nplc: "{mnemonic}:NPLC {value}"\n', '    nplc: "{mnemonic}:NPLC {valu}"\n'), 9, "uses {valu}"),
    (("      nplc: {values: [1, 10], default: 10}", "      nplc: {values: [1, 10], default: 3}"), 15,
     "not offered"),
    (("      - {range: 10 V, resolution: 10 uV, accuracy: {reading: 0.01 %}}",
      "      - {range: 10 V, resolution: 10 uV, acuracy: {reading: 0.01 %}}"), 17, "'acuracy'"),
])
def test_a_typo_is_caught_at_load_with_its_line(model_dir, change, line, fragment):
    err = _error(model_dir, METER.replace(*change))
    assert err.line == line, str(err)
    assert fragment in err.reason, err.reason
    assert "m1/model.yaml" in str(err)


def test_a_setting_without_template_and_an_unused_setting_template(model_dir):
    text = METER.replace("      nplc: {values: [1, 10], default: 10}",
                         "      nplc: {values: [1, 10], default: 10}\n"
                         "      autozero: {values: [true, false], default: true}")
    err = _error(model_dir, text)
    assert err.line == 16 and "setting 'autozero' has no command template" in err.reason
    text = METER.replace('    nplc: "{mnemonic}:NPLC {value}"',
                         '    nplc: "{mnemonic}:NPLC {value}"\n    aperture: "APER {value}"')
    err = _error(model_dir, text)
    assert err.line == 10 and "used by no function" in err.reason


def test_an_ac_source_function_needs_an_ac_template(model_dir):
    text = (ROOT / "instruments" / "fluke_5522a" / "model.yaml").read_text()
    text = text.replace('  output_ac: "OUT {value} {unit}, {frequency} HZ"\n', "")
    path = model_dir("src", text)
    with pytest.raises(SourceError, match="needs an 'output_ac' command template"):
        load_instrument_model(str(path))


def test_bands_must_increase(model_dir):
    text = METER.replace("      - {range: 10 V, resolution: 10 uV, accuracy: {reading: 0.01 %}}",
                         "      - range: 10 V\n        resolution: 10 uV\n        bands:\n"
                         "          - {from: 1 kHz, to: 10 kHz, accuracy: {reading: 0.1 %}}\n"
                         "          - {from: 10 Hz, to: 1 kHz, accuracy: {reading: 0.1 %}}")
    err = _error(model_dir, text)
    assert err.line == 21 and "overlaps" in err.reason


# The functions whose 1-year figures were written from memory (docs/instruments.md, "Figures
# not checked (search of 2026-12-06)"): each must say so in its `specification:`; every other
# function cites the page it was checked against.  A mark dropped without checking, or a
# checked function still marked, fails here (update the doc's table with the file).
FROM_MEMORY = {
    "keysight_34465a": {"DCV", "ACV", "DCI", "ACI", "RES2W", "RES4W", "FREQ"},
    "keysight_34401a": {"DCI", "ACI", "FREQ"},        # DCI: its shunt resistances only
    "fluke_8846a": {"ACV", "ACI", "FREQ"},            # ACI: 100 uA and 1 mA above 10 Hz only
    "keithley_dmm6500": {"ACV", "DCI", "RES2W", "FREQ"},
    "fluke_5522a": set(),
    "keysight_3458a": {"RES4W", "RES2W", "ACV", "ACI"},
    "keysight_e36312a": {"DCV", "DCI"},
}


@pytest.mark.parametrize("key", sorted(FROM_MEMORY))
def test_every_electrical_model_cites_its_datasheet_and_marks_figures_from_memory(key):
    import re

    m = load_instrument_model(key)
    assert m.datasheet and len(m.datasheet) > 40, key          # the document, not a word
    marked = {name for name, f in m.functions.items() if "from memory" in f.specification.lower()}
    assert marked == FROM_MEMORY[key]
    for name, f in m.functions.items():
        if name not in marked:
            assert re.search(r"\bp\. ?\d", f.specification), (key, name, f.specification)
    # a pyvisa-sim dialogue for the driver tests (the physics: labauto.sim, from this file)
    assert m.simulation is not None and m.simulation.exists()
