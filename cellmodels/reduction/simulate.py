"""Reference ECM simulator: plain, exact where it can be, and the yardstick for the rest.

The input is a zero-order-hold profile: ``value[k]`` (current [A] or power [W], discharge
positive) holds on ``[time_s[k], time_s[k+1])``. Within each interval the RC states take
the exact exponential (zero-order-hold) update with R and tau frozen at the start of the
sub-step, and so does the hysteresis state (its rate is constant at a constant current);
SOC is exact (coulomb counting); temperature takes the exact update of the linear
lumped model over the sub-step with the heat frozen. Sub-steps are at most ``max_step_s``
long, so the tables follow SOC and temperature. Edges are never smeared: every interval
boundary is a step boundary.

Outputs are sampled at ``time_s`` just after each edge (right-continuous: voltage at
``time_s[k]`` is with ``value[k]`` flowing).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, check_range
from .ecm import ECM

__all__ = ["ECMRun", "ValidityWarning", "simulate_ecm"]


class ValidityWarning(UserWarning):
    """The ECM was used outside the range it was identified over."""


@dataclass
class ECMRun:
    time_s: np.ndarray
    current_A: np.ndarray
    voltage_V: np.ndarray
    soc: np.ndarray
    temperature_K: np.ndarray
    heat_W: dict[str, np.ndarray] = field(default_factory=dict)
    rc_V: np.ndarray | None = None
    hysteresis: np.ndarray | None = None  # the state h, with an ECM that has hysteresis


def _power_to_current(e: float, r0: float, p: float, r_ct: float = 0.0,
                      i0: float = np.inf) -> float:
    """Current drawing power ``p`` from a source ``e`` behind ``r0`` (and the
    charge-transfer element ``2 i0 r_ct asinh(I / (2 i0))`` if ``r_ct > 0``): V I = P.

    Linear: the smaller root in closed form. With the element: Newton on
    ``(e - r0 I - eta(I)) I = p`` from the root of the small-signal circuit, on the branch
    below the maximum-power current (V I is concave there, so Newton converges
    monotonically from the linear root, which lies on the same side).
    """
    r_lin = r0 + r_ct
    disc = e * e - 4.0 * r_lin * p
    if r_ct == 0.0 or not np.isfinite(i0):
        if disc < 0:
            raise InputError(
                f"The power {p:.6g} W exceeds what the cell can deliver "
                f"({e * e / (4 * r_lin):.6g} W at open-circuit {e:.4f} V behind "
                f"{r_lin:.4g} Ohm).")
        return _smaller_root(e, r_lin, p, disc)
    s = 2.0 * i0
    i = _smaller_root(e, r_lin, p, max(disc, 0.0))
    for _ in range(60):
        eta = s * r_ct * np.arcsinh(i / s)
        deta = r_ct / np.sqrt(1.0 + (i / s) ** 2)
        f = (e - r0 * i - eta) * i - p
        df = e - 2.0 * r0 * i - eta - i * deta
        if df <= 0.0:
            break  # past the maximum power: p cannot be drawn
        step = f / df
        i -= step
        if abs(step) <= 1e-13 * max(1.0, abs(i)):
            return float(i)
    raise InputError(
        f"The power {p:.6g} W exceeds what the cell can deliver at open-circuit {e:.4f} V "
        f"behind R0 {r0:.4g} Ohm and the charge-transfer element (R_ct {r_ct:.4g} Ohm, "
        f"I0 {i0:.4g} A).")


def _smaller_root(e: float, r: float, p: float, disc: float) -> float:
    """The smaller root of ``r I^2 - e I + p = 0`` given ``disc = e^2 - 4 r p >= 0``, as
    ``2 p / (e + sqrt(disc))`` where ``e > 0`` (no cancellation for a small power)."""
    if e > 0.0:
        return 2.0 * p / (e + np.sqrt(disc))
    return (e - np.sqrt(disc)) / (2.0 * r)


class _ValidityGuard:
    """Warn once per run and variable when a state leaves the identified range."""

    def __init__(self, ecm: ECM) -> None:
        v = ecm.validity
        self.ranges = {
            "soc": (v.get("soc_min", ecm.soc[0]), v.get("soc_max", ecm.soc[-1])),
            "temperature_K": (v.get("temperature_min_K", ecm.temperature_K[0]),
                              v.get("temperature_max_K", ecm.temperature_K[-1])),
            "current_A": (-v.get("current_max_A", np.inf), v.get("current_max_A", np.inf)),
        }
        self.warned: set[str] = set()

    def bounds(self, name: str) -> tuple[float, float]:
        """``name``'s range widened by its tolerance: values inside it do not warn."""
        lo, hi = self.ranges[name]
        tol = self.tolerance(name)
        return lo - tol, hi + tol

    def tolerance(self, name: str) -> float:
        """How far past ``name``'s range a value may be without a warning (the FMU's C
        checks use it too)."""
        lo, hi = self.ranges[name]
        # The same tolerances as cellmodels/ups/system.py (_warn_validity; keep the two
        # consistent): a bound reached to round-off is not beyond it (1e-9 relative), and the
        # current bound is wider, 1e-5 relative, because identify.py sets current_max_A from
        # the cell's nominal capacity while users scale currents by ecm.capacity_Ah, the
        # coulomb count between the cut-offs, which differs by the DFN's solver tolerance
        # (semisolid_lfp_power: 20.00003 Ah, so "5C" is 100.000154 A against 100 A).
        rel = 1e-5 if name == "current_A" else 1e-9
        return rel * max([abs(x) for x in (lo, hi) if np.isfinite(x)] + [1.0])

    def check(self, name: str, value: float, stacklevel: int = 3) -> None:
        """Warn once for ``name`` if ``value`` is outside. ``stacklevel`` as for
        warnings.warn, counted from here: 1 check, 2 simulate_ecm, 3 simulate_ecm's caller."""
        lo, hi = self.ranges[name]
        lo_tol, hi_tol = self.bounds(name)
        if name in self.warned or lo_tol <= value <= hi_tol:
            return
        self.warned.add(name)
        out = value - hi if value > hi else lo - value
        warnings.warn(
            f"The ECM is used outside its validity: {name} = {value:.6g} is {out:.3g} outside "
            f"the identified range [{lo:.6g}, {hi:.6g}]. (Warned once per run.)",
            ValidityWarning,
            stacklevel=stacklevel,
        )


def simulate_ecm(
    ecm: ECM,
    time_s,
    *,
    current_A=None,
    power_W=None,
    initial_soc: float,
    temperature_K: float,
    ambient_K: float | None = None,
    max_step_s: float = 1.0,
    thermal: bool = True,
    initial_hysteresis: float | None = None,
) -> ECMRun:
    """Run ``ecm`` on a zero-order-hold current or power profile (see module docstring).

    Parameters
    ----------
    time_s : (n,) increasing times [s], starting at 0
    current_A, power_W : (n,) arrays; exactly one. Discharge positive.
    initial_soc : SOC at t = 0 in [0, 1], RC pairs relaxed
    temperature_K : initial cell temperature [K]
    ambient_K : coolant/ambient temperature [K]; default ``temperature_K``
    thermal : False holds the temperature at ``temperature_K``
    initial_hysteresis : the hysteresis state h(0) in [-1, 1] (-1 discharge branch, +1
        charge branch); default the ECM's ``hysteresis_initial``. Refused for an ECM
        without hysteresis.
    """
    t = np.asarray(time_s, dtype=float)
    if (current_A is None) == (power_W is None):
        raise InputError("Give exactly one of 'current_A' and 'power_W' to simulate_ecm.")
    u = np.asarray(current_A if power_W is None else power_W, dtype=float)
    if t.ndim != 1 or t.shape != u.shape or t.size < 2:
        raise InputError("The 'time_s' and input arrays must be 1-D, of equal length >= 2. "
                         f"Got shapes {t.shape} and {u.shape} instead.")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(u))):
        k = int(np.flatnonzero(~(np.isfinite(t) & np.isfinite(u)))[0])
        raise InputError(f"The profile holds NaN or inf at sample {k}.")
    if np.any(np.diff(t) <= 0):
        k = int(np.flatnonzero(np.diff(t) <= 0)[0])
        raise InputError(f"The 'time_s' array must increase. Got {float(t[k])!r} then {float(t[k + 1])!r} "
                         f"at sample {k}.")
    check_range(initial_soc, "initial_soc", "argument of simulate_ecm", 0.0, 1.0)
    check_range(temperature_K, "temperature_K", "argument of simulate_ecm", 0.0, 1000.0,
                closed=(False, True))
    check_range(max_step_s, "max_step_s", "argument of simulate_ecm", 0.0, np.inf,
                closed=(False, True))
    if ambient_K is not None:
        check_range(ambient_K, "ambient_K", "argument of simulate_ecm", 0.0, 1000.0,
                    closed=(False, True))
    if not isinstance(thermal, bool | np.bool_):
        raise InputError(f"The 'thermal' argument of simulate_ecm must be True or False. "
                         f"Got {thermal!r} instead.")
    if initial_hysteresis is not None:
        if not ecm.has_hysteresis:
            raise InputError(f"The ECM {ecm.name!r} has no hysteresis; 'initial_hysteresis' "
                             f"must be None. Got {initial_hysteresis!r}.")
        check_range(initial_hysteresis, "initial_hysteresis", "argument of simulate_ecm",
                    -1.0, 1.0)
    hys = float(ecm.hysteresis_initial if initial_hysteresis is None else initial_hysteresis
                ) if ecm.has_hysteresis else 0.0
    power_mode = power_W is not None
    t_amb = float(temperature_K if ambient_K is None else ambient_K)
    q_as = ecm.capacity_Ah * 3600.0
    c_th, ha = ecm.thermal_mass_J_per_K, ecm.heat_transfer_W_per_K
    guard = _ValidityGuard(ecm)

    n = t.size
    out_v = np.empty(n)
    out_i = np.empty(n)
    out_z = np.empty(n)
    out_T = np.empty(n)
    out_qirr = np.empty(n)
    out_qrev = np.empty(n)
    out_rc = np.empty((n, ecm.n_rc))
    out_h = np.empty(n)
    z, temp = float(initial_soc), float(temperature_K)
    v_rc = np.zeros(ecm.n_rc)

    def current_for(value: float, z: float, temp: float, v_rc: np.ndarray, hys: float,
                    time: float, k: int) -> float:
        if not power_mode:
            return value
        e = ecm.ocv(z, temp) + ecm.hysteresis(z) * hys - v_rc.sum()
        try:
            return _power_to_current(e, ecm.r0(z, temp), value, *ecm.ct(z, temp))
        except InputError as exc:  # say when: the profile may be a day long
            raise InputError(f"{exc} At t = {time:.6g} s (sample {k}), SOC {z:.4g}, "
                             f"{temp:.6g} K.") from None

    for k in range(n):
        value = u[k]
        i_now = current_for(value, z, temp, v_rc, hys, t[k], k)
        out_v[k], out_qirr[k], out_qrev[k] = ecm.terminal(z, temp, v_rc, i_now, hys)
        out_i[k], out_z[k], out_T[k] = i_now, z, temp
        out_rc[k] = v_rc
        out_h[k] = hys
        guard.check("soc", z)
        guard.check("temperature_K", temp)
        guard.check("current_A", i_now)
        if k == n - 1:
            break
        span = t[k + 1] - t[k]
        m = max(1, int(np.ceil(span / max_step_s - 1e-12)))
        h = span / m
        for step in range(m):
            i_now = current_for(value, z, temp, v_rc, hys, t[k] + step * h, k)
            if power_mode:  # the current drawing a held power moves within an interval
                guard.check("current_A", i_now)
            r0 = ecm.r0(z, temp)
            r_rc, tau = ecm.rc(z, temp)
            decay = np.exp(-h / tau)
            # heat over the sub-step: I times the RC voltages, averaged exactly over the
            # exponential (Bernardi: I (U - V), so no energy is lost or made when the
            # tables change with SOC and temperature under a charged capacitor)
            v_inf = r_rc * i_now
            q_pol = i_now * np.sum(v_inf + (v_rc - v_inf) * tau / h * (1 - decay))
            q = (r0 * i_now**2 + i_now * ecm.eta_ct(z, temp, i_now) + q_pol
                 - i_now * temp * ecm.docv_dT(z))
            if ecm.has_hysteresis and i_now != 0.0:
                # hysteresis heat -I M h, h averaged exactly over its exponential
                sgn = 1.0 if i_now > 0 else -1.0
                a = ecm.hysteresis_rate * abs(i_now) * h / q_as
                mean_h = -sgn + (hys + sgn) * (-np.expm1(-a) / a if a > 1e-12 else 1.0)
                q -= i_now * ecm.hysteresis(z) * mean_h
                hys = ecm.hysteresis_step(hys, i_now, h)
            v_rc = v_inf + (v_rc - v_inf) * decay
            z -= i_now * h / q_as
            if thermal:
                # exact for the linear node, written without T_ss = T_amb + q / hA, which
                # cancels when hA is small: dT = (q - hA (T - T_amb)) h / C phi(hA h / C),
                # phi(x) = (1 - exp(-x)) / x (1 at hA = 0: the adiabatic update)
                x = ha * h / c_th
                phi = -np.expm1(-x) / x if x > 0.0 else 1.0
                temp += (q - ha * (temp - t_amb)) * h / c_th * phi
    return ECMRun(
        time_s=t,
        current_A=out_i,
        voltage_V=out_v,
        soc=out_z,
        temperature_K=out_T,
        heat_W={"irreversible_W": out_qirr, "reversible_W": out_qrev,
                "total_W": out_qirr + out_qrev},
        rc_V=out_rc,
        hysteresis=out_h if ecm.has_hysteresis else None,
    )
