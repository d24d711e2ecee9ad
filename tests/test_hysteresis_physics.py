"""OCP hysteresis from the physics set to the ECM: the set's extension keys, PyBaMM's
one-state hysteresis model, the reduction's mapping of its rate and gap, and the reduced
ECM against its DFN on charge/discharge swings that reverse the state."""

import json

import numpy as np
import pytest

from cellmodels.errors import ParameterError
from cellmodels.physics.cells import HYSTERESIS_KEYS, load_cell
from cellmodels.physics.models import model_options
from cellmodels.physics.simulate import simulate
from cellmodels.reduction import simulate_ecm
from cellmodels.reduction.identify import (
    ECMIdentifier,
    hysteresis_half_gap,
    hysteresis_of,
)

CELL = "liquid_lfp_ups"  # the LFP set with hysteresis (10 mV half-gap, rate 130)


@pytest.fixture(scope="module")
def cell():
    return load_cell(CELL)


def test_set_turns_on_pybamm_one_state_hysteresis(cell):
    assert model_options(cell)["open-circuit potential"] == ("single", "one-state hysteresis")
    pv = cell.parameter_values()
    y = np.array([0.1, 0.5, 0.9])
    # the set's OCP is a function of stoichiometry (its entropic term is separate)
    lith = np.array([pv["Positive electrode lithiation OCP [V]"](v) for v in y])
    delith = np.array([pv["Positive electrode delithiation OCP [V]"](v) for v in y])
    mean = np.array([pv["Positive electrode OCP [V]"](v) for v in y])
    # the branches are the set's (equilibrium) OCP -/+ the half-gap, exactly
    np.testing.assert_allclose(np.array(delith - mean, dtype=float), 0.010, atol=1e-12)
    np.testing.assert_allclose(np.array(mean - lith, dtype=float), 0.010, atol=1e-12)


def test_a_partial_hysteresis_is_refused(tmp_path):
    from cellmodels.physics import cells

    doc = json.loads((cells._sets_dir() / f"{CELL}.json").read_text())
    doc["Parameterisation"]["User-defined"].pop(HYSTERESIS_KEYS[1])
    doc["cellmodels"]["provenance"].pop("User-defined/" + HYSTERESIS_KEYS[1])
    doc["cellmodels"]["name"] = "partial_hysteresis"
    path = tmp_path / "partial_hysteresis.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ParameterError, match="needs 'Positive particle hysteresis decay rate'"):
        load_cell(path).parameter_values()


def test_rate_and_gap_map_to_soc(cell):
    """gamma_ECM = gamma_PyBaMM |y(1) - y(0)| / 2 (PyBaMM >= 25.10: 1 + h falls as
    exp(-gamma dsto / 2)); the half-gap is the set's at every SOC."""
    import pybamm

    pv = cell.parameter_values()
    _, y0 = pybamm.lithium_ion.get_initial_stoichiometries(0.0, pv)
    _, y1 = pybamm.lithium_ion.get_initial_stoichiometries(1.0, pv)
    rate, initial = hysteresis_of(cell)
    assert rate == pytest.approx(130.0 * abs(y1 - y0) / 2, rel=1e-12)
    assert initial == -1.0
    np.testing.assert_allclose(hysteresis_half_gap(cell, [0.0, 0.5, 1.0], 298.15), 0.010,
                               atol=1e-12)
    assert hysteresis_of(load_cell("semisolid_lfp_power")) is None


def test_reduced_ecm_follows_the_dfn_through_reversals(cell):
    """Identified on 5 SOC points at 25 degC (-0.6..1C sequence), then run against the
    isothermal DFN on 40 min of charge/discharge blocks (0.2-1C, 30-300 s) around 50 %
    SOC, which flip the hysteresis state back and forth. The ECM with its hysteresis
    element is within issue 4's held-out 5 mV RMSE (measured 3.84 mV: what is left is
    the linear circuit, +-3-4 mV that flips sign with the current's direction on this
    50 Ah energy cell, not the hysteresis); without the element the same ECM is more than
    twice as far off (measured 9.27 mV), the 20 mV gap showing after every reversal."""
    ecm = ECMIdentifier(n_rc=2, soc=[0.2, 0.35, 0.5, 0.65, 0.8], temperature_K=[298.15],
                        amplitude=0.2).fit(cell).ecm_
    assert ecm.has_hysteresis and ecm.hysteresis_initial == -1.0
    rng = np.random.default_rng(3)
    edges, rates = [0.0], []
    while edges[-1] < 2400.0:
        rates.append(rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 1.0))
        edges.append(edges[-1] + rng.uniform(30.0, 300.0))
    t = np.arange(0.0, edges[-1], 1.0)
    current = cell.capacity_Ah * np.array(rates)[np.searchsorted(edges, t, side="right") - 1]
    dfn = simulate(cell, initial_soc=0.5, temperature_K=298.15, time_s=t, current_A=current,
                   thermal="isothermal")
    kw = {"current_A": current, "initial_soc": 0.5, "temperature_K": 298.15, "thermal": False}
    with_h = simulate_ecm(ecm, t, **kw)
    without = simulate_ecm(ecm.replace(hysteresis_V=None, hysteresis_rate=None,
                                       hysteresis_initial=None), t, **kw)
    rmse = np.sqrt(np.mean((with_h.voltage_V - dfn.voltage_V) ** 2))
    rmse_without = np.sqrt(np.mean((without.voltage_V - dfn.voltage_V) ** 2))
    assert np.ptp(with_h.hysteresis) > 1.5  # the state did swing between the branches
    assert rmse < 5e-3
    assert rmse_without > 2 * rmse


def test_hysteresis_heat_is_in_the_heat_split(cell):
    """PyBaMM's hysteresis heating i_vol (U - U_eq) is a part of the cell's heat: on a
    discharge from the lithiation branch it is ~ I x half-gap (the local states sit on
    the branch), and the split still sums to the total."""
    run = simulate(cell, initial_soc=0.5, temperature_K=298.15,
                   current_A=0.5 * cell.capacity_Ah, duration_s=120.0)
    h = run.heat_W
    parts = (h["ohmic_W"] + h["irreversible_W"] + h["reversible_W"] + h["contact_W"]
             + h["hysteresis_W"])
    np.testing.assert_allclose(parts, h["total_W"], rtol=1e-9)
    # x-averaged over the electrode with a uniform h = -1: exactly I M (solver tolerance)
    np.testing.assert_allclose(h["hysteresis_W"][1:], 0.5 * cell.capacity_Ah * 0.010,
                               rtol=1e-3)
