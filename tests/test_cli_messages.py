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
    with pytest.raises(DataError) as info:
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
