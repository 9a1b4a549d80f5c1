"""The fixed sentences every certificate writer (PDF, DCC) states in the same words:
ISO/IEC 17025:2017 7.8.2.1 l) (results relate only to the item) and 7.8.4.1 d) (adjusted or not);
the points whose test uncertainty ratio is below 4 (7.8.6.1: the decision rule's risk there); how
U was obtained where the GUM framework was not validated (labauto.uncertainty.convolution)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labauto.results import CalibrationResult
    from labauto.temperature.results import TemperatureCalibrationResult

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
    return propagated_points_statement(
        [(p.point_id, p.budget) for p in r.points + r.as_left_points], "the error")


def propagated_temperature_statement(r: TemperatureCalibrationResult) -> str:
    """:func:`propagated_interval_statement` of a temperature certificate: its points named by
    their calibration temperature (each point's budget ``method`` says it in the JSON)."""
    return propagated_points_statement([(f"{p.nominal:g} °C", p.budget) for p in r.points],
                                       "the result")


def propagated_points_statement(points: "list[tuple[str, Any]]", quantity: str) -> str:
    """The sentence of :func:`propagated_interval_statement` for any certificate: ``points`` are
    (name, budget) pairs, ``quantity`` what U is of ("the error", "the result")."""
    from labauto.uncertainty.convolution import is_propagated

    ids = [name for name, budget in points if is_propagated(budget)]
    if not ids:
        return ""
    return ("At " + ", ".join(dict.fromkeys(ids)) + " the GUM uncertainty framework was not "
            "validated (JCGM 101:2008 clause 8: a rectangular input dominates the budget): U is the "
            "half-width of the probabilistically symmetric 95 % coverage interval of the "
            f"distribution of {quantity}, propagated from the input distributions (JCGM 101:2008), "
            "and k = U/u_c.")


#: the usual lowest test uncertainty ratio (tolerance / U) of a conformity decision with a
#: low risk (ANSI/NCSL Z540.3 practice, ILAC-G8:09/2019 4.2.1's simple acceptance "TUR ≥ 4")
TUR_LIMIT = 4.0


def tur_statement(r: CalibrationResult) -> str | None:
    """The points whose TUR (tolerance / U) is below 4, named with their TUR; None when every
    point reaches 4."""
    low = [p for p in r.points + r.as_left_points if p.tur < TUR_LIMIT]
    if not low:
        return None
    every = len(r.points) + len(r.as_left_points)
    if len(low) == every:
        turs = sorted(p.tur for p in low)
        where = f"at every point (TUR {turs[0]:.1f} to {turs[-1]:.1f})"
    else:
        where = f"at {len(low)} of {every} points: " + "; ".join(
            f"{p.point_id} ({p.tur:.1f})" for p in low)
    return (f"Test uncertainty ratio (tolerance / U) below {TUR_LIMIT:g} {where}. At these points the expanded uncertainty is a large "
            "part of the tolerance: a conformity decision there carries a higher risk of a "
            "false accept or reject than at a TUR of 4 or more (ILAC-G8:09/2019 4.2.1).")
