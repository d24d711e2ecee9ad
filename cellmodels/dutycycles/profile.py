"""The load profile: piecewise-constant power or current against time.

A :class:`Profile` holds ``n + 1`` edge times ``time_s`` (from 0, strictly increasing) and
``n`` values of exactly one of ``power_W`` or ``current_A`` (discharge/load positive).
Zero-order hold: ``value[k]`` holds on ``[time_s[k], time_s[k+1])``; ``time_s[-1]`` is the
end of the profile. Energy and charge are therefore exact sums, and a step in the load is
an exact event time, never a slope between two samples.

Resampling onto a regular grid (:meth:`Profile.resample`, :meth:`Profile.to_grid`) keeps
edges by *snapping*: every edge (a jump of at least ``edge_threshold``) moves to the
nearest grid boundary, and the time in between is stretched or squeezed so that the energy
(or charge) between consecutive edges is exactly that of the original. So a step lands
whole on a boundary, with no intermediate value in the bin it fell in, and the cumulative
energy of the result equals the original's at every edge and at the end. What the grid
cannot hold is said, not hidden: edges closer together than one step share a boundary,
the smaller one is merged into its bin (energy still exact), and the count is written to
``metadata["resample"]``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..errors import InputError, check_range, range_message

__all__ = ["Profile"]

_OWNER = "argument of Profile"
_QUANTITIES = {"power_W": "W", "current_A": "A"}
# A duration is a whole number of steps if it is within this many steps of one.
_WHOLE_STEPS_TOL = 1e-6


def _finite_1d(x, name: str) -> np.ndarray:
    try:
        a = np.array(x, dtype=float)
    except (TypeError, ValueError):
        raise InputError(range_message(name, _OWNER, "a 1-D sequence of real numbers",
                                       type(x).__name__)) from None
    if a.ndim != 1:
        raise InputError(range_message(name, _OWNER, "a 1-D sequence of real numbers",
                                       f"an array of shape {a.shape}"))
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        k = int(bad[0])
        raise InputError(range_message(f"{name}[{k}]", _OWNER, "a finite number",
                                       float(a[k])))
    a.setflags(write=False)
    return a


def _plain_json(metadata: Mapping, where: str) -> dict:
    """A deep copy of ``metadata`` as plain JSON types, or an InputError saying why not."""
    if not isinstance(metadata, Mapping):
        raise InputError(range_message("metadata", where, "a dict", type(metadata).__name__))
    try:
        return json.loads(json.dumps(dict(metadata), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InputError(range_message(
            "metadata", where, "a dict of JSON types (str keys; str, finite float, int, bool, "
            "list, dict, None values)", f"{exc}")) from None


@dataclass(frozen=True, eq=False, repr=False)
class Profile:
    """A zero-order-hold load profile of power or current.

    Parameters
    ----------
    time_s : array_like, shape (n + 1,)
        Edge times [s]: ``time_s[0] == 0``, strictly increasing; ``time_s[-1]`` is the end.
    power_W : array_like, shape (n,), optional
        Load power [W], positive for discharge (load on the battery); ``power_W[k]`` holds on
        ``[time_s[k], time_s[k+1])``.
    current_A : array_like, shape (n,), optional
        Load current [A], positive for discharge. Give exactly one of ``power_W`` and
        ``current_A``.
    metadata : dict, optional
        JSON-serialisable provenance: conventionally ``name``, ``generator``, ``settings``,
        ``seed`` and ``source``. Copied on construction.

    Raises
    ------
    InputError
        NaN or infinite values, a first time other than 0, a negative or non-increasing
        time (the message names the sample index), a length mismatch, both or neither of
        ``power_W`` and ``current_A``, or metadata that is not plain JSON.
    """

    time_s: np.ndarray
    power_W: np.ndarray | None = None
    current_A: np.ndarray | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if (self.power_W is None) == (self.current_A is None):
            got = "both" if self.power_W is not None else "neither"
            raise InputError(range_message("power_W' or 'current_A", _OWNER,
                                           "given, exactly one of them", got))
        t = _finite_1d(self.time_s, "time_s")
        if t.size < 2:
            raise InputError(range_message("time_s", _OWNER, "at least 2 edge times "
                                           "(one held segment)", t.tolist()))
        neg = np.flatnonzero(t < 0)
        if neg.size:
            k = int(neg[0])
            raise InputError(range_message(f"time_s[{k}]", _OWNER, "in the range [0, inf) "
                                           "(a profile starts at 0 s)", float(t[k])))
        if t[0] != 0.0:
            raise InputError(range_message("time_s[0]", _OWNER, "0 (a profile starts at 0 s; "
                                           "subtract the first time)", float(t[0])))
        bad = np.flatnonzero(np.diff(t) <= 0)
        if bad.size:
            k = int(bad[0]) + 1
            raise InputError(range_message(
                f"time_s[{k}]", _OWNER, f"greater than time_s[{k - 1}] = {float(t[k - 1])!r} "
                "(times must be strictly increasing)", float(t[k])))
        set_(self, "time_s", t)
        name = self.quantity
        v = _finite_1d(getattr(self, name), name)
        if v.size != t.size - 1:
            raise InputError(range_message(
                name, _OWNER, f"of length len(time_s) - 1 = {t.size - 1} (value k holds on "
                "[time_s[k], time_s[k+1]); for samples of equal length use "
                "Profile.from_samples)", f"length {v.size}"))
        set_(self, name, v)
        set_(self, "metadata", _plain_json({} if self.metadata is None else self.metadata,
                                           _OWNER))

    # --- construction --------------------------------------------------------------
    @classmethod
    def from_samples(cls, time_s, power_W=None, current_A=None, *,
                     last_hold_s: float | None = None, metadata: Mapping | None = None
                     ) -> Profile:
        """A profile from N samples ``(time_s[k], value[k])``, each held until the next.

        The times are shifted to start at 0 (the shift is recorded in
        ``metadata["time_offset_s"]``). The last sample holds for ``last_hold_s`` [s],
        by default the median sample spacing (recorded in ``metadata["last_hold_s"]``).
        """
        t = _finite_1d(time_s, "time_s")
        quantity = "power_W" if current_A is None else "current_A"
        if (power_W is None) == (current_A is None):
            got = "both" if power_W is not None else "neither"
            raise InputError(range_message("power_W' or 'current_A", "argument of "
                                           "Profile.from_samples", "given, exactly one of "
                                           "them", got))
        v = _finite_1d(power_W if current_A is None else current_A, quantity)
        if v.size != t.size or t.size < 2:
            raise InputError(range_message(quantity, "argument of Profile.from_samples",
                                           f"of the same length as time_s ({t.size}) and at "
                                           "least 2 samples", f"length {v.size}"))
        bad = np.flatnonzero(np.diff(t) <= 0)
        if bad.size:
            k = int(bad[0]) + 1
            raise InputError(range_message(
                f"time_s[{k}]", "argument of Profile.from_samples",
                f"greater than time_s[{k - 1}] = {float(t[k - 1])!r} (times must be strictly "
                "increasing)", float(t[k])))
        if last_hold_s is None:
            last_hold_s = float(np.median(np.diff(t)))
        last_hold_s = check_range(last_hold_s, "last_hold_s", "argument of "
                                  "Profile.from_samples", 0.0, np.inf, closed=(False, False))
        meta = dict(metadata or {})
        meta.setdefault("time_offset_s", float(t[0]))
        meta.setdefault("last_hold_s", last_hold_s)
        edges = np.append(t - t[0], t[-1] - t[0] + last_hold_s)
        return cls(edges, metadata=meta, **{quantity: v})

    # --- what it holds -------------------------------------------------------------
    @property
    def quantity(self) -> Literal["power_W", "current_A"]:
        """``"power_W"`` or ``"current_A"``: which load this profile holds."""
        return "power_W" if self.power_W is not None else "current_A"

    @property
    def unit(self) -> str:
        """``"W"`` or ``"A"``."""
        return _QUANTITIES[self.quantity]

    @property
    def values(self) -> np.ndarray:
        """The held values, shape (n,), in :attr:`unit`."""
        return self.power_W if self.power_W is not None else self.current_A

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def n_segments(self) -> int:
        return int(self.values.size)

    @property
    def duration_s(self) -> float:
        """End time [s]."""
        return float(self.time_s[-1])

    @property
    def energy_Wh(self) -> float:
        """Net load energy [Wh] (discharge positive), exact for zero-order hold."""
        if self.power_W is None:
            raise InputError("energy_Wh needs a power profile; this one holds current_A "
                             "(use charge_Ah).")
        return float(np.dot(self.power_W, np.diff(self.time_s))) / 3600.0

    @property
    def charge_Ah(self) -> float:
        """Net load charge [Ah] (discharge positive), exact for zero-order hold."""
        if self.current_A is None:
            raise InputError("charge_Ah needs a current profile; this one holds power_W "
                             "(use energy_Wh).")
        return float(np.dot(self.current_A, np.diff(self.time_s))) / 3600.0

    def value_at(self, t_s) -> np.ndarray | float:
        """The held value at time(s) ``t_s`` [s] in [0, duration]; the end takes the last."""
        t = np.asarray(t_s, dtype=float)
        if np.any(~np.isfinite(t)) or np.any(t < 0) or np.any(t > self.duration_s):
            raise InputError(range_message("t_s", "argument of Profile.value_at",
                                           f"in the range [0, {self.duration_s:g}]", t_s))
        k = np.minimum(np.searchsorted(self.time_s, t, side="right") - 1, self.n_segments - 1)
        out = self.values[k]
        return float(out) if out.ndim == 0 else out

    def cumulative(self, t_s) -> np.ndarray:
        """Integral of the load from 0 to ``t_s`` [J or C], exact for zero-order hold."""
        t = np.asarray(t_s, dtype=float)
        if np.any(~np.isfinite(t)) or np.any(t < 0) or np.any(t > self.duration_s):
            raise InputError(range_message("t_s", "argument of Profile.cumulative",
                                           f"in the range [0, {self.duration_s:g}]", t_s))
        cum = np.concatenate([[0.0], np.cumsum(self.values * np.diff(self.time_s))])
        return np.interp(t, self.time_s, cum)

    # --- transformations (each returns a new Profile) --------------------------------
    def _new(self, time_s, values, **meta) -> Profile:
        metadata = dict(self.metadata)
        metadata.update(meta)
        return Profile(time_s, metadata=metadata, **{self.quantity: values})

    def scale(self, factor: float) -> Profile:
        """The profile with every value multiplied by ``factor`` (e.g. racks, or W to a cell)."""
        f = check_range(factor, "factor", "argument of Profile.scale", closed=(False, False))
        return self._new(self.time_s, self.values * f,
                         scale=float(self.metadata.get("scale", 1.0)) * f)

    def slice(self, start_s: float, end_s: float) -> Profile:
        """The part on ``[start_s, end_s)`` [s], shifted to start at 0."""
        owner = "argument of Profile.slice"
        a = check_range(start_s, "start_s", owner, 0.0, self.duration_s, closed=(True, False))
        b = check_range(end_s, "end_s", owner, a, self.duration_s, closed=(False, True))
        t = self.time_s
        inner = t[(t > a) & (t < b)]
        edges = np.concatenate([[a], inner, [b]])
        k0 = int(np.searchsorted(t, a, side="right") - 1)
        values = self.values[k0:k0 + edges.size - 1]
        sliced = self.metadata.get("slice_s", [0.0, self.duration_s])
        return self._new(edges - a, values, slice_s=[sliced[0] + a, sliced[0] + b])

    def concatenate(self, *others: Profile) -> Profile:
        """This profile followed by ``others`` (same quantity), back to back in time."""
        times, values, parts = [self.time_s], [self.values], [self.name]
        end = self.duration_s
        for i, p in enumerate(others):
            if not isinstance(p, Profile) or p.quantity != self.quantity:
                got = p.quantity if isinstance(p, Profile) else type(p).__name__
                raise InputError(range_message(f"others[{i}]", "argument of "
                                               "Profile.concatenate", f"a Profile of "
                                               f"{self.quantity}", got))
            times.append(p.time_s[1:] + end)
            values.append(p.values)
            parts.append(p.name)
            end = float(times[-1][-1])
        return self._new(np.concatenate(times), np.concatenate(values), parts=parts)

    def resample(self, dt_s: float, *, edge_threshold: float | None = None) -> Profile:
        """The profile on the regular grid ``0, dt, 2 dt, ...`` (a shorter last step if
        the duration is not a whole number of steps), keeping edges and energy.

        Parameters
        ----------
        dt_s : float
            Grid step [s], in (0, duration].
        edge_threshold : float, optional
            Smallest jump [W or A] that counts as an edge; smaller variations are averaged
            over their bins. Default: 10 % of the value range (max - min).

        Returns
        -------
        Profile
            Every edge at the grid boundary nearest to it (ties go to the earlier one), the
            energy between consecutive edges exactly the original's (each plateau's value is
            rescaled by its original-to-snapped length ratio), so total energy is conserved
            to rounding. Edges that collide on one boundary keep the largest jump; the
            others are merged into their bin and counted in ``metadata["resample"]``.
        """
        owner = "argument of Profile.resample"
        T = self.duration_s
        dt = check_range(dt_s, "dt_s", owner, 0.0, T, closed=(False, True))
        m = int(np.floor(T / dt + _WHOLE_STEPS_TOL))
        if m > 500_000_000:
            raise InputError(range_message("dt_s", owner, f"at least {T / 5e8:g} s (at most "
                                           "5e8 steps)", dt_s))
        if abs(m * dt - T) <= _WHOLE_STEPS_TOL * dt:
            g = np.linspace(0.0, T, m + 1)
        else:
            g = np.append(np.arange(m + 1) * dt, T)
        t, v = self.time_s, self.values
        if edge_threshold is None:
            thr = 0.1 * float(v.max() - v.min())
        else:
            thr = check_range(edge_threshold, "edge_threshold", owner, 0.0, np.inf)
        jumps = np.abs(np.diff(v))
        cand = np.flatnonzero((jumps >= thr) & (jumps > 0)) + 1  # index into t
        # nearest grid boundary of each candidate edge
        j = np.clip(np.searchsorted(g, t[cand]), 1, g.size - 1)
        snap = np.where(t[cand] - g[j - 1] <= g[j] - t[cand], j - 1, j)
        inner = (snap > 0) & (snap < g.size - 1)
        cand, snap = cand[inner], snap[inner]
        # largest jump first, then earliest; keep the first edge claiming each boundary
        order = np.lexsort((t[cand], -jumps[cand - 1]))
        _, first = np.unique(snap[order], return_index=True)
        kept = np.sort(order[first])
        cand, snap = cand[kept], snap[kept]
        merged = int(np.count_nonzero(inner)) - int(cand.size)
        # psi maps new time to original time: identity at 0 and T, edge to its time
        knots_new = np.concatenate([[0.0], g[snap], [T]])
        knots_old = np.concatenate([[0.0], t[cand], [T]])
        psi = np.interp(g, knots_new, knots_old)
        energy, seg = _bin_energy(t, v, psi)
        values = energy / np.diff(g)
        # a bin inside one original segment: that value times its plateau's stretch, the
        # same number for every bin of the plateau (not one rounding per bin)
        stretch = np.diff(knots_old) / np.diff(knots_new)
        piece = np.searchsorted(knots_new, g[:-1], side="right") - 1
        inside = seg >= 0
        values[inside] = v[seg[inside]] * stretch[piece[inside]]
        info = {"dt_s": dt, "edge_threshold": thr, "edges_kept": int(cand.size),
                "edges_merged": merged}
        return self._new(g, values, resample=info)

    def to_grid(self, dt_s: float, *, edge_threshold: float | None = None) -> np.ndarray:
        """The values on the regular grid of step ``dt_s`` [s], for the fast kernel.

        Returns a C-contiguous float64 array of ``duration / dt`` values (which must be a
        whole number), value ``j`` held on ``[j dt, (j+1) dt)``. A profile already on that
        grid is returned as is; otherwise it is :meth:`resample` d (edges snapped to the
        nearest step boundary, energy conserved).
        """
        owner = "argument of Profile.to_grid"
        T = self.duration_s
        dt = check_range(dt_s, "dt_s", owner, 0.0, T, closed=(False, True))
        n = round(T / dt)
        if abs(n * dt - T) > _WHOLE_STEPS_TOL * dt:
            raise InputError(range_message(
                "dt_s", owner, f"a step that divides the duration {T!r} s into whole steps "
                f"({T!r} / {dt!r} = {T / dt:.6g}; slice the profile first)", dt_s))
        d = np.diff(self.time_s)
        if self.n_segments == n and np.all(np.abs(d - dt) <= 1e-9 * dt
                                           + 2.0 * np.spacing(self.time_s[1:])):
            return np.array(self.values, dtype=np.float64, order="C")
        return np.array(self.resample(dt, edge_threshold=edge_threshold).values,
                        dtype=np.float64, order="C")

    # --- comparison and display -----------------------------------------------------
    def replace(self, **changes) -> Profile:
        """A copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Profile):
            return NotImplemented
        return (self.quantity == other.quantity
                and self.time_s.shape == other.time_s.shape
                and np.array_equal(self.time_s, other.time_s)
                and np.array_equal(self.values, other.values)
                and self.metadata == other.metadata)

    __hash__ = None  # equality is by value over arrays

    def __repr__(self) -> str:
        total = (f"energy_Wh={self.energy_Wh:.6g}" if self.power_W is not None
                 else f"charge_Ah={self.charge_Ah:.6g}")
        return (f"Profile(name={self.name!r}, {self.quantity}, n_segments={self.n_segments}, "
                f"duration_s={self.duration_s:.6g}, {total}, min={self.values.min():.6g}, "
                f"max={self.values.max():.6g})")


def _bin_energy(t: np.ndarray, v: np.ndarray, psi: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Integral of the ZOH profile (t, v) over each ``[psi[j], psi[j+1]]``, and the index
    of the one segment each interval lies in (-1 where it spans more than one).

    Each integral is summed from its own segments (a partial one at each end, whole ones
    in between), never as a difference of a running total: a running total over millions
    of segments rounds with a bias that adds up (1e-11 of the energy of an hour at 1 ms).
    """
    n = v.size
    a = np.clip(np.searchsorted(t, psi[:-1], side="right") - 1, 0, n - 1)
    b = np.clip(np.searchsorted(t, psi[1:], side="left") - 1, 0, n - 1)
    b = np.maximum(a, b)
    same = a == b
    out = v[a] * (psi[1:] - psi[:-1])
    if not np.all(same):
        ia, ib, lo, hi = a[~same], b[~same], psi[:-1][~same], psi[1:][~same]
        whole = np.zeros(ia.size)
        seg = v * np.diff(t)
        # sums over the whole segments ia+1 .. ib-1 (empty when ib == ia + 1)
        bounds = np.empty(2 * ia.size, dtype=np.int64)
        bounds[0::2], bounds[1::2] = ia + 1, ib
        sums = np.add.reduceat(seg, bounds)[0::2]
        has = ib > ia + 1
        whole[has] = sums[has]
        out[~same] = v[ia] * (t[ia + 1] - lo) + whole + v[ib] * (hi - t[ib])
    return out, np.where(same, a, -1)
