"""Where labauto finds things: the lab home in use, PTB's DCC schemas, the project root.

The lab home (keys, outbox, state) is chosen by ``labauto.labhome`` and handed to the rest of
the process as ``LABAUTO_HOME``; without it, the documented default ``~/.labauto``.

    <home>/pki/          the lab's signing key and certificate when the lab file names none
    <home>/outbox.sqlite3  the durable publishing outbox (LABAUTO_OUTBOX overrides)
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def labauto_home() -> Path:
    home = Path(os.environ.get("LABAUTO_HOME") or Path.home() / ".labauto")
    home.mkdir(parents=True, exist_ok=True)
    return home


def outbox_path() -> Path:
    return Path(os.environ.get("LABAUTO_OUTBOX") or labauto_home() / "outbox.sqlite3")


# where the development and CI machines keep PTB's DCC files (LGPL-3 data, never copied here)
WORKPLACE_DCC_DIR = Path("/work/shared/dcc")


def dcc_dir() -> Path | None:
    """PTB's DCC folder (``schema/vX.Y.Z/dcc.xsd``, ``examples/``): ``LABAUTO_DCC_DIR``, else the
    nearest ``shared/dcc`` beside the project or beside one of its parent folders (a CI clone
    may sit deeper than the working copy), else the workplace's shared folder (a clone in a
    temporary directory).  None when not found."""
    if os.environ.get("LABAUTO_DCC_DIR"):
        return Path(os.environ["LABAUTO_DCC_DIR"])
    for candidate in [*(p / "shared" / "dcc" for p in PROJECT_ROOT.parents), WORKPLACE_DCC_DIR]:
        if (candidate / "schema" / "v3.3.0" / "dcc.xsd").exists():
            return candidate
    return None


def dcc_schema_dir() -> Path | None:
    """PTB DCC schema folder (``vX.Y.Z/dcc.xsd``): LABAUTO_DCC_SCHEMA_DIR, or the ``schema``
    folder of :func:`dcc_dir`.  None when not available."""
    candidates = []
    if os.environ.get("LABAUTO_DCC_SCHEMA_DIR"):
        candidates.append(Path(os.environ["LABAUTO_DCC_SCHEMA_DIR"]))
    d = dcc_dir()
    if d is not None:
        candidates.append(d / "schema")
    for c in candidates:
        if (c / "v3.3.0" / "dcc.xsd").exists():
            return c
    return None
