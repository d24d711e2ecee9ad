"""Benchmark: a 10 x 10 x 5 heating map (swing depth x period x cooling) within 2 minutes.

Target (issue 6): the map within 120 s on this machine. Measured three ways, side by side
in one run:

- ``heating_map``: :func:`cellmodels.life.heating.heating_map` in this process (the
  periodic steady state solved directly at every point);
- ``study``: the same grid through the study runner, as ``cellmodels study heating`` runs
  it: a spawned local process pool, every point saved to the HDF5 study file, the PNG
  maps (pool start-up and file writes included);
- ``brute force``: what the map costs without the direct solve: a few points simulated
  with the compiled UPS string kernel (``simulate_string``, ~26 ns per step) from rest to
  12 thermal time constants at 200 steps a period, timed and extrapolated to 500 points;
  their agreement with the direct solve is reported too.

Cell: the semi-solid LFP reference cell's ECM (``validation/out/semisolid_lfp_power.ecm.h5``,
reduced first if missing, about 40 s).

Run: ``python validation/bench_heating.py``; writes validation/bench_heating.json.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

HERE = Path(__file__).resolve().parent
DEPTHS = [float(x) for x in __import__("numpy").geomspace(1e-4, 3e-3, 10)]
PERIODS = [float(x) for x in __import__("numpy").geomspace(0.5, 120.0, 10)]
COOLING = [0.2, 0.5, 1.0, 2.0, 5.0]
TARGET_S = 120.0


def reference_ecm(name: str = "semisolid_lfp_power"):
    """The reference cell's ECM from validation/out, reduced and saved if missing."""
    from cellmodels.reduction import load_ecm, save_ecm
    from cellmodels.reduction.identify import reduce_cell

    path = HERE / "out" / f"{name}.ecm.h5"
    if not path.exists():
        save_ecm(reduce_cell(name, progress=True), path)
    return load_ecm(path), path


def brute_force_point(ecm, depth, period, ha, *, steps=200, n_tau=12.0):
    """Mean temperature of the last period after ``n_tau`` thermal time constants."""
    import numpy as np

    from cellmodels.life.heating import periodic_heating, swing_waveform
    from cellmodels.ups import init_string, simulate_string, string_params

    d, i = swing_waveform(ecm, period_s=period, swing_depth=depth)
    direct = periodic_heating(ecm, d, i, heat_transfer_W_per_K=ha)
    dt = period / steps
    one = np.concatenate([np.full(round(d[0] / dt), i[0]), np.full(round(d[1] / dt), i[1])])
    sp = string_params(ecm, heat_transfer_W_per_K=ha)
    t0 = time.perf_counter()
    n_cycles = int(n_tau * ecm.thermal_mass_J_per_K / ha / period) + 1
    state = init_string(sp, soc=direct.orbit["soc"][0])
    block = max(1, 2_000_000 // one.size)
    done = 0
    while done < n_cycles:  # in blocks: a day of 1 ms steps does not fit in memory
        k = min(block, n_cycles - done)
        state = simulate_string(sp, state, dt, current_A=np.tile(one, k)).final
        done += k
    last = simulate_string(sp, state, dt, current_A=one)
    seconds = time.perf_counter() - t0
    return float(last.temperature_K.mean()), direct, seconds, n_cycles * one.size


def main() -> dict:
    import numpy as np

    from cellmodels.life.heating import heating_map
    from cellmodels.studies import load_study, parse_study_config, run_study

    load0 = os.getloadavg()
    ecm, ecm_path = reference_ecm()
    import warnings

    from cellmodels.reduction import ValidityWarning

    # warm-up (imports, first calls), not timed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidityWarning)
        heating_map(ecm, DEPTHS[:1], PERIODS[:1], COOLING[:1])
        t0 = time.perf_counter()
        hmap = heating_map(ecm, DEPTHS, PERIODS, COOLING)
        t_map = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        cfg = parse_study_config(
            {"cells": [str(ecm_path)], "name": "bench 10 x 10 x 5",
             "heating": {"swing_depth": DEPTHS, "period_s": PERIODS,
                         "heat_transfer_W_per_K": COOLING, "soc": 0.5}},
            kind="heating")
        t0 = time.perf_counter()
        summary = run_study(cfg, output=Path(tmp) / "bench.h5", workers=os.cpu_count(),
                            progress=False, plot=True)
        t_study = time.perf_counter() - t0
        res = load_study(summary.path)
        rows = res.table()
        study_vs_map = 0.0
        for r in rows:
            if r["status"] != "ok":
                continue
            a = DEPTHS.index(r["heating.swing_depth"])
            b = PERIODS.index(r["heating.period_s"])
            c = COOLING.index(r["heating.heat_transfer_W_per_K"])
            study_vs_map = max(study_vs_map, abs(r["rise_K"] - hmap.values["rise_K"][a, b, c]))

    # brute force on a few points spread over the grid
    picks = [(0, 0, 1), (4, 5, 2), (9, 9, 4), (6, 2, 0)]
    brute = []
    for a, b, c in picks:
        if (a, b, c) in hmap.errors:
            continue
        t_bf, direct, sec, steps = brute_force_point(ecm, DEPTHS[a], PERIODS[b], COOLING[c])
        brute.append({"swing_depth": DEPTHS[a], "period_s": PERIODS[b],
                      "heat_transfer_W_per_K": COOLING[c], "rise_direct_K": direct.rise_K,
                      "rise_brute_K": t_bf - direct.ambient_K,
                      "difference_K": t_bf - direct.temperature_mean_K,
                      "seconds": sec, "steps": steps})
    per_point = float(np.mean([b["seconds"] for b in brute]))
    n = len(DEPTHS) * len(PERIODS) * len(COOLING)
    result = {
        "what": "10 x 10 x 5 heating map: swing depth x period x cooling (hA), periodic "
                "steady state of the semi-solid reference cell's ECM at SOC 0.5, 25 degC",
        "machine": {"processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "load_average_start": list(load0), "load_average_end": list(os.getloadavg())},
        "ecm": {"name": ecm.name, "source": str(ecm_path.relative_to(HERE.parent)),
                "capacity_Ah": ecm.capacity_Ah,
                "thermal_time_constant_s_at_0.5_W_per_K": ecm.thermal_mass_J_per_K / 0.5},
        "grid": {"swing_depth": DEPTHS, "period_s": PERIODS, "heat_transfer_W_per_K": COOLING,
                 "points": n},
        "target_s": TARGET_S,
        "heating_map_in_process_s": t_map,
        "study_pool_s": t_study,
        "study_engine": summary.engine,
        "study_computed": summary.computed,
        "study_failed": summary.failed,
        "map_points_without_steady_state": len(hmap.errors),
        "max_abs_rise_difference_study_vs_map_K": study_vs_map,
        "met": bool(t_map < TARGET_S and t_study < TARGET_S),
        "brute_force": {"points": brute, "mean_seconds_per_point": per_point,
                        "extrapolated_map_s": per_point * n,
                        "speedup_vs_heating_map": per_point * n / t_map,
                        "max_abs_difference_K": max(abs(b["difference_K"]) for b in brute)},
    }
    out = HERE / "bench_heating.json"
    from cellmodels._atomic import write_text

    write_text(out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
