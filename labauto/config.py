"""Where labauto keeps its local state: ``LABAUTO_HOME`` (default ``~/.labauto``).

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


def dcc_schema_dir() -> Path | None:
    """PTB DCC schema folder (``vX.Y.Z/dcc.xsd``): LABAUTO_DCC_SCHEMA_DIR, LABAUTO_DCC_DIR/schema,
    or ../shared/dcc/schema beside the project.  None when not available."""
    candidates = []
    if os.environ.get("LABAUTO_DCC_SCHEMA_DIR"):
        candidates.append(Path(os.environ["LABAUTO_DCC_SCHEMA_DIR"]))
    if os.environ.get("LABAUTO_DCC_DIR"):
        candidates.append(Path(os.environ["LABAUTO_DCC_DIR"]) / "schema")
    candidates.append(PROJECT_ROOT.parent / "shared" / "dcc" / "schema")
    for c in candidates:
        if (c / "v3.3.0" / "dcc.xsd").exists():
            return c
    return None
