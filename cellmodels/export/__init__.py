"""Exports of the reduced cell to system simulators: HDF5 (canonical, in
:mod:`cellmodels.reduction.io`), an FMI 2.0 co-simulation FMU, PyBaMM's Thevenin model,
and JSON for inspection."""

from .fmu import export_fmu
from .json_export import ecm_from_json, export_json
from .pybamm_ecm import pybamm_model, to_pybamm_parameter_values

__all__ = [
    "ecm_from_json",
    "export_fmu",
    "export_json",
    "pybamm_model",
    "to_pybamm_parameter_values",
]
