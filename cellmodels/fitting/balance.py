"""The electrode balance from an open-circuit voltage curve, in a second, without a DFN.

A cell engineer's first fit: line the set's two electrode OCPs up with the cell's measured
OCV (a relaxed OCV table, GITT rest points, or a slow C/10-C/20 "pseudo-OCV" discharge).
Three values set the balance, the same three that :func:`~cellmodels.fitting.fit_physics`
can fit inside a DFN (:mod:`cellmodels.fitting.physics`, "Electrode balance"):

* ``Negative electrode/Surface area per unit volume [m-1] (factor)`` and its positive
  twin: each electrode's active-material fraction relative to the set, i.e. its capacity
  ``Q_n = f_n Q_n0`` (``Q_p = f_p Q_p0``);
* ``Negative electrode/Maximum stoichiometry``: the negative stoichiometry ``x100`` at
  100 % SOC; the positive one ``y100`` is where the OCV meets the upper cut-off against
  it at the reference temperature, so the pair sets the cyclable lithium.

The model of a curve at charge ``q`` passed (discharge positive) from its first point is::

    V(q) = U_p(y100 + (q0 + q) / Q_p, T) - U_n(x100 - (q0 + q) / Q_n, T) - R I

with the set's own OCP functions (PyBaMM's, entropic term included, tabulated once per
temperature on a 20001-point stoichiometry grid: linear interpolation of a BPX table's
linear interpolant, or within ~1e-8 V of an analytic OCP), ``q0`` the charge already taken
from the 100 % SOC state at the curve's first point and ``R`` a series resistance. Both are
*nuisance* values fitted per curve: ``q0`` always (start from the first voltage), ``R``
only for a curve with current (a pseudo-OCV; its polarisation at a slow rate is close to a
constant ``R I``; bounded by 0.5 V over the curve's largest current), and with
``fit_offset=True`` a constant voltage offset for a curve without current (a table on one
branch of a hysteretic OCV: on LFP's flat OCV a 3 mV branch offset moves the fitted
positive factor by 25 %; a set with OCP hysteresis fitted without it warns). They are reported in the result (names
``start charge [A.h] (<curve>)`` and ``series resistance [Ohm] (<curve>)``, with intervals
and correlations) but are not part of the cell, so :func:`~cellmodels.fitting.save_fitted`
leaves them out (``result.meta["nuisance"]``) and writes the three balance values with the
set's four stoichiometry limits rewritten for them.

The Jacobian is analytic (the OCP tables' slopes; ``dy100/dx100 = U_n'(x100) /
U_p'(y100)`` at the reference temperature), and the uncertainty is the one of every
:class:`~cellmodels.fitting.FitResult`. A trial point whose stoichiometries leave [0, 1]
extends the OCPs linearly beyond their ends so the optimiser can step back; a solution
that still needs them beyond is returned with ``success=False`` and says which curve,
electrode and stoichiometry. A balance value within 0.1 % of its bound range from a bound,
or whose 95 % interval reaches past it, is listed in ``at_bound`` and named in the message:
the bound set it, not the data (on the WMG LG M50 table ``x100`` ends at 0.99956 of its
physical limit 1, using the last 4e-4 of the graphite table to reach the table's top
point; with ``x100 <= 0.95`` the fit is 9.8 mV instead of 8.7 and the negative electrode's
LAM 3.4 % instead of 10.6 %). ``result.meta["degradation_modes"]`` gives what lifetime
analysts call the degradation modes relative to the set: loss of active material of each
electrode (``1 - f``) and loss of lithium inventory (``1 - n_Li / n_Li0``, with ``n_Li =
x100 Q_n + y100 Q_p``), and the capacity between the cut-offs before and after.

A pseudo-OCV's last few per cent (the diffusion-limited knee) are not an OCV: window them
out (``OCVCurve.from_dataset(..., charge_window_Ah=...)``) or accept the bias. A set with
OCP hysteresis is fitted on its equilibrium OCP (the mean of the branches), as a mean OCV
table is measured.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, ParameterError, check_range
from ..measured import Dataset
from ..physics.cells import Cell, has_hysteresis, load_cell
from .physics import FACTOR_SUFFIX
from .result import ExperimentResidual, FitResult

__all__ = ["BALANCE_PARAMETERS", "OCVCurve", "fit_balance"]

#: The three balance values (physics.FITTABLE keys) and their default bounds.
BALANCE_PARAMETERS: dict[str, tuple[float, float]] = {
    "Negative electrode/Surface area per unit volume [m-1]" + FACTOR_SUFFIX: (0.5, 1.5),
    "Positive electrode/Surface area per unit volume [m-1]" + FACTOR_SUFFIX: (0.5, 1.5),
    "Negative electrode/Maximum stoichiometry": (0.3, 1.0),
}
_KEYS = tuple(BALANCE_PARAMETERS)
#: Points of the stoichiometry grid the OCPs are tabulated on.
_GRID = 20001
#: Largest polarisation a pseudo-OCV curve may carry [V]: its series resistance is bounded
#: by this over its largest current (0 to 1 Ohm for a 5 Ah cell at 0.1C, to kilo-ohms for
#: a coin cell at C/20), so the bound scales with the cell and the global search stays
#: where a pseudo-OCV can be.
_MAX_POLARISATION_V = 0.5
#: Bounds of a curve's voltage offset [V] (``fit_offset``): a hysteresis branch or a
#: probe offset is millivolts to tens of millivolts.
_OFFSET_BOUNDS = (-0.2, 0.2)
#: A fitted balance value whose 95 % interval reaches past its bound, or that lies within
#: this fraction of the bound range from it, is reported at its bound: the piecewise-linear
#: OCP tables let a value end a hair inside a bound (x100 = 0.99956 of 1 on the WMG table)
#: where the generic 1e-6 test of FitResult does not see it.
_NEAR_BOUND = 1e-3


@dataclass(frozen=True)
class OCVCurve:
    """An open-circuit (or slow pseudo-OCV) curve: voltage against charge passed.

    Parameters
    ----------
    name, source : str
        What it is and where it came from (file, registry name).
    charge_Ah : (n,) array
        Charge passed [A.h], discharge positive, from any origin (the fitted start charge
        ``q0`` places it: module docstring).
    voltage_V : (n,) array
    current_A : (n,) array
        Discharge positive; zeros for relaxed OCV points.
    temperature_K : float
        The cell temperature the curve was measured at.
    weight : float
        Multiplies the curve's residuals (>= 0).
    """

    name: str
    source: str
    charge_Ah: np.ndarray = field(repr=False)
    voltage_V: np.ndarray = field(repr=False)
    current_A: np.ndarray = field(repr=False)
    temperature_K: float
    weight: float = 1.0

    def __post_init__(self) -> None:
        where = f"of OCVCurve {self.name!r} ({self.source})"
        arrays = {}
        for key in ("charge_Ah", "voltage_V", "current_A"):
            a = np.asarray(getattr(self, key), dtype=float).ravel()
            bad = np.flatnonzero(~np.isfinite(a))
            if bad.size:
                raise InputError(f"Column {key!r} {where} has a non-finite value at sample "
                                 f"{int(bad[0])}: {a[bad[0]]!r}.")
            arrays[key] = a
            object.__setattr__(self, key, a)
        n = arrays["voltage_V"].size
        if n < 3 or arrays["charge_Ah"].size != n or arrays["current_A"].size != n:
            raise InputError(f"The columns {where} must have one equal length >= 3. Got "
                             f"{arrays['charge_Ah'].size}, {n}, {arrays['current_A'].size}.")
        lo, hi = float(arrays["voltage_V"].min()), float(arrays["voltage_V"].max())
        if lo < 0.5 or hi > 6.0:
            raise InputError(f"Column 'voltage_V' {where} must hold cell voltages in V, in "
                             f"[0.5, 6]; it spans [{lo:g}, {hi:g}] (mV given as V?).")
        check_range(self.temperature_K, "temperature_K", where, 173.15, 473.15)
        check_range(self.weight, "weight", where, 0.0, math.inf)
        # the charge axis must move with the current (discharge positive): a flipped sign
        # would fit a mirrored curve without any error
        dq = np.diff(arrays["charge_Ah"])
        i_mid = 0.5 * (arrays["current_A"][1:] + arrays["current_A"][:-1])
        both = (np.abs(dq) > 0) & (np.abs(i_mid) > 0)
        if both.any() and np.mean(np.sign(dq[both]) == np.sign(i_mid[both])) < 0.5:
            k = int(np.flatnonzero(both & (np.sign(dq) != np.sign(i_mid)))[0])
            raise InputError(f"Columns 'charge_Ah' and 'current_A' {where} disagree in sign "
                             f"(discharge current is positive and increases the charge passed): "
                             f"between samples {k} and {k + 1} the charge changes by "
                             f"{dq[k]:+.4g} A.h at {i_mid[k]:+.4g} A.")

    @classmethod
    def from_dataset(cls, ds: Dataset, *, weight: float = 1.0,
                     charge_window_Ah: tuple[float, float] | None = None,
                     max_points: int = 1000,
                     temperature_K: float | None = None) -> OCVCurve:
        """A slow measured record as a pseudo-OCV curve (coulomb-counted charge).

        ``charge_window_Ah`` keeps the samples whose charge passed lies in it (the charge
        still counts from the record's first sample); ``max_points`` thins the record evenly
        in charge; ``temperature_K`` defaults to the mean measured cell temperature, and a
        record without a temperature column needs it.
        """
        if not isinstance(ds, Dataset):
            raise InputError("OCVCurve.from_dataset needs a cellmodels.measured.Dataset. Got "
                             f"{type(ds).__name__} instead.")
        t, i = np.asarray(ds.time_s, float), np.asarray(ds.current_A, float)
        q = np.concatenate([[0.0], np.cumsum(0.5 * (i[1:] + i[:-1]) * np.diff(t))]) / 3600.0
        if temperature_K is None:
            if ds.temperature_K is None:
                raise InputError(f"Record {ds.name!r} ({ds.source}) has no temperature column: "
                                 "give OCVCurve.from_dataset a 'temperature_K'.")
            temperature_K = float(np.mean(ds.temperature_K))
        keep = np.ones(q.size, bool)
        if charge_window_Ah is not None:
            a, b = (float(v) for v in charge_window_Ah)
            if not a < b:
                raise InputError(f"The 'charge_window_Ah' for {ds.name!r} must be (low, high) "
                                 f"with low < high. Got {charge_window_Ah!r} instead.")
            keep = (q >= a) & (q <= b)
            if keep.sum() < 3:
                raise InputError(f"The 'charge_window_Ah' {charge_window_Ah!r} keeps "
                                 f"{int(keep.sum())} samples of {ds.name!r}, whose charge "
                                 f"spans [{q.min():.4g}, {q.max():.4g}] A.h; it needs >= 3.")
        check_range(max_points, "max_points", "of OCVCurve.from_dataset", 3, 1e7)
        idx = np.flatnonzero(keep)
        if idx.size > max_points:  # evenly in charge: slow records sample time, not charge
            targets = np.linspace(q[idx].min(), q[idx].max(), int(max_points))
            order = idx[np.argsort(q[idx], kind="stable")]
            pos = np.clip(np.searchsorted(q[order], targets), 0, order.size - 1)
            idx = np.unique(order[pos])
        return cls(name=ds.name, source=ds.source, charge_Ah=q[idx],
                   voltage_V=np.asarray(ds.voltage_V, float)[idx], current_A=i[idx],
                   temperature_K=float(temperature_K), weight=weight)

    @classmethod
    def from_table(cls, name: str, source: str, soc, voltage_V, capacity_Ah: float,
                   temperature_K: float, weight: float = 1.0) -> OCVCurve:
        """A relaxed OCV table against SOC (fraction) on the basis ``capacity_Ah``, ordered
        from its highest SOC down; the charge counts from there."""
        soc = np.asarray(soc, dtype=float).ravel()
        volts = np.asarray(voltage_V, dtype=float).ravel()
        check_range(capacity_Ah, "capacity_Ah", f"of OCV table {name!r}", 1e-6, 1e6)
        bad = np.flatnonzero(~np.isfinite(soc))
        if soc.size < 3 or bad.size or soc.size != volts.size:
            raise InputError(f"The 'soc' of OCV table {name!r} must hold >= 3 finite values, one "
                             f"per voltage ({volts.size}). Got {soc.size}"
                             + (f", non-finite at {int(bad[0])}" if bad.size else "") + ".")
        if soc.max() > 1.0 + 1e-9 or soc.min() < -1e-9:
            raise InputError(f"The 'soc' of OCV table {name!r} must be fractions in [0, 1]; "
                             f"it spans [{soc.min():g}, {soc.max():g}] (percent?).")
        order = np.argsort(-soc, kind="stable")  # from the most charged point down
        return cls(name=name, source=source, charge_Ah=(soc.max() - soc[order]) * capacity_Ah,
                   voltage_V=volts[order], current_A=np.zeros_like(soc),
                   temperature_K=temperature_K, weight=weight)

    @property
    def has_current(self) -> bool:
        return bool(np.any(np.abs(self.current_A) > 0.0))


def _tabulate(pv, param, side: str, temperature_K: float) -> np.ndarray:
    """The electrode's OCP [V] on the stoichiometry grid at ``temperature_K``."""
    import pybamm

    grid = pybamm.Vector(np.linspace(0.0, 1.0, _GRID))
    electrode = param.n.prim if side == "negative" else param.p.prim
    u = pv.evaluate(electrode.U(grid, pybamm.Scalar(temperature_K)))
    return np.broadcast_to(np.asarray(u, float).ravel(), (_GRID,)).copy()


def _interp(table: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value and slope of a grid table at ``s``, extended linearly beyond [0, 1]."""
    h = 1.0 / (_GRID - 1)
    k = np.clip(np.floor(s / h).astype(int), 0, _GRID - 2)
    slope = (table[k + 1] - table[k]) / h
    return table[k] + slope * (s - k * h), slope


class _NoCell(Exception):
    """A trial balance with no 100 % SOC state (no positive stoichiometry at the cut-off)."""


@dataclass
class _Curve:
    curve: OCVCurve
    u_n: np.ndarray
    u_p: np.ndarray
    i_q0: int
    i_r: int | None
    i_v: int | None


def fit_balance(cell: Cell | str | Path, curves: Sequence[OCVCurve | Dataset], *,
                bounds: dict[str, tuple[float, float]] | None = None,
                initial: dict[str, float] | None = None,
                fit: Sequence[str] = _KEYS, fit_offset: bool = False,
                global_search: bool = True, seed: int = 0, max_nfev: int = 200) -> FitResult:
    """Fit the electrode balance of ``cell`` to measured OCV curves (module docstring).

    Parameters
    ----------
    cell : Cell, or a shipped set's name or a set file's path
    curves : sequence of OCVCurve or Dataset
        A Dataset is read with :meth:`OCVCurve.from_dataset` (its defaults).
    bounds : dict, optional
        Bounds per balance value, overriding :data:`BALANCE_PARAMETERS`.
    initial : dict, optional
        Start values per balance value (default the set's: factors 1, its ``x100``); for a
        value not in ``fit``, the value it is held at.
    fit : sequence of str
        Which balance values to fit (default all three; the others keep the set's). Empty:
        only the nuisance values, i.e. how well the set's own balance fits the curves.
    fit_offset : bool
        Also fit a constant voltage offset for each curve without current (nuisance): for a
        table measured on one branch of a hysteretic OCV (LFP), or with a probe offset.
        Without it, a set with OCP hysteresis fitted to such a table warns: on a flat OCV a
        branch offset of a few mV moves the fitted balance by tens of per cent.
    global_search : bool
        Search the bounds globally first (seeded differential evolution; the cost is
        multimodal), then fit locally from its best point and from the initial values
        and keep the better (both in ``result.history``). False: the local fit only.
    seed : int
        Seed of the global search (the result is reproducible).
    max_nfev : int
        Most residual evaluations of each local fit.

    Returns
    -------
    FitResult
        ``names``: the fitted balance values, then the nuisance values (``meta["nuisance"]``);
        ``meta["degradation_modes"]``; residuals per curve. ``success`` is False, with the
        reason, if the optimiser did not converge or the solution needs a stoichiometry
        outside [0, 1].
    """
    import pybamm
    from scipy.optimize import brentq, least_squares

    t_start = time.perf_counter()
    cell = load_cell(cell) if isinstance(cell, str | Path) else cell
    if isinstance(curves, OCVCurve | Dataset) or not len(curves):
        raise InputError("fit_balance needs a sequence of one or more OCVCurve or Dataset "
                         f"records. Got {curves!r} instead.")
    curves = [c if isinstance(c, OCVCurve) else OCVCurve.from_dataset(c) for c in curves]
    fit = tuple(fit)
    unknown = [k for k in (*fit, *(bounds or {}), *(initial or {}))
               if k not in BALANCE_PARAMETERS]
    if unknown or len(set(fit)) != len(fit):
        raise InputError(f"fit_balance fits some of {list(_KEYS)}, each once. Got "
                         f"{unknown or list(fit)!r}.")
    seen = [c.name for c in curves]
    if len(set(seen)) != len(seen):
        raise InputError(f"The curves given to fit_balance need distinct names (their fitted "
                         f"start charges are named by them). Got {seen!r}.")
    check_range(max_nfev, "max_nfev", "of fit_balance", 1, 1e6)
    if not any(c.weight > 0 for c in curves):
        raise InputError("Every curve given to fit_balance has weight 0: nothing to fit.")

    pv = cell.parameter_values()
    names_in_set = list(pv.keys())
    if any(k.startswith(("Primary:", "Secondary:")) for k in names_in_set):
        raise ParameterError(f"Cell {cell.name} has composite electrodes (several particle "
                             "phases); fit_balance handles one phase per electrode.")
    param = pybamm.LithiumIonParameters()
    q_n0 = float(pv.evaluate(param.n.Q_init))
    q_p0 = float(pv.evaluate(param.p.Q_init))
    x100_0 = float(pv["Negative electrode maximum stoichiometry"])
    t_ref = float(pv["Reference temperature [K]"])
    v_max = float(pv["Upper voltage cut-off [V]"])
    un_ref, up_ref = (_tabulate(pv, param, s, t_ref) for s in ("negative", "positive"))

    grid = np.linspace(0.0, 1.0, _GRID)
    up_falls = bool(np.all(np.diff(up_ref) < 0.0))

    def y100_of(x100: float) -> float:
        """The positive stoichiometry at the upper cut-off against ``x100`` (on the
        tables; :func:`save_fitted` solves the same with PyBaMM's functions)."""
        target = v_max + _interp(un_ref, np.array([x100]))[0][0]
        if not up_ref[-1] <= target <= up_ref[0]:
            raise _NoCell(f"no positive stoichiometry reaches {v_max} V against the negative "
                          f"electrode at x100 = {x100!r}")
        if up_falls:  # the usual case: invert the table (exact for its linear pieces)
            return float(np.interp(target, up_ref[::-1], grid[::-1]))
        return float(brentq(lambda y: _interp(up_ref, np.array([y]))[0][0] - target,
                            0.0, 1.0, xtol=1e-13))

    base = {_KEYS[0]: 1.0, _KEYS[1]: 1.0, _KEYS[2]: x100_0}
    # what a balance value may be at all: a positive factor, a stoichiometry in (0, 1]
    allowed = {_KEYS[0]: (0.0, math.inf), _KEYS[1]: (0.0, math.inf), _KEYS[2]: (0.0, 1.0)}
    for k, v in (initial or {}).items():
        check_range(v, f"initial[{k!r}]", "of fit_balance", *allowed[k], closed=(False, True))
    for k, (b_lo, b_hi) in (bounds or {}).items():
        check_range(b_lo, f"bounds[{k!r}][0]", "of fit_balance", *allowed[k], closed=(False, True))
        check_range(b_hi, f"bounds[{k!r}][1]", "of fit_balance", *allowed[k], closed=(False, True))
    base.update({k: float(v) for k, v in (initial or {}).items() if k not in fit})
    names, x0, lo, hi = [], [], [], []
    for k in fit:
        b = (bounds or {}).get(k, BALANCE_PARAMETERS[k])
        start = float((initial or {}).get(k, base[k]))
        if not (b[0] < start < b[1]):
            raise InputError(f"The bounds {b!r} of {k!r} exclude its initial value {start!r}.")
        names.append(k)
        x0.append(start)
        lo.append(b[0])
        hi.append(b[1])
    prepared = []
    for c in curves:
        u_n = un_ref if c.temperature_K == t_ref else _tabulate(pv, param, "negative",
                                                                c.temperature_K)
        u_p = up_ref if c.temperature_K == t_ref else _tabulate(pv, param, "positive",
                                                                c.temperature_K)
        i_q0, i_r, i_v = len(names), None, None
        names.append(f"start charge [A.h] ({c.name})")
        x0.append(0.0)  # set per start (start_vector)
        lo.append(-(q_n0 + q_p0))
        hi.append(q_n0 + q_p0)
        if c.has_current:
            i_r = len(names)
            names.append(f"series resistance [Ohm] ({c.name})")
            x0.append(0.0)
            lo.append(0.0)
            hi.append(_MAX_POLARISATION_V / float(np.abs(c.current_A).max()))
        elif fit_offset:
            i_v = len(names)
            names.append(f"voltage offset [V] ({c.name})")
            x0.append(0.0)
            lo.append(_OFFSET_BOUNDS[0])
            hi.append(_OFFSET_BOUNDS[1])
        prepared.append(_Curve(c, u_n, u_p, i_q0, i_r, i_v))
    if has_hysteresis(cell.user_defined) and not fit_offset and any(
            not pc.curve.has_current for pc in prepared):
        warnings.warn(
            f"Cell {cell.name} has an OCP hysteresis: a relaxed OCV table taken on one branch "
            "sits off the set's mean OCP, and on a flat OCV that offset moves the fitted "
            "balance by tens of per cent. Fit a mean (charge/discharge) OCV, or pass "
            "fit_offset=True.", UserWarning, stacklevel=2)
    scale = np.maximum(np.maximum(np.abs(x0), np.abs(lo)), np.abs(hi))
    scale[scale == 0.0] = 1.0
    n_fit = len(fit)

    def unpack(p):
        v = dict(base)
        v.update(zip(fit, p[:n_fit], strict=True))
        return v

    cache: dict = {}

    def evaluate(z, jacobian: bool = True):
        key = (z.tobytes(), jacobian)
        if key in cache:
            return cache[key]
        p = z * scale
        v = unpack(p)
        fn, fp, x100 = v[_KEYS[0]], v[_KEYS[1]], v[_KEYS[2]]
        qn, qp = q_n0 * fn, q_p0 * fp
        y100 = y100_of(x100)
        dun_ref = _interp(un_ref, np.array([x100]))[1][0]
        dup_ref = _interp(up_ref, np.array([y100]))[1][0]
        dy100 = dun_ref / dup_ref
        rows, jac, outs = [], [], []
        for pc in prepared:
            c = pc.curve
            q = p[pc.i_q0] + c.charge_Ah
            x, y = x100 - q / qn, y100 + q / qp
            un, dun = _interp(pc.u_n, x)
            up, dup = _interp(pc.u_p, y)
            r_s = p[pc.i_r] if pc.i_r is not None else 0.0
            offset = p[pc.i_v] if pc.i_v is not None else 0.0
            model = up - un - r_s * c.current_A + offset
            outs.append((model, x, y))
            rows.append(c.weight * (model - c.voltage_V))
            if not jacobian:
                continue
            j = np.zeros((c.voltage_V.size, len(names)))
            d = {_KEYS[0]: -dun * q * q_n0 / qn**2,       # dV/df_n = -U_n' dx/df_n
                 _KEYS[1]: -dup * q * q_p0 / qp**2,       # dV/df_p = U_p' dy/df_p
                 _KEYS[2]: dup * dy100 - dun}
            for k, nm in enumerate(fit):
                j[:, k] = d[nm]
            j[:, pc.i_q0] = dup / qp + dun / qn
            if pc.i_r is not None:
                j[:, pc.i_r] = -c.current_A
            if pc.i_v is not None:
                j[:, pc.i_v] = 1.0
            jac.append(c.weight * j * scale)  # d r / d z = d r / d p * scale
        out = (np.concatenate(rows), np.vstack(jac) if jacobian else None, outs,
               (fn, fp, x100, y100, qn, qp))
        cache.clear()
        cache[key] = out
        return out

    def start_vector(balance: np.ndarray) -> np.ndarray:
        """A full start (nuisance values included) from start values of the balance."""
        v = {**base, **dict(zip(fit, balance, strict=True))}
        x100 = v[_KEYS[2]]
        y100 = y100_of(x100)
        p = np.asarray(x0, dtype=float).copy()
        p[:n_fit] = balance
        for pc in prepared:
            p[pc.i_q0] = _start_charge(pc.curve, pc.u_n, pc.u_p, x100, y100,
                                       q_n0 * v[_KEYS[0]], q_p0 * v[_KEYS[1]])
        return np.clip(p / scale, zlo, zhi)

    zlo, zhi = np.asarray(lo) / scale, np.asarray(hi) / scale
    # The tables are piecewise linear, so the cost has kinks, and the negative factor and
    # x100 trade along a long, shallow valley (correlation > 0.95). On the WMG LG M50 OCV
    # table, local fits from 30 starts spread over the bounds all stop at 8.93 mV; a global
    # search finds 8.70 mV further along the valley. So: a seeded global search (scipy's
    # differential evolution on the summed squares, ~1 ms per evaluation), then the
    # Jacobian-based local fit from its best point and from the initial values; the better
    # of the two is the result.
    def cost(z):
        try:
            return 0.5 * float(np.sum(evaluate(z, jacobian=False)[0] ** 2))
        except _NoCell:
            return math.inf

    from scipy.optimize import differential_evolution

    z_init = start_vector(np.asarray(x0[:n_fit], dtype=float))
    history, nfev, njev = [], 0, 0
    if global_search:
        de = differential_evolution(cost, list(zip(zlo, zhi, strict=True)), seed=seed,
                                    popsize=15, maxiter=400, tol=1e-6, polish=False,
                                    init="sobol", x0=z_init)
        nfev += int(de.nfev)
        history.append({"start": "global (differential evolution)", "cost": float(de.fun),
                        "x": (de.x * scale)[:n_fit].tolist(), "message": str(de.message)})
        starts = [("global", de.x), ("initial", z_init)]
    else:
        starts = [("initial", z_init)]
    best = None
    for label, z_start in starts:
        try:
            sol = least_squares(lambda z: evaluate(z)[0], z_start,
                                jac=lambda z: evaluate(z)[1], bounds=(zlo, zhi),
                                method="trf", x_scale="jac", max_nfev=int(max_nfev),
                                xtol=1e-12, ftol=1e-12, gtol=1e-10)
        except _NoCell as exc:
            history.append({"start": label, "status": f"no cell: {exc}"})
            continue
        nfev += sol.nfev
        njev += int(sol.njev or 0)
        history.append({"start": label, "cost": float(sol.cost), "status": int(sol.status),
                        "x": (sol.x * scale)[:n_fit].tolist()})
        if best is None or sol.cost < best[1].cost:
            best = (z_start, sol)
    if best is None:
        raise ParameterError(f"fit_balance: no start gives a cell with {cell.name}'s OCPs: "
                             f"{history[-1]['status']}.")
    sol = best[1]
    r, jac, outs, (fn, fp, x100, y100, qn, qp) = evaluate(sol.x)
    success, message = bool(sol.success), str(sol.message)
    outside = []
    for pc, (_, x, y) in zip(prepared, outs, strict=True):
        for side, s in (("negative", x), ("positive", y)):
            if s.min() < 0.0 or s.max() > 1.0:
                outside.append(f"curve {pc.curve.name!r} needs {side} stoichiometries "
                               f"[{s.min():.4f}, {s.max():.4f}], outside [0, 1]")
    if outside:
        success = False
        message = ("the fitted balance is not a cell: " + "; ".join(outside)
                   + " (widen or check the data's charge basis, or window its ends out)")
    experiments = []
    for pc, (model, _, _) in zip(prepared, outs, strict=True):
        c = pc.curve
        experiments.append(ExperimentResidual(
            name=c.name, source=c.source, weight=c.weight,
            time_s=np.full(c.charge_Ah.size, np.nan), charge_Ah=c.charge_Ah,
            voltage_measured_V=c.voltage_V, voltage_model_V=model, current_A=c.current_A,
            cutoff_handling="none: an algebraic OCV model has no cut-off", role="fit"))
    n_li0 = x100_0 * q_n0 + y100_of(x100_0) * q_p0
    n_li = x100 * qn + y100 * qp
    modes = {
        "LAM_negative": 1.0 - fn, "LAM_positive": 1.0 - fp, "LLI": 1.0 - n_li / n_li0,
        "cyclable_lithium_Ah": n_li, "cyclable_lithium_base_Ah": n_li0,
        "negative_capacity_Ah": qn, "positive_capacity_Ah": qp,
        "x100": x100, "y100": y100,
        "capacity_between_cutoffs_Ah": _capacity(pv, param, fn, fp, x100, y100, q_n0, q_p0),
        "capacity_between_cutoffs_base_Ah": cell.soc_capacity_Ah,
    }
    result = FitResult.from_solution(
        names=names, x=sol.x, x0=z_init, scaling=["linear"] * len(names), scale=scale,
        bounds_z=(zlo, zhi), jacobian=jac, residuals=r, experiments=experiments,
        n_evaluations=nfev, n_jacobians=njev, gradient="analytic",
        success=success, status=sol.status, message=message,
        wall_time_s=time.perf_counter() - t_start, history=history,
        meta={"cell": cell.name, "cell_sha256": cell.sha256,
              "fitter": "cellmodels.fitting.fit_balance",
              "model": "OCV (electrode balance, no PyBaMM solve), each curve at its own "
                       "temperature",
              "thermal": "no",
              "nuisance": [nm for nm in names[n_fit:]], "degradation_modes": modes,
              "datasets": [{"name": c.name, "source": c.source} for c in curves]},
    )
    # A balance value a hair inside its bound, or whose interval reaches past it, is set by
    # the bound, not by the data (_NEAR_BOUND): say so, as the fitted set would carry it.
    near = []
    for nm in fit:
        b_lo, b_hi = result.bounds[nm]
        v, (c_lo, c_hi) = result.values[nm], result.ci95[nm]
        tol = _NEAR_BOUND * (b_hi - b_lo)
        if nm in result.at_bound or min(v - b_lo, b_hi - v) <= tol or c_lo < b_lo \
                or c_hi > b_hi:
            near.append(nm)
    if near:
        import dataclasses

        result = dataclasses.replace(
            result, at_bound=(*result.at_bound, *(nm for nm in near
                                                  if nm not in result.at_bound)),
            message=result.message + "; at (or within its 95 % interval of) its bound, so "
            "set by the bound rather than the data: " + ", ".join(
                f"{nm} = {result.values[nm]:.6g} in {list(result.bounds[nm])}" for nm in near))
    return result


def _start_charge(c: OCVCurve, u_n, u_p, x100, y100, q_n, q_p) -> float:
    """The start value of the nuisance ``q0`` for the set's balance: the charge below
    100 % SOC whose OCV is the voltage of the curve's least-discharged point, less that
    point's charge on the curve's axis."""
    k = int(np.argmin(c.charge_Ah))
    q = np.linspace(-0.05, 1.0, 4001) * min(q_n, q_p)
    ocv = _interp(u_p, y100 + q / q_p)[0] - _interp(u_n, x100 - q / q_n)[0]
    return float(q[int(np.argmin(np.abs(ocv - c.voltage_V[k])))] - c.charge_Ah[k])


def _capacity(pv, param, fn, fp, x100, y100, q_n0, q_p0) -> float:
    """Charge between the voltage cut-offs at the reference temperature for a balance [A.h]
    (PyBaMM's electrode-SOH solve, as :attr:`Cell.soc_capacity_Ah`)."""
    import pybamm

    from .physics import _BALANCE_TOL, _EPS

    pv = pv.copy()
    pv.update({_EPS["negative"]: fn * float(pv[_EPS["negative"]]),
               _EPS["positive"]: fp * float(pv[_EPS["positive"]])})
    c_n, c_p = pv.evaluate(param.n.prim.c_max), pv.evaluate(param.p.prim.c_max)
    pv.update({"Initial concentration in negative electrode [mol.m-3]": x100 * c_n,
               "Initial concentration in positive electrode [mol.m-3]": y100 * c_p})
    x0, _ = pybamm.lithium_ion.get_initial_stoichiometries(0.0, pv, param=param,
                                                          tol=_BALANCE_TOL)
    return float((x100 - x0) * q_n0 * fn)
