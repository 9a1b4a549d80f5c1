"""``labauto`` command line: run calibrations, the simulated lab, the platform, and tools.

    labauto demo                          simulated DC-voltage calibration, end to end
    labauto run PROCEDURE --dut R --standard R
    labauto resume RUN_FOLDER
    labauto procedure validate FILE       labauto instruments list|identify
    labauto sim serve                     labauto uncertainty evaluate MODEL.yaml
    labauto platform serve                labauto publish add|drain|status
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from labauto.cli_groups import LabautoGroup
from labauto.errors import LabautoError

# the command groups are listed in labauto.cli_groups.GROUPS and imported only when used:
# `labauto --help` stays fast
app = typer.Typer(cls=LabautoGroup, help="labauto: calibration-laboratory automation",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)

# on a terminal rich wraps long lines at its width; in a pipe or a file (no terminal: rich
# assumes 80 columns) a message is written whole, so a label and its path stay on one line
console = Console(soft_wrap=not sys.stdout.isatty())


def _quiet_prefect() -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "false")
    # the embedded server needs more than the default 20 s on a busy 2-core machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


def _sigterm_as_interrupt() -> None:
    """SIGTERM (a scheduler stopping us) takes the same safe path as Ctrl-C."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread
        pass


def print_results(result: Any) -> None:
    from rich import box

    from labauto.calibration import results_table_rows

    rows = results_table_rows(result)
    # a narrow terminal gets range instead of the point id, where the pair range + nominal names
    # the point; with several functions or frequencies only the point id (ACV-1V-+1V-20Hz) does
    pairs = [(r["range"], r["nominal"]) for r in rows]
    named_by_range = len(set(pairs)) == len(pairs) and len({p.function for p in result.points}) <= 1
    drop = "point" if console.width < 120 and named_by_range else "range"
    table = Table(title=f"Certificate {result.certificate_id} — {result.item.manufacturer} "
                        f"{result.item.model} s/n {result.item.serial_number}",
                  box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True)
    columns = [c for c in (rows[0] if rows else []) if c != drop]
    for col in columns:   # values never wrap; a long header may
        width = max(len(str(r[col])) for r in rows)
        table.add_column(col, justify="left" if col in ("point", "decision") else "right",
                         min_width=width)
    for row in rows:
        style = None if row["decision"] == "pass" else "bold red"
        table.add_row(*[str(row[c]) for c in columns], style=style)
    console.print(table)
    from labauto.certificate.wording import in_words

    console.print(f"Decision rule: {in_words(result.decision_rule.description, result.measurement_model)}")
    if result.adjustment:
        from rich.markup import escape

        from labauto.certificate.statements import adjustment_statement

        console.print(f"Adjustment: {escape(adjustment_statement(result))}")
        if result.as_left_points:
            console.print(f"As found: {result.as_found_decision}; as left: "
                          + ", ".join(f"{p.point_id} {p.decision}" for p in result.as_left_points))
    colour = "green" if result.overall_decision == "pass" else "red"
    console.print(f"Overall: [{colour}]{result.overall_decision}[/{colour}]")


def _at_terminal() -> bool:
    """A technician can answer questions (standard input is a terminal)."""
    return sys.stdin.isatty()


def _operator(observer: Any, confirm_steps: bool) -> Any:
    """Who confirms the procedure's operator steps: everyone (--yes, the demo), the technician
    at this terminal, or nobody (a pipe without --yes: the run stops at the first step)."""
    from labauto.engine.operator import AskOperator, AutoConfirm, NoOperator

    if confirm_steps:
        return AutoConfirm(lambda text: console.print(f"[yellow]{text}[/yellow]"))
    if not _at_terminal():
        return NoOperator()

    def ask(prompt: str) -> bool:
        import click

        observer.progress.stop()          # the live display would overwrite the question
        try:
            return typer.confirm(prompt, default=True)
        except click.exceptions.Abort:
            # click turns Ctrl-C (and end of input) at a prompt into Abort, which printed a bare
            # "Aborted." and hid the run folder: it is the technician's interrupt
            raise KeyboardInterrupt from None
        finally:
            observer.progress.start()
    return AskOperator(ask)


def _execute(procedure: Path, dut: str, standard: str, *, workdir: Path, lab: Optional[Path],
             use_prefect: bool, settle_scale: float, timeout_ms: int, publish: bool,
             resume_folder: Optional[Path], verify_base_url: Optional[str],
             environment: Optional[str] = None, confirm_steps: bool = False,
             item_condition: Optional[str] = None) -> Any:
    runs_dir, out_dir = workdir / "runs", workdir / "certificates"
    _sigterm_as_interrupt()
    from labauto.engine.run import new_run_id

    from labauto.engine.operator import OperatorStepRefused

    run_id = None if resume_folder else new_run_id()
    folder = Path(resume_folder) if resume_folder else runs_dir / str(run_id)
    try:
        with _checked_start(procedure, dut, standard, lab=lab, resume_folder=resume_folder,
                            run_id=run_id, timeout_ms=timeout_ms) as checked:
            condition = None if resume_folder else _item_condition(item_condition, checked, confirm_steps)
            return _run_checked(procedure, dut, standard, run_id=checked.run_id, runs_dir=runs_dir,
                                out_dir=out_dir, lab=lab, use_prefect=use_prefect,
                                settle_scale=settle_scale, timeout_ms=timeout_ms, publish=publish,
                                resume_folder=resume_folder, verify_base_url=verify_base_url,
                                environment=environment, confirm_steps=confirm_steps,
                                item_condition=condition)
    except (KeyboardInterrupt, OperatorStepRefused) as exc:
        # the message names the run to resume (a step refused in a pipe, Ctrl-C)
        exc.run_folder = folder if (folder / "journal.jsonl").exists() else None  # type: ignore[attr-defined]
        raise


def _item_condition(option: Optional[str], checked: Any, confirm_steps: bool) -> tuple[Optional[str], bool]:
    """The item's condition on receipt (ISO/IEC 17025 7.8.2.1 g)) and whether a technician
    stated it: ``--item-condition``; else asked at a terminal, offering the lab file's default;
    else (--yes, the demo, no terminal) the lab file's default, recorded as not confirmed."""
    if option is not None and option.strip():
        return option, True
    default = checked.lab.item_condition_default
    item = checked.identities["item"]
    if confirm_steps or not _at_terminal():
        shown = default or "not recorded (the lab file has no item_condition_default)"
        console.print(f"[yellow]Condition on receipt: {shown} — the lab's default, recorded as not "
                      "confirmed by a technician (state it with --item-condition)[/yellow]")
        return None, False
    answer = typer.prompt(f"Condition on receipt of {item.manufacturer} {item.model} s/n "
                          f"{item.serial}", default=default or None, show_default=bool(default))
    return answer, True


class StartRefused(LabautoError):
    """The pre-flight checks refused the run: nothing was measured, no run folder exists."""


@contextlib.contextmanager
def _checked_start(procedure: Path, dut: str, standard: str, *, lab: Optional[Path],
                   resume_folder: Optional[Path], run_id: Optional[str], timeout_ms: int) -> Any:
    """The pre-flight checks (before Prefect starts, before a run folder exists), then the
    instrument locks held for the ``with`` block."""
    from labauto.calibration import preflight

    with contextlib.ExitStack() as stack:
        try:
            checked = stack.enter_context(preflight(
                procedure, dut_resource=dut, standard_resource=standard, lab_file=lab,
                resume_folder=resume_folder, run_id=run_id, timeout_ms=timeout_ms))
        except LabautoError as exc:
            raise StartRefused(str(exc)) from exc
        item, ref = checked.identities["item"], checked.identities["reference"]
        console.print(f"pre-flight checks passed: procedure {checked.procedure.id} "
                      f"({len(checked.procedure.points)} points), item {item.manufacturer} "
                      f"{item.model} s/n {item.serial}, standard {ref.manufacturer} {ref.model} "
                      f"s/n {ref.serial} (register: {checked.lab.path}); instruments locked for "
                      f"run {checked.run_id}")
        yield checked


def _run_checked(procedure: Path, dut: str, standard: str, *, run_id: str, runs_dir: Path,
                 out_dir: Path, lab: Optional[Path], use_prefect: bool, settle_scale: float,
                 timeout_ms: int, publish: bool, resume_folder: Optional[Path],
                 verify_base_url: Optional[str], environment: Optional[str],
                 confirm_steps: bool = False,
                 item_condition: tuple[Optional[str], bool] | None = None) -> Any:
    from labauto.engine.observer import set_observer
    from labauto.engine.operator import set_operator
    from labauto.progress import RichRunObserver

    condition, confirmed = item_condition or (None, False)
    with RichRunObserver(console) as observer:
        previous = set_observer(observer)
        previous_operator = set_operator(_operator(observer, confirm_steps))
        try:
            if use_prefect:
                _quiet_prefect()
                from flows.calibrate import calibrate

                console.print("[dim]starting Prefect flow 'calibrate' "
                              f"({'server ' + os.environ['PREFECT_API_URL'] if os.environ.get('PREFECT_API_URL') else 'embedded ephemeral server'})[/dim]")
                summary = calibrate(str(procedure), dut, standard, runs_dir=str(runs_dir),
                                    out_dir=str(out_dir), lab_file=str(lab) if lab else None,
                                    resume_run=str(resume_folder) if resume_folder else None,
                                    settle_scale=settle_scale, timeout_ms=timeout_ms,
                                    verify_base_url=verify_base_url, publish=publish,
                                    run_id=run_id, environment_resource=environment,
                                    item_condition=condition, item_condition_confirmed=confirmed)
                import json

                from labauto.results import CalibrationResult

                cert_json = Path(summary["files"]["json"])
                return CalibrationResult.from_dict(json.loads(cert_json.read_bytes())), summary
            from labauto.calibration import run_calibration

            outcome = run_calibration(procedure, dut_resource=dut, standard_resource=standard,
                                      runs_dir=runs_dir, out_dir=out_dir, lab_file=lab,
                                      resume_folder=resume_folder, settle_scale=settle_scale,
                                      timeout_ms=timeout_ms, verify_base_url=verify_base_url,
                                      publish=publish, run_id=run_id,
                                      environment_resource=environment,
                                      item_condition=condition,
                                      item_condition_confirmed=confirmed)
            return outcome.result, {"certificate_id": outcome.result.certificate_id,
                                    "files": {k: str(v) for k, v in outcome.files.items()},
                                    "publication": outcome.publication,
                                    "timestamp": outcome.issued.timestamp,
                                    "run_folder": str(outcome.run_folder)}
        finally:
            set_observer(previous)
            set_operator(previous_operator)


LAB_HOME_HELP = ("lab home: signing keys, publishing outbox, state (default: LABAUTO_HOME, else "
                 "home: in the lab file, else ~/.labauto)")


def _show_lab_home(option: Optional[Path], lab: Optional[Path]) -> None:
    from labauto.labhome import select_lab_home

    console.print(f"Lab home: {select_lab_home(option, lab).describe()}")


def _report(result: Any, summary: dict[str, Any]) -> None:
    from rich.markup import escape

    from labauto.conditions import conditions_text

    print_results(result)
    env = result.environment
    if not env.get("recorded"):          # the certificate's own sentence (no --environment)
        console.print(f"[yellow]{escape(conditions_text(env))}[/yellow]")
    else:
        colour = "red" if env.get("within_limits") is False else "default"
        console.print(f"Environmental conditions: [{colour}]{escape(conditions_text(env))}[/{colour}]")
    console.print("\n[bold]Certificate files[/bold]")
    for kind, path in summary["files"].items():
        console.print(f"  {kind:<8} {path}")
    if summary.get("timestamp"):
        console.print(f"[bold]Trusted time[/bold]: {summary['timestamp']}")
    pub = summary.get("publication") or {}
    if pub:
        console.print(f"[bold]Publication[/bold]: {pub.get('state')} {pub.get('detail', '')}")
    console.print(f"Run journal: {summary.get('run_folder')}")


@app.command()
def run(procedure: Path = typer.Argument(..., help="procedure YAML file"),
        dut: Optional[str] = typer.Option(None, "--dut", help="VISA resource of the item (DUT); "
                                          "required, unless the --bench has a dut port"),
        standard: Optional[str] = typer.Option(None, "--standard", help="VISA resource of the "
                                               "reference standard; required, unless --bench"),
        environment: Optional[str] = typer.Option(
            None, "--environment", help="VISA resource of the environment logger (thermo-hygrometer; "
            "model: the lab file's environment: logger_model); without it the certificate says the "
            "conditions were not recorded"),
        bench: Optional[str] = typer.Option(
            None, "--bench", help="a bench of the lab file (benches:): its instruments are the "
            "defaults; with a Prefect server (PREFECT_API_URL) the calibration is submitted to the "
            "bench's deployment, run by its worker, and followed here (docs/lab-day.md)"),
        lab: Optional[Path] = typer.Option(None, "--lab", envvar="LABAUTO_LAB", help="lab configuration YAML"),
        workdir: Path = typer.Option(Path("labauto-data"), "--workdir",
                                     help="working folder: runs/ (journals) and certificates/"),
        lab_home: Optional[Path] = typer.Option(None, "--lab-home", help=LAB_HOME_HELP),
        prefect: bool = typer.Option(True, "--prefect/--no-prefect", help="run as a Prefect flow"),
        settle_scale: float = typer.Option(1.0, help="multiplier of the procedure's settle times"),
        timeout_ms: int = typer.Option(10000, help="VISA timeout per command"),
        publish: bool = typer.Option(True, "--publish/--no-publish",
                                     help="queue the certificate in the lab home's outbox and deliver it; "
                                     "--no-publish: issue only, queue nothing"),
        verify_url: Optional[str] = typer.Option(None, envvar="LABAUTO_PLATFORM_URL",
                                                 help="platform base URL (for the QR code and publishing)"),
        yes: bool = typer.Option(False, "--yes", help="confirm the procedure's operator steps "
                                 "(lead changes) without asking: for an unattended simulated run"),
        item_condition: Optional[str] = typer.Option(
            None, "--item-condition", help="the item's condition on receipt, as the certificate "
            "states it (at a terminal labauto asks, offering the lab file's item_condition_default; "
            "with --yes that default is recorded as not confirmed by a technician)")) -> None:
    """Calibrate the instrument at --dut against --standard following PROCEDURE.

    Operator steps written in the procedure (move the leads, fit the short) put the sources in
    standby and ask the technician to confirm before going on."""
    def go() -> None:
        nonlocal dut, standard, environment, workdir
        if bench is not None:
            from labauto.benches import bench as find_bench

            b = find_bench(bench, lab)
            if os.environ.get("PREFECT_API_URL"):
                _run_on_bench(b, procedure, dut=dut, standard=standard, environment=environment,
                              settle_scale=settle_scale, timeout_ms=timeout_ms, publish=publish,
                              verify_url=verify_url, item_condition=item_condition)
                return
            console.print(f"[dim]no Prefect server (PREFECT_API_URL): running here with bench "
                          f"{b.name}'s instruments[/dim]")
            dut, standard = dut or b.dut or None, standard or b.standard
            environment = environment or b.environment or None
            workdir = b.workdir
        for option, value in (("--dut", dut), ("--standard", standard)):
            if not value:
                console.print(f"[bold red]error:[/bold red] {option} is required (or a --bench "
                              "of the lab file that has it)")
                raise typer.Exit(2)
        _show_lab_home(lab_home, lab)
        _report(*_execute(procedure, dut, standard, workdir=workdir, lab=lab,
                          use_prefect=prefect, settle_scale=settle_scale,
                          timeout_ms=timeout_ms, publish=publish, resume_folder=None,
                          verify_base_url=verify_url, environment=environment,
                          confirm_steps=yes, item_condition=item_condition))
    _guarded(go)


def _run_on_bench(b: Any, procedure: Path, *, dut: Optional[str], standard: Optional[str],
                  environment: Optional[str], settle_scale: float, timeout_ms: int, publish: bool,
                  verify_url: Optional[str], item_condition: Optional[str]) -> None:
    """Submit to the bench's deployment and follow the flow run to its end."""
    _quiet_prefect()
    from labauto.procedure import load_procedure

    from flows.bench_run import follow, submit, summary

    proc = load_procedure(procedure)           # refused here, at its line, before submitting
    params: dict[str, Any] = {"procedure": str(Path(procedure).resolve()),
                              "settle_scale": settle_scale, "timeout_ms": timeout_ms,
                              "publish": publish}
    for key, value in (("dut_resource", dut), ("standard_resource", standard),
                       ("environment_resource", environment), ("verify_base_url", verify_url),
                       ("item_condition", item_condition)):
        if value:
            params[key] = value
    if not (dut or b.dut):
        raise StartRefused(f"bench {b.name} has no dut port in the lab file: give --dut")
    from flows.instrument_slots import unreachable
    try:
        flow_run = submit(b, params)
    except Exception as exc:  # noqa: BLE001 - a server that does not answer is one line
        if unreachable(exc) is None:
            raise
        raise LabautoError(unreachable(exc)) from None
    console.print(f"submitted {proc.id} to calibrate/{b.deployment}: flow run {flow_run.name} "
                  f"({flow_run.id}); {os.environ['PREFECT_API_URL']}")
    final = follow(flow_run.id, say=lambda text: console.print(text, markup=False),
                   answer=_terminal_answer if sys.stdin.isatty() else None)
    if final.state is None or not final.state.is_completed():
        raise LabautoError(f"flow run {final.name} ended {final.state.name if final.state else '?'}"
                           f": {final.state.message if final.state else ''} (its log in the "
                           "Prefect UI says more; resume with `labauto resume RUN_FOLDER`)")
    text = summary(flow_run.id)
    if text:
        console.print(text, markup=False)


def _terminal_answer(waiting: dict[str, Any]) -> Any:
    """The technician at this terminal answers the step the bench's run waits for."""
    from flows.operator_input import checked_answer

    console.print(waiting["asks"].replace("**", ""), markup=False)
    if not typer.confirm("Done?", default=True):
        console.print("not answered here: answer in the Prefect UI or with `labauto operator "
                      f"answer {waiting['flow_run_name']}`")
        return None
    return checked_answer(typer.prompt("technician"), typer.prompt("note", default=""))


@app.command()
def resume(run_folder: Path = typer.Argument(..., help="folder of the interrupted run (has journal.jsonl)"),
           dut: Optional[str] = typer.Option(None, "--dut"), standard: Optional[str] = typer.Option(None, "--standard"),
           environment: Optional[str] = typer.Option(None, "--environment",
                                                     help="environment logger (default: the run's)"),
           lab: Optional[Path] = typer.Option(None, "--lab", envvar="LABAUTO_LAB"),
           lab_home: Optional[Path] = typer.Option(None, "--lab-home", help=LAB_HOME_HELP),
           prefect: bool = typer.Option(True, "--prefect/--no-prefect"),
           publish: bool = typer.Option(True, "--publish/--no-publish"),
           verify_url: Optional[str] = typer.Option(None, envvar="LABAUTO_PLATFORM_URL"),
           yes: bool = typer.Option(False, "--yes", help="confirm operator steps without asking")) -> None:
    """Resume an interrupted run: completed points are not measured again; the technician
    confirms the set-up of the first pending point again."""
    from labauto.engine.run import open_run

    def go() -> None:
        _show_lab_home(lab_home, lab)
        run_ = open_run(run_folder)
        s = run_.settings
        _report(*_execute(run_.procedure.path, dut or s.dut_resource, standard or s.standard_resource,
                          workdir=run_folder.parent.parent, lab=lab, use_prefect=prefect,
                          settle_scale=s.settle_scale, timeout_ms=s.timeout_ms, publish=publish,
                          resume_folder=run_folder, verify_base_url=verify_url,
                          environment=environment or s.environment_resource or None,
                          confirm_steps=yes))
    _guarded(go)


@app.command()
def demo(workdir: Path = typer.Option(Path("out/demo"), "--workdir",
                                     help="everything the demo writes, its lab home (WORKDIR/home) included"),
         procedure: Path = typer.Option(None, "--procedure", help="any bundled procedure (its instruments are "
                                        "simulated); default: procedures/keysight_34465a_dcv.yaml"),
         latency: str = typer.Option("realistic", help="simulated lab timing: realistic | zero"),
         seed: int = typer.Option(2026, help="simulation seed (same seed, same readings)"),
         prefect: bool = typer.Option(True, "--prefect/--no-prefect"),
         platform: bool = typer.Option(True, "--platform/--no-platform",
                                       help="start the reference NQI platform in-process and publish to it"),
         out_of_tolerance: Optional[str] = typer.Option(None, help="make the simulated DUT fail on this range, "
                                                        "e.g. '10 V' (DCV) or 'ACV 1 V'")) -> None:
    """The main job: a simulated calibration end to end (by default DC voltage of a 34465A
    against a 5522A); operator steps are confirmed automatically."""
    from labauto.demo import run_demo

    _guarded(lambda: run_demo(console, workdir=workdir, procedure=procedure, latency=latency,
                              seed=seed, use_prefect=prefect, with_platform=platform,
                              out_of_tolerance=out_of_tolerance, execute=_execute, report=_report))


def _guarded(fn: Any) -> None:
    try:
        fn()
    except StartRefused as exc:
        console.print(f"[bold red]error:[/bold red] {exc}")
        console.print("nothing was measured; no run was started")
        raise typer.Exit(2)
    except LabautoError as exc:
        console.print(f"[bold red]error:[/bold red] {exc}")
        folder = getattr(exc, "run_folder", None)
        if folder is not None:
            console.print(f"every reading taken is in the run journal — continue with "
                          f"`labauto resume {folder}`")
        raise typer.Exit(1)
    except OSError as exc:   # a disk or file problem outside the journal (which names itself)
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        console.print(f"[bold red]error:[/bold red] {exc.strerror or exc}{where}")
        raise typer.Exit(1)
    except KeyboardInterrupt as exc:
        folder = getattr(exc, "run_folder", None)
        if folder is None:
            console.print("[bold yellow]interrupted[/bold yellow] before the run started: nothing "
                          "was measured; instruments were left in standby.")
        else:
            console.print(f"[bold yellow]interrupted[/bold yellow]: instruments were put in standby; "
                          f"every reading taken is in the run journal — continue with "
                          f"`labauto resume {folder}`.")
        raise typer.Exit(130)


def _unwrapped(doc: str) -> str:
    """A docstring as help text: each paragraph on one line.  Typer's rich help keeps the
    source's line breaks, which printed "put the sources in" and "standby and ask" on two lines
    of `labauto run --help`, and broke the command list of `labauto --help` mid-sentence."""
    import inspect

    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


for _command in app.registered_commands:
    if _command.help is None and _command.callback is not None and _command.callback.__doc__:
        _command.help = _unwrapped(_command.callback.__doc__)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
