"""Duty cycles: load profiles, generators of AI-training swings, and measured traces.

A :class:`Profile` is zero-order-hold power (or current) against time with its provenance;
:func:`synchronized_training` draws a seeded facility profile of racks swinging together;
:func:`import_trace` reads a measured trace (CSV, HDF5) with declared units;
:func:`make_profile` builds either from a TOML configuration; :func:`save_profile` and
:func:`load_profile` keep it in HDF5 and :func:`plot_profile` draws it.
"""

from .generators import GENERATORS, make_profile, synchronized_training
from .io import SCHEMA_VERSION, import_trace, load_profile, plot_profile, save_profile
from .profile import Profile

__all__ = [
    "GENERATORS",
    "SCHEMA_VERSION",
    "Profile",
    "import_trace",
    "load_profile",
    "make_profile",
    "plot_profile",
    "save_profile",
    "synchronized_training",
]
