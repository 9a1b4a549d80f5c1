"""A calibration run on disk: its folder, journal, instruments, and which points remain.

    runs/<run_id>/journal.jsonl     every reading, as it arrived (see journal.py)

``start_run`` writes the header (procedure hash, resources, settings); ``open_run`` reopens it
for resuming and refuses a procedure file that changed since; ``execute_points`` measures the
points not yet completed, opening the instruments once and always leaving them safe.
"""
from __future__ import annotations

import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TypeVar

from labauto.files import lock_holder, pid_lock
from labauto.engine.conditions import ConditionsMonitor, environment_logger
from labauto.engine.journal import JournalError, JournalState, RunJournal, now_iso
from labauto.engine.locks import InstrumentLocks, open_locked
from labauto.engine.measure import measure_point
from labauto.engine.observer import RunObserver, current_observer
from labauto.engine.operator import current_operator
from labauto.engine.preflight import DUT, STANDARD
from labauto.procedure import OperatorStep, Procedure, TestPoint, load_procedure

if TYPE_CHECKING:
    from labauto.procedure.temperature import TemperaturePoint, TemperatureProcedure

JOURNAL_NAME = "journal.jsonl"
P = TypeVar("P", bound="TestPoint | TemperaturePoint")   # a point of either kind of procedure


@dataclass(frozen=True)
class RunSettings:
    """How a run talks to the lab.  ``settle_scale`` multiplies the procedure's settle times
    (1.0 for real instruments; 0 for the zero-latency simulated lab only)."""

    dut_resource: str
    standard_resource: str
    timeout_ms: int = 10000
    settle_scale: float = 1.0
    operator: str = ""
    environment_resource: str = ""     # the environment logger (thermo-hygrometer), if any
    item_condition: str = ""           # the item's condition on receipt (ISO/IEC 17025 7.8.2.1 g)
    item_condition_confirmed: bool = False   # stated by a technician (else: the lab's default)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Run:
    run_id: str
    folder: Path
    procedure: Procedure
    settings: RunSettings
    journal: RunJournal

    def state(self) -> JournalState:
        return self.journal.read()

    def pending_points(self) -> list[TestPoint]:
        done = self.state().completed_ids()
        return [p for p in self.procedure.points if p.id not in done]


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def start_run(procedure: Procedure, runs_dir: str | Path, settings: RunSettings,
              run_id: str | None = None) -> Run:
    run_id = run_id or new_run_id()
    folder = Path(runs_dir) / run_id
    journal = RunJournal.create(folder / JOURNAL_NAME, {
        "run_id": run_id,
        "procedure": {"id": procedure.id, "version": procedure.version,
                      "path": str(procedure.path), "resolved_path": str(Path(procedure.path).resolve()),
                      "sha256": procedure.sha256},
        "points": [p.id for p in procedure.points],
        "instrument_models": _model_hashes(procedure),
        "settings": settings.to_dict(),
    })
    return Run(run_id, folder, procedure, settings, journal)


def _model_hashes(procedure: Procedure) -> dict[str, dict[str, str]]:
    """The instrument model files a run depends on (their specifications set the tolerances and
    the standard's uncertainty contributions), by role."""
    files = {role: {"key": m.key, "path": str(m.folder / "model.yaml"), "sha256": m.sha256}
             for role, m in (("dut", procedure.dut_model), ("standard", procedure.standard_model))}
    cert = procedure.reference_certificate      # the standard's certificate sets its values too
    if cert is not None:
        files["reference certificate"] = {"key": cert.certificate_id, "path": str(cert.path),
                                          "sha256": cert.sha256}
    for use in procedure.shunts:                # a shunt's certified value sets the currents
        files[f"shunt {use.name}"] = {"key": use.shunt.certificate.certificate_id,
                                      "path": str(use.shunt.path), "sha256": use.shunt.sha256}
    return files


def open_run(folder: str | Path, procedure_path: str | Path | None = None,
             settings: RunSettings | None = None) -> Run:
    """Reopen an interrupted run.  The procedure must be byte-identical to the one it started
    with (its hash is in the journal header); resources may be given anew."""
    folder = Path(folder)
    journal = RunJournal(folder / JOURNAL_NAME)
    header = journal.read().header
    proc_path = Path(procedure_path or header["procedure"]["path"])
    resolved = header["procedure"].get("resolved_path")
    if procedure_path is None and not proc_path.exists() and resolved:
        proc_path = Path(resolved)     # the run was started from another working folder
    procedure = load_procedure(proc_path)
    if procedure.sha256 != header["procedure"]["sha256"]:
        raise JournalError(
            f"{proc_path} changed since run {header['run_id']} started (sha256 "
            f"{procedure.sha256[:12]}… vs {header['procedure']['sha256'][:12]}…); a run can only "
            "be resumed with the procedure it started with")
    for role, now in _model_hashes(procedure).items():
        then = header.get("instrument_models", {}).get(role)   # (absent in journals before 2026-11-25)
        if then is not None and then["sha256"] != now["sha256"]:
            what = role if role == "reference certificate" or role.startswith("shunt ") \
                else f"{role} instrument model"
            raise JournalError(
                f"the {what} {now['path']} changed since run {header['run_id']} started "
                f"(sha256 {now['sha256'][:12]}… vs {then['sha256'][:12]}…): its specifications set the "
                "tolerances and uncertainty contributions, so the run can only be resumed or "
                "evaluated with the model it started with")
    if settings is None:
        settings = RunSettings(**header["settings"])
    return Run(header["run_id"], folder, procedure, settings, journal)


IdentityCheck = Callable[[dict[str, Any]], None]


class RunInUse(JournalError):
    """Another labauto session is measuring this run (two sessions would measure every point twice)."""


@contextmanager
def run_lock(run: Run) -> Iterator[None]:
    """Hold the run folder's lock (an OS file lock, released by the kernel if the holder dies)
    while instruments are driven for this run; a second session is refused at once."""
    path = run.folder / "run.lock"
    with pid_lock(path) as held:
        if not held:
            raise RunInUse(f"run {run.folder} is being measured by another labauto session (pid "
                           f"{lock_holder(path) or '?'}); let it finish, or stop it and `labauto resume` the run")
        yield


@contextmanager
def lab_instruments(run: Run, resource_manager: Any = None,
                    check_identities: IdentityCheck | None = None) -> Iterator[tuple[Any, Any]]:
    """Open DUT and standard (a meter and a source, in either order), identity-checked, under
    the instrument locks (see :mod:`labauto.engine.locks`); record who they are; always leave
    them safe, then unlock.

    ``check_identities`` (e.g. the lab's register of reference standards) may refuse the
    instruments before anything is measured.  On a resumed run the DUT and standard must be the
    same instruments (serial numbers) as the ones that produced the readings already in the
    journal.
    """
    kept = _kept.get(run.run_id)
    if kept is not None:                 # the flow keeps them open between its point tasks
        pair = kept.instruments(run, resource_manager, check_identities)
        try:
            yield pair
        except BaseException as exc:     # safe and closed; a retry opens them afresh
            kept.close(exc)
            raise
        return
    with ExitStack() as stack:
        yield _open_checked(stack, run, resource_manager, check_identities)


def _open_checked(stack: ExitStack, run: Run, resource_manager: Any,
                  check_identities: IdentityCheck | None) -> tuple[Any, Any]:
    locks = stack.enter_context(InstrumentLocks(run.run_id))   # released after both are safe
    dut = open_locked(stack, locks, DUT, run.settings.dut_resource, run.procedure.dut_model,
                      timeout_ms=run.settings.timeout_ms, resource_manager=resource_manager)
    standard = open_locked(stack, locks, STANDARD, run.settings.standard_resource,
                           run.procedure.standard_model, timeout_ms=run.settings.timeout_ms,
                           resource_manager=resource_manager)
    identities = {"item": dut.identity, "reference": standard.identity}
    if check_identities is not None:
        check_identities(identities)
    _record_identities(run, identities)
    return dut, standard


class _KeptInstruments:
    """A run's DUT and standard, opened by its first point task and kept open for the next ones
    (see :func:`instruments_kept_open`)."""

    def __init__(self) -> None:
        self._stack: ExitStack | None = None
        self._key: tuple[Any, ...] | None = None
        self._pair: tuple[Any, Any] | None = None

    def instruments(self, run: Run, resource_manager: Any,
                    check_identities: IdentityCheck | None) -> tuple[Any, Any]:
        key = (run.settings.dut_resource, run.settings.standard_resource,
               run.settings.timeout_ms, id(resource_manager))
        if self._pair is not None and key == self._key:
            return self._pair
        self.close()
        stack = ExitStack()
        try:
            self._pair = _open_checked(stack, run, resource_manager, check_identities)
        except BaseException:
            stack.close()
            raise
        self._stack, self._key = stack, key
        return self._pair

    def close(self, exc: BaseException | None = None) -> None:
        """Leave them safe and closed (the next point task opens them again)."""
        stack, self._stack, self._pair, self._key = self._stack, None, None, None
        if stack is not None:
            if exc is None:
                stack.close()
            else:
                stack.__exit__(type(exc), exc, exc.__traceback__)


_kept: dict[str, _KeptInstruments] = {}


@contextmanager
def instruments_kept_open(run_id: str) -> Iterator[_KeptInstruments]:
    """Within the block, the point tasks of run ``run_id`` (the Prefect flow's, in this
    process) share one instrument session, as the plain engine's points do, instead of opening
    and identifying the instruments for every point: each point still leaves the sources in
    standby.  A point that fails closes the session safe (a retry opens it afresh); ``close()``
    on the yielded object closes it (before a pause for the technician).  At the end of the
    block the instruments are left safe and closed."""
    kept = _kept[run_id] = _KeptInstruments()
    try:
        yield kept
    finally:
        _kept.pop(run_id, None)
        kept.close()


def _record_identities(run: Run, identities: dict[str, Any]) -> None:
    known = run.state().instruments
    for role, ident in identities.items():
        seen = known.get(role)
        if seen and seen["serial"] != ident.serial:
            raise JournalError(
                f"run {run.run_id} was measured with {role} serial {seen['serial']}, but the "
                f"instrument at {ident.resource} is serial {ident.serial}; resume with the same "
                "instruments or start a new run")
        if not seen:
            run.journal.append({"type": "instrument", "role": role,
                                "manufacturer": ident.manufacturer, "model": ident.model,
                                "serial": ident.serial, "firmware": ident.firmware,
                                "identity": ident.raw, "resource": ident.resource})


def execute_points(run: Run, points: Sequence[TestPoint] | None = None, *,
                   resource_manager: Any = None, observer: RunObserver | None = None,
                   sleep: Callable[[float], None] = time.sleep,
                   check_identities: IdentityCheck | None = None,
                   environment: Any = None, ask_steps: bool = True) -> None:
    """Measure ``points`` (default: every point not yet completed) with one instrument session;
    with an environment logger (``run.settings.environment_resource`` and the lab file's
    ``environment`` settings), the conditions are read at its start, after each point and at
    its end.  ``ask_steps=False``: the caller has had the operator steps before these points
    done and journalled (the Prefect flow asks them between its tasks: flows/operator_input.py)."""
    obs = observer or current_observer()
    state = run.state()
    todo = list(points) if points is not None else run.pending_points()
    if points is None:   # whole-run mode: say which points an earlier session completed
        for p in run.procedure.points:
            if p.id in state.completed_ids():
                obs.point_skipped(p, "completed in an earlier session of this run")
    if not todo:
        return
    with run_lock(run):
        # another session may have completed points meanwhile: a completed point is never
        # measured again in the same run
        done = run.state().completed_ids()
        for p in todo:
            if p.id in done and points is not None:
                obs.point_skipped(p, "completed in another session of this run")
        todo = [p for p in todo if p.id not in done]
        if todo:
            _measure(run, todo, resource_manager, check_identities, sleep, obs, environment,
                     ask_steps)


def _measure(run: Run, todo: Sequence[TestPoint], resource_manager: Any, check_identities: IdentityCheck | None,
             sleep: Callable[[float], None], obs: RunObserver, environment: Any = None,
             ask_steps: bool = True) -> None:
    operator = current_operator()
    with lab_instruments(run, resource_manager, check_identities) as (dut, standard), \
            environment_logger(run, environment, resource_manager) as logger:
        meter, source = (standard, dut) if run.procedure.direction == "source" else (dut, standard)
        if logger is not None:
            identity = {"environment": logger.identity}
            if check_identities is not None:
                check_identities(identity)
            _record_identities(run, identity)
        monitor = ConditionsMonitor(run, logger, environment, obs)
        monitor.poll("start")
        for n, point in enumerate(todo):
            for step in steps_before(run.procedure, point, first_of_session=n == 0) if ask_steps else ():
                source.standby()          # nobody moves leads on live terminals
                operator.confirm(step, point)
                run.journal.append({"type": "operator_step", "point_id": point.id,
                                    "text": step.text, "line": step.line,
                                    "answered_in": "terminal", "t": now_iso()})
            record = run.state().points.get(point.id)
            attempt = record.next_attempt if record else 1
            measure_point(point, meter, source, run.journal, attempt,
                          settle_scale=run.settings.settle_scale, sleep=sleep, observer=obs,
                          plausibility_limit=run.procedure.plausibility_limit)
            monitor.poll(f"after {point.id}")
        monitor.poll("end")


def steps_before(procedure: Procedure | TemperatureProcedure, point: TestPoint | TemperaturePoint, *,
                 first_of_session: bool) -> tuple[OperatorStep, ...]:
    """The operator steps to confirm before measuring ``point`` (of a calibration or a
    temperature comparison procedure): its own; and when a session starts (or resumes) there,
    the last step written before it, so the technician confirms the set-up the point needs (the
    leads or probes may have been moved while the run was stopped)."""
    if point.steps or not first_of_session:
        return point.steps
    earlier = [s for p in procedure.points[:point.index] for s in p.steps]
    return tuple(earlier[-1:])


def stretches(procedure: Procedure | TemperatureProcedure,
              points: Sequence[P]) -> list[tuple[tuple[OperatorStep, ...], list[P]]]:
    """``points`` (the pending ones, in order; the first starts a session) cut where a person is
    needed: ``(steps, points)`` pairs, ``steps`` the operator steps (:func:`steps_before`) to
    have done before the first of those points, none needed between the others."""
    out: list[tuple[tuple[OperatorStep, ...], list[P]]] = []
    for n, point in enumerate(points):
        steps = steps_before(procedure, point, first_of_session=n == 0)
        if steps or not out:
            out.append((steps, []))
        out[-1][1].append(point)
    return out
