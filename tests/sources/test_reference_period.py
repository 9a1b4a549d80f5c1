"""A reference meter by the figures of another specification period than its model file's own
(``reference: {specification: 24 hours}``: the 3458A within 24 hours of its CAL 10): the model
file's ``periods:``, the procedure, and bad input by file and line."""
from __future__ import annotations

import pytest

from labauto.instruments import load_instrument_model
from labauto.procedure import ProcedureError, load_procedure
from labauto.units import Q_

from tests.sources.simulated_run import ROOT

METER = load_instrument_model("keysight_3458a")


def test_the_3458a_states_its_24_hour_and_90_day_dc_figures():
    # data sheet 5965-4971 (ELOWRO/Meter-Accuracy, Keysight_3458A.json), ppm of reading + range:
    # 10 V range 0.5 + 0.05 (24 h), 4.1 + 0.05 (90 d), 8 + 0.05 (1 y); 1 A range 100 + 10 (24 h)
    def at(period, fn, rng, value):
        model = METER if period is None else METER.for_period(period)
        r = model.function(fn).range_named(Q_(*rng))
        return r.accuracy_halfwidth(Q_(*value))
    assert at("24 hours", "DCV", (10, "V"), (10, "V")).to("uV").m == pytest.approx(5.5)
    assert at("90 days", "DCV", (10, "V"), (10, "V")).to("uV").m == pytest.approx(41.5)
    assert at(None, "DCV", (10, "V"), (10, "V")).to("uV").m == pytest.approx(80.5)
    assert at("24 hours", "DCI", (1, "A"), (1, "A")).to("uA").m == pytest.approx(110)
    day = METER.for_period("24 hours")
    assert set(day.functions) == {"DCV", "DCI"} and day.key == METER.key
    with pytest.raises(KeyError, match="states no 2 days specification"):
        METER.for_period("2 days")


def _with(tmp_path, name, old, new):
    text = (ROOT / "procedures" / name).read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


def test_a_period_the_model_lacks_or_a_function_without_it_is_refused_by_line(tmp_path):
    dcv = _with(tmp_path, "fluke_5522a_dcv_3458a.yaml", "reference: {specification: 24 hours}",
                "reference: {specification: 2 days}")
    line = next(i for i, t in enumerate(dcv.read_text().splitlines(), 1) if "2 days" in t)
    with pytest.raises(ProcedureError, match=rf"{dcv.name}:{line}: .*states no 2 days"):
        load_procedure(dcv)
    # AC figures are the same from 24 hours to 2 years: the model file states no 24-hour ACV
    acv = _with(tmp_path, "fluke_5522a_acv_3458a.yaml", "reference: specification",
                "reference: {specification: 24 hours}")
    with pytest.raises(ProcedureError, match=r"states 24 hours figures for DCV, DCI only, not ACV"):
        load_procedure(acv)
    assert load_procedure(ROOT / "procedures" / "fluke_5522a_acv_3458a.yaml").reference == \
        "specification"
