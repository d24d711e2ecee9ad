"""Identify an ECM from a cell's physics model over a SOC x temperature grid.

For each grid point the physics model (isothermal at that temperature) is given a
multi-level current sequence followed by a rest, from equilibrium
(:func:`identification_sequence`); the ECM's R0, R_k and tau_k (and, with
``current_dependence="butler-volmer"``, the charge-transfer element R_ct, I0) are fitted
to the voltage response by variable projection: for fixed time constants (and I0) the
voltage is linear in the resistances, which are found by non-negative least squares;
the time constants (log scale, shared over SOC at each temperature) and the per-point
log I0 are searched by a multi-start bounded least-squares on top. Where the sequence
reaches a voltage cut-off, only the direction that reached it (its discharge or its
charge levels) is scaled down, by ``backoff`` per try, so the other direction keeps the
full amplitude. OCV(SOC) and dOCV/dT(SOC) come from the physics model's rest voltage at each
temperature; the capacity is the charge between PyBaMM's 0 and 100 % SOC; the thermal
mass and heat-transfer coefficient are the physics model's lumped ones.

A cell whose positive electrode has an OCP hysteresis (PyBaMM's "one-state hysteresis",
:data:`cellmodels.physics.cells.HYSTERESIS_KEYS`) gets the ECM's hysteresis state:
``M(z)`` is half the gap between the delithiation and lithiation OCPs at the positive
stoichiometry of each SOC (:func:`hysteresis_half_gap`), the rate maps PyBaMM's decay
rate ``gamma_p`` (per positive stoichiometry, ``1 + h ~ exp(-gamma_p dsto / 2)``) to SOC,
``gamma = gamma_p |y(1) - y(0)| / 2`` (exact for a uniform reaction across the electrode;
the physics' local states switch a few per cent later where the current is not
uniform), and the initial state is the set's. The identification then fits the
resistances to the physics' voltage with the ECM's own hysteresis voltage ``M(z) h(t)``
(from the sequence's current) taken out.

Estimator contract (scikit-learn): settings in the constructor, ``fit(cell)`` returns
``self``, learned values end in ``_`` (``ecm_``, ``fit_table_``).
"""

from __future__ import annotations

import datetime as _dt
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares, nnls

from ..errors import CutoffError, InputError, SolverError, check_range, range_message
from ..physics.cells import Cell, load_cell
from .ecm import ECM, hysteresis_after

__all__ = ["ECMIdentifier", "NotFittedError", "hysteresis_half_gap", "hysteresis_of",
           "open_circuit_voltage", "reduce_cell"]


def open_circuit_voltage(cell: Cell, soc, temperature_K: float) -> np.ndarray:
    """The physics model's open-circuit voltage [V] at SOC values, as PyBaMM defines SOC.

    Evaluated directly from the electrode OCPs (with their entropic terms) at the
    stoichiometries PyBaMM assigns to each SOC, so no solve is needed.
    """
    import pybamm

    pv = cell.parameter_values()
    param = pybamm.LithiumIonParameters()
    x0, y0 = pybamm.lithium_ion.get_initial_stoichiometries(0.0, pv, param=param)
    x1, y1 = pybamm.lithium_ion.get_initial_stoichiometries(1.0, pv, param=param)
    z = np.asarray(soc, dtype=float)
    x = pybamm.Vector(x0 + z * (x1 - x0))
    y = pybamm.Vector(y0 + z * (y1 - y0))
    temp = pybamm.Scalar(float(temperature_K))
    expr = param.p.prim.U(y, temp) - param.n.prim.U(x, temp)
    return np.asarray(pv.process_symbol(expr).evaluate(), dtype=float).reshape(-1)


def _positive_stoichiometry(pv, param, soc) -> tuple[np.ndarray, float]:
    """Positive stoichiometry at ``soc`` (PyBaMM's SOC) and its window |y(1) - y(0)|."""
    import pybamm

    _, y0 = pybamm.lithium_ion.get_initial_stoichiometries(0.0, pv, param=param)
    _, y1 = pybamm.lithium_ion.get_initial_stoichiometries(1.0, pv, param=param)
    return y0 + np.asarray(soc, dtype=float) * (y1 - y0), float(abs(y1 - y0))


def hysteresis_half_gap(cell: Cell, soc, temperature_K: float) -> np.ndarray:
    """Half the gap [V] between the positive electrode's delithiation (charge) and
    lithiation (discharge) OCPs at the stoichiometries of ``soc``: the ECM's ``M(z)``.
    Refused for a cell without hysteresis."""
    import pybamm

    from ..physics.cells import has_hysteresis

    if not has_hysteresis(cell.user_defined):
        raise InputError(f"Cell {cell.name} has no OCP hysteresis (its set gives no "
                         "'Positive electrode OCP hysteresis half-gap [V]').")
    pv = cell.parameter_values()
    param = pybamm.LithiumIonParameters()
    y, _ = _positive_stoichiometry(pv, param, soc)
    y = pybamm.Vector(np.atleast_1d(y))
    temp = pybamm.Scalar(float(temperature_K))
    expr = (param.p.prim.U(y, temp, "delithiation") - param.p.prim.U(y, temp, "lithiation")) / 2
    return np.asarray(pv.process_symbol(expr).evaluate(), dtype=float).reshape(-1)


def hysteresis_of(cell: Cell) -> tuple[float, float] | None:
    """(gamma per unit SOC, initial state) of the ECM's hysteresis for ``cell``, or None.

    ``gamma = gamma_p |y(1) - y(0)| / 2`` from PyBaMM's decay rate ``gamma_p`` (module
    docstring); the two directions' rates must be equal (the ECM has one)."""
    import pybamm

    from ..physics.cells import has_hysteresis

    if not has_hysteresis(cell.user_defined):
        return None
    pv = cell.parameter_values()
    rates = {d: float(pv[f"Positive particle {d}hysteresis decay rate"])
             for d in ("lithiation ", "delithiation ")}
    if len(set(rates.values())) != 1:
        raise InputError(f"Cell {cell.name}: the ECM has one hysteresis rate; the set's "
                         f"lithiation and delithiation decay rates differ ({rates}).")
    _, window = _positive_stoichiometry(pv, pybamm.LithiumIonParameters(), [0.0])
    return (next(iter(rates.values())) * window / 2.0,
            float(pv["Initial hysteresis state in positive electrode"]))


CURRENT_DEPENDENCE: tuple[str, ...] = ("none", "butler-volmer")
GAS_CONSTANT = 8.314462618  # J/(mol K), CODATA 2018
FARADAY = 96485.33212  # C/mol, CODATA 2018


class NotFittedError(InputError):
    """The identifier was used before ``fit``."""


DEFAULT_LEVELS: tuple[float, ...] = (-3.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.5, 5.0)


def identification_sequence(seed: int = 7, length_s: float = 300.0, rest_s: float = 120.0,
                            levels: Sequence[float] = DEFAULT_LEVELS
                            ) -> tuple[np.ndarray, np.ndarray]:
    """A multi-level current sequence in C-rate units (zero-order hold), then a rest.

    Levels from -3C (charge) to 5C (discharge) with log-uniform holds of 0.3-30 s: rich
    in both amplitude and time scale, so a linear ECM is fitted across the range of a UPS
    duty (the nonlinear kinetics get their best linear fit, not a 2C tangent). Its mean is
    near 0.5C, so a point's SOC moves by about 4 %. Seeded, so it is reproducible.
    ``levels`` replaces the set of C-rates (the first hold is 2C if 2C is among them,
    else the level nearest to it); the default sequence is unchanged by the option.
    """
    rng = np.random.default_rng(seed)
    levels = np.asarray(levels, dtype=float)
    t, times, values = 0.0, [], []
    last = None
    first = float(levels[np.argmin(np.abs(levels - 2.0))])
    while t < length_s:
        level = rng.choice(levels[levels != last]) if last is not None else first
        hold = float(np.exp(rng.uniform(np.log(0.3), np.log(30.0))))
        times.append(t)
        values.append(level)
        t += hold
        last = level
    times.append(t)
    values.append(0.0)
    times.append(t + rest_s)
    values.append(0.0)
    return np.round(np.array(times), 3), np.array(values)


class _SequenceEngine:
    """The physics model, discretised once, driven by the identification sequence with
    separate amplitudes [A per C-rate unit] for its discharge and its charge levels
    (PyBaMM input parameters), isothermal at an input temperature."""

    def __init__(self, cell: Cell, model: str, seq_t: np.ndarray, seq_c: np.ndarray,
                 cutoff_margin_V: tuple[float, float] = (0.0, 0.0)) -> None:
        import pybamm

        from ..physics.models import build_model
        from ..physics.simulate import piecewise_constant

        self.cell = cell
        pos, e1 = piecewise_constant(seq_t, np.maximum(seq_c, 0.0), "Discharge shape")
        neg, e2 = piecewise_constant(seq_t, np.minimum(seq_c, 0.0), "Charge shape")
        self.edges = np.union1d(e1, e2)
        pv = cell.parameter_values()
        temp = pybamm.InputParameter("Temperature [K]")
        if any(cutoff_margin_V):
            pv.update({
                "Lower voltage cut-off [V]": pv["Lower voltage cut-off [V]"]
                + cutoff_margin_V[0],
                "Upper voltage cut-off [V]": pv["Upper voltage cut-off [V]"]
                - cutoff_margin_V[1],
            })
        pv.update({
            "Current function [A]": pybamm.InputParameter("Discharge amplitude [A]") * pos
            + pybamm.InputParameter("Charge amplitude [A]") * neg,
            "Ambient temperature [K]": temp,
            "Initial temperature [K]": temp,
        }, check_already_exists=False)
        self.model = build_model(cell, model, thermal="isothermal")
        self.sim = pybamm.Simulation(
            self.model, parameter_values=pv,
            solver=pybamm.IDAKLUSolver(rtol=1e-6, atol=1e-6, output_variables=["Voltage [V]"]))

    def solve(self, soc: float, temperature_K: float, discharge_A: float, charge_A: float,
              t_end_s: float, t_out_s: np.ndarray):
        """Voltage [V] at ``t_out_s``; raises :class:`CutoffError` whose ``side`` attribute is
        "discharge" (lower cut-off), "charge" (upper) or "both" (any other event)."""
        import pybamm

        from ..physics.simulate import EDGE_S

        e = self.edges[self.edges < t_end_s]
        t_eval = np.unique(np.concatenate([[0.0, float(t_end_s)], e - EDGE_S, e]))
        inputs = {"Discharge amplitude [A]": float(discharge_A),
                  "Charge amplitude [A]": float(charge_A),
                  "Temperature [K]": float(temperature_K)}
        what = (f"identification sequence of cell {self.cell.name} at SOC {soc}, "
                f"{temperature_K} K, {discharge_A:.4g} A discharge / {charge_A:.4g} A charge "
                "amplitude")
        try:
            sol = self.sim.solve(t_eval, t_interp=t_out_s, inputs=inputs,
                                 initial_soc=float(soc))
        except pybamm.SolverError as exc:
            if "non-positive at initial conditions" in str(exc):
                raise InputError(
                    f"The {what} starts outside its voltage window: the rest voltage is "
                    "already within 'cutoff_margin_V' of a cut-off. Lower the margin or "
                    "move the SOC grid away from that end.") from exc
            raise SolverError(f"The {what} failed: {exc}") from exc
        if sol.termination != "final time":
            term = str(sol.termination)
            err = CutoffError(f"The {what} stopped at t = {sol['Time [s]'].entries[-1]:.4g} s "
                              f"({term}).")
            err.side = ("discharge" if "Minimum voltage" in term else
                        "charge" if "Maximum voltage" in term else "both")
            raise err
        return sol


def _hysteresis_path(t: np.ndarray, current_A: np.ndarray, capacity_Ah: float, rate: float,
                     initial: float) -> np.ndarray:
    """The ECM's hysteresis state at ``t`` for a current that holds ``current_A[m]`` on
    ``[t[m], t[m+1])`` (exact steps of :meth:`ECM.hysteresis_step`'s law)."""
    h = np.empty(t.size)
    h[0] = initial
    for m in range(t.size - 1):
        h[m + 1] = hysteresis_after(h[m], current_A[m], t[m + 1] - t[m], rate, capacity_Ah)
    return h


def _step_responses(t: np.ndarray, edges: np.ndarray, jumps: np.ndarray, tau: float
                    ) -> np.ndarray:
    """x(t) of dx/dt = (i(t) - x)/tau, x(0) = 0, for i a sum of steps ``jumps`` at ``edges``."""
    dt = t[:, None] - edges[None, :]
    resp = np.where(dt >= 0, 1.0 - np.exp(-np.maximum(dt, 0.0) / tau), 0.0)
    return resp @ jumps


class ECMIdentifier:
    """Identify an :class:`~cellmodels.reduction.ECM` from a cell's physics model.

    Parameters
    ----------
    n_rc : int
        Number of RC pairs (default 2).
    soc : sequence of float
        SOC grid where R0, R_k, tau_k are identified (default 11 points, 0.05-0.95).
    temperature_K : sequence of float, optional
        Temperature grid; default four points across the cell's validity range.
    sequence_s, rest_s : float
        Length of the multi-level identification sequence (:func:`identification_sequence`)
        and of the rest after it [s]; they bound the time constants the data can show,
        so choose them to cover the load you will simulate.
    seed : int
        Seed of the identification sequence.
    model : "DFN" | "SPMe" | "SPM"
    ocv_points : int
        Points of the OCV table over SOC 0-1.
    amplitude : float
        Scale of the sequence (levels -3C to 5C times ``amplitude``); default 1. Choose it
        so that the sequence's largest discharge level covers the load the ECM will see.
    backoff : float
        Where the sequence reaches a voltage cut-off, the amplitude of the direction
        that reached it (discharge: lower cut-off; charge: upper) is multiplied by
        ``backoff`` and the point solved again (at most 12 times), in (0, 1).
    current_dependence : "none" | "butler-volmer"
        "butler-volmer" adds the charge-transfer element ``2 I0 R_ct asinh(I / (2 I0))``
        in series with R0 (:class:`~cellmodels.reduction.ECM`, ``ct_R_Ohm``,
        ``ct_i0_A``), fitted as the symmetric one-electron Butler-Volmer overpotential
        ``(2 R T / F) asinh(I / (2 I0))`` (``R_ct = R T / (F I0)``, I0 per grid point):
        the resistance then falls with current as the physics' kinetic overpotential
        does, and the small-signal resistance is ``R0 + R_ct`` (the zero-current tangent,
        as in EIS). "none" (default): R0 is the best linear (secant) fit over the
        sequence's currents.
    centre_soc : bool
        False (default): each point's sequence starts at the grid SOC (and its net
        discharge moves the SOC below it). True: it starts above the grid SOC by half
        the net SOC change, so the data the point's tables are fitted to is centred on
        the grid SOC (matters where the OCV and the resistances change fast with SOC).
    shared_tau : bool
        True (default): the time constants are shared by every SOC at a temperature
        (smooth tables, no RC modes swapping between neighbours). False: each grid point
        gets its own (a closer fit where the dynamics change with SOC, e.g. slow solid
        diffusion at the ends of an LFP cell's SOC range).
    cutoff_margin_V : float or (lower, upper)
        The sequence is kept this far inside the voltage cut-offs [V] (0, the default:
        up to them; a pair: above the lower and below the upper cut-off): a direction that
        comes closer is scaled down (``backoff``). A margin
        keeps the fit out of the knee at the ends of the SOC range, where the physics is
        far from any circuit (e.g. for a small-signal ECM).
    beyond_validity_K : float
        How far [K] the temperature grid may extend past the cell's validity range
        (default 0: the grid must lie within it). A cell that heats under load (e.g. a
        5 Ah energy cell at 5C) leaves its range, and an ECM clamped at the range's top
        then keeps the resistances of a colder cell; a grid up to where the physics goes
        follows it, with the physics model extrapolated beyond what its parameter set was
        validated for. The ECM's ``validity`` then states the grid (the range it was
        identified over), its ``limits`` keep the cell's range, and its provenance
        records how far the grid left it.
    levels : sequence of float
        C-rate levels of the identification sequence (discharge positive; default -3C to
        5C, :data:`DEFAULT_LEVELS`), each in [-20, 20], at least two distinct. Levels
        that span the load the ECM will see (e.g. discharge only, for a discharge duty)
        give the linear elements their best fit over that range instead of a secant
        across charge and discharge.
    """

    def __init__(
        self,
        n_rc: int = 2,
        soc: Sequence[float] = tuple(np.round(np.linspace(0.05, 0.95, 11), 4)),
        temperature_K: Sequence[float] | None = None,
        sequence_s: float = 300.0,
        rest_s: float = 120.0,
        seed: int = 7,
        model: str = "DFN",
        ocv_points: int = 101,
        amplitude: float = 1.0,
        backoff: float = 0.7,
        current_dependence: str = "none",
        centre_soc: bool = False,
        shared_tau: bool = True,
        cutoff_margin_V: float | tuple[float, float] = 0.0,
        beyond_validity_K: float = 0.0,
        levels: Sequence[float] = DEFAULT_LEVELS,
    ) -> None:
        self.n_rc = n_rc
        self.soc = soc
        self.temperature_K = temperature_K
        self.sequence_s = sequence_s
        self.rest_s = rest_s
        self.seed = seed
        self.model = model
        self.ocv_points = ocv_points
        self.amplitude = amplitude
        self.backoff = backoff
        self.current_dependence = current_dependence
        self.centre_soc = centre_soc
        self.shared_tau = shared_tau
        self.cutoff_margin_V = cutoff_margin_V
        self.beyond_validity_K = beyond_validity_K
        self.levels = levels

    # ------------------------------------------------------------------ helpers
    def _check(self, cell: Cell) -> tuple[np.ndarray, np.ndarray]:
        for name in ("n_rc", "ocv_points", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise InputError(range_message(name, "of ECMIdentifier", "an integer", value))
        check_range(self.n_rc, "n_rc", "of ECMIdentifier", 0, 4)
        check_range(self.sequence_s, "sequence_s", "of ECMIdentifier", 0.0, 36000.0,
                    closed=(False, True))
        check_range(self.seed, "seed", "of ECMIdentifier", 0, 2**32 - 1)
        # the sequence's times are rounded to 1 ms: a shorter rest repeats its last time
        check_range(self.rest_s, "rest_s", "of ECMIdentifier", 1e-3, 36000.0)
        check_range(self.ocv_points, "ocv_points", "of ECMIdentifier", 3, 10001)
        check_range(self.amplitude, "amplitude", "of ECMIdentifier", 0.0, 20.0,
                    closed=(False, True))
        check_range(self.backoff, "backoff", "of ECMIdentifier", 0.0, 1.0,
                    closed=(False, False))
        margin = np.atleast_1d(np.asarray(self.cutoff_margin_V, dtype=float))
        if margin.size not in (1, 2) or margin.ndim != 1:
            raise InputError(range_message("cutoff_margin_V", "of ECMIdentifier",
                                           "a number or a (lower, upper) pair of volts",
                                           self.cutoff_margin_V))
        for m in margin.tolist():
            check_range(m, "cutoff_margin_V", "of ECMIdentifier", 0.0, 1.0)
        for name in ("centre_soc", "shared_tau"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(range_message(name, "of ECMIdentifier", "True or False",
                                               getattr(self, name)))
        self._levels()
        if self.current_dependence not in CURRENT_DEPENDENCE:
            raise InputError(range_message("current_dependence", "of ECMIdentifier",
                                           f"one of {CURRENT_DEPENDENCE}",
                                           self.current_dependence))
        soc = np.asarray(self.soc, dtype=float)
        for s in soc.tolist():  # Python floats, so the message shows 1.2, not np.float64(1.2)
            check_range(s, "soc", "grid of ECMIdentifier", 0.0, 1.0)
        if soc.size < 2 or np.any(np.diff(soc) <= 0):
            raise InputError(f"The 'soc' grid of ECMIdentifier must increase. Got {soc.tolist()}.")
        if self.temperature_K is None:
            lo, hi = cell.temperature_range_K
            temps = np.round(np.linspace(lo, hi, 4), 2)
        else:
            temps = np.atleast_1d(np.asarray(self.temperature_K, dtype=float))
            if temps.size == 0:
                raise InputError(range_message("temperature_K", "grid of ECMIdentifier",
                                               "at least one temperature [K]",
                                               self.temperature_K))
        check_range(self.beyond_validity_K, "beyond_validity_K", "of ECMIdentifier", 0.0, 100.0)
        lo, hi = cell.temperature_range_K
        for temp in temps.tolist():
            if self.beyond_validity_K == 0.0:
                cell.check_temperature(temp, "temperature_K")
            else:
                check_range(temp, "temperature_K", f"for cell {cell.name} (its validity range "
                            f"widened by beyond_validity_K = {self.beyond_validity_K:g} K)",
                            lo - self.beyond_validity_K, hi + self.beyond_validity_K)
        if temps.ndim != 1 or np.any(np.diff(temps) <= 0):
            # the ECM needs an increasing grid: refuse it here, not after every solve
            raise InputError("The 'temperature_K' grid of ECMIdentifier must increase. Got "
                             f"{temps.tolist()}.")
        return soc, temps

    def _levels(self) -> np.ndarray:
        try:
            levels = np.asarray(self.levels, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise InputError(range_message("levels", "of ECMIdentifier",
                                           "a sequence of C-rates", self.levels)) from None
        for x in levels.tolist():
            check_range(x, "levels", "of ECMIdentifier", -20.0, 20.0)
        if np.unique(levels).size < 2:
            raise InputError(range_message("levels", "of ECMIdentifier",
                                           "at least two distinct C-rates",
                                           np.asarray(self.levels).tolist()))
        return levels

    def _fit_temperature(self, t: np.ndarray, shapes: tuple[np.ndarray, np.ndarray],
                         amps: list[tuple[float, float]], ys: list[np.ndarray],
                         edges: np.ndarray, current_1c_A: float, temperature_K: float):
        """Fit time constants shared by every SOC at one temperature, the rest per SOC.

        ``shapes`` are the discharge (>= 0) and charge (<= 0) parts of the sequence [C-rate
        units] at ``t``; point ``i`` runs them with amplitudes ``amps[i]`` [A per C-rate
        unit] and ``ys[i]`` is ``OCV(z(t)) - V(t)``. For fixed time constants (and I0) the
        response is linear in (R0, R_1..R_n), found by non-negative least squares; the
        shared log time constants (and the per-point log I0) are searched on top. The
        charge-transfer element is the symmetric one-electron Butler-Volmer overpotential
        ``(2 R T / F) asinh(I / (2 I0))`` (so ``R_ct = R T / (F I0)``): one parameter per
        point, fixed by the curvature and the slope together, so it cannot trade
        resistance with R0 where the kinetics are nearly linear (a free amplitude could,
        and then the zero-current tangent is an extrapolation).
        Sharing the time constants keeps the tables smooth over SOC (no RC modes swapping
        between neighbours), which interpolation and the UPS kernel need.

        Returns (tau [s], coefficients per point, I0 per point [A] or None, RMSE per point).
        """
        from scipy.sparse import lil_matrix

        n = self.n_rc
        ct = self.current_dependence == "butler-volmer"
        pos, neg = shapes
        k_edge = np.searchsorted(t, edges)
        jumps_p = np.diff(np.concatenate([[0.0], pos[k_edge]]))
        jumps_n = np.diff(np.concatenate([[0.0], neg[k_edge]]))
        currents = [a * pos + b * neg for a, b in amps]
        npts = len(ys)
        cache: dict[float, tuple[np.ndarray, np.ndarray]] = {}

        def responses(lt: float):
            key = float(lt)
            if key not in cache:
                tau = float(np.exp(lt))
                cache[key] = (_step_responses(t, edges, jumps_p, tau),
                              _step_responses(t, edges, jumps_n, tau))
            return cache[key]

        rt_f = GAS_CONSTANT * temperature_K / FARADAY

        def eta(i: int, log_i0: float | None) -> np.ndarray | float:
            if not ct:
                return 0.0
            return 2.0 * rt_f * np.arcsinh(currents[i] / (2.0 * float(np.exp(log_i0))))

        def design(log_tau, i: int):
            a, b = amps[i]
            cols = [currents[i]]
            for lt in log_tau:
                rp, rn = responses(lt)
                cols.append(a * rp + b * rn)
            return np.stack(cols, axis=1)

        def split(x):
            return x[:n], (x[n:] if ct else [None] * npts)

        def resid(x):
            log_tau, log_i0 = split(x)
            out = []
            for i, y in enumerate(ys):
                a, y = design(log_tau, i), y - eta(i, log_i0[i])
                out.append(a @ nnls(a, y)[0] - y)
            return np.concatenate(out)

        lo_tau, hi_tau = np.log(1e-3), np.log(max(3.0 * float(t[-1]), 1.0))
        lo_i0, hi_i0 = np.log(0.02 * current_1c_A), np.log(100.0 * current_1c_A)
        lo = np.array([lo_tau] * n + ([lo_i0] * npts if ct else []))
        hi = np.array([hi_tau] * n + ([hi_i0] * npts if ct else []))
        i0_start = [np.log(current_1c_A)] * npts if ct else []
        if n or ct:
            sparsity = lil_matrix((npts * t.size, lo.size), dtype=int)
            sparsity[:, :n] = 1
            if ct:
                for i in range(npts):
                    sparsity[i * t.size:(i + 1) * t.size, n + i] = 1
            starts = []
            if n:
                span = np.geomspace(1e-2, float(t[-1]) / 2, 7)
                for k0 in range(0, len(span) - n + 1, 2):
                    starts.append(np.log(np.geomspace(
                        span[k0], span[min(k0 + 2 * n - 1, len(span) - 1)], n)))
            else:
                starts.append(np.array([]))
            best = None
            for x0 in starts:
                # one unknown (1 RC, no element): dense, as scipy's sparse trust-region
                # step indexes a 2-D subspace and fails on a single variable
                res = least_squares(resid, np.concatenate([x0, i0_start]), bounds=(lo, hi),
                                    xtol=1e-8, ftol=1e-8,
                                    jac_sparsity=sparsity if lo.size > 1 else None)
                if best is None or res.cost < best.cost:
                    best = res
            x = best.x.copy()
            order = np.argsort(x[:n])
            x[:n] = x[:n][order]
        else:
            x = np.array([])
        log_tau, log_i0 = split(x)
        coefs, rmse = [], []
        for i, y in enumerate(ys):
            a, y = design(log_tau, i), y - eta(i, log_i0[i])
            c = nnls(a, y)[0]
            coefs.append(c)
            rmse.append(float(np.sqrt(np.mean((a @ c - y) ** 2))))
        i0 = np.exp(np.asarray(log_i0, dtype=float)) if ct else None
        return np.exp(log_tau), coefs, i0, rmse

    @staticmethod
    def _r_ct(i0_A: float, temperature_K: float) -> float:
        """Small-signal resistance [Ohm] of the fitted Butler-Volmer element."""
        return GAS_CONSTANT * temperature_K / (FARADAY * i0_A)

    # ------------------------------------------------------------------ fit
    def fit(self, cell: Cell | str, progress: bool = False) -> ECMIdentifier:
        from .. import __version__

        cell = load_cell(cell) if isinstance(cell, str) else cell
        soc, temps = self._check(cell)
        t0 = time.perf_counter()
        seq_t, seq_c = identification_sequence(self.seed, self.sequence_s, self.rest_s,
                                               self._levels())
        margin = np.broadcast_to(np.asarray(self.cutoff_margin_V, dtype=float), (2,))
        engine = _SequenceEngine(cell, self.model, seq_t, seq_c, tuple(margin.tolist()))
        q_soc = cell.soc_capacity_Ah
        current = cell.capacity_Ah  # the sequence is in C-rate units
        ct = self.current_dependence == "butler-volmer"

        # OCV(SOC, T) from the rest voltage of the physics model
        ocv_soc = np.linspace(0.0, 1.0, self.ocv_points)
        t_ref = 298.15 if temps[0] <= 298.15 <= temps[-1] else float(temps[len(temps) // 2])
        ocv_T = np.stack([open_circuit_voltage(cell, ocv_soc, temp) for temp in temps], axis=1)
        if temps.size > 1:
            slope = np.polyfit(temps - t_ref, ocv_T.T, 1)[0]
        else:
            slope = np.zeros_like(ocv_soc)
        ocv_ref = open_circuit_voltage(cell, ocv_soc, t_ref)
        hysteresis = hysteresis_of(cell)
        half_gap = hysteresis_half_gap(cell, ocv_soc, t_ref) if hysteresis else None

        # R0, R_k, tau_k at each grid point
        edges = engine.edges
        t_end = float(seq_t[-1])
        t_out = np.unique(np.concatenate(
            [np.arange(0.0, t_end, 0.5), [t_end], edges]
            + [edges + d for d in (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)]))
        t_out = t_out[t_out <= t_end]
        k = np.searchsorted(seq_t, t_out, side="right") - 1
        shape_out = seq_c[k].copy()
        shape_out[t_out >= seq_t[-2]] = 0.0
        pos_out, neg_out = np.maximum(shape_out, 0.0), np.minimum(shape_out, 0.0)
        # charge passed [C per A of amplitude] at each output time, exact for the ZOH
        # shape, by direction
        charge = []
        for part in (np.maximum(seq_c, 0.0), np.minimum(seq_c, 0.0)):
            passed = np.concatenate([[0.0], np.cumsum(part[:-1] * np.diff(seq_t))])
            charge.append(passed[k] + part[k] * (t_out - seq_t[k]))
        ns, nt = soc.size, temps.size
        r0 = np.zeros((ns, nt))
        rk = np.zeros((self.n_rc, ns, nt))
        tau = np.ones((self.n_rc, ns, nt))
        r_ct = np.zeros((ns, nt))
        i0 = np.ones((ns, nt))
        table = []
        points = [(i, j) for j in range(nt) for i in range(ns)]
        if progress:
            from tqdm import tqdm

            points = tqdm(points, desc=f"reduce {cell.name}", unit="point")
        responses: dict[int, list] = {j: [] for j in range(nt)}
        tries = 12
        for i, j in points:
            a_dis = a_chg = self.amplitude * current
            # where the sequence reaches a cut-off, scale down only the direction that
            # reached it, and record it (that direction is then fitted at a smaller signal)
            for _ in range(tries + 1):
                start = soc[i]
                if self.centre_soc:
                    # start above the point by half the net SOC the sequence removes, so
                    # its excursion is centred on the point the tables are attributed to
                    net = (a_dis * charge[0][-1] + a_chg * charge[1][-1]) / 3600.0 / q_soc
                    start = float(np.clip(soc[i] + net / 2, 0.0, 1.0))
                try:
                    sol = engine.solve(start, temps[j], a_dis, a_chg, t_end, t_out)
                    break
                except CutoffError as exc:
                    if exc.side in ("discharge", "both"):
                        a_dis *= self.backoff
                    if exc.side in ("charge", "both"):
                        a_chg *= self.backoff
            else:
                raise SolverError(
                    f"Identification sequence at SOC {soc[i]}, {temps[j]} K reaches a cut-off "
                    f"even at {self.backoff:g}^{tries} of its amplitude (discharge "
                    f"{a_dis:.3g} A, charge {a_chg:.3g} A per C-rate unit).")
            t = sol["Time [s]"].entries
            keep = np.isin(t, t_out)  # drop the solver's restart points at the edges
            t, v = t[keep], sol["Voltage [V]"].entries[keep]
            if t.size != t_out.size:
                raise SolverError(f"Identification at SOC {soc[i]}, {temps[j]} K returned "
                                  f"{t.size} of {t_out.size} output times.")
            z = start - (a_dis * charge[0] + a_chg * charge[1]) / 3600.0 / q_soc
            ocv = np.interp(z, ocv_soc, ocv_ref) + (temps[j] - t_ref) * np.interp(
                z, ocv_soc, slope)
            if hysteresis:
                # the ECM's own hysteresis voltage M(z) h(t) along the sequence (exact
                # steps: the current is constant between output times), taken out
                ocv = ocv + np.interp(z, ocv_soc, half_gap) * _hysteresis_path(
                    t_out, a_dis * pos_out + a_chg * neg_out, q_soc, *hysteresis)
            responses[j].append((i, a_dis, a_chg, ocv - v))
        if progress:  # the fits below take seconds per temperature after the bar's 100 %
            print(f"reduce {cell.name}: fitting the tables at {nt} temperature(s) "
                  f"(time constants {'shared over SOC' if self.shared_tau else 'per point'})",
                  file=sys.stderr, flush=True)
        for j in range(nt):
            t_fit = time.perf_counter()
            groups = [responses[j]] if self.shared_tau else [[r] for r in responses[j]]
            fits = [self._fit_temperature(
                t_out, (pos_out, neg_out), [(r[1], r[2]) for r in group],
                [r[3] for r in group], edges, current, float(temps[j])) for group in groups]
            taus_of = [f[0] for f in fits for _ in range(len(fits[0][1]) if
                                                          self.shared_tau else 1)]
            coefs = [c for f in fits for c in f[1]]
            i0s = [x for f in fits for x in (f[2] if f[2] is not None else [None] * len(f[1]))]
            rmses = [e for f in fits for e in f[3]]
            for m, ((i, a_dis, a_chg, _), c, e) in enumerate(
                    zip(responses[j], coefs, rmses, strict=True)):
                r0[i, j], rk[:, i, j], tau[:, i, j] = c[0], c[1:], taus_of[m]
                if ct:
                    r_ct[i, j], i0[i, j] = self._r_ct(i0s[m], temps[j]), i0s[m]
                table.append({"soc": float(soc[i]), "temperature_K": float(temps[j]),
                              "amplitude_A": float(a_dis), "charge_amplitude_A": float(a_chg),
                              "rmse_V": e})
            if progress:
                worst = max(table[-len(responses[j]):], key=lambda r: r["rmse_V"])
                print(f"  {temps[j] - 273.15:g} degC ({j + 1}/{nt}): fitted in "
                      f"{time.perf_counter() - t_fit:.1f} s, RMSE max "
                      f"{worst['rmse_V'] * 1e3:.2f} mV at SOC {worst['soc']:g}",
                      file=sys.stderr, flush=True)
        # R_k may be ~0 where a mode is absent: keep tau finite and R >= 0 (ECM checks)
        r0 = np.maximum(r0, 1e-9)

        # tables on the OCV's SOC axis, held constant beyond the identified range
        def on_axis(a):
            return np.stack([np.interp(ocv_soc, soc, a[:, j]) for j in range(nt)], axis=1)

        pv = cell.parameter_values()
        c_th, ha = self._thermal(cell, engine)
        self.ecm_ = ECM(
            name=f"{cell.name} ECM ({self.n_rc} RC)",
            capacity_Ah=q_soc,
            soc=ocv_soc,
            temperature_K=temps,
            ocv_V=ocv_ref,
            docv_dT_V_per_K=slope,
            r0_Ohm=on_axis(r0),
            rc_R_Ohm=np.stack([on_axis(rk[k]) for k in range(self.n_rc)])
            if self.n_rc else np.zeros((0, ocv_soc.size, nt)),
            rc_tau_s=np.stack([on_axis(tau[k]) for k in range(self.n_rc)])
            if self.n_rc else np.zeros((0, ocv_soc.size, nt)),
            reference_temperature_K=t_ref,
            thermal_mass_J_per_K=c_th,
            heat_transfer_W_per_K=ha,
            ct_R_Ohm=on_axis(r_ct) if ct else None,
            ct_i0_A=on_axis(i0) if ct else None,
            hysteresis_V=half_gap,
            hysteresis_rate=hysteresis[0] if hysteresis else None,
            hysteresis_initial=hysteresis[1] if hysteresis else None,
            limits={
                "voltage_min_V": float(pv["Lower voltage cut-off [V]"]),
                "voltage_max_V": float(pv["Upper voltage cut-off [V]"]),
                "current_max_discharge_A": float(10 * cell.capacity_Ah),
                "current_max_charge_A": float(5 * cell.capacity_Ah),
                "temperature_min_K": float(cell.temperature_range_K[0]),
                "temperature_max_K": float(cell.temperature_range_K[1]),
            },
            validity={
                "soc_min": float(soc[0]), "soc_max": float(soc[-1]),
                "temperature_min_K": float(temps[0]), "temperature_max_K": float(temps[-1]),
                "current_max_A": float(np.max(np.abs(self._levels())) * self.amplitude
                                       * cell.capacity_Ah),
            },
            error={"identification_rmse_V_max": float(max(r["rmse_V"] for r in table)),
                   "identification_rmse_V_mean": float(np.mean([r["rmse_V"] for r in table]))},
            provenance={
                "cell": cell.name,
                "cell_sha256": cell.sha256,
                "cellmodels_version": __version__,
                "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "method": (f"{self.model} isothermal, multi-level sequence (seed {self.seed}, "
                           f"{self.sequence_s:g} s + {self.rest_s:g} s rest"
                           + ("" if np.array_equal(self._levels(), DEFAULT_LEVELS) else
                              ", levels " + "/".join(f"{x:g}" for x in self._levels()) + "C")
                           + ", amplitude "
                           f"{self.amplitude:g}, backoff {self.backoff:g} per direction"
                           f"{', centred on the grid SOC' if self.centre_soc else ''}"
                           f"{f', {margin[0]:g}/{margin[1]:g} V inside the lower/upper cut-offs' if margin.any() else ''}), "
                           "variable projection with time constants "
                           f"{'shared over SOC' if self.shared_tau else 'per grid point'}, "
                           f"{self.n_rc} RC, current dependence {self.current_dependence}"
                           + (f"; temperature grid {temps[0]:g}-{temps[-1]:g} K extends past "
                              f"the cell's validity {cell.temperature_range_K[0]:g}-"
                              f"{cell.temperature_range_K[1]:g} K (physics extrapolated)"
                              if temps[0] < cell.temperature_range_K[0]
                              or temps[-1] > cell.temperature_range_K[1] else "")),
            },
        )
        self.fit_table_ = table
        self.seconds_ = time.perf_counter() - t0
        return self

    @staticmethod
    def _thermal(cell: Cell, engine) -> tuple[float, float]:
        """Lumped thermal mass [J/K] and cooling conductance [W/K] of the physics model."""
        import pybamm

        pv = cell.parameter_values()
        model = pybamm.lithium_ion.SPM({"thermal": "lumped"})
        sim = pybamm.Simulation(model, parameter_values=pv)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            sol = sim.solve([0, 1.0], initial_soc=0.5)
        rho_c = float(sol["Volume-averaged effective heat capacity [J.K-1.m-3]"].entries[0])
        volume = float(sol["Cell thermal volume [m3]"].entries[0])
        ha = float(pv["Total heat transfer coefficient [W.m-2.K-1]"]) * float(
            pv["Cell cooling surface area [m2]"])
        return rho_c * volume, ha

    def _fitted(self) -> ECM:
        if not hasattr(self, "ecm_"):
            raise NotFittedError("This ECMIdentifier is not fitted yet. Call 'fit' with a cell "
                                 "before using it.")
        return self.ecm_

    def save(self, path) -> Path:
        """Write the identified ECM to ``path`` (:func:`~cellmodels.reduction.save_ecm`).

        Raises :class:`NotFittedError` before :meth:`fit`.
        """
        from .io import save_ecm

        return save_ecm(self._fitted(), path)


def reduce_cell(cell: Cell | str, n_rc: int = 2, progress: bool = False, **kwargs) -> ECM:
    """Identify and return the ECM of a cell (see :class:`ECMIdentifier`)."""
    return ECMIdentifier(n_rc=n_rc, **kwargs).fit(cell, progress=progress).ecm_
