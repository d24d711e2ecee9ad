"""Fitting: physics parameters and ECM tables to measured data, with uncertainty.

- :func:`fit_physics` fits any subset of a cell's physics parameters (:data:`FITTABLE`) to
  several :class:`Experiment` records at once, with IDAKLU sensitivities for the Jacobian;
  :func:`predict` runs the fitted model on held-out records; :func:`save_fitted` writes
  the fitted cell as a parameter set with provenance.
- :class:`FitResult` is what every fit returns: values, 95 % intervals and correlations
  from the Jacobian, parameters the data cannot separate, residuals per experiment, plots.
- :func:`fit_ecm_hppc` fits an ECM (OCV, R0, RC tables) directly to measured HPPC.
- :func:`fit_balance` fits a cell's electrode balance (each electrode's capacity and the
  cyclable lithium) to a measured OCV or slow pseudo-OCV curve (:class:`OCVCurve`) in
  seconds, without a DFN, and reports the degradation modes (LAM, LLI) against the set.
- :func:`dataset_from_spec` reads the DATA arguments of ``cellmodels fit``.
"""

from .balance import BALANCE_PARAMETERS, OCVCurve, fit_balance
from .datasets import dataset_from_spec, pulse_for_fit, rate_test
from .ecm_hppc import ecm_voltage_on_record, fit_ecm_hppc
from .physics import (
    FACTOR_SUFFIX,
    FITTABLE,
    THERMAL_MODES,
    Experiment,
    FitParameter,
    PhysicsProblem,
    fit_physics,
    predict,
    save_fitted,
    with_values,
)
from .result import (
    CONDITION_LIMIT,
    CORRELATION_LIMIT,
    ExperimentResidual,
    FitResult,
    JacobianStatistics,
    jacobian_statistics,
    plot_experiments,
)

__all__ = [
    "BALANCE_PARAMETERS",
    "CONDITION_LIMIT",
    "CORRELATION_LIMIT",
    "FACTOR_SUFFIX",
    "FITTABLE",
    "THERMAL_MODES",
    "Experiment",
    "ExperimentResidual",
    "FitParameter",
    "FitResult",
    "JacobianStatistics",
    "OCVCurve",
    "PhysicsProblem",
    "dataset_from_spec",
    "ecm_voltage_on_record",
    "fit_balance",
    "fit_ecm_hppc",
    "fit_physics",
    "jacobian_statistics",
    "plot_experiments",
    "predict",
    "pulse_for_fit",
    "rate_test",
    "save_fitted",
    "with_values",
]
