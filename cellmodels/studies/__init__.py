"""Studies: one kind of computation (heating, life) over a grid of cells, UPS controls and
duty cycles, on a local process pool or a Dask cluster, saved as it goes and resumable.

::

    from cellmodels.studies import load_study_config, run_study, load_study
    config = load_study_config("heating.toml", kind="heating")
    summary = run_study(config)                      # local processes
    summary = run_study(config, scheduler="tcp://10.0.0.5:8786")   # a Dask cluster
    results = load_study(summary.path)               # points, values, errors

The command line: ``cellmodels study heating CONFIG.toml [-o out.h5] [--scheduler ...]``.
Modules: :mod:`~cellmodels.studies.config` (the TOML layout), :mod:`~cellmodels.studies.kinds`
(what one point computes), :mod:`~cellmodels.studies.runner`, :mod:`~cellmodels.studies.store`
(the HDF5 file), :mod:`~cellmodels.studies.plots`.
"""

from .config import KINDS, Axis, StudyConfig, load_study_config, parse_study_config
from .kinds import run_point
from .plots import plot_study
from .runner import StudySummary, resolve_cells, run_study
from .store import PointResult, StudyResults, load_study

__all__ = [
    "KINDS",
    "Axis",
    "PointResult",
    "StudyConfig",
    "StudyResults",
    "StudySummary",
    "load_study",
    "load_study_config",
    "parse_study_config",
    "plot_study",
    "resolve_cells",
    "run_point",
    "run_study",
]
