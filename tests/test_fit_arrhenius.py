"""Fitting an activation energy: the fitted input moves the set's Arrhenius factor exactly as
the set rebuilt with that energy does; exact sensitivities; saved and reloaded."""

import copy
import json

import numpy as np
import pytest

import cellmodels as cm
from cellmodels.errors import InputError, ParameterError
from cellmodels.fitting import Experiment, FitParameter, PhysicsProblem, predict, save_fitted
from cellmodels.measured import Dataset

#: Coarse SPM mesh: the tests check the machinery, not the physics.
COARSE = {"x_n": 5, "x_s": 5, "x_p": 5, "r_n": 8, "r_p": 8}
EA_N = "Negative electrode/Diffusivity activation energy [J.mol-1]"
EA_P_K = "Positive electrode/Reaction rate constant activation energy [J.mol-1]"
EA_E = "Electrolyte/Conductivity activation energy [J.mol-1]"


def _pulse(temperature_K):
    """Rest, a 2C pulse for 60 s, rest, at ``temperature_K`` (voltage a placeholder)."""
    t = np.concatenate([[0.0], np.linspace(0.5, 60.0, 60), np.linspace(61.0, 120.0, 30)])
    i = np.where((t > 0) & (t <= 60.0), 10.0, 0.0)
    return Dataset(time_s=t, current_A=i, voltage_V=4.0 - 0.01 * i, name="pulse",
                   source="synthetic", temperature_K=np.full(t.size, temperature_K))


def _rebuilt(key: str, value: float, tmp_path) -> cm.Cell:
    """lgm50 with ``key`` set to ``value`` in its file, loaded through PyBaMM's BPX reader
    (the value's cited range dropped, so the plausible 0-120 kJ/mol range applies)."""
    cell = cm.load_cell("lgm50")
    doc, meta = copy.deepcopy(cell.bpx), copy.deepcopy(cell.meta)
    section, _, name = key.partition("/")
    doc["Parameterisation"][section][name] = value
    meta["provenance"][key] = {"source": "test: the set rebuilt with another energy"}
    meta["name"] = "lgm50_rebuilt"
    doc["cellmodels"] = meta
    path = tmp_path / "lgm50_rebuilt.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return cm.load_cell(path)


def _discharge(temperature_K):
    """Rest, 1C for 900 s, rest: long enough for the particle diffusivity to show."""
    t = np.concatenate([[0.0], np.linspace(5.0, 900.0, 180), np.linspace(910.0, 1200.0, 30)])
    i = np.where((t > 0) & (t <= 900.0), 5.0, 0.0)
    return Dataset(time_s=t, current_A=i, voltage_V=4.0 - 0.01 * i, name="discharge",
                   source="synthetic", temperature_K=np.full(t.size, temperature_K))


@pytest.mark.parametrize("key,model", [(EA_N, "SPM"), (EA_P_K, "SPM"), (EA_E, "SPMe")])
def test_fitted_activation_energy_equals_the_set_rebuilt_with_it(key, model, tmp_path):
    # At 1 degC (24 K below the set's 25 degC reference) 30 kJ/mol more scales the
    # function by exp(-30000 / R (1/274.15 - 1/298.15)) = 0.35.
    exp = [Experiment(_discharge(274.15), initial_soc=0.8)]
    cell = cm.load_cell("lgm50")
    section, _, name = key.partition("/")
    e1 = float(cell.bpx["Parameterisation"][section][name]) + 30000.0
    fitted = predict(cell, exp, values={key: e1}, model=model, thermal="isothermal",
                     var_pts=COARSE)[0].voltage_model_V
    rebuilt = predict(_rebuilt(key, e1, tmp_path), exp, model=model, thermal="isothermal",
                      var_pts=COARSE)[0].voltage_model_V
    base = predict(cell, exp, model=model, thermal="isothermal",
                   var_pts=COARSE)[0].voltage_model_V
    # The two build different expression trees for the same function; the solver's
    # tolerances (1e-6 relative on ~4 V) bound their difference.
    np.testing.assert_allclose(fitted, rebuilt, atol=2e-5, rtol=0)
    assert np.max(np.abs(fitted - base)) > 1e-3  # and the energy does move the voltage


def test_activation_energy_sensitivity_matches_central_differences():
    p = PhysicsProblem("lgm50", [Experiment(_discharge(274.15), initial_soc=0.8)],
                       [FitParameter(EA_N, bounds=(0.0, 80000.0))], model="SPM",
                       thermal="isothermal", var_pts=COARSE, rtol=1e-9, atol=1e-9)
    assert p.scaling == ("linear",)
    x = p.x0 + 0.05
    _, J, _ = p.evaluate(x, jacobian=True)
    h = 1e-4  # 8 J/mol
    fd = (p.evaluate(x + h)[0] - p.evaluate(x - h)[0]) / (2 * h)
    # Central differences carry O(h^2) truncation and solver noise / 2h (~1e-5 relative),
    # and where IDAKLU picks other steps in the +-h runs, its interpolation between them
    # (seen: one sample of 200 off by 0.2 % of the column's largest entry). The
    # sensitivities themselves are exact for the discretised model, so the columns must
    # agree to 1e-3 in the 2-norm (a missing factor of the energy's derivative fails it).
    assert np.max(np.abs(fd)) > 0
    assert np.linalg.norm(J[:, 0] - fd) <= 1e-3 * np.linalg.norm(fd)


def test_saved_activation_energy_reloads_into_the_same_model(tmp_path):
    from cellmodels.fitting import fit_physics

    ds = _discharge(274.15)
    p = PhysicsProblem("lgm50", [Experiment(ds, initial_soc=0.8)],
                       [FitParameter(EA_N, initial=30000.0, bounds=(0.0, 80000.0))],
                       model="SPM", thermal="isothermal", var_pts=COARSE)
    truth = p.residuals_per_experiment(p.x0)[0]
    v = ds.voltage_V.copy()
    v[p._prepared[0].idx] = truth.voltage_model_V
    synth = Dataset(time_s=ds.time_s, current_A=ds.current_A, voltage_V=v, name="synthetic",
                    source="synthetic", temperature_K=ds.temperature_K)
    res = fit_physics("lgm50", [Experiment(synth, initial_soc=0.8)],
                      [FitParameter(EA_N, bounds=(0.0, 80000.0))], model="SPM",
                      thermal="isothermal", var_pts=COARSE, progress=False)
    assert res.success, res.message
    # Noise-free data from the same model: only the solver's tolerance (1e-6 relative)
    # is left against a record that 30 kJ/mol moves by several mV at 1 degC.
    assert res.values[EA_N] == pytest.approx(30000.0, rel=1e-3)
    out = save_fitted(res, "lgm50", tmp_path / "ea_fitted.json", name="ea_fitted")
    doc = json.loads(out.read_text())
    assert doc["Parameterisation"]["Negative electrode"][
        "Diffusivity activation energy [J.mol-1]"] == res.values[EA_N]
    again = predict(cm.load_cell(out), [Experiment(synth, initial_soc=0.8)], model="SPM",
                    thermal="isothermal", var_pts=COARSE)[0].voltage_model_V
    np.testing.assert_allclose(again, truth.voltage_model_V, atol=2e-5, rtol=0)


def test_activation_energy_needs_bounds_when_the_set_has_none_and_names_are_distinct(tmp_path):
    # The set's own value is the start; a zero start has no default [x/10, 10x] range.
    cell = _rebuilt(EA_N, 0.0, tmp_path)
    with pytest.raises(InputError, match="Give 'bounds'"):
        PhysicsProblem(cell, [Experiment(_pulse(283.15), initial_soc=0.6)], [EA_N],
                       model="SPM", thermal="isothermal", var_pts=COARSE)
    # PyBaMM's diffusivity name still means the diffusivity, not its activation energy.
    from cellmodels.fitting.physics import _canonical

    assert _canonical("Negative particle diffusivity [m2.s-1]") == \
        "Negative electrode/Diffusivity [m2.s-1]"
    with pytest.raises(ParameterError, match="activation energy"):
        _canonical("Negative electrode/Diffusivity activation energy")
