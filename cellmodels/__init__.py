"""cellmodels: PyBaMM physics of semi-solid and lean-electrolyte cells for ultra-low DCR,
reduced to equivalent circuits for fast pulse-load UPS studies.

The layout is the pipeline (see DESIGN.md): :mod:`cellmodels.physics` (parameter sets,
models, protocols), :mod:`cellmodels.dcr` (pulse resistance and its loss breakdown),
:mod:`cellmodels.data` (registry of measured data). Public names are re-exported here.
"""

import os as _os

# PyBaMM may wait on a telemetry prompt at import unless told not to.
_os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

from . import data  # noqa: E402
from .errors import (  # noqa: E402
    CellModelsError,
    CutoffError,
    DataError,
    FileFormatError,
    InputError,
    ParameterError,
    SolverError,
)
from .physics import (  # noqa: E402
    Cell,
    Run,
    available_cells,
    build_model,
    load_cell,
    simulate,
)

from .dcr import dcr_map, pulse_dcr  # noqa: E402
from .measured import Dataset, read_measured  # noqa: E402
from .reduction import ECM, load_ecm, save_ecm, simulate_ecm  # noqa: E402
from .reduction.identify import ECMIdentifier, reduce_cell  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "ECM",
    "ECMIdentifier",
    "Cell",
    "CellModelsError",
    "CutoffError",
    "DataError",
    "Dataset",
    "FileFormatError",
    "InputError",
    "ParameterError",
    "Run",
    "SolverError",
    "available_cells",
    "build_model",
    "data",
    "dcr_map",
    "load_cell",
    "load_ecm",
    "pulse_dcr",
    "read_measured",
    "reduce_cell",
    "save_ecm",
    "simulate",
    "simulate_ecm",
]
