"""ECM fitted directly to HPPC: exact Jacobian, recovery of a known ECM, a short window of
the measured Nissan Leaf record, and bad input. The whole records are the validation case
``fit_ecm_hppc``."""

import numpy as np
import pytest

from cellmodels.errors import InputError
from cellmodels.fitting import FitResult
from cellmodels.fitting.ecm_hppc import _ltv, _prepare, ecm_voltage_on_record, fit_ecm_hppc
from cellmodels.measured import Dataset
from cellmodels.measured.nissan import HPPC_FILES, read_nissan
from cellmodels.reduction import ECM


def _window(ds, a, b, name):
    sl = slice(a, b)
    return Dataset(time_s=ds.time_s[sl], current_A=ds.current_A[sl],
                   voltage_V=ds.voltage_V[sl], name=name, source=ds.source,
                   step=ds.step[sl], meta=ds.meta)


@pytest.fixture(scope="module")
def nissan_window():
    # the first two pulse groups at 25 degC: 30 A pulse, rest, regen pulse, 3 Ah at 10 A,
    # 1 h rest (samples 376-3100 of 13248, 2.6 h)
    return _window(read_nissan(HPPC_FILES[25]), 376, 3100, "Nissan 25degC window")


def _true_ecm():
    soc = np.array([0.0, 1.0])
    return ECM(name="true", capacity_Ah=2.0, soc=soc, temperature_K=np.array([298.15]),
               ocv_V=np.array([3.4, 4.1]), docv_dT_V_per_K=np.zeros(2),
               r0_Ohm=np.full((2, 1), 0.02), rc_R_Ohm=np.array([[[0.01]] * 2, [[0.015]] * 2]),
               rc_tau_s=np.array([[[3.0]] * 2, [[80.0]] * 2]))


def _synthetic(ecm):
    """Pulses from rest, 1 s samples, made by the reference simulator."""
    t = np.arange(0.0, 1500.0, 1.0)
    i = np.zeros_like(t)
    for start, amp in ((100, 4.0), (400, -2.0), (700, 6.0), (1000, 2.0)):
        i[(t >= start) & (t < start + 60)] = amp
    probe = Dataset(time_s=t, current_A=i, voltage_V=np.full(t.size, 3.7), name="syn",
                    source="synthetic")
    v = ecm_voltage_on_record(ecm, probe, temperature_K=298.15, initial_soc=0.8)
    return Dataset(time_s=t, current_A=i, voltage_V=v, name="syn", source="synthetic")


def test_ltv_recursion_matches_a_loop():
    rng = np.random.default_rng(1)
    loga = -rng.uniform(0, 400, 50)  # includes steps that decay to nothing
    b = rng.standard_normal((50, 3))
    x = np.zeros((51, 3))
    for k in range(50):
        x[k + 1] = np.exp(loga[k]) * x[k] + b[k]
    np.testing.assert_allclose(_ltv(loga, b), x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("two_temperatures", [False, True])
def test_jacobian_is_exact(nissan_window, two_temperatures):
    small = [_window(nissan_window, 0, 1400, "w")]
    temps = [298.15]
    if two_temperatures:  # SOC-dependent tables, dU/dT and two R tables
        small.append(_window(nissan_window, 1200, 2724, "w2"))
        temps.append(283.15)
    prep = _prepare(small, temps, 2, 31.5, [0.8, 0.9, 1.0] if two_temperatures else None, 2,
                    None, None, soc_dependent=two_temperatures)
    prob = prep["prob"]
    rng = np.random.default_rng(0)
    z = np.clip(prep["z0"] + 0.05 * rng.standard_normal(prob.n),
                prep["lo_z"] + 1e-3, prep["hi_z"] - 1e-3)
    _, jac = prob.evaluate(z, jac=True)
    eps = 1e-6
    for k in range(prob.n):
        zp, zm = z.copy(), z.copy()
        zp[k] += eps
        zm[k] -= eps
        fd = (prob.evaluate(zp, jac=False)[0] - prob.evaluate(zm, jac=False)[0]) / (2 * eps)
        # central differences carry O(eps^2 f''') truncation and O(1e-16/eps) round-off:
        # agreement to 1e-6 of the column's size shows the analytic column is exact
        scale = np.max(np.abs(fd)) + 1e-12
        assert np.max(np.abs(jac[:, k] - fd)) < 1e-6 * scale + 1e-9, prob.names[k]


def test_recovers_a_known_ecm():
    true = _true_ecm()
    ds = _synthetic(true)
    res = fit_ecm_hppc([ds], temperatures_K=[298.15], capacity_Ah=2.0, soc_dependent=False,
                       tau_bounds_s=[(0.5, 20.0), (20.0, 500.0)])
    assert isinstance(res, FitResult) and res.success
    v = res.values
    # noise-free data made by simulate_ecm, whose zero-order hold the fit's model shares:
    # the parameters come back to the optimiser's tolerance
    assert v["r0_Ohm@298.15K"] == pytest.approx(0.02, rel=1e-4)
    assert v["rc1_R_Ohm@298.15K"] == pytest.approx(0.01, rel=1e-3)
    assert v["rc1_tau_s@298.15K"] == pytest.approx(3.0, rel=1e-3)
    assert v["rc2_R_Ohm@298.15K"] == pytest.approx(0.015, rel=1e-3)
    assert v["rc2_tau_s@298.15K"] == pytest.approx(80.0, rel=1e-3)
    assert res.experiments[0].rmse_V < 1e-5
    # the fit's SOC frame puts SOC 1 at the record's most charged state (its start here);
    # the record spans true SOC 0.717-0.8
    shift = res.meta["initial_soc"]["syn"] - 0.8
    for z in (0.72, 0.75, 0.79):
        assert res.meta["ecm"].ocv(z + shift, 298.15) == pytest.approx(true.ocv(z, 298.15),
                                                                       abs=1e-5)


def test_short_measured_window_within_5mV(nissan_window):
    res = fit_ecm_hppc([nissan_window], temperatures_K=[298.15])
    assert res.success, res.message
    e = res.experiments[0]
    # the target for the whole record is 5 mV; on this window (2 pulse groups,
    # 2.6 h) the fitted ECM run by simulate_ecm reaches ~1-2 mV
    assert e.rmse_V < 0.005
    ecm = res.meta["ecm"]
    assert ecm.n_rc == 2 and ecm.r0_Ohm.shape == (ecm.soc.size, 1)
    # the 30 A pulse's instantaneous resistance of a 33 Ah cell: 1-2 mOhm
    assert 0.5e-3 < ecm.r0_Ohm.mean() < 3e-3
    assert np.all(np.diff(ecm.ocv_V) > 0)
    assert res.ci95[res.names[0]][0] < res.values[res.names[0]] < res.ci95[res.names[0]][1]


def test_a_fit_that_runs_out_of_evaluations_says_so():
    ds = _synthetic(_true_ecm())
    res = fit_ecm_hppc([ds], temperatures_K=[298.15], capacity_Ah=2.0, soc_dependent=False,
                       max_nfev=1)
    assert not res.success
    assert "maximum number of function evaluations" in res.message
    assert "DID NOT CONVERGE" in str(res)


def test_bad_input():
    ds = _synthetic(_true_ecm())
    with pytest.raises(InputError, match="must hold at least one record"):
        fit_ecm_hppc([])
    with pytest.raises(InputError, match=r"synthetic: the record's temperature must be in "
                                         r"\(150, 500\) K.*Got None"):
        fit_ecm_hppc([ds])
    with pytest.raises(InputError, match="'n_rc' of fit_ecm_hppc must be an integer >= 1"):
        fit_ecm_hppc([ds], temperatures_K=[298.15], n_rc=0)
    with pytest.raises(InputError, match=r"'capacity_Ah' \(0.001 Ah\) is below the charge"):
        fit_ecm_hppc([ds], temperatures_K=[298.15], capacity_Ah=0.001)
    with pytest.raises(InputError, match="'tau_bounds_s' must give"):
        fit_ecm_hppc([ds], temperatures_K=[298.15], tau_bounds_s=[(5.0, 1.0), (1.0, 9.0)])
    with pytest.raises(InputError, match="'soc_knots' must be an increasing grid"):
        fit_ecm_hppc([ds], temperatures_K=[298.15], soc_knots=[0.5, 0.4])


def test_cli_fit_ecm_writes_the_ecm(tmp_path, capsys):
    import argparse
    import json

    from cellmodels.fitting.ecm_hppc import add_parser
    from cellmodels.reduction import load_ecm

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "s30t.ecm.h5"
    args = parser.parse_args(["fit-ecm", "samsung_inr21700_30t_pybop/sample_hppc_pulse.xlsx",
                              "--temperature-C", "25", "-o", str(out),
                              "--report", str(tmp_path / "fit.json")])
    assert args.func(args) == 0
    ecm = load_ecm(out)
    assert ecm.n_rc == 2 and ecm.temperature_K.tolist() == [298.15]
    # one 1C pulse of a 3 Ah cell, sampled every 0.1 s: R0 and a 0.1 s RC pair share the
    # ~7 mOhm seen at the first loaded sample, and the fit says it cannot separate them
    assert 5e-3 < ecm.r0_Ohm[0, 0] + ecm.rc_R_Ohm[0, 0, 0] < 15e-3
    summary = json.loads((tmp_path / "fit.json").read_text())
    assert summary["success"] and summary["experiments"][0]["rmse_mV"] < 5.0
    assert "r0_Ohm@298.15K" in summary["not_separable"]
    assert "Wrote" in capsys.readouterr().out
    bad = parser.parse_args(["fit-ecm", "a.xlsx", "b.xlsx", "--temperature-C", "25", "30",
                             "40", "-o", "x.h5"])
    with pytest.raises(InputError, match="one --temperature-C for all DATA or one per DATA"):
        bad.func(bad)
