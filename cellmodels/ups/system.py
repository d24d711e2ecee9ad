"""The double-conversion UPS around the string: configuration, parameters, steppers, runs.

Power flows (discharge positive, W)::

    grid/generator --rectifier--> DC link --inverter--> load
                                     |
                              [DC/DC converter]
                                     |
                                  battery (N_s x N_p cells of one ECM)

The controller (in the compiled loop, :mod:`cellmodels.ups.kernel`) sets the rectifier's
draw: a low-pass (time constant ``filter_time_constant_s``) of the inverter's input, plus
a SOC-restoring term ``(soc_target - soc) E_string / soc_restore_time_s`` (limited to
``soc_restore_max_W``), ramp-limited to ``ramp_limit_W_per_s`` on the grid side and capped
by the source (grid with its sags and outages, generator after its start delay and ramp)
and the rectifier's rating. The battery supplies the rest, inside its BMS limits; what it
cannot give goes back to the grid (breaking its ramp limit: counted) or, beyond the
source, is unserved (counted, energy reported). With ``smoothing = false`` the rectifier
follows the load directly (plus the SOC-restoring term): the classic UPS, the baseline.

Configuration is a TOML file (or a dict) of sections; unknown keys are refused with close
suggestions. Every field, its unit and its default::

    [battery]                       n_series = 1, n_parallel = 1, initial_soc = 0.5,
                                    initial_temperature_K (default: coolant),
                                    initial_hysteresis (the OCV hysteresis state h in
                                    [-1, 1], for an ECM with hysteresis only; default:
                                    the ECM's hysteresis_initial),
                                    coolant_temperature_K (default: ECM reference),
                                    heat_transfer_W_per_K, thermal_mass_J_per_K (per cell,
                                    default: the ECM's), capacity_spread = 0,
                                    resistance_spread = 0 (relative standard deviations,
                                    normal, truncated at 3 sigma), seed = 0,
                                    power_hold = "mean" ("mean" | "start", see kernel)
    [battery.dcdc]                  optional: rated_W, efficiency (the battery is then
                                    behind a DC/DC converter; else directly on the link)
    [rectifier], [inverter]         rated_W (required), efficiency = [[x, eta], ...]
                                    (x = output power / rated_W; default flat 0.97)
    [controller]                    smoothing = true, filter_time_constant_s = 10,
                                    ramp_limit_W_per_s = inf, soc_target = 0.5,
                                    soc_band = [0.3, 0.7] (reported), soc_restore_time_s
                                    = 1800, soc_restore_max_W = inf
    [bms]                           per-cell limits; default the ECM's limits:
                                    voltage_min_V, voltage_max_V, current_max_discharge_A,
                                    current_max_charge_A, temperature_min_K,
                                    temperature_max_K, soc_min, soc_max
    [grid]                          capacity_W = inf, min_voltage = 0.85 (below it the
                                    rectifier drops out: an outage; at or above it, a
                                    sag: the rectifier's input is limited to the residual
                                    voltage times its rated input)
    [[grid.events]]                 start_s, duration_s, voltage (residual, 0 = outage)
    [grid.generator]                optional: rated_W, start_delay_s = 10, ramp_s = 5
    [output]                        decimation_s = 1.0, spectral_s = 0.004,
                                    full_resolution = false, ride_through_s = 10

Event times must lie on the time grid (an edge between grid points would be smeared).

Pure steppers, as elsewhere in the package::

    params = ups_params(ecm, config, dt_s=1e-3)
    state = init(params)
    state = step(params, state, load_W=5e5, dt_s=1e-3)   # state.outputs: that step
    result = simulate_ups(ecm, load_W, config, dt_s=1e-3) # the compiled loop
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, ParameterError, SolverError, check_range, suggest
from ..reduction.ecm import ECM
from ..reduction.simulate import ValidityWarning
from . import kernel as K

__all__ = [
    "BMSConfig",
    "BatteryConfig",
    "ControllerConfig",
    "ConverterConfig",
    "GeneratorConfig",
    "GridConfig",
    "GridEvent",
    "OutputConfig",
    "UPSConfig",
    "UPSParams",
    "UPSState",
    "init",
    "load_config",
    "simulate_ups",
    "step",
    "ups_params",
]

_DEFAULT_EFFICIENCY = ((0.0, 0.97), (1.0, 0.97))


# =====================================================================================
# configuration
# =====================================================================================
def _num(value, name: str, where: str, low=-np.inf, high=np.inf, closed=(True, True)):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"The '{name}' field of {where} must be a number. Got "
                             f"{value!r} instead.")
    return check_range(value, name, f"field of {where}", low, high, closed=closed,
                       error=ParameterError)


def _int(value, name: str, where: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ParameterError(f"The '{name}' field of {where} must be an integer >= {low}. "
                             f"Got {value!r} instead.")
    return int(value)


def _bool(value, name: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise ParameterError(f"The '{name}' field of {where} must be true or false. Got "
                             f"{value!r} instead.")
    return value


def _curve(value, name: str, where: str) -> tuple[tuple[float, float], ...]:
    """An efficiency curve: [[x, eta], ...] with x increasing from >= 0, 0 < eta <= 1."""
    try:
        pts = tuple((float(x), float(e)) for x, e in value)
    except (TypeError, ValueError):
        raise ParameterError(f"The '{name}' field of {where} must be a list of [x, eta] "
                             f"pairs (x = power / rated power). Got {value!r} instead."
                             ) from None
    if len(pts) < 1:
        raise ParameterError(f"The '{name}' field of {where} needs at least one point.")
    xs = np.array([p[0] for p in pts])
    eta = np.array([p[1] for p in pts])
    if not (np.all(np.isfinite(xs)) and xs[0] >= 0 and np.all(np.diff(xs) > 0)):
        raise ParameterError(f"The '{name}' field of {where} must have increasing, finite "
                             f"power fractions x >= 0. Got {xs.tolist()}.")
    if not np.all((eta > 0) & (eta <= 1)):
        raise ParameterError(f"The '{name}' field of {where} must have efficiencies in "
                             f"(0, 1]. Got {eta.tolist()}.")
    if len(pts) >= 2:
        b = np.diff(eta) / np.diff(xs)
        a = eta[:-1] - b * xs[:-1]
        # input(output) and output(input) must both be increasing for exact inversion
        if np.any(a <= 0) or np.any(a + 2 * b * xs[:-1] <= 0) or np.any(a + 2 * b * xs[1:] <= 0):
            raise ParameterError(f"The '{name}' field of {where} rises or falls too steeply "
                                 "for a converter (power in and out must increase together "
                                 f"along the curve). Got {pts}.")
    return pts


def _table(d, where: str, allowed) -> dict:
    if not isinstance(d, dict):
        raise ParameterError(f"The section {where} must be a table (dict). Got {d!r}.")
    for key in d:
        if key not in allowed:
            raise ParameterError(f"Unknown key {key!r} in {where}." + suggest(key, allowed))
    return d


def _fields(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@dataclass(frozen=True)
class ConverterConfig:
    """A power converter: rating [W] and efficiency curve ((x, eta), ...), x = P / rated."""

    rated_W: float
    efficiency: tuple = _DEFAULT_EFFICIENCY
    where: str = field(default="[converter]", repr=False, compare=False)

    def __post_init__(self):
        _num(self.rated_W, "rated_W", self.where, 0.0, np.inf, closed=(False, True))
        object.__setattr__(self, "efficiency", _curve(self.efficiency, "efficiency",
                                                      self.where))

    @classmethod
    def from_dict(cls, d: dict, where: str) -> ConverterConfig:
        d = _table(d, where, ("rated_W", "efficiency"))
        if "rated_W" not in d:
            raise ParameterError(f"The section {where} needs 'rated_W' (the converter's "
                                 "rated power [W]).")
        return cls(**d, where=where)


@dataclass(frozen=True)
class BatteryConfig:
    n_series: int = 1
    n_parallel: int = 1
    initial_soc: float = 0.5
    initial_temperature_K: float | None = None
    initial_hysteresis: float | None = None
    coolant_temperature_K: float | None = None
    heat_transfer_W_per_K: float | None = None
    thermal_mass_J_per_K: float | None = None
    capacity_spread: float = 0.0
    resistance_spread: float = 0.0
    seed: int = 0
    power_hold: str = "mean"
    dcdc: ConverterConfig | None = None

    def __post_init__(self):
        w = "[battery]"
        _int(self.n_series, "n_series", w)
        _int(self.n_parallel, "n_parallel", w)
        _int(self.seed, "seed", w, low=0)
        _num(self.initial_soc, "initial_soc", w, 0.0, 1.0)
        if self.initial_hysteresis is not None:
            _num(self.initial_hysteresis, "initial_hysteresis", w, -1.0, 1.0)
        for name in ("initial_temperature_K", "coolant_temperature_K"):
            if getattr(self, name) is not None:
                _num(getattr(self, name), name, w, 0.0, 1000.0, closed=(False, True))
        if self.heat_transfer_W_per_K is not None:
            _num(self.heat_transfer_W_per_K, "heat_transfer_W_per_K", w, 0.0)
        if self.thermal_mass_J_per_K is not None:
            _num(self.thermal_mass_J_per_K, "thermal_mass_J_per_K", w, 0.0, np.inf,
                 closed=(False, False))
        for name in ("capacity_spread", "resistance_spread"):
            _num(getattr(self, name), name, w, 0.0, 0.3)
        if self.power_hold not in ("mean", "start"):
            raise ParameterError(f"The 'power_hold' field of {w} must be 'mean' or "
                                 f"'start'. Got {self.power_hold!r} instead.")

    @classmethod
    def from_dict(cls, d: dict) -> BatteryConfig:
        d = dict(_table(d, "[battery]", _fields(cls)))
        if "dcdc" in d:
            d["dcdc"] = ConverterConfig.from_dict(d["dcdc"], "[battery.dcdc]")
        return cls(**d)


@dataclass(frozen=True)
class ControllerConfig:
    smoothing: bool = True
    filter_time_constant_s: float = 10.0
    ramp_limit_W_per_s: float = math.inf
    soc_target: float = 0.5
    soc_band: tuple = (0.3, 0.7)
    soc_restore_time_s: float = 1800.0
    soc_restore_max_W: float = math.inf

    def __post_init__(self):
        w = "[controller]"
        _bool(self.smoothing, "smoothing", w)
        _num(self.filter_time_constant_s, "filter_time_constant_s", w, 0.0, np.inf,
             closed=(True, False))
        _num(self.ramp_limit_W_per_s, "ramp_limit_W_per_s", w, 0.0, np.inf,
             closed=(False, True))
        _num(self.soc_target, "soc_target", w, 0.0, 1.0)
        band = tuple(self.soc_band) if isinstance(self.soc_band, list | tuple) else None
        if band is None or len(band) != 2:
            raise ParameterError(f"The 'soc_band' field of {w} must be [low, high]. Got "
                                 f"{self.soc_band!r} instead.")
        lo = _num(band[0], "soc_band", w, 0.0, 1.0)
        hi = _num(band[1], "soc_band", w, 0.0, 1.0)
        if not lo <= self.soc_target <= hi:
            raise ParameterError(f"The 'soc_band' of {w} must hold the soc_target "
                                 f"{self.soc_target!r}. Got {[lo, hi]}.")
        object.__setattr__(self, "soc_band", (lo, hi))
        _num(self.soc_restore_time_s, "soc_restore_time_s", w, 0.0, np.inf,
             closed=(False, True))
        _num(self.soc_restore_max_W, "soc_restore_max_W", w, 0.0, np.inf)

    @classmethod
    def from_dict(cls, d: dict) -> ControllerConfig:
        return cls(**_table(d, "[controller]", _fields(cls)))


@dataclass(frozen=True)
class BMSConfig:
    """Per-cell BMS limits; None takes the ECM's limit (absent there: not enforced)."""

    voltage_min_V: float | None = None
    voltage_max_V: float | None = None
    current_max_discharge_A: float | None = None
    current_max_charge_A: float | None = None
    temperature_min_K: float | None = None
    temperature_max_K: float | None = None
    soc_min: float | None = None
    soc_max: float | None = None

    def __post_init__(self):
        for f in _fields(self):
            v = getattr(self, f)
            if v is not None:
                hi = 1.0 if f.startswith("soc") else np.inf
                _num(v, f, "[bms]", 0.0, hi)
        for lo_k, hi_k in (("soc_min", "soc_max"), ("voltage_min_V", "voltage_max_V"),
                           ("temperature_min_K", "temperature_max_K")):
            a, b = getattr(self, lo_k), getattr(self, hi_k)
            if a is not None and b is not None and not a <= b:
                raise ParameterError(f"The [bms] limits must have {lo_k} <= {hi_k}. Got "
                                     f"{a!r} and {b!r} instead.")

    @classmethod
    def from_dict(cls, d: dict) -> BMSConfig:
        return cls(**_table(d, "[bms]", _fields(cls)))

    def limits(self) -> dict:
        return {f: float(getattr(self, f)) for f in _fields(self) if getattr(self, f) is not None}


@dataclass(frozen=True)
class GridEvent:
    """A sag (0 < voltage < 1) or outage (voltage below the rectifier's minimum)."""

    start_s: float
    duration_s: float
    voltage: float = 0.0

    def __post_init__(self):
        w = "[[grid.events]]"
        _num(self.start_s, "start_s", w, 0.0)
        _num(self.duration_s, "duration_s", w, 0.0, np.inf, closed=(False, False))
        _num(self.voltage, "voltage", w, 0.0, 1.0)

    @classmethod
    def from_dict(cls, d: dict, k: int) -> GridEvent:
        where = f"[[grid.events]] number {k}"
        d = _table(d, where, _fields(cls))
        for req in ("start_s", "duration_s"):
            if req not in d:
                raise ParameterError(f"The section {where} needs '{req}'.")
        return cls(**d)


@dataclass(frozen=True)
class GeneratorConfig:
    rated_W: float
    start_delay_s: float = 10.0
    ramp_s: float = 5.0

    def __post_init__(self):
        w = "[grid.generator]"
        _num(self.rated_W, "rated_W", w, 0.0, np.inf, closed=(False, False))
        _num(self.start_delay_s, "start_delay_s", w, 0.0)
        _num(self.ramp_s, "ramp_s", w, 0.0)

    @classmethod
    def from_dict(cls, d: dict) -> GeneratorConfig:
        d = _table(d, "[grid.generator]", _fields(cls))
        if "rated_W" not in d:
            raise ParameterError("The section [grid.generator] needs 'rated_W'.")
        return cls(**d)


@dataclass(frozen=True)
class GridConfig:
    capacity_W: float = math.inf
    min_voltage: float = 0.85
    events: tuple = ()
    generator: GeneratorConfig | None = None

    def __post_init__(self):
        w = "[grid]"
        _num(self.capacity_W, "capacity_W", w, 0.0, np.inf, closed=(False, True))
        _num(self.min_voltage, "min_voltage", w, 0.0, 1.0)
        events = tuple(sorted(self.events, key=lambda e: e.start_s))
        for a, b in itertools.pairwise(events):
            if b.start_s < a.start_s + a.duration_s:
                raise ParameterError(f"The grid events at {a.start_s:g} s and {b.start_s:g} s "
                                     "overlap; merge them into one.")
        object.__setattr__(self, "events", events)

    @classmethod
    def from_dict(cls, d: dict) -> GridConfig:
        d = dict(_table(d, "[grid]", _fields(cls)))
        if "events" in d:
            if not isinstance(d["events"], list | tuple):
                raise ParameterError("The 'events' of [grid] must be a list of tables "
                                     "([[grid.events]]).")
            d["events"] = tuple(GridEvent.from_dict(e, k) for k, e in enumerate(d["events"]))
        if "generator" in d:
            d["generator"] = GeneratorConfig.from_dict(d["generator"])
        return cls(**d)


@dataclass(frozen=True)
class OutputConfig:
    decimation_s: float = 1.0
    spectral_s: float = 0.004
    full_resolution: bool = False
    ride_through_s: float = 10.0

    def __post_init__(self):
        w = "[output]"
        _num(self.decimation_s, "decimation_s", w, 0.0, np.inf, closed=(False, False))
        _num(self.spectral_s, "spectral_s", w, 0.0, np.inf, closed=(False, False))
        _bool(self.full_resolution, "full_resolution", w)
        _num(self.ride_through_s, "ride_through_s", w, 0.0)

    @classmethod
    def from_dict(cls, d: dict) -> OutputConfig:
        return cls(**_table(d, "[output]", _fields(cls)))


@dataclass(frozen=True)
class UPSConfig:
    """The whole UPS (see the module docstring for every field)."""

    rectifier: ConverterConfig
    inverter: ConverterConfig
    battery: BatteryConfig = BatteryConfig()
    controller: ControllerConfig = ControllerConfig()
    bms: BMSConfig = BMSConfig()
    grid: GridConfig = GridConfig()
    output: OutputConfig = OutputConfig()

    @classmethod
    def from_dict(cls, d: dict) -> UPSConfig:
        """Parse a dict (e.g. from TOML); unknown keys are refused with suggestions."""
        d = _table(d, "the UPS configuration", _fields(cls))
        for req in ("rectifier", "inverter"):
            if req not in d:
                raise ParameterError(f"The UPS configuration needs a [{req}] section with "
                                     "'rated_W'.")
        return cls(
            rectifier=ConverterConfig.from_dict(d["rectifier"], "[rectifier]"),
            inverter=ConverterConfig.from_dict(d["inverter"], "[inverter]"),
            battery=BatteryConfig.from_dict(d.get("battery", {})),
            controller=ControllerConfig.from_dict(d.get("controller", {})),
            bms=BMSConfig.from_dict(d.get("bms", {})),
            grid=GridConfig.from_dict(d.get("grid", {})),
            output=OutputConfig.from_dict(d.get("output", {})),
        )

    def to_dict(self) -> dict:
        """Plain dict (round-trips through :meth:`from_dict`)."""

        def plain(obj):
            if dataclasses.is_dataclass(obj):
                return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                        if f.name != "where" and getattr(obj, f.name) is not None}
            if isinstance(obj, tuple):
                return [plain(x) for x in obj]
            return obj

        return plain(self)

    def replace(self, **sections) -> UPSConfig:
        return dataclasses.replace(self, **sections)


def load_config(path: str | Path) -> UPSConfig:
    """Read a TOML UPS configuration (see the module docstring)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"The UPS configuration {path} is not valid TOML: {exc}") from None
    return UPSConfig.from_dict(data)


# =====================================================================================
# parameters for the kernel
# =====================================================================================
def _curve_arrays(conv: ConverterConfig) -> K.Curve:
    pts = np.array(conv.efficiency, dtype=float)
    if pts.shape[0] == 1:
        pts = np.array([[0.0, pts[0, 1]], [1.0, pts[0, 1]]])
    x, eta = pts[:, 0], pts[:, 1]
    b = np.diff(eta) / np.diff(x)
    a = eta[:-1] - b * x[:-1]
    rated = float(conv.rated_W)
    pin = x * rated / eta
    pout = x * rated * eta
    ro = K._ro
    return K.Curve(rated, 1.0 / rated, ro(x), ro(eta), ro(a), ro(b), ro(pin), ro(pout))


def _on_grid(t: float, dt: float, what: str) -> int:
    k = round(t / dt)
    if abs(k * dt - t) > 1e-6 * dt + 4.0 * math.ulp(abs(t)):
        lo, hi = math.floor(t / dt) * dt, math.ceil(t / dt) * dt
        raise ParameterError(f"The {what} = {t!r} s is not on the time grid (dt = {dt:g} s): "
                             f"the edge would be smeared. Nearest grid times: {lo:.12g} s or "
                             f"{hi:.12g} s.")
    return int(k)


def _schedule(grid: GridConfig, dt: float, rect_in_max_W: float) -> K.Schedule:
    """Source capacity [W] at the rectifier's input: piecewise linear over step indices.

    Normal: the grid's capacity (the rectifier's own input limit ``rect_in_max_W`` caps
    it in the kernel). A sag to a residual voltage ``u`` at or above ``min_voltage``: the
    rectifier draws at most its rated input current, so ``u`` times the smaller of the
    two. An outage (``u`` below ``min_voltage``): 0, then the generator after its start
    delay, ramping to its rating, until the grid returns.
    """
    full = float(grid.capacity_W)
    sag_base = min(full, float(rect_in_max_W))
    segs: list[tuple[int, float, float]] = [(0, full, 0.0)]
    gen = grid.generator
    for n, ev in enumerate(grid.events):
        k0 = _on_grid(ev.start_s, dt, f"'start_s' of grid event {n}")
        k1 = _on_grid(ev.start_s + ev.duration_s, dt, f"end (start_s + duration_s) of grid "
                                                       f"event {n}")
        if k1 <= k0:
            raise ParameterError(f"The grid event {n} is shorter than one step (dt = {dt:g} s).")
        if ev.voltage >= grid.min_voltage:  # a sag the rectifier rides through
            segs.append((k0, sag_base * ev.voltage, 0.0))
        else:
            segs.append((k0, 0.0, 0.0))
            if gen is not None:
                kd = k0 + _on_grid(gen.start_delay_s, dt, "'start_delay_s' of [grid.generator]")
                if kd < k1:
                    nr = _on_grid(gen.ramp_s, dt, "'ramp_s' of [grid.generator]")
                    if nr > 0:
                        segs.append((kd, 0.0, gen.rated_W / nr))
                    if kd + nr < k1:
                        segs.append((kd + nr, float(gen.rated_W), 0.0))
        segs.append((k1, full, 0.0))
    # later segments win at equal starts (an event starting where the last ends)
    merged: dict[int, tuple[float, float]] = {}
    for k, v, s in segs:
        merged[k] = (v, s)
    ks = sorted(merged)
    ro = K._ro
    return K.Schedule(ro(np.array(ks, dtype=np.int64), np.int64),
                      ro(np.array([merged[k][0] for k in ks])),
                      ro(np.array([merged[k][1] for k in ks])))


@dataclass(frozen=True, eq=False)
class UPSParams:
    """Everything the kernel needs for one UPS on one time grid (frozen)."""

    ecm: ECM
    config: UPSConfig
    dt_s: float
    string: K.StringParams
    plant: K.Plant = field(repr=False)
    control: K.Control = field(repr=False)
    schedule: K.Schedule = field(repr=False)
    energy_capacity_J: float = 0.0


def _spread(rng, sigma: float, n: int) -> np.ndarray:
    if sigma == 0:
        return np.ones(n)
    return 1.0 + sigma * np.clip(rng.standard_normal(n), -3.0, 3.0)


def ups_params(ecm: ECM, config: UPSConfig | dict, dt_s: float) -> UPSParams:
    """Kernel parameters for ``ecm`` in the UPS ``config`` on a grid of ``dt_s``."""
    if isinstance(config, dict):
        config = UPSConfig.from_dict(config)
    check_range(dt_s, "dt_s", "argument of ups_params", 0.0, np.inf, closed=(False, False))
    b = config.battery
    if b.initial_hysteresis is not None and not ecm.has_hysteresis:
        raise InputError(f"The 'initial_hysteresis' field of [battery] is for an ECM with "
                         f"hysteresis; the ECM {ecm.name!r} has none. Got "
                         f"{b.initial_hysteresis!r}.")
    n = b.n_series * b.n_parallel
    rng = np.random.default_rng(b.seed)
    cap = _spread(rng, b.capacity_spread, n)
    res = _spread(rng, b.resistance_spread, n)
    sp = K.string_params(
        ecm, n_series=b.n_series, n_parallel=b.n_parallel, capacity_scale=cap,
        resistance_scale=res, coolant_temperature_K=b.coolant_temperature_K,
        heat_transfer_W_per_K=b.heat_transfer_W_per_K,
        thermal_mass_J_per_K=b.thermal_mass_J_per_K, limits=config.bms.limits(),
        power_hold=b.power_hold)
    rect = _curve_arrays(config.rectifier)
    inv = _curve_arrays(config.inverter)
    dcdc = _curve_arrays(b.dcdc) if b.dcdc is not None else rect
    plant = K.Plant(rect, inv, dcdc, b.dcdc is not None)
    c = config.controller
    u_nom = ecm.ocv(c.soc_target, ecm.reference_temperature_K)
    e_string = float(np.sum(cap)) * ecm.capacity_Ah * 3600.0 * u_nom
    control = K.Control(bool(c.smoothing), float(c.filter_time_constant_s),
                        float(c.ramp_limit_W_per_s), float(c.soc_target), e_string,
                        float(c.soc_restore_time_s), float(c.soc_restore_max_W))
    rect_in_max = K.curve_in_of_out(rect, rect.rated)
    return UPSParams(ecm, config, float(dt_s), sp, plant, control,
                     _schedule(config.grid, float(dt_s), rect_in_max), e_string)


# =====================================================================================
# state and steppers
# =====================================================================================
@dataclass(frozen=True, eq=False)
class UPSState:
    """The UPS's state: the cells, the controller, the limit flags, and the step count.

    ``outputs`` holds the channel values of the step that led here (empty at init).
    """

    cells: K.StringState
    step_index: int
    filter_W: float
    grid_W: float
    previous_load_W: float
    limit_flags: tuple
    outputs: dict = field(default_factory=dict)


def _initial_controller(params: UPSParams, load0: float, soc0: float) -> tuple[float, float]:
    """Steady state at the first load: filter at its input, grid at its target."""
    pl, ctl = params.plant, params.control
    p_inv = K.curve_in_of_out(pl.inv, min(load0, pl.inv.rated))
    p_soc = (ctl.soc_target - soc0) * ctl.e_string / ctl.restore_s
    p_soc = max(-ctl.restore_max, min(ctl.restore_max, p_soc))
    p_dc = p_inv + p_soc
    p_g = K.curve_in_of_out(pl.rect, p_dc) if p_dc > 0 else 0.0
    sch = params.schedule
    cap = min(sch.value[0], K.curve_in_of_out(pl.rect, pl.rect.rated))
    return p_inv, float(max(0.0, min(p_g, cap)))


def init(params: UPSParams, load_W: float | None = None) -> UPSState:
    """The initial state: cells at the configured SOC, temperature (and hysteresis state),
    relaxed; the controller in steady state at ``load_W`` (default 0)."""
    b = params.config.battery
    cells = K.init(params.string, soc=b.initial_soc, temperature_K=b.initial_temperature_K,
                   hysteresis=b.initial_hysteresis)
    load0 = 0.0 if load_W is None else float(load_W)
    pf, pg = _initial_controller(params, load0, b.initial_soc)
    return UPSState(cells, 0, pf, pg, load0, (0,) * K.NLIM)


def _work(params: UPSParams, state: UPSState, n: int, bin_steps: int, spec_steps: int,
          full: bool, chunk_steps: int | None = None) -> dict:
    w = K.work_arrays(params.string, state.cells, n, bin_steps, spec_steps, full, chunk_steps)
    w["stat"][K.S_PF] = state.filter_W
    w["stat"][K.S_PGPREV] = state.grid_W
    w["stat"][K.S_PLPREV] = state.previous_load_W
    w["ist"][K.K_STEP] = state.step_index
    w["flags"][:] = state.limit_flags
    return w


def _check_solve(fail: int, u: np.ndarray, first_step: int) -> None:
    """Raise when the kernel could not solve a step (``fail`` >= 0: its global index;
    ``u[fail - first_step]`` its load). Only the charge-transfer element's Newton solve
    can fail in the UPS mode (the BMS keeps the demand within what the string can give):
    never a silent unconverged value."""
    if fail < 0:
        return
    raise SolverError(f"The string current at step {fail} (load {u[fail - first_step]:.6g} W) "
                      "did not converge: the Newton solve of the ECM's charge-transfer "
                      f"element stopped after {K.CT_MAXIT} iterations or at the string's "
                      "maximum power.")


def step(params: UPSParams, state: UPSState, load_W: float, dt_s: float) -> UPSState:
    """One step of ``dt_s`` (must be the parameters' ``dt_s``) at the AC load ``load_W``."""
    if not math.isclose(dt_s, params.dt_s, rel_tol=1e-12):
        raise InputError(f"The 'dt_s' argument of step must be the parameters' dt_s = "
                         f"{params.dt_s!r} (the grid schedule is on that grid). Got {dt_s!r}.")
    u = _check_load(np.array([load_W], dtype=float), 0)
    k = state.step_index
    w = _work(params, state, 1, 1, 1, False)
    _check_solve(K.run_chunk(K.MODE_UPS, params.string, params.plant, params.control,
                             params.schedule, u, params.dt_s, w, True), u, k)
    out = {name: float(w["buf"][q, 0]) for q, name in enumerate(K.CHANNELS)}
    return UPSState(K.StringState(K._ro(w["cs"]), state.cells.time_s + dt_s,
                                  params.string.tables.has_hys), k + 1,
                    float(w["stat"][K.S_PF]), float(w["stat"][K.S_PGPREV]), float(load_W),
                    tuple(int(f) for f in w["flags"]), out)


# =====================================================================================
# runs
# =====================================================================================
def _check_load(u: np.ndarray, offset: int) -> np.ndarray:
    bad = np.flatnonzero(~np.isfinite(u))
    if bad.size:
        raise InputError(f"The load profile holds {float(u[bad[0]])!r} at sample "
                         f"{int(bad[0]) + offset}.")
    neg = np.flatnonzero(u < 0)
    if neg.size:
        raise InputError(f"The load profile must be >= 0 W (an AC load). Got "
                         f"{float(u[neg[0]])!r} at sample {int(neg[0]) + offset}.")
    return u


def _regular_profile(load, dt_s) -> tuple[np.ndarray, float]:
    """(power_W, dt_s) from an array and ``dt_s``, or from a profile.

    A profile is a :class:`cellmodels.dutycycles.Profile` (``n + 1`` edge times, ``n``
    held values) or any object with ``time_s`` and ``power_W`` of equal length (each
    sample held one step). On a regular grid it is used as is; with ``dt_s`` given and
    another grid, a ``Profile`` is resampled by its ``to_grid`` (edges snapped to step
    boundaries, energy kept); anything else is refused naming the first irregular sample.
    """
    if not (hasattr(load, "power_W") or hasattr(load, "time_s")):
        if dt_s is None:
            raise InputError("Give 'dt_s' with a load array (or pass a profile with time_s).")
        p = np.asarray(load, dtype=float)
        if p.ndim != 1 or p.size < 1:
            raise InputError(f"The load profile must be a 1-D array. Got shape {p.shape}.")
        return p, float(dt_s)
    power = getattr(load, "power_W", None)
    if power is None:
        raise InputError("The UPS needs a power profile (power_W); this one has none "
                         "(a current profile drives a cell, not a UPS).")
    t = np.asarray(load.time_s, dtype=float)
    p = np.asarray(power, dtype=float)
    edges = t.ndim == 1 and t.size == p.size + 1
    if t.ndim != 1 or p.ndim != 1 or not (edges or t.size == p.size) or p.size < 1 or (
            not edges and t.size < 2):
        raise InputError("The profile's time_s must be 1-D with one more edge than power_W "
                         "values (or as many samples). Got shapes "
                         f"{t.shape} and {p.shape}.")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise InputError(f"The profile's time_s holds {float(t[bad[0]])!r} at sample "
                         f"{int(bad[0])}.")
    if t[0] < 0:
        raise InputError(f"The profile's time_s must start at >= 0 s. Got {float(t[0])!r} at "
                         "sample 0.")
    d = np.diff(t)
    if np.any(d <= 0):
        k = int(np.flatnonzero(d <= 0)[0])
        raise InputError(f"The profile's time_s must increase. Got {float(t[k])!r} then "
                         f"{float(t[k + 1])!r} at sample {k + 1}.")
    step_ = float(d[0]) if dt_s is None else float(dt_s)
    slack = 1e-9 * step_ + 2.0 * np.spacing(np.abs(t[1:]))
    off = np.flatnonzero(np.abs(d - step_) > slack)
    if off.size:
        if dt_s is not None and hasattr(load, "to_grid"):
            return np.asarray(load.to_grid(step_), dtype=float), step_
        k = int(off[0])
        raise InputError(f"The UPS runs on a regular time grid of dt = {step_:g} s; the "
                         f"profile's step at sample {k + 1} is {float(d[k])!r} s. Resample "
                         "it keeping edges (Profile.resample or to_grid) or give dt_s.")
    return p, step_


def _warn_validity(ecm: ECM, stat: np.ndarray, cacc_iabs: float) -> list[str]:
    v = ecm.validity
    checks = (
        ("soc", stat[K.S_ZMIN], stat[K.S_ZMAX], v.get("soc_min", ecm.soc[0]),
         v.get("soc_max", ecm.soc[-1])),
        ("temperature_K", stat[K.S_TMIN], stat[K.S_TMAX],
         v.get("temperature_min_K", ecm.temperature_K[0]),
         v.get("temperature_max_K", ecm.temperature_K[-1])),
        ("current_A", -cacc_iabs, cacc_iabs, -v.get("current_max_A", np.inf),
         v.get("current_max_A", np.inf)),
    )
    msgs = []
    for name, lo_seen, hi_seen, lo, hi in checks:
        # A BMS limit equal to the validity bound is reached to round-off, not beyond (1e-9).
        # The current bound is wider: identify.py sets current_max_A from the cell's nominal
        # capacity, while users and BMS settings scale currents by ecm.capacity_Ah, the ECM's
        # coulomb count between the cut-offs, which differs from the nominal by the DFN's
        # solver tolerance (semisolid_lfp_power: 20.00003 Ah, +1.5e-6 relative, so "5C" is
        # 100.000154 A against 100 A). 1e-5 relative covers that and is still far below
        # anything the identification resolves (its levels are 0.5C or more apart).
        rel = 1e-5 if name == "current_A" else 1e-9
        tol = rel * max([abs(x) for x in (lo, hi) if np.isfinite(x)] + [1.0])
        if lo_seen < lo - tol or hi_seen > hi + tol:
            value = hi_seen if hi_seen > hi else lo_seen
            out = value - hi if value > hi else lo - value
            msg = (f"The ECM is used outside its validity: {name} = {value:.6g} is {out:.3g} "
                   f"outside the identified range [{lo:.6g}, {hi:.6g}]. (Warned once per run.)")
            warnings.warn(msg, ValidityWarning, stacklevel=3)
            msgs.append(msg)
    return msgs


def simulate_ups(
    ecm: ECM,
    load,
    config: UPSConfig | dict,
    *,
    dt_s: float | None = None,
    full_resolution: bool | None = None,
    progress: bool = False,
    chunk_steps: int = 100_000,
    params: UPSParams | None = None,
    initial_state: UPSState | None = None,
):
    """Run the UPS on a load profile; returns a :class:`~cellmodels.ups.result.UPSResult`.

    Parameters
    ----------
    load : (n,) AC load [W] on a regular grid of ``dt_s`` (``load[k]`` holds on
        ``[k dt, (k+1) dt)``), or a profile with ``time_s`` (regular) and ``power_W``
    config : :class:`UPSConfig` or its dict (see the module docstring)
    full_resolution : keep every step of every channel (about 120 bytes per step);
        default ``config.output.full_resolution``
    progress : a progress bar (tqdm) over the chunks
    params : prebuilt :func:`ups_params` (to reuse over runs)
    initial_state : continue from this state (e.g. ``result.final_state`` of the run
        before, with the same config and dt); default :func:`init` at the first load.
        The schedule's times count from the state's step.
    """
    from .result import UPSResult

    if isinstance(config, dict):
        config = UPSConfig.from_dict(config)
    if isinstance(chunk_steps, bool) or not isinstance(chunk_steps, int | np.integer) or \
            chunk_steps < 1:
        raise InputError(f"The 'chunk_steps' argument of simulate_ups must be an integer >= 1. "
                         f"Got {chunk_steps!r} instead.")
    u, dt = _regular_profile(load, dt_s)
    for start in range(0, u.size, 1_000_000):
        _check_load(u[start:start + 1_000_000], start)
    if params is None:
        params = ups_params(ecm, config, dt)
    elif not math.isclose(params.dt_s, dt, rel_tol=1e-12):
        raise InputError(f"The params were built for dt_s = {params.dt_s!r}; the profile's "
                         f"is {dt!r}.")
    out = config.output
    full = out.full_resolution if full_resolution is None else bool(full_resolution)
    bin_steps = max(1, round(out.decimation_s / dt))
    spec_steps = max(1, round(out.spectral_s / dt))
    n = u.size
    state = init(params, load_W=float(u[0])) if initial_state is None else initial_state
    if state.cells.cells.shape != (params.string.n_sim, 2 + ecm.n_rc
                                   + int(ecm.has_hysteresis)):
        raise InputError(f"The initial_state holds cells of shape {state.cells.cells.shape}; "
                         f"these params simulate {params.string.n_sim} cells of "
                         f"{2 + ecm.n_rc + int(ecm.has_hysteresis)} states.")
    w = _work(params, state, n, bin_steps, spec_steps, full, chunk_steps)
    t_wall = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n * dt, unit="s", desc="UPS", unit_scale=True)
    for start in range(0, n, chunk_steps):
        stop = min(n, start + chunk_steps)
        _check_solve(K.run_chunk(K.MODE_UPS, params.string, params.plant, params.control,
                                 params.schedule, u[start:stop], dt, w, stop == n),
                     u, state.step_index)
        if bar is not None:
            bar.update((stop - start) * dt)
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - t_wall
    msgs = _warn_validity(ecm, w["stat"], float(w["stat"][K.S_IABS]))
    result = UPSResult.from_run(params, w, n, dt, bin_steps, spec_steps, full, wall, msgs)
    result.final_state = UPSState(
        K.StringState(K._ro(w["cs"]), state.cells.time_s + n * dt,
                      params.string.tables.has_hys), state.step_index + n,
        float(w["stat"][K.S_PF]), float(w["stat"][K.S_PGPREV]), float(w["stat"][K.S_PLPREV]),
        tuple(int(f) for f in w["flags"]))
    return result
