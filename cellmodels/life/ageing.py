"""Semi-empirical ageing: calendar and cycle terms, micro-cycles, knee mechanisms.

The model (coefficients per cell in ``cellmodels/life/coefficients/*.json``, each with its
source) is a sum of *terms*. Each term has a stress-dependent rate ``k`` (a product of
*factors* of temperature ``T`` [K], state of charge, graphite anode potential ``Ua`` [V],
depth of discharge ``dod``, C-rate ``crate``) and a trajectory in its own independent
variable ``x`` (days for calendar terms, equivalent full cycles for cycle terms):

- ``power``:   ``y = k x**p``. Under a stress that changes, the state is the equivalent
  variable ``X = sum k_i**(1/p) dx_i`` and ``y = X**p`` (the "equivalent time" rule; for
  constant stress it is ``k x**p`` exactly, and it is the same rule as BLAST-Lite's
  ``_update_power_state``: ``d(y**(1/p))/dx = k**(1/p)``);
- ``sigmoid``: ``y = 2 y_inf (1/2 - 1/(1 + exp(X**p)))`` with ``X = sum k_i dx_i``
  (BLAST-Lite's loss-of-active-material knee).

So the state of the model is one number per term, it only grows, and a window's
contribution is additive: ``X_after = X_before + n * dX_window`` for ``n`` repeats of a
window -- the property cycle jumping (:mod:`cellmodels.life.jump`) relies on.

Outputs::

    q_lli = 1 - sum(capacity terms of group "lli")
    q_lam = lam.offset - y_lam                   (if a "lam" term exists, else +inf)
    q     = min(q_lli, q_lam) * w                (w: wetted fraction, dry-out below)
    r     = max(1 + sum(resistance terms), r5 + r6 / q_lam) / w

Calendar terms are evaluated on the samples of a window (``T(t)``, ``soc(t)``,
``Ua(soc(t))``), cycle terms on the rainflow-counted cycles of the window's SOC
(:mod:`cellmodels.life.rainflow`): each cycle of depth ``d`` and count ``n`` adds ``n d q``
equivalent full cycles (``q`` the capacity fraction, so throughput is in nominal A.h, as
BLAST-Lite counts it), weighted by the micro-cycle factor below, at its own ``T`` (mean
over the cycle), mean SOC and C-rate (mean ``|dsoc/dt|`` over the cycle, per hour,
over the time the SOC moves at >= 0.01 C, so rests inside a cycle do not dilute it).

Micro-cycles
------------
Soto, Berrueta, Mateos, Sanchis, Ursua, "Impact of micro-cycles on the lifetime of
lithium-ion batteries: an experimental study", J. Energy Storage 55 (2022) 105343:
cycles under 2 % DoD ("micro-cycles") superimposed on full cycles had "a negligible, or
even positive effect" on ageing; counted in equivalent full cycles, the micro-cycled cells
lived 50 % longer than cells given full cycles only. A model that counts throughput alone
(each micro-cycle as ``d`` of a full cycle) therefore over-predicts their damage. Here a
cycle's equivalent-cycle contribution is multiplied by ``w_micro(d)``: ``w_micro`` (the
coefficient ``micro_cycle.weight``) for ``d <= d_micro`` (2 %), 1 for ``d >= 2 d_micro``,
log-linear in between. Bounds from the paper: the 50 % life extension in EFC with a
micro-cycle share ``f`` of throughput gives ``(1 - w) f = 1/3``, so ``w <= 2/3`` (at
``f = 1``) and ``w = 0`` for "negligible"; the default ``1/3`` is the middle of that range
(``f = 1/2``) and is a stated assumption, to vary in studies.

Dry-out (lean electrolyte)
--------------------------
After Li, O'Kane, Marinescu & Offer, JES 169, 060516 (2022) (the package's
:mod:`cellmodels.physics.lean` in its "electrode width" mode): the SEI consumes one EC
molecule per lithium, ``V_EC = 6.667e-5 m3/mol``; the lithium lost to SEI is a fraction
``f_SEI`` of the lithium-inventory capacity loss, ``n_SEI = f_SEI (1 - q_lli) Q F^-1``
(``Q`` nominal charge [C]). The reservoir ``V_res`` empties first; then the pores dry and
the wetted fraction ``w = 1 - (V_EC n_SEI - V_res) / V_pore`` scales capacity and the
inverse resistance. ``f_SEI``, ``V_res`` and ``V_pore`` come from the cell's parameter set
and its PyBaMM degradation run (:mod:`cellmodels.life.calibrate`).

Validity
--------
Every term states the range of the ageing data it was fitted to (temperature, DoD,
C-rate, SOC). A window outside it warns (:class:`LifeValidityWarning`) naming the
variable, the range and how far out, once per model and variable. Temperature, SOC and
DoD are then extrapolated by the term's formula; the C-rate factor is evaluated at the
nearest bound of its range (rate laws fitted at <= 1C do not extrapolate to the 10-100C
of millisecond micro-cycles), and the warning says so. A NaN, infinite or negative rate
or increment raises :class:`~cellmodels.errors.SolverError`; capacity is never NaN.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, ParameterError, SolverError, suggest
from .rainflow import own_charge_crate, rainflow

__all__ = [
    "AgeingModel",
    "AgeingState",
    "LifeValidityWarning",
    "WindowStress",
    "anode_potential_V",
    "available_models",
    "load_model",
]

F_C_PER_MOL = 96485.33212
R_J_PER_MOL_K = 8.314462618
EC_MOLAR_VOLUME_M3_PER_MOL = 6.667e-5  # Li et al. 2022 (see module docstring)
VARIABLES = ("temperature_K", "soc", "Ua_V", "dod", "crate")

#: How the ``crate`` stress variable of a cycle term is measured (the coefficient set's
#: ``"crate_definition"``, per model, overridable per term). Coefficients ported from a
#: source are used with that source's stressor definition:
#:
#: ``"own_charge"`` (default): each rainflow cycle's own rate, the rate at which the charge
#:     of that cycle moved (:func:`cellmodels.life.rainflow.own_charge_crate`).
#: ``"window_mean"``: one value for the whole window, NREL BLAST-Lite's C-rate stressor:
#:     the instantaneous rates ``|dSOC/dt|`` [1/h] of the sample intervals, those under
#:     0.01 1/h set to 0 (storage), trapezoid-integrated against the interval end times
#:     and divided by the window's duration, rests included (BLAST-Lite 1.1,
#:     blast/models/degradation_model.py, ``BatteryDegradationModel._extract_stressors``:
#:     ``np.trapz(abs_instantaneous_crate, t_days[1:]) / delta_t_days``). Computed on the
#:     window as given (no rotation, no closing step, no ``crate_max`` bound).
CRATE_DEFINITIONS = ("own_charge", "window_mean")
#: BLAST-Lite's threshold below which an instantaneous rate counts as storage [1/h]
WINDOW_MEAN_CRATE_FLOOR_PER_H = 1e-2


def window_mean_crate(time_s, soc) -> float:
    """BLAST-Lite's window C-rate stressor (``"window_mean"``, see CRATE_DEFINITIONS) [1/h].

    Parameters
    ----------
    time_s : (n,) strictly increasing sample times [s], n >= 2
    soc : (n,) state of charge [-]
    """
    t = np.asarray(time_s, dtype=float)
    z = np.asarray(soc, dtype=float)
    rate_h = np.abs(np.diff(z) / np.diff(t / 3600.0))
    rate_h[rate_h < WINDOW_MEAN_CRATE_FLOOR_PER_H] = 0.0
    t_d = t / 86400.0
    span_d = t_d[-1] - t_d[0]
    # trapezoid of the interval rates placed at the interval end times, as BLAST-Lite
    y, x = rate_h, t_d[1:]
    integral = float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x))) if y.size > 1 else 0.0
    value = integral / span_d
    return value if math.isfinite(value) else 0.0


def _check_crate_definition(value, where: str) -> str:
    if value not in CRATE_DEFINITIONS:
        raise ParameterError(f"The 'crate_definition' of {where} must be one of "
                             f"{', '.join(repr(c) for c in CRATE_DEFINITIONS)}. Got {value!r} "
                             "instead." + suggest(str(value), CRATE_DEFINITIONS))
    return value
#: How each variable is treated outside a term's validated range.
POLICY = {"temperature_K": "extrapolate", "soc": "extrapolate", "Ua_V": "extrapolate",
          "dod": "extrapolate", "crate": "hold"}
#: Excursions this small (absolute, in the variable's unit) do not warn. Temperature:
#: the ageing tests behind every range held their chambers to +-0.5 K at best (IEC
#: 62660-1 allows +-2 K), so a range's temperature bound is not known to better than
#: that; 0.01 K is far inside it, and far above the hundredths of a millikelvin a cell
#: cooled by a coolant at exactly the bound shows from entropic heat and the thermal
#: solver's round-off (5.7e-5 K below 298.15 K in a 1 MW UPS window). Excursions of
#: tenths of a kelvin still warn.
VALIDITY_TOLERANCE = {"temperature_K": 0.01}
_COEFF_DIR = Path(__file__).parent / "coefficients"


class LifeValidityWarning(UserWarning):
    """An ageing model was used outside the range of the data it was fitted to."""


def anode_potential_V(soc) -> np.ndarray:
    """Graphite potential vs Li/Li+ [V] at a cell SOC.

    M. Safari, C. Delacourt, "Modeling of a commercial graphite/LiFePO4 cell",
    J. Electrochem. Soc. 158 (2011) A562, graphite OCP; lithiation fraction
    ``x = 0.0085 + soc (0.78 - 0.0085)`` after Schimpe et al., J. Electrochem. Soc. 165
    (2018) A181. The same mapping as BLAST-Lite's ``_get_Ua`` (a generic graphite; not
    the cell's own balancing).
    """
    x = 8.5e-3 + np.asarray(soc, dtype=float) * (0.78 - 8.5e-3)
    return (0.6379 + 0.5416 * np.exp(-305.5309 * x)
            + 0.044 * np.tanh(-(x - 0.1958) / 0.1088)
            - 0.1978 * np.tanh((x - 1.0571) / 0.0854)
            - 0.6875 * np.tanh((x + 0.0117) / 0.0529)
            - 0.0175 * np.tanh((x - 0.5692) / 0.0875))


# ======================================================================================
# factors
# ======================================================================================
def _factor(f: dict, v: dict) -> np.ndarray:
    """Evaluate one factor on the variables ``v`` (arrays)."""
    t = f["type"]
    if t == "constant":
        return np.asarray(f["value"], dtype=float)
    if t == "exp_inv_T":  # exp(B / T)
        return np.exp(f["B_K"] / v["temperature_K"])
    if t == "arrhenius":  # exp(-Ea/R (1/T - 1/T_ref))
        return np.exp(-f["Ea_J_per_mol"] / R_J_PER_MOL_K
                      * (1.0 / v["temperature_K"] - 1.0 / f["T_ref_K"]))
    if t == "exp_x_over_T":  # exp(C x / T)
        return np.exp(f["C_K"] * v[f["variable"]] / v["temperature_K"])
    if t == "two_exp_inv_T":  # exp(D/T) + exp(-E/T)
        return np.exp(f["D_K"] / v["temperature_K"]) + np.exp(-f["E_K"] / v["temperature_K"])
    if t == "linear":  # c0 + sum c_v v
        out = np.asarray(f.get("const", 0.0), dtype=float)
        for name, c in f["coefficients"].items():
            out = out + c * v[name]
        return out
    if t == "exp_exp_square":  # exp(g exp(x^2))
        return np.exp(f["g"] * np.exp(v[f["variable"]] ** 2))
    if t == "cubic_centered":  # C (x - x0)^3 + D
        return f["C"] * (v[f["variable"]] - f["x0"]) ** 3 + f["D"]
    if t == "reciprocal_onset":  # 1 / (a + b (T - T0) dod soc / soc_ref)
        return 1.0 / (f["a"] + f["b"] * (v["temperature_K"] - f["T0_K"]) * v["dod"]
                      * v["soc"] / f["soc_ref"])
    if t == "power":  # (x / x_ref)^n
        return (v[f["variable"]] / f["x_ref"]) ** f["n"]
    raise ParameterError(f"Unknown ageing factor type {t!r}." + suggest(t, _FACTOR_TYPES))


_FACTOR_TYPES = ("constant", "exp_inv_T", "arrhenius", "exp_x_over_T", "two_exp_inv_T",
                 "linear", "exp_exp_square", "cubic_centered", "reciprocal_onset", "power")


def _factor_vars(f: dict) -> set[str]:
    t = f["type"]
    if t == "constant":
        return set()
    if t in ("exp_inv_T", "arrhenius", "two_exp_inv_T"):
        return {"temperature_K"}
    if t == "exp_x_over_T":
        return {"temperature_K", f["variable"]}
    if t == "linear":
        return set(f["coefficients"])
    if t in ("exp_exp_square", "cubic_centered", "power"):
        return {f["variable"]}
    if t == "reciprocal_onset":
        return {"temperature_K", "dod", "soc"}
    return set()


@dataclass(frozen=True)
class Term:
    """One ageing term (module docstring)."""

    name: str
    kind: str  # "calendar" | "cycle"
    output: str  # "capacity" | "resistance"
    trajectory: str  # "power" | "sigmoid"
    exponent: float
    factors: tuple
    validity: dict
    source: str
    group: str = "lli"  # "lli" | "lam"
    y_inf: float = 1.0
    crate_definition: str | None = None  # None: the model's (CRATE_DEFINITIONS)

    def rate(self, v: dict) -> np.ndarray:
        k = np.ones(np.broadcast(*[np.asarray(x) for x in v.values()]).shape) \
            if v else np.asarray(1.0)
        for f in self.factors:
            k = k * _factor(f, v)
        return k

    def increment_weight(self, k: np.ndarray) -> np.ndarray:
        """``k**(1/p)`` (power) or ``k`` (sigmoid): the per-dx increment of ``X``."""
        if self.trajectory == "power":
            return k ** (1.0 / self.exponent)
        return k

    def value(self, X: float) -> float:
        if X <= 0:
            return 0.0
        if self.trajectory == "power":
            return X ** self.exponent
        z = X ** self.exponent
        if z > 700:
            return self.y_inf
        return 2.0 * self.y_inf * (0.5 - 1.0 / (1.0 + math.exp(z)))


def _term_from_dict(d: dict, where: str) -> Term:
    allowed = ("name", "kind", "output", "trajectory", "exponent", "factors", "validity",
               "source", "group", "y_inf", "crate_definition")
    for key in d:
        if key not in allowed:
            raise ParameterError(f"Unknown key {key!r} in {where}." + suggest(key, allowed))
    for key in ("name", "kind", "output", "exponent", "factors", "source"):
        if key not in d:
            raise ParameterError(f"{where} needs '{key}'.")
    if d["kind"] not in ("calendar", "cycle"):
        raise ParameterError(f"The 'kind' of {where} must be 'calendar' or 'cycle'. Got "
                             f"{d['kind']!r} instead.")
    if d["output"] not in ("capacity", "resistance"):
        raise ParameterError(f"The 'output' of {where} must be 'capacity' or 'resistance'. "
                             f"Got {d['output']!r} instead.")
    traj = d.get("trajectory", "power")
    if traj not in ("power", "sigmoid"):
        raise ParameterError(f"The 'trajectory' of {where} must be 'power' or 'sigmoid'. "
                             f"Got {traj!r} instead.")
    p = float(d["exponent"])
    if not (p > 0 and math.isfinite(p)):
        raise ParameterError(f"The 'exponent' of {where} must be in the range (0, inf). Got "
                             f"{d['exponent']!r} instead.")
    for f in d["factors"]:
        if f.get("type") not in _FACTOR_TYPES:
            raise ParameterError(f"Unknown factor type {f.get('type')!r} in {where}."
                                 + suggest(str(f.get("type")), _FACTOR_TYPES))
        for var in _factor_vars(f):
            if var not in VARIABLES:
                raise ParameterError(f"Unknown stress variable {var!r} in {where}."
                                     + suggest(var, VARIABLES))
    validity = {}
    for var, rng in d.get("validity", {}).items():
        if var not in VARIABLES:
            raise ParameterError(f"Unknown validity variable {var!r} in {where}."
                                 + suggest(var, VARIABLES))
        lo, hi = float(rng[0]), float(rng[1])
        if not lo <= hi:
            raise ParameterError(f"The validity range of {var!r} in {where} must be "
                                 f"[low, high] with low <= high. Got {rng!r}.")
        validity[var] = (lo, hi)
    group = d.get("group", "lli")
    if group not in ("lli", "lam"):
        raise ParameterError(f"The 'group' of {where} must be 'lli' or 'lam'. Got "
                             f"{group!r} instead.")
    crate_def = d.get("crate_definition")
    if crate_def is not None:
        crate_def = _check_crate_definition(crate_def, where)
    return Term(d["name"], d["kind"], d["output"], traj, p, tuple(d["factors"]), validity,
                d["source"], group, float(d.get("y_inf", 1.0)), crate_def)


# ======================================================================================
# state and window stress
# ======================================================================================
@dataclass(frozen=True)
class AgeingState:
    """Accumulated ageing: the equivalent variable ``X`` of each term, time and EFC."""

    X: tuple
    time_s: float = 0.0
    efc: float = 0.0

    def __post_init__(self):
        x = np.asarray(self.X, dtype=float)
        if not np.all(np.isfinite(x)) or np.any(x < 0):
            raise SolverError(f"An ageing state must be finite and non-negative. Got {x}.")


@dataclass(frozen=True)
class WindowStress:
    """What one window adds to the state (per repeat), and what it saw.

    ``dX`` is per term; ``duration_s``, ``efc`` (equivalent full cycles, nominal A.h);
    ``summary``: DoD histogram, throughput share of micro-cycles, mean/max temperature,
    mean SOC; ``messages``: validity messages (already warned).
    """

    dX: tuple
    duration_s: float
    efc: float
    summary: dict = field(default_factory=dict)
    messages: tuple = ()


# ======================================================================================
# the model
# ======================================================================================
@dataclass(frozen=True)
class AgeingModel:
    """A set of ageing terms with coefficients and sources (module docstring).

    Build with :func:`load_model` (a shipped name or a JSON path) or
    :meth:`from_dict`.
    """

    name: str
    chemistry: str
    terms: tuple
    micro_cycle: dict
    lam_resistance: tuple | None = None  # (r5, r6)
    lam_offset: float = 1.0
    dry_out: dict | None = None
    description: str = ""
    sources: tuple = ()
    crate_definition: str = "own_charge"  # CRATE_DEFINITIONS
    _warned: set = field(default_factory=set, repr=False, compare=False)

    # ---- construction ---------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict, where: str = "the ageing model") -> AgeingModel:
        allowed = ("name", "chemistry", "description", "sources", "terms", "micro_cycle",
                   "lam", "dry_out", "notes", "crate_definition", "crate_definition_source")
        for key in d:
            if key not in allowed:
                raise ParameterError(f"Unknown key {key!r} in {where}." + suggest(key, allowed))
        terms = tuple(_term_from_dict(t, f"term {i} ({t.get('name', '?')}) of {where}")
                      for i, t in enumerate(d.get("terms", [])))
        if not terms:
            raise ParameterError(f"{where} has no terms.")
        micro = dict(d.get("micro_cycle", {"weight": 1.0, "dod": 0.02, "source": "none"}))
        w = float(micro.get("weight", 1.0))
        dm = float(micro.get("dod", 0.02))
        if not (0.0 <= w <= 1.0):
            raise ParameterError(f"The micro_cycle 'weight' of {where} must be in the range "
                                 f"[0, 1]. Got {w!r} instead.")
        if not (0.0 < dm < 0.5):
            raise ParameterError(f"The micro_cycle 'dod' of {where} must be in the range "
                                 f"(0, 0.5). Got {dm!r} instead.")
        micro.update(weight=w, dod=dm)
        lam = d.get("lam")
        lam_r = None
        lam_off = 1.0
        if lam is not None:
            lam_r = (float(lam["r5"]), float(lam["r6"]))
            lam_off = float(lam.get("offset", 1.0))
        dry = d.get("dry_out")
        if dry is not None:
            need = ("reservoir_m3", "pore_volume_m3", "sei_fraction_of_lli",
                    "capacity_Ah")
            for key in need:
                if key not in dry:
                    raise ParameterError(f"The dry_out block of {where} needs '{key}'.")
                if not (float(dry[key]) >= 0 and math.isfinite(float(dry[key]))):
                    raise ParameterError(f"The dry_out '{key}' of {where} must be a "
                                         f"non-negative number. Got {dry[key]!r}.")
            if float(dry["pore_volume_m3"]) <= 0:
                raise ParameterError(f"The dry_out 'pore_volume_m3' of {where} must be in "
                                     f"the range (0, inf). Got {dry['pore_volume_m3']!r}.")
            dry = dict(dry)
        crate_def = _check_crate_definition(d.get("crate_definition", "own_charge"), where)
        return cls(d.get("name", "unnamed"), d.get("chemistry", ""), terms, micro, lam_r,
                   lam_off, dry, d.get("description", ""), tuple(d.get("sources", ())),
                   crate_def)

    def to_dict(self) -> dict:
        terms = []
        for t in self.terms:
            terms.append({"name": t.name, "kind": t.kind, "output": t.output,
                          "trajectory": t.trajectory, "exponent": t.exponent,
                          "factors": [dict(f) for f in t.factors],
                          "validity": {k: list(v) for k, v in t.validity.items()},
                          "source": t.source, "group": t.group, "y_inf": t.y_inf})
            if t.crate_definition is not None:
                terms[-1]["crate_definition"] = t.crate_definition
        d = {"name": self.name, "chemistry": self.chemistry,
             "description": self.description, "sources": list(self.sources),
             "terms": terms, "micro_cycle": dict(self.micro_cycle),
             "crate_definition": self.crate_definition}
        if self.lam_resistance is not None:
            d["lam"] = {"r5": self.lam_resistance[0], "r6": self.lam_resistance[1],
                        "offset": self.lam_offset}
        if self.dry_out is not None:
            d["dry_out"] = dict(self.dry_out)
        return d

    def with_dry_out(self, **dry) -> AgeingModel:
        """A copy with a dry-out block (module docstring) set or replaced."""
        d = self.to_dict()
        d["dry_out"] = {**(d.get("dry_out") or {}), **dry}
        return AgeingModel.from_dict(d, f"the ageing model {self.name}")

    def with_micro_weight(self, weight: float) -> AgeingModel:
        d = self.to_dict()
        d["micro_cycle"]["weight"] = weight
        return AgeingModel.from_dict(d, f"the ageing model {self.name}")

    def initial_state(self) -> AgeingState:
        return AgeingState(tuple(0.0 for _ in self.terms))

    # ---- micro-cycles ------------------------------------------------------------------
    def micro_weight(self, dod) -> np.ndarray:
        """The micro-cycle weight ``w_micro(d)`` (module docstring)."""
        d = np.asarray(dod, dtype=float)
        w = self.micro_cycle["weight"]
        dm = self.micro_cycle["dod"]
        if w >= 1.0:
            return np.ones_like(d)
        lo = np.log(dm)
        s = np.clip((np.log(np.maximum(d, 1e-300)) - lo) / np.log(2.0), 0.0, 1.0)
        return w + (1.0 - w) * s

    # ---- validity ---------------------------------------------------------------------
    def _check(self, term: Term, var: str, values: np.ndarray, weights=None,
               messages: list | None = None) -> np.ndarray:
        """Warn if ``values`` leave the term's range of ``var``; apply the policy."""
        if var not in term.validity or values.size == 0:
            return values
        lo, hi = term.validity[var]
        tol = VALIDITY_TOLERANCE.get(var, 0.0) + 1e-12 * max(1.0, abs(lo), abs(hi))
        below = values < lo - tol
        above = values > hi + tol
        if not (np.any(below) or np.any(above)):
            return values
        key = (term.name, var)
        vmin, vmax = float(np.min(values)), float(np.max(values))
        share = ""
        if weights is not None and np.sum(weights) > 0:
            out_share = float(np.sum(weights[below | above]) / np.sum(weights))
            share = f" for {out_share:.1%} of the window's throughput"
        how = ("evaluated at the nearest bound" if POLICY[var] == "hold"
               else "extrapolated by the term's formula")
        parts = []
        if np.any(below):
            parts.append(f"down to {vmin:.6g}, {lo - vmin:.4g} below the minimum {lo:g}")
        if np.any(above):
            parts.append(f"up to {vmax:.6g}, {vmax - hi:.4g} above the maximum {hi:g}")
        msg = (f"Ageing model {self.name}, term '{term.name}': '{var}' outside its "
               f"validated range [{lo:g}, {hi:g}] ({'; '.join(parts)}){share}; "
               f"{how}. Source: {term.source}")
        if messages is not None:
            messages.append(msg)
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(msg, LifeValidityWarning, stacklevel=4)
        if POLICY[var] == "hold":
            return np.clip(values, lo, hi)
        return values

    # ---- windows ----------------------------------------------------------------------
    def window_stress(self, time_s, soc, temperature_K, *, capacity_fraction: float = 1.0,
                      periodic: bool = True, crate_max: float | None = None
                      ) -> WindowStress:
        """The state increments of one window given its SOC and temperature history.

        Parameters
        ----------
        time_s : (n,) increasing sample times [s]; the window lasts ``time_s[-1] -
            time_s[0]`` and sample ``i`` holds on ``[t_i, t_i+1)`` for the calendar terms
        soc : (n,) state of charge, fraction of the *present* capacity, in [0, 1]
        temperature_K : (n,) or scalar cell temperature [K]
        capacity_fraction : present capacity / nominal, scales the throughput (EFC are in
            nominal A.h)
        periodic : the window repeats (as in cycle jumping): it is rotated to start at its
            highest SOC before counting, so the cycle that spans the repeat boundary is
            counted closed (a 0.5 -> 0 -> 1 -> 0.5 day is one full cycle of depth 1, not
            three half cycles). A window whose SOC ends away from where it started is
            closed by a step back to the start at the window's net drift rate (its own
            rate in the count, no calendar time).
        crate_max : the largest C-rate any charge moved at in the window [1/h] (the
            largest cell current / present capacity); when given, no interval of the SOC
            series is taken faster (a decimated series can look faster than it was).
        """
        t = np.ascontiguousarray(time_s, dtype=float)
        z = np.ascontiguousarray(soc, dtype=float)
        temp = np.broadcast_to(np.asarray(temperature_K, dtype=float), t.shape).copy()
        if t.ndim != 1 or t.size < 2:
            raise InputError("The 'time_s' argument of window_stress must hold at least 2 "
                             f"samples. Got shape {t.shape}.")
        if z.shape != t.shape:
            raise InputError(f"The 'soc' argument of window_stress must have the shape of "
                             f"time_s {t.shape}. Got {z.shape}.")
        for name, a in (("time_s", t), ("soc", z), ("temperature_K", temp)):
            if not np.all(np.isfinite(a)):
                k = int(np.flatnonzero(~np.isfinite(a))[0])
                raise InputError(f"The '{name}' argument of window_stress holds {float(a[k])!r} at "
                                 f"index {k}; every value must be finite.")
        dt = np.diff(t)
        if np.any(dt <= 0):
            raise InputError("The 'time_s' argument of window_stress must increase strictly.")
        if np.any(temp <= 0):
            raise InputError("The 'temperature_K' argument of window_stress must be in the "
                             f"range (0, inf) K. Got {float(np.min(temp))!r}.")
        if np.min(z) < -1e-9 or np.max(z) > 1 + 1e-9:
            raise InputError("The 'soc' argument of window_stress must be in the range "
                             f"[0, 1]. Got values from {float(np.min(z))!r} to "
                             f"{float(np.max(z))!r}.")
        if not (0 < capacity_fraction <= 1.5 and math.isfinite(capacity_fraction)):
            raise InputError("The 'capacity_fraction' argument of window_stress must be in "
                             f"the range (0, 1.5]. Got {capacity_fraction!r} instead.")
        rate_h = np.abs(np.diff(z)) / (dt / 3600.0)  # |dsoc/dt| of each interval [1/h]
        # BLAST-Lite's window C-rate, on the window as given (CRATE_DEFINITIONS)
        crate_window = window_mean_crate(t, z)
        drift = float(z[-1] - z[0])
        if periodic:
            # Rotate to start at the highest SOC and close the loop with a step from the
            # last sample back to the first, at the time of the last (a zero-length
            # interval: no calendar time). That step is not a real move: the window's net
            # drift |z[-1] - z[0]| accrued over the whole window, and a repeat has to return
            # it at that average rate, so its rate is |drift| / window duration (never the
            # drift over one sample interval, which gave the 172C of a 600 s window that
            # drifted by 3 %).
            # the highest sample of the whole window, the last one included (ASTM E1049
            # counts a repeating history from its highest point; a window that ends at its
            # top, charging, would otherwise be counted from its second-highest sample)
            k = int(np.argmax(z))
            span = t[-1] - t[0]
            drift_rate_h = abs(z[-1] - z[0]) / (span / 3600.0)
            rate_h = np.concatenate((rate_h[k:], [drift_rate_h], rate_h[:k]))
            t = np.concatenate((t[k:], t[:k + 1] + span)) - t[k] + t[0]
            z = np.concatenate((z[k:], z[:k + 1]))
            temp = np.concatenate((temp[k:], temp[:k + 1]))
            dt = np.diff(t)
        if crate_max is not None:
            # The SOC of a decimated run is a reconstruction (bin extremes at fixed points
            # of the bin, see cellmodels.life.jump.soc_sequence) whose interval rates can
            # exceed the true one by up to the bin / sample-spacing ratio; no charge moves
            # faster than the largest current of the window, so no interval's rate is
            # taken above it. The throughput share this bounds is in the summary.
            if not (crate_max > 0 and math.isfinite(crate_max)):
                raise InputError("The 'crate_max' argument of window_stress must be in the "
                                 f"range (0, inf) 1/h. Got {crate_max!r} instead.")
            dz_abs = np.abs(np.diff(z))
            over = rate_h > crate_max * (1 + 1e-9)
            bounded_share = (float(np.sum(dz_abs[over]) / np.sum(dz_abs))
                             if np.sum(dz_abs) > 0 else 0.0)
            rate_h = np.minimum(rate_h, crate_max)
        else:
            bounded_share = 0.0
        messages: list[str] = []
        # calendar: sample-and-hold over each interval
        zc, tc, dtd = z[:-1], temp[:-1], dt / 86400.0
        cal_vars = {"temperature_K": tc, "soc": zc, "Ua_V": anode_potential_V(zc)}
        # cycles
        cyc = rainflow(z)
        dod = cyc.range
        keep = dod > 0
        i0, i1 = cyc.start[keep], cyc.end[keep]
        dod, cnt, mean = dod[keep], cyc.count[keep], cyc.mean[keep]
        t_cum = np.concatenate(([0.0], np.cumsum(dt * temp[:-1])))
        span_s = t[i1] - t[i0]
        # a cycle's rate: the rate at which its own charge moved (own_charge_crate)
        crate = own_charge_crate(z, rate_h, i0, i1)
        temp_c = np.where(span_s > 0, (t_cum[i1] - t_cum[i0]) / np.where(span_s > 0, span_s, 1.0),
                          temp[i0])
        efc_c = cnt * dod * capacity_fraction
        micro = self.micro_weight(dod)
        cyc_vars = {"temperature_K": temp_c, "soc": mean, "Ua_V": anode_potential_V(mean),
                    "dod": dod, "crate": crate}
        cyc_vars_window = {**cyc_vars, "crate": np.full(dod.shape, crate_window)}
        dX = []
        for term in self.terms:
            if term.kind == "calendar":
                v = {k: self._check(term, k, a, None, messages) for k, a in cal_vars.items()}
                k = term.rate(v)
                inc = float(np.sum(term.increment_weight(np.broadcast_to(k, dtd.shape)) * dtd))
            else:
                definition = term.crate_definition or self.crate_definition
                cv = cyc_vars_window if definition == "window_mean" else cyc_vars
                v = {k: self._check(term, k, a, efc_c, messages) for k, a in cv.items()}
                k = term.rate(v)
                if np.any(~np.isfinite(k)) or np.any(k < 0):
                    bad = int(np.flatnonzero(~np.isfinite(k) | (k < 0))[0])
                    raise SolverError(
                        f"Ageing model {self.name}, term '{term.name}': rate {k[bad]!r} for "
                        f"the cycle of DoD {dod[bad]:.4g}, C-rate {cv['crate'][bad]:.4g} "
                        f"({definition}), "
                        f"{temp_c[bad]:.2f} K; a rate must be finite and non-negative.")
                inc = float(np.sum(term.increment_weight(k) * efc_c * micro))
            if not math.isfinite(inc) or inc < 0:
                raise SolverError(f"Ageing model {self.name}, term '{term.name}': damage "
                                  f"increment {inc!r} over the window; it must be finite "
                                  "and non-negative.")
            dX.append(inc)
        efc = float(np.sum(efc_c))
        micro_mask = dod < self.micro_cycle["dod"]
        summary = {
            "n_cycles": float(np.sum(cnt)),
            "efc": efc,
            "efc_micro_share": float(np.sum(efc_c[micro_mask]) / efc) if efc > 0 else 0.0,
            "dod_max": float(dod.max()) if dod.size else 0.0,
            "crate_mean": float(np.sum(crate * efc_c) / efc) if efc > 0 else 0.0,
            "temperature_mean_K": float(np.sum(tc * dt) / np.sum(dt)),
            "temperature_max_K": float(np.max(temp)),
            "soc_mean": float(np.sum(zc * dt) / np.sum(dt)),
            "soc_min": float(np.min(z)),
            "soc_max": float(np.max(z)),
            "crate_max": float(np.max(crate)) if crate.size else 0.0,
            "crate_bounded_share": bounded_share,
            "crate_window_mean": crate_window,
            "soc_drift": drift,
        }
        return WindowStress(tuple(dX), float(t[-1] - t[0]), efc, summary, tuple(messages))

    def advance(self, state: AgeingState, stress: WindowStress, repeats: float = 1.0
                ) -> AgeingState:
        """The state after ``repeats`` (>= 0, may be fractional) repeats of a window."""
        if not (math.isfinite(repeats) and repeats >= 0):
            raise InputError(f"The 'repeats' argument of advance must be in the range "
                             f"[0, inf). Got {repeats!r} instead.")
        dX = np.asarray(stress.dX, dtype=float)
        if dX.shape != (len(self.terms),):
            raise InputError(f"The window stress has {dX.size} terms; model {self.name} has "
                             f"{len(self.terms)}.")
        if not np.all(np.isfinite(dX)) or np.any(dX < 0):
            raise SolverError(f"Ageing model {self.name}: a damage increment is NaN, "
                              f"infinite or negative ({dX.tolist()}).")
        X = np.asarray(state.X, dtype=float) + repeats * dX
        return AgeingState(tuple(X.tolist()), state.time_s + repeats * stress.duration_s,
                           state.efc + repeats * stress.efc)

    # ---- outputs ----------------------------------------------------------------------
    def term_values(self, state: AgeingState) -> dict[str, float]:
        return {t.name: t.value(x) for t, x in zip(self.terms, state.X, strict=True)}

    def _lli_lam(self, state: AgeingState) -> tuple[float, float, float]:
        cap_lli = res_lli = 0.0
        lam = 0.0
        has_lam = False
        for t, x in zip(self.terms, state.X, strict=True):
            y = t.value(x)
            if t.group == "lam":
                has_lam = True
                lam += y
            elif t.output == "capacity":
                cap_lli += y
            else:
                res_lli += y
        q_lam = self.lam_offset - lam if has_lam else math.inf
        return 1.0 - cap_lli, 1.0 + res_lli, q_lam

    def wetted_fraction(self, state: AgeingState) -> float:
        """Dry-out: the wetted fraction of the pores (1 while the reservoir lasts)."""
        v = self.reservoir_m3(state)
        if v >= 0 or self.dry_out is None:
            return 1.0
        return max(0.0, 1.0 + v / float(self.dry_out["pore_volume_m3"]))

    def reservoir_m3(self, state: AgeingState) -> float:
        """Signed electrolyte reservoir [m3]: positive while it lasts, then minus the dried
        pore volume (module docstring). ``inf`` without a dry-out block."""
        if self.dry_out is None:
            return math.inf
        q_lli, _, _ = self._lli_lam(state)
        d = self.dry_out
        n_sei = (float(d["sei_fraction_of_lli"]) * max(0.0, 1.0 - q_lli)
                 * float(d["capacity_Ah"]) * 3600.0 / F_C_PER_MOL)
        return float(d["reservoir_m3"]) - EC_MOLAR_VOLUME_M3_PER_MOL * n_sei

    def capacity_fraction(self, state: AgeingState) -> float:
        """Present capacity / initial capacity (>= 0, never NaN)."""
        q_lli, _, q_lam = self._lli_lam(state)
        q = min(q_lli, q_lam) * self.wetted_fraction(state)
        if not math.isfinite(q):
            raise SolverError(f"Ageing model {self.name}: capacity fraction {q!r} is not "
                              f"finite (state {state.X}).")
        return max(0.0, q)

    def resistance_factor(self, state: AgeingState) -> float:
        """Present DC resistance / initial resistance (>= 1 while terms only grow)."""
        _, r, q_lam = self._lli_lam(state)
        if self.lam_resistance is not None and math.isfinite(q_lam):
            r = max(r, self.lam_resistance[0] + self.lam_resistance[1] / max(q_lam, 1e-9))
        w = self.wetted_fraction(state)
        r = r / max(w, 1e-9)
        if not math.isfinite(r):
            raise SolverError(f"Ageing model {self.name}: resistance factor {r!r} is not "
                              "finite.")
        return r


def available_models() -> list[str]:
    """Names of the shipped coefficient sets."""
    return sorted(p.stem for p in _COEFF_DIR.glob("*.json"))


def load_model(name_or_path: str | Path) -> AgeingModel:
    """A shipped ageing model by name (:func:`available_models`), or a JSON file."""
    p = Path(name_or_path)
    if not p.suffix:
        p = _COEFF_DIR / f"{name_or_path}.json"
        if not p.is_file():
            raise InputError(f"No ageing model named {str(name_or_path)!r}. Available: "
                             f"{available_models()}." + suggest(str(name_or_path),
                                                                available_models()))
    if not p.is_file():
        raise InputError(f"No ageing-model file at {p}.")
    try:
        d = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{p} is not valid JSON: {exc}") from None
    return AgeingModel.from_dict(d, f"the ageing model {p.name}")
