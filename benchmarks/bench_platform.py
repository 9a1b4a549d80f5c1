"""Benchmark of the reference NQI platform: ingest rate of signed DCCs and verify latency.

    .venv/bin/python benchmarks/bench_platform.py [--db URL] [--ingest 600] [--repeat 5]
                                                  [--store 100000] [--workers 1,2] [--clients 4]
                                                  [--warmup 30] [--baseline DIR]

Layout: as deployed, each server process admits publications (parse, XSD, Schematron,
signature, time-stamp, facts, results) in two worker processes of its own on a machine with
>= 2 cores (LABAUTO_PLATFORM_SCHEMATRON_PROCESSES, read from this process's environment, which
the servers inherit: 0 admits in the server's process); the layout is printed first.  A
--baseline tree's server runs its own tree's default layout unless that variable is set.

0. Stages: the publish pipeline in this process, stage by stage (parse, XSD, Schematron,
   signature, facts, DB write), thread CPU ms per document, so each stage's figure stays
   meaningful when another changes (and does not count other processes' load).  Every stage
   runs here in this process whatever the layout (its own CPU cost).
1. Ingest: N distinct DCCs (PTB's valid.xml with new ids, XAdES-signed by a CA-issued lab key)
   are published over HTTP on loopback by 4 concurrent clients to the server in its own
   process(es), --repeat times per --workers count (a fresh store each time); prints the range
   of documents/s (goal >= 200/s on SQLite with one server process) and of the server's CPU
   time per publication (its admission workers included), and
   the clients' own CPU per publication (they share the cores: keep-alive http.client
   connections, the multipart bodies built before the clock starts).  Each new server first
   gets --warmup other publications, not counted (its first requests pay for imports, caches
   and Saxon's first runs: ~10 ms each).  With --baseline DIR (another source tree, e.g.
   ``git archive main | tar -x -C DIR``) every run is repeated with DIR's server, the two
   alternating, and the ratios of their CPU per publication and of their rates are printed
   run by run: a same-run baseline.
   Signing happens before the clock starts.  SQLite runs with synchronous=FULL in WAL mode:
   every acknowledged publication is fsynced (it survives a process crash and a power loss).
2. Verify: the store is filled to --store certificates by bulk inserts through the DB layer,
   then GET /api/v1/certificates/{id} (and /verify?sha256=) for random stored ids over HTTP;
   prints p50/p99 latency (goal p99 <= 20 ms with 1e5 certificates).
Needs the PTB DCC schemas/examples (found by labauto.config.dcc_dir: LABAUTO_DCC_DIR, ../shared/dcc).
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labauto.certificate.dcc_xml import DCC_NS, safe_parser  # noqa: E402
from labauto.certificate.signing import sign_dcc  # noqa: E402
from labauto.certificate.pki import CertificateAuthority  # noqa: E402
from labauto.platform.server.db import Database  # noqa: E402
from labauto.platform.server.models import CertificateRecord, ItemIdentifier, Lab  # noqa: E402
from labauto.platform.server.schematron import PROCESSES_ENV, default_processes  # noqa: E402
from labauto.platform.server.testing import ServerProcess, register_lab  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
import report  # noqa: E402

NS = {"dcc": DCC_NS}


def dcc_dir() -> Path:
    from labauto.config import dcc_dir as find_dcc_dir

    d = find_dcc_dir()
    if d is None:
        sys.exit("PTB's DCC schemas and examples were not found; set LABAUTO_DCC_DIR")
    return d


def make_docs(n: int, key_pem: bytes, cert_pem: bytes, prefix: str = "BENCH") -> list[bytes]:
    template = etree.fromstring((dcc_dir() / "examples" / "valid.xml").read_bytes(), parser=safe_parser())
    docs = []
    for i in range(n):
        template.find("dcc:administrativeData/dcc:coreData/dcc:uniqueIdentifier", NS).text = f"{prefix}-{i:06d}"
        docs.append(sign_dcc(etree.tostring(template, xml_declaration=True, encoding="UTF-8"), key_pem, cert_pem))
    return docs


STAGES = ("parse", "XSD", "Schematron", "signature", "facts", "results", "DB write")


def layout_label(rule_workers: int) -> str:
    """Where each server process admits publications (parse, XSD, Schematron, signature)."""
    if not rule_workers:
        return "each server process admits publications in its own process"
    return (f"each server process admits publications in {rule_workers} worker process"
            f"{'es' if rule_workers > 1 else ''} of its own (the default on >= 2 cores: 2)")


def bench_stages(docs: list[bytes], key_cert_pem: bytes, database_url: str) -> dict[str, list[float]]:
    """The publish pipeline in this process, one document at a time, stage by stage, as the
    server's ``_publish_sync`` runs it (``dcc.admit`` stage by stage, the results for the scope
    check, then the grouped write: scope check, ``publishing.store``, coverage); returns the CPU
    time of this thread per document and stage in ms (thread CPU time: what another engineer's
    test run on the same cores takes does not count) and the wall time of the DB write (it
    waits for fsync)."""
    from labauto.certificate.signing import verify_dcc
    from labauto.platform.server import dcc as admission, publishing, scope
    from labauto.platform.server.admission import Admission
    from labauto.platform.server.dcc_results import extract_results
    from labauto.platform.server.db import migrate
    from labauto.platform.server.service import LabRef, register_lab as register

    schemas = admission.SchemaRegistry(dcc_dir() / "schema", rule_processes=0)    # the rules' own CPU
    migrate(database_url)
    db = Database(database_url)
    with db.write() as s:
        lab = register(s, "Stage Lab", "D-K-STAGE", key_cert_pem.decode())
        ref = LabRef(lab.id, lab.name)
    out: dict[str, list[float]] = {k: [] for k in STAGES + ("DB write (wall)",)}
    clock = time.thread_time
    try:
        for dcc in docs:
            t0 = clock()
            root = admission.parse_well_formed(dcc)
            t1 = clock()
            version = schemas.validate(root)
            t2 = clock()
            admission.check_rules(root, version, schemas)
            t3 = clock()
            sig = verify_dcc(root)
            t4 = clock()
            facts = admission.extract_facts(sig.signed_root, version)
            t5 = clock()
            results = extract_results(sig.signed_root)
            t6 = clock()
            admitted = Admission(facts, sig, None, results)     # as the server's admission gives it

            def write(conn):
                coverage = scope.check(conn, ref.id, facts.end_date, results)
                done = publishing.store(conn, ref, dcc, admitted)
                if done.created:
                    scope.record_coverage(conn, done.row_id, coverage)
                return done
            w0 = time.perf_counter()
            db.write_grouped(write)
            t7, w1 = clock(), time.perf_counter()
            marks = (t0, t1, t2, t3, t4, t5, t6, t7)
            for k, a, b in zip(STAGES, marks, marks[1:]):
                out[k].append((b - a) * 1000)
            out["DB write (wall)"].append((w1 - w0) * 1000)
    finally:
        db.dispose()
    return out


def server_cpu_seconds(pid: int) -> float | None:
    """User+system CPU time of the server process and its worker processes (Linux /proc), so the
    figure does not depend on what else the machine runs; None elsewhere."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        pids, todo = [], [pid]
        while todo:        # every descendant: server processes and their Schematron workers
            p = todo.pop()
            pids.append(p)
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        total = 0.0
        for p in pids:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        return total
    except (OSError, ValueError, IndexError):
        return None


def multipart_body(doc: bytes, boundary: bytes) -> bytes:
    """A ``multipart/form-data`` body with ``doc`` as the ``dcc`` file field."""
    return (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="dcc"; filename="d.xml"\r\n'
            b"Content-Type: application/xml\r\n\r\n" + doc + b"\r\n--" + boundary + b"--\r\n")


def bench_ingest(base_url: str, token: str, docs: list[bytes], workers: int = 4,
                 cpu: list[float] | None = None) -> float:
    """Publish ``docs`` from ``workers`` threads over keep-alive HTTP/1.1 connections (one per
    thread); returns documents/s.  The client is lean, because it shares the cores with the
    server: the multipart bodies are built before the clock starts and sent with ``http.client``
    (httpx cost ~1.3 ms of client CPU per publication, this ~0.2 ms).  ``cpu`` receives this
    process's CPU ms per publication (the client's share of the machine)."""
    import http.client
    import threading
    import urllib.parse

    host = urllib.parse.urlsplit(base_url)
    boundary = secrets.token_hex(16).encode()
    bodies = [multipart_body(d, boundary) for d in docs]
    headers = {"Authorization": f"Bearer {token}",
               "Content-Type": f"multipart/form-data; boundary={boundary.decode()}"}
    codes: list[int] = [0] * len(bodies)
    counter = iter(range(len(bodies)))
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        try:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                conn.request("POST", "/api/v1/certificates", body=bodies[i], headers=headers)
                r = conn.getresponse()
                r.read()
                codes[i] = r.status
        finally:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(workers)]
    c0, t0 = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed, spent = time.perf_counter() - t0, time.process_time() - c0
    if cpu is not None:
        cpu.append(spent / len(docs) * 1000)
    bad = [c for c in codes if c != 201]
    if bad:
        raise SystemExit(f"ingest: {len(bad)} publications failed (HTTP {sorted(set(bad))})")
    return len(docs) / elapsed


def bulk_fill(database_url: str, total: int, batch: int = 5000) -> list[tuple[str, str]]:
    """Insert synthetic certificate rows until the store holds ``total``; returns (id, sha256)."""
    db = Database(database_url)
    out = []
    try:
        with db.read() as s:
            lab = s.query(Lab).first()
            have = s.query(CertificateRecord).count()
            signer = s.query(CertificateRecord).first()
        today = dt.date(2026, 1, 1)
        now = dt.datetime.now(dt.timezone.utc)
        for start in range(have, total, batch):
            rows = []
            for i in range(start, min(total, start + batch)):
                cid = f"BULK-{i:07d}"
                sha = hashlib.sha256(cid.encode()).hexdigest()
                out.append((cid, sha))
                rows.append(dict(certificate_id=cid, version=1, sha256=sha, lab_id=lab.id,
                                 schema_version="3.3.0", signer_fingerprint=signer.signer_fingerprint,
                                 signer_subject=signer.signer_subject, signing_time=now, item_name="DMM",
                                 item_manufacturer=random.choice(["Keysight", "Fluke", "Rohde"]),
                                 item_model="34465A", item_serial=f"SN{i}", begin_date=today,
                                 end_date=today + dt.timedelta(days=i % 365), published_at=now,
                                 has_pdf=False, has_json=False))
            with db.write() as s:
                s.execute(CertificateRecord.__table__.insert(), rows)
                ids = dict(s.execute(CertificateRecord.__table__.select()
                                     .with_only_columns(CertificateRecord.certificate_id, CertificateRecord.id)
                                     .where(CertificateRecord.certificate_id.in_([r["certificate_id"] for r in rows]))).all())
                s.execute(ItemIdentifier.__table__.insert(),
                          [dict(certificate_row_id=ids[r["certificate_id"]], issuer="manufacturer",
                                value=r["item_serial"]) for r in rows])
        if not out:                   # the store held enough already: verify the stored ones
            with db.read() as s:
                out = [tuple(r) for r in s.execute(CertificateRecord.__table__.select().with_only_columns(
                    CertificateRecord.certificate_id, CertificateRecord.sha256)).all()]
    finally:
        db.dispose()
    return out


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bench_verify(base_url: str, targets: list[tuple[str, str]], n: int = 2000) -> dict[str, float]:
    rng = random.Random(1)
    by_id, by_hash = [], []
    with httpx.Client(base_url=base_url, timeout=30) as c:
        for _ in range(50):                                   # warm up
            c.get(f"/api/v1/certificates/{targets[0][0]}")
        for _ in range(n):
            cid, sha = rng.choice(targets)
            t0 = time.perf_counter()
            r = c.get(f"/api/v1/certificates/{cid}")
            by_id.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.json()["sha256"] == sha, r.text
            t0 = time.perf_counter()
            r = c.get("/api/v1/verify", params={"sha256": sha})
            by_hash.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.json()["certificate_id"] == cid
    ms = 1000.0
    return {"id_p50": statistics.median(by_id) * ms, "id_p99": percentile(by_id, 99) * ms,
            "hash_p50": statistics.median(by_hash) * ms, "hash_p99": percentile(by_hash, 99) * ms}


def ensure_postgres_database(url: str) -> None:
    """Create the PostgreSQL database of ``url`` if the server does not have it yet."""
    import sqlalchemy
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = sqlalchemy.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %(n)s",
                                          {"n": target.database}).first()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
                print(f"created database {target.database!r}")
    except sqlalchemy.exc.OperationalError as exc:
        raise SystemExit(f"cannot reach the PostgreSQL server of {url}: {exc.orig}") from None
    finally:
        admin.dispose()


def print_stages(runs: list[dict[str, list[float]]]) -> None:
    """Per stage: the range over runs of the per-run median (ms per document)."""
    print("per-stage breakdown, in-process, one document at a time (thread CPU ms per document: "
          "range over runs of each run's median; every stage runs here in this process, "
          "as a server does only with " f"{PROCESSES_ENV}=0):")
    total = []
    for k in runs[0]:
        medians = [statistics.median(r[k]) for r in runs]
        print(f"  {k:16s} {report.span(medians, '{:.2f}', 'ms')}")
    for r in runs:
        total.append(sum(statistics.median(r[k]) for k in STAGES))
    print(f"  {'sum (CPU)':16s} {report.span(total, '{:.2f}', 'ms')} -> at most "
          f"{1000 / max(total):.0f}-{1000 / min(total):.0f} publications per CPU-second")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="database URL of an empty database, created if PostgreSQL does not have it "
                                 "(default: SQLite files in a temp folder)")
    ap.add_argument("--ingest", type=int, default=600, help="signed DCCs to publish per run")
    ap.add_argument("--repeat", type=int, default=5, help="ingest runs per --workers value (ranges are printed)")
    ap.add_argument("--store", type=int, default=100_000, help="certificates in the store for verify")
    ap.add_argument("--requests", type=int, default=2000, help="verify requests (each by id and by hash)")
    ap.add_argument("--workers", default="1,2", help="server processes, one ingest run per value")
    ap.add_argument("--clients", type=int, default=4, help="concurrent publishing clients")
    ap.add_argument("--stage-docs", type=int, default=300, help="documents per in-process stage run")
    ap.add_argument("--warmup", type=int, default=30,
                    help="publications to each new server before the clock starts (not counted)")
    ap.add_argument("--baseline", metavar="DIR", type=Path,
                    help="another source tree (e.g. `git archive main | tar -x -C DIR`): each ingest run "
                         "is repeated with its server, alternating, and the CPU ratio printed")
    a = ap.parse_args()
    if a.baseline is not None and not (a.baseline / "labauto" / "platform" / "server").is_dir():
        raise SystemExit(f"--baseline {a.baseline}: no labauto/platform/server in it")
    tmp = tempfile.mkdtemp(prefix="labauto-bench-")
    workers = [int(w) for w in a.workers.split(",")]
    if a.db and (len(workers) > 1 or a.repeat > 1):
        raise SystemExit("--db takes one empty database: give a single --workers value and --repeat 1 with it")
    backend = "SQLite" if not a.db or a.db.startswith("sqlite") else "PostgreSQL"
    if backend == "PostgreSQL":
        ensure_postgres_database(a.db)
    report.header("")
    rule_workers = default_processes()
    print(f"layout: {layout_label(rule_workers)} ({PROCESSES_ENV}={os.environ.get(PROCESSES_ENV, 'unset')})")
    ca = CertificateAuthority.create("bench CA")
    keys = ca.issue("Bench Lab")
    admin = secrets.token_urlsafe(16)

    t0 = time.perf_counter()
    docs = make_docs(a.ingest, keys.key_pem, keys.cert_pem, prefix="BENCH")
    warm = make_docs(a.warmup, keys.key_pem, keys.cert_pem, prefix="WARM") if a.warmup > 0 else []
    print(f"signed {len(docs)} DCCs (XAdES, {len(docs[0])} bytes each) in {time.perf_counter() - t0:.1f} s")
    if not a.db and a.stage_docs > 0:
        stage_runs = [bench_stages(docs[:a.stage_docs], keys.cert_pem, f"sqlite:///{tmp}/stages-{i}.sqlite3")
                      for i in range(a.repeat)]
        print_stages(stage_runs)

    arms = [("this tree", None)] + ([("baseline", a.baseline)] if a.baseline is not None else [])
    for n_workers in workers:
        rates = {name: [] for name, _ in arms}
        cpu = {name: [] for name, _ in arms}
        client_cpu: list[float] = []
        for run in range(a.repeat):
            for name, source in (arms if run % 2 == 0 else arms[::-1]):     # alternating
                # each run publishes the same documents into a fresh store
                tag = "" if source is None else "-baseline"
                url = a.db or f"sqlite:///{tmp}/platform-{n_workers}-{run}{tag}.sqlite3"
                # the server runs in its own process(es), as deployed, so the clients do not share its GIL
                with ServerProcess(url, dcc_dir() / "schema", admin_token=admin, workers=n_workers,
                                   source=source) as server:
                    base = server.base_url
                    token = register_lab(base, admin, "Bench Lab", "D-K-0", keys.cert_pem)
                    if warm:        # first requests of a new server (imports, caches): not counted
                        bench_ingest(base, token, warm, workers=a.clients)
                    cpu0 = server_cpu_seconds(server.proc.pid)
                    rates[name].append(bench_ingest(base, token, docs, workers=a.clients,
                                                    cpu=client_cpu if source is None else None))
                    cpu1 = server_cpu_seconds(server.proc.pid)
                    if cpu0 is not None and cpu1 is not None:
                        cpu[name].append((cpu1 - cpu0) / len(docs) * 1000)
                    last = source is None and n_workers == workers[-1] and run == a.repeat - 1
                    if last:
                        t0 = time.perf_counter()
                        targets = bulk_fill(url, a.store)
                        print(f"bulk-filled the store to {a.store} certificates in {time.perf_counter() - t0:.1f} s")
                        res = bench_verify(base, targets, a.requests)
        procs = (f"{n_workers} server process{'es' if n_workers > 1 else ''}"
                 + (f" + {rule_workers} admission worker process{'es' if rule_workers > 1 else ''} each"
                    if rule_workers else " (admission in process)"))
        for name, _ in arms:
            label = "" if len(arms) == 1 else f" [{name}]"
            shown = procs
            if name == "baseline" and PROCESSES_ENV not in os.environ:
                shown = f"{n_workers} server process{'es' if n_workers > 1 else ''} (its own default layout)"
            print(f"ingest{label}, {shown}, {backend}, {a.clients} clients over HTTP, {len(docs)} signed DCCs "
                  f"per run after {len(warm)} not counted: {report.span(rates[name], '{:.0f}', '/s')} "
                  "(goal >= 200/s on SQLite with 1 server process)")
            if cpu[name]:
                print(f"        server CPU per publication {report.span(cpu[name], '{:.2f}', 'ms')}")
        if len(arms) > 1 and cpu["this tree"] and cpu["baseline"]:
            ratios = [x / y for x, y in zip(cpu["this tree"], cpu["baseline"])]
            print(f"        server CPU, this tree / baseline (run by run): {report.span(ratios, '{:.3f}')}")
            ratios = [x / y for x, y in zip(rates["this tree"], rates["baseline"])]
            print(f"        rate, this tree / baseline (run by run): {report.span(ratios, '{:.3f}')}")
        print(f"        client CPU per publication {report.span(client_cpu, '{:.2f}', 'ms')} "
              "(the benchmark's own process, on the same cores)")
    print(f"verify by id   ({a.requests} requests, {a.store} stored, {backend}): p50 {res['id_p50']:.2f} ms, "
          f"p99 {res['id_p99']:.2f} ms (goal p99 <= 20 ms)")
    print(f"verify by hash ({a.requests} requests, {a.store} stored, {backend}): p50 {res['hash_p50']:.2f} ms, "
          f"p99 {res['hash_p99']:.2f} ms")
    report.footer()


if __name__ == "__main__":
    main()
