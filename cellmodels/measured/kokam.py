"""Reader of the Kokam SLPB 75106100 discharge curves (7.5 Ah high-power NMC pouch).

Files (registry folder ``pybamm_ecker2015_kokam/``, from pybamm-team/PyBaMM, BSD-3):
``Ecker_1C.csv`` and ``Ecker_5C.csv``. What they hold: *digitised* points (WebPlotDigitizer,
from Fig. 8 of Richardson et al., Electrochim. Acta 339 (2020) 135862, after Ecker et al.,
J. Electrochem. Soc. 162 (2015) A1849) of terminal voltage against **time** in seconds,
two columns, no header (the README says "Time [s], Voltage [V]"), for a constant-current
discharge at 1C and 5C at 25 degC: 31 and 33 points, unevenly spaced, ending near 2.7 V.
The current was not logged: it is the declared constant 1C or 5C of the 7.5 Ah rating,
and ``meta["current"]`` says so. The check that the time is in seconds: the 1C curve ends
at 3715 s (7.7 Ah at 7.5 A) and the 5C curve at 706 s (7.4 Ah at 37.5 A), both near the
rating; in minutes or hours they would pass 60x or 3600x it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from ..errors import DataError
from ._common import locate
from .dataset import Dataset, check_dataset

__all__ = ["NOMINAL_CAPACITY_AH", "read_kokam"]

#: Rated capacity [A.h] (Ecker et al. 2015).
NOMINAL_CAPACITY_AH = 7.5
_PREFIX = "pybamm_ecker2015_kokam/"


def read_kokam(name: str | Path) -> Dataset:
    """Read one digitised Kokam discharge curve (see the module docstring).

    Parameters
    ----------
    name : str or Path
        Registry name (``"pybamm_ecker2015_kokam/Ecker_1C.csv"`` or ``.../Ecker_5C.csv``),
        or a path to a file named ``*_<k>C.csv`` with the same two columns.

    Returns
    -------
    Dataset
        ``time_s`` as digitised [s], ``current_A`` the declared constant ``k x 7.5`` A,
        ``voltage_V`` [V]; ``meta["chamber_temperature_K"]`` 298.15.

    Raises
    ------
    DataError
        A row without two numbers, NaN, time not increasing, voltage outside [1, 5] V, or
        a charge passed far from the rating (time not in seconds).
    """
    file, source, prov = locate(name, _PREFIX, (".csv",))
    m = re.search(r"_(\d+(?:\.\d+)?)C\.csv$", Path(file).name)
    if not m:
        raise DataError(f"{source}: the file name must end in '_<rate>C.csv' (the C-rate of "
                        "the constant-current discharge is not in the file).")
    rate = float(m.group(1))
    try:
        with open(file, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: cannot read the file ({exc}).") from None
    table = np.empty((len(rows), 2))
    for k, r in enumerate(rows):
        if len(r) != 2:
            raise DataError(f"{source}: line {k + 1} has {len(r)} fields; expected 2 (time "
                            "[s], voltage [V]).")
        for j, label in enumerate(("time", "voltage")):
            try:
                table[k, j] = float(r[j])
            except ValueError:
                raise DataError(f"{source}: column '{label}' holds {r[j]!r} at sample {k} "
                                f"(line {k + 1}), not a number.") from None
    if len(rows) < 2:
        raise DataError(f"{source}: the file holds {len(rows)} point(s); at least 2 needed.")
    current = rate * NOMINAL_CAPACITY_AH
    ds = Dataset(
        time_s=table[:, 0], current_A=np.full(len(rows), current), voltage_V=table[:, 1],
        name=f"Kokam {rate:g}C discharge (digitised)", source=source,
        meta={**prov, "cell": "Kokam SLPB 75106100",
              "nominal_capacity_Ah": NOMINAL_CAPACITY_AH,
              "chamber_temperature_K": 298.15,
              "current": f"declared: constant {rate:g}C = {current:g} A (not in the file)",
              "digitised": "WebPlotDigitizer from Richardson et al. 2020, Fig. 8",
              "columns": {"time_s": "column 1 [s]", "voltage_V": "column 2 [V]"}},
    )
    check_dataset(ds, NOMINAL_CAPACITY_AH)
    q = current * ds.duration_s / 3600.0
    if not 0.5 * NOMINAL_CAPACITY_AH < q < 1.3 * NOMINAL_CAPACITY_AH:
        raise DataError(f"{source}: the curve spans {ds.duration_s:g} s, {q:.3g} Ah at "
                        f"{current:g} A, not near the rated {NOMINAL_CAPACITY_AH:g} Ah: is "
                        "time in seconds?")
    return ds
