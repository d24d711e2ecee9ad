"""Identify an ECM from a cell's physics model over a SOC x temperature grid.

For each grid point the physics model (isothermal at that temperature) is given a
discharge pulse followed by a rest, from equilibrium; the ECM's R0, R_k and tau_k are
fitted to the voltage response by variable projection: for fixed time constants the
voltage is linear in the resistances, which are found by non-negative least squares;
the time constants (log scale) are searched by a multi-start bounded least-squares on
top. OCV(SOC) and dOCV/dT(SOC) come from the physics model's rest voltage at each
temperature; the capacity is the charge between PyBaMM's 0 and 100 % SOC; the thermal
mass and heat-transfer coefficient are the physics model's lumped ones.

Estimator contract (scikit-learn): settings in the constructor, ``fit(cell)`` returns
``self``, learned values end in ``_`` (``ecm_``, ``fit_table_``).
"""

from __future__ import annotations

import datetime as _dt
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares, nnls

from ..errors import CutoffError, InputError, SolverError, check_range, range_message
from ..physics.cells import Cell, load_cell
from .ecm import ECM

__all__ = ["ECMIdentifier", "NotFittedError", "open_circuit_voltage", "reduce_cell"]


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


class NotFittedError(InputError):
    """The identifier was used before ``fit``."""


def identification_sequence(seed: int = 7, length_s: float = 300.0, rest_s: float = 120.0
                            ) -> tuple[np.ndarray, np.ndarray]:
    """A multi-level current sequence in C-rate units (zero-order hold), then a rest.

    Levels from -3C (charge) to 5C (discharge) with log-uniform holds of 0.3-30 s: rich
    in both amplitude and time scale, so a linear ECM is fitted across the range of a UPS
    duty (the nonlinear kinetics get their best linear fit, not a 2C tangent). Its mean is
    near 0.5C, so a point's SOC moves by about 4 %. Seeded, so it is reproducible.
    """
    rng = np.random.default_rng(seed)
    levels = np.array([-3.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.5, 5.0])
    t, times, values = 0.0, [], []
    last = None
    while t < length_s:
        level = rng.choice(levels[levels != last]) if last is not None else 2.0
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
    ) -> None:
        self.n_rc = n_rc
        self.soc = soc
        self.temperature_K = temperature_K
        self.sequence_s = sequence_s
        self.rest_s = rest_s
        self.seed = seed
        self.model = model
        self.ocv_points = ocv_points

    # ------------------------------------------------------------------ helpers
    def _check(self, cell: Cell) -> tuple[np.ndarray, np.ndarray]:
        for name in ("n_rc", "ocv_points"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise InputError(range_message(name, "of ECMIdentifier", "an integer", value))
        check_range(self.n_rc, "n_rc", "of ECMIdentifier", 0, 4)
        check_range(self.sequence_s, "sequence_s", "of ECMIdentifier", 0.0, 36000.0,
                    closed=(False, True))
        check_range(self.rest_s, "rest_s", "of ECMIdentifier", 0.0, 36000.0)
        check_range(self.ocv_points, "ocv_points", "of ECMIdentifier", 3, 10001)
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
        for temp in temps.tolist():
            cell.check_temperature(temp, "temperature_K")
        if temps.ndim != 1 or np.any(np.diff(temps) <= 0):
            # the ECM needs an increasing grid: refuse it here, not after every solve
            raise InputError("The 'temperature_K' grid of ECMIdentifier must increase. Got "
                             f"{temps.tolist()}.")
        return soc, temps

    def _fit_temperature(self, t: np.ndarray, currents: list[np.ndarray],
                         ys: list[np.ndarray], edges: np.ndarray):
        """Fit time constants shared by every SOC at one temperature, R per SOC.

        ``ys[i]`` is ``OCV(z(t)) - V(t)`` at SOC ``i`` under the current ``currents[i]`` (the
        sequence times that point's amplitude). For fixed time constants it is linear in
        (R0, R_1..R_n), found by non-negative least squares; the shared log time constants
        are searched on top. Sharing them keeps the tables smooth over SOC (no RC modes
        swapping between neighbours), which interpolation and the UPS kernel need.
        """
        n = self.n_rc
        # unit-amplitude step responses, scaled per point (each point's current is the
        # same shape times its own amplitude)
        shape = currents[0] / np.max(np.abs(currents[0]))
        jumps = np.diff(np.concatenate([[0.0], shape[np.searchsorted(t, edges)]]))
        scales = [float(np.max(np.abs(c))) for c in currents]

        def design(log_tau):
            cols = [shape] + [_step_responses(t, edges, jumps, np.exp(lt)) for lt in log_tau]
            return np.stack(cols, axis=1)

        def resid(log_tau):
            a = design(log_tau)
            return np.concatenate([(a @ nnls(a * k, y)[0]) * k - y
                                   for k, y in zip(scales, ys, strict=True)])

        lo = np.log(1e-3)
        hi = np.log(max(3.0 * float(t[-1]), 1.0))
        if n:
            best = None
            span = np.geomspace(1e-2, float(t[-1]) / 2, 7)
            for k0 in range(0, len(span) - n + 1, 2):
                x0 = np.log(np.geomspace(span[k0], span[min(k0 + 2 * n - 1, len(span) - 1)], n))
                res = least_squares(resid, x0, bounds=(lo, hi), xtol=1e-8, ftol=1e-8)
                if best is None or res.cost < best.cost:
                    best = res
            log_tau = np.sort(best.x)
        else:
            log_tau = np.array([])
        a = design(log_tau)
        coefs = [nnls(a * k, y)[0] for k, y in zip(scales, ys, strict=True)]
        rmse = [float(np.sqrt(np.mean(((a * k) @ c - y) ** 2)))
                for k, c, y in zip(scales, coefs, ys, strict=True)]
        return np.exp(log_tau), coefs, rmse

    # ------------------------------------------------------------------ fit
    def fit(self, cell: Cell | str, progress: bool = False) -> ECMIdentifier:
        from .. import __version__
        from ..dcr import PulseEngine

        cell = load_cell(cell) if isinstance(cell, str) else cell
        soc, temps = self._check(cell)
        t0 = time.perf_counter()
        seq_t, seq_c = identification_sequence(self.seed, self.sequence_s, self.rest_s)
        engine = PulseEngine(cell, self.model, thermal="isothermal", profile=(seq_t, seq_c))
        q_soc = cell.soc_capacity_Ah
        current = cell.capacity_Ah  # the sequence is in C-rate units

        # OCV(SOC, T) from the rest voltage of the physics model
        ocv_soc = np.linspace(0.0, 1.0, self.ocv_points)
        t_ref = 298.15 if temps[0] <= 298.15 <= temps[-1] else float(temps[len(temps) // 2])
        ocv_T = np.stack([open_circuit_voltage(cell, ocv_soc, temp) for temp in temps], axis=1)
        if temps.size > 1:
            slope = np.polyfit(temps - t_ref, ocv_T.T, 1)[0]
        else:
            slope = np.zeros_like(ocv_soc)
        ocv_ref = open_circuit_voltage(cell, ocv_soc, t_ref)

        # R0, R_k, tau_k at each grid point
        edges = seq_t[:-1][np.flatnonzero(np.diff(np.concatenate([[0.0], seq_c[:-1]])))]
        t_end = float(seq_t[-1])
        t_out = np.unique(np.concatenate(
            [np.arange(0.0, t_end, 0.5), [t_end], edges]
            + [edges + d for d in (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)]))
        t_out = t_out[t_out <= t_end]
        shape_out = seq_c[np.searchsorted(seq_t, t_out, side="right") - 1]
        shape_out[t_out >= seq_t[-2]] = 0.0
        # charge passed [C per A of amplitude] at each output time, exact for the ZOH shape
        passed = np.concatenate([[0.0], np.cumsum(seq_c[:-1] * np.diff(seq_t))])
        k = np.searchsorted(seq_t, t_out, side="right") - 1
        charge = passed[k] + seq_c[k] * (t_out - seq_t[k])
        ns, nt = soc.size, temps.size
        r0 = np.zeros((ns, nt))
        rk = np.zeros((self.n_rc, ns, nt))
        tau = np.ones((self.n_rc, ns, nt))
        table = []
        points = [(i, j) for j in range(nt) for i in range(ns)]
        if progress:
            from tqdm import tqdm

            points = tqdm(points, desc=f"reduce {cell.name}", unit="point")
        responses: dict[int, list] = {j: [] for j in range(nt)}
        for i, j in points:
            amp = current
            # at low SOC a long pulse would cross the cut-off: halve the current until it
            # fits, and record it (the fit is then of a smaller-signal response)
            for _ in range(6):
                try:
                    sol = engine.solve(soc[i], temps[j], amp, t_end, t_out)
                    break
                except CutoffError:
                    amp /= 2
            else:
                raise SolverError(f"Identification sequence at SOC {soc[i]}, {temps[j]} K "
                                  "reaches a cut-off even at 1/64 of the current.")
            t = sol["Time [s]"].entries
            keep = np.isin(t, t_out)  # drop the solver's restart points at the edges
            t, v = t[keep], sol["Voltage [V]"].entries[keep]
            if t.size != t_out.size:
                raise SolverError(f"Identification at SOC {soc[i]}, {temps[j]} K returned "
                                  f"{t.size} of {t_out.size} output times.")
            z = soc[i] - amp * charge / 3600.0 / q_soc
            ocv = np.interp(z, ocv_soc, ocv_ref) + (temps[j] - t_ref) * np.interp(
                z, ocv_soc, slope)
            responses[j].append((i, amp, amp * shape_out, ocv - v))
        for j in range(nt):
            taus, coefs, rmses = self._fit_temperature(
                t_out, [r[2] for r in responses[j]], [r[3] for r in responses[j]], edges)
            for (i, amp, _, _), c, e in zip(responses[j], coefs, rmses, strict=True):
                r0[i, j], rk[:, i, j], tau[:, i, j] = c[0], c[1:], taus
                table.append({"soc": float(soc[i]), "temperature_K": float(temps[j]),
                              "amplitude_A": float(amp), "rmse_V": e})
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
                "current_max_A": float(5 * cell.capacity_Ah),
            },
            error={"identification_rmse_V_max": float(max(r["rmse_V"] for r in table)),
                   "identification_rmse_V_mean": float(np.mean([r["rmse_V"] for r in table]))},
            provenance={
                "cell": cell.name,
                "cell_sha256": cell.sha256,
                "cellmodels_version": __version__,
                "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "method": (f"{self.model} isothermal, multi-level sequence (seed {self.seed}, "
                           f"{self.sequence_s:g} s + {self.rest_s:g} s rest), variable "
                           f"projection with time constants shared over SOC, {self.n_rc} RC"),
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
