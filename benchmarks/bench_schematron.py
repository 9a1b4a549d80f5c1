"""What PTB's Schematron stage adds to the ingest of a signed DCC (goal: <= 20 %).

    .venv/bin/python benchmarks/bench_schematron.py [--docs 300] [--runs 5] [--ingest 300]

1. In process, per document, for N XAdES-signed DCCs (PTB's valid.xml with new ids, 25 kB, and
   labauto's own DCC of the certificate tests, 14 points): the admission stages parse, schema,
   rules (Saxon-HE running dcc.sch as the platform does: SchXslt's stylesheet made lean, one mode
   per pattern, regular expressions remembered) and signature (the fast path), each timed on its
   own; --runs repetitions, printed as ranges; with, as baselines measured in the same runs, the
   rules on SchXslt's stylesheet as compiled and on the lean stylesheet alone (the platform's
   before 2026-12-06 05:30 UTC), and the signature by signxml alone.
2. In the same run, the ingest over HTTP as bench_platform.py measures it (one server process,
   SQLite, 4 clients): documents/s and the server's CPU time per publication, in two layouts
   alternating --ingest-runs times: the whole admission (rules included) in two worker processes
   of the server (the default on >= 2 cores; LABAUTO_PLATFORM_SCHEMATRON_PROCESSES=2; the
   workers' CPU is printed apart), and in the server's process
   (LABAUTO_PLATFORM_SCHEMATRON_PROCESSES=0).  The rules' share (goal <= 20 %) is the rules
   stage's CPU (the in-process figure of 1) against the server process's CPU per publication
   without it; in the default layout none of it is left in the server's process, and the rules'
   share of all processes' CPU is printed as well.
Needs PTB's DCC folder (LABAUTO_DCC_DIR or ../shared/dcc).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labauto.certificate.pki import CertificateAuthority  # noqa: E402
from labauto.certificate.signing import sign_dcc, verify_dcc  # noqa: E402
from labauto.platform.server.dcc import SchemaRegistry, parse_well_formed  # noqa: E402
from labauto.platform.server.schematron import PROCESSES_ENV  # noqa: E402


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_platform = _module(ROOT / "benchmarks" / "bench_platform.py", "bench_platform")


def labauto_docs(n: int, key_pem: bytes, cert_pem: bytes) -> list[bytes]:
    from labauto.certificate.dcc_xml import build_dcc
    fixtures = _module(ROOT / "tests" / "certificate" / "conftest.py", "certificate_fixtures")
    return [sign_dcc(build_dcc(fixtures.make_result(certificate_id=f"LA-{i:05d}")), key_pem, cert_pem)
            for i in range(n)]


def stage_times(docs: list[bytes], registry: SchemaRegistry, baselines=None) -> dict[str, float]:
    """Median CPU milliseconds per document of each admission stage (process CPU time, so the
    figures depend little on what else the machine runs).  With ``baselines`` (name -> RuleBook,
    e.g. SchXslt's stylesheet as compiled) also, measured in the same run, the rules on each
    ("rules <name>") and the signature by signxml alone ("signature signxml")."""
    from labauto.certificate import signing

    times: dict[str, list[float]] = {"parse": [], "schema": [], "rules": [], "signature": []}
    base: dict[str, list[float]] = {**{f"rules {k}": [] for k in baselines or {}}, "signature signxml": []}
    for xml in docs:
        if baselines:
            root = parse_well_formed(xml)
            for name, book in baselines.items():
                t0 = time.process_time()
                book.check(root, root.get("schemaVersion"))
                base[f"rules {name}"].append((time.process_time() - t0) * 1000)
            t1 = time.process_time()
            real, signing.verify_fast = signing.verify_fast, lambda *a, **kw: None
            try:
                verify_dcc(root)
            finally:
                signing.verify_fast = real
            base["signature signxml"].append((time.process_time() - t1) * 1000)
        t0 = time.process_time()
        root = parse_well_formed(xml)
        t1 = time.process_time()
        version = registry.validate(root)
        t2 = time.process_time()
        report = registry.rules.check(root, version)
        t3 = time.process_time()
        verify_dcc(root)
        t4 = time.process_time()
        assert not report.errors, report.errors[:1]
        for k, a, b in (("parse", t0, t1), ("schema", t1, t2), ("rules", t2, t3), ("signature", t3, t4)):
            times[k].append((b - a) * 1000)
    return {k: statistics.median(v) for k, v in times.items()}, {k: statistics.median(v) for k, v in base.items() if v}


def rng(values: list[float], fmt: str = ".2f") -> str:
    return f"{min(values):{fmt}}–{max(values):{fmt}}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=300, help="documents per in-process run")
    ap.add_argument("--runs", type=int, default=5, help="in-process repetitions")
    ap.add_argument("--ingest", type=int, default=300, help="documents published over HTTP (0: skip)")
    ap.add_argument("--ingest-runs", type=int, default=2, help="HTTP runs per layout (alternating)")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    ca = CertificateAuthority.create("bench CA")
    keys = ca.issue("Bench Lab")
    schema_dir = bench_platform.dcc_dir() / "schema"
    t0 = time.perf_counter()
    registry = SchemaRegistry(schema_dir, rule_processes=0)      # the rules' CPU, in this process
    print(f"compiled dcc.sch (SchXslt + Saxon-HE) and loaded the registry in {time.perf_counter() - t0:.2f} s")
    sets = {"PTB valid.xml": bench_platform.make_docs(a.docs, keys.key_pem, keys.cert_pem),
            "labauto DCC": labauto_docs(min(a.docs, 100), keys.key_pem, keys.cert_pem)}
    from labauto.platform.server.schematron import RuleBook
    baselines = {"as compiled": RuleBook(schema_dir, lean=False, processes=0),
                 "lean": RuleBook(schema_dir, pattern_modes=False, processes=0),
                 "in a worker (this process's CPU)": RuleBook(schema_dir, processes=1)}
    in_use = ("lean, one mode per pattern" if registry.rules.pattern_modes
              else "lean" if registry.rules.lean else "as compiled")
    print(f"rules: SchXslt's stylesheet {in_use} (in use); baselines in the same runs: the stylesheet as "
          "compiled, the lean stylesheet alone, and the signature by signxml alone")
    rules_ptb = []
    for name, docs in sets.items():
        both = [stage_times(docs, registry, baselines) for _ in range(a.runs)]
        runs, bases = [r for r, _ in both], [b for _, b in both]
        total = [sum(r.values()) for r in runs]
        print(f"{name} ({len(docs[0])} bytes signed), ms per document over {a.runs} runs of {len(docs)}: "
              + ", ".join(f"{k} {rng([r[k] for r in runs])}" for k in runs[0])
              + f"; admission {rng(total)}; rules share of admission {rng([r['rules'] / t * 100 for r, t in zip(runs, total)], '.0f')} %")
        print("        baselines: " + ", ".join(f"{k} {rng([b[k] for b in bases])}" for k in bases[0]))
        if name == "PTB valid.xml":
            rules_ptb = [r["rules"] for r in runs]
    if not a.ingest:
        return
    tmp = tempfile.mkdtemp(prefix="labauto-bench-")
    admin = secrets.token_urlsafe(16)
    in_server = "rules in the server process (LABAUTO_PLATFORM_SCHEMATRON_PROCESSES=0)"
    layouts = {in_server: "0", "admission in 2 worker processes (the default)": "2"}
    figures: dict[str, list[tuple[float, float, float]]] = {k: [] for k in layouts}
    for run in range(a.ingest_runs):         # the layouts alternate, so both see the same load
        for layout, processes in layouts.items():
            docs = bench_platform.make_docs(a.ingest, keys.key_pem, keys.cert_pem, prefix=f"I{run}{processes}")
            os.environ[PROCESSES_ENV] = processes
            with bench_platform.ServerProcess(f"sqlite:///{tmp}/platform-{run}-{processes}.sqlite3", schema_dir,
                                              admin_token=admin, workers=1) as server:
                token = bench_platform.register_lab(server.base_url, admin, "Bench Lab", "D-K-0", keys.cert_pem)
                cpu0 = process_cpu_seconds(server.proc.pid)
                rate = bench_platform.bench_ingest(server.base_url, token, docs, workers=4)
                cpu1 = process_cpu_seconds(server.proc.pid)
            figures[layout].append((rate, *((c1 - c0) / len(docs) * 1000 for c0, c1 in zip(cpu0, cpu1))))
    os.environ.pop(PROCESSES_ENV, None)
    rules = statistics.median(rules_ptb)
    print(f"ingest of PTB valid.xml over HTTP (1 server process, SQLite, 4 clients), {a.ingest} documents x "
          f"{a.ingest_runs} runs per layout:")
    without = [server - rules for _, server, _ in figures[in_server]]
    for layout, runs in figures.items():
        per = [server for _, server, _ in runs]
        print(f"  {layout}: {rng([r for r, _, _ in runs], '.0f')} DCCs/s; server process CPU per publication "
              f"{rng(per)} ms, its worker processes {rng([w for _, _, w in runs])} ms")
        if layout == in_server:
            print(f"        the rules stage {rules:.2f} ms (in process, above): +{rng([rules / w * 100 for w in without], '.0f')} "
                  "% over the publication without it (goal <= 20 %)")
        else:
            total = [server + w for _, server, w in runs]
            print("        the server process keeps HTTP and the database: the rules' CPU left in it is none "
                  f"(+0 %, goal <= 20 %); all processes together {rng(total)} ms per publication, the rules "
                  f"stage {rules:.2f} ms of it (+{rng([rules / (t - rules) * 100 for t in total], '.0f')} % over "
                  "the publication without it, wherever it runs)")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def process_cpu_seconds(pid: int) -> tuple[float, float]:
    """User+system CPU seconds of process ``pid`` and of its child processes (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")

    def cpu(p: int) -> float:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick
    children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
                for c in (task / "children").read_text().split()]
    return cpu(pid), sum(cpu(c) for c in children)


if __name__ == "__main__":
    main()
