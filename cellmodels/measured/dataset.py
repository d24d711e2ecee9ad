"""One type for measured data, whatever the file it came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError


@dataclass(frozen=True)
class Dataset:
    """A measured time series; discharge current positive, SI units.

    Attributes
    ----------
    time_s : (n,) array, strictly increasing, starting anywhere
    current_A : (n,) array, discharge positive
    voltage_V : (n,) array
    temperature_K : (n,) array or None where not measured
    step : (n,) int array or None, the protocol step label of each sample
    name : short label, e.g. "NMC 25degC 1C"
    source : registry name of the file (see :mod:`cellmodels.data`)
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
                raise DataError(
                    f"{self.source}: column '{label}' holds NaN or inf at sample {int(bad[0])}."
                )
        dt = np.diff(np.asarray(self.time_s, dtype=float))
        if np.any(dt <= 0):
            k = int(np.flatnonzero(dt <= 0)[0])
            raise DataError(
                f"{self.source}: time does not increase at sample {k + 1} "
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
