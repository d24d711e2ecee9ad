"""Exports of the reduced cell to system simulators: HDF5 (canonical, in
:mod:`cellmodels.reduction.io`), PyBaMM's Thevenin model, an FMI 2.0 FMU, and JSON."""
