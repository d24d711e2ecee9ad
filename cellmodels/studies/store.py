"""The study file: HDF5, written so that a killed run leaves everything it finished readable.

Finished points are written to small files in ``<output>.parts/`` (written beside, then
renamed: atomic) as they finish: a point is written at once if the last part is older than
0.2 s, else with the others that finish in that 0.2 s (so a sweep of millisecond points
does not spend its time creating files). Every few seconds, and at the end, the parts are
merged into the study file ``<output>``, which is itself only ever replaced atomically
(copy, add, rename), then the merged parts are removed. So at any instant the study file
is a complete, readable HDF5 file, and every finished point is either in it or in a part;
:func:`load_study` reads both, and a rerun resumes from both.

Layout (``format = "cellmodels-study"``, ``schema_version = 1``)::

    attrs: kind, name, config (JSON of the parsed config), cellmodels_version
    /cells/<label>       attrs: source, sha256 (of the ECM's file), ecm_name
    /points/<id>         attrs: status ("ok" | "error"), error, cell, coords (JSON),
                         params (JSON), values (JSON: the scalar outputs, floats; NaN
                         written as NaN), warnings (JSON), notes (JSON: text outputs),
                         seconds, finished_utc
        arrays/<name>    datasets (float)

A part file has the same ``/points/<id>`` groups, for the points finished since the part
before, and ``format = "cellmodels-study-point"``.

Content digest. Both files start with a 512-byte user block holding ``<format>
sha256=<hex>``, the SHA-256 of the bytes after it (:mod:`cellmodels._h5`), written once
the file is final: a part just before its rename; the study file after each append (to
the copy, just before the rename). It is checked before HDF5 reads either file, and before
the study file is copied to be appended to (an append never seals a damaged file as
sound): a file altered or damaged after it was written is refused with
:class:`~cellmodels.errors.FileFormatError` naming it (and its structural fault where
there is one), never a hang; a damaged part is not merged (it stays, and
:func:`load_study` names it). Files without the block (older cellmodels) are read as
before; a study file without it gets one at its next append.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import _h5
from .._atomic import atomic_path
from .._h5 import open_checked
from ..errors import FileFormatError, InputError

__all__ = ["PointResult", "StudyResults", "load_study"]

FORMAT = "cellmodels-study"
PART_FORMAT = "cellmodels-study-point"
SCHEMA_VERSION = 1
# how digest failures are worded (cellmodels._h5.digest_problem)
_STUDY = {"what": "study", "writer": "run_study",
          "remedy": "Move it aside and run the study again."}
_PART = {"what": "study part", "writer": "run_study",
         "remedy": "Delete it: a rerun of the study computes its points again."}
_DAMAGE = (KeyError, OSError, ValueError, TypeError, RuntimeError)  # HDF5 / JSON on bad data


def parts_dir(path: Path) -> Path:
    return path.with_name(path.name + ".parts")


@dataclass
class PointResult:
    """One point of a study as stored."""

    id: str
    cell: str
    coords: dict
    params: dict
    status: str
    error: str
    values: dict
    arrays: dict
    warnings: list
    seconds: float
    finished_utc: str = ""
    notes: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class StudyResults:
    """A study file's content: its kind, name, config, cells and points."""

    path: Path
    kind: str
    name: str
    config: dict
    cells: dict = field(default_factory=dict)  #: label -> {"source", "sha256", "ecm_name"}
    points: dict = field(default_factory=dict)  #: id -> PointResult

    @property
    def failed(self) -> list[PointResult]:
        return [p for p in self.points.values() if not p.ok]

    def table(self) -> list[dict]:
        """One row per point: cell, coordinates, status, error, then every scalar output.

        The coordinates are the axes, plus any other input that differs between the
        file's points (a fixed value changed between runs on the same file), so no two
        rows of different inputs look alike."""
        flat = {pid: _flatten(p.params) for pid, p in self.points.items()}
        keys = dict.fromkeys(k for f in flat.values() for k in f)
        varying = [k for k in keys
                   if len({json.dumps(f.get(k), sort_keys=True) for f in flat.values()}) > 1]
        rows = []
        for p in self.points.values():
            extra = {k: flat[p.id].get(k) for k in varying if k not in p.coords}
            row = {"id": p.id, "cell": p.cell, **p.coords, **extra, "status": p.status,
                   "error": p.error}
            row.update(p.values)
            rows.append(row)
        return rows


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, name + "."))
        else:
            out[name] = v
    return out


def _write_point(group, point: dict) -> None:
    group.attrs["status"] = point["status"]
    group.attrs["error"] = point.get("error", "")
    group.attrs["cell"] = point["cell"]
    group.attrs["coords"] = json.dumps(point["coords"], sort_keys=True)
    group.attrs["params"] = json.dumps(point["params"], sort_keys=True)
    group.attrs["warnings"] = json.dumps(point.get("warnings", []))
    group.attrs["notes"] = json.dumps(point.get("notes", {}), sort_keys=True)
    group.attrs["seconds"] = float(point.get("seconds", np.nan))
    group.attrs["finished_utc"] = point.get(
        "finished_utc", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    group.attrs["values"] = json.dumps({k: float(v) for k, v in point.get("values", {}).items()})
    arrays = group.create_group("arrays")
    for key, value in point.get("arrays", {}).items():
        arrays.create_dataset(key, data=np.asarray(value, dtype=float))


def _read_point(pid: str, group) -> PointResult:
    return PointResult(
        id=pid,
        cell=str(group.attrs["cell"]),
        coords=json.loads(group.attrs["coords"]),
        params=json.loads(group.attrs["params"]),
        status=str(group.attrs["status"]),
        error=str(group.attrs["error"]),
        values={k: float(v) for k, v in json.loads(group.attrs["values"]).items()},
        arrays={k: np.asarray(v[()]) for k, v in group["arrays"].items()},
        warnings=json.loads(group.attrs["warnings"]),
        notes=json.loads(group.attrs.get("notes", "{}")),
        seconds=float(group.attrs["seconds"]),
        finished_utc=str(group.attrs["finished_utc"]),
    )


def write_part(path: Path, points: dict) -> Path:
    """Write finished points (``{id: point}``) to one new file in ``<path>.parts/``,
    atomically."""
    import time
    import uuid

    import h5py

    target = parts_dir(path) / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.h5"
    with atomic_path(target) as tmp:
        with h5py.File(tmp, "w", userblock_size=_h5.USERBLOCK) as f:
            f.attrs["format"] = PART_FORMAT
            f.attrs["schema_version"] = SCHEMA_VERSION
            grp = f.create_group("points")
            for pid, point in points.items():
                _write_point(grp.create_group(pid), point)
        _h5.write_digest(tmp, PART_FORMAT)  # final: seal it before the rename
    return target


def _part_files(path: Path) -> list[Path]:
    d = parts_dir(path)
    return sorted(d.glob("*.h5")) if d.is_dir() else []


def create_or_check(path: Path, kind: str, name: str, config_json: str, cells: dict) -> None:
    """Create the study file (atomically) or check an existing one is of this kind; record
    the cells."""
    import h5py

    from .. import __version__

    if path.exists():
        found, known = _h5.read_verified(path, _read_kind_and_cells, **_STUDY)
        if found != kind:
            raise InputError(f"{path} holds a {found!r} study; this is a {kind!r} study. "
                             "Give another output file.")
        missing = {k: v for k, v in cells.items() if k not in known}
        if missing:
            with atomic_path(path) as tmp:
                _h5.sealed_copy(path, tmp, _read_study_file, **_STUDY)
                with h5py.File(tmp, "a") as f:
                    _write_cells(f, missing)
                _h5.write_digest(tmp, FORMAT)  # final: seal it before the rename
        return
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", userblock_size=_h5.USERBLOCK) as f:
            f.attrs["format"] = FORMAT
            f.attrs["schema_version"] = SCHEMA_VERSION
            f.attrs["kind"] = kind
            f.attrs["name"] = name
            f.attrs["config"] = config_json
            f.attrs["cellmodels_version"] = __version__
            f.create_group("points")
            _write_cells(f, cells)
        _h5.write_digest(tmp, FORMAT)  # final: seal it before the rename


def _read_kind_and_cells(path: Path) -> tuple[str, set]:
    with open_checked(path, FORMAT, SCHEMA_VERSION, "study") as f:
        try:
            kind = str(f.attrs["kind"])
            known = {k.replace("|", "/") for k in f["cells"]} if "cells" in f else set()
        except _DAMAGE as exc:
            raise FileFormatError(f"The study file {path} is incomplete or corrupt "
                                  f"({exc}).") from None
    return kind, known


def _write_cells(f, cells: dict) -> None:
    grp = f.require_group("cells")
    for label, info in cells.items():
        g = grp.create_group(_safe(label))
        for k, v in info.items():
            g.attrs[k] = str(v)


def _safe(label: str) -> str:
    """An HDF5 name for a cell label (paths hold '/')."""
    return label.replace("/", "|")


def merge_parts(path: Path) -> int:
    """Move every part into the study file (one atomic replace); return how many."""
    import h5py

    parts = _part_files(path)
    if not parts:
        return 0
    merged = []
    with atomic_path(path) as tmp:
        _h5.sealed_copy(path, tmp, _read_study_file, **_STUDY)
        with h5py.File(tmp, "a") as dst:
            points = dst.require_group("points")
            for part in parts:
                if _h5.digest_problem(part, **_PART) is not None:
                    continue  # damaged after it was written: left for load_study to name
                try:
                    src = h5py.File(part, "r")
                except OSError:
                    continue  # cannot happen for renamed parts; never lose the others
                with src:
                    for pid in src["points"]:
                        if pid in points:
                            del points[pid]  # a retried point replaces its failure
                        src.copy(src["points"][pid], points, name=pid)
                merged.append(part)
        _h5.write_digest(tmp, FORMAT)  # final: seal it before the rename
    for part in merged:
        part.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        parts_dir(path).rmdir()
    return len(merged)


def load_study(path: str | Path) -> StudyResults:
    """Read a study file and any parts not yet merged into it (a killed run's last points).

    Raises :class:`FileFormatError` for a missing, corrupt, truncated or foreign file or
    part, or one whose content does not match its digest (module docstring).
    """
    path = Path(path)
    res = _h5.read_verified(path, _read_study_file, **_STUDY)
    for part in _part_files(path):
        res.points.update(_h5.read_verified(part, _read_part, **_PART))
    return res


def _read_study_file(path: Path) -> StudyResults:
    with open_checked(path, FORMAT, SCHEMA_VERSION, "study") as f:
        try:
            res = StudyResults(path=path, kind=str(f.attrs["kind"]),
                               name=str(f.attrs["name"]), config=json.loads(f.attrs["config"]))
            for label, g in f.get("cells", {}).items():
                res.cells[label.replace("|", "/")] = {k: str(v) for k, v in g.attrs.items()}
            for pid, g in f["points"].items():
                res.points[pid] = _read_point(pid, g)
        except _DAMAGE as exc:
            raise FileFormatError(f"The study file {path} is incomplete or corrupt "
                                  f"({exc}).") from None
    return res


def _read_part(part: Path) -> dict[str, PointResult]:
    import h5py

    try:
        src = h5py.File(part, "r")
    except OSError as exc:
        raise FileFormatError(f"{part} is not a readable HDF5 file: {exc}") from None
    with src:
        if src.attrs.get("format") != PART_FORMAT:
            raise FileFormatError(f"{part} is not a study point file.")
        try:
            return {pid: _read_point(pid, g) for pid, g in src["points"].items()}
        except _DAMAGE as exc:
            raise FileFormatError(f"The study part {part} is incomplete or corrupt "
                                  f"({exc}).") from None


@contextlib.contextmanager
def run_lock(path: Path):
    """Refuse a second run writing the same study file at the same time."""
    lock = path.with_name(path.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fh = open(lock, "w")  # noqa: SIM115 - held for the whole run
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise InputError(f"Another run is writing {path} (lock {lock} held).") from None
    try:
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        lock.unlink(missing_ok=True)
        fh.close()
