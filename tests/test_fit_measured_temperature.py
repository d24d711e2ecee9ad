"""Physics fitting with the measured temperature imposed (``thermal="measured"``)."""

import numpy as np
import pytest

from cellmodels.errors import InputError
from cellmodels.fitting import Experiment, FitParameter, PhysicsProblem, predict
from cellmodels.measured import Dataset

#: Coarse SPM mesh: the tests check the machinery and the direction of the physics.
COARSE = {"x_n": 5, "x_s": 5, "x_p": 5, "r_n": 8, "r_p": 8}
#: A 1C (5 A) discharge of the lgm50 cell from SOC 0.8 for 600 s.
T_END_S = 600.0


def _discharge(temperature_K, name="synthetic 1C", with_temperature=True):
    """Rest sample, then 5 A for 600 s, irregularly sampled; the measured voltage is a
    placeholder (these tests look at the model side)."""
    t = np.concatenate([[0.0], np.linspace(1.0, 200.0, 40), np.linspace(203.0, T_END_S, 57)])
    i = np.where(t > 0, 5.0, 0.0)
    temp = temperature_K(t) if callable(temperature_K) else np.full(t.size, temperature_K)
    return Dataset(time_s=t, current_A=i, voltage_V=np.full(t.size, 3.9), name=name,
                   source="synthetic", temperature_K=temp if with_temperature else None)


def _ramp(t):
    """A trace that is neither constant nor linear: 15 degC rising by 12 K, with a bump."""
    return 288.15 + 12.0 * t / T_END_S + 2.0 * np.sin(t / 40.0)


def _problem(ds, thermal="measured", params=(), **kw):
    return PhysicsProblem("lgm50", [Experiment(ds, initial_soc=0.8, **kw)], list(params),
                          model="SPM", thermal=thermal, var_pts=COARSE, rtol=1e-9, atol=1e-9)


def test_model_temperature_is_the_imposed_trace():
    ds = _discharge(_ramp)
    p = _problem(ds, params=["User-defined/Contact resistance [Ohm]"])
    res = p.residuals_per_experiment(p.x0)[0]
    assert res.model_end_s is None
    # The output times are the sample times, which are the interpolant's knots: the
    # model's temperature there is the measured value itself (PyBaMM's isothermal
    # submodel returns T_amb(t) with no solver state in between), so only float
    # round-off (~1e-13 K on 300 K) separates them.
    np.testing.assert_allclose(res.temperature_model_K, res.temperature_measured_K,
                               atol=1e-9, rtol=0)
    # ... and the trace really varies (a model held at its first sample would be 13 K off).
    assert np.ptp(res.temperature_measured_K) > 10.0


def test_constant_trace_reproduces_the_isothermal_model():
    ds = _discharge(303.15)
    measured = _problem(ds).residuals_per_experiment(np.array([]))[0]
    iso = _problem(ds, thermal="isothermal").residuals_per_experiment(np.array([]))[0]
    # Same equations (T_amb a constant interpolant vs a constant): both solves to
    # rtol = atol = 1e-9, so 1e-6 V leaves three decades for the solver's steps.
    np.testing.assert_allclose(measured.voltage_model_V, iso.voltage_model_V, atol=1e-6,
                               rtol=0)


def test_a_cooler_trace_gives_a_lower_discharge_voltage():
    cool = _problem(_discharge(lambda t: _ramp(t) - 10.0)).residuals_per_experiment(
        np.array([]))[0]
    warm = _problem(_discharge(lambda t: _ramp(t) + 10.0)).residuals_per_experiment(
        np.array([]))[0]
    loaded = cool.current_A > 0
    gap = warm.voltage_model_V - cool.voltage_model_V
    # 20 K colder: slower kinetics, diffusion and electrolyte transport (Arrhenius), so a
    # larger overpotential at 1C. The rest sample carries only the OCPs' entropic shift
    # (measured: +1.0 mV over these 20 K); under load the gap must be well beyond it
    # (measured: 49-73 mV), i.e. an overpotential effect and not the OCV's.
    assert not loaded[0] and abs(gap[0]) < 0.005
    assert np.all(gap[loaded] > 10.0 * abs(gap[0]))


def test_sensitivities_with_an_imposed_trace_match_central_differences():
    params = [FitParameter("Negative electrode/Diffusivity [m2.s-1]"),
              FitParameter("Negative electrode/Reaction rate constant [mol.m-2.s-1]"),
              FitParameter("User-defined/Contact resistance [Ohm]", bounds=(0.0, 0.05))]
    p = _problem(_discharge(_ramp), params=params)
    x = p.x0 + np.array([0.1, -0.2, 0.05])
    _, J, _ = p.evaluate(x, jacobian=True)
    h = 1e-4
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h
        fd = (p.evaluate(x + e)[0] - p.evaluate(x - e)[0]) / (2 * h)
        scale = np.max(np.abs(fd))
        assert scale > 0
        # As in test_fitting_physics: O(h^2) truncation ~1e-8, solver noise rtol / h ~
        # 1e-5 relative; the interpolant is a constant of the model, not an input.
        np.testing.assert_allclose(J[:, k], fd, atol=1e-3 * scale, rtol=0)


def test_predict_leaves_out_heat_only_values_under_measured():
    ds = _discharge(_ramp)
    exp = [Experiment(ds, initial_soc=0.8)]
    base = predict("lgm50", exp, values={"User-defined/Contact resistance [Ohm]": 0.02},
                   model="SPM", thermal="measured", var_pts=COARSE)[0]
    with_heat = predict("lgm50", exp, values={
        "User-defined/Contact resistance [Ohm]": 0.02,
        "State/Heat transfer coefficient [W.m-2.K-1]": 50.0}, model="SPM",
        thermal="measured", var_pts=COARSE)[0]
    np.testing.assert_array_equal(base.voltage_model_V, with_heat.voltage_model_V)


def test_an_experiment_without_temperature_is_refused_by_name():
    ds = _discharge(298.15, name="no thermocouple", with_temperature=False)
    with pytest.raises(InputError, match="'no thermocouple'.*no temperature column"):
        _problem(ds)


def test_comparing_temperature_under_measured_is_refused():
    with pytest.raises(InputError, match="input, not a prediction"):
        _problem(_discharge(_ramp, name="rate test"), temperature=True)


def test_other_bad_input_under_measured_is_refused():
    ds = _discharge(_ramp)
    with pytest.raises(InputError, match="ambient_temperature_K=300.0 is not used"):
        _problem(ds, ambient_temperature_K=300.0)
    with pytest.raises(InputError, match="enters only the heat equation"):
        _problem(ds, params=["State/Heat transfer coefficient [W.m-2.K-1]"])
    with pytest.raises(InputError, match="no heat equation"):
        PhysicsProblem("lgm50", [Experiment(ds, initial_soc=0.8)], [], model="SPM",
                       thermal="measured", heat_of_mixing="quasi-steady")
    with pytest.raises(InputError, match="thermal.*'measured'.*'prescribed'"):
        _problem(ds, thermal="prescribed")
