"""Case: the heating study's periodic steady state against brute-force simulation.

The direct solve (:func:`cellmodels.life.heating.periodic_heating`: the exact period map of
the RC and thermal states, tables iterated to the orbit's temperatures) against the
compiled UPS string kernel run from rest for 12 thermal time constants at 200 steps a
period, for the semi-solid LFP and the lean NMC reference cells' ECMs (reduced from their
DFN models; ``validation/out/<cell>.ecm.h5``, reduced first if missing), over swing depth
x period at the ECM's own cooling. Also the figure of the study itself: the temperature-rise
maps and the heat split (ohmic, polarisation, reversible) against the swing period.

Target: the period-mean temperature within 1e-3 of the rise and the period-mean heat
within 1e-3 (relative), which bounds the brute force's own errors: its transient after 12
time constants (e^-12 = 6e-6 of the rise) and its tables frozen at each step's start
(O(dt), measured at ~2e-4 of the rise for 200 steps a period in tests/test_heating.py).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from cellmodels.validate import Case, CaseResult

NAME = "heating_periodic_steady_state"
HERE = Path(__file__).resolve().parent
CELLS = ("semisolid_lfp_power", "lean_nmc_power")
DEPTHS = (2e-4, 1e-3)
PERIODS = (0.5, 10.0, 120.0)
TOL = 1e-3


def _ecm(name: str):
    from cellmodels.reduction import load_ecm, save_ecm
    from cellmodels.reduction.identify import reduce_cell

    path = HERE / "out" / f"{name}.ecm.h5"
    if not path.exists():
        save_ecm(reduce_cell(name), path)
    return load_ecm(path)


def _brute(ecm, d, i, soc0, *, steps=200, n_tau=12.0, keep=False):
    from cellmodels.ups import init_string, simulate_string, string_params

    period = float(d.sum())
    dt = period / steps
    one = np.concatenate([np.full(round(d[0] / dt), i[0]), np.full(round(d[1] / dt), i[1])])
    sp = string_params(ecm)
    tau = ecm.thermal_mass_J_per_K / ecm.heat_transfer_W_per_K
    n_cycles = int(n_tau * tau / period) + 1
    state = init_string(sp, soc=soc0)
    block = max(1, 2_000_000 // one.size)
    trace_t, trace_T, done = [], [], 0
    while done < n_cycles:
        k = min(block, n_cycles - done)
        run = simulate_string(sp, state, dt, current_A=np.tile(one, k))
        if keep:
            trace_t.append(run.time_s[::50])
            trace_T.append(run.temperature_K[::50])
        state = run.final
        done += k
    last = simulate_string(sp, state, dt, current_A=one)
    out = {"T_mean": float(last.temperature_K.mean()),
           "q_irr": last.energy_J["battery_irreversible_heat_J"] / period,
           "q_rev": last.energy_J["battery_reversible_heat_J"] / period,
           "steps": n_cycles * one.size}
    if keep:
        out["trace"] = (np.concatenate(trace_t), np.concatenate(trace_T))
    return out


def run(fig_dir: Path) -> CaseResult:
    from cellmodels.life.heating import heating_map, periodic_heating, swing_waveform
    from cellmodels.reduction import ValidityWarning

    rows, maps, splits, trace = [], {}, {}, None
    worst_t = worst_q = 0.0
    for name in CELLS:
        ecm = _ecm(name)
        ha = ecm.heat_transfer_W_per_K
        for depth in DEPTHS:
            for period in PERIODS:
                d, i = swing_waveform(ecm, period_s=period, swing_depth=depth)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", ValidityWarning)
                    t0 = time.perf_counter()
                    res = periodic_heating(ecm, d, i)
                    t_direct = time.perf_counter() - t0
                keep = trace is None and period == 10.0 and depth == 1e-3
                t0 = time.perf_counter()
                bf = _brute(ecm, d, i, res.orbit["soc"][0], keep=keep)
                t_brute = time.perf_counter() - t0
                if keep:
                    trace = (name, period, depth, bf["trace"], res)
                err_t = abs(bf["T_mean"] - res.temperature_mean_K) / res.rise_K
                err_q = abs(bf["q_irr"] + bf["q_rev"] - res.heat_W["total_W"]) / \
                    res.heat_W["total_W"]
                worst_t, worst_q = max(worst_t, err_t), max(worst_q, err_q)
                rows.append({
                    "cell": name, "swing depth": depth, "period [s]": period,
                    "hA [W/K]": ha, "peak current [A]": res.current_max_A,
                    "rise direct [K]": res.rise_K,
                    "rise brute [K]": bf["T_mean"] - res.ambient_K,
                    "abs dT / rise": err_t, "abs dQ / Q": err_q,
                    "ohmic [W]": res.heat_W["ohmic_W"],
                    "polarisation [W]": res.heat_W["polarisation_W"],
                    "reversible [W]": res.heat_W["reversible_W"],
                    "direct [s]": t_direct, "brute [s]": t_brute,
                    "validity": "warned" if caught else "inside",
                })
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ValidityWarning)
            maps[name] = heating_map(ecm, np.geomspace(1e-4, 3e-3, 12),
                                     np.geomspace(0.5, 120.0, 12), [ha])
            periods = np.geomspace(0.1, 600.0, 25)
            split = {k: [] for k in ("ohmic_W", "polarisation_W", "reversible_W")}
            for p in periods:
                r = periodic_heating(ecm, *swing_waveform(ecm, period_s=p, swing_C_rate=2.0))
                for k, values in split.items():
                    values.append(r.heat_W[k])
            splits[name] = (periods, split)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, axes = plt.subplots(2, 2, figsize=(12, 9), constrained_layout=True)
    for ax, name in zip(axes[0], CELLS):
        m = maps[name]
        z = m.values["rise_K"][:, :, 0]
        mesh = ax.pcolormesh(m.period_s, m.swing_depth * 100, z, shading="nearest",
                             norm=LogNorm(np.nanmin(z), np.nanmax(z)), cmap="inferno")
        cs = ax.contour(m.period_s, m.swing_depth * 100, z, levels=[1.0, 5.0, 20.0],
                        colors="w", linewidths=0.8)
        ax.clabel(cs, fmt="%g K", fontsize=7)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("swing period [s]")
        ax.set_ylabel("swing depth [% of capacity]")
        ax.set_title(f"{name}: mean rise, hA = {m.heat_transfer_W_per_K[0]:.3g} W/K, "
                     "SOC 0.5, 25 degC", fontsize=9)
        fig.colorbar(mesh, ax=ax, label="temperature rise [K]")
    ax = axes[1, 0]
    for name, ls in zip(CELLS, ("-", "--")):
        periods, split = splits[name]
        for (key, values), color in zip(split.items(), ("C0", "C1", "C2")):
            ax.plot(periods, np.abs(values), ls, color=color,
                    label=f"{name}: {key.removesuffix('_W')}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("swing period [s]")
    ax.set_ylabel("period-mean heat [W] (|reversible|)")
    ax.set_title("heat split, 2C swing, 50 % duty: polarisation grows\nonce the period "
                 "reaches the RC time constants", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    ax = axes[1, 1]
    if trace is not None:
        name, period, depth, (tt, temp), res = trace
        ax.plot(tt / 3600, temp - 273.15, lw=0.6, label="brute force (kernel, every 50th step)")
        ax.axhline(res.temperature_mean_K - 273.15, color="k", ls="--",
                   label="periodic steady state (direct): mean")
        ax.axhspan(res.temperature_min_K - 273.15, res.temperature_max_K - 273.15,
                   color="k", alpha=0.15, label="direct: orbit min-max")
        ax.set_xlabel("time [h]")
        ax.set_ylabel("cell temperature [degC]")
        ax.set_title(f"{name}, depth {depth:g}, period {period:g} s:\nthe long run settles "
                     "on the orbit solved directly", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig_dir.mkdir(parents=True, exist_ok=True)
    png = fig_dir / "heating_maps.png"
    from cellmodels._atomic import atomic_path

    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    passed = worst_t <= TOL and worst_q <= TOL
    return CaseResult(
        name=NAME,
        data_source="ECMs reduced from the DFN models of the semi-solid LFP and lean NMC "
                    "reference cells; brute force with the compiled UPS string kernel",
        metric="period-mean temperature and heat of the periodic steady state, direct solve "
               "vs 12 thermal time constants of simulation at 200 steps a period",
        target=f"|dT| <= {TOL:g} of the rise and |dQ| <= {TOL:g} of the heat at every point",
        result=f"worst |dT|/rise {worst_t:.2e}, worst |dQ|/Q {worst_q:.2e} over {len(rows)} "
               "points",
        passed=bool(passed),
        rows=rows,
        figure=f"figures/{png.name}",
        notes="Swing: a zero-mean two-level current, discharge for half the period, depth = "
              "charge per swing / capacity. Points marked 'warned' use the ECM beyond its "
              "identified current range (the short, deep swings), as the validity warning "
              "says; the comparison is of the same ECM either way.",
    )


CASES = [Case(NAME, run, fast=False)]
