"""Validation case ``fit_synthetic_recovery``: known parameters recovered within their 95 % intervals.

Data: the lgm50 set with five values changed to known "true" ones (both particle
diffusivities, both reaction-rate constants, i.e. the exchange-current scales, and the
contact resistance), written into its BPX document and run through
:func:`cellmodels.physics.simulate` (DFN, isothermal 25 degC, a coarse mesh
:data:`VAR_PTS`) on one protocol: from 80 % SOC, three blocks of a 2C 10 s discharge
pulse, 40 s rest, C/2 10 s charge pulse, 40 s rest, a 1C discharge of 720 s and 300 s of
rest. 2 mV Gaussian noise (independent per sample, a new seed per run) is added.

Fit: :func:`cellmodels.fitting.fit_physics` with the same model and mesh (the data is
made by the same model, as the acceptance requires for a coarse mesh), starting from the
lgm50 values, bounds [x/10, 10x] in log10 for the four kinetic/transport values and
[0, 50] mOhm (linear) for the contact resistance, the known start SOC, IDAKLU
sensitivities for the Jacobian.

Verdict: each true value inside its reported 95 % interval in at least 9 of 10 seeds.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from pathlib import Path

import numpy as np

from cellmodels.validate import Case, CaseResult

NAME = "fit_synthetic_recovery"
SEEDS = tuple(range(10))
NOISE_V = 0.002
INITIAL_SOC = 0.8
TEMPERATURE_K = 298.15
#: Coarse DFN mesh (data and fit use the same).
VAR_PTS = {"x_n": 8, "x_s": 5, "x_p": 8, "r_n": 10, "r_p": 10}
#: The five values the data is made with (the lgm50 set's in brackets).
TRUE = {
    "Negative electrode/Diffusivity [m2.s-1]": 5.0e-14,  # (3.3e-14)
    "Positive electrode/Diffusivity [m2.s-1]": 2.5e-15,  # (4e-15)
    "Negative electrode/Reaction rate constant [mol.m-2.s-1]": 4.0e-6,  # (7.04e-6)
    "Positive electrode/Reaction rate constant [mol.m-2.s-1]": 1.3e-4,  # (7.07e-5)
    "User-defined/Contact resistance [Ohm]": 0.012,  # (0.0087)
}
TARGET = ("each of the 5 true values inside its reported 95 % interval in >= 9 of 10 seeds "
          "(DFN data + 2 mV Gaussian noise)")


def protocol() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step edges and currents (ZOH) and the sample times [s] of the synthetic test."""
    cap = 5.0
    edges, values = [0.0], []
    blocks = [(10.0, 2 * cap), (40.0, 0.0), (10.0, -0.5 * cap), (40.0, 0.0), (720.0, cap),
              (300.0, 0.0)]
    for _ in range(3):
        for dur, cur in blocks:
            edges.append(edges[-1] + dur)
            values.append(cur)
    edges_a = np.array(edges)
    # A sample at every edge (so the logged current, a zero-order hold, switches exactly
    # there), then every 1 s in pulses and rests after them, every 10 s in long steps.
    samples = [edges_a]
    for a, b in itertools.pairwise(edges_a):
        dur = b - a
        dt = 1.0 if dur <= 40.0 else 10.0
        samples.append(a + np.arange(0.5, dur, dt))
    t = np.unique(np.concatenate(samples))
    return edges_a, np.append(values, 0.0), t


def _true_cell():
    import cellmodels as cm
    from cellmodels.fitting.physics import _fitted_document

    cell = cm.load_cell("lgm50")
    doc = _fitted_document(cell, TRUE, provenance=None)
    meta = doc.pop("cellmodels")
    return dataclasses.replace(cell, name="lgm50 synthetic truth", bpx=doc, meta=meta,
                               sha256=cell.sha256 + "+synthetic-truth")


def synthetic_data(seed: int, clean: np.ndarray | None = None):
    """One noisy record (and the noise-free voltage, reused across seeds)."""
    from cellmodels.measured import Dataset
    from cellmodels.physics import simulate

    edges, values, t = protocol()
    if clean is None:
        run = simulate(_true_cell(), initial_soc=INITIAL_SOC, temperature_K=TEMPERATURE_K,
                       current_A=values, time_s=edges, t_out=t, model="DFN",
                       thermal="isothermal", var_pts=VAR_PTS)
        clean = run.voltage_V
        if run.time_s.size != t.size:
            raise RuntimeError("the synthetic run did not cover every sample")
    current = values[np.clip(np.searchsorted(edges, t, side="right") - 1, 0, values.size - 1)]
    rng = np.random.default_rng(seed)
    noisy = clean + rng.normal(0.0, NOISE_V, size=clean.size)
    ds = Dataset(time_s=t, current_A=current, voltage_V=noisy, name=f"synthetic DFN seed {seed}",
                 source="synthetic (validation/case_fit_synthetic.py)")
    return ds, clean


def fit_seed(seed: int, clean: np.ndarray | None = None):
    from cellmodels.fitting import Experiment, FitParameter, fit_physics

    ds, clean = synthetic_data(seed, clean)
    params = [FitParameter(k) for k in TRUE if "Contact" not in k]
    params.append(FitParameter("User-defined/Contact resistance [Ohm]", bounds=(0.0, 0.05)))
    exp = Experiment(ds, initial_soc=INITIAL_SOC, ambient_temperature_K=TEMPERATURE_K,
                     max_points=100_000)
    res = fit_physics("lgm50", [exp], params, model="DFN", thermal="isothermal",
                      var_pts=VAR_PTS, max_nfev=60, ftol=1e-12, xtol=1e-10, gtol=1e-10,
                      progress=False)
    return res, clean


def run(fig_dir: Path) -> CaseResult:
    t0 = time.perf_counter()
    rows = []
    inside = {k: 0 for k in TRUE}
    clean = None
    results = []
    for seed in SEEDS:
        res, clean = fit_seed(seed, clean)
        results.append(res)
        row = {"seed": seed, "converged": res.success, "evals": res.n_evaluations,
               "jacobians": res.n_jacobians, "fit_s": round(res.wall_time_s, 1),
               "noise_est_mV": round(1e3 * res.residual_std, 3)}
        for k, true in TRUE.items():
            ok = res.contains(k, true)
            inside[k] += int(ok)
            lo, hi = res.ci95[k]
            short = k.split("/")[0].replace(" electrode", "").replace("User-defined", "")
            short += " " + k.split("/")[1].split(" [")[0]
            row[short.strip()] = (f"{res.values[k]:.4g} [{lo:.4g}, {hi:.4g}] "
                                  f"{'in' if ok else 'OUT'}")
        row["not_separable"] = ", ".join(res.not_separable) or "-"
        rows.append(row)
    counts = {k: f"{v}/{len(SEEDS)}" for k, v in inside.items()}
    converged = sum(r.success for r in results)
    passed = all(v >= 9 for v in inside.values()) and converged == len(SEEDS)
    png = fig_dir / "fit_synthetic_recovery.png"
    _figure(results, png)
    text = ("true value inside its 95 % interval: " + "; ".join(
        f"{k.split('/')[0]} {k.split('/')[1].split(' [')[0]}: {c}" for k, c in counts.items())
        + f"; {converged}/{len(SEEDS)} fits converged")
    notes = (
        f"DFN (isothermal, mesh {VAR_PTS}) data from the lgm50 set with five changed values, "
        f"+{1e3 * NOISE_V:g} mV Gaussian noise, {len(protocol()[2])} samples per record; fit "
        "from the lgm50 values with IDAKLU sensitivities. Intervals are the linearised "
        "s^2 (J^T J)^-1 ones (cellmodels.fitting.result). Total "
        f"{time.perf_counter() - t0:.0f} s on this machine."
    )
    return CaseResult(
        name=NAME,
        data_source="synthetic: cellmodels.physics.simulate on the lgm50 set with known values",
        metric="true value inside the reported 95 % interval, per parameter over 10 seeds",
        target=TARGET,
        result=text,
        passed=passed,
        rows=rows,
        figure=f"{fig_dir.name}/{png.name}",
        notes=notes,
    )


def _figure(results, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cellmodels._atomic import atomic_path

    names = list(TRUE)
    fig, axes = plt.subplots(1, len(names), figsize=(3.0 * len(names), 3.2))
    for ax, k in zip(axes, names, strict=True):
        for s, res in enumerate(results):
            lo, hi = res.ci95[k]
            v = res.values[k]
            ok = res.contains(k, TRUE[k])
            ax.errorbar(s, v / TRUE[k], yerr=[[(v - lo) / TRUE[k]], [(hi - v) / TRUE[k]]],
                        fmt="o", ms=3, color="C0" if ok else "C3", capsize=2)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_title(k.replace("/", "\n"), fontsize=7)
        ax.set_xlabel("seed")
    axes[0].set_ylabel("fitted / true, with 95 % interval")
    fig.suptitle("Synthetic recovery: DFN data + 2 mV noise, 5 parameters, 10 seeds "
                 "(red: true value outside the interval)", fontsize=9)
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")


CASES = [Case(NAME, run, fast=False)]


if __name__ == "__main__":  # quick look at one seed
    r, _ = fit_seed(0)
    print(r)
    print(json.dumps({k: r.contains(k, v) for k, v in TRUE.items()}))
