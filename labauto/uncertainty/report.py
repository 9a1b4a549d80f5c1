"""The machine-readable result of evaluating a model (``labauto uncertainty evaluate --json``).

Schema ``labauto.uncertainty.result/1`` (documented in docs/uncertainty.md).  Every number of an
output is expressed in that output's ``unit``; ``null`` means "not applicable" (ν = ∞, no
Monte Carlo run, Welch-Satterthwaite refused).  Keys are only ever added, never renamed.
"""
from __future__ import annotations

import math
from typing import Any

from labauto.uncertainty.budget import UncertaintyBudget, unit_text
from labauto.uncertainty.errors import WelchSatterthwaiteError
from labauto.uncertainty.gum import GumResult
from labauto.uncertainty.montecarlo import MonteCarloResult, validate_gum

SCHEMA = "labauto.uncertainty.result/1"


def _num(x: float) -> float | None:
    return None if (x is None or not math.isfinite(x)) else float(x)


def output_budget(res: GumResult, y: str, p: float, k: float | None) -> tuple[UncertaintyBudget | None, str]:
    """(budget, note): the budget with ν_eff/k, or None and the reason WS was refused."""
    try:
        return res.budget(y, coverage_probability=p, k=k), "applied" if k is None else f"k = {k:g} stated"
    except WelchSatterthwaiteError as exc:
        return None, f"refused: {exc}"


def result_dict(res: GumResult, mc: MonteCarloResult | None = None, *, coverage_probability: float = 0.95,
                k: float | None = None, ndig: int = 2, model_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stable JSON-able result of a GUM (and optional Monte Carlo) evaluation."""
    model = res.model
    outputs = []
    for y in model.outputs:
        unit = model.output_unit(y)
        b, note = output_budget(res, y, coverage_probability, k)
        entry: dict[str, Any] = {
            "name": y,
            "unit": unit_text(unit),
            "estimate": float(res.estimate(y).to(unit).magnitude),
            "standard_uncertainty": float(res.u(y).magnitude),
            "dof_eff": _num(b.dof_eff) if b else None,
            "coverage_factor": b.coverage_factor if b else None,
            "expanded_uncertainty": float(b.expanded_uncertainty.magnitude) if b else None,
            "coverage_probability": coverage_probability,
            "welch_satterthwaite": note,
            "budget": [r.to_dict() for r in b.rows] if b else [
                r.to_dict() for r in res.budget(y, coverage_probability=coverage_probability, k=1.0).rows],
            "monte_carlo": None,
        }
        if mc is not None:
            lo, hi = mc.interval(y, p=coverage_probability, kind="symmetric")
            slo, shi = mc.interval(y, p=coverage_probability, kind="shortest")
            mce: dict[str, Any] = {
                "estimate": float(mc.estimate(y).to(unit).magnitude),
                "standard_uncertainty": float(mc.u(y).magnitude),
                "interval": {"low": float(lo.to(unit).magnitude), "high": float(hi.to(unit).magnitude),
                             "kind": "probabilistically symmetric"},
                "shortest_interval": {"low": float(slo.to(unit).magnitude), "high": float(shi.to(unit).magnitude)},
                "validation": None,
            }
            try:
                v = validate_gum(res, mc, ndig=ndig, output=y, coverage_probability=coverage_probability, k=k)
                mce["validation"] = {"validated": v.validated, "d_low": float(v.d_low.magnitude),
                                     "d_high": float(v.d_high.magnitude), "delta": float(v.delta.magnitude),
                                     "ndig": ndig}
            except WelchSatterthwaiteError:
                mce["validation"] = None
            entry["monte_carlo"] = mce
        outputs.append(entry)
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "model": {**(model_info or {}), "equations": [e.text for e in model.equations],
                  "outputs": list(model.outputs), "inputs": list(model.input_names)},
        "method": {
            "gum": "JCGM 100:2008 law of propagation" + (" with second-order terms" if res.second_order else ""),
            "second_order": res.second_order,
            "monte_carlo": None if mc is None else {
                "standard": "JCGM 101:2008", "trials": mc.trials, "seed": mc.seed, "adaptive": mc.adaptive,
                "converged": mc.converged, "tolerance_digits": mc.tolerance_digits},
        },
        "coverage_probability": coverage_probability,
        "outputs": outputs,
    }
    if len(model.outputs) > 1:
        out["correlation"] = {"outputs": list(model.outputs), "gum": res.correlation.round(12).tolist(),
                              "monte_carlo": None if mc is None else mc.correlation.round(12).tolist()}
    return out
