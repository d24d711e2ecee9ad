"""What the user reads: errors that say what to do, summaries with units, warnings that
point at the user's own line."""

import warnings

import numpy as np
import pytest

from cellmodels import data
from cellmodels.errors import DataError


def test_a_failed_download_says_how_to_work_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("CELLMODELS_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def offline(*args, **kwargs):
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(data.urllib.request, "urlopen", offline)
    name = "aboutenergy_bpx/LFP/LFP_25degC_1C.csv"
    with pytest.raises(DataError, match="Offline: export CELLMODELS_DATA_DIR") as info:
        data.path(name)
    msg = str(info.value)
    assert "Name or service not known" in msg
    assert f"Offline: export CELLMODELS_DATA_DIR=<folder holding {name}>" in msg
    assert f"or put the file at {tmp_path / 'cache' / 'cellmodels' / 'data' / name}." in msg


def _ups_at_current_limit(limit_A):
    from cellmodels.ups import simulate_ups

    from .test_ups_kernel import varied_ecm
    from .test_ups_system import DT, config

    # varied_ecm is identified up to 200 A; the BMS holds the discharge at limit_A
    cfg = config(bms={"current_max_discharge_A": limit_A},
                 inverter={"rated_W": 2000.0}, rectifier={"rated_W": 2000.0})
    load = np.full(3_000, 100.0)
    load[1000:2000] = 1200.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = simulate_ups(varied_ecm(), load, cfg, dt_s=DT)  # the line the warning names
    assert res.run["cell_current_max_A"] == pytest.approx(limit_A, rel=1e-12)
    return caught


def test_ups_at_5c_of_the_ecm_capacity_is_inside_the_validity():
    # 5C of a coulomb-counted 20.00003 Ah against a 5C bound from the nominal 20 Ah: +1.54e-6
    assert _ups_at_current_limit(200.0 * (1 + 1.54e-6)) == []


def test_ups_validity_warning_points_at_the_callers_line():
    caught = _ups_at_current_limit(200.02)  # 1e-4 beyond: a real excursion
    assert len(caught) == 1 and "current_A = 200.02 is 0.02 outside" in str(caught[0].message)
    assert caught[0].filename == __file__
    import linecache

    assert "simulate_ups(varied_ecm()" in linecache.getline(__file__, caught[0].lineno)


def test_demo_life_table_names_the_default_weight(tmp_path, capsys):
    import dataclasses

    from cellmodels.demo import heating_and_life_demo

    from .test_demo import demo_ecm

    # a short window and 2 years keep it fast; "lfp" in the name picks the LFP ageing model
    ecm = dataclasses.replace(demo_ecm(), name="demo lfp")
    heating_and_life_demo(ecm, tmp_path, window_minutes=0.5, years=2.0)
    out = capsys.readouterr().out
    rows = [line.split("|")[0].strip() for line in out.splitlines() if line.count("|") == 6]
    assert rows[1:] == ["0 (Soto: negligible)", "1/3 (default)", "2/3 (Soto's bound)"]
    assert "projected to 2.0 y" in out  # 2 years asked: not "stopped"


def test_reduce_names_temperatures_in_degc(tmp_path, capsys, monkeypatch):
    from cellmodels.cli import main
    from cellmodels.physics.cells import load_cell
    from cellmodels.reduction import identify

    def never(self, cell, progress=False):
        raise AssertionError("the identification must not start on a bad grid")

    monkeypatch.setattr(identify.ECMIdentifier, "fit", never)
    lo, hi = (t - 273.15 for t in load_cell("lgm50").temperature_range_K)
    out = str(tmp_path / "c.ecm.h5")
    assert main(["reduce", "lgm50", "-o", out, "--temperatures", "10", "200"]) == 2
    err = capsys.readouterr().err
    assert f"--temperatures must lie in [{lo:g}, {hi:g}] degC for cell lgm50" in err
    assert "got 200 degC" in err and "temperature_K" not in err
    assert main(["reduce", "lgm50", "-o", out, "--temperatures", "40", "10"]) == 2
    assert "--temperatures must increase; got 40 10 degC" in capsys.readouterr().err


def test_dcr_takes_a_c_rate(tmp_path, capsys, monkeypatch):
    from cellmodels import dcr
    from cellmodels.cli import main

    seen = {}
    real = dcr.dcr_map

    def small(name, **kw):  # one pulse keeps it short; the full map is the benchmark's job
        seen.update(kw)
        return real(name, soc=(0.5,), temperature_K=(298.15,), **kw)

    monkeypatch.setattr(dcr, "dcr_map", small)
    assert main(["dcr", "aboutenergy_lfp", "-o", str(tmp_path), "--c-rate", "5"]) == 0
    assert seen["c_rate"] == 5.0 and "at 5C discharge" in capsys.readouterr().out
    assert main(["dcr", "aboutenergy_lfp", "-o", str(tmp_path)]) == 0
    assert seen["c_rate"] == 1.0
    assert main(["dcr", "aboutenergy_lfp", "--c-rate", "0"]) == 2
    err = capsys.readouterr().err
    assert "--c-rate must be in (0, 100]" in err and "got 0." in err
    assert main(["dcr", "aboutenergy_lfp", "--c-rate", "150"]) == 2
    assert "--c-rate must be in (0, 100]" in capsys.readouterr().err


def test_engineering_units():
    from cellmodels.cli import _eng, _eng_range, ups_summary

    assert _eng_range(200080.0, 1e6, "W") == "0.20-1.00 MW"
    assert _eng_range(-50e3, 132e3, "W") == "-50 to 132 kW"
    assert _eng(141.66e3, "Wh") == "141.7 kWh" and _eng(0.5, "J") == "0.5 J"
    text = ups_summary({"efficiency": 0.94, "peak_cell_temperature_K": 301.49,
                        "cell_rms_current_A_max": 24.4512345,
                        "energy_J": {"grid_J": 5.645123456789e8},
                        "limits": {"soc_min": {"activations": 0, "duration_s": 0.0,
                                               "energy_J": 0.0, "steps": 0}}})
    assert text.splitlines() == ["  cell_rms_current_A_max: 24.45 A", "  efficiency: 94.00 %",
                                 "  energy_J:", "    grid_J: 564.5 MJ",
                                 "  limits: none acted", "  peak_cell_temperature_K: 28.34 degC"]


def test_demo_help_names_its_steps_and_default_folder():
    from cellmodels.cli import build_parser

    parser = build_parser()
    demo = parser._subparsers._group_actions[0].choices["demo"]
    text = demo.format_help()
    assert "five steps" in text and "15-year life" in text and "default: out" in " ".join(
        text.split())


def _toml(d: dict) -> str:
    def val(v):
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return repr(v)

    return "".join(f"[{sec}]\n" + "".join(f"{k} = {val(v)}\n" for k, v in body.items())
                   for sec, body in d.items())


def test_life_prints_why_it_stopped_and_each_note_once(tmp_path, capsys):
    import dataclasses

    from cellmodels.cli import main
    from cellmodels.demo import demo_ups_config
    from cellmodels.reduction import save_ecm

    from .test_demo import demo_ecm

    ecm = save_ecm(dataclasses.replace(demo_ecm(), name="demo lfp"), tmp_path / "c.ecm.h5")
    (tmp_path / "p.toml").write_text(
        'generator = "synchronized_training"\nrack_peak_W = 125000.0\nn_racks = 8\n'
        "swing_depth = 0.5\nperiod_s = 2.0\nduration_s = 30.0\ndt_s = 0.001\n"
        "checkpoint_interval_s = inf\njob_start_ramp_s = 0.0\njob_stop_ramp_s = 0.0\n")
    assert main(["dutycycle", str(tmp_path / "p.toml"), "-o", str(tmp_path / "p.h5")]) == 0
    (tmp_path / "ups.toml").write_text(_toml(demo_ups_config(True)))
    # warnings are errors in this test run: the command must catch the validity warnings
    assert main(["life", "--ecm", str(ecm), "--profile", str(tmp_path / "p.h5"), "--config",
                 str(tmp_path / "ups.toml"), "-o", str(tmp_path / "life.h5")]) == 0
    out = capsys.readouterr().out
    assert "stopped: capacity 0.4" in out and "below floor_capacity 0.5 at" in out
    assert "(asked for 15)" in out
    notes = [line for line in out.splitlines() if line.startswith("  - ")]
    assert notes and len(notes) == len(set(notes)) and "Source:" not in out
    assert "note(s) on the model's validity" in out


def test_study_prints_its_result_table(tmp_path, capsys):
    from cellmodels.cli import main
    from cellmodels.reduction import save_ecm

    from .test_ecm import make_ecm

    path = save_ecm(make_ecm(), tmp_path / "cell.ecm.h5")
    # as tests/test_studies_life.py: 100 cells of 10 Ah behind 30 kW, a 20 kW rack's swings
    (tmp_path / "s.toml").write_text(
        f'name = "table"\ncells = ["{path}"]\n'
        '[life]\nyears = 1.0\nmodel = "lfp_gr_250ah"\ncheck_capability = false\n'
        "[ups.rectifier]\nrated_W = 30000.0\n[ups.inverter]\nrated_W = 30000.0\n"
        "[ups.battery]\nn_series = 100\n[ups.controller]\nfilter_time_constant_s = [2.0, 20.0]\n"
        '[dutycycle]\nrack_peak_W = 20000.0\nduration_s = 120.0\ndt_s = 0.01\n'
        "checkpoint_interval_s = inf\njob_start_ramp_s = 0.0\njob_stop_ramp_s = 0.0\n")
    assert main(["study", "life", str(tmp_path / "s.toml"), "-o", str(tmp_path / "s.h5"),
                 "--workers", "0", "-q", "--no-plot"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if "filter_time_constant_s" in line).split()
    assert header[:3] == ["cell", "filter_time_constant_s", "status"]
    assert "capacity_fraction_final" in header and "temperature_max" in header
    rows = [line.split() for line in lines if line.strip().startswith("cell.ecm.h5")]
    assert [r[1:3] for r in rows] == [["2", "ok"], ["20", "ok"]]
    q = float(rows[0][header.index("capacity_fraction_final")])
    assert 0.5 < q < 1.0  # one year of 2 s swings ages the cell, not past the floor
