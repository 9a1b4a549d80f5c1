"""The validation report: one self-contained HTML file (plots inline as SVG) a quality manager
can file as method-validation evidence (ISO/IEC 17025 7.2.2): what was simulated, the coverage
of U per point with its confidence band, the normalized errors against N(0, 1), the decision
rule's wrong decisions observed and predicted, the verdict, and a line to sign.
"""
from __future__ import annotations

import datetime as dt
import html
import io
import math
from pathlib import Path

import numpy as np

from labauto import __version__
from labauto.validation.stats import CONFIDENCE, NOMINAL_COVERAGE, ValidationResult

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:90%}
th,td{border:1px solid #bbb;padding:.25em .5em;text-align:right}
th{background:#eee} td.l{text-align:left}
.consistent{color:#060}.over-covers{color:#a60}.under-covers{color:#b00;font-weight:bold}
.sign td{height:2.5em;min-width:15em;text-align:left}
figure{margin:1em 0} figcaption{font-size:90%;color:#444}
"""


def coverage_svg(result: ValidationResult) -> str:
    """Coverage per point with its Clopper-Pearson band and the nominal 95 % line."""
    plt = _pyplot()
    n = len(result.points)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.32 * n + 2), 3.6))
    x = np.arange(n)
    cov = np.array([p.coverage for p in result.points])
    lo = np.array([p.coverage_interval[0] for p in result.points])
    hi = np.array([p.coverage_interval[1] for p in result.points])
    colours = ["#b00" if p.verdict == "under-covers" else "#a60" if p.verdict == "over-covers"
               else "#060" for p in result.points]
    flo = np.array([p.familywise_interval[0] for p in result.points])
    fhi = np.array([p.familywise_interval[1] for p in result.points])
    ax.vlines(x, flo, fhi, colors=colours, lw=1, alpha=0.6)
    ax.vlines(x, lo, hi, colors=colours, lw=3, alpha=0.5)
    ax.scatter(x, cov, c=colours, s=18, zorder=3)
    ax.axhline(NOMINAL_COVERAGE, color="k", lw=1, ls="--")
    ax.set_xticks(x, [p.point_id for p in result.points], rotation=90, fontsize=7)
    ax.set_ylabel("coverage of U")
    ax.set_ylim(max(0.0, min(flo.min(initial=1.0), NOMINAL_COVERAGE) - 0.03), 1.005)
    ax.set_title(f"{result.runs} runs: coverage with its {CONFIDENCE:.0%} Clopper-Pearson interval",
                 fontsize=9)
    return _svg(fig)


def normalized_svg(result: ValidationResult) -> str:
    """Histogram of the normalized errors (all points) against the N(0, 1) density."""
    plt = _pyplot()
    z = np.concatenate([np.asarray(p.normalized, dtype=float) for p in result.points]) \
        if result.points else np.zeros(0)
    z = z[np.isfinite(z)]
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    if z.size:
        edge = max(4.0, float(np.abs(z).max()) + 0.25)
        ax.hist(z, bins=np.linspace(-edge, edge, 49), density=True, color="#8ab", edgecolor="#567")
        grid = np.linspace(-edge, edge, 400)
        ax.plot(grid, np.exp(-grid ** 2 / 2) / math.sqrt(2 * math.pi), "k-", lw=1.2, label="N(0, 1)")
        ax.legend(fontsize=8)
    ax.set_xlabel("(measured error − true error) / u_c")
    ax.set_ylabel("density")
    ax.set_title(f"normalized errors, {z.size} values", fontsize=9)
    return _svg(fig)


def render_html(result: ValidationResult, *, procedure_title: str = "", procedure_version: str = "",
                procedure_sha256: str = "", generated: dt.datetime | None = None) -> str:
    when = (generated or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    e = html.escape
    rows = []
    for p in result.points:
        d = p.to_dict()
        z = d["normalized_errors"]
        lo, hi = p.coverage_interval
        rows.append(
            f"<tr><td class=l>{e(p.point_id)}</td><td>{p.covered}/{p.runs}</td>"
            f"<td>{p.coverage:.3f}</td><td>[{lo:.3f}, {hi:.3f}]</td>"
            f"<td>[{p.familywise_interval[0]:.3f}, {p.familywise_interval[1]:.3f}]</td>"
            f"<td class='l {p.verdict}'>{p.verdict}</td><td>{p.mean_expanded:.3g} {e(p.unit)}</td>"
            f"<td>{_num(z['mean'], '+.2f')}</td><td>{_num(z['std'], '.2f')}</td>"
            f"<td>{_num(z['ks_pvalue'], '.3f')}</td>"
            f"<td>{e(p.decisions.shown('accept'))}</td><td>{e(p.decisions.shown('reject'))}</td></tr>")
    under = [p.point_id for p in result.points if p.verdict == "under-covers"]
    over = [p.point_id for p in result.points if p.verdict == "over-covers"]
    if result.ok:
        verdict = (f"The expanded uncertainties hold: at every point the coverage is consistent "
                   f"with {NOMINAL_COVERAGE:.0%}.")
    else:
        verdict = ("The uncertainty statements do NOT hold: "
                   + (f"U under-covers at {', '.join(under)}. " if under else "")
                   + (f"U is larger than the effects need (over-covers) at {len(over)} point(s): "
                      f"{', '.join(over)}. " if over else "")
                   + (f"{len(result.failed_runs)} simulated run(s) stopped." if result.failed_runs else ""))
    failed = "".join(f"<li>seed {r.seed}: {e(r.error)}</li>" for r in result.failed_runs)
    simulated = "\n".join(f"<tr><th class=l>{e(what)}</th><td class=l>{e(how)}</td></tr>"
                           for what, how in result.simulated)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Method validation by simulation — {e(result.procedure_id)}</title><style>{_CSS}</style></head>
<body>
<h1>Method validation by simulation</h1>
<p>ISO/IEC 17025:2017 7.2.2 — evidence that the procedure's uncertainty statements and decision
rule perform as stated, from {result.runs} simulated calibrations whose true errors are known.</p>
<table>
<tr><th class=l>procedure</th><td class=l>{e(result.procedure_id)} {e(procedure_version)} — {e(procedure_title)}</td></tr>
<tr><th class=l>file</th><td class=l>{e(result.procedure_path)}</td></tr>
<tr><th class=l>SHA-256</th><td class=l><code>{e(procedure_sha256)}</code></td></tr>
<tr><th class=l>simulated runs</th><td class=l>{result.runs} (seed {result.seed}; {result.elapsed_s:.1f} s)</td></tr>
<tr><th class=l>DUT spread</th><td class=l>{result.dut_spread:g}</td></tr>
{simulated}
<tr><th class=l>software</th><td class=l>labauto {e(__version__)}</td></tr>
<tr><th class=l>generated</th><td class=l>{when}</td></tr>
</table>
<h2>Verdict</h2>
<p class="{'consistent' if result.ok else 'under-covers'}">{e(verdict)}</p>
{f'<h3>Stopped runs</h3><ul>{failed}</ul>' if failed else ''}
<h2>Coverage of U per point</h2>
<figure>{coverage_svg(result)}<figcaption>Fraction of runs in which |measured error − true error| ≤ U
(dots) with its exact {CONFIDENCE:.0%} interval (thick bars) and the family-wise interval
(thin bars, at 1 − 5 %/{len(result.points)}: all points judged together at 95 %; the verdict uses
it); dashed: {NOMINAL_COVERAGE:.0%}.</figcaption></figure>
<h2>Normalized errors</h2>
<figure>{normalized_svg(result)}<figcaption>(measured − true)/u_c of every point and run against the
standard normal density. Per point: mean, standard deviation and the Kolmogorov-Smirnov p-value
in the table.</figcaption></figure>
<h2>Per point</h2>
<table>
<tr><th>point</th><th>covered</th><th>coverage</th><th>{CONFIDENCE:.0%} interval</th><th>family-wise interval</th><th>verdict</th>
<th>mean U</th><th>z mean</th><th>z sd</th><th>KS p</th><th>false accepts obs / pred</th>
<th>false rejects obs / pred</th></tr>
{''.join(rows)}
</table>
<p>False accept: the rule accepted, the true error exceeds the tolerance; false reject: the
rule rejected a conforming point. Predicted: the sum of the rule's specific risks of those
decisions. "no rule": the procedure states no tolerance (a temperature comparison).</p>
<h2>Review</h2>
<table class=sign><tr><th class=l>reviewed by</th><td></td><th class=l>date</th><td></td></tr>
<tr><th class=l>approved for use</th><td></td><th class=l>signature</th><td></td></tr></table>
</body></html>
"""


def write_report(result: ValidationResult, path: str | Path, procedure=None) -> Path:
    """Write the HTML report to ``path`` (folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kw = {}
    if procedure is not None:
        kw = dict(procedure_title=procedure.title, procedure_version=procedure.version,
                  procedure_sha256=procedure.sha256)
    path.write_text(render_html(result, **kw), encoding="utf-8")
    return path


def summary_markdown(result: ValidationResult) -> str:
    """The Prefect artifact: the verdict and the per-point table as markdown."""
    lines = [f"# Validation of {result.procedure_id}: {result.runs} simulated calibrations",
             "", "**" + ("uncertainty statements hold" if result.ok else "NOT valid") + "**", "",
             "| point | coverage | 95 % interval | verdict | z mean | z sd | KS p |",
             "|---|---|---|---|---|---|---|"]
    for p in result.points:
        z = p.to_dict()["normalized_errors"]
        lo, hi = p.coverage_interval
        lines.append(f"| {p.point_id} | {p.coverage:.3f} | [{lo:.3f}, {hi:.3f}] | {p.verdict} | "
                     f"{_num(z['mean'], '+.2f')} | {_num(z['std'], '.2f')} | {_num(z['ks_pvalue'], '.3f')} |")
    for r in result.failed_runs:
        lines.append(f"\nrun seed {r.seed} stopped: {r.error}")
    return "\n".join(lines)


def _num(x, spec: str) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _svg(fig) -> str:
    plt = _pyplot()
    buf = io.StringIO()
    fig.tight_layout()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]     # drop the XML prolog: the SVG is inline in HTML
