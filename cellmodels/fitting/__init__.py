"""Fitting: physics parameters and ECM tables to measured data, with uncertainty."""

from .result import (
    CONDITION_LIMIT,
    CORRELATION_LIMIT,
    ExperimentResidual,
    FitResult,
    JacobianStatistics,
    jacobian_statistics,
)

__all__ = [
    "CONDITION_LIMIT",
    "CORRELATION_LIMIT",
    "ExperimentResidual",
    "FitResult",
    "JacobianStatistics",
    "jacobian_statistics",
]
