"""One entry point for every measured format: pick the reader from the registry folder,
or from the file's suffix and first line."""

from __future__ import annotations

from pathlib import Path

from .. import data
from ..errors import DataError
from .dataset import Dataset

__all__ = ["read_measured"]

_BY_FOLDER = {
    "aboutenergy_bpx/": "aboutenergy",
    "nissan_leaf_ornl/": "nissan",
    "samsung_inr21700_30t_pybop/": "samsung",
    "pybamm_ecker2015_kokam/": "kokam",
    "lgm50_imperial_pyprobe/": "pyprobe",
}


def _kind(name: str) -> str:
    for folder, kind in _BY_FOLDER.items():
        if name.startswith(folder):
            suffix = Path(name).suffix.lower()
            if kind == "nissan" and suffix == ".lvm":
                raise DataError(f"{name}: a LabVIEW temperature file holds no current or "
                                "voltage; use read_nissan_lvm, or read_nissan_discharge for "
                                "the discharge with its mid-cell temperature.")
            return kind
    suffix = Path(name).suffix.lower()
    if suffix == ".xlsx":
        return "samsung"
    if suffix == ".parquet":
        return "pyprobe"
    if suffix == ".mat":
        raise DataError(f"{name}: the WMG .mat files hold many records; use "
                        "cellmodels.measured.wmg (read_pulses) instead.")
    if suffix == ".csv" and Path(name).is_file():
        with open(name, encoding="utf-8-sig", errors="replace") as fh:
            first = fh.readline().strip()
        if first.startswith("Time [s],I[A],U[V]"):
            return "aboutenergy"
        if first.startswith(("Exclude,", "No,", "Yes,")):
            return "nissan"
        if first.count(",") == 1:
            return "kokam"
    raise DataError(f"Cannot tell the format of {name!r}: give a registry name (one of the "
                    f"folders {sorted(_BY_FOLDER)}) or a .csv/.xlsx/.parquet file of a known "
                    "layout.")


def read_measured(name: str | Path, **kwargs) -> Dataset:
    """Read any measured file into a :class:`Dataset` with the reader its format needs.

    Parameters
    ----------
    name : str or Path
        Registry name (see :mod:`cellmodels.data`) or path.
    **kwargs
        Passed to the reader (e.g. ``temperature_K`` for the Samsung sheets).
    """
    from .aboutenergy import read_aboutenergy
    from .kokam import read_kokam
    from .nissan import read_nissan
    from .pyprobe import read_pyprobe
    from .samsung import read_samsung

    text = str(name)
    if text not in data.REGISTRY and not Path(text).exists():
        data.path(text)  # raises, with close registry names suggested
    readers = {"aboutenergy": read_aboutenergy, "nissan": read_nissan, "samsung": read_samsung,
               "kokam": read_kokam, "pyprobe": read_pyprobe}
    return readers[_kind(text)](text, **kwargs)
