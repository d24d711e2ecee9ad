"""One type for measured data, whatever the file it came from, and the checks on it.

Every reader of :mod:`cellmodels.measured` returns a :class:`Dataset`: SI units inside,
discharge current positive (as in PyBaMM), strictly increasing time. The checks that
catch a file read with the wrong conventions live here, so every reader applies the same
ones (:func:`check_dataset`):

* NaN or inf samples, time that does not increase (at construction);
* a voltage outside a plausible cell window (millivolts given as volts), a temperature
  outside [-40, 100] degC (degrees Celsius given as kelvin);
* a current above a plausible C-rate of the cell's rating (milliamperes given as amperes),
  or a charge swing above 1.5x the rating (time in ms, current in mA);
* a current whose sign disagrees with the voltage: at a current step the voltage jumps
  against the current (``dV = -R dI``), and over a discharge step the voltage falls.

Each raises :class:`~cellmodels.errors.DataError` naming the source, the column and the
sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError

__all__ = [
    "MAX_CHARGE_FRACTION",
    "MAX_C_RATE",
    "TEMPERATURE_RANGE_K",
    "VOLTAGE_RANGE_V",
    "Dataset",
    "check_dataset",
    "check_magnitudes",
    "check_sign_trend",
    "detect_current_sign",
    "step_segments",
]

#: Plausible terminal voltage of one lithium-ion cell [V]; outside it the column is
#: probably in millivolts (or not a voltage).
VOLTAGE_RANGE_V = (1.0, 5.0)
#: Largest plausible current, in C-rates of the rated capacity (high-power cells reach
#: 10-15C in pulses); above it the column is probably in milliamperes.
MAX_C_RATE = 15.0
#: Largest plausible swing of charge in one record (max - min of the charge passed), in
#: multiples of the rated capacity; above it, time or current is in the wrong unit.
MAX_CHARGE_FRACTION = 1.5
#: Plausible cell temperature [K] (-40 to 100 degC); outside it the column is probably
#: in degrees Celsius (or not a temperature).
TEMPERATURE_RANGE_K = (233.15, 373.15)


@dataclass(frozen=True)
class Dataset:
    """A measured time series; discharge current positive, SI units.

    Attributes
    ----------
    time_s : (n,) array, strictly increasing, starting anywhere [s]
    current_A : (n,) array, discharge positive [A]
    voltage_V : (n,) array, terminal voltage [V]
    name : short label, e.g. "NMC 25degC 1C"
    source : registry name of the file (see :mod:`cellmodels.data`), or its path
    temperature_K : (n,) array or None where not measured [K]
    step : (n,) int array or None, the protocol step of each sample (a new label at every
        step change of the protocol)
    meta : dict, what the reader knows: ``origin`` (repository@commit:path), ``licence``,
        ``nominal_capacity_Ah``, ``chamber_temperature_K``, the columns read and the
        conventions found (``raw_current_sign``), anything dropped and why.
    """

    time_s: np.ndarray
    current_A: np.ndarray
    voltage_V: np.ndarray
    name: str
    source: str
    temperature_K: np.ndarray | None = None
    step: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.time_s)
        for label in ("current_A", "voltage_V", "temperature_K", "step"):
            arr = getattr(self, label)
            if arr is not None and len(arr) != n:
                raise DataError(
                    f"{self.source}: column '{label}' has {len(arr)} samples, time_s has {n}."
                )
        for label in ("time_s", "current_A", "voltage_V", "temperature_K"):
            arr = getattr(self, label)
            if arr is None:
                continue
            bad = np.flatnonzero(~np.isfinite(np.asarray(arr, dtype=float)))
            if bad.size:
                k = int(bad[0])
                raise DataError(
                    f"{self.source}: column '{label}' holds {float(arr[k])!r} at sample {k}; "
                    "NaN and inf are not allowed."
                )
        dt = np.diff(np.asarray(self.time_s, dtype=float))
        if np.any(dt <= 0):
            k = int(np.flatnonzero(dt <= 0)[0])
            raise DataError(
                f"{self.source}: column 'time_s' does not increase at sample {k + 1} "
                f"({float(self.time_s[k])!r} then {float(self.time_s[k + 1])!r})."
            )

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1] - self.time_s[0])

    def discharged_Ah(self) -> np.ndarray:
        """Charge passed since the first sample [A.h], by the trapezoid rule."""
        t = np.asarray(self.time_s, dtype=float)
        i = np.asarray(self.current_A, dtype=float)
        q = np.concatenate([[0.0], np.cumsum(0.5 * (i[1:] + i[:-1]) * np.diff(t))])
        return q / 3600.0

    def step_changes(self) -> np.ndarray:
        """(n-1,) bool: whether a protocol step changes between sample k and k+1.

        From ``step`` when the file has step labels; otherwise a change of current by more
        than 10 % of the largest current magnitude (a load switched on or off).
        """
        if self.step is not None:
            s = np.asarray(self.step)
            return s[1:] != s[:-1]
        i = np.asarray(self.current_A, dtype=float)
        scale = float(np.max(np.abs(i))) if i.size else 0.0
        return np.abs(np.diff(i)) > 0.1 * scale

    def interval_current_A(self) -> np.ndarray:
        """(n-1,) mean current [A] over each interval ``(time_s[k], time_s[k+1]]``.

        The samples are instantaneous readings. Within a protocol step the current is
        taken linear between samples (the trapezoid rule; it reproduces a cycler's own
        charge count over a tapering constant-voltage step); across a step change the new
        step's current holds over the whole interval, because a cycler logs the last
        sample of a step at the step's end and the first sample of the next one a sample
        interval later (see :meth:`step_changes`).
        """
        i = np.asarray(self.current_A, dtype=float)
        mean = 0.5 * (i[1:] + i[:-1])
        return np.where(self.step_changes(), i[1:], mean)

    def check(self, capacity_Ah: float, **kwargs) -> Dataset:
        """Apply :func:`check_dataset` with the cell's rated capacity; return self."""
        check_dataset(self, capacity_Ah, **kwargs)
        return self


def step_segments(ds: Dataset) -> list[tuple[int, int]]:
    """``(first, last)`` sample indices of each protocol step (see ``step_changes``)."""
    cut = np.flatnonzero(ds.step_changes()) + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut - 1, [len(ds.time_s) - 1]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def check_magnitudes(
    time_s: np.ndarray,
    current_A: np.ndarray,
    voltage_V: np.ndarray,
    *,
    capacity_Ah: float,
    source: str,
    columns: tuple[str, str, str] = ("time_s", "current_A", "voltage_V"),
    voltage_range_V: tuple[float, float] = VOLTAGE_RANGE_V,
    max_c_rate: float = MAX_C_RATE,
) -> None:
    """Units from magnitudes: voltage window, current against the rating, charge swing.

    Parameters
    ----------
    time_s, current_A, voltage_V : (n,) arrays as read (any current sign)
    capacity_Ah : rated capacity of the cell [A.h]
    source : named in the messages
    columns : the file's names of the time, current and voltage columns

    Raises
    ------
    DataError
        Voltage outside ``voltage_range_V`` (millivolts?), ``|I| > max_c_rate x rating``
        (milliamperes?), or a swing of charge above ``MAX_CHARGE_FRACTION x rating`` (time
        in ms or current in mA?); the message names the column and the sample.
    """
    t = np.asarray(time_s, dtype=float)
    i = np.asarray(current_A, dtype=float)
    v = np.asarray(voltage_V, dtype=float)
    lo, hi = voltage_range_V
    out = np.flatnonzero((v < lo) | (v > hi))
    if out.size:
        k = int(out[0])
        unit = " (millivolts given as volts?)" if v[k] > hi else ""
        raise DataError(
            f"{source}: column '{columns[2]}' must be a cell voltage in volts, in "
            f"[{lo:g}, {hi:g}] V. Got {float(v[k])!r} at sample {k} instead{unit}."
        )
    i_max = max_c_rate * capacity_Ah
    k = int(np.argmax(np.abs(i))) if i.size else 0
    if i.size and abs(i[k]) > i_max:
        raise DataError(
            f"{source}: column '{columns[1]}' must be in amperes, at most {i_max:g} A "
            f"({max_c_rate:g}C of the rated {capacity_Ah:g} Ah) in magnitude. Got "
            f"{float(i[k])!r} at sample {k} instead (milliamperes given as amperes?)."
        )
    q = np.concatenate([[0.0], np.cumsum(0.5 * (i[1:] + i[:-1]) * np.diff(t))]) / 3600.0
    swing = float(q.max() - q.min()) if q.size else 0.0
    q_max = MAX_CHARGE_FRACTION * capacity_Ah
    if swing > q_max:
        run_min = np.minimum.accumulate(q)
        run_max = np.maximum.accumulate(q)
        k = int(np.argmax(run_max - run_min > q_max))
        raise DataError(
            f"{source}: the charge passed swings by {swing:.4g} Ah, more than "
            f"{MAX_CHARGE_FRACTION:g}x the rated {capacity_Ah:g} Ah (first exceeded at "
            f"sample {k}, column '{columns[0]}' = {float(t[k])!r}): is time in "
            "milliseconds, or current in milliamperes?"
        )


def detect_current_sign(
    current: np.ndarray, voltage: np.ndarray, source: str = "data", column: str = "current"
) -> float:
    """The factor that turns a file's current into discharge-positive current.

    At a step of current the terminal voltage jumps at once by ``-R dI`` for a
    discharge-positive current (``R > 0``). The sign of the voltage jump against the
    current jump over the large steps (above a quarter of the largest) tells the
    convention: the same sign means discharge was recorded negative.

    Returns
    -------
    float
        -1.0 if the file records discharge as negative, +1.0 if as positive.

    Raises
    ------
    DataError
        No current step in the data, or the steps disagree (fewer than 90 % agree).
    """
    di = np.diff(np.asarray(current, dtype=float))
    dv = np.diff(np.asarray(voltage, dtype=float))
    step = float(np.max(np.abs(di))) if di.size else 0.0
    big = (np.abs(di) > 0.25 * step) & (dv != 0)
    if step == 0.0 or not np.any(big):
        raise DataError(f"{source}: column '{column}' has no current step from which to "
                        "tell the sign convention.")
    agree = float(np.mean(np.sign(di[big]) == np.sign(dv[big])))
    if agree >= 0.9:
        return -1.0
    if agree <= 0.1:
        return 1.0
    raise DataError(
        f"{source}: the sign convention of column '{column}' is ambiguous: at "
        f"{100 * agree:.0f} % of the {int(big.sum())} large current steps the voltage moves "
        "as for a discharge-negative current, at the others as for discharge-positive."
    )


def check_sign_trend(ds: Dataset, *, min_change_V: float = 0.002,
                     min_current_fraction: float = 0.05, capacity_Ah: float) -> None:
    """Discharge must lower the voltage over a step, charge raise it.

    Over every protocol step that carries a current of one sign above
    ``min_current_fraction`` C (with ``capacity_Ah``), and whose voltage moves by more
    than ``min_change_V``, the voltage change from its first to its last sample must have
    the sign opposite to the (discharge-positive) current. A step after a larger current
    may relax the other way, so the check fails only when the *majority* of such steps
    disagree: then the current's sign is flipped.

    Raises
    ------
    DataError
        Naming the first disagreeing step (samples, mean current, voltage change).
    """
    i = np.asarray(ds.current_A, dtype=float)
    v = np.asarray(ds.voltage_V, dtype=float)
    thr = min_current_fraction * capacity_Ah
    votes = []
    for a, b in step_segments(ds):
        if b - a < 2:
            continue
        seg = i[a:b + 1]
        if np.all(seg > thr) or np.all(seg < -thr):
            dv = v[b] - v[a]
            if abs(dv) > min_change_V:
                votes.append((a, b, float(seg.mean()), float(dv), np.sign(seg[0]) * dv < 0))
    if not votes:
        return
    bad = [x for x in votes if not x[4]]
    if len(bad) > len(votes) / 2:
        a, b, im, dv = bad[0][:4]
        kind = "discharge" if im > 0 else "charge"
        raise DataError(
            f"{ds.source}: column 'current_A' disagrees with the voltage: over {len(bad)} of "
            f"{len(votes)} steps with current the voltage moves the wrong way, first at "
            f"samples {a}-{b}: a {kind} (mean {im:.4g} A, discharge positive) where the "
            f"voltage {'rises' if dv > 0 else 'falls'} by {1e3 * abs(dv):.1f} mV. Is the "
            "current's sign convention flipped?"
        )


def check_dataset(ds: Dataset, capacity_Ah: float, *,
                  voltage_range_V: tuple[float, float] = VOLTAGE_RANGE_V,
                  max_c_rate: float = MAX_C_RATE) -> None:
    """All checks on a discharge-positive :class:`Dataset` (see the module docstring).

    Parameters
    ----------
    ds : Dataset
    capacity_Ah : float
        The cell's rated capacity [A.h].
    """
    if not (np.isfinite(capacity_Ah) and capacity_Ah > 0):
        raise DataError(f"{ds.source}: the rated 'capacity_Ah' must be in (0, inf). "
                        f"Got {capacity_Ah!r} instead.")
    # name the file's own columns (the readers record them in meta["columns"])
    names = ds.meta.get("columns") or {}
    columns = tuple(str(names.get(k, k)) for k in ("time_s", "current_A", "voltage_V"))
    check_magnitudes(ds.time_s, ds.current_A, ds.voltage_V, capacity_Ah=capacity_Ah,
                     source=ds.source, columns=columns, voltage_range_V=voltage_range_V,
                     max_c_rate=max_c_rate)
    if ds.temperature_K is not None:
        temp = np.asarray(ds.temperature_K, dtype=float)
        lo, hi = TEMPERATURE_RANGE_K
        out = np.flatnonzero((temp < lo) | (temp > hi))
        if out.size:
            k = int(out[0])
            unit = " (degrees Celsius given as kelvin?)" if temp[k] < lo else ""
            raise DataError(
                f"{ds.source}: column 'temperature_K' must be a cell temperature in kelvin, in "
                f"[{lo:g}, {hi:g}] K. Got {float(temp[k])!r} at sample {k} instead{unit}.")
    check_sign_trend(ds, capacity_Ah=capacity_Ah)
