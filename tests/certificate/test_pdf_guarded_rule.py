"""A certificate decided by a guarded rule (JCGM 106:2012 8.3) states the rule and, per point,
the acceptance limit the decision used, on the rendered page."""
from __future__ import annotations

import dataclasses

import pypdfium2 as pdfium

from labauto.certificate.pdf import render_pdf
from labauto.conformity import parse_rule


def test_guarded_rule_statement_and_acceptance_limit_on_the_page(make_cal_result):
    base = make_cal_result()
    rule = parse_rule("guarded-acceptance-dobbert")
    p0 = base.points[0]
    al = p0.tolerance * 0.9
    points = (dataclasses.replace(p0, acceptance_limit=al, conformance_probability=0.999,
                                  specific_risk=0.001),) + tuple(base.points[1:])
    result = dataclasses.replace(base, decision_rule=rule.ref, points=points)
    doc = pdfium.PdfDocument(render_pdf(result))
    text = " ".join(" ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc))).split())
    text = text.replace("\u00a0", " ")
    assert 'decision rule "guarded-acceptance-dobbert" (JCGM 106:2012)' in text
    assert "M = 1.04 − exp(0.38·ln TUR − 0.54)" in text
    t = float(p0.tolerance.magnitude)
    unit = f"{p0.tolerance.units:~P}"
    assert (f"against the acceptance limit ±{0.9 * t:.4g} {unit} (tolerance ±{t:.4g} {unit}, "
            f"guard band {0.1 * t:.3g} {unit})") in text
    # the other points keep AL = tolerance: no note
    assert text.count("against the acceptance limit") == 1
