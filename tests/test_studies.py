"""Studies: config grids, the runner on a process pool and on a real Dask cluster, the
HDF5 file, resume after a kill, and failing points recorded while the sweep goes on."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from cellmodels.errors import FileFormatError, InputError
from cellmodels.life.heating import periodic_heating, swing_waveform
from cellmodels.reduction import save_ecm
from cellmodels.studies import (
    load_study,
    load_study_config,
    parse_study_config,
    run_point,
    run_study,
)
from cellmodels.studies.store import parts_dir, run_lock

from .test_ecm import make_ecm

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ecm_file(tmp_path_factory):
    # the test ECM with a validity wide enough that the grids below stay inside it
    ecm = make_ecm(validity={"soc_min": 0.0, "soc_max": 1.0, "temperature_min_K": 273.15,
                             "temperature_max_K": 400.0, "current_max_A": 1e4},
                   limits={"temperature_max_K": 318.15})
    return save_ecm(ecm, tmp_path_factory.mktemp("ecm") / "cell.ecm.h5")


def write_config(path: Path, ecm_file: Path, heating: str, extra: str = "") -> Path:
    path.write_text(f'kind = "heating"\nname = "test"\ncells = ["{ecm_file}"]\n{extra}\n'
                    f"[heating]\n{heating}\n")
    return path


# ------------------------------------------------------------------- configuration
def test_lists_are_axes_and_cells_an_axis(tmp_path, ecm_file):
    cfg = load_study_config(write_config(
        tmp_path / "s.toml", ecm_file,
        "swing_depth = [1e-4, 2e-4]\nperiod_s = [1.0, 2.0, 4.0]\nheat_transfer_W_per_K = 0.5"))
    assert cfg.kind == "heating" and cfg.output == tmp_path / "s.h5"
    assert [a.name for a in cfg.axes] == ["heating.swing_depth", "heating.period_s"]
    assert cfg.shape == (1, 2, 3) and cfg.n_points == 6
    points = cfg.points()
    assert points[4]["coords"] == {"heating.swing_depth": 2e-4, "heating.period_s": 2.0}
    assert points[4]["params"] == {"heating": {"swing_depth": 2e-4, "period_s": 2.0,
                                               "heat_transfer_W_per_K": 0.5}}


def test_list_valued_fields_are_fixed_unless_swept():
    data = {"cells": ["x.h5"], "life": {"years": 1.0},
            "ups": {"rectifier": {"rated_W": 1e5}, "inverter": {"rated_W": 1e5},
                    "controller": {"soc_band": [0.3, 0.7],
                                   "ramp_limit_W_per_s": [1e3, 1e4]},
                    "battery": {"n_series": {"sweep": [10, 20]}}},
            "dutycycle": {"rack_peak_W": 5e4, "duration_s": 60.0}}
    cfg = parse_study_config(data, kind="life")
    assert [a.name for a in cfg.axes] == ["ups.controller.ramp_limit_W_per_s",
                                         "ups.battery.n_series"]
    p = cfg.points()[3]["params"]
    assert p["ups"]["controller"] == {"soc_band": [0.3, 0.7], "ramp_limit_W_per_s": 1e4}
    assert p["ups"]["battery"] == {"n_series": 20}


@pytest.mark.parametrize("data, match", [
    ({"cells": ["a.h5"], "heating": {"period_s": 1.0, "swing_depht": 0.1}},
     r"Unknown key 'swing_depht' in \[heating\]\. Did you mean 'swing_depth'"),
    ({"cells": ["a.h5"], "heatng": {}}, r"Unknown key 'heatng' .* Did you mean 'heating'\?"),
    ({"cells": ["a.h5"], "ups": {}}, r"the section \[ups\] belongs to a 'life' study"),
    ({"cells": ["a.h5"], "kind": "life"}, r"says kind = 'life' but the command asks for"),
    ({"cells": [], "heating": {}}, r"needs 'cells'"),
    ({"cells": ["a.h5"], "heating": {"period_s": [], "swing_depth": 0.1}},
     r"axis 'heating.period_s' is an empty list"),
    ({"cells": ["a.h5"], "heating": {"period_s": 1.0}}, r"exactly one of 'swing_depth'"),
    ({"cells": ["a.h5"], "reduce": {"nrc": 2}, "heating": {}},
     r"Unknown key 'nrc' in \[reduce\]\. Did you mean 'n_rc'\?"),
])
def test_bad_config_is_refused_with_suggestions(data, match):
    with pytest.raises(InputError, match=match):
        parse_study_config(data, kind="heating")


def test_bad_toml_and_unknown_cell(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("cells = [\n")
    with pytest.raises(InputError, match=r"not valid TOML"):
        load_study_config(bad)
    cfg = parse_study_config({"cells": ["semisolid_lfp_powr"],
                              "heating": {"period_s": 1.0, "swing_depth": 1e-3}},
                             kind="heating")
    with pytest.raises(InputError, match=r"Did you mean 'semisolid_lfp_power'\?"):
        run_study(cfg, output=tmp_path / "x.h5", workers=0, progress=False, plot=False)


# ------------------------------------------------------------------- running
def test_point_function_matches_the_library_and_records_failures(ecm_file):
    from cellmodels.reduction import load_ecm

    ecm = load_ecm(ecm_file)
    params = {"heating": {"swing_depth": 2e-4, "period_s": 2.0,
                          "heat_transfer_W_per_K": 0.5}}
    out = run_point("heating", ecm, params)
    ref = periodic_heating(ecm, *swing_waveform(ecm, period_s=2.0, swing_depth=2e-4),
                           heat_transfer_W_per_K=0.5)
    assert out["status"] == "ok"
    assert out["values"]["rise_K"] == ref.rise_K  # the same function, bit for bit
    bad = run_point("heating", ecm, {"heating": {**params["heating"], "swing_depth": 0.6,
                                                 "soc": 0.9}})
    assert bad["status"] == "error"
    assert bad["error"].startswith("InputError: The orbit's SOC range")


def test_pool_run_resume_failures_and_retry(tmp_path, ecm_file):
    heating = ("swing_depth = [1e-4, 3e-4]\nperiod_s = [1.0, 4.0]\n"
               "heat_transfer_W_per_K = [0.5, 2.0]\nsoc = 0.5")
    cfg = load_study_config(write_config(tmp_path / "s.toml", ecm_file, heating))
    first = run_study(cfg, workers=0, progress=False, plot=False)
    assert (first.total, first.computed, first.skipped, first.failed) == (8, 8, 0, 0)
    before = {pid: p.values for pid, p in load_study(first.path).points.items()}

    # a grown grid on the local pool: only the new points run; one depth fails everywhere
    heating2 = heating.replace("[1e-4, 3e-4]", "[1e-4, 3e-4, 6e-4, 0.7]").replace(
        "soc = 0.5", "soc = 0.8")
    cfg2 = load_study_config(write_config(tmp_path / "s.toml", ecm_file, heating2))
    second = run_study(cfg2, workers=2, progress=False)
    # soc changed: every point is new (a point is its inputs), 16 computed; 0.7 around 0.8
    # leaves [0, 1]: 4 points fail, are recorded, and the others finish
    assert (second.total, second.computed, second.failed) == (16, 16, 4)
    assert "local pool of 2 processes" in second.engine
    res = load_study(second.path)
    assert len(res.points) == 8 + 16
    assert before.items() <= {pid: p.values for pid, p in res.points.items()}.items()
    failed = res.failed
    assert len(failed) == 4 and all("SOC range" in p.error for p in failed)
    assert all(p.coords["heating.swing_depth"] == 0.7 for p in failed)
    assert not parts_dir(second.path).exists()  # all merged
    assert [p.name for p in second.figures] == ["s_cell.png"]
    assert second.figures[0].read_bytes()[:4] == b"\x89PNG"

    # a rerun computes nothing; failed points are retried only on request
    third = run_study(cfg2, workers=0, progress=False, plot=False)
    assert (third.computed, third.skipped) == (0, 16)
    fourth = run_study(cfg2, workers=0, progress=False, plot=False, retry_failed=True)
    assert (fourth.computed, fourth.failed) == (4, 4)
    assert len(load_study(second.path).points) == 24  # retried points replace, not add


def test_killed_run_leaves_a_readable_file_and_resumes(tmp_path, ecm_file):
    heating = ("swing_depth = [1e-4, 1.5e-4, 2e-4, 2.5e-4, 3e-4, 3.5e-4, 4e-4, 4.5e-4]\n"
               "period_s = [0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 15.0, 20.0]\n"
               "heat_transfer_W_per_K = [0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0]")
    config = write_config(tmp_path / "k.toml", ecm_file, heating)
    env = {**os.environ, "PYBAMM_DISABLE_TELEMETRY": "true"}
    log = tmp_path / "stderr.txt"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cellmodels.studies._cli", "heating", str(config),
             "--workers", "1", "--no-plot", "-q"], cwd=tmp_path, env=env,
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=err)
    out = tmp_path / "k.h5"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            # parts appear every 0.2 s while points finish (merged every 5 s)
            if parts_dir(out).is_dir() and len(list(parts_dir(out).glob("*.h5"))) >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, log.read_text()[-2000:]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker, mid-sweep
        proc.wait()
    partial = load_study(out)  # the file and the unmerged parts: all readable
    n_done = len(partial.points)
    assert 3 <= n_done < 640
    cfg = load_study_config(config)
    resumed = run_study(cfg, workers=0, progress=False, plot=False)
    assert (resumed.skipped, resumed.computed) == (n_done, 640 - n_done)
    final = load_study(out)
    assert len(final.points) == 640 and not final.failed


def crashing_point(kind, ecm, params):
    """run_point, except that the 3 s period kills its worker process outright."""
    if params["heating"]["period_s"] == 3.0:
        os._exit(3)
    return run_point(kind, ecm, params)


def test_a_point_that_kills_its_worker_is_recorded_and_the_sweep_goes_on(tmp_path, ecm_file):
    cfg = load_study_config(write_config(
        tmp_path / "x.toml", ecm_file,
        "swing_depth = 1e-4\nperiod_s = [1.0, 2.0, 3.0, 4.0, 5.0]"))
    summary = run_study(cfg, workers=2, progress=False, plot=False, _point=crashing_point)
    assert (summary.computed, summary.failed) == (5, 1)
    res = load_study(summary.path)
    failed = res.failed
    assert {p.coords["heating.period_s"] for p in failed} == {3.0}
    assert all("worker process running this point died" in p.error for p in failed)
    assert sum(p.ok for p in res.points.values()) == 4  # a bystander in flight re-ran


class _DyingPool:
    """A stand-in for ProcessPoolExecutor where the worker running a 'kill' point dies.

    As in the real pool, the death can be noticed (the pool refuses new work) before the
    dying point's future fails: a bystander finishing marks the pool broken at once, the
    killer's future fails 50 ms later.
    """

    def __init__(self):
        self.broken = False
        self.pending = []

    def submit(self, fn, *args):
        import concurrent.futures as cf
        import threading
        from concurrent.futures.process import BrokenProcessPool

        if self.broken:
            raise BrokenProcessPool("a worker died")
        fut = cf.Future()
        if args[2]["kill"]:
            def die():
                self.broken = True
                fut.set_exception(BrokenProcessPool("a worker died"))
            self.pending.append(fut)
            threading.Timer(0.05, die).start()
        else:
            fut.set_result(fn(*args))
            if self.pending:
                self.broken = True
        return fut

    def shutdown(self, wait=True, cancel_futures=False):
        pass


def test_a_worker_death_seen_at_submit_is_not_a_crash_of_the_sweep(monkeypatch):
    # the race behind a CI failure: wait() returns a bystander, the next submit meets the
    # broken pool before the dying point's future has failed
    from cellmodels.studies.runner import _Local

    monkeypatch.setattr(_Local, "_start", lambda self: setattr(self, "pool", _DyingPool()))
    engine = _Local(1, point=lambda kind, ecm, params: params["n"])
    tasks = [(f"p{n}", "heating", None, {"n": n, "kill": n == 0}) for n in range(4)]
    out = dict(engine.run(tasks))
    assert out.keys() == {"p0", "p1", "p2", "p3"}
    assert isinstance(out["p0"], RuntimeError) and "died" in str(out["p0"])
    assert [out[p] for p in ("p1", "p2", "p3")] == [1, 2, 3]  # the bystanders all came back


class _BreaksAfterPool:
    """A stand-in pool whose worker dies *after* returning a 'linger' point's result.

    Every future has come back, so nothing in flight can tell which point did it.
    """

    def __init__(self):
        self.broken = False
        self.refused = 0

    def submit(self, fn, *args):
        import concurrent.futures as cf
        from concurrent.futures.process import BrokenProcessPool

        if self.broken:
            self.refused += 1
            # a runner that keeps submitting to the dead pool would spin for ever
            assert self.refused < 10, "the runner keeps submitting to a broken pool"
            raise BrokenProcessPool("a worker died")
        fut = cf.Future()
        fut.set_result(fn(*args))
        self.broken = args[2]["linger"]
        return fut

    def shutdown(self, wait=True, cancel_futures=False):
        pass


def test_a_pool_broken_with_nothing_in_flight_is_restarted(monkeypatch):
    # the branch of _Local.run where a submit meets a broken pool and no future is left to
    # fail: the pool is started again and every point still runs (once)
    from cellmodels.studies.runner import _Local

    starts = []

    def start(self):
        starts.append(1)
        self.pool = _BreaksAfterPool()

    monkeypatch.setattr(_Local, "_start", start)
    engine = _Local(1, point=lambda kind, ecm, params: params["n"])
    tasks = [(f"p{n}", "heating", None, {"n": n, "linger": n == 1}) for n in range(4)]
    out = dict(engine.run(tasks))
    assert out == {"p0": 0, "p1": 1, "p2": 2, "p3": 3}
    assert len(starts) == 2  # the first pool, and one restart after p1's worker died


def test_dask_cluster_runs_the_same_points(tmp_path, ecm_file):
    from distributed import LocalCluster

    heating = ("swing_depth = [1e-4, 3e-4, 0.7]\nperiod_s = [1.0, 4.0]\n"
               "heat_transfer_W_per_K = 1.0\nsoc = 0.8")
    cfg = load_study_config(write_config(tmp_path / "d.toml", ecm_file, heating))
    local = run_study(cfg, output=tmp_path / "local.h5", workers=0, progress=False,
                      plot=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        remote = run_study(cfg, output=tmp_path / "dask.h5", scheduler=cluster.scheduler_address,
                           progress=False, plot=False)
    assert "Dask cluster" in remote.engine and "2 workers" in remote.engine
    assert (remote.computed, remote.failed) == (6, 2)
    a, b = load_study(local.path).points, load_study(remote.path).points
    assert a.keys() == b.keys()
    for pid in a:
        assert a[pid].status == b[pid].status and a[pid].error == b[pid].error
        assert a[pid].values == b[pid].values  # the same function on the workers


def test_unreachable_scheduler_is_a_clear_error(tmp_path, ecm_file):
    cfg = load_study_config(write_config(tmp_path / "u.toml", ecm_file,
                                         "swing_depth = 1e-4\nperiod_s = 1.0"))
    with pytest.raises(InputError, match=r"must look like tcp://HOST:PORT"):
        run_study(cfg, scheduler="localhost", progress=False, plot=False)


def test_second_concurrent_run_is_refused(tmp_path, ecm_file):
    cfg = load_study_config(write_config(tmp_path / "l.toml", ecm_file,
                                         "swing_depth = 1e-4\nperiod_s = 1.0"))
    with run_lock(tmp_path / "l.h5"), pytest.raises(InputError, match=r"Another run is writing"):
        run_study(cfg, workers=0, progress=False, plot=False)
    assert run_study(cfg, workers=0, progress=False, plot=False).computed == 1


def test_foreign_or_corrupt_study_file_is_refused(tmp_path, ecm_file):
    (tmp_path / "c.h5").write_bytes(b"not hdf5")
    with pytest.raises(FileFormatError, match=r"not a readable HDF5 file"):
        load_study(tmp_path / "c.h5")
    with h5py.File(tmp_path / "o.h5", "w") as f:
        f.attrs["format"] = "something-else"
    cfg = load_study_config(write_config(tmp_path / "o.toml", ecm_file,
                                         "swing_depth = 1e-4\nperiod_s = 1.0"))
    with pytest.raises(FileFormatError, match=r"not a cellmodels study file"):
        run_study(cfg, workers=0, progress=False, plot=False)


def test_cli_add_parser_runs_a_study(tmp_path, ecm_file, capsys):
    import argparse

    from cellmodels.studies._cli import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    config = write_config(tmp_path / "c.toml", ecm_file,
                          "swing_C_rate = [1.0, 2.0]\nperiod_s = [1.0, 5.0]")
    args = parser.parse_args(["study", "heating", str(config), "--workers", "0", "-q",
                              "-o", str(tmp_path / "cli.h5")])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "heating study: 4 points; 4 computed now (0 failed)" in text
    rows = load_study(tmp_path / "cli.h5").table()
    rise = {(r["heating.swing_C_rate"], r["heating.period_s"]): r["rise_K"] for r in rows}
    # twice the current, four times the ohmic heat: the rise grows about 4-fold
    assert 3.5 < rise[(2.0, 1.0)] / rise[(1.0, 1.0)] < 4.5
    assert np.isfinite(list(rise.values())).all()


def test_parameter_set_cells_are_reduced_once_and_cached(tmp_path, monkeypatch):
    from cellmodels.reduction import identify

    calls = []

    def fake_reduce(name, progress=False, **kwargs):
        # stands in for the ~40 s DFN identification; what is checked is the caching
        calls.append((name, kwargs))
        return make_ecm(name=f"{name} ECM")

    monkeypatch.setattr(identify, "reduce_cell", fake_reduce)
    cfg = parse_study_config({"cells": ["semisolid_lfp_power"], "reduce": {"n_rc": 2},
                              "heating": {"period_s": 1.0, "swing_depth": 1e-4}},
                             kind="heating")
    out = tmp_path / "p.h5"
    first = run_study(cfg, output=out, workers=0, progress=False, plot=False)
    second = run_study(cfg, output=out, workers=0, progress=False, plot=False)
    assert calls == [("semisolid_lfp_power", {"n_rc": 2})]
    assert (first.computed, second.computed, second.skipped) == (1, 0, 1)
    res = load_study(out)
    info = res.cells["semisolid_lfp_power"]
    assert info["ecm_name"] == "semisolid_lfp_power ECM"
    assert "reduced with" in info["source"] and len(info["sha256"]) == 64
