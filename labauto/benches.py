"""The lab's benches, from the lab file's ``benches:`` section.

A bench is a place where items are calibrated: its reference standard, the port an item under
calibration is connected to, its environment logger, and the folder its runs and certificates
go to.  Each bench gets its own Prefect deployment and worker (``labauto lab up``)::

    benches:
      dc-1:
        standard: TCPIP0::10.0.0.7::5025::SOCKET      # the bench's reference standard
        dut: TCPIP0::10.0.0.5::5025::SOCKET           # where the item under calibration is
        environment: TCPIP0::10.0.0.9::5025::SOCKET   # optional: the thermo-hygrometer
        workdir: data/dc-1                            # optional (default labauto-data/<bench>),
                                                      # relative to the lab file
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labauto.errors import LabautoError
from labauto.yamlsource import load

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_KEYS = {"standard", "dut", "environment", "workdir", "description"}


class UnknownBench(LabautoError):
    """A bench the lab file does not define."""


@dataclass(frozen=True)
class Bench:
    name: str
    standard: str
    dut: str = ""
    environment: str = ""
    workdir: Path = Path("labauto-data")
    description: str = ""

    @property
    def deployment(self) -> str:
        """Its calibrate deployment's name (``calibrate/<deployment>``) and work queue."""
        return f"bench-{self.name}"

    @property
    def runs_dir(self) -> Path:
        return self.workdir / "runs"

    @property
    def out_dir(self) -> Path:
        return self.workdir / "certificates"


def lab_file_path(lab_file: str | Path | None = None) -> Path:
    from labauto.lab import DEFAULT_LAB_FILE

    return Path(lab_file or os.environ.get("LABAUTO_LAB") or DEFAULT_LAB_FILE).resolve()


def load_benches(lab_file: str | Path | None = None) -> dict[str, Bench]:
    """The benches of the lab file (``--lab``, ``LABAUTO_LAB``, else the embedded default,
    which has none); errors name the file and line."""
    path = lab_file_path(lab_file)
    doc = load(path)
    src = doc.source
    raw = (doc.data or {}).get("benches") if isinstance(doc.data, dict) else None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise src.error(("benches",), "benches must be a mapping of bench name to its "
                        "instruments (standard, dut, environment)")
    benches = {}
    for name, d in raw.items():
        at = ("benches", name)
        if not isinstance(name, str) or not _NAME.match(name):
            raise src.error(at, f"bench name {name!r}: lower-case letters, digits and '-' "
                            "(it names the bench's deployment and work queue)")
        if not isinstance(d, dict):
            raise src.error(at, f"bench {name} must be a mapping with at least standard")
        unknown = sorted(set(map(str, d)) - _KEYS)
        if unknown:
            raise src.error(at + (unknown[0],), f"unknown key {unknown[0]!r} in bench {name} "
                            f"(known: {', '.join(sorted(_KEYS))})")
        if not str(d.get("standard") or "").strip():
            raise src.error(at, f"bench {name} needs standard: the VISA resource of its "
                            "reference standard")
        workdir = Path(str(d.get("workdir") or f"labauto-data/{name}"))
        benches[name] = Bench(name, str(d["standard"]).strip(), str(d.get("dut") or "").strip(),
                              str(d.get("environment") or "").strip(),
                              (path.parent / workdir).resolve(), str(d.get("description") or ""))
    return benches


def bench(name: str, lab_file: str | Path | None = None) -> Bench:
    benches = load_benches(lab_file)
    if name not in benches:
        known = ", ".join(sorted(benches)) or "none"
        raise UnknownBench(f"no bench {name!r} in the lab file {lab_file_path(lab_file)} "
                           f"(benches: {known}); define it under benches:")
    return benches[name]


def describe(b: Bench) -> dict[str, Any]:
    return {"name": b.name, "standard": b.standard, "dut": b.dut, "environment": b.environment,
            "workdir": str(b.workdir), "deployment": f"calibrate/{b.deployment}"}
