"""The ECM file: HDF5 (h5py), one schema version, SI units as attributes.

Layout::

    /                      attrs: format="cellmodels.ecm", schema_version, name,
                                  capacity_Ah, reference_temperature_K,
                                  thermal_mass_J_per_K, heat_transfer_W_per_K
    /soc                   (ns,)        attrs: unit="1"
    /temperature_K         (nt,)        attrs: unit="K"
    /ocv_V                 (ns,)        attrs: unit="V"
    /docv_dT_V_per_K       (ns,)        attrs: unit="V/K"
    /r0_Ohm                (ns, nt)     attrs: unit="Ohm"
    /rc_R_Ohm              (n, ns, nt)  attrs: unit="Ohm"
    /rc_tau_s              (n, ns, nt)  attrs: unit="s"
    /ct_R_Ohm              (ns, nt)     attrs: unit="Ohm"   (schema 2 only, optional)
    /ct_i0_A               (ns, nt)     attrs: unit="A"     (schema 2 only, optional)
    /hysteresis_V          (ns,)        attrs: unit="V", rate (gamma, "1"), initial ("1")
                                        (schema 3: present exactly in schema 3)
    /meta                  attrs: limits, validity, error, provenance (JSON text)

Schema version 1 is the layout without the charge-transfer element; an ECM without it
is still written as version 1 (readable by every cellmodels). One with it is version 2,
which older cellmodels refuse by version instead of dropping the element. One with the
OCV hysteresis is version 3 (with or without the element). All three are read.

Writing goes to a temporary file in the same folder, then an atomic rename. Reading a
file of another schema version, or a corrupt or truncated one, raises
:class:`~cellmodels.errors.FileFormatError`.

Content digest. The file starts with a 512-byte HDF5 user block (which HDF5 skips: every
HDF5 reader, older cellmodels included, reads the file as before) holding
``cellmodels.ecm sha256=<hex>``, the SHA-256 of the bytes after it (a study keys its
points on the SHA-256 of the whole ECM file: this layout stays as it is). :func:`load_ecm`
checks it before HDF5 reads the file; a file that fails it is refused, named by its
structural fault where there is one, never loaded with altered numbers and never a hang;
a file without the block is read without that check. The machinery, shared by every
cellmodels HDF5 format, is in :mod:`cellmodels._h5` (its module docstring says how).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import _h5
from .._atomic import atomic_path
from .._h5 import open_checked
from ..errors import FileFormatError, ParameterError
from .ecm import ECM, READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION, schema_version_of

__all__ = ["load_ecm", "save_ecm"]

FORMAT = "cellmodels.ecm"
_ARRAYS = {
    "soc": "1",
    "temperature_K": "K",
    "ocv_V": "V",
    "docv_dT_V_per_K": "V/K",
    "r0_Ohm": "Ohm",
    "rc_R_Ohm": "Ohm",
    "rc_tau_s": "s",
}
_OPTIONAL = {"ct_R_Ohm": "Ohm", "ct_i0_A": "A"}  # schema 2 and 3
_SCALARS = ("capacity_Ah", "reference_temperature_K", "thermal_mass_J_per_K",
            "heat_transfer_W_per_K")
_DICTS = ("limits", "validity", "error", "provenance")
#: Size of the HDF5 user block that holds the content digest [bytes] (see cellmodels._h5).
USERBLOCK = _h5.USERBLOCK
#: Longest wait for HDF5 to read a file that failed its digest [s] (a healthy read takes
#: milliseconds; a damaged attribute can make the HDF5 library loop forever).
DIAGNOSE_TIMEOUT_S = _h5.DIAGNOSE_TIMEOUT_S


def save_ecm(ecm: ECM, path: str | Path) -> Path:
    """Write ``ecm`` to ``path`` atomically; return the path."""
    import h5py

    path = Path(path)
    with atomic_path(path) as tmp:
        _write_hdf5(ecm, tmp, h5py)
        _h5.write_digest(tmp, FORMAT)
    return path


def _write_hdf5(ecm: ECM, tmp: str, h5py) -> None:
    with h5py.File(tmp, "w", userblock_size=USERBLOCK) as f:
        f.attrs["format"] = FORMAT
        f.attrs["schema_version"] = schema_version_of(ecm)
        f.attrs["name"] = ecm.name
        for key in _SCALARS:
            f.attrs[key] = float(getattr(ecm, key))
        arrays = dict(_ARRAYS)
        if ecm.has_ct:
            arrays.update(_OPTIONAL)
        for key, unit in arrays.items():
            ds = f.create_dataset(key, data=np.asarray(getattr(ecm, key), dtype="<f8"))
            ds.attrs["unit"] = unit
        if ecm.has_hysteresis:
            ds = f.create_dataset("hysteresis_V", data=np.asarray(ecm.hysteresis_V, dtype="<f8"))
            ds.attrs["unit"] = "V"
            ds.attrs["rate"] = float(ecm.hysteresis_rate)
            ds.attrs["initial"] = float(ecm.hysteresis_initial)
        meta = f.create_group("meta")
        for key in _DICTS:
            meta.attrs[key] = json.dumps(getattr(ecm, key), sort_keys=True)


def load_ecm(path: str | Path) -> ECM:
    """Read an ECM file written by :func:`save_ecm` (schema version 1, 2 or 3).

    Raises :class:`~cellmodels.errors.FileFormatError` for a missing, corrupt or truncated
    file, another format or schema version, a missing or malformed field, an invalid ECM,
    or content that does not match the file's digest (see the module docstring).
    """
    # DIAGNOSE_TIMEOUT_S is read here, at the call (tests shorten it)
    return _h5.read_verified(path, _read, what="ECM", writer="save_ecm",
                             timeout_s=DIAGNOSE_TIMEOUT_S)


def _read(path: Path) -> ECM:
    try:
        return _read_checked(path)
    except (KeyError, OSError, RuntimeError) as exc:  # HDF5 failing on a damaged object
        raise FileFormatError(f"{path} is corrupt: HDF5 cannot read it ({exc}).") from None


def _read_checked(path: Path) -> ECM:
    with open_checked(path, FORMAT, _file_version(path), "ECM") as f:
        try:
            kwargs = {key: np.asarray(f[key][()]) for key in _ARRAYS}
            if int(f.attrs["schema_version"]) >= 2:
                present = [key for key in _OPTIONAL if key in f]
                if present and len(present) != len(_OPTIONAL):
                    raise KeyError(f"'{present[0]}' without its partner")
                kwargs.update({key: np.asarray(f[key][()]) for key in present})
            if int(f.attrs["schema_version"]) >= 3:
                ds = f["hysteresis_V"]
                kwargs["hysteresis_V"] = np.asarray(ds[()])
                kwargs["hysteresis_rate"] = float(ds.attrs["rate"])
                kwargs["hysteresis_initial"] = float(ds.attrs["initial"])
            for key in _SCALARS:
                raw = f.attrs[key]
                try:
                    kwargs[key] = float(raw)
                except (TypeError, ValueError):
                    raise ValueError(f"attribute {key!r} must be a number; it is "
                                     f"{raw!r}") from None
            for key in _DICTS:
                raw = f["meta"].attrs[key]
                try:
                    value = json.loads(raw)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"meta attribute {key!r} must be JSON text; it is "
                                     f"{raw!r} ({exc})") from None
                if not isinstance(value, dict):
                    raise TypeError(f"meta attribute {key!r} must be a JSON object; it is "
                                     f"{type(value).__name__} {value!r}")
                kwargs[key] = value
            name = f.attrs["name"]
            if not isinstance(name, str):
                raise TypeError(f"attribute 'name' must be a string; it is {name!r}")
            kwargs["name"] = name
        except (KeyError, OSError, ValueError, TypeError) as exc:
            raise FileFormatError(f"{path} is incomplete or corrupt: {exc}") from None
    try:
        return ECM(**kwargs)
    except (ParameterError, ValueError, TypeError) as exc:
        raise FileFormatError(f"{path} holds an invalid ECM: {exc}") from None


def _file_version(path: Path) -> int:
    """The file's schema version if this cellmodels reads it, else the newest (so that
    ``open_checked`` refuses it naming both)."""
    import h5py

    if not path.is_file():
        return SCHEMA_VERSION  # open_checked names the missing file
    try:
        f = h5py.File(path, "r")
    except OSError:
        return SCHEMA_VERSION  # open_checked reports the unreadable file
    with f:
        raw = f.attrs.get("schema_version", -1)
    try:
        # an integer, not a number int() would truncate (2.9 is not schema 2) or a bool
        if isinstance(raw, bool | np.bool_) or not float(raw).is_integer():
            raise ValueError(raw)
        found = int(raw)
    except (TypeError, ValueError):
        raise FileFormatError(f"{path}: its 'schema_version' attribute must be an integer "
                              f"(this cellmodels reads {READABLE_SCHEMA_VERSIONS}). Got {raw!r} "
                              "instead (corrupt?).") from None
    return found if found in READABLE_SCHEMA_VERSIONS else SCHEMA_VERSION
