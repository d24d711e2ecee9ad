"""What a fit returns: values, uncertainty from the Jacobian, residuals per experiment.

Both fitting front doors (physics parameters, :mod:`cellmodels.fitting.physics`; ECM
tables from HPPC, :mod:`cellmodels.fitting.ecm_hppc`) return a :class:`FitResult`.

Uncertainty
-----------
The fit minimises ``sum(r_i^2)`` over the *fitted coordinates* ``z`` (``z = log10(p)``
for a log-scaled parameter, ``z = p / scale`` for a linear one), where ``r`` is the
weighted residual vector of all experiments. At the solution, with ``J = dr/dz``, ``m``
residuals and ``n`` parameters, the classical (Gauss-Newton, linearised) estimate is::

    s^2     = sum(r^2) / (m - n)             residual variance
    Cov(z)  = s^2 (J^T J)^-1                  computed by SVD of J
    z_lo/hi = z -/+ t_{0.975, m-n} sqrt(diag Cov)
    corr    = Cov_ij / sqrt(Cov_ii Cov_jj)

and the interval is mapped back through the coordinate transform (so a log-scaled
parameter gets an interval that is symmetric in log10, asymmetric in value). This is
exact for a model linear in ``z`` with independent Gaussian errors of equal variance
(``tests/test_fitting_result.py`` checks it against the textbook linear answer), and an
approximation otherwise. It assumes independent residuals: data sampled much faster
than its noise decorrelates (or with model error) gives intervals that are too narrow.

Parameters the data cannot separate are flagged: any pair with ``|corr| > 0.95``
(:data:`CORRELATION_LIMIT`), and every parameter with a component along a singular
direction of ``J`` when ``cond(J^T J)`` exceeds :data:`CONDITION_LIMIT` (their
intervals are then unbounded: ``inf``), and every parameter whose 95 % interval is wider
than its whole bound range. A parameter that ended on a bound is listed in
``at_bound``; its interval is the linearised one and should not be trusted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = [
    "CONDITION_LIMIT",
    "CORRELATION_LIMIT",
    "ExperimentResidual",
    "FitResult",
    "JacobianStatistics",
    "jacobian_statistics",
    "plot_experiments",
]

#: |correlation| above which two parameters are reported as not separable.
CORRELATION_LIMIT = 0.95
#: Condition number of J^T J (in fitted coordinates) above which it is near-singular:
#: at 1e12, double precision leaves ~4 significant digits in (J^T J)^-1.
CONDITION_LIMIT = 1e12
#: Scalings a fitted parameter may use.
SCALINGS = ("linear", "log")


@dataclass(frozen=True)
class JacobianStatistics:
    """Linearised statistics at a least-squares solution, in fitted coordinates ``z``.

    Attributes
    ----------
    covariance : (n, n) array
        ``s^2 (J^T J)^-1`` [z units squared]; rows/columns of unresolved parameters inf.
    correlation : (n, n) array
        Correlation matrix; NaN where a parameter is unresolved.
    std : (n,) array
        Standard error of each ``z``.
    half_width : (n,) array
        Half-width of the 95 % interval of each ``z`` (Student t with ``dof`` degrees).
    residual_variance : float
        ``s^2 = sum(r^2) / dof``.
    dof : int
        ``m - n``.
    condition_number : float
        Condition number of ``J^T J`` (inf if singular).
    unresolved : tuple of int
        Indices along a near-singular direction of ``J^T J``.
    """

    covariance: np.ndarray
    correlation: np.ndarray
    std: np.ndarray
    half_width: np.ndarray
    residual_variance: float
    dof: int
    condition_number: float
    unresolved: tuple[int, ...]


def jacobian_statistics(
    jacobian: np.ndarray, residuals: np.ndarray, *, level: float = 0.95
) -> JacobianStatistics:
    """Covariance, correlation and confidence half-widths from ``J`` and ``r`` at a solution.

    Parameters
    ----------
    jacobian : (m, n) array
        ``dr/dz`` at the solution.
    residuals : (m,) array
        Weighted residuals at the solution.
    level : float
        Confidence level of the interval, in (0, 1).

    Raises
    ------
    InputError
        Shapes disagree, ``m <= n`` (no degrees of freedom), or NaN/inf in either.
    """
    from scipy import stats

    J = np.asarray(jacobian, dtype=float)
    r = np.asarray(residuals, dtype=float).ravel()
    if J.ndim != 2 or J.shape[0] != r.size:
        raise InputError(
            f"The 'jacobian' must be (m, n) with m = len(residuals) = {r.size}. "
            f"Got shape {J.shape} instead."
        )
    m, n = J.shape
    if m <= n:
        raise InputError(
            f"The fit has {m} residuals for {n} parameters: the confidence intervals need "
            "more residuals than parameters."
        )
    if not (np.all(np.isfinite(J)) and np.all(np.isfinite(r))):
        raise InputError("The 'jacobian' or 'residuals' hold NaN or inf.")
    if not 0.0 < level < 1.0:
        raise InputError(f"The 'level' of the interval must be in (0, 1). Got {level!r} instead.")
    dof = m - n
    s2 = float(r @ r) / dof
    _, sv, vt = np.linalg.svd(J, full_matrices=False)
    smax = float(sv[0]) if sv.size else 0.0
    cond = math.inf if sv[-1] == 0.0 else float((smax / sv[-1]) ** 2)
    # Directions whose squared singular value is below smax^2 / CONDITION_LIMIT are
    # not resolved by the data.
    weak = sv**2 * CONDITION_LIMIT <= smax**2
    unresolved: tuple[int, ...] = ()
    if np.any(weak):
        null = vt[weak]  # rows: weak directions in z
        comp = np.max(np.abs(null), axis=0)
        unresolved = tuple(int(i) for i in np.flatnonzero(comp > 1e-3))
    inv_s2 = np.where(weak, 0.0, 1.0 / np.where(weak, 1.0, sv**2))
    cov = s2 * (vt.T * inv_s2) @ vt
    cov = 0.5 * (cov + cov.T)
    std = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(std, std)
    for i in unresolved:
        cov[i, :] = cov[:, i] = math.inf
        std[i] = math.inf
        corr[i, :] = corr[:, i] = math.nan
    np.fill_diagonal(corr, 1.0)
    tq = float(stats.t.ppf(0.5 + level / 2.0, dof))
    return JacobianStatistics(
        covariance=cov,
        correlation=corr,
        std=std,
        half_width=tq * std,
        residual_variance=s2,
        dof=dof,
        condition_number=cond,
        unresolved=unresolved,
    )


def to_physical(z: float, scaling: str, scale: float) -> float:
    """Parameter value from its fitted coordinate (see module docstring)."""
    if scaling == "log":
        # An interval edge 300 decades out is an unbounded interval, not an overflow.
        return math.inf if z > 300 else 0.0 if z < -300 else float(10.0**z)
    return float(z * scale)


def to_fitted(p: float, scaling: str, scale: float) -> float:
    """Fitted coordinate of a parameter value (inverse of :func:`to_physical`)."""
    if scaling == "log":
        return float(math.log10(p))
    return float(p / scale)


@dataclass
class ExperimentResidual:
    """Model against data for one experiment of a fit (or a prediction).

    Voltages in V, temperatures in K, charge in A.h. ``*_first90`` statistics use the
    samples up to 90 % of the measured charge passed (the SOURCES.md convention).
    Arrays are on the measured samples that were compared.

    ``model_end_s`` is where the model stopped if it reached a voltage cut-off before the
    measured data ended, else None; how the samples past it enter the residual is stated
    in ``cutoff_handling``.
    """

    name: str
    source: str
    weight: float
    time_s: np.ndarray = field(repr=False)
    voltage_measured_V: np.ndarray = field(repr=False)
    voltage_model_V: np.ndarray = field(repr=False)
    current_A: np.ndarray = field(repr=False)
    temperature_measured_K: np.ndarray | None = field(default=None, repr=False)
    temperature_model_K: np.ndarray | None = field(default=None, repr=False)
    model_end_s: float | None = None
    cutoff_V: float | None = None  #: the record's lower cut-off (its last voltage on a discharge)
    cutoff_handling: str = ""
    role: str = "fit"  #: "fit" or "prediction"
    #: Charge passed at each sample [A.h], for a record that is a curve against charge (an
    #: OCV table: ``time_s`` is then NaN); by default the current's integral over time.
    charge_Ah: np.ndarray | None = field(default=None, repr=False)

    def _charge_Ah(self) -> np.ndarray:
        if self.charge_Ah is not None:
            return np.asarray(self.charge_Ah, dtype=float)
        t, i = self.time_s, self.current_A
        q = np.concatenate([[0.0], np.cumsum(0.5 * (i[1:] + i[:-1]) * np.diff(t))])
        return q / 3600.0

    def _valid(self) -> np.ndarray:
        return np.isfinite(self.voltage_model_V)

    @property
    def voltage_error_V(self) -> np.ndarray:
        """Model minus measured [V]; NaN past the model's cut-off."""
        return self.voltage_model_V - self.voltage_measured_V

    @property
    def rmse_V(self) -> float:
        """Voltage RMSE over the samples the model reached [V]."""
        e = self.voltage_error_V[self._valid()]
        return float(np.sqrt(np.mean(e**2))) if e.size else math.nan

    @property
    def max_abs_V(self) -> float:
        e = self.voltage_error_V[self._valid()]
        return float(np.max(np.abs(e))) if e.size else math.nan

    @property
    def rmse_first90_V(self) -> float:
        """Voltage RMSE over the first 90 % of the measured charge passed [V]."""
        q = self._charge_Ah()
        total = q[-1]
        keep = self._valid()
        if total > 0:
            keep &= q <= 0.9 * total
        e = self.voltage_error_V[keep]
        return float(np.sqrt(np.mean(e**2))) if e.size else math.nan

    @property
    def coverage(self) -> float:
        """Fraction of the measured duration the model covered (1 if it ran to the end)."""
        if self.model_end_s is None:
            return 1.0
        span = self.time_s[-1] - self.time_s[0]
        return float((self.model_end_s - self.time_s[0]) / span) if span > 0 else 1.0

    @property
    def capacity_measured_Ah(self) -> float:
        """Charge passed over the measured record [A.h]."""
        return float(self._charge_Ah()[-1])

    @property
    def capacity_model_Ah(self) -> float:
        """Charge passed when the model reaches ``cutoff_V`` [A.h].

        Interpolated at the first compared sample where the model's voltage falls to
        ``cutoff_V``; if it never does within the record, the charge where the model
        stopped or at the record's end (then a lower bound: see
        ``capacity_model_is_lower_bound``).
        """
        q = self._charge_Ah()
        v = self.voltage_model_V
        if self.cutoff_V is not None:
            below = np.flatnonzero(np.isfinite(v) & (v <= self.cutoff_V))
            if below.size:
                k = int(below[0])
                if k == 0:
                    return float(q[0])
                # linear in voltage between the samples either side of the crossing
                f = (v[k - 1] - self.cutoff_V) / (v[k - 1] - v[k])
                return float(q[k - 1] + f * (q[k] - q[k - 1]))
        if self.model_end_s is None:
            return float(q[-1])
        return float(np.interp(self.model_end_s, self.time_s, q))

    @property
    def capacity_model_is_lower_bound(self) -> bool:
        """True when the model did not reach ``cutoff_V`` within the record."""
        if self.cutoff_V is None:
            return False
        v = self.voltage_model_V
        return not bool(np.any(np.isfinite(v) & (v <= self.cutoff_V)))

    @property
    def temperature_rmse_K(self) -> float:
        if self.temperature_model_K is None or self.temperature_measured_K is None:
            return math.nan
        e = (self.temperature_model_K - self.temperature_measured_K)[self._valid()]
        return float(np.sqrt(np.mean(e**2))) if e.size else math.nan

    @property
    def temperature_max_abs_K(self) -> float:
        if self.temperature_model_K is None or self.temperature_measured_K is None:
            return math.nan
        e = (self.temperature_model_K - self.temperature_measured_K)[self._valid()]
        return float(np.max(np.abs(e))) if e.size else math.nan

    def summary(self) -> dict:
        """The figures as a JSON-ready dict."""
        return {
            "name": self.name,
            "source": self.source,
            "role": self.role,
            "weight": self.weight,
            "n_samples": int(self.time_s.size),
            "rmse_mV": 1e3 * self.rmse_V,
            "rmse_first90_mV": 1e3 * self.rmse_first90_V,
            "max_abs_mV": 1e3 * self.max_abs_V,
            "capacity_measured_Ah": self.capacity_measured_Ah,
            "capacity_model_Ah": self.capacity_model_Ah,
            "capacity_model_is_lower_bound": self.capacity_model_is_lower_bound,
            "cutoff_V": self.cutoff_V,
            "model_reached_end": self.model_end_s is None,
            "coverage": self.coverage,
            "temperature_rmse_K": self.temperature_rmse_K,
            "temperature_max_abs_K": self.temperature_max_abs_K,
            "cutoff_handling": self.cutoff_handling,
        }


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


@dataclass
class FitResult:
    """Result of a least-squares fit (physics parameters or ECM tables).

    Attributes
    ----------
    names : tuple of str
        Fitted parameters, in the order of ``x``.
    values : dict
        Fitted value of each parameter, physical units.
    initial : dict
        Initial guess of each parameter, physical units.
    x, x0 : (n,) arrays
        Solution and start in fitted coordinates.
    scaling : tuple of str
        ``"log"`` or ``"linear"`` per parameter; ``scale`` the divisor of a linear one.
    bounds : dict
        ``name -> (low, high)`` in physical units.
    ci95 : dict
        ``name -> (low, high)``, 95 % interval in physical units (inf if unresolved).
    correlation : (n, n) array
        Correlation matrix of the fitted coordinates.
    condition_number : float
        Of ``J^T J`` in fitted coordinates.
    not_separable : tuple of str
        Parameters the data cannot separate (see module docstring).
    correlated_pairs : tuple of (str, str, float)
        Pairs with ``|corr| > CORRELATION_LIMIT``.
    at_bound : tuple of str
        Parameters that ended within 1e-6 (relative, in z) of a bound.
    experiments : list of ExperimentResidual
    cost : float
        ``0.5 * sum(r^2)`` at the solution.
    n_evaluations, n_jacobians : int
        Model solves without and with sensitivities.
    gradient : str
        ``"sensitivities"`` (IDAKLU forward sensitivities) or ``"finite differences"``.
    success, status, message
        scipy's, with ``success`` False when the optimiser did not converge.
    wall_time_s : float
    history : list of dict
        Every start of a multi-start fit: start point, cost, status.
    """

    names: tuple[str, ...]
    values: dict[str, float]
    initial: dict[str, float]
    x: np.ndarray
    x0: np.ndarray
    scaling: tuple[str, ...]
    scale: tuple[float, ...]
    bounds: dict[str, tuple[float, float]]
    ci95: dict[str, tuple[float, float]]
    std_z: np.ndarray
    correlation: np.ndarray
    condition_number: float
    residual_std: float
    dof: int
    not_separable: tuple[str, ...]
    correlated_pairs: tuple[tuple[str, str, float], ...]
    at_bound: tuple[str, ...]
    experiments: list[ExperimentResidual]
    cost: float
    n_evaluations: int
    n_jacobians: int
    gradient: str
    success: bool
    status: int
    message: str
    wall_time_s: float
    history: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_solution(
        cls,
        *,
        names: Sequence[str],
        x: np.ndarray,
        x0: np.ndarray,
        scaling: Sequence[str],
        scale: Sequence[float],
        bounds_z: tuple[np.ndarray, np.ndarray],
        jacobian: np.ndarray,
        residuals: np.ndarray,
        experiments: list[ExperimentResidual],
        n_evaluations: int,
        n_jacobians: int,
        gradient: str,
        success: bool,
        status: int,
        message: str,
        wall_time_s: float,
        history: list[dict] | None = None,
        meta: dict | None = None,
    ) -> FitResult:
        """Build the result from the optimiser's solution and the Jacobian there."""
        names = tuple(names)
        n = len(names)
        x = np.asarray(x, dtype=float)
        x0 = np.asarray(x0, dtype=float)
        scaling = tuple(scaling)
        scale = tuple(float(s) for s in scale)
        for s in scaling:
            if s not in SCALINGS:
                raise InputError(f"The 'scaling' must be one of {SCALINGS}. Got {s!r} instead.")
        if not (x.shape == x0.shape == (n,) and len(scaling) == len(scale) == n):
            raise InputError(
                f"x, x0, scaling and scale must all have one entry per parameter ({n})."
            )
        r = np.asarray(residuals, dtype=float).ravel()
        st = jacobian_statistics(jacobian, r)
        phys = lambda z, k: to_physical(z, scaling[k], scale[k])
        values = {nm: phys(x[k], k) for k, nm in enumerate(names)}
        initial = {nm: phys(x0[k], k) for k, nm in enumerate(names)}
        lo_z, hi_z = (np.asarray(b, dtype=float) for b in bounds_z)
        bounds = {nm: (phys(lo_z[k], k), phys(hi_z[k], k)) for k, nm in enumerate(names)}
        ci = {}
        for k, nm in enumerate(names):
            hw = st.half_width[k]
            if not math.isfinite(hw):
                lo = 0.0 if scaling[k] == "log" else -math.inf
                ci[nm] = (lo, math.inf)
                continue
            a, b = phys(x[k] - hw, k), phys(x[k] + hw, k)
            ci[nm] = (min(a, b), max(a, b))
        pairs = []
        for i in range(n):
            for j in range(i + 1, n):
                c = st.correlation[i, j]
                if math.isfinite(c) and abs(c) > CORRELATION_LIMIT:
                    pairs.append((names[i], names[j], float(c)))
        flagged = {names[i] for i in st.unresolved}
        for a, b, _ in pairs:
            flagged.update((a, b))
        span = np.maximum(hi_z - lo_z, 1e-300)
        # An interval wider than the whole bound range: the data does not pin it down.
        for k, nm in enumerate(names):
            if 2.0 * st.half_width[k] > span[k]:
                flagged.add(nm)
        at_bound = tuple(
            nm for k, nm in enumerate(names)
            if min(x[k] - lo_z[k], hi_z[k] - x[k]) <= 1e-6 * span[k]
        )
        return cls(
            names=names,
            values=values,
            initial=initial,
            x=x,
            x0=x0,
            scaling=scaling,
            scale=scale,
            bounds=bounds,
            ci95=ci,
            std_z=st.std,
            correlation=st.correlation,
            condition_number=st.condition_number,
            residual_std=math.sqrt(st.residual_variance),
            dof=st.dof,
            not_separable=tuple(nm for nm in names if nm in flagged),
            correlated_pairs=tuple(pairs),
            at_bound=at_bound,
            experiments=list(experiments),
            cost=0.5 * float(r @ r),
            n_evaluations=int(n_evaluations),
            n_jacobians=int(n_jacobians),
            gradient=gradient,
            success=bool(success),
            status=int(status),
            message=str(message),
            wall_time_s=float(wall_time_s),
            history=list(history or []),
            meta=dict(meta or {}),
        )

    def contains(self, name: str, value: float) -> bool:
        """Whether ``value`` lies inside the 95 % interval of ``name``."""
        lo, hi = self.ci95[name]
        return lo <= value <= hi

    def summary(self) -> dict:
        """Everything but the arrays, as a JSON-ready dict."""
        return {
            "success": self.success,
            "status": self.status,
            "message": self.message,
            "gradient": self.gradient,
            "parameters": {
                nm: {
                    "value": self.values[nm],
                    "initial": self.initial[nm],
                    "ci95": [_finite_or_none(v) for v in self.ci95[nm]],
                    "bounds": list(self.bounds[nm]),
                    "scaling": self.scaling[k],
                }
                for k, nm in enumerate(self.names)
            },
            "correlation": [[_finite_or_none(c) for c in row] for row in self.correlation],
            "condition_number": _finite_or_none(self.condition_number),
            "not_separable": list(self.not_separable),
            "correlated_pairs": [list(p) for p in self.correlated_pairs],
            "at_bound": list(self.at_bound),
            "residual_std": self.residual_std,
            "dof": self.dof,
            "cost": self.cost,
            "n_evaluations": self.n_evaluations,
            "n_jacobians": self.n_jacobians,
            "wall_time_s": self.wall_time_s,
            "experiments": [e.summary() for e in self.experiments],
            "history": self.history,
        }

    def __str__(self) -> str:
        head = "converged" if self.success else "DID NOT CONVERGE"
        lines = [f"Fit {head} (status {self.status}): {self.message}",
                 (f"  {self.n_evaluations} evaluations, {self.n_jacobians} Jacobians "
                 f"({self.gradient}), {self.wall_time_s:.1f} s; "
                 f"cond(J^T J) = {self.condition_number:.3g}")]
        for nm in self.names:
            lo, hi = self.ci95[nm]
            flag = " NOT SEPARABLE" if nm in self.not_separable else ""
            flag += " AT BOUND" if nm in self.at_bound else ""
            lines.append(f"  {nm} = {self.values[nm]:.6g}  95% [{lo:.4g}, {hi:.4g}]{flag}")
        for e in self.experiments:
            # a model that stopped before the record's end is compared on what it reached:
            # say so, so the RMSE is not read as the whole record's
            short = ("" if e.model_end_s is None else
                     f" over the {100 * e.coverage:.0f} % of the record the model reached "
                     f"(it stopped at t = {e.model_end_s:.1f} s)")
            # the temperature error where the model has one to compare (not with
            # thermal="measured": its temperature is the measured trace itself)
            t_rmse = e.temperature_rmse_K
            temp = (f", T RMSE {t_rmse:.2f} K" if math.isfinite(t_rmse)
                    and self.meta.get("thermal") != "measured" else "")
            lines.append(f"  [{e.role}] {e.name}: RMSE {1e3 * e.rmse_V:.1f} mV, "
                         f"max {1e3 * e.max_abs_V:.1f} mV{temp}{short}")
        return "\n".join(lines)

    def plot(self, path: str | Path | None = None, *, temperature: bool | None = None,
             title: str | None = None):
        """Model against data for every experiment; voltage (and temperature) over time.

        Parameters
        ----------
        path : str or Path, optional
            Write a PNG there (atomically); otherwise only return the figure.
        temperature : bool, optional
            Add a temperature row; default: when any experiment has both temperatures.

        Returns
        -------
        matplotlib.figure.Figure
        """
        state = "converged" if self.success else "NOT CONVERGED"
        return plot_experiments(
            self.experiments, path, temperature=temperature,
            title=title or f"Fit of {', '.join(self.names)} ({state})")


def plot_experiments(experiments: Sequence[ExperimentResidual], path: str | Path | None = None,
                     *, temperature: bool | None = None, title: str = ""):
    """Model against data for each experiment: voltage, its error, and temperature.

    Writes a PNG to ``path`` (atomically) when given; returns the figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exps = list(experiments)
    if not exps:
        raise InputError("There are no experiments to plot.")
    if temperature is None:
        temperature = any(
            e.temperature_model_K is not None and e.temperature_measured_K is not None
            for e in exps
        )
    rows = 3 if temperature else 2
    ncol = len(exps)
    fig, axes = plt.subplots(rows, ncol, figsize=(3.2 * ncol + 1, 2.4 * rows + 0.6),
                             squeeze=False, sharex="col")
    for c, e in enumerate(exps):
        t = e.time_s
        if e.charge_Ah is not None:
            tu, tl = e.charge_Ah, "charge passed [A.h]"
        elif t[-1] - t[0] > 3 * 3600:
            tu, tl = t / 3600.0, "time [h]"
        else:
            tu, tl = t, "time [s]"
        ax = axes[0, c]
        ax.plot(tu, e.voltage_measured_V, "k.", ms=2, label="measured")
        ax.plot(tu, e.voltage_model_V, "C1-", lw=1.2, label="model")
        ax.set_title(f"[{e.role}] {e.name}", fontsize=8)
        if c == 0:
            ax.set_ylabel("voltage [V]")
            ax.legend(fontsize=7)
        ax = axes[1, c]
        ax.plot(tu, 1e3 * e.voltage_error_V, "C3-", lw=0.8)
        ax.axhline(0.0, color="0.6", lw=0.5)
        ax.text(0.02, 0.95, f"RMSE {1e3 * e.rmse_V:.1f} mV", transform=ax.transAxes,
                va="top", fontsize=7)
        if c == 0:
            ax.set_ylabel("model - data [mV]")
        if temperature:
            ax = axes[2, c]
            if e.temperature_measured_K is not None:
                ax.plot(tu, e.temperature_measured_K - 273.15, "k.", ms=2)
            if e.temperature_model_K is not None:
                ax.plot(tu, e.temperature_model_K - 273.15, "C0-", lw=1.2)
            if c == 0:
                ax.set_ylabel("temperature [degC]")
        axes[-1, c].set_xlabel(tl)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    if path is not None:
        from .._atomic import atomic_path

        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    return fig
