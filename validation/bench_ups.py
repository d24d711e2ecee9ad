"""Benchmark: the UPS kernel against PyBaMM's Thevenin model (IDAKLU) on the same profile
and tables, plus the acceptance cases of issue 5 (smoothing, outage, memory).

What is measured, side by side in one run (figures to validation/bench_ups.json):

- **The cell.** The reference ECM of the PU-class semi-solid LFP power cell
  (``semisolid_lfp_power``, 2 RC), from ``validation/out`` when a validation run left it
  there, else identified here (``ECMIdentifier``, about a minute) and cached.
- **The profile.** One hour at 1 ms (3.6 million steps) of a 1 MW facility: 8 racks of
  125 kW training synchronously (``cellmodels.dutycycles.synchronized_training``: 50 %
  swing, 2 s period with 2 % jitter, 70 % compute, 2 ms edges, a 30 s checkpoint every
  30 min, 5 s job ramps).
- **The UPS.** Double conversion, 1.25 MW rectifier and inverter with efficiency curves,
  the battery (250 series x 10 parallel cells, ~810 V, 162 kWh) on the DC link, the
  smoothing controller on (10 s filter, 20 kW/s grid ramp limit, SOC restoring), BMS
  limits from the ECM. With identical cells the string is one simulated representative
  cell (``lumped``): this is the "one representative cell, controller on" figure.
- **Ours, steady state.** ``simulate_ups`` on the hour, after a warm-up call (numba's
  compile time excluded from the figure; measured separately in a fresh process with an
  empty cache and reported). Five runs, the best reported; wall and CPU (process) time; the machine has two
  cores shared with other work, so the CPU time is the steadier figure.
- **PyBaMM on the same profile.** ``pybamm.equivalent_circuit.Thevenin`` (via
  ``cellmodels.export.pybamm_ecm``: the same tables, our OCV temperature term, our
  thermal mapping), power mode, IDAKLU (rtol 1e-6, atol 1e-8), fed the representative
  cell's battery power from our UPS run at 1 ms: a linear ``Interpolant`` whose value
  jumps within 1 us after each step boundary (PyBaMM interpolants are linear only; with
  shorter ramps IDA fails its error test). A whole hour (7.2 million interpolant nodes)
  is out of reach, so PyBaMM runs 10 s windows (10,000 steps each) at three places in
  the hour, each from our state at the window's start (SOC, temperature, RC voltages),
  and its time per step is extrapolated to the hour (the windows' mean, x 360).
  Agreement: PyBaMM's voltage against ours on the windows.
- **PyBaMM's best case.** The same cell on a pure square swing (the racks' 2 s, 70 %
  cycle at the cell's share, no jitter, no controller) as a list of Heaviside edges
  (``piecewise_constant_current``): IDAKLU restarts at each edge and takes long steps in
  between; outputs interpolated at 1 ms. 60 s, extrapolated to the hour; ours on the same
  square swing (``simulate_string``-style power mode, no controller) for the full hour.
- **The one-cell loop.** The kernel's specialised one-cell UPS loop (what simulate_ups
  runs for the lumped string) against its general loop on the same hour, kernel calls
  only, side by side.
- **Strings.** 1,000 cells with 2 % capacity and 5 % resistance spread, every cell
  simulated (250 x 4 and 1000 x 1), controller on: cell-steps per second.
- **Agreement.** Kernel vs ``simulate_ecm`` (same steps, "start" hold), vs
  ``solve_ivp`` (continuous power, rtol 1e-10) and vs PyBaMM (above).
- **The charge-transfer element.** The one-cell UPS with the ECM's optional
  Butler-Volmer-like element (a Newton solve per step instead of the closed form; the
  bench cell is given one, R_ct = R0/2, I0 = 20 A, when it has none): ns per step, and
  the kernel against ``simulate_ecm`` with the element.
- **The OCV hysteresis.** The one-cell UPS and the 250 x 4 string with the ECM's
  optional one-state hysteresis (a state h per cell; the bench cell given one, M = 10 mV,
  gamma = 40 per unit SOC, when it has none), side by side with the same cell without
  it: ns per step; and the kernel against ``simulate_ecm`` with it (and with the
  charge-transfer element as well). ``--only hysteresis``
  runs this case alone and updates its entry in the JSON (the other figures kept).
- **Acceptance cases.** Smoothing (controller off vs on, grid 0.1-2 Hz amplitude, grid
  ramp, SOC over 24 simulated hours: 24 one-hour profiles chained through the final
  state); a 10 s outage with a generator (10 s start, 5 s ramp) for a sized string and
  an undersized one (4 parallel instead of 10: its cells' 100 A charge and 200 A
  discharge limits are hit by the swings and the outage, every activation counted, and
  1 MW cannot be carried through the outage: the unserved energy is reported); memory of
  the hour's decimated result.
  ValidityWarnings (the ECM used beyond the range it was identified over, e.g. the
  outage's cell currents above the identified 100 A) are recorded in the JSON.

Run: ``python validation/bench_ups.py`` (about 10 minutes; ``--quick`` skips the 24 h
run and shortens PyBaMM). Writes validation/bench_ups.json atomically.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
# numpy's BLAS threads spin after a call and steal the second core from the kernel
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "bench_ups.json"
DT = 1e-3
N_SERIES, N_PARALLEL = 250, 10
RACK_W, N_RACKS = 125e3, 8
COOLANT_K = 298.15
# timed runs of each of our figures (and of PyBaMM's best case): the best is reported, as
# the machine is shared (other work only ever adds time to a run, never removes it)
REPEATS = 5
TARGETS = {
    "speed_ratio_vs_pybamm_same_profile": 120.0,
    "cell_steps_per_s_one_cell": 2e7,
    "cell_steps_per_s_1000_cells": 3e7,
    "decimated_output_MB": 100.0,
    "agreement_vs_simulate_ecm_V": 1e-9,
    "agreement_vs_solve_ivp_V": 0.5e-3,
    "agreement_vs_pybamm_V": 1e-3,
    "grid_oscillation_reduction_0.1-2Hz": 10.0,
}


# ------------------------------------------------------------------------------------
# set-up
# ------------------------------------------------------------------------------------
def reference_ecm():
    from cellmodels.reduction import load_ecm, save_ecm

    for path in (HERE / "out" / "semisolid_lfp_power.ecm.h5",
                 HERE / "out" / "bench_ups" / "semisolid_lfp_power.ecm.h5"):
        if path.exists():
            return load_ecm(path), str(path.relative_to(HERE.parent))
    from cellmodels.reduction.identify import ECMIdentifier

    ecm = ECMIdentifier(n_rc=2).fit("semisolid_lfp_power").ecm_
    path = save_ecm(ecm, HERE / "out" / "bench_ups" / "semisolid_lfp_power.ecm.h5")
    return ecm, str(path.relative_to(HERE.parent)) + " (identified by this run)"


def facility_profile(seed: int = 1, *, start_ramp=5.0, stop_ramp=5.0, duration_s=3600.0):
    from cellmodels.dutycycles import synchronized_training

    return synchronized_training(rack_peak_W=RACK_W, n_racks=N_RACKS, swing_depth=0.5,
                                 period_s=2.0, duration_s=duration_s, dt_s=DT,
                                 job_start_ramp_s=start_ramp, job_stop_ramp_s=stop_ramp,
                                 seed=seed)


def ups_config(*, smoothing=True, n_parallel=N_PARALLEL, spread=False, n_series=N_SERIES,
               events=None, generator=None):
    from cellmodels.ups import UPSConfig

    battery = {"n_series": n_series, "n_parallel": n_parallel,
               "coolant_temperature_K": COOLANT_K, "initial_temperature_K": COOLANT_K}
    if spread:
        battery.update(capacity_spread=0.02, resistance_spread=0.05, seed=3)
    grid = {"events": events or []}
    if generator:
        grid["generator"] = generator
    return UPSConfig.from_dict({
        "rectifier": {"rated_W": 1.25e6,
                      "efficiency": [[0.0, 0.90], [0.1, 0.94], [0.25, 0.965], [0.5, 0.972],
                                     [1.0, 0.965]]},
        "inverter": {"rated_W": 1.25e6,
                     "efficiency": [[0.0, 0.90], [0.1, 0.95], [0.25, 0.97], [0.5, 0.976],
                                    [1.0, 0.97]]},
        "battery": battery,
        "controller": {"smoothing": smoothing, "filter_time_constant_s": 10.0,
                       "ramp_limit_W_per_s": 20e3, "soc_target": 0.6,
                       "soc_band": [0.45, 0.75], "soc_restore_time_s": 1800.0,
                       "soc_restore_max_W": 100e3},
        "grid": grid,
        "output": {"decimation_s": 1.0, "spectral_s": 0.004, "ride_through_s": 10.0},
    })


def timed(fn, *args, **kw):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    return out, time.perf_counter() - w0, time.process_time() - c0


# ------------------------------------------------------------------------------------
# ours
# ------------------------------------------------------------------------------------
_COMPILE_SNIPPET = """
import os, time, json, numpy as np
os.environ["PYBAMM_DISABLE_TELEMETRY"] = "true"
t0 = time.perf_counter()
from cellmodels.ups import simulate_ups, UPSConfig
t_import = time.perf_counter() - t0
import sys
sys.path.insert(0, {here!r})
from bench_ups import reference_ecm, ups_config
ecm, _ = reference_ecm()
cfg = ups_config()
load = np.full(2000, 5e5)
t0 = time.perf_counter(); simulate_ups(ecm, load, cfg, dt_s=1e-3)
first = time.perf_counter() - t0
t0 = time.perf_counter(); simulate_ups(ecm, load, cfg, dt_s=1e-3)
second = time.perf_counter() - t0
print(json.dumps({{"first_call_s": first, "second_call_s": second}}))
"""


def compile_time() -> dict:
    """numba's compile time: a fresh process with an empty cache, first call minus second."""
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET.format(here=str(HERE))],
                             env=env, capture_output=True, text=True, check=True,
                             cwd=HERE.parent)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    d["compile_s"] = d["first_call_s"] - d["second_call_s"]
    return d


def ours_hour(ecm, load, cfg, runs=REPEATS) -> dict:
    from cellmodels.ups import simulate_ups, ups_params

    params = ups_params(ecm, cfg, DT)
    simulate_ups(ecm, load[:5000], cfg, dt_s=DT, params=params)  # warm-up (cache load)
    walls, cpus, res = [], [], None
    for _ in range(runs):
        res, wall, cpu = timed(simulate_ups, ecm, load, cfg, dt_s=DT, params=params)
        walls.append(wall)
        cpus.append(cpu)
    tracemalloc.start()
    res_m = simulate_ups(ecm, load, cfg, dt_s=DT, params=params)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n = load.size
    best = min(cpus)
    return {
        "result": res_m,
        "steps": n,
        "wall_s": walls,
        "cpu_s": cpus,
        "ns_per_step_cpu_best": best / n * 1e9,
        "ns_per_step_wall_best": min(walls) / n * 1e9,
        "cell_steps_per_s_cpu_best": n / best,
        "cell_steps_per_s_wall_best": n / min(walls),
        "decimated_result_MB": res.nbytes / 1e6,
        "run_peak_traced_MB": peak / 1e6,
    }


def ours_loops(ecm, load, cfg, runs=3) -> dict:
    """The one-cell UPS hour through the kernel's specialised one-cell loop (what
    simulate_ups runs for a lumped string) and through its general loop, side by side
    (kernel calls only, bins as simulate_ups: the loops' own cost)."""
    from cellmodels.ups import kernel as K
    from cellmodels.ups import system as S
    from cellmodels.ups import ups_params

    params = ups_params(ecm, cfg, DT)
    chunk = 100_000
    out = {}
    for name, generic in (("specialised_one_cell_loop", False), ("general_loop", True)):
        def run(generic=generic):
            state = S.init(params, load_W=float(load[0]))
            w = S._work(params, state, load.size, 1000, 4, False, chunk)
            w["generic"] = generic
            for a in range(0, load.size, chunk):
                K.run_chunk(K.MODE_UPS, params.string, params.plant, params.control,
                            params.schedule, load[a:a + chunk], DT, w, a + chunk >= load.size)
            return w

        run()  # warm-up
        cpus = [timed(run)[2] for _ in range(runs)]
        out[name] = {"cpu_s": cpus, "ns_per_step_cpu_best": min(cpus) / load.size * 1e9}
    out["used_by_simulate_ups"] = bool(K.one_cell_loop(K.MODE_UPS, params.string))
    return out


def ours_string_speed(ecm, n_series, n_parallel, seconds=20.0, runs=REPEATS) -> dict:
    from cellmodels.ups import simulate_ups, ups_params

    cfg = ups_config(n_series=n_series, n_parallel=n_parallel, spread=True)
    prof = facility_profile(duration_s=seconds + 2.0, start_ramp=0.0, stop_ramp=0.0)
    load = prof.to_grid(DT)[:round(seconds / DT)]
    params = ups_params(ecm, cfg, DT)
    simulate_ups(ecm, load[:200], cfg, dt_s=DT, params=params)
    cpus, walls = [], []
    for _ in range(runs):
        _, wall, cpu = timed(simulate_ups, ecm, load, cfg, dt_s=DT, params=params)
        cpus.append(cpu)
        walls.append(wall)
    cells = n_series * n_parallel
    return {"cells": cells, "layout": f"{n_series}s x {n_parallel}p", "steps": load.size,
            "cpu_s": cpus, "wall_s": walls,
            "cell_steps_per_s_cpu_best": cells * load.size / min(cpus),
            "cell_steps_per_s_wall_best": cells * load.size / min(walls),
            "ns_per_cell_step_cpu_best": min(cpus) / (cells * load.size) * 1e9}


def kernel_power_run(params, state, power, chunk=100_000):
    """Our kernel in power mode (no controller), chunked, bins only; returns the work."""
    from cellmodels.ups import kernel as K

    plant, control, schedule = K._no_plant()
    n = power.size
    w = K.work_arrays(params, state, n, 1000, 4, False, chunk)
    for a in range(0, n, chunk):
        fail = K.run_chunk(K.MODE_POWER, params, plant, control, schedule, power[a:a + chunk],
                           DT, w, a + chunk >= n)
        if fail >= 0:
            raise RuntimeError(f"power beyond the cell at step {fail}")
    return w


# ------------------------------------------------------------------------------------
# PyBaMM
# ------------------------------------------------------------------------------------
def _pybamm_values(ecm, z0, t0, rc_v, power_fn):
    import pybamm

    from cellmodels.export.pybamm_ecm import pybamm_model, to_pybamm_parameter_values

    model = pybamm_model(ecm, options={"operating mode": "power"})
    values = to_pybamm_parameter_values(ecm, initial_soc=float(z0), temperature_K=float(t0),
                                        ambient_K=COOLANT_K)
    del values["Current function [A]"]
    values.update({"Power function [W]": power_fn}, check_already_exists=False)
    for k, v in enumerate(rc_v):
        # PyBaMM's element overpotential is minus our RC voltage (V = OCV - R0 I + sum eta)
        values[f"Element-{k + 1} initial overpotential [V]"] = -float(v)
    solver = pybamm.IDAKLUSolver(rtol=1e-6, atol=1e-8, output_variables=["Voltage [V]"])
    return pybamm.Simulation(model, parameter_values=values, solver=solver)


def pybamm_window(ecm, z0, t0, rc_v, power_W) -> dict:
    """PyBaMM on a 1 ms zero-order-hold power window (linear interpolant, 1 us edges)."""
    import pybamm

    n = power_W.size
    span = n * DT
    t = np.arange(n) * DT
    eps = 1e-6
    tn = np.empty(2 * n)
    tn[0::2] = t + eps
    tn[0] = 0.0
    tn[1::2] = t + DT
    pn = np.repeat(power_W, 2)
    fn = pybamm.Interpolant(tn, pn, pybamm.t, interpolator="linear", name="cell power")
    sim = _pybamm_values(ecm, z0, t0, rc_v, fn)
    _, build_wall, build_cpu = timed(sim.build)
    t_interp = np.append(t + 2 * eps, span)
    sol, wall, cpu = timed(sim.solve, t_eval=[0.0, span], t_interp=t_interp)
    v = np.interp(t_interp[:-1], sol.t, sol["Voltage [V]"].entries)
    return {"steps": n, "build_cpu_s": build_cpu, "solve_cpu_s": cpu, "solve_wall_s": wall,
            "build_wall_s": build_wall, "voltage_V": v}


def pybamm_edges(ecm, p_low, p_high, seconds) -> dict:
    """PyBaMM's best case: a square swing as Heaviside edges, outputs every 1 ms."""
    from cellmodels.export.pybamm_ecm import piecewise_constant_current

    edges, values = [0.0], [p_high]
    t = 0.0
    while t < seconds:
        edges += [t + 1.4, t + 2.0]
        values += [p_low, p_high]
        t += 2.0
    keep = np.array(edges) < seconds
    tk, pk = np.array(edges)[keep], np.array(values)[keep]
    sim = _pybamm_values(ecm, 0.6, COOLANT_K, np.zeros(ecm.n_rc),
                         piecewise_constant_current(tk, pk))
    _, _, build_cpu = timed(sim.build)
    n = round(seconds / DT)
    # outputs just after each step's start (an edge's right limit, as ours are)
    t_interp = np.append(np.arange(n) * DT + 2e-6, seconds)
    sol, wall, cpu = timed(sim.solve, t_eval=[0.0, seconds], t_interp=t_interp)
    return {"steps": n, "edges": int(tk.size - 1), "build_cpu_s": build_cpu,
            "solve_cpu_s": cpu, "solve_wall_s": wall,
            "voltage_V": np.interp(t_interp[:-1], sol.t, sol["Voltage [V]"].entries)}


def square_swing(p_low, p_high, seconds):
    t = np.arange(round(seconds / DT)) * DT
    return np.where((t % 2.0) < 1.4 - 1e-9, p_high, p_low)


# ------------------------------------------------------------------------------------
# agreement against the reference simulator and solve_ivp
# ------------------------------------------------------------------------------------
def agreement_simulate_ecm(ecm, power) -> float:
    from cellmodels.reduction import simulate_ecm
    from cellmodels.ups import init_string, simulate_string, string_params

    params = string_params(ecm, coolant_temperature_K=COOLANT_K, power_hold="start")
    run = simulate_string(params, init_string(params, soc=0.6, temperature_K=COOLANT_K), DT,
                          power_W=power)
    t = np.arange(power.size + 1) * DT
    ref = simulate_ecm(ecm, t, power_W=np.append(power, power[-1]), initial_soc=0.6,
                       temperature_K=COOLANT_K, ambient_K=COOLANT_K)
    return float(np.max(np.abs(run.voltage_V - ref.voltage_V[:-1])))


def agreement_solve_ivp(ecm, power) -> float:
    from scipy.integrate import solve_ivp

    from cellmodels.ups import init_string, simulate_string, string_params

    params = string_params(ecm, coolant_temperature_K=COOLANT_K)
    run = simulate_string(params, init_string(params, soc=0.6, temperature_K=COOLANT_K), DT,
                          power_W=power)
    q_as = ecm.capacity_Ah * 3600.0
    c_th, ha = ecm.thermal_mass_J_per_K, ecm.heat_transfer_W_per_K

    def source(y, p):
        e = ecm.ocv(y[0], y[1]) - y[2:].sum()
        r0 = ecm.r0(y[0], y[1])
        return 2 * p / (e + math.sqrt(e * e - 4 * r0 * p)), e, r0

    def rhs(_, y, p):
        i, _e, r0 = source(y, p)
        r, tau = ecm.rc(y[0], y[1])
        q = r0 * i * i + i * y[2:].sum() - i * y[1] * ecm.docv_dT(y[0])
        return np.concatenate([[-i / q_as, (q - ha * (y[1] - COOLANT_K)) / c_th],
                               (r * i - y[2:]) / tau])

    y = np.concatenate([[0.6, COOLANT_K], np.zeros(ecm.n_rc)])
    volts = np.empty(power.size)
    cuts = np.concatenate([[0], np.flatnonzero(np.diff(power) != 0) + 1, [power.size]])
    for a, b in itertools.pairwise(cuts):
        te = np.arange(a, b + 1) * DT
        sol = solve_ivp(rhs, (te[0], te[-1]), y, args=(power[a],), method="DOP853",
                        t_eval=te, rtol=1e-10, atol=1e-12)
        for j in range(b - a):
            i, e, r0 = source(sol.y[:, j], power[a])
            volts[a + j] = e - r0 * i
        y = sol.y[:, -1]
    return float(np.max(np.abs(run.voltage_V - volts)))


# ------------------------------------------------------------------------------------
# acceptance cases
# ------------------------------------------------------------------------------------
def ct_element_case(ecm, load, runs=3) -> dict:
    """The one-cell UPS with the charge-transfer element (a Newton solve per step instead
    of the closed form): the bench cell given an element (R_ct = R0 / 2, I0 = 20 A:
    strongly nonlinear over its +-100 A) unless it has one; ns per step and the kernel
    against simulate_ecm with the element."""
    from cellmodels.ups import simulate_ups, ups_params

    own = ecm.has_ct
    if not own:
        ecm = ecm.replace(ct_R_Ohm=0.5 * ecm.r0_Ohm, ct_i0_A=np.full_like(ecm.r0_Ohm, 20.0))
    seg = load[:600_000]
    cfg = ups_config()
    params = ups_params(ecm, cfg, DT)
    simulate_ups(ecm, seg[:5000], cfg, dt_s=DT, params=params)
    cpus = [timed(simulate_ups, ecm, seg, cfg, dt_s=DT, params=params)[2] for _ in range(runs)]
    rng = np.random.default_rng(0)
    pw = np.repeat(rng.uniform(-60.0, 150.0, 40), 250)
    return {"steps": int(seg.size), "cpu_s": cpus,
            "ns_per_step_cpu_best": min(cpus) / seg.size * 1e9,
            "kernel_vs_simulate_ecm_max_abs_dV_V": agreement_simulate_ecm(ecm, pw),
            "element": "the ECM's own" if own else "R_ct = R0 / 2, I0 = 20 A (added)",
            }


def hysteresis_case(ecm, load, runs=3) -> dict:
    """The UPS with the OCV hysteresis: the bench cell given one (M = 10 mV flat, gamma =
    40 per unit SOC, h0 = 0) unless it has one; ns per step of the one-cell UPS (the
    specialised loop) and per cell-step of the 250 x 4 string (spread, every cell), each
    side by side with the same cell without hysteresis, and the kernel against
    simulate_ecm with it (start hold, a charge/discharge swing)."""
    from cellmodels.ups import simulate_ups, ups_params

    own = ecm.has_hysteresis
    hys = ecm if own else ecm.replace(hysteresis_V=np.full(ecm.soc.size, 0.01),
                                      hysteresis_rate=40.0, hysteresis_initial=0.0)
    plain = ecm.replace(hysteresis_V=None, hysteresis_rate=None, hysteresis_initial=None)
    seg = load[:600_000]
    cfg = ups_config()
    out: dict = {"steps": int(seg.size),
                 "hysteresis": "the ECM's own" if own else "M = 10 mV, gamma = 40, h0 = 0 "
                                                           "(added)"}
    for name, e in (("plain", plain), ("hysteresis", hys)):
        params = ups_params(e, cfg, DT)
        simulate_ups(e, seg[:5000], cfg, dt_s=DT, params=params)
        cpus = [timed(simulate_ups, e, seg, cfg, dt_s=DT, params=params)[2]
                for _ in range(runs)]
        out[f"one_cell_{name}_ns_per_step_cpu_best"] = min(cpus) / seg.size * 1e9
        st = ours_string_speed(e, 250, 4, seconds=10.0, runs=runs)
        out[f"string_250x4_{name}_ns_per_cell_step_cpu_best"] = st["ns_per_cell_step_cpu_best"]
    rng = np.random.default_rng(0)
    pw = np.repeat(rng.uniform(-60.0, 150.0, 40), 250)
    out["kernel_vs_simulate_ecm_max_abs_dV_V"] = agreement_simulate_ecm(hys, pw)
    # with the charge-transfer element too (its Newton solve takes M h in the source; a
    # kernel specialisation of its own, checked here rather than in the unit tests, whose
    # cold compile it would lengthen by ~30 s)
    both = hys if hys.has_ct else hys.replace(ct_R_Ohm=0.5 * hys.r0_Ohm,
                                               ct_i0_A=np.full_like(hys.r0_Ohm, 20.0))
    out["kernel_vs_simulate_ecm_with_ct_element_max_abs_dV_V"] = agreement_simulate_ecm(both,
                                                                                      pw)
    return out


def smoothing_day(ecm, hours: int) -> dict:
    from cellmodels.ups import simulate_ups, ups_params

    cfg = ups_config()
    params = ups_params(ecm, cfg, DT)
    state = None
    soc_lo, soc_hi, osc, ramps, acts, unserved = 1.0, 0.0, [], [], 0, 0.0
    for h in range(hours):
        prof = facility_profile(seed=100 + h, start_ramp=5.0 if h == 0 else 0.0,
                                stop_ramp=5.0 if h == hours - 1 else 0.0)
        res = simulate_ups(ecm, prof, cfg, params=params, initial_state=state)
        state = res.final_state
        m = res.metrics()
        soc_lo, soc_hi = min(soc_lo, m["soc_min"]), max(soc_hi, m["soc_max"])
        osc.append(m["oscillation_W"]["grid_0.1-2Hz"])
        ramps.append(m["grid_max_ramp_W_per_s"])
        acts += m["limit_activations"]
        unserved += m["unserved_J"]
    band = list(cfg.controller.soc_band)
    return {"hours": hours, "soc_min": soc_lo, "soc_max": soc_hi, "soc_band": band,
            "soc_inside_band": bool(soc_lo >= band[0] and soc_hi <= band[1]),
            "grid_0.1-2Hz_amplitude_W_per_hour": osc, "grid_max_ramp_W_per_s": max(ramps),
            "limit_activations": acts, "unserved_J": unserved}


def outage_case(ecm, n_parallel) -> dict:
    from cellmodels.ups import simulate_ups

    prof = facility_profile(duration_s=300.0, start_ramp=0.0, stop_ramp=0.0, seed=9)
    cfg = ups_config(n_parallel=n_parallel,
                     events=[{"start_s": 120.0, "duration_s": 10.0, "voltage": 0.0}],
                     generator={"rated_W": 1.25e6, "start_delay_s": 10.0, "ramp_s": 5.0})
    res = simulate_ups(ecm, prof, cfg)
    m = res.metrics()
    return {"n_parallel": n_parallel, "cells": N_SERIES * n_parallel,
            "unserved_J": m["unserved_J"],
            "unserved_activations": res.limits["unserved"]["activations"],
            "limit_activations": {k: v["activations"] for k, v in res.limits.items()
                                  if v["activations"]},
            "ride_through_available_s": m["ride_through_available_s"],
            "ride_through_margin_s": m["ride_through_margin_s"],
            "ride_through_power_ok": m["ride_through_power_ok"],
            "soc_min": m["soc_min"], "peak_cell_temperature_K": m["peak_cell_temperature_K"],
            "message": res.message}


# ------------------------------------------------------------------------------------
def main(argv=None) -> dict:
    import warnings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the 24 h run, shorter PyBaMM")
    ap.add_argument("--only", choices=("hysteresis",),
                    help="run only this case and update its entry in the JSON")
    args = ap.parse_args(argv)
    if args.only:
        return _only(args.only)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        report = _bench(args)
    report["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in seen})
    from cellmodels._atomic import write_text

    write_text(OUT, json.dumps(report, indent=2, default=float) + "\n")
    for k, v in report["targets"].items():
        print(f"{k:45s} {'met' if v['met'] else 'NOT met':8s} {v['value']!s:.60} "
              f"(target {v['target']})")
    print(f"wrote {OUT}")
    return report


def _only(case: str) -> dict:
    """Run one case (``hysteresis``) and update its entry in the JSON, keeping the rest."""
    from cellmodels._atomic import write_text

    report = json.loads(OUT.read_text()) if OUT.exists() else {}
    ecm, source = reference_ecm()
    load = facility_profile().to_grid(DT)
    entry = hysteresis_case(ecm, load)
    entry["ecm_source"] = source
    entry["load_average"] = list(os.getloadavg())
    report["hysteresis_one_cell"] = entry
    write_text(OUT, json.dumps(report, indent=2, default=float) + "\n")
    print(json.dumps(entry, indent=2, default=float))
    print(f"updated {case} in {OUT}")
    return report


def _bench(args) -> dict:
    import numba
    import pybamm

    from cellmodels.ups import simulate_ups

    report: dict = {"machine": {"python": platform.python_version(),
                                "numpy": np.__version__, "numba": numba.__version__,
                                "pybamm": pybamm.__version__, "cpus": os.cpu_count(),
                                "load_average_start": list(os.getloadavg())}}
    ecm, source = reference_ecm()
    report["ecm"] = {"name": ecm.name, "source": source, "n_rc": ecm.n_rc,
                     "grid": [len(ecm.soc), len(ecm.temperature_K)],
                     "capacity_Ah": ecm.capacity_Ah}
    print(f"ECM {ecm.name} from {source}", flush=True)

    prof = facility_profile()
    load = prof.to_grid(DT)
    report["profile"] = {"name": prof.name, "steps": int(load.size), "dt_s": DT,
                         "energy_Wh": prof.energy_Wh, "max_W": float(load.max())}
    cfg = ups_config()
    n_cells = N_SERIES * N_PARALLEL

    print("compile time (fresh process, empty cache) ...", flush=True)
    report["compile"] = compile_time()

    print("ours: one hour, controller on ...", flush=True)
    ours = ours_hour(ecm, load, cfg)
    res = ours.pop("result")
    m = res.metrics()
    report["ours_one_hour"] = {k: v for k, v in ours.items()}
    report["ours_one_hour"]["metrics"] = {
        k: m[k] for k in ("grid_max_ramp_W_per_s", "oscillation_W", "oscillation_reduction",
                          "equivalent_full_cycles_per_day", "rms_current_A",
                          "peak_cell_temperature_K", "efficiency", "limit_activations",
                          "unserved_J", "soc_min", "soc_max", "energy_balance_residual_J",
                          "ride_through_margin_s")}
    e = res.energy_J
    report["ours_one_hour"]["energy_balance_relative"] = abs(
        res.energy_balance_residual_J()) / e["load_served_J"]

    print("ours: the one-cell loop against the general loop ...", flush=True)
    report["ours_one_hour_loops"] = ours_loops(ecm, load, cfg)

    print("ours: 1000-cell strings ...", flush=True)
    report["strings"] = [ours_string_speed(ecm, 250, 4), ours_string_speed(ecm, 1000, 1)]

    print("PyBaMM on the same profile (windows) ...", flush=True)
    params_cfg = cfg
    windows = [600.0, 1795.0, 3000.0] if not args.quick else [600.0]
    span = 10.0
    state, last = None, 0
    wins = []
    for start in windows:
        k0 = round(start / DT)
        if k0 > last:
            state = simulate_ups(ecm, load[last:k0], params_cfg, dt_s=DT,
                                 initial_state=state).final_state
        k1 = k0 + round(span / DT)
        w_res = simulate_ups(ecm, load[k0:k1], params_cfg, dt_s=DT, initial_state=state,
                             full_resolution=True)
        z0, t0 = state.cells.soc[0], state.cells.temperature_K[0]
        rc_v = state.cells.rc_V[0]
        cell_p = w_res.full["battery_W"] / n_cells
        pb = pybamm_window(ecm, z0, t0, rc_v, cell_p)
        v_ours = w_res.full["cell_voltage_min_V"]
        dv = np.abs(pb.pop("voltage_V") - v_ours)
        pb.update(start_s=start, max_abs_dV_V=float(dv.max()),
                  cell_power_range_W=[float(cell_p.min()), float(cell_p.max())])
        wins.append(pb)
        state, last = w_res.final_state, k1
        print(f"  window at {start:g} s: {pb['solve_cpu_s']:.1f} s CPU for "
              f"{pb['steps']} steps, max |dV| {pb['max_abs_dV_V']:.2e} V", flush=True)
    per_step = float(np.mean([w["solve_cpu_s"] / w["steps"] for w in wins]))
    per_step_build = float(np.mean([(w["solve_cpu_s"] + w["build_cpu_s"]) / w["steps"]
                                    for w in wins]))
    pyb_hour = per_step * load.size
    report["pybamm_same_profile"] = {
        "windows": wins, "us_per_step_cpu": per_step * 1e6,
        "us_per_step_cpu_with_build": per_step_build * 1e6,
        "one_hour_cpu_s_extrapolated": pyb_hour,
        "method": "10 s windows of the representative cell's 1 ms battery power from our "
                  "UPS run, linear Interpolant with 1 us edges, IDAKLU rtol 1e-6 atol 1e-8, "
                  "each from our state at the window start; extrapolated x (3600 / 10) per "
                  "window mean",
    }
    ours_cpu = min(ours["cpu_s"])
    ratio = pyb_hour / ours_cpu

    print("PyBaMM best case: a square swing as Heaviside edges ...", flush=True)
    p_cell_high = RACK_W * N_RACKS / n_cells / 0.97 * 0.5  # the swing the battery buffers
    p_low, p_high = 0.2 * p_cell_high, p_cell_high
    sec = 60.0 if not args.quick else 20.0
    # best of a few solves (each builds and solves afresh; the voltage of the last kept)
    tries = [pybamm_edges(ecm, p_low, p_high, sec) for _ in range(3)]
    edges = min(tries, key=lambda e: e["solve_cpu_s"])
    edges["solve_cpu_s_all"] = [e["solve_cpu_s"] for e in tries]
    from cellmodels.ups import init_string, string_params

    sp = string_params(ecm, coolant_temperature_K=COOLANT_K)
    st = init_string(sp, soc=0.6, temperature_K=COOLANT_K)
    sq_hour = square_swing(p_low, p_high, 3600.0)
    kernel_power_run(sp, st, sq_hour[:5000])
    sq_cpus = [timed(kernel_power_run, sp, st, sq_hour)[2] for _ in range(REPEATS)]
    from cellmodels.ups import simulate_string

    v_sq = simulate_string(sp, st, DT, power_W=sq_hour[:edges["steps"]]).voltage_V
    dv_sq = float(np.max(np.abs(edges.pop("voltage_V") - v_sq)))
    edges_hour = edges["solve_cpu_s"] / sec * 3600.0
    report["pybamm_best_case_edges"] = {
        **edges, "seconds": sec, "one_hour_cpu_s_extrapolated": edges_hour,
        "us_per_1ms_output_cpu": edges["solve_cpu_s"] / edges["steps"] * 1e6,
        "max_abs_dV_V_vs_ours": dv_sq,
        "ours_same_square_swing_one_hour_cpu_s": sq_cpus,
        "ours_same_square_swing_ns_per_step": min(sq_cpus) / sq_hour.size * 1e9,
        "ours_ups_controller_on_ns_per_step": ours_cpu / load.size * 1e9,
        "speed_ratio": edges_hour / min(sq_cpus),
        "speed_ratio_vs_ours_ups_controller_on": edges_hour / ours_cpu,
        "note": "PyBaMM's cheapest formulation (not the same profile: a jitter-free square "
                "swing with 60 edges per 2 min, which IDAKLU steps over between edges; its "
                "cost is mostly the 1 ms output interpolation)",
    }

    print("agreement ...", flush=True)
    rng = np.random.default_rng(0)
    pw = np.repeat(rng.uniform(-60.0, 150.0, 40), 250)
    report["agreement"] = {
        "kernel_vs_simulate_ecm_max_abs_dV_V": agreement_simulate_ecm(ecm, pw),
        "kernel_vs_solve_ivp_max_abs_dV_V": agreement_solve_ivp(ecm, pw[:4000]),
        "kernel_vs_pybamm_max_abs_dV_V": max(w["max_abs_dV_V"] for w in wins),
        "kernel_vs_pybamm_square_swing_max_abs_dV_V": dv_sq,
        "profile": "random power levels -60..150 W held 0.25 s (1 ms steps), 2 RC, thermal",
    }

    print("acceptance: smoothing, outage ...", flush=True)
    off = simulate_ups(ecm, load, ups_config(smoothing=False), dt_s=DT).metrics()
    report["smoothing_one_hour"] = {
        "grid_0.1-2Hz_W_controller_off": off["oscillation_W"]["grid_0.1-2Hz"],
        "grid_0.1-2Hz_W_controller_on": m["oscillation_W"]["grid_0.1-2Hz"],
        "load_0.1-2Hz_W": m["oscillation_W"]["load_0.1-2Hz"],
        "reduction_vs_controller_off": off["oscillation_W"]["grid_0.1-2Hz"]
        / m["oscillation_W"]["grid_0.1-2Hz"],
        "grid_3-30Hz_W_controller_off": off["oscillation_W"]["grid_3-30Hz"],
        "grid_3-30Hz_W_controller_on": m["oscillation_W"]["grid_3-30Hz"],
        "grid_max_ramp_W_per_s": m["grid_max_ramp_W_per_s"],
        "ramp_limit_W_per_s": m["ramp_limit_W_per_s"],
        "grid_max_ramp_controller_off_W_per_s": off["grid_max_ramp_W_per_s"],
    }
    if not args.quick:
        print("  24 h ...", flush=True)
        report["smoothing_24h"] = smoothing_day(ecm, 24)
    report["outage"] = {"sized": outage_case(ecm, N_PARALLEL), "undersized": outage_case(ecm, 4)}
    print("charge-transfer element ...", flush=True)
    report["ct_element_one_cell"] = ct_element_case(ecm, load)
    print("the OCV hysteresis ...", flush=True)
    report["hysteresis_one_cell"] = hysteresis_case(ecm, load)

    strings_best = max(s["cell_steps_per_s_cpu_best"] for s in report["strings"])
    figures = {
        "speed_ratio_vs_pybamm_same_profile": ratio,
        "cell_steps_per_s_one_cell": ours["cell_steps_per_s_cpu_best"],
        "cell_steps_per_s_1000_cells": strings_best,
        "decimated_output_MB": ours["decimated_result_MB"],
        "agreement_vs_simulate_ecm_V": report["agreement"]["kernel_vs_simulate_ecm_max_abs_dV_V"],
        "agreement_vs_solve_ivp_V": report["agreement"]["kernel_vs_solve_ivp_max_abs_dV_V"],
        "agreement_vs_pybamm_V": report["agreement"]["kernel_vs_pybamm_max_abs_dV_V"],
        "grid_oscillation_reduction_0.1-2Hz":
            report["smoothing_one_hour"]["reduction_vs_controller_off"],
    }
    larger_is_better = {"speed_ratio_vs_pybamm_same_profile", "cell_steps_per_s_one_cell",
                        "cell_steps_per_s_1000_cells", "grid_oscillation_reduction_0.1-2Hz"}
    report["targets"] = {
        k: {"value": figures[k], "target": TARGETS[k],
            "met": bool(figures[k] >= TARGETS[k] if k in larger_is_better
                        else figures[k] <= TARGETS[k])}
        for k in TARGETS}
    best = report["pybamm_best_case_edges"]
    report["targets"]["speed_ratio_vs_pybamm_best_case_pulse_train"] = {
        "value": best["speed_ratio_vs_ours_ups_controller_on"], "target": 120.0,
        "met": bool(best["speed_ratio_vs_ours_ups_controller_on"] >= 120.0),
        "note": "PyBaMM on a jitter-free square swing given as Heaviside edges (its "
                "cheapest formulation, ~4 us per 1 ms output, the issue's own reference) "
                "against our UPS with the controller on; "
                f"{best['speed_ratio']:.3g}x against our kernel on that same square swing"}
    report["targets"]["grid_ramp_held_at_limit"] = {
        "value": report["smoothing_one_hour"]["grid_max_ramp_W_per_s"],
        "target": report["smoothing_one_hour"]["ramp_limit_W_per_s"],
        "met": bool(report["smoothing_one_hour"]["grid_max_ramp_W_per_s"]
                    <= report["smoothing_one_hour"]["ramp_limit_W_per_s"] * (1 + 1e-9))}
    if "smoothing_24h" in report:
        report["targets"]["soc_inside_band_24h"] = {
            "value": [report["smoothing_24h"]["soc_min"], report["smoothing_24h"]["soc_max"]],
            "target": report["smoothing_24h"]["soc_band"],
            "met": report["smoothing_24h"]["soc_inside_band"]}
    report["targets"]["outage_carried_when_sized"] = {
        "value": report["outage"]["sized"]["unserved_J"], "target": 0.0,
        "met": report["outage"]["sized"]["unserved_J"] == 0.0}
    report["targets"]["outage_unserved_reported_when_undersized"] = {
        "value": report["outage"]["undersized"]["unserved_J"], "target": "> 0, counted",
        "met": bool(report["outage"]["undersized"]["unserved_J"] > 0
                    and report["outage"]["undersized"]["unserved_activations"] > 0)}
    report["speed_summary"] = {
        "one_cell_ups_ns_per_step": ours["ns_per_step_cpu_best"],
        "one_cell_ups_steps_per_s": ours["cell_steps_per_s_cpu_best"],
        "one_cell_ups_kernel_ns_per_step": {
            k: v["ns_per_step_cpu_best"] for k, v in report["ours_one_hour_loops"].items()
            if isinstance(v, dict)},
        "one_cell_power_mode_square_swing_ns_per_step":
            best["ours_same_square_swing_ns_per_step"],
        "strings_ns_per_cell_step": {s["layout"]: s["ns_per_cell_step_cpu_best"]
                                     for s in report["strings"]},
        "pybamm_best_case_us_per_1ms_output": best["us_per_1ms_output_cpu"],
        "ratio_vs_pybamm_best_case_ups": best["speed_ratio_vs_ours_ups_controller_on"],
        "ratio_vs_pybamm_best_case_same_square_swing": best["speed_ratio"],
        "one_cell_ups_with_ct_element_ns_per_step":
            report["ct_element_one_cell"]["ns_per_step_cpu_best"],
        "note": "CPU time, best of the repeats; the machine's load average at start and "
                "end is under 'machine' (ns figures are pessimistic when it is loaded)",
    }
    report["machine"]["load_average_end"] = list(os.getloadavg())
    return report


if __name__ == "__main__":
    main()
