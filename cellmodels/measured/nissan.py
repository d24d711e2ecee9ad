"""Readers of the ORNL 2013 Nissan Leaf cell data (33.1 Ah, LMO-LNO/graphite laminate).

Files (registry folder ``nissan_leaf_ornl/``, from batterysim/nissan-leaf-data, MIT,
doi:10.5281/zenodo.2580327; Wiggins, Allu and Wang, ORNL):

* ``NissanLeaf-cell-Low-Current-HPPC-{10C,25C-2,40C-1}.csv``: HPPC at 10, 25 and 40 degC
  chamber temperature: a CC-CV charge to 4.2 V, 1 h rest, then ten times a 30 s 30 A
  discharge pulse, 40 s rest, a 10 s regenerative (charge) pulse, a 3 Ah discharge at
  10 A and 1 h rest, ending at 3.0 V. No temperature logged.
* ``NissanLeaf-cell-Cycling-10C-24C-40C.csv``: C/15 cycling, three chamber temperatures
  in one file (which samples belong to which is not recorded).
* ``{1C,2C,3C}-Discharge-Bitrode-data.csv`` with ``Temperature-{1C,2C,3C}-discharge.lvm``:
  constant-current discharges and three thermocouples (TC1 near the tabs, TC2 mid-cell,
  TC3 near the bottom; a fourth channel is not described by the source).

Bitrode CSV layout. Some files carry the header, some do not; the columns are the same::

    Exclude, Time(s), Cycle, Loop, Loop, Loop, Step, StepTime(s), Current(A),
    Voltage(V), Power(W), Capacity(Ah), Energy(Wh), Mode, Data

(a trailing empty field in most). The header, when present, is checked against this
layout; without it the layout is declared, and checked from the data: ``Power(W)`` must
equal ``Current(A) x Voltage(V)`` (this catches volts/millivolts and amperes/milliamperes
swapped), the ``Mode`` column (CHRG, DCHG, REST) must agree with the current's sign
(Bitrode records discharge negative), and the voltage must fall over discharge steps.

LabVIEW ``.lvm`` files here are headerless text: a leading tab, then four temperature
channels in degC, one row every 3 s (the source's own reader, ``datalib/tempdata.py``,
takes ``time = 3 s x row``, starting with the Bitrode record).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from ._common import locate
from .dataset import Dataset, check_dataset

__all__ = ["BITRODE_COLUMNS", "HPPC_FILES", "NOMINAL_CAPACITY_AH", "LvmTrace",
           "read_nissan", "read_nissan_discharge", "read_nissan_lvm"]

#: Rated capacity of the cell [A.h] (the source's README).
NOMINAL_CAPACITY_AH = 33.1
#: Cell mass [kg] (the source's README: 799 g).
MASS_KG = 0.799
#: The Bitrode export's columns.
BITRODE_COLUMNS = ("Exclude", "Time(s)", "Cycle", "Loop", "Loop", "Loop", "Step",
                   "StepTime(s)", "Current(A)", "Voltage(V)", "Power(W)", "Capacity(Ah)",
                   "Energy(Wh)", "Mode", "Data")
#: The HPPC file at each chamber temperature [degC].
HPPC_FILES = {
    10: "nissan_leaf_ornl/NissanLeaf-cell-Low-Current-HPPC-10C.csv",
    25: "nissan_leaf_ornl/NissanLeaf-cell-Low-Current-HPPC-25C-2.csv",
    40: "nissan_leaf_ornl/NissanLeaf-cell-Low-Current-HPPC-40C-1.csv",
}
#: Sample interval of the LabVIEW temperature files [s] (datalib/tempdata.py).
LVM_INTERVAL_S = 3.0
_PREFIX = "nissan_leaf_ornl/"
_COL = {name: k for k, name in enumerate(BITRODE_COLUMNS) if name != "Loop"}
_MODES = ("CHRG", "DCHG", "REST")


def _chamber_K(file: Path) -> float | None:
    m = re.search(r"HPPC-(\d+)C", file.name)
    return 273.15 + float(m.group(1)) if m else None


def _read_bitrode(file: Path, source: str) -> dict:
    try:
        with open(file, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: cannot read the file ({exc}).") from None
    header_found = bool(rows) and rows[0] and rows[0][0].strip() == "Exclude"
    if header_found:
        head = tuple(h.strip() for h in rows[0])
        if head[:len(BITRODE_COLUMNS)] != BITRODE_COLUMNS:
            raise DataError(f"{source}: the header must begin {', '.join(BITRODE_COLUMNS)}. "
                            f"Got {', '.join(head)} instead.")
        extra = [h for h in head[len(BITRODE_COLUMNS):] if h]
        if extra:
            raise DataError(f"{source}: unknown column(s) {', '.join(map(repr, extra))} after "
                            f"the Bitrode layout ({', '.join(BITRODE_COLUMNS)}); this reader "
                            "would not read them.")
        rows = rows[1:]
    body = [r for r in rows if any(c.strip() for c in r)]
    if len(body) < 2:
        raise DataError(f"{source}: the file holds {len(body)} sample(s); at least 2 needed.")
    off = 2 if header_found else 1
    num = {}
    for label in ("Time(s)", "Cycle", "Step", "StepTime(s)", "Current(A)", "Voltage(V)",
                  "Power(W)", "Capacity(Ah)"):
        j = _COL[label]
        col = np.empty(len(body))
        for k, r in enumerate(body):
            if len(r) < len(BITRODE_COLUMNS):
                raise DataError(f"{source}: sample {k} (line {k + off}) has {len(r)} fields; "
                                f"expected {len(BITRODE_COLUMNS)}.")
            try:
                col[k] = float(r[j])
            except ValueError:
                raise DataError(f"{source}: column '{label}' holds {r[j]!r} at sample {k} "
                                f"(line {k + off}), not a number.") from None
        bad = np.flatnonzero(~np.isfinite(col))
        if bad.size:
            k = int(bad[0])
            raise DataError(f"{source}: column '{label}' holds {float(col[k])!r} at sample "
                            f"{k} (line {k + off}); NaN and inf are not allowed.")
        num[label] = col
    mode = np.array([r[_COL["Mode"]].strip() for r in body])
    unknown = np.flatnonzero(~np.isin(mode, _MODES))
    if unknown.size:
        k = int(unknown[0])
        raise DataError(f"{source}: column 'Mode' holds {str(mode[k])!r} at sample {k} (line "
                        f"{k + off}); expected one of {', '.join(_MODES)}.")
    num["Mode"] = mode
    num["Data"] = np.array([r[_COL["Data"]].strip() for r in body])
    num["_header"] = header_found
    num["_line_offset"] = off
    return num


def _check_bitrode(cols: dict, source: str) -> float:
    """Units from Power = I V, and the sign from the Mode column; returns the sign factor."""
    t, i, v, p = cols["Time(s)"], cols["Current(A)"], cols["Voltage(V)"], cols["Power(W)"]
    off = cols["_line_offset"]
    dt = np.diff(t)
    if np.any(dt <= 0):
        k = int(np.flatnonzero(dt <= 0)[0]) + 1
        raise DataError(f"{source}: column 'Time(s)' does not increase at sample {k} (line "
                        f"{k + off}): {float(t[k - 1])!r} then {float(t[k])!r}.")
    # Power is logged to 0.1 W and current to 0.01 A, voltage to 1 mV.
    tol = 0.05 + 0.006 * np.abs(v) + 0.0006 * np.abs(i) + 0.02 * np.abs(p)
    bad = np.flatnonzero(np.abs(p - i * v) > tol)
    if bad.size > 0.01 * t.size:
        k = int(bad[0])
        raise DataError(
            f"{source}: column 'Power(W)' = {float(p[k])!r} at sample {k} (line {k + off}) is not "
            f"'Current(A)' x 'Voltage(V)' = {float(i[k])!r} x {float(v[k])!r}: are the current or voltage "
            "in mA or mV, or the columns in another order?")
    mode = cols["Mode"]
    dch, chg = (mode == "DCHG") & (np.abs(i) > 0.05), (mode == "CHRG") & (np.abs(i) > 0.05)
    if not (np.any(dch) or np.any(chg)):
        raise DataError(f"{source}: no sample carries current in a CHRG or DCHG step.")
    neg = float(np.mean(np.concatenate([i[dch] < 0, i[chg] > 0])))
    if neg >= 0.99:
        return -1.0
    if neg <= 0.01:
        return 1.0
    k = int(np.flatnonzero((dch & (i > 0)) | (chg & (i < 0)))[0])
    raise DataError(f"{source}: column 'Current(A)' = {float(i[k])!r} at sample {k} (line {k + off}) "
                    f"has the other sign than the rest of its mode ({mode[k]}).")


def read_nissan(name: str | Path) -> Dataset:
    """Read one Bitrode CSV of the Nissan Leaf cell (HPPC, cycling or a discharge).

    Parameters
    ----------
    name : str or Path
        Registry name (e.g. ``HPPC_FILES[25]``) or the path of a file with the same layout.

    Returns
    -------
    Dataset
        ``time_s`` as recorded [s], ``current_A`` discharge positive [A], ``voltage_V``
        [V], ``step`` a new label at every change of (Cycle, Step) (the raw step numbers are
        ``meta["step_number"]``), ``temperature_K`` None (not logged). ``meta`` holds the
        chamber temperature (from the file name, HPPC files only), the rated capacity,
        ``mode`` (CHRG/DCHG/REST per sample), ``capacity_column_Ah`` (the cycler's own
        per-step charge count), ``flag`` (the source's ``Data`` column: S = step end, Q =
        test end) and the provenance.

    Raises
    ------
    DataError
        Bad header, a non-number, NaN, time not increasing, ``Power != I x V`` (units),
        a current sign that contradicts the Mode column or the voltage, a voltage outside
        [1, 5] V or a current above 15C of 33.1 Ah; naming column, sample and line.
    """
    file, source, prov = locate(name, _PREFIX, (".csv",))
    cols = _read_bitrode(file, source)
    sign = _check_bitrode(cols, source)
    cyc, stepno = cols["Cycle"].astype(int), cols["Step"].astype(int)
    change = (np.diff(cyc) != 0) | (np.diff(stepno) != 0)
    step = np.concatenate([[0], np.cumsum(change)]).astype(int)
    chamber = _chamber_K(file)
    ds = Dataset(
        time_s=cols["Time(s)"],
        current_A=sign * cols["Current(A)"],
        voltage_V=cols["Voltage(V)"],
        name=f"Nissan Leaf {file.stem}",
        source=source,
        step=step,
        meta={
            **prov,
            "cell": "2013 Nissan Leaf, LMO-LNO/graphite laminate",
            "nominal_capacity_Ah": NOMINAL_CAPACITY_AH,
            "chamber_temperature_K": chamber,
            "raw_current_sign": "discharge negative" if sign < 0 else "discharge positive",
            "header": "checked" if cols["_header"] else "absent; Bitrode layout declared",
            "columns": {"time_s": "Time(s)", "current_A": "Current(A)",
                        "voltage_V": "Voltage(V)", "step": "Cycle, Step"},
            "step_number": stepno,
            "mode": cols["Mode"],
            "flag": cols["Data"],
            "capacity_column_Ah": cols["Capacity(Ah)"],
            "licence": prov.get("licence", "MIT") + ", Oak Ridge National Laboratory",
        },
    )
    check_dataset(ds, NOMINAL_CAPACITY_AH)
    return ds


@dataclass(frozen=True)
class LvmTrace:
    """A LabVIEW temperature file: channels in kelvin on a uniform time grid."""

    time_s: np.ndarray
    temperature_K: dict[str, np.ndarray]
    source: str
    meta: dict = field(default_factory=dict)


def read_nissan_lvm(name: str | Path, *, interval_s: float = LVM_INTERVAL_S) -> LvmTrace:
    """Read a headerless LabVIEW ``.lvm`` thermocouple file of the Nissan Leaf tests.

    Each row: an empty first field, then TC1 (near the tabs), TC2 (mid-cell), TC3 (near
    the bottom) and TC4 (not described by the source) in degC, tab separated; rows every
    ``interval_s`` (declared: 3 s, from the source's reader). Temperatures outside
    [-40, 100] degC are refused (a channel in kelvin or in another unit).
    """
    file, source, prov = locate(name, _PREFIX, (".lvm",))
    try:
        lines = file.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: cannot read the file ({exc}).") from None
    rows = []
    for k, line in enumerate(lines):
        if not line.strip():
            continue
        fields = line.split("\t")
        if fields[0].strip():
            raise DataError(f"{source}: line {k + 1} starts with {fields[0].strip()!r}; this reader "
                            "takes headerless LabVIEW text (a leading tab, four channels).")
        try:
            vals = [float(x) for x in fields[1:]]
        except ValueError:
            raise DataError(f"{source}: line {k + 1} holds a non-number: {line!r}.") from None
        if len(vals) != 4:
            raise DataError(f"{source}: line {k + 1} has {len(vals)} channels; expected 4.")
        rows.append(vals)
    arr = np.array(rows)
    if arr.shape[0] < 2:
        raise DataError(f"{source}: the file holds {arr.shape[0]} row(s); at least 2 needed.")
    bad = np.argwhere(~np.isfinite(arr) | (arr < -40) | (arr > 100))
    if bad.size:
        k, j = (int(x) for x in bad[0])
        raise DataError(f"{source}: channel TC{j + 1} holds {float(arr[k, j])!r} at row {k}; a "
                        "thermocouple in degC must lie in [-40, 100].")
    chans = {f"TC{j + 1}": arr[:, j] + 273.15 for j in range(4)}
    return LvmTrace(time_s=np.arange(arr.shape[0]) * float(interval_s), temperature_K=chans,
                    source=source, meta={**prov, "interval_s": float(interval_s),
                                         "channels": "TC1 tabs, TC2 mid-cell, TC3 bottom, "
                                                     "TC4 not described"})


def read_nissan_discharge(rate: str) -> Dataset:
    """A Nissan Leaf constant-current discharge ("1C", "2C" or "3C") with TC2 temperature.

    The Bitrode record with ``temperature_K`` from the mid-cell thermocouple (TC2) of the
    matching ``.lvm`` file, on the Bitrode time (both start together, as in the source's
    reader); samples past the end of the thermocouple record are refused rather than
    extrapolated: the record is cut there and ``meta["cut_at_s"]`` says so.
    """
    if rate not in ("1C", "2C", "3C"):
        raise DataError(f"The 'rate' must be one of '1C', '2C', '3C'. Got {rate!r} instead.")
    ds = read_nissan(f"{_PREFIX}{rate}-Discharge-Bitrode-data.csv")
    lvm = read_nissan_lvm(f"{_PREFIX}Temperature-{rate}-discharge.lvm")
    t = ds.time_s
    keep = t <= lvm.time_s[-1]
    cut = None if keep.all() else float(t[keep][-1])
    temp = np.interp(t[keep], lvm.time_s, lvm.temperature_K["TC2"])
    meta = dict(ds.meta)
    meta.update(temperature_source=lvm.source, temperature_channel="TC2 (mid-cell)",
                cut_at_s=cut)
    for key in ("step_number", "mode", "flag", "capacity_column_Ah"):
        meta[key] = meta[key][keep]
    return Dataset(time_s=t[keep], current_A=ds.current_A[keep], voltage_V=ds.voltage_V[keep],
                   name=f"Nissan Leaf {rate} discharge", source=ds.source,
                   temperature_K=temp, step=ds.step[keep], meta=meta)
