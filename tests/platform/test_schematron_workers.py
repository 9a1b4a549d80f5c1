"""PTB's Schematron rules in a worker process (RuleBook with ``processes``, set by
LABAUTO_PLATFORM_SCHEMATRON_PROCESSES, two by default on >= 2 cores): the same report as in the
server's process, a worker that dies is replaced without losing the document's check, and no
worker outlives the process that started it, however that process ends."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labauto.certificate.dcc_xml import build_dcc
from labauto.platform.server.dcc import SchemaRegistry, parse_well_formed
from labauto.platform.server.schematron import PROCESSES_ENV, RuleBook, default_processes


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
    assert worker.poll() is None and worker.pid != os.getpid()

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
    dead.wait(10)
    root = parse_well_formed(documents["invalid_schematron.xml"])
    report = book.check(root, "3.3.0")          # checked in this process this once
    assert report == in_process.check(root, "3.3.0") and report.errors
    [new] = book.workers.processes
    assert new.pid != dead.pid and new.poll() is None
    assert book.check(root, "3.3.0") == report  # and by the new worker from then on
    book.close()
    assert new.poll() is not None and book.workers is None
    assert book.check(root, "3.3.0") == report  # a closed book checks in this process


def test_the_default_layout(dcc_schema_dir, monkeypatch):
    monkeypatch.delenv(PROCESSES_ENV, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert default_processes() == 2
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert default_processes() == 2          # admission's share of a publication: 2 keep up
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert default_processes() == 0
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert default_processes() == 0
    monkeypatch.setenv(PROCESSES_ENV, "3")
    assert default_processes() == 3
    monkeypatch.setenv(PROCESSES_ENV, "0")
    assert default_processes() == 0
    assert RuleBook(dcc_schema_dir).workers is None             # 0: in the server's process
    for bad in ("one", "-1", "1.5"):
        monkeypatch.setenv(PROCESSES_ENV, bad)
        with pytest.raises(ValueError, match=f"{PROCESSES_ENV}='{bad}'.*whole number"):
            default_processes()


def test_the_servers_registry_runs_the_default_layout(dcc_schema_dir, monkeypatch):
    """What create_app builds (and every HTTP test's server in this process uses): a RuleBook
    with default_processes() workers, shared by the registries of one folder."""
    monkeypatch.delenv(PROCESSES_ENV, raising=False)
    n = default_processes()
    books = {id(SchemaRegistry(dcc_schema_dir).rules), id(SchemaRegistry(dcc_schema_dir, any_version=True).rules)}
    assert len(books) == 1
    rules = SchemaRegistry(dcc_schema_dir).rules
    assert (0 if rules.workers is None else len(rules.workers.processes)) == n
    assert SchemaRegistry(dcc_schema_dir, rule_processes=0).rules.workers is None


def _state(pid: int) -> str:
    """The process's state letter (``Z``: ended, not yet reaped), or "" if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def wait_ended(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while _state(pid) not in ("", "Z", "X"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


_OWNER = """
import signal, sys, time
from labauto.platform.server.schematron import RuleBook
signal.signal(signal.SIGINT, signal.default_int_handler)   # as a server does (a background job inherits SIGINT ignored)
book = RuleBook(sys.argv[1], processes=1)
print(book.workers.processes[0].pid, flush=True)
if sys.argv[2] == "exit":
    sys.exit(0)                 # without closing the book
if sys.argv[2] == "raise":
    raise RuntimeError("the server's process fails")
time.sleep(60)                  # until killed
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
@pytest.mark.parametrize("end", ["exit", "raise", "SIGKILL", "SIGTERM", "SIGINT"])
def test_no_worker_outlives_its_process(dcc_schema_dir, end):
    """However the process that started a worker ends — a normal exit without closing the book,
    an exception, killed (no clean-up of its own), SIGTERM, SIGINT — its worker ends with it."""
    owner = subprocess.Popen([sys.executable, "-c", _OWNER, str(dcc_schema_dir), end],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])))
    try:
        worker = int(owner.stdout.readline())
        assert _state(worker) not in ("", "Z", "X")
        if end.startswith("SIG"):
            owner.send_signal(getattr(signal, end))
        owner.wait(20)
        assert wait_ended(worker), f"the Schematron worker {worker} outlived its process ({end})"
    finally:
        owner.kill()
        owner.wait()
