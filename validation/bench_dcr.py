"""Benchmark: DCR speed, cellmodels against stock PyBaMM on the same work, side by side.

Targets (issue 2): one 10 s DCR point, model build included, under 2 s warm; the
9 SOC x 4 temperature x 4 duration map under 60 s on this machine.

The peer is what a PyBaMM user writes today: a new ``pybamm.Simulation`` per point
with ``sim.solve([0, 10], initial_soc=soc)`` and the temperature set in the parameters.
Both run the same DFN (lumped thermal) of the same cell at the same tolerances.

Run: ``python validation/bench_dcr.py [CELL]``; writes validation/bench_dcr.json.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")


def _peer_point(cell, soc, temperature_K, current_A):
    import pybamm

    from cellmodels.physics.models import build_model

    pv = cell.parameter_values()
    pv.update({"Current function [A]": current_A, "Ambient temperature [K]": temperature_K,
               "Initial temperature [K]": temperature_K}, check_already_exists=False)
    sim = pybamm.Simulation(build_model(cell), parameter_values=pv,
                            solver=pybamm.IDAKLUSolver(rtol=1e-6, atol=1e-8))
    sol = sim.solve([0, 10.0], t_interp=[0, 1e-3, 0.1, 1.0, 10.0], initial_soc=soc)
    v = sol["Voltage [V]"].entries
    return (sol["Battery open-circuit voltage [V]"].entries[0] - v) / current_A


def main(cell_name: str = "semisolid_lfp_power") -> dict:
    import numpy as np

    import cellmodels as cm
    from cellmodels.dcr import PulseEngine, dcr_map

    cell = cm.load_cell(cell_name)
    current = cell.capacity_Ah
    # warm: imports done, one throw-away build so the process is in steady state
    PulseEngine(cell).pulse(0.5, 298.15, current)

    t0 = time.perf_counter()
    ours = PulseEngine(cell).pulse(0.5, 298.15, current)["dcr_Ohm"]
    t_point = time.perf_counter() - t0

    t0 = time.perf_counter()
    peer = _peer_point(cell, 0.5, 298.15, current)
    t_peer_point = time.perf_counter() - t0

    m = dcr_map(cell)
    t_map = m.seconds
    n_points = m.dcr_Ohm.shape[0] * m.dcr_Ohm.shape[1]

    t0 = time.perf_counter()
    peer_map = [_peer_point(cell, s, temp, current) for temp in m.temperature_K[:1]
                for s in m.soc]
    t_peer_row = time.perf_counter() - t0
    t_peer_map = t_peer_row * len(m.temperature_K)  # measured one temperature row of 9

    agree = float(np.max(np.abs(np.asarray(peer_map)[:, 1:] - m.dcr_Ohm[:, 0, :])))
    result = {
        "cell": cell.name,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": sys.version.split()[0],
        "point_s": {"cellmodels": t_point, "pybamm_per_point": t_peer_point,
                    "ratio": t_peer_point / t_point, "target": 2.0,
                    "met": t_point < 2.0},
        "map_9x4x4_s": {"cellmodels": t_map, "pybamm_per_point_extrapolated": t_peer_map,
                        "pybamm_row_measured_s": t_peer_row, "ratio": t_peer_map / t_map,
                        "target": 60.0, "met": t_map < 60.0, "points": n_points},
        "max_abs_difference_Ohm_vs_peer": agree,
        "point_dcr_mOhm": {"cellmodels": (ours * 1e3).tolist(),
                           "pybamm": (peer[1:] * 1e3).tolist()},
    }
    out = Path(__file__).with_name("bench_dcr.json")
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, out)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main(*sys.argv[1:])
