"""Who an instrument says it is (``*IDN?``), checked against its instrument model."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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


def parse_identity(idn: str, resource: str, model: InstrumentModel,
                   language: Any = None) -> Identity:
    """Check ``idn`` against ``model`` (IdentityMismatch if it is another instrument).  The
    model's command language reads the fields (SCPI: ``maker,model,serial,firmware``)."""
    from labauto.drivers.language import language_for

    groups = model.match_identity(idn, resource)
    lang = language or language_for(model.language)
    maker, name, serial, firmware = lang.identity_fields(idn, groups, model)
    return Identity(manufacturer=maker, model=name, serial=serial, firmware=firmware,
                    raw=idn.strip(), resource=resource)
