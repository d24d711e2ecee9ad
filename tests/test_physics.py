"""Physics invariants of the models (PyBaMM's standard-output tests, for our cells)."""

import numpy as np
import pytest

import cellmodels as cm
from cellmodels.errors import InputError, SolverError
from cellmodels.physics.protocols import hppc, pulse_train

from .conftest import own_set


@pytest.fixture(scope="module")
def lfp():
    return cm.load_cell("aboutenergy_lfp")


def test_zero_current_holds_ocv(lfp):
    run = cm.simulate(lfp, initial_soc=0.6, temperature_K=298.15, current_A=0.0,
                      duration_s=600.0)
    # At rest from equilibrium nothing moves: only solver noise (rtol 1e-6 on ~3.3 V).
    np.testing.assert_allclose(run.voltage_V, run.ocv_V[0], atol=1e-5)
    np.testing.assert_allclose(run.soc, 0.6, atol=1e-9)


def test_discharge_lowers_soc_by_charge_passed(lfp):
    run = cm.simulate(lfp, initial_soc=0.8, temperature_K=298.15, current_A=2.0,
                      duration_s=360.0)
    # 2 A for 360 s = 0.2 Ah: SOC falls by 0.2 Ah over the charge between PyBaMM's 0 and
    # 100 % SOC (coulomb counting), which for this cell is 2.080 Ah, not the nominal 2 Ah.
    assert lfp.soc_capacity_Ah == pytest.approx(2.0801, abs=1e-4)
    assert run.soc[-1] == pytest.approx(0.8 - 0.2 / lfp.soc_capacity_Ah, abs=1e-9)
    assert np.all(np.diff(run.soc) < 0)


@pytest.mark.parametrize("contact_Ohm", [None, 0.005])
def test_heat_split_sums_to_total(tmp_path, contact_Ohm):
    def mutate(doc):
        if contact_Ohm is not None:
            doc["Parameterisation"]["User-defined"] = {"Contact resistance [Ohm]": contact_Ohm}

    cell = cm.load_cell(own_set(tmp_path, mutate))
    run = cm.simulate(cell, initial_soc=0.5, temperature_K=298.15, current_A=4.0,
                      duration_s=300.0)
    h = run.heat_W
    parts = (h["ohmic_W"] + h["irreversible_W"] + h["reversible_W"] + h["contact_W"]
             + h["hysteresis_W"])
    np.testing.assert_allclose(parts, h["total_W"], rtol=1e-9, atol=1e-12)
    assert np.all(h["total_W"] > 0)
    if contact_Ohm:
        np.testing.assert_allclose(h["contact_W"], 4.0**2 * contact_Ohm, rtol=1e-9)
    # the cell warms, and by no more than a heat balance allows: Q = m c dT with no cooling
    assert run.temperature_K[-1] > run.temperature_K[0]


def _semisolid_like_liquid(doc):
    doc["cellmodels"]["electrolyte_kind"] = "semisolid"
    doc["Parameterisation"]["User-defined"] = {
        "Initial negative electrode interface utilisation": 1.0,
        "Initial positive electrode interface utilisation": 1.0,
        "Interfacial film resistance [Ohm.m2]": 0.0,
    }


def test_semisolid_with_liquid_properties_and_full_wetting_equals_liquid(tmp_path):
    liquid = cm.load_cell(own_set(tmp_path, name="liquid"))
    semi = cm.load_cell(own_set(tmp_path, _semisolid_like_liquid, name="semi"))
    assert "interface utilisation" in cm.build_model(semi).options.keys()
    kw = dict(initial_soc=0.9, temperature_K=298.15, current_A=4.0, duration_s=900.0)
    a = cm.simulate(liquid, **kw)
    b = cm.simulate(semi, **kw)
    # Same equations once u = 1 and R_film = 0; differences are solver tolerance only.
    np.testing.assert_allclose(b.voltage_V, a.voltage_V, atol=2e-5)
    np.testing.assert_allclose(b.temperature_K, a.temperature_K, atol=1e-4)


def test_wetting_and_film_raise_the_resistance(tmp_path):
    def partly_wet(doc):
        _semisolid_like_liquid(doc)
        doc["Parameterisation"]["User-defined"].update({
            "Initial negative electrode interface utilisation": 0.5,
            "Interfacial film resistance [Ohm.m2]": 1e-3,
        })

    liquid = cm.load_cell(own_set(tmp_path, name="liquid"))
    semi = cm.load_cell(own_set(tmp_path, partly_wet, name="semi"))
    kw = dict(initial_soc=0.5, temperature_K=298.15, current_A=2.0, duration_s=10.0)
    assert cm.simulate(semi, **kw).voltage_V[-1] < cm.simulate(liquid, **kw).voltage_V[-1]


def test_constant_power_draws_that_power(lfp):
    run = cm.simulate(lfp, initial_soc=0.7, temperature_K=298.15, power_W=5.0,
                      duration_s=120.0)
    np.testing.assert_allclose(run.current_A * run.voltage_V, 5.0, rtol=1e-5)


def test_hppc_profile_edges_are_sharp(lfp):
    t, i = hppc(lfp.capacity_Ah)
    run = cm.simulate(lfp, initial_soc=0.5, temperature_K=298.15, current_A=i, time_s=t,
                      t_out=np.linspace(0, t[-1], 1101))
    # zero-order hold: the model sees exactly the programmed current between edges
    inside = (run.time_s > 0.01) & (run.time_s < 9.99)
    np.testing.assert_allclose(run.current_A[inside], 2.0, rtol=1e-12)
    charge = (run.time_s > 50.01) & (run.time_s < 59.99)
    np.testing.assert_allclose(run.current_A[charge], -1.5, rtol=1e-12)


def test_pulse_train_runs_and_returns_to_near_start(lfp):
    t, i = pulse_train(4.0, -4.0, period_s=2.0, cycles=20)
    run = cm.simulate(lfp, initial_soc=0.5, temperature_K=298.15, current_A=i, time_s=t)
    assert run.soc[-1] == pytest.approx(0.5, abs=1e-6)  # net zero charge


def test_solver_stopping_early_raises_with_state(lfp):
    with pytest.raises(SolverError, match=r"stopped at t = .* s of 3600 s .*voltage"):
        cm.simulate(lfp, initial_soc=0.2, temperature_K=298.15, current_A=4.0,
                    duration_s=3600.0, step="discharge 2C")


def test_discharge_until_cutoff_is_allowed_when_asked(lfp):
    run = cm.simulate(lfp, initial_soc=0.2, temperature_K=298.15, current_A=4.0,
                      duration_s=3600.0, stop_at_cutoff=True)
    assert run.stopped_at_cutoff and run.time_s[-1] < 3600.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"initial_soc": -0.1}, r"'initial_soc' argument of simulate must be in the range "
                                r"\[0, 1\]. Got -0.1"),
        ({"temperature_K": 200.0}, r"'temperature_K' for cell aboutenergy_lfp must be in"),
        ({"duration_s": -5.0}, r"'duration_s' argument of simulate must be in the range "
                               r"\(0, inf\]. Got -5.0"),
    ],
)
def test_simulate_bad_input(lfp, kwargs, match):
    args = dict(initial_soc=0.5, temperature_K=298.15, current_A=1.0, duration_s=10.0)
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        cm.simulate(lfp, **args)


def test_profile_with_nan_is_refused(lfp):
    with pytest.raises(InputError, match="NaN or inf at sample 1"):
        cm.simulate(lfp, initial_soc=0.5, temperature_K=298.15,
                    current_A=[1.0, float("nan"), 1.0], time_s=[0.0, 1.0, 2.0])


@pytest.mark.parametrize("model", ["SPM", "SPMe", "DFN"])
def test_every_model_runs_for_liquid_and_semisolid(tmp_path, model):
    def semisolid(doc):
        _semisolid_like_liquid(doc)
        doc["Parameterisation"]["User-defined"].update({
            "Initial negative electrode interface utilisation": 0.8,
            "Interfacial film resistance [Ohm.m2]": 2e-4,
            "Negative electrode double-layer capacity [F.m-2]": 0.2,
            "Positive electrode double-layer capacity [F.m-2]": 0.2,
        })

    liquid = cm.load_cell(own_set(tmp_path, name="liquid"))
    semi = cm.load_cell(own_set(tmp_path, semisolid, name="semi"))
    kw = dict(initial_soc=0.5, temperature_K=298.15, current_A=2.0, duration_s=60.0,
              model=model)
    a = cm.simulate(liquid, **kw)
    b = cm.simulate(semi, **kw)
    assert b.voltage_V[-1] < a.voltage_V[-1] < a.ocv_V[0]
    assert b.heat_W["total_W"][-1] > a.heat_W["total_W"][-1] > 0


def test_profile_whose_last_sample_changes_value_is_closed_cleanly(lfp):
    # regression: a changed last value put two knots at the end time and gave NaN there
    run = cm.simulate(lfp, initial_soc=0.5, temperature_K=298.15,
                      current_A=[2.0, 4.0, 0.0], time_s=[0.0, 5.0, 10.0])
    assert np.all(np.isfinite(run.voltage_V))
    np.testing.assert_allclose(run.current_A[-1], 4.0, rtol=1e-12)
