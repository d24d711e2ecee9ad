"""The UPS around the kernel: configuration, controller, grid events, BMS limits, energy
balance, results and their file."""

import h5py
import numpy as np
import pytest

from cellmodels.errors import FileFormatError, InputError, ParameterError
from cellmodels.ups import (
    UPSConfig,
    init,
    load_config,
    load_result,
    simulate_ups,
    step,
    ups_params,
)

from .test_ups_kernel import ct_ecm, hys_ecm, varied_ecm

DT = 1e-3
RECT = {"rated_W": 600.0, "efficiency": [[0.0, 0.93], [0.3, 0.965], [1.0, 0.955]]}
INV = {"rated_W": 500.0, "efficiency": [[0.0, 0.94], [0.4, 0.97], [1.0, 0.96]]}


def config(**sections):
    d = {"rectifier": RECT, "inverter": INV,
         "controller": {"filter_time_constant_s": 10.0, "ramp_limit_W_per_s": 20.0,
                        "soc_restore_time_s": 900.0}}
    for key, value in sections.items():
        d[key] = {**d.get(key, {}), **value}
    return UPSConfig.from_dict(d)


def square(n, low, high, period_s=2.0):
    t = np.arange(n) * DT
    return np.where((t % period_s) < period_s / 2, high, low)


def test_unknown_config_key_is_refused_with_a_suggestion():
    with pytest.raises(ParameterError, match=r"Unknown key 'ramp_limt_W_per_s' in "
                                             r"\[controller\]. Did you mean "
                                             r"'ramp_limit_W_per_s'\?"):
        UPSConfig.from_dict({"rectifier": RECT, "inverter": INV,
                             "controller": {"ramp_limt_W_per_s": 5.0}})
    with pytest.raises(ParameterError, match=r"Unknown key 'batery' in the UPS "
                                             r"configuration. Did you mean 'battery'\?"):
        UPSConfig.from_dict({"rectifier": RECT, "inverter": INV, "batery": {}})


def test_config_reads_toml_and_round_trips(tmp_path):
    path = tmp_path / "ups.toml"
    path.write_text("""
[rectifier]
rated_W = 600.0
efficiency = [[0.0, 0.93], [0.3, 0.965], [1.0, 0.955]]
[inverter]
rated_W = 500.0
[battery]
n_series = 4
n_parallel = 2
capacity_spread = 0.02
[battery.dcdc]
rated_W = 400.0
[controller]
ramp_limit_W_per_s = 50.0
soc_band = [0.4, 0.6]
[[grid.events]]
start_s = 10.0
duration_s = 2.5
voltage = 0.0
[grid.generator]
rated_W = 800.0
start_delay_s = 1.0
""")
    cfg = load_config(path)
    assert cfg.battery.n_series == 4 and cfg.battery.dcdc.rated_W == 400.0
    assert cfg.grid.events[0].duration_s == 2.5 and cfg.controller.soc_band == (0.4, 0.6)
    assert UPSConfig.from_dict(cfg.to_dict()) == cfg


def test_config_values_are_range_checked():
    with pytest.raises(ParameterError, match=r"The 'soc_target' field of \[controller\] must "
                                             r"be in the range \[0, 1\]. Got 1.5 instead."):
        config(controller={"soc_target": 1.5})
    with pytest.raises(ParameterError, match="efficiencies in \\(0, 1\\]"):
        UPSConfig.from_dict({"rectifier": {"rated_W": 1.0, "efficiency": [[0, 1.2]]},
                             "inverter": INV})
    with pytest.raises(ParameterError, match="needs 'rated_W'"):
        UPSConfig.from_dict({"rectifier": {}, "inverter": INV})


def test_grid_event_off_the_time_grid_is_refused():
    cfg = config(grid={"events": [{"start_s": 1.0005, "duration_s": 1.0}]})
    with pytest.raises(ParameterError, match=r"'start_s' of grid event 0 = 1.0005 s is not "
                                             r"on the time grid \(dt = 0.01 s\)"):
        ups_params(varied_ecm(), cfg, 0.01)


def test_bad_load_samples_are_named():
    ecm, cfg = varied_ecm(), config()
    load = np.full(100, 100.0)
    load[17] = np.inf
    with pytest.raises(InputError, match="The load profile holds inf at sample 17"):
        simulate_ups(ecm, load, cfg, dt_s=DT)
    load[17] = -1.0
    with pytest.raises(InputError, match="must be >= 0 W .* Got -1.0 at sample 17"):
        simulate_ups(ecm, load, cfg, dt_s=DT)

    class Profile:
        time_s = np.array([0.0, 0.001, 0.002, 0.002, 0.004])
        power_W = np.full(5, 10.0)

    with pytest.raises(InputError, match="must increase. Got 0.002 then 0.002 at sample 3"):
        simulate_ups(ecm, Profile(), cfg)
    Profile.time_s = np.array([0.0, 0.001, 0.002, 0.0035, 0.004])
    with pytest.raises(InputError, match="regular time grid .* step at sample 3"):
        simulate_ups(ecm, Profile(), cfg)


def test_smoothing_cuts_the_grid_oscillation_and_holds_the_ramp_limit():
    ecm = varied_ecm()
    load = square(120_000, 100.0, 200.0)  # 50 % swing, 2 s period
    off = simulate_ups(ecm, load, config(controller={"smoothing": False}), dt_s=DT)
    on = simulate_ups(ecm, load, config(), dt_s=DT)
    band = "0.1-2Hz"
    m_off, m_on = off.metrics(), on.metrics()
    # without smoothing the grid sees the load's swing (through the converters)
    assert m_off["oscillation_W"][f"grid_{band}"] == pytest.approx(
        m_off["oscillation_W"][f"load_{band}"], rel=0.1)
    assert m_off["oscillation_W"][f"grid_{band}"] >= 10 * m_on["oscillation_W"][f"grid_{band}"]
    assert m_on["oscillation_reduction"][band] >= 10
    assert m_on["grid_max_ramp_W_per_s"] <= 20.0 * (1 + 1e-9)
    assert m_off["grid_max_ramp_W_per_s"] > 1e4
    assert m_on["limit_activations"] == 0 and m_on["unserved_J"] == 0
    assert m_on["soc_inside_band"]
    assert m_on["equivalent_full_cycles_per_day"] > 10 * m_off["equivalent_full_cycles_per_day"]


@pytest.mark.parametrize("ecm_factory", [varied_ecm, ct_ecm])
def test_energy_balances_with_converters_events_and_limits(ecm_factory):
    ecm = ecm_factory()  # ct_ecm: with the charge-transfer element (its heat I eta_ct)
    cfg = config(
        battery={"n_series": 2, "n_parallel": 2, "resistance_spread": 0.05,
                 "capacity_spread": 0.03, "dcdc": {"rated_W": 600.0,
                                                   "efficiency": [[0, 0.95], [1, 0.98]]}},
        grid={"capacity_W": 700.0, "events": [
            {"start_s": 5.0, "duration_s": 3.0, "voltage": 0.9},
            {"start_s": 20.0, "duration_s": 8.0, "voltage": 0.0}],
            "generator": {"rated_W": 650.0, "start_delay_s": 3.0, "ramp_s": 2.0}},
        bms={"current_max_discharge_A": 60.0})
    load = square(40_000, 150.0, 420.0, period_s=3.0)
    res = simulate_ups(ecm, load, cfg, dt_s=DT, full_resolution=True)
    e = res.energy_J
    losses = e["loss_rectifier_J"] + e["loss_inverter_J"] + e["loss_dcdc_J"]
    # at the terminals: grid + battery = load + converter losses
    assert e["grid_J"] + e["battery_J"] == pytest.approx(e["load_served_J"] + losses, rel=1e-9)
    # with the chemistry: grid + chemical = load + losses + battery heat (1e-6 relative)
    lhs = e["grid_J"] + e["battery_chemical_J"]
    rhs = e["load_served_J"] + losses + e["battery_irreversible_heat_J"]
    assert abs(lhs - rhs) <= 1e-6 * e["load_served_J"]
    assert abs(res.energy_balance_residual_J()) <= 1e-9 * e["load_served_J"]
    # the full-resolution channels integrate to the energies
    assert np.sum(res.full["grid_W"]) * DT == pytest.approx(e["grid_J"], rel=1e-12)
    assert np.sum(res.full["loss_W"]) * DT == pytest.approx(losses, rel=1e-9)
    assert e["unserved_J"] + e["load_served_J"] == pytest.approx(e["load_demand_J"], rel=1e-12)
    # during the outage the grid delivers nothing until the generator ramps in
    t = np.arange(load.size) * DT
    outage = (t >= 20.0) & (t < 23.0)
    assert np.all(res.full["grid_W"][outage] == 0.0)
    ramp = (t >= 23.0) & (t < 25.0)
    assert np.all(res.full["grid_W"][ramp] <= 650.0 * (t[ramp] - 23.0) / 2.0 + 1e-9)


@pytest.mark.parametrize("ecm_factory", [varied_ecm, ct_ecm])
def test_limit_activations_are_counted_and_the_grid_takes_the_excess(ecm_factory):
    ecm = ecm_factory()
    cfg = config(bms={"current_max_discharge_A": 30.0}, output={"full_resolution": True})
    t = np.arange(40_000) * DT
    load = np.full(t.size, 100.0)
    for start in (5.0, 15.0, 25.0):  # three bursts the battery cannot give alone
        load[(t >= start) & (t < start + 1.0)] = 400.0
    res = simulate_ups(ecm, load, cfg, dt_s=DT)
    lim = res.limits["current_discharge"]
    assert lim["activations"] == 3
    assert lim["steps"] > 1000 and lim["energy_J"] > 0
    assert res.limits["grid_ramp"]["activations"] >= 3  # the grid saw the excess
    assert np.max(res.full["current_A"]) <= 30.0 * (1 + 1e-12)
    assert res.energy_J["unserved_J"] == 0.0  # nothing clipped: the grid served it
    np.testing.assert_allclose(res.full["load_served_W"], load)
    assert res.metrics()["limit_activations"] == sum(
        v["activations"] for v in res.limits.values())
    assert "current_discharge x3" in res.message


def test_outage_is_carried_when_sized_and_reported_when_not():
    ecm = varied_ecm()
    events = {"events": [{"start_s": 5.0, "duration_s": 10.0, "voltage": 0.0}],
              "generator": {"rated_W": 600.0, "start_delay_s": 10.0, "ramp_s": 3.0}}
    load = np.full(25_000, 250.0)
    sized = simulate_ups(ecm, load, config(grid=events), dt_s=DT)
    m = sized.metrics()
    assert m["unserved_J"] == 0.0 and sized.limits["unserved"]["activations"] == 0
    assert m["ride_through_margin_s"] > 0 and m["ride_through_power_ok"]
    # a BMS that lets the string give only ~25 A cannot carry 250 W (~ 70 A)
    small = simulate_ups(ecm, load, config(grid=events, bms={"current_max_discharge_A": 25.0}),
                         dt_s=DT)
    ms = small.metrics()
    assert ms["unserved_J"] > 0
    assert small.limits["unserved"]["activations"] == 1
    assert small.limits["unserved"]["duration_s"] == pytest.approx(10.0, abs=1e-6)
    assert small.limits["current_discharge"]["activations"] >= 1
    assert "Unserved energy" in small.message
    e = small.energy_J
    assert e["load_served_J"] + e["unserved_J"] == pytest.approx(e["load_demand_J"], rel=1e-12)


def test_decimated_bins_keep_the_peaks():
    ecm = varied_ecm()
    load = square(30_000, 100.0, 200.0, period_s=0.05)  # 20 Hz: invisible in 1 s means
    res = simulate_ups(ecm, load, config(), dt_s=DT, full_resolution=True)
    for ch in ("current_A", "grid_W", "voltage_V", "load_W"):
        full = res.full[ch].reshape(-1, 1000)
        np.testing.assert_array_equal(res.max(ch), full.max(axis=1))
        np.testing.assert_array_equal(res.min(ch), full.min(axis=1))
        np.testing.assert_allclose(res.mean(ch), full.mean(axis=1), rtol=1e-12, atol=1e-12)
    # a 20 Hz square swing of +-50 W shows in 3-30 Hz on the load side as its fundamental,
    # 4/pi * 50 W (its harmonics are above 30 Hz), through the 4 ms spectral bins
    assert res.metrics()["oscillation_W"]["load_3-30Hz"] == pytest.approx(
        4 / np.pi * 50, rel=0.01)


def test_ups_step_by_step_equals_the_run():
    ecm = varied_ecm()
    cfg = config(battery={"n_series": 2, "resistance_spread": 0.1})
    load = square(50, 100.0, 300.0, period_s=0.02)
    res = simulate_ups(ecm, load, cfg, dt_s=DT, full_resolution=True)
    params = ups_params(ecm, cfg, DT)
    state = init(params, load_W=load[0])
    grid = []
    for p in load:
        state = step(params, state, p, DT)
        grid.append(state.outputs["grid_W"])
    np.testing.assert_allclose(grid, res.full["grid_W"], rtol=1e-13)
    np.testing.assert_allclose(state.cells.soc, res.cells["soc"], rtol=1e-13)


def test_result_file_round_trips_with_units(tmp_path):
    ecm = varied_ecm()
    res = simulate_ups(ecm, square(5_000, 100.0, 200.0), config(), dt_s=DT)
    path = res.save(tmp_path / "run.h5")
    back = load_result(path)
    for ch in res.decimated:
        np.testing.assert_array_equal(back.decimated[ch], res.decimated[ch])
    assert back.energy_J == res.energy_J and back.limits == res.limits
    assert back.metrics()["oscillation_W"] == res.metrics()["oscillation_W"]
    with h5py.File(path, "r") as f:
        assert f["decimated/grid_W"].attrs["unit"] == "W"
        assert f["decimated/temperature_max_K"].attrs["unit"] == "K"
        assert f["energy/grid_J"].attrs["unit"] == "J"
        f.attrs  # noqa: B018
    assert not list(tmp_path.glob(".*.part"))  # written atomically, nothing left over
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(FileFormatError, match="schema version 99; this cellmodels reads"):
        load_result(path)
    path.write_bytes(b"not hdf5")
    with pytest.raises(FileFormatError, match="corrupt or truncated"):
        load_result(path)


def test_a_dutycycles_profile_runs_as_its_grid_values():
    from cellmodels.dutycycles import synchronized_training

    prof = synchronized_training(rack_peak_W=300.0, duration_s=20.0, dt_s=DT,
                                 checkpoint_interval_s=None, job_start_ramp_s=1.0,
                                 job_stop_ramp_s=1.0, seed=4)
    ecm, cfg = varied_ecm(), config()
    a = simulate_ups(ecm, prof, cfg)
    b = simulate_ups(ecm, prof.to_grid(DT), cfg, dt_s=DT)
    assert a.n_steps == 20_000 and a.energy_J == b.energy_J
    # on another grid the profile is resampled keeping its edges and energy
    c = simulate_ups(ecm, prof, cfg, dt_s=2 * DT)
    assert c.n_steps == 10_000
    assert c.energy_J["load_demand_J"] == pytest.approx(prof.energy_Wh * 3600, rel=1e-12)


def test_a_run_resumes_from_its_final_state():
    ecm = varied_ecm()
    cfg = config(battery={"n_series": 3, "resistance_spread": 0.05},
                 grid={"events": [{"start_s": 6.0, "duration_s": 2.0}]})
    load = square(12_000, 120.0, 260.0)
    whole = simulate_ups(ecm, load, cfg, dt_s=DT)
    first = simulate_ups(ecm, load[:5_000], cfg, dt_s=DT)
    second = simulate_ups(ecm, load[5_000:], cfg, dt_s=DT, initial_state=first.final_state)
    np.testing.assert_allclose(second.cells["soc"], whole.cells["soc"], rtol=1e-13)
    for key in ("grid_J", "battery_chemical_J", "unserved_J"):
        assert first.energy_J[key] + second.energy_J[key] == pytest.approx(
            whole.energy_J[key], rel=1e-12, abs=1e-9)
    assert second.final_state.step_index == 12_000


def test_a_bms_limit_at_the_validity_bound_does_not_warn():
    # the ECM was identified up to 200 A; the BMS holds the cells at exactly 200 A, which
    # the kernel reaches to round-off (warnings are errors in this test run)
    ecm = varied_ecm()
    cfg = config(bms={"current_max_discharge_A": 200.0},
                 inverter={"rated_W": 2000.0}, rectifier={"rated_W": 2000.0})
    load = np.full(3_000, 100.0)
    load[1000:2000] = 1200.0
    res = simulate_ups(ecm, load, cfg, dt_s=DT)
    assert res.limits["current_discharge"]["activations"] == 1
    assert res.run["cell_current_max_A"] == pytest.approx(200.0, rel=1e-12)


def test_a_sag_limits_the_rectifier_and_the_battery_makes_up_the_rest():
    ecm = varied_ecm()
    # the rectifier is rated 600 W out (600 / 0.955 W in); a sag to 0.7 (the rectifier
    # rides through down to 0.5 here) leaves it 70 % of that input
    cfg = config(controller={"smoothing": False},
                 grid={"min_voltage": 0.5,
                       "events": [{"start_s": 1.0, "duration_s": 1.0, "voltage": 0.7}]})
    load = np.full(3_000, 480.0)
    res = simulate_ups(ecm, load, cfg, dt_s=DT, full_resolution=True)
    t = np.arange(load.size) * DT
    sag = (t >= 1.0) & (t < 2.0)
    cap = 0.7 * 600.0 / 0.955
    np.testing.assert_allclose(res.full["grid_W"][sag], cap, rtol=1e-12)
    assert np.all(res.full["battery_W"][sag] > 0) and np.all(res.full["grid_W"][~sag] > cap)
    assert res.energy_J["unserved_J"] == 0.0


def test_voltage_limit_holds_with_the_charge_transfer_element():
    # with the element the group voltage's bound is found by Newton (from the small-signal
    # string's, R0 + R_ct, which the element's voltage, below R_ct |I|, has not reached)
    ecm = ct_ecm()
    cfg = config(bms={"voltage_min_V": 3.3}, output={"full_resolution": True})
    t = np.arange(20_000) * DT
    load = np.full(t.size, 100.0)
    load[(t >= 5.0) & (t < 6.0)] = 450.0
    res = simulate_ups(ecm, load, cfg, dt_s=DT)
    assert res.limits["voltage_min"]["activations"] == 1
    # held at the limit, not below nor (as the small-signal bound would, by ~26 mV) above:
    # the solve's stopping rule leaves ~1e-20 relative, the voltage's round-off ~1e-15 V
    limited = (t >= 5.0) & (t < 6.0)  # the burst: the battery alone cannot give it
    assert res.limits["voltage_min"]["steps"] == np.sum(limited)
    np.testing.assert_allclose(res.full["cell_voltage_min_V"][limited], 3.3, rtol=0,
                               atol=1e-12)
    assert res.energy_J["unserved_J"] == 0.0
    np.testing.assert_allclose(res.full["load_served_W"], load)


# ---- the OCV hysteresis ------------------------------------------------------------------
def test_initial_hysteresis_is_checked():
    with pytest.raises(ParameterError, match=r"The 'initial_hysteresis' field of \[battery\] "
                                             r"must be in the range \[-1, 1\]. Got 1.5 "
                                             r"instead."):
        config(battery={"initial_hysteresis": 1.5})
    cfg = config(battery={"initial_hysteresis": -0.25, "n_series": 2})
    with pytest.raises(InputError, match="The 'initial_hysteresis' field of \\[battery\\] is for "
                                         "an ECM with hysteresis; the ECM 'varied' has none. "
                                         "Got -0.25."):
        ups_params(varied_ecm(), cfg, DT)
    state = init(ups_params(hys_ecm(h0=0.5), cfg, DT))
    assert state.cells.hysteresis.tolist() == [-0.25]  # lumped: one cell for the two
    assert init(ups_params(hys_ecm(h0=0.5), config(), DT)).cells.hysteresis.tolist() == [0.5]


def test_hysteresis_in_the_ups_matches_simulate_ecm():
    # one cell, the start hold: the UPS's battery power, fed to simulate_ecm, gives the
    # UPS's voltage to round-off (1e-9 V as the kernel's tests); the battery discharges on
    # the load's peaks and recharges between them (the grid follows the load's mean)
    from cellmodels.reduction import simulate_ecm

    ecm = hys_ecm(h0=0.0)
    cfg = config(battery={"power_hold": "start"}, output={"full_resolution": True})
    load = square(10_000, 60.0, 420.0, period_s=4.0)
    res = simulate_ups(ecm, load, cfg, dt_s=DT)
    p = res.full["battery_W"]
    assert p.min() < -10.0 and p.max() > 10.0
    ref = simulate_ecm(ecm, np.arange(p.size + 1) * DT, power_W=np.append(p, p[-1]),
                       initial_soc=0.5, temperature_K=298.15)
    np.testing.assert_allclose(res.full["voltage_V"], ref.voltage_V[:-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.cells["hysteresis"], ref.hysteresis[-1], rtol=0, atol=1e-12)
    dh = np.diff(ref.hysteresis)
    assert dh.min() < 0 < dh.max()


def test_hysteresis_ups_balances_limits_resumes_and_saves(tmp_path):
    # the mean hold (the source rebuilt at each reversal of the battery's power) in a
    # string with spread, through a current limit: energy closes, the limit holds, a run
    # resumes from its final state (h in it) and the file keeps each cell's h
    ecm = hys_ecm(h0=-0.2)
    cfg = config(battery={"n_series": 2, "n_parallel": 2, "resistance_spread": 0.05,
                          "capacity_spread": 0.03, "initial_hysteresis": 0.3},
                 bms={"current_max_discharge_A": 6.0})
    load = square(12_000, 60.0, 420.0, period_s=3.0)
    whole = simulate_ups(ecm, load, cfg, dt_s=DT, full_resolution=True)
    e = whole.energy_J
    assert abs(whole.energy_balance_residual_J()) <= 1e-9 * e["load_served_J"]
    # the hold's residual: h's drift past first order (and the RC's round-off), tiny
    assert abs(e["zoh_residual_J"]) <= 1e-10 * e["load_served_J"]
    assert whole.limits["current_discharge"]["activations"] > 0
    assert np.max(whole.full["current_A"]) <= 2 * 6.0 * (1 + 1e-9)
    assert whole.full["battery_W"].min() < 0 < whole.full["battery_W"].max()
    h = whole.cells["hysteresis"]
    assert h.shape == (4,) and np.all(np.abs(h) <= 1) and np.ptp(h) > 0
    first = simulate_ups(ecm, load[:5_000], cfg, dt_s=DT)
    second = simulate_ups(ecm, load[5_000:], cfg, dt_s=DT, initial_state=first.final_state)
    np.testing.assert_allclose(second.cells["hysteresis"], h, rtol=0, atol=1e-13)
    np.testing.assert_allclose(second.final_state.cells.hysteresis, h, rtol=0, atol=1e-13)
    back = load_result(whole.save(tmp_path / "hys.h5"))
    np.testing.assert_array_equal(back.cells["hysteresis"], h)
    np.testing.assert_array_equal(back.cells["rc_V"], whole.cells["rc_V"])
    assert back.cells["rc_V"].shape == (4, 2)
