"""The compiled string kernel against the reference simulator, solve_ivp and exact answers.

Tolerances: against :func:`simulate_ecm` on the same steps with the same power hold the
kernel does the same arithmetic (bar the order of a few operations and a series for exp
of small arguments), so 1e-9 V; against ``solve_ivp`` (continuous power, rtol 1e-10)
the zero-order hold of the current over 1 ms steps is the only difference: 0.5 mV (the
issue's bound; measured ~1e-5 V).
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from cellmodels.errors import InputError
from cellmodels.reduction import ECM, simulate_ecm
from cellmodels.reduction.simulate import ValidityWarning
from cellmodels.ups import init_string, simulate_string, step_string, string_params
from cellmodels.ups import kernel as K

from .test_ecm import make_ecm

DT = 1e-3


def varied_ecm(soc=None, temps=(273.15, 298.15, 318.15), **changes):
    """An ECM whose tables vary over SOC and temperature (non-uniform SOC grid allowed)."""
    soc = np.linspace(0, 1, 11) if soc is None else np.asarray(soc, dtype=float)
    temps = np.asarray(temps, dtype=float)
    s, t = np.meshgrid(soc, temps, indexing="ij")
    r0 = 2e-3 * (1 + 0.6 * (1 - s) ** 2) * np.exp(1500 * (1 / t - 1 / 298.15))
    kw = {
        "name": "varied", "capacity_Ah": 10.0, "soc": soc, "temperature_K": temps,
        "ocv_V": 3.0 + 1.2 * soc - 0.05 * np.sin(6 * soc),
        "docv_dT_V_per_K": -1e-4 + 2e-4 * soc, "r0_Ohm": r0,
        "rc_R_Ohm": np.stack([0.5 * r0 * (1 + 0.3 * s), 0.25 * r0]),
        "rc_tau_s": np.stack([2.0 * (1 + 0.2 * s) * (1 + 0.1 * (t - 273.15) / 45), 40 + 0 * s]),
        "thermal_mass_J_per_K": 40.0, "heat_transfer_W_per_K": 0.3,
        "limits": {"voltage_min_V": 2.5, "voltage_max_V": 4.3},
        "validity": {"soc_min": 0.05, "soc_max": 0.95, "temperature_min_K": float(temps[0]),
                  "temperature_max_K": float(temps[-1]), "current_max_A": 200.0}}
    kw.update(changes)
    return ECM(**kw)


def swing(n, levels, period_steps, seed=0):
    """Piecewise-constant profile: a new random level every ``period_steps`` steps."""
    rng = np.random.default_rng(seed)
    k = -(-n // period_steps)
    return np.repeat(rng.uniform(levels[0], levels[1], k), period_steps)[:n]


def run_both(ecm, u, mode="power_W", soc=0.5, t0=298.15, t_amb=303.15, **kw):
    params = string_params(ecm, coolant_temperature_K=t_amb, power_hold="start", **kw)
    run = simulate_string(params, init_string(params, soc=soc, temperature_K=t0), DT,
                          **{mode: u})
    t = np.arange(u.size + 1) * DT
    ref = simulate_ecm(ecm, t, initial_soc=soc, temperature_K=t0, ambient_K=t_amb,
                       **{mode: np.append(u, u[-1])})
    return run, ref


@pytest.mark.parametrize("ecm_factory", [make_ecm, varied_ecm])
def test_power_mode_matches_simulate_ecm(ecm_factory):
    ecm = ecm_factory()
    u = swing(20_000, (-150.0, 300.0), 400)
    run, ref = run_both(ecm, u)
    np.testing.assert_allclose(run.voltage_V, ref.voltage_V[:-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(run.current_A, ref.current_A[:-1], rtol=0, atol=1e-8)
    np.testing.assert_allclose(run.soc, ref.soc[:-1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(run.temperature_K, ref.temperature_K[:-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(run.final.soc, ref.soc[-1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(run.final.rc_V[0], ref.rc_V[-1], rtol=0, atol=1e-12)
    # the power is drawn exactly at each step's start (the "start" hold)
    np.testing.assert_allclose(run.voltage_V * run.current_A, u, rtol=1e-12, atol=1e-9)


def test_current_mode_matches_simulate_ecm_on_a_nonuniform_grid():
    soc = np.array([0.0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.51, 0.52, 0.7, 0.9, 0.97, 1.0])
    ecm = varied_ecm(soc=soc)
    u = swing(30_000, (-60.0, 90.0), 250, seed=3)
    run, ref = run_both(ecm, u, mode="current_A", soc=0.56)
    np.testing.assert_allclose(run.voltage_V, ref.voltage_V[:-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(run.temperature_K, ref.temperature_K[:-1], rtol=0, atol=1e-9)


def test_one_temperature_grid_matches_simulate_ecm():
    ecm = varied_ecm(temps=(298.15,), validity={"temperature_min_K": 273.15,
                                                "temperature_max_K": 318.15})
    u = swing(5_000, (0.0, 200.0), 300, seed=1)
    run, ref = run_both(ecm, u)
    np.testing.assert_allclose(run.voltage_V, ref.voltage_V[:-1], rtol=0, atol=1e-9)


def _ivp_power(ecm, u, soc0, t0, t_amb):
    """The continuous power-mode ECM (V(t) I(t) = P exactly), interval by interval."""
    q_as = ecm.capacity_Ah * 3600.0
    c_th, ha = ecm.thermal_mass_J_per_K, ecm.heat_transfer_W_per_K
    n_rc = ecm.n_rc

    def current(y, p):
        z, temp, v = y[0], y[1], y[2:]
        e = ecm.ocv(z, temp) - v.sum()
        r0 = ecm.r0(z, temp)
        return 2 * p / (e + np.sqrt(e * e - 4 * r0 * p)), e, r0

    def rhs(t, y, p):
        z, temp, v = y[0], y[1], y[2:]
        i, _, r0 = current(y, p)
        r, tau = ecm.rc(z, temp)
        q = r0 * i * i + i * v.sum() - i * temp * ecm.docv_dT(z)
        return np.concatenate([[-i / q_as, (q - ha * (temp - t_amb)) / c_th],
                               (r * i - v) / tau])

    y = np.concatenate([[soc0, t0], np.zeros(n_rc)])
    volts = np.empty(u.size)
    edges = np.flatnonzero(np.diff(u) != 0) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [u.size]])
    for a, b in zip(starts, stops):
        p = u[a]
        t_eval = np.arange(a, b + 1) * DT
        sol = solve_ivp(rhs, (t_eval[0], t_eval[-1]), y, args=(p,), method="DOP853",
                        t_eval=t_eval, rtol=1e-10, atol=1e-12)
        assert sol.success
        for j in range(b - a):
            yy = sol.y[:, j]
            i, e, r0 = current(yy, p)
            volts[a + j] = e - r0 * i
        y = sol.y[:, -1]
    return volts


@pytest.mark.parametrize("hold", ["mean", "start"])
def test_power_mode_against_solve_ivp_within_half_a_millivolt(hold):
    ecm = varied_ecm()
    u = swing(6_000, (-120.0, 350.0), 500, seed=5)
    params = string_params(ecm, coolant_temperature_K=303.15, power_hold=hold)
    run = simulate_string(params, init_string(params, soc=0.6, temperature_K=298.15), DT,
                          power_W=u)
    exact = _ivp_power(ecm, u, 0.6, 298.15, 303.15)
    err = np.abs(run.voltage_V - exact)
    assert err.max() <= 0.5e-3
    assert err.max() <= 1e-4  # in fact: the hold's O(dt) error is tens of microvolts


def test_mean_hold_makes_the_battery_energy_exact():
    ecm = varied_ecm()
    u = swing(20_000, (-150.0, 300.0), 400)
    for hold, bound in (("mean", 1e-12), ("start", 1e-4)):
        params = string_params(ecm, coolant_temperature_K=303.15, power_hold=hold)
        e = simulate_string(params, init_string(params, soc=0.5), DT, power_W=u).energy_J
        # chemistry = terminal + irreversible heat - what the hold books beyond the truth
        terminal = e["battery_chemical_J"] - e["battery_irreversible_heat_J"]
        assert e["battery_J"] == pytest.approx(terminal + e["zoh_residual_J"], rel=1e-12)
        assert abs(e["zoh_residual_J"]) <= bound * abs(e["battery_J"])
        assert e["battery_J"] == pytest.approx(np.sum(u) * DT, rel=1e-12)


def test_chemical_energy_is_the_ocv_integral():
    ecm = varied_ecm()
    u = swing(8_000, (-100.0, 250.0), 350)
    params = string_params(ecm, coolant_temperature_K=303.15)
    run = simulate_string(params, init_string(params, soc=0.4), DT, power_W=u)
    ocv = np.array([ecm.ocv(z, t) for z, t in zip(run.soc, run.temperature_K)])
    assert run.energy_J["battery_chemical_J"] == pytest.approx(
        np.sum(ocv * run.current_A) * DT, rel=1e-12)


def test_adiabatic_temperature_rise_is_the_heat():
    ecm = varied_ecm(heat_transfer_W_per_K=0.0)
    u = swing(10_000, (50.0, 300.0), 200)
    params = string_params(ecm)
    run = simulate_string(params, init_string(params, soc=0.7, temperature_K=298.15), DT,
                          power_W=u)
    e = run.energy_J
    heat = e["battery_irreversible_heat_J"] + e["battery_reversible_heat_J"]
    rise = run.final.temperature_K[0] - 298.15
    assert rise * ecm.thermal_mass_J_per_K == pytest.approx(heat, rel=1e-9)
    assert e["heat_to_coolant_J"] == pytest.approx(0.0, abs=1e-9 * heat)


def test_explicit_identical_cells_equal_the_lumped_string():
    ecm = varied_ecm()
    u = swing(5_000, (-2e3, 6e3), 300)
    out = []
    for lumped in (True, False):
        params = string_params(ecm, n_series=3, n_parallel=2, lumped=lumped)
        # the swing's 336 A peaks pass the ECM's current_max_A (200 A): warned, as wanted
        with pytest.warns(ValidityWarning, match="current_A"):
            out.append(simulate_string(params, init_string(params, soc=0.5), DT, power_W=u))
    a, b = out
    np.testing.assert_allclose(b.voltage_V, a.voltage_V, rtol=1e-12)
    np.testing.assert_allclose(b.current_A, a.current_A, rtol=1e-11)
    np.testing.assert_allclose(b.final.soc, a.final.soc[0], rtol=1e-12)
    for key in ("battery_chemical_J", "battery_irreversible_heat_J", "battery_J"):
        assert b.energy_J[key] == pytest.approx(a.energy_J[key], rel=1e-11)


def test_parallel_cells_share_voltage_and_split_current_by_resistance():
    ecm = varied_ecm(heat_transfer_W_per_K=0.0)
    scale = np.array([1.0, 1.5])  # the second cell has 1.5x the resistance
    params = string_params(ecm, n_series=1, n_parallel=2, resistance_scale=scale)
    state = init_string(params, soc=0.5)
    run = simulate_string(params, state, DT, current_A=np.full(2000, 80.0))
    dq = (0.5 - run.final.soc) * ecm.capacity_Ah * 3600.0
    # the charge taken from the two cells is the string's, and the stiffer cell gives more
    assert dq.sum() == pytest.approx(80.0 * 2.0, rel=1e-12)
    assert dq[0] / dq[1] == pytest.approx(1.5, rel=0.02)
    # the group's voltage is the string voltage (one group)
    np.testing.assert_allclose(run.cell_voltage_min_V, run.voltage_V, rtol=1e-14)


def test_capacity_spread_spreads_soc_in_a_series_string():
    ecm = varied_ecm()
    params = string_params(ecm, n_series=4, capacity_scale=[0.9, 1.0, 1.0, 1.1])
    run = simulate_string(params, init_string(params, soc=0.8), DT,
                          current_A=np.full(3000, 50.0))
    drop = 0.8 - run.final.soc
    # (3000 steps of SOC round-off, ~1e-16 each, on a drop of 4e-3)
    np.testing.assert_allclose(drop * [0.9, 1.0, 1.0, 1.1], drop[1], rtol=1e-9)


def test_step_by_step_equals_the_whole_run():
    ecm = varied_ecm()
    params = string_params(ecm, n_series=2, n_parallel=2, resistance_scale=[1, 1.1, 0.9, 1])
    state = init_string(params, soc=0.5)
    u = swing(60, (-5e2, 9e2), 7)
    whole = simulate_string(params, state, DT, power_W=u).final
    s = state
    for p in u:
        s = step_string(params, s, dt_s=DT, power_W=p)
    np.testing.assert_allclose(s.cells, whole.cells, rtol=1e-13, atol=1e-15)
    assert s.time_s == pytest.approx(60 * DT)


def test_chunks_equal_one_call():
    ecm = varied_ecm()
    params = string_params(ecm, n_series=3, resistance_scale=[1.0, 1.2, 0.9])
    state = init_string(params, soc=0.5)
    u = swing(10_000, (0.0, 900.0), 333)
    plant, control, schedule = K._no_plant()
    results = []
    for chunk in (10_000, 777):
        w = K.work_arrays(params, state, u.size, 100, 4, True, chunk)
        for a in range(0, u.size, chunk):
            K.run_chunk(K.MODE_POWER, params, plant, control, schedule, u[a:a + chunk], DT, w,
                        a + chunk >= u.size)
        results.append(w)
    a, b = results
    np.testing.assert_array_equal(a["full"], b["full"])
    np.testing.assert_array_equal(a["bins"][:, :, :2], b["bins"][:, :, :2])  # min, max
    np.testing.assert_allclose(a["bins"][:, :, 2], b["bins"][:, :, 2], rtol=1e-13)  # means
    np.testing.assert_allclose(a["spec"], b["spec"], rtol=1e-13)
    np.testing.assert_allclose(a["acc"], b["acc"], rtol=1e-12)
    np.testing.assert_array_equal(a["cs"], b["cs"])
    # the bins hold the min, max and mean of the steps
    full = a["full"][K.CH_I]
    np.testing.assert_allclose(a["bins"][:, K.CH_I, 0], full.reshape(-1, 100).min(axis=1))
    np.testing.assert_allclose(a["bins"][:, K.CH_I, 1], full.reshape(-1, 100).max(axis=1))
    np.testing.assert_allclose(a["bins"][:, K.CH_I, 2], full.reshape(-1, 100).mean(axis=1),
                               rtol=1e-12)


def test_power_beyond_the_string_is_refused_naming_the_sample():
    ecm = varied_ecm()
    params = string_params(ecm)
    u = np.full(100, 100.0)
    u[42] = 1e5
    with pytest.raises(InputError, match="The power 100000 W at sample 42 exceeds"):
        simulate_string(params, init_string(params, soc=0.5), DT, power_W=u)


def test_bad_profile_sample_is_named():
    params = string_params(varied_ecm())
    u = np.full(10, 1.0)
    u[7] = np.nan
    with pytest.raises(InputError, match="holds nan at sample 7"):
        simulate_string(params, init_string(params), DT, power_W=u)


def test_series_expansion_of_exp_is_exact_to_round_off():
    x = np.geomspace(1e-9, K._X_SERIES * 0.999, 200)
    d = np.array([K._expneg.py_func(v)[0] for v in x])
    g = np.array([K._expneg.py_func(v)[1] for v in x])
    np.testing.assert_allclose(d, np.exp(-x), rtol=3e-16)
    np.testing.assert_allclose(g, -np.expm1(-x) / x, rtol=3e-16)


def test_bin_fold_min_max_are_exact_for_either_sign():
    # the fold takes min/max on integer keys of the doubles' bits: exact, for negative,
    # positive and tiny values alike, with bins straddling the folded blocks
    rng = np.random.default_rng(5)
    n, bin_steps = 3000, 250
    vals = rng.standard_normal((K.NCH, n)) * np.logspace(-300, 300, n)
    vals[:, 7] = -0.0
    bins = np.zeros((n // bin_steps, K.NCH, 3))
    acc = np.stack([np.full(K.NCH, np.inf), np.full(K.NCH, -np.inf), np.zeros(K.NCH)])
    ist = np.zeros(K.NISTATE, dtype=np.int64)
    spec, spec_acc = np.zeros((n // 4, 2)), np.zeros(2)
    for a, b in ((0, 1001), (1001, 1002), (1002, n)):
        block = np.ascontiguousarray(vals[:, a:b])
        K._reduce(block, block.view(np.int64), b - a, bins, acc, acc.view(np.int64), ist,
                  bin_steps, spec, spec_acc, 4)
    per_bin = vals.reshape(K.NCH, -1, bin_steps)
    np.testing.assert_array_equal(bins[:, :, 0], per_bin.min(axis=2).T)
    np.testing.assert_array_equal(bins[:, :, 1], per_bin.max(axis=2).T)
    # means: sums in another order than numpy's, so to round-off of the bin's magnitudes
    scale = np.abs(per_bin).max(axis=2).T
    assert np.all(np.abs(bins[:, :, 2] - per_bin.mean(axis=2).T) <= 1e-13 * scale)


# ---- the charge-transfer element (ECM fields ct_R_Ohm, ct_i0_A) -----------------------
def ct_ecm(**changes):
    """varied_ecm with a charge-transfer element strongly nonlinear over the test currents
    (2 I0 = 24-48 A against currents up to ~90 A) and varying over SOC and temperature."""
    base = varied_ecm(**changes)
    s, t = np.meshgrid(base.soc, base.temperature_K, indexing="ij")
    return base.replace(ct_R_Ohm=1.5 * base.r0_Ohm * (1 + 0.2 * s),
                        ct_i0_A=12.0 * (1 + s) * np.exp(-2000 * (1 / t - 1 / 298.15)))


@pytest.mark.parametrize("mode, levels", [("power_W", (-150.0, 300.0)),
                                          ("current_A", (-40.0, 90.0))])
def test_charge_transfer_element_matches_simulate_ecm(mode, levels):
    ecm = ct_ecm()
    u = swing(20_000, levels, 400)
    run, ref = run_both(ecm, u, mode=mode)
    # the same arithmetic as simulate_ecm but for the Newton solves: both stop within
    # ~1e-13 A of the root, so 1e-9 V as the linear kernel's test
    np.testing.assert_allclose(run.voltage_V, ref.voltage_V[:-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(run.current_A, ref.current_A[:-1], rtol=0, atol=1e-8)
    np.testing.assert_allclose(run.temperature_K, ref.temperature_K[:-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(run.final.rc_V[0], ref.rc_V[-1], rtol=0, atol=1e-12)
    # the element matters here: without it the voltage differs by far more than that
    lin = run_both(ecm.replace(ct_R_Ohm=None, ct_i0_A=None), u, mode=mode)[0]
    assert np.max(np.abs(lin.voltage_V - run.voltage_V)) > 0.05
    if mode == "power_W":
        np.testing.assert_allclose(run.voltage_V * run.current_A, u, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("n_series, n_parallel", [(1, 1), (3, 2)])
def test_charge_transfer_element_energy_is_exact_with_the_mean_hold(n_series, n_parallel):
    ecm = ct_ecm()
    n = n_series * n_parallel
    u = swing(20_000, (-150.0, 300.0), 400) * n
    rng = np.random.default_rng(5)
    spread = {} if n == 1 else {"resistance_scale": rng.uniform(0.9, 1.1, n),
                                "capacity_scale": rng.uniform(0.95, 1.05, n)}
    params = string_params(ecm, n_series=n_series, n_parallel=n_parallel,
                           coolant_temperature_K=303.15, **spread)
    e = simulate_string(params, init_string(params, soc=0.5), DT, power_W=u).energy_J
    # battery = chemistry - irreversible heat (the element's I eta in it): the Newton
    # solve leaves ~1e-20 relative and the sums round-off, so 1e-12 (issue: 1e-6)
    terminal = e["battery_chemical_J"] - e["battery_irreversible_heat_J"]
    assert e["battery_J"] == pytest.approx(terminal, rel=1e-12)
    assert abs(e["zoh_residual_J"]) <= 1e-12 * abs(e["battery_J"])
    assert e["battery_J"] == pytest.approx(np.sum(u) * DT, rel=1e-12)


@pytest.mark.parametrize("kw, mode", [({}, "power_W"), ({}, "current_A"),
                                      ({"n_series": 3, "n_parallel": 2,
                                        "resistance_scale": [1, 1.1, 0.9, 1.05, 1, 0.95]},
                                       "power_W")])
def test_a_zero_element_gives_the_linear_kernel_bit_for_bit(kw, mode):
    # the element's code path with R_ct = 0 reduces to the linear kernel's arithmetic, and
    # an ECM without the element runs the linear specialisation unchanged
    lin = varied_ecm()
    zero = lin.replace(ct_R_Ohm=np.zeros_like(lin.r0_Ohm), ct_i0_A=np.ones_like(lin.r0_Ohm))
    u = swing(5_000, (-100.0, 250.0), 300) * (6 if kw else 1)
    u = u if mode == "power_W" else u / 3.5
    out = []
    for ecm in (lin, zero):
        params = string_params(ecm, coolant_temperature_K=303.15, **kw)
        out.append(simulate_string(params, init_string(params, soc=0.5), DT, **{mode: u}))
    a, b = out
    for name in ("voltage_V", "current_A", "power_W", "temperature_K", "heat_W",
                 "cell_voltage_min_V", "cell_voltage_max_V"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.final.cells, b.final.cells)
    assert a.energy_J == b.energy_J


def test_charge_transfer_element_in_parallel_cells_shares_the_voltage():
    ecm = ct_ecm(heat_transfer_W_per_K=0.0)
    scale = 1.5  # the second cell: 1.5x every resistance (R0, R_k, R_ct; not I0)
    params = string_params(ecm, n_parallel=2, resistance_scale=[1.0, scale],
                           power_hold="start")
    run = simulate_string(params, init_string(params, soc=0.5), DT,
                          current_A=np.array([120.0]))
    # one step from relaxed cells: each cell's current from its charge, its voltage by the
    # ECM's own output equation (with the scaled resistances)
    # (a SOC change of ~2e-6 against 0.5: the currents to ~1e-10 relative)
    i_j = (0.5 - run.final.soc) * ecm.capacity_Ah * 3600.0 / DT
    assert i_j.sum() == pytest.approx(120.0, rel=1e-9)
    stiff = ecm.replace(r0_Ohm=ecm.r0_Ohm * scale, rc_R_Ohm=ecm.rc_R_Ohm * scale,
                        ct_R_Ohm=ecm.ct_R_Ohm * scale)
    v = [cell.terminal(0.5, 298.15, np.zeros(2), i)[0] for cell, i in zip((ecm, stiff), i_j)]
    # those currents' ~1e-8 A error times R ~ 10 mOhm: 1e-9 V
    assert v[0] == pytest.approx(run.voltage_V[0], abs=1e-9)
    assert v[1] == pytest.approx(run.voltage_V[0], abs=1e-9)
    # the split is not the small-signal one: the element's resistance falls with current
    r_small = [cell.r0(0.5, 298.15) + cell.ct(0.5, 298.15)[0] for cell in (ecm, stiff)]
    assert abs(i_j[0] / i_j[1] - r_small[1] / r_small[0]) > 1e-3


def test_power_beyond_the_string_with_the_element_is_refused_naming_the_sample():
    params = string_params(ct_ecm())
    u = np.full(100, 100.0)
    u[42] = 1e5
    with pytest.raises(InputError, match="The power 100000 W at sample 42 exceeds"):
        simulate_string(params, init_string(params, soc=0.5), DT, power_W=u)


def _ups_both_loops(ecm, cfg, load):
    """The one-cell UPS through the specialised loop and through the general one."""
    from cellmodels.ups import system as S

    params = S.ups_params(ecm, cfg, DT)
    assert K.one_cell_loop(K.MODE_UPS, params.string)
    out = []
    for generic in (False, True):
        state = S.init(params, load_W=float(load[0]))
        w = S._work(params, state, load.size, 50, 4, True, 3_000)
        w["generic"] = generic
        for a in range(0, load.size, 3_000):
            fail = K.run_chunk(K.MODE_UPS, params.string, params.plant, params.control,
                               params.schedule, load[a:a + 3_000], DT, w,
                               a + 3_000 >= load.size)
            assert fail == -1
        out.append(w)
    return out


def _elements(n):
    """varied_ecm with 1, 2 or 3 RC elements (the third fast: 0.1 s, past the series)."""
    base = varied_ecm()
    r, tau = base.rc_R_Ohm, base.rc_tau_s
    if n == 1:
        return base.replace(rc_R_Ohm=r[:1], rc_tau_s=tau[:1])
    if n == 3:
        return base.replace(rc_R_Ohm=np.concatenate([r, 0.3 * r[:1]]),
                            rc_tau_s=np.concatenate([tau, np.full_like(tau[:1], 0.1)]))
    return base


@pytest.mark.parametrize("n_rc, hold, dcdc, hys", [(1, "mean", False, False),
                                                    (2, "mean", True, False),
                                                    (3, "start", False, False),
                                                    (2, "mean", False, True),
                                                    (1, "start", True, True)])
def test_one_cell_ups_loop_equals_the_general_loop(n_rc, hold, dcdc, hys):
    # the specialised one-cell UPS loop (locals, the BMS checked on the closed-form current,
    # sums folded per block) against the general loop through every limit: current and
    # voltage limits (a 12 A discharge limit, a 3.95 V charge ceiling reached by the SOC
    # restoring term's recharge), an outage with unserved load, the inverter's rating and
    # grid ramps. Same limit counts and steps exactly; values to round-off (different
    # order of a few operations: 1e-12 relative, 1e-9 W or V absolute near zero). With
    # hysteresis (hys): its state through charge and discharge, the mean hold's source
    # switched at every reversal.
    from cellmodels.ups import UPSConfig

    battery = {"n_series": 3, "n_parallel": 2, "power_hold": hold, "initial_soc": 0.8}
    if dcdc:
        battery["dcdc"] = {"rated_W": 600.0, "efficiency": [[0, 0.95], [1, 0.98]]}
    cfg = UPSConfig.from_dict({
        "rectifier": {"rated_W": 600.0, "efficiency": [[0.0, 0.93], [0.3, 0.965],
                                                       [1.0, 0.955]]},
        "inverter": {"rated_W": 500.0, "efficiency": [[0.0, 0.94], [0.4, 0.97], [1.0, 0.96]]},
        "controller": {"filter_time_constant_s": 2.0, "ramp_limit_W_per_s": 40.0,
                       "soc_target": 0.95, "soc_band": [0.3, 1.0],
                       "soc_restore_time_s": 60.0},
        "battery": battery,
        "bms": {"current_max_discharge_A": 12.0, "voltage_max_V": 3.95},
        "grid": {"events": [{"start_s": 20.0, "duration_s": 6.0, "voltage": 0.0}],
                 "generator": {"rated_W": 300.0, "start_delay_s": 4.0, "ramp_s": 1.0}},
    })
    t = np.arange(40_000) * DT
    load = np.where((t % 3.0) < 1.5, 380.0, 60.0)
    load[(t >= 8.0) & (t < 9.0)] = 560.0  # beyond the inverter's 500 W
    ecm = _elements(n_rc)
    if hys:
        ecm = ecm.replace(hysteresis_V=0.005 + 0.005 * np.sin(np.pi * ecm.soc),
                          hysteresis_rate=150.0, hysteresis_initial=0.3)
    fast, gen = _ups_both_loops(ecm, cfg, load)
    for key in ("lim_count", "lim_steps", "flags"):
        np.testing.assert_array_equal(fast[key], gen[key])
    active = {K.LIMITS[q] for q in np.flatnonzero(gen["lim_count"])}
    assert {"current_discharge", "voltage_max", "unserved", "inverter_rating",
            "grid_ramp"} <= active
    np.testing.assert_allclose(fast["lim_energy"], gen["lim_energy"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fast["full"], gen["full"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(fast["cs"], gen["cs"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fast["acc"], gen["acc"], rtol=1e-11, atol=1e-9)
    np.testing.assert_allclose(fast["stat"], gen["stat"], rtol=1e-12)
    np.testing.assert_allclose(fast["cacc"], gen["cacc"], rtol=1e-11)
    np.testing.assert_array_equal(fast["bins"][:, :, :2] == 0, gen["bins"][:, :, :2] == 0)
    np.testing.assert_allclose(fast["bins"], gen["bins"], rtol=1e-11, atol=1e-9)
    np.testing.assert_array_equal(fast["ist"], gen["ist"])
    if hys:  # h moved well away from its start (the loops' voltages above carry M h)
        h_end = gen["cs"][0, -1]
        assert abs(h_end - 0.3) > 0.1 and np.all(np.abs(gen["cs"][:, -1]) <= 1)


# ---- the OCV hysteresis (ECM fields hysteresis_V, hysteresis_rate, hysteresis_initial) --
def hys_ecm(h0=0.0, **changes):
    """varied_ecm with a hysteresis half-gap M(z) of 5-10 mV over SOC and a fast rate
    (gamma = 150 per unit SOC: h crosses much of [-1, 1] within one level of the swings
    below, so it moves both ways)."""
    base = varied_ecm(**changes)
    return base.replace(hysteresis_V=0.005 + 0.005 * np.sin(np.pi * base.soc),
                        hysteresis_rate=150.0, hysteresis_initial=h0)


@pytest.mark.parametrize("mode, levels", [("power_W", (-150.0, 300.0)),
                                          ("current_A", (-40.0, 90.0))])
def test_hysteresis_matches_simulate_ecm(mode, levels):
    ecm = hys_ecm()
    u = swing(6_000, levels, 1_000, seed=2)
    run, ref = run_both(ecm, u, mode=mode)
    # the same arithmetic as simulate_ecm (h's exact update and mean, M h in the source
    # and -I M <h> in the heat), bar the order of a few operations: 1e-9 V as the linear
    # kernel's test
    np.testing.assert_allclose(run.voltage_V, ref.voltage_V[:-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(run.current_A, ref.current_A[:-1], rtol=0, atol=1e-8)
    np.testing.assert_allclose(run.temperature_K, ref.temperature_K[:-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(run.final.rc_V[0], ref.rc_V[-1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(run.final.hysteresis[0], ref.hysteresis[-1], rtol=0, atol=1e-12)
    # h went both ways (charge and discharge levels) over a good part of its range, and
    # matters: without it the voltage differs by millivolts
    dh = np.diff(ref.hysteresis)
    assert dh.min() < 0 < dh.max() and np.ptp(ref.hysteresis) > 0.3
    plain = ecm.replace(hysteresis_V=None, hysteresis_rate=None, hysteresis_initial=None)
    assert np.max(np.abs(run_both(plain, u, mode=mode)[0].voltage_V - run.voltage_V)) > 3e-3
    if mode == "power_W":
        np.testing.assert_allclose(run.voltage_V * run.current_A, u, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("n_series, n_parallel", [(1, 1), (3, 2)])
def test_hysteresis_energy_is_exact_with_the_mean_hold(n_series, n_parallel):
    ecm = hys_ecm(h0=0.4)
    n = n_series * n_parallel
    u = swing(12_000, (-150.0, 300.0), 1_500, seed=2) * n
    rng = np.random.default_rng(5)
    spread = {} if n == 1 else {"resistance_scale": rng.uniform(0.9, 1.1, n),
                                "capacity_scale": rng.uniform(0.95, 1.05, n),
                                "lumped": False}
    params = string_params(ecm, n_series=n_series, n_parallel=n_parallel,
                           coolant_temperature_K=303.15, **spread)
    run = simulate_string(params, init_string(params, soc=0.5), DT, power_W=u)
    e = run.energy_J
    # battery = chemistry - irreversible heat (-I M <h> in it) + the hold's residual, to
    # round-off, and the battery gives exactly the demanded energy
    terminal = e["battery_chemical_J"] - e["battery_irreversible_heat_J"]
    assert e["battery_J"] == pytest.approx(terminal + e["zoh_residual_J"], rel=1e-12)
    assert e["battery_J"] == pytest.approx(np.sum(u) * DT, rel=1e-12)
    # the mean hold takes h's drift over a step to first order in a = gamma |I_c| dt / Q_As
    # (up to 3.6e-4 here: 9C and gamma = 150); what it leaves, booked in the residual, is at
    # most M a^2 |I_c| / 3 per cell and step (M <= 10 mV; a parallel cell's share of the
    # current within 10 % of 1/n_p with this spread, its capacity >= 0.95 Q)
    i_c = 1.1 * np.abs(run.current_A) / n_parallel
    a = ecm.hysteresis_rate * i_c * DT / (0.95 * ecm.capacity_Ah * 3600.0)
    bound = n * np.sum(0.01 * a**2 * i_c / 3.0) * DT
    assert 0 < abs(e["zoh_residual_J"]) <= bound
    assert bound <= 1e-10 * np.sum(np.abs(u)) * DT
    # the start hold leaves the RC voltages' and h's drift (first order): 1e3 times more
    start = string_params(ecm, n_series=n_series, n_parallel=n_parallel,
                          coolant_temperature_K=303.15, power_hold="start", **spread)
    e0 = simulate_string(start, init_string(start, soc=0.5), DT, power_W=u).energy_J
    assert abs(e0["zoh_residual_J"]) > 1e3 * abs(e["zoh_residual_J"])
    assert np.all(np.abs(run.final.hysteresis) <= 1.0)


def test_hysteresis_in_identical_cells_equals_the_lumped_string():
    ecm = hys_ecm(h0=-0.5)
    u = swing(6_000, (-1e3, 2e3), 1_000)
    out = []
    for lumped in (True, False):
        params = string_params(ecm, n_series=3, n_parallel=2, lumped=lumped)
        out.append(simulate_string(params, init_string(params, soc=0.5), DT, power_W=u))
    a, b = out
    np.testing.assert_allclose(b.voltage_V, a.voltage_V, rtol=1e-12)
    np.testing.assert_allclose(b.final.hysteresis, a.final.hysteresis[0], rtol=0, atol=1e-12)
    for key in ("battery_chemical_J", "battery_irreversible_heat_J", "battery_J"):
        assert b.energy_J[key] == pytest.approx(a.energy_J[key], rel=1e-11)


def test_hysteresis_chunks_equal_one_call():
    # the mean hold's source for the sign of the step's demand is rebuilt bit for bit from
    # the cells' state, whatever sign it was built for: a run cut anywhere is the same run
    ecm = hys_ecm(h0=0.2)
    params = string_params(ecm, n_series=2, n_parallel=2,
                           resistance_scale=[1.0, 1.1, 0.9, 1.0])
    state = init_string(params, soc=0.5, hysteresis=[0.2, -0.3, 1.0, -1.0])
    u = swing(6_000, (-400.0, 900.0), 333)
    plant, control, schedule = K._no_plant()
    results = []
    for chunk in (6_000, 777):
        w = K.work_arrays(params, state, u.size, 100, 4, True, chunk)
        for a in range(0, u.size, chunk):
            K.run_chunk(K.MODE_POWER, params, plant, control, schedule, u[a:a + chunk], DT, w,
                        a + chunk >= u.size)
        results.append(w)
    np.testing.assert_array_equal(results[0]["full"], results[1]["full"])
    np.testing.assert_array_equal(results[0]["cs"], results[1]["cs"])


def test_initial_hysteresis_is_checked():
    params = string_params(hys_ecm(h0=0.3))
    state = init_string(params)
    assert state.hysteresis.tolist() == [0.3] and state.rc_V.shape == (1, 2)
    with pytest.raises(InputError, match=r"The initial 'hysteresis' must be in the range "
                                         r"\[-1, 1\]. Got 1.5 for cell 0."):
        init_string(params, hysteresis=1.5)
    with pytest.raises(InputError, match=r"'hysteresis' must be a scalar or of shape \(1,\)"):
        init_string(params, hysteresis=[0.1, 0.2])
    plain = string_params(varied_ecm())
    with pytest.raises(InputError, match="The ECM 'varied' has no hysteresis; the initial "
                                         "'hysteresis' must be None. Got 0.0."):
        init_string(plain, hysteresis=0.0)
    assert init_string(plain).hysteresis is None
    # a state without the hysteresis column does not run with an ECM that has one
    with pytest.raises(InputError, match=r"params need \(1, 5\) \(SOC, temperature, 2 RC "
                                         r"voltages, hysteresis\)"):
        simulate_string(params, init_string(plain), DT, power_W=[1.0])
