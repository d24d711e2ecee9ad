"""Physics: parameter sets, PyBaMM models for liquid, semi-solid and lean cells, protocols."""

from .cells import EXTENSIONS, PLAUSIBLE, Cell, available_cells, bpx_document, load_cell
from .models import HEAT_VARIABLES, LOSS_VARIABLES, MODELS, build_model, model_options
from .protocols import hppc, pulse_train
from .simulate import Run, piecewise_constant, simulate

__all__ = [
    "Cell",
    "EXTENSIONS",
    "HEAT_VARIABLES",
    "LOSS_VARIABLES",
    "MODELS",
    "PLAUSIBLE",
    "Run",
    "available_cells",
    "bpx_document",
    "build_model",
    "hppc",
    "pulse_train",
    "load_cell",
    "model_options",
    "piecewise_constant",
    "simulate",
]
