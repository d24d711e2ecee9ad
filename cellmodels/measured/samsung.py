"""Reader of the Samsung INR21700-30T HPPC excerpts (3 Ah, high-drain NMC/graphite).

Files (registry folder ``samsung_inr21700_30t_pybop/``, from pybop-team/PyBOP's
examples, BSD-3; an excerpt of Kollmeyer and Skells, "Samsung INR21700 30T 3Ah Li-ion
Battery Data", Mendeley Data, doi:10.17632/9xyvy2njj3.1, CC BY 4.0):

* ``multipulse_hppc.xlsx``, sheet ``Sheet1``: columns ``Time``, ``Current``, ``Voltage``
  (no units in the header), 1194 rows: from rest near full charge, a 10 s 3 A (1C)
  discharge pulse, rest, a constant-voltage top-up at 4.2 V, a 10 min rest, a 10 s 6 A
  (2C) pulse and rest; 0.1 s sampling under load, 1-10 s at rest. ``Sheet2`` holds a
  re-arranged copy of the first pulse with the current also negated (``Cur1``); it is
  not read.
* ``sample_hppc_pulse.xlsx``, sheet ``Sheet3``: one pulse, the same three columns.
* ``sample_drive_cycle.xlsx``: a current (no voltage) — not a :class:`Dataset`; read it
  with :func:`read_samsung_current`.

Units and sign are not in the sheets: they are read from the header names, declared (s,
A, V) and checked against the cell (rating 3 Ah): voltages in [2.5, 4.25] V (not mV),
pulse currents 3 A and 6 A = 1C and 2C (not mA: 3 mA would be C/1000), sample interval
0.1 s under load (seconds). The sign is detected from the voltage's response to current
steps (discharge is recorded positive here) and checked against the voltage trend.

The logger wrote a few rows twice (same time, current and voltage): an exact duplicate
row is dropped and counted in ``meta["dropped_duplicate_rows"]`` (sample indices as
read); a repeated time with different values raises :class:`DataError`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from ._common import locate
from .dataset import Dataset, check_dataset, detect_current_sign
from .xlsx import read_xlsx

__all__ = ["NOMINAL_CAPACITY_AH", "SHEETS", "read_samsung", "read_samsung_current"]

#: Rated capacity [A.h] (Samsung INR21700-30T data sheet; SOURCES.md).
NOMINAL_CAPACITY_AH = 3.0
#: Voltage window of the cell [V]: 2.5 V discharge cut-off, 4.2 V charge (+50 mV margin).
VOLTAGE_WINDOW_V = (2.5, 4.25)
#: Plausible median sample interval of a cycler record [s]: below it, 'Time' is not in
#: seconds (an Excel date/time serial counts days: 0.1 s reads 1.2e-6).
SAMPLE_INTERVAL_RANGE_S = (1e-3, 3600.0)
#: The sheet holding the data in each file.
SHEETS = {"multipulse_hppc.xlsx": "Sheet1", "sample_hppc_pulse.xlsx": "Sheet3",
          "sample_drive_cycle.xlsx": "Sheet3"}
_PREFIX = "samsung_inr21700_30t_pybop/"


def _table(name, want: tuple[str, ...]):
    file, source, prov = locate(name, _PREFIX, (".xlsx",))
    sheets = read_xlsx(file, source)
    sheet = SHEETS.get(Path(file).name)
    if sheet is None:
        if len(sheets) != 1:
            raise DataError(f"{source}: which sheet holds the data is not known for this "
                            f"file; it has {sorted(sheets)}.")
        sheet = next(iter(sheets))
    if sheet not in sheets:
        raise DataError(f"{source}: no sheet {sheet!r}; it has {sorted(sheets)}.")
    cells = sheets[sheet]
    header = {}
    for (r, c), val in cells.items():
        if r == 0:
            header[str(val).strip()] = c
    cols = {}
    for label in want:
        if label not in header:
            raise DataError(f"{source}: sheet {sheet!r} has no column {label!r} in its first "
                            f"row; it has {sorted(header)}.")
        cols[label] = header[label]
    unknown = sorted(set(header) - set(want) - {""})
    if unknown:  # a column this reader would not read is not dropped without a word
        raise DataError(f"{source}: sheet {sheet!r} has unknown column(s) {unknown}; this "
                        f"reader reads only {list(want)}.")
    n = 1 + max(r for r, _ in cells)
    out = {}
    for label, c in cols.items():
        col = np.empty(n - 1)
        for r in range(1, n):
            val = cells.get((r, c))
            if not isinstance(val, float):
                raise DataError(f"{source}: sheet {sheet!r} column {label!r} holds {val!r} at "
                                f"sample {r - 1} (row {r + 1}), not a number.")
            col[r - 1] = val
        bad = np.flatnonzero(~np.isfinite(col))
        if bad.size:
            k = int(bad[0])
            raise DataError(f"{source}: column {label!r} holds {float(col[k])!r} at sample {k}; NaN "
                            "and inf are not allowed.")
        out[label] = col
    return out, source, {**prov, "sheet": sheet}


def _drop_duplicates(cols: dict, source: str) -> tuple[dict, list[int]]:
    t = cols["Time"]
    dup = np.flatnonzero(np.diff(t) == 0) + 1
    for k in dup:
        if any(cols[c][k] != cols[c][k - 1] for c in cols):
            raise DataError(f"{source}: column 'Time' repeats {float(t[k])!r} at samples {k - 1} and "
                            f"{k} with different values in the other columns.")
    keep = np.ones(t.size, bool)
    keep[dup] = False
    return {c: v[keep] for c, v in cols.items()}, dup.tolist()


def _check_interval(t: np.ndarray, source: str) -> None:
    lo, hi = SAMPLE_INTERVAL_RANGE_S
    med = float(np.median(np.diff(t)))
    if not lo <= med <= hi:
        raise DataError(f"{source}: column 'Time' must be in seconds, with a median sample "
                        f"interval in [{lo:g}, {hi:g}] s. Got {med!r} instead (an Excel "
                        "date/time, in days, or time in hours?).")


def read_samsung(name: str | Path = f"{_PREFIX}multipulse_hppc.xlsx",
                 temperature_K: float | None = None) -> Dataset:
    """Read a Samsung 30T HPPC sheet into a :class:`Dataset` (see the module docstring).

    Parameters
    ----------
    name : str or Path
        Registry name or path of an .xlsx with ``Time``, ``Current``, ``Voltage`` columns.
    temperature_K : float, optional
        The test temperature, if known: the excerpt does not say (recorded in
        ``meta["chamber_temperature_K"]``, None otherwise).

    Raises
    ------
    DataError
        Missing column or sheet, a non-number, NaN, time not increasing (other than an
        exact duplicate row), voltage outside [2.5, 4.25] V, current above 15C of 3 Ah,
        or a current sign the voltage contradicts.
    """
    cols, source, prov = _table(name, ("Time", "Current", "Voltage"))
    cols, dropped = _drop_duplicates(cols, source)
    t, i, v = cols["Time"], cols["Current"], cols["Voltage"]
    dt = np.diff(t)
    if np.any(dt <= 0):
        k = int(np.flatnonzero(dt <= 0)[0]) + 1
        raise DataError(f"{source}: column 'Time' does not increase at sample {k}: "
                        f"{float(t[k - 1])!r} then {float(t[k])!r}.")
    _check_interval(t, source)
    sign = detect_current_sign(i, v, source, "Current")
    ds = Dataset(
        time_s=t, current_A=sign * i, voltage_V=v,
        name=f"Samsung 30T {Path(str(name)).stem}", source=source,
        meta={**prov,
              "cell": "Samsung INR21700-30T",
              "nominal_capacity_Ah": NOMINAL_CAPACITY_AH,
              "chamber_temperature_K": temperature_K,
              "raw_current_sign": "discharge negative" if sign < 0 else "discharge positive",
              "units": "declared s, A, V (no units in the sheet); checked by magnitude",
              "columns": {"time_s": "Time", "current_A": "Current", "voltage_V": "Voltage"},
              "dropped_duplicate_rows": dropped,
              "licence": "BSD-3-Clause (PyBOP); data CC BY 4.0, Kollmeyer and Skells 2020"},
    )
    check_dataset(ds, NOMINAL_CAPACITY_AH, voltage_range_V=VOLTAGE_WINDOW_V)
    return ds


def read_samsung_current(name: str | Path = f"{_PREFIX}sample_drive_cycle.xlsx"
                         ) -> tuple[np.ndarray, np.ndarray]:
    """``(time_s, current_A)`` of a current-only sheet (the drive cycle), as recorded.

    The sheet's sign convention cannot be checked (there is no voltage); its magnitude is
    checked against 15C of 3 Ah.
    """
    cols, source, _ = _table(name, ("Time", "Current"))
    t, i = cols["Time"], cols["Current"]
    if np.any(np.diff(t) <= 0):
        k = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 1
        raise DataError(f"{source}: column 'Time' does not increase at sample {k}.")
    _check_interval(t, source)
    k = int(np.argmax(np.abs(i)))
    if abs(i[k]) > 15 * NOMINAL_CAPACITY_AH:
        raise DataError(f"{source}: column 'Current' must be in amperes, at most "
                        f"{15 * NOMINAL_CAPACITY_AH:g} A. Got {float(i[k])!r} at sample {k} instead "
                        "(milliamperes?).")
    return t, i
