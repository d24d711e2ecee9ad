"""Benchmark: reducing a cell to its ECM, cellmodels against stock PyBaMM, side by side.

Target (issue 4): the reduction of ``semisolid_lfp_power`` on the default 11 SOC x 4
temperature grid (DFN, 2 RC) in <= 180 s on this 2-core machine.

cellmodels: ``ECMIdentifier().fit(cell)``, everything included (model build and
discretisation once, 44 solves of the identification sequence with the temperature and
current as inputs, the OCV tables, the variable-projection fit, the thermal constants).

The peer is what a stock PyBaMM user writes today to get the same data: per grid point a
fresh ``pybamm.Simulation`` (same DFN with the cell's options, isothermal, same
parameters, IDAKLU at the same tolerances) of the same zero-order-hold identification
sequence (the same interpolant, with the solver restarting at every edge, as
``cellmodels.physics.simulate`` does), at the same output times, scaling down the
discharge or the charge levels (x0.7) when the lower or upper cut-off is reached, as the
identifier does. Only one temperature row (11 points)
is measured and the peer's total is that row times 4 (stated in the JSON). The same row
is also solved through the identifier's engine (built once), so the total splits into
solves and fitting; the peer is reported without the fit (a lower bound) and with the
same fit added. One point is compared with the identifier's solver to show both do the
same work. The reduction with the Butler-Volmer element and SOC-centred sequences
(``current_dependence="butler-volmer", centre_soc=True``, the impedance case's setting)
is timed too: its fit has one more parameter per point.

Run: ``python validation/bench_reduction.py [CELL]``; writes validation/bench_reduction.json.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

TARGET_S = 180.0
PEER_ROW = 1  # index of the temperature row the peer is measured on


def _output_times(seq_t, seq_c):
    """The identifier's output times (as in ECMIdentifier.fit): every 0.5 s, every edge
    and 1 ms-0.3 s after each edge."""
    import numpy as np

    edges = seq_t[:-1][np.flatnonzero(np.diff(np.concatenate([[0.0], seq_c[:-1]])))]
    t_end = float(seq_t[-1])
    t_out = np.unique(np.concatenate(
        [np.arange(0.0, t_end, 0.5), [t_end], edges]
        + [edges + d for d in (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)]))
    return t_out[t_out <= t_end]


def _peer_point(cell, soc, temperature_K, amplitude_A, seq_t, seq_c, t_out, backoff):
    """A stock-PyBaMM solve of the identification sequence at one point."""
    import numpy as np
    import pybamm

    from cellmodels.physics.models import build_model
    from cellmodels.physics.simulate import EDGE_S, piecewise_constant

    a_dis = a_chg = amplitude_A
    for _ in range(13):
        pv = cell.parameter_values()
        shape = a_dis * np.maximum(seq_c, 0.0) + a_chg * np.minimum(seq_c, 0.0)
        current, edges = piecewise_constant(seq_t, shape, "Current function [A]")
        pv.update({"Current function [A]": current, "Ambient temperature [K]": temperature_K,
                   "Initial temperature [K]": temperature_K}, check_already_exists=False)
        sim = pybamm.Simulation(build_model(cell, "DFN", thermal="isothermal"),
                                parameter_values=pv,
                                solver=pybamm.IDAKLUSolver(rtol=1e-6, atol=1e-6))
        t_end = float(seq_t[-1])
        breaks = np.unique(np.concatenate([[0.0], edges - EDGE_S, edges, [t_end]]))
        sol = sim.solve(t_eval=breaks, t_interp=t_out, initial_soc=soc)
        term = str(sol.termination)
        if term == "final time":
            return (a_dis, a_chg), np.asarray(sol["Voltage [V]"](t=t_out),
                                              dtype=float).reshape(-1)
        if "Maximum voltage" not in term:
            a_dis *= backoff
        if "Minimum voltage" not in term:
            a_chg *= backoff
    raise RuntimeError(f"peer: cut-off at SOC {soc} even at {backoff}^12 of the current")


def main(cell_name: str = "semisolid_lfp_power") -> dict:
    import numpy as np

    import cellmodels as cm
    from cellmodels.reduction.identify import (
        ECMIdentifier,
        _SequenceEngine,
        identification_sequence,
    )

    cell = cm.load_cell(cell_name)
    # warm: imports and one small build, so both sides start in steady state
    ECMIdentifier(soc=(0.4, 0.6), temperature_K=[298.15], model="SPM").fit(cell)

    ident = ECMIdentifier()
    t0 = time.perf_counter()
    ident.fit(cell)
    ours_s = time.perf_counter() - t0
    soc = np.asarray(ident.soc, dtype=float)
    temps = sorted({r["temperature_K"] for r in ident.fit_table_})
    n_points = len(ident.fit_table_)
    ident_bv = ECMIdentifier(current_dependence="butler-volmer", centre_soc=True)
    t0 = time.perf_counter()
    ident_bv.fit(cell)
    bv_s = time.perf_counter() - t0

    seq_t, seq_c = identification_sequence(ident.seed, ident.sequence_s, ident.rest_s)
    t_out = _output_times(seq_t, seq_c)
    row_temp = temps[PEER_ROW]
    t0 = time.perf_counter()
    peer = [_peer_point(cell, s, row_temp, cell.capacity_Ah, seq_t, seq_c, t_out,
                        ident.backoff) for s in soc]
    peer_row_s = time.perf_counter() - t0
    peer_total_s = peer_row_s * len(temps)

    # the identifier's own solves of the same row (one engine, built once), so the fit
    # and table time can be split off: the peer needs that step too
    t0 = time.perf_counter()
    engine = _SequenceEngine(cell, "DFN", seq_t, seq_c)
    sols = [engine.solve(s, row_temp, a[0], a[1], float(seq_t[-1]), t_out)
            for s, (a, _) in zip(soc, peer, strict=True)]
    ours_row_s = time.perf_counter() - t0
    ours_solves_s = ours_row_s * len(temps)
    fit_s = max(ours_s - ours_solves_s, 0.0)

    # same work: one point through the identifier's engine
    k = soc.size // 2
    sol = sols[k]
    t = sol["Time [s]"].entries
    keep = np.isin(t, t_out)
    diff = float(np.max(np.abs(sol["Voltage [V]"].entries[keep] - peer[k][1])))
    amps_ours = [(r["amplitude_A"], r["charge_amplitude_A"]) for r in ident.fit_table_
                 if r["temperature_K"] == row_temp]

    result = {
        "cell": cell.name,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": sys.version.split()[0],
        "pybamm": __import__("pybamm").__version__,
        "grid": {"soc": soc.tolist(), "temperature_K": [float(x) for x in temps],
                 "points": n_points, "n_rc": ident.n_rc, "model": ident.model,
                 "sequence_s": ident.sequence_s, "rest_s": ident.rest_s},
        "reduction_s": {
            "cellmodels": ours_s,
            "cellmodels_reported_seconds_": ident.seconds_,
            "pybamm_fresh_simulation_per_point_extrapolated": peer_total_s,
            "pybamm_row_measured_s": peer_row_s,
            "pybamm_row_temperature_K": float(row_temp),
            "pybamm_note": (f"peer measured on one temperature row ({soc.size} points at "
                            f"{row_temp:g} K) and multiplied by {len(temps)}; solves only, "
                            "fitting excluded (a lower bound)"),
            "ratio": peer_total_s / ours_s,
            "cellmodels_solves_row_measured_s": ours_row_s,
            "cellmodels_solves_extrapolated": ours_solves_s,
            "fit_and_tables_s": fit_s,
            "pybamm_with_the_same_fit_s": peer_total_s + fit_s,
            "ratio_with_fit": (peer_total_s + fit_s) / ours_s,
            "split_note": ("cellmodels' own solves of the same row (one engine: build once, "
                           "11 solves) times 4; fit_and_tables_s = total - that, which a "
                           "PyBaMM user would spend as well (pybamm_with_the_same_fit_s)"),
            "target": TARGET_S,
            "met": bool(ours_s <= TARGET_S),
            "cellmodels_butler_volmer_centred": bv_s,
            "met_butler_volmer_centred": bool(bv_s <= TARGET_S),
        },
        "same_work_check": {
            "point": {"soc": float(soc[k]), "temperature_K": float(row_temp)},
            "max_abs_voltage_difference_V": diff,
            "amplitudes_equal": bool(np.allclose([p[0] for p in peer], amps_ours)),
        },
        "identification_rmse_mV": {
            "mean": 1e3 * ident.ecm_.error["identification_rmse_V_mean"],
            "max": 1e3 * ident.ecm_.error["identification_rmse_V_max"],
            "butler_volmer_centred_mean": 1e3 * ident_bv.ecm_.error[
                "identification_rmse_V_mean"],
            "butler_volmer_centred_max": 1e3 * ident_bv.ecm_.error[
                "identification_rmse_V_max"],
        },
    }
    out = Path(__file__).with_name("bench_reduction.json")
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, out)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main(*sys.argv[1:])
