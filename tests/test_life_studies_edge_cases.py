"""cellmodels.life and cellmodels.studies at their edges (a review, session 10): each test
reproduced a defect found there and failed before its fix - repeating windows that end at
their top or have two samples, windows lengthened to whole decimation bins, one-bin windows
losing their extremes, unchecked step caps (0 hung), capacity_at past the projection,
storage_run inputs, studies mixing a changed fixed value or an edited input file with old
results, a [life] model path not taken from the config's folder, a cached reduced cell kept
after its set changed, two labels of one ECM merged, and a finished point not saved within
0.2 s."""

import json
import math
import time
import warnings

import numpy as np
import pytest

from cellmodels.errors import InputError
from cellmodels.life import AgeingModel, LifeResult, project_life, soc_sequence
from cellmodels.reduction import save_ecm
from cellmodels.studies import load_study, parse_study_config, run_study

from .test_ecm import make_ecm
from .test_life import _config, _one_term
from .test_ups_kernel import varied_ecm

YEAR_S = 365.25 * 86400.0


# ---- rainflow of a repeated window ------------------------------------------------------
def _dod_model():
    """One cycle term whose rate is the DoD itself (no validity ranges, micro-cycle weight 1),
    so ``dX = sum(count * dod * dod)`` tells how the cycles were counted."""
    return AgeingModel.from_dict({
        "name": "dod", "terms": [{"name": "c", "kind": "cycle", "output": "capacity",
                                  "exponent": 1.0, "source": "test",
                                  "factors": [{"type": "power", "variable": "dod",
                                               "x_ref": 1.0, "n": 1.0}]}],
        "micro_cycle": {"weight": 1.0, "dod": 0.02, "source": "test"}})


@pytest.mark.parametrize("z", [[0.50, 0.51, 0.52, 0.53], [0.53, 0.52, 0.51, 0.50]],
                         ids=["rising", "falling"])
def test_periodic_window_ending_at_its_highest_soc_counts_one_full_cycle(z):
    # Repeated back to back, a 3 h ramp between 0.50 and 0.53 (closed by the step back) is
    # one full 3 % cycle per window, whichever way it ramps: ASTM E1049 counts a repeating
    # history from its highest point. The rotation looks for the highest SOC only in
    # z[:-1], so a window whose maximum is its last sample (any window that ends charging
    # at its top) is counted from 0.52 instead: halves of 1 %, 3 % and 2 % -> 1.5 cycles,
    # half of the throughput in micro-cycles (< 2 % DoD), and a lower DoD-weighted damage.
    t = np.array([0.0, 1.0, 2.0, 3.0]) * 3600.0
    ws = _dod_model().window_stress(t, z, 298.15)
    assert ws.summary["n_cycles"] == 1.0
    assert ws.summary["efc_micro_share"] == 0.0
    # one full cycle of 0.03: dX = 1 * 0.03 * 0.03 (round-off of 0.53 - 0.50 only)
    assert ws.dX[0] == pytest.approx(0.03 * 0.03, rel=1e-12)


def test_periodic_two_sample_window_is_closed_like_longer_ones():
    # window_stress(periodic=True) promises a drifting window is closed by a step back
    # (a 0.50 -> 0.53 window repeated is one full 3 % cycle, 0.03 EFC); with exactly two
    # samples the closure is skipped (``t.size > 2``) and it counts half a cycle: 0.015 EFC
    ws = _dod_model().window_stress([0.0, 3600.0], [0.50, 0.53], 298.15)
    assert ws.efc == pytest.approx(0.03, rel=1e-12)


# ---- cycle jumping -----------------------------------------------------------------------
def test_window_duration_is_the_profile_duration_not_whole_decimation_bins():
    # A 90 s window decimated at 60 s has a full first bin and a 30 s last bin; the SOC
    # series is built as if both were 60 s long, so each repeat is taken as 120 s: service
    # time runs 4/3 too fast against the window's cycles (a quarter of the cycle ageing per
    # year is lost) and calendar time accrues for 30 s that were never simulated.
    m = _one_term(exponent=1.0, factors=[{"type": "constant", "value": 1e-4}])
    res = project_life(varied_ecm(), _config(), np.zeros(90), dt_s=1.0, years=0.001,
                       model=m, soc_resolution_s=60.0, check_capability=False)
    assert res.info["window_s"] == 90.0


def _guarded_runner(monkeypatch, limit=30):
    """Make _Runner.window raise after ``limit`` windows (a projection that never ends)."""
    from cellmodels.life import jump

    orig = jump._Runner.window
    calls = {"n": 0}

    def window(self, q, r):
        calls["n"] += 1
        if calls["n"] > limit:
            raise RuntimeError(f"more than {limit} windows: the projection does not advance")
        return orig(self, q, r)

    monkeypatch.setattr(jump._Runner, "window", window)


@pytest.mark.parametrize("field, value", [
    ("max_step_years", 0.0),            # n = 0 windows per step: never advances (hangs)
    ("max_step_years", -1.0),           # refused, but as "'repeats' argument of advance"
    ("max_step_years", float("nan")),   # ignored by min(): silently no cap
    ("max_capacity_step", 0.0),         # every step one window: 15 years = 788k windows
    ("max_capacity_step", float("nan")),
])
def test_step_caps_of_project_life_are_validated(monkeypatch, field, value):
    _guarded_runner(monkeypatch)
    m = _one_term(exponent=1.0, factors=[{"type": "constant", "value": 1e-4}])
    with pytest.raises(InputError, match=rf"The '{field}' argument of project_life must be "
                                         r"in the range"):
        project_life(varied_ecm(), _config(), np.zeros(60), dt_s=1.0, years=0.01, model=m,
                     check_capability=False, **{field: value})


def test_years_takes_numpy_integers_and_refuses_booleans():
    # 'years' is checked with isinstance(years, int | float): np.int64(1) (a year taken
    # from a numpy grid) is refused with "must be in the range (0, 50]. Got np.int64(1)",
    # a message that contradicts itself, while True passes as one year
    m = _one_term(exponent=1.0, factors=[{"type": "constant", "value": 1e-4}])
    res = project_life(varied_ecm(), _config(), np.zeros(600), dt_s=1.0, years=np.int64(1),
                       model=m, check_capability=False)
    assert res.time_years[-1] == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(InputError, match=r"The 'years' argument of project_life must be"):
        project_life(varied_ecm(), _config(), np.zeros(600), dt_s=1.0, years=True, model=m,
                     check_capability=False)


def test_capacity_at_beyond_the_projection_is_not_its_last_value():
    # A projection that stopped at 1 year (e.g. at floor_capacity) answered capacity_at(5)
    # with the 1-year value: np.interp clamps. The docs' own table says "below 0.5
    # (stopped at the floor at 2.95 years)" for exactly this call.
    res = LifeResult(time_s=np.array([0.0, YEAR_S]), capacity_fraction=np.array([1.0, 0.6]),
                     resistance_factor=np.array([1.0, 1.5]), efc=np.array([0.0, 100.0]),
                     reservoir_m3=np.full(2, np.nan), temperature_max_K=np.full(2, 300.0),
                     ride_through_ok=np.ones(2, bool))
    assert res.capacity_at(0.5) == pytest.approx(0.8, rel=1e-12)  # inside: linear
    for f in (res.capacity_at, res.resistance_at):
        for years in (5.0, -1.0):
            try:
                v = f(years)
            except InputError as exc:  # a clear error naming the range is fine too
                assert "years" in str(exc)
            else:
                assert math.isnan(v), (f.__name__, years, v)


def test_single_bin_window_keeps_its_soc_extremes():
    # soc_sequence keeps every bin's min and max, except when the window is one bin: then
    # it returns the mean twice and the bin's swing (0.4 .. 0.6 here) is dropped, so a
    # window as long as soc_resolution_s sees no cycle at all
    ts, zs = soc_sequence([0.0], [0.4], [0.6], [0.5], 10.0)
    assert zs.min() == 0.4 and zs.max() == 0.6
    assert ts[0] == 0.0 and ts[-1] == 10.0 and np.all(np.diff(ts) > 0)


# ---- studies -------------------------------------------------------------------------------
def _fake_point(kind, ecm, params):
    """A point that echoes its inputs (no physics): enough to test the runner and store."""
    return {"status": "ok", "error": "", "values": {"x": 1.0}, "arrays": {}, "notes": {},
            "warnings": [], "seconds": 0.0}


def _heating_config(ecm_file, soc, cells=None):
    return parse_study_config({"cells": cells or [str(ecm_file)], "name": "t",
                               "heating": {"swing_depth": 1e-4, "period_s": [1.0, 2.0],
                                           "soc": soc}}, kind="heating")


@pytest.fixture()
def ecm_file(tmp_path):
    return save_ecm(make_ecm(), tmp_path / "cell.ecm.h5")


def test_changed_fixed_field_is_not_silently_mixed_with_old_points(tmp_path, ecm_file):
    # Run at soc = 0.5, then change the fixed soc to 0.8 and rerun on the same file. Every
    # point is new (its inputs changed) and the old ones stay in the file; but soc is not
    # an axis, so table() (and results_table, and the heating map) hold two rows per
    # coordinate with nothing telling them apart, and the file's config is still the first
    # run's. Either refuse the changed config (naming the field) or tell the rows apart.
    out = tmp_path / "s.h5"
    run_study(_heating_config(ecm_file, 0.5), output=out, workers=0, progress=False,
              plot=False, _point=_fake_point)
    try:
        run_study(_heating_config(ecm_file, 0.8), output=out, workers=0, progress=False,
                  plot=False, _point=_fake_point)
    except InputError as exc:
        assert "heating.soc" in str(exc) or "'soc'" in str(exc)
        return
    res = load_study(out)
    rows = res.table()
    outputs = {"id", "status", "error", "x"}
    keys = {json.dumps({k: v for k, v in r.items() if k not in outputs}, sort_keys=True)
            for r in rows}
    assert len(keys) == len(rows) == 4, rows


@pytest.mark.parametrize("which", ["trace", "model"])
def test_changed_input_file_is_computed_again(tmp_path, ecm_file, which):
    # A life study's [dutycycle] trace and [life] model JSON are files: a point's id holds
    # their path, not their content, so after editing the file a rerun skips every point
    # and the study keeps the results of the old load (or old coefficients) silently.
    trace = tmp_path / "load.csv"
    trace.write_text("time_s,power_W\n0,1000\n1,2000\n2,1000\n")
    model = tmp_path / "coeffs.json"
    m = _one_term(exponent=1.0, factors=[{"type": "constant", "value": 1e-4}])
    model.write_text(json.dumps(m.to_dict()))
    data = {"cells": [str(ecm_file)], "name": "t",
            "life": {"years": 1.0, "model": str(model)},
            "ups": {"rectifier": {"rated_W": 3e4}, "inverter": {"rated_W": 3e4},
                    "battery": {"n_series": 100}},
            "dutycycle": {"generator": "trace", "path": str(trace)}}
    out = tmp_path / "life.h5"
    first = run_study(parse_study_config(data, kind="life"), output=out, workers=0,
                      progress=False, plot=False, _point=_fake_point)
    assert first.computed == 1
    if which == "trace":
        trace.write_text("time_s,power_W\n0,5000\n1,9000\n2,5000\n")
    else:
        m2 = _one_term(exponent=1.0, factors=[{"type": "constant", "value": 9e-4}])
        model.write_text(json.dumps(m2.to_dict()))
    second = run_study(parse_study_config(data, kind="life"), output=out, workers=0,
                       progress=False, plot=False, _point=_fake_point)
    assert (second.computed, second.skipped) == (1, 0)


def test_life_model_file_is_taken_from_the_config_folder(tmp_path):
    # [dutycycle] path (a trace) is taken from the config's folder, as ECM cells are;
    # [life] model = "coeffs.json" is left relative, so each worker looks for it in its own
    # working directory and every point fails an hour into the sweep (a Dask worker on
    # another machine never finds it)
    data = {"cells": ["cell.ecm.h5"], "life": {"years": 1.0, "model": "coeffs.json"},
            "ups": {"rectifier": {"rated_W": 3e4}, "inverter": {"rated_W": 3e4},
                    "battery": {"n_series": 100}},
            "dutycycle": {"generator": "trace", "path": "load.csv"}}
    cfg = parse_study_config(data, kind="life", base_dir=tmp_path)
    params = cfg.points()[0]["params"]
    assert params["dutycycle"]["path"] == str((tmp_path / "load.csv").resolve())  # as is
    assert params["life"]["model"] == str((tmp_path / "coeffs.json").resolve())


def test_two_cell_labels_of_one_ecm_file_are_not_silently_merged(tmp_path, ecm_file):
    # cells = ["cell.ecm.h5", "./cell.ecm.h5"] (or two byte-identical copies) pass the
    # duplicate check (different strings); both resolve to the same sha256, so every point
    # of the second label has the id of the first and is dropped as "the same inputs twice
    # in the grid": the summary says 2 points for a 2 x 2 grid and the table has no row
    # for the second label. Refuse it (naming both labels), or run and record both.
    copy = tmp_path / "copy.ecm.h5"
    copy.write_bytes(ecm_file.read_bytes())
    cfg = _heating_config(ecm_file, 0.5, cells=[str(ecm_file), str(copy)])
    try:
        summary = run_study(cfg, output=tmp_path / "d.h5", workers=0, progress=False,
                            plot=False, _point=_fake_point)
    except InputError as exc:
        assert "copy.ecm.h5" in str(exc)
        return
    assert summary.total == 4
    assert {r["cell"] for r in load_study(summary.path).table()} == {str(ecm_file), str(copy)}


def test_a_finished_point_is_in_a_part_within_0_2_s(tmp_path, ecm_file, monkeypatch):
    # docs/studies.md: "Each finished point is written within 0.2 s to a small HDF5 file in
    # <output>.parts/". The runner wrote a part only when a point *finished* and the last
    # part was 0.2 s old, so points finishing sooner waited in memory for the next one to
    # finish - in a life study, minutes to hours later; killed meanwhile, they were lost.
    # A thread pool stands in for the process pool (same futures; closures allowed).
    import concurrent.futures as cf

    from cellmodels.studies.runner import _Local

    monkeypatch.setattr(_Local, "_start",
                        lambda self: setattr(self, "pool", cf.ThreadPoolExecutor(2)))
    out = tmp_path / "p.h5"
    seen = {}

    def point(kind, ecm, params):
        if params["heating"]["period_s"] == 3.0:  # the long point: p1, p2 finished long ago
            time.sleep(0.6)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                seen["stored"] = len(load_study(out).points)
        return _fake_point(kind, ecm, params)

    cfg = parse_study_config({"cells": [str(ecm_file)], "name": "t",
                              "heating": {"swing_depth": 1e-4, "period_s": [1.0, 2.0, 3.0],
                                          "soc": 0.5}}, kind="heating")
    run_study(cfg, output=out, workers=2, progress=False, plot=False, _point=point)
    assert seen["stored"] == 2  # both quick points, within 0.6 s of finishing


def test_edited_parameter_set_is_reduced_again(tmp_path, monkeypatch):
    # A parameter-set cell is reduced once and cached in <output>.cells/<label>-<tag>.ecm.h5
    # with the tag a digest of [reduce] only. Edit the parameter set (a new capacity) and
    # the rerun loads the old cached ECM: same ECM digest, so every point is skipped and
    # the study keeps the old cell's results without a word.
    from cellmodels.physics import cells as cells_mod
    from cellmodels.reduction import identify

    sets = tmp_path / "sets"
    sets.mkdir()
    src = cells_mod._sets_dir() / "semisolid_lfp_power.json"
    doc = json.loads(src.read_text())
    (sets / "mycell.json").write_text(json.dumps(doc))
    monkeypatch.setattr(cells_mod, "_sets_dir", lambda: sets)
    calls = []

    def fake_reduce(name, progress=False, **kwargs):
        # stands in for the DFN identification: the ECM follows the set's capacity
        capacity = json.loads((sets / f"{name}.json").read_text())[
            "Parameterisation"]["Cell"]["Nominal cell capacity [A.h]"]
        calls.append(capacity)
        return make_ecm(capacity_Ah=float(capacity))

    monkeypatch.setattr(identify, "reduce_cell", fake_reduce)
    cfg = parse_study_config({"cells": ["mycell"], "reduce": {"n_rc": 2},
                              "heating": {"period_s": 1.0, "swing_depth": 1e-4}},
                             kind="heating")
    out = tmp_path / "p.h5"
    run_study(cfg, output=out, workers=0, progress=False, plot=False, _point=_fake_point)
    doc["Parameterisation"]["Cell"]["Nominal cell capacity [A.h]"] *= 1.1
    (sets / "mycell.json").write_text(json.dumps(doc))
    second = run_study(cfg, output=out, workers=0, progress=False, plot=False,
                       _point=_fake_point)
    assert len(calls) == 2  # reduced again for the edited set
    assert (second.computed, second.skipped) == (1, 0)


@pytest.mark.parametrize("kwargs, field", [
    ({"temperature_K": 298.15, "soc": 1.5, "days": 10.0}, "soc"),  # PyBaMM ModelError
    ({"temperature_K": -5.0, "soc": 0.5, "days": 10.0}, "temperature_K"),  # IDA SolverError
    ({"temperature_K": 298.15, "soc": 0.5, "days": 10.0, "points": 0}, "points"),  # 1/0
])
def test_storage_run_refuses_bad_input_naming_the_field(kwargs, field):
    # storage_run checks 'days' only; a SOC above 1, a negative temperature or zero points
    # reach PyBaMM (a ModelError on variable bounds, an IDA failure) or divide by zero
    from cellmodels.life import storage_run
    from cellmodels.physics import load_cell

    with pytest.raises(InputError, match=rf"The '{field}' argument of storage_run must be"):
        storage_run(load_cell("semisolid_lfp_power"), **kwargs)
