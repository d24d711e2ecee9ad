"""PyBaMM models for the three electrolyte kinds, and their options.

- ``liquid``: PyBaMM's DFN, SPMe or SPM as they are.
- ``semisolid``: the same models with gel transport (the set's own conductivity,
  diffusivity, transference number, thermodynamic factor and activation energies), a
  wetted-area fraction (PyBaMM's "constant" interface utilisation, which scales the
  reacting area) and an interfacial film resistance (a constant, non-growing film with
  "distributed" film resistance on both electrodes).
- ``lean``: the same models plus the electrolyte-reservoir and pore dry-out submodel of
  :mod:`cellmodels.physics.lean` (Li, O'Kane, Marinescu & Offer, JES 169, 060516, 2022).

Every model has a lumped thermal option and the heat split as outputs (see
:data:`HEAT_VARIABLES`).

**Heat of mixing.** PyBaMM's lumped heat source leaves out, by default, the heat of
mixing: the heat released as the concentration gradients in the particles relax
(``Q_mix = -F N int D |grad c|^2 dU/dc dV``, Thomas & Newman, JES 150, A176, 2003). It is
the diffusion (concentration) overpotential turning into heat; without it that part of
the electrical loss I (U - V) is never heat, so the cell's energy balance is incomplete
(the lean NMC cell: ~37 % of its losses are diffusion, and its DFN ran 0.2-0.5 K cooler
than the energy it dissipates). ``heat_of_mixing=True`` (or ``"auto"``: where the set
supports it) turns PyBaMM's ``"heat of mixing"`` option on. It needs the derivative of
each electrode's OCP (:func:`heat_of_mixing_supported`: an OCP given as a linear
interpolant, e.g. the LG M50 set, has none) and costs ~7x the solve time of the lumped DFN
(lean NMC cell, 200 s of AI load: 131 s against 17 s), so the default stays off and the
runs that compare temperatures with an energy-complete model (the ECM reduction) ask for
it.

``heat_of_mixing="quasi-steady"`` (opt-in, lumped thermal only) is the cheap stand-in for a
set whose OCPs have no derivative: it adds ``Q = -I eta_particle`` to the lumped heat source,
``eta_particle`` being PyBaMM's particle concentration overpotential (surface minus bulk
open-circuit voltage, x-averaged). While a particle's concentration profile is quasi-steady
(after ~R^2 / (20 D) of constant current) the diffusion dissipates energy at exactly this
rate; during the build-up of the profile it counts the energy then stored in the gradient
as heat at once (that energy is released as heat later, as the profile relaxes). It costs
no extra state. PyBaMM's ``"Heat of mixing [W]"`` and ``"Total heating [W]"`` of the model
then carry it.

**OCP hysteresis.** A set that gives the positive electrode an OCP hysteresis
(:data:`cellmodels.physics.cells.HYSTERESIS_KEYS`, e.g. the LFP of ``liquid_lfp_ups``)
gets PyBaMM's ``"open-circuit potential": ("single", "one-state hysteresis")``: a state h
per positive-electrode node moves the OCP between the lithiation (h = -1) and
delithiation (h = +1) branches as charge passes, and PyBaMM's heat source includes its
dissipation (``i_vol (U - U_eq)``).
"""

from __future__ import annotations

import functools
import warnings
from typing import Literal

from ..errors import InputError, range_message
from .cells import Cell, has_hysteresis

__all__ = ["HEAT_VARIABLES", "LOSS_VARIABLES", "MODELS", "build_model",
           "heat_of_mixing_supported", "model_options"]

ModelName = Literal["DFN", "SPMe", "SPM"]
MODELS: tuple[str, ...] = ("DFN", "SPMe", "SPM")
THERMAL: tuple[str, ...] = ("isothermal", "lumped")

#: Heat split, cell totals [W]: ohmic (solid, electrolyte, current collectors), irreversible
#: reaction (kinetic and film overpotentials), reversible (entropic), contact, heat of
#: mixing, OCP hysteresis (``i_vol (U - U_eq)``, 0 without hysteresis), total.
HEAT_VARIABLES: dict[str, str] = {
    "ohmic_W": "Ohmic heating [W]",
    "irreversible_W": "Irreversible electrochemical heating [W]",
    "reversible_W": "Reversible heating [W]",
    "contact_W": "Lumped contact resistance heating [W]",
    "mixing_W": "Heat of mixing [W]",  # 0 unless heat_of_mixing is on
    "hysteresis_W": "Hysteresis electrochemical heating [W]",  # 0 without hysteresis
    "total_W": "Total heating [W]",
}

#: Voltage-loss breakdown [V] as PyBaMM reports it: negative on discharge, except the
#: contact overpotential (I x R, positive). `cellmodels.dcr` turns these into resistances.
LOSS_VARIABLES: dict[str, str] = {
    "contact_V": "Contact overpotential [V]",
    "electrolyte_ohmic_V": "X-averaged battery electrolyte ohmic losses [V]",
    "solid_ohmic_V": "X-averaged battery solid phase ohmic losses [V]",
    "charge_transfer_V": "X-averaged battery reaction overpotential [V]",
    "film_V": "X-averaged SEI film overpotential [V]",
    "solid_diffusion_V": "Battery particle concentration overpotential [V]",
    "electrolyte_concentration_V": "X-averaged battery concentration overpotential [V]",
}


def heat_of_mixing_supported(cell: Cell) -> bool:
    """True if PyBaMM can form the heat of mixing for ``cell``: both electrodes' OCPs
    can be differentiated with respect to concentration (an OCP given as a linear
    interpolant cannot)."""
    return _heat_of_mixing_supported(cell.name, cell.sha256)


@functools.lru_cache(maxsize=32)
def _heat_of_mixing_supported(name: str, sha256: str) -> bool:
    import pybamm

    from .cells import load_cell

    cell = load_cell(name)
    pv = cell.parameter_values()
    param = pybamm.LithiumIonParameters()
    temp = pybamm.Scalar(298.15)
    try:
        for electrode in (param.n.prim, param.p.prim):
            c = pybamm.Variable("c")
            pv.process_symbol(electrode.U(c / electrode.c_max, temp).diff(c))
    except (AttributeError, NotImplementedError, pybamm.ModelError, ValueError):
        return False
    return True


def model_options(
    cell: Cell, *, thermal: str = "lumped", extra: dict | None = None,
    heat_of_mixing: bool | str = False,
) -> dict[str, object]:
    """PyBaMM model options for a cell's electrolyte kind.

    ``heat_of_mixing``: False (default), True (refused where the set cannot form it or
    the model is isothermal), "auto" (on for a lumped-thermal model where the set
    supports it) or "quasi-steady" (lumped only; added by :func:`build_model`, no PyBaMM
    option); see the module docstring.
    """
    if thermal not in THERMAL:
        raise InputError(range_message("thermal", "option", f"one of {THERMAL}", thermal))
    if heat_of_mixing not in (False, True, "auto", "quasi-steady"):
        raise InputError(range_message("heat_of_mixing", "option",
                                       "False, True, 'auto' or 'quasi-steady'", heat_of_mixing))
    if heat_of_mixing == "quasi-steady" and thermal != "lumped":
        raise InputError("heat_of_mixing='quasi-steady' adds to the lumped heat source; got "
                         f"thermal={thermal!r}, use thermal='lumped'.")
    user = cell.user_defined
    options: dict[str, object] = {"thermal": thermal}
    if heat_of_mixing is True:
        if thermal == "isothermal":
            raise InputError("heat_of_mixing=True needs a thermal model; got "
                             "thermal='isothermal'.")
        if not heat_of_mixing_supported(cell):
            raise InputError(f"Cell {cell.name}: PyBaMM cannot form the heat of mixing "
                             "(an electrode OCP has no derivative, e.g. a linear "
                             "interpolant). Use heat_of_mixing='auto' or False.")
        options["heat of mixing"] = "true"
    elif heat_of_mixing == "auto" and thermal != "isothermal" and heat_of_mixing_supported(
            cell):
        options["heat of mixing"] = "true"
    if "Contact resistance [Ohm]" in user:
        options["contact resistance"] = "true"
    if "Interfacial film resistance [Ohm.m2]" in user:
        options["SEI"] = ("constant", "constant")
        options["SEI film resistance"] = "distributed"
    if (
        "Initial negative electrode interface utilisation" in user
        or "Initial positive electrode interface utilisation" in user
    ):
        options["interface utilisation"] = "constant"
    if (
        "Negative electrode double-layer capacity [F.m-2]" in user
        or "Positive electrode double-layer capacity [F.m-2]" in user
    ):
        # Double-layer charging sets the millisecond response (tau = R_ct C_dl ~ ms).
        options["surface form"] = "differential"
    if has_hysteresis(user):
        options["open-circuit potential"] = ("single", "one-state hysteresis")
    if cell.electrolyte_kind == "lean":
        options["SEI"] = "solvent-diffusion limited"
        options["SEI film resistance"] = "distributed"
    options.update(extra or {})
    return options


def build_model(
    cell: Cell,
    model: ModelName = "DFN",
    *,
    thermal: str = "lumped",
    options: dict | None = None,
    heat_of_mixing: bool | str = False,
):
    """A PyBaMM model for ``cell``, with the submodels its electrolyte kind needs
    (``heat_of_mixing``: see :func:`model_options`)."""
    import pybamm

    classes = {
        "DFN": pybamm.lithium_ion.DFN,
        "SPMe": pybamm.lithium_ion.SPMe,
        "SPM": pybamm.lithium_ion.SPM,
    }
    if model not in classes:
        raise InputError(range_message("model", "argument", f"one of {MODELS}", model))
    opts = model_options(cell, thermal=thermal, extra=options, heat_of_mixing=heat_of_mixing)
    with warnings.catch_warnings():
        # PyBaMM 25.10 changed the one-state hysteresis decay rate's definition and says so
        # on every build; the sets give it in the new definition (cells.EXTENSIONS).
        warnings.filterwarnings("ignore", message="The definition of the hysteresis decay "
                                "rate parameter has changed", category=UserWarning)
        if cell.electrolyte_kind == "lean":
            from .lean import build_lean_model

            built = build_lean_model(classes[model], opts)
        else:
            built = classes[model](opts, name=f"{model} ({cell.electrolyte_kind}) {cell.name}")
    if heat_of_mixing == "quasi-steady":
        _add_quasi_steady_mixing_heat(built)
    return built


def _add_quasi_steady_mixing_heat(model) -> None:
    """Add ``-I eta_particle`` [W] to a built lumped model's heat source (module docstring)."""
    var = model.variables
    temperature = var["Volume-averaged cell temperature [K]"]
    if temperature not in model.rhs:
        raise InputError("heat_of_mixing='quasi-steady' needs PyBaMM's lumped thermal model "
                         "(its volume-averaged temperature is not a state of this model).")
    q_w = -var["Current [A]"] * var["Particle concentration overpotential [V]"]
    volume = var["Cell thermal volume [m3]"]
    model.rhs[temperature] = model.rhs[temperature] + q_w / volume / var[
        "Volume-averaged effective heat capacity [J.K-1.m-3]"]
    model.variables.update({
        "Heat of mixing [W]": var["Heat of mixing [W]"] + q_w,
        "Total heating [W]": var["Total heating [W]"] + q_w,
        "Volume-averaged total heating [W.m-3]": var["Volume-averaged total heating [W.m-3]"]
        + q_w / volume,
    })
