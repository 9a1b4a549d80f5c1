"""Helpers for the tests of functions as data: temporary model folders and procedures."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def model_dir(tmp_path, monkeypatch):
    """A folder on LABAUTO_INSTRUMENTS_PATH; ``write(name, text)`` adds a model folder."""
    folder = tmp_path / "instruments"
    folder.mkdir()
    monkeypatch.setenv("LABAUTO_INSTRUMENTS_PATH", str(folder))

    def write(name: str, text: str) -> Path:
        (folder / name).mkdir(exist_ok=True)
        path = folder / name / "model.yaml"
        path.write_text(text)
        return path
    write.folder = folder
    return write


@pytest.fixture()
def write_procedure(tmp_path):
    def write(text: str, name: str = "proc.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return write
