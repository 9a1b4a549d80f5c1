"""The fixed sentences every certificate writer (PDF, DCC) states in the same words:
ISO/IEC 17025:2017 7.8.2.1 l) (results relate only to the item) and 7.8.4.1 d) (adjusted or not),
and how U was obtained where the GUM framework was not validated (labauto.uncertainty.convolution)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labauto.results import CalibrationResult

RELATES_ONLY = "The results relate only to the item calibrated, at the time of calibration and " \
               "under the conditions stated in this certificate."


def adjustment_statement(r: CalibrationResult) -> str:
    """Whether the item was adjusted (ISO/IEC 17025 7.8.4.1 d)), and when the procedure declares
    an adjustment, its policy and why it was (not) applied."""
    a = r.adjustment or {}
    why = f" (policy: {a['policy_text']}; {a['reason']})" if a.get("policy_text") else ""
    if r.adjusted:
        n = len(a.get("points", ()))
        at = f" at {n} adjustment points" if n else ""
        return (f"adjusted during the calibration{at}{why}; the results before (as found) and "
                "after (as left) the adjustment are stated")
    return f"not adjusted{why}; the results are as found"


def propagated_interval_statement(r: CalibrationResult) -> str:
    """"" when every point's U is the GUM's; otherwise the sentence naming the points whose U is
    the 95 % interval of the propagated distribution (JCGM 101), because the GUM framework was
    not validated for them (a rectangular input dominating their budget)."""
    from labauto.uncertainty.convolution import is_propagated

    ids = [p.point_id for p in r.points + r.as_left_points if is_propagated(p.budget)]
    if not ids:
        return ""
    return ("At " + ", ".join(dict.fromkeys(ids)) + " the GUM uncertainty framework was not "
            "validated (JCGM 101:2008 clause 8: a rectangular input dominates the budget): U is the "
            "half-width of the probabilistically symmetric 95 % coverage interval of the "
            "distribution of the error, propagated from the input distributions (JCGM 101:2008), "
            "and k = U/u_c.")
