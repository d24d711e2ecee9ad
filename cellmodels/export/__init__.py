"""Exports of the reduced cell to system simulators: HDF5 (canonical, in
:mod:`cellmodels.reduction.io`), an FMI 2.0 co-simulation FMU, PyBaMM's Thevenin model,
and JSON for inspection."""

from .fmu import export_fmu

__all__ = ["export_fmu"]
