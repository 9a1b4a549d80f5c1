"""``validate_procedure``: N simulated calibrations of a procedure, summarised per point (what
``labauto validate``, its Prefect flow and the pytest plugin call).

The runs are independent (run i has its own seed), so ``workers`` processes share them in
contiguous chunks; the outcome is the same whatever the number of workers.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

from labauto.procedure import load_procedure
from labauto.validation.montecarlo import (SIMULATED, RunOutcome, characterisation_rows,
                                          characterised, simulate)
from labauto.validation.stats import ValidationResult, summarize

_PROCEDURE: Any = None      # the procedure a forked worker simulates


def default_workers() -> int:
    """One worker per core the process may use, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:     # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def validate_procedure(procedure: Any, runs: int = 200, seed: int = 1,
                       dut_spread: float = 1.5, workers: int = 1,
                       progress: Callable[[int], None] | None = None) -> ValidationResult:
    """Coverage, decision risks and normalized errors of ``procedure`` (a file, a
    :class:`Procedure` or a temperature comparison procedure) over ``runs`` simulated
    calibrations (seeded by ``seed``; the DUT's true errors spread by ``dut_spread``), in
    ``workers`` processes."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, not {runs}")
    proc = procedure if not isinstance(procedure, (str, Path)) else load_any(procedure)
    t0 = time.perf_counter()
    if not is_comparison(proc):
        proc = characterised(proc, seed, dut_spread)     # once, before the workers fork
    workers = max(1, min(int(workers), runs))
    if workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
        outcomes = list(simulate_any(proc, runs, seed, dut_spread, progress))
    else:
        outcomes = _in_processes(proc, runs, seed, dut_spread, workers)
    return summarize(proc, outcomes, seed=seed, dut_spread=dut_spread,
                     elapsed_s=time.perf_counter() - t0, simulated=simulated_description(proc))


def load_any(path: str | Path) -> Any:
    """An electrical procedure (labauto.procedure) or a temperature comparison procedure
    (labauto.procedure.temperature), by what the file says it is."""
    from labauto.procedure.temperature import is_temperature_procedure, load_temperature_procedure

    if is_temperature_procedure(path):
        return load_temperature_procedure(path)
    return load_procedure(path)


def is_comparison(procedure: Any) -> bool:
    from labauto.procedure.temperature import TemperatureProcedure
    return isinstance(procedure, TemperatureProcedure)


def simulate_any(procedure: Any, runs: int, seed: int = 1, dut_spread: float = 1.5,
                 progress: Callable[[int], None] | None = None,
                 first: int = 0) -> Iterator[RunOutcome]:
    """Simulated calibrations of an electrical procedure (labauto.validation.montecarlo) or a
    temperature comparison (labauto.validation.comparison)."""
    if is_comparison(procedure):
        from labauto.validation.comparison import simulate_comparison_run
        return simulate(procedure, runs, seed, dut_spread, progress, first,
                        run=simulate_comparison_run)
    return simulate(procedure, runs, seed, dut_spread, progress, first)


def simulated_description(procedure: Any) -> tuple[tuple[str, str], ...]:
    """What one simulated run draws, for the report."""
    if is_comparison(procedure):
        from labauto.validation.comparison import SIMULATED as COMPARISON
        return COMPARISON
    return SIMULATED + characterisation_rows(procedure)


def _in_processes(proc: Any, runs: int, seed: int, dut_spread: float,
                  workers: int) -> list[RunOutcome]:
    global _PROCEDURE
    bounds = [runs * i // workers for i in range(workers + 1)]
    _PROCEDURE = proc           # forked workers inherit it (no pickling of the procedure)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            chunks = pool.map(_chunk, [(seed, dut_spread, a, b - a)
                                       for a, b in zip(bounds, bounds[1:])])
            return [run for chunk in chunks for run in chunk]
    finally:
        _PROCEDURE = None


def _chunk(args: tuple[int, float, int, int]) -> list[RunOutcome]:
    seed, dut_spread, first, count = args
    assert _PROCEDURE is not None
    return list(simulate_any(_PROCEDURE, count, seed, dut_spread, first=first))
