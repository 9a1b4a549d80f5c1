"""Issuing interrupted part-way (a full disk, Ctrl-C, a crash) never leaves a certificate that
counts as issued but is incomplete or unqueued: the folder appears whole or not at all."""
from __future__ import annotations

from pathlib import Path

import pytest

import labauto.issuing as issuing
import labauto.publishing as publishing
from labauto.calibration import evaluate_and_issue, measure_points, start_or_resume_run
from labauto.config import outbox_path
from labauto.platform.outbox import Outbox
from labauto.sim import SimulatedLab

FILES = ["certificate.json", "certificate.pdf", "certificate.xml", "journal.jsonl"]


@pytest.fixture()
def measured_run(quick_procedure, tmp_path):
    with SimulatedLab(seed=1, latency="zero") as lab:
        r = lab.resources
        run = start_or_resume_run(quick_procedure, runs_dir=tmp_path / "runs", dut_resource=r["dmm"],
                                  standard_resource=r["calibrator"], settle_scale=0)
        measure_points(run, sleep=lambda s: None)
    return run


def _outbox_counts() -> dict:
    box = Outbox(outbox_path())
    try:
        return box.counts()
    finally:
        box.close()


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failure_while_writing_leaves_nothing_issued_and_the_retry_issues_it(
        measured_run, tmp_path, monkeypatch, failure):
    certs = tmp_path / "certs"
    real = issuing.write_durably

    def failing_on_the_pdf(path, data, **kw):
        if Path(path).name == "certificate.pdf":
            raise failure
        return real(path, data, **kw)

    monkeypatch.setattr(issuing, "write_durably", failing_on_the_pdf)
    with pytest.raises(type(failure)):
        evaluate_and_issue(measured_run.folder, out_dir=certs)
    # nothing counts as issued: no certificate folder, nothing queued (only the staging folder)
    assert [p.name for p in certs.iterdir()] == [f".{_certificate_id(measured_run)}.partial"]
    assert _outbox_counts()["pending"] == 0

    monkeypatch.setattr(issuing, "write_durably", real)
    outcome = evaluate_and_issue(measured_run.folder, out_dir=certs)
    assert sorted(p.name for p in outcome.issued.folder.iterdir()) == FILES
    assert [p.name for p in certs.iterdir()] == [outcome.result.certificate_id]   # staging gone
    assert _outbox_counts()["pending"] == 1


def test_a_crash_between_issuing_and_queueing_is_queued_on_the_next_attempt(measured_run, tmp_path, monkeypatch):
    certs = tmp_path / "certs"

    def crash(issued):
        raise KeyboardInterrupt

    real = publishing.enqueue_issued
    monkeypatch.setattr(publishing, "enqueue_issued", crash)
    with pytest.raises(KeyboardInterrupt):
        evaluate_and_issue(measured_run.folder, out_dir=certs)
    monkeypatch.setattr(publishing, "enqueue_issued", real)   # (not undo(): it would drop private_home)
    folder = certs / _certificate_id(measured_run)
    assert sorted(p.name for p in folder.iterdir()) == FILES and _outbox_counts()["pending"] == 0
    xml = (folder / "certificate.xml").read_bytes()
    # the issued certificate is not overwritten, but it is queued now
    with pytest.raises(issuing.CertificateExists, match="its DCC is in the publishing outbox: pending"):
        evaluate_and_issue(measured_run.folder, out_dir=certs)
    assert (folder / "certificate.xml").read_bytes() == xml
    box = Outbox(outbox_path())
    try:
        [entry] = box.entries()
        assert entry.certificate_id == folder.name and entry.state == "pending"
    finally:
        box.close()


def _certificate_id(run) -> str:
    from labauto.evaluation import evaluate_run
    from labauto.lab import load_lab
    return evaluate_run(run, load_lab()).certificate_id
