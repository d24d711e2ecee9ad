"""Validation case ``fit_ecm_hppc``: an ECM fitted directly to measured HPPC (issue 3).

Measured:

* Nissan Leaf 33.1 Ah cell (ORNL, batterysim/nissan-leaf-data), low-current HPPC at 10, 25
  and 40 degC chamber temperature: each record is a CC-CV charge to 4.2 V, 1 h rest, then
  ten times {30 s 30 A discharge pulse, 40 s rest, 10 s regenerative pulse, 3 Ah at 10 A,
  1 h rest}, down to 3.0 V: 13 000+ samples over 17 h per temperature.
* Samsung INR21700-30T 3 Ah (PyBOP's excerpt of Kollmeyer and Skells 2020): a 10 s 1C
  pulse, a CV top-up, a 10 s 2C pulse, rests; 800 s. Its temperature is not in the excerpt;
  it is taken as 25 degC (it only labels the table: one temperature, nothing depends on it).

Fit: :func:`cellmodels.fitting.fit_ecm_hppc`, 2 RC pairs. Nissan: one ECM per temperature
(OCV on a 0.025 SOC grid; R0, R1, tau1, R2, tau2 on 0.1 SOC knots; tau1 in [0.5, 60] s,
tau2 in [60, 3600] s). One ECM over the three
temperatures at once (its OCV linear in temperature, ``U(z) + (T - T_ref) dU/dT(z)``, as
:class:`~cellmodels.reduction.ECM` has it) was measured too and does not reach the target
(RMSE 6.3, 2.8 and 7.1 mV at 10, 25 and 40 degC; 28 min on the shared machine): the
records' rest voltages are not linear in temperature at equal charge from full, so each
temperature gets its own table here. Samsung: the SOC moves 0.5 %, so R0 and the RC pairs
take one value each.

Metric: the fitted ECM run by the reference simulator
:func:`cellmodels.reduction.simulate_ecm` (isothermal at the chamber temperature, 1 s
sub-steps) over each *whole* record, voltage RMSE and max |error| against the measured
voltage at every sample. Target (issue 3): RMSE <= 5 mV at each temperature and for the
Samsung cell. The fitted ECMs are written to ``validation/out/`` (``.ecm.h5`` and a JSON of
the tables); the tables are plotted in ``figures/fit_ecm_hppc_tables.png``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from cellmodels.validate import Case, CaseResult

NAME = "fit_ecm_hppc"
TARGET_MV = 5.0
SAMSUNG_T_K = 298.15
#: RC time-constant bounds for the Nissan records [s]: the fast pair covers the 30 s pulses
#: and 40 s rests, the slow one the 1 h rests. (The default split, at 19 s, left the fast
#: pair on its upper bound at most knots: 1.8 against 1.3 mV at 25 degC.)
NISSAN_TAU_BOUNDS_S = [(0.5, 60.0), (60.0, 3600.0)]
#: Specific heat of a lithium-ion pouch cell, about 1.1 kJ/(kg K) (e.g. Bernardi-type
#: calorimetry of LMO/graphite pouches is 0.9-1.2); only copied into the ECM, not fitted.
CP_J_PER_KG_K = 1100.0


def fit_nissan(temp_c: int, max_nfev: int = 100):
    """The ECM of the Nissan Leaf cell fitted to its HPPC record at ``temp_c`` degC."""
    from cellmodels.fitting.ecm_hppc import fit_ecm_hppc
    from cellmodels.measured.nissan import HPPC_FILES, MASS_KG, read_nissan

    ds = read_nissan(HPPC_FILES[temp_c])
    return [ds], fit_ecm_hppc([ds], n_rc=2, tau_bounds_s=NISSAN_TAU_BOUNDS_S,
                              name=f"Nissan Leaf 33 Ah, {temp_c} degC (ORNL HPPC fit)",
                              thermal_mass_J_per_K=MASS_KG * CP_J_PER_KG_K,
                              max_nfev=max_nfev)


def fit_samsung(max_nfev: int = 200):
    from cellmodels.fitting.ecm_hppc import fit_ecm_hppc
    from cellmodels.measured.samsung import read_samsung

    ds = read_samsung(temperature_K=SAMSUNG_T_K)
    return [ds], fit_ecm_hppc([ds], n_rc=2, name="Samsung INR21700-30T (HPPC fit)",
                              max_nfev=max_nfev)


def _tables(res) -> dict:
    ecm = res.meta["ecm"]
    return {
        "name": ecm.name,
        "capacity_Ah": ecm.capacity_Ah,
        "soc": ecm.soc.tolist(),
        "temperature_K": ecm.temperature_K.tolist(),
        "reference_temperature_K": ecm.reference_temperature_K,
        "ocv_V": ecm.ocv_V.tolist(),
        "docv_dT_V_per_K": ecm.docv_dT_V_per_K.tolist(),
        "r0_Ohm": ecm.r0_Ohm.tolist(),
        "rc_R_Ohm": ecm.rc_R_Ohm.tolist(),
        "rc_tau_s": ecm.rc_tau_s.tolist(),
        "fit": {k: v for k, v in res.summary().items() if k not in ("correlation",)},
    }


def _plot_records(fits, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cellmodels._atomic import atomic_path

    exps = [(e, ds) for (dss, res) in fits for e, ds in zip(res.experiments, dss, strict=True)]
    fig, axes = plt.subplots(3, len(exps), figsize=(4.0 * len(exps), 8.2), squeeze=False)
    for c, (e, ds) in enumerate(exps):
        long = e.time_s[-1] > 3 * 3600
        tu = e.time_s / 3600.0 if long else e.time_s
        xl = "time [h]" if long else "time [s]"
        ax = axes[0, c]
        ax.plot(tu, e.voltage_measured_V, "k.", ms=1.5, label="measured")
        ax.plot(tu, e.voltage_model_V, "C1-", lw=0.9, label="fitted ECM (simulate_ecm)")
        ax.set_title(e.name.replace("Nissan Leaf NissanLeaf-cell-Low-Current-", "Nissan "),
                     fontsize=9)
        ax.set_xlabel(xl)
        if c == 0:
            ax.set_ylabel("voltage [V]")
            ax.legend(fontsize=7)
        ax = axes[1, c]
        ax.plot(tu, 1e3 * e.voltage_error_V, "C3-", lw=0.6)
        ax.axhline(0, color="0.6", lw=0.5)
        ax.set_ylim(-15, 15)
        ax.set_xlabel(xl)
        ax.text(0.02, 0.95, f"RMSE {1e3 * e.rmse_V:.2f} mV, max {1e3 * e.max_abs_V:.1f} mV",
                transform=ax.transAxes, va="top", fontsize=8)
        if c == 0:
            ax.set_ylabel("ECM - measured [mV]")
        # zoom: one pulse group (the 5th discharge pulse of the Nissan, the 2C pulse of
        # the Samsung) with 200 s around it
        ax = axes[2, c]
        i = e.current_A
        starts = np.flatnonzero((i[1:] > 0.8 * i.max()) & (i[:-1] < 0.5 * i.max())) + 1
        k0 = starts[min(4, starts.size - 1)] if starts.size else 0
        t0 = e.time_s[k0]
        w = (e.time_s > t0 - 20) & (e.time_s < t0 + 200)
        ax.plot(e.time_s[w] - t0, e.voltage_measured_V[w], "k.", ms=2.5)
        ax.plot(e.time_s[w] - t0, e.voltage_model_V[w], "C1-", lw=1.0)
        ax.set_xlabel(f"time from the pulse at {t0 / 3600:.2f} h [s]" if long
                      else f"time from the pulse at {t0:.0f} s [s]")
        if c == 0:
            ax.set_ylabel("voltage, zoom [V]")
    fig.suptitle("ECM fitted to measured HPPC (2 RC), run by simulate_ecm over each whole "
                 f"record; target RMSE <= {TARGET_MV:g} mV.  Data: ORNL Nissan Leaf (MIT), "
                 "Kollmeyer & Skells Samsung 30T via PyBOP (CC BY 4.0)", fontsize=8)
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def _plot_tables(fits, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cellmodels._atomic import atomic_path

    ecms = [res.meta["ecm"] for _, res in fits[:-1]]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    panels = [("OCV [V]", lambda e: e.ocv_V, 1.0), ("R0 [mOhm]", lambda e: e.r0_Ohm[:, 0], 1e3),
              ("R1 [mOhm]", lambda e: e.rc_R_Ohm[0, :, 0], 1e3),
              ("R2 [mOhm]", lambda e: e.rc_R_Ohm[1, :, 0], 1e3),
              ("tau1 [s]", lambda e: e.rc_tau_s[0, :, 0], 1.0),
              ("tau2 [s]", lambda e: e.rc_tau_s[1, :, 0], 1.0)]
    for ax, (label, get, f) in zip(axes.ravel(), panels, strict=True):
        for e in ecms:
            ax.plot(e.soc, f * get(e), "-o", ms=2,
                    label=f"{e.temperature_K[0] - 273.15:g} degC")
        ax.set_xlabel("SOC (1 = end of the CC-CV charge)")
        ax.set_ylabel(label)
        if "tau" in label:
            ax.set_yscale("log")
    axes[0, 1].legend(fontsize=7)
    s = fits[-1][1].meta["ecm"]
    txt = (f"Samsung 30T (one value each): R0 {1e3 * s.r0_Ohm[0, 0]:.2f} mOhm, "
           f"R1 {1e3 * s.rc_R_Ohm[0, 0, 0]:.2f} mOhm / tau1 {s.rc_tau_s[0, 0, 0]:.2f} s, "
           f"R2 {1e3 * s.rc_R_Ohm[1, 0, 0]:.2f} mOhm / tau2 {s.rc_tau_s[1, 0, 0]:.1f} s")
    caps = "/".join(f"{e.capacity_Ah:.2f}" for e in ecms)
    fig.suptitle(f"Fitted tables: Nissan Leaf (ORNL HPPC at 10/25/40 degC, one ECM each; "
                 f"SOC frames of {caps} Ah)\n{txt}", fontsize=9)
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def run(fig_dir: Path) -> CaseResult:
    from cellmodels._atomic import atomic_path
    from cellmodels.reduction import save_ecm

    t0 = time.perf_counter()
    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    out = fig_dir.parent / "out"
    out.mkdir(parents=True, exist_ok=True)
    fits = [fit_nissan(10), fit_nissan(25), fit_nissan(40), fit_samsung()]
    rows = []
    labels = ("nissan_10C", "nissan_25C", "nissan_40C", "samsung")
    for label, (dss, res) in zip(labels, fits, strict=True):
        ecm = res.meta["ecm"]
        save_ecm(ecm, out / f"{label}_hppc.ecm.h5")
        with atomic_path(out / f"{label}_hppc_tables.json") as tmp:
            Path(tmp).write_text(json.dumps(_tables(res), indent=1))
        for e, ds in zip(res.experiments, dss, strict=True):
            rows.append({
                "record": e.name,
                "source": e.source,
                "T_degC": round(ds.meta.get("chamber_temperature_K") - 273.15, 2),
                "samples": int(e.time_s.size),
                "duration_h": round(float(e.time_s[-1]) / 3600.0, 3),
                "rmse_mV": round(1e3 * e.rmse_V, 3),
                "max_abs_mV": round(1e3 * e.max_abs_V, 2),
                "fit_grid_rmse_mV": round(res.meta["fit_rmse_mV"][e.name], 3),
                "converged": res.success,
                "parameters": len(res.names),
                "not_separable": len(res.not_separable),
                "wall_s": round(res.wall_time_s, 1),
                "pass": bool(e.rmse_V * 1e3 <= TARGET_MV and res.success),
            })
    png = fig_dir / f"{NAME}.png"
    _plot_records(fits, png)
    _plot_tables(fits, fig_dir / f"{NAME}_tables.png")
    ok = all(r["pass"] for r in rows)
    worst = max(rows, key=lambda r: r["rmse_mV"])
    nis = [res.meta["ecm"] for _, res in fits[:3]]
    r0_mid = ", ".join(
        f"{e.temperature_K[0] - 273.15:g} degC "
        f"{1e3 * e.r0_Ohm[int(np.argmin(np.abs(e.soc - 0.5))), 0]:.2f}" for e in nis)
    sam = fits[3][1].meta["ecm"]
    listed = ", ".join(f"{r['rmse_mV']:.2f}" for r in rows)
    text = (f"RMSE {listed} mV (Nissan 10/25/40 degC, "
            f"Samsung); worst {worst['rmse_mV']:.2f} mV <= {TARGET_MV:g} mV: "
            f"{'pass' if ok else 'FAIL'}")
    notes = (
        f"Fitted tables (validation/out/*_hppc_tables.json, figure {NAME}_tables.png). "
        f"Nissan: R0 at SOC 0.5 [mOhm]: {r0_mid}; capacity of each SOC frame "
        f"{', '.join(f'{e.capacity_Ah:.2f}' for e in nis)} Ah (full CC-CV 4.2 V to the "
        "lowest state of the record; rated 33.1 Ah). "
        f"Samsung: R0 {1e3 * sam.r0_Ohm[0, 0]:.2f} mOhm, R1 "
        f"{1e3 * sam.rc_R_Ohm[0, 0, 0]:.2f} mOhm / {sam.rc_tau_s[0, 0, 0]:.2f} s, R2 "
        f"{1e3 * sam.rc_R_Ohm[1, 0, 0]:.2f} mOhm / {sam.rc_tau_s[1, 0, 0]:.1f} s (SOURCES.md: "
        "about 7 mOhm instantaneous, 20 mOhm at 10 s). Isothermal at the chamber "
        "temperature; the Samsung temperature is not in the excerpt (25 degC taken). "
        f"Wall time {time.perf_counter() - t0:.0f} s on a shared machine."
    )
    return CaseResult(
        name=NAME,
        data_source=(
            "nissan_leaf_ornl/NissanLeaf-cell-Low-Current-HPPC-{10C,25C-2,40C-1}.csv "
            "(batterysim/nissan-leaf-data @ b2222ed1, MIT, ORNL); "
            "samsung_inr21700_30t_pybop/multipulse_hppc.xlsx (pybop-team/PyBOP @ e8165e04, "
            "BSD-3; Kollmeyer & Skells 2020, CC BY 4.0)"
        ),
        metric="voltage RMSE and max |error| of the fitted ECM (simulate_ecm) over each whole "
               "measured record [mV]",
        target=f"RMSE <= {TARGET_MV:g} mV at each temperature and for the Samsung cell",
        result=text,
        passed=ok,
        rows=rows,
        figure=f"{fig_dir.name}/{png.name}",
        notes=notes,
    )


CASES = [Case(NAME, run, fast=False)]


if __name__ == "__main__":  # pragma: no cover
    r = run(Path(__file__).parent / "figures")
    print(r.result)
    print(math.nan if not r.rows else r.rows)
