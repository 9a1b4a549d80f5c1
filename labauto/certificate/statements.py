"""The fixed sentences every certificate writer (PDF, DCC) states in the same words:
ISO/IEC 17025:2017 7.8.2.1 l) (results relate only to the item) and 7.8.4.1 d) (adjusted or not)."""
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
