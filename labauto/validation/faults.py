"""``labauto validate PROCEDURE --faults``: the procedure calibrated on the simulated lab through
injected faults, each checked for what must never happen.

Scenarios of an electrical procedure (each on its own simulated lab, run folder and
certificate; a temperature comparison procedure's: labauto.validation.comparison_faults, the
same loop and checks):

    timeout         the meter does not answer one read command (at a random reading)
    dropped-socket  the meter's connection is cut at a read command
    error-queue     the source rejects its output command at a random point (SCPI -222 in its
                    error queue)
    overload        the meter answers one read with the overload indication (+9.9E37)
    killed          the calibration process is killed (SIGKILL) at a random reading and the
                    run is resumed by a new session
    platform-down   the platform does not answer while the certificate is published; it is
                    delivered from the outbox when the platform is back

A run that stops is resumed (``run_calibration(resume_folder=...)``, what ``labauto resume``
does) with the fault cleared.  Checked for each:

    outcome          completed in one session, or stopped cleanly (a named error, nothing
                     else) and completed when resumed
    readings lost    readings the journal held when the run stopped that are missing later,
                     plus readings of a completed point that are not on the certificate (must be 0)
    measured twice   points with more than one completed attempt in the journal (must be 0)
    standby          the source was in standby when the run stopped and at the end (a heat
                     source: at its procedure's safe setpoint)
    published        publication records of the certificate on the platform (must be 1)

A scenario whose fault never fired (no matching command after it was set) is an error.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

SCENARIOS = ("timeout", "dropped-socket", "error-queue", "overload", "killed", "platform-down")
OVERLOAD_ANSWER = "+9.90000000E+37"


@dataclass
class FaultOutcome:
    scenario: str
    injected: str                  # what was done, where
    first_session: str             # "completed" | "stopped cleanly: <error>" | "stopped: <error>"
    completed: bool                # a certificate was issued in the end
    resumed: bool
    readings_lost: int
    points_measured_twice: int
    standby_when_stopped: bool     # the source was in standby when the run stopped
    standby_at_end: bool           # ... and when the scenario ended
    published: int | None          # publication records on the platform (None: no platform)
    certificate_id: str = ""
    error: str = ""                # why the scenario itself could not be checked

    @property
    def ok(self) -> bool:
        return (self.completed and not self.error and self.readings_lost == 0
                and self.points_measured_twice == 0 and self.standby_at_end
                # a killed process cannot put the source in standby (reported, not judged)
                and (self.standby_when_stopped or self.scenario == "killed")
                and self.published in (None, 1)
                and self.first_session.startswith(("completed", "stopped cleanly")))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


class _InjectAt:
    """A run observer that injects a fault into the simulated lab after reading ``at``
    (``trigger="reading"``) or as point ``at`` starts (``"point"``: its first attempt)."""

    def __init__(self, at: int, inject: Callable[[], None], trigger: str = "reading"):
        self.at, self.inject, self.trigger, self.count = at, inject, trigger, 0
        self.fired = False

    def _event(self) -> None:
        self.count += 1
        if self.count == self.at:
            self.inject()
            self.fired = True

    def point_started(self, point: Any, attempt: int) -> None:
        if self.trigger == "point":
            self._event()

    def reading(self, point: Any, index: int, value: Any) -> None:
        if self.trigger == "reading":
            self._event()

    def point_finished(self, point: Any) -> None:
        pass

    def point_skipped(self, point: Any, reason: str) -> None:
        pass


@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class FaultBench:
    """A private lab home, outbox and (with the PTB DCC schemas) a reference platform for the
    scenarios; ``run(name)`` runs one.  What a kind of procedure needs (its simulated lab, its
    calibration, its faults) is a subclass's: :class:`ElectricalFaultBench`,
    :class:`labauto.validation.comparison_faults.ComparisonFaultBench`;
    :func:`fault_bench` picks the one for a procedure file."""

    def __init__(self, procedure: str | Path, workdir: str | Path, *, seed: int = 1,
                 timeout_ms: int = 1000, platform: bool = True):
        self.procedure_path = Path(procedure)
        self.procedure = self._load(self.procedure_path)
        self.workdir = Path(workdir).resolve()
        self.seed, self.timeout_ms, self.want_platform = seed, timeout_ms, platform
        self.rng = np.random.default_rng(seed)
        self.base_url: str | None = None
        self._admin = secrets.token_urlsafe(24)
        self._token = ""
        self._stack = contextlib.ExitStack()

    # -- set-up ----------------------------------------------------------------------------
    def _load(self, path: Path) -> Any:
        raise NotImplementedError

    def __enter__(self) -> "FaultBench":
        from labauto.engine.operator import AutoConfirm, set_operator

        home = self.workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        self._stack.enter_context(_environment({
            "LABAUTO_HOME": str(home), "LABAUTO_OUTBOX": str(home / "outbox.sqlite3"),
            "LABAUTO_LOCK_DIR": str(self.workdir / "locks"), "LABAUTO_LAB": None,
            "LABAUTO_PLATFORM_URL": None, "LABAUTO_PLATFORM_TOKEN": None,
            "LABAUTO_SIGNING_KEY": None, "LABAUTO_SIGNING_CERT": None,
            "LABAUTO_TSA_URL": None, "LABAUTO_TSA_TOKEN": None}))
        previous = set_operator(AutoConfirm())        # a simulated lab has no leads to move
        self._stack.callback(set_operator, previous)
        if self.want_platform:
            self._start_platform()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()

    def _start_platform(self) -> None:
        from labauto.config import dcc_schema_dir
        from labauto.demo_platform import _demo_ca, demo_lab_token
        from labauto.lab import load_lab
        from labauto.platform.server.testing import running_server
        from labauto.signing_identity import lab_signing_identity

        schema_dir = dcc_schema_dir()
        if schema_dir is None:          # no PTB schemas: publishing is not checked
            return
        lab = load_lab(None)
        identity = lab_signing_identity(lab)
        self.base_url = self._stack.enter_context(running_server(
            f"sqlite:///{self.workdir / 'platform.sqlite3'}", schema_dir, admin_token=self._admin,
            trusted_ca_pem=identity.ca_cert_pem, ca=_demo_ca(identity)))
        self._token = demo_lab_token(self.base_url, self._admin, lab, identity.cert_pem,
                                     self.workdir / "platform-lab.json")

    def _platform_env(self, url: str | None = None) -> contextlib.AbstractContextManager[None]:
        if self.base_url is None:
            return contextlib.nullcontext()
        return _environment({"LABAUTO_PLATFORM_URL": url or self.base_url,
                             "LABAUTO_PLATFORM_TOKEN": self._token})

    def published(self, certificate_id: str) -> int | None:
        """Publication records of ``certificate_id`` in the platform's audit log."""
        if self.base_url is None:
            return None
        import httpx

        r = httpx.get(f"{self.base_url}/api/v1/audit", params={"certificate_id": certificate_id},
                      headers={"Authorization": f"Bearer {self._admin}"}, timeout=30)
        r.raise_for_status()
        return sum(1 for e in r.json() if e["action"] == "certificate.publish")

    # -- scenarios -------------------------------------------------------------------------
    scenarios: tuple[str, ...] = SCENARIOS

    def run(self, scenario: str) -> FaultOutcome:
        if scenario not in self.scenarios:
            raise ValueError(f"unknown fault scenario {scenario!r}; known: {', '.join(self.scenarios)}")
        with self._lab() as lab:
            if scenario == "killed":
                return self._killed(lab)
            if scenario == "platform-down":
                return self._platform_down(lab)
            injected, inject, trigger = self._injection(lab, scenario)
            return self._injected_run(lab, scenario, injected, inject, trigger)

    # what a kind of procedure provides (an electrical one: below; a temperature comparison:
    # labauto.validation.comparison_faults)
    def _lab(self) -> contextlib.AbstractContextManager[Any]:
        """A started simulated lab for the procedure."""
        raise NotImplementedError

    def _injection(self, lab: Any, scenario: str) -> tuple[str, Callable[[], None], str]:
        """(what is injected, the injection, "reading" | "point": after a random reading or
        at the start of a random point)."""
        raise NotImplementedError

    def _calibrate(self, lab: Any, folder: Path, run_id: str, *, observer: Any = None,
                   resume: bool = False, publish: bool = True) -> Any:
        """Calibrate (or resume) in this process; an outcome with ``.result.certificate_id``,
        ``.issued`` and ``.publication``."""
        raise NotImplementedError

    def _certified_readings(self, outcome: Any) -> dict[str, list[float]]:
        """Point id -> the readings the certificate's result was evaluated from."""
        raise NotImplementedError

    def _in_standby(self, lab: Any) -> bool:
        raise NotImplementedError

    def _total_readings(self) -> int:
        return sum(pt.readings for pt in self.procedure.points)

    def _child(self, lab: Any, folder: Path, run_id: str) -> tuple[str, dict[str, Any]]:
        """Python code calibrating in a separate process (killed), and its arguments."""
        raise NotImplementedError

    def _kill_target(self) -> tuple[str, Callable[[str], bool]]:
        """Where the separate process is killed: (description, is it reached? given the
        journal's text); a random reading (never the last: the run must not have ended)."""
        at = int(self.rng.integers(1, self._total_readings()))
        return f"reading {at}", lambda text: _count(text, "reading") >= at

    def _serve_child(self, lab: Any, folder: Path) -> None:
        """Called while the separate process calibrates (a simulated technician's answers)."""

    def _injected_run(self, lab: Any, name: str, injected: str,
                      inject: Callable[[], None], trigger: str = "reading") -> FaultOutcome:
        """Calibrate with ``inject`` called after a random reading (or at the start of a
        random point); resume if the run stops."""
        folder = self.workdir / name
        run_id = f"faults-{name}"
        if trigger == "point":
            at = int(self.rng.integers(1, len(self.procedure.points) + 1))
            where = f"at the start of point {at}"
        else:
            at = int(self.rng.integers(1, self._total_readings()))
            where = f"after reading {at}"
        observer = _InjectAt(at, inject, trigger)
        with self._platform_env():
            try:
                outcome = self._calibrate(lab, folder, run_id, observer=observer)
                first, snapshot, standby_at_stop = "completed", "", True
            except Exception as exc:  # noqa: BLE001 - classified and reported
                first = _stopped(exc)
                standby_at_stop = self._in_standby(lab)
                snapshot = _journal_text(folder, run_id)
                lab.clear_faults()
                outcome = self._calibrate(lab, folder, run_id, resume=True)
        unfired = lab.pending_faults() if hasattr(lab, "pending_faults") else 0
        checked = self._checked(lab, name, f"{injected} {where}", first, outcome, folder, run_id,
                                snapshot, standby_at_stop)
        if unfired or not observer.fired:
            checked.error = "the fault was never triggered (no matching command after it was set)"
        return checked

    def _killed(self, lab: Any) -> FaultOutcome:
        """A separate process calibrates; it is killed at a random point of the journal
        (:meth:`_kill_target`); this one resumes."""
        name, run_id = "killed", "faults-killed"
        folder = self.workdir / name
        where, reached = self._kill_target()
        code, args = self._child(lab, folder, run_id)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(args)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        journal = folder / "runs" / run_id / "journal.jsonl"
        deadline = time.monotonic() + 120
        killed_at = None
        while proc.poll() is None and time.monotonic() < deadline:
            self._serve_child(lab, folder)
            if journal.exists() and reached(journal.read_text()):
                proc.send_signal(signal.SIGKILL)
                killed_at = where
                break
            time.sleep(0.002)
        proc.wait(timeout=60)
        if killed_at is None:
            err = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace")[-400:]
            return FaultOutcome("killed", f"kill after {where}",
                                "completed before the kill", False, False, 0, 0,
                                self._in_standby(lab), self._in_standby(lab), None,
                                error=f"the calibration process ended (status {proc.returncode}) "
                                      f"before {where}: {err}")
        if proc.stderr:
            proc.stderr.close()
        snapshot = _journal_text(folder, run_id)
        standby_at_stop = self._in_standby(lab)  # nobody could put it in standby: reported
        with self._platform_env():
            outcome = self._calibrate(lab, folder, run_id, resume=True)
        return self._checked(lab, "killed", f"SIGKILL after {killed_at} (journal had "
                             f"{_count(snapshot, 'reading')} readings)", "stopped cleanly: killed",
                             outcome, folder, run_id, snapshot, standby_at_stop)

    def _platform_down(self, lab: Any) -> FaultOutcome:
        from labauto.publishing import publish_issued

        name, run_id = "platform-down", "faults-platform-down"
        folder = self.workdir / name
        if self.base_url is None:
            return FaultOutcome(name, "no platform (PTB DCC schemas not found)", "", False, False,
                                0, 0, True, True, None,
                                error="no platform to take down: set LABAUTO_DCC_DIR")
        with self._platform_env(f"http://127.0.0.1:{_closed_port()}"), \
                _environment({"LABAUTO_PUBLISH_DEADLINE_S": "2"}):
            outcome = self._calibrate(lab, folder, run_id)          # publishing fails: queued
        first = f"completed; publication {outcome.publication.get('state')} while the platform was down"
        with self._platform_env():
            publish_issued(outcome.issued)                          # the outbox delivers it
            publish_issued(outcome.issued)                          # a second drain sends nothing
        return self._checked(lab, name, "the platform refuses connections while publishing",
                             first, outcome, folder, run_id, "", True)

    # -- checks ----------------------------------------------------------------------------
    def _checked(self, lab: Any, name: str, injected: str, first: str, outcome: Any,
                 folder: Path, run_id: str, snapshot: str, standby_at_stop: bool) -> FaultOutcome:
        text = _journal_text(folder, run_id)
        lost = sum(1 for line in snapshot.splitlines() if line.strip() and line not in text)
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
        done: dict[str, int] = {}
        for r in records:
            if r.get("type") == "point_done":
                done[r["point_id"]] = done.get(r["point_id"], 0) + 1
        twice = sum(1 for n in done.values() if n > 1)
        from labauto.engine.journal import RunJournal

        state = RunJournal(folder / "runs" / run_id / "journal.jsonl").read()
        for point_id, certified in self._certified_readings(outcome).items():
            journalled = [r["value"] for r in state.points[point_id].readings]
            lost += sum(1 for v in journalled if v not in certified)
        published = self.published(outcome.result.certificate_id)
        return FaultOutcome(name, injected, first, True, first.startswith("stopped"), lost, twice,
                            standby_at_stop, self._in_standby(lab), published,
                            outcome.result.certificate_id)


class ElectricalFaultBench(FaultBench):
    """An electrical procedure's scenarios: its meter and source on the simulated lab."""

    def _load(self, path: Path) -> Any:
        from labauto.procedure import load_procedure
        return load_procedure(path)

    def _lab(self) -> contextlib.AbstractContextManager[Any]:
        from labauto.sim.lab import lab_for_procedure
        return lab_for_procedure(self.procedure, seed=self.seed)

    def _injection(self, lab: Any, scenario: str) -> tuple[str, Callable[[], None], str]:
        reads, outs = self._read_commands(), self._output_commands()
        read, out = _pattern(reads), _pattern(outs)
        said_read, said_out = _said(reads), _said(outs)     # the commands, not their regex
        return {
            "timeout": (f"the meter does not answer {said_read}",
                        lambda: lab.inject_fault("dmm", "hang", on=read, count=1), "reading"),
            "dropped-socket": (f"the meter's connection is cut at {said_read}",
                               lambda: lab.inject_fault("dmm", "drop", on=read, count=1), "reading"),
            # set as a random point starts, before its output command (set after a reading
            # of the last point it would never fire)
            "error-queue": (f"the source rejects {said_out} with -222",
                            lambda: lab.inject_fault("calibrator", "error", on=out, count=1,
                                                     code=-222, message="Data out of range"),
                            "point"),
            "overload": (f"the meter answers {said_read} with {OVERLOAD_ANSWER}",
                         lambda: lab.inject_fault("dmm", "reply", on=read, count=1,
                                                  message=OVERLOAD_ANSWER), "reading"),
        }[scenario]

    def _resources(self, lab: Any) -> tuple[str, str]:
        r = lab.resources
        return (r["calibrator"], r["dmm"]) if self.procedure.direction == "source" \
            else (r["dmm"], r["calibrator"])

    def _read_commands(self) -> list[str]:
        """The meter's read commands of the procedure's functions (up to their arguments)."""
        meter = self.procedure.meter_model
        return sorted({meter.function(pt.function).commands.get("read", "READ?").split("{")[0].strip()
                       for pt in self.procedure.points})

    def _output_commands(self) -> list[str]:
        source = self.procedure.source_model
        return sorted({c.split("{")[0].strip() for pt in self.procedure.points
                       for key in ("output", "output_ac")
                       if (c := source.function(pt.function).commands.get(key))})

    def _calibrate(self, lab: Any, folder: Path, run_id: str, *, observer: Any = None,
                   resume: bool = False, publish: bool = True) -> Any:
        from labauto.calibration import run_calibration

        dut, std = self._resources(lab)
        return run_calibration(self.procedure_path, dut_resource=dut, standard_resource=std,
                               runs_dir=folder / "runs", out_dir=folder / "certificates",
                               resume_folder=folder / "runs" / run_id if resume else None,
                               run_id=None if resume else run_id, settle_scale=0.0,
                               timeout_ms=self.timeout_ms, observer=observer, publish=publish)

    def _certified_readings(self, outcome: Any) -> dict[str, list[float]]:
        return {p.point_id: list(p.readings) for p in outcome.result.points}

    def _in_standby(self, lab: Any) -> bool:
        return lab.calibrator_state()["operate"] is False

    def _child(self, lab: Any, folder: Path, run_id: str) -> tuple[str, dict[str, Any]]:
        dut, std = self._resources(lab)
        args = dict(procedure=str(self.procedure_path), dut=dut, std=std, runs=str(folder / "runs"),
                    out=str(folder / "certificates"), run_id=run_id, timeout_ms=self.timeout_ms)
        code = ("import json,sys\nfrom labauto.calibration import run_calibration\n"
                "from labauto.engine.operator import AutoConfirm, set_operator\n"
                "a=json.loads(sys.argv[1]); set_operator(AutoConfirm())\n"
                "run_calibration(a['procedure'], dut_resource=a['dut'], standard_resource=a['std'],"
                " runs_dir=a['runs'], out_dir=a['out'], run_id=a['run_id'], settle_scale=0.0,"
                " timeout_ms=a['timeout_ms'], publish=False)\n")
        return code, args


def fault_bench(procedure: str | Path, workdir: str | Path, **options: Any) -> FaultBench:
    """The fault bench for ``procedure``'s kind: an electrical procedure's, or a temperature
    comparison's (labauto.validation.comparison_faults)."""
    from labauto.procedure.temperature import is_temperature_procedure

    if is_temperature_procedure(procedure):
        from labauto.validation.comparison_faults import ComparisonFaultBench
        return ComparisonFaultBench(procedure, workdir, **options)
    return ElectricalFaultBench(procedure, workdir, **options)


def scenarios_of(procedure: str | Path) -> tuple[str, ...]:
    """The fault scenarios of ``procedure``'s kind."""
    from labauto.procedure.temperature import is_temperature_procedure

    if is_temperature_procedure(procedure):
        from labauto.validation.comparison_faults import COMPARISON_SCENARIOS
        return COMPARISON_SCENARIOS
    return SCENARIOS


def run_faults(procedure: str | Path, workdir: str | Path,
               scenarios: tuple[str, ...] | None = None, *, seed: int = 1,
               platform: bool = True) -> list[FaultOutcome]:
    with fault_bench(procedure, workdir, seed=seed, platform=platform) as bench:
        return [bench.run(s) for s in scenarios or bench.scenarios]


def _stopped(exc: BaseException) -> str:
    from labauto.errors import LabautoError
    from labauto.visa.errors import VisaError

    text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    return ("stopped cleanly: " if isinstance(exc, (LabautoError, VisaError)) else "stopped: ") + text


def _journal_text(folder: Path, run_id: str) -> str:
    path = folder / "runs" / run_id / "journal.jsonl"
    return path.read_text() if path.exists() else ""


def _count(text: str, record_type: str) -> int:
    return text.count(f'"type": "{record_type}"') or text.count(f'"type":"{record_type}"')


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]      # closed again when this returns: nothing listens there


def _pattern(commands: list[str]) -> str:
    """A regex matching any of ``commands``."""
    return "|".join(re.escape(c) for c in commands)


def _said(commands: list[str]) -> str:
    """``commands`` as a reader sees them: 'READ?', or 'A' or 'B'."""
    return " or ".join(f"'{c}'" for c in commands)

