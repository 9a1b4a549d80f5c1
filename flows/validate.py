"""The ``validate`` Prefect flow: a procedure validated by simulated calibrations
(labauto.validation), in chunks of runs (one task each), summarised, with the HTML report
written to a file and the verdict and per-point table as a markdown artifact.

    from flows.validate import validate
    validate("procedures/keysight_34465a_dcv_quick.yaml", runs=1000, report="validation.html")
"""
from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from labauto.validation.montecarlo import RunOutcome, characterised
from labauto.validation.report import summary_markdown, write_report
from labauto.validation.stats import summarize
from labauto.validation.validate import is_comparison, load_any, simulate_any, simulated_description

from flows.heartbeat import dont_wait_for_heartbeat_thread

dont_wait_for_heartbeat_thread()      # (process-wide: a flow run's end waited up to 1 s for it)


@task(name="simulate-runs", task_run_name="runs {first}-{last}", cache_policy=NO_CACHE)
def simulate_chunk(procedure: str, seed: int, first: int, last: int,
                   dut_spread: float) -> list[RunOutcome]:
    return list(simulate_any(load_any(procedure), last - first + 1, seed, dut_spread,
                             first=first))


@flow(name="validate", log_prints=False)
def validate(procedure: str, runs: int = 200, seed: int = 1, dut_spread: float = 1.5,
             report: str | None = None, chunk: int = 100) -> dict[str, Any]:
    """Validate ``procedure`` by ``runs`` simulated calibrations; the result as JSON data."""
    log = get_run_logger()
    proc = load_any(procedure)
    outcomes: list[RunOutcome] = []
    for first in range(0, runs, chunk):
        last = min(first + chunk, runs) - 1
        outcomes += simulate_chunk(procedure, seed, first, last, dut_spread)
    measured = proc if is_comparison(proc) else characterised(proc, seed, dut_spread)
    result = summarize(proc, outcomes, seed=seed, dut_spread=dut_spread,
                       simulated=simulated_description(measured))
    markdown = summary_markdown(result)
    if report:
        path = write_report(result, report, proc)
        markdown += f"\n\nReport: `{path}`"
    create_markdown_artifact(key="validation-summary", markdown=markdown,
                             description=f"Validation of {proc.id} by {runs} simulated calibrations")
    log.info("validation of %s: %s", proc.id, "uncertainty statements hold" if result.ok else "NOT valid")
    return result.to_dict()
