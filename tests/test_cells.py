from .conftest import own_set as _own_set

import pytest

import cellmodels as cm
from cellmodels.errors import ParameterError


def test_unknown_cell_lists_available():
    with pytest.raises(ParameterError, match="Available: .*aboutenergy_lfp"):
        cm.load_cell("no_such_cell")


def test_unknown_cell_suggests_close_name():
    with pytest.raises(ParameterError, match="Did you mean 'aboutenergy_lfp'"):
        cm.load_cell("aboutenergy_lpf")


def test_registry_backed_set_loads_with_hash():
    cell = cm.load_cell("aboutenergy_lfp")
    assert cell.capacity_Ah == pytest.approx(2.0)
    assert cell.electrolyte_kind == "liquid"
    pv = cell.parameter_values()
    assert pv["Nominal cell capacity [A.h]"] == pytest.approx(2.0)
    # a fresh copy each call
    pv.update({"Nominal cell capacity [A.h]": 3.0})
    assert cell.parameter_values()["Nominal cell capacity [A.h]"] == pytest.approx(2.0)


def test_value_outside_range_names_parameter_range_and_value(tmp_path):
    def mutate(doc):
        doc["Parameterisation"]["Negative electrode"]["Particle radius [m]"] = 1e-3

    with pytest.raises(ParameterError, match=(
        r"'Negative electrode/Particle radius \[m\]' must be in the plausible range "
        r"\[1e-08, 5e-05\]. Got 0.001 instead")):
        cm.load_cell(_own_set(tmp_path, mutate))


def test_value_outside_own_source_range(tmp_path):
    def mutate(doc):
        doc["cellmodels"]["provenance"]["Separator/Porosity"] = {
            "source": "test", "range": [0.3, 0.4]
        }

    with pytest.raises(ParameterError, match="its cited source's range \\[0.3, 0.4\\]. Got 0.47"):
        cm.load_cell(_own_set(tmp_path, mutate))


def test_misspelt_key_is_refused_with_suggestion(tmp_path):
    def mutate(doc):
        sep = doc["Parameterisation"]["Separator"]
        sep["Porosty"] = sep.pop("Porosity")

    with pytest.raises(ParameterError, match="unknown parameter 'Porosty'.*Did you mean 'Porosity'"):
        cm.load_cell(_own_set(tmp_path, mutate))


def test_misspelt_user_defined_key_is_refused(tmp_path):
    def mutate(doc):
        doc["Parameterisation"]["User-defined"] = {"Contact resistence [Ohm]": 0.001}

    with pytest.raises(ParameterError, match="Did you mean 'Contact resistance \\[Ohm\\]'"):
        cm.load_cell(_own_set(tmp_path, mutate))


def test_expression_with_code_is_refused(tmp_path):
    def mutate(doc):
        doc["Parameterisation"]["Electrolyte"]["Conductivity [S.m-1]"] = "exec(x)"

    with pytest.raises(ParameterError, match="call to exec"):
        cm.load_cell(_own_set(tmp_path, mutate))


def test_own_set_loads_and_runs(tmp_path):
    cell = cm.load_cell(_own_set(tmp_path, lambda doc: None))
    run = cm.simulate(cell, initial_soc=0.5, temperature_K=298.15, current_A=2.0, duration_s=5.0)
    assert run.voltage_V[-1] < run.ocv_V[0]


def test_state_block_is_range_checked(tmp_path):
    def mutate(doc):
        doc["State"]["Initial conditions"]["Initial electrolyte concentration [mol.m-3]"] = 1e6

    with pytest.raises(ParameterError, match=r"'State/Initial conditions/Initial electrolyte "
                                             r"concentration \[mol.m-3\]' must be in the plausible"
                                             r" range \[100, 4000\]. Got 1000000.0"):
        cm.load_cell(_own_set(tmp_path, mutate))
