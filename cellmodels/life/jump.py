"""Cycle jumping: years of UPS service from a few simulated windows.

:func:`project_life` repeats one representative window (the load profile given: an hour to
a day of AI duty) over ``years``:

1. simulate the window with the UPS simulator (:func:`cellmodels.ups.simulate_ups`) on
   the ECM aged to the present state (capacity ``Q0 q``, resistances ``R r``);
2. turn the window's SOC and hottest-cell temperature into the ageing model's increments
   (:meth:`~cellmodels.life.ageing.AgeingModel.window_stress`: calendar terms on the time
   series, cycle terms on the rainflow-counted cycles);
3. jump ``n`` windows ahead. The increments are additive in the model's equivalent
   variables (:mod:`cellmodels.life.ageing`), so a jump is exact as long as the window's
   stresses do not change; they change only because the ECM ages (deeper SOC swings on a
   smaller capacity, more heat from a larger resistance). Step-size control is a
   predictor-corrector (Heun): the window is simulated again on the ECM aged by the
   predictor, the step uses the mean of both increments, and the difference of capacity
   (and relative resistance) between predictor and corrector is the local error estimate;
   a step whose error exceeds ``tolerance`` is halved and redone, the next step grows by
   ``min(4, 0.9 sqrt(tolerance / error))``. The step is also capped at
   ``max_capacity_step`` of capacity and ``max_step_years``;
4. repeat until ``years``.

End of life is reported two ways: ``eol_capacity_years`` when capacity falls to
``eol_capacity`` (80 % by default; interpolated inside the step), and
``eol_capability_years`` when the UPS can no longer do its job: the aged string cannot
carry the rated load (inverter ``rated_W``) for the configured ``output.ride_through_s``
from the lowest SOC of the window (checked by simulating that outage at 0.1 s steps, with
the BMS's limits and at least SOC >= 0: any unserved energy fails it), or its hottest cell leaves the temperature window (the BMS's
``temperature_max_K``, default the ECM's limit).

The result (:class:`LifeResult`) is saved to HDF5 atomically (``format =
"cellmodels.life_result"``), behind a 512-byte user block holding
``cellmodels.life_result sha256=<hex>``, the SHA-256 of the bytes after it, which
:func:`load_life` checks before HDF5 reads the file: a file altered or damaged after it
was written is refused (naming its structural fault where there is one), never a hang;
one without the block (older cellmodels) is read as before (:mod:`cellmodels._h5`).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import _h5
from .._atomic import atomic_path
from .._h5 import open_checked
from ..errors import FileFormatError, InputError
from .ageing import AgeingModel, AgeingState, WindowStress, load_model

__all__ = ["LifeResult", "age_ecm", "load_life", "project_life", "soc_sequence",
           "window_stress_from_ups"]

FORMAT = "cellmodels.life_result"
SCHEMA_VERSION = 1
YEAR_S = 365.25 * 86400.0


# ======================================================================================
# result
# ======================================================================================
@dataclass
class LifeResult:
    """A life projection. One entry per accepted step (the first at t = 0).

    Attributes
    ----------
    time_s : (n,) time since the start of service [s]
    capacity_fraction : (n,) capacity / initial capacity
    resistance_factor : (n,) DC resistance / initial
    efc : (n,) equivalent full cycles (nominal A.h)
    reservoir_m3 : (n,) electrolyte reservoir (signed, see the ageing model), NaN without
        a dry-out block
    temperature_max_K : (n,) hottest cell in the window simulated at that state
    ride_through_ok : (n,) the aged string carries rated load for the ride-through time
    eol_capacity_years, eol_capability_years : end of life [years], NaN if not reached
    eol_capability_reason : "" or why the UPS capability ended
    terms : term name -> (n,) value of each ageing term (capacity loss or resistance
        growth it contributes)
    info : settings, model, ECM name, counts (windows simulated, steps rejected), wall
        time, validity messages
    """

    time_s: np.ndarray
    capacity_fraction: np.ndarray
    resistance_factor: np.ndarray
    efc: np.ndarray
    reservoir_m3: np.ndarray
    temperature_max_K: np.ndarray
    ride_through_ok: np.ndarray
    eol_capacity_years: float = float("nan")
    eol_capability_years: float = float("nan")
    eol_capability_reason: str = ""
    info: dict = field(default_factory=dict)
    terms: dict = field(default_factory=dict)

    @property
    def time_years(self) -> np.ndarray:
        return self.time_s / YEAR_S

    def capacity_at(self, years: float) -> float:
        """Capacity fraction at ``years`` (linear between steps); NaN outside the
        projection (before 0 or after ``time_years[-1]``, e.g. a run stopped at
        ``floor_capacity``), never the last value held."""
        return self._at(years, self.capacity_fraction)

    def resistance_at(self, years: float) -> float:
        """Resistance factor at ``years`` (linear between steps); NaN outside the
        projection."""
        return self._at(years, self.resistance_factor)

    def _at(self, years: float, values: np.ndarray) -> float:
        t = np.asarray(self.time_s, dtype=float)
        x = float(years) * YEAR_S
        tol = 1e-9 * max(abs(float(t[-1])), 1.0)  # round-off of the last step's end
        if not (t[0] - tol <= x <= t[-1] + tol):
            return float("nan")
        return float(np.interp(min(max(x, t[0]), t[-1]), t, values))

    def save(self, path: str | Path) -> Path:
        """Write the result to HDF5 atomically (``format = cellmodels.life_result``)."""
        import h5py

        path = Path(path)
        with atomic_path(path) as tmp:
            self._write(tmp, h5py)
            _h5.write_digest(tmp, FORMAT)  # the file is final: seal it before the rename
        return path

    def _write(self, tmp: str, h5py) -> None:
        with h5py.File(tmp, "w", userblock_size=_h5.USERBLOCK) as f:
            f.attrs["format"] = FORMAT
            f.attrs["schema_version"] = SCHEMA_VERSION
            f.attrs["eol_capacity_years"] = self.eol_capacity_years
            f.attrs["eol_capability_years"] = self.eol_capability_years
            f.attrs["eol_capability_reason"] = self.eol_capability_reason
            f.attrs["info"] = json.dumps(self.info, default=_json_default)
            for name, unit in (("time_s", "s"), ("capacity_fraction", "1"),
                               ("resistance_factor", "1"), ("efc", "1"),
                               ("reservoir_m3", "m3"), ("temperature_max_K", "K"),
                               ("ride_through_ok", "1")):
                d = f.create_dataset(name, data=np.asarray(getattr(self, name)))
                d.attrs["unit"] = unit
            g = f.create_group("terms")
            for k, (name, values) in enumerate(self.terms.items()):
                d = g.create_dataset(f"term_{k}", data=np.asarray(values, dtype=float))
                d.attrs["name"] = name
                d.attrs["unit"] = "1"

    def plot(self, path: str | Path, title: str = "") -> Path:
        """Capacity and resistance against years (PNG, written atomically)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.2))
        y = self.time_years
        ax.plot(y, self.capacity_fraction * 100, "C0.-", label="capacity")
        ax.set_xlabel("years")
        ax.set_ylabel("capacity [% of initial]", color="C0")
        ax2 = ax.twinx()
        ax2.plot(y, self.resistance_factor, "C3.-", label="resistance")
        ax2.set_ylabel("resistance / initial", color="C3")
        for v, lab in ((self.eol_capacity_years, "80 % capacity"),
                       (self.eol_capability_years, "UPS capability")):
            if math.isfinite(v):
                ax.axvline(v, color="k", ls=":", lw=1)
                ax.text(v, ax.get_ylim()[0], f" EOL: {lab}", rotation=90, va="bottom",
                        fontsize=8)
        ax.set_title(title or f"life projection: {self.info.get('ecm', '')}")
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        return Path(path)


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    return str(o)


def load_life(path: str | Path) -> LifeResult:
    """Read a :class:`LifeResult` written by :meth:`LifeResult.save`.

    Raises :class:`~cellmodels.errors.FileFormatError` for a missing, corrupt or truncated
    file, another format or schema version, a missing field, or content that does not
    match the file's digest (module docstring).
    """
    return _h5.read_verified(path, _read_life, what="life result", writer="LifeResult.save",
                             remedy="Run the projection (project_life) again.")


def _read_life(path: Path) -> LifeResult:
    with open_checked(path, FORMAT, SCHEMA_VERSION, "life result") as f:
        try:
            arrays = {k: np.asarray(f[k]) for k in ("time_s", "capacity_fraction",
                                                     "resistance_factor", "efc",
                                                     "reservoir_m3", "temperature_max_K",
                                                     "ride_through_ok")}
            arrays["ride_through_ok"] = arrays["ride_through_ok"].astype(bool)
            terms = {}
            if "terms" in f:
                for k in range(len(f["terms"])):
                    d = f["terms"][f"term_{k}"]
                    terms[str(d.attrs["name"])] = np.asarray(d)
            return LifeResult(**arrays, terms=terms,
                              eol_capacity_years=float(f.attrs["eol_capacity_years"]),
                              eol_capability_years=float(f.attrs["eol_capability_years"]),
                              eol_capability_reason=str(f.attrs["eol_capability_reason"]),
                              info=json.loads(f.attrs["info"]))
        except (KeyError, OSError, ValueError, TypeError, RuntimeError) as exc:
            raise FileFormatError(f"The life result file {path} is incomplete or corrupt "
                                  f"({exc}).") from None


# ======================================================================================
# helpers
# ======================================================================================
def age_ecm(ecm, capacity_fraction: float, resistance_factor: float):
    """The ECM with capacity scaled by ``capacity_fraction`` and R0 and the RC
    resistances by ``resistance_factor`` (time constants kept)."""
    if not (0 < capacity_fraction and math.isfinite(capacity_fraction)):
        raise InputError(f"The 'capacity_fraction' argument of age_ecm must be in the range "
                         f"(0, inf). Got {capacity_fraction!r} instead.")
    if not (resistance_factor > 0 and math.isfinite(resistance_factor)):
        raise InputError(f"The 'resistance_factor' argument of age_ecm must be in the range "
                         f"(0, inf). Got {resistance_factor!r} instead.")
    return ecm.replace(capacity_Ah=ecm.capacity_Ah * capacity_fraction,
                       r0_Ohm=ecm.r0_Ohm * resistance_factor,
                       rc_R_Ohm=ecm.rc_R_Ohm * resistance_factor)


def soc_sequence(time_s, soc_min, soc_max, soc_mean, bin_s: float,
                 end_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """An extremes-preserving SOC series from decimated (min, max, mean) bins.

    Each bin gives two samples, its minimum and maximum, ordered by the trend of the bin
    means around it (rising: min then max), placed at the bin's quarter and three-quarter
    points. Every swing longer than a bin keeps its full depth; a reversal inside a bin
    can add a spurious cycle no deeper than that bin's own range. ``end_s``: the end of
    the run [s] when its last bin is partial (default: a whole bin after the last start).
    """
    t = np.asarray(time_s, dtype=float)
    lo = np.asarray(soc_min, dtype=float)
    hi = np.asarray(soc_max, dtype=float)
    m = np.asarray(soc_mean, dtype=float)
    n = t.size
    width = np.full(n, float(bin_s))
    if end_s is not None:
        last = float(end_s) - t[-1]
        if not (0 < last <= bin_s * (1 + 1e-9)):
            raise InputError(f"The 'end_s' argument of soc_sequence must be in the range "
                             f"({t[-1]:g}, {t[-1] + bin_s:g}] s. Got {end_s!r} instead.")
        width[-1] = last
    trend = np.zeros(n)  # one bin: no trend, its min then its max
    if n > 1:
        trend[1:-1] = m[2:] - m[:-2]
        trend[0] = m[1] - m[0]
        trend[-1] = m[-1] - m[-2]
    rising = trend >= 0
    first = np.where(rising, lo, hi)
    second = np.where(rising, hi, lo)
    ts = np.empty(2 * n)
    zs = np.empty(2 * n)
    ts[0::2] = t + 0.25 * width
    ts[1::2] = t + 0.75 * width
    zs[0::2] = first
    zs[1::2] = second
    ts = np.concatenate(([t[0]], ts, [t[-1] + width[-1]]))
    zs = np.concatenate(([m[0]], zs, [m[-1]]))
    return ts, np.clip(zs, 0.0, 1.0)


def window_stress_from_ups(model: AgeingModel, result, capacity_fraction: float
                           ) -> WindowStress:
    """The ageing increments of one UPS window (:class:`~cellmodels.ups.UPSResult`).

    SOC: the mean over simulated cells (min/max per bin, :func:`soc_sequence`);
    temperature: the hottest cell (bin mean), held over each bin.
    """
    bin_s = float(result.decimation_s)
    # the window lasts n_steps * dt_s; its last bin is partial when that is not a whole
    # number of bins (a 90 s window at 60 s bins is 90 s, not 120 s)
    ts, zs = soc_sequence(result.time_s, result.min("soc"), result.max("soc"),
                          result.mean("soc"), bin_s,
                          end_s=float(result.n_steps) * float(result.dt_s))
    temp_bins = result.mean("temperature_max_K")
    idx = np.clip(np.searchsorted(result.time_s, ts, side="right") - 1, 0, temp_bins.size - 1)
    # the fastest the mean SOC can move: the largest string current shared by the parallel
    # cells, on the smallest cell capacity (window_stress bounds the reconstruction by it)
    run = result.run
    scale = np.asarray(result.cells.get("capacity_scale", [1.0]), dtype=float)
    i_max = float(np.max(np.abs(np.concatenate((result.min("current_A"),
                                                result.max("current_A"))))))
    crate_max = i_max / (run["n_parallel"] * run["capacity_Ah"] * float(np.min(scale)))
    return model.window_stress(ts, zs, temp_bins[idx], capacity_fraction=capacity_fraction,
                               crate_max=crate_max if crate_max > 0 else None)


def _pick_model(ecm, model) -> AgeingModel:
    if isinstance(model, AgeingModel):
        return model
    if model is not None:
        return load_model(model)
    text = (ecm.name + " " + json.dumps(ecm.provenance)).lower()
    if "lfp" in text:
        return load_model("lfp_gr_250ah")
    if "nmc" in text or "nca" in text:
        return load_model("nmc111_gr_kokam75ah")
    raise InputError(f"Cannot tell the chemistry of ECM {ecm.name!r}; pass 'model' (one of "
                     "cellmodels.life.available_models() or a JSON file).")


# ======================================================================================
# the projection
# ======================================================================================
class _Runner:
    """Simulates windows and capability checks on aged ECMs (counts them)."""

    def __init__(self, ecm, config, profile, dt_s, model, soc_resolution_s, check_capability):
        from ..ups import UPSConfig

        if isinstance(config, dict):
            config = UPSConfig.from_dict(config)
        self.ecm0 = ecm
        self.model = model
        cfg = config.to_dict()
        cfg.setdefault("output", {})
        cfg["output"]["decimation_s"] = soc_resolution_s
        cfg["output"]["full_resolution"] = False
        self.config = UPSConfig.from_dict(cfg)
        self.cfg_dict = cfg
        self.profile = profile
        self.dt_s = dt_s
        self.check_capability = check_capability
        self.windows = 0
        self.capability_runs = 0
        self.messages: list[str] = []
        self.drift_warned = False
        self.ride_through_s = float(self.config.output.ride_through_s)
        self.rated_W = float(self.config.inverter.rated_W)
        t_max = self.config.bms.temperature_max_K
        if t_max is None:
            t_max = ecm.limits.get("temperature_max_K", math.inf)
        self.temperature_max_K = float(t_max)

    def window(self, q: float, r: float) -> tuple[WindowStress, dict]:
        from ..ups import simulate_ups

        ecm = age_ecm(self.ecm0, q, r)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = simulate_ups(ecm, self.profile, self.config, dt_s=self.dt_s)
            ws = window_stress_from_ups(self.model, res, q)
        for w in caught:
            msg = str(w.message)
            if msg not in self.messages:
                self.messages.append(msg)
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self.windows += 1
        self._warn_drift(ws)
        m = res.metrics()
        info = {"temperature_max_K": float(m["peak_cell_temperature_K"]),
                "soc_min": float(m["soc_min"]), "unserved_J": float(m["unserved_J"]),
                "efc_per_day": float(m["equivalent_full_cycles_per_day"])}
        info["ride_through_ok"] = self.capable(ecm, info["soc_min"]) \
            if self.check_capability else True
        return ws, info

    def _warn_drift(self, ws: WindowStress) -> None:
        """A window repeated back to back must end at the SOC it started from: one that
        drifts is closed by a cycle of the drift's depth per window (window_stress), a
        cycle that steady service would not make (the controller would have reached its
        target). Warn once when that cycle is deeper than the micro-cycle limit, so it
        ages the cell like a real cycle."""
        drift = abs(ws.summary.get("soc_drift", 0.0))
        if self.drift_warned or drift < self.model.micro_cycle["dod"]:
            return
        self.drift_warned = True
        msg = (f"The load window's SOC drifts by {ws.summary['soc_drift']:+.4g} over "
               f"{ws.duration_s:g} s (end minus start): repeated, it is closed by a cycle of depth "
               f"{drift:.4g} every window (above the {self.model.micro_cycle['dod']:g} "
               "micro-cycle limit), which steady service would not make. Start the window "
               "where the controller holds the SOC (battery.initial_soc = "
               "controller.soc_target) or use a window that ends where it starts.")
        self.messages.append(msg)
        from .ageing import LifeValidityWarning

        warnings.warn(msg, LifeValidityWarning, stacklevel=3)

    def capable(self, ecm, soc_start: float) -> bool:
        """Rated load for the ride-through time from ``soc_start`` in an outage."""
        from ..ups import UPSConfig, simulate_ups

        if self.ride_through_s <= 0:
            return True
        dt = 0.1
        n = math.ceil(self.ride_through_s / dt) + 1
        cfg = json.loads(json.dumps(self.cfg_dict, default=_json_default))
        cfg.setdefault("battery", {})["initial_soc"] = float(min(max(soc_start, 0.0), 1.0))
        cfg.setdefault("grid", {})["events"] = [
            {"start_s": 0.0, "duration_s": n * dt, "voltage": 0.0}]
        cfg["grid"].pop("generator", None)
        bms = cfg.setdefault("bms", {})
        if bms.get("soc_min") is None:  # a cell cannot give charge below 0 % SOC
            bms["soc_min"] = 0.0
        cfg["output"]["decimation_s"] = 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = simulate_ups(ecm, np.full(n, self.rated_W), UPSConfig.from_dict(cfg),
                               dt_s=dt)
        self.capability_runs += 1
        return bool(res.energy_J["unserved_J"] <= 1e-9 * self.rated_W * n * dt)


def project_life(
    ecm,
    ups_config,
    profile,
    *,
    years: float,
    model: AgeingModel | str | Path | None = None,
    dt_s: float | None = None,
    eol_capacity: float = 0.8,
    tolerance: float = 1e-3,
    max_capacity_step: float = 0.02,
    max_step_years: float = 1.0,
    fixed_step_windows: float | None = None,
    soc_resolution_s: float = 0.1,
    check_capability: bool = True,
    stop_at_eol: bool = False,
    floor_capacity: float = 0.5,
    micro_weight: float | None = None,
    output: str | Path | None = None,
    progress: bool = False,
) -> LifeResult:
    """Project the life of a UPS string under a repeated load window (module docstring).

    Parameters
    ----------
    ecm : :class:`~cellmodels.reduction.ECM` of the fresh cell
    ups_config : :class:`~cellmodels.ups.UPSConfig` or its dict (string size, controller,
        BMS, ``output.ride_through_s`` for the capability end of life)
    profile : the representative window: a :class:`~cellmodels.dutycycles.Profile` or an
        array of load [W] with ``dt_s``; repeated back to back
    years : service time to project [years], in (0, 50]
    model : ageing model (:func:`~cellmodels.life.load_model` name, JSON path or
        :class:`AgeingModel`); default by the ECM's chemistry (LFP: ``lfp_gr_250ah``,
        NMC: ``nmc111_gr_kokam75ah``)
    dt_s : simulation step [s] (default: the profile's grid)
    eol_capacity : capacity fraction that ends life, in (0, 1)
    tolerance : local error per step allowed in capacity fraction (absolute) and in
        resistance factor (relative) [1]
    max_capacity_step : largest capacity change in one step [1]
    max_step_years : longest step [years]
    fixed_step_windows : if given, every step is exactly this many windows with the
        increments of the window at the step's start (explicit Euler, no error control):
        with 1 and a one-day window this is the brute-force day-by-day reference
    soc_resolution_s : decimation of the UPS run whose bin extremes feed the rainflow
        count [s]; swings slower than this keep their full depth
    check_capability : simulate the ride-through outage at each step
    stop_at_eol : stop at the first end of life (either kind)
    floor_capacity : stop when the capacity fraction falls below this, in (0, eol_capacity]
        (a UPS string far past end of life is not worth simulating; ``info["stopped"]``
        says why the projection ended)
    micro_weight : override the model's micro-cycle weight (in [0, 1]; see
        :mod:`cellmodels.life.ageing`)
    output : HDF5 file to write the result to (atomically)
    progress : a progress bar (tqdm) over years

    Returns
    -------
    LifeResult
    """
    # a real number (numpy integers too), not a bool; NaN fails the comparison
    real = isinstance(years, int | float | np.integer | np.floating)
    if isinstance(years, bool | np.bool_) or not real or not 0 < years <= 50:
        raise InputError(f"The 'years' argument of project_life must be in the range (0, 50]."
                         f" Got {years!r} instead.")
    if not (0 < eol_capacity < 1):
        raise InputError(f"The 'eol_capacity' argument of project_life must be in the range "
                         f"(0, 1). Got {eol_capacity!r} instead.")
    if not (0 < tolerance < 0.1):
        raise InputError(f"The 'tolerance' argument of project_life must be in the range "
                         f"(0, 0.1). Got {tolerance!r} instead.")
    if not (0 < floor_capacity <= eol_capacity):
        raise InputError(f"The 'floor_capacity' argument of project_life must be in the range "
                         f"(0, eol_capacity = {eol_capacity!r}]. Got {floor_capacity!r}.")
    if not (0 < max_capacity_step <= 1):  # also refuses NaN
        raise InputError(f"The 'max_capacity_step' argument of project_life must be in the "
                         f"range (0, 1]. Got {max_capacity_step!r} instead.")
    if not (0 < max_step_years <= 50):  # also refuses NaN; 0 would never advance
        raise InputError(f"The 'max_step_years' argument of project_life must be in the "
                         f"range (0, 50]. Got {max_step_years!r} instead.")
    if fixed_step_windows is not None and not fixed_step_windows > 0:
        raise InputError(f"The 'fixed_step_windows' argument of project_life must be in the "
                         f"range (0, inf). Got {fixed_step_windows!r} instead.")
    if not (0 < soc_resolution_s <= 60):
        raise InputError(f"The 'soc_resolution_s' argument of project_life must be in the "
                         f"range (0, 60] s. Got {soc_resolution_s!r} instead.")
    wall0 = time.perf_counter()
    model = _pick_model(ecm, model)
    if micro_weight is not None:
        model = model.with_micro_weight(micro_weight)
    run = _Runner(ecm, ups_config, profile, dt_s, model, soc_resolution_s, check_capability)
    end_s = years * YEAR_S
    state = model.initial_state()
    q, r = 1.0, 1.0
    ws0, info0 = run.window(q, r)
    window_s = ws0.duration_s
    rows = [_row(model, state, info0)]
    eol_q = math.nan
    eol_c = math.nan
    reason = ""
    if not info0["ride_through_ok"]:
        eol_c, reason = 0.0, "ride-through: rated load not carried when new"
    elif info0["temperature_max_K"] > run.temperature_max_K:
        eol_c, reason = 0.0, "temperature window exceeded when new"
    n_next = 1.0
    rejected = 0
    stopped = "reached years"
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=years, unit="yr", desc="life", bar_format="{l_bar}{bar}| "
                   "{n:.2f}/{total:.2f} yr [{elapsed}<{remaining}]")
    while state.time_s < end_s * (1 - 1e-12):
        remaining = (end_s - state.time_s) / window_s
        if fixed_step_windows is not None:
            n = min(fixed_step_windows, remaining)
            new = model.advance(state, ws0, n)
            q1, r1 = model.capacity_fraction(new), model.resistance_factor(new)
            if q1 <= 0:
                stopped = "capacity exhausted within one window"
                break
            ws1, info1 = run.window(q1, r1)
        else:
            n = min(n_next, remaining, max_step_years * YEAR_S / window_s)
            # the capacity-change cap, from the first-order change over the step
            while True:
                pred = model.advance(state, ws0, n)
                dq = q - model.capacity_fraction(pred)
                if dq <= max_capacity_step or n <= 1.0:
                    break
                n = max(1.0, n * 0.5)
            while True:
                pred = model.advance(state, ws0, n)
                qp, rp = model.capacity_fraction(pred), model.resistance_factor(pred)
                if qp < 0.5 * floor_capacity and n > 1.0:
                    n = max(1.0, n * 0.5)
                    continue
                if qp <= 0:
                    stopped = "capacity exhausted within one window"
                    break
                ws1, info1 = run.window(qp, rp)
                avg = WindowStress(tuple(0.5 * (a + b) for a, b in zip(ws0.dX, ws1.dX,
                                                                      strict=True)),
                                   window_s, 0.5 * (ws0.efc + ws1.efc))
                new = model.advance(state, avg, n)
                q1, r1 = model.capacity_fraction(new), model.resistance_factor(new)
                err = max(abs(q1 - qp), abs(r1 - rp) / rp)
                if err <= tolerance or n <= 1.0:
                    break
                rejected += 1
                n = max(1.0, n * max(0.2, 0.9 * math.sqrt(tolerance / err)))
            if qp <= 0:
                break
            growth = 4.0 if err == 0 else min(4.0, 0.9 * math.sqrt(tolerance / err))
            n_next = max(1.0, n * max(growth, 0.5))
        t_prev, q_prev = state.time_s, q
        state, q, r = new, q1, r1
        rows.append(_row(model, state, info1))
        ws0 = ws1
        if math.isnan(eol_q) and q <= eol_capacity < q_prev:
            eol_q = (t_prev + (state.time_s - t_prev) * (q_prev - eol_capacity)
                     / (q_prev - q)) / YEAR_S
        if math.isnan(eol_c):
            if not info1["ride_through_ok"]:
                eol_c, reason = state.time_s / YEAR_S, (
                    f"ride-through: the string cannot carry {run.rated_W:g} W for "
                    f"{run.ride_through_s:g} s from SOC {info1['soc_min']:.3f}")
            elif info1["temperature_max_K"] > run.temperature_max_K:
                eol_c, reason = state.time_s / YEAR_S, (
                    f"temperature: hottest cell {info1['temperature_max_K']:.2f} K above "
                    f"{run.temperature_max_K:.2f} K")
        if bar is not None:
            bar.update(min(state.time_s / YEAR_S, years) - bar.n)
        if stop_at_eol and (not math.isnan(eol_q) or not math.isnan(eol_c)):
            stopped = "end of life (stop_at_eol)"
            break
        if q < floor_capacity:
            stopped = f"capacity {q:.4f} below floor_capacity {floor_capacity:g}"
            break
    if bar is not None:
        bar.close()
    cols = {k: np.array([row[k] for row in rows]) for k in rows[0] if k != "terms"}
    term_cols = {t.name: np.array([row["terms"][i] for row in rows])
                 for i, t in enumerate(model.terms)}
    result = LifeResult(
        time_s=cols["time_s"], capacity_fraction=cols["capacity_fraction"],
        resistance_factor=cols["resistance_factor"], efc=cols["efc"],
        reservoir_m3=cols["reservoir_m3"], temperature_max_K=cols["temperature_max_K"],
        ride_through_ok=cols["ride_through_ok"].astype(bool),
        eol_capacity_years=eol_q, eol_capability_years=eol_c,
        eol_capability_reason=reason, terms=term_cols,
        info={"ecm": ecm.name, "model": model.to_dict(), "years": years,
              "window_s": window_s, "dt_s": dt_s, "tolerance": tolerance,
              "max_capacity_step": max_capacity_step, "max_step_years": max_step_years,
              "fixed_step_windows": fixed_step_windows, "soc_resolution_s": soc_resolution_s,
              "eol_capacity": eol_capacity, "windows_simulated": run.windows,
              "capability_runs": run.capability_runs, "steps": len(rows) - 1,
              "steps_rejected": rejected, "wall_s": time.perf_counter() - wall0,
              "validity_messages": run.messages, "stopped": stopped, "ups_config": run.cfg_dict,
              "last_window": ws0.summary},
    )
    if output is not None:
        result.save(output)
    return result


def _row(model: AgeingModel, state: AgeingState, info: dict) -> dict:
    res = model.reservoir_m3(state)
    return {"time_s": state.time_s, "capacity_fraction": model.capacity_fraction(state),
            "resistance_factor": model.resistance_factor(state), "efc": state.efc,
            "reservoir_m3": res if math.isfinite(res) else float("nan"),
            "temperature_max_K": info["temperature_max_K"],
            "ride_through_ok": bool(info["ride_through_ok"]),
            "terms": [t.value(x) for t, x in zip(model.terms, state.X, strict=True)]}
