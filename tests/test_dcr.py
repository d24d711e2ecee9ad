"""DCR: exact answers (an added series resistance adds exactly itself), invariants, bad input."""

import numpy as np
import pytest

import cellmodels as cm
from cellmodels.dcr import COMPONENTS, PulseEngine, dcr_map, pulse_dcr
from cellmodels.errors import InputError

from .conftest import own_set

# IDAKLU at rtol 1e-6 / atol 1e-8 on voltages of ~3.3 V: errors of order 1e-6 V, i.e.
# 1e-6 Ohm on a 1 A pulse. 1e-5 Ohm is 10x that margin.
ATOL_OHM = 1e-5


def _with_contact(R):
    def mutate(doc):
        doc["Parameterisation"]["User-defined"] = {"Contact resistance [Ohm]": R}
        doc["cellmodels"]["provenance"]["User-defined/Contact resistance [Ohm]"] = {
            "source": "test"}
    return mutate


def test_contact_resistance_adds_exactly_itself(tmp_path):
    base = cm.load_cell(own_set(tmp_path, name="base"))
    plus = cm.load_cell(own_set(tmp_path, _with_contact(0.004), name="plus"))
    # isothermal: with lumped thermal the extra I^2 R warms the cell and lowers the rest
    r0 = PulseEngine(base, thermal="isothermal").pulse(0.5, 298.15, 2.0)
    r1 = PulseEngine(plus, thermal="isothermal").pulse(0.5, 298.15, 2.0)
    np.testing.assert_allclose(r1["dcr_Ohm"] - r0["dcr_Ohm"], 0.004, atol=ATOL_OHM)
    np.testing.assert_allclose(r1["contact"], 0.004, atol=ATOL_OHM)


def test_breakdown_sums_to_dcr_and_other_is_small():
    res = pulse_dcr("aboutenergy_lfp", soc=0.5, c_rate=1.0)
    total = sum(res[n] for n in COMPONENTS)
    np.testing.assert_allclose(total, res["dcr_Ohm"], rtol=1e-12)
    # the x-averaging residual of PyBaMM's loss variables stays below 1 % of the DCR
    assert np.all(np.abs(res["other"]) < 0.01 * res["dcr_Ohm"])


def test_dcr_grows_with_duration_and_falls_with_temperature():
    cold = pulse_dcr("aboutenergy_lfp", temperature_K=283.15)["dcr_Ohm"]
    warm = pulse_dcr("aboutenergy_lfp", temperature_K=308.15)["dcr_Ohm"]
    assert np.all(np.diff(warm) > 0) and np.all(np.diff(cold) > 0)
    assert np.all(cold > warm)


def test_engine_reuse_gives_the_same_answer():
    engine = PulseEngine(cm.load_cell("aboutenergy_lfp"))
    a = engine.pulse(0.5, 298.15, 2.0)["dcr_Ohm"]
    engine.pulse(0.2, 288.15, 4.0)
    b = engine.pulse(0.5, 298.15, 2.0)["dcr_Ohm"]
    np.testing.assert_allclose(a, b, rtol=1e-9)


def test_map_shape_and_figure(tmp_path):
    m = dcr_map("aboutenergy_lfp", soc=(0.3, 0.7), temperature_K=(288.15, 298.15))
    assert m.dcr_Ohm.shape == (2, 2, 4)
    assert np.all(np.isfinite(m.dcr_Ohm)) and not m.failures
    assert "mOhm.Ah" in m.table()
    assert m.plot(tmp_path / "map.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"soc": 1.2}, r"'soc' of a DCR pulse must be in the range \[0, 1\]. Got 1.2"),
        ({"soc": float("nan")}, r"'soc' of a DCR pulse must be in the range"),
        ({"temperature_K": 400.0}, r"'temperature_K' for cell aboutenergy_lfp must be in "
                                   r"the range \[283.15, 318.15\]. Got 400.0"),
        ({"durations_s": (-1.0,)}, r"'durations_s' of a DCR pulse must be positive"),
        ({"c_rate": 0.0}, r"'c_rate' of a DCR pulse must be in the range \(0, 100\]"),
    ],
)
def test_bad_input_names_field_range_and_value(kwargs, match):
    with pytest.raises(InputError, match=match):
        pulse_dcr("aboutenergy_lfp", **kwargs)


def test_double_layer_makes_the_millisecond_response_capacitive(tmp_path):
    def with_dl(doc):
        doc["Parameterisation"]["User-defined"] = {
            "Negative electrode double-layer capacity [F.m-2]": 0.2,
            "Positive electrode double-layer capacity [F.m-2]": 0.2,
        }

    plain = cm.load_cell(own_set(tmp_path, name="plain"))
    dl = cm.load_cell(own_set(tmp_path, with_dl, name="dl"))
    r0 = PulseEngine(plain, thermal="isothermal").pulse(0.5, 298.15, 2.0)
    r1 = PulseEngine(dl, thermal="isothermal").pulse(0.5, 298.15, 2.0)
    # at 1 ms the double layer carries part of the current: less charge-transfer drop
    assert r1["charge_transfer"][0] < 0.9 * r0["charge_transfer"][0]
    # once charged (10 s >> R_ct C_dl), the kinetic drop is the same
    assert r1["dcr_Ohm"][-1] == pytest.approx(r0["dcr_Ohm"][-1], rel=2e-3)
