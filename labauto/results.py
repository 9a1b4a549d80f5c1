"""Calibration results as data: what the engine produces and every certificate writer reads.

Data flows one way: procedure + readings -> evaluation -> :class:`CalibrationResult` ->
certificate writers (JSON, DCC XML, PDF) -> platform.  Everything here is plain, immutable data
with a stable JSON form (``to_dict``/``from_dict``); quantities carry pint units.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pint

from labauto.certificate.wording import wording
from labauto.uncertainty.budget import UncertaintyBudget, q_from_dict, q_to_dict

RESULTS_SCHEMA_VERSION = "1.1"     # 1.1: per-function summary ("functions"), item condition

# what a certificate calls each function, and the SI unit its results are stated in
FUNCTION_NAMES = {"DCV": "DC voltage", "ACV": "AC voltage", "DCI": "DC current",
                  "ACI": "AC current", "RES2W": "Resistance, 2-wire", "RES4W": "Resistance, 4-wire",
                  "FREQ": "Frequency"}
KIND_UNITS = {"voltage": "V", "current": "A", "resistance": "Ω", "frequency": "Hz"}


@dataclass(frozen=True)
class Party:
    """A laboratory, customer or person named on a certificate."""

    name: str
    address: str = ""
    email: str = ""
    identifier: str = ""          # accreditation number for a lab, customer number, ...

    def to_dict(self) -> dict[str, Any]:
        return dict(name=self.name, address=self.address, email=self.email, identifier=self.identifier)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Party":
        return cls(**d)


@dataclass(frozen=True)
class Equipment:
    """An instrument taking part in a calibration: the item calibrated or a reference standard."""

    role: str                      # "item" (the DUT) or "reference"
    manufacturer: str
    model: str
    serial_number: str
    firmware: str = ""
    resource: str = ""             # VISA resource string it was reached at
    identity: str = ""             # the raw *IDN? answer
    certificate_id: str = ""       # for a reference standard: its calibration certificate
    calibrated_by: str = ""        # the lab that issued that certificate
    calibration_due: str = ""      # ISO date
    certificate_sha256: str = ""   # SHA-256 (hex) of that certificate's DCC document, if known

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Equipment":
        return cls(**d)


@dataclass(frozen=True)
class ProcedureRef:
    id: str
    title: str
    version: str
    path: str
    sha256: str                    # content hash of the procedure file as run

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ProcedureRef":
        return cls(**d)


@dataclass(frozen=True)
class DecisionRuleRef:
    name: str                      # "simple-acceptance" | "guard-band-U" ...
    description: str               # the statement printed on the certificate
    reference: str = "ILAC-G8:09/2019"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DecisionRuleRef":
        return cls(**d)


@dataclass(frozen=True)
class PointResult:
    """One test point: readings, error of indication, its budget, and the conformity decision."""

    point_id: str
    function: str                  # "DCV"
    range: pint.Quantity
    nominal: pint.Quantity         # the set value of the reference standard
    reference: pint.Quantity       # the reference value used (set value, corrected if known)
    readings: tuple[float, ...]    # indications, in ``reading_unit``
    reading_unit: str
    mean: pint.Quantity            # mean indication
    std_dev: pint.Quantity         # experimental standard deviation s of the readings
    error: pint.Quantity           # mean indication - reference
    budget: UncertaintyBudget      # budget of the error
    expanded_uncertainty: pint.Quantity   # U as reported (ILAC-P14 rounded)
    coverage_factor: float
    coverage_probability: float
    tolerance: pint.Quantity       # ± half-width of the DUT specification at this point
    acceptance_limit: pint.Quantity  # ± limit applied by the decision rule
    decision: str                  # "pass" | "fail" | "conditional pass" | "conditional fail"
    tur: float                     # test uncertainty ratio = tolerance / U
    reading_timestamps: tuple[str, ...] = ()
    conformance_probability: float | None = None   # p_c that |true error| <= tolerance (JCGM 106)
    specific_risk: float | None = None             # probability that the decision is wrong
    frequency: pint.Quantity | None = None         # of an AC point (None: DC, resistance)
    #: a source's readback point: its own measurements (``MEAS:VOLT?``) taken with the
    #: reference meter's ``readings``, in ``reading_unit``; ``mean`` and ``std_dev`` are then
    #: the readbacks' (the source's indication) and ``reference`` the reference meter's mean
    readbacks: tuple[float, ...] = ()

    @property
    def quantity_kind(self) -> str:
        """voltage | current | resistance | frequency (what the certificate groups by)."""
        from labauto.units import quantity_kind
        return quantity_kind(self.nominal.units)

    @property
    def tolerance_used(self) -> float:
        """|error| / tolerance: the fraction of its tolerance the point uses (1.0 at the limit)."""
        tol = float(self.tolerance.to(self.error.units).magnitude)
        return abs(float(self.error.magnitude)) / tol if tol else float("inf")

    def to_dict(self) -> dict[str, Any]:
        d = {
            "point_id": self.point_id,
            "function": self.function,
            "range": q_to_dict(self.range),
            "nominal": q_to_dict(self.nominal),
            "reference": q_to_dict(self.reference),
            "readings": list(self.readings),
            "reading_unit": self.reading_unit,
            "reading_timestamps": list(self.reading_timestamps),
            "mean": q_to_dict(self.mean),
            "std_dev": q_to_dict(self.std_dev),
            "error": q_to_dict(self.error),
            "budget": self.budget.to_dict(),
            "expanded_uncertainty": q_to_dict(self.expanded_uncertainty),
            "coverage_factor": self.coverage_factor,
            "coverage_probability": self.coverage_probability,
            "tolerance": q_to_dict(self.tolerance),
            "acceptance_limit": q_to_dict(self.acceptance_limit),
            "decision": self.decision,
            "tur": self.tur,
            "conformance_probability": self.conformance_probability,
            "specific_risk": self.specific_risk,
        }
        if self.frequency is not None:
            d["frequency"] = q_to_dict(self.frequency)
        if self.readbacks:
            d["readbacks"] = list(self.readbacks)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PointResult":
        return cls(
            point_id=d["point_id"], function=d["function"], range=q_from_dict(d["range"]),
            nominal=q_from_dict(d["nominal"]), reference=q_from_dict(d["reference"]),
            readings=tuple(d["readings"]), reading_unit=d["reading_unit"],
            reading_timestamps=tuple(d.get("reading_timestamps", ())),
            mean=q_from_dict(d["mean"]), std_dev=q_from_dict(d["std_dev"]),
            error=q_from_dict(d["error"]), budget=UncertaintyBudget.from_dict(d["budget"]),
            expanded_uncertainty=q_from_dict(d["expanded_uncertainty"]),
            coverage_factor=float(d["coverage_factor"]),
            coverage_probability=float(d["coverage_probability"]),
            tolerance=q_from_dict(d["tolerance"]),
            acceptance_limit=q_from_dict(d["acceptance_limit"]),
            decision=d["decision"], tur=float(d["tur"]),
            conformance_probability=d.get("conformance_probability"),
            specific_risk=d.get("specific_risk"),
            frequency=q_from_dict(d["frequency"]) if d.get("frequency") else None,
            readbacks=tuple(d.get("readbacks", ())),
        )


def combined_decision(decisions: set[str]) -> str:
    """pass (every point passed), fail (any failed), else conditional."""
    if decisions <= {"pass"}:
        return "pass"
    if "fail" in decisions:
        return "fail"
    return "conditional"


@dataclass(frozen=True)
class FunctionResults:
    """The points of one function (DCV, ACV, ... in procedure order), as a certificate groups
    them: one section, table and plot in the PDF, one ``dcc:result`` in the DCC, one summary in
    the JSON.  ``unit`` is the SI unit of the function's quantity (V, A, Ω, Hz)."""

    function: str
    points: tuple[PointResult, ...]

    @property
    def name(self) -> str:
        return FUNCTION_NAMES.get(self.function, self.function)

    @property
    def unit(self) -> str:
        kind = self.points[0].quantity_kind
        return KIND_UNITS.get(kind, f"{self.points[0].nominal.units:~P}")

    @property
    def alternating(self) -> bool:
        return any(p.frequency is not None for p in self.points)

    @property
    def decision(self) -> str:
        return combined_decision({p.decision for p in self.points})

    def summary(self) -> dict[str, Any]:
        worst = max(self.points, key=lambda p: p.tolerance_used)
        counts = {d: sum(p.decision == d for p in self.points) for d in
                  ("pass", "fail", "conditional pass", "conditional fail")}
        return {
            "function": self.function, "name": self.name, "unit": self.unit,
            "quantity": self.points[0].quantity_kind,
            "points": len(self.points), "point_ids": [p.point_id for p in self.points],
            "ranges": list(dict.fromkeys(f"{float(p.range.magnitude):g} {p.range.units:~P}"
                                         for p in self.points)),
            "frequencies_hz": sorted({float(p.frequency.to("Hz").magnitude)
                                      for p in self.points if p.frequency is not None}),
            "decisions": counts, "decision": self.decision,
            "largest_tolerance_used": {"point_id": worst.point_id,
                                       "fraction": round(worst.tolerance_used, 6)},
        }


def group_by_function(points: "tuple[PointResult, ...] | list[PointResult]") -> tuple[FunctionResults, ...]:
    """The points grouped by function, functions in order of their first point."""
    groups: dict[str, list[PointResult]] = {}
    for p in points:
        groups.setdefault(p.function, []).append(p)
    return tuple(FunctionResults(f, tuple(ps)) for f, ps in groups.items())


@dataclass(frozen=True)
class CalibrationResult:
    """Everything a certificate states (ISO/IEC 17025 7.8.2.1 / 7.8.4.1) as data."""

    certificate_id: str            # unique id, also on every page of the PDF
    run_id: str
    title: str
    laboratory: Party
    customer: Party
    authoriser: Party              # person authorising the certificate
    performed_by: str
    item: Equipment                # the DUT
    standards: tuple[Equipment, ...]
    procedure: ProcedureRef
    decision_rule: DecisionRuleRef
    calibration_date: str          # ISO date the measurements were made (start)
    calibration_end: str           # ISO date-time the last reading was taken
    issue_date: str                # ISO date of issue
    receipt_date: str              # ISO date the item was received
    location: str                  # where the calibration was performed
    environment: dict[str, Any]    # e.g. {"temperature": {"value": 23.0, "unit": "degC"}, ...}
    points: tuple[PointResult, ...]
    traceability: str              # traceability statement
    remarks: tuple[str, ...] = ()
    software: str = ""             # "labauto 0.1.0"
    amends: str = ""               # certificate id this one amends/substitutes, if any
    country: str = "DE"            # ISO 3166-1 alpha-2 of the issuing lab (DCC coreData)
    language: str = "en"           # ISO 639-1 language of the certificate's texts
    item_condition: str = ""       # the item's condition on receipt, as the technician found it
    item_condition_confirmed: bool = True   # False: the lab's default text, recorded without a
                                   # technician confirming it (labauto run --yes, the demo)
    adjusted: bool = False         # the item was adjusted during the calibration (issue 14 sets
                                   # it with as-found/as-left results; until then: not adjusted)
    measurement_model: str = "error of indication"   # or "error of output" (source under test)
    # as found / adjustment / as left (ISO/IEC 17025 7.8.4.1): ``points`` are the results as
    # found; after an adjustment ``as_left_points`` the same points measured again
    as_left_points: tuple[PointResult, ...] = ()
    adjustment: dict[str, Any] = field(default_factory=dict)   # policy, decision, reason, points
    schema_version: str = RESULTS_SCHEMA_VERSION

    @property
    def item_condition_statement(self) -> str:
        """The item's condition on receipt as the certificate states it (7.8.2.1 g)): what the
        technician recorded, or the lab's default text marked as not confirmed."""
        if not self.item_condition:
            return "not recorded"
        if self.item_condition_confirmed:
            return self.item_condition
        return (f"{self.item_condition} (the laboratory's default statement, recorded without "
                "confirmation by a technician)")

    @property
    def overall_decision(self) -> str:
        """The conformity of the item as it leaves the lab: as left after an adjustment."""
        return combined_decision({p.decision for p in self.final_points})

    @property
    def as_found_decision(self) -> str:
        return combined_decision({p.decision for p in self.points})

    @property
    def final_points(self) -> tuple[PointResult, ...]:
        return self.as_left_points or self.points

    def functions(self) -> tuple[FunctionResults, ...]:
        return group_by_function(self.points)

    def as_left_functions(self) -> tuple[FunctionResults, ...]:
        return group_by_function(self.as_left_points)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "certificate_id": self.certificate_id,
            "run_id": self.run_id,
            "title": self.title,
            "laboratory": self.laboratory.to_dict(),
            "customer": self.customer.to_dict(),
            "authoriser": self.authoriser.to_dict(),
            "performed_by": self.performed_by,
            "item": self.item.to_dict(),
            "standards": [s.to_dict() for s in self.standards],
            "procedure": self.procedure.to_dict(),
            "decision_rule": self.decision_rule.to_dict(),
            "calibration_date": self.calibration_date,
            "calibration_end": self.calibration_end,
            "issue_date": self.issue_date,
            "receipt_date": self.receipt_date,
            "location": self.location,
            "environment": self.environment,
            "points": [p.to_dict() for p in self.points],
            "functions": [f.summary() for f in self.functions()],
            "overall_decision": self.overall_decision,
            "as_found_decision": self.as_found_decision,
            "as_left_points": [p.to_dict() for p in self.as_left_points],
            "as_left_functions": [f.summary() for f in self.as_left_functions()],
            "adjustment": self.adjustment,
            "traceability": self.traceability,
            "remarks": list(self.remarks),
            "software": self.software,
            "amends": self.amends,
            "country": self.country,
            "language": self.language,
            "item_condition": self.item_condition,
            "item_condition_confirmed": self.item_condition_confirmed,
            "adjusted": self.adjusted,
            "measurement_model": self.measurement_model,
            "error_quantity": wording(self.measurement_model).subject,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CalibrationResult":
        return cls(
            certificate_id=d["certificate_id"], run_id=d["run_id"], title=d["title"],
            laboratory=Party.from_dict(d["laboratory"]), customer=Party.from_dict(d["customer"]),
            authoriser=Party.from_dict(d["authoriser"]), performed_by=d["performed_by"],
            item=Equipment.from_dict(d["item"]),
            standards=tuple(Equipment.from_dict(s) for s in d["standards"]),
            procedure=ProcedureRef.from_dict(d["procedure"]),
            decision_rule=DecisionRuleRef.from_dict(d["decision_rule"]),
            calibration_date=d["calibration_date"], calibration_end=d["calibration_end"],
            issue_date=d["issue_date"], receipt_date=d["receipt_date"], location=d["location"],
            environment=d["environment"],
            points=tuple(PointResult.from_dict(p) for p in d["points"]),
            traceability=d["traceability"], remarks=tuple(d.get("remarks", ())),
            software=d.get("software", ""), amends=d.get("amends", ""),
            country=d.get("country", "DE"), language=d.get("language", "en"),
            item_condition=d.get("item_condition", ""),
            item_condition_confirmed=bool(d.get("item_condition_confirmed", True)),
            adjusted=bool(d.get("adjusted", False)),
            measurement_model=d.get("measurement_model", "error of indication"),
            as_left_points=tuple(PointResult.from_dict(p) for p in d.get("as_left_points", ())),
            adjustment=d.get("adjustment") or {},
            schema_version=d.get("schema_version", RESULTS_SCHEMA_VERSION),
        )
