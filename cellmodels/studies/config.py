"""Study configuration: a TOML file (parsed with ``tomllib``, never evaluated) to a grid.

A study is one *kind* (``heating`` or ``life``) run over the product of its axes: the cells
and every swept field. Layout::

    kind = "heating"                  # optional; must match `cellmodels study KIND`
    name = "semi-solid heating map"   # optional; default the file's stem
    cells = ["semisolid_lfp_power", "out/lean.ecm.h5"]
    output = "heating.h5"             # optional; default <config stem>.h5 beside it

    [reduce]                          # optional: ECMIdentifier settings for cells given
    n_rc = 2                          #   as parameter-set names (reduced once, cached)

    [heating]                         # kind "heating" (keys: HEATING_KEYS)
    swing_depth = [0.0005, 0.001, 0.002]
    period_s = [1.0, 2.0, 4.0]
    heat_transfer_W_per_K = [0.5, 2.0]
    soc = 0.5

    [life]                            # kind "life": arguments of cellmodels.life.project_life
    years = 15
    [ups]                             # kind "life": the UPS configuration (cellmodels.ups)
    [ups.controller]
    ramp_limit_W_per_s = [1e4, 5e4]
    [dutycycle]                       # kind "life": the load (cellmodels.dutycycles.make_profile)
    swing_depth = [0.3, 0.5]

**Axes.** ``cells`` is always an axis (a string or a list of strings; a string ending in
``.h5`` is an ECM file, relative to the config's folder; any other is a parameter-set name).
In the sections, a list is an axis of the grid: every value is run. Fields whose value is
itself a list (``efficiency``, ``soc_band``, ``events`` in ``[ups]``) are fixed as given;
sweep them, or any field, with an inline table ``{sweep = [value, value, ...]}``.
Unknown keys are refused with close suggestions.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, suggest

__all__ = ["KINDS", "StudyConfig", "load_study_config", "parse_study_config"]

KINDS = ("heating", "life")

#: Keys of the ``[heating]`` section (arguments of swing_waveform and periodic_heating).
HEATING_KEYS = ("swing_depth", "swing_C_rate", "period_s", "compute_fraction",
                "heat_transfer_W_per_K", "soc", "ambient_K", "thermal_mass_J_per_K",
                "max_soc_step", "max_substep_s", "samples", "tol_K", "max_iter")

#: The sections each kind reads.
KIND_SECTIONS = {"heating": ("heating",), "life": ("life", "ups", "dutycycle")}

#: Fields whose value is a list (not an axis unless written ``{sweep = [...]}``).
LIST_FIELDS = {"ups": ("efficiency", "soc_band", "events")}

_TOP_KEYS = ("kind", "name", "cells", "output", "reduce")
_REDUCE_KEYS = ("n_rc", "soc", "temperature_K", "sequence_s", "rest_s", "seed", "model",
                "ocv_points", "amplitude", "backoff", "current_dependence")


def _life_keys() -> tuple[str, ...] | None:
    """Keyword arguments of cellmodels.life.project_life, or None when it is not there."""
    try:
        from ..life import project_life
    except ImportError:
        return None
    params = inspect.signature(project_life).parameters
    # the study owns where results go and the progress bar
    return tuple(name for name, p in params.items()
                 if p.kind == inspect.Parameter.KEYWORD_ONLY
                 and name not in ("output", "progress"))


@dataclass(frozen=True)
class Axis:
    """One axis of the grid: a dotted name (``"heating.period_s"``, ``"cell"``) and values."""

    name: str
    values: tuple


@dataclass(frozen=True)
class StudyConfig:
    """A parsed study: kind, cells, the sections with their axes, and where results go.

    ``sections`` holds every section as written, with each axis's place taken by the
    marker ``Axis``; :meth:`points` fills them in.
    """

    kind: str
    name: str
    cells: tuple[str, ...]
    sections: dict
    axes: tuple[Axis, ...]
    reduce: dict = field(default_factory=dict)
    output: Path | None = None
    base_dir: Path = Path(".")

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.cells), *(len(a.values) for a in self.axes))

    @property
    def n_points(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def points(self) -> list[dict]:
        """Every point: ``{"cell": label, "coords": {axis: value}, "params": sections}``."""
        out = []
        for cell in self.cells:
            for combo in itertools.product(*(a.values for a in self.axes)):
                coords = {a.name: v for a, v in zip(self.axes, combo)}
                out.append({"cell": cell, "coords": coords,
                            "params": _fill(self.sections, coords, ())})
        return out

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "name": self.name, "cells": list(self.cells),
                           "axes": [[a.name, list(a.values)] for a in self.axes],
                           "sections": _plain(self.sections), "reduce": self.reduce},
                          sort_keys=True)


class _AxisMarker(str):
    """Stands for an axis inside ``sections`` (a str subclass, so it JSON-encodes)."""


def _plain(d):
    if isinstance(d, dict):
        return {k: _plain(v) for k, v in d.items()}
    if isinstance(d, list | tuple):
        return [_plain(v) for v in d]
    return d


def _fill(d: dict, coords: dict, path: tuple) -> dict:
    out = {}
    for key, value in d.items():
        here = (*path, key)
        if isinstance(value, _AxisMarker):
            out[key] = coords[str(value)]
        elif isinstance(value, dict):
            out[key] = _fill(value, coords, here)
        else:
            out[key] = value
    return out


def _axes_of(section: str, d: Mapping, path: tuple, axes: list, list_fields) -> dict:
    out = {}
    for key, value in d.items():
        name = ".".join((*path, key))
        if isinstance(value, Mapping) and set(value) == {"sweep"}:
            values = value["sweep"]
            if not isinstance(values, list) or not values:
                raise InputError(f"The sweep of '{name}' must be a non-empty list. Got "
                                 f"{values!r} instead.")
            axes.append(Axis(name, tuple(values)))
            out[key] = _AxisMarker(name)
        elif isinstance(value, Mapping):
            out[key] = _axes_of(section, value, (*path, key), axes, list_fields)
        elif isinstance(value, list) and key not in list_fields:
            if not value:
                raise InputError(f"The axis '{name}' is an empty list: give at least one "
                                 "value.")
            if any(isinstance(v, list | dict) for v in value):
                raise InputError(f"The axis '{name}' must list plain values. Got {value!r}; "
                                 "to sweep a list-valued field write {sweep = [...]}.")
            axes.append(Axis(name, tuple(value)))
            out[key] = _AxisMarker(name)
        else:
            out[key] = value
    return out


def _check_keys(d: Mapping, allowed, where: str) -> None:
    for key in d:
        if key not in allowed:
            raise InputError(f"Unknown key {key!r} in {where}." + suggest(str(key), allowed)
                             + f" Allowed: {', '.join(allowed)}.")


def _dutycycle_keys(d: Mapping) -> tuple[str, ...]:
    from ..dutycycles import GENERATORS, import_trace

    gen = d.get("generator", "synchronized_training")
    if gen == "trace":
        func = import_trace
    elif gen in GENERATORS:
        func = GENERATORS[gen]
    else:
        choices = (*GENERATORS, "trace")
        raise InputError(f"Unknown generator {gen!r} in [dutycycle]; choose one of "
                         f"{', '.join(map(repr, choices))}." + suggest(str(gen), choices))
    return ("generator", "name", *inspect.signature(func).parameters)


def _resolve_model(value, base_dir: Path):
    def one(v):
        if isinstance(v, str) and Path(v).suffix and not Path(v).is_absolute():
            return str((base_dir / v).resolve())
        return v

    if isinstance(value, list):
        return [one(v) for v in value]
    if isinstance(value, Mapping) and set(value) == {"sweep"} and isinstance(value["sweep"],
                                                                            list):
        return {"sweep": [one(v) for v in value["sweep"]]}
    return one(value)


def parse_study_config(data: Mapping, *, kind: str | None = None,
                       base_dir: str | Path = ".", default_name: str = "study"
                       ) -> StudyConfig:
    """A :class:`StudyConfig` from a dict as parsed by ``tomllib`` (see module docstring).

    ``kind`` (from the command line) wins over the file's only if they agree; a missing
    one is an error. Raises :class:`InputError` naming the key, with close suggestions.
    """
    if not isinstance(data, Mapping):
        raise InputError(f"A study config must be a table. Got {type(data).__name__}.")
    file_kind = data.get("kind")
    if kind is not None and file_kind is not None and kind != file_kind:
        raise InputError(f"The study config says kind = {file_kind!r} but the command asks "
                         f"for {kind!r}.")
    kind = kind or file_kind
    if kind not in KINDS:
        raise InputError(f"The study 'kind' must be one of {', '.join(map(repr, KINDS))}. "
                         f"Got {kind!r} instead." + suggest(str(kind), KINDS))
    sections = KIND_SECTIONS[kind]
    allowed_top = (*_TOP_KEYS, *sections)
    for key in data:
        if key not in allowed_top:
            other = [k for k, secs in KIND_SECTIONS.items() if key in secs]
            hint = (f" (the section [{key}] belongs to a {other[0]!r} study)" if other
                    else suggest(str(key), allowed_top))
            raise InputError(f"Unknown key {key!r} in the {kind} study config.{hint} "
                             f"Allowed: {', '.join(allowed_top)}.")
    base_dir = Path(base_dir)
    cells = data.get("cells")
    if isinstance(cells, str):
        cells = [cells]
    if not isinstance(cells, list) or not cells or not all(isinstance(c, str) for c in cells):
        raise InputError("The study config needs 'cells': a parameter-set name or an ECM "
                         f"file (.h5), or a non-empty list of them. Got {cells!r} instead.")
    if len(set(cells)) != len(cells):
        raise InputError(f"The study's 'cells' list a cell twice: {cells}.")
    reduce = dict(data.get("reduce", {}))
    _check_keys(reduce, _REDUCE_KEYS, "[reduce]")
    axes: list[Axis] = []
    parsed: dict = {}
    for sec in sections:
        d = data.get(sec, {})
        if not isinstance(d, Mapping):
            raise InputError(f"[{sec}] must be a table. Got {d!r}.")
        if sec == "heating":
            _check_keys(d, HEATING_KEYS, "[heating]")
            for req in ("period_s",):
                if req not in d:
                    raise InputError(f"[heating] needs '{req}'.")
            if ("swing_depth" in d) == ("swing_C_rate" in d):
                raise InputError("[heating] needs exactly one of 'swing_depth' (depth of "
                                 "discharge per swing) and 'swing_C_rate'.")
        elif sec == "life":
            keys = _life_keys()
            if keys is not None:
                _check_keys(d, keys, "[life]")
            if "model" in d:
                # a coefficient file (a name with a suffix, load_model's rule) is taken
                # from the config's folder, as ECM cells and traces are, not from each
                # worker's working directory
                d = {**d, "model": _resolve_model(d["model"], base_dir)}
        elif sec == "dutycycle":
            gen = d.get("generator", "synchronized_training")
            if isinstance(gen, list | dict):
                raise InputError("[dutycycle] 'generator' cannot be swept; run one study per "
                                 "generator.")
            _check_keys(d, _dutycycle_keys(d), f"[dutycycle] (generator {gen!r})")
            if gen == "trace" and "path" in d and isinstance(d["path"], str):
                p = Path(d["path"])
                d = {**d, "path": str(p if p.is_absolute() else (base_dir / p).resolve())}
        parsed[sec] = _axes_of(sec, d, (sec,), axes, LIST_FIELDS.get(sec, ()))
    config = StudyConfig(
        kind=kind,
        name=str(data.get("name", default_name)),
        cells=tuple(cells),
        sections=parsed,
        axes=tuple(axes),
        reduce=reduce,
        output=(None if data.get("output") is None else base_dir / str(data["output"])),
        base_dir=base_dir,
    )
    if kind == "life":
        # every UPS configuration of the grid is checked now, not by a worker an hour in
        from ..errors import ParameterError
        from ..ups import UPSConfig

        seen = set()
        for point in config.points():
            ups = point["params"].get("ups", {})
            key = json.dumps(ups, sort_keys=True)
            if key not in seen:
                seen.add(key)
                try:
                    UPSConfig.from_dict(ups)
                except ParameterError as exc:
                    raise InputError(f"[ups] of the study: {exc}") from None
    return config


def load_study_config(path: str | Path, *, kind: str | None = None) -> StudyConfig:
    """Read a TOML study config (see the module docstring)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise InputError(f"Cannot read the study config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"The study config {path} is not valid TOML: {exc}") from None
    config = parse_study_config(data, kind=kind, base_dir=path.parent, default_name=path.stem)
    if config.output is None:
        config = StudyConfig(**{**config.__dict__, "output": path.with_suffix(".h5")})
    return config


def point_id(kind: str, cell_sha256: str, params: dict, files: dict | None = None) -> str:
    """A stable id of one point: its kind, its cell's ECM (by content) and its inputs,
    with the content (sha256) of the input files they name (``files``: field -> digest;
    left out when empty, so ids of studies without input files are unchanged)."""
    key = {"kind": kind, "cell": cell_sha256, "params": _plain(params)}
    if files:
        key["files"] = dict(files)
    text = json.dumps(key, sort_keys=True, default=float)
    return hashlib.sha256(text.encode()).hexdigest()[:20]
