"""Write ``parameter_sets/lgm50.json`` from PyBaMM's Chen2020 and ORegan2022 sets.

Run from the repository root::

    python validation/make_lgm50_set.py           # write the file
    python validation/make_lgm50_set.py --check   # fail if the file differs from what it
                                                  # would write (a reproducibility check)

The LG M50 set is PyBaMM's ``Chen2020`` (Chen et al., JES 167, 080534, 2020) turned into a
BPX 1.x document:

* OCPs (Chen2020 fits) become tables on [0, 1], refined until linear interpolation is
  within 5 uV of the fit everywhere (PyBaMM reads BPX tables as linear interpolants).
* Chen2020's exchange-current density is ``m_ref * exp(...) * sqrt(c_e c_s (c_max - c_s))``.
  PyBaMM's BPX importer builds ``k * sqrt(...)`` with ``k = k_bpx * F / (c_max * sqrt(c_e0))``
  (``c_e0`` the BPX initial electrolyte concentration), so ``k_bpx = m_ref * c_max *
  sqrt(c_e0) / F`` reproduces Chen2020's exchange-current density exactly.
* BPX states the SOC window as stoichiometry limits; they are the stoichiometries PyBaMM's
  electrode-SOH solver finds for Chen2020 at its 2.5 / 4.2 V limits, so that SOC means the
  same in both (and the cyclable lithium is Chen2020's).
* Transport efficiency is Chen2020's Bruggeman ``porosity ** 1.5``; the surface area per
  volume is ``3 * active fraction / radius``.
* Electrolyte: Nyman 2008 (LiPF6 in EC:EMC 3:7), as Chen2020, as expressions of x = c_e.
* What Chen2020 lacks and BPX has a field for comes from ORegan2022 (same cell, same
  group): the lumped density and specific heat (the thickness-weighted layers of
  ORegan2022 at 25 degC, so that rho * c_p equals ORegan2022's effective volumetric heat
  capacity), the surface cooling (10 W/m2/K), the entropic coefficients (tables) and the
  particle-diffusivity activation energies. Electrolyte activation energies are Arrhenius
  fits, at 1 M over 0-45 degC, of Landesfeind & Gasteiger 2019's EC:EMC 3:7 transport
  (the electrolyte model ORegan2022 uses). At 25 degC none of these change anything, so
  the isothermal set is Chen2020 exactly.
* ``Contact resistance [Ohm]`` (User-defined): the series resistance a 1-D DFN does not
  have (tabs, can, current collectors, cycler contacts). It is *calibrated*: the mean
  measured 0.1 s resistance of the six WMG cells at 25 degC, SoC5, minus the DFN's 0.1 s
  resistance without it at the same state. The 25 degC, 0.1 s agreement of
  ``validation/case_lgm50_pulses.py`` is therefore by construction; the 10 s values, the
  other SOCs and the other temperatures are not.

Each value's provenance names its source and a ``range``: the envelope of what Chen2020
and ORegan2022 give for the quantity (both parameterise this cell), widened by a stated
tolerance where the two agree.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "parameter_sets" / "lgm50.json"
T_REF = 298.15
C_E0 = 1000.0
OCP_TOL_V = 5e-6
DUDT_TOL_V_K = 5e-9
#: Temperatures over which the temperature-dependent ORegan2022 values are spanned [K].
T_SPAN = (273.15, 318.15)

REFERENCES = {
    "Chen2020": (
        "C.-H. Chen, F. Brosa Planella, K. O'Regan, D. Gastol, W. D. Widanage, E. Kendrick, "
        "Development of Experimental Techniques for Parameterization of Multi-scale "
        "Lithium-ion Battery Models, J. Electrochem. Soc. 167 (2020) 080534, "
        "doi:10.1149/1945-7111/ab9050. Values as transcribed in PyBaMM 26.10.1, "
        "pybamm/input/parameters/lithium_ion/Chen2020.py."
    ),
    "ORegan2022": (
        "K. O'Regan, F. Brosa Planella, W. D. Widanage, E. Kendrick, Thermal-electrochemical "
        "parameters of a high energy lithium-ion cylindrical battery, Electrochim. Acta 425 "
        "(2022) 140700, doi:10.1016/j.electacta.2022.140700. Values as transcribed in PyBaMM "
        "26.10.1, pybamm/input/parameters/lithium_ion/ORegan2022.py."
    ),
    "Nyman2008": (
        "A. Nyman, M. Behm, G. Lindbergh, Electrochemical characterisation and modelling of "
        "the mass transport phenomena in LiPF6-EC-EMC electrolyte, Electrochim. Acta 53 "
        "(2008) 6356-6365 (LiPF6 in EC:EMC 3:7, 25 degC), as used by Chen2020."
    ),
    "Landesfeind2019": (
        "J. Landesfeind, H. A. Gasteiger, Temperature and Concentration Dependence of the "
        "Ionic Transport Properties of Lithium-Ion Battery Electrolytes, J. Electrochem. Soc. "
        "166 (2019) A3079-A3097 (LiPF6 in EC:EMC 3:7), as used by ORegan2022."
    ),
    "WMG2021": (
        "W. D. Widanage (WMG, University of Warwick), LG M50 10 s pulse tests on six cells per "
        "temperature, WDWidanage/Simscape-Battery-Library @ "
        "a3842b91b3ccda006bc9be5d59c8bcbd167ceef7, "
        "Examples/parameterEstimation_TECMD/Data/LGM50_5Ah_Pulse.mat (MIT); registry name "
        "lgm50_wmg_widanage/LGM50_5Ah_Pulse.mat."
    ),
    "this_conversion": "validation/make_lgm50_set.py of this repository (derivations stated "
    "in each provenance entry).",
}

CHEN = "Chen2020, parameter table (PyBaMM Chen2020.py)"
OREGAN = "ORegan2022, thermal-electrochemical parameter tables (PyBaMM ORegan2022.py)"


# --------------------------------------------------------------------------------------
# helpers


def _sig(x: float, digits: int = 10) -> float:
    return float(f"{x:.{digits}g}")


def _round_out(lo: float, hi: float) -> list[float]:
    """[lo, hi] rounded outwards to 4 significant digits."""

    def down(v):
        if v == 0:
            return 0.0
        e = math.floor(math.log10(abs(v))) - 3
        return math.floor(v / 10**e + 1e-9) * 10**e

    def up(v):
        if v == 0:
            return 0.0
        e = math.floor(math.log10(abs(v))) - 3
        return math.ceil(v / 10**e - 1e-9) * 10**e

    return [_sig(down(lo), 6), _sig(up(hi), 6)]


def envelope(*values: float, rel: float = 0.0, factor: float = 1.0) -> list[float]:
    """Range spanning ``values``, widened by ``rel`` (relative) or ``factor`` (x and /)."""
    lo, hi = min(values), max(values)
    return _round_out(lo * (1 - rel) / factor, hi * (1 + rel) * factor)


def table(f, tol: float, n0: int = 65) -> dict[str, list[float]]:
    """A linear-interpolation table of f on [0, 1], refined until within ``tol`` of f."""
    xs = list(np.linspace(0.0, 1.0, n0))
    while True:
        new = []
        for a, b in zip(xs[:-1], xs[1:], strict=True):
            probe = np.linspace(a, b, 18)[1:-1]
            lin = np.interp(probe, [a, b], [f(a), f(b)])
            # refine to half the tolerance: the probes may miss the exact worst point
            if np.max(np.abs(f(probe) - lin)) > 0.5 * tol and b - a > 1e-7:
                new.append(0.5 * (a + b))
        if not new:
            break
        xs = sorted(xs + new)
    x = np.array(xs)
    y = np.asarray(f(x), dtype=float)
    return {"x": [_sig(v, 10) for v in x], "y": [_sig(v, 10) for v in y]}


def _evaluate(pv, symbol) -> float:
    return float(pv.evaluate(symbol))


# --------------------------------------------------------------------------------------
# the document


def build_document(contact_ohm: float | None, contact_entry: dict | None) -> dict:
    import pybamm
    from pybamm.input.parameters.lithium_ion import Chen2020 as C
    from pybamm.input.parameters.lithium_ion import ORegan2022 as O

    F = pybamm.constants.F.value
    R = pybamm.constants.R.value
    chen = pybamm.ParameterValues("Chen2020")
    oreg = pybamm.ParameterValues("ORegan2022")
    prov: dict[str, dict] = {}

    def put(section: dict, sec_name: str, key: str, value, source: str, rng=None, **extra):
        section[key] = value
        entry = {"source": source}
        if rng is not None:
            entry["range"] = rng
        entry.update(extra)
        prov[f"{sec_name}/{key}"] = entry

    # ---- stoichiometry window: PyBaMM's electrode SOH of each set at its limits
    x0, x100, y100, y0 = (float(v) for v in pybamm.lithium_ion.get_min_max_stoichiometries(chen))
    ox0, ox100, oy100, oy0 = (
        float(v) for v in pybamm.lithium_ion.get_min_max_stoichiometries(oreg)
    )
    sto_src = (
        "this_conversion: PyBaMM electrode-SOH stoichiometry of Chen2020 at its 2.5 V / 4.2 V "
        "limits (cyclable lithium from Chen2020's initial concentrations)"
    )
    sto_basis = "envelope of the Chen2020 and ORegan2022 electrode-SOH limits +- 0.02"

    # ---- cell
    cell: dict = {}
    area = chen["Electrode height [m]"] * chen["Electrode width [m]"]
    put(cell, "Cell", "Electrode area [m2]", _sig(area), CHEN + ": 0.065 m x 1.58 m",
        envelope(area, rel=0.1), basis="same in both sources; +-10 %")
    put(cell, "Cell", "External surface area [m2]", chen["Cell cooling surface area [m2]"],
        CHEN + ": cooling surface of the 21700 can", envelope(0.00531, rel=0.1),
        basis="same in both sources; +-10 %")
    put(cell, "Cell", "Volume [m3]", chen["Cell volume [m3]"], CHEN + ": 21700 can",
        envelope(2.42e-5, rel=0.05), basis="pi r^2 h of a 21 x 70 mm can = 2.424e-5; +-5 %")
    put(cell, "Cell", "Number of electrode pairs connected in parallel to make a cell", 1,
        CHEN + ": one wound electrode pair", [1, 1])
    put(cell, "Cell", "Lower voltage cut-off [V]", chen["Lower voltage cut-off [V]"], CHEN,
        [2.5, 2.5], basis="2.5 V in both sources")
    put(cell, "Cell", "Upper voltage cut-off [V]", chen["Upper voltage cut-off [V]"], CHEN,
        envelope(4.2, oreg["Upper voltage cut-off [V]"]),
        basis="Chen2020 4.2 V, ORegan2022 4.4 V")
    put(cell, "Cell", "Nominal cell capacity [A.h]", chen["Nominal cell capacity [A.h]"], CHEN,
        [4.8, 5.1], basis="5 Ah nominal; the WMG RateTest cells give 4.86 Ah at C/10")
    put(cell, "Cell", "Reference temperature [K]", T_REF, CHEN + ": Arrhenius reference",
        [T_REF, T_REF])

    # Lumped thermal: PyBaMM's lumped model uses the thickness-averaged rho*c_p of the
    # layers; the BPX importer gives every layer the cell density and c_p (current
    # collectors of zero thickness), so rho * c_p must equal ORegan2022's average.
    p = pybamm.LithiumIonParameters()
    rho_cp = {T: _evaluate(oreg, p.therm.rho_c_p_eff(pybamm.Scalar(T)))
              for T in (T_SPAN[0], T_REF, T_SPAN[1])}
    layers = [
        ("Negative current collector", "Negative current collector thickness [m]"),
        ("Negative electrode", "Negative electrode thickness [m]"),
        ("Separator", "Separator thickness [m]"),
        ("Positive electrode", "Positive electrode thickness [m]"),
        ("Positive current collector", "Positive current collector thickness [m]"),
    ]
    mass = sum(oreg[f"{n} density [kg.m-3]"] * oreg[t] for n, t in layers)
    thick = sum(oreg[t] for _, t in layers)
    rho = mass / thick
    cp = rho_cp[T_REF] / rho
    put(cell, "Cell", "Density [kg.m-3]", round(rho, 1),
        OREGAN + ": layer densities (current collectors, electrodes, separator), "
        "thickness-weighted", envelope(rho, rel=0.1),
        basis="+-10 % (can and headspace not included in ORegan2022's layers)")
    put(cell, "Cell", "Specific heat capacity [J.K-1.kg-1]", round(cp, 1),
        OREGAN + ": wet-layer heat capacities at 25 degC; rho * c_p = ORegan2022's "
        f"thickness-averaged {rho_cp[T_REF]:.4g} J/m3/K",
        envelope(rho_cp[T_SPAN[0]] / rho, rho_cp[T_SPAN[1]] / rho, rel=0.05),
        basis="ORegan2022's c_p over 0-45 degC (BPX holds one constant), +-5 %")

    # ---- electrolyte (Nyman 2008)
    elec: dict = {}
    tplus_or = _evaluate(oreg, O.electrolyte_transference_number_EC_EMC_3_7_Landesfeind2019(
        pybamm.Scalar(C_E0), pybamm.Scalar(T_REF)))
    put(elec, "Electrolyte", "Cation transference number", chen["Cation transference number"],
        "Nyman2008 via " + CHEN, envelope(0.2594, tplus_or, rel=0.1),
        basis="Nyman2008 0.2594, Landesfeind2019 (ORegan2022) at 1 M 25 degC; +-10 %")
    sig = "0.1297 * (x / 1000) ** 3 - 2.51 * (x / 1000) ** 1.5 + 3.329 * (x / 1000)"
    dif = "8.794e-11 * (x / 1000) ** 2 - 3.972e-10 * (x / 1000) + 4.862e-10"
    # check the transcription against PyBaMM's functions
    for text, fn in ((sig, C.electrolyte_conductivity_Nyman2008),
                     (dif, C.electrolyte_diffusivity_Nyman2008)):
        from cellmodels.expressions import compile_expression

        g = compile_expression(text)
        for c in (200.0, 1000.0, 2500.0):
            assert math.isclose(g(c), float(fn(c, T_REF)), rel_tol=1e-12), text
    put(elec, "Electrolyte", "Conductivity [S.m-1]", sig,
        "Nyman2008 via " + CHEN + " (electrolyte_conductivity_Nyman2008), x in mol/m3",
        note="0.95 S/m at 1 M; Landesfeind2019 (ORegan2022) gives 0.91 S/m")
    put(elec, "Electrolyte", "Diffusivity [m2.s-1]", dif,
        "Nyman2008 via " + CHEN + " (electrolyte_diffusivity_Nyman2008), x in mol/m3",
        note="1.77e-10 m2/s at 1 M; Landesfeind2019 (ORegan2022) gives 2.9e-10 m2/s")
    # Arrhenius fits of Landesfeind2019 at 1 M over 0-45 degC
    Ts = np.linspace(*T_SPAN, 10)
    fits = {}
    for name, fn in (("cond", O.electrolyte_conductivity_EC_EMC_3_7_Landesfeind2019),
                     ("diff", O.electrolyte_diffusivity_EC_EMC_3_7_Landesfeind2019)):
        per_c = []
        for c in (500.0, 1000.0, 1500.0):
            y = np.array([_evaluate(oreg, fn(pybamm.Scalar(c), pybamm.Scalar(T))) for T in Ts])
            slope = np.polyfit(1 / Ts, np.log(y), 1)[0]
            per_c.append(-slope * R)
        fits[name] = per_c
    put(elec, "Electrolyte", "Conductivity activation energy [J.mol-1]",
        round(fits["cond"][1], -1),
        "Landesfeind2019 via " + OREGAN + ": Arrhenius fit at 1 M over 0-45 degC "
        "(Nyman2008 and Chen2020 give no temperature dependence)",
        envelope(*fits["cond"], rel=0.15), basis="the same fit at 0.5-1.5 M, +-15 %")
    put(elec, "Electrolyte", "Diffusivity activation energy [J.mol-1]",
        round(fits["diff"][1], -1),
        "Landesfeind2019 via " + OREGAN + ": Arrhenius fit at 1 M over 0-45 degC "
        "(Nyman2008 and Chen2020 give no temperature dependence)",
        envelope(*fits["diff"], rel=0.15), basis="the same fit at 0.5-1.5 M, +-15 %")

    # ---- electrodes
    def electrode(dom: str, sto_lo: float, sto_hi: float, osto_lo: float,
                  osto_hi: float, ocp_fn, dudt_fn, jfn_chen, m_ref: float, ea_k: float,
                  d_fn_oreg, ea_d_oreg: float, or_i_ref: float, or_ea_k: float,
                  sto_range: tuple[float, float]) -> dict:
        e: dict = {}
        sec = f"{dom} electrode"
        eps = chen[f"{dom} electrode porosity"]
        L = chen[f"{dom} electrode thickness [m]"]
        put(e, sec, "Thickness [m]", L, CHEN, envelope(L, rel=0.1),
            basis="same in both sources; +-10 %")
        put(e, sec, "Porosity", eps, CHEN, envelope(eps, rel=0.1),
            basis="same in both sources; +-10 %")
        te = eps ** chen[f"{dom} electrode Bruggeman coefficient (electrolyte)"]
        put(e, sec, "Transport efficiency", _sig(te),
            "this_conversion: porosity ** 1.5, Chen2020's Bruggeman exponent",
            envelope((0.9 * eps) ** 2.5, (1.1 * eps) ** 1.5),
            basis="Bruggeman exponent 1.5-2.5 over the porosity range")
        sig_e = chen[f"{dom} electrode conductivity [S.m-1]"]
        sig_or = oreg[f"{dom} electrode conductivity [S.m-1]"]
        if callable(sig_or):
            sig_or = _evaluate(oreg, sig_or(pybamm.Scalar(0.5), pybamm.Scalar(T_REF)))
        put(e, sec, "Conductivity [S.m-1]", sig_e, CHEN, envelope(sig_e, sig_or, factor=2.0),
            basis="envelope of Chen2020 and ORegan2022 (25 degC), x/ 2")
        put(e, sec, "Minimum stoichiometry", round(sto_lo, 6), sto_src,
            _round_out(min(sto_lo, osto_lo) - 0.02, max(sto_lo, osto_lo) + 0.02),
            basis=sto_basis)
        put(e, sec, "Maximum stoichiometry", round(sto_hi, 6), sto_src,
            _round_out(min(sto_hi, osto_hi) - 0.02, min(1.0, max(sto_hi, osto_hi) + 0.02)),
            basis=sto_basis)
        cmax = chen[f"Maximum concentration in {dom.lower()} electrode [mol.m-3]"]
        cmax_or = oreg[f"Maximum concentration in {dom.lower()} electrode [mol.m-3]"]
        put(e, sec, "Maximum concentration [mol.m-3]", cmax, CHEN,
            envelope(cmax, cmax_or, rel=0.05),
            basis="envelope of Chen2020 and ORegan2022, +-5 %")
        r = chen[f"{dom} particle radius [m]"]
        put(e, sec, "Particle radius [m]", r, CHEN, envelope(r, rel=0.2),
            basis="same in both sources; +-20 % (particle-size distribution)")
        eps_s = chen[f"{dom} electrode active material volume fraction"]
        a = 3 * eps_s / r
        put(e, sec, "Surface area per unit volume [m-1]", _sig(a),
            f"this_conversion: 3 x active material volume fraction ({eps_s}, Chen2020) / "
            "particle radius", envelope(3 * 0.9 * eps_s / (1.2 * r), 3 * 1.1 * eps_s / (0.8 * r)),
            basis="over the radius and +-10 % active-fraction ranges")
        D = chen[f"{dom} particle diffusivity [m2.s-1]"]
        s = np.linspace(*sto_range, 60)
        d_or = [_evaluate(oreg, d_fn_oreg(pybamm.Scalar(v), pybamm.Scalar(T_REF))) for v in s]
        put(e, sec, "Diffusivity [m2.s-1]", D, CHEN + " (GITT, constant)",
            envelope(D, min(d_or), max(d_or)),
            basis="Chen2020 and ORegan2022's D(sto) at 25 degC over the SOC window")
        put(e, sec, "Diffusivity activation energy [J.mol-1]", round(ea_d_oreg, -1),
            OREGAN + f": Arrhenius temperature {ea_d_oreg / R:.0f} K of the particle "
            "diffusivity (Chen2020 gives none)", envelope(ea_d_oreg, rel=0.3),
            basis="+-30 %")
        put(e, sec, "OCP [V]", table(ocp_fn, OCP_TOL_V),
            CHEN + f" ({ocp_fn.__name__}), tabulated on [0, 1] within "
            f"{OCP_TOL_V * 1e6:g} uV of the fit")
        put(e, sec, "Entropic change coefficient [V.K-1]", table(dudt_fn, DUDT_TOL_V_K),
            OREGAN + f" ({dudt_fn.__name__}), tabulated within {DUDT_TOL_V_K:g} V/K "
            "(Chen2020 has none)")
        k = m_ref * cmax * math.sqrt(C_E0) / F
        # ORegan2022's i_ref at c_e0 and half lithiation, converted the same way
        k_or = or_i_ref * 0.5 / (F * 0.5)
        put(e, sec, "Reaction rate constant [mol.m-2.s-1]", _sig(k),
            f"this_conversion of {CHEN}: m_ref = {m_ref:g} A.m-2.(m3.mol-1)^1.5 "
            f"({jfn_chen.__name__}); k = m_ref c_max sqrt(c_e0) / F with c_e0 = {C_E0:g}",
            envelope(k, k_or, factor=1.5),
            basis="Chen2020 and ORegan2022's i_ref / F at half lithiation, x/ 1.5")
        put(e, sec, "Reaction rate constant activation energy [J.mol-1]", ea_k,
            CHEN + f" ({jfn_chen.__name__})", envelope(ea_k, or_ea_k, rel=0.1),
            basis="Chen2020 and ORegan2022, +-10 %")
        return e

    neg = electrode(
        "Negative", x0, x100, ox0, ox100,
        C.graphite_LGM50_ocp_Chen2020, O.graphite_LGM50_entropic_change_ORegan2022,
        C.graphite_LGM50_electrolyte_exchange_current_density_Chen2020, 6.48e-7, 35000.0,
        O.graphite_LGM50_diffusivity_ORegan2022, 2092 * R, 2.668, 4e4, (x0, x100))
    pos = electrode(
        "Positive", y100, y0, oy100, oy0,
        C.nmc_LGM50_ocp_Chen2020, O.nmc_LGM50_entropic_change_ORegan2022,
        C.nmc_LGM50_electrolyte_exchange_current_density_Chen2020, 3.42e-6, 17800.0,
        O.nmc_LGM50_diffusivity_ORegan2022, 1449 * R, 5.028, 2.401e4, (y100, y0))

    # ---- separator
    sep: dict = {}
    eps_s = chen["Separator porosity"]
    put(sep, "Separator", "Thickness [m]", chen["Separator thickness [m]"], CHEN,
        envelope(1.2e-5, rel=0.1), basis="same in both sources; +-10 %")
    put(sep, "Separator", "Porosity", eps_s, CHEN, envelope(eps_s, rel=0.1),
        basis="same in both sources; +-10 %")
    put(sep, "Separator", "Transport efficiency", _sig(eps_s**1.5),
        "this_conversion: porosity ** 1.5, Chen2020's Bruggeman exponent",
        envelope((0.9 * eps_s) ** 2.5, (1.1 * eps_s) ** 1.5),
        basis="Bruggeman exponent 1.5-2.5 over the porosity range")

    params = {
        "Cell": cell,
        "Electrolyte": elec,
        "Negative electrode": neg,
        "Positive electrode": pos,
        "Separator": sep,
    }
    if contact_ohm is not None:
        user = {
            "description": "Contact resistance: series resistance of tabs, can, current "
            "collectors and cycler contacts, calibrated on the WMG pulse data (see its "
            "provenance in the 'cellmodels' block).",
        }
        user["Contact resistance [Ohm]"] = contact_ohm
        prov["User-defined/Contact resistance [Ohm]"] = contact_entry
        params["User-defined"] = user

    state = {
        "Initial conditions": {
            "Initial electrolyte concentration [mol.m-3]": C_E0,
            "Initial temperature [K]": T_REF,
        },
        "Thermal environment": {
            "Ambient temperature [K]": T_REF,
            "Heat transfer coefficient [W.m-2.K-1]":
                oreg["Total heat transfer coefficient [W.m-2.K-1]"],
        },
    }
    prov["State/Initial conditions/Initial electrolyte concentration [mol.m-3]"] = {
        "source": CHEN, "range": [C_E0, C_E0]}
    prov["State/Thermal environment/Heat transfer coefficient [W.m-2.K-1]"] = {
        "source": OREGAN + ": lumped surface cooling", "range": [5.0, 25.0],
        "basis": "natural convection of a cylinder in a chamber; simulate() overrides the "
        "temperatures, not this"}

    doc = {
        "Header": {
            "BPX": "1.0.0",
            "Title": "LG M50 (LG INR21700-M50, NMC811/graphite-SiOx, 5 Ah): Chen2020 DFN "
            "parameters with ORegan2022 thermal values",
            "Description": "21700 cylindrical cell. Electrochemistry from Chen et al. 2020 "
            "(PyBaMM 'Chen2020'), thermal values and activation energies from O'Regan et al. "
            "2022; converted by validation/make_lgm50_set.py.",
            "References": "Chang-Hui Chen et al 2020 J. Electrochem. Soc. 167 080534; "
            "K. O'Regan et al 2022 Electrochim. Acta 425 140700",
            "Model": "DFN",
        },
        "Parameterisation": params,
        "State": state,
        "cellmodels": {
            "schema_version": 1,
            "name": "lgm50",
            "chemistry": "NMC811/graphite-SiOx",
            "electrolyte_kind": "liquid",
            "nominal_voltage_V": 3.63,
            "temperature_range_K": list(T_SPAN),
            "description": (
                "LG INR21700-M50 (5 Ah, NMC811 / graphite-SiOx, LiPF6 in EC:EMC). "
                "Chen2020's DFN parameterisation, identical to PyBaMM's 'Chen2020' at "
                "25 degC when the contact resistance is set to 0 (tests/test_lgm50.py), "
                "plus ORegan2022's lumped thermal values and activation energies (for "
                "0-45 degC, the range of the WMG pulse data it is validated on), and a contact resistance calibrated on the WMG 25 degC "
                "pulses. Chen2020 ignores the SiOx in the negative electrode (single "
                "graphite phase)."
            ),
            "references": REFERENCES,
            "provenance": prov,
        },
    }
    return doc


def _write(doc: dict, path: Path) -> None:
    # Own key order: cellmodels block first, then BPX
    ordered = {"cellmodels": doc["cellmodels"]}
    ordered.update({k: v for k, v in doc.items() if k != "cellmodels"})
    text = json.dumps(ordered, indent=1, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


def calibrate_contact(doc_without: dict) -> tuple[float, dict]:
    """Contact resistance: measured minus modelled 0.1 s resistance, 25 degC, SoC5."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from case_lgm50_pulses import model_pulse  # noqa: PLC0415

    from cellmodels import load_cell
    from cellmodels.measured.wmg import pulse_resistances, read_pulses

    meas = [r for r in pulse_resistances(read_pulses())
            if r.temperature_C == 25.0 and r.soc_label == "SoC5"]
    r01 = np.array([r.at(0.1) for r in meas])
    v_rest = float(np.mean([r.rest_voltage_V for r in meas]))
    current = float(np.mean([r.current_A for r in meas]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lgm50_nocontact.json"
        _write(doc_without, path)
        cell = load_cell(path)
        model = model_pulse(cell, v_rest, 298.15, current)
    # rounded to 0.01 mOhm so that solver round-off cannot change the written file
    r_model = round(float(model["r_0.1s_ohm"]), 5)
    rc = round(float(r01.mean()) - r_model, 4)
    entry = {
        "source": (
            "WMG2021 via this_conversion: mean measured 0.1 s pulse resistance of the six "
            f"cells at 25 degC, SoC5, 7.5 A ({1e3 * r01.mean():.2f} mOhm) minus the DFN's "
            f"without contact resistance at the same rest voltage ({v_rest:.4f} V) and "
            f"current ({1e3 * r_model:.2f} mOhm). Calibrated, not from Chen2020 (which has "
            "none)."
        ),
        "range": _round_out(max(0.0, float(r01.min()) - r_model), float(r01.max()) - r_model),
        "basis": "the same difference for each of the six cells",
    }
    return rc, entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the existing file instead of writing it")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    doc0 = build_document(None, None)
    rc, entry = calibrate_contact(doc0)
    doc = build_document(rc, entry)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "lgm50.json"
            _write(doc, path)
            same = path.read_text(encoding="utf-8") == args.out.read_text(encoding="utf-8")
        print(f"{args.out}: {'up to date' if same else 'DIFFERS from the generator output'}")
        return 0 if same else 1
    _write(doc, args.out)
    print(f"wrote {args.out} (contact resistance {1e3 * rc:.2f} mOhm)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
