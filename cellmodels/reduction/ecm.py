"""The equivalent-circuit model (ECM): the contract between physics and system simulators.

An :class:`ECM` is frozen and checks itself when built. Its equations (discharge current
``I`` positive, SOC ``z``, RC voltages ``v_k``, cell temperature ``T``)::

    dz/dt    = -I / (3600 Q)
    dv_k/dt  = (R_k(z, T) I - v_k) / tau_k(z, T)                 k = 1..n
    dh/dt    = -gamma |I| / (3600 Q) (h + sign(I))   (only with hysteresis; h in [-1, 1])
    V        = U(z) + (T - T_ref) dU/dT(z) + M(z) h - R0(z, T) I - eta_ct(z, T, I)
               - sum_k v_k
    eta_ct   = 2 I0 R_ct asinh(I / (2 I0))     (only if the ECM has ct_R_Ohm; else 0)
    q_irr    = I (U - V) = R0 I^2 + I eta_ct + I sum_k v_k - I M h
                                                 (ohmic + polarisation + hysteresis)
    q_rev    = -I T dU/dT(z)                                        (entropic, Bernardi)
    C_th dT/dt = q_irr + q_rev - hA (T - T_amb)

``eta_ct`` is an optional current-dependent series resistance (Butler-Volmer-like,
symmetric): its small-signal resistance is ``R_ct(z, T)`` (``ct_R_Ohm``), and it bends
towards a logarithm above the current ``2 I0(z, T)`` (``ct_i0_A``), so the resistance
``R0 + eta_ct / I`` falls at high current as the charge-transfer resistance of the physics
does. Without it (``ct_R_Ohm = None``, the default) the ECM is linear in current, as
before.

``M(z) h`` is an optional one-state OCV hysteresis (Plett's form; the lumped counterpart of
PyBaMM's "one-state hysteresis" OCP, Axen et al. 2022): ``U`` is the equilibrium (mean)
OCV, ``M(z)`` (``hysteresis_V``) half the gap between the charge (``h = +1``) and the
discharge (``h = -1``) branches, and ``h`` moves towards the branch of the current's
direction at a rate ``gamma`` (``hysteresis_rate``) per unit of SOC passed, so
``1 + h`` falls as ``exp(-gamma dz)`` over a discharge. The hysteresis voltage is
dissipated as heat (``- I M h`` in ``q_irr``), as PyBaMM's DFN does (its hysteresis
heating, Wycisk et al. 2023). ``hysteresis_initial`` is the state the ECM's source
started from (what its simulators start from unless told otherwise). Without it
(``hysteresis_V = None``, the default) there is no such state.

Tables are on a SOC x temperature grid (``soc``, ``temperature_K``) and interpolated
bilinearly, clamped at the edges; using the ECM outside its ``validity`` range warns once
per run (see :mod:`cellmodels.reduction.simulate`).
"""

from __future__ import annotations

import dataclasses
import json
import numbers
from dataclasses import dataclass, field

import numpy as np

from ..errors import ParameterError, suggest

__all__ = ["ECM", "READABLE_SCHEMA_VERSIONS", "SCHEMA_VERSION", "bilinear", "hysteresis_after",
           "schema_version_of"]

#: The newest schema version. Version 2 added the optional charge-transfer element
#: (``ct_R_Ohm``, ``ct_i0_A``); an ECM without it is written as version 1, byte for byte
#: the layout of before, so older readers keep reading it, and they refuse (by version)
#: a file whose element they would otherwise drop silently.
#: Version 3 added the optional hysteresis (``hysteresis_V``, ``hysteresis_rate``,
#: ``hysteresis_initial``); an ECM without it is written as before (1 or 2).
SCHEMA_VERSION = 3
READABLE_SCHEMA_VERSIONS = (1, 2, 3)
_LIMIT_KEYS = ("voltage_min_V", "voltage_max_V", "current_max_discharge_A",
               "current_max_charge_A", "temperature_min_K", "temperature_max_K")
_VALIDITY_KEYS = ("soc_min", "soc_max", "temperature_min_K", "temperature_max_K",
                  "current_max_A")


def _is_number(value) -> bool:
    """A real number (Python's or numpy's), not a bool: what a table entry may be."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _scalar(value, name: str, low: float, low_closed: bool) -> float:
    """``float(value)`` for a scalar field in (low, inf) or [low, inf), else ParameterError
    in the one message format (a bool, text, an array or NaN is refused)."""
    allowed = f"in the range {'[' if low_closed else '('}{low:g}, inf)"
    if _is_number(value) and np.isfinite(value) and (
            value >= low if low_closed else value > low):
        return float(value)
    raise ParameterError(f"The ECM field '{name}' must be {allowed}. Got {value!r} instead.")


def _json_dict(value, name: str) -> dict:
    """``value`` as the file will hold it (JSON: str keys, lists, floats), so that write
    then read gives an identical object; ParameterError if JSON cannot hold it."""
    def keys_ok(obj) -> bool:  # JSON would turn a key 7 into "7": refuse it instead
        if isinstance(obj, dict):
            return all(isinstance(k, str) and keys_ok(v) for k, v in obj.items())
        return all(keys_ok(v) for v in obj) if isinstance(obj, list | tuple) else True

    try:
        value = dict(value)
        if not keys_ok(value):
            raise TypeError("a key is not a string")
        return json.loads(json.dumps(value, sort_keys=True))
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"The ECM field '{name}' must be a dict of JSON values (str "
                             f"keys; numbers, strings, lists, dicts). Got {value!r} ({exc})."
                             ) from None


def _arr(x, name: str, shape: tuple | None = None) -> np.ndarray:
    try:
        a = np.array(x, dtype=float)
    except (TypeError, ValueError) as exc:  # ragged nesting, text
        raise ParameterError(f"The ECM field '{name}' must be an array of numbers"
                             + (f" of shape {shape}" if shape is not None else "")
                             + f". Got {x!r} ({exc}).") from None
    a.setflags(write=False)
    if shape is not None and a.shape != shape:
        raise ParameterError(f"The ECM field '{name}' must have shape {shape}. Got {a.shape}.")
    if not np.all(np.isfinite(a)):
        raise ParameterError(f"The ECM field '{name}' holds NaN or inf.")
    return a


@dataclass(frozen=True)
class ECM:
    """A Thevenin-type ECM with n RC pairs over SOC x temperature.

    Attributes (SI units; shapes with ``ns = len(soc)``, ``nt = len(temperature_K)``)
    ----------
    name : str
    capacity_Ah : float
    soc : (ns,) increasing grid in [0, 1]
    temperature_K : (nt,) increasing grid
    ocv_V : (ns,) open-circuit voltage at ``reference_temperature_K``
    docv_dT_V_per_K : (ns,) entropic coefficient dU/dT
    r0_Ohm : (ns, nt) series resistance
    rc_R_Ohm : (n, ns, nt) RC resistances
    rc_tau_s : (n, ns, nt) RC time constants (C_k = tau_k / R_k)
    thermal_mass_J_per_K, heat_transfer_W_per_K : lumped thermal (C_th and hA)
    limits : dict with voltage_min_V, voltage_max_V, current_max_discharge_A,
        current_max_charge_A, temperature_min_K, temperature_max_K
    validity : dict with soc_min, soc_max, temperature_min_K, temperature_max_K,
        current_max_A: the range it was identified over
    ct_R_Ohm : (ns, nt) or None
        Small-signal resistance of the charge-transfer element ``eta_ct`` (see the module
        docstring); None (default) for none.
    ct_i0_A : (ns, nt) or None
        Its exchange-current-like scale [A] (> 0); given exactly when ``ct_R_Ohm`` is.
    hysteresis_V : (ns,) or None
        Half the gap between the charge and discharge OCV branches, M(z) >= 0 [V]; None
        (default) for no hysteresis.
    hysteresis_rate : float or None
        gamma > 0: the hysteresis state's rate per unit SOC passed [-]; given exactly when
        ``hysteresis_V`` is.
    hysteresis_initial : float or None
        The state h in [-1, 1] the source physics started from; given exactly when
        ``hysteresis_V`` is.
    error : dict of identification-error figures (e.g. rmse_V, max_V per case)
    provenance : dict of strings: source cell and its sha256, cellmodels version, date
    """

    name: str
    capacity_Ah: float
    soc: np.ndarray
    temperature_K: np.ndarray
    ocv_V: np.ndarray
    docv_dT_V_per_K: np.ndarray
    r0_Ohm: np.ndarray
    rc_R_Ohm: np.ndarray
    rc_tau_s: np.ndarray
    reference_temperature_K: float = 298.15
    thermal_mass_J_per_K: float = 1.0
    heat_transfer_W_per_K: float = 0.0
    limits: dict = field(default_factory=dict)
    validity: dict = field(default_factory=dict)
    error: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    ct_R_Ohm: np.ndarray | None = None
    ct_i0_A: np.ndarray | None = None
    hysteresis_V: np.ndarray | None = None
    hysteresis_rate: float | None = None
    hysteresis_initial: float | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.name, str):
            raise ParameterError(f"The ECM field 'name' must be a string. Got {self.name!r} "
                                 "instead.")
        try:  # the file holds it as UTF-8 text without NUL (HDF5 variable-length string)
            self.name.encode("utf-8")
            ok = "\x00" not in self.name
        except UnicodeEncodeError:
            ok = False
        if not ok:
            raise ParameterError("The ECM field 'name' must be text encodable as UTF-8 "
                                 f"without NUL characters. Got {self.name!r} instead.")
        for label, low, closed in (("capacity_Ah", 0.0, False),
                                   ("reference_temperature_K", 0.0, False),
                                   ("thermal_mass_J_per_K", 0.0, False),
                                   ("heat_transfer_W_per_K", 0.0, True)):
            set_(self, label, _scalar(getattr(self, label), label, low, closed))
        soc = _arr(self.soc, "soc")
        temps = _arr(self.temperature_K, "temperature_K")
        ns, nt = soc.size, temps.size
        if soc.ndim != 1 or ns < 2 or np.any(np.diff(soc) <= 0) or soc[0] < 0 or soc[-1] > 1:
            raise ParameterError("The ECM field 'soc' must be an increasing grid of at least "
                                 f"2 points in [0, 1]. Got {soc.tolist()}.")
        if temps.ndim != 1 or nt < 1 or np.any(np.diff(temps) <= 0) or temps[0] <= 0:
            raise ParameterError("The ECM field 'temperature_K' must be an increasing grid of "
                                 f"positive kelvin. Got {temps.tolist()}.")
        set_(self, "soc", soc)
        set_(self, "temperature_K", temps)
        set_(self, "ocv_V", _arr(self.ocv_V, "ocv_V", (ns,)))
        set_(self, "docv_dT_V_per_K", _arr(self.docv_dT_V_per_K, "docv_dT_V_per_K", (ns,)))
        set_(self, "r0_Ohm", _arr(self.r0_Ohm, "r0_Ohm", (ns, nt)))
        rc_r = _arr(self.rc_R_Ohm, "rc_R_Ohm")
        n = rc_r.shape[0] if rc_r.ndim == 3 else -1
        set_(self, "rc_R_Ohm", _arr(rc_r, "rc_R_Ohm", (max(n, 0), ns, nt)))
        set_(self, "rc_tau_s", _arr(self.rc_tau_s, "rc_tau_s", (max(n, 0), ns, nt)))
        if np.any(self.r0_Ohm <= 0):
            i = np.argwhere(self.r0_Ohm <= 0)[0]
            raise ParameterError(
                "The ECM table 'r0_Ohm' must be positive. Got "
                f"{float(self.r0_Ohm[tuple(i)])!r} at SOC {soc[i[0]]:g}, {temps[i[1]]:g} K.")
        if np.any(self.rc_R_Ohm < 0):
            i = np.argwhere(self.rc_R_Ohm < 0)[0]
            raise ParameterError(
                f"The ECM table 'rc_R_Ohm' must be non-negative. Got "
                f"{float(self.rc_R_Ohm[tuple(i)])!r} for RC {i[0] + 1} at SOC {soc[i[1]]:g}, "
                f"{temps[i[2]]:g} K.")
        if np.any(self.rc_tau_s <= 0):
            i = np.argwhere(self.rc_tau_s <= 0)[0]
            raise ParameterError(
                f"The ECM table 'rc_tau_s' must be positive. Got {float(self.rc_tau_s[tuple(i)])!r} "
                f"for RC {i[0] + 1} at SOC {soc[i[1]]:g}, {temps[i[2]]:g} K.")
        if (self.ct_R_Ohm is None) != (self.ct_i0_A is None):
            raise ParameterError("The ECM fields 'ct_R_Ohm' and 'ct_i0_A' go together: give "
                                 "both (a charge-transfer element) or neither.")
        if self.ct_R_Ohm is not None:
            set_(self, "ct_R_Ohm", _arr(self.ct_R_Ohm, "ct_R_Ohm", (ns, nt)))
            set_(self, "ct_i0_A", _arr(self.ct_i0_A, "ct_i0_A", (ns, nt)))
            for label, bad in (("ct_R_Ohm", self.ct_R_Ohm < 0), ("ct_i0_A", self.ct_i0_A <= 0)):
                if np.any(bad):
                    i = np.argwhere(bad)[0]
                    kind = "non-negative" if label == "ct_R_Ohm" else "positive"
                    raise ParameterError(
                        f"The ECM table '{label}' must be {kind}. Got "
                        f"{float(getattr(self, label)[tuple(i)])!r} at SOC {soc[i[0]]:g}, "
                        f"{temps[i[1]]:g} K.")
        given = [self.hysteresis_V is not None, self.hysteresis_rate is not None,
                 self.hysteresis_initial is not None]
        if any(given) and not all(given):
            raise ParameterError("The ECM fields 'hysteresis_V', 'hysteresis_rate' and "
                                 "'hysteresis_initial' go together: give all three (a "
                                 "hysteresis) or none.")
        if self.hysteresis_V is not None:
            m = _arr(self.hysteresis_V, "hysteresis_V", (ns,))
            if np.any(m < 0):
                k = int(np.flatnonzero(m < 0)[0])
                raise ParameterError(
                    "The ECM table 'hysteresis_V' (half the charge/discharge OCV gap) must be "
                    f"non-negative. Got {float(m[k])!r} at SOC {soc[k]:g}.")
            set_(self, "hysteresis_V", m)
            rate, h0 = self.hysteresis_rate, self.hysteresis_initial
            if not _is_number(rate) or not (np.isfinite(rate) and rate > 0):
                raise ParameterError("The ECM field 'hysteresis_rate' must be in the range "
                                     f"(0, inf). Got {rate!r} instead.")
            if not _is_number(h0) or not (-1.0 <= h0 <= 1.0):
                raise ParameterError("The ECM field 'hysteresis_initial' must be in the range "
                                     f"[-1, 1]. Got {h0!r} instead.")
            set_(self, "hysteresis_rate", float(rate))
            set_(self, "hysteresis_initial", float(h0))
        if np.any(np.diff(self.ocv_V) <= 0):
            k = int(np.flatnonzero(np.diff(self.ocv_V) <= 0)[0])
            raise ParameterError(
                "The ECM table 'ocv_V' must increase with SOC (a non-monotonic OCV makes "
                f"SOC from voltage ambiguous). It falls from {self.ocv_V[k]:.6f} V at SOC "
                f"{soc[k]:g} to {self.ocv_V[k + 1]:.6f} V at SOC {soc[k + 1]:g}.")
        if not (np.isfinite(self.reference_temperature_K) and self.reference_temperature_K > 0):
            raise ParameterError("The ECM field 'reference_temperature_K' must be in the range "
                                 f"(0, inf). Got {self.reference_temperature_K!r} instead.")
        for label in ("thermal_mass_J_per_K",):
            if not (np.isfinite(getattr(self, label)) and getattr(self, label) > 0):
                raise ParameterError(f"The ECM field '{label}' must be in the range (0, inf). "
                                     f"Got {getattr(self, label)!r} instead.")
        if not (np.isfinite(self.heat_transfer_W_per_K) and self.heat_transfer_W_per_K >= 0):
            raise ParameterError("The ECM field 'heat_transfer_W_per_K' must be in the range "
                                 f"[0, inf). Got {self.heat_transfer_W_per_K!r} instead.")
        for label, allowed in (("limits", _LIMIT_KEYS), ("validity", _VALIDITY_KEYS)):
            entries = dict(getattr(self, label))
            for key, value in entries.items():
                if key not in allowed:
                    raise ParameterError(f"Unknown key {key!r} in the ECM's '{label}'."
                                         + suggest(key, allowed))
                if not _is_number(value) or not (np.isfinite(value) or value == np.inf):
                    raise ParameterError(f"The ECM's '{label}' entry {key!r} must be a number. "
                                         f"Got {value!r} instead.")
                entries[key] = float(value)  # numpy scalars too; the file holds floats
            set_(self, label, entries)
        for label in ("limits", "validity", "error", "provenance"):
            set_(self, label, _json_dict(getattr(self, label), label))
        _check_ranges(self.limits, self.validity)

    @property
    def n_rc(self) -> int:
        return int(self.rc_R_Ohm.shape[0])

    def replace(self, **changes) -> ECM:
        """A copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)

    # --- evaluation (scalar, for the reference simulator and exports) -------------
    def ocv(self, soc: float, temperature_K: float) -> float:
        u = np.interp(soc, self.soc, self.ocv_V)
        du = np.interp(soc, self.soc, self.docv_dT_V_per_K)
        return float(u + (temperature_K - self.reference_temperature_K) * du)

    def docv_dT(self, soc: float) -> float:
        return float(np.interp(soc, self.soc, self.docv_dT_V_per_K))

    def r0(self, soc: float, temperature_K: float) -> float:
        return bilinear(self.soc, self.temperature_K, self.r0_Ohm, soc, temperature_K)

    @property
    def has_ct(self) -> bool:
        """True if the ECM has the current-dependent charge-transfer element."""
        return self.ct_R_Ohm is not None

    @property
    def has_hysteresis(self) -> bool:
        """True if the ECM has the one-state OCV hysteresis."""
        return self.hysteresis_V is not None

    def hysteresis(self, soc: float) -> float:
        """M(z) [V], half the charge/discharge OCV gap; 0 without hysteresis."""
        if self.hysteresis_V is None:
            return 0.0
        return float(np.interp(soc, self.soc, self.hysteresis_V))

    def hysteresis_step(self, h: float, current_A: float, dt_s: float) -> float:
        """The state h after ``dt_s`` at a constant current (exact)."""
        if self.hysteresis_V is None:
            return h
        return hysteresis_after(h, current_A, dt_s, self.hysteresis_rate, self.capacity_Ah)

    def ct(self, soc: float, temperature_K: float) -> tuple[float, float]:
        """(R_ct [Ohm], I0 [A]) of the charge-transfer element; (0, inf) without one."""
        if self.ct_R_Ohm is None:
            return 0.0, float("inf")
        return (bilinear(self.soc, self.temperature_K, self.ct_R_Ohm, soc, temperature_K),
                bilinear(self.soc, self.temperature_K, self.ct_i0_A, soc, temperature_K))

    def eta_ct(self, soc: float, temperature_K: float, current_A: float) -> float:
        """Voltage [V] across the charge-transfer element, ``2 I0 R_ct asinh(I/(2 I0))``."""
        if self.ct_R_Ohm is None:
            return 0.0
        r_ct, i0 = self.ct(soc, temperature_K)
        return float(2.0 * i0 * r_ct * np.arcsinh(current_A / (2.0 * i0)))

    def rc(self, soc: float, temperature_K: float) -> tuple[np.ndarray, np.ndarray]:
        r = np.array([bilinear(self.soc, self.temperature_K, self.rc_R_Ohm[k], soc,
                               temperature_K) for k in range(self.n_rc)])
        tau = np.array([bilinear(self.soc, self.temperature_K, self.rc_tau_s[k], soc,
                                 temperature_K) for k in range(self.n_rc)])
        return r, tau

    def terminal(self, soc: float, temperature_K: float, rc_V, current_A: float,
                 hysteresis: float = 0.0) -> tuple[float, float, float]:
        """Voltage [V], irreversible and reversible heat [W] at a state and current.

        ``hysteresis`` is the state h (ignored without hysteresis). The one definition of
        the output equations, shared by the simulators and tests.
        """
        r0 = self.r0(soc, temperature_K)
        v_rc = float(np.sum(rc_V))
        eta = self.eta_ct(soc, temperature_K, current_A)
        v_hys = self.hysteresis(soc) * hysteresis
        voltage = self.ocv(soc, temperature_K) + v_hys - r0 * current_A - eta - v_rc
        q_irr = r0 * current_A**2 + current_A * v_rc + current_A * eta - current_A * v_hys
        q_rev = -current_A * temperature_K * self.docv_dT(soc)
        return float(voltage), float(q_irr), float(q_rev)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ECM):
            return NotImplemented
        for f in dataclasses.fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not (isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)):
                    return False
            elif isinstance(a, dict):  # by the JSON the file holds: NaN equals NaN there
                if json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # mutable-looking arrays inside; equality is by value


def _check_ranges(limits: dict, validity: dict) -> None:
    """The limits and the validity range must be ranges: low <= high, SOC in [0, 1],
    currents >= 0, temperatures > 0 (a reversed range would make every state "outside"
    and every warning wrong)."""
    for label, entries in (("validity", validity), ("limits", limits)):
        for key in entries:
            value = entries[key]
            if key.startswith("soc_") and not 0.0 <= value <= 1.0:
                allowed = "in the range [0, 1]"
            elif key.startswith("current_") and not value >= 0.0:
                allowed = "in the range [0, inf]"
            elif key.startswith(("temperature_", "voltage_")) and not value > 0.0:
                allowed = "in the range (0, inf]"
            else:
                continue
            raise ParameterError(f"The ECM's '{label}' entry {key!r} must be {allowed}. Got "
                                 f"{value!r} instead.")
        for low, high in (("soc_min", "soc_max"), ("temperature_min_K", "temperature_max_K"),
                          ("voltage_min_V", "voltage_max_V")):
            if low in entries and high in entries and not entries[low] <= entries[high]:
                raise ParameterError(f"The ECM's '{label}' must have {low} <= {high}. Got "
                                     f"{entries[low]!r} and {entries[high]!r} instead.")


def schema_version_of(ecm: ECM) -> int:
    """The schema version a file of ``ecm`` is written with: 3 if it has hysteresis, else
    2 if it has the charge-transfer element, else 1 (see :data:`SCHEMA_VERSION`)."""
    if ecm.has_hysteresis:
        return 3
    return 2 if ecm.has_ct else 1


def hysteresis_after(h: float, current_A: float, dt_s: float, rate: float,
                     capacity_Ah: float) -> float:
    """The hysteresis state after ``dt_s`` at a constant current, exactly:
    ``-s + (h + s) exp(-rate |I| dt / (3600 Q))`` with ``s = sign(I)``; unchanged at I = 0."""
    if current_A == 0.0:
        return h
    s = 1.0 if current_A > 0 else -1.0
    return float(-s + (h + s) * np.exp(-rate * abs(current_A) * dt_s / (3600.0 * capacity_Ah)))


def bilinear(xs: np.ndarray, ys: np.ndarray, table: np.ndarray, x: float, y: float) -> float:
    """Bilinear interpolation of ``table[i, j]`` at (x, y), clamped at the grid's edges."""
    x = min(max(x, xs[0]), xs[-1])
    i = int(np.clip(np.searchsorted(xs, x) - 1, 0, len(xs) - 2))
    wx = (x - xs[i]) / (xs[i + 1] - xs[i])
    if len(ys) == 1:
        return float((1 - wx) * table[i, 0] + wx * table[i + 1, 0])
    y = min(max(y, ys[0]), ys[-1])
    j = int(np.clip(np.searchsorted(ys, y) - 1, 0, len(ys) - 2))
    wy = (y - ys[j]) / (ys[j + 1] - ys[j])
    return float(
        (1 - wx) * (1 - wy) * table[i, j]
        + wx * (1 - wy) * table[i + 1, j]
        + (1 - wx) * wy * table[i, j + 1]
        + wx * wy * table[i + 1, j + 1]
    )
