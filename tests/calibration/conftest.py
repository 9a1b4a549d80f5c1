"""Fixtures for the end-to-end calibration tests: a private LABAUTO_HOME/outbox per test and
the procedures shipped in procedures/."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "procedures" / "keysight_34465a_dcv_quick.yaml"
FULL = ROOT / "procedures" / "keysight_34465a_dcv.yaml"


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LABAUTO_HOME", str(home))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(home / "outbox.sqlite3"))
    for var in ("LABAUTO_PLATFORM_URL", "LABAUTO_PLATFORM_TOKEN", "LABAUTO_SIGNING_KEY",
                "LABAUTO_SIGNING_CERT", "LABAUTO_TSA_URL", "LABAUTO_TSA_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture()
def quick_procedure() -> Path:
    return QUICK


@pytest.fixture()
def full_procedure() -> Path:
    return FULL
