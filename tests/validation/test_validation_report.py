"""The validation report (HTML with inline SVG plots) and the ``validate`` Prefect flow."""
from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from labauto.cli import app
from labauto.procedure import load_procedure
from labauto.validation.montecarlo import simulate
from labauto.validation.report import render_html
from labauto.validation.stats import summarize
from labauto.validation.validate import validate_procedure

QUICK = "procedures/keysight_34465a_dcv_quick.yaml"


@pytest.fixture(scope="module")
def quick(project_root):
    return load_procedure(project_root / QUICK)


@pytest.fixture(scope="module")
def result(quick):
    return validate_procedure(quick, runs=12, seed=2)


def test_report_states_what_was_validated_with_both_plots(result, quick):
    text = render_html(result, procedure_title=quick.title, procedure_version=quick.version,
                       procedure_sha256=quick.sha256)
    assert quick.sha256 in text and "KS34465A-DCV-QUICK" in text
    assert text.count("<svg") == 2                      # coverage plot, normalized-error histogram
    for p in result.points:                             # every point in the table
        assert f"<td class=l>{p.point_id}</td><td>{p.covered}/12</td>" in text
    # the coverage plot has one band per point (a vertical line collection of 4 segments)
    assert "12 runs: coverage with its 95% Clopper-Pearson interval" in text
    assert "normalized errors, 48 values" in text       # 4 points x 12 runs
    assert "reviewed by" in text


def test_report_says_when_U_under_covers(quick, monkeypatch):
    from labauto.validation import truth as truth_mod
    original = truth_mod.StatedErrors.draw
    monkeypatch.setattr(truth_mod.StatedErrors, "draw", lambda self, *a: 6.0 * original(self, *a))
    bad = validate_procedure(quick, runs=20, seed=5)
    text = render_html(bad)
    assert "do NOT hold" in text
    assert re.search(r"U under-covers at [^.]*DCV-10V-\+10V", text)


def test_cli_writes_the_report(project_root, tmp_path):
    out = tmp_path / "reports" / "quick.html"
    r = CliRunner().invoke(app, ["validate", str(project_root / QUICK), "--runs", "6",
                                 "--report", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_chunks_give_the_same_outcomes_as_one_pass(quick):
    whole = list(simulate(quick, 4, seed=9))
    parts = list(simulate(quick, 2, seed=9)) + list(simulate(quick, 2, seed=9, first=2))
    assert whole == parts


@pytest.mark.prefect
def test_validate_flow_publishes_the_summary_artifact(prefect_harness, quick, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.validate import validate

    report = tmp_path / "v.html"
    d = validate(str(quick.path), runs=3, seed=2, report=str(report), chunk=2)
    direct = summarize(quick, list(simulate(quick, 3, seed=2)), seed=2, dut_spread=1.5).to_dict()
    assert d["runs"] == 3 and d["points"] == direct["points"]
    assert report.exists()
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["validation-summary"])))
    # other tests of the session publish validation summaries too: this flow's is the one
    # naming this test's report file (the harness's artifacts come in no guaranteed order)
    ours = [a for a in arts if str(report) in a.data]
    assert len(ours) == 1 and "KS34465A-DCV-QUICK" in ours[0].data
