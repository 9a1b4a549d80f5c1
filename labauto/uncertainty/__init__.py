"""Measurement uncertainty: models, input distributions, GUM propagation, JCGM 101 Monte Carlo.

    from labauto.uncertainty import Model, Normal, Rectangular, TypeA, gum, monte_carlo

    model = Model("E = X_ind - V_ref + dX_res", inputs={
        "X_ind": TypeA.from_observations(readings, label="mean indication"),
        "V_ref": Normal.from_expanded(Q_(10, "V"), Q_(30, "uV"), k=2, label="calibrator"),
        "dX_res": Rectangular(Q_(0, "V"), Q_(0.5, "uV"), label="resolution"),
    })
    budget = gum(model).budget("E")            # UncertaintyBudget: u_c, ν_eff, k, U, rows
    mc = monte_carlo(model, adaptive=True, seed=1)
    validate_gum(gum(model), mc)               # JCGM 101 clause 8
    validated_budget(gum(model), "E")          # U valid for a non-Gaussian E (convolution)

    Model(python_function, inputs={...}, outputs="E")   # a model written as code (function_model)

See docs/uncertainty.md for the model-file format, the JSON output and the rules applied.
"""
from labauto.uncertainty.budget import Contribution, UncertaintyBudget
from labauto.uncertainty.distributions import (Arcsine, Constant, CorrelatedObservations, CurvilinearTrapezoid,
                                               Distribution, Gamma, Normal, Rectangular, StudentT, Trapezoidal,
                                               Triangular, TypeA, TypeAInput, coverage_factor)
from labauto.uncertainty.errors import (ModelError, MonteCarloError, UncertaintyError, UnitConsistencyError,
                                        WelchSatterthwaiteError)
from labauto.uncertainty.gum import GumResult, gum, welch_satterthwaite
from labauto.uncertainty.model import Model
from labauto.uncertainty.function_model import FunctionModel
from labauto.uncertainty.convolution import validated_budget
from labauto.uncertainty.montecarlo import (MonteCarloResult, Validation, coverage_interval, monte_carlo,
                                            numerical_tolerance, validate_gum)

__all__ = [
    "Arcsine", "Constant", "Contribution", "CorrelatedObservations", "CurvilinearTrapezoid", "Distribution",
    "FunctionModel", "GumResult", "Model", "ModelError", "MonteCarloError", "MonteCarloResult", "Normal", "Rectangular",
    "Gamma", "StudentT", "Trapezoidal", "Triangular", "TypeA", "TypeAInput", "UncertaintyBudget",
    "UncertaintyError", "UnitConsistencyError", "Validation", "WelchSatterthwaiteError",
    "coverage_factor", "coverage_interval", "gum", "monte_carlo", "numerical_tolerance",
    "validate_gum", "validated_budget", "welch_satterthwaite",
]
