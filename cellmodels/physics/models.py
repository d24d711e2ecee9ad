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
"""

from __future__ import annotations

from typing import Literal

from ..errors import InputError, range_message
from .cells import Cell

__all__ = ["HEAT_VARIABLES", "LOSS_VARIABLES", "MODELS", "build_model", "model_options"]

ModelName = Literal["DFN", "SPMe", "SPM"]
MODELS: tuple[str, ...] = ("DFN", "SPMe", "SPM")
THERMAL: tuple[str, ...] = ("isothermal", "lumped")

#: Heat split, cell totals [W]: ohmic (solid, electrolyte, current collectors), irreversible
#: reaction (kinetic and film overpotentials), reversible (entropic), contact, total.
HEAT_VARIABLES: dict[str, str] = {
    "ohmic_W": "Ohmic heating [W]",
    "irreversible_W": "Irreversible electrochemical heating [W]",
    "reversible_W": "Reversible heating [W]",
    "contact_W": "Lumped contact resistance heating [W]",
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


def model_options(
    cell: Cell, *, thermal: str = "lumped", extra: dict | None = None
) -> dict[str, object]:
    """PyBaMM model options for a cell's electrolyte kind."""
    if thermal not in THERMAL:
        raise InputError(range_message("thermal", "option", f"one of {THERMAL}", thermal))
    user = cell.user_defined
    options: dict[str, object] = {"thermal": thermal}
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
):
    """A PyBaMM model for ``cell``, with the submodels its electrolyte kind needs."""
    import pybamm

    classes = {
        "DFN": pybamm.lithium_ion.DFN,
        "SPMe": pybamm.lithium_ion.SPMe,
        "SPM": pybamm.lithium_ion.SPM,
    }
    if model not in classes:
        raise InputError(range_message("model", "argument", f"one of {MODELS}", model))
    opts = model_options(cell, thermal=thermal, extra=options)
    if cell.electrolyte_kind == "lean":
        from .lean import build_lean_model

        return build_lean_model(classes[model], opts)
    return classes[model](opts, name=f"{model} ({cell.electrolyte_kind}) {cell.name}")
