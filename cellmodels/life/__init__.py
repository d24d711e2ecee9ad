"""Life (DESIGN.md section 6): ageing model, rainflow counting, cycle jumping.

::

    from cellmodels.life import project_life, load_model
    result = project_life(ecm, ups_config, profile, years=15, output="life.h5")
    result.eol_capacity_years, result.eol_capability_years

Modules: :mod:`~cellmodels.life.rainflow` (ASTM E1049 rainflow counting),
:mod:`~cellmodels.life.ageing` (calendar and cycle terms, micro-cycles, dry-out, validity),
:mod:`~cellmodels.life.jump` (cycle jumping over UPS windows, :class:`LifeResult`),
:mod:`~cellmodels.life.calibrate` (coefficients from PyBaMM degradation runs).
"""

from .ageing import (
    AgeingModel,
    AgeingState,
    LifeValidityWarning,
    WindowStress,
    anode_potential_V,
    available_models,
    load_model,
)
from .calibrate import calibrated_model, fit_calendar, storage_run
from .jump import LifeResult, age_ecm, load_life, project_life, soc_sequence, window_stress_from_ups
from .rainflow import Cycles, rainflow, reversals

__all__ = [
    "AgeingModel",
    "AgeingState",
    "Cycles",
    "LifeResult",
    "LifeValidityWarning",
    "WindowStress",
    "age_ecm",
    "anode_potential_V",
    "available_models",
    "calibrated_model",
    "fit_calendar",
    "load_life",
    "load_model",
    "project_life",
    "rainflow",
    "reversals",
    "soc_sequence",
    "storage_run",
    "window_stress_from_ups",
]
