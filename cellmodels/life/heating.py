"""Heating under periodic swings: the periodic steady state of an ECM cell, solved directly.

A cell that buffers AI-training swings carries a periodic, zero-mean current (discharge
while the racks compute, charge while they communicate). After a few thermal time
constants (``C_th / hA``, minutes to hours) its RC voltages and temperature settle on a
periodic orbit. This module finds that orbit without simulating the hours before it.

The model is the ECM's (:mod:`cellmodels.reduction.ecm`), with discharge current ``I``
positive::

    dv_k/dt   = (R_k I - v_k) / tau_k
    C_th dT/dt = R0 I^2 + I (sum_k v_k + eta_ct(I)) - I T dU/dT(z) - hA (T - T_amb)
                 ohmic    polarisation              reversible (Bernardi)

``eta_ct`` is the ECM's optional charge-transfer element (stateless, zero without one);
its heat is counted as polarisation (kinetic), as the ECM's own heat split does.

An ECM with OCV hysteresis adds its state and heat::

    dh/dt      = -gamma |I| / (3600 Q) (h + sign I)
    C_th dT/dt += -I M(z) h                                   hysteresis (loop dissipation)

linear in h at a held current, so it joins the exact sub-segment maps; its periodic orbit
(a minor loop around the swing's SOC: h does not reach a branch when a swing moves a
fraction of a per cent of SOC) is part of the same fixed point. Its heat is
``hysteresis_W`` (0 without hysteresis).

**Method.** The period is cut into sub-segments (at every edge of the waveform, and short
enough that SOC and temperature move little inside one, see ``max_soc_step`` and
``max_substep_s``). With the tables frozen in a sub-segment at its mid-SOC and its mean
orbit temperature, the equations above are *linear* in ``(v, T)``; adding accumulators for
the three heats and for ``int T dt`` and a constant state, one sub-segment is the exact
map ``x <- expm(A h) x``. The period map is the product of the sub-segment maps, and the
periodic orbit is the fixed point ``(I - Phi) y = c`` of its ``(v, T)`` block: one linear
solve, exact (to round-off) for the frozen tables. The tables' temperatures are then
updated to the orbit's sub-segment means and the solve repeated until they move by less
than ``tol_K`` (a fixed point whose contraction factor is about ``(dQ/dT) / hA``: a
few iterations, since resistance falls with temperature; an Anderson(1) step, a secant,
settles the iteration when that factor is near or beyond -1). If the iteration does not settle, or the orbit's temperature is not
positive, :class:`SolverError` is raised. Tables are clamped at their grid's edges (the
ECM's rule), so an orbit beyond the table's temperatures is still found, and warned
about as outside the ECM's validity.

The result is checked against brute-force simulation (many thermal time constants with
the compiled UPS string kernel and :func:`cellmodels.reduction.simulate_ecm`) in
``tests/test_heating.py`` and ``validation/case_heating.py``.

**Swings.** :func:`swing_waveform` builds the two-level current of one swing from its
depth of discharge (``swing_depth``: the charge moved per swing over the capacity;
DESIGN.md section 1: a 132 kW rack swinging 50 % every 2 s on a 4 kWh battery is about
0.23 % per swing) or from its discharge C-rate, the period and the compute fraction.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, SolverError, check_range
from ..reduction.ecm import ECM
from ..reduction.simulate import ValidityWarning

__all__ = [
    "HEAT_TERMS",
    "HeatingMap",
    "PeriodicHeating",
    "heating_map",
    "periodic_heating",
    "plot_heating_map",
    "swing_waveform",
]

#: The heat split, as keys of :attr:`PeriodicHeating.heat_W` (period means, W).
HEAT_TERMS = ("ohmic_W", "polarisation_W", "reversible_W", "hysteresis_W", "total_W")


@dataclass(frozen=True)
class PeriodicHeating:
    """The periodic steady state of a cell under a periodic current.

    Attributes
    ----------
    period_s : float
        Length of one period [s].
    ambient_K, heat_transfer_W_per_K, thermal_mass_J_per_K : float
        Coolant temperature [K], hA [W/K] and C_th [J/K] used.
    temperature_mean_K, temperature_max_K, temperature_min_K : float
        Period mean (exact integral) and extremes (sampled at every sub-segment edge and
        ``samples`` points inside each) of the cell temperature on the orbit [K].
    mean_rise_K : float
        Period-mean rise over the coolant [K], integrated as a rise (full precision).
    heat_W : dict
        Period-mean heats [W]: ``ohmic_W`` (R0 I^2), ``polarisation_W`` (I sum v_k, plus
        I eta_ct for an ECM with the charge-transfer element),
        ``reversible_W`` (-I T dU/dT), ``hysteresis_W`` (-I M h, an ECM with OCV
        hysteresis; else 0), ``total_W`` (their sum; equals
        ``hA (temperature_mean_K - ambient_K)`` on a periodic orbit).
    current_rms_A, current_max_A : float
        RMS and largest absolute current of the waveform [A].
    soc_min, soc_max : float
        SOC range swept by the orbit [1].
    iterations : int
        Table-temperature iterations used.
    orbit : dict
        Sampled orbit: ``time_s`` (m,), ``temperature_K`` (m,), ``rc_V`` (m, n_rc),
        ``soc`` (m,), ``current_A`` (m,) (the current held from that sample on), and
        ``hysteresis`` (m,), the state h, for an ECM with OCV hysteresis.
    warnings : tuple of str
        Validity warnings raised (SOC, temperature or current outside the ECM's range).
    """

    period_s: float
    ambient_K: float
    heat_transfer_W_per_K: float
    thermal_mass_J_per_K: float
    temperature_mean_K: float
    temperature_max_K: float
    temperature_min_K: float
    mean_rise_K: float
    heat_W: dict
    current_rms_A: float
    current_max_A: float
    soc_min: float
    soc_max: float
    iterations: int
    orbit: dict = field(repr=False)
    warnings: tuple = ()

    @property
    def rise_K(self) -> float:
        """Mean temperature rise over the coolant [K] (``mean_rise_K``)."""
        return self.mean_rise_K

    @property
    def peak_rise_K(self) -> float:
        """Peak temperature rise over the coolant [K]."""
        return self.temperature_max_K - self.ambient_K

    @property
    def ripple_K(self) -> float:
        """Peak-to-peak temperature swing on the orbit [K]."""
        return self.temperature_max_K - self.temperature_min_K

    def summary(self) -> dict:
        """Flat dict of the scalar results (for tables and study files)."""
        out = {
            "temperature_mean_K": self.temperature_mean_K,
            "temperature_max_K": self.temperature_max_K,
            "temperature_min_K": self.temperature_min_K,
            "rise_K": self.rise_K,
            "peak_rise_K": self.peak_rise_K,
            "ripple_K": self.ripple_K,
            "current_rms_A": self.current_rms_A,
            "current_max_A": self.current_max_A,
            "soc_min": self.soc_min,
            "soc_max": self.soc_max,
            "iterations": float(self.iterations),
        }
        out.update({f"heat_{k}": v for k, v in self.heat_W.items()})
        return out


def swing_waveform(
    ecm: ECM,
    *,
    period_s: float,
    swing_depth: float | None = None,
    swing_C_rate: float | None = None,
    compute_fraction: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """One period of a zero-mean two-level swing: durations [s] and currents [A].

    The cell discharges during the compute phase (``compute_fraction * period_s``) and
    charges back the same charge during the communication phase, as a battery does when it
    takes the fast part of a training cluster's swing and the grid the mean.

    Parameters
    ----------
    ecm : ECM
        The cell (its ``capacity_Ah`` scales the swing).
    period_s : float
        Swing period [s], in (0, 1e5].
    swing_depth : float, optional
        Depth of discharge of one swing [1] (charge moved in the compute phase over the
        capacity), in (0, 1).
    swing_C_rate : float, optional
        Discharge current in the compute phase over the capacity [1/h], in (0, 1000].
        Give exactly one of ``swing_depth`` and ``swing_C_rate``.
    compute_fraction : float
        Fraction of the period spent discharging [1], in (0, 1).
    """
    owner = "argument of swing_waveform"
    period = check_range(period_s, "period_s", owner, 0.0, 1e5, closed=(False, True))
    f = check_range(compute_fraction, "compute_fraction", owner, 0.0, 1.0, closed=(False, False))
    q_As = ecm.capacity_Ah * 3600.0
    if (swing_depth is None) == (swing_C_rate is None):
        raise InputError("Give exactly one of 'swing_depth' and 'swing_C_rate' to "
                         f"swing_waveform. Got swing_depth={swing_depth!r}, "
                         f"swing_C_rate={swing_C_rate!r}.")
    if swing_depth is not None:
        depth = check_range(swing_depth, "swing_depth", owner, 0.0, 1.0, closed=(False, False))
        i_dis = depth * q_As / (f * period)
    else:
        c = check_range(swing_C_rate, "swing_C_rate", owner, 0.0, 1000.0, closed=(False, True))
        i_dis = c * ecm.capacity_Ah
    i_chg = -i_dis * f / (1.0 - f)
    return np.array([f * period, (1.0 - f) * period]), np.array([i_dis, i_chg])


_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0,
           1187353796428800.0, 129060195264000.0, 10559470521600.0, 670442572800.0,
           33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152
_T_PHYSICAL_MAX_K = 1000.0  # as simulate_ecm's bound on temperature_K


def expm_batch(a: np.ndarray) -> np.ndarray:
    """Matrix exponentials of a stack ``(..., N, N)``: Pade-13 with scaling and squaring.

    Higham (2005), SIAM J. Matrix Anal. Appl. 26(4), 1179-1193, the degree-13 branch
    (what ``scipy.linalg.expm`` uses for all but small norms). Written on numpy's
    stacked ``matmul``/``solve`` because scipy's per-matrix LAPACK calls are slowed
    ~100-fold by OpenBLAS threading on a loaded machine for these 7-10 sized matrices.
    """
    a = np.asarray(a, dtype=float)
    shape = a.shape
    a = a.reshape((-1, shape[-1], shape[-1]))
    norm = np.abs(a).sum(axis=-2).max(axis=-1)
    with np.errstate(divide="ignore"):
        s = np.maximum(0, np.ceil(np.log2(np.where(norm > 0, norm, 1.0) / _THETA13)))
    s = s.astype(int)
    a = a * (2.0 ** -s)[:, None, None]
    b = _PADE13
    eye = np.eye(shape[-1])
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4
             + b[3] * a2 + b[1] * eye)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 \
        + b[0] * eye
    r = np.linalg.solve(v - u, v + u)
    for k in range(int(s.max(initial=0))):
        sel = s > k
        r[sel] = r[sel] @ r[sel]
    return r.reshape(shape)


def _bilinear_many(xs, ys, table, x, y) -> np.ndarray:
    """:func:`cellmodels.reduction.ecm.bilinear` at many points: ``table`` is ``(..., nx,
    ny)``, ``x`` and ``y`` are ``(m,)``; returns ``(..., m)``. Clamped at the edges."""
    x = np.clip(x, xs[0], xs[-1])
    i = np.clip(np.searchsorted(xs, x) - 1, 0, len(xs) - 2)
    wx = (x - xs[i]) / (xs[i + 1] - xs[i])
    if len(ys) == 1:
        return (1 - wx) * table[..., i, 0] + wx * table[..., i + 1, 0]
    y = np.clip(y, ys[0], ys[-1])
    j = np.clip(np.searchsorted(ys, y) - 1, 0, len(ys) - 2)
    wy = (y - ys[j]) / (ys[j + 1] - ys[j])
    return ((1 - wx) * (1 - wy) * table[..., i, j] + wx * (1 - wy) * table[..., i + 1, j]
            + (1 - wx) * wy * table[..., i, j + 1] + wx * wy * table[..., i + 1, j + 1])


def _dudt_integral(ecm: ECM) -> np.ndarray:
    """Cumulative integral of the piecewise-linear dU/dT(z) at the SOC grid points [V/K]."""
    e = ecm.docv_dT_V_per_K
    return np.concatenate([[0.0], np.cumsum(0.5 * (e[1:] + e[:-1]) * np.diff(ecm.soc))])


def _dudt_mean(ecm: ECM, cum: np.ndarray, za: np.ndarray, zb: np.ndarray) -> np.ndarray:
    """Exact mean of the interpolated dU/dT over [za, zb] (SOC moves linearly in time)."""
    z, e = ecm.soc, ecm.docv_dT_V_per_K

    def prim(x):
        # integral from soc[0] to x of the interpolant (constant beyond the grid: clamped)
        xc = np.clip(x, z[0], z[-1])
        i = np.clip(np.searchsorted(z, xc) - 1, 0, len(z) - 2)
        w = xc - z[i]
        slope = (e[i + 1] - e[i]) / (z[i + 1] - z[i])
        inside = cum[i] + e[i] * w + 0.5 * slope * w * w
        return inside + np.where(x < z[0], (x - z[0]) * e[0], 0.0) \
            + np.where(x > z[-1], (x - z[-1]) * e[-1], 0.0)

    span = zb - za
    small = np.abs(span) < 1e-14
    safe = np.where(small, 1.0, span)
    mean = (prim(zb) - prim(za)) / safe
    return np.where(small, np.interp(za, z, e), mean)


def _subsegments(durations, currents, soc_mean, q_As, max_dt, max_dz):
    """Cut the period into sub-segments; SOC at their ends with the period mean = soc_mean."""
    hs, cur = [], []
    for h, i in zip(durations, currents):
        m = max(1, math.ceil(h / max_dt - 1e-12), math.ceil(abs(i) * h / q_As / max_dz - 1e-12))
        hs += [h / m] * m
        cur += [i] * m
    h = np.array(hs)
    i = np.array(cur)
    dz = -i * h / q_As
    z_start = np.concatenate([[0.0], np.cumsum(dz)[:-1]])
    # period mean of the piecewise-linear SOC (relative to z = 0 at t = 0)
    mean_rel = float(np.sum(h * (z_start + 0.5 * dz)) / np.sum(h))
    z_start = z_start + (soc_mean - mean_rel)
    return h, i, z_start, z_start + dz


def periodic_heating(
    ecm: ECM,
    durations_s,
    current_A,
    *,
    soc: float = 0.5,
    ambient_K: float | None = None,
    heat_transfer_W_per_K: float | None = None,
    thermal_mass_J_per_K: float | None = None,
    max_soc_step: float = 0.005,
    max_substep_s: float | None = None,
    samples: int = 4,
    tol_K: float = 1e-7,
    max_iter: int = 60,
) -> PeriodicHeating:
    """The periodic steady state of ``ecm`` under a periodic zero-order-hold current.

    Parameters
    ----------
    ecm : ECM
    durations_s : (m,) array
        Durations of the waveform's levels in one period [s], each > 0.
    current_A : (m,) array
        Current of each level [A], discharge positive. Its time mean must be zero (else SOC
        drifts and there is no periodic state): ``|mean| <= 1e-9 max|I|``.
    soc : float
        Period-mean SOC of the orbit [1], in [0, 1]; the orbit's SOC range must stay in
        [0, 1].
    ambient_K : float, optional
        Coolant temperature [K], in (0, 1000]; default the ECM's reference temperature.
    heat_transfer_W_per_K : float, optional
        Cooling hA [W/K], in (0, inf); default the ECM's (which must then be > 0).
    thermal_mass_J_per_K : float, optional
        C_th [J/K], in (0, inf); default the ECM's. Sets the ripple, not the mean.
    max_soc_step : float
        Largest SOC change inside one sub-segment [1], in (0, 1]: tables are frozen at the
        sub-segment's mid-SOC.
    max_substep_s : float, optional
        Longest sub-segment [s]; default a fiftieth of the thermal time constant
        ``C_th / hA`` (tables frozen at the sub-segment's mean temperature).
    samples : int
        Interior samples per sub-segment for the orbit's temperature extremes, in [0, 100].
    tol_K : float
        Convergence of the tables' temperatures [K], in (0, 1].
    max_iter : int
        Most iterations, in [1, 1000].

    Returns
    -------
    PeriodicHeating

    Raises
    ------
    InputError
        Bad waveform or argument (named, with its range and value).
    SolverError
        No periodic steady state (thermal runaway: heat rises with temperature faster than
        cooling removes it; or an orbit above 1000 K, which no cell survives) or no
        convergence in ``max_iter`` iterations.

    Warns
    -----
    ValidityWarning
        The orbit's SOC or temperature, or the current, leaves the ECM's validity range.
    """
    owner = "argument of periodic_heating"
    d = np.asarray(durations_s, dtype=float)
    cur = np.asarray(current_A, dtype=float)
    if d.ndim != 1 or d.shape != cur.shape or d.size < 1:
        raise InputError("The 'durations_s' and 'current_A' arguments of periodic_heating must "
                         f"be 1-D of equal length >= 1. Got shapes {d.shape} and {cur.shape}.")
    if not (np.all(np.isfinite(d)) and np.all(np.isfinite(cur))):
        raise InputError("The 'durations_s' and 'current_A' of periodic_heating hold NaN or inf.")
    if np.any(d <= 0):
        k = int(np.flatnonzero(d <= 0)[0])
        raise InputError(f"The 'durations_s' argument of periodic_heating must be in the range "
                         f"(0, inf). Got {float(d[k])!r} at level {k} instead.")
    period = float(d.sum())
    i_max = float(np.max(np.abs(cur)))
    mean_i = float(np.sum(d * cur) / period)
    if abs(mean_i) > 1e-9 * max(i_max, 1e-300) and i_max > 0:
        raise InputError(f"The mean current of the waveform must be 0 for a periodic steady "
                         f"state (else SOC drifts). Got {mean_i!r} A (levels {cur.tolist()} A "
                         f"for {d.tolist()} s).")
    soc = check_range(soc, "soc", owner, 0.0, 1.0)
    t_amb = check_range(ecm.reference_temperature_K if ambient_K is None else ambient_K,
                        "ambient_K", owner, 0.0, 1000.0, closed=(False, True))
    ha = check_range(ecm.heat_transfer_W_per_K if heat_transfer_W_per_K is None
                     else heat_transfer_W_per_K, "heat_transfer_W_per_K", owner, 0.0, np.inf,
                     closed=(False, False))
    c_th = check_range(ecm.thermal_mass_J_per_K if thermal_mass_J_per_K is None
                       else thermal_mass_J_per_K, "thermal_mass_J_per_K", owner, 0.0, np.inf,
                       closed=(False, False))
    max_dz = check_range(max_soc_step, "max_soc_step", owner, 0.0, 1.0, closed=(False, True))
    max_dt = check_range(c_th / ha / 50.0 if max_substep_s is None else max_substep_s,
                         "max_substep_s", owner, 0.0, np.inf, closed=(False, False))
    samples = int(check_range(samples, "samples", owner, 0, 100))
    tol_K = check_range(tol_K, "tol_K", owner, 0.0, 1.0, closed=(False, True))
    max_iter = int(check_range(max_iter, "max_iter", owner, 1, 1000))

    q_As = ecm.capacity_Ah * 3600.0
    h, i_seg, za, zb = _subsegments(d, cur, soc, q_As, max_dt, max_dz)
    z_lo, z_hi = float(min(za.min(), zb.min())), float(max(za.max(), zb.max()))
    if z_lo < 0.0 or z_hi > 1.0:
        raise InputError(f"The orbit's SOC range [{z_lo:.6g}, {z_hi:.6g}] (period mean "
                         f"'soc' = {soc:g}) must lie in [0, 1]: the swing is too deep for this "
                         "SOC.")
    e_seg = _dudt_mean(ecm, _dudt_integral(ecm), za, zb)
    z_mid = 0.5 * (za + zb)
    m, n = h.size, ecm.n_rc
    hys = ecm.has_hysteresis
    # states: RC voltages, the rise theta, (the hysteresis state h), then the accumulators
    # of the heats and of int theta dt, and the constant 1; k is the (v, theta, h) block
    k = n + 2 if hys else n + 1
    iT, iH = n, n + 1
    iEo, iEp, iEr = k, k + 1, k + 2
    iEh = k + 3  # used only with hysteresis
    iS = k + 4 if hys else k + 3
    i1 = iS + 1
    size = i1 + 1
    t_tab = np.full(m, t_amb)
    ct = (None if getattr(ecm, "ct_R_Ohm", None) is None
          else (ecm.ct_R_Ohm, ecm.ct_i0_A))

    def matrices(t_tab):
        # the temperature state is the rise over the coolant, theta = T - T_amb: its
        # integral keeps the precision of the rise (not of 300 K)
        r0 = _bilinear_many(ecm.soc, ecm.temperature_K, ecm.r0_Ohm, z_mid, t_tab)
        r_k = _bilinear_many(ecm.soc, ecm.temperature_K, ecm.rc_R_Ohm, z_mid, t_tab)
        tau_k = _bilinear_many(ecm.soc, ecm.temperature_K, ecm.rc_tau_s, z_mid, t_tab)
        A = np.zeros((m, size, size))
        ks = np.arange(n)
        A[:, ks, ks] = -1.0 / tau_k.T
        A[:, ks, i1] = (r_k * i_seg / tau_k).T
        A[:, iT, :n] = (i_seg / c_th)[:, None]
        A[:, iEp, :n] = i_seg[:, None]
        A[:, iT, iT] = -(ha + i_seg * e_seg) / c_th
        A[:, iT, i1] = (r0 * i_seg**2 - i_seg * e_seg * t_amb) / c_th
        A[:, iEo, i1] = r0 * i_seg**2
        A[:, iEr, iT] = -i_seg * e_seg
        A[:, iEr, i1] = -i_seg * e_seg * t_amb
        A[:, iS, iT] = 1.0
        if ct is not None:
            # the charge-transfer element (ECMs that have one): stateless, so at a held
            # current its heat I eta_ct is a constant of the sub-segment
            r_ct = _bilinear_many(ecm.soc, ecm.temperature_K, ct[0], z_mid, t_tab)
            s0 = 2.0 * _bilinear_many(ecm.soc, ecm.temperature_K, ct[1], z_mid, t_tab)
            q_ct = i_seg * s0 * r_ct * np.arcsinh(i_seg / s0)
            A[:, iT, i1] += q_ct / c_th
            A[:, iEp, i1] += q_ct
        if hys:
            # dh/dt = -k_s (h + sign I), k_s = gamma |I| / Q_As; heat -I M h (M at mid-SOC)
            k_s = ecm.hysteresis_rate * np.abs(i_seg) / q_As
            m_seg = np.interp(z_mid, ecm.soc, ecm.hysteresis_V)
            A[:, iH, iH] = -k_s
            A[:, iH, i1] = -k_s * np.sign(i_seg)
            A[:, iT, iH] = -i_seg * m_seg / c_th
            A[:, iEh, iH] = -i_seg * m_seg
        return A

    def orbit(A):
        M = expm_batch(A * h[:, None, None])
        P = np.eye(size)
        for j in range(m):
            P = M[j] @ P
        try:
            y0 = np.linalg.solve(np.eye(k) - P[:k, :k], P[:k, i1])
        except np.linalg.LinAlgError as exc:
            raise SolverError(f"The period map of periodic_heating is singular ({exc}): "
                              "no unique periodic orbit.") from None
        x = np.zeros((m + 1, size))
        x[0, :k] = y0
        x[0, i1] = 1.0
        for j in range(m):
            x[j + 1] = M[j] @ x[j]
        return x

    history: list[float] = []
    prev = None  # (tables, residual) of the iteration before, for the Anderson step
    for it in range(1, max_iter + 1):
        A = matrices(t_tab)
        x = orbit(A)
        t_mean_seg = t_amb + np.diff(x[:, iS]) / h
        if not np.all(np.isfinite(t_mean_seg)) or np.any(t_mean_seg <= 0):
            raise SolverError("No periodic steady state: the orbit's temperature is not "
                              "positive and finite (heat rises with temperature faster than "
                              f"the cooling hA = {ha:g} W/K removes it).")
        resid = t_mean_seg - t_tab
        change = float(np.max(np.abs(resid)))
        history.append(change)
        if change <= tol_K:
            break
        # Anderson(1) (a secant step): exact in one step when the heat is linear in the
        # temperature, and it settles oscillating iterations (resistance falling steeply
        # with temperature) that the plain update would not
        step = resid
        if prev is not None:
            d_t, d_r = t_tab - prev[0], resid - prev[1]
            denom = float(d_r @ d_r)
            if denom > 0:
                step = resid - float(d_r @ resid) / denom * (d_t + d_r)
        prev = (t_tab, resid)
        t_tab = t_tab + step
    else:
        raise SolverError(f"periodic_heating did not converge in {max_iter} iterations "
                          f"(last change {history[-1]:.3g} K, tolerance {tol_K:g} K): the cell's heat changes with temperature faster than "
                          f"the cooling hA = {ha:g} W/K can settle it.")
    energy = x[-1] - x[0]
    heat = {
        "ohmic_W": float(energy[iEo] / period),
        "polarisation_W": float(energy[iEp] / period),
        "reversible_W": float(energy[iEr] / period),
    }
    heat["hysteresis_W"] = float(energy[iEh] / period) if hys else 0.0
    heat["total_W"] = (heat["ohmic_W"] + heat["polarisation_W"] + heat["reversible_W"]
                       + heat["hysteresis_W"])
    rise = float(energy[iS] / period)

    # samples inside each sub-segment for the extremes and the stored orbit
    fr = np.arange(samples + 1) / (samples + 1)
    times, states, socs, currents = [], [], [], []
    t0 = np.concatenate([[0.0], np.cumsum(h)[:-1]])
    if samples:
        Ms = expm_batch(A[:, None] * (h[:, None] * fr[None, 1:])[:, :, None, None])
    for j in range(m):
        times.append(t0[j])
        states.append(x[j])
        for s in range(samples):
            times.append(t0[j] + fr[s + 1] * h[j])
            states.append(Ms[j, s] @ x[j])
        socs += list(za[j] + (zb[j] - za[j]) * fr)
        currents += [i_seg[j]] * (samples + 1)
    times.append(period)
    states.append(x[-1])
    socs.append(zb[-1])
    currents.append(i_seg[0])
    st = np.array(states)
    temps = t_amb + st[:, iT]
    if temps.max() > _T_PHYSICAL_MAX_K:
        raise SolverError(f"No physical periodic steady state: the orbit reaches "
                          f"{temps.max():.6g} K, above {_T_PHYSICAL_MAX_K:g} K (the package's "
                          f"bound for any temperature), at {i_max:.6g} A peak with hA = "
                          f"{ha:g} W/K: the cell would be destroyed long before.")

    validity = _validity_messages(ecm, z_lo, z_hi, float(temps.min()), float(temps.max()), i_max)
    for msg in validity:
        warnings.warn(msg, ValidityWarning, stacklevel=2)
    return PeriodicHeating(
        period_s=period,
        ambient_K=t_amb,
        heat_transfer_W_per_K=ha,
        thermal_mass_J_per_K=c_th,
        temperature_mean_K=t_amb + rise,
        mean_rise_K=rise,
        temperature_max_K=float(temps.max()),
        temperature_min_K=float(temps.min()),
        heat_W=heat,
        current_rms_A=float(np.sqrt(np.sum(d * cur * cur) / period)),
        current_max_A=i_max,
        soc_min=z_lo,
        soc_max=z_hi,
        iterations=it,
        orbit={"time_s": np.array(times), "temperature_K": temps, "rc_V": st[:, :n],
               "soc": np.array(socs), "current_A": np.array(currents),
               **({"hysteresis": st[:, iH]} if hys else {})},
        warnings=tuple(validity),
    )


def _validity_messages(ecm, z_lo, z_hi, t_lo, t_hi, i_max) -> list[str]:
    v = ecm.validity
    checks = (
        ("soc", z_lo, z_hi, v.get("soc_min", ecm.soc[0]), v.get("soc_max", ecm.soc[-1])),
        ("temperature_K", t_lo, t_hi, v.get("temperature_min_K", ecm.temperature_K[0]),
         v.get("temperature_max_K", ecm.temperature_K[-1])),
        ("current_A", -i_max, i_max, -v.get("current_max_A", np.inf),
         v.get("current_max_A", np.inf)),
    )
    out = []
    for name, lo, hi, vlo, vhi in checks:
        if lo < vlo or hi > vhi:
            value, dist = (hi, hi - vhi) if hi > vhi else (lo, vlo - lo)
            out.append(f"The ECM is used outside its validity: {name} = {value:.6g} is "
                       f"{dist:.3g} outside the identified range [{vlo:.6g}, {vhi:.6g}] "
                       "(periodic_heating orbit).")
    return out


@dataclass(frozen=True)
class HeatingMap:
    """Periodic steady states over swing depth x period x cooling.

    Arrays are ``(n_depth, n_period, n_cooling)``; a point with no steady state (or bad
    input) holds NaN and its message in ``errors`` (``{(i, j, k): message}``).
    """

    ecm_name: str
    swing_depth: np.ndarray
    period_s: np.ndarray
    heat_transfer_W_per_K: np.ndarray
    soc: float
    ambient_K: float
    compute_fraction: float
    values: dict  #: summary key (see PeriodicHeating.summary) -> array
    errors: dict
    seconds: float


def heating_map(
    ecm: ECM,
    swing_depth,
    period_s,
    heat_transfer_W_per_K,
    *,
    soc: float = 0.5,
    ambient_K: float | None = None,
    compute_fraction: float = 0.5,
    progress: bool = False,
    **kwargs,
) -> HeatingMap:
    """:func:`periodic_heating` of :func:`swing_waveform` over a grid, in this process.

    ``swing_depth`` [1], ``period_s`` [s] and ``heat_transfer_W_per_K`` [W/K] are 1-D
    grids; further keyword arguments go to :func:`periodic_heating`. Validity warnings are
    collected per point (``values`` has no room for them; ``errors`` holds failures) and
    one summary :class:`ValidityWarning` is issued. For many cells, controls or a cluster,
    use the study runner (:mod:`cellmodels.studies`).
    """
    depths = np.atleast_1d(np.asarray(swing_depth, dtype=float))
    periods = np.atleast_1d(np.asarray(period_s, dtype=float))
    has = np.atleast_1d(np.asarray(heat_transfer_W_per_K, dtype=float))
    shape = (depths.size, periods.size, has.size)
    values: dict[str, np.ndarray] = {}
    errors: dict = {}
    n_warn = 0
    t_start = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=int(np.prod(shape)), desc="heating map", unit="pt")
    for a, b, c in itertools.product(*(range(s) for s in shape)):
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ValidityWarning)
                dur, cur = swing_waveform(ecm, period_s=periods[b], swing_depth=depths[a],
                                          compute_fraction=compute_fraction)
                res = periodic_heating(ecm, dur, cur, soc=soc, ambient_K=ambient_K,
                                       heat_transfer_W_per_K=has[c], **kwargs)
            n_warn += bool(caught)
            for key, value in res.summary().items():
                values.setdefault(key, np.full(shape, np.nan))[a, b, c] = value
        except (InputError, SolverError) as exc:
            errors[(a, b, c)] = f"{type(exc).__name__}: {exc}"
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    if n_warn:
        warnings.warn(f"{n_warn} of {int(np.prod(shape))} heating-map points use the ECM "
                      "outside its validity (see periodic_heating(...).warnings).",
                      ValidityWarning, stacklevel=2)
    return HeatingMap(
        ecm_name=ecm.name, swing_depth=depths, period_s=periods, heat_transfer_W_per_K=has,
        soc=float(soc), ambient_K=float(ecm.reference_temperature_K if ambient_K is None
                                         else ambient_K),
        compute_fraction=float(compute_fraction), values=values, errors=errors,
        seconds=time.perf_counter() - t_start)


def plot_heating_map(hmap: HeatingMap, path, *, key: str = "rise_K", title: str | None = None):
    """PNG: ``key`` (default the mean temperature rise [K]) over swing depth x period, one
    panel per cooling value. Written atomically; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._atomic import atomic_path

    if key not in hmap.values:
        raise InputError(f"The 'key' argument of plot_heating_map must be one of "
                         f"{sorted(hmap.values)}. Got {key!r} instead.")
    ia, ib = np.argsort(hmap.swing_depth), np.argsort(hmap.period_s)
    z = hmap.values[key][ia][:, ib]
    k = hmap.heat_transfer_W_per_K.size
    fig, axes = plt.subplots(1, k, figsize=(3.2 * k + 1.2, 3.4), squeeze=False,
                             sharey=True, constrained_layout=True)
    finite = z[np.isfinite(z)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    for c, ax in enumerate(axes[0]):
        mesh = ax.pcolormesh(hmap.period_s[ib], hmap.swing_depth[ia] * 100, z[:, :, c],
                             shading="nearest", vmin=vmin, vmax=vmax, cmap="inferno")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("swing period [s]")
        ax.set_title(f"hA = {hmap.heat_transfer_W_per_K[c]:g} W/K", fontsize=9)
        for (a, b, cc) in hmap.errors:
            if cc == c:
                ax.plot(hmap.period_s[b], hmap.swing_depth[a] * 100, "bx", ms=5)
    axes[0, 0].set_ylabel("swing depth [% of capacity]")
    label = {"rise_K": "mean temperature rise [K]",
             "peak_rise_K": "peak temperature rise [K]"}.get(key, key)
    fig.colorbar(mesh, ax=axes[0, -1], label=label)
    fig.suptitle(title or f"{hmap.ecm_name}: periodic steady state, SOC {hmap.soc:g}, "
                 f"coolant {hmap.ambient_K - 273.15:g} degC", fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
