"""Cells: parameter sets as BPX JSON with provenance, loaded into PyBaMM.

A parameter-set file is a BPX document (``Header``, ``Parameterisation``, optional
``State``) plus one more top-level block, ``"cellmodels"``, that BPX itself does not
have. :func:`bpx_document` returns the pure BPX part, which PyBaMM's own
``ParameterValues.create_from_bpx_obj`` reads. The block holds::

    "cellmodels": {
      "schema_version": 1,
      "name": "semisolid_lfp_power",
      "chemistry": "LFP/graphite",
      "electrolyte_kind": "semisolid",          # liquid | semisolid | lean
      "nominal_voltage_V": 3.2,
      "temperature_range_K": [263.15, 328.15],  # validity of the set
      "description": "...",
      "references": {"Key": "full citation", ...},
      "default_source": "Key",                  # optional: source of values not listed below
      "provenance": {"Negative electrode/Thickness [m]": {"source": "Key, Table 2",
                                                          "range": [1e-5, 1e-4]}, ...},
      "bpx_data": "aboutenergy_bpx/NMC/nmc_pouch_cell_BPX.json"   # optional, see below
    }

Every number in ``Parameterisation`` is checked against its plausible range: the set's
own ``range`` where given (what its cited source supports), else the package-wide
:data:`PLAUSIBLE` table. A value outside is refused with a message naming the
parameter, the range and the value. Unknown keys are refused with close-match
suggestions (BPX's ``User-defined`` section is free-form, so its keys are checked
against :data:`EXTENSIONS`). Expressions are parsed, never executed
(:mod:`cellmodels.expressions`).

``bpx_data`` names a BPX file in the measured-data registry (:mod:`cellmodels.data`): the
set then uses that file's ``Parameterisation`` unchanged, so third-party files are read,
hash-checked, and never copied into this repository.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from ..errors import ParameterError, check_range, range_message, suggest
from ..expressions import compile_expression, safe_bpx_functions

__all__ = [
    "Cell",
    "EXTENSIONS",
    "PLAUSIBLE",
    "available_cells",
    "bpx_document",
    "load_cell",
]

ElectrolyteKind = Literal["liquid", "semisolid", "lean"]
KINDS: tuple[str, ...] = ("liquid", "semisolid", "lean")
SCHEMA_VERSION = 1

#: Keys allowed in BPX's free-form "User-defined" section, with their meaning. Where
#: PyBaMM has the parameter, the key is PyBaMM's own name, so it passes through as is.
EXTENSIONS: dict[str, str] = {
    "Contact resistance [Ohm]": "tab, current-collector and contact resistance in series",
    "Thermodynamic factor": "1 + dln(f)/dln(c) of the electrolyte (gel) [-]",
    "Initial negative electrode interface utilisation": (
        "wetted fraction of the negative particle surface reached by the electrolyte [-]"
    ),
    "Initial positive electrode interface utilisation": (
        "wetted fraction of the positive particle surface reached by the electrolyte [-]"
    ),
    "Interfacial film resistance [Ohm.m2]": (
        "area-specific resistance of the particle/electrolyte interphase (gel film, SEI/CEI),"
        " per unit of wetted particle surface, on both electrodes"
    ),
    "Negative electrode double-layer capacity [F.m-2]": (
        "double-layer capacitance per particle surface; turns on PyBaMM's differential "
        "surface form, so the millisecond response is capacitive, not purely kinetic"
    ),
    "Positive electrode double-layer capacity [F.m-2]": "as the negative, for the positive",
    "Total heat transfer coefficient [W.m-2.K-1]": "surface cooling of the lumped thermal model",
    "Cell cooling surface area [m2]": "area over which the heat transfer coefficient acts",
    "Electrolyte weight fraction of liquid": "residual liquid in a semi-solid electrolyte [-]",
    # Open-circuit-potential hysteresis of the positive electrode (LFP): PyBaMM's
    # "one-state hysteresis" (Axen et al. 2022) with lithiation/delithiation OCPs at
    # OCP -/+ the half-gap; the equilibrium OCP is the set's OCP.
    "Positive electrode OCP hysteresis half-gap [V]": (
        "half the gap between the delithiation (charge) and lithiation (discharge) OCP [V]"
    ),
    "Positive particle hysteresis decay rate": (
        "PyBaMM's one-state decay rate (>= 25.10 definition), both directions [-]: 1 + h "
        "falls as exp(-rate x stoichiometry passed / 2) on lithiation"
    ),
    "Initial hysteresis state in positive electrode": (
        "h at t = 0: -1 lithiation (discharge) branch, +1 delithiation (charge) branch"
    ),
    # Lean-electrolyte dry-out model (Li, O'Kane, Marinescu & Offer, JES 169 060516, 2022)
    "Electrolyte reservoir volume [m3]": "free electrolyte outside the pores at start of life",
    "EC partial molar volume [m3.mol-1]": "volume of solvent consumed per mol of Li lost to SEI",
    "Dry-out transport exponent": "exponent applied to the wetted fraction for transport [-]",
    # SEI growth (PyBaMM names), used by the lean model
    "SEI kinetic rate constant [m.s-1]": "SEI reaction rate constant",
    "SEI solvent diffusivity [m2.s-1]": "solvent diffusivity in SEI",
    "Initial SEI thickness [m]": "initial SEI thickness",
    "SEI open-circuit potential [V]": "SEI reaction OCP",
    "SEI partial molar volume [m3.mol-1]": "SEI partial molar volume",
    "SEI reaction exchange current density [A.m-2]": "SEI reaction exchange current density",
    "Bulk solvent concentration [mol.m-3]": "EC concentration in bulk electrolyte",
    "SEI growth activation energy [J.mol-1]": "Arrhenius activation energy of SEI growth",
    "Ratio of lithium moles to SEI moles": "Li atoms consumed per SEI molecule formed",
}

#: Package-wide plausible ranges [low, high] (SI) for every numeric BPX field, from the
#: spread of published lithium-ion parameterisations (PyBaMM's built-in sets, the BPX
#: examples, Ecker 2015, Chen 2020). A set narrows these with its own source's range.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "Cell/Electrode area [m2]": (1e-4, 50.0),
    "Cell/External surface area [m2]": (1e-4, 5.0),
    "Cell/Volume [m3]": (1e-7, 1e-2),
    "Cell/Number of electrode pairs connected in parallel to make a cell": (1, 1000),
    "Cell/Lower voltage cut-off [V]": (1.5, 3.5),
    "Cell/Upper voltage cut-off [V]": (3.0, 4.6),
    "Cell/Nominal cell capacity [A.h]": (1e-3, 1000.0),
    "Cell/Reference temperature [K]": (233.15, 333.15),
    "Cell/Density [kg.m-3]": (500.0, 5000.0),
    "Cell/Specific heat capacity [J.K-1.kg-1]": (500.0, 2000.0),
    "Cell/Ambient temperature [K]": (233.15, 333.15),
    "Cell/Initial temperature [K]": (233.15, 333.15),
    "Cell/Thermal conductivity [W.m-1.K-1]": (0.1, 100.0),
    "Electrolyte/Initial concentration [mol.m-3]": (100.0, 4000.0),
    "Electrolyte/Cation transference number": (0.05, 0.95),
    "Electrolyte/Diffusivity [m2.s-1]": (1e-13, 1e-8),
    "Electrolyte/Diffusivity activation energy [J.mol-1]": (0.0, 80000.0),
    "Electrolyte/Conductivity [S.m-1]": (1e-4, 10.0),
    "Electrolyte/Conductivity activation energy [J.mol-1]": (0.0, 80000.0),
    "Electrode/Minimum stoichiometry": (0.0, 1.0),
    "Electrode/Maximum stoichiometry": (0.0, 1.0),
    "Electrode/Maximum concentration [mol.m-3]": (5000.0, 80000.0),
    "Electrode/Particle radius [m]": (1e-8, 5e-5),
    "Electrode/Surface area per unit volume [m-1]": (1e4, 1e8),
    "Electrode/Diffusivity [m2.s-1]": (1e-20, 1e-10),
    "Electrode/Diffusivity activation energy [J.mol-1]": (0.0, 120000.0),
    "Electrode/Reaction rate constant [mol.m-2.s-1]": (1e-10, 1e-3),
    "Electrode/Reaction rate constant activation energy [J.mol-1]": (0.0, 120000.0),
    "Electrode/Thickness [m]": (1e-6, 3e-4),
    "Electrode/Porosity": (0.05, 0.9),
    "Electrode/Transport efficiency": (1e-3, 1.0),
    "Electrode/Conductivity [S.m-1]": (1e-3, 1e5),
    "Electrode/OCP hysteresis decay constant": (0.0, 1e4),
    "Electrode/Entropic change coefficient [V.K-1]": (-2e-3, 2e-3),
    "Separator/Thickness [m]": (1e-6, 1e-4),
    "Separator/Porosity": (0.1, 0.95),
    "Separator/Transport efficiency": (1e-3, 1.0),
    "State/Initial state-of-charge": (0.0, 1.0),
    "State/Initial temperature [K]": (233.15, 333.15),
    "State/Initial electrolyte concentration [mol.m-3]": (100.0, 4000.0),
    "State/Ambient temperature [K]": (233.15, 333.15),
    "State/Heat transfer coefficient [W.m-2.K-1]": (0.0, 5000.0),
    "User-defined/Contact resistance [Ohm]": (0.0, 1.0),
    "User-defined/Thermodynamic factor": (0.5, 5.0),
    "User-defined/Initial negative electrode interface utilisation": (0.05, 1.0),
    "User-defined/Initial positive electrode interface utilisation": (0.05, 1.0),
    "User-defined/Interfacial film resistance [Ohm.m2]": (0.0, 0.1),
    "User-defined/Negative electrode double-layer capacity [F.m-2]": (0.01, 5.0),
    "User-defined/Positive electrode double-layer capacity [F.m-2]": (0.01, 5.0),
    "User-defined/Total heat transfer coefficient [W.m-2.K-1]": (0.1, 5000.0),
    "User-defined/Cell cooling surface area [m2]": (1e-4, 5.0),
    "User-defined/Electrolyte weight fraction of liquid": (0.0, 1.0),
    "User-defined/Positive electrode OCP hysteresis half-gap [V]": (0.0, 0.1),
    "User-defined/Positive particle hysteresis decay rate": (0.1, 1e4),
    "User-defined/Initial hysteresis state in positive electrode": (-1.0, 1.0),
    "User-defined/Electrolyte reservoir volume [m3]": (0.0, 1e-3),
    "User-defined/EC partial molar volume [m3.mol-1]": (1e-5, 2e-4),
    "User-defined/Dry-out transport exponent": (0.0, 5.0),
    "User-defined/SEI kinetic rate constant [m.s-1]": (1e-20, 1e-8),
    "User-defined/SEI solvent diffusivity [m2.s-1]": (1e-25, 1e-15),
    "User-defined/Initial SEI thickness [m]": (1e-10, 1e-6),
    "User-defined/SEI open-circuit potential [V]": (0.0, 1.0),
    "User-defined/SEI partial molar volume [m3.mol-1]": (1e-5, 1e-3),
    "User-defined/SEI reaction exchange current density [A.m-2]": (1e-9, 1e-3),
    "User-defined/Bulk solvent concentration [mol.m-3]": (1000.0, 10000.0),
    "User-defined/SEI growth activation energy [J.mol-1]": (0.0, 100000.0),
    "User-defined/Ratio of lithium moles to SEI moles": (1.0, 2.0),
}

_META_KEYS = {
    "schema_version",
    "name",
    "chemistry",
    "electrolyte_kind",
    "nominal_voltage_V",
    "temperature_range_K",
    "description",
    "references",
    "default_source",
    "provenance",
    "bpx_data",
}
_SECTIONS = ("Cell", "Electrolyte", "Negative electrode", "Positive electrode", "Separator")


def _schema_keys() -> dict[str, set[str]]:
    from bpx import schema

    def aliases(cls) -> set[str]:
        return {f.alias for f in cls.model_fields.values()}

    electrode = aliases(schema.ElectrodeSingle)
    return {
        "Cell": aliases(schema.Cell),
        "Electrolyte": aliases(schema.Electrolyte),
        "Negative electrode": electrode,
        "Positive electrode": electrode,
        "Separator": aliases(schema.Contact),
        "User-defined": set(EXTENSIONS) | {"description"},
    }


def _range_key(section: str, key: str) -> str:
    group = "Electrode" if section in ("Negative electrode", "Positive electrode") else section
    return f"{group}/{key}"


@dataclass(frozen=True)
class Cell:
    """A loaded, checked parameter set.

    Use :meth:`parameter_values` for a fresh ``pybamm.ParameterValues`` (a new copy each
    call, so callers may update it freely).
    """

    name: str
    source: str  #: file the set came from
    sha256: str  #: of the parameter-set file (and of the BPX data file it names, if any)
    chemistry: str
    electrolyte_kind: ElectrolyteKind
    capacity_Ah: float
    nominal_voltage_V: float
    temperature_range_K: tuple[float, float]
    description: str
    bpx: dict = field(repr=False)  #: the pure BPX document
    meta: dict = field(repr=False)  #: the "cellmodels" block

    def __post_init__(self) -> None:
        if self.electrolyte_kind not in KINDS:
            raise ParameterError(
                range_message("electrolyte_kind", f"of cell {self.name}", f"one of {KINDS}",
                              self.electrolyte_kind)
            )

    @property
    def user_defined(self) -> dict[str, Any]:
        return dict(self.bpx["Parameterisation"].get("User-defined", {}))

    def parameter_values(self):
        """A new ``pybamm.ParameterValues`` for this cell (see module docstring)."""
        return copy.deepcopy(_parameter_values(self.name, self.sha256, _freeze(self.bpx)))

    @functools.cached_property
    def soc_capacity_Ah(self) -> float:
        """Charge between 0 % and 100 % SOC as PyBaMM defines SOC [A.h].

        PyBaMM places SOC 0 and 1 at the stoichiometries where the OCV meets the voltage
        cut-offs (its electrode-SOH calculation); this is the charge between them, which
        can differ from the nominal capacity. Coulomb counting uses it.
        """
        import pybamm

        pv = self.parameter_values()
        param = pybamm.LithiumIonParameters()
        x0, _ = pybamm.lithium_ion.get_initial_stoichiometries(0.0, pv, param=param)
        x1, _ = pybamm.lithium_ion.get_initial_stoichiometries(1.0, pv, param=param)
        return float((x1 - x0) * pv.evaluate(param.n.Q_init))

    def check_temperature(self, temperature_K: float, field_name: str = "temperature_K") -> float:
        lo, hi = self.temperature_range_K
        return check_range(temperature_K, field_name, f"for cell {self.name}", lo, hi)

    def source_of(self, key: str) -> str:
        """The cited source of a ``"Section/Key"`` value."""
        entry = self.meta.get("provenance", {}).get(key)
        if entry:
            return entry["source"]
        return self.meta.get("default_source", "")


def _freeze(doc: dict) -> str:
    return json.dumps(doc, sort_keys=True)


@functools.lru_cache(maxsize=32)
def _parameter_values(name: str, sha256: str, frozen_bpx: str):
    import pybamm

    doc = json.loads(frozen_bpx)
    user = doc["Parameterisation"].get("User-defined", {})
    user.pop("description", None)  # prose, not a parameter
    with safe_bpx_functions(), warnings.catch_warnings():
        # PyBaMM says it places 0 and 100 % SOC at the voltage cut-offs when a file gives
        # no OCV at 0/100 % SOC: that is this package's documented SOC definition, so
        # the notice is dropped. Any other warning (e.g. bpx's check that the
        # stoichiometry limits meet the cut-offs) reaches the user.
        warnings.filterwarnings(
            "ignore", message=r"'Open-circuit voltage at (0|100)% SOC \[V\]' not found",
            category=UserWarning)
        # pydantic and pyparsing deprecations raised inside bpx and PyBaMM's importer:
        # upstream's to fix, and nothing a user of a parameter set can act on.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            pv = pybamm.ParameterValues.create_from_bpx_obj(doc)
        except ParameterError:
            raise
        except Exception as exc:
            raise ParameterError(f"Cell {name}: the BPX document is not valid: {exc}") from exc
    _apply_extensions(pv, user)
    return pv


def _apply_extensions(pv, user: dict) -> None:
    """Map the cellmodels extensions onto PyBaMM's parameter names.

    The interfacial film is PyBaMM's "constant" SEI of fixed thickness on both electrodes
    with "distributed" film resistance: its overpotential is j * L * rho, so an area-specific
    resistance R [Ohm.m2] is carried as rho = R / L. PyBaMM shares the SEI parameters
    between the two electrodes, hence one film resistance for both.
    """
    _apply_hysteresis(pv, user)
    rf = user.get("Interfacial film resistance [Ohm.m2]")
    if rf is not None:
        # A set with a growing SEI gives its own initial thickness: keep it, and carry the
        # film resistance at that thickness.
        thickness = float(user.get("Initial SEI thickness [m]", FILM_THICKNESS_M))
        pv.update(
            {
                "Initial SEI thickness [m]": thickness,
                "SEI resistivity [Ohm.m]": float(rf) / thickness,
                # Never used by a constant film (no growth), but PyBaMM asks for it.
                "SEI partial molar volume [m3.mol-1]": 9.585e-5,
            },
            check_already_exists=False,
        )


#: The extensions that together give the positive electrode its OCP hysteresis.
HYSTERESIS_KEYS = ("Positive electrode OCP hysteresis half-gap [V]",
                   "Positive particle hysteresis decay rate",
                   "Initial hysteresis state in positive electrode")


def has_hysteresis(user: dict) -> bool:
    """True if a set's User-defined block gives the positive electrode an OCP hysteresis
    (all three :data:`HYSTERESIS_KEYS`; a partial set is refused when loaded)."""
    return HYSTERESIS_KEYS[0] in user


def _apply_hysteresis(pv, user: dict) -> None:
    """PyBaMM's one-state hysteresis parameters from the half-gap, rate and initial state.

    Lithiation OCP = OCP - half-gap, delithiation OCP = OCP + half-gap (PyBaMM's equilibrium
    OCP stays the set's OCP, which its hysteresis heating is measured from); the one decay
    rate is given to both directions.
    """
    given = [key for key in HYSTERESIS_KEYS if key in user]
    if not given:
        return
    if len(given) != len(HYSTERESIS_KEYS):
        missing = next(key for key in HYSTERESIS_KEYS if key not in user)
        raise ParameterError(f"The User-defined key {given[0]!r} needs {missing!r} as well: an "
                             "OCP hysteresis is given by "
                             + ", ".join(repr(k) for k in HYSTERESIS_KEYS) + ".")
    half_gap = float(user[HYSTERESIS_KEYS[0]])
    rate = float(user[HYSTERESIS_KEYS[1]])
    ocp = pv["Positive electrode OCP [V]"]

    # PyBaMM calls the branch OCPs with the same arguments as the set's OCP
    def lithiation(*args):
        return ocp(*args) - half_gap

    def delithiation(*args):
        return ocp(*args) + half_gap

    pv.update({
        "Positive electrode lithiation OCP [V]": lithiation,
        "Positive electrode delithiation OCP [V]": delithiation,
        "Positive particle lithiation hysteresis decay rate": rate,
        "Positive particle delithiation hysteresis decay rate": rate,
        "Initial hysteresis state in positive electrode": float(user[HYSTERESIS_KEYS[2]]),
    }, check_already_exists=False)


#: Nominal thickness of the interphase film; only the product thickness x resistivity
#: enters the model, so its value does not matter as long as the film does not grow.
FILM_THICKNESS_M = 5e-9


def _iter_numbers(params: dict) -> Iterator[tuple[str, str, Any]]:
    for section, block in params.items():
        if not isinstance(block, dict):
            continue
        for key, value in block.items():
            yield section, key, value


def _check_state(name: str, doc: dict) -> None:
    """Range-check the numbers of BPX's ``State`` block (bpx checks its keys)."""
    for section, block in (doc.get("State") or {}).items():
        if not isinstance(block, dict):
            continue
        for key, value in block.items():
            rng = PLAUSIBLE.get(f"State/{key}")
            if rng is None or isinstance(value, dict) or isinstance(value, bool):
                continue  # per-material dicts (hysteresis state) are bpx's to check
            if not isinstance(value, int | float) or not (rng[0] <= float(value) <= rng[1]):
                raise ParameterError(
                    f"Cell {name}: the parameter 'State/{section}/{key}' must be in the "
                    f"plausible range [{rng[0]:g}, {rng[1]:g}]. Got {value!r} instead."
                )


def _check_document(name: str, doc: dict, meta: dict, own: bool) -> None:
    params = doc.get("Parameterisation")
    if not isinstance(params, dict):
        raise ParameterError(f"Cell {name}: the file has no 'Parameterisation' block.")
    _check_state(name, doc)
    schema = _schema_keys()
    for section in params:
        if section not in schema:
            raise ParameterError(
                f"Cell {name}: unknown section {section!r} in 'Parameterisation'."
                + suggest(section, schema)
            )
    provenance = meta.get("provenance", {})
    for pkey, entry in provenance.items():
        if not isinstance(entry, dict) or "source" not in entry:
            raise ParameterError(
                f"Cell {name}: provenance of {pkey!r} must be an object with a 'source'."
            )
    for section, key, value in _iter_numbers(params):
        if key == "description":
            continue
        if own and key not in schema[section]:
            raise ParameterError(
                f"Cell {name}: unknown parameter {key!r} in section {section!r}."
                + suggest(key, schema[section])
            )
        pkey = f"{section}/{key}"
        entry = provenance.get(pkey, {})
        if own and not entry and "default_source" not in meta:
            raise ParameterError(f"Cell {name}: the value of {pkey!r} cites no source.")
        if isinstance(value, str):
            compile_expression(value, pkey)  # parse only: refuses anything but arithmetic
            continue
        if isinstance(value, dict):  # an interpolation table
            xs, ys = value.get("x"), value.get("y")
            if not (isinstance(xs, list) and isinstance(ys, list) and len(xs) == len(ys) > 1):
                raise ParameterError(
                    f"Cell {name}: the table for {pkey!r} needs lists 'x' and 'y' of equal "
                    "length of at least 2."
                )
            if not all(math.isfinite(float(v)) for v in xs + ys):
                raise ParameterError(f"Cell {name}: the table for {pkey!r} holds NaN or inf.")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParameterError(
                f"Cell {name}: the value of {pkey!r} must be a number, an expression of x "
                f"or a table. Got {value!r} instead."
            )
        rng = entry.get("range") or PLAUSIBLE.get(_range_key(section, key))
        if rng is None:
            raise ParameterError(f"Cell {name}: {pkey!r} has no plausible range.")
        lo, hi = float(rng[0]), float(rng[1])
        if not (lo <= float(value) <= hi):
            where = "its cited source's" if entry.get("range") else "the plausible"
            raise ParameterError(
                f"Cell {name}: the parameter {pkey!r} must be in {where} range "
                f"[{lo:g}, {hi:g}]. Got {value!r} instead."
            )


def _to_bpx_v1(doc: dict) -> dict:
    """Repack a legacy BPX 0.x document into the 1.x layout, with bpx's own converter.

    (BPX 1.0 moved the initial and ambient temperature and the initial electrolyte
    concentration from ``Parameterisation`` into ``State``.)
    """
    from bpx._migrations import convert_v0_to_v1, is_legacy_bpx  # bpx>=1.1,<2

    return convert_v0_to_v1(doc) if is_legacy_bpx(doc) else doc


def _reject_constant(token: str):
    raise ValueError(f"non-finite number {token} in JSON")


def _read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh, parse_constant=_reject_constant)
    except (ValueError, OSError) as exc:
        raise ParameterError(f"Cannot read parameter set {path}: {exc}") from None


def _sets_dir():
    packaged = resources.files("cellmodels") / "parameter_sets"
    if packaged.is_dir():
        return packaged
    # Running from a source checkout: parameter_sets/ sits beside the package.
    return Path(__file__).resolve().parents[2] / "parameter_sets"


def available_cells() -> list[str]:
    """Names of the parameter sets that ship with cellmodels."""
    return sorted(
        p.name[: -len(".json")] for p in _sets_dir().iterdir() if p.name.endswith(".json")
    )


def bpx_document(cell: Cell) -> dict:
    """The pure BPX part of a cell, readable by ``pybamm.ParameterValues.create_from_bpx_obj``."""
    return copy.deepcopy(cell.bpx)


def load_cell(name_or_path: str | Path) -> Cell:
    """Load and check a parameter set by shipped name or by path to a JSON file.

    Raises
    ------
    ParameterError
        Unknown name (the message lists the available sets), unknown key, a value outside
        its range, a value without a source, or an expression that is not plain arithmetic.
    """
    text = str(name_or_path)
    if text.endswith(".json") or Path(text).is_file():
        path = Path(text)
        if not path.is_file():
            raise ParameterError(f"No parameter-set file at {path}.")
        raw = path.read_bytes()
    else:
        names = available_cells()
        if text not in names:
            raise ParameterError(
                f"Unknown cell {text!r}.{suggest(text, names)} Available: {', '.join(names)}."
            )
        resource = _sets_dir() / f"{text}.json"
        raw = resource.read_bytes()
        path = Path(str(resource))
    digest = hashlib.sha256(raw)
    doc = _read_json(path)
    meta = doc.pop("cellmodels", None)
    if not isinstance(meta, dict):
        raise ParameterError(f"Parameter set {path} has no 'cellmodels' block.")
    unknown = set(meta) - _META_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise ParameterError(
            f"Parameter set {path}: unknown key {key!r} in the 'cellmodels' block."
            + suggest(key, _META_KEYS)
        )
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise ParameterError(
            f"Parameter set {path} has schema_version {meta.get('schema_version')!r}; "
            f"this cellmodels reads schema_version {SCHEMA_VERSION}."
        )
    name = meta.get("name") or path.stem
    own = "bpx_data" not in meta
    if not own:
        from .. import data

        bpx_path = data.path(meta["bpx_data"])
        digest.update(bpx_path.read_bytes())
        doc = _to_bpx_v1(_read_json(bpx_path))
    _check_document(name, doc, meta, own)
    params = doc["Parameterisation"]
    capacity = float(params["Cell"]["Nominal cell capacity [A.h]"])
    kind = meta.get("electrolyte_kind", "liquid")
    t_range = meta.get("temperature_range_K", [263.15, 333.15])
    return Cell(
        name=name,
        source=str(path),
        sha256=digest.hexdigest(),
        chemistry=str(meta.get("chemistry", "")),
        electrolyte_kind=kind,
        capacity_Ah=capacity,
        nominal_voltage_V=float(meta["nominal_voltage_V"]),
        temperature_range_K=(float(t_range[0]), float(t_range[1])),
        description=str(meta.get("description", "")),
        bpx=doc,
        meta=meta,
    )
