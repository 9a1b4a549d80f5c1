"""A small valid procedure with known line numbers (see the comments), and text_with() to
break one line of it.  Used by the tests in this folder."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BASE_LINES = [
    "procedure:",                                                     # 1
    "  id: TEST-DCV",                                                 # 2
    "  title: Test procedure",                                        # 3
    '  version: "1.0"',                                               # 4
    "  method: Direct comparison against a calibrator",               # 5
    "dut: keysight_34465a",                                           # 6
    "standard: fluke_5522a",                                          # 7
    "function: DCV",                                                  # 8
    "settings:",                                                      # 9
    "  nplc: 10",                                                     # 10
    "  autozero: true",                                               # 11
    "  readings: 5",                                                  # 12
    "  settle_time: 2 s",                                             # 13
    "decision_rule: simple-acceptance",                               # 14
    "contributions:",                                                 # 15
    "  - {name: thermal_emf, label: thermal EMFs, distribution: rectangular, half_width: 1 uV}",  # 16
    "points:",                                                        # 17
    "  - {range: 100 mV, nominal: [10 mV, 100 mV, -100 mV]}",         # 18
    "  - {range: 10 V, nominal: [1 V, 10 V], readings: 20}",          # 19
    "  - range: 1000 V",                                              # 20
    "    nominal: 1000 V",                                            # 21
    "    settle_time: 5 s",                                           # 22
]


def text_with(changes: dict[int, str | None] | None = None, extra: list[str] = ()) -> str:
    """BASE with line ``n`` (1-based) replaced by ``changes[n]`` (None deletes it: later
    lines move up) and ``extra`` lines appended."""
    lines = list(BASE_LINES)
    for n, new in sorted((changes or {}).items(), reverse=True):
        if new is None:
            del lines[n - 1]
        else:
            lines[n - 1] = new
    return "\n".join(lines + list(extra)) + "\n"
