"""Readers of measured cell data into one :class:`Dataset` type, and the checks on it."""

from .aboutenergy import read_aboutenergy
from .auto import read_measured
from .dataset import (
    Dataset,
    check_dataset,
    check_magnitudes,
    check_sign_trend,
    detect_current_sign,
    step_segments,
)
from .kokam import read_kokam
from .nissan import LvmTrace, read_nissan, read_nissan_discharge, read_nissan_lvm
from .pyprobe import read_pyprobe
from .samsung import read_samsung, read_samsung_current
from .xlsx import read_xlsx

__all__ = [
    "Dataset",
    "LvmTrace",
    "check_dataset",
    "check_magnitudes",
    "check_sign_trend",
    "detect_current_sign",
    "read_aboutenergy",
    "read_kokam",
    "read_measured",
    "read_nissan",
    "read_nissan_discharge",
    "read_nissan_lvm",
    "read_pyprobe",
    "read_samsung",
    "read_samsung_current",
    "read_xlsx",
    "step_segments",
]
