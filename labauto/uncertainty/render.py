"""Uncertainty budgets for people: rich table (terminal), Markdown and HTML.

All three show the same columns as the budget data (:class:`UncertaintyBudget`): input,
estimate, standard uncertainty, distribution, ν, sensitivity coefficient, contribution
|c_i|·u(x_i) and its share of u_c², followed by u_c, ν_eff, k and U.
"""
from __future__ import annotations

import html
import math
from typing import Any

import pint

from labauto.uncertainty.budget import UncertaintyBudget

COLUMNS = ("input", "source", "estimate", "u(x_i)", "distribution", "ν_i", "c_i", "u_i(y)", "share")


def _q(q: pint.Quantity, digits: int = 4) -> str:
    m = float(q.magnitude) + 0.0          # no "-0"
    if q.dimensionless and str(q.units) in ("", "dimensionless"):
        return f"{m:.{digits}g}"
    return f"{m:.{digits}g} {q.units:~P}"


def _estimate(q: pint.Quantity) -> str:
    return _q(q, 10)


def _nu(nu: float) -> str:
    return "∞" if math.isinf(nu) else f"{nu:.3g}"


def budget_rows(b: UncertaintyBudget) -> list[list[str]]:
    """The budget as rows of strings (header excluded)."""
    return [[r.name, r.source if r.source != r.name else "", _estimate(r.estimate), _q(r.standard_uncertainty, 3),
             r.distribution, _nu(r.dof), _q(r.sensitivity, 4), _q(r.contribution, 3), f"{100 * r.variance_share:.1f} %"]
            for r in b.rows]


def summary_lines(b: UncertaintyBudget) -> list[tuple[str, str]]:
    return [
        ("estimate", _estimate(b.estimate)),
        ("combined standard uncertainty u_c", _q(b.combined_uncertainty, 4)),
        ("effective degrees of freedom ν_eff", _nu(b.dof_eff)),
        ("coverage factor k", f"{b.coverage_factor:.3f}"),
        (f"expanded uncertainty U (p = {100 * b.coverage_probability:g} %)", _q(b.expanded_uncertainty, 4)),
        ("method", b.method),
    ]


def rich_table(b: UncertaintyBudget, title: str | None = None) -> Any:
    """A :class:`rich.table.Table` of the budget."""
    from rich.table import Table

    sources = [f"{r.name}: {r.source}" for r in b.rows if r.source and r.source != r.name]
    sources += [f"{r.name}: {r.note}" for r in b.rows if r.note]
    t = Table(title=title or f"Uncertainty budget of {b.measurand}", title_justify="left",
              caption="; ".join(sources) or None, caption_justify="left")
    cols = [c for c in COLUMNS if c != "source"]
    for c in cols:
        t.add_column(c, justify="left" if c in ("input", "distribution") else "right")
    for row in budget_rows(b):
        t.add_row(*(row[:1] + row[2:]))
    t.add_section()
    t.add_row(b.measurand, _estimate(b.estimate), _q(b.combined_uncertainty, 3), "", _nu(b.dof_eff), "",
              f"U = {_q(b.expanded_uncertainty, 3)}", f"k = {b.coverage_factor:.3f}", style="bold")
    return t


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|")


def markdown(b: UncertaintyBudget) -> str:
    """The budget as a Markdown table plus the result lines."""
    lines = [f"### Uncertainty budget of {b.measurand}", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in budget_rows(b)]
    lines.append("")
    lines += [f"- {k}: {_md_cell(v)}" for k, v in summary_lines(b)]
    lines += [f"- {r.name}: {_md_cell(r.note)}" for r in b.rows if r.note]
    return "\n".join(lines) + "\n"


def to_html(b: UncertaintyBudget) -> str:
    """The budget as an HTML fragment (a ``<table>`` and a ``<dl>``), all text escaped."""
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in budget_rows(b))
    dl = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in summary_lines(b))
    dl += "".join(f"<dt>{e(r.name)}</dt><dd>{e(r.note)}</dd>" for r in b.rows if r.note)
    return (f'<table class="uncertainty-budget"><caption>Uncertainty budget of {e(b.measurand)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table><dl>{dl}</dl>")
