"""Physics fitting: sensitivities against finite differences, bad input, failure, save/load."""

import json

import numpy as np
import pytest

import cellmodels as cm
from cellmodels.errors import DataError, InputError, ParameterError
from cellmodels.fitting import (
    Experiment,
    FitParameter,
    PhysicsProblem,
    dataset_from_spec,
    fit_physics,
    rate_test,
    save_fitted,
)
from cellmodels.fitting._cli import parse_param
from cellmodels.measured import Dataset

#: Coarse SPM mesh: the tests check the machinery, not the physics.
COARSE = {"x_n": 5, "x_s": 5, "x_p": 5, "r_n": 8, "r_p": 8}


def _pulse_dataset(name="synthetic pulse", source="synthetic"):
    """Rest, a 2C pulse for 60 s, rest: measured voltage is a placeholder (4.0 V - 0.1 V)."""
    t = np.concatenate([[0.0], np.linspace(0.5, 60.0, 60), np.linspace(61.0, 120.0, 30)])
    i = np.where((t > 0) & (t <= 60.0), 10.0, 0.0)
    v = 4.0 - 0.01 * i
    return Dataset(time_s=t, current_A=i, voltage_V=v, name=name, source=source,
                   temperature_K=np.full(t.size, 298.15))


PARAMS = [
    FitParameter("Negative electrode/Diffusivity [m2.s-1]"),  # log (spans 100x)
    FitParameter("Positive electrode/Reaction rate constant [mol.m-2.s-1]"),  # log
    FitParameter("User-defined/Contact resistance [Ohm]", bounds=(0.0, 0.05)),  # linear
]


@pytest.fixture(scope="module")
def spm_problem():
    ds = _pulse_dataset()
    return PhysicsProblem("lgm50", [Experiment(ds, initial_soc=0.6)], PARAMS, model="SPM",
                          thermal="isothermal", var_pts=COARSE, rtol=1e-9, atol=1e-9)


def test_sensitivity_jacobian_matches_central_differences(spm_problem):
    p = spm_problem
    assert p.scaling == ("log", "log", "linear")
    x = p.x0 + np.array([0.1, -0.2, 0.05])
    _, J, _ = p.evaluate(x, jacobian=True)
    h = 1e-4
    fd = np.empty_like(J)
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h
        fd[:, k] = (p.evaluate(x + e)[0] - p.evaluate(x - e)[0]) / (2 * h)
    # Central differences have O(h^2) truncation (~1e-8 relative) and solver noise of
    # rtol / h ~ 1e-5 relative; the sensitivities are exact for the discretised model.
    # 1e-3 of each column's largest entry leaves room for the interpolation between
    # the solver's steps, which both sides share.
    for k in range(x.size):
        scale = np.max(np.abs(fd[:, k]))
        assert scale > 0
        np.testing.assert_allclose(J[:, k], fd[:, k], atol=1e-3 * scale, rtol=0)


BALANCE = [
    FitParameter("Negative electrode/Surface area per unit volume [m-1]",
                 bounds=(2.7e5, 5.0e5)),  # the set's 3.84e5, linear
    FitParameter("Positive electrode/Surface area per unit volume [m-1]",
                 bounds=(2.7e5, 5.0e5)),  # the set's 3.82e5
    FitParameter("Negative electrode/Maximum stoichiometry", bounds=(0.8, 0.95)),
    FitParameter("User-defined/Contact resistance [Ohm]", bounds=(0.0, 0.05)),
]


@pytest.fixture(scope="module")
def balance_problem():
    # Initial state from the rest voltage of the first sample (4.0 V), so the state
    # follows the fitted balance.
    return PhysicsProblem("lgm50", [Experiment(_pulse_dataset())], BALANCE, model="SPM",
                          thermal="isothermal", var_pts=COARSE, rtol=1e-9, atol=1e-9)


def test_balance_jacobian_carries_the_initial_state(balance_problem):
    p = balance_problem
    x = p.x0 * np.array([0.97, 1.02, 0.99, 1.0]) + np.array([0.0, 0.0, 0.0, 0.1])
    _, J, _ = p.evaluate(x, jacobian=True)
    # The set's OCPs are linear interpolants: the residual has kinks in the stoichiometry
    # (tables every ~5e-4 to 1e-2 in x), so the differences step 1e-5 in the fitted
    # coordinate to stay on one piece (h = 1e-4 straddles kinks: 1 % off there).
    h = 1e-5
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h
        fd = (p.evaluate(x + e)[0] - p.evaluate(x - e)[0]) / (2 * h)
        scale = np.max(np.abs(fd))
        assert scale > 0
        # Solver noise rtol / h ~ 1e-4 relative; the balance columns add the central
        # difference of the algebraic initial state (its tolerance 1e-11). Measured
        # agreement ~1e-6 of the column.
        np.testing.assert_allclose(J[:, k], fd, atol=1e-3 * scale, rtol=0)
    # The state really moves with the balance (a 10 % smaller negative electrode is at
    # another stoichiometry at 4.0 V) ...
    inputs = p._model_inputs(p.physical(x))
    prep = p._prepared[0]
    c_n = p._state(prep, inputs)[0]
    assert p._state(prep, {**inputs, "fit_0": inputs["fit_0"] * 0.9})[0] != pytest.approx(
        c_n, rel=1e-4)
    # ... and keeps the measured rest voltage: the model's first sample (no current yet)
    # is the state's OCV (PyBaMM's algebraic solve to 1e-11).
    assert p.residuals_per_experiment(x)[0].voltage_model_V[0] == pytest.approx(4.0, abs=1e-6)


def test_saved_balance_reproduces_the_fitted_state(balance_problem, tmp_path):
    from cellmodels.fitting.physics import _fitted_document

    p = balance_problem
    x = p.x0 * np.array([0.95, 1.05, 0.98, 1.0])
    values = dict(zip(p.names, p.physical(x), strict=True))
    doc = _fitted_document(cm.load_cell("lgm50"), values, None)
    doc["cellmodels"]["name"] = "lgm50_balance_test"
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc))
    import pybamm

    cell = cm.load_cell(path)
    pv = cell.parameter_values()
    prep = p._prepared[0]
    c_n, c_p = p._state(prep, p._model_inputs(p.physical(x)))
    pv.update({"Initial temperature [K]": prep.ambient_K}, check_already_exists=False)
    xs, ys = pybamm.lithium_ion.get_initial_stoichiometries("4.0 V", pv, tol=1e-11)
    # The saved set puts 4.0 V where the fit did (both PyBaMM algebraic solves to 1e-11;
    # its stoichiometry limits are written to double precision).
    assert xs * pv["Maximum concentration in negative electrode [mol.m-3]"] == pytest.approx(
        c_n, rel=1e-7)
    assert ys * pv["Maximum concentration in positive electrode [mol.m-3]"] == pytest.approx(
        c_p, rel=1e-7)
    assert pv["Negative electrode active material volume fraction"] == pytest.approx(
        0.95 * 0.75, rel=1e-9)


def test_unknown_parameter_name_suggests_close_ones():
    with pytest.raises(ParameterError, match=r"Unknown fit parameter .*Did you mean "
                       r"'Negative electrode/Diffusivity \[m2.s-1\]'"):
        PhysicsProblem("lgm50", [Experiment(_pulse_dataset(), initial_soc=0.5)],
                       ["Negative electrode/Diffusivty [m2.s-1]"], model="SPM",
                       thermal="isothermal", var_pts=COARSE)


def test_bounds_excluding_the_initial_guess_are_named():
    bad = [FitParameter("User-defined/Contact resistance [Ohm]", bounds=(0.02, 0.05)),
           FitParameter("Negative electrode/Diffusivity [m2.s-1]", initial=1e-13,
                        bounds=(1e-15, 1e-14))]
    with pytest.raises(InputError, match=r"Bounds exclude the initial guess of "
                       r"'User-defined/Contact resistance \[Ohm\]': initial 0.0087 outside "
                       r"\[0.02, 0.05\]; 'Negative electrode/Diffusivity \[m2.s-1\]': initial"):
        PhysicsProblem("lgm50", [Experiment(_pulse_dataset(), initial_soc=0.5)], bad,
                       model="SPM", thermal="isothermal", var_pts=COARSE)


def test_a_loaded_first_sample_needs_an_initial_soc():
    ds = _pulse_dataset()
    ds = Dataset(time_s=ds.time_s[1:], current_A=ds.current_A[1:], voltage_V=ds.voltage_V[1:],
                 name="loaded start", source="synthetic")
    with pytest.raises(InputError, match="first sample carries 10 A"):
        PhysicsProblem("lgm50", [Experiment(ds, ambient_temperature_K=298.15)],
                       ["User-defined/Contact resistance [Ohm]"], model="SPM",
                       thermal="isothermal", var_pts=COARSE)


def test_experiment_refuses_bad_arguments():
    with pytest.raises(InputError, match="must be a cellmodels.measured.Dataset"):
        Experiment({"time_s": [0, 1]})
    with pytest.raises(InputError, match="'weight' of Experiment must be in the range"):
        Experiment(_pulse_dataset(), weight=-1.0)
    ds = _pulse_dataset()
    no_temp = Dataset(time_s=ds.time_s, current_A=ds.current_A, voltage_V=ds.voltage_V,
                      name="n", source="s")
    with pytest.raises(InputError, match="temperature=True but the dataset has no temperature"):
        Experiment(no_temp, temperature=True)
    with pytest.raises(InputError, match="NAME=LOW:HIGH"):
        parse_param("User-defined/Contact resistance [Ohm]=a:b")


def _synthetic(true_rc: float):
    """Data made by the same SPM with contact resistance true_rc (no noise)."""

    ds = _pulse_dataset()
    p = PhysicsProblem("lgm50", [Experiment(ds, initial_soc=0.6)],
                       [FitParameter("User-defined/Contact resistance [Ohm]", initial=true_rc,
                                     bounds=(0.0, 0.05))],
                       model="SPM", thermal="isothermal", var_pts=COARSE)
    res = p.residuals_per_experiment(p.x0)[0]
    v = ds.voltage_V.copy()
    v[p._prepared[0].idx] = res.voltage_model_V
    return Dataset(time_s=ds.time_s, current_A=ds.current_A, voltage_V=v, name="synthetic",
                   source=ds.source, temperature_K=ds.temperature_K)


def test_non_convergence_is_reported_as_failure_and_not_saved(tmp_path):
    ds = _synthetic(0.02)
    res = fit_physics("lgm50", [Experiment(ds, initial_soc=0.6)],
                      [FitParameter("User-defined/Contact resistance [Ohm]", bounds=(0.0, 0.05)),
                       FitParameter("Negative electrode/Diffusivity [m2.s-1]")],
                      model="SPM", thermal="isothermal", var_pts=COARSE, max_nfev=1,
                      progress=False)
    assert not res.success
    assert res.status == 0
    assert "did not converge" in res.message
    assert "DID NOT CONVERGE" in str(res)
    with pytest.raises(InputError, match="did not converge"):
        save_fitted(res, "lgm50", tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_fit_recovers_contact_resistance_and_saves_a_set_with_provenance(tmp_path):
    # A pulse from the WMG file (a registered file: its name and sha256 go in the
    # provenance), voltage replaced by the SPM's own with a known contact resistance.
    meas, _ = dataset_from_spec("wmg-pulse:T25:SoC5:Cell1")
    exp = Experiment(meas)
    p = PhysicsProblem("lgm50", [exp], [FitParameter("User-defined/Contact resistance [Ohm]",
                                                     initial=0.015, bounds=(0.0, 0.05))],
                       model="SPM", thermal="isothermal", var_pts=COARSE)
    v = meas.voltage_V.copy()
    v[p._prepared[0].idx] = p.residuals_per_experiment(p.x0)[0].voltage_model_V
    synth = Dataset(time_s=meas.time_s, current_A=meas.current_A, voltage_V=v, name=meas.name,
                    source=meas.source, temperature_K=meas.temperature_K, step=meas.step,
                    meta=meas.meta)
    res = fit_physics("lgm50", [Experiment(synth)],
                      [FitParameter("User-defined/Contact resistance [Ohm]", bounds=(0.0, 0.05))],
                      model="SPM", thermal="isothermal", var_pts=COARSE, progress=False)
    assert res.success, res.message
    # Noise-free data from the same model: the solution is exact to the solver tolerance
    # (1e-6 relative on ~3.7 V over a 7.5 A step gives ~1e-6 Ohm).
    assert res.values["User-defined/Contact resistance [Ohm]"] == pytest.approx(0.015, abs=2e-6)
    out = save_fitted(res, "lgm50", tmp_path / "fitted.json", name="lgm50_test_fit")
    doc = json.loads(out.read_text())
    prov = doc["cellmodels"]["provenance"]["User-defined/Contact resistance [Ohm]"]
    fit = prov["fit"]
    from cellmodels import data

    assert fit["files"] == [{
        "name": "lgm50_wmg_widanage/LGM50_5Ah_Pulse.mat",
        "sha256": data.REGISTRY["lgm50_wmg_widanage/LGM50_5Ah_Pulse.mat"].sha256,
        "origin": fit["files"][0]["origin"]}]
    assert fit["fitted_together"] == ["User-defined/Contact resistance [Ohm]"]
    assert fit["cellmodels_version"] == cm.__version__
    assert fit["when"].endswith("Z") and fit["when"][:2] == "20"
    assert fit["base_set"]["sha256"] == cm.load_cell("lgm50").sha256
    assert prov["range"] == [0.0, 0.05]
    assert prov["source"].split(":")[0] in doc["cellmodels"]["references"]
    # reload: the fitted value is what PyBaMM gets
    cell = cm.load_cell(out)
    assert cell.name == "lgm50_test_fit"
    assert cell.parameter_values()["Contact resistance [Ohm]"] == pytest.approx(
        res.values["User-defined/Contact resistance [Ohm]"], rel=1e-15)
    assert cell.parameter_values()["Negative particle diffusivity [m2.s-1]"] is not None


def test_rate_test_reader_flips_the_sign_and_starts_at_rest():
    ds = rate_test(25, "1C")
    assert ds.current_A[0] == 0.0
    # 1C of the 5 Ah cell, discharge positive; the record ends at the 2.5 V cut-off
    assert np.median(ds.current_A[1:]) == pytest.approx(5.0, rel=1e-3)
    assert ds.voltage_V[0] > 4.1 and ds.voltage_V[-1] < 2.51
    assert 4.7 < ds.discharged_Ah()[-1] < 4.9  # 4.78 Ah at 25 degC 1C (SOURCES.md: 4.86 at C/10)
    assert np.all(np.isfinite(ds.temperature_K))
    with pytest.raises(DataError, match="no record T25.cRate_3C"):
        rate_test(25, "3C")
    with pytest.raises(InputError, match="Cannot read the DATA argument"):
        dataset_from_spec("nonsense:1")


def test_wmg_pulse_specs_reach_every_cell_and_name_the_ones_there():
    # the file's cells are numbered 1-19 (10 degC: 13-18, 45 degC: 10-12): two digits
    ds, _ = dataset_from_spec("wmg-pulse:T10:SoC3:Cell13")
    assert ds.name == "LG M50 pulse 10degC SoC3 Cell13"
    assert np.median(ds.temperature_K) == pytest.approx(283.15, abs=1.5)  # the 10 degC chamber
    with pytest.raises(DataError, match=r"its cells at 10 degC are Cell13, Cell14, Cell15, "
                                        r"Cell16, Cell17, Cell18\."):
        dataset_from_spec("wmg-pulse:T10:SoC3:Cell1")
    with pytest.raises(DataError, match=r"it has the temperatures \[0, 10, 25, 45\] degC"):
        dataset_from_spec("wmg-pulse:T30:SoC3:Cell1")


def _cli(argv):
    import argparse

    from cellmodels.fitting._cli import add_parser

    parser = argparse.ArgumentParser(prog="cellmodels")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_lists_and_fits_a_pulse(tmp_path, capsys):
    assert _cli(["fit", "--list"]) == 0
    assert "User-defined/Contact resistance [Ohm]" in capsys.readouterr().out
    out = tmp_path / "fitted.json"
    report = tmp_path / "fit.json"
    code = _cli(["fit", "lgm50", "wmg-pulse:T25:SoC5:Cell1", "--params",
                 "User-defined/Contact resistance [Ohm]=1e-4:0.05", "--model", "SPM",
                 "--thermal", "isothermal", "-o", str(out), "--report", str(report)])
    assert code == 0
    summary = json.loads(report.read_text())
    assert summary["success"] is True
    cell = cm.load_cell(out)
    value = summary["parameters"]["User-defined/Contact resistance [Ohm]"]["value"]
    assert cell.parameter_values()["Contact resistance [Ohm]"] == pytest.approx(value, rel=1e-15)


def test_rate_test_keeps_the_rest_after_the_discharge_when_asked():
    ds = rate_test(25, "1C", rest_after_s=1200.0)
    last_load = int(np.flatnonzero(ds.current_A > 0.3)[-1])
    rest = slice(last_load + 1, None)
    # the rest follows the 2.5 V cut-off: no current, the voltage relaxes up, the cell cools
    assert np.all(np.abs(ds.current_A[rest]) <= 0.3)
    assert ds.time_s[-1] - ds.time_s[last_load] == pytest.approx(1200.0, abs=2.0)  # 1 s log
    assert ds.voltage_V[-1] > 3.0 > ds.voltage_V[last_load]
    assert ds.temperature_K[-1] < ds.temperature_K[last_load] - 3.0  # 33.6 -> ~25 degC
    with pytest.raises(DataError, match="rest after the discharge lasts"):
        rate_test(25, "1C", rest_after_s=1e6)
    with pytest.raises(InputError, match="rest_after_s"):
        rate_test(25, "1C", rest_after_s=-1.0)


@pytest.fixture(scope="module")
def lgm50_1c_runs():
    cell = cm.load_cell("lgm50")
    return {hom: cm.simulate(cell, initial_soc=0.9, temperature_K=298.15, current_A=5.0,
                             duration_s=1500.0, heat_of_mixing=hom)
            for hom in (False, "quasi-steady")}


def test_quasi_steady_mixing_heat_closes_the_energy_balance(lgm50_1c_runs):
    """Heat other than reversible = electrical loss I (U_bulk - V) with the quasi-steady term.

    Without it the particle-diffusion part of the loss (35 % of it for the LG M50 set at 1C)
    is never heat. With it the balance holds to within the x-averaging of the overpotential
    (PyBaMM's particle concentration overpotential is taken from x-averaged surface and bulk
    potentials, the heat is not): 0.3 % measured, 2 % allowed.
    """
    gaps = {}
    for hom, run in lgm50_1c_runs.items():
        mid = (run.time_s > 500.0) & (run.time_s < 1500.0)  # profiles quasi-steady
        loss = run.current_A * (run.ocv_V - run.voltage_V)
        heat = run.heat_W["total_W"] - run.heat_W["reversible_W"]
        gaps[hom] = float(np.max(np.abs(heat[mid] - loss[mid]) / loss[mid]))
    assert gaps["quasi-steady"] < 0.02
    assert gaps[False] > 0.2
    runs = lgm50_1c_runs
    assert np.all(runs["quasi-steady"].heat_W["mixing_W"][1:] > 0)
    assert runs["quasi-steady"].temperature_K[-1] > runs[False].temperature_K[-1] + 0.5
    # the electrochemistry sees the warmer cell only through its temperature: same start
    assert runs["quasi-steady"].voltage_V[0] == pytest.approx(runs[False].voltage_V[0], abs=1e-6)


def test_quasi_steady_mixing_heat_needs_the_lumped_model():
    with pytest.raises(InputError, match="quasi-steady"):
        cm.simulate(cm.load_cell("lgm50"), initial_soc=0.5, temperature_K=298.15,
                    current_A=1.0, duration_s=10.0, thermal="isothermal",
                    heat_of_mixing="quasi-steady")
    with pytest.raises(InputError, match="heat_of_mixing"):
        cm.simulate(cm.load_cell("lgm50"), initial_soc=0.5, temperature_K=298.15,
                    current_A=1.0, duration_s=10.0, heat_of_mixing="sometimes")


#: A stoichiometry-dependent positive diffusivity for the with_values tests (a shape, not
#: a measured one: only its form matters here).
_D_SHAPE = "4e-15 * (1 + x)"


def test_with_values_gives_a_function_valued_diffusivity_keeping_the_arrhenius_term():
    import pybamm

    from cellmodels.fitting import with_values

    base = cm.load_cell("lgm50")
    cell = with_values("lgm50", {"Positive electrode/Diffusivity [m2.s-1]": _D_SHAPE},
                       source="test shape", name="lgm50_shape")
    assert cell.name == "lgm50_shape" and cell.sha256 != base.sha256
    entry = cell.meta["provenance"]["Positive electrode/Diffusivity [m2.s-1]"]
    assert entry["source"] == "test shape"
    assert base.sha256 in entry["replaces"] and base.sha256 in cell.description
    assert base.bpx["Parameterisation"]["Positive electrode"]["Diffusivity [m2.s-1]"] == 4e-15
    d_new = cell.parameter_values()["Positive particle diffusivity [m2.s-1]"]
    d_old = base.parameter_values()["Positive particle diffusivity [m2.s-1]"]
    pv = base.parameter_values()
    for sto in (0.3, 0.9):
        for temp in (283.15, 318.15):  # the set's activation energy still applies
            new = pv.evaluate(d_new(pybamm.Scalar(sto), pybamm.Scalar(temp)))
            old = pv.evaluate(d_old(pybamm.Scalar(sto), pybamm.Scalar(temp)))
            assert float(new) == pytest.approx((1 + sto) * float(old), rel=1e-12)


def test_with_values_refuses_unknown_keys_bad_values_and_code():
    from cellmodels.fitting import with_values

    with pytest.raises(ParameterError, match="Positive electrode/Diffusivity"):
        with_values("lgm50", {"Positive electrode/Difusivity [m2.s-1]": 1e-15}, source="s")
    with pytest.raises(InputError, match="must be a number, an expression"):
        with_values("lgm50", {"Positive electrode/Diffusivity [m2.s-1]": [1e-15]}, source="s")
    with pytest.raises(ParameterError, match="a call to os.system"):  # parsed, not run
        with_values("lgm50", {"Positive electrode/Diffusivity [m2.s-1]": "os.system('x')"},
                    source="s")
    with pytest.raises(ParameterError, match="range"):  # a number keeps the cited range
        with_values("lgm50", {"Positive electrode/Diffusivity [m2.s-1]": 1.0}, source="s")
    with pytest.raises(InputError, match="source"):
        with_values("lgm50", {"Positive electrode/Diffusivity [m2.s-1]": 1e-15}, source=" ")


def test_factor_on_a_replaced_function_is_fitted_and_saved_with_both_sources(tmp_path):
    from cellmodels.fitting import with_values

    cell = with_values("lgm50", {"Positive electrode/Diffusivity [m2.s-1]": _D_SHAPE},
                       source="test shape", name="lgm50_shape")
    name = "Positive electrode/Diffusivity [m2.s-1] (factor)"
    ds = _pulse_dataset()
    p = PhysicsProblem(cell, [Experiment(ds, initial_soc=0.6)],
                       [FitParameter(name, initial=0.3, bounds=(0.01, 100.0))],
                       model="SPM", thermal="isothermal", var_pts=COARSE)
    v = ds.voltage_V.copy()
    v[p._prepared[0].idx] = p.residuals_per_experiment(p.x0)[0].voltage_model_V
    synth = Dataset(time_s=ds.time_s, current_A=ds.current_A, voltage_V=v, name="synthetic",
                    source=ds.source, temperature_K=ds.temperature_K)
    res = fit_physics(cell, [Experiment(synth, initial_soc=0.6)],
                      [FitParameter(name, bounds=(0.01, 100.0))], model="SPM",
                      thermal="isothermal", var_pts=COARSE, progress=False)
    assert res.success, res.message
    # Noise-free data from the same model; the 2C pulse moves V by ~10 mV per decade of
    # the diffusivity, and the solver's 1e-6 tolerance leaves ~1e-4 of the factor.
    assert res.values[name] == pytest.approx(0.3, rel=1e-3)
    out = save_fitted(res, cell, tmp_path / "shape_fitted.json")
    doc = json.loads(out.read_text())
    assert doc["Parameterisation"]["Positive electrode"]["Diffusivity [m2.s-1]"].startswith(
        f"({_D_SHAPE}) * ")
    prov = doc["cellmodels"]["provenance"]["Positive electrode/Diffusivity [m2.s-1]"]
    assert prov["fit"]["value"] == res.values[name]
    assert prov["scaled_value"]["source"] == "test shape"  # the shape's source is kept
    assert prov["fit"]["base_set"]["sha256"] == cell.sha256
    reloaded = cm.load_cell(out).parameter_values()["Positive particle diffusivity [m2.s-1]"]
    import pybamm

    pv = cell.parameter_values()
    got = pv.evaluate(reloaded(pybamm.Scalar(0.5), pybamm.Scalar(298.15)))
    assert float(got) == pytest.approx(res.values[name] * 4e-15 * 1.5, rel=1e-12)


def test_plain_and_sensitivity_solves_keep_their_own_set_up(spm_problem, monkeypatch):
    # PyBaMM sets a solver up again (symbolic work: 12-17 s on the LG M50 fit's six DFN
    # experiments) whenever the sensitivities asked for differ from its last solve; a fit
    # alternates residuals and Jacobians, so each kind has its own model and solver, and
    # alternating them sets nothing up again.
    import pybamm

    p = spm_problem
    x = p.x0 + np.array([0.05, 0.05, 0.01])
    p.evaluate(x)
    p.evaluate(x, jacobian=True)  # both kinds built and set up
    calls = []
    original = pybamm.BaseSolver.set_up
    monkeypatch.setattr(pybamm.BaseSolver, "set_up",
                        lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    for k in range(4):
        p.evaluate(x + 1e-3 * (k + 1), jacobian=bool(k % 2))
    assert calls == []
    prep = p._prepared[0]
    assert prep.runner[1] is not prep.sens_runner[1]
