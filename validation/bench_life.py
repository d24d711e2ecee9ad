"""Benchmark: a 15-year life projection of a 1 MW UPS string under AI training duty at 1 ms.

- **The cell.** The semi-solid LFP power cell's ECM (``validation/out/
  semisolid_lfp_power.ecm.h5``, from ``cellmodels reduce semisolid_lfp_power``).
- **The window.** One hour at 1 ms (3.6 million steps) of 8 racks x 125 kW training
  synchronously (``synchronized_training``: 50 % swing, 2 s period, 2 % jitter, 2 ms
  edges, 30 s checkpoint every 30 min), as in ``bench_ups.py``.
- **The UPS.** 1.25 MW rectifier and inverter, 250 series x 10 parallel cells (~162 kWh)
  on the DC link, 10 s filter, 20 kW/s ramp limit, SOC restoring; ride-through 2 minutes
  at the inverter's rated 1.25 MW for the capability end of life.
- **The projection.** ``project_life(..., years=15)`` with the default ageing model for
  LFP (``lfp_gr_250ah``) and default step control; ``floor_capacity=0.1`` so the
  projection runs the whole 15 years even past end of life (the speed figure is for 15
  years; the ageing under this duty is a result in itself: see the end-of-life figures). Reported: wall and CPU time, windows
  simulated (each a full 1 ms UPS run of the hour) and ride-through checks, the time of one
  window measured in the same run (so the figure scales to a quiet machine: the projection
  costs about ``windows x one window``), end of life both ways.

The acceptance of issue 6 asks for the 15 years within 60 s "on this machine"; the machine
has 2 cores shared with five other engineers now, so the lead reruns this on a quiet one.

Also: the same projection with the micro-cycle weight at the two ends of Soto et al.'s
range (0: "negligible"; 2/3), with their end of life and cost.

Run: ``python validation/bench_life.py``; writes validation/bench_life.json atomically.
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

HERE = Path(__file__).resolve().parent
ECM_FILE = HERE / "out" / "semisolid_lfp_power.ecm.h5"
OUT = HERE / "bench_life.json"
TARGET_S = 60.0

CONFIG = {
    "rectifier": {"rated_W": 1.25e6}, "inverter": {"rated_W": 1.25e6},
    "battery": {"n_series": 250, "n_parallel": 10, "initial_soc": 0.6,
                "coolant_temperature_K": 298.15},
    "controller": {"filter_time_constant_s": 10.0, "ramp_limit_W_per_s": 2e4,
                   "soc_target": 0.6, "soc_restore_time_s": 1800.0},
    "output": {"ride_through_s": 120.0},
}


def main() -> dict:
    import numba

    from cellmodels._atomic import write_text
    from cellmodels.dutycycles import synchronized_training
    from cellmodels.life import project_life
    from cellmodels.reduction.io import load_ecm
    from cellmodels.ups import simulate_ups

    load0 = os.getloadavg()
    ecm = load_ecm(ECM_FILE)
    prof = synchronized_training(rack_peak_W=125e3, n_racks=8, swing_depth=0.5, period_s=2.0,
                                 period_jitter=0.02, edge_s=0.002, duration_s=3600.0,
                                 dt_s=1e-3, seed=0)
    cfg = dict(CONFIG, output=dict(CONFIG["output"], decimation_s=0.1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        simulate_ups(ecm, prof, cfg, dt_s=1e-3)  # warm-up: numba compile
        t0, c0 = time.perf_counter(), time.process_time()
        simulate_ups(ecm, prof, cfg, dt_s=1e-3)
        one_wall, one_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        res = project_life(ecm, CONFIG, prof, years=15.0, dt_s=1e-3, floor_capacity=0.1)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        # the micro-cycle weight (Soto 2022 bounds it to [0, 2/3]; default 1/3): end of life
        # and the cost of a projection that runs the full 15 years
        sens = {}
        for w in (0.0, 2.0 / 3.0):
            t0, c0 = time.perf_counter(), time.process_time()
            r = project_life(ecm, CONFIG, prof, years=15.0, dt_s=1e-3, floor_capacity=0.1,
                             micro_weight=w)
            sens[f"{w:.4f}"] = {
                "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                "years_reached": float(r.time_years[-1]),
                "capacity_end": float(r.capacity_fraction[-1]),
                "eol_capacity_years": r.eol_capacity_years,
                "eol_capability_years": r.eol_capability_years,
                "windows_simulated": r.info["windows_simulated"]}
    messages = sorted({str(w.message)[:300] for w in caught})
    out = {
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "numba": numba.__version__, "cpus": os.cpu_count(),
                    "load_average_start": load0, "load_average_end": os.getloadavg()},
        "ecm": {"name": ecm.name, "source": str(ECM_FILE.relative_to(HERE.parent)),
                "capacity_Ah": ecm.capacity_Ah},
        "window": {"duration_s": 3600.0, "dt_s": 1e-3, "steps": 3_600_000,
                   "racks": "8 x 125 kW, 50 % swing, 2 s period",
                   "one_window_wall_s": one_wall, "one_window_cpu_s": one_cpu},
        "ups": CONFIG,
        "projection": {
            "years": 15.0, "years_reached": float(res.time_years[-1]), "wall_s": wall, "cpu_s": cpu, "target_s": TARGET_S,
            "within_target_wall": wall <= TARGET_S, "within_target_cpu": cpu <= TARGET_S,
            "windows_simulated": res.info["windows_simulated"],
            "ride_through_checks": res.info["capability_runs"],
            "steps": res.info["steps"], "steps_rejected": res.info["steps_rejected"],
            "wall_over_one_window": wall / one_wall,
            "capacity_15y": float(res.capacity_fraction[-1]),
            "resistance_15y": float(res.resistance_factor[-1]),
            "eol_capacity_years": res.eol_capacity_years,
            "eol_capability_years": res.eol_capability_years,
            "eol_capability_reason": res.eol_capability_reason,
            "stopped": res.info["stopped"],
            "equivalent_full_cycles": float(res.efc[-1]),
            "last_window": res.info["last_window"],
        },
        "micro_weight_sensitivity": sens,
        "validity_messages": messages,
    }
    write_text(OUT, json.dumps(out, indent=2, default=float) + "\n")
    return out


if __name__ == "__main__":
    o = main()
    print(json.dumps({k: o[k] for k in ("projection", "micro_weight_sensitivity")}, indent=2,
                     default=float))
