"""Rainflow cycle counting (ASTM E1049-85 (2017), section 5.4.4), compiled.

A load (here: state of charge) history is reduced to its reversals (peaks and valleys),
then counted with the three-point rule of ASTM E1049 5.4.4:

1. read the next reversal; with fewer than three points on the stack, read on;
2. ``X`` = range of the newest two points, ``Y`` = range of the two before;
3. if ``X < Y`` read on;
4. if ``Y`` contains the starting point, count ``Y`` as a half cycle and drop its first
   point (the next point becomes the start); else count ``Y`` as one cycle and drop both
   of its points; go to 2;
5. at the end, each range left on the stack is a half cycle.

Every counted range keeps its mean, its count (0.5 or 1) and the indices (into the
original series) of the two reversals that bound it, so the caller can attach the time,
temperature and rate of each cycle. The ASTM standard's own example (its Fig. 6, nine
reversals -2, 1, -3, 5, -1, 3, -4, 4, -2) counts ranges 3 (0.5), 4 (1.5), 6 (0.5),
8 (1.0) and 9 (0.5); ``tests/test_life.py::test_rainflow_astm_e1049_example`` checks it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["Cycles", "own_charge_crate", "rainflow", "reversals"]


def _njit(fn):
    try:
        from numba import njit
    except ImportError:  # pragma: no cover - numba is a dependency; pure Python fallback
        return fn
    return njit(cache=True, nogil=True)(fn)


@_njit
def _reversals(x):
    n = x.size
    idx = np.empty(n, dtype=np.int64)
    if n == 0:
        return idx[:0]
    m = 0
    idx[0] = 0
    m = 1
    direction = 0  # sign of the last non-zero move
    for i in range(1, n):
        d = x[i] - x[idx[m - 1]]
        if d == 0.0:
            continue
        s = 1 if d > 0 else -1
        if direction == 0 or s == direction:
            if direction != 0 and m > 1:
                idx[m - 1] = i  # extend the current monotone run
            else:
                idx[m] = i
                m += 1
            direction = s
        else:
            idx[m] = i
            m += 1
            direction = s
    return idx[:m]


@_njit
def _count(x, idx):
    n = idx.size
    # output: range, mean, count, i_start, i_end
    rng = np.empty(n, dtype=np.float64)
    mean = np.empty(n, dtype=np.float64)
    cnt = np.empty(n, dtype=np.float64)
    i0 = np.empty(n, dtype=np.int64)
    i1 = np.empty(n, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)  # indices into x
    top = 0
    start = 0  # stack position of the starting point (always 0 while it is on the stack)
    k = 0
    for j in range(n):
        stack[top] = idx[j]
        top += 1
        while top >= 3:
            a, b, c = stack[top - 3], stack[top - 2], stack[top - 1]
            xr = abs(x[c] - x[b])
            yr = abs(x[b] - x[a])
            if xr < yr:
                break
            rng[k] = yr
            mean[k] = 0.5 * (x[a] + x[b])
            i0[k] = a
            i1[k] = b
            if top - 3 == start:
                cnt[k] = 0.5
                # drop the first point of Y (the starting point); b becomes the start
                stack[top - 3] = b
                stack[top - 2] = c
                top -= 1
            else:
                cnt[k] = 1.0
                stack[top - 3] = c
                top -= 2
            k += 1
    for j in range(top - 1):
        a, b = stack[j], stack[j + 1]
        rng[k] = abs(x[b] - x[a])
        mean[k] = 0.5 * (x[a] + x[b])
        cnt[k] = 0.5
        i0[k] = a
        i1[k] = b
        k += 1
    return rng[:k], mean[:k], cnt[:k], i0[:k], i1[:k]


@dataclass(frozen=True)
class Cycles:
    """Rainflow-counted cycles. Arrays of equal length, one entry per counted range.

    Attributes
    ----------
    range : peak-to-valley range (for SOC: the depth of discharge, fraction of capacity)
    mean : mean of the two bounding reversals
    count : 0.5 (half cycle) or 1.0 (full cycle)
    start, end : indices into the original series of the two reversals bounding the range
        (``start < end`` not guaranteed to be adjacent; in time order)
    """

    range: np.ndarray
    mean: np.ndarray
    count: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return int(self.range.size)

    def histogram(self) -> dict[float, float]:
        """Total count per distinct range (rounded to 12 significant digits)."""
        out: dict[float, float] = {}
        for r, c in zip(np.round(self.range, 12).tolist(), self.count.tolist(), strict=True):
            out[r] = out.get(r, 0.0) + c
        return dict(sorted(out.items()))


def _as_series(series, name: str) -> np.ndarray:
    x = np.ascontiguousarray(series, dtype=float)
    if x.ndim != 1:
        raise InputError(f"The '{name}' argument of rainflow must be one-dimensional. Got "
                         f"shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        k = int(np.flatnonzero(~np.isfinite(x))[0])
        raise InputError(f"The '{name}' argument of rainflow holds {float(x[k])!r} at index {k}; "
                         "every value must be finite.")
    return x


def reversals(series) -> np.ndarray:
    """Indices of the reversals (turning points) of ``series``, first and last included.

    Plateaus count once (their first point); a monotone run keeps its last point.
    """
    return _reversals(_as_series(series, "series"))


def rainflow(series) -> Cycles:
    """Count the cycles of ``series`` by ASTM E1049 three-point rainflow (module docstring).

    Parameters
    ----------
    series : (n,) finite values (e.g. SOC in [0, 1])
    """
    x = _as_series(series, "series")
    rng, mean, cnt, i0, i1 = _count(x, _reversals(x))
    swap = i0 > i1
    start = np.where(swap, i1, i0)
    end = np.where(swap, i0, i1)
    return Cycles(rng, mean, cnt, start, end)


@_njit
def _own_charge_crate(z, rate_h, i0, i1):
    out = np.zeros(i0.size)
    for c in range(i0.size):
        a, b = i0[c], i1[c]
        s = 1.0 if z[b] >= z[a] else -1.0
        ext = s * z[a]
        charge = 0.0
        time_h = 0.0
        for i in range(a, b):
            adv = s * z[i + 1] - ext
            if adv > 0.0:
                ext += adv
                charge += adv
                if rate_h[i] > 0.0:
                    time_h += adv / rate_h[i]
        if time_h > 0.0:
            out[c] = charge / time_h
    return out


def own_charge_crate(z, rate_h, start, end) -> np.ndarray:
    """The C-rate [1/h] at which each counted range's *own* charge moved.

    Between the two reversals ``start < end`` that bound a range, the series travels
    from ``z[start]`` to ``z[end]`` with the ranges counted inside it (nested cycles)
    as excursions. The range's own charge is the part of each interval that pushes the
    running extreme (from ``z[start]``) further towards ``z[end]``: it sums to the
    range's depth, and its time is that charge divided by its interval's rate. The
    result is the depth over that time, a charge-weighted harmonic mean of the interval
    rates it moved at: never above the largest of them, not diluted by rests (they move
    no charge) and not inflated by the throughput of nested micro-cycles (it is not
    theirs).

    Parameters
    ----------
    z : (n,) the series (SOC)
    rate_h : (n - 1,) the rate of each interval ``|dz/dt|`` [1/h]
    start, end : (m,) indices of the bounding reversals (:class:`Cycles`)
    """
    z = np.ascontiguousarray(z, dtype=float)
    rate_h = np.ascontiguousarray(rate_h, dtype=float)
    if rate_h.shape != (max(z.size - 1, 0),):
        raise InputError(f"The 'rate_h' argument of own_charge_crate must have shape "
                         f"({z.size - 1},). Got {rate_h.shape}.")
    return _own_charge_crate(z, rate_h, np.ascontiguousarray(start, dtype=np.int64),
                             np.ascontiguousarray(end, dtype=np.int64))
