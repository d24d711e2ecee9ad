"""Export of an :class:`~cellmodels.reduction.ECM` to PyBaMM's Thevenin model.

A PyBaMM user runs the reduced cell with::

    model = pybamm_model(ecm)
    values = to_pybamm_parameter_values(ecm, initial_soc=0.8, temperature_K=298.15)
    values["Current function [A]"] = piecewise_constant_current(time_s, current_A)
    sim = pybamm.Simulation(model, parameter_values=values,
                            solver=pybamm.IDAKLUSolver(rtol=1e-8, atol=1e-10))

or :func:`solve_pybamm`, which does exactly that. :func:`pybamm_model` returns a
``pybamm.equivalent_circuit.Thevenin`` with ``"number of rc elements": ecm.n_rc``.

**Tables.** OCV and entropic coefficient are 1-D linear ``pybamm.Interpolant`` over SOC;
R0 and R_k are 2-D linear ``pybamm.Interpolant`` over (SOC, cell temperature) -- the
same bilinear interpolation as :func:`cellmodels.reduction.ecm.bilinear`. PyBaMM passes
the cell temperature in degC; the tables keep their kelvin axis and are fed
``T_degC + 273.15``. Clamping at the table edges: PyBaMM's interpolants *extrapolate*
linearly out of range (scipy/casadi), and its solvers warn when an interpolant's input
leaves its axis. So every axis is padded by one extra node on each side, carrying the edge
value (SOC -1 and +1 beyond the grid, temperature 100 K, OCV 1 V): the end segments are
flat, the interpolant is constant beyond the grid exactly as ours is, and no
``pybamm.minimum``/``maximum`` (which a global ``pybamm.settings`` smoothing would turn
soft) is needed. A one-point temperature grid becomes three equal columns.

``C_k`` is given as ``tau_k(z, T) / R_k(z, T)`` (ratio of the two bilinear tables), not as
a bilinear table of ``tau/R``: PyBaMM forms ``tau = R C``, and only the ratio keeps tau
equal to our bilinear tau between the nodes. ``R_k`` nodes that are 0 (allowed in the ECM:
a vanished RC pair) are raised to ``R_FLOOR_OHM`` = 1e-12 Ohm so that ``C_k`` is finite;
the pair's voltage is then at most 1e-12 Ohm x I.

PyBaMM's ``"Entropic change [V/K]"`` is a function of (OCV, T), not of SOC. Our dU/dT is
piecewise linear on the SOC grid and U is piecewise linear and strictly increasing on the
same grid (the ECM checks this), so dU/dT as a linear interpolant over the OCV nodes
``ocv_V`` with values ``docv_dT_V_per_K`` is *exactly* dU/dT(z) for U = U(z).

**Charge-transfer element** (an ECM with ``ct_R_Ohm``, schema 2): PyBaMM's ``"R0 [Ohm]"``
is a function of (temperature, current, SOC), so it is exported as
``R0 + R_ct asinh(x) / x``, ``x = I / (2 I0)``: the series voltage ``R0(I) I`` is then
``R0 I + eta_ct`` and PyBaMM's resistor heat ``R0(I) I^2`` is ``R0 I^2 + I eta_ct``, ours.

**Thermal mapping.** PyBaMM's ECM has two lumped nodes: cell (``Cell thermal mass``,
``Cell-jig heat transfer coefficient`` k) and jig (``Jig thermal mass`` eps,
``Jig-air heat transfer coefficient`` K), and both start at ``Initial temperature [K]``
(one parameter). Ours is one node: C_th dT/dt = q - hA (T - T_amb). The mapping is a
quasi-massless jig: cell mass C_th, K = 1e4 hA, k = hA K / (K - hA), eps = 1e-4 C_th.
With the jig in quasi-steady state, T_jig = (K T_amb + k T)/(K + k) and the cell loses
k K/(K + k) (T - T_amb) = hA (T - T_amb) *exactly* (the series correction of k); what
is left is the jig's own storage, equivalent to an extra cell mass eps k/(K + k) ~ 1e-8
C_th, and a jig lag of eps/(K + k) ~ 1e-8 C_th/hA seconds (a few microseconds for a cell,
also at t = 0 when the jig starts at the cell's initial temperature rather than ambient).
A heavy jig held at ambient would be exact but only when the initial temperature equals
the ambient (the jig cannot start elsewhere); the light jig works for both. hA = 0
(adiabatic) gives k = 0, a decoupled jig.

**Heat terms and OCV.** The heat terms of PyBaMM's Thevenin (PyBaMM 26.10,
``pybamm/models/submodels/equivalent_circuit_elements``) are ours: series resistor
``R0 I^2``; RC pair ``-I * overpotential = I v_k`` (Bernardi form: the ECM's
``q_irr = I (U - V)``, since cellmodels 3f1a234; before that ours was ``v_k^2 / R_k``);
reversible ``-I T dU/dT`` with T in K, discharge positive; its irreversible heat also
holds ``-I * diffusion overpotential``, which is 0 here (no diffusion element). The one
difference is the **OCV**: PyBaMM's ``"Open-circuit voltage [V]"`` is ``U(z)`` only (the
entropic coefficient enters the reversible heat alone); ours is
``U(z) + (T - T_ref) dU/dT(z)``. Off ``T_ref`` (or as the cell warms) the two differ by
``(T - T_ref) dU/dT`` (2.5 mV at 25 K from T_ref and 0.1 mV/K).

:func:`pybamm_model` therefore, by default, builds the Thevenin model with ``build=False``
(the route PyBaMM documents for changing submodels) and one submodel subclassed from
PyBaMM's: the OCV element adds ``(T - T_ref) dU/dT`` to ``"Open-circuit voltage [V]"``
(``T_ref`` is the parameter ``"OCV reference temperature [K]"``; the SOC-only OCV stays
available as ``"Open-circuit voltage at reference temperature [V]"``). The result is our
ECM, thermal included, to solver tolerance. ``pybamm_model(ecm, stock=True)`` gives
PyBaMM's unmodified model with the same parameter values; it matches ours isothermally at
``T_ref`` only.

**OCV hysteresis** (an ECM with ``hysteresis_V``, schema 3). PyBaMM's Thevenin has none, so
the subclassed OCV element also carries it: a state ``"Hysteresis state"`` h with

    dh/dt = -gamma I (1 + sign(I) h) / (3600 Q)   (= -gamma |I| (h + sign(I)) / (3600 Q))

(``|I|`` written as ``sign(I) I``: ``pybamm.sign`` is never smoothed, whereas ``abs`` turns
into a smooth approximation under a global ``pybamm.settings.abs_smoothing``; the current
is piecewise constant between the solver's restart points, so sign(I) is too), initial
value the parameter ``"Initial hysteresis state"`` (default ``ecm.hysteresis_initial``),
rate ``"Hysteresis decay rate"`` (gamma, per unit SOC) and ``"Hysteresis half-gap [V]"``
M(z), a 1-D interpolant padded as the OCV is. ``"Open-circuit voltage [V]"`` gains
``M(z) h`` (``"Hysteresis voltage [V]"``), and the thermal submodel, also subclassed, adds
the hysteresis dissipation ``-I M h`` (``"Hysteresis heat generation [W]"``) to PyBaMM's
``"Irreversible heat generation [W]"``, so the heat is ours, ``I (U - V)``. The stock model
cannot represent it: ``stock=True`` with such an ECM is refused.
"""

from __future__ import annotations

import numpy as np

from ..errors import CutoffError, InputError, check_range
from ..reduction.ecm import ECM

__all__ = [
    "R_FLOOR_OHM",
    "piecewise_constant_current",
    "pybamm_model",
    "solve_pybamm",
    "to_pybamm_parameter_values",
]

KELVIN = 273.15
R_FLOOR_OHM = 1e-12
_SOC_PAD = 1.0
_T_PAD_K = 100.0
_OCV_PAD_V = 1.0
_JIG_AIR_FACTOR = 1e4  # K = 1e4 hA
_JIG_MASS_FRACTION = 1e-4  # eps = 1e-4 C_th
OCV_REFERENCE_PARAMETER = "OCV reference temperature [K]"
HYSTERESIS_INITIAL_PARAMETER = "Initial hysteresis state"
HYSTERESIS_RATE_PARAMETER = "Hysteresis decay rate"
HYSTERESIS_GAP_PARAMETER = "Hysteresis half-gap [V]"


def _check_ecm(ecm, function: str) -> None:
    if not isinstance(ecm, ECM):
        raise InputError(f"The 'ecm' argument of {function} must be an ECM (e.g. "
                         f"cellmodels.reduction.load_ecm(path)). Got {type(ecm).__name__} "
                         "instead.")


def _pad_axis(axis: np.ndarray, pad: float) -> np.ndarray:
    return np.concatenate([[axis[0] - pad], axis, [axis[-1] + pad]])


def _pad_table(table: np.ndarray) -> np.ndarray:
    """One extra node on each side of every axis, repeating the edge value (flat ends)."""
    return np.pad(np.asarray(table, dtype=float), 1, mode="edge")


def _interpolant_1d(axis, values, pad, child, name):
    import pybamm

    return pybamm.Interpolant(_pad_axis(axis, pad), _pad_table(values), child, name=name,
                              interpolator="linear")


def _interpolant_2d(ecm: ECM, table: np.ndarray, soc, temperature_degC, name: str):
    import pybamm

    x = (_pad_axis(ecm.soc, _SOC_PAD), _pad_axis(ecm.temperature_K, _T_PAD_K))
    return pybamm.Interpolant(x, _pad_table(table), [soc, temperature_degC + KELVIN],
                              name=name, interpolator="linear")


def thermal_mapping(ecm: ECM) -> dict[str, float]:
    """PyBaMM's cell/jig parameters equivalent to our one lumped node (module docstring)."""
    c_th, ha = float(ecm.thermal_mass_J_per_K), float(ecm.heat_transfer_W_per_K)
    if ha > 0:
        k_air = _JIG_AIR_FACTOR * ha
        k_cell_jig = ha * k_air / (k_air - ha)
    else:
        k_air, k_cell_jig = 1.0, 0.0
    return {
        "Cell thermal mass [J/K]": c_th,
        "Cell-jig heat transfer coefficient [W/K]": k_cell_jig,
        "Jig thermal mass [J/K]": _JIG_MASS_FRACTION * c_th,
        "Jig-air heat transfer coefficient [W/K]": k_air,
    }


def _rc_functions(ecm: ECM, k: int):
    """PyBaMM's R_k(T_degC, I, z) and C_k = tau_k / R_k for RC pair k (0-based)."""
    r_table = np.maximum(ecm.rc_R_Ohm[k], R_FLOOR_OHM)
    tau_table = ecm.rc_tau_s[k]
    number = k + 1

    def r_k(temperature_degC, current, soc):
        return _interpolant_2d(ecm, r_table, soc, temperature_degC,
                               f"{ecm.name} R{number} [Ohm]")

    def c_k(temperature_degC, current, soc):
        tau = _interpolant_2d(ecm, tau_table, soc, temperature_degC,
                              f"{ecm.name} tau{number} [s]")
        return tau / r_k(temperature_degC, current, soc)

    return r_k, c_k


def to_pybamm_parameter_values(
    ecm: ECM,
    *,
    initial_soc: float = 0.5,
    temperature_K: float | None = None,
    ambient_K: float | None = None,
    current_A=0.0,
    voltage_min_V: float | None = None,
    voltage_max_V: float | None = None,
    initial_hysteresis: float | None = None,
):
    """``pybamm.ParameterValues`` for :func:`pybamm_model` (see the module docstring).

    Parameters
    ----------
    initial_soc : SOC at t = 0 in [0, 1]; RC pairs start relaxed
    temperature_K : initial cell temperature [K]; default ``ecm.reference_temperature_K``
    ambient_K : ambient temperature [K] (a number, or a function of time returning
        kelvin); default ``temperature_K``
    current_A : ``"Current function [A]"``, discharge positive: a number or a function of
        time (e.g. :func:`piecewise_constant_current`)
    voltage_min_V, voltage_max_V : PyBaMM's voltage cut-offs (termination events);
        default ``ecm.limits["voltage_min_V"]`` and ``["voltage_max_V"]``
    initial_hysteresis : the hysteresis state h at t = 0 in [-1, 1] (``"Initial hysteresis
        state"``) of an ECM with hysteresis; default ``ecm.hysteresis_initial``. Refused
        for an ECM without hysteresis.
    """
    import pybamm

    owner = "argument of to_pybamm_parameter_values"
    _check_ecm(ecm, "to_pybamm_parameter_values")
    check_range(initial_soc, "initial_soc", owner, 0.0, 1.0)
    if initial_hysteresis is not None and not ecm.has_hysteresis:
        raise InputError(f"The ECM {ecm.name!r} has no hysteresis; the 'initial_hysteresis' "
                         f"{owner} must be None. Got {initial_hysteresis!r} instead.")
    if ecm.has_hysteresis:
        h0 = check_range(ecm.hysteresis_initial if initial_hysteresis is None
                         else initial_hysteresis, "initial_hysteresis", owner, -1.0, 1.0)
    t0 = float(ecm.reference_temperature_K if temperature_K is None else temperature_K)
    check_range(t0, "temperature_K", owner, 0.0, 1000.0, closed=(False, True))
    if ambient_K is None:
        ambient_K = t0
    elif not callable(ambient_K):
        ambient_K = check_range(ambient_K, "ambient_K", owner, 0.0, 1000.0,
                                closed=(False, True))
    cutoffs = {}
    for key, given in (("voltage_min_V", voltage_min_V), ("voltage_max_V", voltage_max_V)):
        value = ecm.limits.get(key) if given is None else given
        if value is None:
            raise InputError(f"The ECM '{ecm.name}' has no limits['{key}'] and no '{key}' "
                             "argument was given; PyBaMM's Thevenin model needs a voltage "
                             "cut-off. Pass it to to_pybamm_parameter_values.")
        cutoffs[key] = check_range(value, key, owner)
    if not cutoffs["voltage_min_V"] < cutoffs["voltage_max_V"]:
        raise InputError(f"The voltage cut-offs must satisfy voltage_min_V < voltage_max_V. "
                         f"Got {cutoffs['voltage_min_V']!r} and {cutoffs['voltage_max_V']!r} "
                         "instead.")

    def ocv(soc):
        return _interpolant_1d(ecm.soc, ecm.ocv_V, _SOC_PAD, soc, f"{ecm.name} OCV [V]")

    def entropic_change(ocv_value, temperature_degC):
        # exact: dU/dT and U are both piecewise linear on the SOC grid, U increasing
        return _interpolant_1d(ecm.ocv_V, ecm.docv_dT_V_per_K, _OCV_PAD_V, ocv_value,
                               f"{ecm.name} dU/dT [V/K]")

    def r0(temperature_degC, current, soc):
        r = _interpolant_2d(ecm, ecm.r0_Ohm, soc, temperature_degC, f"{ecm.name} R0 [Ohm]")
        if not ecm.has_ct:
            return r
        # the charge-transfer element as a current-dependent part of R0:
        # eta / I = R_ct asinh(x) / x, x = I / (2 I0); asinh(x)/x is even, so it is
        # evaluated at s = sqrt(x^2 + 1e-30) (relative change < 1e-30, finite at I = 0)
        r_ct = _interpolant_2d(ecm, ecm.ct_R_Ohm, soc, temperature_degC,
                               f"{ecm.name} R_ct [Ohm]")
        i0 = _interpolant_2d(ecm, ecm.ct_i0_A, soc, temperature_degC, f"{ecm.name} I0 [A]")
        x = current / (2 * i0)
        s = pybamm.sqrt(x * x + 1e-30)
        return r + r_ct * pybamm.arcsinh(s) / s

    values = {
        "chemistry": "ecm",
        "Cell capacity [A.h]": float(ecm.capacity_Ah),
        "Nominal cell capacity [A.h]": float(ecm.capacity_Ah),
        "Initial SoC": float(initial_soc),
        "Initial temperature [K]": t0,
        "Ambient temperature [K]": ambient_K,
        OCV_REFERENCE_PARAMETER: float(ecm.reference_temperature_K),
        "Current function [A]": current_A,
        "Upper voltage cut-off [V]": cutoffs["voltage_max_V"],
        "Lower voltage cut-off [V]": cutoffs["voltage_min_V"],
        "Open-circuit voltage [V]": ocv,
        "Entropic change [V/K]": entropic_change,
        "R0 [Ohm]": r0,
        **thermal_mapping(ecm),
    }
    for k in range(ecm.n_rc):
        r_k, c_k = _rc_functions(ecm, k)
        values[f"R{k + 1} [Ohm]"] = r_k
        values[f"C{k + 1} [F]"] = c_k
        values[f"Element-{k + 1} initial overpotential [V]"] = 0.0
    if ecm.has_hysteresis:

        def half_gap(soc):
            return _interpolant_1d(ecm.soc, ecm.hysteresis_V, _SOC_PAD, soc,
                                   f"{ecm.name} hysteresis half-gap [V]")

        values.update({
            HYSTERESIS_INITIAL_PARAMETER: float(h0),
            HYSTERESIS_RATE_PARAMETER: float(ecm.hysteresis_rate),
            HYSTERESIS_GAP_PARAMETER: half_gap,
        })
    return pybamm.ParameterValues(values)


def _entropic_ocv_element():
    """PyBaMM's OCV element with our OCV (imported lazily: PyBaMM is heavy)."""
    import pybamm

    class EntropicOCVElement(pybamm.equivalent_circuit_elements.OCVElement):
        """OCV element whose OCV is U(z) + (T - T_ref) dU/dT(z), as in our ECM."""

        def get_coupled_variables(self, variables):
            variables = super().get_coupled_variables(variables)
            u_ref = variables["Open-circuit voltage [V]"]
            d_u = variables["Entropic change [V/K]"]  # evaluated at U(z): dU/dT(z)
            t_cell = variables["Cell temperature [K]"]
            t_ref = pybamm.Parameter(OCV_REFERENCE_PARAMETER)
            variables.update({
                "Open-circuit voltage at reference temperature [V]": u_ref,
                "Open-circuit voltage [V]": u_ref + (t_cell - t_ref) * d_u,
            })
            return variables

    return EntropicOCVElement


def _hysteresis_elements():
    """The OCV element with our OCV and the one-state hysteresis, and the thermal submodel
    that adds its dissipation (module docstring)."""
    import pybamm

    class HysteresisOCVElement(_entropic_ocv_element()):
        """OCV U(z) + (T - T_ref) dU/dT(z) + M(z) h, h the hysteresis state."""

        def get_fundamental_variables(self):
            variables = super().get_fundamental_variables()
            h = pybamm.Variable("Hysteresis state")
            m = pybamm.FunctionParameter(HYSTERESIS_GAP_PARAMETER,
                                         {"SoC": variables["SoC"]})
            variables.update({
                "Hysteresis state": h,
                "Hysteresis half-gap [V]": m,
                "Hysteresis voltage [V]": m * h,
            })
            return variables

        def get_coupled_variables(self, variables):
            current = variables["Current [A]"]  # read first: a KeyError changes nothing
            v_hys = variables["Hysteresis voltage [V]"]
            variables = super().get_coupled_variables(variables)
            u_eq = variables["Open-circuit voltage [V]"]
            variables.update({
                "Equilibrium open-circuit voltage [V]": u_eq,
                "Open-circuit voltage [V]": u_eq + v_hys,
                "Hysteresis heat generation [W]": -current * v_hys,
            })
            return variables

        def set_rhs(self, variables):
            super().set_rhs(variables)
            h = variables["Hysteresis state"]
            current = variables["Current [A]"]
            gamma = pybamm.Parameter(HYSTERESIS_RATE_PARAMETER)
            # -gamma |I| (h + sign(I)) / (3600 Q), |I| = sign(I) I (never smoothed)
            self.rhs[h] = (-gamma * current * (1 + pybamm.sign(current) * h)
                           / (3600 * self.param.cell_capacity))

        def set_initial_conditions(self, variables):
            super().set_initial_conditions(variables)
            h = variables["Hysteresis state"]
            self.initial_conditions[h] = pybamm.Parameter(HYSTERESIS_INITIAL_PARAMETER)

    class HysteresisThermal(pybamm.equivalent_circuit_elements.ThermalSubModel):
        """PyBaMM's lumped thermal submodel, its irreversible heat gaining -I M h."""

        def get_coupled_variables(self, variables):
            q_hys = variables["Hysteresis heat generation [W]"]  # read first (KeyError)
            variables = super().get_coupled_variables(variables)
            variables.update({
                "Irreversible heat generation [W]":
                    variables["Irreversible heat generation [W]"] + q_hys,
                "Total heat generation [W]": variables["Total heat generation [W]"] + q_hys,
            })
            return variables

    return HysteresisOCVElement, HysteresisThermal


def pybamm_model(ecm: ECM, *, stock: bool = False, options: dict | None = None):
    """PyBaMM's Thevenin model with ``"number of rc elements": ecm.n_rc``.

    By default its OCV element is replaced by a subclass that adds our OCV temperature
    term (module docstring), so with :func:`to_pybamm_parameter_values` it is our ECM,
    thermal included; with an ECM with OCV hysteresis it also carries the hysteresis state
    and its heat. ``stock=True`` gives PyBaMM's model unchanged (refused for an ECM with
    hysteresis). ``options`` are further Thevenin options (e.g.
    ``{"operating mode": "power"}``); ``"number of rc elements"`` is set from the ECM.
    """
    import pybamm

    _check_ecm(ecm, "pybamm_model")
    opts = dict(options or {})
    n = opts.pop("number of rc elements", ecm.n_rc)
    if n != ecm.n_rc:
        raise InputError(f"The option 'number of rc elements' must be the ECM's n_rc = "
                         f"{ecm.n_rc}. Got {n!r} instead.")
    opts["number of rc elements"] = ecm.n_rc
    name = f"Thevenin ECM '{ecm.name}'" + (" (stock PyBaMM)" if stock else "")
    if stock:
        if ecm.has_hysteresis:
            raise InputError(f"The ECM {ecm.name!r} has an OCV hysteresis (hysteresis_V), "
                             "which PyBaMM's stock Thevenin model cannot represent; "
                             "'stock' must be False (the default model carries it).")
        return pybamm.equivalent_circuit.Thevenin(name=name, options=opts)
    model = pybamm.equivalent_circuit.Thevenin(name=name, options=opts, build=False)
    keys = ("Open-circuit voltage", "Thermal") if ecm.has_hysteresis else (
        "Open-circuit voltage",)
    for key in keys:
        if key not in model.submodels:  # PyBaMM renamed its submodels: fail loudly
            raise RuntimeError(f"PyBaMM's Thevenin model has no submodel {key!r}; found "
                               f"{list(model.submodels)}.")
    if ecm.has_hysteresis:
        ocv_element, thermal = _hysteresis_elements()
        model.submodels["Thermal"] = thermal(model.param, model.options)
    else:
        ocv_element = _entropic_ocv_element()
    model.submodels["Open-circuit voltage"] = ocv_element(model.param, model.options)
    model.build_model()
    return model


def piecewise_constant_current(time_s, current_A):
    """A ``"Current function [A]"`` holding ``current_A[k]`` on ``[time_s[k], time_s[k+1])``.

    Built from indicators ``(t >= t_k) * (t < t_k+1)`` (Heaviside functions of constant
    times), which PyBaMM's IDAKLU solver turns into stop-and-restart points, so the edges
    are exact, not smeared, and each interval carries exactly ``current_A[k]``. The first
    value also holds before ``time_s[0]``, the last after ``time_s[-1]``. Also usable for
    ``"Power function [W]"`` in the "power" operating mode.
    """
    t_k = np.asarray(time_s, dtype=float)
    i_k = np.asarray(current_A, dtype=float)
    if t_k.ndim != 1 or t_k.shape != i_k.shape or t_k.size < 1:
        raise InputError("The 'time_s' and 'current_A' arrays must be 1-D and of equal "
                         f"length >= 1. Got shapes {t_k.shape} and {i_k.shape} instead.")
    if np.any(np.diff(t_k) <= 0) or not np.all(np.isfinite(t_k) & np.isfinite(i_k)):
        raise InputError("The 'time_s' array must increase and both arrays must be finite.")
    n = t_k.size

    def current(t):
        expr = 0 * t
        for k in range(n):
            if i_k[k] == 0.0:
                continue
            on = 1
            if k > 0:
                on = on * (t >= float(t_k[k]))
            if k < n - 1:
                on = on * (t < float(t_k[k + 1]))
            expr = expr + float(i_k[k]) * on
        return expr

    return current


def solve_pybamm(
    ecm: ECM,
    time_s,
    current_A,
    *,
    initial_soc: float,
    temperature_K: float | None = None,
    ambient_K: float | None = None,
    stock: bool = False,
    rtol: float = 1e-9,
    atol: float = 1e-11,
    t_interp=None,
    initial_hysteresis: float | None = None,
):
    """Run the exported model on a zero-order-hold current profile with IDAKLU.

    ``current_A[k]`` holds on ``[time_s[k], time_s[k+1])`` (as in
    :func:`cellmodels.reduction.simulate_ecm`); the run ends at ``time_s[-1]``. Returns the
    ``pybamm.Solution`` (outputs at ``t_interp`` if given, else the solver's steps). The
    voltage cut-offs are the ECM's limits: a run that PyBaMM stops there (or at any other
    event) before ``time_s[-1]`` raises :class:`~cellmodels.errors.CutoffError` naming the
    event and the time, rather than returning a shorter solution; a run that leaves the
    ECM's validity warns once per variable (:class:`~cellmodels.reduction.ValidityWarning`),
    as :func:`~cellmodels.reduction.simulate_ecm` does. ``initial_hysteresis``:
    h(0) of an ECM with hysteresis (default ``ecm.hysteresis_initial``).
    """
    import pybamm

    t = np.asarray(time_s, dtype=float)
    values = to_pybamm_parameter_values(
        ecm, initial_soc=initial_soc, temperature_K=temperature_K, ambient_K=ambient_K,
        current_A=piecewise_constant_current(t, current_A),
        initial_hysteresis=initial_hysteresis)
    model = pybamm_model(ecm, stock=stock)
    solver = pybamm.IDAKLUSolver(rtol=rtol, atol=atol)
    sim = pybamm.Simulation(model, parameter_values=values, solver=solver)
    sol = sim.solve(t_eval=[float(t[0]), float(t[-1])], t_interp=t_interp)
    if sol.termination != "final time":
        reached = float(sol["Time [s]"].entries[-1])
        raise CutoffError(
            f"The PyBaMM run of the ECM {ecm.name!r} stopped at t = {reached:.6g} s, before the "
            f"profile's end at {float(t[-1]):.6g} s ({sol.termination}; the voltage cut-offs are "
            f"[{values['Lower voltage cut-off [V]']:g}, {values['Upper voltage cut-off [V]']:g}]"
            " V, the ECM's limits). Shorten the profile or start from another SOC.")
    _warn_outside_validity(ecm, sol)
    return sol


def _warn_outside_validity(ecm: ECM, sol) -> None:
    """Warn (:class:`~cellmodels.reduction.ValidityWarning`, once per variable) where the
    run's SOC, cell temperature or current left the ECM's validity, as
    :func:`~cellmodels.reduction.simulate_ecm` does: at the first sample outside, and how
    far out it is."""
    from ..reduction.simulate import _ValidityGuard

    guard = _ValidityGuard(ecm)
    for name, variable in (("soc", "SoC"), ("temperature_K", "Cell temperature [K]"),
                           ("current_A", "Current [A]")):
        values = np.asarray(sol[variable].entries, dtype=float).reshape(-1)
        lo, hi = guard.bounds(name)
        out = np.flatnonzero((values < lo) | (values > hi))
        if out.size:  # 1 check, 2 here, 3 solve_pybamm, 4 solve_pybamm's caller
            guard.check(name, float(values[out[0]]), stacklevel=4)
