"""A procedure's adjustment: when to adjust the item (the policy) and at which points, from the
DUT model's adjustment description (``adjustment:`` in its model.yaml).

    adjustment:
      policy: if-any-fails          # always | if-any-fails | tolerance-used
      tolerance_used_above: 70 %    # (tolerance-used) adjust when any as-found point uses more

The points are derived from the procedure's own test points, for every function the model can
adjust: per (function, range) an offset point at zero (DC voltage and current) and a gain point
at the range's largest positive nominal value (an AC range at that point's frequency).  After an
adjustment every test point is measured again (as left); the certificate states both.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import pint

from labauto.instruments import InstrumentModel
from labauto.procedure.model import OperatorStep, TestPoint
from labauto.procedure.schema import Invalid, Problems, check_keys, quantity, text

POLICIES = ("always", "if-any-fails", "tolerance-used")
ZERO_FUNCTIONS = ("DCV", "DCI")           # an offset adjustment at a zero input
MODEL_COMMANDS = ("unsecure", "value", "adjust", "store", "secure")


@dataclass(frozen=True)
class AdjustmentCommands:
    """The DUT's calibration (adjustment) commands, from its model file."""

    unsecure: str          # "CAL:SEC:STAT OFF,{code}"
    value: str             # "CAL:VAL {value}"
    adjust: str            # "CAL?" (a query answering ``success`` when the adjustment took)
    store: str             # "CAL:STOR"
    secure: str            # "CAL:SEC:STAT ON,{code}"
    success: str           # "+0"
    security_code: str     # the model's default code (a lab changes it on its instruments)
    functions: tuple[str, ...]
    reference: str = ""    # where the commands are documented


def model_adjustment(model: InstrumentModel) -> AdjustmentCommands | None:
    """The ``adjustment:`` section of a model file, or None if the model has none."""
    d = model.extra.get("adjustment")
    if not d:
        return None
    cmds = d.get("commands") or {}
    missing = [c for c in MODEL_COMMANDS if not cmds.get(c)]
    if missing:
        raise ValueError(f"{model.folder / 'model.yaml'}: adjustment.commands lacks "
                         f"{', '.join(missing)}")
    functions = tuple(str(f) for f in d.get("functions") or ())
    unknown = [f for f in functions if f not in model.functions]
    if unknown:
        raise ValueError(f"{model.folder / 'model.yaml'}: adjustment.functions names "
                         f"{', '.join(unknown)}, which the model does not have")
    return AdjustmentCommands(
        unsecure=str(cmds["unsecure"]), value=str(cmds["value"]), adjust=str(cmds["adjust"]),
        store=str(cmds["store"]), secure=str(cmds["secure"]), success=str(cmds.get("success", "0")),
        security_code=str(d.get("security_code", "")), functions=functions,
        reference=" ".join(str(d.get("reference", "")).split()))


@dataclass(frozen=True)
class AdjustmentPoint:
    """Apply ``value`` (at ``frequency``) and tell the DUT, on ``range``, that this is the value."""

    id: str
    function: str
    range: pint.Quantity
    value: pint.Quantity
    frequency: pint.Quantity | None
    point: TestPoint                      # the test point it was derived from (settings, set-up)
    steps: tuple[OperatorStep, ...]       # the set-up that point needs (lead positions)

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "function": self.function,
             "range": {"value": float(self.range.magnitude), "unit": f"{self.range.units:~C}"},
             "value": {"value": float(self.value.magnitude), "unit": f"{self.value.units:~C}"}}
        if self.frequency is not None:
            d["frequency"] = {"value": float(self.frequency.magnitude),
                              "unit": f"{self.frequency.units:~C}"}
        return d


@dataclass(frozen=True)
class Adjustment:
    policy: str                            # always | if-any-fails | tolerance-used
    threshold: float | None                # tolerance-used: the fraction of the tolerance
    points: tuple[AdjustmentPoint, ...]
    commands: AdjustmentCommands
    line: int | None = None

    def describe(self) -> str:
        if self.policy == "always":
            return "adjust always"
        if self.policy == "if-any-fails":
            return "adjust if any as-found point does not pass"
        return (f"adjust if any as-found point uses more than {100 * (self.threshold or 0):g} % "
                "of its tolerance")

    def decide(self, as_found: Sequence[Any]) -> tuple[bool, str]:
        """Whether to adjust, and why, from the as-found results (PointResult)."""
        if self.policy == "always":
            return True, "the procedure adjusts always"
        if self.policy == "if-any-fails":
            bad = [p.point_id for p in as_found if p.decision != "pass"]
            if bad:
                return True, f"as found, {len(bad)} point(s) did not pass: {', '.join(bad)}"
            return False, "every as-found point passed"
        assert self.threshold is not None
        over = [p for p in as_found if p.tolerance_used > self.threshold]
        if over:
            worst = max(over, key=lambda p: p.tolerance_used)
            return True, (f"as found, {len(over)} point(s) used more than "
                          f"{100 * self.threshold:g} % of the tolerance (largest: "
                          f"{worst.point_id}, {100 * worst.tolerance_used:.0f} %)")
        return False, (f"no as-found point used more than {100 * self.threshold:g} % of its "
                       "tolerance")


def parse_adjustment(problems: Problems, d: Any, points: Sequence[TestPoint],
                     dut: InstrumentModel, direction: str) -> Adjustment | None:
    """The procedure's ``adjustment:`` section checked against the DUT model."""
    at = ("adjustment",)
    try:
        check_keys(problems, at, d, "adjustment", required=("policy",),
                   optional=("tolerance_used_above",))
        policy = text(problems, at + ("policy",), d["policy"], "adjustment policy")
        if policy not in POLICIES:
            raise problems.fail(at + ("policy",), f"unknown adjustment policy {policy!r}; use "
                                                  f"{', '.join(POLICIES)}")
        threshold = None
        if policy == "tolerance-used":
            if "tolerance_used_above" not in d:
                raise problems.fail(at, "policy tolerance-used needs tolerance_used_above "
                                        "(e.g. 70 %)")
            threshold = float(quantity(problems, at + ("tolerance_used_above",),
                                       d["tolerance_used_above"], "percent",
                                       "tolerance_used_above").to("").magnitude)
            if not 0 < threshold <= 1:
                raise problems.fail(at + ("tolerance_used_above",),
                                    "tolerance_used_above must lie above 0 % and at most 100 %")
        elif "tolerance_used_above" in d:
            raise problems.fail(at + ("tolerance_used_above",),
                                "tolerance_used_above belongs to policy tolerance-used")
        if direction != "meter":
            raise problems.fail(at, "an adjustment is supported for a meter under test only "
                                    "(the DUT's calibration commands adjust its readings)")
        try:
            commands = model_adjustment(dut)
        except ValueError as exc:
            raise problems.fail(at, str(exc)) from None
        if commands is None:
            raise problems.fail(at, f"the DUT model {dut.name} ({dut.folder / 'model.yaml'}) "
                                    "describes no adjustment (its calibration commands)")
        adj_points = derive_points(points, commands.functions)
        if not adj_points:
            raise problems.fail(at, f"no test point is of a function {dut.name} can adjust "
                                    f"({', '.join(commands.functions)})")
        return Adjustment(policy, threshold, adj_points, commands, problems.source.line(at))
    except Invalid:
        return None


def derive_points(points: Sequence[TestPoint], functions: Sequence[str]) -> tuple[AdjustmentPoint, ...]:
    """Per (function, range) of the test points, in their order: zero (DC functions) and the
    largest positive nominal value (for AC, the one nearest 1 kHz among those)."""
    groups: dict[tuple[str, float], list[TestPoint]] = {}
    for p in points:
        if p.function in functions:
            groups.setdefault((p.function, float(p.range.to_base_units().magnitude)), []).append(p)
    out: list[AdjustmentPoint] = []
    for (function, _), pts in groups.items():
        first = pts[0]
        steps = _set_up(points, first)
        rng = first.range
        if function in ZERO_FUNCTIONS:
            zero = 0 * first.nominal
            out.append(AdjustmentPoint(f"ADJ-{function}-{_label(rng)}-zero", function, rng, zero,
                                       None, first, steps))
        positive = [p for p in pts if p.nominal.magnitude > 0]
        if positive:
            top = max(p.nominal.to_base_units().magnitude for p in positive)
            candidates = [p for p in positive
                          if abs(p.nominal.to_base_units().magnitude - top) <= 1e-12 * top]
            best = min(candidates, key=lambda p: 0 if p.frequency is None else
                       abs(float(p.frequency.to("Hz").magnitude) - 1000.0))
            out.append(AdjustmentPoint(f"ADJ-{function}-{_label(rng)}-gain", function, rng,
                                       best.nominal, best.frequency, best, _set_up(points, best)))
    return tuple(out)


def _set_up(points: Sequence[TestPoint], point: TestPoint) -> tuple[OperatorStep, ...]:
    """The last operator step written at or before ``point``: the set-up it is measured in."""
    steps = [s for p in points[:point.index + 1] for s in p.steps]
    return tuple(steps[-1:])


def _label(q: pint.Quantity) -> str:
    return f"{float(q.magnitude):g}{q.units:~P}".replace(" ", "").replace("Ω", "Ohm").replace("µ", "u")
