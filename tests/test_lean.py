"""Lean-electrolyte dry-out model (cellmodels.physics.lean).

The acceptance figures are measured here on fast configurations (SPM, coarse-mesh DFN,
accelerated SEI); the full-mesh DFN versions are the slow cases of validation/case_lean.py.
"""

import time

import numpy as np
import pybamm
import pytest

from cellmodels.errors import InputError, ParameterError
from cellmodels.physics import lean
from cellmodels.physics.cells import EXTENSIONS, PLAUSIBLE
from cellmodels.physics.lean import (
    LEAN_PARAMETERS,
    ElectrolyteDryOut,
    add_lean_parameters,
    build_lean_model,
)
from validation import case_lean as case

OPTIONS = case.OPTIONS
#: Coarse DFN mesh for the test suite (the validation case uses PyBaMM's default mesh).
COARSE = {"x_n": 8, "x_s": 4, "x_p": 8, "r_n": 8, "r_p": 8}
LEAN_VARIABLES = (
    "Electrolyte reservoir volume [m3]",
    "Electrolyte wetted fraction",
    "Electrolyte dry-out ratio",
    "Electrolyte dry-out fraction",
    "Loss of electrolyte to SEI [m3]",
)


def _pv(reservoir_m3=1e-6, exponent=2.0, diffusivity=case.SEI_SOLVENT_DIFFUSIVITY):
    return case.parameter_values(reservoir_m3, exponent, diffusivity)


def _discharge(model, pv, rate="C/5", var_pts=None):
    sim = pybamm.Simulation(model, parameter_values=pv, solver=pybamm.IDAKLUSolver(),
                            experiment=pybamm.Experiment([f"Discharge at {rate} until 2.5 V"]),
                            var_pts=var_pts)
    return sim.solve(initial_soc=1.0)


def test_lean_parameter_names_are_cellmodels_extensions():
    for name in LEAN_PARAMETERS:
        assert name in EXTENSIONS
        assert f"User-defined/{name}" in PLAUSIBLE


@pytest.mark.parametrize("mode", lean.MODES)
@pytest.mark.parametrize("cls", [pybamm.lithium_ion.DFN, pybamm.lithium_ion.SPMe,
                                 pybamm.lithium_ion.SPM], ids=["DFN", "SPMe", "SPM"])
def test_build_replaces_utilisation_with_the_dry_out_submodel(cls, mode):
    model = build_lean_model(cls, dict(OPTIONS), mode=mode)
    sub = model.submodels["electrolyte dry-out"]
    assert isinstance(sub, ElectrolyteDryOut) and isinstance(sub, pybamm.BaseSubModel)
    assert "Negative interface utilisation" not in model.submodels
    assert "Positive interface utilisation" not in model.submodels
    for name in LEAN_VARIABLES:
        assert name in model.variables
    params = {p.name for p in model.parameters}
    assert {"Electrolyte reservoir volume [m3]", "EC partial molar volume [m3.mol-1]"} <= params
    # the transport exponent only acts in the "wetted area" mode
    assert ("Dry-out transport exponent" in params) == (mode == "wetted area")
    state = model.variables["Electrolyte reservoir volume variable [m3]"]
    assert state in model.rhs and model.initial_conditions[state] is not None


def test_build_refuses_what_it_cannot_model():
    with pytest.raises(InputError, match="model_class"):
        build_lean_model(pybamm.lithium_ion.MPM, dict(OPTIONS))
    with pytest.raises(InputError, match="interface utilisation"):
        build_lean_model(pybamm.lithium_ion.SPM,
                         {**OPTIONS, "interface utilisation": "current-driven"})
    with pytest.raises(InputError, match="'mode' argument"):
        build_lean_model(pybamm.lithium_ion.SPM, dict(OPTIONS), mode="width")
    with pytest.raises(InputError, match="dimensionality"):
        build_lean_model(pybamm.lithium_ion.SPM,
                         {**OPTIONS, "current collector": "potential pair",
                          "dimensionality": 1})


def test_add_lean_parameters_guards_names_and_ranges():
    good = {"Electrolyte reservoir volume [m3]": 1e-6,
            "EC partial molar volume [m3.mol-1]": lean.EC_MOLAR_VOLUME,
            "Dry-out transport exponent": 2.0}
    misspelt = dict(good)
    misspelt["Electrolyte reservior volume [m3]"] = misspelt.pop(
        "Electrolyte reservoir volume [m3]")
    with pytest.raises(ParameterError, match="Did you mean 'Electrolyte reservoir volume"):
        add_lean_parameters(pybamm.ParameterValues("OKane2022"), misspelt)
    with pytest.raises(ParameterError, match="Missing lean-electrolyte parameter"):
        add_lean_parameters(pybamm.ParameterValues("OKane2022"),
                            {k: v for k, v in good.items() if "EC" not in k})
    with pytest.raises(ParameterError, match=r"Dry-out transport exponent.*\[0, 5\]"):
        add_lean_parameters(pybamm.ParameterValues("OKane2022"),
                            {**good, "Dry-out transport exponent": 7.0})
    pv = add_lean_parameters(pybamm.ParameterValues("OKane2022"), good)
    for k, v in good.items():
        assert pv[k] == v
    # now the keys exist, so a plain (checked) update can change them
    pv.update({"Electrolyte reservoir volume [m3]": 2e-6})
    assert pv["Electrolyte reservoir volume [m3]"] == 2e-6


def test_softplus_switch_is_smooth_bounded_and_overflow_free():
    d = 1e-3
    x = np.concatenate([np.linspace(-20 * d, 20 * d, 4001), [-1e6 * d, 1e6 * d]])
    y = lean._softplus(pybamm.Vector(x), d).evaluate().ravel()
    assert np.all(np.isfinite(y))
    hard = np.maximum(x, 0)
    assert np.all(y >= hard) and np.max(y - hard) == pytest.approx(d * np.log(2), rel=1e-12)
    assert y[-1] == 1e6 * d and y[-2] == 0.0  # exact far from the switch
    dense = y[:4001]
    slope = np.diff(dense) / np.diff(x[:4001])
    assert np.all(np.diff(slope) >= -1e-9)  # convex: the slope rises monotonically 0 -> 1
    assert np.max(np.abs(np.diff(slope))) < 0.01  # no kink anywhere on a 0.01 d grid


def test_solvent_follows_lithium_and_volumes_are_conserved():
    """12 SPM cycles with a reservoir that empties half way: EC lost = V_EC x Li lost,
    the pores stay full while the reservoir lasts, and volumes add up."""
    v0 = 3e-7
    pv = _pv(v0)
    model = build_lean_model(pybamm.lithium_ion.SPM, dict(OPTIONS))
    sol = case.cycle(model, pv, 12)["solution"]
    loss_ec = sol["Loss of electrolyte to SEI [m3]"].entries
    loss_li = sol["Loss of lithium to negative SEI [mol]"].entries  # n_parallel = 1
    assert loss_ec[-1] > 1.3 * v0  # the reservoir did run dry
    np.testing.assert_allclose(loss_ec, lean.EC_MOLAR_VOLUME * loss_li, rtol=1e-6,
                               atol=1e-15)
    v_res = sol["Electrolyte reservoir volume [m3]"].entries
    v_pore = sol["Pore volume [m3]"].entries
    v_e = sol["Pore electrolyte volume [m3]"].entries
    w = sol["Electrolyte wetted fraction"].entries
    d = lean.SMOOTHING["reservoir"] * v_pore[0]
    assert np.all(v_res >= 0)
    full = v_res > 40 * d
    assert full.any() and np.all(np.abs(w[full] - 1) < 1e-12)  # 1 to round-off
    np.testing.assert_allclose(v_res + v_e + loss_ec, v0 + v_pore, rtol=1e-9)
    dry = loss_ec - v0 > 20 * d  # past the switch: exp(-20) d / V_pore < 1e-11
    assert dry.any()
    np.testing.assert_allclose(w[dry], 1 - (loss_ec[dry] - v0) / v_pore[dry], rtol=1e-9)
    np.testing.assert_allclose(sol["Electrolyte dry-out fraction"].entries, 1 - w)


def test_porosity_change_credits_displaced_electrolyte_to_the_reservoir():
    """With SEI porosity change the SEI filling the pores pushes electrolyte back."""
    pv = pybamm.ParameterValues("Chen2020")  # 2 Li per SEI molecule, as in Li et al.
    pv.update({"SEI solvent diffusivity [m2.s-1]": 5e-19})
    add_lean_parameters(pv, {"Electrolyte reservoir volume [m3]": 1e-6,
                             "EC partial molar volume [m3.mol-1]": lean.EC_MOLAR_VOLUME,
                             "Dry-out transport exponent": 2.0})
    model = build_lean_model(pybamm.lithium_ion.SPM, {**OPTIONS, "SEI porosity change": "true"})
    sol = _discharge(model, pv, "1C")
    v_pore = sol["Pore volume [m3]"].entries
    loss_ec = sol["Loss of electrolyte to SEI [m3]"].entries
    v_res = sol["Electrolyte reservoir volume [m3]"].entries
    assert v_pore[-1] < v_pore[0]
    np.testing.assert_allclose(v_res, 1e-6 - loss_ec + (v_pore[0] - v_pore), rtol=1e-9)


def test_constant_utilisation_option_as_models_py_sets_it():
    """models.py passes "interface utilisation": "constant" and a lumped thermal model; the
    dry-out submodel then multiplies the set's initial utilisation by w."""
    opts = {"thermal": "lumped", **OPTIONS, "interface utilisation": "constant"}
    model = build_lean_model(pybamm.lithium_ion.SPMe, opts)
    pv = _pv()
    pv.update({"Initial negative electrode interface utilisation": 0.5,
               "Initial positive electrode interface utilisation": 0.5},
              check_already_exists=False)  # PyBaMM names, absent from OKane2022
    sol = _discharge(model, pv, "1C")
    u = sol["X-averaged negative electrode interface utilisation"].entries
    np.testing.assert_allclose(u, 0.5)
    ref = _discharge(build_lean_model(pybamm.lithium_ion.SPMe, dict(OPTIONS)), _pv(), "1C")
    assert sol["Voltage [V]"].entries[5] < ref["Voltage [V]"].entries[5] - 1e-3


def test_under_filled_cell_width_mode_loses_capacity_area_mode_keeps_it():
    """A cell that starts 20 % under-filled (w = 0.8): at C/5 the 'electrode width' mode
    delivers 80 % of the capacity, the 'wetted area' mode nearly all of it."""
    cls = pybamm.lithium_ion.SPMe
    ref = _discharge(cls(dict(OPTIONS)), _pv())["Discharge capacity [A.h]"].entries[-1]
    out = {}
    for mode in lean.MODES:
        pv = _pv()
        model = build_lean_model(cls, dict(OPTIONS), mode=mode)
        v_pore = _discharge(model, pv.copy())["Pore volume [m3]"].entries[0]
        # a negative reservoir is an unfilled pore volume; the key exists, so this
        # update is checked
        pv.update({"Electrolyte reservoir volume [m3]": -0.2 * v_pore})
        sol = _discharge(model, pv)
        assert sol["Electrolyte dry-out ratio"].entries[0] == pytest.approx(0.8, abs=1e-3)
        out[mode] = sol["Discharge capacity [A.h]"].entries[-1] / ref
    assert out["electrode width"] == pytest.approx(0.8, abs=0.02)  # at 1.25x the C/5 rate
    assert out["wetted area"] > 0.98


def test_unlimited_reservoir_reproduces_pybamm_fade_over_100_cycles():
    """Acceptance 1 (SPM, accelerated SEI; the DFN version is a validation case)."""
    t0 = time.perf_counter()
    r = case.unlimited_vs_pybamm("SPM", 100)
    print(f"\n100-cycle SPM fade: PyBaMM {r['fade_pybamm']:.5%}, lean {r['fade_lean']:.5%}, "
          f"relative difference {r['fade_rel_diff']:.2e}, largest per-cycle capacity "
          f"difference {r['max_capacity_rel_diff']:.2e} ({time.perf_counter() - t0:.1f} s)")
    assert r["fade_pybamm"] > 0.05  # a fade worth comparing
    assert r["min_dry_out_ratio"] > 1 - 1e-12  # to round-off
    assert r["fade_rel_diff"] < case.FADE_TOLERANCE


def test_dry_out_knee_electrode_width_mode_spm():
    """Acceptance 2, Li et al.'s formulation: the fade rate jumps when the reservoir
    empties (SPM, 1C, reservoir of 0.5 mL against a 5.4 mL pore volume)."""
    t0 = time.perf_counter()
    res = case.knee("SPM", 50, reservoir_m3=5e-7, discharge="1C", modes=("electrode width",))
    m = res["modes"]["electrode width"]
    print(f"\nSPM 'electrode width': reservoir empty at cycle {m['empty_cycle']}, knee at "
          f"{m['knee_cycle']}, fade rate {m['fade_rate_before']:.4f} -> "
          f"{m['fade_rate_after']:.4f} A.h/cycle ({m['knee_jump']:.2f}x), last 10 cycles "
          f"{m['vs_reference']:.2f}x PyBaMM ({time.perf_counter() - t0:.1f} s)")
    assert 10 <= m["empty_cycle"] <= 25
    assert m["pre_max_rel_diff"] < case.PRE_AGREEMENT
    assert m["knee_jump"] >= case.KNEE_JUMP
    assert m["knee_cycle"] - m["empty_cycle"] <= 3
    assert case.knee_passes(m)


def test_dry_out_knee_wetted_area_mode_dfn():
    """Acceptance 2, default mode: at 2C (transport-limited) the lean DFN's fade rate
    rises after the reservoir empties while PyBaMM's keeps slowing (coarse mesh)."""
    t0 = time.perf_counter()
    res = case.knee("DFN", 60, reservoir_m3=6e-7, discharge="2C", modes=("wetted area",),
                    var_pts=COARSE)
    m = res["modes"]["wetted area"]
    print(f"\nDFN 'wetted area' 2C: reservoir empty at cycle {m['empty_cycle']}, knee at "
          f"{m['knee_cycle']}, fade rate {m['fade_rate_before']:.4f} -> "
          f"{m['fade_rate_after']:.4f} A.h/cycle ({m['knee_jump']:.2f}x), last 10 cycles "
          f"{m['fade_rate_last_lean']:.4f} vs PyBaMM {m['fade_rate_last_pybamm']:.4f} "
          f"({m['vs_reference']:.2f}x) ({time.perf_counter() - t0:.1f} s)")
    assert 15 <= m["empty_cycle"] <= 35
    assert m["pre_max_rel_diff"] < case.PRE_AGREEMENT
    assert m["knee_jump"] > 1.1  # the lean cell's own fade rate rises at the knee
    assert m["vs_reference"] >= case.KNEE_VS_REFERENCE
    assert case.knee_passes(m)
