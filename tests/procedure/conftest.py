"""Fixtures: write a procedure file, and get the ProcedureError of a broken BASE procedure."""
from __future__ import annotations

from pathlib import Path

import pytest

from labauto.procedure import ProcedureError, load_procedure
from procedure_base import text_with


@pytest.fixture()
def write(tmp_path: Path):
    def _write(text: str, name: str = "proc.yaml") -> Path:
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        return p
    return _write


@pytest.fixture()
def problems(write):
    """``problems(changes, extra)`` -> the ProcedureError of the changed BASE."""
    def _problems(changes=None, extra=()) -> ProcedureError:
        path = write(text_with(changes, extra))
        with pytest.raises(ProcedureError) as exc:
            load_procedure(path)
        err = exc.value
        assert str(err).startswith(f"{path}:")
        return err
    return _problems
