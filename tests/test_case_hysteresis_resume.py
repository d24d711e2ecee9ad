"""The reduction_hysteresis validation case (validation/case_hysteresis.py, ~800 s) resumes:
its identification and DFN runs are kept under a key of what they depend on (through
validation/case_reduction.py's store) and read back by a rerun. The expensive steps are
replaced by counting stand-ins here, so nothing real is solved."""

import importlib
import types

import numpy as np
import pytest

import validation.case_hysteresis as ch
import validation.case_reduction as cr
from cellmodels.reduction import ECM


def _ecm(**changes) -> ECM:
    soc = np.array([0.0, 0.5, 1.0])
    fields = {
        "name": "test ECM", "capacity_Ah": 50.0, "soc": soc,
        "temperature_K": np.array([283.15, 298.15]), "ocv_V": np.array([3.0, 3.3, 3.4]),
        "docv_dT_V_per_K": np.array([1e-4, 0.0, -1e-4]), "r0_Ohm": np.full((3, 2), 1e-3),
        "rc_R_Ohm": np.full((1, 3, 2), 5e-4), "rc_tau_s": np.full((1, 3, 2), 10.0),
        "thermal_mass_J_per_K": 900.0, "heat_transfer_W_per_K": 0.5,
        "limits": {"voltage_min_V": 2.5, "voltage_max_V": 3.65},
        "validity": {"soc_min": 0.05, "current_max_A": float("inf")},
        "error": {"identification_rmse_V_mean": 3.15e-3 / 3},  # not a short decimal
        "provenance": {"source": "test", "sha256": "abc"},
        "ct_R_Ohm": np.full((3, 2), 2e-3), "ct_i0_A": np.full((3, 2), 40.0),
        "hysteresis_V": np.array([0.01, 0.01, 0.009]), "hysteresis_rate": 130.0 * 0.9 / 2,
        "hysteresis_initial": -1.0}
    fields.update(changes)
    return ECM(**fields)


def _same_ecm(a: ECM, b: ECM) -> None:
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)  # bitwise: the figures must not move
        else:
            assert x == y and type(x) is type(y), name


@pytest.fixture
def stand_ins(monkeypatch):
    """Counting stand-ins for the identification and the DFN solve."""
    calls = {"identify": 0, "dfn": 0}

    class Identifier:
        def __init__(self, **settings):
            self.settings = settings

        def fit(self, cell):
            calls["identify"] += 1
            self.ecm_ = _ecm(provenance={"source": cell.sha256})
            return self

    def simulate(cell, *, initial_soc, temperature_K, current_A, time_s, t_out, **_):
        calls["dfn"] += 1
        t_out = np.asarray(t_out)
        return types.SimpleNamespace(time_s=t_out, voltage_V=3.3 - 1e-4 * t_out,
                                     temperature_K=temperature_K + 1e-3 * t_out)

    monkeypatch.setattr("cellmodels.reduction.identify.ECMIdentifier", Identifier)
    # the module (cellmodels.physics's name "simulate" is the function)
    monkeypatch.setattr(importlib.import_module("cellmodels.physics.simulate"), "simulate",
                        simulate)
    return calls


def test_an_ecm_goes_through_a_kept_file_unchanged(tmp_path):
    """Every field (arrays, numbers, dicts with inf, absent elements) comes back exactly."""
    for ecm in (_ecm(), _ecm(ct_R_Ohm=None, ct_i0_A=None, hysteresis_V=None,
                             hysteresis_rate=None, hysteresis_initial=None)):
        key = cr.run_key("identify", cell=ecm.name, n=ecm.has_ct)
        _, kept = cr.kept_arrays(tmp_path, "identify", key, lambda e=ecm: ch.ecm_arrays(e))
        assert not kept
        back, kept = cr.kept_arrays(tmp_path, "identify", key, lambda: pytest.fail("rerun"))
        assert kept
        _same_ecm(ecm, ch.ecm_from_arrays(back))


def test_the_case_keeps_its_runs_in_its_own_folder():
    """Its keys never meet case_reduction's (validation/out/reduction_runs)."""
    assert ch.cache_dir() == cr.OUT_DIR / "hysteresis_runs"
    assert ch.cache_dir() != cr.OUT_DIR / cr.CACHE_DIR_NAME


def test_a_second_run_reads_back_and_a_changed_input_runs_again(tmp_path, monkeypatch,
                                                                stand_ins):
    # The store case_hysteresis uses: `cellmodels validate` (tests/test_cli.py) registers
    # validation.case_reduction afresh, so the module imported above may no longer be it,
    # and a monkeypatch must reach the one the case calls.
    cr = ch._store()
    cell = types.SimpleNamespace(sha256="cell-a", capacity_Ah=50.0)
    t_prof, i_prof = ch.ups_duty(50.0, length_s=60.0)
    t = np.unique(np.concatenate([np.arange(0.0, t_prof[-1], 0.25), t_prof]))

    ecm, seconds, kept = ch.identified_ecm(cell, tmp_path)
    assert not kept and stand_ins["identify"] == 1
    again, seconds_again, kept = ch.identified_ecm(cell, tmp_path)
    assert kept and stand_ins["identify"] == 1 and seconds_again == seconds
    _same_ecm(ecm, again)

    dfn, kept = ch.dfn_reference(cell, 298.15, t_prof, i_prof, t, tmp_path)
    assert not kept and stand_ins["dfn"] == 1
    dfn_again, kept = ch.dfn_reference(cell, 298.15, t_prof, i_prof, t, tmp_path)
    assert kept and stand_ins["dfn"] == 1
    np.testing.assert_array_equal(dfn_again["v"], dfn["v"])
    np.testing.assert_array_equal(dfn_again["T"], dfn["T"])

    # each keyed input of a DFN run: temperature, profile, output times, cell content
    changed = [(cell, 313.15, t_prof, i_prof, t),
               (cell, 298.15, t_prof, i_prof * 1.01, t),
               (cell, 298.15, t_prof, i_prof, t[::2]),
               (types.SimpleNamespace(sha256="cell-b"), 298.15, t_prof, i_prof, t)]
    for n, args in enumerate(changed, start=2):
        _, kept = ch.dfn_reference(*args, tmp_path)
        assert not kept and stand_ins["dfn"] == n
    assert stand_ins["identify"] == 1

    # an identification setting or another cell identifies again
    monkeypatch.setattr(ch, "AMPLITUDE", 0.3)
    _, _, kept = ch.identified_ecm(cell, tmp_path)
    assert not kept and stand_ins["identify"] == 2
    monkeypatch.setattr(ch, "AMPLITUDE", 0.2)
    _, _, kept = ch.identified_ecm(types.SimpleNamespace(sha256="cell-b"), tmp_path)
    assert not kept and stand_ins["identify"] == 3

    # an edit of cellmodels.reduction re-identifies and keeps the DFN runs; one of
    # cellmodels.physics runs both again
    real = cr._code_digest
    monkeypatch.setattr(cr, "_code_digest",
                        lambda p: real(p) + ("+reduction" if "reduction" in p else ""))
    _, _, kept = ch.identified_ecm(cell, tmp_path)
    assert not kept and stand_ins["identify"] == 4
    _, kept = ch.dfn_reference(cell, 298.15, t_prof, i_prof, t, tmp_path)
    assert kept and stand_ins["dfn"] == 5
    monkeypatch.setattr(cr, "_code_digest", lambda p: real(p) + "+physics")
    _, _, kept = ch.identified_ecm(cell, tmp_path)
    assert not kept and stand_ins["identify"] == 5
    _, kept = ch.dfn_reference(cell, 298.15, t_prof, i_prof, t, tmp_path)
    assert not kept and stand_ins["dfn"] == 6

    # nothing but the kept files, no temporaries
    assert all(p.suffix == ".npz" for p in tmp_path.iterdir())
