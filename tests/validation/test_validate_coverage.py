"""``labauto validate``: coverage, decision risk and normalized errors by simulated calibration."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from labauto.cli import app
from labauto.procedure import load_procedure
from labauto.units import Q_
from labauto.validation import truth as truth_mod
from labauto.validation.montecarlo import simulate_run, simulated_lab
from labauto.validation.stats import clopper_pearson
from labauto.validation.validate import validate_procedure

QUICK = "procedures/keysight_34465a_dcv_quick.yaml"


@pytest.fixture(scope="module")
def quick(project_root):
    return load_procedure(project_root / QUICK)


def test_clopper_pearson_against_published_values():
    # R 4.x, binom.test(10, 20)$conf.int: 0.2719578 0.7280422 (exact Clopper-Pearson, 95 %)
    lo, hi = clopper_pearson(10, 20)
    assert lo == pytest.approx(0.2719578, abs=5e-7)
    assert hi == pytest.approx(0.7280422, abs=5e-7)
    # closed forms at the edges (Clopper & Pearson 1934): x = 0 -> [0, 1 - (a/2)^(1/n)],
    # x = n -> [(a/2)^(1/n), 1]; n = 100: 1 - 0.025^(1/100) = 0.03621669
    assert clopper_pearson(0, 100) == pytest.approx((0.0, 0.03621669), abs=1e-8)
    assert clopper_pearson(100, 100) == pytest.approx((0.96378331, 1.0), abs=1e-8)


def test_reference_errors_follow_its_stated_specification(quick):
    """The 5522A states its accuracy at 99 %: the reference's true error at 10 V over many
    draws has sigma = spec / 2.576 and mean 0."""
    point = quick.point("DCV-10V-+10V")
    spec = point.standard_spec.to("V").magnitude
    errors = [truth_mod.StatedErrors(quick.standard_model, np.random.default_rng([seed, 11]))
              .error("DCV", point.standard_range, 10.0, None) / spec for seed in range(1000)]
    e = np.asarray(errors)
    # sd of a sample of 1000 from N(0, 1/2.576): 0.3882 +- 2.2 % (1 sigma)
    assert e.std(ddof=1) == pytest.approx(1 / 2.576, rel=0.08)
    assert abs(e.mean()) < 4 * (1 / 2.576) / math.sqrt(1000)
    assert np.abs(e).max() < 5 / 2.576


def test_one_run_measures_and_evaluates_every_point(quick):
    run = simulate_run(quick, seed=7)
    assert run.error == ""
    assert [p.point_id for p in run.points] == [p.id for p in quick.points]
    lab = simulated_lab(quick, 7)     # the same seed: the same true errors
    for p, outcome in zip(quick.points, run.points):
        true = lab.truth.dut_error_at_setting(p.function, p.range, p.nominal, p.frequency)
        assert outcome.true == pytest.approx(true.to(outcome.unit.replace("µ", "u")).magnitude)
        assert outcome.expanded > 0 and outcome.combined > 0
        assert outcome.expanded == pytest.approx(outcome.coverage_factor * outcome.combined, rel=0.1)
        # the measured error is the true error give or take a few U
        assert abs(outcome.measured - outcome.true) < 4 * outcome.expanded


def test_validate_cli_json(project_root):
    r = CliRunner().invoke(app, ["validate", str(project_root / QUICK), "--runs", "40",
                                 "--seed", "3", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["runs"] == 40 and d["failed_runs"] == [] and d["ok"] is True
    assert [p["id"] for p in d["points"]] == ["DCV-100mV-+100mV", "DCV-10V-+10V",
                                                "DCV-10V--10V", "DCV-100V-+100V"]
    for p in d["points"]:
        lo, hi = p["coverage_interval"]
        assert p["coverage"] == p["covered"] / 40
        assert lo <= p["coverage"] <= hi
        assert (lo, hi) == pytest.approx(clopper_pearson(p["covered"], 40))
        flo, fhi = p["familywise_interval"]      # 1 - 5 %/4: wider than the 95 % interval
        assert flo <= lo <= hi <= fhi
        assert (flo, fhi) == pytest.approx(clopper_pearson(p["covered"], 40, 1 - 0.05 / 4))
        assert flo <= 0.95 or p["verdict"] == "over-covers"
        assert p["verdict"] != "under-covers"
        z = p["normalized_errors"]
        assert 0.0 <= z["ks_pvalue"] <= 1.0 and 0.5 < z["std"] < 1.5
        dec = p["decisions"]
        assert dec["accepted"] + dec["rejected"] == 40


def test_same_seed_same_result(quick):
    a = validate_procedure(quick, runs=4, seed=11).to_dict()
    b = validate_procedure(quick, runs=4, seed=11).to_dict()
    c = validate_procedure(quick, runs=4, seed=12).to_dict()
    forked = validate_procedure(quick, runs=4, seed=11, workers=2).to_dict()   # 2 processes
    strip = lambda d: [{k: v for k, v in p.items()} for p in d["points"]]  # noqa: E731
    assert strip(a) == strip(b) == strip(forked)
    assert strip(a) != strip(c)


def test_a_reference_worse_than_its_specification_is_caught(quick, monkeypatch):
    """The check can fail: a reference whose errors are 4 x what its specification states
    makes the 10 V points' U under-cover (the standard dominates their budget)."""
    original = truth_mod.StatedErrors.draw
    monkeypatch.setattr(truth_mod.StatedErrors, "draw",
                        lambda self, *a: 4.0 * original(self, *a))
    r = CliRunner().invoke(app, ["validate", str(quick.path), "--runs", "40", "--seed", "5",
                                 "--json"])
    assert r.exit_code == 1, r.output
    d = json.loads(r.stdout)
    verdicts = {p["id"]: p["verdict"] for p in d["points"]}
    assert verdicts["DCV-10V-+10V"] == "under-covers"
    assert verdicts["DCV-10V--10V"] == "under-covers"
    assert d["ok"] is False


def test_bad_procedure_file_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("procedure:\n  id: X\n")
    r = CliRunner().invoke(app, ["validate", str(bad), "--runs", "2"])
    assert r.exit_code == 2
    assert "bad.yaml" in r.output


def _one_point(procedure, point_id):
    import dataclasses
    return dataclasses.replace(procedure, points=(procedure.point(point_id),))


def test_a_counter_reads_past_its_specified_1_mhz(project_root):
    """8846A, FREQ point at 1 MHz, the top of its specification: a source a few ppm high was
    read as an overload and stopped the run (found by labauto validate)."""
    proc = _one_point(load_procedure(project_root / "procedures" / "fluke_8846a_verification.yaml"),
                      "FREQ-1MHz-+1MHz")
    point = proc.points[0]

    def reading_above_1_mhz(seed: int) -> bool:
        truth = simulated_lab(proc, seed).truth
        applied = truth.calibrator_output(point.nominal, "FREQ")
        return (applied + truth.dut_error("FREQ", point.range, applied)).to("Hz").magnitude > 1e6

    seed = next(s for s in range(50) if reading_above_1_mhz(s))
    run = simulate_run(proc, seed)
    assert run.error == ""
    assert run.points[0].measured > 0 and run.points[0].unit == "Hz"


def test_a_meter_offset_below_zero_ohm_is_a_result(project_root):
    """34401A, RES4W 0 ohm point: a negative offset reads a few mohm below zero; the run went on
    to stop as 'outside what the range can indicate (0 .. 120 ohm)'."""
    proc = _one_point(load_procedure(project_root / "procedures" / "keysight_34401a_verification.yaml"),
                      "RES4W-100Ohm-0Ohm")
    point = proc.points[0]
    seed = next(s for s in range(200) if simulated_lab(proc, s).truth.dut_error_at_setting(
        "RES4W", point.range, point.nominal).to("ohm").magnitude < -1e-3)
    run = simulate_run(proc, seed)
    assert run.error == ""
    assert run.points[0].measured < 0          # the DUT's negative offset, measured



def test_validate_table_in_a_pipe_cuts_no_value(project_root):
    """Out of a terminal (a pipe, a file: CliRunner's 80 columns) the table is printed at its
    natural width: every point id, coverage and verdict whole (they were cut to 'DCV-100m…',
    '1.0…' and 'consi…' at 80 columns)."""
    r = CliRunner().invoke(app, ["validate", str(project_root / QUICK), "--runs", "8",
                                 "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert "…" not in r.output
    rows = [line for line in r.output.splitlines() if line.startswith("│ DCV-")]
    assert [row.split("│")[1].strip() for row in rows] == [
        "DCV-100mV-+100mV", "DCV-10V-+10V", "DCV-10V--10V", "DCV-100V-+100V"]
    for row in rows:
        cells = [c.strip() for c in row.split("│")[1:-1]]
        assert cells[4] == "consistent" and 0 <= float(cells[1]) <= 1
        lo, hi = (float(x) for x in cells[2].strip("[]").split(","))
        assert lo <= float(cells[1]) <= hi
