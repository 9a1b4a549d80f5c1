"""PTB's Schematron rules in a worker process (RuleBook with ``processes``, set by
LABAUTO_PLATFORM_SCHEMATRON_PROCESSES): the same report as in the server's process, and a
worker that dies is replaced without losing the document's check."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from labauto.certificate.dcc_xml import build_dcc
from labauto.platform.server.dcc import parse_well_formed
from labauto.platform.server.schematron import PROCESSES_ENV, RuleBook


@pytest.fixture(scope="module")
def in_process(dcc_schema_dir: Path) -> RuleBook:
    return RuleBook(dcc_schema_dir, processes=0)


@pytest.fixture(scope="module")
def documents(dcc_dir: Path) -> dict[str, bytes]:
    from test_schematron import _certificate_fixtures

    examples = dcc_dir / "examples"
    valid = (examples / "valid.xml").read_bytes()
    return {"valid.xml": valid,
            "invalid_schematron.xml": (examples / "invalid_schematron.xml").read_bytes(),
            "labauto": build_dcc(_certificate_fixtures().make_result()),
            "engine error": valid.replace(b"<dcc:endPerformanceDate>1957-08-13<",
                                          b"<dcc:endPerformanceDate>13.08.1957<")}


def test_a_worker_process_reports_what_the_server_process_does(dcc_schema_dir, in_process, documents,
                                                               monkeypatch, request):
    monkeypatch.setenv(PROCESSES_ENV, "1")
    book = RuleBook(dcc_schema_dir)
    request.addfinalizer(book.close)
    assert book.workers is not None and len(book.workers.processes) == 1
    worker = book.workers.processes[0]
    assert worker.is_alive() and worker.pid != os.getpid()

    def not_here(*a, **kw):
        raise AssertionError("the rules ran in the server's process")
    monkeypatch.setattr(book, "findings", not_here)
    kinds = set()
    for label, xml in documents.items():
        root = parse_well_formed(xml)
        report = book.check(root, "3.3.0")
        assert report == in_process.check(root, "3.3.0"), label
        kinds.add((bool(report.errors), bool(report.warnings)))
    # a pass, warnings without an error, errors
    assert {(False, False), (False, True)} <= kinds and any(errors for errors, _ in kinds)


def test_a_dead_worker_is_replaced_and_the_document_still_checked(dcc_schema_dir, in_process, documents,
                                                                   request):
    book = RuleBook(dcc_schema_dir, processes=1)
    request.addfinalizer(book.close)
    dead = book.workers.processes[0]
    os.kill(dead.pid, signal.SIGKILL)
    dead.join(10)
    root = parse_well_formed(documents["invalid_schematron.xml"])
    report = book.check(root, "3.3.0")          # checked in this process this once
    assert report == in_process.check(root, "3.3.0") and report.errors
    [new] = book.workers.processes
    assert new.pid != dead.pid and new.is_alive()
    assert book.check(root, "3.3.0") == report  # and by the new worker from then on
    book.close()
    assert not new.is_alive()


def test_no_worker_by_default(dcc_schema_dir, monkeypatch):
    monkeypatch.delenv(PROCESSES_ENV, raising=False)
    assert RuleBook(dcc_schema_dir).workers is None
