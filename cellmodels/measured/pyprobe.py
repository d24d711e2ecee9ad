"""Reader of PyProBE parquet files (the LG M50 beginning-of-life reference test).

File (registry: ``lgm50_imperial_pyprobe/NDK - LG M50 deg - exp 2,2 - rig 3 - 25degC -
cell C - BoL - RPT0_short_CA4.parquet``, from ImperialCollegeLondon/PyProBE's test data,
BSD-3): PyProBE's standard columns ``Time [s]``, ``Step``, ``Event``, ``Current [A]``,
``Voltage [V]``, ``Capacity [Ah]``, ``Temperature [C]``; 81661 rows at 25 degC: an initial
CC-CV charge and a C/10 (0.5 A) pseudo-OCV discharge and charge (``README.yaml`` beside
it lists the steps). PyProBE records *charge* current positive; the reader detects the
sign from the voltage response and returns discharge positive, temperature in kelvin.

Needs pyarrow: ``pip install cellmodels[parquet]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from ._common import locate
from .dataset import Dataset, check_dataset, detect_current_sign

__all__ = ["COLUMNS", "NOMINAL_CAPACITY_AH", "read_pyprobe"]

#: PyProBE's column names this reader uses.
COLUMNS = ("Time [s]", "Step", "Current [A]", "Voltage [V]", "Temperature [C]")
#: Rated capacity of the LG M50 [A.h].
NOMINAL_CAPACITY_AH = 5.0
_PREFIX = "lgm50_imperial_pyprobe/"


def read_pyprobe(name: str | Path, *, capacity_Ah: float = NOMINAL_CAPACITY_AH) -> Dataset:
    """Read a PyProBE parquet file into a :class:`Dataset`.

    Parameters
    ----------
    name : str or Path
        Registry name or path of a parquet file with PyProBE's columns.
    capacity_Ah : float
        Rated capacity of the cell for the unit checks [A.h] (default the LG M50's 5 Ah).

    Raises
    ------
    DataError
        pyarrow missing (install ``cellmodels[parquet]``), a missing column, NaN, time not
        increasing, units that look wrong, or a sign the voltage contradicts.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("Reading PyProBE parquet files needs pyarrow: "
                        "pip install cellmodels[parquet]") from None
    file, source, prov = locate(name, _PREFIX, (".parquet",))
    try:
        table = pq.read_table(file)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{source}: not a readable parquet file ({exc}).") from None
    cols = {}
    for label in COLUMNS:
        if label not in table.column_names:
            if label == "Temperature [C]":
                continue
            raise DataError(f"{source}: no column {label!r}; it has {table.column_names}.")
        kind = table.schema.field(label).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise DataError(f"{source}: column {label!r} must hold numbers; it holds {kind} "
                            "(a timestamp or text column is not read as a number).")
        cols[label] = np.asarray(table.column(label).to_numpy(zero_copy_only=False),
                                 dtype=float)
    for label, col in cols.items():
        bad = np.flatnonzero(~np.isfinite(col))
        if bad.size:
            k = int(bad[0])
            raise DataError(f"{source}: column {label!r} holds {float(col[k])!r} at sample {k}; NaN "
                            "and inf are not allowed.")
    t, i, v = cols["Time [s]"], cols["Current [A]"], cols["Voltage [V]"]
    dt = np.diff(t)
    if np.any(dt <= 0):
        k = int(np.flatnonzero(dt <= 0)[0]) + 1
        raise DataError(f"{source}: column 'Time [s]' does not increase at sample {k}: "
                        f"{float(t[k - 1])!r} then {float(t[k])!r}.")
    sign = detect_current_sign(i, v, source, "Current [A]")
    temp = cols.get("Temperature [C]")
    if temp is not None and (temp.min() < -40 or temp.max() > 100):
        k = int(np.argmax((temp < -40) | (temp > 100)))
        raise DataError(f"{source}: column 'Temperature [C]' must be in degC, in [-40, 100]. "
                        f"Got {float(temp[k])!r} at sample {k} instead (kelvin?).")
    ds = Dataset(
        time_s=t, current_A=sign * i, voltage_V=v,
        temperature_K=None if temp is None else temp + 273.15,
        step=cols["Step"].astype(int),
        name=f"PyProBE {Path(str(name)).stem}", source=source,
        meta={**prov, "nominal_capacity_Ah": capacity_Ah,
              "chamber_temperature_K": 298.15 if "25degC" in Path(str(name)).name else None,
              "raw_current_sign": "discharge negative" if sign < 0 else "discharge positive",
              "columns": {"time_s": "Time [s]", "current_A": "Current [A]",
                          "voltage_V": "Voltage [V]", "temperature_K": "Temperature [C]",
                          "step": "Step"}},
    )
    check_dataset(ds, capacity_Ah)
    return ds
