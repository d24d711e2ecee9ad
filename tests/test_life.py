"""Life: rainflow counting, the ageing model's exact values, validity, bad input, and
cycle jumping on a window whose damage does not change (exact)."""

import math
import warnings

import numpy as np
import pytest

from cellmodels.errors import InputError, ParameterError, SolverError
from cellmodels.life import (
    AgeingModel,
    LifeValidityWarning,
    anode_potential_V,
    load_life,
    load_model,
    project_life,
    rainflow,
    reversals,
    soc_sequence,
)
from cellmodels.life.ageing import window_mean_crate

from .test_ups_kernel import varied_ecm


# ---- rainflow --------------------------------------------------------------------------
def test_rainflow_astm_e1049_example():
    # ASTM E1049-85 (2017) Fig. 6 / X1: ranges 3 (0.5), 4 (1.5), 6 (0.5), 8 (1.0), 9 (0.5)
    c = rainflow([-2, 1, -3, 5, -1, 3, -4, 4, -2])
    assert c.histogram() == {3.0: 0.5, 4.0: 1.5, 6.0: 0.5, 8.0: 1.0, 9.0: 0.5}


def test_rainflow_hand_counted():
    # 0,1,0,1,0: every range holds the start -> four half cycles of 1 (counted by hand)
    assert rainflow([0, 1, 0, 1, 0]).histogram() == {1.0: 2.0}
    # 0,3,1,2,0: inner full cycle (1,2) of range 1, then halves 0-3 and 3-0
    c = rainflow([0, 3, 1, 2, 0])
    assert c.histogram() == {1.0: 1.0, 3.0: 1.0}
    full = np.flatnonzero(c.count == 1.0)[0]
    assert (c.start[full], c.end[full]) == (2, 3) and c.mean[full] == 1.5
    # intermediate points on a monotone run and plateaus are not reversals
    assert reversals([0, 1, 1, 2, 1, 1, 0, 0, 3]).tolist() == [0, 3, 6, 8]
    assert rainflow([0.0, 0.5, 1.0, 0.2, 0.6]).histogram() == {0.4: 0.5, 0.8: 0.5, 1.0: 0.5}


def test_rainflow_refuses_nan():
    with pytest.raises(InputError, match=r"holds nan at index 2"):
        rainflow([0.1, 0.2, float("nan"), 0.3])


# ---- exact values ----------------------------------------------------------------------
def _one_term(**term):
    base = {"name": "t", "kind": "calendar", "output": "capacity", "exponent": 0.5,
            "factors": [{"type": "constant", "value": 1e-3}], "source": "test"}
    base.update(term)
    return AgeingModel.from_dict({"name": "m", "terms": [base],
                                  "micro_cycle": {"weight": 1.0, "dod": 0.02}})


def test_arrhenius_power_law_exact():
    ea, tref, temp, p, a = 50e3, 298.15, 318.15, 0.5, 2e-3
    m = _one_term(exponent=p, factors=[{"type": "constant", "value": a},
                                       {"type": "arrhenius", "Ea_J_per_mol": ea,
                                        "T_ref_K": tref}])
    t = np.array([0.0, 30 * 86400.0])
    ws = m.window_stress(t, [0.5, 0.5], temp)
    k = a * math.exp(-ea / 8.314462618 * (1 / temp - 1 / tref))
    for days in (30, 300, 3000):
        s = m.advance(m.initial_state(), ws, days / 30)
        # q = 1 - k t^p exactly (float round-off only)
        assert m.capacity_fraction(s) == pytest.approx(1 - k * days**p, rel=1e-12)


def test_shipped_lfp_calendar_value():
    # BLAST-Lite Lfp_Gr_250AhPrismatic: q_loss = p1 exp(p2/T) exp(p3 Ua/T) t^0.526
    m = load_model("lfp_gr_250ah")
    temp, soc, days = 298.15, 0.5, 365.0
    ua = float(anode_potential_V(soc))
    k = 8.37e4 * math.exp(-5210 / temp) * math.exp(-3560 * ua / temp)
    ws = m.window_stress([0.0, days * 86400], [soc, soc], temp)
    cal = m.terms[0]
    assert cal.value(m.advance(m.initial_state(), ws).X[0]) == pytest.approx(
        k * days**0.526, rel=1e-12)
    # Safari & Delacourt graphite at 50 % SOC: ~0.12 V vs Li (BLAST-Lite normalises by 0.123)
    assert 0.10 < ua < 0.14


def test_power_law_state_is_order_independent():
    m = load_model("lfp_gr_250ah")
    hot = m.window_stress([0.0, 86400.0], [0.9, 0.9], 318.15)
    cold = m.window_stress([0.0, 86400.0], [0.3, 0.3], 298.15)
    s0 = m.initial_state()
    a = m.advance(m.advance(s0, hot, 100), cold, 50)
    b = m.advance(m.advance(s0, cold, 50), hot, 100)
    assert m.capacity_fraction(a) == pytest.approx(m.capacity_fraction(b), rel=1e-14)


def test_damage_monotonic_and_micro_cycles_cheaper():
    m = load_model("nmc111_gr_kokam75ah")
    t = np.linspace(0, 86400, 2001)
    soc = 0.5 + 0.3 * np.sin(2 * np.pi * t / 21600)
    with pytest.warns(LifeValidityWarning):
        ws = m.window_stress(t, soc, 298.15)
    s = m.initial_state()
    q_prev, r_prev = 1.0, 1.0
    for _ in range(50):
        s = m.advance(s, ws, 30)
        q, r = m.capacity_fraction(s), m.resistance_factor(s)
        assert q <= q_prev and r >= r_prev and math.isfinite(q)
        q_prev, r_prev = q, r
    # weight 1/3 below 2 % DoD, 1 at 4 % and above, log-linear between
    w = m.micro_weight([0.001, 0.02, 0.02 * math.sqrt(2), 0.04, 0.5])
    assert w.tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3, 1.0, 1.0], rel=1e-12)


def test_validity_warning_names_variable_and_distance():
    m = load_model("lfp_gr_250ah")
    with pytest.warns(LifeValidityWarning, match=r"'temperature_K' outside its validated "
                      r"range \[283.15, 318.15\] \(up to 328.15, 10 above the maximum"):
        m.window_stress([0.0, 3600.0], [0.5, 0.5], 328.15)


def test_rate_outside_range_is_held_at_the_bound():
    m = AgeingModel.from_dict({"name": "m", "micro_cycle": {"weight": 1.0, "dod": 0.02},
                               "terms": [{"name": "c", "kind": "cycle", "output": "capacity",
                                          "exponent": 1.0, "source": "test",
                                          "factors": [{"type": "linear", "const": 0.0,
                                                       "coefficients": {"crate": 1e-4}}],
                                          "validity": {"crate": [0.0, 1.0]}}]})
    t = np.array([0.0, 360.0, 720.0])  # one full cycle of DoD 1 in 12 min: 10C
    with pytest.warns(LifeValidityWarning, match=r"'crate' .* 9 above the maximum 1\).*"
                      r"evaluated at the nearest bound"):
        ws = m.window_stress(t, [1.0, 0.0, 1.0], 298.15)
    # 1 EFC at the held rate 1C -> 1e-4
    assert ws.dX[0] == pytest.approx(1e-4, rel=1e-12)


def test_nan_and_negative_damage_refused():
    m = load_model("lfp_gr_250ah")
    with pytest.raises(InputError, match=r"'soc' argument of window_stress holds nan at "
                                         r"index 1"):
        m.window_stress([0.0, 1.0, 2.0], [0.5, float("nan"), 0.5], 298.15)
    ws = m.window_stress([0.0, 86400.0], [0.5, 0.5], 298.15)
    bad = type(ws)((float("nan"),) + ws.dX[1:], ws.duration_s, ws.efc)
    with pytest.raises(SolverError, match=r"NaN, infinite or negative"):
        m.advance(m.initial_state(), bad)
    neg = _one_term(kind="cycle", factors=[{"type": "linear", "const": -1e-3,
                                            "coefficients": {"dod": 1e-4}}])
    with pytest.raises(SolverError, match=r"rate .* must be finite and non-negative"):
        neg.window_stress([0.0, 3600.0, 7200.0], [1.0, 0.0, 1.0], 298.15)
    with pytest.raises(ParameterError, match=r"Unknown factor type 'arrhenus'.*arrhenius"):
        _one_term(factors=[{"type": "arrhenus"}])


# ---- cycle jumping ---------------------------------------------------------------------
def _config():
    return {"rectifier": {"rated_W": 2000.0}, "inverter": {"rated_W": 200.0},
            "battery": {"n_series": 2, "n_parallel": 1, "coolant_temperature_K": 308.15,
                        "initial_temperature_K": 308.15},
            "output": {"ride_through_s": 60.0}}


def test_cycle_jumping_constant_window_is_exact(tmp_path):
    # No load: SOC and temperature stay constant, so every window does the same damage
    # whatever the ECM's age, and the jumps must give the closed form k t^p exactly.
    m = _one_term(exponent=0.5, factors=[{"type": "constant", "value": 4e-3},
                                         {"type": "arrhenius", "Ea_J_per_mol": 40e3,
                                          "T_ref_K": 298.15}])
    ecm = varied_ecm()
    res = project_life(ecm, _config(), np.zeros(600), dt_s=1.0, years=3.0, model=m,
                       max_capacity_step=0.01, output=tmp_path / "life.h5")
    k = 4e-3 * math.exp(-40e3 / 8.314462618 * (1 / 308.15 - 1 / 298.15))
    days = res.time_s / 86400
    # exact to round-off in the sum of the window increments (jumps of up to 1e5 windows)
    assert res.capacity_fraction == pytest.approx(1 - k * np.sqrt(days), rel=1e-9, abs=1e-12)
    assert res.time_years[-1] == pytest.approx(3.0, rel=1e-12)
    assert res.info["steps"] < 60 and res.ride_through_ok.all()
    back = load_life(tmp_path / "life.h5")
    assert np.array_equal(back.capacity_fraction, res.capacity_fraction)
    assert back.info["windows_simulated"] == res.info["windows_simulated"]
    assert np.array_equal(back.terms["t"], res.terms["t"])
    assert res.terms["t"] == pytest.approx(1 - res.capacity_fraction, abs=1e-15)


def test_capability_end_of_life_when_ride_through_fails():
    # 200 W for 60 s from 50 % SOC of a 2 x 10 Ah string: fine when new; a cell at 3 %
    # of its capacity cannot (about 2 x 3.6 V x 0.3 Ah x 0.5 ~ 1 Wh < 3.3 Wh needed).
    m = _one_term(exponent=1.0, factors=[{"type": "constant", "value": 0.97 / 365.0}])
    res = project_life(varied_ecm(), _config(), np.zeros(600), dt_s=1.0, years=1.0,
                       model=m, floor_capacity=0.02, max_capacity_step=0.05)
    assert res.ride_through_ok[0] and not res.ride_through_ok[-1]
    assert 0 < res.eol_capability_years <= 1.0
    assert "ride-through" in res.eol_capability_reason
    assert res.eol_capacity_years == pytest.approx(0.2 / 0.97, rel=0.02)  # linear fade


def test_soc_sequence_keeps_extremes():
    t = np.arange(4.0)
    ts, zs = soc_sequence(t, [0.4, 0.5, 0.3, 0.2], [0.5, 0.7, 0.6, 0.3],
                          [0.45, 0.6, 0.45, 0.25], 1.0)
    assert zs.max() == 0.7 and zs.min() == 0.2 and np.all(np.diff(ts) > 0)


def test_project_life_refuses_bad_years():
    with pytest.raises(InputError, match=r"'years' argument of project_life must be in the "
                                         r"range \(0, 50\]. Got 0"):
        project_life(varied_ecm(), _config(), np.zeros(10), dt_s=1.0, years=0)


def test_periodic_window_counts_the_boundary_cycle_closed():
    # 0.5 -> 0 -> 1 -> 0.5 repeated daily is one full cycle of depth 1 per day
    m = load_model("lfp_gr_250ah")
    t = np.array([0.0, 1.0, 3.0, 4.0, 24.0]) * 3600
    ws = m.window_stress(t, [0.5, 0.0, 1.0, 0.5, 0.5], 298.15)
    assert ws.summary["n_cycles"] == 1.0 and ws.efc == pytest.approx(1.0, rel=1e-12)
    assert ws.summary["crate_mean"] == pytest.approx(0.5, rel=1e-12)  # rests excluded
    with pytest.warns(LifeValidityWarning, match=r"'dod' outside"):
        once = m.window_stress(t, [0.5, 0.0, 1.0, 0.5, 0.5], 298.15, periodic=False)
    assert once.summary["n_cycles"] == 1.5


def test_dry_out_knee_after_the_reservoir_empties():
    # 1 Ah cell, all LLI to SEI: 1 % LLI = 0.01 * 3600 / F mol Li -> V_EC * that of EC
    m = _one_term(exponent=1.0, factors=[{"type": "constant", "value": 1e-4}])
    per_pct = 6.667e-5 * 0.01 * 3600 / 96485.33212
    m = m.with_dry_out(reservoir_m3=0.5 * per_pct, pore_volume_m3=10 * per_pct,
                       sei_fraction_of_lli=1.0, capacity_Ah=1.0)
    ws = m.window_stress([0.0, 86400.0], [0.5, 0.5], 298.15)
    at = [m.advance(m.initial_state(), ws, d) for d in (40, 50, 60)]  # 0.4 %, 0.5 %, 0.6 %
    assert m.wetted_fraction(at[0]) == 1.0 and m.reservoir_m3(at[0]) > 0
    assert m.capacity_fraction(at[1]) == pytest.approx(0.995, rel=1e-9)
    # 0.1 % LLI past empty consumes 0.1 per_pct of a 10 per_pct pore volume: w = 0.99
    assert m.wetted_fraction(at[2]) == pytest.approx(0.99, rel=1e-9)
    assert m.capacity_fraction(at[2]) == pytest.approx(0.994 * 0.99, rel=1e-9)
    assert m.resistance_factor(at[2]) == pytest.approx(1 / 0.99, rel=1e-9)


def test_fit_calendar_recovers_known_coefficients():
    from cellmodels.life.calibrate import fit_calendar

    a, ea, c, p = 2e-3, 35e3, -800.0, 0.55
    runs = []
    for temp, soc in ((298.15, 0.5), (318.15, 0.5), (318.15, 0.95)):
        ua = float(anode_potential_V(soc))
        t = np.linspace(0, 365, 13)
        k = a * np.exp(-ea / 8.314462618 * (1 / temp - 1 / 298.15)) * np.exp(c * ua / temp)
        runs.append({"temperature_K": temp, "soc": soc, "t_days": t, "lli": k * t**p})
    fit = fit_calendar(runs)
    # noise-free data of the same form: recovered to the optimiser's tolerance
    assert fit["Ea_J_per_mol"] == pytest.approx(ea, rel=1e-5)
    assert fit["C_K_per_V"] == pytest.approx(c, rel=1e-4)
    assert fit["exponent"] == pytest.approx(p, rel=1e-6)
    assert fit["A"] == pytest.approx(a, rel=1e-4) and fit["max_rel_error"] < 1e-6
    with pytest.raises(InputError, match=r"two temperatures"):
        fit_calendar(runs[1:])


def test_cli_life_writes_result(tmp_path, capsys):
    import argparse

    from cellmodels.dutycycles import Profile, save_profile
    from cellmodels.life._cli import add_parser
    from cellmodels.reduction import save_ecm

    save_ecm(varied_ecm(), tmp_path / "c.ecm.h5")
    t = np.arange(601.0)
    save_profile(Profile(t, np.where(t[:-1] % 60 < 30, 150.0, 50.0)), tmp_path / "p.h5")
    (tmp_path / "ups.toml").write_text(
        "[rectifier]\nrated_W = 2000.0\n[inverter]\nrated_W = 200.0\n"
        "[battery]\nn_series = 2\ncoolant_temperature_K = 298.15\n")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["life", "--ecm", str(tmp_path / "c.ecm.h5"), "--profile",
                              str(tmp_path / "p.h5"), "--config", str(tmp_path / "ups.toml"),
                              "--years", "2", "--model", "lfp_gr_250ah", "--micro-weight",
                              "0", "-o", str(tmp_path / "life.h5")])
    with warnings.catch_warnings():
        # the command prints each validity note once instead of raising them as warnings
        warnings.simplefilter("error", LifeValidityWarning)
        assert args.func(args) == 0
    res = load_life(tmp_path / "life.h5")
    assert res.time_years[-1] == pytest.approx(2.0) and res.info["model"]["micro_cycle"][
        "weight"] == 0.0
    out = capsys.readouterr().out
    assert (tmp_path / "life.png").is_file() and "end of life" in out
    assert "on the model's validity" in out and res.info["validity_messages"]


# ---- cycle C-rate: the rate the cycle's own charge moved at ------------------------------
def _crate_model(c=1e-4):
    # a cycle term linear in the C-rate, no validity ranges: dX = c * sum(crate * efc)
    return AgeingModel.from_dict({"name": "m", "micro_cycle": {"weight": 1.0, "dod": 0.02},
                                  "terms": [{"name": "c", "kind": "cycle",
                                             "output": "capacity", "exponent": 1.0,
                                             "source": "test",
                                             "factors": [{"type": "linear", "const": 0.0,
                                                          "coefficients": {"crate": c}}]}]})


def test_drifting_window_closure_does_not_make_a_fast_cycle():
    # 600 s of 2 s micro-swings on a 3 % SOC drift (the 1 MW UPS window that reported
    # 172C): closing the repeated window must not move the 3 % in one 0.1 s sample
    # (old code: ~1000C for that cycle); every cycle's rate stays at or below the fastest
    # interval of the series itself
    t = np.arange(0.0, 600.0 + 1e-9, 0.1)
    z = 0.5 + 0.03 * t / 600 + 1e-4 * np.sin(2 * np.pi * t / 2.0)
    m = _crate_model(c=1.0)
    ws = m.window_stress(t, z, 298.15)
    r_max = np.max(np.abs(np.diff(z)) / (np.diff(t) / 3600))  # ~1.3C
    assert ws.dX[0] <= r_max * ws.efc * (1 + 1e-12)
    assert ws.summary["crate_max"] <= r_max * (1 + 1e-12)
    # the drift cycle (depth 3 %) moves at the window's net rate, 0.03 per 600 s = 0.18C
    # (the drift leg's own charge moves at 0.18C plus the swing's sine, and the closing
    # step at exactly 0.18C: between the two)
    assert ws.summary["dod_max"] == pytest.approx(0.03, abs=2.1e-4)


def test_cycle_rate_is_not_inflated_by_nested_micro_cycles():
    # 0 -> 0.5 at 1C, a 0.1 dip and back at 10C, 0.5 -> 1 at 1C, 1 -> 0 at 1C.
    # Cycles: full 0.1 at 10C, halves 0->1 and 1->0 at 1C each (their own charge moves at
    # 1C; the dip's 0.2 of throughput is the nested cycle's). dX = c (10*0.1 + 0.5 + 0.5);
    # the old span average counted the dip in the half cycle: 1.2 / 1.02 h = 1.18C -> 2.088
    h = 3600.0
    t = np.array([0.0, 0.5, 0.51, 0.52, 1.02, 2.02]) * h
    z = [0.0, 0.5, 0.4, 0.5, 1.0, 0.0]
    ws = _crate_model(c=1e-4).window_stress(t, z, 298.15, periodic=False)
    assert ws.dX[0] == pytest.approx(1e-4 * 2.0, rel=1e-12)


def test_cycle_rate_bounded_by_crate_max():
    # a reconstructed series that looks 10C when the window's largest current was 2C
    t = np.array([0.0, 360.0, 720.0])
    ws = _crate_model(c=1e-4).window_stress(t, [1.0, 0.0, 1.0], 298.15, crate_max=2.0)
    assert ws.dX[0] == pytest.approx(2e-4, rel=1e-12)
    assert ws.summary["crate_bounded_share"] == 1.0
    with pytest.raises(InputError, match=r"'crate_max' argument of window_stress must be "
                                         r"in the range \(0, inf\) 1/h. Got -1"):
        _crate_model().window_stress(t, [1.0, 0.0, 1.0], 298.15, crate_max=-1.0)


def test_temperature_round_off_below_a_bound_does_not_warn():
    m = load_model("lfp_gr_250ah")  # calendar resistance valid from 298.15 K
    t = [0.0, 3600.0]
    m.window_stress(t, [0.5, 0.5], 298.15 - 5.7e-5)  # warnings are errors in the test run
    with pytest.warns(LifeValidityWarning, match=r"'temperature_K' outside its validated "
                      r"range \[298.15, 333.15\] \(down to 298.05"):
        m.window_stress(t, [0.5, 0.5], 298.05)


def test_drifting_load_window_warns_that_its_closing_cycle_is_not_steady_service():
    # started at SOC 0.3 below its 0.6 target, the controller restores charge through the
    # whole window (+0.2): repeated, that is a 20 % cycle per window no steady service makes
    m = _one_term(exponent=0.5, factors=[{"type": "constant", "value": 1e-3}])
    cfg = _config()
    cfg["battery"]["initial_soc"] = 0.3
    cfg["controller"] = {"soc_target": 0.6, "soc_band": [0.5, 0.7], "soc_restore_time_s": 600.0}
    with pytest.warns(LifeValidityWarning, match=r"The load window's SOC drifts by \+0\.1\d+ "
                      r"over 600 s .*battery.initial_soc = controller.soc_target"):
        project_life(varied_ecm(), cfg, np.full(600, 150.0), dt_s=1.0, years=0.01,
                     model=m, check_capability=False)


# ---- C-rate definitions (coefficients used with their source's stressor) ---------------
def _crate_def_model(definition=None, term_definition=None, validity=None):
    d = _crate_model(c=1e-4).to_dict()
    d.pop("crate_definition")
    if definition is not None:
        d["crate_definition"] = definition
    if term_definition is not None:
        d["terms"][0]["crate_definition"] = term_definition
    if validity is not None:
        d["terms"][0]["validity"] = validity
    return AgeingModel.from_dict(d)


# the nested micro-cycle window above: interval rates 1, 10, 10, 1, 1 (1/h); cycles: a
# full 0.1 at 10C and two halves of depth 1 at 1C (1.1 EFC)
_H = 3600.0
_T = np.array([0.0, 0.5, 0.51, 0.52, 1.02, 2.02]) * _H
_Z = [0.0, 0.5, 0.4, 0.5, 1.0, 0.0]
# BLAST-Lite's window mean: trapezoid of the interval rates at the interval end times
# (0.5, 0.51, 0.52, 1.02, 2.02 h), over the window's 2.02 h:
# (11/2 * 0.01 + 20/2 * 0.01 + 11/2 * 0.5 + 2/2 * 1.0) / 2.02 = 3.905 / 2.02
_WINDOW_MEAN = 3.905 / 2.02


def test_window_mean_crate_exact_and_own_charge_default():
    assert window_mean_crate(_T, _Z) == pytest.approx(_WINDOW_MEAN, rel=1e-12)
    own = _crate_def_model()
    assert own.crate_definition == "own_charge"
    assert own.window_stress(_T, _Z, 298.15, periodic=False).dX[0] == \
        pytest.approx(1e-4 * (10 * 0.1 + 1 * 0.5 + 1 * 0.5), rel=1e-12)
    win = _crate_def_model("window_mean")
    ws = win.window_stress(_T, _Z, 298.15, periodic=False)
    # every cycle takes the window's one value: dX = c * crate_w * EFC
    assert ws.dX[0] == pytest.approx(1e-4 * _WINDOW_MEAN * 1.1, rel=1e-12)
    assert ws.summary["crate_window_mean"] == pytest.approx(_WINDOW_MEAN, rel=1e-12)
    # a term's own definition overrides the model's
    over = _crate_def_model("own_charge", term_definition="window_mean")
    assert over.window_stress(_T, _Z, 298.15, periodic=False).dX[0] == \
        pytest.approx(ws.dX[0], rel=1e-12)
    assert AgeingModel.from_dict(over.to_dict()).terms[0].crate_definition == "window_mean"


def test_window_mean_crate_zeroes_storage_rates():
    # 0.5 -> 0 -> 1 -> 0.5 at 0.5C in 4 h, then 20 h drifting 0.05 (0.0025/h < 0.01/h:
    # storage, zeroed as in BLAST-Lite). Trapezoid at the end times 1, 3, 4, 24 h:
    # (0.5 * 2 + 0.5 * 1 + 0.25 * 20) / 24 = 6.5 / 24
    t = np.array([0.0, 1.0, 3.0, 4.0, 24.0]) * _H
    z = [0.5, 0.0, 1.0, 0.5, 0.45]
    assert window_mean_crate(t, z) == pytest.approx(6.5 / 24, rel=1e-12)
    # sampled each minute it is the mean |dSOC/dt| over the day, rests included (2 / 24),
    # less BLAST-Lite's trapezoid edges: the first minute (0.5/h x 1/60 h) is outside the
    # integral, and the last moving minute's 0.5/h ramps to 0 over the first rest minute
    # (+0.25/h x 1/60 h); rel=1e-9: summation round-off over 1440 intervals
    tf = np.linspace(0.0, 24.0, 24 * 60 + 1) * _H
    zf = np.interp(tf, t, [0.5, 0.0, 1.0, 0.5, 0.5])
    assert window_mean_crate(tf, zf) == pytest.approx((2.0 - 0.5 / 60 + 0.25 / 60) / 24,
                                                      rel=1e-9)


def test_validity_checked_on_the_definitions_value():
    # C-rate valid up to 2/h: the window mean (1.93/h) is inside, the dip's own 10C is not
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _crate_def_model("window_mean", validity={"crate": [0.0, 2.0]}).window_stress(
            _T, _Z, 298.15, periodic=False)
    with pytest.warns(LifeValidityWarning, match="crate"):
        _crate_def_model("own_charge", validity={"crate": [0.0, 2.0]}).window_stress(
            _T, _Z, 298.15, periodic=False)


def test_unknown_crate_definition_refused():
    with pytest.raises(ParameterError, match=r"'crate_definition' of .* must be one of "
                                             r"'own_charge', 'window_mean'. Got "
                                             r"'window-mean'"):
        _crate_def_model("window-mean")
    with pytest.raises(ParameterError, match=r"'crate_definition' of term 0 .* must be one "
                                             r"of 'own_charge', 'window_mean'. Got 'mean'"):
        _crate_def_model(term_definition="mean")


def test_blast_lite_sets_declare_the_window_mean():
    for name in ("lfp_gr_250ah", "nmc111_gr_kokam75ah"):
        assert load_model(name).crate_definition == "window_mean"
