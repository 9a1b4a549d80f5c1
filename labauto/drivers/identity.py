"""Who an instrument says it is (``*IDN?``), checked against its instrument model."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from labauto.instruments import InstrumentModel


@dataclass(frozen=True)
class Identity:
    """Parsed ``*IDN?`` answer, as recorded in the run journal and on the certificate."""

    manufacturer: str
    model: str
    serial: str
    firmware: str
    raw: str
    resource: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def parse_identity(idn: str, resource: str, model: InstrumentModel) -> Identity:
    """Check ``idn`` against ``model`` (IdentityMismatch if it is another instrument)."""
    groups = model.match_identity(idn, resource)
    fields = [f.strip() for f in idn.strip().split(",")]
    fields += [""] * (4 - len(fields))
    return Identity(manufacturer=fields[0], model=fields[1],
                    serial=groups.get("serial", fields[2]),
                    firmware=groups.get("firmware", ",".join(fields[3:]).strip(",")),
                    raw=idn.strip(), resource=resource)
