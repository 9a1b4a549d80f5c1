"""Accreditation scope files and CMC formulas: parsing, units, overlaps, and every refusal
naming file:line (labauto.platform.server.cmc, scope_file)."""
from __future__ import annotations

import json

import pytest
from lxml import etree

from labauto.platform.server.cmc import CmcError, contains, format_value, kind, parse_cmc
from labauto.platform.server.dcc_results import extract_results
from labauto.platform.server.scope_file import ScopeFileError, parse

DCV = kind("DC voltage")

GOOD_CSV = """# accredited scope of Lab A (D-K-12345-01-00)
quantity,range_min,range_max,frequency_min,frequency_max,conditions,cmc,k
DC voltage,0 V,100 mV,,,,5 µV/V + 0.5 µV,2
DC voltage,100 mV,10 V,,,,2 µV/V + 1 µV,2
DC voltage,10 V,1000 V,,,,"3 ppm + 10 µV",2
AC voltage,10 mV,1 V,40 Hz,1 kHz,,100 µV/V + 5 µV at k = 2,
AC voltage,10 mV,1 V,1 kHz,100 kHz,,200 µV/V + 5 µV,2
resistance,1 Ω,10 kΩ,,,4-wire,1 Ω: 1 µΩ; 10 kΩ: 30 mΩ,2
"""


def test_cmc_formula_relative_plus_absolute():
    cmc = parse_cmc("2 µV/V + 1 µV", DCV)
    assert (cmc.relative, cmc.absolute, cmc.k) == (pytest.approx(2e-6), pytest.approx(1e-6), 2.0)
    assert cmc.at(10.0) == pytest.approx(21e-6)        # 2e-6 * 10 V + 1 µV
    assert cmc.at(-10.0) == pytest.approx(21e-6)
    assert parse_cmc("0.0005 % + 2 mV at k = 2", DCV).at(100) == pytest.approx(2.5e-3)
    assert parse_cmc("3 ppm + 10 µV (k=2.58)", DCV).k == 2.58
    assert parse_cmc("50 µV", DCV).at(1) == pytest.approx(50e-6)
    assert parse_cmc("1e+0 µV", DCV).absolute == pytest.approx(1e-6)


def test_cmc_table_interpolates_linearly():
    ohm = kind("resistance")
    cmc = parse_cmc("1 Ω: 1 µΩ; 10 kΩ: 30 mΩ", ohm, range_min=1, range_max=1e4)
    assert cmc.at(1.0) == pytest.approx(1e-6)
    assert cmc.at(1e4) == pytest.approx(30e-3)
    assert cmc.at(5000.5) == pytest.approx(1e-6 + (30e-3 - 1e-6) * 0.5)
    # a table point may be relative: 10 µΩ/Ω at 10 kΩ is 100 mΩ
    assert parse_cmc("1 Ω: 1 µΩ; 10 kΩ: 10 µΩ/Ω", ohm).at(1e4) == pytest.approx(0.1)


@pytest.mark.parametrize("text, message", [
    ("2 µV/V +", "does not parse"),
    ("two microvolts", "is not a quantity"),
    ("2 µA", "neither relative (µV/V, ppm, %) nor a DC voltage"),
    ("-1 µV", "negative"),
    ("0 µV", "is zero"),
    ("1 µV at k = 20", "implausible"),
    ("1 V: 5 µV", "at least two points"),
])
def test_cmc_formula_refusals(text, message):
    with pytest.raises(CmcError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_cmc(text, DCV)


@pytest.mark.parametrize("x, unit, text", [
    (2.1e-05, "V", "21 µV"), (2000.0, "V", "2 kV"), (-1.5e-3, "A", "-1.5 mA"), (0.015, "ohm", "15 mΩ"),
    (1e-6, "V", "1 µV"), (999.9e-9, "V", "999.9 nV"), (1e-12, "V", "1e-12 V"), (5e7, "Hz", "50 MHz"),
    (2e9, "Hz", "2000 MHz"), (0.0, "V", "0 V"), (0.05, "K", "50 mK"), (0.25, "kg", "0.25 kg"),
    (3e-3, "mV", "3 µV"), (0.5, "m/s", "0.5 m/s")])
def test_values_are_written_with_an_engineering_prefix(x, unit, text):
    # the search and verification answers format hundreds of values: pint is asked once per unit
    assert format_value(x, unit) == text


def test_engineering_prefix_is_the_one_units_chooses():
    from labauto.units import Q_, engineering_unit

    def with_pint(x, unit):
        q = Q_(x, unit)
        u = engineering_unit(q)
        return f"{q.to(u).magnitude:.4g} {u:~P}"
    for unit in ("V", "A", "ohm", "Hz", "F", "H", "W", "K", "Pa", "kg", "s", "mV", "kohm", "m/s"):
        for e in range(-13, 11):
            for m in (1.0, 2.5, 9.99949, -4.2):
                assert format_value(m * 10.0 ** e, unit) == with_pint(m * 10.0 ** e, unit), (m, e, unit)


def test_range_magnitudes():
    assert contains(1, 10, -10) and contains(1, 10, 5) and not contains(1, 10, 11)
    assert contains(-10, 10, -10) and not contains(-10, -1, 5)


def test_good_csv_scope():
    doc = parse(GOOD_CSV.encode(), "lab-a.csv")
    assert [r.line for r in doc.rows] == [3, 4, 5, 6, 7, 8]
    r = doc.rows[3]
    assert (r.kind.name, r.range_min, r.range_max, r.frequency_min, r.frequency_max) == (
        "AC voltage", pytest.approx(0.01), 1.0, 40.0, 1000.0)
    assert r.cmc.k == 2.0 and r.cmc.at(1.0) == pytest.approx(105e-6)
    assert doc.rows[2].cmc.at(10) == pytest.approx(40e-6)
    assert doc.rows[5].conditions == "4-wire" and doc.rows[5].cmc.table is not None


def test_good_json_scope_with_validity():
    text = json.dumps({"valid_from": "2026-01-01", "valid_until": "2027-12-31", "rows": [
        {"quantity": "DCV", "range_min": "1 V", "range_max": "10 V", "cmc": "2 µV/V + 1 µV", "k": 2},
        {"quantity": "DC current", "range_min": "1 mA", "range_max": "1 A", "cmc": "20 µA/A + 50 nA"}]}, indent=2)
    doc = parse(text, "scope.json")
    assert str(doc.valid_from) == "2026-01-01" and str(doc.valid_until) == "2027-12-31"
    assert [r.kind.name for r in doc.rows] == ["DC voltage", "DC current"]
    assert [r.line for r in doc.rows] == [5, 12]
    assert doc.rows[1].cmc.at(1.0) == pytest.approx(20.05e-6)


def _problems(text: str, name: str = "bad.csv") -> list[str]:
    with pytest.raises(ScopeFileError) as exc:
        parse(text, name)
    return str(exc.value).splitlines()


def test_malformed_csv_names_each_line():
    text = ("quantity,range_min,range_max,frequency_min,frequency_max,conditions,cmc,k\n"
            "DC voltage,1 V,10 V,,,,2 µV/V + 1 µV,2\n"       # 2: fine
            "DC voltage,10 A,100 V,,,,2 µV/V,2\n"            # 3: unit of another quantity
            "DC voltage,100 V,1000 V,,,,2 µV/V +,2\n"        # 4: CMC does not parse
            "DC wattage,1 V,10 V,,,,1 µV,2\n"                # 5: unknown quantity
            "AC voltage,1 V,10 V,,,,1 µV,2\n"                # 6: AC without a frequency band
            "DC voltage,5 V,20 V,,,,1 µV,2\n"                # 7: overlaps line 2
            "DC voltage,2000 V,1000 V,,,,1 µV,2\n"           # 8: min > max
            "DC voltage,1 kV,2 kV,,,,1 µV,2,extra\n"         # 9: too many cells
            "DC voltage,1 kV,2 kV,,,,1 µV,two\n")            # 10: k not a number
    lines = _problems(text)
    assert lines[0].startswith("bad.csv:3: range_min '10 A' is not a DC voltage")
    assert lines[1].startswith("bad.csv:4: CMC '2 µV/V +' does not parse")
    assert lines[2].startswith("bad.csv:5: unknown quantity 'DC wattage'")
    assert lines[3] == "bad.csv:6: AC voltage needs a frequency band (frequency_min, frequency_max)"
    assert lines[4] == "bad.csv:7: DC voltage 5 V to 20 V overlaps the row of line 2 (1 V to 10 V)"
    assert lines[5].startswith("bad.csv:8: range_min 2000 V is above range_max 1000 V")
    assert lines[6].startswith("bad.csv:9: 9 cells but the header (line 1) names 8 columns")
    assert lines[7] == "bad.csv:10: k 'two' is not a number"
    assert len(lines) == 8


def test_overlapping_frequency_bands_and_touching_ranges():
    head = "quantity,range_min,range_max,frequency_min,frequency_max,cmc\n"
    ok = head + "AC voltage,1 V,10 V,10 Hz,1 kHz,1 mV\nAC voltage,1 V,10 V,1 kHz,10 kHz,2 mV\n" \
                "AC voltage,10 V,100 V,10 Hz,1 kHz,10 mV\n"
    assert len(parse(ok, "ok.csv").rows) == 3          # touching at 1 kHz and at 10 V is allowed
    lines = _problems(head + "AC voltage,1 V,10 V,10 Hz,1 kHz,1 mV\nAC voltage,5 V,20 V,500 Hz,2 kHz,2 mV\n")
    assert lines == ["bad.csv:3: AC voltage 5 V to 20 V at 500 Hz to 2 kHz overlaps the row of line 2 "
                     "(1 V to 10 V at 10 Hz to 1 kHz)"]
    lines = _problems(head + "DC voltage,1 V,10 V,,,1 mV\nDC voltage,10 V,10 V,,,2 mV\n")
    assert "overlaps the row of line 2" in lines[0]     # a point row inside another row's range


def test_malformed_json_and_headers():
    assert _problems('{"rows": [\n  {"quantity": "DCV",\n  }\n]}', "s.json")[0].startswith(
        "s.json:3: not valid JSON")
    lines = _problems(json.dumps({"rows": [{"quantity": "DCV", "range_min": "1 V", "range_max": "10 V",
                                            "cmc": "1 µV", "colour": "red"}]}, indent=1), "s.json")
    assert lines[0].startswith("s.json:3: unknown column(s) 'colour'")
    assert _problems("quantity,min,max\n")[0].startswith("bad.csv:1: the header must name the columns")
    assert _problems("# nothing\n") == ["bad.csv: no header line (quantity,range_min,range_max,...,cmc,k)"]
    assert _problems("quantity,range_min,range_max,cmc\n") == ["bad.csv: the scope has no rows"]
    assert _problems(b"\xff\xfe", "x.csv")[0].startswith("x.csv: not UTF-8")


def test_results_of_ptb_example_are_temperatures(dcc_dir):
    """PTB's valid.xml: five errors of a thermometer with one U = 0.061 K (k = 2) for all,
    at the reference values 306.248 K ... 593.154 K."""
    results = extract_results(etree.parse(str(dcc_dir / "examples" / "valid.xml")).getroot())
    assert [r.kind.name for r in results] == ["temperature"] * 5
    assert [r.value for r in results] == [306.248, 373.121, 448.253, 523.319, 593.154]
    assert {(r.uncertainty, r.k, r.unit) for r in results} == {(0.061, 2.0, "K")}


def test_results_that_are_not_finite_numbers_are_skipped(dcc_template):
    from labauto.platform.server.testing import dcc_with_results
    xml = dcc_with_results(dcc_template, [{"nominal": "10 V", "U": "20 µV"}, {"nominal": "1 V", "U": "5 µV"}])
    xml = xml.replace(b"<si:value>10.0</si:value>", b"<si:value>NaN</si:value>")
    results = extract_results(etree.fromstring(xml))
    assert [(r.value, r.uncertainty) for r in results] == [(1.0, pytest.approx(5e-6))]


def test_temperature_differences_in_celsius_are_kelvin():
    """0.05 °C as a CMC term or an uncertainty is a difference of 0.05 K, not 273.2 K (pint
    prints °C as a symbol; the unit is recognised by its name)."""
    t = kind("temperature")
    cmc = parse_cmc("0.05 °C + 10 µK/K", t)
    assert (cmc.relative, cmc.absolute) == (pytest.approx(1e-5), pytest.approx(0.05))
    assert parse_cmc("0.09 °F", t).absolute == pytest.approx(0.05)
    assert parse("quantity,range_min,range_max,cmc\ntemperature,-40 °C,150 °C,0.02 °C\n", "t.csv").rows[0].range_min \
        == pytest.approx(233.15)


def test_results_in_celsius(dcc_template):
    from labauto.platform.server.testing import dcc_with_results
    xml = dcc_with_results(dcc_template, [{"nominal": "20 °C", "U": "0.05 K"}, {"nominal": "-40 °C", "U": "0.1 °C"}])
    assert b"<si:valueExpandedMU>0.05</si:valueExpandedMU>" in xml       # written as a difference in °C
    results = extract_results(etree.fromstring(xml))
    assert [(r.kind.name, r.unit) for r in results] == [("temperature", "K")] * 2
    assert [r.value for r in results] == [pytest.approx(293.15), pytest.approx(233.15)]
    assert [r.uncertainty for r in results] == [pytest.approx(0.05), pytest.approx(0.1)]
