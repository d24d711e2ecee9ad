"""The ECM object, its HDF5 file and the reference simulator against exact answers."""

import warnings

import h5py
import numpy as np
import pytest

from cellmodels.errors import FileFormatError, InputError, ParameterError
from cellmodels.reduction import ECM, ValidityWarning, load_ecm, save_ecm, simulate_ecm


def make_ecm(**changes):
    soc = np.linspace(0, 1, 11)
    temps = np.array([273.15, 298.15, 318.15])
    kw = dict(
        name="test",
        capacity_Ah=10.0,
        soc=soc,
        temperature_K=temps,
        ocv_V=3.0 + 1.2 * soc,
        docv_dT_V_per_K=-1e-4 + 2e-4 * soc,
        r0_Ohm=np.full((11, 3), 2e-3),
        rc_R_Ohm=np.stack([np.full((11, 3), 1e-3), np.full((11, 3), 0.5e-3)]),
        rc_tau_s=np.stack([np.full((11, 3), 2.0), np.full((11, 3), 60.0)]),
        thermal_mass_J_per_K=300.0,
        heat_transfer_W_per_K=0.5,
        limits={"voltage_min_V": 2.5, "voltage_max_V": 4.2},
        validity={"soc_min": 0.1, "soc_max": 0.9, "temperature_min_K": 273.15,
                  "temperature_max_K": 318.15, "current_max_A": 100.0},
        error={"rmse_V": 1.2e-3},
        provenance={"cell": "x", "sha256": "0" * 64},
    )
    kw.update(changes)
    return ECM(**kw)


def test_rc_step_matches_closed_form():
    ecm = make_ecm()
    t = np.linspace(0, 30, 301)
    i = np.where(t < 10, 20.0, 0.0)
    run = simulate_ecm(ecm, t, current_A=i, initial_soc=0.5, temperature_K=298.15,
                       thermal=False, max_step_s=0.1)
    # during the pulse: V = U(z(t)) - R0 I - sum R_k I (1 - exp(-t/tau_k))
    on = t < 10
    z = 0.5 - 20.0 * t / 36000.0
    exact = (3.0 + 1.2 * z - 2e-3 * 20 - 1e-3 * 20 * (1 - np.exp(-t / 2.0))
             - 0.5e-3 * 20 * (1 - np.exp(-t / 60.0)))
    np.testing.assert_allclose(run.voltage_V[on], exact[on], atol=1e-12)
    # after: the RC voltages decay from their values at 10 s
    off = t >= 10
    z_end = 0.5 - 20.0 * 10 / 36000.0
    v1 = 1e-3 * 20 * (1 - np.exp(-10 / 2.0)) * np.exp(-(t - 10) / 2.0)
    v2 = 0.5e-3 * 20 * (1 - np.exp(-10 / 60.0)) * np.exp(-(t - 10) / 60.0)
    np.testing.assert_allclose(run.voltage_V[off], (3.0 + 1.2 * z_end - v1 - v2)[off],
                               atol=1e-12)


def test_step_size_does_not_change_an_exact_answer():
    ecm = make_ecm()
    t = np.array([0.0, 7.3, 19.0, 40.0])
    i = np.array([15.0, -5.0, 30.0, 0.0])
    a = simulate_ecm(ecm, t, current_A=i, initial_soc=0.5, temperature_K=298.15, thermal=False)
    tf = np.linspace(0, 40, 4001)
    b = simulate_ecm(ecm, tf, current_A=np.interp(tf, t, i, right=0) * 0 + i[
        np.searchsorted(t, tf, side="right") - 1], initial_soc=0.5, temperature_K=298.15,
        thermal=False)
    np.testing.assert_allclose(a.voltage_V, b.voltage_V[np.searchsorted(tf, t)], atol=1e-12)


def test_energy_balance_of_the_thermal_model():
    ecm = make_ecm(heat_transfer_W_per_K=0.0)
    t = np.linspace(0, 600, 6001)
    run = simulate_ecm(ecm, t, current_A=np.full_like(t, 20.0), initial_soc=0.8,
                       temperature_K=298.15, max_step_s=0.1)
    # adiabatic: C_th dT = integral of the heat (trapezoid; heat is smooth here)
    q = run.heat_W["total_W"]
    heat = np.sum(0.5 * (q[1:] + q[:-1]) * np.diff(t))
    assert (run.temperature_K[-1] - 298.15) * 300.0 == pytest.approx(heat, rel=1e-3)


def test_power_mode_draws_the_power():
    ecm = make_ecm()
    t = np.linspace(0, 60, 61)
    run = simulate_ecm(ecm, t, power_W=np.full_like(t, 50.0), initial_soc=0.5,
                       temperature_K=298.15)
    np.testing.assert_allclose(run.current_A * run.voltage_V, 50.0, rtol=1e-12)


def test_outside_validity_warns_once_naming_variable():
    ecm = make_ecm()
    t = np.linspace(0, 10, 11)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        simulate_ecm(ecm, t, current_A=np.full_like(t, 1.0), initial_soc=0.95,
                     temperature_K=298.15)
    msgs = [str(w.message) for w in rec if issubclass(w.category, ValidityWarning)]
    assert len(msgs) == 1 and "soc = 0.95 is 0.05 outside" in msgs[0]


def test_roundtrip_is_exact(tmp_path):
    ecm = make_ecm()
    path = save_ecm(ecm, tmp_path / "cell.ecm.h5")
    assert load_ecm(path) == ecm


def test_other_schema_version_is_refused(tmp_path):
    path = save_ecm(make_ecm(), tmp_path / "cell.ecm.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(FileFormatError, match="schema version 99; this cellmodels reads"):
        load_ecm(path)


def test_truncated_file_is_refused(tmp_path):
    path = save_ecm(make_ecm(), tmp_path / "cell.ecm.h5")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match="corrupt or truncated|incomplete or corrupt"):
        load_ecm(path)


def test_negative_resistance_is_refused():
    r0 = np.full((11, 3), 2e-3)
    r0[4, 1] = -1e-4
    with pytest.raises(ParameterError, match=r"'r0_Ohm' must be positive. Got -0.0001 at SOC "
                                             r"0.4, 298.15 K"):
        make_ecm(r0_Ohm=r0)


def test_non_monotonic_ocv_is_refused():
    ocv = 3.0 + 1.2 * np.linspace(0, 1, 11)
    ocv[6] = ocv[5] - 0.01
    with pytest.raises(ParameterError, match="'ocv_V' must increase with SOC"):
        make_ecm(ocv_V=ocv)


def test_ecm_is_frozen():
    ecm = make_ecm()
    with pytest.raises(AttributeError, match="cannot assign"):
        ecm.capacity_Ah = 5.0
    with pytest.raises(ValueError, match="read-only"):
        ecm.r0_Ohm[0, 0] = 1.0


def test_bad_profile_is_refused():
    with pytest.raises(InputError, match="must increase. Got 1.0 then 1.0 at sample 1"):
        simulate_ecm(make_ecm(), [0.0, 1.0, 1.0], current_A=[1.0, 1.0, 1.0],
                     initial_soc=0.5, temperature_K=298.15)


def test_misspelt_validity_key_is_refused():
    with pytest.raises(ParameterError, match="Unknown key 'soc_mni'.*Did you mean 'soc_min'"):
        make_ecm(validity={"soc_mni": 0.1})


def test_non_numeric_limit_is_refused():
    with pytest.raises(ParameterError, match="'limits' entry 'voltage_min_V' must be a number"):
        make_ecm(limits={"voltage_min_V": "2.5"})


# --------------------------------------------------------------- charge-transfer element
def make_ct_ecm(**changes):
    shape = (11, 3)
    return make_ecm(ct_R_Ohm=np.full(shape, 1.5e-3), ct_i0_A=np.full(shape, 12.0), **changes)


def test_charge_transfer_voltage_and_heat_are_exact():
    """No RC pairs, constant current: V = U - R0 I - 2 I0 R_ct asinh(I / (2 I0)) and the
    heat is I (U - V), exactly (the element has no state)."""
    ecm = make_ct_ecm(rc_R_Ohm=np.zeros((0, 11, 3)), rc_tau_s=np.zeros((0, 11, 3)))
    t = np.linspace(0.0, 20.0, 21)
    run = simulate_ecm(ecm, t, current_A=np.full(t.size, 60.0), initial_soc=0.5,
                       temperature_K=298.15, thermal=False)
    u = 3.0 + 1.2 * run.soc
    eta = 2 * 12.0 * 1.5e-3 * np.arcsinh(60.0 / 24.0)
    np.testing.assert_allclose(run.voltage_V, u - 2e-3 * 60.0 - eta, atol=1e-12)
    np.testing.assert_allclose(run.heat_W["irreversible_W"], 60.0 * (u - run.voltage_V),
                               rtol=1e-12)
    # the element's resistance falls with current: asinh(2.5)/2.5 = 0.66 of R_ct at 60 A
    assert 0.65 * 1.5e-3 < eta / 60.0 < 0.67 * 1.5e-3


def test_charge_transfer_power_mode_draws_the_power():
    ecm = make_ct_ecm()
    t = np.linspace(0.0, 30.0, 31)
    p = np.where(t < 15.0, 250.0, -120.0)
    run = simulate_ecm(ecm, t, power_W=p, initial_soc=0.5, temperature_K=298.15)
    np.testing.assert_allclose(run.voltage_V * run.current_A, p, rtol=1e-12)


def test_charge_transfer_fields_are_checked():
    with pytest.raises(ParameterError, match="'ct_R_Ohm' and 'ct_i0_A' go together"):
        make_ecm(ct_R_Ohm=np.full((11, 3), 1e-3))
    bad = np.full((11, 3), 12.0)
    bad[2, 0] = 0.0
    with pytest.raises(ParameterError, match=r"'ct_i0_A' must be positive. Got 0.0 at SOC "
                                             r"0.2, 273.15 K"):
        make_ecm(ct_R_Ohm=np.full((11, 3), 1e-3), ct_i0_A=bad)
    with pytest.raises(ParameterError, match=r"'ct_R_Ohm' must have shape \(11, 3\)"):
        make_ecm(ct_R_Ohm=np.full((11, 2), 1e-3), ct_i0_A=np.full((11, 3), 1.0))


def test_schema_versions(tmp_path):
    """Without the element the file is schema 1 (the layout of before, read by older
    cellmodels); with it, schema 2; both read back exactly."""
    plain = save_ecm(make_ecm(), tmp_path / "plain.ecm.h5")
    ct = save_ecm(make_ct_ecm(), tmp_path / "ct.ecm.h5")
    with h5py.File(plain, "r") as f:
        assert f.attrs["schema_version"] == 1 and "ct_R_Ohm" not in f
    with h5py.File(ct, "r") as f:
        assert f.attrs["schema_version"] == 2 and f["ct_i0_A"].attrs["unit"] == "A"
    assert load_ecm(plain) == make_ecm() and not load_ecm(plain).has_ct
    assert load_ecm(ct) == make_ct_ecm()
    with h5py.File(ct, "r+") as f:
        del f["ct_i0_A"]
    with pytest.raises(FileFormatError, match="incomplete or corrupt.*without its partner"):
        load_ecm(ct)


# ----------------------------------------------------------------- OCV hysteresis (schema 3)
def make_hys_ecm(**changes):
    """Hysteresis half-gap 10 mV at mid SOC, 5 mV at the ends; gamma 40 per unit SOC."""
    soc = np.linspace(0, 1, 11)
    kw = dict(hysteresis_V=0.005 + 0.005 * np.sin(np.pi * soc), hysteresis_rate=40.0,
              hysteresis_initial=1.0)
    kw.update(changes)
    return make_ecm(**kw)


def test_hysteresis_state_and_voltage_are_exact():
    """No RC pairs, 1C discharge from the charge branch (h = +1): h(t) = -1 + 2 exp(-gamma
    dz) with dz = I t / (3600 Q), V = U(z) + M(z) h - R0 I, heat I (U - V) - exactly."""
    ecm = make_hys_ecm(rc_R_Ohm=np.zeros((0, 11, 3)), rc_tau_s=np.zeros((0, 11, 3)))
    t = np.linspace(0.0, 360.0, 37)
    run = simulate_ecm(ecm, t, current_A=np.full(t.size, 10.0), initial_soc=0.6,
                       temperature_K=298.15, thermal=False, max_step_s=7.0)
    dz = 10.0 * t / 36000.0
    h = -1.0 + 2.0 * np.exp(-40.0 * dz)
    np.testing.assert_allclose(run.hysteresis, h, atol=1e-13)
    z = 0.6 - dz
    m = np.interp(z, ecm.soc, ecm.hysteresis_V)
    np.testing.assert_allclose(run.voltage_V, 3.0 + 1.2 * z + m * h - 2e-3 * 10.0, atol=1e-12)
    np.testing.assert_allclose(run.heat_W["irreversible_W"],
                               10.0 * (3.0 + 1.2 * z - run.voltage_V), rtol=1e-12)
    # after 10 % of capacity h is within exp(-4) x 2 = 0.037 of the discharge branch
    assert run.hysteresis[-1] == pytest.approx(-1.0 + 2.0 * np.exp(-4.0), abs=1e-13)


def test_hysteresis_loop_dissipates_its_area():
    """A 0.2C charge then discharge over the same 20 % of SOC, adiabatic, no resistance: the
    heat is the hysteresis loop's area, M Q_As times the integral of |h| signs over the
    loop, with h(x) = 1 - 2 exp(-gamma x) on the charge and -1 + (h1 + 1) exp(-gamma x)
    on the discharge (x the SOC passed) - an exact answer the simulator must reproduce."""
    tiny = np.full((11, 3), 1e-12)
    m, gamma, span, q_as = 0.01, 40.0, 0.2, 36000.0
    ecm = make_hys_ecm(r0_Ohm=tiny, rc_R_Ohm=np.zeros((0, 11, 3)),
                       rc_tau_s=np.zeros((0, 11, 3)), heat_transfer_W_per_K=0.0,
                       hysteresis_V=np.full(11, m), hysteresis_initial=-1.0,
                       hysteresis_rate=gamma, docv_dT_V_per_K=np.zeros(11))
    t = np.linspace(0.0, 7200.0, 73)
    i = np.where(t < 3600.0, -2.0, 2.0)   # 0.2C: 20 % of SOC each way
    run = simulate_ecm(ecm, t, current_A=i, initial_soc=0.4, temperature_K=298.15,
                       max_step_s=100.0)
    decay = (1 - np.exp(-gamma * span)) / gamma
    h1 = 1 - 2 * np.exp(-gamma * span)
    heat = m * q_as * ((span - 2 * decay) + (span - (h1 + 1) * decay))
    heat += 1e-12 * 2.0**2 * 7200.0  # the 1e-12 Ohm series resistance
    assert run.soc[-1] == pytest.approx(0.4, abs=1e-12)
    # round-off only (108 J summed over 7200 one-second sub-steps)
    assert (run.temperature_K[-1] - 298.15) * ecm.thermal_mass_J_per_K == pytest.approx(
        heat, rel=1e-10)
    # the state ends on the discharge branch, and the loop costs about 2 M Q_As span
    assert run.hysteresis[-1] == pytest.approx(-1 + (h1 + 1) * np.exp(-gamma * span), abs=1e-12)
    assert 0.7 * 2 * m * q_as * span < heat < 2 * m * q_as * span


def test_hysteresis_power_mode_draws_the_power():
    ecm = make_hys_ecm()
    t = np.linspace(0.0, 60.0, 61)
    p = np.where(t < 30.0, 300.0, -200.0)
    run = simulate_ecm(ecm, t, power_W=p, initial_soc=0.5, temperature_K=298.15,
                       initial_hysteresis=0.3)
    np.testing.assert_allclose(run.voltage_V * run.current_A, p, rtol=1e-12)
    assert run.hysteresis[0] == 0.3 and run.hysteresis[29] < 0.3 < run.hysteresis[-1]


def test_hysteresis_fields_and_arguments_are_checked():
    with pytest.raises(ParameterError, match="'hysteresis_V', 'hysteresis_rate' and "
                                             "'hysteresis_initial' go together"):
        make_ecm(hysteresis_V=np.full(11, 0.01))
    with pytest.raises(ParameterError, match=r"'hysteresis_V' .* must be non-negative. Got "
                                             r"-0.001 at SOC 0.3"):
        make_hys_ecm(hysteresis_V=np.where(np.arange(11) == 3, -0.001, 0.01))
    with pytest.raises(ParameterError, match=r"'hysteresis_rate' must be in the range "
                                             r"\(0, inf\). Got 0.0"):
        make_hys_ecm(hysteresis_rate=0.0)
    with pytest.raises(ParameterError, match=r"'hysteresis_initial' must be in the range "
                                             r"\[-1, 1\]. Got 1.5"):
        make_hys_ecm(hysteresis_initial=1.5)
    t = np.linspace(0.0, 10.0, 11)
    with pytest.raises(InputError, match="has no hysteresis; 'initial_hysteresis' must be None"):
        simulate_ecm(make_ecm(), t, current_A=np.ones(11), initial_soc=0.5,
                     temperature_K=298.15, initial_hysteresis=0.0)
    with pytest.raises(InputError, match="initial_hysteresis"):
        simulate_ecm(make_hys_ecm(), t, current_A=np.ones(11), initial_soc=0.5,
                     temperature_K=298.15, initial_hysteresis=-2.0)


def test_hysteresis_schema_3_round_trip(tmp_path):
    """With hysteresis the file is schema 3 (with or without the element); it reads back
    exactly; a schema-3 file without its hysteresis is refused."""
    hys = make_hys_ecm()
    both = make_hys_ecm(ct_R_Ohm=np.full((11, 3), 1e-3), ct_i0_A=np.full((11, 3), 9.0))
    for ecm, name in ((hys, "h"), (both, "hc")):
        path = save_ecm(ecm, tmp_path / f"{name}.ecm.h5")
        with h5py.File(path, "r") as f:
            assert f.attrs["schema_version"] == 3 and f["hysteresis_V"].attrs["unit"] == "V"
        back = load_ecm(path)
        assert back == ecm and back.has_hysteresis and back.has_ct == ecm.has_ct
    with h5py.File(path, "r+") as f:
        del f["hysteresis_V"]
    with pytest.raises(FileFormatError, match="incomplete or corrupt.*hysteresis_V"):
        load_ecm(path)
