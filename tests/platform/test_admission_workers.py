"""Admission in worker processes (labauto.platform.server.admission): a worker gives the same
Admission, or refuses at the same stage with the same words, as admission in the server's own
process, document by document; a worker that dies is replaced and its document admitted here;
a failure in a worker that is not the document's is met again here."""
from __future__ import annotations

import datetime as dt
import os
import re
import signal

import pytest

from labauto.certificate.tsa import TimeStampingAuthority, issue_tsa_certificate
from labauto.certificate.xades_t import add_signature_timestamp
from labauto.platform.server import admission
from labauto.platform.server.dcc import SchemaRegistry
from labauto.platform.server.schematron import RuleBook
from labauto.platform.server.service import Rejected
from labauto.platform.server.schematron_workers import _Answers
from labauto.platform.tsa_client import stamp_via


@pytest.fixture(scope="module")
def here(dcc_schema_dir) -> SchemaRegistry:
    """Admission in this process (no workers)."""
    return SchemaRegistry(dcc_schema_dir, rule_processes=0)


@pytest.fixture(scope="module")
def pooled(dcc_schema_dir):
    """A registry whose RuleBook has two worker processes (its own, closed after the module)."""
    book = RuleBook(dcc_schema_dir, processes=2)
    yield SchemaRegistry(dcc_schema_dir, rules=book)
    book.close()


@pytest.fixture(scope="module")
def tsa_pair(platform_ca):
    return issue_tsa_certificate(platform_ca)


@pytest.fixture(scope="module")
def documents(make_dcc, sign, lab_keys, platform_ca, tsa_pair) -> dict[str, bytes]:
    at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    tsa = TimeStampingAuthority(tsa_pair.key_pem, tsa_pair.cert_pem, [platform_ca.cert_pem], clock=lambda: at)
    signed = sign(make_dcc("ADM-1"), lab_keys)
    no_used_methods = re.sub(rb"<dcc:usedMethods>.*?</dcc:usedMethods>", b"", make_dcc("ADM-RULES"),
                             count=1, flags=re.S)      # breaks PTB's rule on usedMethods (XSD-valid)
    return {
        "signed": signed,
        "time-stamped": add_signature_timestamp(sign(make_dcc("ADM-TS"), lab_keys),
                                                stamp_via(lambda req: tsa.respond(req).response_der)),
        "tampered": signed.replace(b"Keysight", b"Keysighx", 1),
        "unsigned": make_dcc("ADM-UNSIGNED"),
        "malformed": signed[:-40],
        "schema-invalid": sign(make_dcc("ADM-XSD").replace(b"<dcc:endPerformanceDate>2026-01-15",
                                                           b"<dcc:endPerformanceDate>15.01.2026", 1),
                               lab_keys),
        "rule-breaking": sign(no_used_methods, lab_keys),
        "slash-id": sign(make_dcc("ADM/2"), lab_keys),
    }


EXPECTED = {"signed": None, "time-stamped": None, "tampered": "signature", "unsigned": "signature",
            "malformed": "well-formed", "schema-invalid": "schema", "rule-breaking": "schematron",
            "slash-id": "identifier"}


def outcome(dcc: bytes, schemas: SchemaRegistry, anchors: list[bytes]):
    """The Admission, or ("refused", stage, detail)."""
    try:
        return admission.admit_document(dcc, schemas, anchors)
    except Rejected as exc:
        return ("refused", exc.stage, str(exc))


def test_a_worker_admits_or_refuses_as_the_server_would(documents, here, pooled, platform_ca, monkeypatch):
    anchors = [platform_ca.cert_pem]
    in_process = {name: outcome(dcc, here, anchors) for name, dcc in documents.items()}

    def not_here(*a, **kw):
        raise AssertionError("admitted in the server's process, not by a worker")
    monkeypatch.setattr(admission, "admit_here", not_here)
    by_workers = {name: outcome(dcc, pooled, anchors) for name, dcc in documents.items()}
    assert by_workers == in_process
    for name, stage in EXPECTED.items():
        got = by_workers[name]
        if stage is None:
            assert isinstance(got, admission.Admission), (name, got)
        else:
            assert got[:2] == ("refused", stage), (name, got)
    ok = by_workers["signed"]
    assert (ok.facts.certificate_id, ok.facts.manufacturer, ok.facts.end_date) == \
        ("ADM-1", "Keysight", dt.date(2026, 1, 15))
    assert ok.signature.signer_subject == "C=DE,O=Lab A,CN=Lab A signing" and ok.signature.signed_root is None
    assert ok.trusted_time is None and ok.results
    stamped = by_workers["time-stamped"]
    assert stamped.trusted_time is not None and stamped.trusted_time.tzinfo is not None
    # the time-stamp is refused at stage "time" when its TSA does not chain to the anchors given
    assert outcome(documents["time-stamped"], pooled, [])[:2] == ("refused", "time")


def test_a_dead_worker_is_replaced_and_its_document_admitted_here(dcc_schema_dir, documents, here, monkeypatch):
    book = RuleBook(dcc_schema_dir, processes=1)
    try:
        pooled = SchemaRegistry(dcc_schema_dir, rules=book)
        (old,) = book.workers.processes
        os.kill(old.pid, signal.SIGKILL)
        old.wait(10)
        calls = []
        real = admission.admit_here
        monkeypatch.setattr(admission, "admit_here", lambda *a: calls.append(a) or real(*a))
        assert admission.admit_document(documents["signed"], pooled) == admission.admit_here(documents["signed"], here)
        assert len(calls) == 2                      # the dead worker's document, then the reference
        (new,) = book.workers.processes
        assert new.pid != old.pid and new.poll() is None
        calls.clear()
        with pytest.raises(Rejected, match="the DCC is not signed") as refused:
            admission.admit_document(documents["unsigned"], pooled)
        assert refused.value.stage == "signature"
        assert calls == []                           # the new worker answered
    finally:
        book.close()


def test_a_failure_that_is_not_the_documents_is_met_here(dcc_schema_dir, documents, here, pooled, monkeypatch):
    # in a worker, anything but a refusal or an engine error comes back as "unexpected" ...
    reply = _Answers(RuleBook(dcc_schema_dir, processes=0), str(dcc_schema_dir / "no-such-folder")).reply(
        ("admit", documents["signed"], False, []))
    assert reply[0] == "unexpected" and reply[1].startswith("FileNotFoundError: DCC schema directory")
    # ... and the server then admits the document in its own process
    monkeypatch.setattr(pooled.rules.workers, "_ask", lambda request: ("unexpected", "ValueError: x"))
    assert pooled.rules.workers.admit(documents["signed"], False, []) is None
    assert admission.admit_document(documents["signed"], pooled) == admission.admit_here(documents["signed"], here)


def test_a_worker_is_ready_for_its_first_publication(dcc_schema_dir):
    """A worker warms up before it says it is ready: the XSD of every version the platform
    stores is compiled (the first publication no longer pays ≈ 0.6 s of imports and schemas)."""
    answers = _Answers(RuleBook(dcc_schema_dir, processes=0), str(dcc_schema_dir))
    assert answers.registries == {}
    answers.warm()
    registry = answers.registries[False]
    assert registry.supported_versions() == ["3.1.0", "3.1.1", "3.1.2", "3.2.0", "3.2.1", "3.3.0"]
    assert sorted(registry._by_version) == registry.supported_versions()
