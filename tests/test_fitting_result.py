"""FitResult statistics against the exact linear least-squares answer."""

import math

import numpy as np
import pytest
from scipy import stats

from cellmodels.errors import InputError
from cellmodels.fitting import FitResult, jacobian_statistics


def _result(J, r, x, scaling=None, scale=None, lo=-10.0, hi=10.0):
    n = J.shape[1]
    return FitResult.from_solution(
        names=[f"p{k}" for k in range(n)], x=x, x0=np.zeros(n),
        scaling=scaling or ["linear"] * n, scale=scale or [1.0] * n,
        bounds_z=(np.full(n, lo), np.full(n, hi)), jacobian=J, residuals=r, experiments=[],
        n_evaluations=1, n_jacobians=1, gradient="exact", success=True, status=1,
        message="test", wall_time_s=0.0)


def test_linear_least_squares_intervals_are_the_textbook_ones():
    # y = A beta + e: beta_hat = (A^T A)^-1 A^T y, Cov = s^2 (A^T A)^-1, t interval.
    rng = np.random.default_rng(3)
    m, n = 40, 3
    A = np.column_stack([np.ones(m), np.linspace(0, 1, m), np.linspace(0, 1, m) ** 2])
    y = A @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.05, size=m)
    beta = np.linalg.solve(A.T @ A, A.T @ y)
    r = A @ beta - y
    s2 = r @ r / (m - n)
    cov = s2 * np.linalg.inv(A.T @ A)
    half = stats.t.ppf(0.975, m - n) * np.sqrt(np.diag(cov))
    st = jacobian_statistics(A, r)
    # Both sides are double-precision linear algebra on a well-conditioned 3x3: 1e-10.
    np.testing.assert_allclose(st.covariance, cov, rtol=1e-10)
    np.testing.assert_allclose(st.half_width, half, rtol=1e-10)
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    np.testing.assert_allclose(st.correlation, corr, rtol=1e-10, atol=1e-12)
    res = _result(A, r, beta)
    for k in range(n):
        lo, hi = res.ci95[f"p{k}"]
        assert lo == pytest.approx(beta[k] - half[k], rel=1e-10)
        assert hi == pytest.approx(beta[k] + half[k], rel=1e-10)
    # the quadratic and linear coefficients are strongly anti-correlated on [0, 1]
    assert ("p1", "p2") == res.correlated_pairs[0][:2]
    assert set(res.not_separable) >= {"p1", "p2"}


def test_log_scaled_interval_maps_back_through_the_transform():
    # J in z = log10(p): the interval is symmetric in log10, not in p.
    rng = np.random.default_rng(0)
    J = rng.normal(size=(30, 2))
    r = rng.normal(scale=0.01, size=30)
    st = jacobian_statistics(J, r)
    x = np.array([-13.0, 0.5])
    res = _result(J, r, x, scaling=["log", "linear"], scale=[1.0, 2.0], lo=-20, hi=20)
    lo, hi = res.ci95["p0"]
    assert math.log10(lo) == pytest.approx(-13.0 - st.half_width[0], rel=1e-12)
    assert math.log10(hi) == pytest.approx(-13.0 + st.half_width[0], rel=1e-12)
    assert res.values["p1"] == pytest.approx(1.0)  # z * scale
    assert res.ci95["p1"][1] - 1.0 == pytest.approx(2.0 * st.half_width[1], rel=1e-12)


def test_singular_jacobian_flags_both_parameters_and_unbounds_them():
    # Two identical columns: only their sum is identified.
    rng = np.random.default_rng(1)
    c = rng.normal(size=25)
    J = np.column_stack([c, c, rng.normal(size=25)])
    r = rng.normal(scale=0.1, size=25)
    res = _result(J, r, np.zeros(3))
    assert math.isinf(res.condition_number) or res.condition_number > 1e12
    assert {"p0", "p1"} <= set(res.not_separable)
    assert res.ci95["p0"] == (-math.inf, math.inf)
    assert math.isfinite(res.ci95["p2"][1])


def test_at_bound_is_reported():
    J = np.eye(4)[:, :2].repeat(3, axis=0)
    res = _result(J, np.full(12, 0.1), np.array([10.0, 0.0]))
    assert res.at_bound == ("p0",)


def test_statistics_refuse_too_few_residuals():
    with pytest.raises(InputError, match="2 residuals for 2 parameters"):
        jacobian_statistics(np.eye(2), np.zeros(2))
    with pytest.raises(InputError, match="NaN or inf"):
        jacobian_statistics(np.full((3, 1), np.nan), np.zeros(3))
