"""Case: the small-signal impedance of the ECM and of the physics model agree where both are
valid (issue: "the small-signal impedance of the ECM and of the physics model must agree
where both are valid").

The ECM of ``semisolid_lfp_power`` is identified in the time domain from the DFN
(:class:`~cellmodels.reduction.identify.ECMIdentifier` with the settings of
:data:`IDENTIFIER`, 5 SOC x 2 temperatures) and
its analytic impedance is compared with PyBaMM's EIS of the same DFN
(:func:`~cellmodels.reduction.impedance.physics_impedance`) at every grid point.

Two things the ECM represents differently, and how they are accounted for:

- **The OCV slope.** The identification tracks SOC and reads the OCV from its table, so
  the OCV following the charge passed is not an impedance element of the circuit; in the
  physics it is the low-frequency capacitive tail ``dU/dQ``. The comparison adds it to the
  ECM: ``dOCV/dSOC / (j w 3600 Q)`` with the slope of the ECM's own OCV table
  (``ecm_impedance(..., ocv_capacitance=True)``). The error without it is reported too.
- **The double layer.** The set gives no double-layer capacity, so the time-domain DFN the
  ECM is identified from has none (charge transfer is instantaneous) and PyBaMM's EIS
  needs one: ``physics_impedance`` supplies 0.2 F/m2, which adds a charge-transfer arc
  that neither the set nor the ECM defines. The DFN is therefore also solved with the
  algebraic surface form (no double layer, the ``C_dl -> 0`` limit: the identified
  physics exactly) to show where the supplied double layer matters.

Band where both are valid, per SOC and temperature:

- lower edge ``1/(2 pi tau_max)``, the slowest RC: below it the physics' solid diffusion
  (a Warburg-like element, the LFP particles) continues while the ECM's RCs are all at
  DC; the identification sequence (300 s + 120 s rest) cannot resolve slower modes;
- upper edge the lower of (a) the frequency from which the supplied double layer changes
  the physics impedance by more than 2 % (a fifth of the target; above it the answer
  depends on a capacity the set does not give and the ECM never saw) and (b)
  ``1/(2 pi 1 ms)`` = 159 Hz: the identification's first sample after every current edge
  is at 1 ms, so R0 is the 1 ms response and nothing faster is resolved.

Metric: ``max |Z_ecm - Z_dfn| / |Z_dfn|`` over the band. Target 10 %: three RC pairs
stand in for distributed (diffusion) impedances, which leaves a ripple of a few percent;
the ECM is a least-squares fit to a large-signal (-1.5C to 2.5C) sequence; and its
identification RMSE is ~0.1-1.5 mV on ~10-20 mV responses. A second
figure, reported per row and also held to 10 %, compares the ECM with the double-layer-free
DFN over the whole resolved band ``[1/(2 pi tau_max), 159 Hz]``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from cellmodels.validate import Case, CaseResult

NAME = "impedance_ecm_vs_physics"
CELL = "semisolid_lfp_power"
SOC = (0.1, 0.3, 0.5, 0.7, 0.9)
TEMPERATURES_K = (278.15, 298.15)
TARGET = 0.10
DL_SENSITIVITY = 0.02
FIRST_SAMPLE_S = 1e-3  # identify.py samples every edge + 1 ms first
FREQUENCIES_HZ = np.logspace(-4, 4, 161)  # 20 per decade
#: Identification for a small-signal comparison (the settings are the ECMIdentifier's):
#: the Butler-Volmer element (the zero-current tangent R0 + R_ct, not a secant over 5C);
#: half the default sequence (-1.5C to 2.5C); each point's sequence centred on its SOC;
#: time constants per SOC point; 3 RC pairs; and the sequence kept 0.45 V above the lower
#: and 0.2 V below the upper cut-off, out of the LFP's end-of-range knees (at 5 degC, SOC
#: 0.1 the OCV is 3.06 V: the margin leaves 0.11 V). Measured on this case (max error,
#: the 5 degC SOC 0.1 row is always the worst): default identification (2 RC, none,
#: full amplitude, shared time constants) 61.9 %; Butler-Volmer 41.0 %; + centring,
#: per-SOC time constants, 0.2 V margins 19.7 %; + half amplitude 26.1 %, with the lower
#: margin 0.35 V 14.3 %, 0.45 V 10.0 %; + 3 RC 9.4 % (0.55 V leaves no room at SOC 0.1).
IDENTIFIER = {"current_dependence": "butler-volmer", "amplitude": 0.5, "centre_soc": True,
              "shared_tau": False, "cutoff_margin_V": (0.45, 0.2), "n_rc": 3}


def _band_top(f: np.ndarray, sensitivity: np.ndarray, f_lo: float) -> float:
    """Highest grid frequency >= f_lo before the double-layer sensitivity first exceeds
    DL_SENSITIVITY, capped at the identification's resolution."""
    f_res = 1.0 / (2 * np.pi * FIRST_SAMPLE_S)
    over = np.flatnonzero((f >= f_lo) & (sensitivity > DL_SENSITIVITY))
    f_dl = float(f[over[0] - 1]) if over.size else float(f[-1])
    return min(f_dl, f_res)


def _dcr_1ms(engine, soc: float, temp: float, c_rate: float) -> float:
    """Physics DCR [Ohm] 1 ms into a discharge pulse (NaN if it reaches a cut-off)."""
    from cellmodels.errors import CutoffError

    try:
        return float(engine.pulse(soc, temp, c_rate * engine.cell.capacity_Ah,
                                  (FIRST_SAMPLE_S,))["dcr_Ohm"][0])
    except CutoffError:
        return float("nan")


def _compare(ecm, cell, fit_table):
    from cellmodels.dcr import PulseEngine
    from cellmodels.reduction.impedance import ecm_impedance, ocv_slope, physics_impedance

    engine = PulseEngine(cell, "DFN", thermal="isothermal")
    rmse = {(r["temperature_K"], r["soc"]): r["rmse_V"] for r in fit_table}
    amp = {(r["temperature_K"], r["soc"]): f"{r['amplitude_A'] / cell.capacity_Ah:.3g}/"
           f"{r['charge_amplitude_A'] / cell.capacity_Ah:.3g}" for r in fit_table}
    f = FREQUENCIES_HZ
    f_res = 1.0 / (2 * np.pi * FIRST_SAMPLE_S)
    rows, curves = [], {}
    for temp in TEMPERATURES_K:
        for s in SOC:
            z_dl = physics_impedance(cell, s, temp, f, "DFN")
            z_alg = physics_impedance(cell, s, temp, f, "DFN", surface_form="algebraic")
            z_ecm = ecm_impedance(ecm, s, temp, f, ocv_capacitance=True)
            z_rc = ecm_impedance(ecm, s, temp, f)
            _, tau = ecm.rc(s, temp)
            f_lo = 1.0 / (2 * np.pi * float(np.max(tau)))
            sens = np.abs(z_dl - z_alg) / np.abs(z_alg)
            f_hi = _band_top(f, sens, f_lo)
            band = (f >= f_lo * (1 - 1e-12)) & (f <= f_hi * (1 + 1e-12))
            wide = (f >= f_lo * (1 - 1e-12)) & (f <= f_res)
            err = np.abs(z_ecm - z_dl) / np.abs(z_dl)
            err_rc = np.abs(z_rc - z_dl) / np.abs(z_dl)
            err_alg = np.abs(z_ecm - z_alg) / np.abs(z_alg)
            k = int(np.argmax(np.where(band, err, -1.0)))
            k2 = int(np.argmax(np.where(wide, err_alg, -1.0)))
            i_res = int(np.argmin(np.abs(f - f_res)))
            rows.append({
                "T [degC]": round(temp - 273.15, 2),
                "SOC": s,
                "dOCV/dSOC [V]": ocv_slope(ecm, s, temp),
                "band [Hz]": f"{f_lo:.3g}-{f_hi:.3g}" if band.any() else "empty",
                "max err (dl DFN) [%]": float(100 * err[k]) if band.any() else float("nan"),
                "at [Hz]": float(f[k]),
                "max err w/o OCV term [%]": float(100 * np.max(err_rc[band]))
                if band.any() else float("nan"),
                "max err (no-dl DFN, to 159 Hz) [%]": float(100 * err_alg[k2]),
                "at  [Hz]": float(f[k2]),
                "R0 + R_ct ECM [mOhm]": 1e3 * float(ecm.r0(s, temp) + ecm.ct(s, temp)[0]),
                "Re Z no-dl DFN 159 Hz [mOhm]": 1e3 * float(z_alg[i_res].real),
                "Re Z dl DFN 10 kHz [mOhm]": 1e3 * float(z_dl[-1].real),
                "DCR 1 ms 0.05C [mOhm]": 1e3 * _dcr_1ms(engine, s, temp, 0.05),
                "DCR 1 ms 5C [mOhm]": 1e3 * _dcr_1ms(engine, s, temp, 5.0),
                "ident. RMSE [mV]": 1e3 * rmse[(temp, s)],
                "ident. amplitude dis/chg [C]": amp[(temp, s)],
            })
            curves[(temp, s)] = (z_dl, z_alg, z_ecm, band, err, err_alg, wide)
    return rows, curves


def _plot(curves, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = FREQUENCIES_HZ
    fig, axes = plt.subplots(2, len(TEMPERATURES_K), figsize=(6.5 * len(TEMPERATURES_K), 9.5),
                             squeeze=False)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(SOC)))
    show = f >= 1e-3
    for j, temp in enumerate(TEMPERATURES_K):
        ax, ax2 = axes[0, j], axes[1, j]
        ymax, xmax, xmin = [], [], np.inf
        for c, s in zip(colors, SOC, strict=True):
            z_dl, z_alg, z_ecm, band, err, err_alg, wide = curves[(temp, s)]
            ax.plot(z_dl[show].real * 1e3, -z_dl[show].imag * 1e3, "-", color=c, lw=1.5,
                    label=f"SOC {s:g}: DFN (0.2 F/m2 double layer)")
            ax.plot(z_alg[show].real * 1e3, -z_alg[show].imag * 1e3, "--", color=c, lw=0.9)
            ax.plot(z_ecm[show].real * 1e3, -z_ecm[show].imag * 1e3, ":", color=c, lw=1.2)
            ax.plot(z_ecm[band].real * 1e3, -z_ecm[band].imag * 1e3, "o", color=c, ms=3)
            sel = band if band.any() else wide
            ymax.append(float(np.max(-z_dl[sel].imag)) * 1e3)
            xmax.append(float(np.max(z_dl[sel].real)) * 1e3)
            xmin = min(xmin, float(z_dl.real.min()) * 1e3)
            ax2.semilogx(f, 100 * err, "-", color=c, lw=1.2, label=f"SOC {s:g} vs DFN")
            ax2.semilogx(f, 100 * err_alg, "--", color=c, lw=0.9)
            if band.any():
                ax2.semilogx(f[band], 100 * err[band], "-", color=c, lw=3.5, alpha=0.6)
        ax.plot([], [], "k--", lw=0.9, label="DFN without double layer")
        ax.plot([], [], "k:", label="ECM + dOCV/dSOC/(jw 3600 Q)")
        ax.plot([], [], "ko", ms=3, label="ECM in the comparison band")
        # zoom on the arcs: the second-largest SOC sets the scale (the steepest OCV's
        # tail runs off the top; its error is in the panel below)
        top = sorted(ymax)[-2] if len(ymax) > 1 else ymax[0]
        ax.set_xlim(xmin * 0.95, sorted(xmax)[-2] * 1.15 if len(xmax) > 1 else xmax[0] * 1.15)
        ax.set_ylim(-0.05 * top, 1.5 * top)
        ax.set_xlabel("Re Z [mOhm]")
        ax.set_ylabel("-Im Z [mOhm]")
        ax.set_title(f"{CELL}, {temp - 273.15:.0f} degC (f >= 1 mHz)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5, loc="upper left")
        ax2.axhline(100 * TARGET, color="r", ls="--", lw=1, label=f"target {100 * TARGET:g} %")
        ax2.plot([], [], "k--", lw=0.9, label="vs DFN without double layer")
        ax2.plot([], [], "k-", lw=3.5, alpha=0.6, label="comparison band")
        ax2.set_ylim(0, 50)
        ax2.set_xlabel("frequency [Hz]")
        ax2.set_ylabel("|Z_ecm - Z_dfn| / |Z_dfn| [%]")
        ax2.grid(alpha=0.3, which="both")
        ax2.legend(fontsize=6.5, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def run(fig_dir: Path) -> CaseResult:
    from cellmodels.physics.cells import load_cell
    from cellmodels.reduction.identify import ECMIdentifier
    from cellmodels.reduction.impedance import supplied_parameters

    t0 = time.perf_counter()
    cell = load_cell(CELL)
    ident = ECMIdentifier(soc=SOC, temperature_K=TEMPERATURES_K, **IDENTIFIER).fit(cell)
    ecm = ident.ecm_
    t_ident = time.perf_counter() - t0
    rows, curves = _compare(ecm, cell, ident.fit_table_)
    t_eis = time.perf_counter() - t0 - t_ident
    png = Path(fig_dir) / f"{NAME}.png"
    _plot(curves, png)

    primary = [r["max err (dl DFN) [%]"] for r in rows]
    wide = [r["max err (no-dl DFN, to 159 Hz) [%]"] for r in rows]
    empty = [f"{r['T [degC]']:g} degC SOC {r['SOC']:g}" for r in rows
             if r["band [Hz]"] == "empty"]
    worst = max(primary) if not empty else float("nan")
    passed = (not empty) and worst <= 100 * TARGET and max(wide) <= 100 * TARGET
    i = int(np.nanargmax(primary)) if not empty else 0
    per_t = {temp: max(r["max err (dl DFN) [%]"] for r in rows
                       if r["T [degC]"] == round(temp - 273.15, 2)) for temp in TEMPERATURES_K}
    taus = {temp: ecm.rc(0.5, temp)[1] for temp in TEMPERATURES_K}
    supplied = supplied_parameters(cell)
    notes = (
        f"ECM: {ecm.n_rc} RC with the Butler-Volmer element, identified on SOC {list(SOC)} x "
        f"{list(TEMPERATURES_K)} K ({t_ident:.1f} s); time constants at SOC 0.5 "
        + ", ".join(f"{temp:g} K: {', '.join(f'{t:.3g}' for t in taus[temp])} s"
                    for temp in TEMPERATURES_K)
        + f". EIS: {t_eis:.1f} s for {len(rows)} x 2 spectra of {FREQUENCIES_HZ.size} "
        "frequencies (1e-4 to 1e4 Hz), plus two 1 ms DCR pulses per row. "
        f"Supplied to the DFN for EIS (the set gives no double layer): {supplied}.\n\n"
        "The ECM side is `ecm_impedance(..., ocv_capacitance=True)`: the circuit plus "
        "dOCV/dSOC / (j w 3600 Q), the OCV moving with the SOC the ECM tracks; the "
        "'w/o OCV term' column is the error without it (it matters where the OCV is steep: "
        "SOC 0.1, 0.3, 0.7). The 'no-dl DFN' columns compare with the DFN solved with the "
        "algebraic surface form (no double layer: the physics the ECM was identified from) "
        "over the whole band the identification resolves, up to 159 Hz; above the band the "
        "supplied double layer shorts the charge-transfer and film resistances ('Re Z dl DFN "
        "10 kHz' against R0), which neither the set nor the ECM defines.\n\n"
        "Maximum error per temperature: "
        + ", ".join(f"{temp - 273.15:g} degC {per_t[temp]:.1f} %" for temp in TEMPERATURES_K)
        + ". Identification for a small-signal comparison (IDENTIFIER in the case file): "
        f"{IDENTIFIER}. Why each: (1) EIS is the tangent at zero current; a linear ECM "
        "fitted to a large-signal sequence has a secant R0 ('DCR 1 ms 0.05C' against 'DCR "
        "1 ms 5C' shows how non-linear the kinetics are: at 5 degC the asinh range), so the "
        "ECM carries the Butler-Volmer element, whose small-signal resistance R0 + R_ct is "
        "the tangent; (2) at the ends of the SOC range the sequence's SOC excursion and the "
        "cut-off knee of the LFP (the OCV falls from 3.06 V at SOC 0.1 to 2.91 V at 0.05 at "
        "5 degC) dominate a full-amplitude fit (identification RMSE ~20 mV at 5 degC, SOC "
        "0.1, with the default settings): half the amplitude, the sequence centred on each "
        "SOC and kept 0.45 V above the lower cut-off keep the data near the point; (3) time "
        "constants per SOC point and 3 RC pairs follow the solid-diffusion branch, which "
        "changes with SOC. Measured on this case (max error; the 5 degC SOC 0.1 row is "
        "always the worst): default identification 61.9 %; Butler-Volmer 41.0 %; + centred, "
        "per-SOC time constants, 0.2 V margins 19.7 %; + half amplitude 26.1 %, with a lower "
        "margin of 0.35 V 14.3 %, 0.45 V 10.0 %; + 3 RC pairs: this run. The margin is at its "
        "limit: 0.55 V leaves no room at SOC 0.1 and 5 degC (the rest voltage is inside it). "
        "The reduction_vs_dfn ECMs keep the default settings (large-signal accuracy on AI "
        "loads is their target)."
    )
    return CaseResult(
        name=NAME,
        data_source=(f"physics ({CELL}, DFN, isothermal, PyBaMM EISSimulation) vs its ECM "
                     "identified in the time domain from the same DFN"),
        metric=("max |Z_ecm - Z_dfn| / |Z_dfn| over the band where both are valid, "
                "[1/(2 pi tau_max), min(f where the supplied double layer moves Z_dfn by "
                f"{100 * DL_SENSITIVITY:g} %, 159 Hz)], ECM with the OCV term"),
        target=(f"<= {100 * TARGET:g} % at every SOC and temperature (and <= "
                f"{100 * TARGET:g} % against the double-layer-free DFN up to 159 Hz)"),
        result=(f"max {worst:.1f} % (at {rows[i]['T [degC]']:g} degC, SOC {rows[i]['SOC']:g}, "
                f"{rows[i]['at [Hz]']:.3g} Hz); vs no-dl DFN to 159 Hz max {max(wide):.1f} %"
                + (f"; empty band at {empty}" if empty else "")),
        passed=bool(passed),
        rows=rows,
        figure=f"figures/{png.name}",
        notes=notes,
    )


# Slow (an identification and 20 EIS spectra, minutes on a shared machine): run by
# `cellmodels validate`, not by the test suite.
CASES = [Case(NAME, run, fast=False)]
