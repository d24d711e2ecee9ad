"""Run a cell's physics model on a protocol: current or power, constant or a profile.

Discharge is positive, as in PyBaMM. Every run states its initial SOC and temperature.
A solve that fails, or stops before the end of its protocol when the protocol did not
ask to stop at a cut-off, raises :class:`~cellmodels.errors.SolverError` naming the step
and the state reached: a truncated solution is never returned as if complete.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import CutoffError, InputError, SolverError, check_range, range_message
from .cells import Cell
from .models import HEAT_VARIABLES, LOSS_VARIABLES, build_model

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

__all__ = ["Run", "simulate", "piecewise_constant"]

#: Width of the ramp that stands in for a step in a piecewise-constant input. The ramp
#: ends exactly at the edge time, so the input is right-continuous (``value[k]`` holds
#: from ``time_s[k]`` on, as in the ECM simulators); the solver restarts at both ends of
#: every ramp, so it is resolved exactly. 2 us is far below the 1 ms shortest duration
#: this package reports.
EDGE_S = 2e-6


@dataclass
class Run:
    """Result of one physics run; arrays are over ``time_s``.

    Only complete runs are returned: a solve that fails or stops early raises, unless
    the caller asked to stop at a cut-off (then ``stopped_at_cutoff`` is True).
    """

    cell: str
    model: str
    step: str
    time_s: np.ndarray
    current_A: np.ndarray
    voltage_V: np.ndarray
    soc: np.ndarray
    temperature_K: np.ndarray
    ocv_V: np.ndarray
    heat_W: dict[str, np.ndarray] = field(default_factory=dict)
    losses_V: dict[str, np.ndarray] = field(default_factory=dict)
    termination: str = "final time"
    solution: object = field(default=None, repr=False)

    @property
    def stopped_at_cutoff(self) -> bool:
        return self.termination != "final time"


def piecewise_constant(time_s: Sequence[float], values: Sequence[float], name: str):
    """A PyBaMM interpolant that holds ``values[k]`` on ``[time_s[k], time_s[k+1])``.

    Returns the interpolant and the edge times at which the solver must restart.
    """
    import pybamm

    t = np.asarray(time_s, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.ndim != 1 or t.shape != v.shape or t.size < 2:
        raise InputError(
            f"The 'time_s' and '{name}' arrays must be 1-D, of equal length >= 2. "
            f"Got shapes {t.shape} and {v.shape} instead."
        )
    if not np.all(np.isfinite(t)) or not np.all(np.isfinite(v)):
        bad = int(np.flatnonzero(~(np.isfinite(t) & np.isfinite(v)))[0])
        raise InputError(f"The profile holds NaN or inf at sample {bad} (t={float(t[bad])!r}).")
    if np.any(np.diff(t) <= 2 * EDGE_S):
        k = int(np.flatnonzero(np.diff(t) <= 2 * EDGE_S)[0])
        raise InputError(
            f"The 'time_s' array must increase by more than {2 * EDGE_S:g} s per sample. "
            f"Got {float(t[k])!r} then {float(t[k + 1])!r} at sample {k}."
        )
    # The last sample only closes the profile: a change of value there has no interval to
    # hold on, so it is not applied (and would otherwise put two knots at the end time).
    edges = np.flatnonzero(np.diff(v[:-1]) != 0) + 1
    tt = [t[0]]
    vv = [v[0]]
    for k in edges:
        tt += [t[k] - EDGE_S, t[k]]
        vv += [v[k - 1], v[k]]
    tt.append(t[-1])
    vv.append(v[-2])
    interp = pybamm.Interpolant(np.array(tt), np.array(vv), pybamm.t, name=name,
                                interpolator="linear")
    return interp, t[edges]


def _solver(rtol: float, atol: float):
    import pybamm

    return pybamm.IDAKLUSolver(rtol=rtol, atol=atol)


def simulate(
    cell: Cell,
    *,
    initial_soc: float,
    temperature_K: float,
    duration_s: float | None = None,
    current_A: float | Sequence[float] | None = None,
    power_W: float | Sequence[float] | None = None,
    time_s: Sequence[float] | None = None,
    model: str = "DFN",
    thermal: str = "lumped",
    stop_at_cutoff: bool = False,
    step: str = "profile",
    t_out: Sequence[float] | None = None,
    var_pts: dict | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-6,  # 1e-8 makes IDA fail its error test at charge/discharge edges
    parameter_updates: dict | None = None,
    options: dict | None = None,
    heat_of_mixing: bool | str = False,
) -> Run:
    """Simulate ``cell`` under a constant or piecewise-constant current or power.

    Parameters
    ----------
    initial_soc : float
        State of charge at t = 0, in [0, 1]; the cell starts at rest (equilibrium).
    temperature_K : float
        Initial and ambient temperature [K]; must lie in the set's validity range.
    duration_s : float, optional
        Length of a constant-input run [s]. For a profile, ``time_s`` sets it.
    current_A, power_W : float or array
        Exactly one of them. Discharge positive. An array is a zero-order-hold profile on
        ``time_s``: the value ``x[k]`` holds from ``time_s[k]`` to ``time_s[k+1]``; the last
        sample only closes the profile.
    stop_at_cutoff : bool
        If True, reaching a voltage cut-off ends the run normally (a discharge "until
        cut-off"); otherwise it raises :class:`SolverError`.
    t_out : array, optional
        Output times [s]; default: ``time_s`` for a profile, else 200 points.
    var_pts : dict, optional
        Mesh points, as PyBaMM's ``var_pts``.
    parameter_updates : dict, optional
        Values to override; every key must already exist (checked, not silently added).
    heat_of_mixing : bool, "auto" or "quasi-steady"
        PyBaMM's heat of mixing in the lumped heat source (default off; "auto": on where
        the set supports it). See :mod:`cellmodels.physics.models`.
    """
    import pybamm

    check_range(initial_soc, "initial_soc", "argument of simulate", 0.0, 1.0)
    cell.check_temperature(temperature_K)
    if (current_A is None) == (power_W is None):
        raise InputError("Give exactly one of 'current_A' and 'power_W' to simulate.")
    value = current_A if power_W is None else power_W
    mode = "current" if power_W is None else "power"
    key = "Current function [A]" if mode == "current" else "Power function [W]"

    pv = cell.parameter_values()
    if parameter_updates:
        unknown = [k for k in parameter_updates if k not in pv.keys()]
        if unknown:
            from ..errors import ParameterError, suggest

            raise ParameterError(
                f"Unknown parameter {unknown[0]!r} in parameter_updates."
                + suggest(unknown[0], list(pv.keys()))
            )
        pv.update(parameter_updates)
    pv.update({"Ambient temperature [K]": temperature_K,
               "Initial temperature [K]": temperature_K}, check_already_exists=False)

    if np.ndim(value) == 0:
        if duration_s is None:
            raise InputError("A constant-input run needs 'duration_s'.")
        check_range(duration_s, "duration_s", "argument of simulate", 0.0, float("inf"),
                    closed=(False, True))
        pv.update({key: float(value)})
        t_end = float(duration_s)
        breaks = np.array([0.0, t_end])
        t_default = np.linspace(0.0, t_end, 200)
    else:
        if time_s is None:
            raise InputError(f"A '{mode}' profile needs 'time_s'.")
        interp, edges = piecewise_constant(time_s, value, key)
        pv.update({key: interp})
        t0, t_end = float(time_s[0]), float(time_s[-1])
        if t0 != 0.0:
            raise InputError(range_message("time_s[0]", "of a profile", "0", t0))
        breaks = np.unique(np.concatenate([[0.0], edges - EDGE_S, edges, [t_end]]))
        t_default = np.asarray(time_s, dtype=float)

    extra = dict(options or {})
    if mode == "power":
        extra["operating mode"] = "power"
    pmodel = build_model(cell, model, thermal=thermal, options=extra,
                         heat_of_mixing=heat_of_mixing)
    sim = pybamm.Simulation(pmodel, parameter_values=pv, solver=_solver(rtol, atol),
                            var_pts=var_pts)
    t_interp = np.asarray(t_out if t_out is not None else t_default, dtype=float)
    t_interp = t_interp[(t_interp >= 0) & (t_interp <= t_end)]
    try:
        sol = sim.solve(t_eval=breaks, t_interp=t_interp, initial_soc=initial_soc)
    except pybamm.SolverError as exc:
        raise SolverError(
            f"Step '{step}' of cell {cell.name}: the {model} solve failed ({exc})."
        ) from exc
    termination = str(sol.termination)
    t_sol = sol["Time [s]"].entries
    if termination != "final time" and not stop_at_cutoff:
        v_end = float(sol["Voltage [V]"].entries[-1])
        raise CutoffError(
            f"Step '{step}' of cell {cell.name} stopped at t = {t_sol[-1]:.6g} s of {t_end:.6g} s "
            f"({termination}); state reached: voltage {v_end:.4f} V. "
            "Lower the current or the duration, or start from another SOC."
        )
    # Report exactly at the requested times (the raw solution also holds the restart
    # points at every edge); a run that stopped at a cut-off ends at its last time.
    t = t_interp[t_interp <= t_sol[-1]]
    if termination != "final time" and (t.size == 0 or t[-1] < t_sol[-1]):
        t = np.append(t, t_sol[-1])

    def at(name: str) -> np.ndarray:
        return np.asarray(sol[name](t=t), dtype=float).reshape(-1)

    cap = cell.soc_capacity_Ah
    names = set(pmodel.variables.keys())
    heat = {k: at(v) for k, v in HEAT_VARIABLES.items() if v in names}
    if "contact_W" in heat:
        # PyBaMM's "Total heating" leaves out the lumped contact heating, which its lumped
        # thermal model adds separately; the cell's total includes it.
        heat["total_W"] = heat["total_W"] + heat["contact_W"]
    losses = {k: at(v) for k, v in LOSS_VARIABLES.items() if v in names}
    return Run(
        cell=cell.name,
        model=model,
        step=step,
        time_s=t,
        current_A=at("Current [A]"),
        voltage_V=at("Voltage [V]"),
        soc=initial_soc - at("Discharge capacity [A.h]") / cap,
        temperature_K=at("Volume-averaged cell temperature [K]"),
        ocv_V=at("Battery open-circuit voltage [V]"),
        heat_W=heat,
        losses_V=losses,
        termination=termination,
        solution=sol,
    )
