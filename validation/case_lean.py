"""Lean-electrolyte dry-out model (cellmodels.physics.lean) against PyBaMM's own model.

Both checks use PyBaMM's built-in "OKane2022" set (LG M50 21700, with SEI parameters),
the "solvent-diffusion limited" SEI with distributed film resistance, and the SEI solvent
diffusivity raised from 2.5e-22 to 5e-19 m2/s (accelerated ageing: 100 cycles then hold
about a calendar life of SEI growth, ~10-15 % fade, so both checks run in minutes):

1. ``lean_unlimited_reservoir_dfn``: with a reservoir far larger than the solvent the SEI
   can consume (1e-4 m3 against ~2e-6 m3), the lean DFN must reproduce PyBaMM's DFN
   capacity fade over 100 cycles within 0.1 % (relative).
2. ``lean_dry_out_knee_dfn``: with a lean reservoir (0.6 mL, 11 % of the 5.4 mL pore
   volume) the capacity-vs-cycle curve must bend down once the reservoir is empty. The
   reference is PyBaMM's DFN (no dry-out). Both dry-out modes are run: "electrode width"
   (Li et al.'s formulation: dried area inactive) must show the knee as a local jump of
   the fade rate (>= 2x across the cycle the reservoir empties); "wetted area" (the
   package default: reaction area and transport scale with the wetted fraction) must
   fade >= 1.5x faster than PyBaMM's DFN over the last 10 cycles. Before the reservoir
   empties both must agree with PyBaMM's DFN. The figure shows the capacities and the
   reservoir volume and wetted fraction against cycle number.

There is no measured dry-out data for this cell; the reference is PyBaMM's own model
(check 1) and the mechanism's expected signature (check 2).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from cellmodels.validate import Case, CaseResult

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

PARAMETER_SET = "OKane2022"
OPTIONS = {"SEI": "solvent-diffusion limited", "SEI film resistance": "distributed"}
#: Accelerated SEI (PyBaMM's OKane2022 value is 2.5e-22 m2/s).
SEI_SOLVENT_DIFFUSIVITY = 5e-19
UNLIMITED_RESERVOIR_M3 = 1e-4
LEAN_RESERVOIR_M3 = 6e-7
#: Archie's saturation exponent: conductivity of a partly filled pore network ~ S**2.
TRANSPORT_EXPONENT = 2.0
MODES = ("wetted area", "electrode width")
FADE_TOLERANCE = 1e-3  # relative, check 1
#: Check 2: local fade-rate jump at the knee ("electrode width"), and fade rate relative
#: to PyBaMM's DFN over the last cycles ("wetted area").
KNEE_JUMP = 2.0
KNEE_VS_REFERENCE = 1.5
PRE_AGREEMENT = 1e-3  # relative capacity difference allowed before the reservoir empties


def parameter_values(reservoir_m3: float, transport_exponent: float = TRANSPORT_EXPONENT,
                     sei_solvent_diffusivity: float = SEI_SOLVENT_DIFFUSIVITY):
    """OKane2022 with the accelerated SEI and the three lean parameters."""
    import pybamm

    from cellmodels.physics.lean import EC_MOLAR_VOLUME, add_lean_parameters

    pv = pybamm.ParameterValues(PARAMETER_SET)
    pv.update({"SEI solvent diffusivity [m2.s-1]": sei_solvent_diffusivity})  # must exist
    return add_lean_parameters(pv, {
        "Electrolyte reservoir volume [m3]": reservoir_m3,
        "EC partial molar volume [m3.mol-1]": EC_MOLAR_VOLUME,
        "Dry-out transport exponent": transport_exponent,
    })


def cycle(model, pv, n_cycles: int, discharge: str = "1C", var_pts=None) -> dict:
    """Cycle ``model`` from full charge: CC discharge to 2.5 V, 10 min rest, C/2 CCCV
    charge to 4.2 V (C/20 cut-off), 10 min rest.

    Returns per-cycle arrays (discharge capacity [A.h]; for a lean model also the
    reservoir volume [mL] and dry-out ratio at the end of each discharge) and the solve
    time [s].
    """
    import pybamm

    steps = (
        f"Discharge at {discharge} until 2.5 V",
        "Rest for 10 minutes",
        "Charge at 0.5C until 4.2 V",
        "Hold at 4.2 V until C/20",
        "Rest for 10 minutes",
    )
    sim = pybamm.Simulation(model, parameter_values=pv, solver=pybamm.IDAKLUSolver(),
                            experiment=pybamm.Experiment([steps] * n_cycles), var_pts=var_pts)
    t0 = time.perf_counter()
    sol = sim.solve(initial_soc=1.0)
    seconds = time.perf_counter() - t0
    if len(sol.cycles) != n_cycles:
        raise RuntimeError(f"{model.name}: {len(sol.cycles)} of {n_cycles} cycles solved "
                           f"({sol.termination}).")
    lean = "Electrolyte reservoir volume [mL]" in model.variables
    out: dict = {"capacity_Ah": [], "reservoir_mL": [], "dry_out_ratio": []}
    for c in sol.cycles:
        d = c.steps[0]
        q = d["Discharge capacity [A.h]"].entries
        out["capacity_Ah"].append(q[-1] - q[0])
        if lean:
            out["reservoir_mL"].append(d["Electrolyte reservoir volume [mL]"].entries[-1])
            out["dry_out_ratio"].append(d["Electrolyte dry-out ratio"].entries[-1])
    out = {k: np.asarray(v, dtype=float) for k, v in out.items()}
    out["seconds"] = seconds
    out["solution"] = sol
    return out


def fade(q: np.ndarray) -> float:
    """Capacity fade from the first to the last cycle, relative to the first."""
    return float(1 - q[-1] / q[0])


def fade_rate(q: np.ndarray, lo: int, hi: int) -> float:
    """Least-squares fade rate [A.h/cycle] over cycles ``lo .. hi-1``."""
    x = np.arange(lo, hi)
    return float(-np.polyfit(x, q[lo:hi], 1)[0])


def unlimited_vs_pybamm(model_name: str = "DFN", n_cycles: int = 100, var_pts=None,
                        sei_solvent_diffusivity: float = SEI_SOLVENT_DIFFUSIVITY) -> dict:
    """Check 1: fade of the lean model with an unlimited reservoir vs PyBaMM's model."""
    import pybamm

    from cellmodels.physics.lean import build_lean_model

    cls = getattr(pybamm.lithium_ion, model_name)
    pv = parameter_values(UNLIMITED_RESERVOIR_M3, sei_solvent_diffusivity=sei_solvent_diffusivity)
    ref = cycle(cls(dict(OPTIONS)), pv.copy(), n_cycles, var_pts=var_pts)
    lean = cycle(build_lean_model(cls, dict(OPTIONS)), pv.copy(), n_cycles, var_pts=var_pts)
    f_ref, f_lean = fade(ref["capacity_Ah"]), fade(lean["capacity_Ah"])
    return {
        "model": model_name,
        "cycles": n_cycles,
        "fade_pybamm": f_ref,
        "fade_lean": f_lean,
        "fade_rel_diff": abs(f_lean - f_ref) / f_ref,
        "max_capacity_rel_diff": float(np.max(np.abs(lean["capacity_Ah"] - ref["capacity_Ah"])
                                              / ref["capacity_Ah"])),
        "min_dry_out_ratio": float(lean["dry_out_ratio"].min()),
        "seconds_pybamm": ref["seconds"],
        "seconds_lean": lean["seconds"],
    }


def knee(model_name: str = "DFN", n_cycles: int = 100, reservoir_m3: float = LEAN_RESERVOIR_M3,
         discharge: str = "2C", modes=MODES, window: int = 5, var_pts=None,
         sei_solvent_diffusivity: float = SEI_SOLVENT_DIFFUSIVITY) -> dict:
    """Check 2: lean reservoirs (one run per dry-out mode) against PyBaMM's model.

    Per mode: ``empty_cycle``, the first cycle ending with < 1 % of the reservoir left;
    ``knee_cycle``, the first at which the lean capacity is 0.5 % (of the first cycle's)
    below PyBaMM's; ``knee_jump``, the fade rate over the ``window`` cycles after the
    reservoir empties over that of the ``window`` cycles before; ``vs_reference``, the
    fade rate over the last 10 cycles over PyBaMM's; ``pre_max_rel_diff``, the largest
    relative capacity difference from PyBaMM's before the reservoir empties.
    """
    import pybamm

    from cellmodels.physics.lean import build_lean_model

    cls = getattr(pybamm.lithium_ion, model_name)
    pv = parameter_values(reservoir_m3, sei_solvent_diffusivity=sei_solvent_diffusivity)
    ref = cycle(cls(dict(OPTIONS)), pv.copy(), n_cycles, discharge, var_pts)
    r = ref["capacity_Ah"]
    out = {"model": model_name, "cycles": n_cycles, "discharge": discharge,
           "reservoir_mL": reservoir_m3 * 1e6, "reference": ref, "modes": {}}
    for mode in modes:
        lean = cycle(build_lean_model(cls, dict(OPTIONS), mode=mode), pv.copy(), n_cycles,
                     discharge, var_pts)
        q = lean["capacity_Ah"]
        emptied = np.flatnonzero(lean["reservoir_mL"] < 0.01 * reservoir_m3 * 1e6)
        i_e = int(emptied[0]) if emptied.size else n_cycles
        below = np.flatnonzero(r - q > 0.005 * r[0])
        pre = (max(i_e - window, 1), i_e)
        post = (i_e, min(i_e + window, n_cycles))
        last = (n_cycles - 10, n_cycles)
        m = {
            "mode": mode,
            "empty_cycle": i_e,
            "knee_cycle": int(below[0]) if below.size else n_cycles,
            "pre_max_rel_diff": float(np.max(np.abs(q[:i_e] - r[:i_e]) / r[:i_e]))
            if i_e > 0 else float("nan"),
            "fade_rate_before": fade_rate(q, *pre) if i_e - pre[0] > 1 else float("nan"),
            "fade_rate_after": fade_rate(q, *post) if post[1] - i_e > 1 else float("nan"),
            "fade_rate_last_lean": fade_rate(q, *last),
            "fade_rate_last_pybamm": fade_rate(r, *last),
            "fade_lean": fade(q),
            "fade_pybamm": fade(r),
            "final_dry_out_ratio": float(lean["dry_out_ratio"][-1]),
            "seconds": lean["seconds"],
        }
        m["knee_jump"] = m["fade_rate_after"] / m["fade_rate_before"]
        m["vs_reference"] = m["fade_rate_last_lean"] / m["fade_rate_last_pybamm"]
        m["series"] = lean
        out["modes"][mode] = m
    return out


def knee_passes(m: dict) -> bool:
    """The acceptance rule of check 2 for one mode's result (see the module docstring)."""
    if not (m["empty_cycle"] > 5 and m["pre_max_rel_diff"] <= PRE_AGREEMENT):
        return False
    if m["mode"] == "electrode width":
        return m["knee_jump"] >= KNEE_JUMP
    return m["vs_reference"] >= KNEE_VS_REFERENCE


def plot_knee(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = res["reference"]["capacity_Ah"]
    n = np.arange(len(r))
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(7.5, 7))
    ax1.plot(n, r, "k--", label="PyBaMM DFN, no dry-out (= unlimited reservoir)")
    ax3 = ax2.twinx()
    for k, (mode, m) in enumerate(res["modes"].items()):
        s = m["series"]
        color = f"C{3 + k}"
        ax1.plot(n, s["capacity_Ah"], color=color, label=f"lean, '{mode}' mode")
        ax1.axvline(m["empty_cycle"], color=color, ls=":", lw=1)
        ax3.plot(n, s["dry_out_ratio"], color=color, ls="-.", lw=1.2,
                 label=f"wetted fraction, '{mode}'")
        if k == 0:
            ax2.plot(n, s["reservoir_mL"], "C0", lw=2, label="reservoir volume")
    ax1.set_ylabel(f"{res['discharge']} discharge capacity [A.h]")
    ax1.set_title(f"{res['model']} (OKane2022, accelerated SEI), reservoir "
                  f"{res['reservoir_mL']:.2f} mL: dry-out knee")
    ax1.legend(fontsize=8)
    ax2.set_ylabel("electrolyte reservoir [mL]", color="C0")
    ax2.set_xlabel("cycle")
    ax3.set_ylabel("dry-out ratio (wetted fraction)")
    h2, l2 = ax2.get_legend_handles_labels()
    h3, l3 = ax3.get_legend_handles_labels()
    ax2.legend(h2 + h3, l2 + l3, fontsize=8, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _run_unlimited(folder: Path) -> CaseResult:
    r = unlimited_vs_pybamm("DFN", 100)
    return CaseResult(
        name="lean_unlimited_reservoir_dfn",
        data_source=f"PyBaMM {PARAMETER_SET} DFN with the same SEI option (no dry-out)",
        metric="relative difference of the 100-cycle capacity fade, lean DFN (1e-4 m3 "
               "reservoir) vs PyBaMM DFN",
        target=f"<= {FADE_TOLERANCE:.1%}",
        result=f"{r['fade_rel_diff']:.2e} (fade {r['fade_lean']:.4%} vs {r['fade_pybamm']:.4%})",
        passed=r["fade_rel_diff"] <= FADE_TOLERANCE,
        rows=[r],
        notes="1C discharge to 2.5 V, C/2 CCCV charge to 4.2 V (C/20), 10 min rests; SEI "
              f"solvent diffusivity {SEI_SOLVENT_DIFFUSIVITY:g} m2/s (accelerated).",
    )


def _run_knee(folder: Path) -> CaseResult:
    res = knee("DFN", 100)
    fig = Path(folder) / "lean_dry_out_knee_dfn.png"
    plot_knee(res, fig)
    rows = [{k: v for k, v in m.items() if k != "series"} for m in res["modes"].values()]
    ok = all(knee_passes(m) for m in res["modes"].values())
    w, a = res["modes"]["electrode width"], res["modes"]["wetted area"]
    return CaseResult(
        name="lean_dry_out_knee_dfn",
        data_source=f"PyBaMM {PARAMETER_SET} DFN + cellmodels lean submodel; PyBaMM's DFN as "
                    "the no-dry-out reference",
        metric="'electrode width': fade rate 5 cycles after / before the reservoir empties; "
               "'wetted area': fade rate over the last 10 cycles / PyBaMM's (2C discharge)",
        target=f">= {KNEE_JUMP:g} and >= {KNEE_VS_REFERENCE:g}; capacity within "
               f"{PRE_AGREEMENT:.1%} of PyBaMM's before the reservoir empties",
        result=f"{w['knee_jump']:.2f}x at cycle {w['empty_cycle']} (knee at "
               f"{w['knee_cycle']}); {a['vs_reference']:.2f}x (knee at {a['knee_cycle']})",
        passed=ok,
        rows=rows,
        figure=f"figures/{fig.name}",
        notes=f"Dry-out transport exponent {TRANSPORT_EXPONENT:g} (Archie). In the 'wetted "
              "area' mode the particles behind the wetted surface stay reachable, so dry-out "
              "shows as a loss of capacity at rate (transport-limited at 2C), not at low "
              "rate; in the 'electrode width' mode the dried part is inactive and the "
              "capacity falls with the wetted fraction at any rate.",
    )


CASES = [
    Case("lean_unlimited_reservoir_dfn", _run_unlimited, fast=False),
    Case("lean_dry_out_knee_dfn", _run_knee, fast=False),
]
