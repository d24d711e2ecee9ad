"""Fit an equivalent-circuit model (ECM) directly to measured HPPC records.

What is fitted
--------------
One :class:`~cellmodels.reduction.ECM` (``n_rc`` RC pairs, default 2) to one or many
measured records (:class:`~cellmodels.measured.Dataset`, discharge positive) at one or
several temperatures, all at once, by :func:`scipy.optimize.least_squares` on the voltage
over the *whole* record (charge, rests, pulses, discharges):

* OCV(SOC) at the reference temperature on a fine SOC grid, parametrised by its value at
  the lowest grid point and positive increments (so it is increasing, as the ECM needs);
* with records at two or more temperatures, the entropic coefficient dU/dT(SOC) on the
  coarse knots (the ECM's OCV is linear in temperature: ``U(z) + (T - T_ref) dU/dT(z)``);
* R0(SOC, T), R_k(SOC, T) and tau_k(SOC, T) on coarse SOC knots for each temperature
  (log10-scaled); tables are linear between knots, and the fine OCV grid contains the knots,
  so the ECM's tables on the fine grid are exactly the fitted ones.

SOC frame. Each record's SOC is counted from its own current, ``z = 1 - (q - q_min) / C``
with ``q`` the charge passed and ``q_min`` its lowest value: SOC 1 is the most charged
state of the record (for the Nissan HPPC, the end of the CC-CV charge to 4.2 V). ``C`` is
``capacity_Ah`` (default: the largest charge swing of the records when a record spans at
least half the rating, i.e. the usable capacity between its full and empty states; else the
rating).

The model inside the fit. On the sample grid, with the current over each sample interval
from :meth:`Dataset.interval_current_A` (trapezoid within a step, the new step's current
across a step change) and the tables frozen at the start of the interval (as in
:func:`~cellmodels.reduction.simulate_ecm`), the RC voltages obey the exact zero-order-hold
update ``v_k = a_k v_{k-1} + (1 - a_k) R c_k``, ``a_k = exp(-h_k / tau)``, and the voltage
at sample k is ``U(z_k) - R0(z_k) i_k - sum v_k`` with ``i_k`` the sample's own current.
The temperature is held at each record's chamber temperature (HPPC identifies no thermal
parameters). RC pairs start relaxed.

Jacobian. Exact (analytic): OCV, dU/dT and R0 enter linearly; the RC sensitivities obey the
same linear recursion as the RC voltages, solved together with them (no finite differences).

Measured on the Nissan Leaf HPPC (validation case ``fit_ecm_hppc``): one record at a time,
with tau1 in [0.5, 60] s and tau2 in [60, 3600] s, the ECM reaches 1.9, 1.3 and 2.8 mV RMSE
at 10, 25 and 40 degC (2.3, 1.8 and 3.0 mV with the default bounds, split at 19 s, where
the fast pair sits on its upper bound at most knots); the three records at once
(OCV linear in temperature) only 6.3, 2.8 and 7.1 mV, because the records' rest voltages
are not linear in temperature at equal charge from full. The largest errors are on the
initial constant-current charge at low SOC, where the cell's charge voltage sits above
its discharge OCV (hysteresis, which this ECM does not have).

Check. The fitted ECM is then run by the reference simulator
:func:`~cellmodels.reduction.simulate_ecm` (1 s sub-steps, isothermal at the chamber
temperature) over every whole record, and *that* voltage is what the returned
:class:`~cellmodels.fitting.FitResult`'s ``experiments`` hold (RMSE, max error).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..measured.dataset import Dataset, check_dataset, check_magnitudes, check_sign_trend
from .result import ExperimentResidual, FitResult

__all__ = ["add_parser", "ecm_voltage_on_record", "fit_ecm_hppc"]

LN10 = math.log(10.0)
#: Bounds of the fitted quantities (physical units).
OCV_BOUNDS_V = (1.5, 5.0)
OCV_STEP_BOUNDS_V = (1e-5, 1.0)
DUDT_BOUNDS_V_PER_K = (-2e-3, 2e-3)
R_BOUNDS_OHM = (1e-6, 1.0)


@dataclass
class _Record:
    name: str
    source: str
    T: float
    t: np.ndarray  # (n,)
    i: np.ndarray  # (n,) sample current, discharge positive
    c: np.ndarray  # (n-1,) interval current
    h: np.ndarray  # (n-1,) interval length
    z: np.ndarray  # (n,) SOC
    v: np.ndarray  # (n,) measured voltage
    wf: np.ndarray | None = None  # (n, ns) weights on the fine grid
    wc: np.ndarray | None = None  # (n, nk) weights on the knots
    wr: np.ndarray | None = None  # (n, nr) weights of the resistance tables
    weight: float = 1.0


def _hat_weights(grid: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(len(x), len(grid)) linear-interpolation weights, clamped at the ends."""
    xc = np.clip(x, grid[0], grid[-1])
    j = np.clip(np.searchsorted(grid, xc) - 1, 0, grid.size - 2)
    w = (xc - grid[j]) / (grid[j + 1] - grid[j])
    out = np.zeros((x.size, grid.size))
    rows = np.arange(x.size)
    out[rows, j] = 1.0 - w
    out[rows, j + 1] += w
    return out


def _ltv(loga: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``x[0] = 0, x[k] = exp(loga[k-1]) x[k-1] + b[k-1]`` for all columns of b.

    By cumulative sums in blocks over which the total decay stays within e^-300, so that
    nothing overflows; exact up to round-off (the recursion is linear).
    """
    n1 = loga.size
    b = b.reshape(n1, -1)
    la = np.maximum(loga, -300.0)  # exp(-300) is 0 for every purpose here
    big_a = np.concatenate([[0.0], np.cumsum(la)])
    x = np.zeros((n1 + 1, b.shape[1]))
    neg = -big_a
    s = 0
    while s < n1:
        e = int(np.searchsorted(neg, neg[s] + 300.0, side="right")) - 1
        e = min(max(e, s + 1), n1)
        g = np.exp(big_a[s] - big_a[s + 1:e + 1])
        acc = np.cumsum(b[s:e] * g[:, None], axis=0)
        x[s + 1:e + 1] = np.exp(big_a[s + 1:e + 1] - big_a[s])[:, None] * (x[s] + acc)
        s = e
    return x


class _Problem:
    """Parameter layout, model and exact Jacobian of the ECM fit."""

    def __init__(self, records, soc, knot_idx, temps, t_ref, n_rc, tau_bounds, fit_dudt,
                 soc_dependent):
        self.recs = records
        self.soc = soc
        self.knot_idx = knot_idx
        self.knots = soc[knot_idx]
        #: SOC knots of R0 and the RC tables (None: one value per temperature)
        self.rknots = self.knots if soc_dependent else None
        nr = self.knots.size if soc_dependent else 1
        self.nr = nr
        self.temps = temps
        self.t_ref = t_ref
        self.n_rc = n_rc
        self.fit_dudt = fit_dudt
        ns, nk, nt = soc.size, self.knots.size, len(temps)
        names, scaling, scale, lo, hi = [], [], [], [], []

        def add(nm, sc, scl, a, b):
            names.append(nm)
            scaling.append(sc)
            scale.append(scl)
            lo.append(a)
            hi.append(b)

        self.i_ocv = len(names)
        add(f"ocv_V@soc={soc[0]:.4f}", "linear", 1.0, *OCV_BOUNDS_V)
        for z in soc[1:]:
            add(f"ocv_step_V@soc={z:.4f}", "linear", 0.01, *OCV_STEP_BOUNDS_V)
        self.i_dudt = len(names)
        if fit_dudt:
            for z in self.knots:
                add(f"dUdT_V_per_K@soc={z:.3f}", "linear", 1e-4, *DUDT_BOUNDS_V_PER_K)
        self.i_t = {}
        for T in temps:
            base = len(names)
            tags = ([f"{T:.2f}K,soc={z:.3f}" for z in self.knots] if soc_dependent
                    else [f"{T:.2f}K"])
            for tag in tags:
                add(f"r0_Ohm@{tag}", "log", 1.0, *R_BOUNDS_OHM)
            for j in range(n_rc):
                for tag in tags:
                    add(f"rc{j + 1}_R_Ohm@{tag}", "log", 1.0, *R_BOUNDS_OHM)
                for tag in tags:
                    add(f"rc{j + 1}_tau_s@{tag}", "log", 1.0, *tau_bounds[j])
            self.i_t[T] = base
        self.names, self.scaling, self.scale = names, scaling, scale
        self.lo_phys, self.hi_phys = np.array(lo), np.array(hi)
        self.n = len(names)
        self.nk, self.ns, self.nt = nk, ns, nt

    # --- coordinates ------------------------------------------------------------
    def to_z(self, p: np.ndarray) -> np.ndarray:
        out = np.empty_like(p)
        for k in range(self.n):
            out[k] = math.log10(p[k]) if self.scaling[k] == "log" else p[k] / self.scale[k]
        return out

    def to_p(self, zz: np.ndarray) -> np.ndarray:
        out = np.empty_like(zz)
        for k in range(self.n):
            out[k] = 10.0 ** zz[k] if self.scaling[k] == "log" else zz[k] * self.scale[k]
        return out

    def bounds_z(self):
        return self.to_z(self.lo_phys), self.to_z(self.hi_phys)

    def tables(self, p: np.ndarray) -> dict:
        nk, nr, n_rc = self.nk, self.nr, self.n_rc
        ocv = np.cumsum(p[self.i_ocv:self.i_ocv + self.ns])
        dudt = p[self.i_dudt:self.i_dudt + nk] if self.fit_dudt else np.zeros(nk)
        r0, rr, tau = {}, {}, {}
        for T, base in self.i_t.items():
            r0[T] = p[base:base + nr]
            rr[T] = [p[base + nr * (1 + 2 * j): base + nr * (2 + 2 * j)] for j in range(n_rc)]
            tau[T] = [p[base + nr * (2 + 2 * j): base + nr * (3 + 2 * j)] for j in range(n_rc)]
        return {"ocv": ocv, "dudt": dudt, "r0": r0, "R": rr, "tau": tau}

    # --- model -----------------------------------------------------------------
    def evaluate(self, zz: np.ndarray, jac: bool):
        p = self.to_p(zz)
        tb = self.tables(p)
        dpdz = np.array([p[k] * LN10 if self.scaling[k] == "log" else self.scale[k]
                         for k in range(self.n)])
        res, jacs = [], []
        for rec in self.recs:
            T = rec.T
            base = self.i_t[T]
            wf, wc, wr, nr = rec.wf, rec.wc, rec.wr, self.nr
            dT = T - self.t_ref
            model = wf @ tb["ocv"] + dT * (wc @ tb["dudt"]) - rec.i * (wr @ tb["r0"][T])
            J = np.zeros((rec.t.size, self.n)) if jac else None
            if jac:
                # OCV value and increments: d ocv_i / d p_m = 1 for i >= m.
                J[:, self.i_ocv:self.i_ocv + self.ns] = np.cumsum(wf[:, ::-1], axis=1)[:, ::-1]
                if self.fit_dudt:
                    J[:, self.i_dudt:self.i_dudt + self.nk] = dT * wc
                J[:, base:base + nr] = -rec.i[:, None] * wr
            wp = wr[:-1]
            for j in range(self.n_rc):
                r_k = wp @ tb["R"][T][j]
                tau_k = wp @ tb["tau"][T][j]
                loga = -rec.h / tau_k
                a = np.exp(loga)
                v = _ltv(loga, (1.0 - a) * r_k * rec.c)[:, 0]
                model -= v
                if jac:
                    iR = base + nr * (1 + 2 * j)
                    iT = base + nr * (2 + 2 * j)
                    b_r = ((1.0 - a) * rec.c)[:, None] * wp
                    dadtau = a * rec.h / tau_k**2
                    b_t = ((v[:-1] - r_k * rec.c) * dadtau)[:, None] * wp
                    s = _ltv(loga, np.hstack([b_r, b_t]))
                    J[:, iR:iR + nr] = -s[:, :nr]
                    J[:, iT:iT + nr] = -s[:, nr:]
            res.append(rec.weight * (model - rec.v))
            if jac:
                jacs.append(rec.weight * J * dpdz[None, :])
        r = np.concatenate(res)
        return (r, np.vstack(jacs)) if jac else (r, None)


def _default_tau_bounds(records, n_rc: int) -> list[tuple[float, float]]:
    dts = np.concatenate([r.h[np.abs(r.c) > 0] for r in records]) if records else np.array([1.0])
    lo = max(0.1, float(np.min(dts))) if dts.size else 0.1
    longest = 0.0
    for r in records:
        rest = np.abs(r.c) < 1e-3 * max(1e-9, float(np.max(np.abs(r.c))))
        # longest run of rest intervals
        run = 0.0
        for hk, is_rest in zip(r.h, rest, strict=True):
            run = run + hk if is_rest else 0.0
            longest = max(longest, run)
    hi = max(10.0 * lo, min(longest, 3600.0) if longest > 0 else 3600.0)
    edges = np.geomspace(lo, hi, n_rc + 1)
    return [(float(edges[j]), float(edges[j + 1])) for j in range(n_rc)]


def _r0_guess(ds: Dataset) -> float:
    di = np.diff(ds.current_A)
    dv = np.diff(ds.voltage_V)
    big = np.abs(di) > 0.25 * np.max(np.abs(di))
    vals = -dv[big] / di[big]
    vals = vals[vals > 0]
    return float(np.median(vals)) if vals.size else 1e-3


def ecm_voltage_on_record(ecm, ds: Dataset, *, temperature_K: float, initial_soc: float,
                          max_step_s: float = 1.0) -> np.ndarray:
    """The ECM's voltage at every sample of a measured record, by ``simulate_ecm``.

    The record's interval currents (:meth:`Dataset.interval_current_A`) drive
    :func:`~cellmodels.reduction.simulate_ecm` as a zero-order hold on the record's own time
    grid (isothermal at ``temperature_K``); the voltage at sample k is then the ECM's
    output equation (:meth:`ECM.terminal`) at the simulated state with the sample's own
    current flowing.
    """
    from ..reduction.simulate import simulate_ecm

    t = np.asarray(ds.time_s, dtype=float) - float(ds.time_s[0])
    c = ds.interval_current_A()
    u = np.concatenate([c, c[-1:]])
    # outside the ECM's validity simulate_ecm warns (ValidityWarning), as for any run
    run = simulate_ecm(ecm, t, current_A=u, initial_soc=initial_soc,
                       temperature_K=temperature_K, thermal=False, max_step_s=max_step_s)
    out = np.empty(t.size)
    for k in range(t.size):
        out[k] = ecm.terminal(float(run.soc[k]), temperature_K, run.rc_V[k],
                              float(ds.current_A[k]))[0]
    return out


def _prepare(datasets, temperatures_K, n_rc, capacity_Ah, soc_knots, ocv_points_per_knot,
             tau_bounds_s, reference_temperature_K, soc_dependent=None):
    """Records, grids, the problem and its start point (the checks of fit_ecm_hppc)."""
    datasets = list(datasets)
    if not datasets:
        raise InputError("The 'datasets' of fit_ecm_hppc must hold at least one record.")
    if isinstance(n_rc, bool) or not isinstance(n_rc, int) or n_rc < 1:
        raise InputError(f"The 'n_rc' of fit_ecm_hppc must be an integer >= 1. Got {n_rc!r} "
                         "instead.")
    if isinstance(ocv_points_per_knot, bool) or not isinstance(ocv_points_per_knot, int) \
            or ocv_points_per_knot < 1:
        raise InputError("The 'ocv_points_per_knot' of fit_ecm_hppc must be an integer >= 1. "
                         f"Got {ocv_points_per_knot!r} instead.")
    if temperatures_K is None:
        temperatures_K = [ds.meta.get("chamber_temperature_K") for ds in datasets]
    temperatures_K = list(temperatures_K)
    if len(temperatures_K) != len(datasets):
        raise InputError(f"The 'temperatures_K' must give one temperature per record "
                         f"({len(datasets)}). Got {len(temperatures_K)} instead.")
    for ds, T in zip(datasets, temperatures_K, strict=True):
        if T is None or not (np.isfinite(T) and 150.0 < float(T) < 500.0):
            raise InputError(f"{ds.source}: the record's temperature must be in (150, 500) K; "
                             f"give it in 'temperatures_K'. Got {T!r} instead.")

    # --- SOC frame -----------------------------------------------------------------
    given_capacity = capacity_Ah
    charge = []
    for ds in datasets:
        if not isinstance(ds, Dataset):
            raise InputError(f"The 'datasets' of fit_ecm_hppc must hold Dataset records. Got "
                             f"{type(ds).__name__} instead.")
        c = ds.interval_current_A()
        q = np.concatenate([[0.0], np.cumsum(c * np.diff(ds.time_s))]) / 3600.0
        charge.append(q)
    spans = [float(q.max() - q.min()) for q in charge]
    if capacity_Ah is None:
        rated = [ds.meta.get("nominal_capacity_Ah") for ds in datasets]
        rated = [r for r in rated if r]
        big = max(spans)
        capacity_Ah = big if (not rated or big >= 0.5 * max(rated)) else float(max(rated))
    if not (np.isfinite(capacity_Ah) and capacity_Ah > 0):
        raise InputError(f"The 'capacity_Ah' of fit_ecm_hppc must be in (0, inf). Got "
                         f"{capacity_Ah!r} instead.")
    if max(spans) > capacity_Ah * (1 + 1e-9):
        raise InputError(f"The 'capacity_Ah' ({capacity_Ah:g} Ah) is below the charge a record "
                         f"swings ({max(spans):.4g} Ah): the SOC would leave [0, 1]. (Or are "
                         "the record's units wrong: current in mA, time in ms?)")
    # --- units and sign of each record (file, column and sample named) ---------------
    for ds in datasets:
        rated = given_capacity if given_capacity is not None else ds.meta.get(
            "nominal_capacity_Ah")
        if rated is not None and np.isfinite(rated) and rated > 0:
            check_dataset(ds, float(rated))
        else:  # no rating: the voltage window and the sign, not the current's magnitude
            q = np.concatenate([[0.0], np.cumsum(ds.interval_current_A()
                                                 * np.diff(ds.time_s))]) / 3600.0
            span = max(float(q.max() - q.min()), 1e-9)
            check_magnitudes(ds.time_s, ds.current_A, ds.voltage_V, capacity_Ah=span,
                             source=ds.source, max_c_rate=np.inf)
            check_sign_trend(ds, capacity_Ah=span)

    records = []
    for ds, T, q in zip(datasets, temperatures_K, charge, strict=True):
        z = 1.0 - (q - q.min()) / capacity_Ah
        records.append(_Record(name=ds.name, source=ds.source, T=float(T),
                               t=np.asarray(ds.time_s, float), i=np.asarray(ds.current_A, float),
                               c=ds.interval_current_A(), h=np.diff(ds.time_s), z=z,
                               v=np.asarray(ds.voltage_V, float),
                               weight=1.0 / math.sqrt(len(ds.time_s))))
    z_min = min(float(r.z.min()) for r in records)

    # --- grids ---------------------------------------------------------------------
    if soc_knots is None:
        if 1.0 - z_min > 0.3:
            lo = math.floor(z_min * 10.0 + 1e-9) / 10.0
            knots = np.round(np.arange(lo, 1.0 + 1e-9, 0.1), 10)
        else:
            knots = np.array([math.floor(z_min * 1000.0) / 1000.0, 1.0])
    else:
        knots = np.asarray(soc_knots, dtype=float)
    if knots.ndim != 1 or knots.size < 2 or np.any(np.diff(knots) <= 0) or knots[0] < 0 \
            or knots[-1] > 1:
        raise InputError("The 'soc_knots' must be an increasing grid of at least 2 points in "
                         f"[0, 1]. Got {knots.tolist()} instead.")
    if knots[0] > z_min + 1e-9 or knots[-1] < 1.0:  # (the default grid rounds within 1e-9)
        # the tables would be held constant (clamped) over SOC the records reach
        raise InputError(f"The 'soc_knots' must span the SOC the records reach, "
                         f"[{z_min:.4g}, 1] (SOC 1 = the most charged state of each record). "
                         f"Got {knots.tolist()} instead.")
    if soc_dependent is None:
        soc_dependent = 1.0 - z_min > 0.3
    m = ocv_points_per_knot
    soc = np.concatenate([np.linspace(knots[j], knots[j + 1], m + 1)[:-1]
                          for j in range(knots.size - 1)] + [knots[-1:]])
    knot_idx = np.arange(0, soc.size, m)
    for r in records:
        r.wf = _hat_weights(soc, r.z)
        r.wc = _hat_weights(knots, r.z)
        r.wr = r.wc if soc_dependent else np.ones((r.z.size, 1))

    temps = sorted({r.T for r in records})
    if reference_temperature_K is None:
        reference_temperature_K = min(temps, key=lambda T: abs(T - 298.15))
    if tau_bounds_s is None:
        tau_bounds_s = _default_tau_bounds(records, n_rc)
    tau_bounds_s = [tuple(float(x) for x in b) for b in tau_bounds_s]
    if len(tau_bounds_s) != n_rc or any(not (0 < a < b < np.inf) for a, b in tau_bounds_s):
        raise InputError(f"The 'tau_bounds_s' must give (low, high) with 0 < low < high for "
                         f"each of the {n_rc} RC pairs. Got {tau_bounds_s!r} instead.")
    prob = _Problem(records, soc, knot_idx, temps, float(reference_temperature_K), n_rc,
                    tau_bounds_s, fit_dudt=len(temps) > 1, soc_dependent=soc_dependent)

    # --- initial guess ---------------------------------------------------------------
    p0 = np.empty(prob.n)
    r0g = {T: float(np.median([_r0_guess(ds) for ds, r in zip(datasets, records, strict=True)
                               if r.T == T])) for T in temps}
    for T, base in prob.i_t.items():
        r0 = min(max(r0g[T], 2 * R_BOUNDS_OHM[0]), 0.5 * R_BOUNDS_OHM[1])
        nr = prob.nr
        p0[base:base + nr] = 0.5 * r0
        for j in range(n_rc):
            b0 = base + nr * (1 + 2 * j)
            p0[b0:b0 + nr] = 0.25 * r0
            p0[b0 + nr:b0 + 2 * nr] = math.sqrt(tau_bounds_s[j][0] * tau_bounds_s[j][1])
    # OCV: linear least squares of V + R_total i on the fine grid (records at T_ref, or
    # all), with a little curvature penalty for grid points the data do not reach.
    use = [r for r in records if r.T == prob.t_ref] or records
    a_rows = np.vstack([r.wf for r in use])
    rhs = np.concatenate([r.v + r.i * r0g[r.T] for r in use])
    d2 = np.diff(np.eye(soc.size), 2, axis=0)
    lam = 1e-3 * math.sqrt(a_rows.shape[0])
    u0 = np.linalg.lstsq(np.vstack([a_rows, lam * d2]),
                         np.concatenate([rhs, np.zeros(d2.shape[0])]), rcond=None)[0]
    steps = np.maximum(np.diff(u0), 10 * OCV_STEP_BOUNDS_V[0])
    p0[prob.i_ocv] = min(max(u0[0], OCV_BOUNDS_V[0] + 0.01), OCV_BOUNDS_V[1] - 0.01)
    p0[prob.i_ocv + 1:prob.i_ocv + prob.ns] = np.minimum(steps, 0.5)
    if prob.fit_dudt:
        p0[prob.i_dudt:prob.i_dudt + prob.nk] = 0.0
    z0 = prob.to_z(p0)
    lo_z, hi_z = prob.bounds_z()
    z0 = np.clip(z0, lo_z + 1e-9 * (hi_z - lo_z), hi_z - 1e-9 * (hi_z - lo_z))

    return {"prob": prob, "records": records, "datasets": datasets, "z0": z0,
            "lo_z": lo_z, "hi_z": hi_z, "knots": knots, "soc": soc, "temps": temps,
            "capacity_Ah": float(capacity_Ah), "z_min": z_min,
            "tau_bounds_s": tau_bounds_s}


def fit_ecm_hppc(
    datasets: Sequence[Dataset],
    *,
    temperatures_K: Sequence[float] | None = None,
    n_rc: int = 2,
    capacity_Ah: float | None = None,
    soc_knots: Sequence[float] | None = None,
    ocv_points_per_knot: int = 4,
    tau_bounds_s: Sequence[tuple[float, float]] | None = None,
    soc_dependent: bool | None = None,
    reference_temperature_K: float | None = None,
    thermal_mass_J_per_K: float = 1.0,
    heat_transfer_W_per_K: float = 0.0,
    name: str = "fitted ECM",
    max_nfev: int = 200,
    check: bool = True,
    verbose: int = 0,
) -> FitResult:
    """Fit an ECM's tables to measured HPPC records (see the module docstring).

    Parameters
    ----------
    datasets : sequence of Dataset
        The records, discharge positive. Each needs a temperature: ``temperatures_K`` or
        its ``meta["chamber_temperature_K"]``.
    temperatures_K : sequence of float, optional
        Cell temperature of each record [K] (held constant).
    n_rc : int
        Number of RC pairs, >= 1.
    capacity_Ah : float, optional
        Capacity of the SOC frame [A.h] (default: see the module docstring).
    soc_knots : sequence of float, optional
        SOC knots of the R0/RC (and dU/dT) tables, increasing, ending at 1. Default:
        every 0.1 from below the lowest SOC reached when the records span more than 0.3 of
        SOC; otherwise the two ends of the range reached.
    ocv_points_per_knot : int
        Subdivision of each knot interval for the OCV grid (the ECM's SOC grid), >= 1.
    soc_dependent : bool, optional
        Whether R0 and the RC pairs vary with SOC (on the knots) or take one value per
        temperature. Default: vary when the records span more than 0.3 of SOC (a few
        pulses at one SOC cannot tell SOC from current dependence).
    tau_bounds_s : sequence of (low, high), optional
        Bounds of each RC pair's time constant [s], one per pair; default: from the shortest
        loaded sample interval to the longest rest (at most 1 h), split evenly in log.
    reference_temperature_K : float, optional
        Temperature of the fitted OCV table; default the record temperature nearest 298.15 K.
    thermal_mass_J_per_K, heat_transfer_W_per_K : float
        Copied into the ECM (not identified by HPPC).
    max_nfev : int
        Most model evaluations of the optimiser.
    check : bool
        Run the fitted ECM with :func:`simulate_ecm` over every record (the residuals of the
        result); if False, the residuals are the fit's own sample-grid model.

    Returns
    -------
    FitResult
        Fitted table values with 95 % intervals and correlations, flagged parameters, and
        per-record residuals; ``meta["ecm"]`` is the fitted
        :class:`~cellmodels.reduction.ECM`, ``meta["initial_soc"]`` each record's initial
        SOC, ``meta["fit_rmse_mV"]`` the fit's own RMSE per record.

    Raises
    ------
    InputError
        No records, a record without temperature, bad grids or bounds.
    DataError
        A record whose units look wrong from their magnitudes (millivolts; milliamperes,
        against ``capacity_Ah`` or the record's ``meta["nominal_capacity_Ah"]`` when one is
        known) or whose current's sign the voltage contradicts
        (:func:`~cellmodels.measured.check_dataset`), naming the file, column and sample.
    """
    from scipy.optimize import least_squares

    from ..reduction.ecm import ECM
    from ..reduction.simulate import ValidityWarning

    t_start = time.perf_counter()
    prep = _prepare(datasets, temperatures_K, n_rc, capacity_Ah, soc_knots,
                    ocv_points_per_knot, tau_bounds_s, reference_temperature_K, soc_dependent)
    prob, records, datasets = prep["prob"], prep["records"], prep["datasets"]
    z0, lo_z, hi_z, knots, soc = prep["z0"], prep["lo_z"], prep["hi_z"], prep["knots"], prep["soc"]
    temps, capacity_Ah, z_min = prep["temps"], prep["capacity_Ah"], prep["z_min"]
    tau_bounds_s = prep["tau_bounds_s"]
    counts = {"f": 0, "j": 0}

    def fun(zz):
        counts["f"] += 1
        return prob.evaluate(zz, jac=False)[0]

    def jac(zz):
        counts["j"] += 1
        return prob.evaluate(zz, jac=True)[1]

    sol = least_squares(fun, z0, jac=jac, bounds=(lo_z, hi_z), method="trf",
                        x_scale="jac", max_nfev=max_nfev, verbose=verbose,
                        ftol=1e-10, xtol=1e-10, gtol=1e-10)
    p = prob.to_p(sol.x)
    r_fit, j_fit = prob.evaluate(sol.x, jac=True)

    # --- the ECM ----------------------------------------------------------------------
    tb = prob.tables(p)
    wk = _hat_weights(knots, soc)  # knots -> fine grid (exact: the grid holds the knots)
    wkr = wk if prob.nr > 1 else np.ones((soc.size, 1))
    r0_tab = np.stack([wkr @ tb["r0"][T] for T in temps], axis=1)
    rc_r = np.stack([np.stack([wkr @ tb["R"][T][j] for T in temps], axis=1)
                     for j in range(n_rc)])
    rc_tau = np.stack([np.stack([wkr @ tb["tau"][T][j] for T in temps], axis=1)
                       for j in range(n_rc)])
    i_all = np.concatenate([r.i for r in records])
    v_all = np.concatenate([r.v for r in records])
    from .. import __version__

    ecm = ECM(
        name=name,
        capacity_Ah=float(capacity_Ah),
        soc=soc,
        temperature_K=np.array(temps),
        ocv_V=tb["ocv"],
        docv_dT_V_per_K=wk @ tb["dudt"],
        r0_Ohm=r0_tab,
        rc_R_Ohm=rc_r,
        rc_tau_s=rc_tau,
        reference_temperature_K=prob.t_ref,
        thermal_mass_J_per_K=thermal_mass_J_per_K,
        heat_transfer_W_per_K=heat_transfer_W_per_K,
        limits={"voltage_min_V": float(v_all.min()), "voltage_max_V": float(v_all.max()),
                "current_max_discharge_A": float(max(i_all.max(), 0.0)),
                "current_max_charge_A": float(max(-i_all.min(), 0.0))},
        validity={"soc_min": float(z_min), "soc_max": 1.0,
                  "temperature_min_K": float(temps[0]), "temperature_max_K": float(temps[-1]),
                  "current_max_A": float(np.max(np.abs(i_all)))},
        provenance={
            "method": "cellmodels.fitting.fit_ecm_hppc: least squares on measured HPPC",
            "sources": "; ".join(f"{ds.source} ({ds.meta.get('origin', '')}, sha256 "
                                 f"{ds.meta.get('sha256', 'n/a')})" for ds in datasets),
            "cellmodels_version": str(__version__),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "soc_frame": (f"SOC 1 = most charged state of each record; capacity "
                          f"{capacity_Ah:.4g} Ah"),
            "thermal": "not identified (HPPC at constant chamber temperature)",
        },
    )

    # --- residuals per record: the reference simulator over the whole record ------------
    experiments, fit_rmse, init_soc = [], {}, {}
    off = 0
    for ds, rec in zip(datasets, records, strict=True):
        n = rec.t.size
        e_fit = r_fit[off:off + n] / rec.weight
        off += n
        fit_rmse[rec.name] = 1e3 * float(np.sqrt(np.mean(e_fit**2)))
        init_soc[rec.name] = float(rec.z[0])
        if check:
            with warnings.catch_warnings():
                # identified over exactly this record: the validity guard would only flag
                # the clamped table edges at round-off
                warnings.simplefilter("ignore", ValidityWarning)
                vm = ecm_voltage_on_record(ecm, ds, temperature_K=rec.T,
                                           initial_soc=float(rec.z[0]))
        else:
            vm = e_fit + rec.v
        experiments.append(ExperimentResidual(
            name=rec.name, source=rec.source, weight=rec.weight, time_s=rec.t - rec.t[0],
            voltage_measured_V=rec.v, voltage_model_V=vm, current_A=rec.i,
            cutoff_handling="none: the ECM runs the whole record", role="fit"))
    ecm = ecm.replace(error={
        **{f"rmse_V[{e.name}]": e.rmse_V for e in experiments},
        **{f"max_V[{e.name}]": e.max_abs_V for e in experiments}})
    return FitResult.from_solution(
        names=prob.names, x=sol.x, x0=z0, scaling=prob.scaling, scale=prob.scale,
        bounds_z=(lo_z, hi_z), jacobian=j_fit, residuals=r_fit, experiments=experiments,
        n_evaluations=counts["f"], n_jacobians=counts["j"],
        gradient="exact (analytic Jacobian of the sample-grid ECM)",
        success=bool(sol.success) and sol.status > 0, status=int(sol.status),
        message=str(sol.message), wall_time_s=time.perf_counter() - t_start,
        meta={"ecm": ecm, "initial_soc": init_soc, "fit_rmse_mV": fit_rmse,
              "capacity_Ah": float(capacity_Ah), "soc_knots": knots.tolist(),
              "tau_bounds_s": tau_bounds_s, "temperatures_K": temps,
              "reference_temperature_K": prob.t_ref},
    )


def _cmd_fit_ecm(args) -> int:
    import json

    from .._atomic import write_text
    from ..measured import read_measured
    from ..reduction import save_ecm
    from ._cli import _check_out_folders

    _check_out_folders(args)  # before the fit, not after it
    temps = args.temperature_C
    if temps and len(temps) not in (1, len(args.data)):
        raise InputError(f"Give one --temperature-C for all DATA or one per DATA "
                         f"({len(args.data)}). Got {len(temps)} instead.")
    # checked here in degC and by the flag's name: fit_ecm_hppc names its own field in K
    for t in temps or ():
        if not -123.15 < t < 226.85:  # fit_ecm_hppc's (150, 500) K
            raise InputError(f"--temperature-C must be in (-123.15, 226.85) degC (the cell "
                             f"temperature of the records). Got {t:g} instead.")
    datasets, t_k = [], []
    for k, spec in enumerate(args.data):
        ds = read_measured(spec)
        datasets.append(ds)
        if temps:
            t_k.append(273.15 + temps[0 if len(temps) == 1 else k])
        else:
            t = ds.meta.get("chamber_temperature_K")
            if t is None:
                raise InputError(
                    f"{ds.source}: the record has no temperature in its file; give the cell "
                    "temperature with --temperature-C (degC; one for all DATA or one per "
                    "DATA).")
            t_k.append(t)
    kwargs = {}
    if args.knots:
        kwargs["soc_knots"] = args.knots
    res = fit_ecm_hppc(datasets, temperatures_K=t_k, n_rc=args.n_rc,
                       capacity_Ah=args.capacity_Ah, name=args.name or "fitted ECM",
                       max_nfev=args.max_nfev, **kwargs)
    print(res)
    if args.plot:
        res.plot(args.plot, title="ECM fitted to HPPC, run by simulate_ecm")
    if args.report:
        write_text(args.report, json.dumps(res.summary(), indent=1) + "\n")
    if not res.success:
        print("cellmodels: the fit did not converge; no ECM written.")
        return 1
    path = save_ecm(res.meta["ecm"], args.out)
    print(f"Wrote {path}")
    return 0


def add_parser(sub):
    """Register ``cellmodels fit-ecm DATA... -o cell.ecm.h5`` on argparse subparsers."""
    p = sub.add_parser(
        "fit-ecm", help="fit an ECM's tables directly to measured HPPC; write the ECM",
        description="Fit OCV, R0 and RC tables (over SOC x temperature) to measured records "
                    "(registry names or files of a known format) by least squares with an "
                    "exact Jacobian; the fitted ECM is checked by simulate_ecm over every "
                    "whole record.")
    p.add_argument("data", nargs="+", help="measured records (registry names or paths)")
    p.add_argument("-o", "--out", required=True,
                   help="ECM file to write (.ecm.h5); its folder must exist")
    p.add_argument("--temperature-C", type=float, nargs="+", default=None,
                   help="cell temperature of each record [degC] (default: from the file)")
    p.add_argument("--n-rc", type=int, default=2, help="number of RC pairs (default 2)")
    p.add_argument("--capacity-Ah", type=float, default=None,
                   help="capacity of the SOC frame [A.h] (default: from the records)")
    p.add_argument("--knots", type=float, nargs="+", default=None,
                   help="SOC knots of the resistance tables (default: every 0.1)")
    p.add_argument("--name", default=None, help="name of the ECM")
    p.add_argument("--max-nfev", type=int, default=200, help="most model evaluations")
    p.add_argument("--plot", help="PNG of model against data (its folder must exist)")
    p.add_argument("--report", help="JSON summary of the fit")
    p.set_defaults(func=_cmd_fit_ecm)
    return p
