"""An external current shunt as the lab knows it: a register item (maker, model, serial), its
model's published ratings and coefficients, and its calibration certificate (value at reference
conditions, U, k).  One YAML file per shunt, named by a procedure's ``shunts:`` section
(docs/sources.md, "Currents above the reference meter's ranges")::

    item: {manufacturer: Guildline Instruments, model: 9230A-15, serial: "70412"}
    ratings:                           # the model's published figures (cite them)
      source: Guildline 9230A data sheet ... (from memory)
      nominal: 0.01 ohm
      max_current: 15 A                # refused above it, at the point's line
      power: 2.5 W                     # I²R refused above it
      temperature_coefficient: 2 ppm/K # |alpha|, a bound (sign unknown)
      power_coefficient: 1 ppm/W       # |beta|: the self-heating change per watt, steady state
      time_constant: 3 min             # of the self-heating
    certificate:
      certificate_id: NMI-2026-3310
      laboratory: ...
      date: 2026-04-14
      due: 2027-04-30
      value: 0.01000031 ohm            # at the reference conditions below
      U: 0.05 uohm
      k: 2
      temperature: 23 degC             # reference temperature of the value
      current: 1 A                     # the measuring current of the value
      ac_dc:                           # an AC shunt: its AC-DC difference per frequency (optional)
        - {frequency: 400 Hz, difference: 3 ppm, U: 15 ppm, k: 2}

The AC-DC difference d is the relative change of the shunt's transfer from its DC value at that
frequency: V_ac / I_ac = R_dc × (1 + d).

Every mistake is a :class:`SourceError` naming file:line.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pint

from labauto.models.reference import _keys, load_mapping
from labauto.units import Q_, UnitError, parse_quantity

_TOP = {"item", "ratings", "certificate"}
_ITEM = {"manufacturer", "model", "serial"}
_RATINGS = {"source": None, "nominal": "ohm", "max_current": "A", "power": "W",
            "temperature_coefficient": "1/K", "power_coefficient": "1/W", "time_constant": "s"}
_CERT = {"certificate_id": None, "laboratory": None, "date": None, "due": None, "value": "ohm",
         "U": "ohm", "k": None, "temperature": "degC", "current": "A"}
_AC_DC = {"frequency", "difference", "U", "k"}


@dataclass(frozen=True)
class AcDcDifference:
    """The certified AC-DC difference at one frequency: V_ac / I_ac = R_dc × (1 + difference)."""

    frequency: pint.Quantity
    difference: float
    U: float
    k: float


@dataclass(frozen=True)
class ShuntRatings:
    """The model's published figures (``source`` says where from)."""

    source: str
    nominal: pint.Quantity
    max_current: pint.Quantity
    power: pint.Quantity
    temperature_coefficient: pint.Quantity    # |alpha| bound, 1/K
    power_coefficient: pint.Quantity          # |beta| bound, 1/W (steady-state self-heating)
    time_constant: pint.Quantity              # of the self-heating


@dataclass(frozen=True)
class ShuntCertificate:
    """What the shunt's calibration certificate states."""

    certificate_id: str
    laboratory: str
    date: dt.date
    due: dt.date
    value: pint.Quantity                      # resistance at the reference conditions
    U: pint.Quantity
    k: float
    temperature: pint.Quantity                # reference temperature of ``value``
    current: pint.Quantity                    # measuring current of ``value``
    ac_dc: tuple[AcDcDifference, ...] = ()    # an AC shunt's AC-DC difference per frequency

    def ac_dc_at(self, frequency: pint.Quantity) -> AcDcDifference:
        """The certified AC-DC difference at ``frequency``; KeyError naming those stated."""
        f = float(frequency.to("Hz").magnitude)
        for e in self.ac_dc:
            if abs(float(e.frequency.to("Hz").magnitude) - f) <= 1e-9 * f:
                return e
        stated = ", ".join(f"{e.frequency.to_compact():g~P}" for e in self.ac_dc) or "none"
        raise KeyError(f"certificate {self.certificate_id} states no AC-DC difference at "
                       f"{frequency:~P} (it states: {stated})")

    @property
    def standard_uncertainty(self) -> pint.Quantity:
        return self.U / self.k


@dataclass(frozen=True)
class Shunt:
    """One external current shunt: identity, ratings, certificate; the file it came from."""

    manufacturer: str
    model: str
    serial: str
    ratings: ShuntRatings
    certificate: ShuntCertificate
    path: Path
    sha256: str

    @property
    def name(self) -> str:
        return f"{self.manufacturer} {self.model} (serial {self.serial})"

    @property
    def resistance(self) -> pint.Quantity:
        """The certified value (the reference conditions')."""
        return self.certificate.value

    def check_usable(self, on: dt.date) -> None:
        """Refuse a shunt whose certificate is past its due date on ``on``."""
        from labauto.models.reference import ReferenceNotUsable

        c = self.certificate
        if on > c.due:
            raise ReferenceNotUsable(
                f"{self.path}: certificate {c.certificate_id} of the shunt {self.name} was due on "
                f"{c.due.isoformat()}; the shunt must be recalibrated before it is used")

    def equipment(self) -> Any:
        """The shunt as a reference standard on the certificate (labauto.results.Equipment)."""
        from labauto.results import Equipment

        c = self.certificate
        return Equipment(role="reference", manufacturer=self.manufacturer, model=self.model,
                         serial_number=self.serial, certificate_id=c.certificate_id,
                         calibrated_by=c.laboratory, calibration_due=c.due.isoformat())

    def power_at(self, current: pint.Quantity) -> pint.Quantity:
        """I²R dissipated at ``current``."""
        return (current ** 2 * self.resistance).to("W")

    def to_dict(self) -> dict[str, Any]:
        c = self.certificate
        return {"manufacturer": self.manufacturer, "model": self.model, "serial": self.serial,
                "certificate_id": c.certificate_id, "laboratory": c.laboratory,
                "date": c.date.isoformat(), "due": c.due.isoformat(),
                "value": f"{c.value:~P}", "U": f"{c.U:~P}", "k": c.k, "path": str(self.path),
                "sha256": self.sha256}


def load_shunt(path: str | Path) -> Shunt:
    """Parse a shunt file; :class:`SourceError` naming file:line for every mistake."""
    path = Path(path)
    doc = load_mapping(path, _TOP, "a shunt file")
    d, src = doc.data, doc.source
    for key, allowed in (("item", _ITEM), ("ratings", set(_RATINGS)), ("certificate", set(_CERT))):
        if not isinstance(d[key], dict):
            raise src.error((key,), f"{key} must be a mapping of {', '.join(sorted(allowed))}")
        given = {k: v for k, v in d[key].items() if not (key == "certificate" and k == "ac_dc")}
        _keys(src, (key,), given, allowed, key)
    r = {k: _q(src, ("ratings", k), d["ratings"][k], u) for k, u in _RATINGS.items() if u}
    for key in ("nominal", "max_current", "power", "time_constant"):
        if not r[key].magnitude > 0:
            raise src.error(("ratings", key), f"{key} must be positive, not {d['ratings'][key]!r}")
    for key in ("temperature_coefficient", "power_coefficient"):
        if r[key].magnitude < 0:
            raise src.error(("ratings", key), f"{key} is a bound |coefficient|: give it "
                                              f"without sign, not {d['ratings'][key]!r}")
    c = d["certificate"]
    q = {k: _q(src, ("certificate", k), c[k], u) for k, u in _CERT.items() if u}
    if not q["value"].magnitude > 0 or not q["U"].magnitude > 0:
        raise src.error(("certificate",), "value and U must be positive resistances")
    k = c["k"]
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 < float(k) < 10:
        raise src.error(("certificate", "k"), f"k must be a number between 0 and 10, not {k!r}")
    date, due = src.date(("certificate", "date"), c["date"]), src.date(("certificate", "due"), c["due"])
    if due <= date:
        raise src.error(("certificate", "due"), f"due {due} is not after the calibration date {date}")
    deviation = abs((q["value"] - r["nominal"]) / r["nominal"]).to("").magnitude
    if deviation > 0.01:
        raise src.error(("certificate", "value"), f"the certified value {q['value']:~P} is "
                                                  f"{deviation:.1%} from the nominal "
                                                  f"{r['nominal']:~P}: another shunt's file?")
    ac_dc = tuple(_ac_dc(src, ("certificate", "ac_dc", i), e)
                  for i, e in enumerate(_list(src, c.get("ac_dc", []))))
    item = d["item"]
    return Shunt(
        manufacturer=str(item["manufacturer"]), model=str(item["model"]), serial=str(item["serial"]),
        ratings=ShuntRatings(source=str(d["ratings"]["source"]), **r),
        certificate=ShuntCertificate(certificate_id=str(c["certificate_id"]),
                                     laboratory=str(c["laboratory"]), date=date, due=due, k=float(k),
                                     ac_dc=ac_dc, **q),
        path=path, sha256=doc.sha256)


def _list(src: Any, value: Any) -> list:
    if not isinstance(value, list):
        raise src.error(("certificate", "ac_dc"), "ac_dc lists {frequency, difference, U, k}")
    return value


def _ac_dc(src: Any, at: tuple, e: Any) -> AcDcDifference:
    if not isinstance(e, dict):
        raise src.error(at, "an AC-DC difference is {frequency, difference, U, k}")
    _keys(src, at, e, _AC_DC, "an AC-DC difference")
    f = _q(src, at + ("frequency",), e["frequency"], "Hz")
    diff = _q(src, at + ("difference",), e["difference"], "")
    u = _q(src, at + ("U",), e["U"], "")
    k = e["k"]
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 < float(k) < 10:
        raise src.error(at + ("k",), f"k must be a number between 0 and 10, not {k!r}")
    if not f.magnitude > 0 or not u.magnitude > 0:
        raise src.error(at, "frequency and U must be positive")
    return AcDcDifference(f, float(diff.magnitude), float(u.magnitude), float(k))


def _q(src: Any, at: tuple, value: Any, unit: str) -> pint.Quantity:
    try:
        q = parse_quantity(value, unit)
    except UnitError as exc:
        raise src.error(at, str(exc)) from None
    return q if unit == "degC" else q.to(Q_(1, unit).units)
