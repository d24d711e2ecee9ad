"""The UPS (DESIGN.md section 5): a compiled kernel for strings of ECM cells, the
double-conversion system around it with its grid-smoothing controller, and its results.

::

    from cellmodels.ups import UPSConfig, simulate_ups, load_result
    config = UPSConfig.from_dict({"rectifier": {"rated_W": 1.2e6},
                                  "inverter": {"rated_W": 1.2e6},
                                  "battery": {"n_series": 250, "n_parallel": 8},
                                  "controller": {"ramp_limit_W_per_s": 2e4}})
    result = simulate_ups(ecm, load_W, config, dt_s=1e-3, progress=True)
    result.metrics()["oscillation_W"], result.save("run.h5")

Modules: :mod:`~cellmodels.ups.kernel` (the numba kernel and the string steppers),
:mod:`~cellmodels.ups.system` (configuration, parameters, UPS steppers, runs),
:mod:`~cellmodels.ups.result` (:class:`UPSResult`, metrics, HDF5).
"""

from .kernel import (
    CHANNELS,
    ENERGY_TERMS,
    LIMITS,
    StringParams,
    StringRun,
    StringState,
    simulate_string,
    string_params,
)
from .kernel import init as init_string
from .kernel import step as step_string
from .result import UPSResult, load_result
from .system import (
    BatteryConfig,
    BMSConfig,
    ControllerConfig,
    ConverterConfig,
    GeneratorConfig,
    GridConfig,
    GridEvent,
    OutputConfig,
    UPSConfig,
    UPSParams,
    UPSState,
    init,
    load_config,
    simulate_ups,
    step,
    ups_params,
)

__all__ = [
    "CHANNELS",
    "ENERGY_TERMS",
    "LIMITS",
    "BMSConfig",
    "BatteryConfig",
    "ControllerConfig",
    "ConverterConfig",
    "GeneratorConfig",
    "GridConfig",
    "GridEvent",
    "OutputConfig",
    "StringParams",
    "StringRun",
    "StringState",
    "UPSConfig",
    "UPSParams",
    "UPSResult",
    "UPSState",
    "init",
    "init_string",
    "load_config",
    "load_result",
    "simulate_string",
    "simulate_ups",
    "step",
    "step_string",
    "string_params",
    "ups_params",
]
