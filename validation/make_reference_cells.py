"""Write the three reference parameter sets from their design, so the design is reviewable.

    python validation/make_reference_cells.py            # writes parameter_sets/*.json
    python validation/make_reference_cells.py --check    # fails if a file differs

Each cell is a design: materials (OCP, kinetics, transport, each from a cited source and
inside the range that source supports), an electrode design (particle size, porosity,
loading, N/P) and a format (capacity, envelope, tabs). This script turns the design into a
BPX 1.x document plus the ``cellmodels`` provenance block:

- the stoichiometry window is solved so that the OCV at 0 % and 100 % SOC equals the
  voltage cut-offs exactly (so PyBaMM's SOC, the cut-offs and the BPX limits agree);
- the electrode area is set so that the equilibrium capacity between the cut-offs equals
  the nominal capacity;
- the negative thickness follows from the N/P ratio; the tab and current-collector
  resistance is computed from the format (foil and tab geometry, handbook resistivities).

The rationale and the sources are in docs/reference_cells.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cellmodels.expressions import compile_expression  # noqa: E402

F = 96485.33212  # C/mol
R_GAS = 8.314462618

# --------------------------------------------------------------------------- references
REFS = {
    "Dreyer2010": "W. Dreyer, J. Jamnik, C. Guhlke, R. Huth, J. Moskon, M. Gaberscek, 'The "
                  "thermodynamic origin of hysteresis in insertion batteries', Nature "
                  "Materials 9 (2010) 448, doi:10.1038/nmat2730 (LiFePO4 charge/discharge "
                  "voltage hysteresis that persists at vanishing current, commonly quoted as "
                  "about 20 mV)",
    "Roscher2011": "M. A. Roscher, D. U. Sauer, 'Dynamic electric behavior and open-circuit-"
                   "voltage modeling of LiFePO4-based lithium ion secondary batteries', J. "
                   "Power Sources 196 (2011) 331 (OCV hysteresis of LFP cells persisting after "
                   "long rests)",
    "Prada2013": "E. Prada et al., 'A simplified electrochemical and thermal aging model of "
                 "LiFePO4-graphite Li-ion batteries: power and capacity fade simulations', "
                 "J. Electrochem. Soc. 160 (2013) A616; values as in PyBaMM 26.10 "
                 "parameter set 'Prada2013' (A123 ANR26650 power cell)",
    "Kashkooli2017": "A. G. Kashkooli et al., J. Appl. Electrochem. 47 (2017) 281 (LFP "
                     "exchange-current density, via PyBaMM 'Prada2013')",
    "Afshar2017": "S. Afshar, K. Morris, A. Khajepour, arXiv:1709.03970 (2017) (LFP OCP, via "
                  "PyBaMM 'Prada2013')",
    "Chen2020": "C.-H. Chen et al., 'Development of experimental techniques for "
                "parameterization of multi-scale lithium-ion battery models', J. Electrochem. "
                "Soc. 167 (2020) 080534 (LG M50 NMC811/graphite-SiOx; PyBaMM 'Chen2020')",
    "ORegan2022": "K. O'Regan et al., 'Thermal-electrochemical parameters of a high energy "
                  "lithium-ion cylindrical battery', Electrochim. Acta 425 (2022) 140700 "
                  "(PyBaMM 'ORegan2022')",
    "Ecker2015": "M. Ecker et al., 'Parameterization of a physico-chemical model of a "
                 "lithium-ion battery I/II', J. Electrochem. Soc. 162 (2015) A1836, A1849 "
                 "(Kokam SLPB 75106100 7.5 Ah high-power NMC/graphite pouch; PyBaMM "
                 "'Ecker2015')",
    "Kim2011": "G.-H. Kim et al., 'Multi-domain modeling of lithium-ion batteries "
               "encompassing multi-physics in varied length scales', J. Electrochem. Soc. "
               "158 (2011) A955 (PyBaMM 'NCA_Kim2011')",
    "Ramadass2004": "P. Ramadass et al., J. Electrochem. Soc. 151 (2004) A196 (PyBaMM "
                    "'Ramadass2004')",
    "Mohtat2020": "P. Mohtat et al., J. Electrochem. Soc. 167 (2020) 110561 (PyBaMM "
                  "'Mohtat2020')",
    "AboutEnergy2022": "About:Energy Limited, LFP 18650 BPX parameterisation (2022), "
                       "About-Energy-OpenSource/About-Energy-BPX-Parameterisation @ 8efd45a, "
                       "LFP/lfp_18650_cell_BPX.json (electrolyte from Nyman 2008, LFP "
                       "entropic data from Gerver & Meyers 2011)",
    "Nyman2008": "A. Nyman, M. Behm, G. Lindbergh, 'Electrochemical characterisation and "
                 "modelling of the mass transport phenomena in LiPF6-EC-EMC electrolyte', "
                 "Electrochim. Acta 53 (2008) 6356",
    "Valoen2005": "L. O. Valoen, J. N. Reimers, 'Transport properties of LiPF6-based Li-ion "
                  "battery electrolytes', J. Electrochem. Soc. 152 (2005) A882 "
                  "(thermodynamic factor 1 + dlnf/dlnc about 1.2-2.5 at 0.5-1.5 M, 25 degC)",
    "GerverMeyers2011": "R. E. Gerver, J. P. Meyers, J. Electrochem. Soc. 158 (2011) A835 "
                        "(LFP entropic coefficient, table via About:Energy 2022)",
    "Capiglia2000": "C. Capiglia et al., 'Transport properties and microstructure of gel "
                    "polymer electrolytes', Electrochim. Acta 45 (2000) 1341: PVdF-HFP / "
                    "EC-DEC-LiTFSI gels, PFG-NMR cation transport number 0.49-0.60, "
                    "conductivity 1e-2 to 1e-8 S/cm as polymer content rises 20-80 wt%",
    "LiZ2004": "Z. Li et al., 'Effect of Al2O3 nanoparticles on the electrochemical "
               "characteristics of P(VDF-HFP)-based polymer electrolyte', Electrochim. Acta "
               "49 (2004) 4633: ceramic-filled gel, 1.95 mS/cm, t+ 0.73",
    "PDOL_PVC2023": "Confined in-situ polymerisation of poly(1,3-dioxolane) and poly(vinylene "
                    "carbonate) quasi-solid polymer electrolyte for lithium metal batteries "
                    "(in-situ polymerised, 1.98 mS/cm at room temperature; abstract via "
                    "discovery.researcher.life)",
    "LiM2011": "M. Li, L. Yang et al., 'Li/LiFePO4 batteries with gel polymer electrolytes "
               "incorporating a guanidinium-based ionic liquid cycled at room temperature "
               "and 50 degC', J. Power Sources 196 (2011) 6502: 0.316 mS/cm at 25 degC and "
               "0.832 mS/cm at 50 degC, i.e. an Arrhenius activation energy of 31 kJ/mol",
    "Volkov2022": "V. I. Volkov et al., 'Polymer electrolytes for lithium-ion batteries "
                  "studied by NMR techniques', Membranes 12 (2022) 416 (PEG-diacrylate gels: "
                  "about 1 mS/cm, 7Li self-diffusion about 1e-10 m2/s with solvent, 1e-13 to "
                  "1e-12 m2/s without)",
    "Polymers2023": "'A brief review of gel polymer electrolytes using in situ polymerization "
                    "for lithium-ion polymer batteries', Polymers 15 (2023) 803 "
                    "(doi:10.3390/polym15040803): in-situ gels fill the electrode pores and "
                    "lower the interfacial resistance against ex-situ gels",
    "Lautenschlaeger2022": "M. P. Lautenschlaeger et al., 'Understanding electrolyte filling "
                           "of lithium-ion battery electrodes on the pore scale using the "
                           "lattice Boltzmann method', Batteries & Supercaps 5 (2022) "
                           "e202200090: filling leaves entrapped gas, so only part of the "
                           "active surface is wetted",
    "LiOKane2022": "R. Li, S. O'Kane, M. Marinescu, G. J. Offer, 'Modelling solvent "
                   "consumption from SEI layer growth in lithium-ion batteries', J. "
                   "Electrochem. Soc. 169 (2022) 060516 (EC partial molar volume 6.667e-5 "
                   "m3/mol; dry-out scales the wetted fraction)",
    "An2017": "S. J. An et al., 'Correlation of electrolyte volume and electrochemical "
              "performance in lithium-ion pouch cells with graphite anodes and NMC532 "
              "cathodes', J. Electrochem. Soc. 164 (2017) A1195: life needs about 1.9x the "
              "pore volume",
    "OKane2022": "S. E. J. O'Kane et al., 'Lithium-ion battery degradation: how to model it', "
                 "Phys. Chem. Chem. Phys. 24 (2022) 7909 (PyBaMM 'OKane2022': SEI "
                 "parameters, activation energy 38 kJ/mol)",
    "SEIrange": "SEI thickness from a few nm to tens of nm (Peled & Menkin, J. Electrochem. "
                "Soc. 164 (2017) A1703; Verma, Maire, Novak, Electrochim. Acta 55 (2010) "
                "6332) times the SEI resistivity 2e5 Ohm.m used by PyBaMM's SEI sets "
                "(Ramadass 2004, Safari 2009): 1e-4 to 1e-2 Ohm.m2 per particle area",
    "Handbook": "CRC Handbook of Chemistry and Physics: resistivity at 20 degC of Al "
                "2.65e-8 Ohm.m, Cu 1.68e-8 Ohm.m; tab and foil resistance computed from the "
                "format (see docs/reference_cells.md)",
    "A123AMP20": "A123 Systems AMP20M1HD-A 20 Ah LFP pouch (published datasheet): 7.25 x 160 "
                 "x 227 mm, 496 g; the envelope used for the 20 Ah semi-solid cell",
    "ThermalDefaults": "cell-level thermal values: About:Energy 2022 (LFP 18650: 999 J/kg/K, "
                       "1940 kg/m3), Ecker2015 (component heat capacities 1270-1978 "
                       "J/kg/K), Chen2020 (700 J/kg/K); heat transfer 10 W/m2/K as in the "
                       "Chen2020 and Ecker2015 sets (natural convection in air: 2-25 W/m2/K)",
    "Design": "cellmodels reference design (this file): a design choice, inside the range "
              "published cells span, stated in docs/reference_cells.md",
}

# --------------------------------------------------------------------------- materials
GRAPHITE_OCP = ("1.9793 * exp(-39.3631 * x) + 0.2482 - 0.0909 * tanh(29.8538 * (x - 0.1234))"
                " - 0.04478 * tanh(14.9159 * (x - 0.2769)) - 0.0205 * tanh(30.4444 * (x - 0.6103))")
GRAPHITE_DUDT = "(-0.1112 * x + 0.02914 + 0.3561 * exp(-((x - 0.08309) ** 2) / 0.004616)) / 1000"
LFP_OCP = "3.4077 - 0.020269 * x + 0.5 * exp(-150 * x) - 0.9 * exp(-30 * (1 - x))"
LFP_DUDT = {
    "x": [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75,
          0.8, 0.85, 0.9, 0.95, 1],
    "y": [0.0001, 4.7145e-05, 3.7666e-05, 2.0299e-05, 5.9833e-06, -4.6859e-06, -1.3966e-05,
          -2.3528e-05, -3.3593e-05, -4.3433e-05, -5.2311e-05, -6.0211e-05, -6.8006e-05,
          -7.6939e-05, -8.7641e-05, -9.913e-05, -0.00010855, -0.00011266, -0.00011238,
          -0.00010921, -0.00022539],
}
NMC811_OCP = ("-0.809 * x + 4.4875 - 0.0428 * tanh(18.5138 * (x - 0.5542))"
              " - 17.7326 * tanh(15.789 * (x - 0.3117)) + 17.5842 * tanh(15.9308 * (x - 0.312))")
NMC811_DUDT = ("(0.04006 * exp(-((x - 0.2828) ** 2) / 0.0009855)"
               " - 0.06656 * exp(-((x - 0.8032) ** 2) / 0.02179)) / 1000")
# LiPF6 in EC:EMC (Nyman 2008), as in PyBaMM Chen2020 and the About:Energy BPX files
NYMAN_KAPPA = "0.1297 * (x / 1000) ** 3 - 2.51 * (x / 1000) ** 1.5 + 3.329 * (x / 1000)"
NYMAN_DIFF = "8.794e-11 * (x / 1000) ** 2 - 3.972e-10 * (x / 1000) + 4.862e-10"


def k_bpx(j0_mid: float) -> float:
    """BPX reaction rate constant from the exchange-current density [A/m2] at x = 0.5, c_e = c_e0.

    BPX: j0 = F k sqrt(c_e/c_e0) sqrt(x (1 - x)), so j0(0.5) = F k / 2.
    """
    return 2.0 * j0_mid / F


class Doc:
    """A parameter-set document under construction, with provenance for every value."""

    def __init__(self, name: str):
        self.name = name
        self.params: dict[str, dict] = {s: {} for s in (
            "Cell", "Electrolyte", "Negative electrode", "Positive electrode", "Separator",
            "User-defined")}
        self.prov: dict[str, dict] = {}
        self.used: set[str] = set()

    def put(self, section: str, key: str, value, source: str, rng=None, note: str = ""):
        if isinstance(value, float):
            value = float(f"{value:.6g}")
        self.params[section][key] = value
        entry = {"source": source + (f"; {note}" if note else "")}
        if rng is not None:
            lo, hi = float(f"{float(rng[0]):.6g}"), float(f"{float(rng[1]):.6g}")
            if isinstance(value, (int, float)) and not lo <= value <= hi:
                raise ValueError(f"{self.name}: {section}/{key} = {value} outside {rng}")
            entry["range"] = [lo, hi]
        self.prov[f"{section}/{key}"] = entry
        for ref in REFS:
            if ref in source:
                self.used.add(ref)


# --------------------------------------------------------------------------- design tools
def ocv_window(ocp_n: str, ocp_p: str, qn: float, qp: float, x100: float, v_min: float,
               v_max: float):
    """Stoichiometry window whose OCV at 100 % / 0 % SOC equals v_max / v_min.

    qn, qp: full-range (0..1) capacities per unit area [Ah/m2]. Returns
    (x0, x100, y100, y0, q) with q the capacity between the cut-offs [Ah/m2].
    """
    un = compile_expression(ocp_n)
    up = compile_expression(ocp_p)

    def bisect(f, lo, hi):
        flo = f(lo)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if (f(mid) > 0) == (flo > 0):
                lo, flo = mid, f(mid)
            else:
                hi = mid
        return 0.5 * (lo + hi)

    y100 = bisect(lambda y: up(y) - un(x100) - v_max, 1e-6, 0.999)
    q_max = min(x100 * qn, (1 - y100) * qp) * (1 - 1e-9)

    def ocv_at(q):
        return up(y100 + q / qp) - un(x100 - q / qn) - v_min

    if ocv_at(q_max) > 0:
        raise ValueError("the lower cut-off is never reached inside the stoichiometry range")
    q = bisect(ocv_at, 0.0, q_max)
    return x100 - q / qn, x100, y100, y100 + q / qp, q


def tab_resistance(*, sheet_h: float, sheet_w: float, n_pos_sheets: int, t_al: float,
                   t_cu: float, tab_w: float, tab_t: float, tab_len: float,
                   constriction: float) -> dict:
    """Series resistance of foils and tabs [Ohm] for a stacked cell with one tab per sheet.

    A foil collecting a uniform current over its height H and delivering it at one edge of
    width W has R = rho H / (3 W t); a tab narrower than the sheet adds a constriction
    factor. Double-sided sheets: n_pos_sheets positive and as many negative in parallel.
    """
    rho_al, rho_cu = 2.65e-8, 1.68e-8
    r_al = constriction * rho_al * sheet_h / (3 * sheet_w * t_al) / n_pos_sheets
    r_cu = constriction * rho_cu * sheet_h / (3 * sheet_w * t_cu) / n_pos_sheets
    r_tab_al = rho_al * tab_len / (tab_w * tab_t)
    r_tab_cu = rho_cu * tab_len / (tab_w * tab_t)
    total = r_al + r_cu + r_tab_al + r_tab_cu
    return {"foil_al": r_al, "foil_cu": r_cu, "tab_al": r_tab_al, "tab_cu": r_tab_cu,
            "total": total}


#: Keys the lean model needs that cellmodels.physics.cells.EXTENSIONS may not list yet.
OPTIONAL_KEYS = ("Ratio of lithium moles to SEI moles",)


def build(spec: dict) -> tuple[dict, dict]:
    """The BPX document + cellmodels block for a design ``spec``, and derived numbers."""
    d = Doc(spec["name"])
    n, p = spec["neg"], spec["pos"]
    # full-range capacities per unit electrode-pair area [Ah/m2]
    qp = p["thickness"] * p["eps_s"] * p["c_max"] * F / 3600
    L_n = spec["np_ratio"] * qp / (n["eps_s"] * n["c_max"] * F / 3600)
    qn = L_n * n["eps_s"] * n["c_max"] * F / 3600
    x0, x100, y100, y0, q = ocv_window(n["ocp"], p["ocp"], qn, qp, n["x100"], spec["v_min"],
                                       spec["v_max"])
    area_total = spec["capacity"] / q
    sheet = spec["tabs"]["sheet_h"] * spec["tabs"]["sheet_w"]
    n_pairs = 2 * max(1, round(area_total / sheet / 2))  # double-sided sheets
    derived = {"q_areal_mAh_cm2": q / 10, "L_n": L_n, "area_total_m2": area_total,
               "window": (x0, x100, y100, y0), "np_ratio": spec["np_ratio"]}

    # --- Cell
    c = spec["cell"]
    d.put("Cell", "Electrode area [m2]", area_total / n_pairs, "Design",
          note=f"per electrode pair; {n_pairs} pairs give {area_total:.4g} m2, sized so the "
               f"equilibrium capacity between the cut-offs is the nominal capacity "
               f"({q / 10:.3g} mAh/cm2)")
    d.put("Cell", "Number of electrode pairs connected in parallel to make a cell", n_pairs,
          "Design")
    d.put("Cell", "External surface area [m2]", c["surface"], c["format_source"])
    d.put("Cell", "Volume [m3]", c["volume"], c["format_source"])
    d.put("Cell", "Lower voltage cut-off [V]", spec["v_min"], spec["v_source"])
    d.put("Cell", "Upper voltage cut-off [V]", spec["v_max"], spec["v_source"])
    d.put("Cell", "Nominal cell capacity [A.h]", spec["capacity"], "Design")
    d.put("Cell", "Reference temperature [K]", 298.15, "Design")
    d.put("Cell", "Density [kg.m-3]", c["mass"] / c["volume"], c["format_source"],
          note=f"cell mass {c['mass']:g} kg over its volume")
    d.put("Cell", "Specific heat capacity [J.K-1.kg-1]", c["cp"], "ThermalDefaults",
          rng=(700, 1437))

    # --- Electrolyte
    for key, (val, src, rng) in spec["electrolyte"].items():
        d.put("Electrolyte", key, val, src, rng)

    # --- Electrodes
    for sect, e, L, lo, hi in (("Negative electrode", n, L_n, x0, x100),
                               ("Positive electrode", p, p["thickness"], y100, y0)):
        d.put(sect, "Particle radius [m]", e["r"][0], e["r"][1], e["r"][2])
        d.put(sect, "Thickness [m]", L, "Design" if e is p else "Design",
              note=(f"N/P = {spec['np_ratio']:g} on the full stoichiometry range"
                    if e is n else "electrode loading chosen for the areal capacity"),
              rng=e.get("thickness_range"))
        d.put(sect, "Surface area per unit volume [m-1]", 3 * e["eps_s"] / e["r"][0], "Design",
              note=f"3 eps_s / r with active volume fraction eps_s = {e['eps_s']:g} "
                   f"({e['eps_s_source']})")
        d.put(sect, "Porosity", e["porosity"][0], e["porosity"][1], e["porosity"][2])
        d.put(sect, "Transport efficiency", e["porosity"][0] ** 1.5, "Design",
              note="Bruggeman, porosity ** 1.5")
        d.put(sect, "Diffusivity [m2.s-1]", e["D"][0], e["D"][1], e["D"][2])
        d.put(sect, "Diffusivity activation energy [J.mol-1]", e["Ea_D"][0], e["Ea_D"][1],
              e["Ea_D"][2])
        d.put(sect, "OCP [V]", e["ocp"], e["ocp_source"])
        d.put(sect, "Entropic change coefficient [V.K-1]", e["dudt"], e["dudt_source"])
        d.put(sect, "Conductivity [S.m-1]", e["sigma"][0], e["sigma"][1], e["sigma"][2])
        j0, src, rng = e["j0"]
        d.put(sect, "Reaction rate constant [mol.m-2.s-1]", k_bpx(j0), src,
              (k_bpx(rng[0]), k_bpx(rng[1])),
              note=f"exchange-current density {j0:g} A/m2 at x = 0.5, c_e = c_e0, 25 degC; "
                   f"range {rng[0]:g}-{rng[1]:g} A/m2")
        d.put(sect, "Reaction rate constant activation energy [J.mol-1]", e["Ea_k"][0],
              e["Ea_k"][1], e["Ea_k"][2])
        d.put(sect, "Minimum stoichiometry", lo, "Design",
              note="solved so the OCV at 0 %/100 % SOC equals the cut-offs")
        d.put(sect, "Maximum stoichiometry", hi, "Design",
              note="solved so the OCV at 0 %/100 % SOC equals the cut-offs")
        d.put(sect, "Maximum concentration [mol.m-3]", e["c_max"], e["c_max_source"])

    s = spec["separator"]
    d.put("Separator", "Thickness [m]", s["thickness"][0], s["thickness"][1], s["thickness"][2])
    d.put("Separator", "Porosity", s["porosity"][0], s["porosity"][1], s["porosity"][2])
    d.put("Separator", "Transport efficiency", s["porosity"][0] ** 1.5, "Design",
          note="Bruggeman, porosity ** 1.5")

    # --- User-defined
    tabs = tab_resistance(n_pos_sheets=n_pairs // 2, **spec["tabs"])
    derived["tabs"] = tabs
    d.put("User-defined", "Contact resistance [Ohm]", tabs["total"], "Handbook",
          rng=(0.5 * tabs["total"], 2.0 * tabs["total"]),
          note="foils {:.3g} + {:.3g} mOhm, tabs {:.3g} + {:.3g} mOhm; range 0.5-2x for tab "
               "design and welds".format(tabs["foil_al"] * 1e3, tabs["foil_cu"] * 1e3,
                                         tabs["tab_al"] * 1e3, tabs["tab_cu"] * 1e3))
    d.put("User-defined", "Total heat transfer coefficient [W.m-2.K-1]", 10.0,
          "ThermalDefaults", rng=(2.0, 25.0))
    d.put("User-defined", "Cell cooling surface area [m2]", c["surface"], c["format_source"])
    from cellmodels.physics.cells import EXTENSIONS

    for key, (val, src, rng) in spec.get("user", {}).items():
        if key in OPTIONAL_KEYS and key not in EXTENSIONS:
            continue  # written once cellmodels accepts the key (see docs/reference_cells.md)
        d.put("User-defined", key, val, src, rng)

    # electrolyte volume in the pores (for the lean-cell reservoir and the g/Ah figure)
    pore_vol = area_total * (L_n * n["porosity"][0] + p["thickness"] * p["porosity"][0]
                             + s["thickness"][0] * s["porosity"][0])
    derived["pore_volume_m3"] = pore_vol
    if "reservoir_factor" in spec:
        res = spec["reservoir_factor"][0] * pore_vol
        d.put("User-defined", "Electrolyte reservoir volume [m3]", res,
              spec["reservoir_factor"][1],
              rng=(0.0, (spec["reservoir_factor"][2][1] - 1.0) * pore_vol),
              note=f"{spec['reservoir_factor'][0]:g} x the pore volume {pore_vol:.4g} m3 "
                   f"outside the pores: total {1 + spec['reservoir_factor'][0]:g}x pore "
                   f"volume, {(1 + spec['reservoir_factor'][0]) * pore_vol * 1.2e6 / spec['capacity']:.2f} "
                   "g/Ah at 1.2 g/cm3")
        derived["electrolyte_g_per_Ah"] = ((1 + spec["reservoir_factor"][0]) * pore_vol
                                           * 1.2e6 / spec["capacity"])

    body = {
        "Header": {
            "BPX": "1.0.0",
            "Title": spec["title"],
            "Description": spec["description"],
            "References": "; ".join(REFS[k] for k in sorted(d.used)),
            "Model": "DFN",
        },
        "Parameterisation": {k: v for k, v in d.params.items() if v},
        "State": {
            "Initial conditions": {
                "Initial electrolyte concentration [mol.m-3]": spec["c_e0"],
                "Initial temperature [K]": 298.15,
            },
            "Thermal environment": {"Ambient temperature [K]": 298.15},
        },
    }
    body["cellmodels"] = {
        "schema_version": 1,
        "name": spec["name"],
        "chemistry": spec["chemistry"],
        "electrolyte_kind": spec["kind"],
        "nominal_voltage_V": spec["nominal_voltage"],
        "temperature_range_K": spec["temperature_range"],
        "description": spec["description"] + " Generated by validation/make_reference_cells.py;"
                       " rationale in docs/reference_cells.md.",
        "references": {k: REFS[k] for k in sorted(d.used)},
        "provenance": d.prov,
    }
    return body, derived


# --------------------------------------------------------------------------- shared values
GRAPHITE_POWER = {
    "ocp": GRAPHITE_OCP, "ocp_source": "Chen2020 (graphite OCP; as used by PyBaMM Prada2013)",
    "dudt": GRAPHITE_DUDT, "dudt_source": "ORegan2022 (graphite entropic coefficient)",
    "c_max": 30555.0, "c_max_source": "Prada2013",
    "D": (3.3e-14, "Chen2020 (GITT, LG M50 graphite)", (3e-15, 3.3e-14)),
    "Ea_D": (30000.0, "AboutEnergy2022 (30 kJ/mol); Ecker2015 30.3 kJ/mol; range from "
             "Kim2011 4 kJ/mol", (4000.0, 30300.0)),
    "sigma": (100.0, "Design: graphite electrode, effective", (7.46, 215.0)),
    "Ea_k": (53400.0, "Ecker2015 (graphite exchange current, measured); range Kim2011 30 "
             "to AboutEnergy2022 55 kJ/mol", (30000.0, 55000.0)),
}
LFP = {
    "ocp": LFP_OCP, "ocp_source": "Afshar2017 (LFP OCP; as used by PyBaMM Prada2013)",
    "dudt": LFP_DUDT, "dudt_source": "GerverMeyers2011 via AboutEnergy2022",
    "c_max": 22806.0, "c_max_source": "Prada2013",
    "j0": (0.216, "Kashkooli2017 via Prada2013", (0.047, 0.216)),
    "Ea_k": (39570.0, "Kashkooli2017 via Prada2013; AboutEnergy2022 35 kJ/mol",
             (35000.0, 39570.0)),
    "Ea_D": (80000.0, "AboutEnergy2022 (LFP, fitted); range OKane2022 25 kJ/mol (NMC) to "
             "Ecker2015 80.6 kJ/mol (NCO)", (25000.0, 80600.0)),
}
GEL_NOTE = ("in-situ polymerised gel with 5-10 wt% residual carbonate liquid "
            "(polymer-ceramic host); values of the gel, not of the liquid")


def semisolid_spec() -> dict:
    kappa = 0.10  # S/m = 1.0 mS/cm
    return {
        "name": "semisolid_lfp_power",
        "title": "Semi-solid LFP/graphite 20 Ah power pouch (cellmodels reference design)",
        "description": (
            "Semi-solid LFP/graphite 20 Ah power pouch for UPS duty, a public stand-in for "
            "the PU class: in-situ polymerised gel / polymer-ceramic electrolyte with 5-10 "
            "wt% residual liquid (1 mS/cm, t+ 0.6, 25 kJ/mol), wetted-area fraction 0.9 and "
            "an interphase film, thin electrodes (0.6 mAh/cm2), nano-LFP and 2 um graphite, "
            "two-side tabs."),
        "chemistry": "LFP/graphite", "kind": "semisolid", "nominal_voltage": 3.2,
        "temperature_range": [263.15, 333.15],
        "capacity": 20.0, "v_min": 2.5, "v_max": 3.65,
        "v_source": "Prada2013 and AboutEnergy2022 (LFP/graphite cut-offs 2.0-2.5 / 3.6-3.65 V)",
        "c_e0": 1000.0, "np_ratio": 1.15,
        "cell": {"surface": 2 * (0.16 * 0.227 + 0.16 * 0.00725 + 0.227 * 0.00725),
                 "volume": 0.16 * 0.227 * 0.00725, "mass": 0.496, "cp": 1050.0,
                 "format_source": "A123AMP20"},
        "neg": dict(GRAPHITE_POWER, **{
            "r": (2.0e-6, "Ramadass2004 (2 um graphite); range Kim2011 0.5 um to Chen2020 "
                  "5.86 um", (5.0e-7, 5.86e-6)),
            "eps_s": 0.55, "eps_s_source": "Prada2013 0.58, Ramadass2004 0.49",
            "porosity": (0.35, "Prada2013 (0.36); range AboutEnergy2022 0.21 to Kim2011 0.40",
                         (0.2, 0.45)),
            "j0": (6.25, "Ecker2015 (measured, high-power Kokam graphite); range Chen2020 "
                   "0.34 to Kim2011 34 A/m2, measured ORegan2022 1.33 and Ecker2015 6.25",
                   (0.34, 34.0)),
            "x100": 0.85, "thickness_range": (5e-6, 1e-4),
        }),
        "pos": dict(LFP, **{
            "r": (5.0e-8, "Prada2013 (A123 nano-LFP); range to AboutEnergy2022 0.5 um",
                  (5.0e-8, 5.0e-7)),
            "eps_s": 0.50, "eps_s_source": "between Prada2013 0.374 and AboutEnergy2022 0.74",
            "porosity": (0.35, "between AboutEnergy2022 0.20 and Prada2013 0.426",
                         (0.2, 0.45)),
            "thickness": 21e-6, "thickness_range": (1e-5, 1e-4),
            "D": (5.9e-18, "Prada2013", (5.9e-18, 6.873e-17)),
            "sigma": (0.80, "AboutEnergy2022 (carbon-coated LFP electrode, effective); "
                      "Prada2013 0.34 bulk", (0.077, 0.80)),
        }),
        "separator": {
            "thickness": (1.2e-5, "Chen2020 (12 um); range to Prada2013 25 um", (1.2e-5, 2.5e-5)),
            "porosity": (0.47, "Chen2020, AboutEnergy2022 (0.47)", (0.4, 0.5)),
        },
        "electrolyte": {
            "Cation transference number": (0.60, "Capiglia2000 (PFG-NMR 0.49-0.60); LiZ2004 "
                                           "0.73; " + GEL_NOTE, (0.49, 0.73)),
            "Conductivity [S.m-1]": (kappa, "PDOL_PVC2023 (1.98 mS/cm) and LiM2011 (0.32 mS/cm);"
                                     " 1 mS/cm for 5-10 wt% residual liquid; " + GEL_NOTE,
                                     (0.01, 0.2)),
            "Conductivity activation energy [J.mol-1]": (
                25000.0, "between the liquid (17.1 kJ/mol, AboutEnergy2022/Nyman2008) and "
                "LiM2011 (31 kJ/mol from its 25/50 degC conductivities)", (17100.0, 31000.0)),
            "Diffusivity [m2.s-1]": (3.0e-11, "Volkov2022 (7Li self-diffusion 1e-12 to 1e-10 "
                                     "m2/s in PEG-diacrylate gels); Nernst-Einstein scaling "
                                     "of Nyman2008 (3e-10 m2/s at 9.5 mS/cm) to 1 mS/cm",
                                     (1e-12, 1e-10)),
            "Diffusivity activation energy [J.mol-1]": (
                25000.0, "as the conductivity activation energy (LiM2011)", (17100.0, 31000.0)),
        },
        "user": {
            "Thermodynamic factor": (1.5, "Valoen2005 (1.2-2.5 for 0.5-1.5 M LiPF6 in "
                                     "carbonates; taken for the residual liquid phase)",
                                     (1.0, 2.5)),
            "Initial negative electrode interface utilisation": (
                0.9, "Lautenschlaeger2022 (incomplete wetting) and Polymers2023 (in-situ "
                "gels fill the pores); 0.9 assumed", (0.8, 1.0)),
            "Initial positive electrode interface utilisation": (
                0.9, "Lautenschlaeger2022 and Polymers2023; 0.9 assumed", (0.8, 1.0)),
            "Interfacial film resistance [Ohm.m2]": (
                2.0e-3, "SEIrange; gel/SEI interphase taken at 2x PyBaMM's SEI (10 nm at "
                "2e5 Ohm.m)", (1e-4, 1e-2)),
            "Electrolyte weight fraction of liquid": (0.08, "DESIGN 5-10 wt% residual liquid "
                                                      "(Polymers2023)", (0.05, 0.10)),
        },
        "tabs": {"sheet_h": 0.200, "sheet_w": 0.150, "t_al": 15e-6,
                 "t_cu": 8e-6, "tab_w": 0.060, "tab_t": 4e-4, "tab_len": 0.020,
                 "constriction": 1.5},
    }


def liquid_spec() -> dict:
    return {
        "name": "liquid_lfp_ups",
        "title": "Liquid-electrolyte LFP/graphite 50 Ah prismatic UPS cell (cellmodels baseline)",
        "description": (
            "Conventional liquid-electrolyte LFP/graphite 50 Ah prismatic cell of energy-type "
            "design for UPS strings: LiPF6 EC:EMC (Nyman 2008), Prada2013 (A123) LFP and "
            "graphite kinetics, 2.6 mAh/cm2 electrodes, 5 um graphite, one tab per pole."),
        "chemistry": "LFP/graphite", "kind": "liquid", "nominal_voltage": 3.2,
        "temperature_range": [263.15, 333.15],
        "capacity": 50.0, "v_min": 2.5, "v_max": 3.65,
        "v_source": "Prada2013 and AboutEnergy2022 (LFP/graphite cut-offs 2.0-2.5 / 3.6-3.65 V)",
        "c_e0": 1000.0, "np_ratio": 1.1,
        "cell": {"surface": 2 * (0.148 * 0.130 + 0.148 * 0.027 + 0.130 * 0.027),
                 "volume": 0.148 * 0.130 * 0.027, "mass": 1.05, "cp": 1050.0,
                 "format_source": "Design (50 Ah LFP prismatic, 148 x 27 x 130 mm, 1.05 kg: "
                                  "160 Wh/kg, 310 Wh/L)"},
        "neg": dict(GRAPHITE_POWER, **{
            "r": (5.0e-6, "Prada2013", (2.0e-6, 5.86e-6)),
            "eps_s": 0.58, "eps_s_source": "Prada2013",
            "porosity": (0.30, "between AboutEnergy2022 0.21 and Prada2013 0.36", (0.2, 0.36)),
            "j0": (0.34, "Chen2020 (as used by PyBaMM Prada2013); range to ORegan2022 1.33",
                   (0.34, 1.33)),
            "Ea_k": (35000.0, "Chen2020 (graphite); range Kim2011 30 to AboutEnergy2022 55 "
                     "kJ/mol", (30000.0, 55000.0)),
            "x100": 0.85, "thickness_range": (2e-5, 1.5e-4),
        }),
        "pos": dict(LFP, **{
            "r": (5.0e-8, "Prada2013 (A123 nano-LFP)", (5.0e-8, 5.0e-7)),
            "eps_s": 0.45, "eps_s_source": "between Prada2013 0.374 and AboutEnergy2022 0.74",
            "porosity": (0.30, "between AboutEnergy2022 0.20 and Prada2013 0.426", (0.2, 0.45)),
            "thickness": 1.0e-4, "thickness_range": (5e-5, 1.5e-4),
            "D": (5.9e-18, "Prada2013", (5.9e-18, 6.873e-17)),
            "sigma": (0.34, "Prada2013 (0.338 S/m)", (0.077, 0.80)),
        }),
        "separator": {
            "thickness": (2.0e-5, "AboutEnergy2022 (20 um)", (1.2e-5, 2.5e-5)),
            "porosity": (0.47, "AboutEnergy2022, Chen2020 (0.47)", (0.4, 0.5)),
        },
        "electrolyte": {
            "Cation transference number": (0.2594, "Nyman2008 (via AboutEnergy2022, Chen2020)",
                                           (0.259, 0.36)),
            "Conductivity [S.m-1]": (NYMAN_KAPPA, "Nyman2008", None),
            "Conductivity activation energy [J.mol-1]": (17100.0, "AboutEnergy2022",
                                                         (17000.0, 17200.0)),
            "Diffusivity [m2.s-1]": (NYMAN_DIFF, "Nyman2008", None),
            "Diffusivity activation energy [J.mol-1]": (17100.0, "AboutEnergy2022",
                                                        (17000.0, 17200.0)),
        },
        "user": {
            # PyBaMM one-state hysteresis on the LFP electrode (cellmodels extensions)
            "Positive electrode OCP hysteresis half-gap [V]": (
                0.010, "Dreyer2010 and Roscher2011: LFP keeps a charge/discharge OCV gap "
                "(commonly quoted as about 20 mV) after long rests; 10 mV half-gap is a design value in that "
                "range, not fitted", (0.005, 0.0125)),
            "Positive particle hysteresis decay rate": (
                130.0, "Design: 95 % of the switch between branches within 5 % of SOC "
                "(rate = 2 ln 20 / (0.05 x the positive stoichiometry window, 0.93)); the "
                "switching width is a design value, not fitted", (50.0, 330.0)),
            "Initial hysteresis state in positive electrode": (
                -1.0, "Design: at rest after a discharge (lithiation branch)", (-1.0, 1.0)),
        },
        "tabs": {"sheet_h": 0.110, "sheet_w": 0.140, "t_al": 13e-6,
                 "t_cu": 8e-6, "tab_w": 0.030, "tab_t": 3e-4, "tab_len": 0.030,
                 "constriction": 2.0},
    }


def lean_spec() -> dict:
    return {
        "name": "lean_nmc_power",
        "title": "Low-electrolyte NMC811/graphite 10 Ah high-power pouch (cellmodels reference)",
        "description": (
            "Low-electrolyte (lean) NMC811/graphite 10 Ah high-power pouch: LiPF6 EC:EMC "
            "liquid at 1.3x the pore volume (An 2017: life needs about 1.9x), thin electrodes "
            "(1 mAh/cm2), 1.5 um NMC811 and 2 um graphite, two-side tabs; SEI growth "
            "(solvent-diffusion limited) consumes EC and dries the pores out (Li, O'Kane et "
            "al. 2022)."),
        "chemistry": "NMC811/graphite", "kind": "lean", "nominal_voltage": 3.65,
        "temperature_range": [263.15, 333.15],
        "capacity": 10.0, "v_min": 2.7, "v_max": 4.2,
        "v_source": "Chen2020 (LG M50 NMC811: 2.5-4.2 V); 2.7 V lower cut-off for a power cell",
        "c_e0": 1000.0, "np_ratio": 0.85,
        "cell": {"surface": 2 * (0.100 * 0.190 + 0.100 * 0.0085 + 0.190 * 0.0085),
                 "volume": 0.100 * 0.190 * 0.0085, "mass": 0.34, "cp": 1000.0,
                 "format_source": "Design (10 Ah pouch 100 x 190 x 8.5 mm, 0.34 kg)"},
        "neg": dict(GRAPHITE_POWER, **{
            "r": (1.0e-6, "Design between Kim2011 (0.51 um) and Ramadass2004 (2 um); range "
                  "Kim2011 0.51 um to Chen2020 5.86 um", (5.0e-7, 5.86e-6)),
            "eps_s": 0.55, "eps_s_source": "Prada2013 0.58, Ramadass2004 0.49",
            "porosity": (0.33, "between AboutEnergy2022 0.21 and Kim2011 0.40", (0.2, 0.45)),
            "j0": (6.25, "Ecker2015 (measured, high-power Kokam graphite); range Chen2020 "
                   "0.34 to Kim2011 34 A/m2", (0.34, 34.0)),
            "x100": 0.90, "thickness_range": (5e-6, 1e-4),
        }),
        "pos": {
            "ocp": NMC811_OCP, "ocp_source": "Chen2020 (NMC811 OCP)",
            "dudt": NMC811_DUDT, "dudt_source": "ORegan2022 (NMC811 entropic coefficient)",
            "c_max": 63104.0, "c_max_source": "Chen2020",
            "r": (1.633e-6, "Kim2011 (1.633 um, layered-oxide power electrode); range to "
                  "Chen2020 5.22 um", (1.633e-6, 5.22e-6)),
            "eps_s": 0.55, "eps_s_source": "Ecker2015 0.41, Chen2020 0.665",
            "porosity": (0.33, "Chen2020 (0.335)", (0.25, 0.40)),
            "thickness": 15e-6, "thickness_range": (1e-5, 1e-4),
            "D": (7.26e-15, "ORegan2022 (NMC811, measured, at x = 0.5); Chen2020 4e-15",
                  (4e-15, 7.3e-15)),
            "Ea_D": (25000.0, "OKane2022 (NMC811, after Cabanero 2018); range Kim2011 20 to "
                     "Ecker2015 80.6 kJ/mol", (20000.0, 80600.0)),
            "sigma": (10.0, "Kim2011 (10 S/m); Chen2020 0.18", (0.18, 10.0)),
            "j0": (3.41, "Chen2020 (NMC811, measured); range Ecker2015 2.51 to Kim2011 3.71",
                   (2.51, 3.71)),
            "Ea_k": (17800.0, "Chen2020 (NMC811); range to Ecker2015 43.6 kJ/mol",
                     (17800.0, 43600.0)),
        },
        "separator": {
            "thickness": (1.2e-5, "Chen2020 (12 um)", (1.2e-5, 2.5e-5)),
            "porosity": (0.47, "Chen2020 (0.47)", (0.4, 0.5)),
        },
        "electrolyte": {
            "Cation transference number": (0.2594, "Nyman2008 (via Chen2020)", (0.259, 0.36)),
            "Conductivity [S.m-1]": (NYMAN_KAPPA, "Nyman2008", None),
            "Conductivity activation energy [J.mol-1]": (17100.0, "AboutEnergy2022",
                                                         (17000.0, 17200.0)),
            "Diffusivity [m2.s-1]": (NYMAN_DIFF, "Nyman2008", None),
            "Diffusivity activation energy [J.mol-1]": (17100.0, "AboutEnergy2022",
                                                        (17000.0, 17200.0)),
        },
        "reservoir_factor": (0.3, "An2017 (life needs ~1.9x the pore volume; lean is less)",
                             (1.0, 1.9)),
        "user": {
            "Initial negative electrode interface utilisation": (
                1.0, "LiOKane2022 (fully wetted at start of life; the dry-out model lowers it)",
                (1.0, 1.0)),
            "Initial positive electrode interface utilisation": (
                1.0, "LiOKane2022 (fully wetted at start of life)", (1.0, 1.0)),
            "EC partial molar volume [m3.mol-1]": (6.667e-5, "LiOKane2022",
                                                   (6.667e-5, 6.667e-5)),
            "Dry-out transport exponent": (1.5, "LiOKane2022 (transport scales with the "
                                           "wetted fraction); Bruggeman-like exponent 1.5 "
                                           "assumed", (1.0, 2.0)),
            "SEI kinetic rate constant [m.s-1]": (1e-12, "OKane2022, Chen2020", (1e-14, 1e-10)),
            "SEI solvent diffusivity [m2.s-1]": (2.5e-22, "OKane2022, Chen2020",
                                                 (2.5e-23, 2.5e-21)),
            "Initial SEI thickness [m]": (5e-9, "OKane2022, Chen2020", (1e-9, 5e-8)),
            "SEI open-circuit potential [V]": (0.4, "OKane2022, Chen2020", (0.0, 0.4)),
            "SEI partial molar volume [m3.mol-1]": (9.585e-5, "OKane2022, Chen2020",
                                                    (9.585e-5, 9.585e-5)),
            "SEI reaction exchange current density [A.m-2]": (1.5e-7, "OKane2022, Chen2020",
                                                               (1.5e-7, 1.5e-6)),
            "Bulk solvent concentration [mol.m-3]": (2636.0, "OKane2022, Chen2020",
                                                     (2636.0, 4541.0)),
            "SEI growth activation energy [J.mol-1]": (38000.0, "OKane2022", (0.0, 38000.0)),
            "Ratio of lithium moles to SEI moles": (2.0, "Chen2020, Ramadass2004 (2 Li per "
                                                    "(CH2OCO2Li)2); OKane2022 uses 1",
                                                    (1.0, 2.0)),
            "Interfacial film resistance [Ohm.m2]": (
                1.0e-3, "SEIrange: PyBaMM's SEI, 5 nm at 2e5 Ohm.m (OKane2022, Chen2020)",
                (1e-4, 1e-2)),
        },
        "tabs": {"sheet_h": 0.090, "sheet_w": 0.170, "t_al": 15e-6,
                 "t_cu": 8e-6, "tab_w": 0.060, "tab_t": 3e-4, "tab_len": 0.020,
                 "constriction": 1.5},
    }


SPECS = {"semisolid_lfp_power": semisolid_spec, "liquid_lfp_ups": liquid_spec,
         "lean_nmc_power": lean_spec}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if a file would change")
    ap.add_argument("--out", default=str(ROOT / "parameter_sets"))
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    changed = []
    for name, make in SPECS.items():
        body, derived = make_and_build(make)
        text = json.dumps(body, indent=1) + "\n"
        path = Path(args.out) / f"{name}.json"
        if args.verbose:
            print(name, json.dumps(derived, default=float, indent=1))
        if args.check:
            if not path.is_file() or path.read_text() != text:
                changed.append(name)
        else:
            path.write_text(text)
    if changed:
        print("out of date: " + ", ".join(changed))
        return 1
    return 0


def make_and_build(make):
    return build(make())


if __name__ == "__main__":
    raise SystemExit(main())
