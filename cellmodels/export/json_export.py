"""A readable JSON file of an :class:`~cellmodels.reduction.ECM`, and reading it back.

The HDF5 file (:mod:`cellmodels.reduction.io`) is the canonical one; this is for people
and for tools without HDF5. Layout (units are in the key names, SI except ``capacity_Ah``
and ``soc`` [1])::

    {
      "format": "cellmodels.ecm+json",
      "schema_version": 1,
      "name": "...",
      "equations": ["dz/dt = -I / (3600 Q)", ...],          (documentation; not read)
      "capacity_Ah": 10.0,
      "reference_temperature_K": 298.15,
      "thermal_mass_J_per_K": 300.0,
      "heat_transfer_W_per_K": 0.5,
      "n_rc": 2,
      "axes": {"soc": [...], "temperature_K": [...]},
      "tables": {
        "ocv_V":           {"axes": ["soc"], "values": [...]},
        "docv_dT_V_per_K": {"axes": ["soc"], "values": [...]},
        "r0_Ohm":          {"axes": ["soc", "temperature_K"], "values": [[...], ...]},
        "rc_R_Ohm":        {"axes": ["rc", "soc", "temperature_K"], "values": [[[...]]]},
        "rc_tau_s":        {"axes": ["rc", "soc", "temperature_K"], "values": [[[...]]]},
        "ct_R_Ohm", "ct_i0_A": {"axes": ["soc", "temperature_K"], ...}   (schema 2, optional)
        "hysteresis_V":    {"axes": ["soc"], "values": [...]}              (schema 3)
      },
      "hysteresis_rate": 60.0, "hysteresis_initial": -1.0,                  (schema 3)
      "limits": {...}, "validity": {...}, "error": {...}, "provenance": {...}
    }

``schema_version`` is 1 for an ECM without the charge-transfer element (the layout of
before) and 2 with it (the two ``ct_`` tables); 3 with the OCV hysteresis (its table and
two scalars, with or without the ``ct_`` tables). All three are read.

In ``limits`` and ``validity`` (whose entries the ECM allows to be +infinity: no limit),
``null`` stands for +infinity.

Tables are nested lists, outer index first (``r0_Ohm["values"][i][j]`` is at
``soc[i]``, ``temperature_K[j]``), one innermost row per line. Floats are written with
Python's ``repr`` (shortest string that reads back to the same double), so
:func:`ecm_from_json` returns an ECM equal to the one written. The file is strict JSON:
NaN and infinity have no JSON spelling: an infinite ``limits``/``validity`` entry is
written as ``null``, any other non-finite number is refused with the field named. Writing
goes to a temporary file in the same folder, then an atomic rename.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .._atomic import write_text
from ..errors import FileFormatError, InputError, ParameterError, suggest
from ..reduction.ecm import ECM, READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION, schema_version_of

__all__ = ["FORMAT", "ecm_from_json", "ecm_to_document", "export_json"]

FORMAT = "cellmodels.ecm+json"


def _equations() -> list[str]:
    """The ECM's equations, from its module docstring (one source; documentation only)."""
    from ..reduction import ecm as ecm_module

    doc = ecm_module.__doc__ or ""
    lines = doc.split("::", 1)[1].splitlines()[1:] if "::" in doc else []
    block = []
    for line in lines:
        if line.strip() and not line.startswith("    "):
            break
        if line.strip():
            block.append(" ".join(line.split()))
    return block + [
        ("symbols: Q = capacity_Ah, U = ocv_V, dU/dT = docv_dT_V_per_K, R0 = r0_Ohm, "
         "R_k = rc_R_Ohm[k], tau_k = rc_tau_s[k], R_ct = ct_R_Ohm, I0 = ct_i0_A "
         "(eta_ct = 0 when the tables are absent)"),
        ("symbols: M = hysteresis_V, gamma = hysteresis_rate, h(0) = hysteresis_initial "
         "(M h = 0 when absent)"),
        ("symbols: T_ref = reference_temperature_K, C_th = thermal_mass_J_per_K, "
         "hA = heat_transfer_W_per_K; I > 0 discharging"),
        "tables: linear in soc, bilinear in (soc, temperature_K), clamped at the grid edges",
    ]


_TABLES = {
    "ocv_V": ["soc"],
    "docv_dT_V_per_K": ["soc"],
    "r0_Ohm": ["soc", "temperature_K"],
    "rc_R_Ohm": ["rc", "soc", "temperature_K"],
    "rc_tau_s": ["rc", "soc", "temperature_K"],
}
_OPTIONAL_TABLES = {  # schema 2: the charge-transfer element, both or neither
    "ct_R_Ohm": ["soc", "temperature_K"],
    "ct_i0_A": ["soc", "temperature_K"],
}
_HYSTERESIS_TABLE = {"hysteresis_V": ["soc"]}  # schema 3, with the two scalars below
_HYSTERESIS_SCALARS = ("hysteresis_rate", "hysteresis_initial")
_SCALARS = ("capacity_Ah", "reference_temperature_K", "thermal_mass_J_per_K",
            "heat_transfer_W_per_K")
_DICTS = ("limits", "validity", "error", "provenance")
_NO_LIMIT_NULL = ("limits", "validity")  # null <-> +inf (no limit)
_KEYS = ("format", "schema_version", "name", "equations", *_SCALARS, "n_rc", "axes",
         "tables", *_DICTS)
_OPTIONAL_KEYS = _HYSTERESIS_SCALARS


def _plain(value, where: str):
    """JSON-ready copy: numpy scalars to Python, non-finite floats and others refused."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InputError(f"The ECM field '{where}' has a non-string key {k!r}; JSON "
                                 "keys are strings.")
            out[k] = _plain(v, f"{where}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"The ECM field '{where}' is {value!r}; JSON has no NaN or "
                             "infinity. Use a finite value (or leave the key out).")
        return value
    raise InputError(f"The ECM field '{where}' holds a {type(value).__name__} ({value!r}), "
                     "which JSON cannot represent.")


def ecm_to_document(ecm: ECM) -> dict:
    """The JSON document of ``ecm`` as a dict (what :func:`export_json` writes)."""
    doc = {
        "format": FORMAT,
        "schema_version": schema_version_of(ecm),
        "name": ecm.name,
        "equations": _equations(),
    }
    for key in _SCALARS:
        doc[key] = float(getattr(ecm, key))
    doc["n_rc"] = ecm.n_rc
    doc["axes"] = {"soc": ecm.soc.tolist(), "temperature_K": ecm.temperature_K.tolist()}
    doc["tables"] = {key: {"axes": axes, "values": getattr(ecm, key).tolist()}
                     for key, axes in _TABLES.items()}
    if ecm.has_ct:
        doc["tables"].update({key: {"axes": axes, "values": getattr(ecm, key).tolist()}
                              for key, axes in _OPTIONAL_TABLES.items()})
    if ecm.has_hysteresis:
        doc["tables"]["hysteresis_V"] = {"axes": ["soc"], "values": ecm.hysteresis_V.tolist()}
        for key in _HYSTERESIS_SCALARS:
            doc[key] = float(getattr(ecm, key))
    for key in _DICTS:
        doc[key] = dict(getattr(ecm, key))
    for key in _NO_LIMIT_NULL:
        doc[key] = {k: None if v == math.inf else v for k, v in doc[key].items()}
    return {key: _plain(value, key) for key, value in doc.items()}


def _is_flat(seq: list) -> bool:
    """A list of numbers (a table row) or a short list of scalars goes on one line."""
    if any(isinstance(v, (list, dict)) for v in seq):
        return False
    return (all(v is None or isinstance(v, (int, float)) for v in seq)
            or len(json.dumps(seq)) <= 80)


def _format(value, level: int = 0) -> str:
    """Indented JSON with every innermost list (a table row) on one line."""
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {_format(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if _is_flat(value):
            return json.dumps(value, allow_nan=False)
        items = [inner + _format(v, level + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value, allow_nan=False)


def export_json(ecm: ECM, path: str | Path) -> Path:
    """Write ``ecm`` as readable JSON to ``path`` atomically; return the path."""
    if not isinstance(ecm, ECM):
        raise InputError(f"export_json writes an ECM. Got a {type(ecm).__name__} instead.")
    text = _format(ecm_to_document(ecm)) + "\n"
    path = write_text(path, text)
    return path


def _table(doc: dict, key: str, path: Path) -> np.ndarray:
    entry = doc["tables"].get(key)
    if not isinstance(entry, dict) or "values" not in entry:
        raise FileFormatError(f"{path} has no table 'tables.{key}' with 'values'.")
    axes = {**_TABLES, **_OPTIONAL_TABLES, **_HYSTERESIS_TABLE}[key]
    if entry.get("axes") != axes:
        raise FileFormatError(f"{path}: the table '{key}' must have axes {axes}. Got "
                              f"{entry.get('axes')!r} instead.")
    try:
        values = np.array(entry["values"], dtype=float)
    except (TypeError, ValueError) as exc:
        raise FileFormatError(f"{path}: the table '{key}' is not a regular array of numbers "
                              f"({exc}).") from None
    if key.startswith("rc_") and values.size == 0:  # no RC pairs: keep the (0, ns, nt) shape
        values = values.reshape(0, len(doc["axes"]["soc"]), len(doc["axes"]["temperature_K"]))
    return values


def ecm_from_json(path: str | Path) -> ECM:
    """Read a file written by :func:`export_json` (schema version 1, 2 or 3) back to an ECM."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"No ECM JSON file at {path}.")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileFormatError(f"{path} is not valid JSON (corrupt or truncated): {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise FileFormatError(f"{path} is not a cellmodels ECM JSON file (format {got!r}, "
                              f"expected {FORMAT!r}).")
    version = doc.get("schema_version")
    if isinstance(version, bool) or version not in READABLE_SCHEMA_VERSIONS:
        raise FileFormatError(f"{path} has ECM schema version {version!r}; this cellmodels "
                              f"reads schema versions {', '.join(map(str, READABLE_SCHEMA_VERSIONS))}"
                              f" (newest {SCHEMA_VERSION}).")
    unknown = sorted(set(doc) - set(_KEYS) - set(_OPTIONAL_KEYS))
    if unknown:
        raise FileFormatError(f"{path} has the unknown key {unknown[0]!r}."
                              + suggest(unknown[0], [*_KEYS, *_OPTIONAL_KEYS]))
    missing = [k for k in _KEYS if k not in doc and k != "equations"]
    if missing:
        raise FileFormatError(f"{path} is incomplete: the key {missing[0]!r} is missing.")
    try:
        kwargs = {
            "name": doc["name"],
            "soc": np.array(doc["axes"]["soc"], dtype=float),
            "temperature_K": np.array(doc["axes"]["temperature_K"], dtype=float),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise FileFormatError(f"{path}: 'axes' must hold the lists 'soc' and 'temperature_K' "
                              f"({exc!r}).") from None
    if not isinstance(kwargs["name"], str):
        raise FileFormatError(f"{path}: 'name' must be a string. Got {kwargs['name']!r}.")
    if not isinstance(doc["tables"], dict):
        raise FileFormatError(f"{path}: 'tables' must be an object. Got {doc['tables']!r}.")
    for key in _TABLES:
        kwargs[key] = _table(doc, key, path)
    tables = doc["tables"]
    known_tables = [*_TABLES, *_OPTIONAL_TABLES, *_HYSTERESIS_TABLE]
    unknown_tables = sorted(set(tables) - set(known_tables))
    if unknown_tables:
        raise FileFormatError(f"{path} has the unknown table {unknown_tables[0]!r}."
                              + suggest(unknown_tables[0], known_tables))
    present = [key for key in _OPTIONAL_TABLES if key in tables]
    if present and version < 2:
        raise FileFormatError(f"{path}: the table {present[0]!r} needs ECM schema version 2; "
                              f"the file says {version}.")
    if present and len(present) != len(_OPTIONAL_TABLES):
        missing_ct = next(k for k in _OPTIONAL_TABLES if k not in tables)
        raise FileFormatError(f"{path} has the table {present[0]!r} without {missing_ct!r}; "
                              "the charge-transfer element needs both.")
    for key in present:
        kwargs[key] = _table(doc, key, path)
    hysteresis = [key for key in ("hysteresis_V", *_HYSTERESIS_SCALARS)
                  if key in tables or key in doc]
    if hysteresis and version < 3:
        raise FileFormatError(f"{path}: {hysteresis[0]!r} needs ECM schema version 3; the "
                              f"file says {version}.")
    if version >= 3:
        if len(hysteresis) != 3:
            missing_h = next(k for k in ("hysteresis_V", *_HYSTERESIS_SCALARS)
                             if k not in hysteresis)
            raise FileFormatError(f"{path} has ECM schema version 3 but no {missing_h!r}; "
                                  "the hysteresis needs 'tables.hysteresis_V', "
                                  "'hysteresis_rate' and 'hysteresis_initial'.")
        kwargs["hysteresis_V"] = _table(doc, "hysteresis_V", path)
        for key in _HYSTERESIS_SCALARS:
            value = doc[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FileFormatError(f"{path}: '{key}' must be a number. Got {value!r} "
                                      "instead.")
            kwargs[key] = float(value)
    for key in _SCALARS:
        value = doc[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FileFormatError(f"{path}: '{key}' must be a number. Got {value!r} instead.")
        kwargs[key] = float(value)
    for key in _DICTS:
        if not isinstance(doc[key], dict):
            raise FileFormatError(f"{path}: '{key}' must be an object. Got {doc[key]!r}.")
        kwargs[key] = doc[key]
        if key in _NO_LIMIT_NULL:
            kwargs[key] = {k: math.inf if v is None else v for k, v in doc[key].items()}
    if doc["n_rc"] != kwargs["rc_R_Ohm"].shape[0]:
        raise FileFormatError(f"{path}: 'n_rc' is {doc['n_rc']!r} but the table 'rc_R_Ohm' "
                              f"holds {kwargs['rc_R_Ohm'].shape[0]} RC pairs.")
    try:
        return ECM(**kwargs)
    except ParameterError as exc:
        raise FileFormatError(f"{path} holds an invalid ECM: {exc}") from None
