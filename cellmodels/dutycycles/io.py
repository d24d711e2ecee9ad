"""Profile files (HDF5), import of measured traces (CSV, HDF5), and a PNG plot.

The profile file layout::

    /              attrs: format="cellmodels.profile", schema_version, name,
                          quantity ("power_W" or "current_A"),
                          hold="zero-order: value[k] holds on [time_s[k], time_s[k+1])"
    /time_s        (n + 1,)  attrs: unit="s"
    /power_W       (n,)      attrs: unit="W"     (or /current_A, unit="A")
    /meta          attrs: metadata (JSON text)

Writes go to a temporary file in the same folder, then an atomic rename. Reading a file of
another schema version, or a corrupt or truncated one, raises
:class:`~cellmodels.errors.FileFormatError`. The file starts with a 512-byte user block
holding ``cellmodels.profile sha256=<hex>``, the SHA-256 of the bytes after it, checked
before HDF5 reads the file: a file altered or damaged after it was written is refused
(naming its structural fault where there is one), never read with altered values, never
a hang; one without the block (older cellmodels) is read as before
(:mod:`cellmodels._h5`).

Measured traces are samples ``(t_k, value_k)``; each sample is held until the next one, and
the last for the median spacing (see :meth:`Profile.from_samples`). Units are converted to
SI here, at the edge, and only when they are declared: by the column name (``power_kW``,
``"Power [kW]"``, ``"P (W)"``), by an HDF5 ``unit`` attribute, or by the ``units``
argument. A trace whose units are not declared, or declared two different ways, is
refused rather than guessed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .. import _h5
from .._atomic import atomic_path
from .._h5 import open_checked
from ..errors import FileFormatError, InputError, range_message, suggest
from .profile import Profile

__all__ = ["SCHEMA_VERSION", "import_trace", "load_profile", "plot_profile", "save_profile"]

FORMAT = "cellmodels.profile"
SCHEMA_VERSION = 1
_HOLD = "zero-order: value[k] holds on [time_s[k], time_s[k+1])"
_UNITS = {"power_W": "W", "current_A": "A"}

# unit -> (kind, factor to SI)
_UNIT_TABLE = {
    "W": ("power", 1.0), "kW": ("power", 1e3), "MW": ("power", 1e6), "mW": ("power", 1e-3),
    "A": ("current", 1.0), "kA": ("current", 1e3), "mA": ("current", 1e-3),
    "s": ("time", 1.0), "ms": ("time", 1e-3), "us": ("time", 1e-6), "min": ("time", 60.0),
    "h": ("time", 3600.0),
}
# lower-case spellings that mean one thing only; "mw" (milli or mega?) is not among them
_UNIT_ALIASES = {"w": "W", "kw": "kW", "a": "A", "ka": "kA", "sec": "s", "µs": "us",
                 "hr": "h"}
_AMBIGUOUS = {"mw": "'mW' (milliwatt) or 'MW' (megawatt)"}
_UNIT_IN_NAME = re.compile(r"(?:^|[_\s\[(/])\[?\(?([A-Za-zµ]+)[\])]?\s*$")


def _owner(func: str) -> str:
    return f"argument of {func}"


def _suggest_column(name: str, names: list[str]) -> str:
    """Close matches of a column name; a match but for case comes first."""
    same = [n for n in names if n.lower() == name.lower()]
    if same:
        return " Did you mean " + " or ".join(repr(n) for n in same) + "?"
    return suggest(name, names)


# --- profile files -------------------------------------------------------------------
def save_profile(profile: Profile, path: str | Path) -> Path:
    """Write ``profile`` to ``path`` (HDF5) atomically; return the path."""
    import h5py

    if not isinstance(profile, Profile):
        raise InputError(range_message("profile", _owner("save_profile"), "a Profile",
                                       type(profile).__name__))
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", userblock_size=_h5.USERBLOCK) as f:
            f.attrs["format"] = FORMAT
            f.attrs["schema_version"] = SCHEMA_VERSION
            f.attrs["name"] = profile.name
            f.attrs["quantity"] = profile.quantity
            f.attrs["hold"] = _HOLD
            for key, data, unit in (("time_s", profile.time_s, "s"),
                                    (profile.quantity, profile.values, profile.unit)):
                ds = f.create_dataset(key, data=np.asarray(data, dtype="<f8"),
                                      compression="gzip", compression_opts=1, shuffle=True,
                                      chunks=True if data.size > 1 else None)
                ds.attrs["unit"] = unit
            meta = f.create_group("meta")
            meta.attrs["metadata"] = json.dumps(profile.metadata, sort_keys=True)
        _h5.write_digest(tmp, FORMAT)  # the file is final: seal it before the rename
    return path


def load_profile(path: str | Path) -> Profile:
    """Read a profile file written by :func:`save_profile` (same schema version).

    Raises :class:`~cellmodels.errors.FileFormatError` for a missing, corrupt or truncated
    file, another format or schema version, a missing or malformed field, or content that
    does not match the file's digest (module docstring).
    """
    return _h5.read_verified(path, _read_profile, what="profile", writer="save_profile")


def _read_profile(path: Path) -> Profile:
    with open_checked(path, FORMAT, SCHEMA_VERSION, "profile") as f:
        try:
            quantity = str(f.attrs["quantity"])
            if quantity not in _UNITS:
                raise ValueError(f"quantity {quantity!r}")
            for key, unit in (("time_s", "s"), (quantity, _UNITS[quantity])):
                if f[key].attrs.get("unit") != unit:
                    raise ValueError(f"{key} has unit {f[key].attrs.get('unit')!r}, "
                                     f"expected {unit!r}")
            time_s = np.asarray(f["time_s"][()], dtype=float)
            values = np.asarray(f[quantity][()], dtype=float)
            metadata = json.loads(f["meta"].attrs["metadata"])
        except (KeyError, OSError, ValueError, TypeError, RuntimeError) as exc:
            raise FileFormatError(f"{path} is incomplete or corrupt: {exc}") from None
    try:
        return Profile(time_s, metadata=metadata, **{quantity: values})
    except InputError as exc:
        raise FileFormatError(f"{path} holds an invalid profile: {exc}") from None


# --- measured traces -----------------------------------------------------------------
def _parse_unit(text: str, where: str) -> str:
    u = text.strip()
    if u in _UNIT_TABLE:
        return u
    if u.lower() in _AMBIGUOUS:
        raise InputError(f"The unit {text!r} of {where} is ambiguous: "
                         f"{_AMBIGUOUS[u.lower()]}? Spell it exactly, or declare it with the "
                         "'units' argument.")
    if u.lower() in _UNIT_ALIASES:
        return _UNIT_ALIASES[u.lower()]
    raise InputError(f"Unknown unit {text!r} of {where}; known units: "
                     f"{', '.join(_UNIT_TABLE)}.")


def _unit_from_name(column: str) -> str | None:
    """The unit a column name declares ("power_kW", "Power [kW]", "P (W)"), or None."""
    m = _UNIT_IN_NAME.search(column)
    if not m or m.group(1) == column.strip():
        return None
    token = m.group(1)
    if token in _UNIT_TABLE or token.lower() in _UNIT_ALIASES or token.lower() in _AMBIGUOUS:
        return token
    return None


def _resolve_unit(column: str, kind: str, declared: str | None, attr: str | None,
                  source: str) -> tuple[str, float]:
    where = f"column {column!r} in {source}"
    found = {}
    if attr is not None:
        found["its 'unit' attribute"] = _parse_unit(attr, where)
    named = _unit_from_name(column)
    if named is not None:
        found["its name"] = _parse_unit(named, where)
    if declared is not None:
        found["the 'units' argument"] = _parse_unit(declared, where)
    if not found:
        unit, examples = {"time": ("s", "'s', 'ms', 'min'"), "power": ("W", "'W', 'kW', 'MW'"),
                          "current": ("A", "'A', 'mA'")}[kind]
        raise InputError(f"The {kind} {where} declares no unit; name the column with one "
                         f"(e.g. '{column}_{unit}') or pass units={{'{kind}': '{unit}'}} "
                         f"(one of {examples}).")
    if len(set(found.values())) > 1:
        said = ", ".join(f"{k} says {v!r}" for k, v in found.items())
        raise InputError(f"The {kind} {where} has conflicting units: {said}.")
    unit = next(iter(found.values()))
    unit_kind, factor = _UNIT_TABLE[unit]
    if unit_kind != kind:
        raise InputError(f"The {kind} {where} has the unit {unit!r}, which is a {unit_kind} "
                         "unit.")
    return unit, factor


def _read_csv(path: Path, columns: list[str]):
    with open(path, newline="", encoding="utf-8-sig") as fh:
        lines = [(i + 1, line) for i, line in enumerate(fh)
                 if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise InputError(f"The trace {path} holds no header and no data.")
    header_line = lines[0][1]
    delimiter = next((d for d in (",", ";", "\t") if d in header_line), None)
    if delimiter is None:
        raise InputError(f"The trace {path} has no ',' ';' or tab separated header on line "
                         f"{lines[0][0]}: {header_line.strip()!r}.")
    rows = list(csv.reader((line for _, line in lines), delimiter=delimiter))
    header = [h.strip() for h in rows[0]]
    index = {}
    for c in columns:
        if c not in header:
            raise InputError(f"The trace {path} has no column {c!r}; its columns are "
                             f"{header}." + _suggest_column(c, header))
        if header.count(c) > 1:
            raise InputError(f"The trace {path} has {header.count(c)} columns named {c!r}; "
                             "rename them so the one to read is unambiguous.")
        index[c] = header.index(c)
    out = {c: np.empty(len(rows) - 1) for c in columns}
    for r, row in enumerate(rows[1:]):
        for c, j in index.items():
            try:
                out[c][r] = float(row[j])  # float(), never eval
            except (IndexError, ValueError):
                cell = row[j] if j < len(row) else "(missing)"
                raise InputError(f"The trace {path} has a non-numeric {c!r} value {cell!r} at "
                                 f"data row {r} (line {lines[r + 1][0]}).") from None
    return out, {c: None for c in columns}, [lines[r + 1][0] for r in range(len(rows) - 1)]


def _datasets(f) -> list[str]:
    import h5py

    names: list[str] = []
    f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return names


def _read_hdf5(path: Path, columns: list[str]):
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"The trace {path} is not a readable HDF5 file: {exc}") from None
    with f:
        out, attrs = {}, {}
        for c in columns:
            if c not in f or not isinstance(f[c], h5py.Dataset):
                names = _datasets(f)
                raise InputError(f"The trace {path} has no dataset {c!r}; its datasets are "
                                 f"{names}." + _suggest_column(c, names))
            raw = f[c]
            if raw.ndim != 1:
                raise InputError(f"The trace {path} has a dataset {c!r} of shape {raw.shape}; "
                                 "a column must be a 1-D dataset.")
            out[c] = np.asarray(raw[()], dtype=float)
            unit = f[c].attrs.get("unit", f[c].attrs.get("units"))
            attrs[c] = unit.decode() if isinstance(unit, bytes) else (
                None if unit is None else str(unit))
    n = {c: a.size for c, a in out.items()}
    if len(set(n.values())) > 1:
        raise InputError(f"The trace {path} has datasets of different lengths: {n}.")
    return out, attrs, None


def import_trace(
    path: str | Path,
    time_column: str = "time_s",
    power_column: str | None = None,
    *,
    current_column: str | None = None,
    units: str | Mapping[str, str] | None = None,
    resample_dt: float | None = None,
    edge_threshold: float | None = None,
    last_hold_s: float | None = None,
) -> Profile:
    """A profile from a measured trace of time and power (or current), CSV or HDF5.

    Parameters
    ----------
    path : str or Path
        A ``.csv``/``.txt`` file (a header row, then one sample a row; ``,`` ``;`` or tab
        separated; ``#`` comment lines skipped) or an ``.h5``/``.hdf5`` file (one 1-D
        dataset per column, optionally with a ``unit`` attribute).
    time_column : str, default "time_s"
        The time column [s, ms, us, min or h, as declared].
    power_column : str, optional
        The power column [W, kW, MW or mW, as declared]; default ``"power_W"`` unless
        ``current_column`` is given.
    current_column : str, optional
        The current column [A, kA or mA], discharge positive, instead of power.
    units : str or dict, optional
        Declared units: a string is the power (or current) unit, e.g. ``"kW"``; a dict may
        name ``"time"`` and ``"power"`` (or ``"current"``). Needed when a column's name or
        attribute does not carry its unit; must agree with them when it does.
    resample_dt : float, optional
        If given, resample onto this regular step [s] keeping edges
        (:meth:`Profile.resample`).
    edge_threshold : float, optional
        Smallest jump that counts as an edge when resampling [W or A] (default 10 % of the
        range).
    last_hold_s : float, optional
        How long the last sample holds [s]; default the median sample spacing.

    Returns
    -------
    Profile
        Times shifted to start at 0; ``metadata["source"]`` records the file, its sha256,
        the columns and the units found.

    Raises
    ------
    InputError
        A missing column (with suggestions), an undeclared, ambiguous or conflicting unit,
        a non-numeric, NaN or infinite value, or a non-increasing time (naming the row).
    """
    owner = _owner("import_trace")
    path = Path(path)
    if power_column is not None and current_column is not None:
        raise InputError(range_message("power_column' or 'current_column", owner,
                                       "given, at most one of them", "both"))
    kind = "current" if current_column is not None else "power"
    value_column = current_column if current_column is not None else (
        power_column or "power_W")
    declared: dict[str, str | None] = {"time": None, kind: None}
    if isinstance(units, str):
        declared[kind] = units
    elif isinstance(units, Mapping):
        for key, value in units.items():
            if key not in declared:
                    raise InputError(f"Unknown key {key!r} in the 'units' argument of "
                                 f"import_trace; allowed: {list(declared)}."
                                 + suggest(str(key), list(declared)))
            declared[key] = str(value)
    elif units is not None:
        raise InputError(range_message("units", owner, "a unit string or a dict",
                                       type(units).__name__))
    if not path.is_file():
        raise InputError(f"No trace file at {path}.")
    suffix = path.suffix.lower()
    columns = [time_column, value_column]
    if time_column == value_column:
        raise InputError(range_message("time_column", owner, "different from the "
                                       f"{kind} column", time_column))
    if suffix in (".csv", ".txt", ".tsv"):
        data, attrs, line_of = _read_csv(path, columns)
        fmt = "csv"
    elif suffix in (".h5", ".hdf5", ".hdf"):
        data, attrs, line_of = _read_hdf5(path, columns)
        fmt = "hdf5"
    else:
        raise InputError(range_message("path", owner, "a .csv, .txt, .tsv, .h5 or .hdf5 "
                                       "file", str(path)))
    source = path.name
    t_unit, t_factor = _resolve_unit(time_column, "time", declared["time"],
                                     attrs[time_column], source)
    v_unit, v_factor = _resolve_unit(value_column, kind, declared[kind],
                                     attrs[value_column], source)

    def row(k: int) -> str:
        return f"data row {k}" + (f" (line {line_of[k]})" if line_of else "")

    for c in columns:
        bad = np.flatnonzero(~np.isfinite(data[c]))
        if bad.size:
            k = int(bad[0])
            raise InputError(range_message(c, f"column of {source}", "finite at every sample",
                                           f"{data[c][k]} at {row(k)}"))
    t = data[time_column] * t_factor
    if t.size < 2:
        raise InputError(f"The trace {source} holds {t.size} sample(s); at least 2 are needed.")
    bad = np.flatnonzero(np.diff(t) <= 0)
    if bad.size:
        k = int(bad[0]) + 1
        raise InputError(range_message(
            time_column, f"column of {source}", "strictly increasing",
            f"{float(data[time_column][k])!r} at {row(k)} after "
            f"{float(data[time_column][k - 1])!r}"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    meta = {
        "name": path.stem,
        "source": {"path": str(path), "format": fmt, "sha256": digest,
                   "time_column": time_column, f"{kind}_column": value_column,
                   "units": {"time": t_unit, kind: v_unit}, "n_samples": int(t.size)},
    }
    quantity = "current_A" if kind == "current" else "power_W"
    profile = Profile.from_samples(t, last_hold_s=last_hold_s, metadata=meta,
                                   **{quantity: data[value_column] * v_factor})
    if resample_dt is not None:
        profile = profile.resample(resample_dt, edge_threshold=edge_threshold)
    return profile


# --- plot ------------------------------------------------------------------------------
def _busiest_window(profile: Profile, width: float) -> tuple[float, float]:
    T = profile.duration_s
    v = profile.values
    jumps = np.flatnonzero(np.abs(np.diff(v)) >= 0.1 * (v.max() - v.min())) + 1
    edge_t = profile.time_s[jumps] if v.max() > v.min() else np.empty(0)
    starts = np.linspace(0.0, T - width, 16)
    counts = np.searchsorted(edge_t, starts + width) - np.searchsorted(edge_t, starts)
    # of the busiest, the one nearest the middle (clear of start-up and shut-down ramps)
    best = np.flatnonzero(counts == counts.max())
    a = float(starts[best[np.argmin(np.abs(starts[best] + width / 2 - T / 2))]])
    return a, min(T, a + width)


def plot_profile(profile: Profile, path: str | Path, *, zoom_s: tuple[float, float] | None
                 = None, max_points: int = 4000) -> Path:
    """A PNG of the profile: the whole of it (min/max envelope when long) and a zoom.

    Parameters
    ----------
    profile : Profile
    path : str or Path
        PNG file to write (atomically).
    zoom_s : (float, float), optional
        Window of the lower panel [s]; default the 10 s (or the whole, if shorter), among
        16 evenly spaced candidates, with the most edges (jumps of 10 % of the range),
        nearest the middle.
    max_points : int, default 4000
        Above this many segments the upper panel shows the min/max envelope and the mean
        over ``max_points`` buckets instead of every step.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not isinstance(profile, Profile):
        raise InputError(range_message("profile", _owner("plot_profile"), "a Profile",
                                       type(profile).__name__))
    path = Path(path)
    T = profile.duration_s
    if zoom_s is None:
        zoom_s = _busiest_window(profile, min(10.0, T))
    a, b = (float(x) for x in zoom_s)
    if not (0 <= a < b <= T):
        raise InputError(range_message("zoom_s", _owner("plot_profile"),
                                       f"a window (start, end) inside [0, {T:g}]", zoom_s))
    v = profile.values
    big = max(float(np.max(np.abs(v))), 1e-300)
    if profile.quantity == "power_W":
        scale, unit = next(((s, u) for s, u in ((1e6, "MW"), (1e3, "kW"), (1.0, "W"))
                            if big >= s), (1.0, "W"))
        label = f"Load power [{unit}]"
    else:
        scale, unit, label = 1.0, "A", "Load current [A]"
    t = profile.time_s
    fig = Figure(figsize=(10, 6), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(2, 1)
    if v.size > max_points:
        edges = np.linspace(0, T, max_points + 1)
        k = np.searchsorted(t, edges[:-1], side="right") - 1
        lo = np.minimum.reduceat(v, k) / scale
        hi = np.maximum.reduceat(v, k) / scale
        mean = np.diff(profile.cumulative(edges)) / np.diff(edges) / scale
        mids = (edges[:-1] + edges[1:]) / 2
        ax1.fill_between(mids, lo, hi, step="mid", color="C0", alpha=0.35, lw=0,
                         label="min-max")
        ax1.plot(mids, mean, color="C0", lw=0.8, label="mean")
        ax1.legend(loc="lower right", fontsize=8)
    else:
        ax1.stairs(v / scale, t, baseline=None, color="C0", lw=0.8)
    ax1.axvspan(a, b, color="0.85", zorder=0)
    total = (f"{profile.energy_Wh / 1e3:.4g} kWh" if profile.quantity == "power_W"
             else f"{profile.charge_Ah:.4g} Ah")
    ax1.set_title(f"{profile.name or 'profile'}: {T:g} s, {total}", fontsize=10)
    ax1.set_xlabel("Time [s]")
    ax1.set_ylabel(label)
    part = profile.slice(a, b)
    if part.n_segments > 200_000:
        part = part.resample((b - a) / 200_000)
    ax2.stairs(part.values / scale, part.time_s + a, baseline=None, color="C1", lw=0.9)
    ax2.set_xlabel("Time [s]")
    ax2.set_ylabel(label)
    ax2.set_title(f"Zoom {a:.6g}-{b:.6g} s", fontsize=9)
    for ax in (ax1, ax2):
        ax.grid(True, lw=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path
