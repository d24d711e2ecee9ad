"""Calibrating the reduced ageing model from the physics model's degradation submodels.

The physics (:mod:`cellmodels.physics`: PyBaMM SPM with the SEI growth submodel, and for a
lean cell the package's electrolyte-reservoir dry-out submodel,
:mod:`cellmodels.physics.lean`) is run on representative storage windows; the reduced
model's calendar capacity term

    q_cal = A exp(-Ea/R (1/T - 1/T_ref)) exp(C Ua / T) t**p            (t in days)

is fitted to the lithium those runs lose to SEI, and a lean cell gets the dry-out block
(:mod:`cellmodels.life.ageing`) with its reservoir and pore volume from the same parameter
set and ``f_SEI = 1`` (in this physics all lithium inventory loss is SEI). The cycle
terms stay those of the empirical set (``base``): PyBaMM's SEI submodel ("solvent-diffusion
limited") has no cycling dependence of its own, so the physics has nothing to add there.
A semi-solid cell and a lean cell thus differ in the reduced model because their physics
differs: their SEI area and rates, and the lean cell's finite solvent reservoir.

Units of the physics outputs: PyBaMM's "Loss of lithium to negative SEI [mol]" counts one
electrode layer (its ``L_y L_z``); the cell has "Number of electrodes connected in
parallel to make a cell" layers, so the cell's loss is that times the number (the lean
submodel's reservoir bookkeeping uses the same total: ``A = L_y L_z n_parallel``).

Functions: :func:`storage_run` (one PyBaMM storage window), :func:`fit_calendar`,
:func:`calibrated_model`.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..errors import InputError, SolverError, check_range
from .ageing import F_C_PER_MOL, AgeingModel, anode_potential_V, load_model

__all__ = ["SEI_DEFAULTS_FROM", "calibrated_model", "fit_calendar", "physics_options",
           "storage_run"]

#: Cells without SEI-growth parameters take them from this set (OKane2022 values, see its
#: provenance): the same SEI chemistry, so differences come from the cell's design.
SEI_DEFAULTS_FROM = "lean_nmc_power"
T_REF_K = 298.15


def physics_options(cell):
    """(PyBaMM parameter values, model) with SEI growth for ``cell`` (SPM, isothermal)."""
    os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
    from ..physics import build_model, load_cell

    pv = cell.parameter_values()
    extra = None
    if cell.electrolyte_kind != "lean":
        extra = {"SEI": "solvent-diffusion limited", "SEI film resistance": "distributed"}
        have = cell.user_defined
        donor = load_cell(SEI_DEFAULTS_FROM).user_defined
        upd = {k: v for k, v in donor.items()
               if ("SEI" in k or "solvent" in k) and k not in have}
        pv.update(upd, check_already_exists=False)
    model = build_model(cell, "SPM", thermal="isothermal", options=extra)
    return pv, model


def storage_run(cell, temperature_K: float, soc: float, days: float, *, points: int = 12
                ) -> dict:
    """Store ``cell`` at ``soc`` and ``temperature_K`` for ``days`` (PyBaMM, SEI growth).

    Returns ``t_days`` (points + 1), ``lli`` (lithium lost to SEI as a fraction of the
    nominal capacity), ``sei_mol`` (cell total), and for a lean cell ``reservoir_m3`` and
    ``pore_volume_m3``.
    """
    import pybamm

    if not (0 < days <= 20 * 365):
        raise InputError(f"The 'days' argument of storage_run must be in the range "
                         f"(0, 7300]. Got {days!r} instead.")
    # checked here, not by PyBaMM (a ModelError on variable bounds, an IDA failure)
    check_range(soc, "soc", "argument of storage_run", 0.0, 1.0)
    check_range(temperature_K, "temperature_K", "argument of storage_run", 0.0, 1000.0,
                closed=(False, True))
    if isinstance(points, bool) or not isinstance(points, int | np.integer) or \
            not 1 <= points <= 10_000:
        raise InputError(f"The 'points' argument of storage_run must be an integer in the "
                         f"range [1, 10000]. Got {points!r} instead.")
    pv, model = physics_options(cell)
    pv["Ambient temperature [K]"] = temperature_K
    pv["Initial temperature [K]"] = temperature_K
    hours = days * 24 / points
    exp = pybamm.Experiment([f"Rest for {hours:.6g} hours"] * points)
    sim = pybamm.Simulation(model, parameter_values=pv, experiment=exp,
                            solver=pybamm.IDAKLUSolver())
    sol = sim.solve(initial_soc=soc)
    if len(sol.cycles) != points:
        raise SolverError(f"Storage of {cell.name} at {temperature_K} K, SOC {soc}: "
                          f"{len(sol.cycles)} of {points} steps solved ({sol.termination}).")
    layers = float(pv["Number of electrodes connected in parallel to make a cell"])
    t = [0.0]
    mol = [0.0]
    res, pore = [], []
    lean = "Electrolyte reservoir volume [m3]" in model.variables
    for c in sol.cycles:
        t.append(float(c["Time [h]"].entries[-1]) / 24)
        mol.append(float(c["Loss of lithium to negative SEI [mol]"].entries[-1]) * layers)
        if lean:
            res.append(float(c["Electrolyte reservoir volume [m3]"].entries[-1]))
            pore.append(float(c["Pore volume [m3]"].entries[-1]))
    mol_a = np.asarray(mol)
    out = {"cell": cell.name, "temperature_K": temperature_K, "soc": soc,
           "t_days": np.asarray(t), "sei_mol": mol_a,
           "lli": mol_a * F_C_PER_MOL / 3600.0 / cell.capacity_Ah}
    if lean:
        out["reservoir_m3"] = np.concatenate(([float(pv["Electrolyte reservoir volume [m3]"])],
                                              res))
        out["pore_volume_m3"] = float(pore[0])
    return out


def fit_calendar(runs: list[dict], *, fit_potential: bool = True) -> dict:
    """Fit ``A, Ea, C, p`` of the calendar term to storage runs (log least squares).

    Returns the coefficients, the fit's largest relative error on the runs and the factors
    in :mod:`cellmodels.life.ageing` form.
    """
    from scipy.optimize import least_squares

    rows = []
    for r in runs:
        ua = float(anode_potential_V(r["soc"]))
        for t, y in zip(r["t_days"][1:], r["lli"][1:], strict=True):
            if y > 0:
                rows.append((t, r["temperature_K"], ua, y))
    if len(rows) < 4:
        raise InputError("fit_calendar needs at least 4 points with lithium loss > 0.")
    t, temp, ua, y = (np.array(c) for c in zip(*rows, strict=True))
    temps = {r["temperature_K"] for r in runs}
    socs = {r["soc"] for r in runs}
    if len(temps) < 2:
        raise InputError("fit_calendar needs runs at two temperatures at least.")
    fit_c = fit_potential and len(socs) >= 2

    def model(x):
        ln_a, ea, c, p = x[0], x[1], (x[2] if fit_c else 0.0), x[-1]
        return (ln_a - ea / 8.314462618 * (1 / temp - 1 / T_REF_K)
                + c * (ua / temp - ua.mean() / T_REF_K) + p * np.log(t))

    x0 = [math.log(y.mean() / np.mean(t) ** 0.5), 40e3] + ([0.0] if fit_c else []) + [0.5]
    sol = least_squares(lambda x: model(x) - np.log(y), x0)
    x = sol.x
    ln_a, ea, c, p = x[0], x[1], (x[2] if fit_c else 0.0), x[-1]
    # fold the potential reference into A: exp(C Ua/T - C Ua_mean/T_ref)
    a = math.exp(ln_a - c * ua.mean() / T_REF_K)
    pred = np.exp(model(x))
    return {
        "A": a, "Ea_J_per_mol": ea, "C_K_per_V": c, "exponent": p,
        "max_rel_error": float(np.max(np.abs(pred / y - 1))),
        "factors": [{"type": "constant", "value": a},
                    {"type": "arrhenius", "Ea_J_per_mol": ea, "T_ref_K": T_REF_K},
                    {"type": "exp_x_over_T", "variable": "Ua_V", "C_K": c}],
        "temperatures_K": sorted(temps), "socs": sorted(socs),
    }


def calibrated_model(cell, runs: list[dict], *, base: str | None = None) -> AgeingModel:
    """The reduced model for ``cell``: ``base``'s terms with the calendar capacity term
    fitted to ``runs`` (:func:`storage_run`), plus dry-out for a lean cell."""
    fit = fit_calendar(runs)
    if base is None:
        base = "lfp_gr_250ah" if "lfp" in cell.chemistry.lower() else "nmc111_gr_kokam75ah"
    d = load_model(base).to_dict()
    temps = [r["temperature_K"] for r in runs]
    socs = [r["soc"] for r in runs]
    days = max(float(r["t_days"][-1]) for r in runs)
    for term in d["terms"]:
        if term["kind"] == "calendar" and term["output"] == "capacity":
            term["factors"] = fit["factors"]
            term["exponent"] = fit["exponent"]
            term["validity"] = {"temperature_K": [min(temps), max(temps)],
                                "soc": [min(socs), max(socs)]}
            term["source"] = (f"fitted by cellmodels.life.calibrate to PyBaMM SPM + SEI "
                              f"storage runs of {cell.name} ({len(runs)} runs, "
                              f"{min(temps):g}-{max(temps):g} K, SOC {min(socs):g}-"
                              f"{max(socs):g}, {days:g} days); largest fit error "
                              f"{fit['max_rel_error']:.2%}")
    d["name"] = f"{cell.name} (physics-calibrated on {base})"
    d["description"] = (f"Calendar capacity from the physics of {cell.name}; other terms "
                        f"from {base}.")
    lean = [r for r in runs if "reservoir_m3" in r]
    if lean:
        r0 = lean[0]
        d["dry_out"] = {"reservoir_m3": float(r0["reservoir_m3"][0]),
                        "pore_volume_m3": float(r0["pore_volume_m3"]),
                        "sei_fraction_of_lli": 1.0, "capacity_Ah": cell.capacity_Ah}
    return AgeingModel.from_dict(d, f"the calibrated model of {cell.name}")
