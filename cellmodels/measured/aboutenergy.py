"""Reader of the About:Energy validation runs (12.5 Ah NMC111 pouch, 2 Ah LFP 18650).

The files are ``aboutenergy_bpx/{NMC,LFP}/{NMC,LFP}_25degC_{Co20,Co2,1C,2C,DriveCycle}.csv``
in the measured-data registry (:mod:`cellmodels.data`), copied unchanged from
About-Energy-OpenSource/About-Energy-BPX-Parameterisation (CC BY-SA 4.0). Each is a
three-column CSV with the header ``Time [s],I[A],U[V]``: time in seconds from the start of
the step, cell current in amperes, terminal voltage in volts, measured at 25 degC (chamber
temperature; the cell temperature was not logged).

Sign convention. The files record discharge current as *negative* (About:Energy's own
validation notebooks pass ``-I`` to PyBaMM). The reader does not take this on trust: it
detects the convention from the data (at every large current step the voltage moves the
same way as a discharge-negative current, see :func:`detect_sign`), refuses a file where the
evidence is missing or contradicts itself, and returns discharge-positive current, as in
PyBaMM and :class:`~cellmodels.measured.Dataset`. The convention found is recorded in
``Dataset.meta["raw_current_sign"]``.

Checks. NaN or inf, non-increasing time, a voltage outside [1, 5] V (millivolts?), a
current above 10C of the cell's nominal capacity (milliamperes?) or a charge passed above
1.5x the nominal capacity (time in milliseconds, or milliamperes?) raise
:class:`~cellmodels.errors.DataError` naming the file, the column and the sample.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from .. import data
from ..errors import DataError
from ._common import provenance
from .dataset import Dataset, check_sign_trend, detect_current_sign

__all__ = ["NOMINAL_CAPACITY_AH", "PROTOCOLS", "available_runs", "detect_sign",
           "read_aboutenergy"]

#: Nominal capacity of each cell [A.h], from its BPX file ("Nominal cell capacity [A.h]").
NOMINAL_CAPACITY_AH: dict[str, float] = {"NMC": 12.5, "LFP": 2.0}

#: Protocol label in the file name -> description (C-rate relative to the nominal capacity).
PROTOCOLS: dict[str, str] = {
    "Co20": "C/20",
    "Co2": "C/2",
    "1C": "1C",
    "2C": "2C",
    "DriveCycle": "drive cycle",
}

#: The header the files carry, and what each column holds.
COLUMNS: tuple[str, str, str] = ("Time [s]", "I[A]", "U[V]")

#: Chamber temperature of every run [K] (the "25degC" of the file names).
TEMPERATURE_K = 298.15

_NAME = re.compile(r"^(?P<chem>NMC|LFP)_(?P<temp>\d+)degC_(?P<proto>[A-Za-z0-9]+)\.csv$")

#: Plausible terminal voltage of one lithium-ion cell [V]: outside it, the column is
#: probably in millivolts (or is not a voltage).
VOLTAGE_RANGE_V = (1.0, 5.0)
#: Largest plausible current, in C-rates of the nominal capacity: above it, the column is
#: probably in milliamperes.
MAX_C_RATE = 10.0
#: Largest plausible charge passed in one run, in multiples of the nominal capacity.
MAX_CHARGE_FRACTION = 1.5


def available_runs(chemistry: str | None = None) -> list[str]:
    """Registry names of the About:Energy validation CSVs, optionally of one chemistry.

    Parameters
    ----------
    chemistry : {"NMC", "LFP"}, optional
        Restrict to one cell.
    """
    names = [n for n in data.REGISTRY if n.startswith("aboutenergy_bpx/") and n.endswith(".csv")]
    if chemistry is not None:
        names = [n for n in names if Path(n).name.startswith(f"{chemistry}_")]
    return sorted(names)


def _parse_name(file: Path, source: str) -> tuple[str, float, str]:
    m = _NAME.match(file.name)
    if not m or m["proto"] not in PROTOCOLS:
        raise DataError(
            f"{source}: the file name must look like '<NMC|LFP>_25degC_<protocol>.csv' with "
            f"protocol one of {sorted(PROTOCOLS)}. Got {file.name!r} instead."
        )
    return m["chem"], 273.15 + float(m["temp"]), m["proto"]


def _read_csv(file: Path, source: str) -> tuple[np.ndarray, np.ndarray]:
    """The numeric table of the file, (n, 3), and the 1-based file line of each sample."""
    try:
        with open(file, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: cannot read the file ({exc}).") from None
    if not rows:
        raise DataError(f"{source}: the file is empty.")
    header = tuple(h.strip() for h in rows[0])
    if header != COLUMNS:
        raise DataError(
            f"{source}: the header must be {', '.join(COLUMNS)}. Got {', '.join(header)} "
            "instead."
        )
    # csv.reader with newline="": one row per line, so row index + 1 is the file line
    body = [(n + 2, r) for n, r in enumerate(rows[1:]) if any(c.strip() for c in r)]
    if len(body) < 2:
        raise DataError(f"{source}: the file holds {len(body)} sample(s); at least 2 needed.")
    table = np.empty((len(body), 3))
    lines = np.array([n for n, _ in body])
    for k, (line, row) in enumerate(body):
        if len(row) != 3:
            raise DataError(
                f"{source}: sample {k} (line {line}) has {len(row)} fields; expected 3."
            )
        for j, cell in enumerate(row):
            try:
                table[k, j] = float(cell)
            except ValueError:
                raise DataError(
                    f"{source}: column '{COLUMNS[j]}' holds {cell!r} at sample {k} "
                    f"(line {line}), not a number."
                ) from None
    return table, lines


def detect_sign(current: np.ndarray, voltage: np.ndarray, source: str = "data") -> float:
    """The factor that turns the file's current into discharge-positive current.

    :func:`cellmodels.measured.dataset.detect_current_sign` on this format's current column
    (the voltage jump against the current jump over the large steps).
    """
    return detect_current_sign(current, voltage, source, column=COLUMNS[1])


def _check(table: np.ndarray, lines: np.ndarray, source: str, capacity_Ah: float) -> None:
    t, i, v = table.T
    for j, label in enumerate(COLUMNS):
        bad = np.flatnonzero(~np.isfinite(table[:, j]))
        if bad.size:
            k = int(bad[0])
            raise DataError(
                f"{source}: column '{label}' holds {float(table[k, j])!r} at sample {k} "
                f"(line {lines[k]}); NaN and inf are not allowed."
            )
    dt = np.diff(t)
    if np.any(dt <= 0):
        k = int(np.flatnonzero(dt <= 0)[0]) + 1
        raise DataError(
            f"{source}: column '{COLUMNS[0]}' does not increase at sample {k} "
            f"(line {lines[k]}): {float(t[k - 1])!r} then {float(t[k])!r}."
        )
    lo, hi = VOLTAGE_RANGE_V
    out = np.flatnonzero((v < lo) | (v > hi))
    if out.size:
        k = int(out[0])
        unit = " (millivolts?)" if v[k] > hi else ""
        raise DataError(
            f"{source}: column '{COLUMNS[2]}' must be in volts, in [{lo:g}, {hi:g}] V. Got "
            f"{float(v[k])!r} at sample {k} (line {lines[k]}) instead{unit}."
        )
    i_max = MAX_C_RATE * capacity_Ah
    k = int(np.argmax(np.abs(i)))
    if abs(i[k]) > i_max:
        raise DataError(
            f"{source}: column '{COLUMNS[1]}' must be in amperes, at most {i_max:g} A "
            f"({MAX_C_RATE:g}C of {capacity_Ah:g} Ah) in magnitude. Got {float(i[k])!r} at "
            f"sample {k} (line {lines[k]}) instead (milliamperes?)."
        )
    # the swing of the signed charge (as check_magnitudes): a discharge and its recharge
    # pass twice the charge but swing by it once
    q = np.concatenate([[0.0], np.cumsum(0.5 * (i[1:] + i[:-1]) * dt)]) / 3600.0
    q_max = MAX_CHARGE_FRACTION * capacity_Ah
    swing = np.maximum.accumulate(q) - np.minimum.accumulate(q)
    if swing[-1] > q_max:
        k = int(np.argmax(swing > q_max))
        raise DataError(
            f"{source}: the charge passed reaches {q_max:g} Ah ({MAX_CHARGE_FRACTION:g}x the "
            f"nominal {capacity_Ah:g} Ah) at sample {k} (line {lines[k]}, column "
            f"'{COLUMNS[0]}' = {float(t[k])!r}): is time in milliseconds, or current in mA?"
        )


def _provenance(text: str) -> dict:
    return provenance(text, Path(text))


def read_aboutenergy(name: str | Path) -> Dataset:
    """Read one About:Energy validation run.

    Parameters
    ----------
    name : str or Path
        Registry name, e.g. ``"aboutenergy_bpx/NMC/NMC_25degC_Co20.csv"`` (the file is found
        through :func:`cellmodels.data.path` and its sha256 checked), or the path of a file
        with the same layout and a name of the form ``<NMC|LFP>_<T>degC_<protocol>.csv``.

    Returns
    -------
    Dataset
        ``time_s`` [s] as recorded (the runs start at 0 s), ``current_A`` [A] discharge
        positive, ``voltage_V`` [V]; ``temperature_K`` is None (not logged). ``meta`` holds
        ``chemistry`` ("NMC"/"LFP"), ``protocol`` (e.g. "C/20"), ``chamber_temperature_K``
        [K], ``nominal_capacity_Ah`` [A.h] and ``raw_current_sign`` (the convention found in
        the file).

    Raises
    ------
    DataError
        Unknown registry name, a file that fails its hash, a bad header or file name, NaN,
        non-increasing time, units that look wrong (mV, mA, ms) or an undecidable sign
        convention; the message names the file, the column and the sample.
    """
    text = str(name)
    if text in data.REGISTRY:
        file = data.path(text)
        source = text
    else:
        file = Path(text)
        if not file.is_file():
            if text.startswith("aboutenergy_bpx/") or not text.endswith(".csv"):
                data.path(text)  # raises with the registry's close-match suggestions
            raise DataError(f"No About:Energy data file at {file}.")
        source = str(file)
    chem, temperature_K, proto = _parse_name(file, source)
    table, lines = _read_csv(file, source)
    capacity = NOMINAL_CAPACITY_AH[chem]
    _check(table, lines, source, capacity)
    t, i_raw, v = (np.ascontiguousarray(c) for c in table.T)
    sign = detect_sign(i_raw, v, source)
    ds = Dataset(
        time_s=t,
        current_A=sign * i_raw,
        voltage_V=v,
        name=f"{chem} {temperature_K - 273.15:g}degC {PROTOCOLS[proto]}",
        source=source,
        meta={
            "chemistry": chem,
            "protocol": PROTOCOLS[proto],
            "chamber_temperature_K": temperature_K,
            "nominal_capacity_Ah": capacity,
            "raw_current_sign": "discharge negative" if sign < 0 else "discharge positive",
            "columns": dict(zip(("time_s", "current_A", "voltage_V"), COLUMNS, strict=True)),
            "licence": "CC BY-SA 4.0, About:Energy Limited",
            **_provenance(text),
        },
    )
    check_sign_trend(ds, capacity_Ah=capacity)
    return ds
