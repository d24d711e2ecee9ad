"""Generators of synthetic AI-training load profiles, seeded and deterministic.

The model (DESIGN.md section 1): every training iteration all GPUs compute (the rack at its
peak), then wait on communication (the rack drops by ``swing_depth`` of peak), with edges of
milliseconds; the iteration period jitters around its mean; at intervals the job pauses
for a checkpoint near idle; the whole job ramps up at the start and down at the end.

Each rack follows the same iteration clock (synchronous training), lagging it by a fixed
delay drawn from ``[0, desync_s)`` (pipeline stages, slower racks): the facility sum is the
rack waveform convolved with the histogram of those delays. One rack's waveform is
piecewise linear (levels joined by ramps of ``edge_s``); each output step holds its exact
average over the step (so energy is exact), with event times on the step grid.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import InputError, check_range, range_message, suggest
from .profile import Profile

__all__ = ["GENERATORS", "make_profile", "synchronized_training"]

_OWNER = "argument of synchronized_training"
_MAX_STEPS = 500_000_000
# Up to this many distinct rack delays, sum shifted copies (exact); beyond, convolve (FFT).
_DIRECT_SHIFTS = 64


def _integer(value, field: str, owner: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not (
            low <= value <= high):
        raise InputError(range_message(field, owner, f"an integer in the range [{low}, "
                                       f"{high}]", value))
    return int(value)


def _real(value, field: str, low: float, high: float, closed=(True, True)) -> float:
    if isinstance(value, bool):  # True is an int to Python, never a power or a time here
        raise InputError(range_message(field, _OWNER, "a real number", value))
    return check_range(value, field, _OWNER, low, high, closed=closed)


def synchronized_training(
    rack_peak_W: float = 132e3,
    n_racks: int = 1,
    swing_depth: float = 0.5,
    period_s: float = 2.0,
    period_jitter: float = 0.02,
    compute_fraction: float = 0.7,
    edge_s: float = 0.002,
    checkpoint_interval_s: float | None = 1800.0,
    checkpoint_s: float = 30.0,
    checkpoint_level: float = 0.2,
    job_start_ramp_s: float = 5.0,
    job_stop_ramp_s: float = 5.0,
    duration_s: float = 3600.0,
    dt_s: float = 0.001,
    desync_s: float = 0.0,
    power_floor: float = 0.0,
    seed: int = 0,
) -> Profile:
    """Facility power of ``n_racks`` racks running one synchronous training job.

    Parameters
    ----------
    rack_peak_W : float, default 132e3
        Peak power of one rack during compute [W], in (0, 5e6]. DESIGN.md section 1: racks
        draw 100-600 kW; 132 kW is its worked example.
    n_racks : int, default 1
        Number of racks [1], in [1, 10000]; the profile is their sum.
    swing_depth : float, default 0.5
        Drop during communication as a fraction of peak [1], in [0, 1]: the rack swings
        between ``(1 - swing_depth)`` and 1 times peak (DESIGN.md: 50-100 %).
    period_s : float, default 2.0
        Mean iteration period [s], in [0.01, 600] (DESIGN.md: 0.5-4 s).
    period_jitter : float, default 0.02
        Relative standard deviation of each iteration's period [1], in [0, 0.3]; periods
        are normal, clipped at 3 standard deviations (so the mean is unbiased).
    compute_fraction : float, default 0.7
        Fraction of each period spent computing at peak [1], in (0, 1); the rest is
        communication at ``1 - swing_depth``.
    edge_s : float, default 0.002
        Duration of each rise and fall [s], in [0, 1] (linear ramp; DESIGN.md: milliseconds).
        Each phase must be longer than ``edge_s + dt_s`` at the shortest jittered period.
    checkpoint_interval_s : float or None, default 1800.0
        Time between checkpoints [s], in (checkpoint_s, inf]; ``None`` or ``inf``: none. A
        checkpoint starts at the first iteration boundary at or after each multiple of the
        interval on the job clock, and the iterations resume after it.
    checkpoint_s : float, default 30.0
        Length of each checkpoint pause [s], in [0, 3600] (DESIGN.md: tens of seconds);
        0 means no pause.
    checkpoint_level : float, default 0.2
        Rack power during a checkpoint as a fraction of peak [1], in [0, 1] ("near idle");
        also the idle level the job ramps up from and down to.
    job_start_ramp_s, job_stop_ramp_s : float, default 5.0
        Length of the linear ramp of the whole job from idle at t = 0 and back to idle at
        ``duration_s`` [s], each in [0, duration_s], together at most ``duration_s``. The
        iterations run underneath the ramp: power = idle + ramp * (swing - idle).
    duration_s : float, default 3600.0
        Profile length [s], in (0, 30 days], a whole number of ``dt_s`` steps.
    dt_s : float, default 0.001
        Output step [s], in (0, 1]; event times are placed on this grid. At most 5e8 steps.
    desync_s : float, default 0.0
        Partial desynchronisation [s], in [0, period_s]: each rack lags the common iteration
        clock by a fixed delay drawn uniformly from ``[0, desync_s)`` (rounded to the grid).
        0: every rack switches together and the swings add up fully.
    power_floor : float, default 0.0
        GPU power-floor smoothing as a fraction of peak [1], in [0, 1]: no level (swing,
        checkpoint, idle) is below it, as when GPUs burn power in the communication phase
        to hold the draw up. 0: off.
    seed : int, default 0
        Seed of the ``numpy.random.Generator`` [1], in [0, 2**63 - 1]; the same seed and
        settings give the same profile, bit for bit.

    Returns
    -------
    Profile
        ``power_W`` on the regular grid of ``dt_s`` [W]; ``metadata`` holds the settings,
        the seed, and what was drawn (``statistics``: iterations, mean period, checkpoint
        start times on the wall clock, rack delays).

    Raises
    ------
    InputError
        Any argument outside its range (one message format naming the argument, the range
        and the value), or settings that cannot be drawn on the grid.
    """
    peak = _real(rack_peak_W, "rack_peak_W", 0.0, 5e6, closed=(False, True))
    n_racks = _integer(n_racks, "n_racks", _OWNER, 1, 10_000)
    depth = _real(swing_depth, "swing_depth", 0.0, 1.0)
    period = _real(period_s, "period_s", 0.01, 600.0)
    jitter = _real(period_jitter, "period_jitter", 0.0, 0.3)
    duty = _real(compute_fraction, "compute_fraction", 0.0, 1.0, closed=(False, False))
    edge = _real(edge_s, "edge_s", 0.0, 1.0)
    ck_len = _real(checkpoint_s, "checkpoint_s", 0.0, 3600.0)
    if checkpoint_interval_s is None:
        ck_every = math.inf
    else:
        ck_every = _real(checkpoint_interval_s, "checkpoint_interval_s", ck_len, math.inf,
                         closed=(False, True))
    ck_level = _real(checkpoint_level, "checkpoint_level", 0.0, 1.0)
    T = _real(duration_s, "duration_s", 0.0, 30 * 86400.0, closed=(False, True))
    ramp_up = _real(job_start_ramp_s, "job_start_ramp_s", 0.0, T)
    ramp_down = _real(job_stop_ramp_s, "job_stop_ramp_s", 0.0, T - ramp_up)
    dt = _real(dt_s, "dt_s", 0.0, 1.0, closed=(False, True))
    desync = _real(desync_s, "desync_s", 0.0, period)
    floor = _real(power_floor, "power_floor", 0.0, 1.0)
    seed = _integer(seed, "seed", _OWNER, 0, 2**63 - 1)

    n = round(T / dt)
    if n > _MAX_STEPS:
        raise InputError(range_message("dt_s", _OWNER, f"at least {T / _MAX_STEPS:g} s for a "
                                       f"{T:g} s profile (at most {_MAX_STEPS:g} steps)", dt_s))
    if n < 1 or abs(n * dt - T) > 1e-6 * dt:
        raise InputError(range_message("duration_s", _OWNER, f"a whole number of dt_s = {dt!r} "
                                       f"s steps ({T!r} / {dt!r} = {T / dt:.6g})", duration_s))
    shortest = period * (1.0 - 3.0 * jitter) * min(duty, 1.0 - duty)
    if edge + dt > shortest:
        raise InputError(range_message(
            "edge_s", _OWNER, f"at most {max(shortest - dt, 0.0):g} s with these settings "
            f"(each phase, at least {shortest:g} s at the shortest jittered period, must "
            "outlast its edge plus one dt_s step)", edge_s))
    if 0.0 < ck_len < edge + dt:
        raise InputError(range_message("checkpoint_s", _OWNER, f"0 or at least edge_s + dt_s "
                                       f"= {edge + dt:g} s", checkpoint_s))

    high = 1.0
    low = max(1.0 - depth, floor)
    ck = max(ck_level, floor)
    idle = ck
    rng = np.random.default_rng(seed)
    # Draw order is fixed (rack delays, then periods) so a seed always means one profile.
    delays = np.rint(rng.uniform(0.0, desync, size=n_racks) / dt).astype(np.int64) \
        if desync > 0 else np.zeros(n_racks, dtype=np.int64)
    shortest_period = period * (1.0 - 3.0 * jitter)
    z = rng.standard_normal(int(T / shortest_period) + 2)
    periods = period * (1.0 + jitter * np.clip(z, -3.0, 3.0))

    # --- the iteration clock (seconds on the job clock, then steps) --------------------
    starts, falls, ck_starts = [], [], []
    clock, k, m = 0.0, 0, 1
    while clock < T and k < periods.size:
        due = m * ck_every
        # iterations until the first boundary at or after the checkpoint due time
        # only the periods that can reach the due time (each is at least `shortest_period`)
        window = int((min(due, T) - clock) / shortest_period) + 2
        ends = clock + np.cumsum(periods[k:k + window])
        stop = min(int(np.searchsorted(ends, min(due, T), side="left")) + 1, ends.size)
        begin = np.concatenate([[clock], ends[:stop - 1]])
        starts.append(begin)
        falls.append(begin + duty * periods[k:k + stop])
        clock = float(ends[stop - 1])
        k += stop
        if clock >= due and clock < T:
            if ck_len > 0:
                ck_starts.append(clock)
                clock += ck_len
            m = int(clock // ck_every) + 1
    starts = np.concatenate(starts)
    falls = np.concatenate(falls)
    ck_starts = np.asarray(ck_starts)

    # level changes (time in steps, new level), in time order; a checkpoint starts where
    # an iteration would have, and the iteration after it starts at its end (in `starts`)
    at = np.rint(np.concatenate([starts, falls, ck_starts]) / dt)
    level = np.concatenate([np.full(starts.size, high), np.full(falls.size, low),
                            np.full(ck_starts.size, ck)])
    order = np.argsort(at, kind="stable")
    at, level = at[order], level[order]

    # --- one rack's waveform, bin-averaged over [-max delay, n) ----------------------
    d_max = int(delays.max())
    e_steps = edge / dt
    if abs(e_steps - round(e_steps)) < 1e-9:
        e_steps = float(round(e_steps))
    prev = np.concatenate([[high], level[:-1]])
    knots_t = np.empty(2 * at.size)
    knots_y = np.empty(2 * at.size)
    knots_t[0::2], knots_t[1::2] = at, at + e_steps
    knots_y[0::2], knots_y[1::2] = prev, level
    rack = _bin_average_pwl(knots_t, knots_y, -d_max, n)

    # --- racks: shifted copies, summed ----------------------------------------------
    shifts, counts = np.unique(delays, return_counts=True)
    if shifts.size <= _DIRECT_SHIFTS:
        total = np.zeros(n)
        for s, c in zip(shifts, counts, strict=True):
            total += c * rack[d_max - s: d_max - s + n]
    else:  # many distinct delays: convolve with their histogram
        from scipy.signal import oaconvolve

        hist = np.zeros(d_max + 1)
        hist[shifts] = counts
        total = oaconvolve(rack, hist, mode="full")[d_max:d_max + n]

    # --- job ramps: an envelope from idle, applied at step midpoints -----------------
    mid = (np.arange(n) + 0.5) * dt
    env = np.ones(n)
    if ramp_up > 0:
        env = np.minimum(env, mid / ramp_up)
    if ramp_down > 0:
        env = np.minimum(env, (T - mid) / ramp_down)
    ramp = env < 1.0
    base = n_racks * idle
    total[ramp] = base + env[ramp] * (total[ramp] - base)
    power = peak * total

    used = periods[:starts.size]
    settings = {
        "rack_peak_W": peak, "n_racks": n_racks, "swing_depth": depth, "period_s": period,
        "period_jitter": jitter, "compute_fraction": duty, "edge_s": edge,
        "checkpoint_interval_s": None if math.isinf(ck_every) else ck_every,
        "checkpoint_s": ck_len, "checkpoint_level": ck_level, "job_start_ramp_s": ramp_up,
        "job_stop_ramp_s": ramp_down, "duration_s": T, "dt_s": dt, "desync_s": desync,
        "power_floor": floor, "seed": seed,
    }
    metadata = {
        "name": f"synchronized_training: {n_racks} x {peak / 1e3:g} kW, "
                f"{depth * 100:g} % swing, {period:g} s period",
        "generator": "cellmodels.dutycycles.synchronized_training",
        "settings": settings,
        "seed": seed,
        "source": "generated",
        "statistics": {
            "n_iterations": int(starts.size),
            "mean_period_s": float(used.mean()),
            # on the job clock, which the rack with the smallest delay follows
            "checkpoint_start_s": [float(x) + float(delays.min()) * dt for x in ck_starts],
            "rack_delay_s": [float(x) * dt for x in delays],
            "levels": {"high": high, "low": low, "checkpoint": ck, "idle": idle},
        },
    }
    return Profile(np.linspace(0.0, T, n + 1), power_W=power, metadata=metadata)


def _bin_average_pwl(x: np.ndarray, y: np.ndarray, first: int, n: int) -> np.ndarray:
    """Exact averages over the unit bins ``[j, j+1)``, ``j = first .. n-1``, of the
    piecewise-linear function through knots ``(x, y)`` (constant beyond the ends).

    A bin with no knot strictly inside is linear over the bin, so its average is its
    midpoint value; bins with a knot inside are integrated piece by piece.
    """
    j = np.arange(first, n)
    out = np.interp(j + 0.5, x, y)
    frac = x - np.floor(x)
    inside = (frac > 1e-9) & (frac < 1.0 - 1e-9) & (x > first) & (x < n)
    if np.any(inside):
        bins = np.unique(np.floor(x[inside])).astype(np.int64)
        pts = np.unique(np.concatenate([bins, bins + 1, x[inside]]).astype(float))
        f = np.interp(pts, x, y)
        left = np.floor(pts[:-1]).astype(np.int64)
        area = (pts[1:] - pts[:-1]) * (f[:-1] + f[1:]) / 2.0
        ok = np.isin(left, bins)
        sums = np.bincount(left[ok] - first, weights=area[ok], minlength=n - first)
        out[bins - first] = sums[bins - first]
    return out


# --- configuration -----------------------------------------------------------------
GENERATORS = {"synchronized_training": synchronized_training}
_TRACE_KEYS = ("path", "time_column", "power_column", "current_column", "units",
               "resample_dt", "edge_threshold", "last_hold_s")


def _parameters(func) -> tuple[str, ...]:
    import inspect

    return tuple(inspect.signature(func).parameters)


def make_profile(config: Mapping | str | Path, *, base_dir: str | Path | None = None
                 ) -> Profile:
    """A profile from a configuration: a dict (as parsed by ``tomllib``) or a TOML file.

    Keys: ``generator`` (default ``"synchronized_training"``, or ``"trace"`` to import a
    measured trace), an optional ``name``, and the generator's arguments, e.g.::

        generator = "synchronized_training"
        name = "8 racks, 50 % swing"
        rack_peak_W = 125e3
        n_racks = 8
        swing_depth = 0.5
        period_s = 2.0
        checkpoint_interval_s = inf    # no checkpoints
        seed = 1

    For ``generator = "trace"`` the keys are those of
    :func:`~cellmodels.dutycycles.import_trace` (``path``, ``time_column``,
    ``power_column`` or ``current_column``, ``units``, ``resample_dt``, ...); a relative
    ``path`` is taken from ``base_dir`` (by default the TOML file's folder, else the
    current one).

    Raises
    ------
    InputError
        An unreadable TOML file, an unknown generator or key (with close suggestions), or
        a value out of its range.
    """
    if isinstance(config, str | Path):
        path = Path(config)
        try:
            with open(path, "rb") as fh:
                config = tomllib.load(fh)
        except OSError as exc:
            raise InputError(f"Cannot read the duty-cycle config {path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"The duty-cycle config {path} is not valid TOML: {exc}") from None
        if base_dir is None:
            base_dir = path.parent
    if not isinstance(config, Mapping):
        raise InputError(range_message("config", "argument of make_profile", "a dict or a "
                                       "path to a TOML file", type(config).__name__))
    config = dict(config)
    generator = config.pop("generator", "synchronized_training")
    name = config.pop("name", None)
    if generator == "trace":
        allowed: tuple[str, ...] = _TRACE_KEYS
    elif generator in GENERATORS:
        allowed = _parameters(GENERATORS[generator])
    else:
        choices = (*GENERATORS, "trace")
        raise InputError(f"Unknown generator {generator!r} in the duty-cycle config; "
                         f"choose one of {', '.join(map(repr, choices))}."
                         + suggest(str(generator), choices))
    for key in config:
        if key not in allowed:
            raise InputError(f"Unknown key {key!r} in the duty-cycle config (generator "
                             f"{generator!r})." + suggest(str(key), allowed))
    if generator == "trace":
        from .io import import_trace

        if "path" not in config:
            raise InputError("The duty-cycle config with generator 'trace' needs a 'path'.")
        trace = Path(config.pop("path"))
        if not trace.is_absolute():
            trace = Path(base_dir or ".") / trace
        profile = import_trace(trace, **config)
    else:
        profile = GENERATORS[generator](**config)
    if name is not None:
        meta = dict(profile.metadata)
        meta["name"] = str(name)
        profile = profile.replace(metadata=meta)
    return profile
