"""Benchmark of accreditation on the platform: capability search latency and the cost of the
scope check on ingest.

    .venv/bin/python benchmarks/bench_scope.py [--db postgresql://postgres@127.0.0.1:5432/bench_scope]
                                               [--labs 1000] [--rows 100] [--requests 1000] [--runs 3]
                                               [--ingest 150] [--http-ingest 100] [--skip-search]

1. Capability search: the store gets --labs labs, each with one scope of --rows CMC rows (ten
   quantities x ten ranges; AC rows in two frequency bands), bulk-inserted through the DB layer;
   then GET /api/v1/capabilities?quantity=...&value=...&max_cmc=... over HTTP on loopback
   (the server in its own process) for random quantities, values and limits; prints p50/p99 per
   run and the range over --runs runs (goal p99 <= 20 ms with 1,000 labs x 100 rows on
   PostgreSQL).
2. Ingest: the same publishing pipeline in-process — admission (parse, schema, Schematron,
   signature, reading the results), all in this thread, and the store transaction — without
   and with the scope step (check the results against the lab's 100-row scope, record their
   status; reading the results, ≈ 0.15 ms, is part of admission in both arms), alternating documents
   A/B so both see the same machine load; prints ms per document and the ratio per run (goal:
   the scope check adds <= 10 %).  The HTTP and multipart work of a real publication (about
   1 ms) is left out, so the ratio is an upper bound.
3. HTTP ingest (--http-ingest per arm and run): two server processes on the same database, one
   with the scope step switched off (this script with --serve-without-scope-step: no results are
   read, nothing checked or recorded), both admitting in their own process (no admission
   workers, so that /proc counts the whole publication), signed DCCs published alternately to each by one client;
   the server CPU time per publication of each process (/proc), so the ratio is the step's share
   of the whole publication as the server runs it, independent of the machine's load.
Default database: PostgreSQL at 127.0.0.1 (database created if missing; emptied first).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import secrets
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import report  # noqa: E402
from bench_platform import dcc_dir, ensure_postgres_database, percentile, server_cpu_seconds  # noqa: E402

from labauto.certificate.pki import CertificateAuthority  # noqa: E402
from labauto.certificate.signing import sign_dcc  # noqa: E402
from labauto.platform.server import publishing, scope  # noqa: E402
from labauto.platform.server.db import Database, migrate  # noqa: E402
from labauto.platform.server.dcc import SchemaRegistry  # noqa: E402
from labauto.platform.server.models import Base, Lab, utcnow  # noqa: E402
from labauto.platform.server.schematron import PROCESSES_ENV  # noqa: E402
from labauto.platform.server.scope_models import AccreditationBody, Scope, ScopeRow  # noqa: E402
from labauto.platform.server.service import LabRef, register_lab  # noqa: E402
from labauto.platform.server.testing import (ServerProcess, dcc_with_results, free_port,  # noqa: E402
                                             register_lab as register_lab_http, wait_healthy)

# quantity, SI unit, decade ranges starting at, alternating
QUANTITIES = [("DC voltage", "V", 1e-3, False), ("AC voltage", "V", 1e-3, True), ("DC current", "A", 1e-6, False),
              ("AC current", "A", 1e-6, True), ("resistance", "ohm", 1e-2, False), ("frequency", "Hz", 1.0, False),
              ("capacitance", "F", 1e-12, False), ("inductance", "H", 1e-6, False), ("power", "W", 1e-3, False),
              ("temperature", "K", 80.0, False)]


def reset(url: str) -> None:
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            if db.engine.dialect.name == "postgresql":
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            else:
                Base.metadata.drop_all(conn)
    finally:
        db.dispose()
    migrate(url)


def fill_scopes(url: str, labs: int, rows_per_lab: int, seed: int = 7) -> None:
    """``labs`` labs, each with one scope version of ``rows_per_lab`` non-overlapping rows."""
    rng = random.Random(seed)
    db = Database(url)
    now = utcnow()
    try:
        with db.write() as s:
            body = AccreditationBody(name="bench body")
            s.add(body)
            s.flush()
            s.execute(Lab.__table__.insert(), [dict(name=f"Bench lab {i:04d}", accreditation_id=f"D-K-{i:05d}",
                                                    created_at=now) for i in range(labs)])
            lab_ids = [r[0] for r in s.execute(Lab.__table__.select().with_only_columns(Lab.__table__.c.id)
                                               .order_by(Lab.__table__.c.id))]
            s.execute(Scope.__table__.insert(), [dict(lab_id=i, body_id=body.id, version=1,
                                                      valid_from=dt.date(2026, 1, 1), source_name="bench.csv",
                                                      source_sha256="0" * 64, row_count=rows_per_lab,
                                                      created_at=now) for i in lab_ids])
            scope_ids = [r[0] for r in s.execute(Scope.__table__.select().with_only_columns(Scope.__table__.c.id))]
            per_quantity = max(1, rows_per_lab // len(QUANTITIES))
            batch = []
            for sid in scope_ids:
                n = 0
                for name, unit, start, ac in QUANTITIES:
                    bands = [(10.0, 1e3), (1e3, 1e5)] if ac else [(None, None)]
                    decades = max(1, per_quantity // len(bands))
                    for d in range(decades):
                        lo, hi = start * 10 ** d, start * 10 ** (d + 1)
                        for fmin, fmax in bands:
                            if n >= rows_per_lab:
                                break
                            rel = rng.uniform(1e-6, 50e-6) * (10 if ac else 1)
                            batch.append(dict(scope_id=sid, line=n + 2, quantity=name, unit=unit, range_min=lo,
                                              range_max=hi, frequency_min=fmin, frequency_max=fmax, conditions="",
                                              cmc_text=f"{rel * 1e6:.2f} µ{unit}/{unit} + x", range_text=f"{lo:g} to {hi:g}",
                                              frequency_text="" if fmin is None else f"{fmin:g} Hz to {fmax:g} Hz",
                                              cmc_relative=rel, cmc_absolute=lo * rng.uniform(1e-7, 1e-5),
                                              cmc_table=None, k=2.0))
                            n += 1
                if len(batch) >= 20_000:
                    s.execute(ScopeRow.__table__.insert(), batch)
                    batch = []
            if batch:
                s.execute(ScopeRow.__table__.insert(), batch)
        if db.engine.dialect.name == "postgresql":   # what autovacuum does to an insert-only table
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        db.dispose()


def bench_search(base_url: str, n: int, seed: int, server_pid: int | None = None) -> dict[str, float]:
    rng = random.Random(seed)
    times, counts = [], []
    with httpx.Client(base_url=base_url, timeout=30) as c:
        for _ in range(30):
            c.get("/api/v1/capabilities", params={"quantity": "DC voltage", "value": "10 V"})
        cpu0 = server_cpu_seconds(server_pid) if server_pid else None
        for _ in range(n):
            name, unit, start, ac = rng.choice(QUANTITIES)
            value = start * 10 ** rng.uniform(0, 9)
            params = {"quantity": name, "value": f"{value:.6g} {unit}", "max_cmc": f"{rng.uniform(2, 40):.3g} ppm"}
            if ac:
                params["frequency"] = f"{rng.choice([50, 1000, 20000])} Hz"
            t0 = time.perf_counter()
            r = c.get("/api/v1/capabilities", params=params)
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
            counts.append(r.json()["count"])
        cpu1 = server_cpu_seconds(server_pid) if server_pid else None
    return {"p50": statistics.median(times) * 1e3, "p99": percentile(times, 99) * 1e3,
            "mean_hits": statistics.mean(counts),
            "server_cpu": (cpu1 - cpu0) / n * 1e3 if cpu0 is not None and cpu1 is not None else None}


def bench_ingest(url: str, n: int, runs: int) -> list[tuple[float, float, float, float]]:
    """(wall ms per document without, with the scope step; thread CPU ms without, with) per run."""
    ca = CertificateAuthority.create("bench CA")
    keys = ca.issue("Bench ingest lab")
    schemas = SchemaRegistry(dcc_dir() / "schema", rule_processes=0)   # all CPU in this thread
    template = (dcc_dir() / "examples" / "valid.xml").read_bytes()
    from lxml import etree

    from labauto.certificate.dcc_xml import DCC_NS, safe_parser
    root = etree.fromstring(template, parser=safe_parser())
    cid = root.find(f"{{{DCC_NS}}}administrativeData/{{{DCC_NS}}}coreData/{{{DCC_NS}}}uniqueIdentifier")
    # ten DC voltage points shaped like labauto's DCC, inside the lab's scope
    points = [{"nominal": f"{v} V", "U": f"{max(30e-6 * abs(v), 20e-6) * 1e6:.1f} µV"}
              for v in (0.01, 0.1, -0.1, 1, -1, 10, -10, 100, 500, 1000)]
    db = Database(url)
    try:
        with db.write() as s:
            lab = register_lab(s, "Ingest lab", "D-K-INGEST", keys.cert_pem.decode(), actor="bench")
            body = scope.register_body(s, "Ingest body")
            from labauto.platform.server.scope_file import parse
            rows = ["quantity,range_min,range_max,frequency_min,frequency_max,conditions,cmc,k",
                    "DC voltage,0 V,10 µV,,,,5 µV/V + 1 nV,2"]
            for d in range(-5, 4):
                rows.append(f"DC voltage,{10.0 ** d:g} V,{10.0 ** (d + 1):g} V,,,,5 µV/V + {10.0 ** d:g} µV,2")
            for i in range(90):                    # the rest of the 100 rows: other quantities
                rows.append(f"resistance,{i + 1} Ω,{i + 2} Ω,,,,10 µΩ/Ω + 1 µΩ,2" if i < 60 else
                            f"AC voltage,{i} V,{i + 1} V,10 Hz,1 kHz,,100 µV/V + 1 µV,2")
            scope.import_scope(s, scope.BodyRef(body.id, body.name), lab.id, parse("\n".join(rows), "ingest.csv"),
                               source_name="ingest.csv", source_sha256="0" * 64, valid_from=dt.date(1950, 1, 1))  # valid.xml: 1957
            ref = LabRef(lab.id, lab.name)

        def docs(tag: str, count: int) -> list[bytes]:
            out = []
            for i in range(count):
                cid.text = f"INGEST-{tag}-{i:05d}"
                base = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
                out.append(sign_dcc(dcc_with_results(base, points), keys.key_pem, keys.cert_pem))
            return out

        results = []
        for run in range(runs):
            a, b = docs(f"A{run}", n), docs(f"B{run}", n)
            t_base = t_scope = c_base = c_scope = 0.0
            for da, dbb in zip(a, b):
                t0, c0 = time.perf_counter(), time.thread_time()
                adm = publishing.admit_submission(da, schemas)
                with db.write_connection() as conn:
                    publishing.store(conn, ref, da, adm)
                t1, c1 = time.perf_counter(), time.thread_time()
                # what the server's publish does with the step (app.py: results, check, store, record)
                adm = publishing.admit_submission(dbb, schemas)
                with db.write_connection() as conn:
                    coverage = scope.check(conn, ref.id, adm.facts.end_date, adm.results)
                    out = publishing.store(conn, ref, dbb, adm)
                    scope.record_coverage(conn, out.row_id, coverage)   # as app.py's publish
                t2, c2 = time.perf_counter(), time.thread_time()
                assert len(coverage) == 10 and all(c.covered for c in coverage), coverage
                t_base += t1 - t0
                t_scope += t2 - t1
                c_base += c1 - c0
                c_scope += c2 - c1
            results.append((t_base / n * 1e3, t_scope / n * 1e3, c_base / n * 1e3, c_scope / n * 1e3))
    finally:
        db.dispose()
    return results


def serve_without_scope_step(argv: list[str]) -> None:
    """The platform server with the scope step switched off (the baseline arm of the HTTP ingest
    measurement): no results are read, so the check returns at once and nothing is recorded."""
    from labauto.platform.server import admission
    from labauto.platform.server.__main__ import main as server_main
    admission.extract_results = lambda root: []
    sys.exit(server_main(argv))


def bench_http_ingest(url: str, n: int, runs: int) -> list[tuple[float, float]]:
    """(server CPU ms per publication without, with the scope step) per run: two server
    processes on the same database, one with the step switched off, publications alternating
    between them (one client), each process's CPU time from /proc."""
    import subprocess
    admin = secrets.token_urlsafe(16)
    ca = CertificateAuthority.create("bench CA")
    keys = ca.issue("Bench HTTP lab")
    # both servers admit in their own process (no admission workers): /proc then counts it all
    os.environ[PROCESSES_ENV] = "0"
    with ServerProcess(url, dcc_dir() / "schema", admin_token=admin) as on:
        port = free_port()
        off = subprocess.Popen([sys.executable, __file__, "--serve-without-scope-step", "--db", url, "--schema-dir",
                                str(dcc_dir() / "schema"), "--port", str(port), "--log-level", "warning"],
                               env=dict(os.environ, LABAUTO_PLATFORM_ADMIN_TOKEN=admin))
        try:
            off_url = f"http://127.0.0.1:{port}"
            wait_healthy(off_url, 60, off)
            token = register_lab_http(on.base_url, admin, "HTTP ingest lab", "D-K-HTTP", keys.cert_pem)
            db = Database(url)
            try:
                with db.write() as s:
                    lab_id = s.scalar(Lab.__table__.select().with_only_columns(Lab.__table__.c.id)
                                      .where(Lab.__table__.c.name == "HTTP ingest lab"))
                    body = scope.register_body(s, "HTTP ingest body")
                    from labauto.platform.server.scope_file import parse
                    scope.import_scope(s, scope.BodyRef(body.id, body.name), lab_id, parse(_ingest_scope(), "i.csv"),
                                       source_name="i.csv", source_sha256="1" * 64, valid_from=dt.date(1950, 1, 1))
            finally:
                db.dispose()
            make = _doc_maker(keys)
            out = []
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=off_url, headers=headers, timeout=60) as c_off, \
                    httpx.Client(base_url=on.base_url, headers=headers, timeout=60) as c_on:
                for d in make("WARM", 10):       # both servers warm (imports, caches, prepared statements)
                    assert c_off.post("/api/v1/certificates", files={"dcc": ("d.xml", d)}).status_code == 201
                for d in make("WARM2", 10):
                    assert c_on.post("/api/v1/certificates", files={"dcc": ("d.xml", d)}).status_code == 201
                for run in range(runs):
                    a, b = make(f"HA{run}", n), make(f"HB{run}", n)
                    off0, on0 = server_cpu_seconds(off.pid), server_cpu_seconds(on.proc.pid)
                    for da, dbb in zip(a, b):
                        r = c_off.post("/api/v1/certificates", files={"dcc": ("d.xml", da)})
                        assert r.status_code == 201, r.text
                        r = c_on.post("/api/v1/certificates", files={"dcc": ("d.xml", dbb)})
                        assert r.status_code == 201, r.text
                    off1, on1 = server_cpu_seconds(off.pid), server_cpu_seconds(on.proc.pid)
                    out.append(((off1 - off0) / n * 1e3, (on1 - on0) / n * 1e3))
            with httpx.Client(base_url=on.base_url, timeout=60) as c:     # the step did run on one side only
                acc = c.get(f"/api/v1/certificates/HB0-{n - 1:05d}").json()["accreditation"]
                assert acc["status"] == "accredited" and len(acc["results"]) == 10, acc
                acc = c.get(f"/api/v1/certificates/HA0-{n - 1:05d}").json()["accreditation"]
                assert acc["status"] == "no results assessed", acc
        finally:
            off.terminate()
            off.wait(10)
    return out


def _ingest_scope() -> str:
    rows = ["quantity,range_min,range_max,frequency_min,frequency_max,conditions,cmc,k",
            "DC voltage,0 V,10 µV,,,,5 µV/V + 1 nV,2"]
    for d in range(-5, 4):
        rows.append(f"DC voltage,{10.0 ** d:g} V,{10.0 ** (d + 1):g} V,,,,5 µV/V + {10.0 ** d:g} µV,2")
    for i in range(90):                    # the rest of the 100 rows: other quantities
        rows.append(f"resistance,{i + 1} Ω,{i + 2} Ω,,,,10 µΩ/Ω + 1 µΩ,2" if i < 60 else
                    f"AC voltage,{i} V,{i + 1} V,10 Hz,1 kHz,,100 µV/V + 1 µV,2")
    return "\n".join(rows)


def _doc_maker(keys):
    """``make(tag, count)``: signed copies of PTB's valid.xml (calibrated 1957) with ten DC voltage
    results inside the ingest scope, certificate ids ``{tag}-00000`` ..."""
    from lxml import etree

    from labauto.certificate.dcc_xml import DCC_NS, safe_parser
    root = etree.fromstring((dcc_dir() / "examples" / "valid.xml").read_bytes(), parser=safe_parser())
    cid = root.find(f"{{{DCC_NS}}}administrativeData/{{{DCC_NS}}}coreData/{{{DCC_NS}}}uniqueIdentifier")
    points = [{"nominal": f"{v} V", "U": f"{max(30e-6 * abs(v), 20e-6) * 1e6:.1f} µV"}
              for v in (0.01, 0.1, -0.1, 1, -1, 10, -10, 100, 500, 1000)]

    def make(tag: str, count: int) -> list[bytes]:
        out = []
        for i in range(count):
            cid.text = f"{tag}-{i:05d}"
            base = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
            out.append(sign_dcc(dcc_with_results(base, points), keys.key_pem, keys.cert_pem))
        return out
    return make


def main() -> None:
    if sys.argv[1:2] == ["--serve-without-scope-step"]:
        serve_without_scope_step(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/labauto_bench_scope",
                    help="database URL (emptied first); PostgreSQL databases are created if missing")
    ap.add_argument("--labs", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=100)
    ap.add_argument("--requests", type=int, default=1000, help="capability searches per run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ingest", type=int, default=150, help="documents per arm and run")
    ap.add_argument("--http-ingest", type=int, default=100,
                    help="documents per arm and run published over HTTP (0: skip)")
    ap.add_argument("--skip-search", action="store_true")
    a = ap.parse_args()
    if a.db.startswith("postgres"):
        ensure_postgres_database(a.db)
    report.header("")
    print(f"database {a.db}")
    reset(a.db)
    t0 = time.perf_counter()
    fill_scopes(a.db, a.labs, a.rows)
    print(f"filled {a.labs} labs x {a.rows} scope rows in {time.perf_counter() - t0:.1f} s (then VACUUM ANALYZE)")
    admin = secrets.token_urlsafe(16)
    p50s, p99s, cpus = [], [], []
    with ServerProcess(a.db, dcc_dir() / "schema", admin_token=admin) as server:
        for run in range(0 if a.skip_search else a.runs):
            r = bench_search(server.base_url, a.requests, seed=run, server_pid=server.proc.pid)
            p50s.append(r["p50"])
            p99s.append(r["p99"])
            cpu = f", server CPU {r['server_cpu']:.2f} ms/request" if r["server_cpu"] is not None else ""
            if r["server_cpu"] is not None:
                cpus.append(r["server_cpu"])
            print(f"capability search run {run + 1}: p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms{cpu} "
                  f"({a.requests} requests, {r['mean_hits']:.0f} labs found on average); {report.load()}")
    if not a.skip_search:
        print(f"capability search over {a.runs} runs: p50 {report.span(p50s, '{:.2f}', 'ms')}, "
              f"p99 {report.span(p99s, '{:.2f}', 'ms')} (goal p99 <= 20 ms)"
              + (f"; server CPU per request {report.span(cpus, '{:.2f}', 'ms')}" if cpus else ""))
    if a.http_ingest:
        cpu = []
        for run, (off, on) in enumerate(bench_http_ingest(a.db, a.http_ingest, a.runs), 1):
            cpu.append((on / off - 1) * 100)
            print(f"HTTP ingest run {run}: server CPU {off:.2f} ms per publication without the scope step, "
                  f"{on:.2f} ms with it (+{cpu[-1]:.1f} %); {report.load()}")
        print(f"scope step over HTTP, server CPU per publication: +{report.span(cpu, '{:.1f}', '%')} "
              "(goal <= 10 %)")
    walls, cpus = [], []
    for run, (base, with_scope, cbase, cscope) in enumerate(bench_ingest(a.db, a.ingest, a.runs) if a.ingest else (), 1):
        walls.append((with_scope / base - 1) * 100)
        cpus.append((cscope / cbase - 1) * 100)
        print(f"ingest run {run}: without the scope step {base:.2f} ms/document wall, {cbase:.2f} ms CPU; "
              f"with it {with_scope:.2f} ms wall (+{walls[-1]:.1f} %), {cscope:.2f} ms CPU (+{cpus[-1]:.1f} %); "
              f"{report.load()}")
    if a.ingest:
        print(f"scope check cost over {a.runs} runs: CPU +{report.span(cpus, '{:.1f}', '%')}, wall "
              f"+{report.span(walls, '{:.1f}', '%')} of the in-process publishing time (goal <= 10 %; "
              "HTTP excluded, so an upper bound)")
    report.footer()


if __name__ == "__main__":
    main()
