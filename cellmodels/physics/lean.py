"""Lean-electrolyte dry-out: an electrolyte-reservoir submodel for PyBaMM's DFN, SPMe and SPM.

After Li, O'Kane, Marinescu & Offer, "Modelling solvent consumption from SEI layer growth
in lithium-ion batteries", J. Electrochem. Soc. 169, 060516 (2022),
doi:10.1149/1945-7111/ac6f84. Sources read for this implementation:

- the paper's abstract (Imperial College Spiral record of the article);
- PyBaMM issue #4276, "Add solvent consumption model into PyBaMM" (R. Li, 2024): core
  PyBaMM lacks the model; the reactions are 2 Li+ + 2 EC + 2 e- -> (CH2OCO2Li)2 + C2H4,
  so one EC molecule is consumed per lithium lost to SEI;
- the authors' own code, github.com/RuiheLi/PyBaMM, ``wip/Rio_Code/Fun_P2/Fun_P2.py``,
  function ``Cal_new_con_Update``: between blocks of cycles it takes the lithium lost to
  SEI (and SEI on cracks), consumes ``V_EC = 6.667e-5 m3/mol`` of EC per mol, refills the
  jelly-roll pores from the reservoir while it lasts (electrolyte displaced by SEI
  growing into the pores goes back to the reservoir), and once it is empty sets
  ``Ratio_Dryout = electrolyte in jelly roll / pore volume`` and shrinks the electrode
  width (i.e. the active area of *both* electrodes) by that ratio.

This module makes the same bookkeeping continuous in time, inside the model, as PyBaMM
submodels (no restarts between blocks of cycles).

Equations (cell totals; ``A = L_y L_z n_parallel``)
---------------------------------------------------
State ``Y`` [m3], "Electrolyte reservoir volume variable [m3]"::

    dY/dt = -V_EC * ndot_SEI,        Y(0) = V_res0
    ndot_SEI = -(A / F) * sum_k L_k * xavg(a_k j_SEI,k)      [mol/s, >= 0]

(``k`` runs over the SEI and SEI-on-cracks reactions of both electrodes; ``a j_SEI`` is
PyBaMM's own SEI volumetric current density, so the lithium and the solvent budgets use
the same current.) ``Y`` is the signed reservoir volume: the reservoir when positive,
minus the unfilled pore volume when negative. With SEI porosity change, the pores shrink
and the displaced electrolyte is credited back, ``X = Y + V_pore0 - V_pore(t)``; with
constant porosity ``X = Y``. Then::

    V_pore(t) = A * sum_{n,s,p} L_k * xavg(eps_k)
    V_res     = s_d(X)                           reservoir volume [m3]
    V_e,pore  = V_pore - s_d(-X)                 electrolyte in the pores [m3]
    w_raw     = V_e,pore / V_pore                 dry-out ratio (Li et al.'s Ratio_Dryout)
    w         = s_e(w_raw)                        wetted fraction, kept > 0
    s_d(x)    = (x + |x|)/2 + d * ln(1 + exp(-|x|/d))     (softplus, overflow-free)

``d = 1e-3 * V_pore0`` and ``e = 1e-3`` (see :data:`SMOOTHING`). The solve stops
("Electrolyte dry-out cut-off") if ``w_raw`` falls to :data:`DRY_OUT_CUTOFF`.

Couplings, by ``mode`` (:data:`MODES`; :func:`build_lean_model`):

"wetted area" (default; dry-out spread over every pore, as partial saturation):

- interface utilisation of each electrode ``u_k = u0_k * w`` (``u0`` = 1 for the "full"
  option, the set's "Initial ... interface utilisation" for "constant"); PyBaMM's kinetics
  multiply the main-reaction current by ``u``, so the reacting area is the wetted area;
- electrolyte transport efficiency ``B_k -> B_k * w**beta`` in every domain
  (:class:`WettedTransportEfficiency`), so effective conductivity and diffusivity both
  scale with ``w**beta``, ``beta`` = "Dry-out transport exponent" (Archie's saturation
  exponent, ~2; Bruggeman on the liquid fraction ``w * eps`` would give 1.5);
- the SEI current density is multiplied by ``w`` (:class:`WettedSEIGrowth`): SEI grows
  only where there is solvent, which keeps the lithium and the solvent budgets on the
  same reaction once dried out.

"electrode width" (Li et al.'s formulation: dry-out as whole dried regions):

- the wetted part of the cell carries all the current, ``i = I / (w A)``
  (:class:`WettedAreaCurrent`); the lithium in the dried part is inactive, so capacity
  falls in proportion to ``w`` at any rate, and the resistance rises as ``1/w``;
- utilisation and transport are those of the wetted part (unchanged); the SEI grows
  only on the wetted part, ``ndot_SEI`` above is multiplied by ``w``. (PyBaMM's own
  "Loss of lithium to ... SEI [mol]" counts the whole area in this mode; the true value
  is "Loss of electrolyte to SEI [m3]" / ``V_EC``. Lumped heat is overstated by ``1/w``.)

In both modes the positive electrode is affected too: the dry-out ratio is defined on the
whole cell's pore volume (negative, separator and positive), and Li et al.'s width
reduction removes area from both electrodes alike.

In the "wetted area" mode the particles behind the wetted surface stay reachable, so
dry-out costs capacity only where transport limits it (at 2C on the LG M50, not at 1C);
in the "electrode width" mode the capacity falls with ``w`` at any rate. See
``validation/case_lean.py`` for the knee both give.

Smooth switch
-------------
While ``X >> d`` (reservoir not empty), ``w`` equals 1 to machine precision
(``d/V_pore * exp(-X/d)`` underflows once ``X > 40 d``), so the model reproduces PyBaMM's
own model with the same SEI option. ``d`` = 0.1 % of the pore volume: ``w`` departs from
the hard-switch value by at most ``d ln 2 / V_pore`` = 0.07 % (at ``X = 0``), and the bend
is spread over ``|X| < 5 d``, the EC of about 0.2 % of the cell's capacity in lithium
(about one cycle of the accelerated validation runs, a fraction of a cycle at real
ageing rates; the knee itself develops over tens of cycles). The largest curvature it
puts into the Jacobian, ``1/(4 d)`` in units of the pore volume (= 250), is mild for
IDAKLU; a hard ``max`` would put a kink in the right-hand side exactly where the reservoir
empties, mid-step, and force the solver to cut its step there.

Not modelled
------------
Li et al. also update the Li+ and EC concentrations of the remaining electrolyte as
solvent is consumed (their "Ratio_CeLi"/"Ratio_CeEC"; the lower EC concentration slows
SEI growth, their negative feedback), which needs the electrolyte and SEI submodels'
parameters to become states. The electrolyte capacity term ``eps dc/dt`` is not scaled
by ``w`` (an edit of PyBaMM's electrolyte-diffusion submodel). With "SEI porosity
change" the displaced electrolyte is credited to the reservoir as above; note that a set
with "Ratio of lithium moles to SEI moles" = 1 (OKane2022) then puts more SEI volume into
the pores (9.585e-5 m3 per mol Li) than the EC it consumes (6.667e-5), so it never dries
out; Li et al. use 2 Li per SEI molecule.
"""

from __future__ import annotations

import pybamm

from ..errors import InputError, ParameterError, range_message, suggest

__all__ = [
    "EC_MOLAR_VOLUME",
    "LEAN_PARAMETERS",
    "MODES",
    "SMOOTHING",
    "ElectrolyteDryOut",
    "WettedAreaCurrent",
    "WettedSEIGrowth",
    "WettedTransportEfficiency",
    "add_lean_parameters",
    "build_lean_model",
]

#: EC molar volume [m3/mol] (Li et al. 2022 code: 66.67 cm3/mol).
EC_MOLAR_VOLUME = 6.667e-5
#: mol of EC consumed per mol of lithium lost to SEI (2 Li + 2 EC -> LEDC + C2H4).
SOLVENT_PER_LITHIUM = 1.0

#: The parameters this model adds to a parameter set (names as in ``cells.EXTENSIONS``).
LEAN_PARAMETERS: tuple[str, ...] = (
    "Electrolyte reservoir volume [m3]",
    "EC partial molar volume [m3.mol-1]",
    "Dry-out transport exponent",
)

#: How the dried pore volume acts (see the module docstring):
#: "wetted area" - dry-out spread over every pore: the reaction area (interface
#: utilisation) of both electrodes and the electrolyte transport scale with ``w``;
#: "electrode width" - dry-out as whole dried regions (Li et al. 2022): the wetted part
#: of the cell carries all the current (``i = I / (w A)``); the dried part is inactive.
MODES: tuple[str, ...] = ("wetted area", "electrode width")

#: Widths of the two softplus switches: the reservoir switch, as a fraction of the initial
#: pore volume, and the floor that keeps the wetted fraction positive (dimensionless).
SMOOTHING = {"reservoir": 1e-3, "wetted": 1e-3}
#: The solve stops when less than this fraction of the pore volume is still wetted.
DRY_OUT_CUTOFF = 0.01

_WETTED = "Electrolyte wetted fraction"
_TRANSPORT = "Electrolyte dry-out transport factor"


def _softplus(x, width):
    """``width * ln(1 + exp(x / width))``, written so that it never overflows.

    ``(x + |x|)/2`` is max(x, 0); the log term is the smooth correction. The derivative
    ``1/2 + sign(x) * (1/2 - e/(1+e))`` with ``e = exp(-|x|/width)`` is continuous, and
    equal to 1/2 at 0 even where ``sign(0) = 0``.
    """
    ax = pybamm.AbsoluteValue(x)
    return (x + ax) / 2 + width * pybamm.log(1 + pybamm.exp(-ax / width))


def _sei_reactions(options) -> list[tuple[str, str]]:
    """(domain, reaction name) of every SEI reaction that consumes solvent."""
    out = []
    for domain in ("negative", "positive"):
        opts = getattr(options, domain)
        if opts["SEI"] not in ("none", "constant"):
            out.append((domain, "SEI "))
        if opts["SEI on cracks"] == "true":
            out.append((domain, "SEI on cracks "))
    return out


class ElectrolyteDryOut(pybamm.BaseSubModel):
    """Electrolyte reservoir and pore dry-out (Li et al. 2022); see the module docstring.

    Replaces PyBaMM's two "interface utilisation" submodels: it defines the utilisation
    variables of both electrodes, ``u0 * w`` in the "wetted area" mode and ``u0`` in the
    "electrode width" mode (there :class:`WettedAreaCurrent` raises the current density
    instead).

    Parameters
    ----------
    param : pybamm.LithiumIonParameters
    options : pybamm.BatteryModelOptions
    mode : str
        One of :data:`MODES`.
    """

    def __init__(self, param, options, mode="wetted area"):
        super().__init__(param, name="Electrolyte dry-out", options=options)
        self.mode = mode
        self.V_res_0 = pybamm.Parameter("Electrolyte reservoir volume [m3]")
        self.V_ec = pybamm.Parameter("EC partial molar volume [m3.mol-1]")
        self.beta = pybamm.Parameter("Dry-out transport exponent")
        self.constant_porosity = (
            options["SEI porosity change"] == "false"
            and options["lithium plating porosity change"] == "false"
        )

    def _u0(self, domain):
        util = getattr(self.options, domain)["interface utilisation"]
        if util == "constant":
            return self.param.domain_params[domain].u_init
        return 1  # "full" (build_lean_model refuses the rest)

    def _initial_pore_volume(self):
        p = self.param
        return p.A_cc * (
            p.n.L * pybamm.xyz_average(p.n.epsilon_init)
            + p.s.L * pybamm.xyz_average(p.s.epsilon_init)
            + p.p.L * pybamm.xyz_average(p.p.epsilon_init)
        )

    def get_fundamental_variables(self):
        # One reservoir per cell: a scalar state (build_lean_model refuses current
        # collector models, dimensionality != 0).
        Y = pybamm.Variable(
            "Electrolyte reservoir volume variable [m3]",
            scale=self.param.A_cc * self.param.L,
        )
        Y.print_name = "Y_res"
        return {
            "Electrolyte reservoir volume variable [m3]": Y,
            "Loss of electrolyte to SEI [m3]": self.V_res_0 - Y,
            "Loss of electrolyte to SEI [mL]": (self.V_res_0 - Y) * 1e6,
        }

    def get_coupled_variables(self, variables):
        p = self.param
        Y = variables["Electrolyte reservoir volume variable [m3]"]
        V_pore = p.A_cc * pybamm.yz_average(
            p.n.L * variables["X-averaged negative electrode porosity"]
            + p.s.L * variables["X-averaged separator porosity"]
            + p.p.L * variables["X-averaged positive electrode porosity"]
        )
        V_pore_0 = self._initial_pore_volume()
        X = Y if self.constant_porosity else Y + V_pore_0 - V_pore
        width = SMOOTHING["reservoir"] * V_pore_0
        V_res = _softplus(X, width)
        V_e_pore = V_pore - _softplus(-X, width)
        w_raw = V_e_pore / V_pore
        w = _softplus(w_raw, SMOOTHING["wetted"])
        width_mode = self.mode == "electrode width"
        transport = pybamm.Scalar(1) if width_mode else w**self.beta
        variables.update(
            {
                "Electrolyte reservoir volume [m3]": V_res,
                "Electrolyte reservoir volume [mL]": V_res * 1e6,
                "Pore volume [m3]": V_pore,
                "Pore electrolyte volume [m3]": V_e_pore,
                "Total electrolyte volume [m3]": V_pore + X,
                "Electrolyte dry-out ratio": w_raw,
                _WETTED: w,
                "Electrolyte dry-out fraction": 1 - w,
                _TRANSPORT: transport,
            }
        )
        for domain in ("negative", "positive"):
            Domain = domain.capitalize()
            u_k = pybamm.convert_to_symbol(self._u0(domain) * (1 if width_mode else w))
            u_av = pybamm.PrimaryBroadcast(u_k, "current collector")
            u = pybamm.FullBroadcast(u_k, f"{domain} electrode", "current collector")
            variables.update(
                {
                    f"{Domain} electrode interface utilisation variable": u,
                    f"X-averaged {domain} electrode interface utilisation variable": u_av,
                    f"{Domain} electrode interface utilisation": u,
                    f"X-averaged {domain} electrode interface utilisation": u_av,
                }
            )
        return variables

    def set_rhs(self, variables):
        p = self.param
        Y = variables["Electrolyte reservoir volume variable [m3]"]
        lengths = {"negative": p.n.L, "positive": p.p.L}
        a_j = 0
        for domain, reaction in _sei_reactions(self.options):
            a_j = a_j + lengths[domain] * variables[
                f"X-averaged {domain} electrode {reaction}volumetric interfacial "
                "current density [A.m-3]"
            ]
        n_dot = -p.A_cc * a_j / p.F  # mol of lithium lost to SEI per second
        if self.mode == "electrode width":
            # the model's SEI current is per unit wetted area: only the wetted part grows
            n_dot = n_dot * variables[_WETTED]
        self.rhs = {Y: -SOLVENT_PER_LITHIUM * self.V_ec * n_dot}

    def set_initial_conditions(self, variables):
        Y = variables["Electrolyte reservoir volume variable [m3]"]
        self.initial_conditions = {Y: self.V_res_0}

    def add_events_from(self, variables):
        self.events.append(
            pybamm.Event(
                "Electrolyte dry-out cut-off",
                variables["Electrolyte dry-out ratio"] - DRY_OUT_CUTOFF,
                pybamm.EventType.TERMINATION,
            )
        )


class WettedTransportEfficiency(pybamm.BaseSubModel):
    """Wraps PyBaMM's electrolyte transport-efficiency submodel (any option) and scales
    the efficiency of every domain by "Electrolyte dry-out transport factor" ``w**beta``.

    Electrolyte conductivity and diffusion read only these variables, so both effective
    properties scale, without editing PyBaMM's electrolyte submodels.
    """

    def __init__(self, inner):
        super().__init__(inner.param, name="Wetted electrolyte transport efficiency",
                         options=inner.options)
        self.inner = inner

    def get_fundamental_variables(self):
        return self.inner.get_fundamental_variables()

    def get_coupled_variables(self, variables):
        # Read the factor first: a KeyError here (not yet defined) must come before the
        # inner submodel writes the unscaled efficiencies into the shared variables.
        factor = variables[_TRANSPORT]
        variables = self.inner.get_coupled_variables(variables)
        parts = []
        for domain in self.options.whole_cell_domains:
            short = domain.split()[0]
            Domain = short.capitalize()
            tor_k = factor * variables[f"{Domain} electrolyte transport efficiency"]
            parts.append(tor_k)
            variables[f"{Domain} electrolyte transport efficiency"] = tor_k
            variables[f"X-averaged {short} electrolyte transport efficiency"] = (
                pybamm.x_average(tor_k)
            )
        variables["Electrolyte transport efficiency"] = pybamm.concatenation(*parts)
        return variables


class WettedSEIGrowth(pybamm.sei.SEIGrowth):
    """PyBaMM's SEI growth with the SEI current scaled by the wetted fraction ``w``.

    On dried-out surface there is no solvent, so no SEI grows there; scaling the current
    itself keeps the lithium lost (PyBaMM's SEI concentration state) and the solvent
    consumed (:class:`ElectrolyteDryOut`) on the same reaction. Same arguments as
    ``pybamm.sei.SEIGrowth``.
    """

    def get_coupled_variables(self, variables):
        w = variables[_WETTED]  # before the parent writes unscaled currents
        variables = super().get_coupled_variables(variables)
        domain, Domain = self.domain_Domain
        rn = self.reaction_name
        for name in (
            f"{Domain} electrode {rn}interfacial current density [A.m-2]",
            f"X-averaged {domain} electrode {rn}interfacial current density [A.m-2]",
            f"{Domain} electrode {rn}volumetric interfacial current density [A.m-3]",
            f"X-averaged {domain} electrode {rn}volumetric interfacial current "
            "density [A.m-3]",
        ):
            if name in variables:
                variables[name] = w * variables[name]
        return variables


class WettedAreaCurrent(pybamm.BaseSubModel):
    """Wraps PyBaMM's external-circuit submodel for the "electrode width" mode: the cell's
    current is carried by the wetted fraction ``w`` of the electrode area only, so the
    current density every other submodel sees is ``I / (w A)``.

    This is Li et al.'s shrinking electrode width made continuous: the 1D model describes
    a unit of wetted area; the lithium left in the dried-out part is inactive (lost with
    it), so the capacity falls in proportion to ``w`` at any rate.
    """

    _I = "Total current density [A.m-2]"

    def __init__(self, inner):
        super().__init__(inner.param, name="Wetted-area current density", options=inner.options)
        self.inner = inner
        self._i_cell = None

    def get_fundamental_variables(self):
        variables = dict(self.inner.get_fundamental_variables())
        # Held back until the wetted fraction is known (get_coupled_variables), so that
        # no submodel can read the full-area current density.
        self._i_cell = variables.pop(self._I, None)
        return variables

    def get_coupled_variables(self, variables):
        w = variables[_WETTED]  # before anything is written
        variables = self.inner.get_coupled_variables(variables)
        i_cell = variables.get(self._I, self._i_cell)
        variables[self._I] = i_cell / w
        variables["Full-area current density [A.m-2]"] = i_cell
        return variables


def build_lean_model(model_class, options, *, mode: str = "wetted area"):
    """A PyBaMM lithium-ion model with the lean-electrolyte dry-out submodels.

    Parameters
    ----------
    model_class : pybamm.lithium_ion.DFN, SPMe or SPM
    options : dict
        PyBaMM model options. "interface utilisation" must be "full" (default) or
        "constant"; the dry-out submodel replaces it (and, in the "wetted area" mode,
        multiplies it by the wetted fraction).
    mode : str
        How dry-out acts, one of :data:`MODES`: "wetted area" (default) or "electrode
        width" (Li et al.'s formulation; current control only).

    Returns
    -------
    pybamm.lithium_ion.BaseModel
        Built, with the variables "Electrolyte reservoir volume [m3]", "Electrolyte wetted
        fraction", "Electrolyte dry-out ratio" (= remaining pore electrolyte / pore volume,
        Li et al.'s Ratio_Dryout), "Electrolyte dry-out fraction" (= 1 - wetted fraction)
        and "Loss of electrolyte to SEI [m3]". Its parameters need :data:`LEAN_PARAMETERS`
        (see :func:`add_lean_parameters`).
    """
    allowed = (pybamm.lithium_ion.DFN, pybamm.lithium_ion.SPMe, pybamm.lithium_ion.SPM)
    if model_class not in allowed:
        raise InputError(range_message(
            "model_class", "argument of build_lean_model",
            "pybamm.lithium_ion.DFN, SPMe or SPM", model_class))
    if mode not in MODES:
        raise InputError(range_message("mode", "argument of build_lean_model",
                                       f"one of {MODES}", mode))
    opts = dict(options or {})
    util = opts.get("interface utilisation", "full")
    for u in util if isinstance(util, tuple) else (util,):
        if u not in ("full", "constant"):
            raise InputError(range_message(
                "interface utilisation", "option of the lean model", "'full' or 'constant' "
                "(the dry-out submodel sets the utilisation)", util))
    model = model_class(opts, name=f"{model_class.__name__} (lean electrolyte)", build=False)
    o = model.options
    if o["dimensionality"] != 0:
        raise InputError(range_message(
            "dimensionality", "option of the lean model", "0 (one reservoir per cell)",
            o["dimensionality"]))
    if (
        o["working electrode"] != "both"
        or o["particle phases"] not in ("1", ("1", "1"))
        or o["particle size"] not in ("single", ("single", "single"))
    ):
        raise InputError(
            "The lean model needs a full cell with one particle phase and a single particle "
            f"size per electrode. Got working electrode {o['working electrode']!r}, particle "
            f"phases {o['particle phases']!r}, particle size {o['particle size']!r} instead.")
    if mode == "electrode width" and o["operating mode"] != "current":
        raise InputError(range_message(
            "operating mode", "option of the lean model in the 'electrode width' mode",
            "'current' (experiments switch to voltage control themselves)",
            o["operating mode"]))
    width = mode == "electrode width"
    submodels = {}
    for key, sub in model.submodels.items():
        if key == "Negative interface utilisation":
            submodels["electrolyte dry-out"] = ElectrolyteDryOut(model.param, o, mode)
        elif key == "Positive interface utilisation":
            continue  # defined by the dry-out submodel
        elif key == "electrolyte transport efficiency" and not width:
            submodels[key] = WettedTransportEfficiency(sub)
        elif key == "external circuit" and width:
            submodels[key] = WettedAreaCurrent(sub)
        elif type(sub) is pybamm.sei.SEIGrowth and not width:
            submodels[key] = WettedSEIGrowth(sub.param, sub.domain, o, phase=sub.phase,
                                             cracks=sub.reaction == "SEI on cracks")
        else:
            submodels[key] = sub
    model.submodels = submodels
    model.build_model()
    return model


def add_lean_parameters(parameter_values, values: dict):
    """Add the lean-electrolyte parameters to ``parameter_values`` (in place; returned).

    ``values`` must give exactly :data:`LEAN_PARAMETERS`: a misspelt or missing name is
    refused (``ParameterValues.update(..., check_already_exists=False)`` would accept a
    misspelt key silently and the model would then fail far from the cause).
    """
    unknown = [k for k in values if k not in LEAN_PARAMETERS]
    if unknown:
        raise ParameterError(
            f"Unknown lean-electrolyte parameter {unknown[0]!r}."
            + suggest(unknown[0], LEAN_PARAMETERS)
            + f" The lean parameters are {list(LEAN_PARAMETERS)}.")
    missing = [k for k in LEAN_PARAMETERS if k not in values]
    if missing:
        raise ParameterError(f"Missing lean-electrolyte parameter {missing[0]!r}.")
    from .cells import PLAUSIBLE

    for key, value in values.items():
        lo, hi = PLAUSIBLE[f"User-defined/{key}"]
        if not (lo <= float(value) <= hi):
            raise ParameterError(range_message(
                key, "parameter", f"in the range [{lo:g}, {hi:g}]", value))
    new = {k: float(v) for k, v in values.items() if k not in parameter_values.keys()}
    old = {k: float(v) for k, v in values.items() if k in parameter_values.keys()}
    parameter_values.update(old)  # check_already_exists=True: these exist already
    parameter_values.update(new, check_already_exists=False)
    return parameter_values
