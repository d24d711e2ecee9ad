"""Fit a cell's physics parameters to measured experiments (PyBaMM + IDAKLU sensitivities).

The front door is :func:`fit_physics`; :func:`predict` runs the same model on held-out
experiments, and :func:`save_fitted` writes the fitted cell as a parameter set with its
provenance.

How an experiment is simulated
------------------------------
An :class:`Experiment` wraps a :class:`~cellmodels.measured.Dataset`. The model is driven
by the *measured* current: consecutive samples whose current stays within
``current_tolerance_A`` of the running segment mean are merged into one constant step
at their mean (charge-preserving to within that tolerance), so a 1 s-sampled CC
discharge is one step and a pulse test is rest / pulse / rest. Each experiment gets its
own built PyBaMM model (its current steps, as Heaviside functions of time at constant
times, its initial concentrations and temperature are constants of it; IDAKLU stops and
restarts at every step edge); the fitted values are
PyBaMM input parameters of all of them, so a fit builds each model once. The run starts at the first sample of the (windowed)
record, which must be at rest; the initial state is the one whose open-circuit voltage
equals that sample's voltage (PyBaMM's ``get_initial_stoichiometries`` at the ambient
temperature), unless the experiment gives ``initial_soc``. The ambient (and initial)
temperature is the experiment's ``ambient_temperature_K``, else the first measured
temperature sample.

Residuals and the cut-off
-------------------------
Voltage residuals ``weight * (V_model - V_measured)`` [V] at up to ``max_points``
measured samples (evenly spaced in time, plus the samples on either side of each current
step); with ``temperature=True`` also
``weight * temperature_weight_V_per_K * (T_model - T_measured)``. The model's lower
(upper) voltage cut-off is moved ``CUTOFF_MARGIN_V`` below (above) the lowest (highest)
measured voltage of all experiments, so a model with slightly less capacity than the
cell still runs to the measured end and its residual stays smooth. If it still stops
first, the samples after its end are compared with its last voltage and temperature
(a penalty at least the gap to the data, with zero gradient), and the experiment's
``model_end_s`` says where it stopped. A trial point at which the solver fails gives
every residual a 1 V (or 1 V-equivalent) penalty so that the optimiser steps back.

Electrode balance
-----------------
Three fittable values move the electrode balance: each electrode's active-material
fraction (BPX "Surface area per unit volume", ``eps_s = a R / 3``: the electrode's
capacity) and the negative stoichiometry at 100 % SOC ("Negative electrode/Maximum
stoichiometry", which with the positive stoichiometry at the upper cut-off against it
sets the cyclable lithium, as a BPX file's limits do). When one of them is fitted, the
initial particle concentrations are input parameters of every built model, recomputed at
each trial point as the state whose OCV is the experiment's first (rest) voltage for that
balance (:func:`balanced_state`, PyBaMM's algebraic electrode-SOH solves). Their IDAKLU
sensitivities are requested too, and a balance value's Jacobian column is its direct
sensitivity plus ``dr/dc0 . dc0/dp``, with ``dc0/dp`` from central differences of the
algebraic state (cheap next to a solve; tests/test_fitting_physics.py checks the columns
against central differences of the whole residual). :func:`save_fitted` then rewrites
the set's four stoichiometry limits for the fitted balance, so the saved set starts each
run where the fit did.

Prescribed temperature (``thermal="measured"``)
-----------------------------------------------
With ``thermal="measured"`` each experiment runs PyBaMM's isothermal model with the
"Ambient temperature [K]" a linear :class:`pybamm.Interpolant` of time through that
experiment's measured temperature samples (its window); PyBaMM's isothermal submodel sets
the cell temperature to ``T_amb(t)`` everywhere, so every temperature-dependent property
(diffusivities, kinetics, conductivities, the OCPs' entropic terms) follows the measured
trace and there is no heat equation. This separates the electrochemistry from the thermal
model: fit or check it on records whose thermal setup is not trusted. The measured
temperature is an input then, not a prediction, so ``Experiment(temperature=True)`` and an
experiment without a temperature column are refused, and so is ``ambient_temperature_K``
(the initial state is taken at the first measured temperature), and so is fitting a value
that only enters the heat equation (the heat transfer coefficient, the heat capacity:
their sensitivities would be zero). The thermocouple reads one point of the cell (the
WMG records: mid-cell surface), which the model takes as the uniform cell temperature.
The trace's first sample is checked against the set's temperature range, as the ambient
is under "lumped"; after it the trace may leave that range as a lumped model's own
temperature may (the WMG 25 degC 2C record reaches 57.5 degC, the lgm50 set's range ends
at 45 degC).
The interpolant is a constant of the built model, not a fitted input, so the IDAKLU
sensitivities are unchanged. The solver stops and restarts at every sample of the trace
(its kinks), as at the current steps: on the three WMG held-out rate tests (1876, 3379
and 215 samples) that costs 12.3 s against 4.5 s stepping over them, which left up to
0.35 mV of solver error at rtol 1e-6 and made the residual rough in the fitted values.

Gradients
---------
``dr/dz`` comes from IDAKLU forward sensitivities of voltage and temperature with respect
to the fitted inputs (exact for the discretised model, up to the solver tolerance). The
fallback ``gradient="finite differences"`` uses scipy's 2-point differences.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import InputError, ParameterError, SolverError, check_range, range_message, suggest
from ..measured import Dataset, check_dataset
from ..physics.cells import Cell, load_cell
from .result import SCALINGS, ExperimentResidual, FitResult, to_fitted, to_physical

__all__ = [
    "CUTOFF_MARGIN_V",
    "FACTOR_SUFFIX",
    "FITTABLE",
    "THERMAL_MODES",
    "Experiment",
    "FitParameter",
    "PhysicsProblem",
    "fit_physics",
    "predict",
    "save_fitted",
    "with_values",
]

#: How far the model's voltage cut-offs are moved past the measured extremes [V].
CUTOFF_MARGIN_V = 0.4
#: Residual given to every sample when the solver fails at a trial point [V].
FAILURE_PENALTY_V = 1.0
#: Thermal modes of the fit: PyBaMM's lumped model, isothermal at the ambient, or the
#: cell temperature prescribed by each experiment's measured trace (module docstring).
THERMAL_MODES = ("lumped", "isothermal", "measured")


@dataclass(frozen=True)
class _Target:
    """Where a fittable BPX value goes in PyBaMM."""

    pybamm: str  #: PyBaMM parameter name
    #: "value": replaced by the input; "factor": PyBaMM's function times p / p0;
    #: "arrhenius": an activation energy - PyBaMM's function (its temperature the last
    #: argument) times exp((p - p0) / R (1 / T_ref - 1 / T)), i.e. the set's Arrhenius
    #: factor moved from p0 to p exactly as PyBaMM's BPX reader builds it (:func:`_arrhenius`)
    mode: str
    bpx: tuple[str, ...]  #: path in the BPX document (section, [group,] key)
    also: tuple[str, ...] = ()  #: further PyBaMM names scaled by the same factor
    relative: bool = False  #: fitted as a dimensionless multiplier ("<key> (factor)")
    #: The value moves the electrode balance, so the state at an experiment's measured rest
    #: voltage depends on it (recomputed at every trial point; "Electrode balance" in the
    #: module docstring). Mode "state": it enters the model only through that state.
    balance: bool = False
    #: The value enters only the heat equation (no effect without a lumped thermal model).
    heat_only: bool = False

    @property
    def pybamm_names(self) -> tuple[str, ...]:
        return (self.pybamm, *self.also)


def _electrode(side: str) -> dict[str, _Target]:
    cap = side.capitalize()
    sec = f"{cap} electrode"
    return {
        f"{sec}/Diffusivity [m2.s-1]": _Target(
            f"{cap} particle diffusivity [m2.s-1]", "factor", ("Parameterisation", sec,
                                                                "Diffusivity [m2.s-1]")),
        f"{sec}/Reaction rate constant [mol.m-2.s-1]": _Target(
            f"{cap} electrode exchange-current density [A.m-2]", "factor",
            ("Parameterisation", sec, "Reaction rate constant [mol.m-2.s-1]")),
        f"{sec}/Conductivity [S.m-1]": _Target(
            f"{cap} electrode conductivity [S.m-1]", "factor",
            ("Parameterisation", sec, "Conductivity [S.m-1]")),
        # BPX gives the surface area per volume a; PyBaMM's active-material fraction is
        # eps_s = a R / 3 and its surface area 3 eps_s / R, so scaling eps_s scales a and
        # the electrode's capacity together (the electrode balance; module docstring).
        f"{sec}/Diffusivity activation energy [J.mol-1]": _Target(
            f"{cap} particle diffusivity [m2.s-1]", "arrhenius",
            ("Parameterisation", sec, "Diffusivity activation energy [J.mol-1]")),
        f"{sec}/Reaction rate constant activation energy [J.mol-1]": _Target(
            f"{cap} electrode exchange-current density [A.m-2]", "arrhenius",
            ("Parameterisation", sec, "Reaction rate constant activation energy [J.mol-1]")),
        f"{sec}/Surface area per unit volume [m-1]": _Target(
            f"{cap} electrode active material volume fraction", "factor",
            ("Parameterisation", sec, "Surface area per unit volume [m-1]"), balance=True),
    }


#: BPX values a fit may change, by "Section/Key" (the parameter-set spelling). The PyBaMM
#: name of each is accepted too. A "factor" target scales PyBaMM's function (which
#: carries the set's temperature and concentration dependence) by p / p0.
FITTABLE: dict[str, _Target] = {
    **_electrode("negative"),
    **_electrode("positive"),
    "Electrolyte/Conductivity [S.m-1]": _Target(
        "Electrolyte conductivity [S.m-1]", "factor",
        ("Parameterisation", "Electrolyte", "Conductivity [S.m-1]")),
    "Electrolyte/Diffusivity [m2.s-1]": _Target(
        "Electrolyte diffusivity [m2.s-1]", "factor",
        ("Parameterisation", "Electrolyte", "Diffusivity [m2.s-1]")),
    "Electrolyte/Conductivity activation energy [J.mol-1]": _Target(
        "Electrolyte conductivity [S.m-1]", "arrhenius",
        ("Parameterisation", "Electrolyte", "Conductivity activation energy [J.mol-1]")),
    "Electrolyte/Diffusivity activation energy [J.mol-1]": _Target(
        "Electrolyte diffusivity [m2.s-1]", "arrhenius",
        ("Parameterisation", "Electrolyte", "Diffusivity activation energy [J.mol-1]")),
    # The negative stoichiometry at 100 % SOC (the upper cut-off): with the capacities it
    # sets the cyclable lithium, i.e. how the two electrodes' OCPs line up.
    "Negative electrode/Maximum stoichiometry": _Target(
        "Negative electrode maximum stoichiometry", "state",
        ("Parameterisation", "Negative electrode", "Maximum stoichiometry"), balance=True),
    "User-defined/Contact resistance [Ohm]": _Target(
        "Contact resistance [Ohm]", "value",
        ("Parameterisation", "User-defined", "Contact resistance [Ohm]")),
    "State/Heat transfer coefficient [W.m-2.K-1]": _Target(
        "Total heat transfer coefficient [W.m-2.K-1]", "value",
        ("State", "Thermal environment", "Heat transfer coefficient [W.m-2.K-1]"),
        heat_only=True),
    # PyBaMM's BPX reader gives every layer the cell's specific heat; the lumped model's
    # heat capacity is their thickness-weighted sum, so all of them scale together.
    "Cell/Specific heat capacity [J.K-1.kg-1]": _Target(
        "Specific heat capacity [J.K-1.kg-1]", "factor",
        ("Parameterisation", "Cell", "Specific heat capacity [J.K-1.kg-1]"),
        also=tuple(f"{layer} specific heat capacity [J.kg-1.K-1]" for layer in (
            "Negative electrode", "Positive electrode", "Separator",
            "Negative current collector", "Positive current collector")), heat_only=True),
    "Negative electrode/Entropic change coefficient [V.K-1]": _Target(
        "Negative electrode OCP entropic change [V.K-1]", "factor",
        ("Parameterisation", "Negative electrode", "Entropic change coefficient [V.K-1]")),
    "Positive electrode/Entropic change coefficient [V.K-1]": _Target(
        "Positive electrode OCP entropic change [V.K-1]", "factor",
        ("Parameterisation", "Positive electrode", "Entropic change coefficient [V.K-1]")),
}
#: Suffix of a fitted dimensionless multiplier of a "factor" target (for values that are
#: expressions or tables, e.g. "Negative electrode/Entropic change coefficient [V.K-1]
#: (factor)"); its initial value is 1.
FACTOR_SUFFIX = " (factor)"
#: PyBaMM's name of each value (an activation energy has none of its own: it acts on the
#: function it belongs to, whose name means that function's scale).
_ALIASES: dict[str, str] = {t.pybamm: k for k, t in FITTABLE.items() if t.mode != "arrhenius"}


def _canonical(name: str) -> str:
    if name in FITTABLE:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    if name.endswith(FACTOR_SUFFIX):
        base = name[: -len(FACTOR_SUFFIX)]
        base = _ALIASES.get(base, base)
        if base in FITTABLE and FITTABLE[base].mode == "factor":
            return base + FACTOR_SUFFIX
    known = list(FITTABLE) + list(_ALIASES) + [k + FACTOR_SUFFIX for k, t in FITTABLE.items()
                                                if t.mode == "factor"]
    raise ParameterError(
        f"Unknown fit parameter {name!r}." + suggest(name, known)
        + f" Fittable: {', '.join(FITTABLE)} (and '<name>{FACTOR_SUFFIX}' for a multiplier"
        " of the functions)."
    )


def _target(key: str) -> _Target:
    """The target of a canonical name; a "(factor)" name gets ``relative=True``."""
    if key.endswith(FACTOR_SUFFIX):
        return replace(FITTABLE[key[: -len(FACTOR_SUFFIX)]], relative=True)
    return FITTABLE[key]


def _scaled(function, factor):
    """``function(*args) * factor`` as a PyBaMM function parameter."""

    def scaled(*args):
        return function(*args) * factor

    return scaled


def _arrhenius(function, energy, energy0: float, t_ref: float):
    """``function(*args)`` with its Arrhenius factor moved from ``energy0`` to ``energy``
    [J/mol]: times ``exp((energy - energy0) / R (1 / t_ref - 1 / T))``, ``T`` the last
    argument (PyBaMM's convention for every temperature-dependent function). PyBaMM's BPX
    reader multiplies a value by ``exp(E / R (1 / T_ref - 1 / T))``, so this is the set
    rebuilt with ``energy`` (tests/test_fit_arrhenius.py); a constant ``function`` (a set
    without the energy, ``energy0`` = 0) becomes that function of temperature."""
    import pybamm

    def shifted(*args):
        value = function(*args) if callable(function) else function
        return value * pybamm.exp((energy - energy0) / pybamm.constants.R
                                  * (1.0 / t_ref - 1.0 / args[-1]))

    return shifted


def _bpx_get(doc: dict, path: tuple[str, ...]):
    node = doc
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


class _StateError(Exception):
    """No initial state for a trial electrode balance (the solve is then a failure)."""


@dataclass(frozen=True)
class FitParameter:
    """One parameter to fit.

    Parameters
    ----------
    name : str
        A key of :data:`FITTABLE` ("Negative electrode/Diffusivity [m2.s-1]") or its
        PyBaMM name ("Negative particle diffusivity [m2.s-1]").
    initial : float, optional
        Start value, SI; default the cell's own value.
    bounds : (float, float), optional
        SI; default ``[initial / 10, initial * 10]``.
    scaling : {"auto", "log", "linear"}
        "auto" fits in log10 when the bounds span a factor of 100 or more.
    """

    name: str
    initial: float | None = None
    bounds: tuple[float, float] | None = None
    scaling: str = "auto"


@dataclass(frozen=True)
class Experiment:
    """A measured record to fit (or predict), with how it enters the residual.

    Parameters
    ----------
    dataset : Dataset
        Discharge current positive [A], voltage [V], temperature [K] if measured.
    weight : float
        Multiplies this experiment's residuals (>= 0).
    temperature : bool
        Also compare temperature (needs ``dataset.temperature_K`` and the lumped thermal
        model; refused under ``thermal="measured"``, where the measured temperature is the
        model's input).
    temperature_weight_V_per_K : float
        A 1 K temperature error counts as this many volts.
    window_s : (float, float), optional
        Only samples with ``window_s[0] <= time_s <= window_s[1]``.
    initial_soc : float, optional
        Start SOC; default from the first sample's voltage (must be at rest).
    ambient_temperature_K : float, optional
        Default: the first measured temperature sample (refused under
        ``thermal="measured"``, where the whole measured trace is the cell temperature).
    max_points : int
        Most samples compared (>= 10).
    current_tolerance_A : float, optional
        Samples within it of the running step mean form one constant step; default the
        larger of 10 mA and 0.5 % of the largest |current|.
    """

    dataset: Dataset
    weight: float = 1.0
    temperature: bool = False
    temperature_weight_V_per_K: float = 0.01
    window_s: tuple[float, float] | None = None
    initial_soc: float | None = None
    ambient_temperature_K: float | None = None
    max_points: int = 400
    current_tolerance_A: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, Dataset):
            raise InputError(
                f"The 'dataset' of Experiment must be a cellmodels.measured.Dataset. "
                f"Got {type(self.dataset).__name__} instead."
            )
        check_range(self.weight, "weight", "of Experiment", 0.0, math.inf)
        check_range(self.temperature_weight_V_per_K, "temperature_weight_V_per_K",
                    "of Experiment", 0.0, math.inf)
        check_range(self.max_points, "max_points", "of Experiment", 10, 1e7)
        if self.initial_soc is not None:
            check_range(self.initial_soc, "initial_soc", "of Experiment", 0.0, 1.0)
        if self.temperature and self.dataset.temperature_K is None:
            raise InputError(
                f"Experiment {self.dataset.name!r} ({self.dataset.source}): temperature=True "
                "but the dataset has no temperature column."
            )


@dataclass
class _Prepared:
    """An experiment turned into model inputs and comparison samples."""

    exp: Experiment
    t0: float  #: measured time of the first sample [s]
    step_t: np.ndarray  #: start of each constant step, relative to t0 [s]
    step_i: np.ndarray  #: current of each step [A]
    t_end: float  #: relative [s]
    idx: np.ndarray  #: indices of the compared samples in the windowed arrays
    time_s: np.ndarray  #: windowed measured time (absolute)
    current_A: np.ndarray
    voltage_V: np.ndarray
    temperature_K: np.ndarray | None
    ambient_K: float
    c_n0: float
    c_p0: float
    initial_soc: float
    initial: float | str = 1.0  #: the initial state: SOC, or rest voltage "4.18 V"
    pv: object = None  #: the cell's ParameterValues at this experiment's ambient
    runner: tuple | None = None  #: (built model, solver, t_eval): plain solves
    sens_runner: tuple | None = None  #: the same for sensitivity solves, on first use
    build: object = None  #: () -> a new (built model, solver, t_eval)


def _segments(t: np.ndarray, i: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Constant steps of a sampled current: start times and mean currents (ZOH)."""
    starts = [0]
    total = i[0]
    count = 1
    for k in range(1, len(i) - 1):
        mean = total / count
        if abs(i[k] - mean) > tol:
            starts.append(k)
            total, count = i[k], 1
        else:
            total += i[k]
            count += 1
    starts_a = np.asarray(starts)
    ends = np.append(starts_a[1:], len(i) - 1)
    # Time-weighted mean of the ZOH current over each step (sample k holds to k+1).
    dt = np.diff(t)
    means = np.array([np.sum(i[a:b] * dt[a:b]) / np.sum(dt[a:b]) for a, b in zip(starts_a, ends,
                                                                                  strict=True)])
    return t[starts_a] - t[0], means


def _compared_indices(t: np.ndarray, edge_idx: np.ndarray, n_max: int) -> np.ndarray:
    """Sample indices compared with the model.

    Up to ``n_max`` spread evenly in time, plus the samples either side of every current
    step. The sample logged at the instant the current changes is left out: its voltage
    may belong to either current (the WMG cycler, for one, logs the step change on one
    channel a sample before the other; :mod:`cellmodels.measured.wmg`).
    """
    n = len(t)
    if n <= n_max:
        idx = np.arange(n)
    else:
        grid = np.linspace(t[0], t[-1], n_max)
        idx = np.unique(np.clip(np.searchsorted(t, grid), 0, n - 1))
        near = np.concatenate([edge_idx - 1, edge_idx + 1]) if edge_idx.size else np.array([])
        idx = np.unique(np.concatenate([idx, np.clip(near, 0, n - 1)])).astype(int)
    return np.setdiff1d(idx, edge_idx).astype(int)


def _step_current(pybamm, step_t: np.ndarray, step_i: np.ndarray):
    """``sum_k I_k [t_k <= t < t_k+1]`` as a PyBaMM expression (the last step holds on)."""
    current = pybamm.Scalar(0.0)
    n = len(step_t)
    for k in range(n):
        if step_i[k] == 0.0:
            continue
        term = pybamm.Scalar(float(step_i[k]))
        if k > 0:
            term = term * (pybamm.t >= float(step_t[k]))
        if k < n - 1:
            term = term * (pybamm.t < float(step_t[k + 1]))
        current = current + term
    return current


def _measured_ambient(pybamm, prep: _Prepared):
    """PyBaMM's "Ambient temperature [K]" (a function of y, z, t) as the linear
    interpolant of the experiment's measured temperature in model time (0 at its first
    sample); PyBaMM's isothermal submodel sets the cell temperature to it."""
    t_rel = prep.time_s - prep.t0
    temp = np.asarray(prep.temperature_K, dtype=float)

    def ambient(y, z, t):
        return pybamm.Interpolant(t_rel, temp, t, name=f"measured T {prep.exp.dataset.name}",
                                  interpolator="linear")

    return ambient


def _record_cutoff(prep: _Prepared) -> float | None:
    """The voltage a discharge record ended on (its cut-off), if it ended under load."""
    if prep.current_A[-1] > 0 and float(np.sum(prep.step_i > 0)) > 0:
        return float(prep.voltage_V[-1])
    return None


_EPS = {"negative": "Negative electrode active material volume fraction",
        "positive": "Positive electrode active material volume fraction"}
_X100 = "Negative electrode maximum stoichiometry"
#: Input names of the initial particle concentrations when the balance is fitted.
_INIT_INPUTS = ("init_c_n", "init_c_p")
#: Relative solver tolerance of the electrode-balance state (PyBaMM's algebraic solves);
#: far below the central-difference step :data:`_BALANCE_STEP`.
_BALANCE_TOL = 1e-11
#: Central-difference step of the balance state in the model input (a factor ~1 or a
#: stoichiometry ~0.9): truncation ~1e-8 relative, solver noise 1e-11 / 1e-5 ~ 1e-6.
_BALANCE_STEP = 1e-5


def _positive_at(pv, param, x: float, voltage_V: float, temperature_K: float) -> float:
    """The positive stoichiometry whose OCP minus the negative one's at ``x`` is
    ``voltage_V`` (at ``temperature_K``)."""
    import pybamm
    from scipy.optimize import brentq

    T = pybamm.Scalar(temperature_K)
    u_n = float(np.ravel(pv.evaluate(param.n.prim.U(pybamm.Scalar(x), T)))[0])

    def gap(y):
        u_p = float(np.ravel(pv.evaluate(param.p.prim.U(pybamm.Scalar(y), T)))[0])
        return u_p - u_n - voltage_V

    lo, hi = 1e-4, 1.0 - 1e-4
    if gap(lo) * gap(hi) > 0:
        raise ParameterError(
            f"No positive stoichiometry in [{lo}, {hi}] reaches {voltage_V} V against the "
            f"negative electrode at x = {x!r}: the fitted electrode balance is outside the "
            "OCP tables.")
    return float(brentq(gap, lo, hi, xtol=1e-14, rtol=1e-14))


def balanced_state(pv, eps_n: float, eps_p: float, x100: float, initial) -> tuple[float, float]:
    """Initial particle concentrations [mol.m-3] of a cell with active-material fractions
    ``eps_n``, ``eps_p`` and negative stoichiometry ``x100`` at 100 % SOC (the upper
    cut-off), at ``initial`` (an SOC or a rest voltage "4.18 V", as PyBaMM's
    ``get_initial_stoichiometries``).

    The cyclable lithium is that of the 100 % SOC state: ``x100`` and the positive
    stoichiometry whose OCP is the upper cut-off against it (at the reference
    temperature), as a BPX file's stoichiometry limits give it. ``pv`` is not changed.
    """
    import pybamm

    param = pybamm.LithiumIonParameters()
    pv = pv.copy()
    pv.update({_EPS["negative"]: eps_n, _EPS["positive"]: eps_p})
    c_n, c_p = pv.evaluate(param.n.prim.c_max), pv.evaluate(param.p.prim.c_max)
    y100 = _positive_at(pv, param, x100, float(pv["Upper voltage cut-off [V]"]),
                        float(pv["Reference temperature [K]"]))
    pv.update({"Initial concentration in negative electrode [mol.m-3]": x100 * c_n,
               "Initial concentration in positive electrode [mol.m-3]": y100 * c_p})
    x0, y0 = pybamm.lithium_ion.get_initial_stoichiometries(initial, pv, param=param,
                                                            tol=_BALANCE_TOL)
    return float(x0 * c_n), float(y0 * c_p)


def _check_measured(e: Experiment) -> None:
    """Refuse what ``thermal="measured"`` cannot do with experiment ``e``."""
    ds = e.dataset
    label = f"Experiment {ds.name!r} ({ds.source})"
    if ds.temperature_K is None:
        raise InputError(
            f"{label} has no temperature column, so thermal='measured' has no trace to "
            "impose: give a dataset with temperature_K or use thermal='lumped' or "
            "'isothermal'.")
    if e.temperature:
        raise InputError(
            f"{label}: temperature=True compares the model's temperature with the "
            "measured one, but under thermal='measured' the measured temperature is the "
            "model's input, not a prediction: set temperature=False (or use "
            "thermal='lumped' to fit or predict temperature).")
    if e.ambient_temperature_K is not None:
        raise InputError(
            f"{label}: ambient_temperature_K={e.ambient_temperature_K!r} is not used under "
            "thermal='measured' (the cell temperature is the measured trace, from its first "
            "sample): leave it None.")


class PhysicsProblem:
    """One built PyBaMM model shared by several experiments; residuals and Jacobians.

    Parameters
    ----------
    cell : Cell or str
    experiments : sequence of Experiment
    parameters : sequence of FitParameter or str
    model : {"DFN", "SPMe", "SPM"}
    thermal : {"lumped", "isothermal", "measured"}
        "measured": the cell temperature follows each experiment's measured trace
        (isothermal model, "Prescribed temperature" in the module docstring).
    var_pts : dict, optional
        PyBaMM mesh points.
    rtol, atol : float
        IDAKLU tolerances.
    heat_of_mixing : bool, "auto" or "quasi-steady"
        Passed to :func:`cellmodels.physics.build_model` (default off).

    Raises
    ------
    DataError
        An experiment's dataset fails :func:`~cellmodels.measured.check_dataset` against
        the cell's rated capacity: voltage in mV, current in mA, time in ms, temperature in
        degC, or a current whose sign the voltage contradicts (naming file, column, sample).
    ParameterError, InputError
        An unknown parameter name (close ones suggested), bounds that exclude the initial
        guess, or another bad argument.
    """

    def __init__(
        self,
        cell: Cell | str,
        experiments: Sequence[Experiment],
        parameters: Sequence[FitParameter | str],
        *,
        model: str = "DFN",
        thermal: str = "lumped",
        var_pts: dict | None = None,
        rtol: float = 1e-6,
        atol: float = 1e-6,
        heat_of_mixing: bool | str = False,
    ) -> None:
        import pybamm

        self.cell = load_cell(cell) if isinstance(cell, str | Path) else cell
        if not experiments:
            raise InputError("A fit needs at least one Experiment.")
        if thermal not in THERMAL_MODES:
            raise InputError(range_message("thermal", "argument of PhysicsProblem",
                                           f"one of {THERMAL_MODES}", thermal))
        self.experiments = list(experiments)
        for e in self.experiments:
            if not isinstance(e, Experiment):
                raise InputError(
                    f"Every experiment must be an Experiment. Got {type(e).__name__} instead."
                )
            if e.temperature and thermal == "isothermal":
                raise InputError(
                    f"Experiment {e.dataset.name!r} compares temperature, which an "
                    "isothermal model cannot predict: use thermal='lumped'."
                )
            if thermal == "measured":
                _check_measured(e)
            # units from magnitudes and the current's sign against the voltage, with this
            # cell's rating: a CSV in mV or mA, or discharge logged negative, is named here
            # (file, column, sample) rather than failing or fitting nonsense later
            check_dataset(e.dataset, self.cell.capacity_Ah)
        self.model_name = model
        self.thermal = thermal
        if thermal == "measured" and heat_of_mixing not in (False, "auto"):
            raise InputError(
                f"heat_of_mixing={heat_of_mixing!r} adds a heat source, but thermal='measured' "
                "has no heat equation (the temperature is the measured trace): pass "
                "heat_of_mixing=False.")
        self.heat_of_mixing = heat_of_mixing
        self.var_pts = var_pts
        self.rtol, self.atol = rtol, atol
        self._base_pv = self.cell.parameter_values()
        self._setup_parameters(parameters)
        self._state_cache: dict[tuple, tuple[float, float]] = {}
        self._prepared = [self._prepare(e) for e in self.experiments]
        self._build(pybamm)
        self.n_evaluations = 0
        self.n_jacobians = 0
        self.time_solve_s = 0.0
        self.time_sens_s = 0.0
        self._cache: dict[bytes, tuple] = {}

    # -- parameters -----------------------------------------------------------------
    def _setup_parameters(self, parameters) -> None:
        specs = [FitParameter(p) if isinstance(p, str) else p for p in parameters]
        names, targets, base, p0, lo, hi, scaling, scale = [], [], [], [], [], [], [], []
        bad_bounds = []
        for s in specs:
            key = _canonical(s.name)
            if key in names:
                raise InputError(f"The parameter {key!r} is listed twice.")
            tgt = _target(key)
            if tgt.heat_only and self.thermal != "lumped":
                raise InputError(
                    f"{key!r} enters only the heat equation, which thermal="
                    f"{self.thermal!r} does not have (its sensitivity is zero): fit it with "
                    "thermal='lumped' or leave it out.")
            known = set(self._base_pv.keys())
            for pname in tgt.pybamm_names:
                if pname not in known:
                    raise ParameterError(
                        f"Cell {self.cell.name} has no {pname!r} in its PyBaMM parameters "
                        f"(needed to fit {key!r})."
                    )
            b = _bpx_get(self.cell.bpx, tgt.bpx)
            if tgt.relative:
                base_value = 1.0
            elif tgt.mode == "arrhenius":
                # The set's energy (a set without one has no Arrhenius factor: 0).
                if b is not None and (not isinstance(b, int | float) or isinstance(b, bool)):
                    raise ParameterError(
                        f"Cell {self.cell.name}: {key!r} is {b!r}, not a number.")
                base_value = 0.0 if b is None else float(b)
            elif tgt.mode == "factor":
                if not isinstance(b, int | float) or isinstance(b, bool) or b <= 0:
                    raise ParameterError(
                        f"Cell {self.cell.name}: {key!r} is {b!r}, not a positive number, so "
                        "it cannot be fitted as a value (its function is kept as is)."
                    )
                base_value = float(b)
            else:
                base_value = float(self._base_pv[tgt.pybamm])
            init = base_value if s.initial is None else float(s.initial)
            if s.bounds is None:
                if init <= 0:
                    raise InputError(
                        f"Give 'bounds' for {key!r}: its initial value {init!r} is not positive, "
                        "so the default [x/10, 10x] does not apply."
                    )
                low, high = init / 10.0, init * 10.0
            else:
                low, high = (float(v) for v in s.bounds)
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise InputError(range_message("bounds", f"of {key!r}", "finite (low, high) "
                                               "with low < high", s.bounds))
            if not low <= init <= high:
                bad_bounds.append(f"{key!r}: initial {init!r} outside [{low!r}, {high!r}]")
            mode = s.scaling
            if mode == "auto":
                mode = "log" if low > 0 and high / low >= 100.0 else "linear"
            if mode not in SCALINGS:
                raise InputError(range_message("scaling", f"of {key!r}",
                                               "one of ('auto', 'log', 'linear')", s.scaling))
            if mode == "log" and low <= 0:
                raise InputError(range_message("bounds", f"of log-scaled {key!r}",
                                               "positive", (low, high)))
            names.append(key)
            targets.append(tgt)
            base.append(base_value)
            p0.append(init)
            lo.append(low)
            hi.append(high)
            scaling.append(mode)
            scale.append(max(abs(init), abs(low), abs(high)) if mode == "linear" else 1.0)
        if bad_bounds:
            raise InputError("Bounds exclude the initial guess of " + "; ".join(bad_bounds) + ".")
        self.names = tuple(names)
        self.targets = tuple(targets)
        self.base_values = np.array(base)
        self.scaling = tuple(scaling)
        self.scale = tuple(scale)
        self.p0 = np.array(p0)
        self.x0 = np.array([to_fitted(p, m, c) for p, m, c in zip(p0, scaling, scale,
                                                                   strict=True)])
        self.lower_z = np.array([to_fitted(v, m, c) for v, m, c in zip(lo, scaling, scale,
                                                                        strict=True)])
        self.upper_z = np.array([to_fitted(v, m, c) for v, m, c in zip(hi, scaling, scale,
                                                                        strict=True)])
        self._inputs = [f"fit_{k}" for k in range(len(names))]
        #: Fitted values that move the electrode balance (the initial state follows them).
        self._balance_k = [k for k, t in enumerate(targets) if t.balance]
        self._balance = bool(self._balance_k)
        #: Inputs the built model holds (a "state" value enters only the initial state).
        self._model_inputs_k = [k for k, t in enumerate(targets) if t.mode != "state"]
        self._sens_names = ([self._inputs[k] for k in self._model_inputs_k]
                            + (list(_INIT_INPUTS) if self._balance else []))

    def physical(self, x: np.ndarray) -> np.ndarray:
        """Parameter values [SI] from fitted coordinates."""
        return np.array([to_physical(z, m, c) for z, m, c in zip(x, self.scaling, self.scale,
                                                                  strict=True)])

    def _model_inputs(self, p: np.ndarray) -> dict[str, float]:
        out = {}
        for k, tgt in enumerate(self.targets):
            out[self._inputs[k]] = p[k] / self.base_values[k] if tgt.mode == "factor" else p[k]
        return out

    def _dinput_dz(self, x: np.ndarray) -> np.ndarray:
        p = self.physical(x)
        d = np.empty_like(p)
        for k, tgt in enumerate(self.targets):
            dp = p[k] * math.log(10.0) if self.scaling[k] == "log" else self.scale[k]
            d[k] = dp / self.base_values[k] if tgt.mode == "factor" else dp
        return d

    # -- experiments ------------------------------------------------------------------
    def _prepare(self, e: Experiment) -> _Prepared:
        import pybamm

        ds = e.dataset
        t = np.asarray(ds.time_s, dtype=float)
        keep = np.ones(t.size, dtype=bool)
        if e.window_s is not None:
            keep = (t >= e.window_s[0]) & (t <= e.window_s[1])
        if keep.sum() < 3:
            raise InputError(
                f"Experiment {ds.name!r} ({ds.source}): the window {e.window_s} keeps "
                f"{int(keep.sum())} samples; at least 3 are needed."
            )
        t = t[keep]
        i = np.asarray(ds.current_A, dtype=float)[keep]
        v = np.asarray(ds.voltage_V, dtype=float)[keep]
        temp = None if ds.temperature_K is None else np.asarray(ds.temperature_K, float)[keep]
        tol = e.current_tolerance_A
        if tol is None:
            tol = max(0.01, 0.005 * float(np.max(np.abs(i))))
        if e.initial_soc is None and abs(i[0]) > tol:
            raise InputError(
                f"Experiment {ds.name!r} ({ds.source}): the first sample carries {i[0]:.4g} A; "
                "the initial state is taken from a rest voltage, so start the window on a "
                "rest sample or give 'initial_soc'."
            )
        if e.ambient_temperature_K is not None:
            ambient = float(e.ambient_temperature_K)
        elif temp is not None:
            ambient = float(temp[0])
        else:
            raise InputError(
                f"Experiment {ds.name!r} ({ds.source}) has no temperature column: give "
                "'ambient_temperature_K'."
            )
        self.cell.check_temperature(ambient, "ambient_temperature_K" if self.thermal != "measured"
                                    else f"first temperature sample of {ds.name!r}")
        step_t, step_i = _segments(t, i, tol)
        pv = self.cell.parameter_values()
        pv.update({"Ambient temperature [K]": ambient, "Initial temperature [K]": ambient},
                  check_already_exists=False)
        param = pybamm.LithiumIonParameters()
        if e.initial_soc is None:
            init: float | str = f"{v[0]} V"
        else:
            init = float(e.initial_soc)
        try:
            x0, y0 = pybamm.lithium_ion.get_initial_stoichiometries(init, pv, param=param)
        except (ValueError, pybamm.SolverError) as exc:
            raise InputError(
                f"Experiment {ds.name!r} ({ds.source}): no state of cell {self.cell.name} has "
                f"the open-circuit voltage {v[0]!r} V of the first sample ({exc})."
            ) from None
        xs0, _ = pybamm.lithium_ion.get_initial_stoichiometries(0.0, pv, param=param)
        xs1, _ = pybamm.lithium_ion.get_initial_stoichiometries(1.0, pv, param=param)
        soc0 = float((x0 - xs0) / (xs1 - xs0))
        c_n = pv.evaluate(param.n.prim.c_max)
        c_p = pv.evaluate(param.p.prim.c_max)
        edge_idx = np.searchsorted(t, t[0] + step_t[1:])
        idx = _compared_indices(t, edge_idx, int(e.max_points))
        if e.temperature:
            bad = np.flatnonzero(~np.isfinite(temp[idx]))
            if bad.size:
                raise InputError(f"{ds.source}: temperature is NaN at sample {int(idx[bad[0]])}.")
        return _Prepared(
            exp=e, t0=float(t[0]), step_t=step_t, step_i=step_i, t_end=float(t[-1] - t[0]),
            idx=idx, time_s=t, current_A=i, voltage_V=v, temperature_K=temp,
            ambient_K=ambient, c_n0=float(x0 * c_n), c_p0=float(y0 * c_p),
            initial_soc=soc0, initial=init, pv=pv,
        )

    def _build(self, pybamm) -> None:
        """One built model per experiment (its current profile and initial state are
        constants of that model); the fitted values are input parameters of all."""
        base = self.cell.parameter_values()
        IP = pybamm.InputParameter
        if self._balance:  # the state at the rest voltage of the initial guess
            for prep in self._prepared:
                prep.c_n0, prep.c_p0 = self._state(prep, self._model_inputs(self.p0))
        for k, tgt in enumerate(self.targets):
            inp = IP(self._inputs[k])
            if tgt.mode == "state":
                continue
            if tgt.mode == "value":
                base.update({tgt.pybamm: inp})
                continue
            if tgt.mode == "arrhenius":
                t_ref = float(base["Reference temperature [K]"])
                for pname in tgt.pybamm_names:
                    base.update({pname: _arrhenius(base[pname], inp, self.base_values[k],
                                                   t_ref)})
                continue
            for pname in tgt.pybamm_names:
                f = base[pname]
                base.update({pname: _scaled(f, inp) if callable(f) else f * inp})
        v_all = np.concatenate([p.voltage_V for p in self._prepared])
        lo_v = float(base["Lower voltage cut-off [V]"])
        hi_v = float(base["Upper voltage cut-off [V]"])
        self.cutoff_V = (min(lo_v, float(v_all.min()) - CUTOFF_MARGIN_V),
                         max(hi_v, float(v_all.max()) + CUTOFF_MARGIN_V))
        for prep in self._prepared:
            pv = base.copy()
            # The measured current as a zero-order hold: a sum of constant steps switched
            # by Heaviside functions of time at constant times, which IDAKLU treats as
            # discontinuities (it stops and restarts there), so a step is exact, the state
            # carries across it, and the sensitivities stay smooth.
            interp = _step_current(pybamm, prep.step_t, prep.step_i)
            pv.update({
                "Current function [A]": interp,
                "Ambient temperature [K]": prep.ambient_K,
                "Initial temperature [K]": prep.ambient_K,
                "Initial concentration in negative electrode [mol.m-3]":
                    IP(_INIT_INPUTS[0]) if self._balance else prep.c_n0,
                "Initial concentration in positive electrode [mol.m-3]":
                    IP(_INIT_INPUTS[1]) if self._balance else prep.c_p0,
                "Lower voltage cut-off [V]": self.cutoff_V[0],
                "Upper voltage cut-off [V]": self.cutoff_V[1],
            }, check_already_exists=False)
            if self.thermal == "measured":
                pv.update({"Ambient temperature [K]": _measured_ambient(pybamm, prep)},
                          check_already_exists=False)
            breaks = np.unique(np.concatenate([[0.0], prep.step_t[1:], [prep.t_end]]))
            if self.thermal == "measured":
                # The imposed trace is piecewise linear: IDAKLU restarts at its knots as at
                # the current steps, so the run is exact there and the residual stays
                # smooth in the fitted values (stepping over the kinks instead leaves
                # solver-tolerance noise that central differences of 1e-5 amplify ~1e4x).
                breaks = np.unique(np.concatenate([breaks, prep.time_s - prep.t0]))
            prep.build = self._builder(pybamm, pv, breaks)
            prep.runner = prep.build()
        self._temperature_name = "Volume-averaged cell temperature [K]"

    def _builder(self, pybamm, pv, breaks):
        """A function that builds the experiment's model and IDAKLU solver afresh.

        Plain solves and sensitivity solves each get their own: PyBaMM sets a solver up
        again (symbolic work, 12-17 s for the six LG M50 experiments, measured) whenever
        the sensitivities asked for differ from its last solve, and a fit alternates the
        two at every step."""
        from ..physics.models import build_model

        def build():
            model = build_model(self.cell, self.model_name,
                                thermal="isothermal" if self.thermal == "measured"
                                else self.thermal, heat_of_mixing=self.heat_of_mixing)
            solver = pybamm.IDAKLUSolver(rtol=self.rtol, atol=self.atol)
            sim = pybamm.Simulation(model, parameter_values=pv.copy(), solver=solver,
                                    var_pts=self.var_pts)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                sim.build()
            return sim.built_model, solver, breaks

        return build

    def _balance_args(self, inputs: dict[str, float]) -> tuple[float, float, float]:
        """eps_n, eps_p, x100 at the model inputs (the cell's own where not fitted)."""
        pv = self._base_pv
        eps = {side: float(pv[name]) for side, name in _EPS.items()}
        x100 = float(pv[_X100])
        for k in self._balance_k:
            tgt, v = self.targets[k], inputs[self._inputs[k]]
            if tgt.pybamm == _X100:
                x100 = v
            else:
                side = "negative" if tgt.pybamm == _EPS["negative"] else "positive"
                eps[side] *= v  # a "factor" input: p / p0
        return eps["negative"], eps["positive"], x100

    def _state(self, prep: _Prepared, inputs: dict[str, float]) -> tuple[float, float]:
        """Initial particle concentrations at the experiment's initial state for the
        electrode balance of ``inputs`` (cached)."""
        args = self._balance_args(inputs)
        key = (id(prep), *args)
        hit = self._state_cache.get(key)
        if hit is None:
            try:
                hit = balanced_state(prep.pv, *args, prep.initial)
            except (ValueError, ParameterError) as exc:
                raise _StateError(str(exc)) from None
            if len(self._state_cache) > 4096:
                self._state_cache.clear()
            self._state_cache[key] = hit
        return hit

    def _dstate(self, prep: _Prepared, inputs: dict[str, float]) -> np.ndarray:
        """d(c_n0, c_p0) / d(model input) for every fitted value (2 x n; zero columns for
        those that leave the balance alone), by central differences of the algebraic
        state (cheap next to a solve)."""
        out = np.zeros((2, len(self.names)))
        for k in self._balance_k:
            name = self._inputs[k]
            h = _BALANCE_STEP * max(1.0, abs(inputs[name]))
            up = self._state(prep, {**inputs, name: inputs[name] + h})
            dn = self._state(prep, {**inputs, name: inputs[name] - h})
            out[:, k] = (np.array(up) - np.array(dn)) / (2.0 * h)
        return out

    def _solve(self, prep: _Prepared, p: np.ndarray, sens: bool):
        import pybamm

        with_sens = bool(sens and self._sens_names)
        if with_sens and prep.sens_runner is None:
            prep.sens_runner = prep.build()
        model, solver, breaks = prep.sens_runner if with_sens else prep.runner
        allin = self._model_inputs(p)
        inputs = {self._inputs[k]: allin[self._inputs[k]] for k in self._model_inputs_k}
        if self._balance:
            inputs.update(zip(_INIT_INPUTS, self._state(prep, allin), strict=True))
        t_cmp = prep.time_s[prep.idx] - prep.t0
        t0 = time.perf_counter()
        try:
            sol = solver.solve(
                model, t_eval=breaks, t_interp=t_cmp, inputs=inputs,
                calculate_sensitivities=list(self._sens_names) if with_sens else False,
            )
        except pybamm.SolverError as exc:
            return None, str(exc)
        finally:
            dt = time.perf_counter() - t0
            if sens:
                self.time_sens_s += dt
            else:
                self.time_solve_s += dt
        return sol, ""

    def _experiment_output(self, prep: _Prepared, sol, want_jac: bool, dstate=None):
        """Model voltage/temperature on the compared samples, padded past its end."""
        t_cmp = prep.time_s[prep.idx] - prep.t0
        n = t_cmp.size
        npar = len(self.names)
        vm = np.full(n, np.nan)
        tm = np.full(n, np.nan)
        dv = np.zeros((n, npar))
        dtm = np.zeros((n, npar))
        t_sol = np.asarray(sol.t)
        t_last = float(t_sol[-1])
        reached = t_cmp <= t_last + 1e-9
        m = int(reached.sum())
        # The solution holds the compared times exactly (t_interp); np.interp picks them
        # out (and keeps the arrays' lengths right when the run stopped early).
        V = sol["Voltage [V]"]
        v_sol = np.asarray(V.entries).reshape(-1)
        vm[:m] = np.interp(t_cmp[:m], t_sol, v_sol)
        if want_jac:
            dv[:m] = self._sens(V, t_sol, t_cmp[:m], dstate)
        if self.thermal != "isothermal":  # lumped, or the imposed trace ("measured")
            T = sol[self._temperature_name]
            T_sol = np.asarray(T.entries).reshape(-1)
            tm[:m] = np.interp(t_cmp[:m], t_sol, T_sol)
            if want_jac and self.thermal == "lumped":  # an imposed trace has none
                dtm[:m] = self._sens(T, t_sol, t_cmp[:m], dstate)
        end = None
        if m < n:
            end = t_last + prep.t0
            vm[m:] = v_sol[-1]
            if self.thermal != "isothermal":
                tm[m:] = T_sol[-1]
        return vm, tm, dv, dtm, end, m

    def _sens(self, var, t_sol: np.ndarray, t: np.ndarray, dstate=None) -> np.ndarray:
        """Sensitivities of ``var`` to the fitted inputs at times ``t`` (output times).

        A balance value moves the model (its direct column, if it is a model input) and
        the initial state: its column adds ``dvar/dc0 . dc0/dinput`` (``dstate``)."""
        s = var.sensitivities
        out = np.zeros((t.size, len(self.names)))

        def column(name):
            col = np.asarray(s[name]).reshape(-1)
            return np.interp(t, t_sol[: col.size], col)

        for k in self._model_inputs_k:
            out[:, k] = column(self._inputs[k])
        if self._balance and dstate is not None:
            d_c = np.column_stack([column(n) for n in _INIT_INPUTS])
            out += d_c @ dstate
        return out

    def evaluate(self, x: np.ndarray, jacobian: bool = False):
        """Weighted residuals (and ``dr/dz``) at fitted coordinates ``x``.

        Returns ``(r, J, outputs)``; ``J`` is None unless asked; ``outputs`` holds the
        model traces per experiment (None where the solver failed).
        """
        key = np.asarray(x, dtype=float).tobytes()
        hit = self._cache.get(key)
        if hit is not None and (hit[1] is not None or not jacobian):
            return hit
        p = self.physical(np.asarray(x, dtype=float))
        rs, js, outs = [], [], []
        d_in = self._dinput_dz(np.asarray(x, dtype=float)) if jacobian else None
        for prep in self._prepared:
            e = prep.exp
            try:
                sol, err = self._solve(prep, p, jacobian)
                dstate = (self._dstate(prep, self._model_inputs(p))
                          if jacobian and self._balance and sol is not None else None)
            except _StateError as exc:
                sol, err = None, f"no initial state: {exc}"
            vmeas = prep.voltage_V[prep.idx]
            n = vmeas.size
            ncol = len(self.names)
            if sol is None:
                outs.append({"error": err})
                r = np.full(n, FAILURE_PENALTY_V * e.weight)
                jac = np.zeros((n, ncol))
                if e.temperature:
                    r = np.concatenate([r, np.full(n, FAILURE_PENALTY_V * e.weight)])
                    jac = np.zeros((2 * n, ncol))
                rs.append(r)
                js.append(jac)
                continue
            vm, tm, dv, dtm, end, m = self._experiment_output(prep, sol, jacobian, dstate)
            outs.append({"voltage_V": vm, "temperature_K": tm, "end_s": end, "reached": m})
            r = e.weight * (vm - vmeas)
            jac = e.weight * dv * d_in if jacobian else None
            if e.temperature:
                wt = e.weight * e.temperature_weight_V_per_K
                r = np.concatenate([r, wt * (tm - prep.temperature_K[prep.idx])])
                if jacobian:
                    jac = np.vstack([jac, wt * dtm * d_in])
            rs.append(r)
            js.append(jac)
        if jacobian:
            self.n_jacobians += 1
        else:
            self.n_evaluations += 1
        out = (np.concatenate(rs), np.vstack(js) if jacobian else None, outs)
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[key] = out
        return out

    def residuals_per_experiment(self, x: np.ndarray, role: str = "fit") -> list[
            ExperimentResidual]:
        """Model against data for each experiment at ``x`` (all samples of the window)."""
        _, _, outs = self.evaluate(x)
        res = []
        for prep, o in zip(self._prepared, outs, strict=True):
            e = prep.exp
            n = prep.idx.size
            tmeas = None if prep.temperature_K is None else prep.temperature_K[prep.idx]
            if "error" in o:
                vm = np.full(n, np.nan)
                tm = None
                end = float(prep.time_s[0])
                how = f"the solver failed: {o['error']}"
            else:
                vm = o["voltage_V"].copy()
                tm = None if self.thermal == "isothermal" else o["temperature_K"].copy()
                end = o["end_s"]
                how = ("model ran to the measured end" if end is None else
                       f"model stopped at t = {end:.1f} s (its cut-off "
                       f"{self.cutoff_V[0]:.2f} V or a concentration limit); the "
                       f"{n - o['reached']} later samples are NaN here and were compared with "
                       "its last value in the fit")
                if end is not None:
                    vm[o["reached"]:] = np.nan
                    if tm is not None:
                        tm[o["reached"]:] = np.nan
            res.append(ExperimentResidual(
                name=e.dataset.name, source=e.dataset.source, weight=e.weight,
                time_s=prep.time_s[prep.idx], voltage_measured_V=prep.voltage_V[prep.idx],
                voltage_model_V=vm, current_A=prep.current_A[prep.idx],
                temperature_measured_K=tmeas, temperature_model_K=tm,
                model_end_s=end, cutoff_handling=how, role=role,
                cutoff_V=_record_cutoff(prep),
            ))
        return res


def _least_squares(problem: PhysicsProblem, x0: np.ndarray, gradient: str, max_nfev: int,
                   ftol: float, xtol: float, gtol: float, bar):
    from scipy.optimize import least_squares

    def fun(x):
        r = problem.evaluate(x)[0]
        if bar is not None:
            bar.update(1)
            bar.set_postfix(cost=f"{0.5 * float(r @ r):.4g}")
        return r

    def jac(x):
        return problem.evaluate(x, jacobian=True)[1]

    return least_squares(
        fun, x0, jac=jac if gradient == "sensitivities" else "2-point",
        bounds=(problem.lower_z, problem.upper_z), method="trf", x_scale=1.0,
        max_nfev=max_nfev, ftol=ftol, xtol=xtol, gtol=gtol,
    )


def fit_physics(
    cell: Cell | str,
    experiments: Sequence[Experiment],
    parameters: Sequence[FitParameter | str],
    *,
    model: str = "DFN",
    thermal: str = "lumped",
    var_pts: dict | None = None,
    gradient: str = "sensitivities",
    n_starts: int = 1,
    seed: int = 0,
    max_nfev: int = 30,
    ftol: float = 1e-6,
    xtol: float = 1e-6,
    gtol: float = 1e-8,
    rtol: float = 1e-6,
    atol: float = 1e-6,
    progress: bool = True,
    problem: PhysicsProblem | None = None,
    heat_of_mixing: bool | str = False,
) -> FitResult:
    """Fit physics parameters of ``cell`` to several experiments at once.

    Parameters
    ----------
    cell : Cell or str
        The starting parameter set (shipped name or path).
    experiments : sequence of Experiment
    parameters : sequence of FitParameter or str
        What to fit (see :data:`FITTABLE`); a plain name takes the cell's value as start and
        ``[x/10, 10x]`` as bounds.
    model, thermal, var_pts, heat_of_mixing
        The PyBaMM model (see :func:`cellmodels.physics.build_model`); ``thermal`` one of
        :data:`THERMAL_MODES`: "measured" prescribes each experiment's measured
        temperature trace (module docstring, "Prescribed temperature").
    gradient : {"sensitivities", "finite differences"}
        Jacobian from IDAKLU forward sensitivities, or scipy's 2-point differences.
    n_starts : int
        Multi-start: the given start plus ``n_starts - 1`` points drawn uniformly (in fitted
        coordinates) within the bounds with ``seed``; the lowest cost wins.
    max_nfev : int
        Most residual evaluations per start (scipy's ``max_nfev``).
    ftol, xtol, gtol
        scipy ``least_squares`` tolerances.
    progress : bool
        Show a tqdm bar of the evaluations.

    Returns
    -------
    FitResult
        ``success`` is False (with scipy's reason) when no start converged within
        ``max_nfev``; values and intervals are then those of the best point reached.
    """
    if not parameters and problem is None:
        raise InputError("A fit needs at least one parameter.")
    if gradient not in ("sensitivities", "finite differences"):
        raise InputError(range_message("gradient", "argument of fit_physics",
                                       "'sensitivities' or 'finite differences'", gradient))
    check_range(n_starts, "n_starts", "argument of fit_physics", 1, 1000)
    check_range(max_nfev, "max_nfev", "argument of fit_physics", 1, 1e6)
    t_start = time.perf_counter()
    if problem is None:
        problem = PhysicsProblem(cell, experiments, parameters, model=model, thermal=thermal,
                                 var_pts=var_pts, rtol=rtol, atol=atol,
                                 heat_of_mixing=heat_of_mixing)
    r0 = problem.evaluate(problem.x0)[0]
    failed = [p.exp.dataset.name for p, o in zip(problem._prepared, problem.evaluate(
        problem.x0)[2], strict=True) if "error" in o]
    if failed:
        raise SolverError(
            f"The model fails at the initial guess on {failed}: check the experiments' "
            f"initial states and currents. First error: "
            f"{problem.evaluate(problem.x0)[2][0].get('error', '')}"
        )
    starts = [problem.x0]
    rng = np.random.default_rng(seed)
    for _ in range(int(n_starts) - 1):
        starts.append(rng.uniform(problem.lower_z, problem.upper_z))
    from tqdm.auto import tqdm

    history = []
    best = None
    with tqdm(total=None, desc="fit", unit="eval", disable=not progress, leave=False) as bar:
        for k, xs in enumerate(starts):
            sol = _least_squares(problem, xs, gradient, int(max_nfev), ftol, xtol, gtol, bar)
            history.append({
                "start": k,
                "x0": problem.physical(xs).tolist(),
                "x": problem.physical(sol.x).tolist(),
                "cost": float(sol.cost),
                "status": int(sol.status),
                "message": str(sol.message),
                "nfev": int(sol.nfev),
            })
            if best is None or sol.cost < best.cost:
                best = sol
    r, J, _ = problem.evaluate(best.x, jacobian=True)
    success = bool(best.status > 0)
    message = str(best.message)
    if not success:
        message = (f"did not converge: {message} (status {best.status}); the values are the "
                   f"best point reached after {best.nfev} evaluations. Raise max_nfev or "
                   "loosen ftol/xtol.")
    experiments_res = problem.residuals_per_experiment(best.x)
    if any(e.model_end_s is not None and e.model_end_s <= e.time_s[0] for e in
           experiments_res):
        success = False
        message = "the solver fails at the best point: " + message
    return FitResult.from_solution(
        names=problem.names, x=best.x, x0=problem.x0, scaling=problem.scaling,
        scale=problem.scale, bounds_z=(problem.lower_z, problem.upper_z), jacobian=J,
        residuals=r, experiments=experiments_res, n_evaluations=problem.n_evaluations,
        n_jacobians=problem.n_jacobians,
        gradient="IDAKLU forward sensitivities" if gradient == "sensitivities"
        else "finite differences (2-point)",
        success=success, status=int(best.status), message=message,
        wall_time_s=time.perf_counter() - t_start, history=history,
        meta={
            "cell": problem.cell.name,
            "cell_sha256": problem.cell.sha256,
            "model": problem.model_name,
            "thermal": problem.thermal,
            "heat_of_mixing": problem.heat_of_mixing,
            "initial_cost": 0.5 * float(r0 @ r0),
            "cutoff_V": list(problem.cutoff_V),
            "time_solve_s": problem.time_solve_s,
            "time_sensitivity_s": problem.time_sens_s,
            "datasets": [{"name": e.dataset.name, "source": e.dataset.source,
                          "weight": e.weight, "temperature": e.temperature}
                         for e in problem.experiments],
        },
    )


def predict(
    cell: Cell | str,
    experiments: Sequence[Experiment],
    *,
    values: dict[str, float] | None = None,
    model: str = "DFN",
    thermal: str = "lumped",
    var_pts: dict | None = None,
    heat_of_mixing: bool | str = False,
) -> list[ExperimentResidual]:
    """Run the model on (held-out) experiments: model against data, ``role="prediction"``.

    ``values`` (e.g. ``FitResult.values``) replace the cell's own before the run. Under
    ``thermal="isothermal"`` or ``"measured"`` (no heat equation) the values that enter
    only the heat equation (heat transfer coefficient, heat capacity) have no effect and
    are left out, so a set fitted with the lumped model can be run with its measured
    temperature imposed.
    """
    if thermal not in THERMAL_MODES:
        raise InputError(range_message("thermal", "argument of predict",
                                       f"one of {THERMAL_MODES}", thermal))
    values = {nm: v for nm, v in (values or {}).items()
              if thermal == "lumped" or not _target(_canonical(nm)).heat_only}
    params = [FitParameter(nm, initial=float(v), bounds=(float(v) - abs(float(v)) - 1.0,
                                                      float(v) + abs(float(v)) + 1.0),
                           scaling="linear") for nm, v in values.items()]
    problem = PhysicsProblem(cell, experiments, params, model=model, thermal=thermal,
                             var_pts=var_pts, heat_of_mixing=heat_of_mixing)
    return problem.residuals_per_experiment(problem.x0, role="prediction")


def _scaled_bpx(value, factor: float):
    """A BPX number, expression or table multiplied by ``factor``."""
    if isinstance(value, dict):
        return dict(value, y=[float(y) * factor for y in value["y"]])
    if isinstance(value, str):
        return f"({value}) * {factor!r}"
    return float(value) * factor


def _fitted_document(cell: Cell, values: dict[str, float], provenance: dict | None) -> dict:
    """The cell's BPX document (with its "cellmodels" block) holding the fitted values."""
    doc = copy.deepcopy(cell.bpx)
    meta = copy.deepcopy(cell.meta)
    for nm, value in values.items():
        key = _canonical(nm)
        tgt = _target(key)
        node = doc
        for part in tgt.bpx[:-1]:
            node = node.setdefault(part, {})
        if tgt.relative:
            if tgt.bpx[-1] not in node:
                raise ParameterError(f"Cell {cell.name} has no {'/'.join(tgt.bpx)} to scale.")
            node[tgt.bpx[-1]] = _scaled_bpx(node[tgt.bpx[-1]], float(value))
        else:
            node[tgt.bpx[-1]] = float(value)
        if provenance is not None:
            pkey = key[: -len(FACTOR_SUFFIX)] if tgt.relative else key
            entry = dict(provenance[key])
            scaled = meta.get("provenance", {}).get(pkey)
            if tgt.relative and scaled:  # the function that was scaled keeps its source
                entry["scaled_value"] = scaled
            meta.setdefault("provenance", {})[pkey] = entry
    _rebalance_limits(cell, values, doc, meta, provenance is not None)
    doc["cellmodels"] = meta
    return doc


def _rebalance_limits(cell: Cell, values: dict[str, float], doc: dict, meta: dict,
                      record: bool) -> None:
    """After a fit of the electrode balance, rewrite the four stoichiometry limits of
    ``doc`` so that the saved set has the fit's balance: the fitted (or the cell's own)
    negative stoichiometry at 100 % SOC, the positive one at the upper cut-off against it,
    and both at 0 % SOC (the lower cut-off) for the fitted capacities. PyBaMM's BPX
    reader takes the cyclable lithium from the 100 % SOC pair, so the saved set starts
    every run where the fit did."""
    import pybamm

    keys = {_canonical(nm): float(v) for nm, v in values.items()}
    if not any(_target(k).balance for k in keys):
        return
    pv = cell.parameter_values()
    eps = {side: float(pv[name]) for side, name in _EPS.items()}
    x100 = float(pv[_X100])
    for k, v in keys.items():
        tgt = _target(k)
        if not tgt.balance:
            continue
        if tgt.pybamm == _X100:
            x100 = v
            continue
        side = "negative" if tgt.pybamm == _EPS["negative"] else "positive"
        eps[side] *= v if tgt.relative else v / float(_bpx_get(cell.bpx, tgt.bpx))
    param = pybamm.LithiumIonParameters()
    pv.update({_EPS["negative"]: eps["negative"], _EPS["positive"]: eps["positive"]})
    c_n, c_p = pv.evaluate(param.n.prim.c_max), pv.evaluate(param.p.prim.c_max)
    y100 = _positive_at(pv, param, x100, float(pv["Upper voltage cut-off [V]"]),
                        float(pv["Reference temperature [K]"]))
    pv.update({"Initial concentration in negative electrode [mol.m-3]": x100 * c_n,
               "Initial concentration in positive electrode [mol.m-3]": y100 * c_p})
    x0, y0 = pybamm.lithium_ion.get_initial_stoichiometries(0.0, pv, param=param,
                                                            tol=_BALANCE_TOL)
    limits = {("Negative electrode", "Minimum stoichiometry"): float(x0),
              ("Negative electrode", "Maximum stoichiometry"): float(x100),
              ("Positive electrode", "Minimum stoichiometry"): float(y100),
              ("Positive electrode", "Maximum stoichiometry"): float(y0)}
    fitted = [k for k in keys if _target(k).balance]
    for (sec, key), v in limits.items():
        doc["Parameterisation"][sec][key] = v
        name = f"{sec}/{key}"
        if name not in keys or not record:  # the base set's cited range no longer applies
            meta.setdefault("provenance", {})[name] = {
                "source": ("derived from the fitted electrode balance (" + ", ".join(fitted)
                           + "): the stoichiometry where the OCV meets the voltage cut-off"),
                "range": [0.0, 1.0]}


def _file_record(source: str) -> dict:
    from .. import data

    entry = data.REGISTRY.get(source)
    if entry is not None:
        return {"name": source, "sha256": entry.sha256, "origin": f"{entry.repository}@"
                f"{entry.commit}:{entry.origin_path}"}
    p = Path(source)
    if p.is_file():
        from ..data import _sha256

        return {"name": str(p), "sha256": _sha256(p)}
    return {"name": source, "sha256": None}


def with_values(cell: Cell | str, values: dict, *, source: str,
                name: str | None = None) -> Cell:
    """``cell`` with some of its BPX values replaced, each citing ``source``.

    For fitting another functional form of a value than the set's, e.g. a stoichiometry-
    dependent particle diffusivity where the set has a constant: give the new form here
    and fit its ``" (factor)"`` multiplier (:data:`FACTOR_SUFFIX`), which keeps its shape
    and the set's Arrhenius term.

    Parameters
    ----------
    cell : Cell or str
    values : dict
        ``"Section/Key"`` (the parameter-set spelling, e.g. ``"Positive electrode/
        Diffusivity [m2.s-1]"``) to a number, an expression of ``x`` (parsed, never
        executed: :mod:`cellmodels.expressions`) or a table ``{"x": [...], "y": [...]}``.
        Only keys the set already has under ``"Parameterisation"``.
    source : str
        Where the new values come from (their provenance ``source``; a number keeps the
        set's cited ``range``, so it must lie in it).
    name : str, optional
        The new cell's name; default ``"<cell>_modified"``.

    Returns
    -------
    Cell
        Checked as a parameter-set file is on loading. Its ``sha256`` is that of the
        modified document; its description and each replaced value's provenance name the
        base set and its sha256.
    """
    import tempfile

    cell = load_cell(cell) if isinstance(cell, str | Path) else cell
    if not values:
        raise InputError("with_values needs at least one value to replace.")
    if not str(source).strip():
        raise InputError("with_values needs a non-empty 'source' for the replaced values.")
    doc = copy.deepcopy(cell.bpx)
    meta = copy.deepcopy(cell.meta)
    params = doc["Parameterisation"]
    prov = meta.setdefault("provenance", {})
    base = f"set {cell.name} (sha256 {cell.sha256})"
    for full, value in values.items():
        section, _, key = str(full).partition("/")
        if section not in params or key not in params[section] or key == "description":
            known = [f"{s}/{k}" for s, sec in params.items() if isinstance(sec, dict)
                     for k in sec if k != "description"]
            raise ParameterError(f"Cell {cell.name} has no value {full!r} to replace."
                                 + suggest(str(full), known))
        ok = (isinstance(value, str) or (isinstance(value, int | float)
                                         and not isinstance(value, bool))
              or isinstance(value, dict))
        if not ok:
            raise InputError(
                f"The new value of {full!r} must be a number, an expression of x or a table "
                f"{{'x': [...], 'y': [...]}}. Got {value!r} instead.")
        old = params[section][key]
        params[section][key] = value
        entry = {"source": str(source),
                 "replaces": f"{old!r} of {base}" if not isinstance(old, dict)
                 else f"a table of {base}"}
        if isinstance(value, int | float) and "range" in prov.get(full, {}):
            entry["range"] = prov[full]["range"]
        prov[full] = entry
    meta["name"] = name or f"{cell.name}_modified"
    meta["description"] = (meta.get("description", "") + f" Modified from {base}: "
                           + ", ".join(values) + f" replaced ({source}).").strip()
    doc["cellmodels"] = meta
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{meta['name']}.json"
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        loaded = load_cell(path)  # the same checks as any parameter-set file
    return replace(loaded, source=f"{cell.source}, modified by with_values: "
                   + ", ".join(values))


def save_fitted(result: FitResult, cell: Cell | str, path: str | Path, *,
                name: str | None = None) -> Path:
    """Write ``cell`` with the fitted values as a parameter set (BPX JSON + "cellmodels").

    Provenance of each fitted value: the data files (registry name and sha256), the
    parameters fitted together, the value, 95 % interval and bounds, the UTC time, the
    cellmodels version and the base set (name and sha256). The value's ``range`` becomes
    the fit's bounds. The file is written atomically and read back with
    :func:`~cellmodels.physics.load_cell` before this returns (so a set that would not
    load is never left behind).
    """
    from .. import __version__
    from .._atomic import atomic_path

    cell = load_cell(cell) if isinstance(cell, str | Path) else cell
    if not result.success:
        raise InputError(
            "The fit did not converge (" + result.message + "); refusing to save it as a "
            "parameter set."
        )
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stamp = when.replace("-", "").replace(":", "")
    files = {}
    for d in result.meta.get("datasets", []):
        files.setdefault(d["source"], _file_record(d["source"]))
    files_list = list(files.values())
    ref_key = f"cellmodels_fit_{stamp}"
    file_text = "; ".join(f"{f['name']} (sha256 {f['sha256']})" for f in files_list)
    # Nuisance values (fit_balance's per-curve start charge and series resistance) were
    # fitted with the cell's but belong to the records, not to the set.
    nuisance = set(result.meta.get("nuisance", ()))
    own = [nm for nm in result.names if nm not in nuisance]
    fitter = result.meta.get("fitter", "cellmodels.fitting.fit_physics")
    reference = (
        f"Fitted with cellmodels {__version__} ({fitter}) on {when}: {', '.join(own)} of set "
        f"{cell.name} (sha256 {cell.sha256}) fitted together"
        + (f" (with the records' own {', '.join(sorted(nuisance))})" if nuisance else "")
        + f" to {file_text}, "
        f"{result.meta.get('model', '')} model, {result.meta.get('thermal', '')} thermal"
        + (f" with heat_of_mixing={result.meta['heat_of_mixing']!r} (simulate it so: its "
           "thermal values were fitted with that heat source)"
           if result.meta.get("heat_of_mixing") else "")
        + f"; {result.n_evaluations} evaluations, gradient by {result.gradient}."
    )
    provenance = {}
    for k, nm in enumerate(result.names):
        if nm in nuisance:
            continue
        lo, hi = result.bounds[nm]
        ci = result.ci95[nm]
        tgt = _target(nm)
        rng: list[float] | None = [lo, hi]
        if tgt.relative:
            b = _bpx_get(cell.bpx, tgt.bpx)
            numeric = isinstance(b, int | float) and not isinstance(b, bool)
            rng = sorted([lo * float(b), hi * float(b)]) if numeric else None
        provenance[nm] = {
            "source": f"{ref_key}: least-squares fit ({fitter})",
            "range": rng,
            "fit": {
                "value": result.values[nm],
                "initial": result.initial[nm],
                "ci95": [v if math.isfinite(v) else None for v in ci],
                "scaling": result.scaling[k],
                "fitted_together": own,
                "not_separable": nm in result.not_separable,
                "at_bound": nm in result.at_bound,
                "files": files_list,
                "experiments": [d["name"] for d in result.meta.get("datasets", [])],
                "when": when,
                "cellmodels_version": __version__,
                "base_set": {"name": cell.name, "sha256": cell.sha256},
            },
        }
        if rng is None:
            del provenance[nm]["range"]
    values = {nm: v for nm, v in result.values.items() if nm not in nuisance}
    doc = _fitted_document(cell, values, provenance)
    meta = doc["cellmodels"]
    meta["name"] = name or f"{cell.name}_fitted"
    meta.setdefault("references", {})[ref_key] = reference
    meta["description"] = (meta.get("description", "") + f" Refitted: {reference}").strip()
    if "bpx_data" in meta:  # the BPX body is now this file's own
        meta.pop("bpx_data")
        meta.setdefault("default_source", f"base set {cell.name} (sha256 {cell.sha256})")
    text = json.dumps(doc, indent=1) + "\n"
    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
        load_cell(tmp)  # must load: a set that does not is refused here, and not written
    return path
