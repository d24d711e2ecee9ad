"""Readers of the WMG (University of Warwick) LG M50 pulse tests (and their pulse resistance)
and OCV table.

The file is ``LGM50_5Ah_Pulse.mat`` of WDWidanage/Simscape-Battery-Library (registry name
:data:`PULSE_FILE`, MIT licence; see ``SOURCES.md``): LG INR21700-M50 cells (5 Ah,
NMC811/graphite-SiOx), a single 10 s discharge pulse from rest at nine SOC levels and four
chamber temperatures, six fresh cells per temperature (24 cells in all). It is a MATLAB
v5 file holding one struct::

    LGM50_5Ah_Pulse.T<temperature degC>.SoC<k>.Cell<n>.data.<column>

with the cycler's columns ``Step``, ``StepTime`` [s], ``ProgTime`` [s], ``Voltage`` [V],
``Current`` [A, discharge negative], ``LogTemp001`` [degC, cell surface] and others. Each
record is three steps: the end of a rest, the pulse, and 10 s of rest after it.

What the file holds, as read here (checked by ``tests/test_lgm50.py``):

* The pulses are 7.5 A (1.5C) at 10, 25 and 45 degC, but **2.5 A (0.5C) at 0 degC**; the
  reader reports the current of each pulse rather than assuming one.
* ``SoC<k>`` is the nominal SOC k x 10 % (``SoC9`` = 90 %, tested first). Read through
  the WMG 25 degC mean OCV table (``LGM50_5Ah_OCV.mat``), the rest voltages of SoC2-SoC9
  give k x 10 % within 1.3 % of SOC at every temperature; SoC1 does not (2 % at 10 degC,
  5.5 % at 0 degC, 13-14 % at 25 and 45 degC). The rest before the pulse is 600 s at 25
  and 45 degC but 200 s at 0 degC, so the cells are not fully relaxed: use
  :attr:`PulseResistance.rest_voltage_V` to place a model on the same state.
* At 10 degC, SoC1 (10 %), every pulse hits the cycler's 2.5 V limit within 1 s: those
  records have no 10 s resistance (NaN).
* The first sample of a pulse step often reads 0 A although its voltage has already
  dropped (the current channel lags by one sample); the pulse current is therefore the
  median over the step, and the samples are kept as logged.
* Consecutive samples may share a time stamp; the last of them is kept
  (``meta["duplicates_dropped"]`` counts the others).
* ``LogTemp001`` is missing (NaN) on a few samples per record at 0, 10 and 45 degC; those
  are filled by linear interpolation in time (``meta["temperature_filled"]`` counts them).

Every :class:`~cellmodels.measured.Dataset` has ``time_s = 0`` at the first sample of the
pulse step (the rest before it at negative times), current discharge positive [A],
voltage [V], cell temperature [K] and the step labels.

The OCV table is ``LGM50_5Ah_OCV.mat`` of the same repository (registry name
:data:`OCV_FILE`), read by :func:`read_ocv_table` as an
:class:`~cellmodels.fitting.balance.OCVCurve`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ._common import provenance
from .dataset import Dataset

__all__ = [
    "OCV_FILE",
    "PULSE_FILE",
    "PulseResistance",
    "pulse_resistance",
    "pulse_resistances",
    "read_ocv_table",
    "read_pulses",
    "summarise",
]

#: Registry name (see :mod:`cellmodels.data`) of the pulse file.
PULSE_FILE = "lgm50_wmg_widanage/LGM50_5Ah_Pulse.mat"
#: Registry name of the OCV table file.
OCV_FILE = "lgm50_wmg_widanage/LGM50_5Ah_OCV.mat"
_OCV_ROOT = "LGM50_5Ah_OCV"
_ROOT = "LGM50_5Ah_Pulse"
_COLUMNS = ("Step", "ProgTime", "Voltage", "Current", "LogTemp001")
#: A step whose median |current| exceeds this is a pulse [A]; the rest steps read 0 A.
_PULSE_THRESHOLD_A = 0.5
#: Largest |current| accepted as "at rest" on the sample before the pulse [A].
_REST_THRESHOLD_A = 0.01
#: Largest relative spread of the current over a pulse (stale first sample excluded).
_CURRENT_TOLERANCE = 0.02
#: A pulse that ends at most this much before a requested time still answers it [s].
_END_TOLERANCE_S = 0.05


def _load_struct(path: Path, root_name: str = _ROOT) -> dict:
    import scipy.io

    try:
        content = scipy.io.loadmat(str(path), simplify_cells=True)
    except NotImplementedError as exc:  # MATLAB v7.3 (HDF5): not what the registry holds
        raise DataError(f"{path}: not a MATLAB v5 file ({exc}).") from None
    except Exception as exc:  # noqa: BLE001 - scipy.io raises many types on a damaged file
        raise DataError(f"{path}: cannot read it as a MATLAB file ({exc}).") from None
    root = content.get(root_name)
    if not isinstance(root, dict):
        found = sorted(k for k in content if not k.startswith("__"))
        raise DataError(f"{path}: no struct '{root_name}' in the file (found {found}).")
    return root


def _resolve(path: str | Path | None, registry_name: str, what: str) -> tuple[Path, str]:
    """The file to read and how to name it: the data registry's copy of ``registry_name``
    (named by it) when ``path`` is None, else ``path`` itself, which must exist."""
    if path is None:
        from .. import data

        return Path(data.path(registry_name)), registry_name
    file = Path(path)
    if not file.is_file():
        raise DataError(f"No {what} file at {file}.")
    return file, str(file)


def _label_number(label: str, prefix: str, source: str) -> int:
    match = re.fullmatch(prefix + r"(\d+)", label)
    if not match:
        raise DataError(f"{source}: unexpected field {label!r}; expected '{prefix}<number>'.")
    return int(match.group(1))


def _columns(record: object, where: str) -> dict[str, np.ndarray]:
    data = record.get("data") if isinstance(record, dict) else None
    if not isinstance(data, dict):
        raise DataError(f"{where}: no 'data' struct.")
    cols = {}
    for name in _COLUMNS:
        if name not in data:
            raise DataError(f"{where}: column '{name}' is missing.")
        try:
            cols[name] = np.atleast_1d(np.asarray(data[name], dtype=float)).ravel()
        except (TypeError, ValueError):
            raise DataError(f"{where}: column '{name}' is not numeric.") from None
    n = len(cols["ProgTime"])
    for name, arr in cols.items():
        if len(arr) != n:
            raise DataError(
                f"{where}: column '{name}' has {len(arr)} samples, 'ProgTime' has {n}."
            )
    if n < 3:
        raise DataError(f"{where}: only {n} samples; a rest, a pulse and a rest need more.")
    for name in ("Step", "ProgTime", "Voltage", "Current"):
        bad = np.flatnonzero(~np.isfinite(cols[name]))
        if bad.size:
            raise DataError(f"{where}: column '{name}' holds NaN or inf at sample {bad[0]}.")
    return cols


def _dataset(cols: dict[str, np.ndarray], where: str, meta: dict) -> Dataset:
    t = cols["ProgTime"]
    if np.any(np.diff(t) < 0):
        k = int(np.flatnonzero(np.diff(t) < 0)[0])
        raise DataError(
            f"{where}: time goes backwards at sample {k + 1} ({t[k]!r} then {t[k + 1]!r})."
        )
    step = cols["Step"].astype(int)
    current = -cols["Current"]  # the cycler logs discharge negative
    labels = list(dict.fromkeys(step.tolist()))  # steps in order of appearance
    # The pulse is the step with the most loaded samples. (The rest right after a pulse
    # that ended early can read the lagging pulse current on its first few samples.)
    loaded_count = {s: int(np.sum(np.abs(current[step == s]) > _PULSE_THRESHOLD_A))
                    for s in labels}
    pulse = max(labels, key=lambda s: loaded_count[s])
    if np.median(np.abs(current[step == pulse])) <= _PULSE_THRESHOLD_A:
        raise DataError(
            f"{where}: no pulse step (median |current| > {_PULSE_THRESHOLD_A} A) among steps "
            f"{labels}."
        )
    idx = np.flatnonzero(step == pulse)
    if np.any(np.diff(idx) != 1):
        raise DataError(f"{where}: the pulse step {pulse} is not contiguous.")
    first = int(idx[0])
    if first == 0:
        raise DataError(f"{where}: no rest sample before the pulse step {pulse}.")
    if abs(current[first - 1]) > _REST_THRESHOLD_A:
        raise DataError(
            f"{where}: the sample before the pulse carries {current[first - 1]:.4g} A; "
            "expected rest (0 A)."
        )
    on = current[idx]
    level = float(np.median(on))
    loaded = on[np.abs(on) > 0.5 * abs(level)]  # drop the stale 0 A first reading
    spread = float(np.max(np.abs(loaded - level))) / abs(level)
    if spread > _CURRENT_TOLERANCE:
        raise DataError(
            f"{where}: the pulse current varies by {100 * spread:.1f} % around {level:.4g} A "
            f"(more than {100 * _CURRENT_TOLERANCE:g} %); not a constant-current pulse."
        )
    temp_c = cols["LogTemp001"]
    finite = np.isfinite(temp_c)
    if finite.any():
        filled = int((~finite).sum())
        temperature = np.interp(t, t[finite], temp_c[finite]) + 273.15
    else:
        filled = len(t)
        temperature = None
    t0 = float(t[first])
    meta = dict(
        meta,
        pulse_step=int(pulse),
        pulse_current_A=level,
        pulse_duration_s=float(t[idx[-1]] - t0),
        rest_voltage_V=float(cols["Voltage"][first - 1]),
        cell_temperature_K=None if temperature is None else float(temperature[first - 1]),
        temperature_filled=filled,
        program_time_s=t0,
    )
    # Samples sharing a time stamp: keep the last (the most recent reading). Where the
    # last rest sample shares its stamp with the pulse's first, only meta keeps it.
    keep = np.append(np.diff(t) > 0, True)
    meta["duplicates_dropped"] = int((~keep).sum())  # counted, as rate_test counts its own
    return Dataset(
        time_s=t[keep] - t0,
        current_A=current[keep],
        voltage_V=cols["Voltage"][keep],
        temperature_K=None if temperature is None else temperature[keep],
        step=step[keep],
        name=meta["name"],
        source=meta["source"],
        meta=meta,
    )


def read_pulses(path: str | Path | None = None) -> list[Dataset]:
    """Every pulse record of the WMG LG M50 pulse file, one :class:`Dataset` each.

    Parameters
    ----------
    path : str or Path, optional
        A file with the layout of ``LGM50_5Ah_Pulse.mat``. Default: the registered file,
        found (and hash-checked) by :func:`cellmodels.data.path`.

    Returns
    -------
    list of Dataset
        Ordered by temperature, then SOC, then cell. ``meta`` holds ``temperature_C``
        (chamber), ``soc_label`` (``"SoC5"``), ``soc_nominal`` (0.5), ``cell``
        (``"Cell1"``), ``pulse_current_A`` (discharge positive), ``pulse_duration_s``,
        ``rest_voltage_V`` and ``cell_temperature_K`` (both on the last rest sample).

    Raises
    ------
    DataError
        The file is missing or unreadable, or a record lacks a column, holds NaN voltage
        or current, has no single constant-current pulse, or no rest sample before it.
    """
    path, source = _resolve(path, PULSE_FILE, "pulse")
    root = _load_struct(path)
    prov = provenance(source, Path(path))
    out: list[Dataset] = []
    for t_label in sorted(root, key=lambda s: _label_number(s, "T", source)):
        temperature_c = float(_label_number(t_label, "T", source))
        socs = root[t_label]
        if not isinstance(socs, dict):
            raise DataError(f"{source}: '{t_label}' is not a struct of SOC levels.")
        for s_label in sorted(socs, key=lambda s: _label_number(s, "SoC", source)):
            k = _label_number(s_label, "SoC", source)
            cells = socs[s_label]
            if not isinstance(cells, dict) or not cells:
                raise DataError(f"{source}: '{t_label}.{s_label}' holds no cells.")
            for c_label in sorted(cells, key=lambda s: _label_number(s, "Cell", source)):
                where = f"{source}: {t_label}.{s_label}.{c_label}"
                cols = _columns(cells[c_label], where)
                meta = {
                    **prov,
                    "name": f"LG M50 pulse {temperature_c:g}degC {s_label} {c_label}",
                    "source": source,
                    "temperature_C": temperature_c,
                    "soc_label": s_label,
                    "soc_nominal": k / 10.0,
                    "cell": c_label,
                }
                out.append(_dataset(cols, where, meta))
    if not out:
        raise DataError(f"{source}: no pulse records in the file.")
    return out


def read_ocv_table(temperature_C: float = 25, path: str | Path | None = None, *,
                   capacity_Ah: float | None = None):
    """The WMG LG M50 mean OCV table at ``temperature_C`` as an OCV curve.

    The file (``LGM50_5Ah_OCV.mat``, registry name :data:`OCV_FILE`) holds one struct,
    ``LGM50_5Ah_OCV.T25``, with ``refSoC`` (SOC in percent, 0 to 100 in steps of 1),
    ``meanOCV`` [V] (the mean of the charge and discharge branches) and ``meanHys`` [V]
    (half their gap; not used here: the mean is what an equilibrium OCP is fitted to).
    Only 25 degC exists.

    The SOC basis (the charge that 100 % of ``refSoC`` stands for) is not stated in the
    source. Assumed here: the 25 degC 0.1C discharge capacity of the same cells in the same
    repository's ``LGM50_5Ah_RateTest.mat``, coulomb-counted from
    :func:`cellmodels.fitting.rate_test` ``(25, "0p1C")``: 4.9446 A.h (from its rest at
    ~4.18 V to 2.5 V). Give ``capacity_Ah`` to use another basis.

    Parameters
    ----------
    temperature_C : float
        Chamber temperature of the table [degC]; 25 is the only one in the file.
    path : str or Path, optional
        A file with the layout of ``LGM50_5Ah_OCV.mat``. Default: the registered file,
        found (and hash-checked) by :func:`cellmodels.data.path`.
    capacity_Ah : float, optional
        SOC basis [A.h]; default the coulomb count above (which reads the registered rate
        test file).

    Returns
    -------
    OCVCurve
        :meth:`~cellmodels.fitting.balance.OCVCurve.from_table`: charge passed from the
        table's 100 % SOC [A.h], ``meanOCV``, zero current, ``temperature_C`` in kelvin.
        Its ``source`` is the registry name (so :func:`~cellmodels.fitting.save_fitted`
        records the file's registered sha256 and origin) or the given path.

    Raises
    ------
    DataError
        The file is missing, unreadable or fails its hash; it has no table at
        ``temperature_C`` (the message lists those it has); a column is missing, not
        numeric, of another length, non-finite, or out of range (``refSoC`` in [0, 100],
        ``meanOCV`` in [2, 5] V).
    """
    from ..fitting.balance import OCVCurve  # lazily: cellmodels.fitting imports measured

    if isinstance(temperature_C, bool) or not isinstance(temperature_C, int | float) \
            or not math.isfinite(temperature_C):
        raise DataError(f"The 'temperature_C' of read_ocv_table must be a number [degC]. Got "
                        f"{temperature_C!r} instead.")
    file, source = _resolve(path, OCV_FILE, "OCV table")
    root = _load_struct(file, _OCV_ROOT)
    label = f"T{float(temperature_C):g}"
    if label not in root:
        have = ", ".join(f"{k} ({k[1:]} degC)" for k in sorted(root)) or "none"
        raise DataError(f"{source}: no OCV table at {float(temperature_C):g} degC ({label}); "
                        f"the file holds {have}.")
    table = root[label]
    where = f"{source}: {_OCV_ROOT}.{label}"
    if not isinstance(table, dict):
        raise DataError(f"{where} is not a struct.")
    cols = {}
    for name in ("refSoC", "meanOCV"):
        if name not in table:
            raise DataError(f"{where}: column '{name}' is missing (found {sorted(table)}).")
        try:
            cols[name] = np.atleast_1d(np.asarray(table[name], dtype=float)).ravel()
        except (TypeError, ValueError):
            raise DataError(f"{where}: column '{name}' is not numeric.") from None
        bad = np.flatnonzero(~np.isfinite(cols[name]))
        if bad.size:
            raise DataError(f"{where}: column '{name}' holds {cols[name][bad[0]]!r} at sample "
                            f"{int(bad[0])}; NaN and inf are not allowed.")
    soc, ocv = cols["refSoC"], cols["meanOCV"]
    if soc.size != ocv.size or soc.size < 3:
        raise DataError(f"{where}: 'refSoC' has {soc.size} samples and 'meanOCV' {ocv.size}; "
                        "they must be equal and at least 3.")
    for name, arr, lo, hi, unit in (("refSoC", soc, 0.0, 100.0, "%"),
                                    ("meanOCV", ocv, 2.0, 5.0, "V")):
        k = int(np.argmax((arr < lo) | (arr > hi)))
        if arr[k] < lo or arr[k] > hi:
            raise DataError(f"{where}: column '{name}' must lie in [{lo:g}, {hi:g}] {unit}. "
                            f"Got {arr[k]!r} at sample {k} instead.")
    if capacity_Ah is None:
        from ..fitting.datasets import rate_test

        capacity_Ah = float(rate_test(25, "0p1C").discharged_Ah()[-1])
    return OCVCurve.from_table(
        name=f"LG M50 OCV {float(temperature_C):g}degC (WMG mean)", source=source,
        soc=soc / 100.0, voltage_V=ocv, capacity_Ah=capacity_Ah,
        temperature_K=273.15 + float(temperature_C))


@dataclass(frozen=True)
class PulseResistance:
    """Pulse resistance of one record: ``R(t) = (V_rest - V(t)) / I``."""

    temperature_C: float  #: chamber temperature
    soc_label: str
    soc_nominal: float
    cell: str
    current_A: float  #: pulse current, discharge positive
    duration_s: float  #: how long the pulse lasted (< 10 s if it hit the voltage limit)
    rest_voltage_V: float  #: last sample before the pulse
    cell_temperature_K: float  #: measured on the can before the pulse (NaN if not logged)
    times_s: tuple[float, ...]
    resistance_ohm: tuple[float, ...]  #: at each of ``times_s``; NaN past the pulse's end

    def at(self, t_s: float) -> float:
        """The resistance at one of :attr:`times_s` [Ohm]."""
        for t, r in zip(self.times_s, self.resistance_ohm, strict=True):
            if math.isclose(t, t_s):
                return r
        raise KeyError(f"No resistance at {t_s:g} s; this record has {self.times_s}.")


def pulse_resistance(ds: Dataset, times_s: Sequence[float] = (0.1, 10.0)) -> PulseResistance:
    """Resistance of one pulse record at the given times after the pulse starts.

    ``V(t)`` is interpolated linearly between samples; ``V_rest`` is the last sample of
    the rest before the pulse; ``I`` is the pulse's median current. A time past the end
    of the pulse (by more than 50 ms) gives NaN.
    """
    meta = ds.meta
    needed = ("pulse_step", "pulse_current_A", "rest_voltage_V")
    if ds.step is None or any(k not in meta for k in needed):
        raise DataError(f"{ds.source}: {ds.name} is not a pulse record from read_pulses.")
    times = tuple(float(t) for t in times_s)
    if not times or any(not (t > 0 and math.isfinite(t)) for t in times):
        raise DataError(
            f"The 'times_s' of pulse_resistance must be positive seconds. Got {times_s!r}."
        )
    on = np.flatnonzero(ds.step == meta["pulse_step"])
    t_on = np.asarray(ds.time_s, dtype=float)[on]
    v_on = np.asarray(ds.voltage_V, dtype=float)[on]
    i = float(meta["pulse_current_A"])
    v0 = float(meta["rest_voltage_V"])
    res = []
    for t in times:
        if t > t_on[-1] + _END_TOLERANCE_S:
            res.append(float("nan"))
            continue
        res.append((v0 - float(np.interp(t, t_on, v_on))) / i)
    t_cell = meta.get("cell_temperature_K")
    return PulseResistance(
        temperature_C=float(meta["temperature_C"]),
        soc_label=str(meta["soc_label"]),
        soc_nominal=float(meta["soc_nominal"]),
        cell=str(meta["cell"]),
        current_A=i,
        duration_s=float(t_on[-1]),
        rest_voltage_V=v0,
        cell_temperature_K=float("nan") if t_cell is None else float(t_cell),
        times_s=times,
        resistance_ohm=tuple(res),
    )


def pulse_resistances(
    datasets: Iterable[Dataset] | None = None, times_s: Sequence[float] = (0.1, 10.0)
) -> list[PulseResistance]:
    """:func:`pulse_resistance` of every record (default: all of :func:`read_pulses`)."""
    if datasets is None:
        datasets = read_pulses()
    return [pulse_resistance(ds, times_s) for ds in datasets]


def summarise(resistances: Iterable[PulseResistance]) -> list[dict]:
    """Per temperature and SOC level: the cells' mean, standard deviation, min and max.

    Each row holds ``temperature_C``, ``soc_label``, ``soc_nominal``, ``n_cells``,
    ``current_A`` (mean), ``rest_voltage_V`` (mean), and for every time ``t`` in the
    records ``n_<t>s`` (cells with a value), ``mean_<t>s_ohm``, ``std_<t>s_ohm``
    (sample standard deviation; 0 for one cell), ``min_<t>s_ohm``, ``max_<t>s_ohm``
    (NaN where no cell has a value).
    """
    groups: dict[tuple[float, str], list[PulseResistance]] = {}
    for r in resistances:
        groups.setdefault((r.temperature_C, r.soc_label), []).append(r)
    rows = []
    for (temp, label), members in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[1][0].soc_nominal)
    ):
        row = {
            "temperature_C": temp,
            "soc_label": label,
            "soc_nominal": members[0].soc_nominal,
            "n_cells": len(members),
            "current_A": float(np.mean([m.current_A for m in members])),
            "rest_voltage_V": float(np.mean([m.rest_voltage_V for m in members])),
        }
        for j, t in enumerate(members[0].times_s):
            vals = np.array([m.resistance_ohm[j] for m in members], dtype=float)
            vals = vals[np.isfinite(vals)]
            key = f"{t:g}s"
            row[f"n_{key}"] = int(vals.size)
            if vals.size:
                row[f"mean_{key}_ohm"] = float(vals.mean())
                row[f"std_{key}_ohm"] = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
                row[f"min_{key}_ohm"] = float(vals.min())
                row[f"max_{key}_ohm"] = float(vals.max())
            else:
                for stat in ("mean", "std", "min", "max"):
                    row[f"{stat}_{key}_ohm"] = float("nan")
        rows.append(row)
    return rows
