"""``cellmodels demo``: the main job, growing with each stage of the pipeline.

1. Cells: every shipped set with its 10 s DCR and DCR x capacity.
2. The ultra-low-DCR reference cell: DCR map at 1C and 5C and the loss breakdown that
   says which resistance to attack.
3. Reduction: its ECM identified from the DFN, checked against the DFN on a held-out
   AI-style swing, written as HDF5 and exported as an FMU for a system simulator.
4. The UPS: a 1 MW, 8-rack synchronised training load on a string of that cell, at 1 ms,
   with the grid-smoothing controller off and on: what the grid sees, how hard the cells
   work and how warm they get.
5. Heating and life: the periodic steady-state temperature rise over swing depth x period
   x cooling, and a 15-year projection of the string under that duty by cycle jumping,
   with the micro-cycle weight (the largest open assumption) at its bounds and default.
"""

from __future__ import annotations

import time
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np

from .dcr import cells_table, dcr_map
from .physics.cells import available_cells, load_cell

REFERENCE_CELL = "semisolid_lfp_power"


def ai_swing(capacity_Ah: float, seconds: float = 120.0, seed: int = 11):
    """A short AI-training swing in current: 5C / 0.5C with periods of 0.5-4 s."""
    rng = np.random.default_rng(seed)
    times, values, t = [0.0], [], 0.0
    while t < seconds:
        period = float(rng.choice([0.5, 1.0, 2.0, 4.0]))
        values += [5 * capacity_Ah, 0.5 * capacity_Ah]
        t += period / 2
        times.append(t)
        t += period / 2
        times.append(t)
    values.append(values[-1])
    return np.array(times), np.array(values)


def run_demo(out: str | Path = "out") -> None:
    from .physics.simulate import simulate
    from .reduction import save_ecm, simulate_ecm
    from .reduction.identify import ECMIdentifier

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    print("== 1. Cells: 10 s DCR at 50 % SOC, 25 degC, 1C ==")
    print(cells_table())
    name = REFERENCE_CELL if REFERENCE_CELL in available_cells() else available_cells()[0]
    for c_rate in (1.0, 5.0):
        print(f"\n== 2. {name}: DCR map at {c_rate:g}C ==")
        m = dcr_map(name, c_rate=c_rate, progress=True)
        print(m.table())
        print()
        print(m.breakdown_table())
        png = m.plot(out / f"dcr_{name}_{c_rate:g}C.png")
        print(f"\nFigure: {png}")

    print(f"\n== 3. {name}: reduced to an equivalent circuit ==")
    cell = load_cell(name)
    ident = ECMIdentifier(temperature_K=[283.15, 298.15, 313.15]).fit(cell, progress=True)
    ecm = ident.ecm_
    path = save_ecm(ecm, out / f"{name}.ecm.h5")
    print(f"ECM: {ecm.n_rc} RC pairs identified on {len(ident.soc)} SOC x "
          f"{ecm.temperature_K.size} temperatures (OCV on {ecm.soc.size} SOC points), in "
          f"{ident.seconds_:.0f} s -> {path}")
    t, i = ai_swing(cell.capacity_Ah)
    t_out = np.arange(0.0, t[-1], 0.01)
    i_out = i[np.searchsorted(t, t_out, side="right") - 1]
    t0 = time.perf_counter()
    dfn = simulate(cell, initial_soc=0.8, temperature_K=298.15, current_A=i, time_s=t,
                   t_out=t_out)
    t_dfn = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        red = simulate_ecm(ecm, t_out, current_A=i_out, initial_soc=0.8, temperature_K=298.15,
                           max_step_s=0.01)
    t_ecm = time.perf_counter() - t0
    dv = (red.voltage_V - dfn.voltage_V) * 1e3
    print(f"Held-out AI swing (5C/0.5C, periods 0.5-4 s, {t[-1]:.0f} s, 25 degC): ECM vs DFN "
          f"voltage RMSE {np.sqrt(np.mean(dv**2)):.2f} mV, max {np.max(np.abs(dv)):.2f} mV, "
          f"temperature {np.max(np.abs(red.temperature_K - dfn.temperature_K)):.3f} K "
          f"(DFN {t_dfn:.1f} s, reference ECM {t_ecm:.2f} s)")
    from .errors import FMUBuildError
    from .export import export_fmu

    try:
        fmu = export_fmu(ecm, out / f"{name}.fmu")
        print(f"FMU for system simulators (FMI 2.0 co-simulation): {fmu}")
    except FMUBuildError as exc:  # no C compiler here: say what to install, go on
        print(f"FMU not built: {exc}")

    ups_demo(ecm, out)
    heating_and_life_demo(ecm, out)


#: The demo's UPS: 1.25 MW double conversion, 250 series x 12 parallel cells of the reference ECM on
#: the DC link, smoothing with a 10 s filter and a 20 kW/s grid ramp limit.
def demo_ups_config(smoothing: bool = True) -> dict:
    return {
        "rectifier": {"rated_W": 1.25e6,
                      "efficiency": [[0.0, 0.90], [0.1, 0.94], [0.25, 0.965], [0.5, 0.972],
                                     [1.0, 0.965]]},
        "inverter": {"rated_W": 1.25e6,
                     "efficiency": [[0.0, 0.90], [0.1, 0.95], [0.25, 0.97], [0.5, 0.976],
                                    [1.0, 0.97]]},
        "battery": {"n_series": 250, "n_parallel": 12, "coolant_temperature_K": 298.15,
                    "initial_temperature_K": 298.15, "initial_soc": 0.6},
        "controller": {"smoothing": smoothing, "filter_time_constant_s": 10.0,
                       "ramp_limit_W_per_s": 20e3, "soc_target": 0.6,
                       "soc_band": [0.45, 0.75], "soc_restore_time_s": 1800.0,
                       "soc_restore_max_W": 100e3},
        "output": {"decimation_s": 1.0, "spectral_s": 0.004, "ride_through_s": 10.0},
    }


def ups_demo(ecm, out: Path, minutes: float = 10.0) -> None:
    """Step 4: the UPS on a synchronised-training load, smoothing off and on."""
    from .cli import plot_ups_summary
    from .dutycycles import synchronized_training
    from .ups import simulate_ups

    print(f"\n== 4. The UPS: 1 MW of synchronised training on {ecm.name} cells ==")
    profile = synchronized_training(rack_peak_W=125e3, n_racks=8, swing_depth=0.5,
                                    period_s=2.0, duration_s=60.0 * minutes, dt_s=1e-3,
                                    checkpoint_interval_s=600.0, seed=1)
    runs = {}
    for smoothing in (False, True):
        t0 = time.perf_counter()
        res = simulate_ups(ecm, profile, demo_ups_config(smoothing))
        runs[smoothing] = (res, time.perf_counter() - t0)
    on, t_on = runs[True]
    off = runs[False][0].metrics()
    m = on.metrics()
    band = "0.1-2Hz"
    steps = round(m["duration_s"] / 1e-3)
    print(f"{m['duration_s'] / 60:.0f} min at 1 ms, 250 series x 12 parallel identical cells (one "
          f"representative cell; spread is a config option): {t_on:.1f} s "
          f"({steps / t_on:.2e} steps/s)")
    print(f"  grid oscillation {band}: {off['oscillation_W']['grid_' + band] / 1e3:.1f} kW "
          f"without smoothing -> {m['oscillation_W']['grid_' + band] / 1e3:.2f} kW with it "
          f"(load {m['oscillation_W']['load_' + band] / 1e3:.1f} kW; "
          f"{m['oscillation_reduction'][band]:.0f}x less)")
    print(f"  grid ramp: max {m['grid_max_ramp_W_per_s'] / 1e3:.1f} kW/s against the "
          f"{m['ramp_limit_W_per_s'] / 1e3:.0f} kW/s limit (load: "
          f"{m['load_max_ramp_W_per_s'] / 1e6:.0f} MW/s)")
    print(f"  cells: RMS current up to {m['cell_rms_current_A_max']:.1f} A "
          f"({m['cell_rms_current_A_max'] / ecm.capacity_Ah:.2f}C), "
          f"{m['equivalent_full_cycles_per_day']:.1f} equivalent full cycles per day, "
          f"SOC {m['soc_min']:.3f}-{m['soc_max']:.3f}, peak "
          f"{m['peak_cell_temperature_K'] - 273.15:.1f} degC with 25 degC coolant")
    print(f"  efficiency {m['efficiency'] * 100:.2f} %, BMS limit activations "
          f"{m['limit_activations']}, unserved energy {m['unserved_J']:.3g} J")
    path = on.save(out / "ups_demo.h5")
    png = plot_ups_summary(on, out / "ups_demo.png")
    print(f"Result: {path}; figure: {png}")
    return profile


def heating_and_life_demo(ecm, out: Path, window_minutes: float = 10.0,
                          years: float = 15.0) -> None:
    """Step 5: heating map and the string's life under the step-4 duty."""
    from .dutycycles import synchronized_training
    from .life import project_life
    from .life.heating import heating_map, plot_heating_map

    print(f"\n== 5. Heating and life of {ecm.name} cells under AI duty ==")
    # step 4's cells swing about 1.3C RMS at a 2 s period: 0.02-0.04 % of capacity per swing
    depths = np.array([0.00005, 0.0001, 0.0002, 0.0005])
    periods = np.array([0.5, 1.0, 2.0, 4.0])
    has = ecm.heat_transfer_W_per_K * np.array([0.5, 1.0, 2.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hmap = heating_map(ecm, depths, periods, has, soc=0.5, ambient_K=298.15)
    rise = hmap.values["rise_K"]
    print("Periodic steady-state mean rise over a 25 degC coolant [K] at the cell's own "
          f"cooling (hA = {ecm.heat_transfer_W_per_K:.3g} W/K), two-level zero-mean swings:")
    print("  depth of one swing \\ period [s] " + "".join(f"{p:>8g}" for p in periods))
    for i, d in enumerate(depths):
        print(f"  {d * 100:>8.3f} % of capacity      " + "".join(
            f"{rise[i, j, 1]:>8.2f}" for j in range(periods.size)))
    k = (depths.size - 1, periods.size - 1, 1)
    split = {h: hmap.values[f"heat_{h}"][k] for h in ("ohmic_W", "polarisation_W",
                                                       "reversible_W", "total_W")}
    print(f"  heat split at {depths[-1] * 100:g} %, {periods[-1]:g} s: " + ", ".join(
        f"{h[:-2]} {v:.3g} W" for h, v in split.items()))
    for c in caught:
        print(f"  note: {c.message}")
    png = plot_heating_map(hmap, out / "heating_map.png")
    print(f"Figure: {png}")

    window = synchronized_training(rack_peak_W=125e3, n_racks=8, swing_depth=0.5,
                                   period_s=2.0, duration_s=60.0 * window_minutes, dt_s=1e-3,
                                   checkpoint_interval_s=None, job_start_ramp_s=0.0,
                                   job_stop_ramp_s=0.0, seed=2)
    print(f"\nLife: the 1 MW string of step 4, a {window_minutes:g}-minute training window "
          f"repeated for {years:g} years (cycle jumping; each window simulated at 1 ms):")
    print("  micro-cycle weight | 80 % capacity at | UPS capability ends at | capacity "
          "at 5 y | resistance at 5 y | windows simulated | time")
    notes: dict[str, None] = {}
    for weight, label, tag in ((0.0, "0 (Soto: negligible)", "w0"), (None, None, "wdefault"),
                               (2.0 / 3.0, "2/3 (Soto's bound)", "w2of3")):
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            life = project_life(ecm, demo_ups_config(True), window, years=years,
                                micro_weight=weight, output=out / f"life_{tag}.h5")
        seconds = time.perf_counter() - t0

        def at_5y(values, fmt, unit, prefix="", life=life):
            # a projection stops below its capacity floor: past that there is no value
            if life.time_years[-1] < 5.0:
                verb = "projected to" if life.info.get("stopped") == "reached years" \
                    else "stopped at"
                return f"{verb} {life.time_years[-1]:.1f} y"
            return f"{prefix}{np.interp(5.0, life.time_years, values) * (100 if unit else 1):{fmt}}{unit}"

        if label is None:  # the model's own weight, as a fraction where it is one
            w = float(life.info["model"]["micro_cycle"]["weight"])
            f = Fraction(w).limit_denominator(12)
            label = f"{f if abs(float(f) - w) < 1e-9 else f'{w:.3g}'} (default)"
        eol = life.eol_capacity_years
        cap = life.eol_capability_years
        print(f"  {label:>20} | {'>' if np.isnan(eol) else ''}"
              f"{years if np.isnan(eol) else eol:5.2f} y | "
              f"{'not reached' if np.isnan(cap) else f'{cap:.2f} y':>14} | "
              f"{at_5y(life.capacity_fraction, '5.1f', ' %')} | "
              f"{at_5y(life.resistance_factor, '.3f', '', 'x')} | "
              f"{life.info.get('windows_simulated', '?')} | {seconds:.0f} s")
        for c in caught:  # the same validity notes for every weight: shown once below
            notes.setdefault(str(c.message).split(" Source:")[0], None)
        if weight is None:
            png = life.plot(out / "life.png", title=f"{ecm.name}, 1 MW string, AI duty")
    print(f"Figure: {png}  ('stopped': a projection ends when the capacity falls below half)")
    print("Outside the ageing data (each term says which variable, how far, and for what share "
          "of the throughput; the figures above extrapolate there):")
    for note in notes:
        print(f"  - {note}")
    print("The micro-cycle weight spans Soto et al.'s bounds: until it is measured for the "
          "cell, a life study should sweep it (cellmodels study life).")
