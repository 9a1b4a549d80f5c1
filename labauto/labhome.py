"""The lab home: the one folder that holds a lab's signing keys, publishing outbox and state.

    <lab home>/pki/             the demonstration signing identity (when no LABAUTO_SIGNING_KEY)
    <lab home>/outbox.sqlite3   the durable publishing outbox (LABAUTO_OUTBOX overrides the file)

It is chosen explicitly, first match wins:

1. the command's ``--lab-home`` option;
2. the ``LABAUTO_HOME`` environment variable;
3. ``home:`` in the lab file (``--lab`` / ``LABAUTO_LAB``; relative to the lab file's folder);
4. the default, ``~/.labauto``.

``labauto run``, ``resume``, ``demo`` and ``publish ...`` print the lab home they use and why.
The demo always uses ``<workdir>/home``: it never touches a real lab's keys or outbox.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LAB_HOME = Path("~") / ".labauto"


@dataclass(frozen=True)
class LabHome:
    path: Path
    source: str          # how it was chosen: "--lab-home", "LABAUTO_HOME", "lab file ...", "default"

    def describe(self) -> str:
        return f"{self.path} (from {self.source})"


def resolve_lab_home(option: str | Path | None = None,
                     lab_file: str | Path | None = None) -> LabHome:
    """The lab home the rules above choose (nothing is created)."""
    if option:
        return LabHome(Path(option).expanduser().resolve(), "--lab-home")
    if os.environ.get("LABAUTO_HOME"):
        return LabHome(Path(os.environ["LABAUTO_HOME"]).expanduser().resolve(), "LABAUTO_HOME")
    from labauto.lab import load_lab

    lab = load_lab(lab_file)
    if lab.home is not None:
        return LabHome(lab.home, f"lab file {lab.path}")
    return LabHome(DEFAULT_LAB_HOME.expanduser(), "default ~/.labauto")


def use_lab_home(home: LabHome) -> LabHome:
    """Make ``home`` this process's lab home (``LABAUTO_HOME``, which the Prefect tasks of this
    process and any child process read too)."""
    os.environ["LABAUTO_HOME"] = str(home.path)
    return home


def select_lab_home(option: str | Path | None = None,
                    lab_file: str | Path | None = None) -> LabHome:
    """Resolve the lab home and make it this process's (see :func:`use_lab_home`)."""
    return use_lab_home(resolve_lab_home(option, lab_file))
