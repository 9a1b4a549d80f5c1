"""``validate_procedure``: N simulated calibrations of a procedure, summarised per point (what
``labauto validate`` and the pytest plugin call)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from labauto.procedure import Procedure, load_procedure
from labauto.validation.montecarlo import simulate
from labauto.validation.stats import ValidationResult, summarize


def validate_procedure(procedure: str | Path | Procedure, runs: int = 200, seed: int = 1,
                       dut_spread: float = 1.5,
                       progress: Callable[[int], None] | None = None) -> ValidationResult:
    """Coverage, decision risks and normalized errors of ``procedure`` over ``runs``
    simulated calibrations (seeded by ``seed``; the DUT's true errors uniform within
    ``dut_spread`` × its specification)."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, not {runs}")
    proc = procedure if isinstance(procedure, Procedure) else load_procedure(procedure)
    t0 = time.perf_counter()
    outcomes = list(simulate(proc, runs, seed, dut_spread, progress))
    return summarize(proc, outcomes, seed=seed, dut_spread=dut_spread,
                     elapsed_s=time.perf_counter() - t0)
