"""Calibration procedures as data: ``procedures/*.yaml`` -> a validated :class:`Procedure`.

    from labauto.procedure import load_procedure
    p = load_procedure("procedures/keysight_34465a_dcv.yaml")
    p.points[0].id, p.points[0].tolerance, p.decision_rule.statement

File format and validation rules: docs/procedures.md.
"""
from labauto.procedure.contributions import DISTRIBUTIONS, Contribution
from labauto.procedure.loader import SUPPORTED_FUNCTIONS, load_procedure, point_id
from labauto.procedure.model import OperatorStep, Procedure, TestPoint
from labauto.procedure.schema import ProcedureError

__all__ = ["DISTRIBUTIONS", "SUPPORTED_FUNCTIONS", "Contribution", "OperatorStep", "Procedure", "ProcedureError",
           "TestPoint", "load_procedure", "point_id"]
