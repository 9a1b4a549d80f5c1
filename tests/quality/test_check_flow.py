"""Intermediate checks on the simulated lab: the reference meter (the register's DMM) reads a
10 V Zener check standard; 20 checks make the baseline; the Prefect flow judges the next one in
control, then, after the meter's 10 V gain has shifted by 3 µV/V, out of control: the meter is
quarantined, the certificate issued with it since its last good check is listed, the next
calibration that needs it is refused; chart PNG, report and Prefect artifacts are made."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from labauto.calibration import run_calibration
from labauto.lab import DEFAULT_LAB_FILE, StandardNotUsable
from labauto.quality import checks
from labauto.quality.records import Calibration, Item
from labauto.quality.register import open_register
from labauto.sim import SimulatedLab
from labauto.sim.artifacts import RESISTOR_10K, ZENER_10V
from labauto.units import Q_

SOURCE_PROCEDURE = """\
procedure: {id: F5522A-DCV-CHECK, title: Fluke 5522A DC voltage, version: "1", method: Reference meter}
dut: fluke_5522a
standard: keysight_34465a
settings: {readings: 3, settle_time: 1 s, nplc: 10}
decision_rule: simple-acceptance
points:
  - {function: DCV, range: 10 V, nominal: 10 V}
"""
DMM = ("Keysight Technologies", "34465A", "MY60012345")


@pytest.fixture()
def lab_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("LABAUTO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(tmp_path / "home" / "outbox.sqlite3"))
    monkeypatch.delenv("LABAUTO_PLATFORM_URL", raising=False)
    store = open_register(tmp_path / "register", create=True)
    store.add(Item("DMM-01", *DMM, "reference", 365.0, bench="DC bench 1"))
    store.add_calibration("DMM-01", Calibration("DKD-2026-0042", dt.date.today() - dt.timedelta(days=30),
                                                "Accredited DC laboratory (simulated)"))
    store.add(Item("ZENER-01", "Fluke", "732C", "Z1001", "check_standard", 365.0))
    store.add(Item("R10K-01", "Fluke", "742A-10k", "R2002", "check_standard", 365.0))
    text = DEFAULT_LAB_FILE.read_text()
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(text[:text.index("reference_standards:")] + "register: register\n")
    proc = tmp_path / "source.yaml"
    proc.write_text(SOURCE_PROCEDURE)
    return store, lab_file, proc


def _calibrate_the_calibrator(tmp_path: Path, lab_file: Path, proc: Path, seed: int):
    with SimulatedLab(seed=seed, latency="zero", dut="source") as sim:
        return run_calibration(proc, dut_resource=sim.resources["calibrator"],
                               standard_resource=sim.resources["dmm"], runs_dir=tmp_path / "runs",
                               out_dir=tmp_path / "certificates", settle_scale=0.0,
                               timeout_ms=5000, publish=False, lab_file=lab_file)


def _artifacts(flow_run_id) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return {a.key: a for a in arts}


def test_an_out_of_control_check_quarantines_the_meter_and_lists_the_recall(
        prefect_harness, tmp_path, lab_setup):
    from flows.check_standard import check_standard

    store, lab_file, proc = lab_setup
    issued = _calibrate_the_calibrator(tmp_path, lab_file, proc, seed=4).result
    assert issued.standards[0].certificate_id == "DKD-2026-0042"      # from the register

    now = dt.datetime.now(dt.timezone.utc)
    with SimulatedLab(seed=7, latency="zero") as sim:
        dmm = sim.resources["dmm"]
        for day in range(20):                                   # the baseline (phase I)
            sim.connect_artifact(ZENER_10V, day)
            value, unit = checks.measure_check(dmm, "keysight_34465a", store.get("DMM-01"),
                                               "DCV", "10 V", 10, nplc=10)
            out = checks.judge_and_record(store, "DMM-01", value, unit, check_standard="ZENER-01",
                                          time=now - dt.timedelta(days=21 - day))
            assert out.limits is None and out.baseline_needed == 20 - day
        assert unit == "V" and abs(value - 10.0) < 400e-6     # the meter's spec: 350 µV

        sim.connect_artifact(ZENER_10V, 20)
        kw = dict(item="DMM-01", check_standard="ZENER-01", resource=dmm,
                  equipment_register=str(tmp_path / "register"), readings=10, settings={"nplc": 10},
                  certificates=[str(tmp_path / "certificates")],
                  report_dir=str(tmp_path / "checks"), timeout_ms=5000)
        state = check_standard(**kw, return_state=True)
        assert state.is_completed(), state
        good = state.result()
        assert good["verdict"] == "in control" and good["status"] == "in_service"
        lim = good["limits"]
        # the chart's sigma: the Zener's 0.1 µV/V day-to-day scatter (1 µV) and the meter's
        # noise (6.3 µV per reading at NPLC 10 on 10 V, /√10 for the mean): about 2.2 µV
        assert 1e-6 < lim["sigma"] < 5e-6, lim
        assert abs(lim["center"] - 10.0) < 400e-6

        # the meter's 10 V gain shifts by +3 µV/V (a knock in transport): +30 µV at 10 V
        gain = sim.truth.dut_error_parameters(Q_(10, "V")).gain
        offset = sim.truth.dut_error_parameters(Q_(10, "V")).offset
        sim.truth.set_dut_error("DCV", Q_(10, "V"), gain + 3e-6, Q_(offset, "V"))
        sim.connect_artifact(ZENER_10V, 21)
        state = check_standard(**kw, return_state=True)
    assert state.is_completed(), state
    bad = state.result()
    assert bad["verdict"] == "OUT OF CONTROL" and bad["status"] == "quarantined"
    assert bad["violations"][0]["rule"] == "WE1"
    assert bad["check"]["value"] - lim["center"] > 20e-6
    assert [r["certificate_id"] for r in bad["recall"]] == [issued.certificate_id]
    assert bad["recall"][0]["via"] == "DKD-2026-0042"
    assert bad["last_good"] == good["check"]["time"]

    item = store.get("DMM-01")
    assert [c.in_control for c in item.checks] == [True] * 21 + [False]
    assert item.status_history[-1].reason.startswith("intermediate check") and \
        "WE1" in item.status_history[-1].reason

    png = Path(bad["png"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    report = Path(bad["report"]).read_text()
    assert "OUT OF CONTROL" in report and issued.certificate_id in report and png.name in report
    arts = _artifacts(state.state_details.flow_run_id)
    assert "data:image/png;base64," in arts["check-dmm-01"].data
    rows = arts["chart-dmm-01"].data
    rows = json.loads(rows) if isinstance(rows, str) else rows
    assert len(rows) == 22 and rows[-1]["in_control"] is False and rows[-1]["rules"].startswith("WE1")

    # a calibration that needs the quarantined meter is refused before measuring
    with pytest.raises(StandardNotUsable, match="DMM-01.*quarantined"):
        _calibrate_the_calibrator(tmp_path, lab_file, proc, seed=5)


def test_a_10_kohm_check_and_a_refused_check_standard(tmp_path, lab_setup):
    store, _, _ = lab_setup
    with SimulatedLab(seed=3, latency="zero") as sim:
        sim.connect_artifact(RESISTOR_10K, 0)
        value, unit = checks.measure_check(sim.resources["dmm"], "keysight_34465a",
                                           store.get("DMM-01"), "RES4W", "10 kohm", 5)
    assert unit == "Ω" and abs(value - 1e4) < 1.0            # 10 kΩ within 100 µΩ/Ω
    with pytest.raises(checks.CheckRefused, match="role 'reference', not check_standard"):
        checks.usable_check_standard(store, "DMM-01")
    from labauto.quality.records import StatusChange
    store.set_status("R10K-01", StatusChange(dt.date.today(), "out_of_service", "dropped"))
    with pytest.raises(checks.CheckRefused, match="R10K-01 is out of service"):
        checks.usable_check_standard(store, "R10K-01")
    other = Item("DMM-02", "Keysight Technologies", "34465A", "MY99", "reference", 365.0)
    with SimulatedLab(seed=3, latency="zero") as sim:
        with pytest.raises(checks.CheckRefused, match="not the register's DMM-02"):
            checks.measure_check(sim.resources["dmm"], "keysight_34465a", other, "DCV", "10 V", 2)


def test_declared_limits_nelson_rules_and_a_platform_that_is_down(tmp_path):
    """A chart with declared centre and sigma (no baseline) judged by the Nelson rules; the
    out-of-control check quarantines the item and lists the lab's own certificates even when
    the platform cannot be asked (and says so)."""
    from labauto.platform.server.testing import free_port
    from labauto.quality.records import ControlSettings

    store = open_register(tmp_path / "register", create=True)
    store.add(Item("ZREF-01", "Fluke", "732C", "Z9", "reference", 365.0,
                   control=ControlSettings(center=10.0000012, sigma=0.5e-6, unit="V",
                                           rules="nelson"),
                   calibrations=(Calibration("NMI-Z9", dt.date(2026, 1, 5), "NMI"),)))
    for cid, date in (("LA-2026-70", "2026-03-04"), ("LA-2026-77", "2026-03-05")):
        (tmp_path / "certs" / cid).mkdir(parents=True)
        (tmp_path / "certs" / cid / "certificate.json").write_text(json.dumps({
            "certificate_id": cid, "calibration_date": date,
            "standards": [{"manufacturer": "Fluke", "model": "732C", "serial_number": "Z9"}]}))
    t0 = dt.datetime(2026, 3, 1, 8, tzinfo=dt.timezone.utc)
    platform = f"http://127.0.0.1:{free_port()}"
    # six checks rising steadily, all within 2 sigma: Nelson N3 fires on the sixth
    values = [10.0000012 + k * 0.15e-6 for k in range(-2, 4)]
    for k, v in enumerate(values):
        out = checks.judge_and_record(store, "ZREF-01", v, "V", time=t0 + dt.timedelta(days=k),
                                      certificates=[tmp_path / "certs"], platform_url=platform)
        assert out.limits.sigma == 0.5e-6 and out.baseline_needed == 0
        assert out.in_control == (k < 5), (k, out.violations)
    assert [v.rule for v in out.violations] == ["N3"]
    assert out.item.status == "quarantined" and store.get("ZREF-01").status == "quarantined"
    assert out.last_good.time == t0 + dt.timedelta(days=4)
    # since the last good check (day 4, 2026-03-05): the certificate of that day, not the one before
    assert [r["certificate_id"] for r in out.recall] == ["LA-2026-77"]
    assert "unreachable" in out.recall_note
    report = checks.report_markdown(out)
    assert "N3: six points in a row" in report and "**Incomplete:**" in report
    # the chart from the command line
    from typer.testing import CliRunner
    from labauto.cli import app
    r = CliRunner().invoke(app, ["register", "chart", "ZREF-01", "--out", str(tmp_path / "z.png"),
                                 "--register", str(tmp_path / "register")])
    assert r.exit_code == 0, r.output
    assert "6 checks, 1 out of control; centre line 10.0000012 V, sigma 5e-07 V" in r.output
    assert (tmp_path / "z.png").read_bytes()[:4] == b"\x89PNG"
    r = CliRunner().invoke(app, ["register", "chart", "ZREF-01", "--unit", "ohm", "--out",
                                 str(tmp_path / "y.png"), "--register", str(tmp_path / "register")])
    assert r.exit_code == 1 and "no checks in 'ohm'" in r.output


def test_labauto_register_check_in_control_then_out_of_control(prefect_harness, tmp_path,
                                                               lab_setup):
    """`labauto register check` as a technician runs it: the same steps here (--no-prefect) and
    as the Prefect flow; in control exit 0, out of control exit 3 with the item quarantined and
    the recall impact listed; bad input is one line and exit 1, nothing recorded."""
    from typer.testing import CliRunner

    from labauto.cli import app

    store, _, _ = lab_setup
    reg = tmp_path / "register"
    cert = tmp_path / "certs" / "LA-2026-901"
    cert.mkdir(parents=True)
    (cert / "certificate.json").write_text(json.dumps({
        "certificate_id": "LA-2026-901", "calibration_date": dt.date.today().isoformat(),
        "standards": [{"manufacturer": DMM[0], "model": DMM[1], "serial_number": DMM[2],
                       "certificate_id": "DKD-2026-0042"}]}))
    runner = CliRunner()
    with SimulatedLab(seed=7, latency="zero") as sim:
        dmm = sim.resources["dmm"]
        sim.connect_artifact(ZENER_10V, 0)
        value, _ = checks.measure_check(dmm, "keysight_34465a", store.get("DMM-01"), "DCV",
                                        "10 V", 10, nplc=10)
        # the lab declares the chart (centre line at the value, sigma 3 µV) in the item's file
        with (reg / "DMM-01.yaml").open("a") as f:
            f.write(f"control:\n  center: {value!r}\n  sigma: 3.0e-06\n  unit: V\n")
        args = ["register", "check", "DMM-01", "--check-standard", "ZENER-01", "--resource", dmm,
                "--setting", "nplc=10", "--register", str(reg), "--timeout-ms", "5000",
                "--report-dir", str(tmp_path / "checks"), "--certificates", str(tmp_path / "certs")]
        r = runner.invoke(app, args + ["--no-prefect"])
        assert r.exit_code == 0, r.output
        first = r.output.splitlines()[0]
        assert first.startswith("DMM-01 read ZENER-01: ") and first.endswith(" V")
        assert abs(float(first.split(": ")[1][:-2]) - value) < 9e-6, (first, value)
        assert "verdict: in control" in r.output
        assert "sigma 3e-06 V" in r.output and "item status: in_service" in r.output
        png = r.output.split("chart: ")[1].split()[0]
        assert Path(png).read_bytes()[:4] == b"\x89PNG"

        for bad, message in ((["--setting", "nplc"], "--setting 'nplc': write KEY=VALUE"),):
            r = runner.invoke(app, args + bad + ["--no-prefect"])
            assert r.exit_code == 1 and message in r.output, r.output
        r = runner.invoke(app, [a if a != "ZENER-01" else "DMM-01" for a in args] + ["--no-prefect"])
        assert r.exit_code == 1 and "role 'reference', not check_standard" in r.output
        # no Prefect server at PREFECT_API_URL: Prefect's client raises this RuntimeError when
        # the flow is called (a traceback before); now one line, exit 1
        import flows.check_standard as flow_module

        def no_server(**kw):
            raise RuntimeError("Failed to reach API at http://127.0.0.1:9/api/")
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(flow_module, "check_standard", no_server)
            r = runner.invoke(app, args + ["--prefect"])
        assert r.exit_code == 1 and "cannot reach the Prefect server" in r.output, r.output
        assert "--no-prefect" in r.output
        assert len(store.get("DMM-01").checks) == 1              # nothing recorded by either

        # the meter's 10 V gain shifts by +3 µV/V: +30 µV, ten sigma; the Prefect flow judges
        gain = sim.truth.dut_error_parameters(Q_(10, "V")).gain
        offset = sim.truth.dut_error_parameters(Q_(10, "V")).offset
        sim.truth.set_dut_error("DCV", Q_(10, "V"), gain + 3e-6, Q_(offset, "V"))
        r = runner.invoke(app, args + ["--prefect", "--json"])
    assert r.exit_code == 3, r.output
    result = json.loads(r.stdout)                           # (the flow's log is on stderr)
    assert result["verdict"] == "OUT OF CONTROL" and result["status"] == "quarantined"
    assert [v["rule"] for v in result["violations"]] == ["WE1"]
    assert [x["certificate_id"] for x in result["recall"]] == ["LA-2026-901"]
    assert result["check"]["flow_run"]                      # recorded by the flow run
    item = store.get("DMM-01")
    assert item.status == "quarantined" and [c.in_control for c in item.checks] == [True, False]


def test_an_out_of_control_check_with_nowhere_to_look_says_the_recall_was_not_searched(tmp_path):
    """Without certificate folders or a platform the recall list is empty because nothing was
    searched, not because nothing was issued: the outcome says so ("none found" before)."""
    from labauto.quality.records import ControlSettings

    store = open_register(tmp_path / "register", create=True)
    store.add(Item("ZREF-02", "Fluke", "732C", "Z8", "reference", 365.0,
                   control=ControlSettings(center=10.0, sigma=1e-6, unit="V")))
    out = checks.judge_and_record(store, "ZREF-02", 10.0 + 3.5e-6, "V")
    assert not out.in_control and out.item.status == "quarantined" and out.recall == ()
    assert out.recall_note == ("the recall impact was not searched: no certificate folders and "
                               "no platform were given")
    assert "**Incomplete:** the recall impact was not searched" in checks.report_markdown(out)
