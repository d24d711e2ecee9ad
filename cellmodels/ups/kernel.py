"""The compiled kernel: a string of N_s x N_p cells of one ECM on a regular time grid.

One step of length ``h`` (the grid's ``dt_s``; the load and the grid schedule hold their
value over the step, zero-order hold, so every edge is a step boundary and none is
smeared or skipped) does, per cell, what :func:`cellmodels.reduction.simulate_ecm` does
(its equations are in :mod:`cellmodels.reduction.ecm`):

- tables at the state of the step's start (SOC ``z``, temperature ``T``): OCV
  ``U(z) + (T - T_ref) dU/dT(z)`` (linear in SOC), ``R0``, ``R_k``, ``tau_k`` (bilinear
  in SOC x T, clamped at the grid's edges). Non-uniform grids are located in O(1) through
  a bucket table built once (:func:`tables_from_ecm`); the value is the ECM's own
  bilinear interpolation, not a resampling;
- the current held over the step: given (current mode) or from the power by the closed
  form ``I = 2 P / (E + sqrt(E^2 - 4 R P))`` (the same root as simulate_ecm's
  ``(E - sqrt(E^2 - 4 R P)) / (2 R)``, without its cancellation) with ``E``, ``R`` the
  Thevenin source of the whole string for the *power hold* (below);
- the exact zero-order-hold update of every RC voltage, ``v <- v_inf + (v - v_inf)
  exp(-h/tau)`` with ``v_inf = R_k I``; the heat ``R0 I^2 + I <v>`` with ``<v>`` the
  exact mean of the exponential over the step, plus ``-I T dU/dT``; the exact update of
  the linear lumped thermal model against the coolant temperature with that heat; exact
  coulomb counting.

**The string.** Groups of ``N_p`` parallel cells are in series; all groups carry the
string current ``I``. In a group the cells share the voltage ``V_g`` and split the
current by ``I_j = (E_j - V_g) / R0_j`` with ``E_j = U_j - sum_k v_jk`` (each cell a
Thevenin source behind its R0 at the step's start: the same zero-order-hold
approximation as the single cell, and exact for N_p = 1). So a group is the source
``E_g = sum(E_j / R0_j) / sum(1 / R0_j)`` behind ``R_g = 1 / sum(1 / R0_j)``, and the
string is ``E = sum E_g`` behind ``R = sum R_g``. Cell-to-cell spread enters as per-cell
factors on the capacity and on every resistance (R0 and R_k; tau_k unchanged). A string
of identical cells can be simulated as one cell standing for ``m_s`` groups of ``m_p``
cells (``m_s``, ``m_p`` multiplicities): the same numbers at 1/(N_s N_p) of the work.

**The charge-transfer element** (an ECM with ``ct_R_Ohm``, ``ct_i0_A``: ``eta_ct = 2 I0
R_ct asinh(I / (2 I0))`` in series with R0; R_ct and I0 looked up bilinearly as R0, R_ct
times the cell's resistance factor). It adds ``eta_ct`` to each cell's drop and ``I
eta_ct`` to its irreversible heat, at the step's tables as R0. The closed form then no
longer gives the current: :func:`_ct_solve` takes the string's current (and, in parallel
groups, every cell's) by Newton from the closed-form solution of the small-signal string
(R0 + R_ct), to round-off (stopping rule :data:`CT_RTOL`); a solve that does not stop is
a failure, never a value (``simulate_string`` raises InputError naming the sample, the
UPS SolverError). In the UPS the BMS bounds start from the small-signal string; a group
voltage limit is then found exactly by Newton (:func:`_ct_vbound`); the cell current
limits are exact for one cell per group (in a parallel group with spread they follow the
small-signal split). The kernel is compiled separately for ECMs with and without the
element (``ct`` None prunes its code), so an ECM without it runs the linear kernel,
bit for bit and as fast as before.

**The OCV hysteresis** (an ECM with ``hysteresis_V``, ``hysteresis_rate``: ``M(z) h`` in
the cell's voltage, one state h per cell, ``dh/dt = -gamma |I| / Q_As (h + sign I)``). Each
cell carries its own h (its state row's last column; initial: the ECM's
``hysteresis_initial`` or :func:`init`'s ``hysteresis``). Per step, as simulate_ecm does:
``M`` at the step's start (linear in SOC as the OCV), the source ``+ M h``, h's exact
update at the held current and the heat ``-I M <h>`` with ``<h>`` h's exact mean over the
step. The start hold is then simulate_ecm's to round-off; the mean hold adds h's drift
over the step to first order in ``a = gamma |I| dt / Q_As`` (a resistance for either
sign of the current: the source is rebuilt at a reversal), the rest (at most ``M a^2 |I|
/ 3``, ~1e-13 of the power at 1C and 1 ms) booked in ``zoh_residual_J`` (see
:func:`_hy_cell`). Compiled separately as the element (``hy`` None prunes its code, in
the one-cell UPS loop too).

**The UPS** (mode ``MODE_UPS``; :mod:`cellmodels.ups.system` builds its parameters). Per
step: the load ``P_L`` (AC, W) needs ``P_inv = P_L / eta_inv`` at the inverter's input
(above the inverter's rating the rest is unserved); the controller low-passes ``P_inv``
(exact first-order discretisation, time constant ``tau_f``), adds the SOC-restoring term
``(soc_target - soc_mean) E_string / t_restore`` (limited to +-``restore_max``), turns the
DC target into a grid power through the rectifier's efficiency, limits its change to
``ramp x h`` per step and its value to the source capacity (grid, sag, outage, generator:
a piecewise-linear schedule over step indices) and the rectifier's rating; the battery
(directly on the DC link, or through a DC/DC converter) supplies the difference. The BMS
bounds the string current by every cell's current, voltage, SOC and temperature limits
and by the most power the string can give (``I <= E / (2 R)``); a demand beyond a bound is
held at the bound, the limit is counted (activations = rising edges, steps, energy
moved), and the excess goes to the grid, which then breaks its ramp limit (counted as
``grid_ramp``, as is every step whose grid change exceeds the limit for any reason, e.g.
the source dropping out) or, beyond the source's capacity, leaves the load unserved
(counted as ``unserved``, energy reported). Nothing is clipped silently.

Converter efficiencies are piecewise-linear curves ``eta(x)``, ``x`` = power / rating,
flat beyond their end points. The rectifier's and the inverter's are functions of their
output power; the DC/DC's of its DC-link-side power in both directions. Every loss is
``input - output``, so per step ``P_grid + P_battery = P_load_served + losses`` holds to
round-off.

**The power hold** (``power_hold``). ``"start"``: ``E = U - sum v``, ``R = R0`` at the
step's start, so the power at the step's start is the demand, as simulate_ecm and the FMU
do (the kernel then agrees with simulate_ecm to round-off). ``"mean"`` (the default):
``E = U - sum g_k v_k``, ``R = R0 + sum R_k (1 - g_k)`` with ``g_k = tau_k/h (1 -
exp(-h/tau_k))``, so ``(E - R I) I`` is the *mean* power over the step with ``I`` held and
the battery delivers exactly the demanded energy. The two differ by O(h): about 1e-6 of
the RC voltage swing per millisecond step.

**Energy.** Per step the battery's power ``P`` (the demand) books ``P h``; the cells'
chemistry gives ``sum U I h`` and heats ``sum (R0 I^2 + I <v>) h``, and ``P h - (sum U I h
- heat)`` is ``zoh_residual_J``: 0 to round-off with the mean hold, ``sum I (v_start -
<v>) h`` with the start hold (a few 1e-6 of the battery energy at 1 ms). So ``grid +
chemical + residual = load served + converter losses + battery heat`` closes to round-off
with every term named.

**Performance.** A cell-step is a serial chain (look-up, exp, RC and thermal update,
then the next step's source), so the kernel keeps work off it: per table interval
precomputed bilinear coefficients (4 contiguous numbers and 3 multiply-adds per value),
the table interval found by a walk from the last one (predicted branches, no loads on the
chain), a series for ``exp(-x)`` below 2^-8, the heat as ``I (I B + C)`` with ``B``, ``C``
from the look-up, multiply-adds fused (``fastmath`` "contract" only: round-off), one
division per parallel cell (``1/R``), and, for one simulated cell (a lumped string), its
numbers kept in registers. Per-step channels go to a small buffer (a few thousand steps,
rows padded off the L1 cache's set stride) that is folded into bins while it is in cache,
by loops numba vectorises (integer keys for min/max).

The one-cell UPS (the representative cell of a lumped string: the issue's speed figure)
has its own loop, :func:`_run_one` (chosen by :func:`one_cell_loop`; the same equations,
limits and counts as :func:`_run`, to round-off; checked against it through every limit
in the tests). Without a profiler, variants timed side by side showed the step bound by
the number of operations rather than by one dependency chain, so that loop does fewer:
the state, the table interval and its values and the RC elements in locals (no scratch
rows), the interval's coefficients as a view reloaded only when SOC or temperature
crosses a grid node (the same interval as the walk's), the BMS checked with a few
compares on the closed-form current (the bounds' divisions and the limit logic only
within 1e-9 of a bound), the rectifier's output taken as its target unless the grid
power was limited (its curve inverted exactly), ``exp(-x) = 1 - x g`` from the series
of ``g`` (half the series' operations, exact to round-off), and the channel sums and
extremes folded per block by vectorised loops instead of per step (sums reassociated:
round-off). Measured (validation/bench_ups.py): 63 -> ~45 ns per step on this machine.

The kernel writes every step's channels (:data:`CHANNELS`) into a buffer, folded after
each block into bins (min, max and mean per channel over ``bin_steps`` steps, so peaks
survive decimation) and spectral bins (means of load and grid power over ``spec_steps``
steps, for the PSD metrics), and kept whole on request. It is resumable: all state
lives in arrays, so a run may be cut into chunks (progress bars) with identical results.

Public API (pure steppers, as the rest of the package)::

    params = string_params(ecm, n_series=..., n_parallel=..., ...)
    state = init(params, soc=0.5, temperature_K=298.15)
    state = step(params, state, power_W=100.0, dt_s=1e-3)
    run = simulate_string(params, state, dt_s, power_W=array)   # one compiled loop

(re-exported as ``init_string``, ``step_string`` by :mod:`cellmodels.ups`).
"""

from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..errors import InputError, ParameterError, check_range, suggest
from ..reduction.ecm import ECM

__all__ = [
    "CHANNELS",
    "CHANNEL_UNITS",
    "ENERGY_TERMS",
    "LIMITS",
    "StringParams",
    "StringRun",
    "StringState",
    "init",
    "simulate_string",
    "step",
    "string_params",
]

# --- layout constants (shared with system.py and result.py) -------------------------
MODE_UPS, MODE_POWER, MODE_CURRENT = 0, 1, 2

CHANNELS = (
    "load_W", "load_served_W", "grid_W", "battery_W", "current_A", "voltage_V", "soc",
    "soc_min", "soc_max", "temperature_max_K", "cell_voltage_min_V", "cell_voltage_max_V",
    "heat_W", "loss_W", "unserved_W",
)
CHANNEL_UNITS = {
    "load_W": "W", "load_served_W": "W", "grid_W": "W", "battery_W": "W", "current_A": "A",
    "voltage_V": "V", "soc": "1", "soc_min": "1", "soc_max": "1", "temperature_max_K": "K",
    "cell_voltage_min_V": "V", "cell_voltage_max_V": "V", "heat_W": "W", "loss_W": "W",
    "unserved_W": "W",
}
(CH_LOAD, CH_SERVED, CH_GRID, CH_BATT, CH_I, CH_V, CH_SOC, CH_SOCMIN, CH_SOCMAX, CH_TMAX,
 CH_VCMIN, CH_VCMAX, CH_HEAT, CH_LOSS, CH_UNSERVED) = range(len(CHANNELS))
NCH = len(CHANNELS)

LIMITS = (
    "current_discharge", "current_charge", "voltage_min", "voltage_max", "power_max",
    "temperature_max", "temperature_min", "soc_min", "soc_max", "grid_ramp", "unserved",
    "inverter_rating",
)
(L_IDIS, L_ICHG, L_VMIN, L_VMAX, L_PMAX, L_TMAX, L_TMIN, L_SOCMIN, L_SOCMAX, L_RAMP,
 L_UNSERVED, L_INV) = range(len(LIMITS))
NLIM = len(LIMITS)

ENERGY_TERMS = (
    "grid_J", "load_demand_J", "load_served_J", "unserved_J", "battery_J",
    "battery_link_J", "loss_rectifier_J", "loss_inverter_J", "loss_dcdc_J",
    "battery_chemical_J", "battery_irreversible_heat_J", "battery_reversible_heat_J",
    "heat_to_coolant_J", "zoh_residual_J", "throughput_As", "current_squared_A2s",
)
(E_GRID, E_LOAD, E_SERVED, E_UNSERVED, E_BATT, E_LINK, E_LRECT, E_LINV, E_LDCDC, E_CHEM,
 E_IRR, E_REV, E_COOL, E_RESID, E_THRU, E_I2) = range(len(ENERGY_TERMS))
NACC = len(ENERGY_TERMS)

# run statistics (float): extremes over the run, for validity and metrics
(S_ZMIN, S_ZMAX, S_TMIN, S_TMAX, S_IABS, S_GRAMP, S_LRAMP, S_PF, S_PGPREV, S_VCMIN,
 S_VCMAX, S_PLPREV) = range(12)
NSTAT = 12
# integer state
(K_STEP, K_SEG, K_BIN, K_BINN, K_SPEC, K_SPECN, K_FAIL, K_FULL) = range(8)
NISTATE = 8

Tables = namedtuple("Tables", "soc soc_bucket soc_b0 soc_inv_db temp temp_bucket temp_b0 "
                              "temp_inv_db flat_T coef width t_ref n_rc tau_min has_ct "
                              "has_hys hys_off hys_rate")
Cells = namedtuple("Cells", "n_s n_p m_s m_p inv_q_As rmul c_th ha t_cool mean_hold")
BMS = namedtuple("BMS", "i_dis i_chg v_min v_max t_min t_max soc_min soc_max")
Curve = namedtuple("Curve", "rated inv_rated x eta a b pin pout")
Plant = namedtuple("Plant", "rect inv dcdc has_dcdc")
Control = namedtuple("Control", "smoothing tau_f ramp soc_target e_string restore_s "
                                "restore_max")
Schedule = namedtuple("Schedule", "start value slope")


# =====================================================================================
# compiled code
# =====================================================================================
# scratch row of a cell (its look-ups at the present state), width 8 + 3 n_rc:
# [E_hold, R_hold, 1/R_hold, U, dU/dT, r0, B, C, (R_k, exp(-h/tau_k), g_k) per element]
# with B = r0 + sum R_k (1 - g_k), C = sum g_k v_k - T dU/dT: the step's heat is then
# I (I B + C) (see _lookup)
R_EH, R_RH, R_GH, R_U, R_DU, R_R0, R_B, R_C = range(8)
NSCR0 = 8
_X_SERIES = 0.00390625  # below this h/tau (2^-8), exp(-x) by its series (exact)


@njit(inline="always", error_model="numpy")
def _expneg(x):
    """``exp(-x)`` and ``(1 - exp(-x)) / x`` for x > 0.

    Below 2^-8 (tau > 0.26 s at 1 ms steps) ``g = (1 - exp(-x)) / x`` by its Taylor
    series to x^5, evaluated by Estrin's scheme (truncation x^6/5040 < 7e-19 relative:
    exact in double precision), and ``exp(-x) = 1 - x g`` (``x g`` < 2^-8, so g's last-bit error
    enters exp(-x) 256 times smaller: exact to round-off), shorter on the step's
    dependency chain than the library exp and half the series' operations; else the
    library's.
    """
    if x < _X_SERIES:
        x2 = x * x
        x4 = x2 * x2
        g = ((1.0 - x * 0.5) + x2 * (1.0 / 6 - x * (1.0 / 24))
             + x4 * (1.0 / 120 - x * (1.0 / 720)))
        return 1.0 - x * g, g
    d = math.exp(-x)
    return d, (1.0 - d) / x


@njit(inline="always", error_model="numpy")
def _locate(x, grid, n, bucket, nb, b0, inv_db):
    """Interval ``i`` with grid[i] <= x <= grid[i+1] (x already clamped to the grid) in
    O(1): the bucket table's buckets are at most half the grid's smallest spacing, so the
    bucket's interval is off by at most one (round-off in the bucket index included)."""
    b = int((x - b0) * inv_db)
    if b < 0:
        b = 0
    elif b >= nb:
        b = nb - 1
    i = bucket[b]
    while i < n - 2 and x >= grid[i + 1]:
        i += 1
    while i > 0 and x < grid[i]:
        i -= 1
    return i


@njit(inline="always", error_model="numpy")
def _walk(x, grid, n, i):
    """Interval of ``x`` from the interval ``i`` it was in at the step before: the index
    then depends on ``x`` only through predicted branches, not through loads."""
    while i < n - 2 and x >= grid[i + 1]:
        i += 1
    while i > 0 and x < grid[i]:
        i -= 1
    return i


@njit(inline="always", error_model="numpy")
def _bil(coef, b, dz, dt):
    """A bilinear table value from its interval's coefficients ``coef[b:b+4]``."""
    return (coef[b] + coef[b + 1] * dt) + dz * (coef[b + 2] + coef[b + 3] * dt)


@njit(inline="always", error_model="numpy")
def _lookup(coef, base, dz, dt, temp, tref, n_rc, h, rmul, mean_hold, cs, scr, c, hy, hoff,
            hcol, k_c, sgn, hy0):
    """Tables of cell ``c`` at its state (``dz``, ``dt`` from its table interval's corner,
    ``tdev`` = T - T_ref; RC voltages ``cs[c, 2:]``) into ``scr[c]``.

    The interval's coefficients (:func:`tables_from_ecm`) give the ECM's own bilinear
    interpolation. Row: [E_hold, R_hold, 1/R_hold, U, dU/dT, r0, (R_k, exp(-h/tau_k),
    g_k)..] with ``g_k = tau_k/h (1 - exp(-h/tau_k))`` (the mean of the exponential over
    a step) and the cell's source for the power hold: start ``E = U - sum v``, ``R = r0``;
    mean ``E = U - sum g v``, ``R = r0 + sum R_k (1 - g_k)`` (then ``(E - R I) I`` is the
    mean power over the step with ``I`` held). Also ``B = r0 + sum R_k (1 - g_k)`` and
    ``C = sum g_k v_k - T dU/dT``: with ``I`` held the step's mean RC voltage is
    ``<v> = I (B - r0) + sum g_k v_k``, so its heat ``r0 I^2 + I <v> - I T dU/dT`` is
    ``I (I B + C)``: two operations after ``I`` on the step's dependency chain instead of
    the RC update's. Returns (E_hold, R_hold, 1/R_hold, U, dU/dT, r0, B, C).

    ``hy`` (not None: the OCV hysteresis, see :func:`_hy_cell`): ``M`` from the row at
    ``hoff``, the state h from ``cs[c, hcol]``; the hold source gains ``M h`` and, with
    the mean hold, the hysteresis's hold resistance for a current of sign ``sgn`` (``k_c``
    the cell's ``gamma dt / Q_As``); its columns from ``hy0``.
    """
    du = coef[base + 2] + coef[base + 3] * dz
    uu = (coef[base] + coef[base + 1] * dz) + (temp - tref) * du
    r0 = _bil(coef, base + 4, dz, dt) * rmul
    e_start = uu
    e_mean = uu
    r_mean = r0
    for k in range(n_rc):
        b = base + 8 + 8 * k
        rk = _bil(coef, b, dz, dt) * rmul
        tau = _bil(coef, b + 4, dz, dt)
        decay, g = _expneg(h / tau)
        s = NSCR0 + 3 * k
        scr[c, s] = rk
        scr[c, s + 1] = decay
        scr[c, s + 2] = g
        v = cs[c, 2 + k]
        e_start -= v
        e_mean -= g * v
        r_mean += rk * (1.0 - g)
    if mean_hold:
        eh = e_mean
        rh = r_mean
    else:
        eh = e_start
        rh = r0
    if hy is not None:
        m = coef[base + hoff] + coef[base + hoff + 1] * dz
        hh = cs[c, hcol]
        eh += m * hh
        scr[c, hy0 + HY_M] = m
        if mean_hold:
            half = 0.5 * m * k_c
            rp = half * (1.0 + hh)
            rn = half * (1.0 - hh)
            scr[c, hy0 + HY_RH0] = rh
            scr[c, hy0 + HY_RP] = rp
            scr[c, hy0 + HY_RN] = rn
            rh = rh + (rp if sgn > 0.0 else rn)
    gh = 1.0 / rh
    cc = (uu - e_mean) - temp * du
    scr[c, R_EH] = eh
    scr[c, R_RH] = rh
    scr[c, R_GH] = gh
    scr[c, R_U] = uu
    scr[c, R_DU] = du
    scr[c, R_R0] = r0
    scr[c, R_B] = r_mean
    scr[c, R_C] = cc
    return eh, rh, gh, uu, du, r0, r_mean, cc


@njit(inline="always", error_model="numpy")
def _cell_at(tb, cs, scr, idx, c, z, t, h, rmul, mean_hold, walk, hy, hcol, k_c, sgn, hy0):
    """Locate cell ``c``'s state (SOC ``z``, temperature ``t``) in the tables (from its
    last intervals when ``walk``, else in O(1)) and look its values up (:func:`_lookup`;
    ``hy`` .. ``hy0``: its hysteresis, there).
    """
    (soc, sbk, sb0, sinv, tg, tbk, tb0, tinv, flat, coef, width, tref, n_rc, _tau_min,
     _has_ct, _has_hys, hoff, _hys_rate) = tb
    ns = soc.shape[0]
    zc = min(max(z, soc[0]), soc[ns - 1])
    if walk:
        i = _walk(zc, soc, ns, idx[c, 0])
    else:
        i = _locate(zc, soc, ns, sbk, sbk.shape[0], sb0, sinv)
    idx[c, 0] = i
    nt = tg.shape[0]
    if flat:
        j = 0
        dt = 0.0
    else:
        tc = min(max(t, tg[0]), tg[nt - 1])
        if walk:
            j = _walk(tc, tg, nt, idx[c, 1])
        else:
            j = _locate(tc, tg, nt, tbk, tbk.shape[0], tb0, tinv)
        idx[c, 1] = j
        dt = tc - tg[j]
    base = (i * (nt - 1) + j) * width
    return _lookup(coef, base, zc - soc[i], dt, t, tref, n_rc, h, rmul, mean_hold, cs, scr, c,
                   hy, hoff, hcol, k_c, sgn, hy0)


@njit(inline="always", error_model="numpy")
def _group_source(n_p, eh, rh, gh, gsum, ssum, md, mc, m_p, inv_mp, v_min, v_max):
    """A group of parallel cells as one Thevenin source, and its current bounds.

    ``gsum = sum m_p / R_j``, ``ssum = sum m_p E_j / R_j`` over its cells (for one cell,
    its own ``eh``, ``rh``, ``gh = 1/rh`` stand for ``m_p`` copies); ``md``, ``mc`` the
    smallest ``i_dis R_j - E_j`` and largest ``-i_chg R_j - E_j``. The group is ``E_g``
    behind ``R_g``; a group current ``I`` puts ``V_g = E_g - R_g I`` on its cells, so cell
    ``j``'s current ``(E_j - V_g) / R_j`` reaches its discharge limit at ``I = (E_g + md)
    / R_g``, and the group's voltage reaches ``v_min`` at ``(E_g - v_min) / R_g``.
    Returns (E_g, R_g, discharge bound, charge bound, v_min bound, v_max bound) [V, Ohm, A].
    """
    if n_p == 1:
        eg = eh
        rg = rh * inv_mp
        gg = m_p * gh
    else:
        rg = 1.0 / gsum
        eg = ssum * rg
        gg = gsum
    return eg, rg, (eg + md) * gg, (eg + mc) * gg, (eg - v_min) * gg, (eg - v_max) * gg


@njit(inline="always", error_model="numpy")
def _eff(xs, eta, a, b, x):
    """eta(x) of a piecewise-linear curve, flat beyond its end points."""
    n = xs.shape[0]
    if x <= xs[0]:
        return eta[0]
    if x >= xs[n - 1]:
        return eta[n - 1]
    s = 0
    while x >= xs[s + 1]:
        s += 1
    return a[s] + b[s] * x


@njit(inline="always", error_model="numpy")
def _in_of_out(inv_rated, xs, eta, a, b, p_out):
    """Input power for an output ``p_out`` >= 0 (eta a function of the output)."""
    if p_out <= 0.0:
        return 0.0
    return p_out / _eff(xs, eta, a, b, p_out * inv_rated)


@njit(inline="always", error_model="numpy")
def _out_of_in(inv_rated, pin, eta, a, b, p_in):
    """Output power for an input ``p_in`` >= 0 (eta a function of the output): exact."""
    if p_in <= 0.0:
        return 0.0
    n = pin.shape[0]
    if p_in <= pin[0]:
        return eta[0] * p_in
    if p_in >= pin[n - 1]:
        return eta[n - 1] * p_in
    s = 0
    while p_in >= pin[s + 1]:
        s += 1
    # p_in = p_out / (a + b p_out / R)  =>  p_out = a p_in / (1 - b p_in / R)
    return a[s] * p_in / (1.0 - b[s] * p_in * inv_rated)


@njit(cache=True, error_model="numpy")
def _in_of_out_xin(inv_rated, pout, eta, a, b, p_out):
    """Input for an output ``p_out`` >= 0 when eta is a function of the input: exact."""
    if p_out <= 0.0:
        return 0.0
    n = pout.shape[0]
    if p_out <= pout[0]:
        return p_out / eta[0]
    if p_out >= pout[n - 1]:
        return p_out / eta[n - 1]
    s = 0
    while p_out >= pout[s + 1]:
        s += 1
    # p_out = (a + b p_in / R) p_in  =>  p_in = 2 p_out / (a + sqrt(a^2 + 4 b p_out / R))
    aa = a[s]
    return 2.0 * p_out / (aa + math.sqrt(aa * aa + 4.0 * b[s] * p_out * inv_rated))


@njit(inline="always", error_model="numpy")
def _walk_seg(xs, x, s):
    """Segment ``s`` with ``xs[s] <= x < xs[s+1]`` for ``xs[0] < x < xs[-1]``, walked from
    the segment of the step before (the same segment as a walk from 0: the step's
    converter powers move little between steps, so the walk is a compare or two)."""
    n = xs.shape[0]
    while s < n - 2 and x >= xs[s + 1]:
        s += 1
    while s > 0 and x < xs[s]:
        s -= 1
    return s


@njit(inline="always", error_model="numpy")
def _in_of_out_c(inv_rated, xs, eta, a, b, p_out, s):
    """:func:`_in_of_out` from the cached segment ``s``. Returns (input, segment)."""
    if p_out <= 0.0:
        return 0.0, s
    x = p_out * inv_rated
    n = xs.shape[0]
    if x <= xs[0]:
        return p_out / eta[0], s
    if x >= xs[n - 1]:
        return p_out / eta[n - 1], s
    s = _walk_seg(xs, x, s)
    return p_out / (a[s] + b[s] * x), s


@njit(inline="always", error_model="numpy")
def _out_of_in_c(inv_rated, pin, eta, a, b, p_in, s):
    """:func:`_out_of_in` from the cached segment ``s``. Returns (output, segment)."""
    if p_in <= 0.0:
        return 0.0, s
    n = pin.shape[0]
    if p_in <= pin[0]:
        return eta[0] * p_in, s
    if p_in >= pin[n - 1]:
        return eta[n - 1] * p_in, s
    s = _walk_seg(pin, p_in, s)
    return a[s] * p_in / (1.0 - b[s] * p_in * inv_rated), s


@njit(cache=True, error_model="numpy")
def curve_in_of_out(c, p_out):
    """Input power of converter curve ``c`` for an output ``p_out`` (Python helper)."""
    return _in_of_out(c.inv_rated, c.x, c.eta, c.a, c.b, p_out)


@njit(cache=True, error_model="numpy")
def curve_out_of_in(c, p_in):
    """Output power of converter curve ``c`` for an input ``p_in`` (Python helper)."""
    return _out_of_in(c.inv_rated, c.pin, c.eta, c.a, c.b, p_in)


@njit(inline="always", error_model="numpy")
def _battery_of_link(has, inv_rated, xs, eta, a, b, p_link):
    """Battery-side power for a DC-link-side power (discharge positive); eta of the link
    side in both directions."""
    if not has:
        return p_link
    if p_link >= 0.0:  # battery -> link: link = eta(link) battery
        return _in_of_out(inv_rated, xs, eta, a, b, p_link)
    # link -> battery: battery = eta(link) link
    return -_eff(xs, eta, a, b, -p_link * inv_rated) * (-p_link)


@njit(cache=True, error_model="numpy")
def _link_of_battery(has, inv_rated, pin, pout, eta, a, b, p_batt):
    """DC-link-side power for a battery-side power (inverse of _battery_of_link)."""
    if not has:
        return p_batt
    if p_batt >= 0.0:
        return _out_of_in(inv_rated, pin, eta, a, b, p_batt)
    return -_in_of_out_xin(inv_rated, pout, eta, a, b, -p_batt)


@njit(inline="always", error_model="numpy")
def _power_to_current(e, r, p):
    """Current that draws ``p`` from ``e`` behind ``r``; NaN when beyond the maximum."""
    disc = e * e - 4.0 * r * p
    if disc < 0.0:
        return np.nan
    return 2.0 * p / (e + math.sqrt(disc))


# ---- the charge-transfer element (ECMs with ct_R_Ohm; see cellmodels.reduction.ecm) ---
# eta_ct(I) = 2 I0 R_ct asinh(I / (2 I0)) in series with R0. Its columns in a cell's
# scratch row, from ``c0 = NSCR0 + 3 n_rc``: amplitude 2 I0 R_ct, 1/(2 I0), R_ct (the
# small-signal resistance, looked up bilinearly as R0, times the cell's resistance factor;
# I0 is not scaled), then the power solve's iterate: the cell current, and the cell's
# tangent source E', R', 1/R' there.
CT_A, CT_IS, CT_RCT, CT_I, CT_E, CT_R, CT_G = range(7)
NCT = 7
# The string's current with the element: Newton on the cells' equations (below). Stop when
# every cell current moved by at most CT_RTOL (|I_j| + 2 I0_j) in an iteration: the
# convergence is quadratic, so what is left is ~CT_RTOL^2 relative (round-off); a solve
# not stopped in CT_MAXIT iterations is a failure (never returned as a value).
CT_RTOL = 1e-10
CT_MAXIT = 40


@njit(inline="always", error_model="numpy")
def _ct_at(tb, idx, scr, c, z, t, rmul, c0):
    """Cell ``c``'s element at its state (intervals in ``idx`` from :func:`_cell_at`
    just before) into ``scr[c, c0:]``. Returns its small-signal resistance R_ct."""
    soc = tb.soc
    tg = tb.temp
    nt = tg.shape[0]
    i = idx[c, 0]
    zc = min(max(z, soc[0]), soc[soc.shape[0] - 1])
    if tb.flat_T:
        j = 0
        dt = 0.0
    else:
        j = idx[c, 1]
        dt = min(max(t, tg[0]), tg[nt - 1]) - tg[j]
    base = (i * (nt - 1) + j) * tb.width + 8 + 8 * tb.n_rc
    dz = zc - soc[i]
    rct = _bil(tb.coef, base, dz, dt) * rmul
    s = 2.0 * _bil(tb.coef, base + 4, dz, dt)
    scr[c, c0 + CT_A] = s * rct
    scr[c, c0 + CT_IS] = 1.0 / s
    scr[c, c0 + CT_RCT] = rct
    return rct


@njit(inline="always", error_model="numpy")
def _ct_eta(scr, c, c0, i):
    """eta_ct of cell ``c`` at the current ``i`` [V]."""
    return scr[c, c0 + CT_A] * math.asinh(i * scr[c, c0 + CT_IS])


@njit(inline="always", error_model="numpy")
def _ct_tangent(scr, c, c0):
    """Cell ``c``'s hold source linearised at its current iterate ``I_j``: with
    ``eta' = R_ct / sqrt(1 + (I_j / 2 I0)^2)`` the cell is ``E' = E - eta(I_j) + eta' I_j``
    behind ``R' = R + eta'`` (exact at ``I_j``). Returns (E', R', 1/R')."""
    i = scr[c, c0 + CT_I]
    x = i * scr[c, c0 + CT_IS]
    d = scr[c, c0 + CT_RCT] / math.sqrt(1.0 + x * x)
    e = scr[c, R_EH] - scr[c, c0 + CT_A] * math.asinh(x) + d * i
    r = scr[c, R_RH] + d
    g = 1.0 / r
    scr[c, c0 + CT_E] = e
    scr[c, c0 + CT_R] = r
    scr[c, c0 + CT_G] = g
    return e, r, g


@njit(cache=True, error_model="numpy", _nrt=False)  # no allocation: see _run
def _ct_solve(power, target, n_s, n_p, m_s, m_p, scr, grp, c0):
    """The string current with the charge-transfer element, for a string current
    (``power`` False: the group split) or a battery power ``target`` (True).

    Unknowns: every cell's current ``I_j``, the groups' voltages and the string current.
    Each iteration linearises every cell's element at its ``I_j`` (:func:`_ct_tangent`),
    solves the linearised string exactly (group sources as :func:`_group_source`, the
    power by the closed form) and takes the cells' currents from it: Newton's method on
    the cells' equations (quadratic convergence), started at ``I_j = 0``, so the first
    iterate is the closed-form solution of the small-signal (linear, R0 + R_ct) string.
    For one cell (or groups of one) and a power, the iterates after the first decrease
    monotonically to the root (the element's tangent bounds it on the side that makes
    every linearised power curve lie below the true one). Where a linearised string cannot
    give the power the iterate is its maximum-power current and the iteration goes on;
    it fails if the last iterate was such a point. Stopping rule: :data:`CT_RTOL`.

    Returns (current, E, R, ok): ``grp`` and ``scr[:, c0 + CT_*]`` hold the tangent
    sources at the solution, so the string voltage is ``E - R current`` and group ``g``'s
    is ``grp[g, 0] - grp[g, 1] current`` (to the stopping rule's ~1e-20 relative).
    """
    n = n_s * n_p
    inv_mp = 1.0 / m_p
    for c in range(n):
        scr[c, c0 + CT_I] = 0.0
    current = 0.0
    es = 0.0
    rs = 1.0
    for _it in range(CT_MAXIT):
        es = 0.0
        rs = 0.0
        for g in range(n_s):
            if n_p == 1:
                e, r, _g = _ct_tangent(scr, g, c0)
                eg = e
                rg = r * inv_mp
            else:
                gsum = 0.0
                ssum = 0.0
                for p in range(n_p):
                    e, _r, gc = _ct_tangent(scr, g * n_p + p, c0)
                    gsum += m_p * gc
                    ssum += m_p * e * gc
                rg = 1.0 / gsum
                eg = ssum * rg
            grp[g, 0] = eg
            grp[g, 1] = rg
            es += eg
            rs += rg
        es *= m_s
        rs *= m_s
        vertex = False
        if power:
            disc = es * es - 4.0 * rs * target
            if disc < 0.0:
                current = es / (2.0 * rs)
                vertex = True
            else:
                current = 2.0 * target / (es + math.sqrt(disc))
        else:
            current = target
        done = True
        for g in range(n_s):
            vg = grp[g, 0] - grp[g, 1] * current
            for p in range(n_p):
                c = g * n_p + p
                if n_p == 1:
                    ic = current * inv_mp
                else:
                    ic = (scr[c, c0 + CT_E] - vg) * scr[c, c0 + CT_G]
                old = scr[c, c0 + CT_I]
                if abs(ic - old) > CT_RTOL * (abs(ic) + 1.0 / scr[c, c0 + CT_IS]):
                    done = False
                scr[c, c0 + CT_I] = ic
        if done:
            return current, es, rs, not vertex
    return current, es, rs, False


@njit(cache=True, error_model="numpy", _nrt=False)  # no allocation: see _run
def _ct_vbound(i_start, v_lim, n_s, n_p, m_s, m_p, scr, grp, c0):
    """The string current at which the lowest (``v_lim`` a minimum, ``i_start`` >= 0) or
    highest (a maximum, ``i_start`` < 0) group voltage is ``v_lim``, with the element.

    Newton on that group's ``V_g(I) - v_lim`` (slope ``-R'_g``, the tangent resistance
    from :func:`_ct_solve`), from the small-signal bound ``i_start``: a group's voltage is
    convex in I for discharge and concave for charge, so the iterates move monotonically
    from the small-signal bound (which the true voltage has not reached) to the root.
    Stopping rule as :data:`CT_RTOL` (on the step, relative to ``|I|`` + 1 mA). Returns
    (current, ok).
    """
    lower = i_start >= 0.0
    cur = i_start
    for _it in range(CT_MAXIT):
        _c, _e, _r, ok = _ct_solve(False, cur, n_s, n_p, m_s, m_p, scr, grp, c0)
        if not ok:
            return cur, False
        vw = grp[0, 0] - grp[0, 1] * cur
        rw = grp[0, 1]
        for g in range(1, n_s):
            vg = grp[g, 0] - grp[g, 1] * cur
            if (vg < vw) if lower else (vg > vw):
                vw = vg
                rw = grp[g, 1]
        step = (vw - v_lim) / rw
        cur += step
        if abs(step) <= CT_RTOL * (abs(cur) + 1e-3):
            return cur, True
    return cur, False


# ---- the OCV hysteresis (ECMs with hysteresis_V; see cellmodels.reduction.ecm) --------
# One state h per cell (the last column of the cell's state row, after its RC voltages):
# dh/dt = -gamma |I| / Q_As (h + sign I), so with I held over a step, exactly,
# h' = -s + (h + s) exp(-a) and its mean over the step <h> = -s + (h + s) (1 - exp(-a)) / a,
# a = gamma |I| dt / Q_As, s = sign I (h unchanged at I = 0). The cell's voltage gains M(z) h
# (M at the step's start, as the OCV), its irreversible heat -I M <h>. Its columns in the
# cell's scratch row, from ``hy0 = NSCR0 + 3 n_rc (+ NCT)``: M, the hold resistance
# without the hysteresis, and the hysteresis's hold resistance for either sign of I:
# with the mean hold, ``M (<h> - h) = -M (h + s) (1 - g(a))`` with ``g(a) = (1 - exp(-a)) /
# a = 1 - a/2 + O(a^2)`` is ``-R_s I`` to first order, ``R_s = M k (1 + s h) / 2``, ``k =
# gamma dt / Q_As`` (a = k |I|): linear in I for each sign, a kink at I = 0. So the hold
# source of a step depends on the sign of its current, which is the sign of its demand
# (the string's current, or power: V > 0): :func:`_hy_resource` rebuilds the string's
# source when a demand's sign differs from the one its sources were built for (a
# reversal). What the first order leaves, ``M (h + s) (g(a) - 1 + a/2) I``, at most
# ``M a^2 |I| / 3`` (a ~ 1e-5 at 1C and 1 ms: ~1e-13 of the power), is booked in
# ``zoh_residual_J``, as is the first-order term of a parallel cell whose current runs
# against its string's (its hold taken for the string's sign; only near a zero string
# current). The start hold is linear (``E = U + M h - sum v``, ``R = R0``): no sign.
HY_M, HY_RH0, HY_RP, HY_RN = range(4)
NHY = 4


@njit(inline="always", error_model="numpy")
def _hy_cell(scr, cs, c, hy0, hcol, k_c, ic):
    """Cell ``c``'s hysteresis over a step at the current ``ic`` (exact): advances its
    state h and returns ``M <h>``, the mean hysteresis voltage over the step (its heat is
    ``-ic M <h>``)."""
    hh = cs[c, hcol]
    m = scr[c, hy0 + HY_M]
    if ic == 0.0:
        return m * hh
    sg = 1.0 if ic > 0.0 else -1.0
    decay, g = _expneg(k_c * abs(ic))
    cs[c, hcol] = -sg + (hh + sg) * decay
    return m * (-sg + (hh + sg) * g)


@njit(inline="always", error_model="numpy")
def _hy_resource(sgn, n_s, n_p, m_p, inv_mp, i_dis, i_chg, v_min, v_max, scr, grp, c0, hy0,
                 ct):
    """The string's hold source and BMS bounds (as the look-up loops of :func:`_run` form
    them, bit for bit) with every cell's hysteresis hold resistance for a current of sign
    ``sgn`` (mean hold). Returns (E, R, discharge, charge, v_min and v_max bounds), E and
    R before the factor m_s."""
    es = 0.0
    rs = 0.0
    b_dis = np.inf
    b_vmin = np.inf
    b_chg = -np.inf
    b_vmax = -np.inf
    for g in range(n_s):
        gsum = 0.0
        ssum = 0.0
        md = np.inf
        mc = -np.inf
        eh = 0.0
        rh = 1.0
        gh = 1.0
        for p in range(n_p):
            c = g * n_p + p
            rh = scr[c, hy0 + HY_RH0] + (scr[c, hy0 + HY_RP] if sgn > 0.0
                                         else scr[c, hy0 + HY_RN])
            gh = 1.0 / rh
            scr[c, R_RH] = rh
            scr[c, R_GH] = gh
            eh = scr[c, R_EH]
            if ct is not None:  # the small-signal source, for the BMS bounds
                rh = rh + scr[c, c0 + CT_RCT]
                gh = 1.0 / rh
            gsum += m_p * gh
            ssum += m_p * eh * gh
            md = min(md, i_dis * rh - eh)
            mc = max(mc, -i_chg * rh - eh)
        eg, rg, bd, bc, bvn, bvx = _group_source(n_p, eh, rh, gh, gsum, ssum, md, mc, m_p,
                                                 inv_mp, v_min, v_max)
        grp[g, 0] = eg
        grp[g, 1] = rg
        es += eg
        rs += rg
        b_dis = min(b_dis, bd)
        b_chg = max(b_chg, bc)
        b_vmin = min(b_vmin, bvn)
        b_vmax = max(b_vmax, bvx)
    return es, rs, b_dis, b_chg, b_vmin, b_vmax


@njit(inline="always", error_model="numpy")
def _hy_switch(x, s_src, es, rs, b_dis, b_chg, b_vmin, b_vmax, rh1, n_s, n_p, m_s, m_p,
               inv_mp, i_dis, i_chg, v_min, v_max, scr, grp, c0, hy0, ct):
    """The string's source for a demand ``x`` (current or power; mean hold with
    hysteresis): unchanged when its sign is the one the sources were built for
    (``s_src``) or it is 0, else rebuilt by :func:`_hy_resource`. Returns (s_src, E, R,
    the four bounds, cell 0's R_hold)."""
    sd = 1.0 if x > 0.0 else (-1.0 if x < 0.0 else s_src)
    if sd == s_src:
        return s_src, es, rs, b_dis, b_chg, b_vmin, b_vmax, rh1
    es, rs, b_dis, b_chg, b_vmin, b_vmax = _hy_resource(sd, n_s, n_p, m_p, inv_mp, i_dis,
                                                        i_chg, v_min, v_max, scr, grp, c0,
                                                        hy0, ct)
    return sd, es * m_s, rs * m_s, b_dis, b_chg, b_vmin, b_vmax, scr[0, R_RH]


@njit(cache=True, error_model="numpy")
def _mark(flags, lim_count, lim_steps, lim_energy, kind, energy):
    """Count one step of an active limit (an activation on its rising edge)."""
    if flags[kind] == 0:
        lim_count[kind] += 1
    flags[kind] = 2  # 2: active this step; becomes 1 at the step's end, then 0
    lim_steps[kind] += 1
    lim_energy[kind] += energy


# The folding of a block into bins is a reduction over each channel's row, which numba
# vectorises only in a form LLVM recognises: sums with reassociation allowed (their order
# then differs from a serial sum by round-off), and min/max on integers: a double's bits
# ``b`` as int64, mapped by ``b ^ ((b >> 63) & 0x7FF..F)`` (an involution), order as the
# doubles do (exact; -0.0 before +0.0). No value is NaN (a failed power solve stops the
# run before its step is recorded).
_FOLD_FM = {"reassoc", "nnan", "nsz"}
_MAG = 0x7FFFFFFFFFFFFFFF


@njit(inline="always", error_model="numpy")
def _okey(bits):
    """Order-preserving int64 key of a double's bits (and back: it is an involution)."""
    return bits ^ ((bits >> 63) & _MAG)


@njit(inline="always", error_model="numpy")
def _kval(key, sc, isc):
    """The double of an order key (:func:`_okey`), through ``sc`` (1 double) and ``isc``
    (the same memory as int64)."""
    isc[0] = _okey(key)
    return sc[0]


@njit(inline="always", error_model="numpy")
def _fold_row(row, irow, a, b, lo, hi):
    """Sum of ``row[a:b]`` and the running min and max keys ``lo``, ``hi`` (``irow`` is
    ``row``'s bits as int64)."""
    v = row[a:b]  # views indexed from 0: numba then knows no index is negative (no
    iv = irow[a:b]  # wrap-around select per element) and vectorises the loop
    sm = 0.0
    for r in range(v.shape[0]):
        sm += v[r]
        k = _okey(iv[r])
        lo = min(lo, k)
        hi = max(hi, k)
    return lo, hi, sm


@njit(inline="always", error_model="numpy")
def _sum_row(row, a, b):
    v = row[a:b]
    sm = 0.0
    for r in range(v.shape[0]):
        sm += v[r]
    return sm


@njit(cache=True, error_model="numpy", fastmath=_FOLD_FM)
def _reduce(buf, ibuf, n, bins, bin_acc, ibin_acc, ist, bin_steps, spec, spec_acc,
            spec_steps):
    """Fold ``n`` steps of per-step channel values ``buf[q, k]`` into the decimation bins
    (min, max, mean) and the spectral bins (means of load and grid power).

    Bins may straddle calls: the partial bin lives in ``bin_acc`` (min, max, sum rows)
    and ``ist[K_BINN]`` (its steps so far); likewise ``spec_acc`` and ``ist[K_SPECN]``.
    ``ibuf``, ``ibin_acc``: the same memory as int64 (:func:`_okey`).
    """
    bmin = bin_acc[0]
    bmax = bin_acc[1]
    bsum = bin_acc[2]
    k = 0
    while k < n:
        have = ist[K_BINN]
        take = min(bin_steps - have, n - k)
        for q in range(NCH):
            lo, hi, sm = _fold_row(buf[q], ibuf[q], k, k + take, _okey(ibin_acc[0, q]),
                                   _okey(ibin_acc[1, q]))
            ibin_acc[0, q] = _okey(lo)
            ibin_acc[1, q] = _okey(hi)
            bsum[q] += sm
        have += take
        k += take
        if have == bin_steps:
            _flush_bin(bins, bmin, bmax, bsum, ist, have)
            have = 0
        ist[K_BINN] = have
    # spectral bins: the open one, then whole bins in one tight loop, then the tail
    load = buf[CH_LOAD]
    grid = buf[CH_GRID]
    m = spec_steps
    k = 0
    have = ist[K_SPECN]
    if have > 0:
        take = min(m - have, n)
        spec_acc[0] += _sum_row(load, 0, take)
        spec_acc[1] += _sum_row(grid, 0, take)
        have += take
        k = take
        if have == m:
            _flush_spec(spec, spec_acc, ist, have)
            have = 0
    whole = (n - k) // m
    s0 = ist[K_SPEC]
    inv_m = 1.0 / m
    for b in range(whole):
        a0 = k + b * m
        spec[s0 + b, 0] = _sum_row(load, a0, a0 + m) * inv_m
        spec[s0 + b, 1] = _sum_row(grid, a0, a0 + m) * inv_m
    ist[K_SPEC] = s0 + whole
    k += whole * m
    if k < n:
        spec_acc[0] += _sum_row(load, k, n)
        spec_acc[1] += _sum_row(grid, k, n)
        have += n - k
    ist[K_SPECN] = have


@njit(cache=True, error_model="numpy")
def _flush_bin(bins, bmin, bmax, bsum, ist, n):
    b = ist[K_BIN]
    for q in range(NCH):
        bins[b, q, 0] = bmin[q]
        bins[b, q, 1] = bmax[q]
        bins[b, q, 2] = bsum[q] / n
        bmin[q] = np.inf
        bmax[q] = -np.inf
        bsum[q] = 0.0
    ist[K_BIN] = b + 1


@njit(cache=True, error_model="numpy")
def _flush_spec(spec, spec_acc, ist, m):
    s = ist[K_SPEC]
    spec[s, 0] = spec_acc[0] / m
    spec[s, 1] = spec_acc[1] / m
    spec_acc[0] = 0.0
    spec_acc[1] = 0.0
    ist[K_SPEC] = s + 1


# No allocation happens in _run, _run_one (nor in _drive, which only slices), so they run
# without numba's reference counting: ``_nrt=False``, a private option of numba, kept
# because numba has no public per-function equivalent (``NUMBA_DISABLE_...`` switches are
# global, and no public option drops the reference counting of array arguments and
# views) and dropping it costs too much. With it, numba emits increments/decrements of
# array reference counts around the inlined converter-curve helpers, the limit counter,
# the cell look-up and the table-row view, and the reference-count pruning pass leaves
# them in the step loop. Measured side by side (all ``_nrt=False`` removed, same
# machine, 2026-11-27): one-cell UPS 95.7 instead of 45.7 ns per step, the 1000-cell
# string (250 x 4, spread) 47.6 instead of 30.3 ns per cell-step. Dropping the option
# needs helpers that take no arrays (the curves as scalars).
@njit(cache=True, error_model="numpy", _nrt=False, fastmath={"contract"})
def _run(mode, tb, cl, bms, pl, ctl, sch, u, h, cs, scr, idx, grp, cacc, acc, stat, ist,
         flags, lim_count, lim_steps, lim_energy, buf, ct, hy):
    """Run ``u.shape[0]`` steps. Returns -1, or the (global) step that failed.

    ``ct``: None (an ECM without the charge-transfer element: numba prunes every ``ct is
    not None`` branch when it compiles this specialisation, so the linear kernel is the
    code it was) or True (with it: the string's current by :func:`_ct_solve`; the BMS
    bounds from the small-signal string, R0 + R_ct, which for one cell per group are
    conservative: the element's voltage is below R_ct |I|, so a voltage or power bound
    of the small-signal string is reached at a smaller |I| than the true one; the power at
    a bound current is the true one).

    ``hy``: None (an ECM without hysteresis: its code pruned likewise) or True (each
    cell's hysteresis state h in its state row's last column; see :func:`_hy_cell`).

    mode: MODE_UPS (u = AC load [W]), MODE_POWER (u = battery power [W]), MODE_CURRENT
    (u = string current [A]). Writes every step's channel values into ``buf[q, k]``
    (shape (NCH, >= n)). All state is in the arrays (resumable).
    """
    # ---- unpack (fields of tuples read once, out of the loops) -----------------------
    n_rc = tb.n_rc
    c0 = NSCR0 + 3 * n_rc  # the element's scratch columns (ct)
    hy0 = c0 + (NCT if ct is not None else 0)  # the hysteresis's scratch columns (hy)
    hcol = 2 + n_rc  # the hysteresis state's column in a cell's state row (hy)
    hk = tb.hys_rate * h  # gamma dt: times 1/Q_As, the cell's k (hy)
    s_src = 1.0  # the sign of current the mean hold's sources are built for (hy)
    n_s, n_p, m_s, m_p, inv_q, rmul, c_th, ha, t_cool, mean_hold = cl
    i_dis, i_chg, v_min, v_max, t_min, t_max, soc_min, soc_max = bms
    n_cells = n_s * n_p
    mult = m_s * m_p
    inv_mp = 1.0 / m_p
    inv_h = 1.0 / h
    inv_n_cells = 1.0 / n_cells
    # the exact linear thermal update T' = a T + b + c q, division-free:
    # a = exp(-hA h / C), b = T_cool (1 - a), c = (1 - a) / hA  (h / C when hA = 0)
    if ha > 0.0:
        th_a = math.exp(-ha * h / c_th)
        one_minus = -math.expm1(-ha * h / c_th)
        th_b = t_cool * one_minus
        th_c = one_minus / ha
    else:
        th_a = 1.0
        th_b = 0.0
        th_c = h / c_th
    r_rated, r_irated, r_x, r_eta, r_a, r_b, r_pin, _r_pout = pl.rect
    i_rated, i_irated, i_x, i_eta, i_a, i_b, i_pin, _i_pout = pl.inv
    _d_rated, d_irated, d_x, d_eta, d_a, d_b, d_pin, d_pout = pl.dcdc
    has_dcdc = pl.has_dcdc
    rect_in_max = _in_of_out(r_irated, r_x, r_eta, r_a, r_b, r_rated)
    smoothing = ctl.smoothing
    alpha_f = 1.0 - math.exp(-h / ctl.tau_f) if ctl.tau_f > 0.0 else 1.0
    ramp_h = ctl.ramp * h
    soc_target = ctl.soc_target
    soc_gain = ctl.e_string / ctl.restore_s
    restore_max = ctl.restore_max
    sch_start = sch.start
    sch_value = sch.value
    sch_slope = sch.slope
    nseg = sch_start.shape[0]
    # ---- look-ups at the present state, and the string's source ---------------------
    es = 0.0
    rs = 0.0
    zsum = 0.0
    tmax = -np.inf
    tmin = np.inf
    zmin = np.inf
    zmax = -np.inf
    b_dis = np.inf
    b_vmin = np.inf
    b_chg = -np.inf
    b_vmax = -np.inf
    for g in range(n_s):
        gsum = 0.0
        ssum = 0.0
        md = np.inf
        mc = -np.inf
        eh = 0.0
        rh = 1.0
        gh = 1.0
        for p in range(n_p):
            c = g * n_p + p
            z = cs[c, 0]
            t = cs[c, 1]
            eh, rh, gh, _u, _du, _r0, _b, _c = _cell_at(tb, cs, scr, idx, c, z, t, h, rmul[c],
                                                        mean_hold, False, hy, hcol,
                                                        hk * inv_q[c], s_src, hy0)
            if ct is not None:  # the small-signal source, for the BMS bounds
                rh = rh + _ct_at(tb, idx, scr, c, z, t, rmul[c], c0)
                gh = 1.0 / rh
            zsum += z
            tmax = max(tmax, t)
            tmin = min(tmin, t)
            zmin = min(zmin, z)
            zmax = max(zmax, z)
            gsum += m_p * gh
            ssum += m_p * eh * gh
            md = min(md, i_dis * rh - eh)
            mc = max(mc, -i_chg * rh - eh)
        eg, rg, bd, bc, bvn, bvx = _group_source(n_p, eh, rh, gh, gsum, ssum, md, mc, m_p,
                                                 inv_mp, v_min, v_max)
        grp[g, 0] = eg
        grp[g, 1] = rg
        es += eg
        rs += rg
        b_dis = min(b_dis, bd)
        b_chg = max(b_chg, bc)
        b_vmin = min(b_vmin, bvn)
        b_vmax = max(b_vmax, bvx)
    es *= m_s
    rs *= m_s
    zmean = zsum * inv_n_cells
    # one simulated cell (a lumped string): its numbers in locals (registers)
    single = n_s == 1 and n_p == 1
    z1 = cs[0, 0]
    t1 = cs[0, 1]
    eh1 = scr[0, R_EH]
    rh1 = scr[0, R_RH]
    u1 = scr[0, R_U]
    du1 = scr[0, R_DU]
    r01 = scr[0, R_R0]
    b1 = scr[0, R_B]
    c1 = scr[0, R_C]
    dq1 = h * inv_q[0]
    hk1 = hk * inv_q[0]
    rm1 = rmul[0]

    # ---- local accumulators (written back at the end) --------------------------------
    a_grid = 0.0
    a_load = 0.0
    a_served = 0.0
    a_unserved = 0.0
    a_batt = 0.0
    a_link = 0.0
    a_lrect = 0.0
    a_linv = 0.0
    a_ldcdc = 0.0
    a_irr = 0.0
    a_rev = 0.0
    a_chem = 0.0
    a_resid = 0.0
    a_cool = 0.0
    a_thru = 0.0
    a_i2 = 0.0
    s_zmin = min(stat[S_ZMIN], zmin)
    s_zmax = max(stat[S_ZMAX], zmax)
    s_tmin = min(stat[S_TMIN], tmin)
    s_tmax = max(stat[S_TMAX], tmax)
    s_vcmin = stat[S_VCMIN]
    s_vcmax = stat[S_VCMAX]
    s_gramp = stat[S_GRAMP]
    s_lramp = stat[S_LRAMP]
    pl_prev = stat[S_PLPREV]
    pf = stat[S_PF]
    pg_prev = stat[S_PGPREV]
    iabs = stat[S_IABS]
    seg = ist[K_SEG]
    sg_inv = 0  # cached converter-curve segments (any start gives the same segment)
    sg_rin = 0
    sg_rout = 0
    flags_live = False
    for q in range(NLIM):
        if flags[q] != 0:
            flags_live = True
    k0 = ist[K_STEP]
    n = u.shape[0]
    for kk in range(n):
        kg = k0 + kk
        p_grid = 0.0
        p_load = 0.0
        p_served = 0.0
        p_unserved = 0.0
        loss = 0.0
        if mode == MODE_CURRENT:
            current = u[kk]
            if hy is not None and mean_hold:
                s_src, es, rs, b_dis, b_chg, b_vmin, b_vmax, rh1 = _hy_switch(
                    current, s_src, es, rs, b_dis, b_chg, b_vmin, b_vmax, rh1, n_s, n_p, m_s,
                    m_p, inv_mp, i_dis, i_chg, v_min, v_max, scr, grp, c0, hy0, ct)
            if ct is not None:
                current, es, rs, ok = _ct_solve(False, current, n_s, n_p, m_s, m_p, scr, grp,
                                                c0)
                if not ok:
                    ist[K_FAIL] = kg
                    ist[K_STEP] = kg
                    return kg
            p_batt = (es - rs * current) * current
            a_link += p_batt
        elif mode == MODE_POWER:
            p_batt = u[kk]
            if hy is not None and mean_hold:
                s_src, es, rs, b_dis, b_chg, b_vmin, b_vmax, rh1 = _hy_switch(
                    p_batt, s_src, es, rs, b_dis, b_chg, b_vmin, b_vmax, rh1, n_s, n_p, m_s,
                    m_p, inv_mp, i_dis, i_chg, v_min, v_max, scr, grp, c0, hy0, ct)
            if ct is not None:
                current, es, rs, ok = _ct_solve(True, p_batt, n_s, n_p, m_s, m_p, scr, grp, c0)
                if not ok:
                    current = np.nan
            else:
                current = _power_to_current(es, rs, p_batt)
            if math.isnan(current):
                ist[K_FAIL] = kg
                ist[K_STEP] = kg
                return kg
            a_link += p_batt
        else:
            # ---- the UPS: load, source, controller, BMS ------------------------------
            marked = False
            p_load = u[kk]
            p_ld = p_load
            if p_ld > i_rated:
                p_ld = i_rated
                _mark(flags, lim_count, lim_steps, lim_energy, L_INV, (p_load - p_ld) * h)
                marked = True
            p_inv, sg_inv = _in_of_out_c(i_irated, i_x, i_eta, i_a, i_b, p_ld, sg_inv)
            while seg + 1 < nseg and kg >= sch_start[seg + 1]:
                seg += 1
            cap = sch_value[seg] + sch_slope[seg] * (kg - sch_start[seg])
            cap = min(cap, rect_in_max)
            cap = max(cap, 0.0)
            pf = pf + (p_inv - pf) * alpha_f
            p_soc = (soc_target - zmean) * soc_gain
            if p_soc > restore_max:
                p_soc = restore_max
            elif p_soc < -restore_max:
                p_soc = -restore_max
            p_dc = (pf if smoothing else p_inv) + p_soc
            p_g, sg_rin = _in_of_out_c(r_irated, r_x, r_eta, r_a, r_b, p_dc, sg_rin)
            if smoothing:
                if p_g > pg_prev + ramp_h:
                    p_g = pg_prev + ramp_h
                elif p_g < pg_prev - ramp_h:
                    p_g = pg_prev - ramp_h
            p_g = min(p_g, cap)
            p_g = max(p_g, 0.0)
            p_rect, sg_rout = _out_of_in_c(r_irated, r_pin, r_eta, r_a, r_b, p_g, sg_rout)
            p_link_dem = p_inv - p_rect
            p_batt_dem = _battery_of_link(has_dcdc, d_irated, d_x, d_eta, d_a, d_b, p_link_dem)
            if hy is not None and mean_hold:
                s_src, es, rs, b_dis, b_chg, b_vmin, b_vmax, rh1 = _hy_switch(
                    p_batt_dem, s_src, es, rs, b_dis, b_chg, b_vmin, b_vmax, rh1, n_s, n_p,
                    m_s, m_p, inv_mp, i_dis, i_chg, v_min, v_max, scr, grp, c0, hy0, ct)
            # BMS: string-current bounds of every limit (I_lo <= 0 <= I_hi)
            i_hi = b_dis
            k_hi = L_IDIS
            if b_vmin < i_hi:
                i_hi = b_vmin
                k_hi = L_VMIN
            if 2.0 * rs * i_hi > es:  # beyond the most power the string can give
                i_hi = es / (2.0 * rs)
                k_hi = L_PMAX
            if zmin <= soc_min:
                i_hi = 0.0
                k_hi = L_SOCMIN
            if tmax >= t_max:
                i_hi = 0.0
                k_hi = L_TMAX
            i_hi = max(i_hi, 0.0)
            i_lo = b_chg
            k_lo = L_ICHG
            if b_vmax > i_lo:
                i_lo = b_vmax
                k_lo = L_VMAX
            if zmax >= soc_max:
                i_lo = 0.0
                k_lo = L_SOCMAX
            if tmin <= t_min:
                i_lo = 0.0
                k_lo = L_TMIN
            if tmax >= t_max:
                i_lo = 0.0
                k_lo = L_TMAX
            i_lo = min(i_lo, 0.0)
            p_hi = (es - rs * i_hi) * i_hi
            p_lo = (es - rs * i_lo) * i_lo
            if ct is not None:
                # the true power at a bound current (at least the small-signal one's, of
                # either sign): needed only where the demand may pass it
                ok = True
                if p_batt_dem > p_hi:
                    if k_hi == L_VMIN:  # the true bound, then the others above it
                        i_v, ok = _ct_vbound(i_hi, v_min, n_s, n_p, m_s, m_p, scr,
                                             grp, c0)
                        i_hi = max(i_v, 0.0)
                        if b_dis < i_hi:
                            i_hi = b_dis
                            k_hi = L_IDIS
                        if 2.0 * rs * i_hi > es:
                            i_hi = es / (2.0 * rs)
                            k_hi = L_PMAX
                    if ok:
                        _i, es, rs, ok = _ct_solve(False, i_hi, n_s, n_p, m_s, m_p, scr, grp,
                                                   c0)
                    p_hi = (es - rs * i_hi) * i_hi
                elif p_batt_dem < 0.0:
                    if k_lo == L_VMAX:
                        i_v, ok = _ct_vbound(i_lo, v_max, n_s, n_p, m_s, m_p, scr,
                                             grp, c0)
                        i_lo = min(i_v, 0.0)
                        if b_chg > i_lo:
                            i_lo = b_chg
                            k_lo = L_ICHG
                    if ok:
                        _i, es, rs, ok = _ct_solve(False, i_lo, n_s, n_p, m_s, m_p, scr, grp,
                                                   c0)
                    p_lo = (es - rs * i_lo) * i_lo
                if not ok:
                    ist[K_FAIL] = kg
                    ist[K_STEP] = kg
                    return kg
            unserved_dc = 0.0
            if p_batt_dem > p_hi:
                current = i_hi
                p_batt = p_hi
                p_link = _link_of_battery(has_dcdc, d_irated, d_pin, d_pout, d_eta, d_a, d_b,
                                          p_batt)
                need = p_inv - p_link
                p_g_need = _in_of_out(r_irated, r_x, r_eta, r_a, r_b, need)
                if p_g_need > cap:
                    p_g = cap
                    p_rect = _out_of_in(r_irated, r_pin, r_eta, r_a, r_b, cap)
                    unserved_dc = need - p_rect
                else:
                    p_g = p_g_need
                    p_rect = need
                _mark(flags, lim_count, lim_steps, lim_energy, k_hi,
                      (p_link_dem - p_link) * h)
                marked = True
            elif p_batt_dem < p_lo:
                current = i_lo
                p_batt = p_lo
                p_link = _link_of_battery(has_dcdc, d_irated, d_pin, d_pout, d_eta, d_a, d_b,
                                          p_batt)
                p_rect = p_inv - p_link
                p_g = _in_of_out(r_irated, r_x, r_eta, r_a, r_b, p_rect)
                _mark(flags, lim_count, lim_steps, lim_energy, k_lo,
                      (p_link - p_link_dem) * h)
                marked = True
            else:
                p_batt = p_batt_dem
                p_link = p_link_dem
                if ct is not None:
                    current, es, rs, ok = _ct_solve(True, p_batt, n_s, n_p, m_s, m_p, scr, grp,
                                                    c0)
                    if not ok:
                        ist[K_FAIL] = kg
                        ist[K_STEP] = kg
                        return kg
                else:
                    current = _power_to_current(es, rs, p_batt)
                    if math.isnan(current):  # p_batt <= p_hi <= E^2/4R: round-off
                        current = es / (2.0 * rs)
            if unserved_dc > 0.0:
                p_inv_srv = p_inv - unserved_dc
                p_served = _out_of_in(i_irated, i_pin, i_eta, i_a, i_b, p_inv_srv)
                _mark(flags, lim_count, lim_steps, lim_energy, L_UNSERVED,
                      (p_ld - p_served) * h)
                marked = True
            else:
                p_inv_srv = p_inv
                p_served = p_ld
            p_unserved = p_load - p_served
            if kg > 0:
                dg = abs(p_g - pg_prev)
                if smoothing and dg > ramp_h * (1.0 + 1e-9) + 1e-9:
                    _mark(flags, lim_count, lim_steps, lim_energy, L_RAMP,
                          (dg - ramp_h) * h)
                    marked = True
                s_gramp = max(s_gramp, dg * inv_h)
                dl = abs(p_load - pl_prev) * inv_h
                s_lramp = max(s_lramp, dl)
            pl_prev = p_load
            pg_prev = p_g
            p_grid = p_g
            l_rect = p_g - p_rect
            l_inv = p_inv_srv - p_served
            l_dcdc = p_batt - p_link
            loss = l_rect + l_inv + l_dcdc
            a_lrect += l_rect
            a_linv += l_inv
            a_ldcdc += l_dcdc
            a_link += p_link
            if marked or flags_live:
                for q in range(NLIM):
                    flags[q] = 1 if flags[q] == 2 else 0
                flags_live = marked
        v_string = es - rs * current
        a_grid += p_grid
        a_load += p_load
        a_served += p_served
        a_unserved += p_unserved
        a_batt += p_batt
        a_thru += abs(current)
        a_i2 += current * current
        buf[CH_LOAD, kk] = p_load
        buf[CH_SERVED, kk] = p_served
        buf[CH_GRID, kk] = p_grid
        buf[CH_BATT, kk] = p_batt
        buf[CH_I, kk] = current
        buf[CH_V, kk] = v_string
        buf[CH_SOC, kk] = zmean
        buf[CH_TMAX, kk] = tmax
        buf[CH_SOCMIN, kk] = zmin
        buf[CH_SOCMAX, kk] = zmax
        buf[CH_LOSS, kk] = loss
        buf[CH_UNSERVED, kk] = p_unserved
        # ---- every cell over the step, then its look-ups at the new state ------------
        q_irr_sum = 0.0
        q_rev_sum = 0.0
        chem = 0.0
        resid = 0.0
        cool = 0.0
        vcmin = np.inf
        vcmax = -np.inf
        es = 0.0
        rs = 0.0
        zsum = 0.0
        tmax = -np.inf
        tmin = np.inf
        zmin = np.inf
        zmax = -np.inf
        b_dis = np.inf
        b_vmin = np.inf
        b_chg = -np.inf
        b_vmax = -np.inf
        if single:
            ic = current * inv_mp
            vavg = 0.0
            for k in range(n_rc):
                s = NSCR0 + 3 * k
                v = cs[0, 2 + k]
                vinf = scr[0, s] * ic
                d = v - vinf
                vavg += vinf + d * scr[0, s + 2]
                cs[0, 2 + k] = vinf + d * scr[0, s + 1]
            qc = ic * (ic * b1 + c1)
            q_irr_sum = r01 * ic * ic + ic * vavg
            v_hold = eh1 - rh1 * ic
            v_true = u1 - r01 * ic - vavg
            if ct is not None:
                eta = _ct_eta(scr, 0, c0, ic)
                qc += ic * eta
                q_irr_sum += ic * eta
                v_hold -= eta
                v_true -= eta
            if hy is not None:  # the hysteresis over the step: state, heat -I M <h>
                vh = _hy_cell(scr, cs, 0, hy0, hcol, hk1, ic)
                qc -= ic * vh
                q_irr_sum -= ic * vh
                v_true += vh
            tn = t1 * th_a + th_b + qc * th_c
            zn = z1 - ic * dq1
            cs[0, 0] = zn
            cs[0, 1] = tn
            q_rev_sum = -ic * t1 * du1
            chem = u1 * ic
            resid = ic * (v_hold - v_true)
            cool = qc * h - c_th * (tn - t1)
            aic = abs(ic)
            iabs = max(iabs, aic)
            cacc[0, 0] += aic * h
            cacc[0, 1] += ic * ic * h
            cacc[0, 2] = max(cacc[0, 2], tn)
            vcmin = v_hold
            vcmax = v_hold
            eh1, rh1, gh1, u1, du1, r01, b1, c1 = _cell_at(tb, cs, scr, idx, 0, zn, tn, h, rm1,
                                                           mean_hold, True, hy, hcol, hk1,
                                                           s_src, hy0)
            z1 = zn
            t1 = tn
            rb1 = rh1
            gb1 = gh1
            if ct is not None:  # the small-signal source, for the BMS bounds
                rb1 = rh1 + _ct_at(tb, idx, scr, 0, zn, tn, rm1, c0)
                gb1 = 1.0 / rb1
            eg, rg, bd, bc, bvn, bvx = _group_source(1, eh1, rb1, gb1, 0.0, 0.0,
                                                     i_dis * rb1 - eh1, -i_chg * rb1 - eh1,
                                                     m_p, inv_mp, v_min, v_max)
            es = eg  # times m_s below
            rs = rg
            b_dis = bd
            b_chg = bc
            b_vmin = bvn
            b_vmax = bvx
            zsum = zn
            tmax = tn
            tmin = tn
            zmin = zn
            zmax = zn
        else:
            for g in range(n_s):
                vg = grp[g, 0] - grp[g, 1] * current
                vcmin = min(vcmin, vg)
                vcmax = max(vcmax, vg)
                gsum = 0.0
                ssum = 0.0
                md = np.inf
                mc = -np.inf
                eh = 0.0
                rh = 1.0
                gh = 1.0
                for p in range(n_p):
                    c = g * n_p + p
                    if n_p == 1:
                        ic = current * inv_mp
                    elif ct is not None:
                        ic = scr[c, c0 + CT_I]
                    else:
                        ic = (scr[c, R_EH] - vg) * scr[c, R_GH]
                    # the cell over the step: exact ZOH of its RC voltages, heat, T, SOC
                    r0 = scr[c, R_R0]
                    uc = scr[c, R_U]
                    t = cs[c, 1]
                    z = cs[c, 0]
                    vavg = 0.0
                    for k in range(n_rc):
                        s = NSCR0 + 3 * k
                        v = cs[c, 2 + k]
                        vinf = scr[c, s] * ic
                        d = v - vinf
                        vavg += vinf + d * scr[c, s + 2]
                        cs[c, 2 + k] = vinf + d * scr[c, s + 1]
                    qc = ic * (ic * scr[c, R_B] + scr[c, R_C])
                    q_irr = r0 * ic * ic + ic * vavg
                    # the hold's voltage against the step's true mean voltage (0 for "mean")
                    v_hold = scr[c, R_EH] - scr[c, R_RH] * ic
                    v_true = uc - r0 * ic - vavg
                    if ct is not None:
                        eta = _ct_eta(scr, c, c0, ic)
                        qc += ic * eta
                        q_irr += ic * eta
                        v_hold -= eta
                        v_true -= eta
                    if hy is not None:  # the hysteresis over the step
                        vh = _hy_cell(scr, cs, c, hy0, hcol, hk * inv_q[c], ic)
                        qc -= ic * vh
                        q_irr -= ic * vh
                        v_true += vh
                    tn = t * th_a + th_b + qc * th_c
                    q_rev = -ic * t * scr[c, R_DU]
                    zn = z - ic * (h * inv_q[c])
                    cs[c, 0] = zn
                    cs[c, 1] = tn
                    q_irr_sum += q_irr
                    q_rev_sum += q_rev
                    chem += uc * ic
                    resid += ic * (v_hold - v_true)
                    cool += qc * h - c_th * (tn - t)
                    aic = abs(ic)
                    iabs = max(iabs, aic)
                    cacc[c, 0] += aic * h
                    cacc[c, 1] += ic * ic * h
                    cacc[c, 2] = max(cacc[c, 2], tn)
                    # its look-ups at the new state
                    eh, rh, gh, _u, _du, _r0, _b, _c = _cell_at(tb, cs, scr, idx, c, zn, tn, h,
                                                                rmul[c], mean_hold, True, hy,
                                                                hcol, hk * inv_q[c], s_src, hy0)
                    if ct is not None:  # the small-signal source, for the BMS bounds
                        rh = rh + _ct_at(tb, idx, scr, c, zn, tn, rmul[c], c0)
                        gh = 1.0 / rh
                    zsum += zn
                    tmax = max(tmax, tn)
                    tmin = min(tmin, tn)
                    zmin = min(zmin, zn)
                    zmax = max(zmax, zn)
                    if n_p != 1:
                        gsum += m_p * gh
                        ssum += m_p * eh * gh
                    md = min(md, i_dis * rh - eh)
                    mc = max(mc, -i_chg * rh - eh)
                eg, rg, bd, bc, bvn, bvx = _group_source(n_p, eh, rh, gh, gsum, ssum, md, mc,
                                                         m_p, inv_mp, v_min, v_max)
                grp[g, 0] = eg
                grp[g, 1] = rg
                es += eg
                rs += rg
                b_dis = min(b_dis, bd)
                b_chg = max(b_chg, bc)
                b_vmin = min(b_vmin, bvn)
                b_vmax = max(b_vmax, bvx)
        es *= m_s
        rs *= m_s
        zmean = zsum * inv_n_cells
        a_irr += q_irr_sum
        a_rev += q_rev_sum
        a_chem += chem
        a_resid += resid
        a_cool += cool
        s_vcmin = min(s_vcmin, vcmin)
        s_vcmax = max(s_vcmax, vcmax)
        s_zmin = min(s_zmin, zmin)
        s_zmax = max(s_zmax, zmax)
        s_tmin = min(s_tmin, tmin)
        s_tmax = max(s_tmax, tmax)
        buf[CH_VCMIN, kk] = vcmin
        buf[CH_VCMAX, kk] = vcmax
        buf[CH_HEAT, kk] = (q_irr_sum + q_rev_sum) * mult
    # ---- write back ------------------------------------------------------------------
    acc[E_GRID] += a_grid * h
    acc[E_LOAD] += a_load * h
    acc[E_SERVED] += a_served * h
    acc[E_UNSERVED] += a_unserved * h
    acc[E_BATT] += a_batt * h
    acc[E_LINK] += a_link * h
    acc[E_LRECT] += a_lrect * h
    acc[E_LINV] += a_linv * h
    acc[E_LDCDC] += a_ldcdc * h
    acc[E_IRR] += a_irr * h * mult
    acc[E_REV] += a_rev * h * mult
    acc[E_CHEM] += a_chem * h * mult
    acc[E_RESID] += a_resid * h * mult
    acc[E_COOL] += a_cool * mult
    acc[E_THRU] += a_thru * h
    acc[E_I2] += a_i2 * h
    stat[S_ZMIN] = s_zmin
    stat[S_ZMAX] = s_zmax
    stat[S_TMIN] = s_tmin
    stat[S_TMAX] = s_tmax
    stat[S_VCMIN] = s_vcmin
    stat[S_VCMAX] = s_vcmax
    stat[S_GRAMP] = s_gramp
    stat[S_LRAMP] = s_lramp
    stat[S_PLPREV] = pl_prev
    stat[S_PF] = pf
    stat[S_PGPREV] = pg_prev
    stat[S_IABS] = iabs
    ist[K_STEP] = k0 + n
    ist[K_SEG] = seg
    return -1


# ---- one simulated cell in the UPS (the lumped string): a specialised loop ------------
# The representative cell of a lumped string (no spread, ECM without the charge-transfer
# element, 1 to 3 RC elements) runs the same equations as _run's single-cell branch with
# everything in locals: the cell's state, its table interval and values, the RC elements
# (explicit slots, so no store-to-load round trip through memory on the step's
# dependency chain) and the per-cell accumulators. The BMS is checked against the
# current the closed form gives (``I (E - R I)`` grows with ``I`` up to ``E / 2R``, so a
# power beyond a bound's power is a current beyond the bound): a handful of compares of
# ``I R`` against the bounds' numerators as _group_source forms them, with a margin of
# _BMS_MARGIN so that a demand within round-off of a bound, or beyond it, takes the exact
# bound logic of _run (:func:`_one_bounds`); the counts and values are then _run's.
_BMS_MARGIN = 1e-9
NRC_ONE = 3  # RC elements the specialised loop holds in locals


@njit(inline="always", error_model="numpy")
def _bil_t(coef, b, dz, dt):
    """:func:`_bil` grouped for a late ``dt``: ``(f00 + f_z dz) + dt (f_T + f_zT dz)``
    (the temperature comes later in a step than the SOC: its heat first)."""
    return (coef[b] + coef[b + 2] * dz) + dt * (coef[b + 1] + coef[b + 3] * dz)


@njit(inline="always", error_model="numpy")
def _rc_at(coef, b, dz, dt, h):
    """An RC element's R_k, exp(-h/tau_k) and g_k at the interval's ``dz``, ``dt``."""
    rk = _bil_t(coef, b, dz, dt)
    decay, g = _expneg(h / _bil_t(coef, b + 4, dz, dt))
    return rk, decay, g


@njit(inline="always", error_model="numpy")
def _one_bounds(es, rs, eh, rh, z, t, i_dis, i_chg, v_min, v_max, t_min, t_max, soc_min,
                soc_max, m_p, inv_mp, m_s):
    """_run's BMS bounds of one simulated cell (lumped string): the string current bounds
    and their limits, as _run forms them. Returns (i_hi, k_hi, i_lo, k_lo)."""
    gh = 1.0 / rh
    _eg, _rg, b_dis, b_chg, b_vmin, b_vmax = _group_source(
        1, eh, rh, gh, 0.0, 0.0, i_dis * rh - eh, -i_chg * rh - eh, m_p, inv_mp, v_min, v_max)
    i_hi = b_dis
    k_hi = L_IDIS
    if b_vmin < i_hi:
        i_hi = b_vmin
        k_hi = L_VMIN
    if 2.0 * rs * i_hi > es:
        i_hi = es / (2.0 * rs)
        k_hi = L_PMAX
    if z <= soc_min:
        i_hi = 0.0
        k_hi = L_SOCMIN
    if t >= t_max:
        i_hi = 0.0
        k_hi = L_TMAX
    i_hi = max(i_hi, 0.0)
    i_lo = b_chg
    k_lo = L_ICHG
    if b_vmax > i_lo:
        i_lo = b_vmax
        k_lo = L_VMAX
    if z >= soc_max:
        i_lo = 0.0
        k_lo = L_SOCMAX
    if t <= t_min:
        i_lo = 0.0
        k_lo = L_TMIN
    if t >= t_max:
        i_lo = 0.0
        k_lo = L_TMAX
    i_lo = min(i_lo, 0.0)
    return i_hi, k_hi, i_lo, k_lo


@njit(inline="always", error_model="numpy")
def _one_look(row, dz, dt, t, tref, h, n_rc, v1, v2, v3, mean_hold):
    """:func:`_lookup` of one cell from its interval's coefficient row (a view: constant
    offsets, no index arithmetic) with the RC voltages in locals; the resistance factor
    is 1 (a lumped string). Returns (U, dU/dT, r0, (R_k, exp(-h/tau_k), g_k) for three
    slots, E_hold, R_hold, B, C); unused slots are (0, 1, 1)."""
    du = row[2] + row[3] * dz
    uu = (row[0] + row[1] * dz) + (t - tref) * du
    r0 = _bil_t(row, 4, dz, dt)
    r1, d1, g1 = _rc_at(row, 8, dz, dt, h)
    e_mean = uu - g1 * v1
    r_mean = r0 + r1 * (1.0 - g1)
    r2 = 0.0
    d2 = 1.0
    g2 = 1.0
    r3 = 0.0
    d3 = 1.0
    g3 = 1.0
    if n_rc > 1:
        r2, d2, g2 = _rc_at(row, 16, dz, dt, h)
        e_mean -= g2 * v2
        r_mean += r2 * (1.0 - g2)
    if n_rc > 2:
        r3, d3, g3 = _rc_at(row, 24, dz, dt, h)
        e_mean -= g3 * v3
        r_mean += r3 * (1.0 - g3)
    if mean_hold:
        eh = e_mean
        rh = r_mean
    else:
        eh = uu - v1 - v2 - v3  # the unused slots' voltages are 0
        rh = r0
    cc = (uu - e_mean) - t * du
    return uu, du, r0, r1, d1, g1, r2, d2, g2, r3, d3, g3, eh, rh, r_mean, cc


@njit(inline="always", error_model="numpy")
def _node_bounds(grid, n, i):
    """The values between which ``x`` stays in interval ``i`` (what :func:`_walk` tests):
    [grid[i], grid[i+1]), open below the first interval and above the last."""
    lo = grid[i] if i > 0 else -np.inf
    hi = grid[i + 1] if i < n - 2 else np.inf
    return lo, hi


@njit(cache=True, error_model="numpy", _nrt=False, fastmath={"contract"})
def _run_one(tb, cl, bms, pl, ctl, sch, u, h, cs, idx, acc, stat, ist, flags, lim_count,
             lim_steps, lim_energy, buf, hy):
    """:func:`_run` in the UPS mode for one simulated cell without the charge-transfer
    element and with 1 to :data:`NRC_ONE` RC elements (see above): the same arithmetic,
    state and outputs. ``hy``: None, or True for an ECM with hysteresis (its state h, M
    and, with the mean hold, its hold resistances for either sign in locals; the source
    switched at a reversal of the demand as :func:`_hy_switch` does). The sums and
    extremes of the channels it writes into ``buf`` (energies of the load, grid and
    battery, throughput, current squared, SOC, temperature and cell voltage extremes;
    without a DC/DC, the link's energy: the battery's) are left to
    :func:`_one_block_stats`, which folds the block afterwards. Returns -1."""
    # ---- unpack ----------------------------------------------------------------------
    (soc, sbk, sb0, sinv, tg, tbk, tb0, tinv, flat, coef, width, tref, n_rc, _tau_min,
     _has_ct, _has_hys, hoff, hys_rate) = tb
    _n_s, _n_p, m_s, m_p, inv_q, _rmul, c_th, ha, t_cool, mean_hold = cl
    i_dis, i_chg, v_min, v_max, t_min, t_max, soc_min, soc_max = bms
    mult = m_s * m_p
    inv_mp = 1.0 / m_p
    inv_h = 1.0 / h
    if ha > 0.0:
        th_a = math.exp(-ha * h / c_th)
        one_minus = -math.expm1(-ha * h / c_th)
        th_b = t_cool * one_minus
        th_c = one_minus / ha
    else:
        th_a = 1.0
        th_b = 0.0
        th_c = h / c_th
    r_rated, r_irated, r_x, r_eta, r_a, r_b, r_pin, _r_pout = pl.rect
    i_rated, i_irated, i_x, i_eta, i_a, i_b, i_pin, _i_pout = pl.inv
    _d_rated, d_irated, d_x, d_eta, d_a, d_b, d_pin, d_pout = pl.dcdc
    has_dcdc = pl.has_dcdc
    rect_in_max = _in_of_out(r_irated, r_x, r_eta, r_a, r_b, r_rated)
    smoothing = ctl.smoothing
    alpha_f = 1.0 - math.exp(-h / ctl.tau_f) if ctl.tau_f > 0.0 else 1.0
    ramp_h = ctl.ramp * h
    soc_target = ctl.soc_target
    soc_gain = ctl.e_string / ctl.restore_s
    restore_max = ctl.restore_max
    sch_start = sch.start
    sch_value = sch.value
    sch_slope = sch.slope
    nseg = sch_start.shape[0]
    ns = soc.shape[0]
    nt = tg.shape[0]
    z_lo = soc[0]
    z_hi = soc[ns - 1]
    t_lo = tg[0]
    t_hi = tg[nt - 1]
    dq = h * inv_q[0]
    lo_margin = 1.0 - _BMS_MARGIN
    # ---- the cell: state, table interval (and the values that keep it), look-ups -----
    z = cs[0, 0]
    t = cs[0, 1]
    v1 = cs[0, 2]
    v2 = cs[0, 3] if n_rc > 1 else 0.0
    v3 = cs[0, 4] if n_rc > 2 else 0.0
    zc = min(max(z, z_lo), z_hi)
    i = _locate(zc, soc, ns, sbk, sbk.shape[0], sb0, sinv)
    zi = soc[i]
    zn_lo, zn_hi = _node_bounds(soc, ns, i)
    j = 0
    dt = 0.0
    tj = 0.0
    tn_lo = -np.inf
    tn_hi = np.inf
    if not flat:
        tc = min(max(t, t_lo), t_hi)
        j = _locate(tc, tg, nt, tbk, tbk.shape[0], tb0, tinv)
        tj = tg[j]
        tn_lo, tn_hi = _node_bounds(tg, nt, j)
        dt = tc - tj
    base = (i * (nt - 1) + j) * width
    row = coef[base:base + width]
    (uu, du, r0, r1, d1, g1, r2, d2, g2, r3, d3, g3, eh, rh, r_mean,
     cc) = _one_look(row, zc - zi, dt, t, tref, h, n_rc, v1, v2, v3, mean_hold)
    # the hysteresis (hy): its state, M, and the mean hold's resistances (as _lookup)
    hk1 = hys_rate * h * inv_q[0]
    s_src = 1.0
    hh = 0.0
    mh = 0.0
    rh0 = rh
    rp = 0.0
    rn = 0.0
    if hy is not None:
        hh = cs[0, 2 + n_rc]
        mh = row[hoff] + row[hoff + 1] * (zc - zi)
        eh += mh * hh
        if mean_hold:
            half = 0.5 * mh * hk1
            rp = half * (1.0 + hh)
            rn = half * (1.0 - hh)
            rh = rh + rp
    es = eh * m_s
    rs = (rh * inv_mp) * m_s
    # ---- local accumulators (written back at the end) --------------------------------
    a_link = 0.0
    a_lrect = 0.0
    a_linv = 0.0
    a_ldcdc = 0.0
    a_irr = 0.0
    a_rev = 0.0
    a_chem = 0.0
    a_resid = 0.0
    a_q = 0.0  # the cells' heat; to the coolant: it less the heat stored (at the end)
    t_start = t
    s_gramp = stat[S_GRAMP]
    s_lramp = stat[S_LRAMP]
    pl_prev = stat[S_PLPREV]
    pf = stat[S_PF]
    pg_prev = stat[S_PGPREV]
    seg = ist[K_SEG]
    sg_inv = 0
    sg_rin = 0
    sg_rout = 0
    flags_live = False
    for q in range(NLIM):
        if flags[q] != 0:
            flags_live = True
    k0 = ist[K_STEP]
    n = u.shape[0]
    for kk in range(n):
        kg = k0 + kk
        # ---- the UPS: load, source, controller ---------------------------------------
        marked = False
        p_load = u[kk]
        p_ld = p_load
        if p_ld > i_rated:
            p_ld = i_rated
            _mark(flags, lim_count, lim_steps, lim_energy, L_INV, (p_load - p_ld) * h)
            marked = True
        p_inv, sg_inv = _in_of_out_c(i_irated, i_x, i_eta, i_a, i_b, p_ld, sg_inv)
        while seg + 1 < nseg and kg >= sch_start[seg + 1]:
            seg += 1
        cap = sch_value[seg] + sch_slope[seg] * (kg - sch_start[seg])
        cap = min(cap, rect_in_max)
        cap = max(cap, 0.0)
        pf = pf + (p_inv - pf) * alpha_f
        p_soc = (soc_target - z) * soc_gain
        if p_soc > restore_max:
            p_soc = restore_max
        elif p_soc < -restore_max:
            p_soc = -restore_max
        p_dc = (pf if smoothing else p_inv) + p_soc
        p_g, sg_rin = _in_of_out_c(r_irated, r_x, r_eta, r_a, r_b, p_dc, sg_rin)
        # the rectifier's output: p_dc itself unless the grid power was limited (its
        # curve's output of its input p_g(p_dc) is p_dc: out_of_in inverts in_of_out)
        clamped = p_dc <= 0.0
        if smoothing:
            if p_g > pg_prev + ramp_h:
                p_g = pg_prev + ramp_h
                clamped = True
            elif p_g < pg_prev - ramp_h:
                p_g = pg_prev - ramp_h
                clamped = True
        if p_g > cap:
            p_g = cap
            clamped = True
        if p_g < 0.0:
            p_g = 0.0
            clamped = True
        p_rect = p_dc
        if clamped:
            p_rect, sg_rout = _out_of_in_c(r_irated, r_pin, r_eta, r_a, r_b, p_g, sg_rout)
        p_link_dem = p_inv - p_rect
        p_batt_dem = _battery_of_link(has_dcdc, d_irated, d_x, d_eta, d_a, d_b, p_link_dem)
        if hy is not None and mean_hold:  # the source for the demand's sign
            sd = 1.0 if p_batt_dem > 0.0 else (-1.0 if p_batt_dem < 0.0 else s_src)
            if sd != s_src:
                s_src = sd
                rh = rh0 + (rp if sd > 0.0 else rn)
                rs = (rh * inv_mp) * m_s
        # ---- the BMS: the closed-form current against the bounds (see above) ---------
        disc = es * es - 4.0 * rs * p_batt_dem
        within = disc > _BMS_MARGIN * (es * es)
        current = 0.0
        if within:
            current = 2.0 * p_batt_dem / (es + math.sqrt(disc))
            w = current * inv_mp * rh  # the cell's current times its resistance
            if current > 0.0:
                within = (w <= (eh + (i_dis * rh - eh)) * lo_margin
                          and w <= (eh - v_min) * lo_margin and z > soc_min and t < t_max)
            elif current < 0.0:
                within = (w >= (eh + (-i_chg * rh - eh)) * lo_margin
                          and w >= (eh - v_max) * lo_margin and z < soc_max and t > t_min
                          and t < t_max)
        unserved_dc = 0.0
        if within:
            p_batt = p_batt_dem
            p_link = p_link_dem
        else:
            i_hi, k_hi, i_lo, k_lo = _one_bounds(es, rs, eh, rh, z, t, i_dis, i_chg, v_min,
                                                 v_max, t_min, t_max, soc_min, soc_max, m_p,
                                                 inv_mp, m_s)
            p_hi = (es - rs * i_hi) * i_hi
            p_lo = (es - rs * i_lo) * i_lo
            if p_batt_dem > p_hi:
                current = i_hi
                p_batt = p_hi
                p_link = _link_of_battery(has_dcdc, d_irated, d_pin, d_pout, d_eta, d_a, d_b,
                                          p_batt)
                need = p_inv - p_link
                p_g_need = _in_of_out(r_irated, r_x, r_eta, r_a, r_b, need)
                if p_g_need > cap:
                    p_g = cap
                    p_rect = _out_of_in(r_irated, r_pin, r_eta, r_a, r_b, cap)
                    unserved_dc = need - p_rect
                else:
                    p_g = p_g_need
                    p_rect = need
                _mark(flags, lim_count, lim_steps, lim_energy, k_hi,
                      (p_link_dem - p_link) * h)
                marked = True
            elif p_batt_dem < p_lo:
                current = i_lo
                p_batt = p_lo
                p_link = _link_of_battery(has_dcdc, d_irated, d_pin, d_pout, d_eta, d_a, d_b,
                                          p_batt)
                p_rect = p_inv - p_link
                p_g = _in_of_out(r_irated, r_x, r_eta, r_a, r_b, p_rect)
                _mark(flags, lim_count, lim_steps, lim_energy, k_lo,
                      (p_link - p_link_dem) * h)
                marked = True
            else:
                p_batt = p_batt_dem
                p_link = p_link_dem
                current = _power_to_current(es, rs, p_batt)
                if math.isnan(current):  # p_batt <= p_hi <= E^2/4R: round-off
                    current = es / (2.0 * rs)
        if unserved_dc > 0.0:
            p_inv_srv = p_inv - unserved_dc
            p_served = _out_of_in(i_irated, i_pin, i_eta, i_a, i_b, p_inv_srv)
            _mark(flags, lim_count, lim_steps, lim_energy, L_UNSERVED, (p_ld - p_served) * h)
            marked = True
        else:
            p_inv_srv = p_inv
            p_served = p_ld
        p_unserved = p_load - p_served
        if kg > 0:
            dg = abs(p_g - pg_prev)
            if smoothing and dg > ramp_h * (1.0 + 1e-9) + 1e-9:
                _mark(flags, lim_count, lim_steps, lim_energy, L_RAMP, (dg - ramp_h) * h)
                marked = True
            s_gramp = max(s_gramp, dg * inv_h)
            dl = abs(p_load - pl_prev) * inv_h
            s_lramp = max(s_lramp, dl)
        pl_prev = p_load
        pg_prev = p_g
        l_rect = p_g - p_rect
        l_inv = p_inv_srv - p_served
        l_dcdc = p_batt - p_link
        a_lrect += l_rect
        a_linv += l_inv
        if has_dcdc:  # else the link's power is the battery's (_one_block_stats), no loss
            a_ldcdc += l_dcdc
            a_link += p_link
        if marked or flags_live:
            for q in range(NLIM):
                flags[q] = 1 if flags[q] == 2 else 0
            flags_live = marked
        buf[CH_LOAD, kk] = p_load
        buf[CH_SERVED, kk] = p_served
        buf[CH_GRID, kk] = p_g
        buf[CH_BATT, kk] = p_batt
        buf[CH_I, kk] = current
        buf[CH_V, kk] = es - rs * current
        buf[CH_SOC, kk] = z
        buf[CH_TMAX, kk] = t
        buf[CH_SOCMIN, kk] = z
        buf[CH_SOCMAX, kk] = z
        buf[CH_LOSS, kk] = l_rect + l_inv + l_dcdc
        buf[CH_UNSERVED, kk] = p_unserved
        # ---- the cell over the step: exact ZOH of its RC voltages, heat, T, SOC -------
        ic = current * inv_mp
        vinf = r1 * ic
        dd = v1 - vinf
        vavg = vinf + dd * g1
        v1 = vinf + dd * d1
        if n_rc > 1:
            vinf = r2 * ic
            dd = v2 - vinf
            vavg += vinf + dd * g2
            v2 = vinf + dd * d2
        if n_rc > 2:
            vinf = r3 * ic
            dd = v3 - vinf
            vavg += vinf + dd * g3
            v3 = vinf + dd * d3
        qc = ic * (ic * r_mean + cc)
        q_irr = r0 * ic * ic + ic * vavg
        v_hold = eh - rh * ic
        v_true = uu - r0 * ic - vavg
        if hy is not None and ic != 0.0:  # the hysteresis over the step (as _hy_cell)
            sg = 1.0 if ic > 0.0 else -1.0
            decay_h, g_h = _expneg(hk1 * abs(ic))
            vh = mh * (-sg + (hh + sg) * g_h)
            hh = -sg + (hh + sg) * decay_h
            qc -= ic * vh
            q_irr -= ic * vh
            v_true += vh
        tn = t * th_a + th_b + qc * th_c
        q_rev = -ic * t * du
        a_irr += q_irr
        a_rev += q_rev
        a_chem += uu * ic
        a_resid += ic * (v_hold - v_true)
        a_q += qc
        buf[CH_VCMIN, kk] = v_hold
        buf[CH_VCMAX, kk] = v_hold
        buf[CH_HEAT, kk] = (q_irr + q_rev) * mult
        z = z - ic * dq
        t = tn
        # ---- its look-ups at the new state: the interval moves only when the state
        # leaves it (the same interval as _walk's, which then runs) ----------------------
        zc = min(max(z, z_lo), z_hi)
        moved = False
        if zc >= zn_hi or zc < zn_lo:
            i = _walk(zc, soc, ns, i)
            zi = soc[i]
            zn_lo, zn_hi = _node_bounds(soc, ns, i)
            moved = True
        if not flat:
            tc = min(max(t, t_lo), t_hi)
            if tc >= tn_hi or tc < tn_lo:
                j = _walk(tc, tg, nt, j)
                tj = tg[j]
                tn_lo, tn_hi = _node_bounds(tg, nt, j)
                moved = True
            dt = tc - tj
        if moved:
            base = (i * (nt - 1) + j) * width
            row = coef[base:base + width]
        (uu, du, r0, r1, d1, g1, r2, d2, g2, r3, d3, g3, eh, rh, r_mean,
         cc) = _one_look(row, zc - zi, dt, t, tref, h, n_rc, v1, v2, v3, mean_hold)
        if hy is not None:
            mh = row[hoff] + row[hoff + 1] * (zc - zi)
            eh += mh * hh
            if mean_hold:
                half = 0.5 * mh * hk1
                rp = half * (1.0 + hh)
                rn = half * (1.0 - hh)
                rh0 = rh
                rh = rh + (rp if s_src > 0.0 else rn)
        es = eh * m_s
        rs = (rh * inv_mp) * m_s
    # ---- write back ------------------------------------------------------------------
    cs[0, 0] = z
    cs[0, 1] = t
    cs[0, 2] = v1
    if n_rc > 1:
        cs[0, 3] = v2
    if n_rc > 2:
        cs[0, 4] = v3
    if hy is not None:
        cs[0, 2 + n_rc] = hh
    idx[0, 0] = i
    idx[0, 1] = j
    acc[E_LINK] += a_link * h
    acc[E_LRECT] += a_lrect * h
    acc[E_LINV] += a_linv * h
    acc[E_LDCDC] += a_ldcdc * h
    acc[E_IRR] += a_irr * h * mult
    acc[E_REV] += a_rev * h * mult
    acc[E_CHEM] += a_chem * h * mult
    acc[E_RESID] += a_resid * h * mult
    acc[E_COOL] += (a_q * h - c_th * (t - t_start)) * mult
    # the state after the last step (the steps' starts are in buf)
    stat[S_ZMIN] = min(stat[S_ZMIN], z)
    stat[S_ZMAX] = max(stat[S_ZMAX], z)
    stat[S_TMIN] = min(stat[S_TMIN], t)
    stat[S_TMAX] = max(stat[S_TMAX], t)
    stat[S_GRAMP] = s_gramp
    stat[S_LRAMP] = s_lramp
    stat[S_PLPREV] = pl_prev
    stat[S_PF] = pf
    stat[S_PGPREV] = pg_prev
    ist[K_STEP] = k0 + n
    ist[K_SEG] = seg
    return -1


@njit(cache=True, error_model="numpy", fastmath=_FOLD_FM)
def _one_block_stats(buf, ibuf, n, h, inv_mp, acc, stat, cacc, sc, t_end, has_dcdc):
    """The sums and extremes :func:`_run_one` leaves to the block: the energies of the
    load, grid and battery, the string's throughput and current squared, the cell's
    (``cacc``: current times ``1/m_p``), the extremes of SOC, temperature and cell voltage
    and the largest cell current, from the block's ``n`` steps in ``buf`` (vectorised
    as :func:`_reduce`: sums reassociated, extremes exact). ``sc``: a scratch double
    (:func:`_kval`)."""
    isc = sc.view(np.int64)
    big = _okey(np.int64(0x7FF0000000000000))  # +inf's key
    for q, e in ((CH_GRID, E_GRID), (CH_LOAD, E_LOAD), (CH_SERVED, E_SERVED),
                 (CH_UNSERVED, E_UNSERVED)):
        acc[e] += _sum_row(buf[q], 0, n) * h
    batt = _sum_row(buf[CH_BATT], 0, n) * h
    acc[E_BATT] += batt
    if not has_dcdc:
        acc[E_LINK] += batt  # the battery on the link itself
    lo, hi, _s = _fold_row(buf[CH_SOC], ibuf[CH_SOC], 0, n, big, -big)
    stat[S_ZMIN] = min(stat[S_ZMIN], _kval(lo, sc, isc))
    stat[S_ZMAX] = max(stat[S_ZMAX], _kval(hi, sc, isc))
    lo, hi, _s = _fold_row(buf[CH_TMAX], ibuf[CH_TMAX], 0, n, big, -big)
    stat[S_TMIN] = min(stat[S_TMIN], _kval(lo, sc, isc))
    stat[S_TMAX] = max(stat[S_TMAX], _kval(hi, sc, isc))
    cacc[0, 2] = max(cacc[0, 2], _kval(hi, sc, isc), t_end)  # and after the last step
    lo, hi, _s = _fold_row(buf[CH_VCMIN], ibuf[CH_VCMIN], 0, n, big, -big)
    stat[S_VCMIN] = min(stat[S_VCMIN], _kval(lo, sc, isc))
    stat[S_VCMAX] = max(stat[S_VCMAX], _kval(hi, sc, isc))
    cur = buf[CH_I, :n]
    icur = ibuf[CH_I, :n]
    s1 = 0.0
    s2 = 0.0
    mx = np.int64(0)
    for r in range(cur.shape[0]):
        x = cur[r]
        s1 += abs(x)
        s2 += x * x
        mx = max(mx, icur[r] & _MAG)  # |x|'s bits: ordered as |x|
    acc[E_THRU] += s1 * h
    acc[E_I2] += s2 * h
    cacc[0, 0] += s1 * inv_mp * h
    cacc[0, 1] += s2 * (inv_mp * inv_mp) * h
    stat[S_IABS] = max(stat[S_IABS], _kval(mx, sc, isc) * inv_mp)


@njit(cache=True, error_model="numpy", _nrt=False)  # see _run
def _drive(mode, tb, cl, bms, pl, ctl, sch, u, h, cs, scr, idx, grp, cacc, acc, stat, ist,
           flags, lim_count, lim_steps, lim_energy, buf, ibuf, bins, bin_acc, ibin_acc,
           bin_steps, spec, spec_acc, spec_steps, full, full_pos, ct, hy, one):
    """:func:`_run` (:func:`_run_one` when ``one``: see :func:`one_cell_loop`) over ``u``
    in blocks of the buffer's length, each folded into the bins (:func:`_reduce`) and
    copied into ``full`` (when it has columns) at ``full_pos``.

    The buffer is small (a few thousand steps: it stays in the core's cache while it is
    written and folded). Returns -1, or the global step that failed.
    """
    n = u.shape[0]
    nb = buf.shape[1]
    keep = full.shape[1] > 0
    inv_mp = 1.0 / cl.m_p
    for a in range(0, n, nb):
        b = min(n, a + nb)
        if one:
            fail = _run_one(tb, cl, bms, pl, ctl, sch, u[a:b], h, cs, idx, acc, stat, ist, flags,
                            lim_count, lim_steps, lim_energy, buf, hy)
            _one_block_stats(buf, ibuf, b - a, h, inv_mp, acc, stat, cacc, grp[0], cs[0, 1],
                             pl.has_dcdc)
        else:
            fail = _run(mode, tb, cl, bms, pl, ctl, sch, u[a:b], h, cs, scr, idx, grp, cacc,
                        acc, stat, ist, flags, lim_count, lim_steps, lim_energy, buf, ct, hy)
        if fail >= 0:
            return fail
        _reduce(buf, ibuf, b - a, bins, bin_acc, ibin_acc, ist, bin_steps, spec, spec_acc,
                spec_steps)
        if keep:
            for q in range(NCH):
                for r in range(b - a):
                    full[q, full_pos + a + r] = buf[q, r]
    return -1



# =====================================================================================
# Python side: parameters, state, steppers
# =====================================================================================
def _ro(a, dtype=float) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=dtype)
    a.setflags(write=False)
    return a


def _bucket(grid: np.ndarray) -> tuple[np.ndarray, float, float]:
    """A uniform bucket table locating ``x`` in ``grid`` in O(1) (then a local walk)."""
    span = float(grid[-1] - grid[0])
    dmin = float(np.min(np.diff(grid)))
    nb = int(min(max(2.0 * np.ceil(span / dmin), 1.0), 65536.0))
    inv_db = nb / span
    starts = grid[0] + np.arange(nb) / inv_db
    bucket = np.clip(np.searchsorted(grid, starts, side="right") - 1, 0, grid.size - 2)
    return _ro(bucket, np.int64), float(grid[0]), float(inv_db)


def tables_from_ecm(ecm: ECM) -> Tables:
    """The ECM's tables in the kernel's layout (read-only arrays).

    Per table interval ``(i, j)`` (SOC x temperature) one row of ``width = 8 + 8 n_rc``
    coefficients: OCV and dOCV/dT as ``a + b dz`` (linear in SOC, as ``np.interp``), then
    R0 and each element's R_k and tau_k (then, with the charge-transfer element, R_ct and
    I0: ``width = 16 + 8 n_rc``) as ``(f00 + f_T dT) + dz (f_z + f_zT dT)`` with
    ``dz``, ``dT`` from the interval's lower corner: the same bilinear interpolation as
    the ECM's (round-off apart), from 4 contiguous numbers and 3 multiply-adds, and no
    per-step spacing or weights. With the OCV hysteresis, its ``M(z)`` as ``a + b dz``
    at the row's end (offset ``hys_off``; 2 more numbers).
    """
    soc = np.asarray(ecm.soc, dtype=float)
    temps = np.asarray(ecm.temperature_K, dtype=float)
    flat = temps.size == 1
    r0 = np.asarray(ecm.r0_Ohm, dtype=float)
    rr = np.asarray(ecm.rc_R_Ohm, dtype=float)
    rt = np.asarray(ecm.rc_tau_s, dtype=float)
    n_rc = int(ecm.n_rc)
    # (q, ns, nt): R0, then R_k, tau_k interleaved per element
    q = [r0] + [a for k in range(n_rc) for a in (rr[k], rt[k])]
    has_ct = bool(ecm.has_ct)
    if has_ct:  # the charge-transfer element's R_ct and I0: the row's last 8 numbers
        q += [np.asarray(ecm.ct_R_Ohm, dtype=float), np.asarray(ecm.ct_i0_A, dtype=float)]
    tab = np.stack(q, axis=0)
    if flat:
        temps = np.array([temps[0], temps[0] + 1.0])
        tab = np.concatenate([tab, tab], axis=2)
    ds = np.diff(soc)[:, None]
    dtt = np.diff(temps)[None, :]
    f00 = tab[:, :-1, :-1]
    f10 = tab[:, 1:, :-1]
    f01 = tab[:, :-1, 1:]
    f11 = tab[:, 1:, 1:]
    bil = np.stack([f00, (f01 - f00) / dtt, (f10 - f00) / ds,
                    (f11 - f10 - f01 + f00) / (ds * dtt)], axis=-1)  # (q, ns-1, nt-1, 4)
    bil = np.moveaxis(bil, 0, 2)  # (ns-1, nt-1, q, 4)
    ocv = np.asarray(ecm.ocv_V, dtype=float)
    du = np.asarray(ecm.docv_dT_V_per_K, dtype=float)
    lin = np.stack([ocv[:-1], np.diff(ocv) / np.diff(soc), du[:-1], np.diff(du) / np.diff(soc)],
                   axis=-1)  # (ns-1, 4)
    lin = np.broadcast_to(lin[:, None, :], (soc.size - 1, temps.size - 1, 4))
    coef = np.concatenate([lin, bil.reshape(soc.size - 1, temps.size - 1, -1)], axis=-1)
    hys_off = coef.shape[-1]
    has_hys = bool(ecm.has_hysteresis)
    if has_hys:  # M(z), linear in SOC as the OCV: the row's last 2 numbers
        m = np.asarray(ecm.hysteresis_V, dtype=float)
        hl = np.stack([m[:-1], np.diff(m) / np.diff(soc)], axis=-1)  # (ns-1, 2)
        hl = np.broadcast_to(hl[:, None, :], (soc.size - 1, temps.size - 1, 2))
        coef = np.concatenate([coef, hl], axis=-1)
    width = coef.shape[-1]
    sb, sb0, sinv = _bucket(soc)
    tb_, tb0, tinv = _bucket(temps)
    return Tables(_ro(soc), sb, sb0, sinv, _ro(temps), tb_, tb0, tinv, bool(flat),
                  _ro(coef.reshape(-1)), int(width), float(ecm.reference_temperature_K), n_rc,
                  float(np.min(rt)), has_ct, has_hys, int(hys_off),
                  float(ecm.hysteresis_rate) if has_hys else 0.0)


@dataclass(frozen=True, eq=False)
class StringParams:
    """Frozen parameters of a string of ``n_series`` x ``n_parallel`` cells of one ECM.

    Built by :func:`string_params`. ``capacity_scale`` and ``resistance_scale`` are the
    per-cell factors (shape ``(n_series * n_parallel,)``, group-major: cell ``g * n_parallel
    + p``);
    when all cells are identical the string is simulated as one cell standing for all
    (``lumped``), with identical results.
    """

    ecm: ECM
    n_series: int
    n_parallel: int
    capacity_scale: np.ndarray
    resistance_scale: np.ndarray
    coolant_temperature_K: float
    heat_transfer_W_per_K: float
    thermal_mass_J_per_K: float
    lumped: bool
    power_hold: str
    tables: Tables = field(repr=False)
    cells: Cells = field(repr=False)
    bms: BMS = field(repr=False)

    @property
    def n_cells(self) -> int:
        return self.n_series * self.n_parallel

    @property
    def n_sim(self) -> int:
        """Cells actually simulated (1 when lumped)."""
        return int(self.cells.n_s * self.cells.n_p)

    @property
    def n_rc(self) -> int:
        return self.ecm.n_rc


def _bms_from(ecm: ECM, limits: dict | None) -> BMS:
    lim = dict(ecm.limits)
    lim.update(limits or {})
    return BMS(
        float(lim.get("current_max_discharge_A", np.inf)),
        float(lim.get("current_max_charge_A", np.inf)),
        float(lim.get("voltage_min_V", -np.inf)),
        float(lim.get("voltage_max_V", np.inf)),
        float(lim.get("temperature_min_K", -np.inf)),
        float(lim.get("temperature_max_K", np.inf)),
        float(lim.get("soc_min", -np.inf)),
        float(lim.get("soc_max", np.inf)),
    )


def string_params(
    ecm: ECM,
    *,
    n_series: int = 1,
    n_parallel: int = 1,
    capacity_scale=None,
    resistance_scale=None,
    coolant_temperature_K: float | None = None,
    heat_transfer_W_per_K: float | None = None,
    thermal_mass_J_per_K: float | None = None,
    limits: dict | None = None,
    power_hold: str = "mean",
    lumped: bool | None = None,
) -> StringParams:
    """Parameters of a string of ``n_series`` x ``n_parallel`` cells of ``ecm``.

    Parameters
    ----------
    capacity_scale, resistance_scale : (n_series * n_parallel,) per-cell factors on the
        capacity and on every resistance (R0 and R_k), group-major; default all 1.
        When both are all 1 the string is lumped into one simulated cell.
    coolant_temperature_K : coolant temperature [K]; default the ECM's reference
    heat_transfer_W_per_K, thermal_mass_J_per_K : per cell; default the ECM's
    limits : BMS cell limits overriding ``ecm.limits`` (keys as there, plus ``soc_min``,
        ``soc_max``); a limit absent from both is not enforced.
    power_hold : how a power demand sets the current held over a step. ``"mean"``
        (default): the current whose mean power over the step is the demand, so the
        battery's energy is exact (``zoh_residual_J`` = 0 to round-off). ``"start"``: the
        power at the step's start is the demand, as :func:`~cellmodels.reduction.
        simulate_ecm` and the FMU do (they then agree to round-off). The two differ by
        O(dt): about 1e-6 of the RC voltage swing per millisecond.
    lumped : simulate identical cells as one (default: when there is no spread);
        ``False`` simulates every cell even when identical (same results, N_s N_p times
        the work: for tests).
    """
    owner = "argument of string_params"
    if power_hold not in ("mean", "start"):
        raise InputError(f"The 'power_hold' {owner} must be 'mean' or 'start'. Got "
                         f"{power_hold!r} instead.")
    mean_hold = power_hold == "mean"
    for name, value in (("n_series", n_series), ("n_parallel", n_parallel)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise InputError(f"The '{name}' {owner} must be an integer >= 1. Got {value!r} "
                             "instead.")
    n = int(n_series) * int(n_parallel)
    scales = []
    for name, value in (("capacity_scale", capacity_scale),
                        ("resistance_scale", resistance_scale)):
        a = np.ones(n) if value is None else np.asarray(value, dtype=float)
        if a.shape != (n,):
            raise InputError(f"The '{name}' {owner} must have shape ({n},) (n_series x "
                             f"n_parallel). Got {a.shape} instead.")
        bad = np.flatnonzero(~(np.isfinite(a) & (a > 0)))
        if bad.size:
            raise InputError(f"The '{name}' {owner} must be finite and > 0. Got "
                             f"{float(a[bad[0]])!r} for cell {int(bad[0])}.")
        scales.append(a)
    t_cool = float(ecm.reference_temperature_K if coolant_temperature_K is None
                   else coolant_temperature_K)
    check_range(t_cool, "coolant_temperature_K", owner, 0.0, 1000.0, closed=(False, True))
    ha = float(ecm.heat_transfer_W_per_K if heat_transfer_W_per_K is None
               else heat_transfer_W_per_K)
    check_range(ha, "heat_transfer_W_per_K", owner, 0.0, np.inf, closed=(True, False))
    c_th = float(ecm.thermal_mass_J_per_K if thermal_mass_J_per_K is None
                 else thermal_mass_J_per_K)
    check_range(c_th, "thermal_mass_J_per_K", owner, 0.0, np.inf, closed=(False, False))
    identical = bool(np.all(scales[0] == 1.0) and np.all(scales[1] == 1.0))
    if lumped and not identical:
        raise InputError("The 'lumped' argument of string_params can be True only for "
                         "identical cells (no capacity or resistance spread).")
    lumped = identical if lumped is None else bool(lumped)
    q_As = ecm.capacity_Ah * 3600.0 * scales[0]
    if lumped:
        cells = Cells(1, 1, float(n_series), float(n_parallel), _ro(1.0 / q_As[:1]),
                      _ro(scales[1][:1]), c_th, ha, t_cool, mean_hold)
    else:
        cells = Cells(int(n_series), int(n_parallel), 1.0, 1.0, _ro(1.0 / q_As), _ro(scales[1]),
                      c_th, ha, t_cool, mean_hold)
    bms_limits = dict(limits or {})
    _known = ("voltage_min_V", "voltage_max_V", "current_max_discharge_A",
              "current_max_charge_A", "temperature_min_K", "temperature_max_K", "soc_min",
              "soc_max")
    for key in bms_limits:
        if key not in _known:
            raise InputError(f"Unknown BMS limit {key!r} in the 'limits' {owner}."
                             + suggest(str(key), _known))
    merged = {**ecm.limits, **bms_limits}
    for lo_k, hi_k in (("soc_min", "soc_max"), ("voltage_min_V", "voltage_max_V"),
                       ("temperature_min_K", "temperature_max_K")):
        if lo_k in merged and hi_k in merged and not merged[lo_k] <= merged[hi_k]:
            raise InputError(f"The 'limits' {owner} (over the ECM's) must have {lo_k} <= "
                             f"{hi_k}. Got {merged[lo_k]!r} and {merged[hi_k]!r} instead.")
    for key, value in bms_limits.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or np.isnan(value):
            raise ParameterError(f"The BMS limit {key!r} must be a number. Got {value!r}.")
    return StringParams(ecm, int(n_series), int(n_parallel), _ro(scales[0]), _ro(scales[1]),
                        t_cool, ha, c_th, lumped, power_hold, tables_from_ecm(ecm), cells,
                        _bms_from(ecm, bms_limits))


@dataclass(frozen=True, eq=False)
class StringState:
    """The state of every simulated cell: SOC, temperature [K], RC voltages [V] and, with
    an ECM with hysteresis, the hysteresis state h [-].

    ``cells`` is ``(n_sim, 2 + n_rc)`` (``2 + n_rc + 1`` with hysteresis): columns SOC,
    temperature_K, v_1..v_n[, h] (read-only). ``time_s`` is the time of the state;
    ``has_hysteresis`` whether the last column is h.
    """

    cells: np.ndarray
    time_s: float = 0.0
    has_hysteresis: bool = False

    @property
    def soc(self) -> np.ndarray:
        return self.cells[:, 0]

    @property
    def temperature_K(self) -> np.ndarray:
        return self.cells[:, 1]

    @property
    def rc_V(self) -> np.ndarray:
        return self.cells[:, 2:-1] if self.has_hysteresis else self.cells[:, 2:]

    @property
    def hysteresis(self) -> np.ndarray | None:
        """Each cell's hysteresis state h in [-1, 1]; None without hysteresis."""
        return self.cells[:, -1] if self.has_hysteresis else None


def init(params: StringParams, *, soc=0.5, temperature_K=None, hysteresis=None
         ) -> StringState:
    """Relaxed cells (RC voltages 0) at ``soc`` and ``temperature_K`` (scalars or per cell;
    temperature default: the coolant's). ``hysteresis``: the hysteresis state h in
    [-1, 1] (scalar or per cell; default the ECM's ``hysteresis_initial``), for an ECM
    with hysteresis only."""
    n = params.n_sim
    has_hys = params.tables.has_hys
    if hysteresis is not None and not has_hys:
        raise InputError(f"The ECM {params.ecm.name!r} has no hysteresis; the initial "
                         f"'hysteresis' must be None. Got {hysteresis!r}.")
    t0 = params.coolant_temperature_K if temperature_K is None else temperature_K
    z = np.broadcast_to(np.asarray(soc, dtype=float), (n,)) if np.ndim(soc) == 0 else \
        np.asarray(soc, dtype=float)
    t = np.broadcast_to(np.asarray(t0, dtype=float), (n,)) if np.ndim(t0) == 0 else \
        np.asarray(t0, dtype=float)
    if z.shape != (n,) or t.shape != (n,):
        raise InputError(f"The initial 'soc' and 'temperature_K' must be scalars or of "
                         f"shape ({n},). Got {z.shape} and {t.shape}.")
    checks = [("soc", z, 0.0, 1.0), ("temperature_K", t, 0.0, 1000.0)]
    if has_hys:
        h0 = params.ecm.hysteresis_initial if hysteresis is None else hysteresis
        hy = (np.broadcast_to(np.asarray(h0, dtype=float), (n,)) if np.ndim(h0) == 0
              else np.asarray(h0, dtype=float))
        if hy.shape != (n,):
            raise InputError(f"The initial 'hysteresis' must be a scalar or of shape ({n},). "
                             f"Got {hy.shape}.")
        checks.append(("hysteresis", hy, -1.0, 1.0))
    for name, a, lo, hi in checks:
        ok = (a > lo) if name == "temperature_K" else (a >= lo)
        bad = np.flatnonzero(~(ok & (a <= hi)))
        if bad.size:
            raise InputError(f"The initial '{name}' must be in the range "
                             f"{'(' if name == 'temperature_K' else '['}{lo:g}, {hi:g}]. "
                             f"Got {float(a[bad[0]])!r} for cell {int(bad[0])}.")
    cells = np.zeros((n, 2 + params.n_rc + int(has_hys)))
    cells[:, 0] = z
    cells[:, 1] = t
    if has_hys:
        cells[:, -1] = hy
    return StringState(_ro(cells), 0.0, has_hys)


@dataclass
class StringRun:
    """Every step of a string run (values at the step's start; heat over the step).

    ``time_s`` (n,): step starts; ``current_A`` string current; ``voltage_V`` string
    voltage; ``power_W`` battery power; ``soc`` mean SOC; ``temperature_K`` hottest
    cell; ``heat_W`` total over cells; ``final``: the state after the last step;
    ``energy_J``: the energy terms (ENERGY_TERMS).
    """

    time_s: np.ndarray
    current_A: np.ndarray
    voltage_V: np.ndarray
    power_W: np.ndarray
    soc: np.ndarray
    temperature_K: np.ndarray
    cell_voltage_min_V: np.ndarray
    cell_voltage_max_V: np.ndarray
    heat_W: np.ndarray
    final: StringState
    energy_J: dict


def _no_plant():
    one = np.array([0.0, 1.0])
    c = Curve(1.0, 1.0, _ro(one), _ro(np.ones(2)), _ro(np.ones(1)), _ro(np.zeros(1)), _ro(one),
              _ro(one))
    return Plant(c, c, c, False), Control(False, 0.0, np.inf, 0.5, 0.0, 1.0, 0.0), \
        Schedule(_ro(np.zeros(1, np.int64), np.int64), _ro(np.zeros(1)), _ro(np.zeros(1)))


def work_arrays(params: StringParams, state: StringState, n_steps: int, bin_steps: int,
                spec_steps: int, full: bool, chunk_steps: int | None = None) -> dict:
    """Fresh state and output arrays for :func:`run_chunk` (also used by the UPS driver).

    ``full`` keeps every step of every channel, shape (NCH, n_steps); ``buf`` is the
    per-block buffer (NCH, <= BLOCK_STEPS + 8) the kernel writes and :func:`_reduce`
    folds.
    """
    n_sim = params.n_sim
    width = 2 + params.n_rc + int(params.tables.has_hys)
    if state.cells.shape != (n_sim, width):
        raise InputError(f"The string state holds cells of shape {state.cells.shape}; these "
                         f"params need ({n_sim}, {width}) (SOC, temperature, {params.n_rc} RC "
                         f"voltages{', hysteresis' if params.tables.has_hys else ''}).")
    n_bins = -(-n_steps // bin_steps)
    n_spec = -(-n_steps // spec_steps)
    chunk = max(1, min(n_steps, chunk_steps or n_steps))
    stat = np.zeros(NSTAT)
    stat[[S_ZMIN, S_TMIN, S_VCMIN]] = np.inf
    stat[[S_ZMAX, S_TMAX, S_VCMAX]] = -np.inf
    cacc = np.zeros((n_sim, 3))
    cacc[:, 2] = state.cells[:, 1]
    return {
        "cs": np.array(state.cells, dtype=float, order="C"),
        "scr": np.zeros((n_sim, NSCR0 + 3 * params.n_rc
                         + (NCT if params.tables.has_ct else 0)
                         + (NHY if params.tables.has_hys else 0))),
        "idx": np.zeros((n_sim, 2), dtype=np.int64),
        "grp": np.zeros((params.cells.n_s, 2)),
        "cacc": cacc,
        "acc": np.zeros(NACC),
        "stat": stat,
        "ist": np.zeros(NISTATE, dtype=np.int64),
        "flags": np.zeros(NLIM, dtype=np.int64),
        "lim_count": np.zeros(NLIM, dtype=np.int64),
        "lim_steps": np.zeros(NLIM, dtype=np.int64),
        "lim_energy": np.zeros(NLIM),
        "bins": np.zeros((n_bins, NCH, 3)),
        "bin_acc": np.stack([np.full(NCH, np.inf), np.full(NCH, -np.inf), np.zeros(NCH)]),
        "spec": np.zeros((n_spec, 2)),
        "spec_acc": np.zeros(2),
        # rows 8 doubles longer than a power of two apart: the channels' stores of one
        # step then fall into different sets of the L1 cache (rows 2^k apart all map to
        # one set and evict each other every step)
        "buf": np.zeros((NCH, min(chunk, BLOCK_STEPS) + 8)),
        "full": np.zeros((NCH, n_steps)) if full else None,
        "full_pos": 0,
        "bin_steps": int(bin_steps),
        "spec_steps": int(spec_steps),
    }


# steps per block of the kernel's channel buffer: 15 channels x 2048 steps x 8 bytes =
# 240 kB, written by _run and folded by _reduce while still in the core's L2 cache (a
# buffer of a whole 100,000-step chunk, 12 MB, went through memory twice per step)
BLOCK_STEPS = 2048
_NO_FULL = np.zeros((NCH, 0))


def one_cell_loop(mode: int, params: StringParams) -> bool:
    """Whether :func:`run_chunk` runs the specialised one-cell UPS loop (:func:`_run_one`):
    the UPS mode, one simulated cell (a lumped string, or a string of one cell) with
    resistance factor 1, 1 to :data:`NRC_ONE` RC elements and no charge-transfer element
    (with or without hysteresis).
    Otherwise (and when the work arrays hold ``generic=True``, for tests) the general
    loop :func:`_run`, which gives the same results to round-off."""
    cl = params.cells
    return bool(mode == MODE_UPS and not params.tables.has_ct and cl.n_s == 1
                and cl.n_p == 1 and 1 <= params.tables.n_rc <= NRC_ONE
                and float(cl.rmul[0]) == 1.0)


def run_chunk(mode: int, params: StringParams, plant, control, schedule, u: np.ndarray,
              dt_s: float, w: dict, final: bool) -> int:
    """Advance the work arrays ``w`` over ``u`` (any length; one compiled call that works
    through it in blocks of the buffer's length), fold the steps into the bins, keep them
    in ``w["full"]`` when it exists, and flush the partial bins when ``final``.
    Returns -1, or the global step index where a power could not be drawn."""
    u = np.ascontiguousarray(u, dtype=float)
    if not u.flags.writeable:
        # a read-only array (a Profile's values) is another numba type: a second compile of
        # the kernel (~30 s cold) whose vectorised, reassociated sums may differ from this
        # one's in the last bit; a copy of the chunk costs nothing beside its steps
        u = u.copy()
    n = u.shape[0]
    full = w["full"]
    if full is not None and w["full_pos"] + n > full.shape[1]:
        raise InputError(f"A chunk of {n} steps at step {w['full_pos']} exceeds the "
                         f"full-resolution record of {full.shape[1]} steps.")
    fail = int(_drive(mode, params.tables, params.cells, params.bms, plant, control, schedule,
                      u, float(dt_s), w["cs"], w["scr"], w["idx"], w["grp"], w["cacc"],
                      w["acc"], w["stat"], w["ist"], w["flags"], w["lim_count"],
                      w["lim_steps"], w["lim_energy"], w["buf"], w["buf"].view(np.int64),
                      w["bins"], w["bin_acc"], w["bin_acc"].view(np.int64), w["bin_steps"],
                      w["spec"], w["spec_acc"], w["spec_steps"],
                      _NO_FULL if full is None else full, w["full_pos"],
                      True if params.tables.has_ct else None,
                      True if params.tables.has_hys else None,
                      one_cell_loop(mode, params) and not w.get("generic", False)))
    if fail >= 0:
        return fail
    ist = w["ist"]
    if full is not None:
        w["full_pos"] += n
    if final:
        if ist[K_BINN] > 0:
            _flush_bin(w["bins"], w["bin_acc"][0], w["bin_acc"][1], w["bin_acc"][2], ist,
                       ist[K_BINN])
            ist[K_BINN] = 0
        if ist[K_SPECN] > 0:
            _flush_spec(w["spec"], w["spec_acc"], ist, ist[K_SPECN])
            ist[K_SPECN] = 0
    return -1


def _check_profile(u, name: str) -> np.ndarray:
    a = np.asarray(u, dtype=float)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1 or a.size < 1:
        raise InputError(f"The '{name}' profile must be a 1-D array of at least one sample. "
                         f"Got shape {a.shape} instead.")
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise InputError(f"The '{name}' profile holds {float(a[bad[0]])!r} at sample "
                         f"{int(bad[0])}.")
    return a


def simulate_string(params: StringParams, state: StringState, dt_s: float, *,
                    power_W=None, current_A=None) -> StringRun:
    """Run the string on a regular grid: ``power_W[k]`` (battery terminal power, discharge
    positive) or ``current_A[k]`` holds on ``[t0 + k dt, t0 + (k+1) dt)``.

    Outputs are at every step's start (right-continuous, as simulate_ecm's), heat is the
    step's mean. A power beyond what the string can give raises :class:`InputError`
    naming the sample.
    """
    if (power_W is None) == (current_A is None):
        raise InputError("Give exactly one of 'power_W' and 'current_A' to simulate_string.")
    check_range(dt_s, "dt_s", "argument of simulate_string", 0.0, np.inf,
                closed=(False, False))
    name = "power_W" if current_A is None else "current_A"
    u = _check_profile(power_W if current_A is None else current_A, name)
    mode = MODE_POWER if current_A is None else MODE_CURRENT
    plant, control, schedule = _no_plant()
    n = u.size
    w = work_arrays(params, state, n, n, n, True)
    fail = run_chunk(mode, params, plant, control, schedule, u, dt_s, w, True)
    if fail >= 0:
        extra = (" (or the Newton solve of the ECM's charge-transfer element did not converge)"
                 if params.tables.has_ct else "")
        what = "power" if current_A is None else "current"
        unit = "W" if current_A is None else "A"
        raise InputError(f"The {what} {u[fail]:.6g} {unit} at sample {fail} exceeds what the "
                         f"string can deliver at that state{extra}.")
    from .system import _warn_validity

    _warn_validity(params.ecm, w["stat"], float(w["stat"][S_IABS]))
    f = w["full"]
    final = StringState(_ro(w["cs"]), state.time_s + n * dt_s, params.tables.has_hys)
    return StringRun(
        time_s=state.time_s + np.arange(n) * dt_s, current_A=f[CH_I].copy(),
        voltage_V=f[CH_V].copy(), power_W=f[CH_BATT].copy(), soc=f[CH_SOC].copy(),
        temperature_K=f[CH_TMAX].copy(), cell_voltage_min_V=f[CH_VCMIN].copy(),
        cell_voltage_max_V=f[CH_VCMAX].copy(), heat_W=f[CH_HEAT].copy(), final=final,
        energy_J={k: float(v) for k, v in zip(ENERGY_TERMS, w["acc"])})


def step(params: StringParams, state: StringState, *, dt_s: float, power_W=None,
         current_A=None) -> StringState:
    """One step of ``dt_s`` with the battery power (or string current) held: a new state."""
    u = power_W if current_A is None else current_A
    kw = {"power_W": [u]} if current_A is None else {"current_A": [u]}
    del u
    return simulate_string(params, state, dt_s, **kw).final
