"""The lab's deployments (flows/deployments.py) on the session's Prefect harness, the benches of
the lab file (labauto/benches.py), and what `labauto lab up` starts (flows/lab_up.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from labauto.errors import SourceError
from labauto.lab import DEFAULT_LAB_FILE

ROOT = Path(__file__).resolve().parents[2]
BENCHES = """
benches:
  dc-1:
    standard: TCPIP0::10.0.0.7::5025::SOCKET
    dut: TCPIP0::10.0.0.5::5025::SOCKET
    environment: TCPIP0::10.0.0.9::5025::SOCKET
  dc-2:
    standard: TCPIP0::10.0.1.7::5025::SOCKET
    workdir: data/second
"""


@pytest.fixture(scope="module")
def lab_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lab") / "lab.yaml"
    path.write_text(DEFAULT_LAB_FILE.read_text() + BENCHES)
    return path


@pytest.fixture(scope="module")
def deployed(prefect_harness, lab_file) -> list[str]:
    """The lab's deployments, created on the session's harness (once for this module)."""
    from flows.deployments import deploy_lab

    return deploy_lab(lab_file)


def test_benches_are_read_from_the_lab_file(lab_file):
    from labauto.benches import load_benches
    from labauto.lab import load_lab

    load_lab(lab_file)                        # the lab file with benches: is still a lab file
    benches = load_benches(lab_file)
    assert sorted(benches) == ["dc-1", "dc-2"]
    one, two = benches["dc-1"], benches["dc-2"]
    assert (one.standard, one.dut, one.environment) == (
        "TCPIP0::10.0.0.7::5025::SOCKET", "TCPIP0::10.0.0.5::5025::SOCKET",
        "TCPIP0::10.0.0.9::5025::SOCKET")
    assert one.workdir == lab_file.parent / "labauto-data" / "dc-1"
    assert two.runs_dir == lab_file.parent / "data" / "second" / "runs" and two.dut == ""
    assert load_benches(DEFAULT_LAB_FILE) == {}


@pytest.mark.parametrize("bench, line, message", [
    ("  DC 1:\n    standard: X\n", 2, "bench name 'DC 1'"),
    ("  dc-3:\n    dut: X\n", 2, "needs standard"),
    ("  dc-3:\n    standard: X\n    calibrator: Y\n", 4, "unknown key 'calibrator'"),
])
def test_a_bad_bench_is_refused_at_its_line(tmp_path, bench, line, message):
    from labauto.benches import load_benches

    path = tmp_path / "lab.yaml"
    text = DEFAULT_LAB_FILE.read_text()
    path.write_text(text + "benches:\n" + bench)
    with pytest.raises(SourceError, match=message) as err:
        load_benches(path)
    assert err.value.line == text.count("\n") + line


@pytest.mark.prefect
def test_each_bench_gets_its_deployments_on_its_own_work_queue(deployed, lab_file):
    from prefect.client.orchestration import get_client

    from flows.deployments import WORK_POOL, deploy_lab

    names = deployed
    assert sorted(names) == sorted(f"{flow}/bench-{b}" for b in ("dc-1", "dc-2")
                                   for flow in ("calibrate", "check-standard", "validate"))
    assert deploy_lab(lab_file) == names                  # again: updated, not duplicated
    with get_client(sync_client=True) as client:
        pool = client.read_work_pool(WORK_POOL)
        queues = {q.name for q in client.read_work_queues(work_pool_name=WORK_POOL)}
        one = client.read_deployment_by_name("calibrate/bench-dc-1")
        two = client.read_deployment_by_name("calibrate/bench-dc-2")
    assert pool.type == "process" and {"bench-dc-1", "bench-dc-2"} <= queues
    assert (one.work_pool_name, one.work_queue_name) == (WORK_POOL, "bench-dc-1")
    assert two.work_queue_name == "bench-dc-2"
    assert one.entrypoint == "flows/calibrate.py:calibrate"
    assert one.pull_steps == [{"prefect.deployments.steps.set_working_directory":
                               {"directory": str(ROOT)}}]
    assert one.parameters == {
        "standard_resource": "TCPIP0::10.0.0.7::5025::SOCKET",
        "dut_resource": "TCPIP0::10.0.0.5::5025::SOCKET",
        "environment_resource": "TCPIP0::10.0.0.9::5025::SOCKET",
        "lab_file": str(lab_file.resolve()),
        "runs_dir": str(lab_file.parent / "labauto-data" / "dc-1" / "runs"),
        "out_dir": str(lab_file.parent / "labauto-data" / "dc-1" / "certificates")}
    assert "dut_resource" not in two.parameters        # dc-2 has no fixed DUT port
    assert one.job_variables["working_dir"] == str(ROOT)
    assert one.job_variables["env"]["LABAUTO_LAB"] == str(lab_file.resolve())
    assert "bench:dc-1" in one.tags
    # the flow's parameters are enforced by the server: a run without a procedure is refused
    assert one.enforce_parameter_schema and "procedure" in one.parameter_openapi_schema["required"]


@pytest.mark.prefect
def test_a_run_on_a_bench_is_submitted_to_its_deployment(deployed, lab_file):
    from prefect.client.orchestration import get_client

    from flows.bench_run import submit
    from labauto.benches import load_benches

    bench = load_benches(lab_file)["dc-2"]
    procedure = str(ROOT / "procedures" / "keysight_34465a_dcv_quick.yaml")
    flow_run = submit(bench, {"procedure": procedure, "dut_resource": "TCPIP0::10.0.1.5::5025::SOCKET",
                              "settle_scale": 0.0})
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("calibrate/bench-dc-2")
        run = client.read_flow_run(flow_run.id)
        client.delete_flow_run(flow_run.id)          # (no worker runs it in this test)
    assert run.deployment_id == deployment.id and run.work_queue_name == "bench-dc-2"
    assert run.state.is_scheduled()
    # the bench's instruments and folders, with what the technician gave
    assert run.parameters["procedure"] == procedure
    assert run.parameters["standard_resource"] == "TCPIP0::10.0.1.7::5025::SOCKET"
    assert run.parameters["dut_resource"] == "TCPIP0::10.0.1.5::5025::SOCKET"
    assert run.parameters["runs_dir"] == str(lab_file.parent / "data" / "second" / "runs")
    assert "bench:dc-2" in run.tags


def test_lab_up_starts_the_server_on_its_database_and_one_worker_per_bench(lab_file, tmp_path,
                                                                           monkeypatch):
    import sys

    from flows.lab_up import LEASES, database_url, plan
    from labauto.benches import load_benches

    benches = list(load_benches(lab_file).values())
    monkeypatch.delenv("PREFECT_WORKER_QUERY_SECONDS", raising=False)
    server, *workers = plan(benches, lab_file, prefect_home=tmp_path / "prefect",
                            database="postgresql://lab@db.example:5432/prefect", port=4311)
    assert server.argv == [sys.executable, "-m", "prefect", "server", "start", "--host",
                           "127.0.0.1", "--port", "4311"]
    assert server.env["PREFECT_API_DATABASE_CONNECTION_URL"] == \
        "postgresql+asyncpg://lab@db.example:5432/prefect"
    assert server.env["PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"] == LEASES   # leases on disk
    assert [w.argv[3:] for w in workers] == [
        ["worker", "start", "--pool", "labauto", "--work-queue", f"bench-{b}", "--name", f"bench-{b}",
         "--type", "process"] for b in ("dc-1", "dc-2")]
    assert {w.env["PREFECT_API_URL"] for w in workers} == {"http://127.0.0.1:4311/api"}
    assert {w.env["LABAUTO_LAB"] for w in workers} == {str(lab_file)}
    # a submitted run waits at most 2 s for its worker's poll (Prefect's default: 10 s),
    # unless the lab sets its own interval
    assert {w.env["PREFECT_WORKER_QUERY_SECONDS"] for w in workers} == {"2"}
    monkeypatch.setenv("PREFECT_WORKER_QUERY_SECONDS", "5")
    assert {w.env["PREFECT_WORKER_QUERY_SECONDS"] for w in plan(
        benches, lab_file, prefect_home=tmp_path / "prefect")[1:]} == {"5"}
    assert database_url(None, tmp_path) == f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}"
    assert database_url("postgresql+psycopg://u@h/p", tmp_path) == "postgresql+asyncpg://u@h/p"
    with pytest.raises(Exception, match="PostgreSQL or SQLite"):
        database_url("mysql://u@h/p", tmp_path)
    with pytest.raises(Exception, match="defines no benches"):
        plan([], DEFAULT_LAB_FILE, prefect_home=tmp_path)


@pytest.mark.prefect
def test_a_run_orphaned_by_a_dead_worker_is_crashed_and_resumed_from_its_journal(deployed, lab_file):
    import subprocess
    import sys

    from prefect.client.orchestration import get_client
    from prefect.states import Running

    from flows.bench_run import submit
    from flows.recovery import process_alive, recover_bench
    from labauto.benches import load_benches

    bench = load_benches(lab_file)["dc-2"]
    folder = bench.runs_dir / "ORPHAN-RUN"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "journal.jsonl").write_text('{"type": "run", "run_id": "ORPHAN-RUN"}\n')
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; print('up', flush=True); "
                              "time.sleep(60)", "prefect-flow-run"], stdout=subprocess.PIPE)
    try:
        assert alive.stdout.readline() == b"up\n"          # (its command line is set now)
        assert not process_alive(dead.pid) and process_alive(alive.pid)
        runs = [submit(bench, {"procedure": str(ROOT / "procedures" / "keysight_34465a_dcv_quick.yaml"),
                               "dut_resource": "TCPIP0::10.0.1.5::5025::SOCKET"}) for _ in range(2)]
        with get_client(sync_client=True) as client:
            for run, pid in zip(runs, (dead.pid, alive.pid)):
                client.set_flow_run_state(run.id, Running(), force=True)
                client.update_flow_run(run.id, infrastructure_pid=str(pid),
                                       tags=["bench:dc-2", "run:ORPHAN-RUN", "holds:x"])
        recovered = recover_bench(bench)
        assert [r["crashed"] for r in recovered] == [str(runs[0].id)]     # the live one stays
        assert recovered[0]["resume_run"] == str(folder)
        assert recover_bench(bench) == []                                  # once
        with get_client(sync_client=True) as client:
            old = client.read_flow_run(runs[0].id)
            live = client.read_flow_run(runs[1].id)
            new = client.read_flow_run(recovered[0]["resumed_by"])
            for r in (runs[1], new):
                client.delete_flow_run(r.id)
    finally:
        alive.kill()
        alive.wait()
    assert old.state.is_crashed() and live.state.is_running()
    assert new.deployment_id == old.deployment_id and new.state.is_scheduled()
    assert new.parameters["resume_run"] == str(folder)
    assert new.parameters["standard_resource"] == bench.standard
    assert f"resumes:{old.id}" in new.tags and "holds:x" not in new.tags
