"""Reduction: the ECM object and file, its reference simulator, and identification."""

from .ecm import ECM, SCHEMA_VERSION
from .io import load_ecm, save_ecm
from .simulate import ECMRun, ValidityWarning, simulate_ecm

__all__ = [
    "ECM",
    "ECMRun",
    "SCHEMA_VERSION",
    "ValidityWarning",
    "load_ecm",
    "save_ecm",
    "simulate_ecm",
]
