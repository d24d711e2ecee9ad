"""Small-signal impedance of the ECM (analytic) and of the physics model (PyBaMM EIS).

Sign convention, for both: the impedance of the cell as a passive two-terminal element,
``Z(f) = dV / dI_in`` with ``I_in`` the current *into* the positive terminal (charge), i.e.
``Z = -dV/dI`` with PyBaMM's and the ECM's discharge-positive current ``I``. So
``Re Z > 0``, and ``Im Z < 0`` where the cell is capacitive (a Nyquist plot shows
``-Im Z`` upwards).

ECM (:func:`ecm_impedance`), linearised at a SOC and temperature::

    Z(w) = R0 + R_ct + sum_k R_k / (1 + j w tau_k)  [+ dOCV/dSOC / (j w 3600 Q)]

``R_ct`` is the small-signal (zero-current tangent) resistance of the ECM's optional
charge-transfer element (0 without one).

The bracketed term is the open-circuit voltage following the charge passed (the ECM's
SOC state, a capacitor of ``3600 Q / (dOCV/dSOC)`` farad); it is off by default, so the
default is the circuit's own impedance, finite at DC (``R0 + sum R_k``).

**OCV hysteresis has no small-signal impedance.** Its state's rate ``|I| (h + sign I)`` is
not differentiable at zero current: at rest on a branch (h = -1 or +1) a small sine moves h
only on the half-cycles against that branch, so the response is not linear in the
amplitude. :func:`ecm_impedance` leaves the hysteresis out. PyBaMM's EIS linearises its
one-state hysteresis with ``sign(0) = 0``, i.e. h moving at half its rate in both
directions, which is not the physics either: on ``liquid_lfp_ups`` at 50 % SOC, 25 degC it
adds 65 uOhm (2.8 %) to Re Z at 1 mHz, 39 uOhm at 10 mHz and 3 uOhm at 0.1 Hz, nothing above
1 Hz (measured against the same set without hysteresis). Compare the two impedances of an
LFP cell with hysteresis above ~1 Hz, or on a set without it.

Physics (:func:`physics_impedance`): PyBaMM's :class:`pybamm.EISSimulation` (the model
linearised at rest, ``(j w M - J) x = b`` solved per frequency), isothermal at the given
temperature, from rest at the given SOC as PyBaMM defines it (``initial_soc``), with the
cell's own model options (:func:`cellmodels.physics.models.model_options`). PyBaMM's EIS
needs an explicit double layer or an algebraic surface form; see
:func:`physics_impedance` for which is used and what is supplied when a set has none.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np

from ..errors import InputError, SolverError, check_range, range_message
from ..physics.cells import Cell, load_cell
from .ecm import ECM

__all__ = [
    "DEFAULT_DOUBLE_LAYER_F_PER_M2",
    "SURFACE_FORMS",
    "ecm_impedance",
    "ocv_slope",
    "physics_impedance",
    "supplied_parameters",
]

#: Double-layer capacity [F/m2 of particle surface] supplied when a set gives none: the
#: value of PyBaMM's built-in sets (Chen2020, Marquis2019, ...), the usual order for a
#: carbonate/graphite or LFP interface (0.1-0.4 F/m2, i.e. 10-40 uF/cm2).
DEFAULT_DOUBLE_LAYER_F_PER_M2 = 0.2
SURFACE_FORMS: tuple[str, ...] = ("differential", "algebraic")
_DL_KEYS = (
    "Negative electrode double-layer capacity [F.m-2]",
    "Positive electrode double-layer capacity [F.m-2]",
)
_T_INPUT = "Impedance temperature [K]"


def _frequencies(frequencies_Hz, owner: str, allow_zero: bool) -> np.ndarray:
    try:
        f = None if isinstance(frequencies_Hz, str) else np.asarray(frequencies_Hz, dtype=float)
    except (TypeError, ValueError):
        f = None
    if f is None or f.size == 0:
        raise InputError(range_message("frequencies_Hz", owner, "a non-empty array of hertz",
                                       frequencies_Hz))
    low = "[0, inf)" if allow_zero else "(0, inf)"
    bad = ~np.isfinite(f) | (f < 0 if allow_zero else f <= 0)
    if np.any(bad):
        k = int(np.flatnonzero(bad.reshape(-1))[0])
        raise InputError(f"The 'frequencies_Hz' {owner} must be in the range {low}. Got "
                         f"{float(f.reshape(-1)[k])!r} (entry {k}) instead.")
    return f


def ecm_impedance(ecm: ECM, soc: float, temperature_K: float, frequencies_Hz,
                  *, ocv_capacitance: bool = False) -> np.ndarray:
    """Small-signal impedance [Ohm] of the ECM at a SOC and temperature (analytic).

    ``Z = R0 + R_ct + sum_k R_k / (1 + j 2 pi f tau_k)`` (``R_ct``: the small-signal
    resistance of the charge-transfer element, if the ECM has one) with the tables interpolated as the
    simulators do (bilinear, clamped). With ``ocv_capacitance=True`` the term
    ``dOCV/dSOC / (j 2 pi f 3600 Q)`` is added: the OCV moving with the SOC the ECM
    tracks (``dOCV/dSOC`` as the central difference of the ECM's own OCV table over one
    table step, at ``temperature_K``); then every frequency must be positive.

    Returns a complex array of the shape of ``frequencies_Hz``. Sign convention: see the
    module docstring (``Re Z > 0``). A SOC or temperature outside the range the ECM was
    identified over warns (:class:`~cellmodels.reduction.ValidityWarning`).
    """
    from .simulate import ValidityWarning, _ValidityGuard

    owner = "argument of ecm_impedance"
    soc = check_range(soc, "soc", owner, 0.0, 1.0)
    temperature_K = check_range(temperature_K, "temperature_K", owner, 0.0, float("inf"),
                                closed=(False, False))
    f = _frequencies(frequencies_Hz, owner, allow_zero=not ocv_capacitance)
    guard = _ValidityGuard(ecm)  # the simulators' ranges and round-off tolerance
    for name, value in (("soc", soc), ("temperature_K", temperature_K)):
        lo, hi = guard.ranges[name]
        lo_tol, hi_tol = guard.bounds(name)
        if not lo_tol <= value <= hi_tol:
            out = value - hi if value > hi else lo - value
            warnings.warn(f"The ECM is used outside its validity: {name} = {value:.6g} is "
                          f"outside the identified range [{lo:.6g}, {hi:.6g}] by {out:.3g}.",
                          ValidityWarning, stacklevel=2)
    w = 2.0 * np.pi * f
    r, tau = ecm.rc(soc, temperature_K)
    z = np.full(f.shape, ecm.r0(soc, temperature_K) + ecm.ct(soc, temperature_K)[0],
                dtype=complex)
    for r_k, tau_k in zip(r, tau, strict=True):
        z += r_k / (1.0 + 1j * w * tau_k)
    if ocv_capacitance:
        z += ocv_slope(ecm, soc, temperature_K) / (1j * w * 3600.0 * ecm.capacity_Ah)
    return z


def ocv_slope(ecm: ECM, soc: float, temperature_K: float) -> float:
    """dOCV/dSOC [V] of the ECM's OCV table: central difference over one table step."""
    h = float(np.min(np.diff(ecm.soc)))
    lo, hi = max(soc - h, float(ecm.soc[0])), min(soc + h, float(ecm.soc[-1]))
    return (ecm.ocv(hi, temperature_K) - ecm.ocv(lo, temperature_K)) / (hi - lo)


def supplied_parameters(cell: Cell, surface_form: str = "differential") -> dict[str, float]:
    """Parameters :func:`physics_impedance` adds to ``cell``'s set (empty if none).

    With the differential surface form, a set without double-layer capacities gets
    :data:`DEFAULT_DOUBLE_LAYER_F_PER_M2` for the electrode(s) it does not give.
    """
    if surface_form != "differential":
        return {}
    user = cell.user_defined
    return {k: DEFAULT_DOUBLE_LAYER_F_PER_M2 for k in _DL_KEYS if k not in user}


class _EIS:
    """One EIS simulation of a cell and model, temperature as an input (built once)."""

    def __init__(self, cell: Cell, model: str, surface_form: str, var_pts: dict | None):
        import pybamm

        from ..physics.models import build_model

        pv = cell.parameter_values()
        pv.update(supplied_parameters(cell, surface_form), check_already_exists=False)
        temp = pybamm.InputParameter(_T_INPUT)
        pv.update({"Ambient temperature [K]": temp, "Initial temperature [K]": temp},
                  check_already_exists=False)
        self.model = build_model(cell, model, thermal="isothermal",
                                 options={"surface form": surface_form})
        self.sim = pybamm.EISSimulation(self.model, parameter_values=pv, var_pts=var_pts)

    def solve(self, soc: float, temperature_K: float, f: np.ndarray) -> np.ndarray:
        sol = self.sim.solve(f, inputs={_T_INPUT: float(temperature_K)},
                             initial_soc=float(soc))
        return np.asarray(sol.impedance, dtype=complex)


_CACHE: OrderedDict[tuple, _EIS] = OrderedDict()
_CACHE_SIZE = 8


def _eis(cell: Cell, model: str, surface_form: str, var_pts: dict | None) -> _EIS:
    key = (cell.name, cell.sha256, model, surface_form,
           tuple(sorted((var_pts or {}).items())))
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    eis = _EIS(cell, model, surface_form, var_pts)
    _CACHE[key] = eis
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return eis


def physics_impedance(cell: Cell | str, soc: float, temperature_K: float, frequencies_Hz,
                      model: str = "DFN", *, surface_form: str = "differential",
                      var_pts: dict | None = None) -> np.ndarray:
    """Small-signal impedance [Ohm] of the cell's physics model (PyBaMM EIS).

    The model is ``build_model(cell, model, thermal="isothermal")`` with the cell's own
    options, linearised at rest at ``soc`` (PyBaMM's ``initial_soc``: the stoichiometries
    its electrode-SOH calculation assigns) and ``temperature_K`` (ambient = cell
    temperature, held). Sign convention: the module docstring (``Re Z > 0``).

    ``surface_form``:

    - ``"differential"`` (default): the electrode/electrolyte potential difference is a
      state charged through a double layer, as EIS needs. A set that gives its own
      double-layer capacities uses them; **a set without them gets PyBaMM's usual
      0.2 F/m2** (:data:`DEFAULT_DOUBLE_LAYER_F_PER_M2`, see :func:`supplied_parameters`),
      which puts a charge-transfer arc (``tau = R_ct C_dl``) into the spectrum that the
      set itself does not define.
    - ``"algebraic"``: no double layer (the ``C_dl -> 0`` limit): the same physics as the
      time-domain model of a set without double-layer capacities, e.g. the one an ECM is
      identified from. A set's own double layer is then dropped.

    Every frequency must be positive (at DC the SOC state makes the linear system
    singular).

    Caveat, ``model="SPMe"``: PyBaMM 26.10's EIS of the SPMe is about 10 % below the SPMe's
    own small-signal response in the time domain (``semisolid_lfp_power``, 25 degC, SOC
    0.5: 0.393 against 0.441 mOhm from a 0.5 A sine at 1 Hz; its high-frequency ohmic limit
    is right, the kinetic part is not). The DFN and the SPM agree with their time-domain
    responses to 1e-4; use the DFN for quantitative work. The model is built once per (cell, model, surface form, mesh) and reused.
    Returns a complex array of the shape of ``frequencies_Hz``.
    """
    import pybamm

    from ..physics.models import MODELS

    cell = load_cell(cell) if isinstance(cell, str) else cell
    owner = "argument of physics_impedance"
    soc = check_range(soc, "soc", owner, 0.0, 1.0)
    temperature_K = cell.check_temperature(temperature_K)
    f = _frequencies(frequencies_Hz, owner, allow_zero=False)
    if model not in MODELS:
        raise InputError(range_message("model", owner, f"one of {MODELS}", model))
    if surface_form not in SURFACE_FORMS:
        raise InputError(range_message("surface_form", owner, f"one of {SURFACE_FORMS}",
                                       surface_form))
    try:
        z = _eis(cell, model, surface_form, var_pts).solve(soc, temperature_K, f.reshape(-1))
    except (pybamm.SolverError, pybamm.ModelError, np.linalg.LinAlgError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise SolverError(f"The impedance of cell {cell.name} ({model}, {surface_form} surface "
                          f"form) at SOC {soc}, {temperature_K} K failed: {exc}") from exc
    if not np.all(np.isfinite(z)):
        k = int(np.flatnonzero(~np.isfinite(z))[0])
        raise SolverError(f"The impedance of cell {cell.name} ({model}) at SOC {soc}, "
                          f"{temperature_K} K is not finite at {f.reshape(-1)[k]:g} Hz.")
    return z.reshape(f.shape)
