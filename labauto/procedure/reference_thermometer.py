"""The reference thermometer of a comparison calibration, described by its own calibration
certificate (a YAML file the procedure names): which probe, its characteristic (ITS-90
deviation functions of an SPRT, or Callendar–Van Dusen coefficients of a secondary PRT), the
expanded uncertainty of its calibration by temperature, its drift allowance, and when it is due.

    certificate: {id: PTB-SIM-2026-7731, issued_by: ..., date: 2026-02-10, due: 2027-02-10}
    probe: {manufacturer: Fluke, model: "5681", serial: "1234", self_heating: 1.5 mK}
    characteristic:                     # labauto.temperature coefficients, one per sub-range
                                        # (a reference thermocouple: {type: R, deviation: [...]})
      - {subrange: 4, R_tpw: 25.54972 ohm, a: -1.2e-5, b: 3.0e-6}
      - {subrange: 7, R_tpw: 25.54972 ohm, a: -1.5e-5, b: -2.0e-6, c: 1.0e-6}
    uncertainty: {k: 2, values: [{up_to: 0.01 degC, U: 2 mK}, {up_to: 660 degC, U: 4 mK}]}
    drift: 2 mK                         # allowance between calibrations (rectangular)

The characteristic entries are read by labauto.temperature's coefficients parser, so a
coefficient a sub-range does not have is refused at its line.  A certificate past its due
date is refused (:func:`check_due`) naming the file and the line of ``due``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pint

from labauto.errors import SourceError
from labauto.units import Q_, UnitError, parse_quantity
from labauto.yamlsource import SourceDocument, SourceMap, load

KEYS = {"certificate", "probe", "characteristic", "uncertainty", "drift"}
CERT_KEYS = {"id", "issued_by", "date", "due"}
PROBE_KEYS = {"manufacturer", "model", "serial", "description", "self_heating"}


@dataclass(frozen=True)
class ReferenceThermometer:
    path: Path
    certificate_id: str
    issued_by: str
    date: dt.date
    due: dt.date
    due_line: int | None
    manufacturer: str
    model: str
    serial: str
    description: str
    curves: tuple[Any, ...]                     # labauto.temperature curves, in order
    uncertainty: tuple[tuple[float, pint.Quantity], ...]   # (up to °C, U)
    coverage_factor: float
    drift: pint.Quantity
    self_heating: pint.Quantity | None = None
    sha256: str = ""

    @property
    def is_thermocouple(self) -> bool:
        return hasattr(self.curves[0], "letter")

    @property
    def function(self) -> str:
        """What the readout measures of it: a thermocouple's emf (DCV) or a resistance."""
        return "DCV" if self.is_thermocouple else "RES4W"

    @property
    def value_unit(self) -> str:
        return "mV" if self.is_thermocouple else "ohm"

    @property
    def kind(self) -> str:
        from labauto.temperature import its90
        if self.is_thermocouple:
            return f"type {self.curves[0].letter} thermocouple"
        return "SPRT (ITS-90)" if isinstance(self.curves[0], its90.SprtCalibration) else \
            "PRT (Callendar–Van Dusen)"

    def _curve_for_resistance(self, r: float) -> Any:
        from labauto.temperature import its90
        if len(self.curves) == 1 or self.is_thermocouple:
            return self.curves[0]
        below = [c for c in self.curves if isinstance(c, its90.SprtCalibration) and c.range.t_max <= 0.01 + 1e-9]
        above = [c for c in self.curves if c not in below]
        w = r / self.curves[0].r_tpw
        return (below or above)[0] if w < 1.0 else (above or below)[0]

    def _curve_for_temperature(self, t: float) -> Any:
        for c in self.curves:
            lo, hi = _limits(c)
            if lo - 1e-9 <= t <= hi + 1e-9:
                return c
        return self.curves[-1]

    def temperature(self, value: pint.Quantity) -> pint.Quantity:
        """t90 (or the CVD temperature) of a measured resistance; a thermocouple's temperature
        of its emf (reference junction at 0 °C)."""
        if self.is_thermocouple:
            return Q_(self.curves[0].temperature(float(value.to("mV").m)), "degC")
        r = float(value.to("ohm").m)
        curve = self._curve_for_resistance(r)
        if hasattr(curve, "temperature_from_resistance"):
            return Q_(curve.temperature_from_resistance(r), "degC")
        return Q_(curve.temperature(r), "degC")

    def resistance(self, t_c: float) -> float:
        """R (ohm) at ``t_c`` °C from the certificate's characteristic."""
        return self._curve_for_temperature(t_c).resistance(t_c)

    def value_at(self, t_c: float) -> float:
        """What the readout reads at ``t_c``: R in ohm, or a thermocouple's emf in mV."""
        if self.is_thermocouple:
            return self.curves[0].emf(t_c)
        return self.resistance(t_c)

    def sensitivity(self, t_c: float) -> float:
        """dR/dt (ohm/K), or a thermocouple's dE/dt (mV/K), at ``t_c`` (1 mK step)."""
        lo, hi = self.range
        a, b = max(t_c - 0.0005, lo), min(t_c + 0.0005, hi)      # one-sided at the range's ends
        return (self.value_at(b) - self.value_at(a)) / (b - a)

    @property
    def range(self) -> tuple[float, float]:
        lows, highs = zip(*(_limits(c) for c in self.curves))
        return min(lows), max(highs)

    def expanded_uncertainty(self, t_c: float) -> pint.Quantity:
        """U of the calibration at ``t_c`` (the first row whose ``up_to`` is not below it)."""
        for up_to, u in self.uncertainty:
            if t_c <= up_to + 1e-9:
                return u
        return self.uncertainty[-1][1]

    def standard_uncertainty(self, t_c: float) -> pint.Quantity:
        return self.expanded_uncertainty(t_c) / self.coverage_factor

    def is_due(self, on: dt.date) -> bool:
        return on > self.due

    def to_dict(self) -> dict[str, Any]:
        return {"certificate_id": self.certificate_id, "issued_by": self.issued_by,
                "date": self.date.isoformat(), "due": self.due.isoformat(),
                "manufacturer": self.manufacturer, "model": self.model, "serial": self.serial,
                "kind": self.kind, "path": str(self.path), "sha256": self.sha256}


def _limits(curve: Any) -> tuple[float, float]:
    if hasattr(curve, "range") and hasattr(curve.range, "t_min"):
        return curve.range.t_min, curve.range.t_max
    return curve.t_min, curve.t_max


def check_due(ref: ReferenceThermometer, on: dt.date | None = None,
              used_at: str = "") -> None:
    """Refuse a reference whose certificate is past due (SourceError at the ``due`` line)."""
    today = on or dt.date.today()
    if ref.is_due(today):
        raise SourceError(str(ref.path), ref.due_line,
                          f"the reference thermometer {ref.manufacturer} {ref.model} serial "
                          f"{ref.serial} was due for calibration on {ref.due.isoformat()} "
                          f"(certificate {ref.certificate_id}); it is {today.isoformat()}: "
                          "recalibrate it or use another reference"
                          + (f" (used by {used_at})" if used_at else ""))


def _sub_document(doc: SourceDocument, prefix: tuple) -> SourceDocument:
    """The part of ``doc`` under ``prefix`` as a document of its own (same file, same lines)."""
    data: Any = doc.data
    for key in prefix:
        data = data[key]
    n = len(prefix)
    lines = {k[n:]: v for k, v in doc.source.lines.items() if k[:n] == prefix}
    return SourceDocument(data, SourceMap(doc.source.path, lines), doc.sha256, doc.text)


def _q(src: SourceMap, path: tuple, value: Any, unit: str) -> pint.Quantity:
    try:
        return parse_quantity(value, unit)
    except UnitError as exc:
        raise src.error(path, f"{path[-1]}: {exc}") from None


def _keys(src: SourceMap, path: tuple, d: Any, allowed: set[str], required: set[str], what: str) -> dict:
    if not isinstance(d, dict):
        raise src.error(path, f"{what} must be a mapping with {', '.join(sorted(required))}")
    for k in d:
        if k not in allowed:
            raise src.error(path + (k,), f"unknown key {k!r} in {what}; allowed: "
                                         f"{', '.join(sorted(allowed))}")
    for k in sorted(required):
        if k not in d:
            raise src.error(path, f"{what} is missing {k!r}")
    return d


def load_reference_thermometer(path: str | Path) -> ReferenceThermometer:
    """Read and check a reference thermometer's certificate file (errors name file:line)."""
    from labauto.temperature.convert import curve_from_document

    doc = load(path)
    src = doc.source
    d = _keys(src, (), doc.data, KEYS, KEYS - {"drift"}, "a reference thermometer certificate")
    cert = _keys(src, ("certificate",), d["certificate"], CERT_KEYS, CERT_KEYS, "certificate")
    probe = _keys(src, ("probe",), d["probe"], PROBE_KEYS, {"manufacturer", "model", "serial"},
                  "probe")
    chars = d["characteristic"]
    if isinstance(chars, dict):
        chars, prefixes = [chars], [("characteristic",)]
    elif isinstance(chars, list) and chars:
        prefixes = [("characteristic", i) for i in range(len(chars))]
    else:
        raise src.error(("characteristic",), "characteristic: the probe's coefficients (one "
                                             "mapping, or a list of them per ITS-90 sub-range)")
    curves = tuple(curve_from_document(_sub_document(doc, p)) for p in prefixes)
    if any(hasattr(c, "letter") for c in curves) and len(curves) > 1:
        raise src.error(("characteristic",), "a reference thermocouple has one characteristic "
                                             "(its type and deviation), not a list")
    unc = _keys(src, ("uncertainty",), d["uncertainty"], {"k", "values"}, {"k", "values"},
                "uncertainty")
    rows = unc["values"]
    if not isinstance(rows, list) or not rows:
        raise src.error(("uncertainty", "values"), "values: a list of {up_to: <temperature>, U: <K>}")
    table = []
    for i, row in enumerate(rows):
        p = ("uncertainty", "values", i)
        _keys(src, p, row, {"up_to", "U"}, {"up_to", "U"}, "an uncertainty row")
        table.append((float(_q(src, p + ("up_to",), row["up_to"], "degC").to("degC").m),
                      _q(src, p + ("U",), row["U"], "delta_degC").to("K")))
    if [r[0] for r in table] != sorted(r[0] for r in table):
        raise src.error(("uncertainty", "values"), "uncertainty rows must increase in up_to")
    try:
        k = float(unc["k"])
    except (TypeError, ValueError):
        raise src.error(("uncertainty", "k"), f"k: {unc['k']!r} is not a number") from None
    drift = _q(src, ("drift",), d.get("drift", "0 mK"), "delta_degC").to("K")
    sh = _q(src, ("probe", "self_heating"), probe["self_heating"], "delta_degC").to("K") \
        if "self_heating" in probe else None
    return ReferenceThermometer(
        path=Path(path), certificate_id=str(cert["id"]), issued_by=str(cert["issued_by"]),
        date=src.date(("certificate", "date"), cert["date"]),
        due=src.date(("certificate", "due"), cert["due"]),
        due_line=src.line(("certificate", "due")),
        manufacturer=str(probe["manufacturer"]), model=str(probe["model"]),
        serial=str(probe["serial"]), description=str(probe.get("description", "")),
        curves=curves, uncertainty=tuple(table), coverage_factor=k, drift=drift,
        self_heating=sh, sha256=doc.sha256)
