"""fit_balance: the electrode balance from an OCV curve (cellmodels.fitting.balance).

The synthetic curves are made through PyBaMM's own OCP functions and its electrode-SOH
solve (not balance.py's tables), from a set whose balance save_fitted rewrote: so a test
passes only if the fit, the saved set and PyBaMM agree on what a balance means.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cellmodels.errors import InputError
from cellmodels.fitting import FitResult
from cellmodels.fitting.balance import BALANCE_PARAMETERS, OCVCurve, fit_balance
from cellmodels.physics import load_cell

FN, FP, X100 = BALANCE_PARAMETERS  # the three keys
TRUE = {FN: 0.93, FP: 0.88, X100: 0.95}


def _pybamm_ocv(cell, q_Ah: np.ndarray, temperature_K: float = 298.15) -> np.ndarray:
    """OCV of ``cell`` at charge ``q_Ah`` below its 100 % SOC state, through PyBaMM."""
    import pybamm

    pv = cell.parameter_values()
    param = pybamm.LithiumIonParameters()
    x100, y100 = pybamm.lithium_ion.get_initial_stoichiometries(1.0, pv, param=param)
    q_n, q_p = float(pv.evaluate(param.n.Q_init)), float(pv.evaluate(param.p.Q_init))
    # Q_init is the capacity of the initial state's electrode: the whole electrode's,
    # independent of its stoichiometry, so the straight lines below are PyBaMM's.
    T = pybamm.Scalar(temperature_K)
    x = pybamm.Vector(x100 - q_Ah / q_n)
    y = pybamm.Vector(y100 + q_Ah / q_p)
    u = pv.evaluate(param.p.prim.U(y, T) - param.n.prim.U(x, T))
    return np.asarray(u, float).ravel()


@pytest.fixture(scope="module")
def true_cell(tmp_path_factory):
    """lgm50 with the balance TRUE, written by save_fitted (limits rewritten)."""
    from cellmodels.fitting.physics import save_fitted

    base = load_cell("lgm50")
    fake = FitResult.from_solution(
        names=list(TRUE), x=np.array(list(TRUE.values())), x0=np.ones(3),
        scaling=["linear"] * 3, scale=[1.0] * 3,
        bounds_z=(np.zeros(3), np.full(3, 2.0)),
        jacobian=np.eye(4, 3) + 0.1, residuals=np.full(4, 1e-3), experiments=[],
        n_evaluations=1, n_jacobians=1, gradient="analytic", success=True, status=1,
        message="made for the test", wall_time_s=0.0,
        meta={"datasets": [], "model": "test", "thermal": "none"})
    path = tmp_path_factory.mktemp("balance") / "lgm50_true.json"
    save_fitted(fake, base, path, name="lgm50_true")
    return load_cell(path)


def _curve(true_cell, noise_V=0.0, seed=0, offset_Ah=0.3, n=81):
    cap = true_cell.soc_capacity_Ah
    q = np.linspace(0.03, 0.97, n) * cap
    v = _pybamm_ocv(true_cell, q)
    v = v + np.random.default_rng(seed).normal(0.0, noise_V, v.size)
    # the curve's own charge axis starts elsewhere: the fitted start charge must find it
    return OCVCurve(name="synthetic OCV", source="test", charge_Ah=q - offset_Ah,
                    voltage_V=v, current_A=np.zeros_like(q), temperature_K=298.15)


def test_exact_curve_recovers_the_balance(true_cell):
    r = fit_balance("lgm50", [_curve(true_cell)])
    assert r.success, r.message
    for k, v in TRUE.items():
        # 1e-4: the OCP tables are sampled on 20001 points (5e-5 in stoichiometry)
        assert r.values[k] == pytest.approx(v, abs=1e-4), k
    assert r.values["start charge [A.h] (synthetic OCV)"] == pytest.approx(0.3, abs=2e-3)
    assert r.experiments[0].rmse_V < 1e-4
    modes = r.meta["degradation_modes"]
    assert modes["LAM_negative"] == pytest.approx(0.07, abs=1e-4)
    assert modes["LAM_positive"] == pytest.approx(0.12, abs=1e-4)
    # the saved true set's capacity between cut-offs is the fit's (PyBaMM's SOH solve)
    assert modes["capacity_between_cutoffs_Ah"] == pytest.approx(true_cell.soc_capacity_Ah,
                                                                rel=1e-4)


def test_noisy_curve_interval_holds_the_truth(true_cell):
    # 2 mV Gaussian noise; three seeds keep the test fast (the validation case runs ten)
    inside = {k: 0 for k in TRUE}
    for seed in range(3):
        r = fit_balance("lgm50", [_curve(true_cell, 2e-3, seed)], seed=seed)
        assert r.success, r.message
        # residual standard deviation ~ the noise (the model is exact)
        assert r.residual_std == pytest.approx(2e-3, rel=0.3)
        for k, v in TRUE.items():
            inside[k] += r.contains(k, v)
    assert all(n >= 2 for n in inside.values()), inside


def test_jacobian_is_the_residual_derivative(true_cell, monkeypatch):
    """The analytic Jacobian against central differences of the residual, at the start
    of the local fit (away from the solution)."""
    import scipy.optimize

    curve = _curve(true_cell, 0.0)
    captured = {}
    real = scipy.optimize.least_squares

    def spy(fun, z0, jac, **kw):
        captured["fun"], captured["jac"], captured["z"] = fun, jac, np.asarray(z0, float)
        return real(fun, z0, jac=jac, **kw)

    monkeypatch.setattr(scipy.optimize, "least_squares", spy)  # balance imports it per call
    fit_balance("lgm50", [curve], global_search=False, max_nfev=1)
    fun, jac, z = captured["fun"], captured["jac"], captured["z"]
    J = jac(z)
    h = 1e-7
    for k in range(z.size):
        dz = np.zeros_like(z)
        dz[k] = h
        fd = (fun(z + dz) - fun(z - dz)) / (2 * h)
        # piecewise-linear tables: exact away from the knots, and a 1e-7 step crosses
        # a knot (spacing 5e-5) at a few samples at most
        close = np.isclose(J[:, k], fd, rtol=1e-5, atol=1e-6 * np.abs(J[:, k]).max())
        assert close.mean() > 0.9, (k, np.abs(J[:, k] - fd).max())


def test_set_balance_only_and_pseudo_ocv_resistance(true_cell):
    """fit=() fits only the nuisance values; a curve with current gets a series resistance."""
    cap = true_cell.soc_capacity_Ah
    q = np.linspace(0.05, 0.95, 60) * cap
    i = np.full(q.size, 0.25)
    v = _pybamm_ocv(true_cell, q) - 0.04 * i  # 40 mOhm
    c = OCVCurve(name="slow discharge", source="test", charge_Ah=q, voltage_V=v,
                 current_A=i, temperature_K=298.15)
    r = fit_balance("lgm50", [c], fit=(), global_search=False)
    assert r.names == ("start charge [A.h] (slow discharge)",
                       "series resistance [Ohm] (slow discharge)")
    # the set's own balance (not the true one): the curve does not fit
    assert r.experiments[0].rmse_V > 5e-3
    # held at the true balance (initial of values not fitted): only q0 and R move
    r2 = fit_balance("lgm50", [c], fit=(), initial=TRUE, global_search=False)
    assert r2.values["series resistance [Ohm] (slow discharge)"] == pytest.approx(0.04,
                                                                                  abs=1e-4)
    assert r2.experiments[0].rmse_V < 1e-4  # the tables' interpolation (test above)


def test_save_fitted_writes_the_balance_not_the_nuisance(true_cell, tmp_path):
    from cellmodels.fitting.physics import save_fitted

    r = fit_balance("lgm50", [_curve(true_cell)])
    out = save_fitted(r, "lgm50", tmp_path / "balanced.json")
    fitted = load_cell(out)
    assert fitted.soc_capacity_Ah == pytest.approx(true_cell.soc_capacity_Ah, rel=2e-4)
    q = np.linspace(0.1, 0.9, 9) * true_cell.soc_capacity_Ah
    # the saved set's OCV through PyBaMM is the true one (to the fit's 1e-4 in balance)
    assert np.abs(_pybamm_ocv(fitted, q) - _pybamm_ocv(true_cell, q)).max() < 1e-3
    prov = fitted.meta["provenance"]
    assert not any("start charge" in k or "series resistance" in k for k in prov)


def test_a_balance_that_is_no_cell_is_not_a_success():
    # a curve with twice the cell's charge cannot fit inside [0, 1] stoichiometries
    cell = load_cell("lgm50")
    q = np.linspace(0.0, 2.0, 50) * cell.soc_capacity_Ah
    v = np.linspace(4.1, 3.0, q.size)
    c = OCVCurve(name="too long", source="test", charge_Ah=q, voltage_V=v,
                 current_A=np.zeros_like(q), temperature_K=298.15)
    r = fit_balance("lgm50", [c], global_search=False)
    assert not r.success
    assert "outside [0, 1]" in r.message and "too long" in r.message


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"fit": ("Negative electrode/Diffusivity [m2.s-1]",)}, "fits some of"),
    ({"bounds": {FN: (1.1, 1.5)}}, "exclude its initial value 1.0"),
    ({"max_nfev": 0}, "max_nfev"),
])
def test_bad_arguments(kwargs, match):
    q = np.linspace(0, 4, 20)
    c = OCVCurve(name="c", source="t", charge_Ah=q, voltage_V=np.linspace(4.1, 3.2, 20),
                 current_A=np.zeros(20), temperature_K=298.15)
    with pytest.raises(InputError, match=match):
        fit_balance("lgm50", [c], **kwargs)


def test_bad_curves():
    q = np.linspace(0, 4, 20)
    ok = {"name": "c", "source": "t", "charge_Ah": q, "voltage_V": np.linspace(4.1, 3.2, 20),
          "current_A": np.zeros(20), "temperature_K": 298.15}
    bad_v = np.linspace(4.1, 3.2, 20)
    bad_v[7] = math.nan
    with pytest.raises(InputError, match="'voltage_V' .* sample 7"):
        OCVCurve(**{**ok, "voltage_V": bad_v})
    with pytest.raises(InputError, match=r"mV given as V"):
        OCVCurve(**{**ok, "voltage_V": 1e3 * np.linspace(4.1, 3.2, 20)})
    with pytest.raises(InputError, match="temperature_K"):
        OCVCurve(**{**ok, "temperature_K": 25.0})
    with pytest.raises(InputError, match="percent"):
        OCVCurve.from_table("t", "s", np.linspace(0, 100, 11), np.linspace(3, 4, 11), 5.0,
                            298.15)
    with pytest.raises(InputError, match="distinct names"):
        fit_balance("lgm50", [OCVCurve(**ok), OCVCurve(**ok)])
    with pytest.raises(InputError, match="sequence of one or more"):
        fit_balance("lgm50", OCVCurve(**ok))


def test_a_value_set_by_its_bound_is_reported(true_cell):
    # the truth has x100 = 0.95: an upper bound of 0.94 holds it there, a hair inside
    r = fit_balance("lgm50", [_curve(true_cell)], bounds={X100: (0.3, 0.94)},
                    global_search=False)
    assert X100 in r.at_bound
    assert "set by the bound" in r.message and "0.94" in r.message
    free = fit_balance("lgm50", [_curve(true_cell)], global_search=False)
    assert X100 not in free.at_bound


def test_branch_offset_of_a_table(true_cell):
    """A table 10 mV below the OCV (one branch of a hysteresis): fit_offset takes it up."""
    c = _curve(true_cell)
    shifted = OCVCurve(name=c.name, source=c.source, charge_Ah=c.charge_Ah,
                       voltage_V=c.voltage_V - 0.010, current_A=c.current_A,
                       temperature_K=c.temperature_K)
    r = fit_balance("lgm50", [shifted], fit_offset=True)
    assert r.values["voltage offset [V] (synthetic OCV)"] == pytest.approx(-0.010, abs=2e-4)
    for k, v in TRUE.items():
        assert r.values[k] == pytest.approx(v, abs=2e-3), k


def test_a_set_with_hysteresis_warns_without_the_offset():
    cell = load_cell("liquid_lfp_ups")
    q = np.linspace(0.05, 0.95, 30) * cell.soc_capacity_Ah
    c = OCVCurve(name="lfp", source="t", charge_Ah=q, voltage_V=np.linspace(3.35, 3.25, 30),
                 current_A=np.zeros(30), temperature_K=298.15)
    with pytest.warns(UserWarning, match="hysteresis"):
        fit_balance(cell, [c], global_search=False, max_nfev=2)


def test_initial_of_a_value_not_fitted_holds_it(true_cell):
    r = fit_balance("lgm50", [_curve(true_cell)], fit=(FN, FP), initial={X100: 0.95},
                    global_search=False)
    assert X100 not in r.values
    assert r.meta["degradation_modes"]["x100"] == pytest.approx(0.95)
    assert r.values[FN] == pytest.approx(0.93, abs=1e-3)


def test_charge_axis_against_the_current_is_refused():
    q = np.linspace(0.0, 4.0, 20)
    with pytest.raises(InputError, match="disagree in sign"):
        OCVCurve(name="c", source="t", charge_Ah=q, voltage_V=np.linspace(4.1, 3.2, 20),
                 current_A=np.full(20, -0.5), temperature_K=298.15)


def test_bounds_outside_what_a_balance_can_be_are_refused():
    q = np.linspace(0, 4, 20)
    c = OCVCurve(name="c", source="t", charge_Ah=q, voltage_V=np.linspace(4.1, 3.2, 20),
                 current_A=np.zeros(20), temperature_K=298.15)
    with pytest.raises(InputError, match=r"bounds\[.*Surface area.*\]\[0\]"):
        fit_balance("lgm50", [c], bounds={FN: (-1.0, 1.5)})
    with pytest.raises(InputError, match="x100|Maximum stoichiometry"):
        fit_balance("lgm50", [c], initial={X100: 1.2})
    zero = OCVCurve(name="c", source="t", charge_Ah=q, voltage_V=np.linspace(4.1, 3.2, 20),
                    current_A=np.zeros(20), temperature_K=298.15, weight=0.0)
    with pytest.raises(InputError, match="weight 0"):
        fit_balance("lgm50", [zero])
