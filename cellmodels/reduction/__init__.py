"""Reduction: the ECM object and file, its reference simulator, and identification."""

from .ecm import ECM, SCHEMA_VERSION
from .impedance import ecm_impedance, physics_impedance
from .io import load_ecm, save_ecm
from .simulate import ECMRun, ValidityWarning, simulate_ecm

__all__ = [
    "ECM",
    "SCHEMA_VERSION",
    "ECMRun",
    "ValidityWarning",
    "ecm_impedance",
    "load_ecm",
    "physics_impedance",
    "save_ecm",
    "simulate_ecm",
]
