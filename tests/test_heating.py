"""Heating: the periodic steady state against closed forms and brute-force simulation."""

import warnings

import numpy as np
import pytest

from cellmodels.errors import InputError, SolverError
from cellmodels.life.heating import (
    heating_map,
    periodic_heating,
    plot_heating_map,
    swing_waveform,
)
from cellmodels.reduction import ValidityWarning, simulate_ecm
from cellmodels.ups import init_string, simulate_string, string_params

from .test_ecm import make_ecm
from .test_export_pybamm import make_varying_ecm


def one_rc_ecm(**changes):
    """Flat tables, one RC pair, no entropic term: closed forms exist."""
    n = 11
    kw = {
        "docv_dT_V_per_K": np.zeros(n),
        "r0_Ohm": np.full((n, 3), 2e-3),
        "rc_R_Ohm": np.full((1, n, 3), 1e-3),
        "rc_tau_s": np.full((1, n, 3), 5.0),
        "thermal_mass_J_per_K": 200.0,
        "heat_transfer_W_per_K": 0.5,
    }
    kw.update(changes)
    return make_ecm(**kw)


def polarisation_closed_form(r, tau, i1, a, i2, b):
    """Mean I v of one RC pair under a periodic two-level current (exact orbit)."""
    e1, e2 = np.exp(-a / tau), np.exp(-b / tau)
    # v0 = r i2 + (v1 - r i2) e2, v1 = r i1 + (v0 - r i1) e1  =>  solve for v0
    v0 = (r * i2 * (1 - e2) + r * i1 * (1 - e1) * e2) / (1 - e1 * e2)
    v1 = r * i1 + (v0 - r * i1) * e1
    energy = (i1 * (r * i1 * a + (v0 - r * i1) * tau * (1 - e1))
              + i2 * (r * i2 * b + (v1 - r * i2) * tau * (1 - e2)))
    return energy / (a + b)


@pytest.mark.parametrize("period_s", [0.5, 5.0, 200.0])
def test_flat_tables_match_closed_forms(period_s):
    ecm = one_rc_ecm()
    d, i = swing_waveform(ecm, period_s=period_s, swing_C_rate=3.0, compute_fraction=0.7)
    res = periodic_heating(ecm, d, i, heat_transfer_W_per_K=0.5, ambient_K=298.15)
    i_rms2 = np.sum(d * i * i) / period_s
    # exact to round-off: the orbit is a linear fixed point and the matrix exponentials
    # are accurate to ~1e-13 relative
    assert res.heat_W["ohmic_W"] == pytest.approx(2e-3 * i_rms2, rel=1e-11)
    assert res.heat_W["polarisation_W"] == pytest.approx(
        polarisation_closed_form(1e-3, 5.0, i[0], d[0], i[1], d[1]), rel=1e-9, abs=1e-13)
    assert res.heat_W["reversible_W"] == pytest.approx(0.0, abs=1e-15)
    # a periodic orbit returns all its heat to the coolant: hA (T_mean - T_amb) = Q
    assert 0.5 * res.rise_K == pytest.approx(res.heat_W["total_W"], rel=1e-10)
    assert res.temperature_min_K <= res.temperature_mean_K <= res.temperature_max_K
    assert res.iterations == 2  # a solve, and one that finds the same tables


def test_polarisation_heat_limits_follow_the_rc_time_constant():
    # far below tau the capacitor never charges (no polarisation heat); far above it the
    # RC resistance acts as a plain resistor: I_rms^2 R
    ecm = one_rc_ecm()
    fast = periodic_heating(ecm, *swing_waveform(ecm, period_s=0.01, swing_C_rate=2.0))
    slow = periodic_heating(ecm, *swing_waveform(ecm, period_s=1e4, swing_C_rate=0.5),
                            max_substep_s=1e4)  # flat tables: no need to follow T
    # square wave of half-period a: the RC's share is 1 - (2 tau / a) tanh(a / (2 tau))
    # of R I_rms^2, i.e. ~ a / (6 tau) fast and 1 - 2 tau / a slow
    fast_share = fast.heat_W["polarisation_W"] / (1e-3 * 20.0**2)
    slow_share = slow.heat_W["polarisation_W"] / (1e-3 * 5.0**2)
    assert fast_share == pytest.approx(1 - 2 * 5 / 0.005 * np.tanh(0.005 / 10), rel=1e-6)
    assert fast_share < 2e-3
    assert slow_share == pytest.approx(1 - 2 * 5 / 5e3 * np.tanh(5e3 / 10), rel=1e-9)


def test_thermal_mass_sets_the_ripple_not_the_mean():
    ecm = one_rc_ecm()
    d, i = swing_waveform(ecm, period_s=120.0, swing_C_rate=2.0)
    light = periodic_heating(ecm, d, i, thermal_mass_J_per_K=20.0)
    heavy = periodic_heating(ecm, d, i, thermal_mass_J_per_K=2000.0)
    assert light.rise_K == pytest.approx(heavy.rise_K, rel=1e-10)  # round-off over 150 maps
    assert light.ripple_K > 20 * heavy.ripple_K > 0


def brute_force(ecm, d, i, soc0, ha, ambient_K, n_steps=2000, n_tau=14):
    """Run the compiled string kernel for many thermal time constants; return the last
    period's mean temperature, its extremes and its mean heats."""
    dt = d.sum() / n_steps
    n1, n2 = round(d[0] / dt), round(d[1] / dt)
    assert abs(n1 * dt - d[0]) < 1e-9 * d[0]  # the waveform must sit on the grid
    one = np.concatenate([np.full(n1, i[0]), np.full(n2, i[1])])
    sp = string_params(ecm, heat_transfer_W_per_K=ha, coolant_temperature_K=ambient_K)
    tau = ecm.thermal_mass_J_per_K / ha
    n_cycles = int(n_tau * tau / d.sum()) + 1
    run = simulate_string(sp, init_string(sp, soc=soc0, temperature_K=ambient_K), dt,
                          current_A=np.tile(one, n_cycles))
    last = simulate_string(sp, run.final, dt, current_A=one)
    period = d.sum()
    return (last.temperature_K.mean(), last.temperature_K.min(), last.temperature_K.max(),
            last.energy_J["battery_irreversible_heat_J"] / period,
            last.energy_J["battery_reversible_heat_J"] / period)


@pytest.mark.parametrize("period_s, c_rate, fraction", [(2.0, 4.0, 0.5), (90.0, 1.5, 0.7)])
def test_orbit_matches_brute_force_with_varying_tables(period_s, c_rate, fraction):
    # every table varies with SOC and temperature and dU/dT is not zero
    ecm = make_varying_ecm(thermal_mass_J_per_K=40.0, heat_transfer_W_per_K=1.0)
    d, i = swing_waveform(ecm, period_s=period_s, swing_C_rate=c_rate,
                          compute_fraction=fraction)
    res = periodic_heating(ecm, d, i, soc=0.4, ambient_K=293.15, max_soc_step=0.002)
    t_mean, t_min, t_max, q_irr, q_rev = brute_force(ecm, d, i, res.orbit["soc"][0], 1.0,
                                                     293.15)
    rise = res.rise_K
    assert rise > 1.0
    # The brute force starts relaxed at ambient: after 14 thermal time constants its
    # transient is e^-14 ~ 1e-6 of the rise. Its tables are frozen at each step's start
    # (steps of period/2000): an O(dt) error, measured at 1.7e-4, 1.7e-5 and 2e-6 of the
    # rise for 200, 2000 and 20000 steps in the 90 s case (the orbit moves by < 1e-7 K
    # when its sub-segments are refined 16-fold). So 5e-5 of the rise bounds both.
    assert t_mean == pytest.approx(res.temperature_mean_K, abs=5e-5 * rise)
    assert t_max == pytest.approx(res.temperature_max_K, abs=5e-5 * rise + 1e-3 * res.ripple_K)
    assert t_min == pytest.approx(res.temperature_min_K, abs=5e-5 * rise + 1e-3 * res.ripple_K)
    irr = res.heat_W["ohmic_W"] + res.heat_W["polarisation_W"]
    assert q_irr == pytest.approx(irr, rel=5e-5)
    assert q_rev == pytest.approx(res.heat_W["reversible_W"], abs=5e-5 * irr)


def test_orbit_matches_the_reference_simulator():
    # simulate_ecm (plain Python, exact ZOH) on a short-time-constant cell
    ecm = make_varying_ecm(thermal_mass_J_per_K=10.0, heat_transfer_W_per_K=1.0)
    d, i = swing_waveform(ecm, period_s=4.0, swing_C_rate=3.0)
    res = periodic_heating(ecm, d, i, soc=0.6, ambient_K=298.15)
    n_cycles = 40  # 160 s = 16 thermal time constants: transient e^-16
    t = np.arange(0.0, n_cycles * 4.0 + 1e-9, 0.05)
    cur = np.where((t % 4.0) < 2.0 - 1e-9, i[0], i[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidityWarning)  # the flat grid's edges
        run = simulate_ecm(ecm, t, current_A=cur, initial_soc=res.orbit["soc"][0],
                           temperature_K=298.15, max_step_s=0.05)
    last = t >= (n_cycles - 1) * 4.0 - 1e-9
    t_last = run.temperature_K[last][:-1]  # one period of left samples
    assert t_last.mean() == pytest.approx(res.temperature_mean_K, abs=2e-4 * res.rise_K)
    # 2e-4 of the rise: the sample mean of a smooth orbit at 80 points a period (its
    # ripple is ~1e-2 of the rise here) plus the O(dt) table freeze of the reference.


def test_temperature_feedback_matches_an_independent_root():
    # no RC pairs, flat in SOC, R0 falling steeply with temperature: the mean temperature
    # solves hA (T - T_amb) = R0(T) I_rms^2; damping must settle the iteration.
    from scipy.optimize import brentq

    r0 = np.tile([8e-3, 2e-3, 1e-3], (11, 1))
    ecm = make_ecm(r0_Ohm=r0, rc_R_Ohm=np.zeros((0, 11, 3)), rc_tau_s=np.zeros((0, 11, 3)),
                   docv_dT_V_per_K=np.zeros(11), thermal_mass_J_per_K=50.0)
    d, i = swing_waveform(ecm, period_s=1.0, swing_C_rate=6.0)
    ha = 0.8
    res = periodic_heating(ecm, d, i, heat_transfer_W_per_K=ha, ambient_K=273.15)
    i_rms2 = 60.0**2

    def g(T):
        return ha * (T - 273.15) - ecm.r0(0.5, T) * i_rms2

    root = brentq(g, 273.15, 400.0, xtol=1e-12)
    # the ripple is ~1e-4 K; tables at the sub-segment mean instead of the instantaneous
    # temperature is second order in it
    assert res.temperature_mean_K == pytest.approx(root, abs=1e-6)
    assert res.iterations > 2


def test_out_of_validity_orbit_warns_naming_the_variable():
    ecm = make_ecm()
    d, i = swing_waveform(ecm, period_s=2.0, swing_C_rate=15.0)  # 150 A > 100 A validity
    with pytest.warns(ValidityWarning, match=r"current_A = 150 is 50 outside"):
        res = periodic_heating(ecm, d, i, heat_transfer_W_per_K=50.0)
    assert any("current_A" in w for w in res.warnings)


@pytest.mark.parametrize("kwargs, match", [
    ({"current_A": [10.0, -5.0]}, r"mean current of the waveform must be 0"),
    ({"durations_s": [1.0, 0.0]}, r"'durations_s' .* range \(0, inf\)\. Got 0\.0 at level 1"),
    ({"heat_transfer_W_per_K": 0.0}, r"'heat_transfer_W_per_K' .* range \(0, inf\)"),
    ({"soc": 1.2}, r"'soc' .* range \[0, 1\]\. Got 1\.2"),
    ({"soc": 0.999, "current_A": [500.0, -500.0], "durations_s": [100.0, 100.0]},
     r"SOC range .* must lie in \[0, 1\]"),
    ({"current_A": [np.nan, 1.0]}, r"NaN or inf"),
])
def test_bad_input_is_refused(kwargs, match):
    args = {"durations_s": [1.0, 1.0], "current_A": [10.0, -10.0]}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        periodic_heating(make_ecm(), args.pop("durations_s"), args.pop("current_A"), **args)


def test_swing_waveform_needs_one_amplitude():
    ecm = make_ecm()
    with pytest.raises(InputError, match=r"exactly one of 'swing_depth' and 'swing_C_rate'"):
        swing_waveform(ecm, period_s=1.0)
    with pytest.raises(InputError, match=r"'compute_fraction' .* range \(0, 1\)\. Got 1\.0"):
        swing_waveform(ecm, period_s=1.0, swing_depth=0.01, compute_fraction=1.0)
    d, i = swing_waveform(ecm, period_s=2.0, swing_depth=0.001, compute_fraction=0.25)
    assert d.tolist() == [0.5, 1.5]
    assert i[0] * d[0] == pytest.approx(0.001 * 10.0 * 3600.0, rel=1e-14)  # the depth
    assert np.sum(i * d) == pytest.approx(0.0, abs=1e-12)


def test_no_convergence_is_a_solver_error():
    ecm = make_varying_ecm()
    d, i = swing_waveform(ecm, period_s=2.0, swing_C_rate=4.0)
    with pytest.raises(SolverError, match=r"did not converge in 1 iterations"):
        periodic_heating(ecm, d, i, max_iter=1)


def test_heating_map_records_failures_and_plots(tmp_path):
    ecm = make_ecm()
    # the third depth moves 0.02 x 10 Ah in 0.5 s or 5 s: 1440 A (an orbit above 1000 K:
    # no physical steady state) or 144 A (> 100 A validity, and above 318 K: warned)
    with pytest.warns(ValidityWarning, match=r"2 of 12 heating-map points use the ECM"):
        hmap = heating_map(ecm, [1e-4, 0.6, 0.02], [1.0, 10.0], [0.5, 2.0], soc=0.8)
    rise = hmap.values["rise_K"]
    assert rise.shape == (3, 2, 2)
    # a 60 % swing around SOC 0.8 leaves [0, 1]: recorded, not raised
    assert set(hmap.errors) == {(1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1), (2, 0, 0),
                                (2, 0, 1)}
    assert np.isnan(rise[1]).all() and np.isfinite(rise[[0, 2], 1]).all()
    assert "SOC range" in hmap.errors[(1, 0, 0)]
    assert "above 1000 K" in hmap.errors[(2, 0, 0)]
    # more cooling, less rise; faster swings at the same depth carry more current
    assert np.all(rise[0, :, 0] > rise[0, :, 1])
    assert rise[0, 0, 0] > rise[0, 1, 0]
    png = plot_heating_map(hmap, tmp_path / "map.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_expm_batch_matches_scipy():
    from scipy.linalg import expm

    from cellmodels.life.heating import expm_batch

    rng = np.random.default_rng(3)
    a = rng.normal(size=(6, 8, 8)) * np.array([1e-6, 0.1, 1.0, 3.0, 1.0, 1.0])[:, None, None]
    # stiff and decaying, as the RC states with h >> tau: norm ~ 1e3
    a[-2:] = np.tril(a[-2:], -1) - np.diag(np.geomspace(1e-2, 1e3, 8))
    got = expm_batch(a)
    for k in range(a.shape[0]):
        want = expm(a[k])
        # both are Pade-13 with scaling and squaring: round-off times the condition
        scale = np.abs(want).max()
        np.testing.assert_allclose(got[k], want, rtol=0, atol=1e-12 * scale)


def test_vector_table_lookup_is_the_ecms_own():
    from cellmodels.life.heating import _bilinear_many

    ecm = make_varying_ecm()
    z = np.array([-0.1, 0.0, 0.33, 0.6, 1.0, 1.2])  # edges and beyond: clamped
    t = np.array([250.0, 273.15, 290.0, 310.0, 318.15, 350.0])
    r0 = _bilinear_many(ecm.soc, ecm.temperature_K, ecm.r0_Ohm, z, t)
    rc = _bilinear_many(ecm.soc, ecm.temperature_K, ecm.rc_tau_s, z, t)
    for k in range(z.size):
        assert r0[k] == pytest.approx(ecm.r0(z[k], t[k]), rel=1e-14)
        np.testing.assert_allclose(rc[:, k], ecm.rc(z[k], t[k])[1], rtol=1e-14)


def test_charge_transfer_element_heat_matches_the_reference_simulator():
    # the ECM's nonlinear, stateless element: its heat I eta_ct(I) counts as polarisation
    base = make_varying_ecm(thermal_mass_J_per_K=10.0, heat_transfer_W_per_K=1.0)
    ecm = base.replace(ct_R_Ohm=1.5 * base.r0_Ohm,
                       ct_i0_A=np.full(base.r0_Ohm.shape, 20.0) * (1 + base.soc[:, None]))
    d, i = swing_waveform(ecm, period_s=4.0, swing_C_rate=3.0)
    res = periodic_heating(ecm, d, i, soc=0.6, ambient_K=298.15)
    lin = periodic_heating(base, d, i, soc=0.6, ambient_K=298.15)
    assert res.heat_W["polarisation_W"] > lin.heat_W["polarisation_W"] + 1.0
    assert res.temperature_mean_K > lin.temperature_mean_K + 1.0  # (so R0 is lower)
    t = np.arange(0.0, 160.0 + 1e-9, 0.05)  # 16 thermal time constants
    cur = np.where((t % 4.0) < 2.0 - 1e-9, i[0], i[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidityWarning)
        run = simulate_ecm(ecm, t, current_A=cur, initial_soc=res.orbit["soc"][0],
                           temperature_K=298.15, max_step_s=0.05)
    last = run.temperature_K[t >= 156.0 - 1e-9][:-1]
    # as in test_orbit_matches_the_reference_simulator: sample mean and O(dt) freeze
    assert last.mean() == pytest.approx(res.temperature_mean_K, abs=2e-4 * res.rise_K)


def test_hysteresis_minor_loop_heat_matches_the_reference_simulator():
    """An ECM with OCV hysteresis on a zero-mean swing: h settles on a minor loop whose
    dissipation -I M h is a heat of its own (``hysteresis_W``); the orbit's mean
    temperature, its h range and the heat match simulate_ecm run for 16 thermal time
    constants."""
    base = make_varying_ecm(thermal_mass_J_per_K=10.0, heat_transfer_W_per_K=1.0)
    ecm = base.replace(hysteresis_V=np.full(base.soc.size, 0.01), hysteresis_rate=60.0,
                       hysteresis_initial=0.0)
    d, i = swing_waveform(ecm, period_s=4.0, swing_C_rate=3.0)
    res = periodic_heating(ecm, d, i, soc=0.6, ambient_K=298.15)
    lin = periodic_heating(base, d, i, soc=0.6, ambient_K=298.15)
    assert lin.heat_W["hysteresis_W"] == 0.0 and "hysteresis" not in lin.orbit
    q_h = res.heat_W["hysteresis_W"]
    assert q_h > 0.0
    assert res.heat_W["total_W"] == pytest.approx(sum(
        res.heat_W[k] for k in ("ohmic_W", "polarisation_W", "reversible_W", "hysteresis_W")))
    t = np.arange(0.0, 160.0 + 1e-9, 0.05)  # 16 thermal time constants
    cur = np.where((t % 4.0) < 2.0 - 1e-9, i[0], i[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidityWarning)
        run = simulate_ecm(ecm, t, current_A=cur, initial_soc=res.orbit["soc"][0],
                           temperature_K=298.15, max_step_s=0.05,
                           initial_hysteresis=float(res.orbit["hysteresis"][0]))
    last = t >= 156.0 - 1e-9
    # as in test_orbit_matches_the_reference_simulator: sample mean and O(dt) table freeze
    assert run.temperature_K[last][:-1].mean() == pytest.approx(res.temperature_mean_K,
                                                                abs=2e-4 * res.rise_K)
    # h's own orbit: exact in both (h does not depend on the tables' freeze), and the
    # reference starts on it, so it stays there to round-off
    h_ref = run.hysteresis[last]
    assert h_ref.min() == pytest.approx(res.orbit["hysteresis"].min(), abs=1e-6)
    assert h_ref.max() == pytest.approx(res.orbit["hysteresis"].max(), abs=1e-6)
    # the loop's heat is second order (h swings +-0.05 about 0, so -I M h nearly cancels
    # over a period): take h's exact mean over each 50 ms interval of the reference,
    # -s + (h_k + s) (1 - e^-a) / a with a = gamma |I| dt / Q_As, M = 10 mV everywhere
    sel = np.flatnonzero(last)[:-1]
    s_k = np.sign(cur[sel])
    a = 60.0 * np.abs(cur[sel]) * 0.05 / (ecm.capacity_Ah * 3600.0)
    h_mean = -s_k + (run.hysteresis[sel] + s_k) * (-np.expm1(-a) / a)
    q_ref = -np.mean(cur[sel] * 0.01 * h_mean)
    # what differs is round-off of a sum that cancels to 1e-3 of its terms
    assert q_ref == pytest.approx(q_h, rel=1e-6)
