"""The result of a UPS run: decimated channels, spectra, energies, limits, metrics, HDF5.

Every channel (:data:`cellmodels.ups.kernel.CHANNELS`: load, served load, grid, battery
power, string current and voltage, SOC mean/min/max over cells, hottest cell, cell voltage
min/max, battery heat, converter losses, unserved power) is kept per decimation bin as
(min, max, mean) over the bin's steps, so a millisecond peak survives decimation; the load
and grid power are also kept as means over ``spectral_dt_s`` (4 ms by default) for the
oscillation metrics; every step of every channel on request (``full``).

Metrics (:meth:`UPSResult.metrics`), SI units:

- ``grid_max_ramp_W_per_s``: the largest grid-power change over one step, / dt (exact,
  from the kernel); ``grid_max_ramp_1s_W_per_s``: the same on 1 s means;
- ``oscillation_W``: for the load and grid side, the amplitude of the equivalent
  sinusoid in 0.1-2 Hz and 3-30 Hz, ``sqrt(2 * integral of the PSD over the band)``,
  PSD by Welch (Hann windows of ~40 s, half overlap, mean removed) of the spectral
  channels, corrected for the bin-mean's known response ``sin(pi f M dt) / (M sin(pi
  f dt))``;
- battery: throughput [Ah] (string and per cell), equivalent full cycles per day (cell
  throughput / (2 capacity), scaled to 86400 s), RMS current (string; largest cell),
  peak cell temperature;
- energies, losses (converters, battery heat) and efficiency ``load served / (load
  served + losses)``;
- ride-through margin: the time the string could carry the run's peak load from the
  lowest mean SOC reached (usable energy above the BMS's soc_min from the OCV integral,
  through the DC/DC and inverter efficiencies; resistance losses not counted) minus the
  required ``ride_through_s``; and whether the peak DC power is within the string's
  current-limited power at that SOC;
- limit activations: for each BMS and system limit, the number of activations (rising
  edges), the steps and seconds active and the energy moved to the grid (or unserved);
- SOC: extremes over cells and the configured band, and whether the run stayed inside.

The HDF5 file (:meth:`UPSResult.save`, :func:`load_result`): written atomically (a
temporary file, then a rename), ``format = "cellmodels.ups_result"``, ``schema_version``,
units as ``unit`` attributes; a 512-byte user block in front holds
``cellmodels.ups_result sha256=<hex>``, the SHA-256 of the bytes after it, checked before
HDF5 reads the file: a file altered or damaged after it was written is refused (naming its
structural fault where there is one), never a hang; one without the block (older
cellmodels) is read as before (:mod:`cellmodels._h5`)::

    /                attrs: format, schema_version, ecm_name, dt_s, n_steps,
                            decimation_s, spectral_dt_s, status, message, success,
                            config (JSON), run (JSON)
    /time_s          (n_bins,) bin starts                    unit s
    /decimated/<ch>  (n_bins, 3) min, max, mean              unit of the channel
    /spectral/<ch>   (n_spec,) load_W, grid_W bin means      unit W
    /full/<ch>       (n_steps,) when kept
    /energy/<term>   scalar                                  unit J (As, A2s)
    /limits/<kind>   attrs activations, steps, duration_s, energy_J
    /cells/<name>    per simulated cell (``hysteresis`` only with an ECM that has it:
                     an optional dataset, so the schema version is unchanged)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import _h5
from .._atomic import atomic_path
from .._h5 import open_checked
from ..errors import FileFormatError, InputError
from . import kernel as K

__all__ = ["SCHEMA_VERSION", "UPSResult", "load_result"]

SCHEMA_VERSION = 1
FORMAT = "cellmodels.ups_result"
BANDS_HZ = {"0.1-2Hz": (0.1, 2.0), "3-30Hz": (3.0, 30.0)}
_STATS = ("min", "max", "mean")
_CELL_UNITS = {"soc": "1", "temperature_K": "K", "rc_V": "V", "peak_temperature_K": "K",
               "throughput_Ah": "Ah", "rms_current_A": "A", "capacity_scale": "1",
               "resistance_scale": "1", "hysteresis": "1"}


_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _finite_json(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"$float": repr(obj)}
    if isinstance(obj, dict):
        return {k: _finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_json(v) for v in obj]
    return obj


def _from_json(text):
    return json.loads(text, object_hook=lambda d: _NONFINITE[d["$float"]]
                      if set(d) == {"$float"} else d)


def _energy_unit(term: str) -> str:
    if term.endswith("_As"):
        return "As"
    if term.endswith("_A2s"):
        return "A2s"
    return "J"


@dataclass
class UPSResult:
    """A UPS run (see the module docstring). Units are in the names.

    Attributes
    ----------
    time_s : (n_bins,) start of each decimation bin [s]
    decimated : channel -> (n_bins, 3) array of (min, max, mean) over the bin
    spectral : {"load_W", "grid_W"} -> (n_spec,) means over ``spectral_dt_s``
    full : channel -> (n_steps,) every step, or None
    energy_J : energy terms (:data:`cellmodels.ups.kernel.ENERGY_TERMS`)
    limits : kind -> {"activations", "steps", "duration_s", "energy_J"}
    cells : per simulated cell: final soc, temperature_K, rc_V, peak_temperature_K,
        throughput_Ah, rms_current_A, capacity_scale, resistance_scale; with an ECM with
        OCV hysteresis also the final hysteresis state (``hysteresis``, in [-1, 1])
    run : facts of the run (sizes, ratings, extremes, wall time, validity messages)
    config : the UPS configuration as a dict
    final_state : the :class:`~cellmodels.ups.system.UPSState` at the end (to continue
        the run with ``simulate_ups(..., initial_state=result.final_state)``); not saved
    """

    ecm_name: str
    dt_s: float
    n_steps: int
    decimation_s: float
    spectral_dt_s: float
    time_s: np.ndarray
    decimated: dict
    spectral: dict
    energy_J: dict
    limits: dict
    cells: dict
    run: dict
    config: dict
    full: dict | None = None
    status: int = 0
    message: str = ""
    success: bool = True
    final_state: object = field(default=None, repr=False, compare=False)
    _metrics: dict | None = field(default=None, repr=False)

    # ---- construction -----------------------------------------------------------------
    @classmethod
    def from_run(cls, params, w: dict, n: int, dt: float, bin_steps: int, spec_steps: int,
                 full: bool, wall_s: float, validity_messages: list[str]) -> UPSResult:
        ist = w["ist"]
        bins = w["bins"][: ist[K.K_BIN]]
        decimated = {name: np.ascontiguousarray(bins[:, q, :]) for q, name in
                     enumerate(K.CHANNELS)}
        spec = w["spec"][: ist[K.K_SPEC]]
        spectral = {"load_W": spec[:, 0].copy(), "grid_W": spec[:, 1].copy()}
        full_d = None
        if full:
            full_d = {name: w["full"][q] for q, name in enumerate(K.CHANNELS)}
        limits = {}
        for q, kind in enumerate(K.LIMITS):
            limits[kind] = {"activations": int(w["lim_count"][q]),
                            "steps": int(w["lim_steps"][q]),
                            "duration_s": float(w["lim_steps"][q] * dt),
                            "energy_J": float(w["lim_energy"][q])}
        sp = params.string
        cs = w["cs"]
        cacc = w["cacc"]
        duration = n * dt
        cells = {
            "soc": cs[:, 0].copy(),
            "temperature_K": cs[:, 1].copy(),
            "rc_V": cs[:, 2:2 + sp.n_rc].copy(),
            "peak_temperature_K": cacc[:, 2].copy(),
            "throughput_Ah": cacc[:, 0] / 3600.0,
            "rms_current_A": np.sqrt(cacc[:, 1] / duration),
            "capacity_scale": np.array(sp.capacity_scale if not sp.lumped
                                       else sp.capacity_scale[:1]),
            "resistance_scale": np.array(sp.resistance_scale if not sp.lumped
                                         else sp.resistance_scale[:1]),
        }
        if sp.tables.has_hys:  # the hysteresis state h, with an ECM that has one
            cells["hysteresis"] = cs[:, 2 + sp.n_rc].copy()
        stat = w["stat"]
        cfg = params.config
        bms = sp.bms
        run = {
            "n_series": sp.n_series, "n_parallel": sp.n_parallel, "lumped": sp.lumped,
            "capacity_Ah": float(params.ecm.capacity_Ah),
            "energy_capacity_J": float(params.energy_capacity_J),
            "power_hold": sp.power_hold,
            "rectifier_rated_W": cfg.rectifier.rated_W, "inverter_rated_W": cfg.inverter.rated_W,
            "ramp_limit_W_per_s": cfg.controller.ramp_limit_W_per_s,
            "smoothing": cfg.controller.smoothing,
            "soc_band": list(cfg.controller.soc_band),
            "ride_through_s": cfg.output.ride_through_s,
            "grid_max_ramp_W_per_s": float(stat[K.S_GRAMP]),
            "load_max_ramp_W_per_s": float(stat[K.S_LRAMP]),
            "soc_min": float(stat[K.S_ZMIN]), "soc_max": float(stat[K.S_ZMAX]),
            "temperature_min_K": float(stat[K.S_TMIN]),
            "temperature_max_K": float(stat[K.S_TMAX]),
            "cell_current_max_A": float(stat[K.S_IABS]),
            "cell_voltage_min_V": float(stat[K.S_VCMIN]),
            "cell_voltage_max_V": float(stat[K.S_VCMAX]),
            "bms": {"current_max_discharge_A": bms.i_dis, "current_max_charge_A": bms.i_chg,
                    "voltage_min_V": bms.v_min, "voltage_max_V": bms.v_max,
                    "temperature_min_K": bms.t_min, "temperature_max_K": bms.t_max,
                    "soc_min": bms.soc_min, "soc_max": bms.soc_max},
            "wall_s": float(wall_s),
            "validity": list(validity_messages),
            "bin_steps": int(bin_steps), "spectral_steps": int(spec_steps),
            "ecm_ocv": {"soc": params.ecm.soc.tolist(), "ocv_V": params.ecm.ocv_V.tolist(),
                        "reference_temperature_K": params.ecm.reference_temperature_K},
            "ecm_r_dc_Ohm_at_soc_min": None,
        }
        run["dcdc_efficiency"] = (list(map(list, cfg.battery.dcdc.efficiency))
                                  if cfg.battery.dcdc is not None else None)
        run["inverter_efficiency"] = list(map(list, cfg.inverter.efficiency))
        z_lo = float(stat[K.S_ZMIN])
        t_ref = params.ecm.reference_temperature_K
        r0, (rk, _) = params.ecm.r0(z_lo, t_ref), params.ecm.rc(z_lo, t_ref)
        run["ecm_r_dc_Ohm_at_soc_min"] = float(r0 + np.sum(rk))
        energy = {k: float(v) for k, v in zip(K.ENERGY_TERMS, w["acc"])}
        active = {k: v["activations"] for k, v in limits.items() if v["activations"]}
        msg = f"Completed {n} steps of {dt:g} s."
        if active:
            msg += " Limit activations: " + ", ".join(f"{k} x{v}" for k, v in active.items())
            msg += "."
        if energy["unserved_J"] > 0:
            msg += f" Unserved energy {energy['unserved_J']:.6g} J."
        return cls(ecm_name=params.ecm.name, dt_s=dt, n_steps=n,
                   decimation_s=bin_steps * dt, spectral_dt_s=spec_steps * dt,
                   time_s=np.arange(bins.shape[0]) * bin_steps * dt, decimated=decimated,
                   spectral=spectral, energy_J=energy, limits=limits, cells=cells, run=run,
                   config=cfg.to_dict(), full=full_d, status=0, message=msg, success=True)

    # ---- access -------------------------------------------------------------------------
    def _col(self, channel: str, stat: str) -> np.ndarray:
        if channel not in self.decimated:
            from ..errors import suggest

            raise InputError(f"No channel {channel!r}." + suggest(channel, self.decimated))
        return self.decimated[channel][:, _STATS.index(stat)]

    def mean(self, channel: str) -> np.ndarray:
        return self._col(channel, "mean")

    def min(self, channel: str) -> np.ndarray:
        return self._col(channel, "min")

    def max(self, channel: str) -> np.ndarray:
        return self._col(channel, "max")

    @property
    def duration_s(self) -> float:
        return self.n_steps * self.dt_s

    @property
    def grid_W(self) -> np.ndarray:
        return self.mean("grid_W")

    @property
    def load_W(self) -> np.ndarray:
        return self.mean("load_W")

    @property
    def current_A(self) -> np.ndarray:
        return self.mean("current_A")

    @property
    def voltage_V(self) -> np.ndarray:
        return self.mean("voltage_V")

    @property
    def soc(self) -> np.ndarray:
        return self.mean("soc")

    @property
    def temperature_K(self) -> np.ndarray:
        return self.max("temperature_max_K")

    @property
    def heat_W(self) -> np.ndarray:
        return self.mean("heat_W")

    @property
    def loss_W(self) -> np.ndarray:
        return self.mean("loss_W")

    @property
    def nbytes(self) -> int:
        """Memory held by the result's arrays [bytes]."""
        total = self.time_s.nbytes
        for group in (self.decimated, self.spectral, self.cells, self.full or {}):
            total += sum(np.asarray(a).nbytes for a in group.values())
        return int(total)

    # ---- metrics ------------------------------------------------------------------------
    def oscillation_W(self, side: str, band: tuple[float, float]) -> float:
        """Amplitude [W] of the equivalent sinusoid of ``side`` ("load" or "grid") power in
        ``band`` [Hz] (see the module docstring)."""
        from scipy.signal import welch

        x = self.spectral[f"{side}_W"]
        fs = 1.0 / self.spectral_dt_s
        if x.size < 8:
            return float("nan")
        nper = int(min(x.size, 2 ** math.ceil(math.log2(40.0 * fs))))
        f, pxx = welch(x, fs=fs, window="hann", nperseg=nper, detrend="constant")
        m = round(self.spectral_dt_s / self.dt_s)
        if m > 1:  # undo the bin mean's response (a boxcar of m steps)
            with np.errstate(invalid="ignore", divide="ignore"):
                resp = np.where(f > 0, np.sin(np.pi * f * m * self.dt_s)
                                / (m * np.sin(np.pi * f * self.dt_s)), 1.0)
            pxx = pxx / np.maximum(resp**2, 1e-12)
        sel = (f >= band[0]) & (f <= band[1])
        if not np.any(sel):
            return float("nan")
        df = f[1] - f[0]
        return float(np.sqrt(2.0 * np.sum(pxx[sel]) * df))

    def metrics(self) -> dict:
        """The metrics of the run (module docstring); SI units in the names."""
        if self._metrics is not None:
            return self._metrics
        e = self.energy_J
        run = self.run
        dur = self.duration_s
        q_ah = run["capacity_Ah"]
        cell_ah = np.asarray(self.cells["throughput_Ah"])
        cap = q_ah * np.asarray(self.cells["capacity_scale"])
        efc = float(np.mean(cell_ah / (2.0 * cap)) * 86400.0 / dur)
        osc = {}
        for side in ("load", "grid"):
            for name, band in BANDS_HZ.items():
                osc[f"{side}_{name}"] = self.oscillation_W(side, band)
        ratio = {name: (osc[f"load_{name}"] / osc[f"grid_{name}"]
                        if osc[f"grid_{name}"] > 0 else float("inf")) for name in BANDS_HZ}
        gmean = self.mean("grid_W")
        ramp_1s = float("nan")
        if gmean.size > 1:
            bin_s = self.decimation_s
            k = max(1, round(1.0 / bin_s))
            ramp_1s = float(np.max(np.abs(gmean[k:] - gmean[:-k])) / (k * bin_s)) \
                if gmean.size > k else float("nan")
        conv = e["loss_rectifier_J"] + e["loss_inverter_J"] + e["loss_dcdc_J"]
        batt_loss = e["battery_irreversible_heat_J"]
        served = e["load_served_J"]
        eff = served / (served + conv + batt_loss) if served > 0 else float("nan")
        band = run["soc_band"]
        soc_lo = float(np.min(self.min("soc_min"))) if self.time_s.size else float("nan")
        soc_hi = float(np.max(self.max("soc_max"))) if self.time_s.size else float("nan")
        lim_total = int(sum(v["activations"] for v in self.limits.values()))
        m = {
            "duration_s": dur,
            "grid_max_ramp_W_per_s": run["grid_max_ramp_W_per_s"],
            "grid_max_ramp_1s_W_per_s": ramp_1s,
            "load_max_ramp_W_per_s": run["load_max_ramp_W_per_s"],
            "ramp_limit_W_per_s": run["ramp_limit_W_per_s"],
            "oscillation_W": osc,
            "oscillation_reduction": ratio,
            "battery_throughput_Ah": e["throughput_As"] / 3600.0,
            "cell_throughput_Ah_mean": float(np.mean(cell_ah)),
            "equivalent_full_cycles_per_day": efc,
            "rms_current_A": math.sqrt(e["current_squared_A2s"] / dur),
            "cell_rms_current_A_max": float(np.max(self.cells["rms_current_A"])),
            "peak_cell_temperature_K": float(np.max(self.cells["peak_temperature_K"])),
            "energy_J": dict(e),
            "losses_J": {"converters": conv, "battery_irreversible": batt_loss,
                         "rectifier": e["loss_rectifier_J"], "inverter": e["loss_inverter_J"],
                         "dcdc": e["loss_dcdc_J"]},
            "efficiency": eff,
            "energy_balance_residual_J": self.energy_balance_residual_J(),
            "unserved_J": e["unserved_J"],
            "limit_activations": lim_total,
            "limits": {k: dict(v) for k, v in self.limits.items()},
            "soc_min": soc_lo,
            "soc_max": soc_hi,
            "soc_band": list(band),
            "soc_inside_band": bool(soc_lo >= band[0] and soc_hi <= band[1]),
            **self._ride_through(),
        }
        self._metrics = m
        return m

    def energy_balance_residual_J(self) -> float:
        """grid + battery chemical - (load served + converter losses + battery heat +
        power-hold residual): zero to round-off (see kernel)."""
        e = self.energy_J
        return float(e["grid_J"] + e["battery_chemical_J"] + e["zoh_residual_J"]
                     - e["load_served_J"] - e["loss_rectifier_J"] - e["loss_inverter_J"]
                     - e["loss_dcdc_J"] - e["battery_irreversible_heat_J"])

    def _ride_through(self) -> dict:
        run = self.run
        soc_grid = np.asarray(run["ecm_ocv"]["soc"])
        ocv = np.asarray(run["ecm_ocv"]["ocv_V"])
        z_lo = float(np.min(self.min("soc"))) if self.time_s.size else run["soc_min"]
        floor = run["bms"]["soc_min"]
        floor = 0.0 if not np.isfinite(floor) else max(0.0, floor)
        if z_lo <= floor:
            usable_Vh = 0.0
        else:
            zz = np.union1d(soc_grid[(soc_grid > floor) & (soc_grid < z_lo)], [floor, z_lo])
            uu = np.interp(zz, soc_grid, ocv)
            usable_Vh = float(np.sum(0.5 * (uu[1:] + uu[:-1]) * np.diff(zz)))
        n_cells = run["n_series"] * run["n_parallel"]
        e_usable = usable_Vh * run["capacity_Ah"] * 3600.0 * n_cells
        peak_load = float(np.max(self.max("load_W"))) if self.time_s.size else 0.0

        def eff(curve, x):
            if curve is None:
                return 1.0
            pts = np.asarray(curve)
            return float(np.interp(x, pts[:, 0], pts[:, 1]))

        inv_eta = eff(run["inverter_efficiency"], min(1.0, peak_load / run["inverter_rated_W"]))
        dc_peak = peak_load / inv_eta
        dcdc_eta = eff(run["dcdc_efficiency"], 1.0) if run["dcdc_efficiency"] else 1.0
        batt_peak = dc_peak / dcdc_eta
        avail_s = e_usable / batt_peak if batt_peak > 0 else float("inf")
        i_max = run["bms"]["current_max_discharge_A"]
        u_lo = float(np.interp(z_lo, soc_grid, ocv))
        r_dc = run["ecm_r_dc_Ohm_at_soc_min"]
        if np.isfinite(i_max):
            i_cap = min(i_max, u_lo / (2 * r_dc))
        else:
            i_cap = u_lo / (2 * r_dc)
        p_cap = n_cells * (u_lo - r_dc * i_cap) * i_cap
        return {
            "ride_through_available_s": avail_s,
            "ride_through_margin_s": avail_s - run["ride_through_s"],
            "ride_through_required_s": run["ride_through_s"],
            "ride_through_power_ok": bool(p_cap >= batt_peak),
            "ride_through_power_capability_W": p_cap,
            "peak_load_W": peak_load,
        }

    # ---- files --------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the result to HDF5 atomically (module docstring); return the path."""
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
            f.attrs["ecm_name"] = self.ecm_name
            f.attrs["dt_s"] = self.dt_s
            f.attrs["n_steps"] = self.n_steps
            f.attrs["decimation_s"] = self.decimation_s
            f.attrs["spectral_dt_s"] = self.spectral_dt_s
            f.attrs["status"] = self.status
            f.attrs["message"] = self.message
            f.attrs["success"] = self.success
            f.attrs["config"] = json.dumps(_finite_json(self.config), allow_nan=False)
            f.attrs["run"] = json.dumps(_finite_json(self.run), allow_nan=False)
            ds = f.create_dataset("time_s", data=self.time_s)
            ds.attrs["unit"] = "s"
            g = f.create_group("decimated")
            g.attrs["columns"] = ",".join(_STATS)
            for name, a in self.decimated.items():
                ds = g.create_dataset(name, data=a)
                ds.attrs["unit"] = K.CHANNEL_UNITS[name]
            g = f.create_group("spectral")
            g.attrs["dt_s"] = self.spectral_dt_s
            for name, a in self.spectral.items():
                ds = g.create_dataset(name, data=a)
                ds.attrs["unit"] = "W"
            if self.full is not None:
                g = f.create_group("full")
                g.attrs["dt_s"] = self.dt_s
                for name, a in self.full.items():
                    ds = g.create_dataset(name, data=a)
                    ds.attrs["unit"] = K.CHANNEL_UNITS[name]
            g = f.create_group("energy")
            for name, v in self.energy_J.items():
                ds = g.create_dataset(name, data=float(v))
                ds.attrs["unit"] = _energy_unit(name)
            g = f.create_group("limits")
            for name, v in self.limits.items():
                sub = g.create_group(name)
                for key, value in v.items():
                    sub.attrs[key] = value
            g = f.create_group("cells")
            for name, a in self.cells.items():
                ds = g.create_dataset(name, data=np.asarray(a))
                ds.attrs["unit"] = _CELL_UNITS[name]


def load_result(path: str | Path) -> UPSResult:
    """Read a file written by :meth:`UPSResult.save` (same schema version).

    Raises :class:`~cellmodels.errors.FileFormatError` for a missing, corrupt or truncated
    file, another format or schema version, a missing field, or content that does not
    match the file's digest (module docstring).
    """
    return _h5.read_verified(path, _read_result, what="UPS result", writer="UPSResult.save",
                             remedy="Run the simulation again and save its result.")


def _read_result(path: Path) -> UPSResult:
    with open_checked(path, FORMAT, SCHEMA_VERSION, "UPS result") as f:
        try:
            full = None
            if "full" in f:
                full = {k: f["full"][k][()] for k in f["full"]}
            return UPSResult(
                ecm_name=str(f.attrs["ecm_name"]), dt_s=float(f.attrs["dt_s"]),
                n_steps=int(f.attrs["n_steps"]), decimation_s=float(f.attrs["decimation_s"]),
                spectral_dt_s=float(f.attrs["spectral_dt_s"]), time_s=f["time_s"][()],
                decimated={k: f["decimated"][k][()] for k in K.CHANNELS},
                spectral={k: f["spectral"][k][()] for k in ("load_W", "grid_W")},
                energy_J={k: float(f["energy"][k][()]) for k in K.ENERGY_TERMS},
                limits={k: {a: (float(v) if a in ("duration_s", "energy_J") else int(v))
                            for a, v in f["limits"][k].attrs.items()} for k in K.LIMITS},
                cells={k: f["cells"][k][()] for k in f["cells"]},
                run=_from_json(f.attrs["run"]), config=_from_json(f.attrs["config"]),
                full=full, status=int(f.attrs["status"]), message=str(f.attrs["message"]),
                success=bool(f.attrs["success"]))
        except (KeyError, OSError, ValueError, TypeError, RuntimeError) as exc:
            raise FileFormatError(f"The UPS result file {path} is incomplete or corrupt "
                                  f"({exc}).") from None
