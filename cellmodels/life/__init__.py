"""Life (DESIGN.md section 6): ageing model, rainflow counting, cycle jumping.

::

    from cellmodels.life import project_life, load_model
    result = project_life(ecm, ups_config, profile, years=15, output="life.h5")
    result.eol_capacity_years, result.eol_capability_years

Modules: :mod:`~cellmodels.life.rainflow` (ASTM E1049 rainflow counting),
:mod:`~cellmodels.life.ageing` (calendar and cycle terms, micro-cycles, dry-out, validity),
:mod:`~cellmodels.life.jump` (cycle jumping over UPS windows, :class:`LifeResult`),
:mod:`~cellmodels.life.calibrate` (coefficients from PyBaMM degradation runs),
:mod:`~cellmodels.life.heating` (periodic steady-state heating, heat split, heating maps).
"""

from .ageing import (
    CRATE_DEFINITIONS,
    AgeingModel,
    AgeingState,
    LifeValidityWarning,
    WindowStress,
    anode_potential_V,
    available_models,
    load_model,
    window_mean_crate,
)
from .calibrate import calibrated_model, fit_calendar, storage_run
from .heating import (
    HEAT_TERMS,
    HeatingMap,
    PeriodicHeating,
    heating_map,
    periodic_heating,
    plot_heating_map,
    swing_waveform,
)
from .jump import LifeResult, age_ecm, load_life, project_life, soc_sequence, window_stress_from_ups
from .rainflow import Cycles, rainflow, reversals

__all__ = [
    "CRATE_DEFINITIONS",
    "HEAT_TERMS",
    "AgeingModel",
    "AgeingState",
    "Cycles",
    "HeatingMap",
    "LifeResult",
    "LifeValidityWarning",
    "PeriodicHeating",
    "WindowStress",
    "age_ecm",
    "anode_potential_V",
    "available_models",
    "calibrated_model",
    "fit_calendar",
    "heating_map",
    "load_life",
    "load_model",
    "periodic_heating",
    "plot_heating_map",
    "project_life",
    "rainflow",
    "reversals",
    "soc_sequence",
    "storage_run",
    "swing_waveform",
    "window_mean_crate",
    "window_stress_from_ups",
]
