"""Opening cellmodels' HDF5 files: one check of existence, format and schema version."""

from __future__ import annotations

from pathlib import Path

from .errors import FileFormatError


def open_checked(path: str | Path, fmt: str, version: int, what: str):
    """Open ``path`` read-only and check its ``format`` and ``schema_version`` attributes.

    ``what`` names the kind of file in messages ("ECM", "profile", "UPS result"). Raises
    :class:`FileFormatError` for a missing, corrupt or truncated file, another format, or
    another schema version. Returns the open ``h5py.File`` (use it in a ``with``).
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"No {what} file at {path}.")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise FileFormatError(f"{path} is not a readable HDF5 file (corrupt or truncated): "
                              f"{exc}") from None
    if f.attrs.get("format") != fmt:
        found = f.attrs.get("format")
        f.close()
        raise FileFormatError(f"{path} is not a cellmodels {what} file (format attribute "
                              f"{found!r}, expected {fmt!r}).")
    found_version = int(f.attrs.get("schema_version", -1))
    if found_version != version:
        f.close()
        raise FileFormatError(f"{path} has {what} schema version {found_version}; this "
                              f"cellmodels reads schema version {version}.")
    return f
