"""The complete calibration result (points, readings, budgets) as canonical JSON bytes.

Stable output: sorted keys, fixed separators, UTF-8, trailing newline; the same result always
gives the same bytes, so the document can be hashed.  Reads back with
``CalibrationResult.from_dict(json.loads(...))``.
"""
from __future__ import annotations

import json

from labauto.results import CalibrationResult


def to_json(result: CalibrationResult) -> bytes:
    """Canonical JSON of ``result.to_dict()``; refuses NaN/Infinity (not valid JSON)."""
    text = json.dumps(result.to_dict(), sort_keys=True, indent=2, ensure_ascii=False,
                      allow_nan=False)
    return (text + "\n").encode("utf-8")
