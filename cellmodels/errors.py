"""Exceptions raised by cellmodels.

Every error is a ``ValueError`` or ``RuntimeError`` subclass, so callers that do not care
about the detail can catch the built-in type. The tree::

    CellModelsError (base, no direct raises)
    ├── ParameterError(ValueError)      a parameter file or value is wrong: unknown key,
    │                                   value outside its documented range, bad expression
    ├── InputError(ValueError)          an argument is outside its allowed range
    ├── DataError(ValueError)           a measured data file is missing, corrupt or
    │                                   does not match its registered sha256
    ├── FileFormatError(ValueError)     an ECM or result file is corrupt, truncated, or
    │                                   of another schema version
    ├── FMUBuildError(RuntimeError)     an FMU could not be built (no C compiler, or it failed)
    └── SolverError(RuntimeError)       a solve failed or stopped before the protocol ended
        └── CutoffError                 ... because it reached a voltage (or other) cut-off

Messages follow one format: they name the field, the allowed range and the value found,
e.g. ``"The 'soc' argument of dcr_map must be in the range [0, 1]. Got 1.2 instead."``
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CellModelsError(Exception):
    """Base class of every cellmodels error."""


class ParameterError(CellModelsError, ValueError):
    """A parameter set holds an unknown key, a value outside its range, or a bad expression."""


class InputError(CellModelsError, ValueError):
    """A function argument is outside its allowed range."""


class DataError(CellModelsError, ValueError):
    """A measured data file is missing, corrupt, or fails its sha256 check."""


class FileFormatError(CellModelsError, ValueError):
    """A cellmodels file is corrupt, truncated, or written by another schema version."""


class SolverError(CellModelsError, RuntimeError):
    """A physics solve failed, or stopped before its protocol was complete."""


def range_message(field: str, owner: str, allowed: str, value: object) -> str:
    """The one message format for an out-of-range value (after scikit-learn)."""
    return f"The '{field}' {owner} must be {allowed}. Got {value!r} instead."


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """A ' Did you mean ...?' suffix listing close matches of ``name``, or ''."""
    close = difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def check_range(
    value: float,
    field: str,
    owner: str,
    low: float = float("-inf"),
    high: float = float("inf"),
    *,
    closed: tuple[bool, bool] = (True, True),
    error: type[CellModelsError] = InputError,
) -> float:
    """Return ``float(value)`` if it lies in the interval, else raise ``error``.

    NaN is always refused.
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise error(range_message(field, owner, "a real number", value)) from None
    lo_ok = x >= low if closed[0] else x > low
    hi_ok = x <= high if closed[1] else x < high
    if not (lo_ok and hi_ok):  # also catches NaN
        lb = "[" if closed[0] else "("
        rb = "]" if closed[1] else ")"
        raise error(range_message(field, owner, f"in the range {lb}{low:g}, {high:g}{rb}", value))
    return x


class CutoffError(SolverError):
    """A run reached a voltage or other cut-off before its protocol was complete."""


class FMUBuildError(CellModelsError, RuntimeError):
    """The FMU could not be built: no C compiler, or the compiler failed."""
