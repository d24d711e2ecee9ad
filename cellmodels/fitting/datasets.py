"""Dataset specs for ``cellmodels fit``: which measured record a DATA argument names.

A DATA argument is one of

``wmg-rate:T<degC>:<rate>``
    A WMG LG M50 rate-test discharge (``lgm50_wmg_widanage/LGM50_5Ah_RateTest.mat``),
    e.g. ``wmg-rate:T25:1C``, ``wmg-rate:T25:0p5C``: the rest sample before the discharge
    and the discharge to 2.5 V (the rest and charge after it are left out).
``wmg-pulse:T<degC>:SoC<k>:Cell<n>``
    One WMG pulse record (:func:`cellmodels.measured.wmg.read_pulses`), with the current
    channel's one-sample lag removed (see :func:`pulse_for_fit`).
``path/to/file.csv``
    A CSV with a header naming ``time_s``, ``current_A`` (discharge positive),
    ``voltage_V`` and optionally ``temperature_K``: SI units, no conversion.

An optional ``@<weight>`` suffix sets the experiment's weight, e.g. ``wmg-rate:T25:1C@2``.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import DataError, InputError, range_message, suggest
from ..measured import Dataset

__all__ = ["RATE_FILE", "dataset_from_spec", "pulse_for_fit", "rate_test"]

#: Registry name of the WMG LG M50 rate tests.
RATE_FILE = "lgm50_wmg_widanage/LGM50_5Ah_RateTest.mat"
#: A sample carrying more than this is part of the discharge [A].
_LOAD_A = 0.3


@functools.lru_cache(maxsize=2)
def _rate_struct(path: str) -> dict:
    import scipy.io

    try:
        content = scipy.io.loadmat(path, simplify_cells=True)
    except (ValueError, OSError, NotImplementedError, TypeError) as exc:
        raise DataError(f"{path}: cannot read it as a MATLAB file ({exc}).") from None
    root = content.get("LGM50_5Ah_RateTest")
    if not isinstance(root, dict):
        raise DataError(f"{path}: no struct 'LGM50_5Ah_RateTest' in the file.")
    return root


def rate_test(temperature_C: int, rate: str, path: str | Path | None = None, *,
              rest_after_s: float = 0.0) -> Dataset:
    """The discharge of one WMG LG M50 rate test as a :class:`Dataset`.

    The file logs discharge current negative (flipped here), time [s], voltage [V] and the
    mid-cell thermocouple ``cellTemp_mid`` [degC]. Each record is: one rest sample, the
    constant-current discharge to 2.5 V, a rest, and a charge. The Dataset keeps the
    first rest sample and the discharge (through its last loaded sample); samples sharing
    a time stamp keep the last, except at the start, where the rest sample is kept.

    ``rest_after_s`` > 0 also keeps the rest that follows the discharge, up to that long
    after its last loaded sample: the cell's voltage relaxation and its cooling towards
    the chamber (the curve that sets the thermal time constant m c / (h A)). The rest must
    last that long in the record (checked), and carry no current beyond 0.3 A.
    """
    from .. import data

    source = RATE_FILE if path is None else str(path)
    file = data.path(RATE_FILE) if path is None else Path(path)
    root = _rate_struct(str(file))
    t_label, r_label = f"T{int(temperature_C)}", f"cRate_{rate}"
    if t_label not in root or r_label not in root.get(t_label, {}):
        found = {t: sorted(v) for t, v in root.items() if isinstance(v, dict)}
        raise DataError(f"{source}: no record {t_label}.{r_label}; the file holds {found}.")
    rec = root[t_label][r_label]
    try:
        t = np.asarray(rec["timeVec"], dtype=float)
        i = -np.asarray(rec["currVec"], dtype=float)
        v = np.asarray(rec["volVec"], dtype=float)
        temp = np.asarray(rec["cellTemp_mid"], dtype=float) + 273.15
    except KeyError as exc:
        raise DataError(f"{source}: {t_label}.{r_label} lacks column {exc}.") from None
    loaded = np.flatnonzero(i > _LOAD_A)
    if loaded.size == 0 or loaded[0] == 0:
        raise DataError(f"{source}: {t_label}.{r_label} has no rest sample before a discharge.")
    first, last = int(loaded[0]) - 1, int(loaded[0])
    while last + 1 < i.size and i[last + 1] > _LOAD_A:
        last += 1
    if not (math.isfinite(rest_after_s) and rest_after_s >= 0):
        raise InputError(range_message("rest_after_s", "argument of rate_test", ">= 0 s",
                                       rest_after_s))
    if rest_after_s > 0:
        end = last
        while end + 1 < i.size and abs(i[end + 1]) <= _LOAD_A and t[end + 1] - t[last] <= \
                rest_after_s:
            end += 1
        if t[end] - t[last] < 0.95 * rest_after_s:
            raise DataError(
                f"{source}: {t_label}.{r_label}: the rest after the discharge lasts "
                f"{t[end] - t[last]:.0f} s before the next step; rest_after_s={rest_after_s!r} "
                "asks for more.")
        last = end
    sl = slice(first, last + 1)
    t, i, v, temp = t[sl], i[sl], v[sl], temp[sl]
    keep = np.append(np.diff(t) > 0, True)
    # Samples sharing the first stamp: keep the rest sample (the initial state), not the
    # first loaded reading logged at the same time.
    same = np.flatnonzero(t == t[0])
    keep[same] = False
    keep[0] = True
    return Dataset(
        time_s=t[keep] - t[keep][0], current_A=i[keep], voltage_V=v[keep],
        temperature_K=temp[keep], name=f"LG M50 {temperature_C}degC {rate.replace('p', '.')}",
        source=source,
        meta={"temperature_C": float(temperature_C), "rate": rate,
              "rest_after_s": float(rest_after_s),
              "duplicates_dropped": int((~keep).sum()),
              "temperature_column": "cellTemp_mid (mid-cell thermocouple)"},
    )


def pulse_for_fit(ds: Dataset) -> Dataset:
    """A WMG pulse record with its stale first pulse-current reading replaced.

    The cycler's current channel lags the voltage by one sample at the pulse's start
    (:mod:`cellmodels.measured.wmg`): the first sample of the pulse step reads 0 A while
    its voltage has dropped. Driving a model with that reading would put a 0.1 s rest in
    the pulse; here those samples carry the pulse current (``meta["lag_fixed"]`` counts them).
    """
    if ds.step is None or "pulse_step" not in ds.meta:
        raise InputError(f"{ds.name} is not a pulse record from read_pulses.")
    i = np.asarray(ds.current_A, dtype=float).copy()
    on = ds.step == ds.meta["pulse_step"]
    level = float(ds.meta["pulse_current_A"])
    stale = on & (np.abs(i) < 0.5 * abs(level))
    i[stale] = level
    return replace(ds, current_A=i, meta=dict(ds.meta, lag_fixed=int(stale.sum())))


_RATE = re.compile(r"wmg-rate:T(\d+):([0-9p]+C)")
_PULSE = re.compile(r"wmg-pulse:T(\d+):(SoC\d+):(Cell\d+)")


def _csv(path: Path) -> Dataset:
    """A CSV with the columns ``time_s, current_A, voltage_V[, temperature_K]`` (SI units,
    discharge positive; other columns are refused, so a ``current_mA`` is not skipped).
    Every sample must be a number: an empty or a text cell, or a row with another number
    of fields, raises naming the file, the line and the column. The units and the sign
    are checked against the cell's rating when the dataset enters a fit
    (:class:`~cellmodels.fitting.PhysicsProblem`, :func:`~cellmodels.measured.check_dataset`).
    """
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the file ({exc}).") from None
    if not rows:
        raise DataError(f"{path}: empty file.")
    head = [h.strip() for h in rows[0]]
    need = ("time_s", "current_A", "voltage_V")
    allowed = (*need, "temperature_K")
    for h in head:
        if h not in allowed:
            raise DataError(f"{path}: the header holds the column {h!r}; the columns must be "
                            f"{', '.join(allowed[:3])} and optionally {allowed[3]} (SI units)."
                            + suggest(h, allowed))
    for c in need:
        if c not in head:
            raise DataError(f"{path}: no column {c!r} in the header {head}.")
    if len(set(head)) != len(head):
        dup = next(h for h in head if head.count(h) > 1)
        raise DataError(f"{path}: the column {dup!r} appears twice in the header.")
    body = [(k + 2, r) for k, r in enumerate(rows[1:]) if any(c.strip() for c in r)]
    if len(body) < 2:
        raise DataError(f"{path}: the file holds {len(body)} sample(s); at least 2 needed.")
    arr = np.empty((len(body), len(head)))
    for k, (line, r) in enumerate(body):
        if len(r) != len(head):
            raise DataError(f"{path}: sample {k} (line {line}) has {len(r)} fields; the header "
                            f"has {len(head)}.")
        for j, cell in enumerate(r):
            try:
                arr[k, j] = float(cell)
            except ValueError:
                raise DataError(f"{path}: column {head[j]!r} holds {cell!r} at sample {k} "
                                f"(line {line}), not a number.") from None
    col = {h: arr[:, k] for k, h in enumerate(head)}
    return Dataset(time_s=col["time_s"], current_A=col["current_A"], voltage_V=col["voltage_V"],
                   temperature_K=col.get("temperature_K"), name=path.stem, source=str(path))


def dataset_from_spec(spec: str) -> tuple[Dataset, float]:
    """The Dataset a DATA argument names, and its weight (see the module docstring)."""
    weight = 1.0
    if "@" in spec:
        spec, w = spec.rsplit("@", 1)
        try:
            weight = float(w)
        except ValueError:
            raise InputError(f"The weight after '@' in {spec + '@' + w!r} is not a number.") from None
    m = _RATE.fullmatch(spec)
    if m:
        return rate_test(int(m.group(1)), m.group(2)), weight
    m = _PULSE.fullmatch(spec)
    if m:
        from ..measured.wmg import read_pulses

        name = f"LG M50 pulse {int(m.group(1))}degC {m.group(2)} {m.group(3)}"
        records = read_pulses()
        for ds in records:
            if ds.name == name:
                return pulse_for_fit(ds), weight
        at = f"LG M50 pulse {int(m.group(1))}degC "
        here = sorted({ds.name.rsplit(" ", 1)[1] for ds in records if ds.name.startswith(at)},
                      key=lambda c: int(c[4:]))
        temps = sorted({int(ds.name.split()[3].removesuffix("degC")) for ds in records})
        raise DataError(f"No pulse record {name!r} in the WMG pulse file: "
                        + (f"its cells at {int(m.group(1))} degC are {', '.join(here)}."
                           if here else f"it has the temperatures {temps} degC."))
    p = Path(spec)
    if p.suffix.lower() == ".csv":
        if not p.is_file():
            raise DataError(f"No data file at {p}.")
        return _csv(p), weight
    raise InputError(
        f"Cannot read the DATA argument {spec!r}: expected 'wmg-rate:T25:1C', "
        "'wmg-pulse:T25:SoC5:Cell1' or a .csv file with columns time_s, current_A, voltage_V."
    )
