"""Operator input: a step only a person can do pauses the ``calibrate`` flow run.

A procedure's ``step:`` (move the leads, fit the short) is asked before the point that needs it,
between two measure tasks: the instruments are then safe and closed (sources in standby), while
the flow run keeps its instrument slots and locks, so nobody else takes the bench meanwhile.

- With a person at the terminal (``labauto run`` asks; ``--yes`` confirms every step) the
  terminal answers and the flow does not pause.
- Otherwise, with a Prefect server, the flow run pauses with
  ``pause_flow_run(wait_for_input=StepDone)``: the technician answers in the Prefect UI (the
  paused run's Resume form) or with ``labauto operator answer RUN --technician NAME``.
- Without a server nobody could answer: the step stops the run (resumable), as the plain
  engine does without a terminal.

The answer is journalled (``operator_step``: technician, note) before the point is measured.
No answer within ``operator_timeout_s``, or an answer "not done", ends the flow run (failed,
the log says why) with every reading kept; the run is resumed with the flow's ``resume_run``
parameter (or ``labauto resume``), which asks the step again.
"""
from __future__ import annotations

from contextlib import contextmanager
import math
import re
from typing import Annotated, Any, Iterator, Literal

import pydantic
from prefect.input import RunInput

from labauto.engine.journal import now_iso
from labauto.engine.operator import (NoOperator, OperatorStepRefused, current_operator,
                                    set_operator)

from flows.instrument_slots import server_url


def _named(value: str) -> str:
    if not value.strip():
        raise ValueError("name the technician who answers (a name or initials, not blanks)")
    return value.strip()


# who answered, and a note: the same fields in every answer a technician gives (one definition)
Technician = Annotated[str, pydantic.Field(min_length=1, max_length=200),
                       pydantic.AfterValidator(_named)]
Note = Annotated[str, pydantic.Field(max_length=2000, description="anything worth recording")]


class StepDone(RunInput):
    """The technician's answer to an operator step (the Resume form in the Prefect UI)."""

    done: bool = pydantic.Field(True, description="the step is done; the bench is ready")
    technician: Technician = pydantic.Field(..., description="who did the step (name or initials)")
    note: Note = ""


# the units a display-only thermometer shows: a typed answer names one of them
DISPLAY_UNITS = {"degC": "degC", "°C": "degC", "degree_Celsius": "degC", "celsius": "degC",
                 "K": "K", "kelvin": "K"}


class TypedReading(RunInput):
    """A reading typed from a display-only thermometer's display (the Resume form in the
    Prefect UI, or ``labauto operator answer RUN --reading "25.03 degC" --technician NAME``)."""

    value: float = pydantic.Field(..., allow_inf_nan=False,
                                  description="the number on the thermometer's display")
    unit: Literal["degC", "K"] = pydantic.Field("degC", description="its unit: degC (°C) or K")
    technician: Technician = pydantic.Field(..., description="who read the display (name or initials)")
    note: Note = ""


def wait_for_technician(what: str, *, timeout_s: float, log: Any) -> str:
    """An attended calibration (its procedure has operator steps) starts only with a person at
    the bench: the terminal's (``--yes`` / a terminal operator), or one who answers the paused
    flow run.  Returns who attends; raises :class:`OperatorStepRefused` otherwise."""
    operator = current_operator()
    if not isinstance(operator, NoOperator):
        return "terminal"
    if server_url() is None:
        raise OperatorStepRefused(f"{what} needs a technician at the bench (its procedure has "
                                  "operator steps); run it at a terminal")
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import pause_flow_run

    log.warning("waiting for a technician: %s needs one at the bench (answer in the Prefect UI "
                "or with `labauto operator answer RUN --technician NAME`)", what)
    try:
        answer = pause_flow_run(
            wait_for_input=StepDone.with_initial_data(
                done=True, description=f"**A technician is needed at the bench.** {what}: its procedure has "
                            "operator steps, so it never runs unattended. Answer with your name "
                            "when you are at the bench; nothing is touched before."),
            timeout=max(1, int(timeout_s)), poll_interval=1, key="technician")
    except FlowPauseTimeout:
        _stop(log, f"nobody came to attend {what} within {timeout_s:g} s: nothing was "
                   "measured; it runs again at its next scheduled time, or start it by hand")
    if not answer.done:
        _stop(log, f"{answer.technician} answered that nobody can attend {what} now"
                   f"{': ' + answer.note if answer.note else ''}; nothing was measured")
    log.warning("attended by %s", answer.technician)
    return answer.technician


def step_description(run: Any, step: Any, point: Any) -> str:
    """What the paused run asks (markdown: the UI shows it above the form)."""
    line = f" (procedure line {step.line})" if step.line else ""
    return (f"**{step.text}**{line}\n\nbefore point `{point.id}` of labauto run `{run.run_id}` "
            f"({run.procedure.id}). Sources are in standby. Answer *done* and your name when "
            "the bench is ready.")


def confirm_step(run: Any, step: Any, point: Any, *, timeout_s: float, log: Any) -> None:
    """Have ``step`` done before ``point`` (terminal, or a pause for input); journal the answer;
    raise :class:`OperatorStepRefused` when it is not done."""
    operator = current_operator()
    record: dict[str, Any] = {"type": "operator_step", "point_id": point.id, "text": step.text,
                              "line": step.line}
    if isinstance(operator, NoOperator) and server_url() is not None:
        answer = _pause_for_answer(run, step, point, timeout_s=timeout_s, log=log)
        record.update(technician=answer.technician, note=answer.note, answered_in="prefect")
    else:
        operator.confirm(step, point)      # the terminal (or --yes); NoOperator refuses
        record.update(answered_in="terminal")
    record["t"] = now_iso()
    run.journal.append(record)


class PausingOperator:
    """The operator for engine code that asks inside a task (the adjustment's lead changes, a
    display-only thermometer's readings): the same pause for a typed answer; the engine
    journals the step, the log says who did it; a typed reading is journalled here
    (``display_entry``: value, unit, technician) before the engine records the reading."""

    def __init__(self, run: Any, *, timeout_s: float, log: Any):
        self.run, self.timeout_s, self.log = run, timeout_s, log

    def confirm(self, step: Any, point: Any) -> None:
        _pause_for_answer(self.run, step, point, timeout_s=self.timeout_s, log=self.log)

    def read_display(self, point: Any, index: int) -> Any:
        """Pause the flow run (the heat source stays at the setpoint: the task holds it) until
        the technician types reading ``index`` of ``point``; journal who typed what."""
        from labauto.units import Q_

        answer = _pause_for_reading(self.run, point, index, timeout_s=self.timeout_s, log=self.log)
        record = self.run.state().points.get(point.id)
        self.run.journal.append({
            "type": "display_entry", "point_id": point.id,
            "attempt": max(record.attempts) if record and record.attempts else 1, "index": index,
            "value": answer.value, "unit": answer.unit, "technician": answer.technician,
            "note": answer.note, "answered_in": "prefect", "t": now_iso()})
        return Q_(answer.value, answer.unit)


@contextmanager
def asking_by_pause(run: Any, *, timeout_s: float, log: Any) -> Iterator[None]:
    """While the block runs, steps the engine asks inside a task pause the flow run (when
    nobody is at a terminal and a server is there; otherwise nothing changes)."""
    if not (isinstance(current_operator(), NoOperator) and server_url() is not None):
        yield
        return
    previous = set_operator(PausingOperator(run, timeout_s=timeout_s, log=log))
    try:
        yield
    finally:
        set_operator(previous)


def _stop(log: Any, message: str) -> None:
    """End the flow run: the log says why (the server words the failed state of a pause that
    ran out itself: "never resumed")."""
    log.error(message)
    raise OperatorStepRefused(message)


def _pause_for_answer(run: Any, step: Any, point: Any, *, timeout_s: float, log: Any) -> StepDone:
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import pause_flow_run

    log.warning("waiting for the technician: %s (before point %s; sources in standby; answer "
                "in the Prefect UI or with `labauto operator answer`)", step.text, point.id)
    resume = (f"every reading is kept; resume the run with `labauto resume {run.folder}` (or the "
              f"flow's resume_run parameter {str(run.folder)!r}), which asks the step again")
    try:
        answer = pause_flow_run(
            wait_for_input=StepDone.with_initial_data(
                description=step_description(run, step, point), done=True),
            timeout=max(1, int(timeout_s)), poll_interval=1)
    except FlowPauseTimeout:
        _stop(log, f"nobody answered {step.text!r} before point {point.id} within "
                   f"{timeout_s:g} s (flow parameter operator_timeout_s): the run stops here; {resume}")
    if not answer.done:
        _stop(log, f"{answer.technician} answered that {step.text!r} is not done"
                   f"{': ' + answer.note if answer.note else ''}; the run stops before point "
                   f"{point.id}; {resume}")
    log.warning("step done (%s): %s", answer.technician, step.text)
    return answer


def reading_description(run: Any, point: Any, index: int) -> str:
    """What a paused run asks for a display reading (markdown)."""
    return (f"**Type reading {index + 1} of {point.readings} on the thermometer's display** at "
            f"setpoint `{point.id}` ({point.setpoint:~P} in {point.heat_source}) of labauto run "
            f"`{run.run_id}` ({run.procedure.id}). The heat source is held at the setpoint and "
            "the reference is stable: read the display now. Answer the number, its unit "
            "(degC or K) and your name.")


def _pause_for_reading(run: Any, point: Any, index: int, *, timeout_s: float,
                       log: Any) -> TypedReading:
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import pause_flow_run

    log.warning("waiting for the technician to type reading %d of %d at %s (heat source held at "
                "the setpoint; answer in the Prefect UI or with `labauto operator answer RUN "
                "--reading VALUE --technician NAME`)", index + 1, point.readings, point.id)
    try:
        answer = pause_flow_run(
            wait_for_input=TypedReading.with_initial_data(
                description=reading_description(run, point, index), unit="degC"),
            timeout=max(1, int(timeout_s)), poll_interval=1)
    except FlowPauseTimeout:
        _stop(log, f"nobody typed reading {index + 1} of {point.id} within {timeout_s:g} s "
                   f"(flow parameter operator_timeout_s): the run stops here, the heat source "
                   f"goes to its safe setpoint; every reading is kept; resume the run with the "
                   f"flow's resume_run parameter {str(run.folder)!r} (or `labauto comparison "
                   f"resume {run.folder}` at a terminal): {point.id} is measured again")
    log.warning("reading %d of %s typed by %s: %s %s", index + 1, point.id, answer.technician,
                answer.value, answer.unit)
    return answer


# -- the technician's side: what is waiting, and answering it (labauto operator ...) -----------

class AnswerRefused(Exception):
    """An answer that cannot be sent: no such run, a run not waiting, an answer of the wrong type."""


def waiting_runs() -> list[dict[str, Any]]:
    """The flow runs paused for an operator answer, oldest first: id, name, labauto run, what
    they ask, since when and until when."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterState,
                                                FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.input.actions import read_flow_run_input

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType.PAUSED]))), sort=FlowRunSort.START_TIME_ASC)
    found = []
    for r in runs:
        details = r.state.state_details if r.state else None
        keyset = details.run_input_keyset if details else None
        if not keyset:
            continue                      # paused without asking for input: not ours to answer
        asks = read_flow_run_input(keyset["description"], flow_run_id=r.id) or ""
        schema = read_flow_run_input(keyset["schema"], flow_run_id=r.id) or {}
        wants = "reading" if "value" in (schema.get("properties") or {}) else "step"
        found.append({
            "flow_run_id": str(r.id), "flow_run_name": r.name,
            "labauto_run": next((t[4:] for t in r.tags if t.startswith("run:")), ""),
            "asks": asks, "wants": wants,
            "paused_since": r.state.timestamp.isoformat() if r.state else None,
            "answer_by": details.pause_timeout.isoformat() if details.pause_timeout else None})
    return found


def find_waiting_run(ref: str) -> dict[str, Any]:
    """The paused run named by flow run id, flow run name or labauto run id."""
    matches = [w for w in waiting_runs()
               if ref in (w["flow_run_id"], w["flow_run_name"], w["labauto_run"])]
    if not matches:
        raise AnswerRefused(f"no flow run {ref!r} is waiting for an operator answer on "
                            f"{server_url()} (`labauto operator pending` lists those that are)")
    if len(matches) > 1:
        raise AnswerRefused(f"{ref!r} names {len(matches)} waiting runs; give the flow run id")
    return matches[0]


def checked_answer(technician: str, note: str = "", done: bool = True) -> StepDone:
    """The answer as the paused run will read it; :class:`AnswerRefused` when malformed."""
    try:
        return StepDone(done=done, technician=technician, note=note)
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}"
                             for e in exc.errors())
        raise AnswerRefused(f"answer refused, nothing sent: {problems}") from None


def checked_reading(reading: str, technician: str, note: str = "") -> TypedReading:
    """A typed reading as the paused run will read it: ``"25.03 degC"`` (or ``°C``, ``K``);
    :class:`AnswerRefused` when it is not a number with a display's unit, or malformed."""
    match = re.fullmatch(r"\s*([-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?)\s*(\S.*?)?\s*",
                         reading)
    if match is None:
        raise AnswerRefused(f"answer refused, nothing sent: reading {reading!r} is not a number "
                            "with its unit (e.g. \"25.03 degC\")")
    number, unit = match.group(1).replace(",", "."), match.group(2)
    if unit is None:
        raise AnswerRefused(f"answer refused, nothing sent: reading {reading!r} has no unit; give "
                            "the display's unit (e.g. \"25.03 degC\", or K)")
    if unit not in DISPLAY_UNITS:
        raise AnswerRefused(f"answer refused, nothing sent: {unit!r} is not a unit of a "
                            f"thermometer's display (reading {reading!r}); give degC (°C) or K")
    value = float(number)
    if not math.isfinite(value):
        raise AnswerRefused(f"answer refused, nothing sent: reading {reading!r} is not finite")
    try:
        return TypedReading(value=value, unit=DISPLAY_UNITS[unit], technician=technician,
                            note=note)
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}"
                             for e in exc.errors())
        raise AnswerRefused(f"answer refused, nothing sent: {problems}") from None


def send_answer(ref: str, answer: StepDone | TypedReading) -> dict[str, Any]:
    """Resume the paused run ``ref`` with ``answer`` (the server checks it against the run's
    form too); returns the run answered.  A run waiting for a typed reading takes only a
    :class:`TypedReading`, a run waiting for a step only a :class:`StepDone`."""
    from uuid import UUID

    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import resume_flow_run

    waiting = find_waiting_run(ref)
    if waiting.get("wants") == "reading" and not isinstance(answer, TypedReading):
        raise AnswerRefused(f"flow run {waiting['flow_run_name']!r} waits for a typed reading: "
                            "answer with --reading VALUE (e.g. \"25.03 degC\") --technician NAME; "
                            "nothing sent")
    if waiting.get("wants") == "step" and isinstance(answer, TypedReading):
        raise AnswerRefused(f"flow run {waiting['flow_run_name']!r} waits for an operator step, "
                            "not a reading: answer without --reading; nothing sent")
    fields = {"value", "unit", "technician", "note"} if isinstance(answer, TypedReading) \
        else {"done", "technician", "note"}
    try:
        resume_flow_run(UUID(waiting["flow_run_id"]),
                        run_input=answer.model_dump(mode="json", include=fields))
    except FlowPauseTimeout:
        raise AnswerRefused(f"flow run {waiting['flow_run_name']!r} is no longer waiting: its "
                            "time for an answer ran out") from None
    except Exception as exc:  # noqa: BLE001 - NotPausedError, a refused input: say so
        raise AnswerRefused(f"flow run {waiting['flow_run_name']!r} did not take the answer: "
                            f"{exc}") from None
    return waiting
