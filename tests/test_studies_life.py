"""The life kind of the study runner: project_life at every point, failures recorded."""

import numpy as np
import pytest

from cellmodels.errors import InputError
from cellmodels.reduction import save_ecm
from cellmodels.studies import load_study, parse_study_config, run_study

from .test_ecm import make_ecm

# a 100-cell string of the 10 Ah test cell behind a 30 kW UPS, buffering a 20 kW rack's
# 2 s swings; two minutes of load stand for the repeated window
UPS = {"rectifier": {"rated_W": 3e4}, "inverter": {"rated_W": 3e4},
       "battery": {"n_series": 100}}
DUTY = {"rack_peak_W": 2e4, "duration_s": 120.0, "dt_s": 0.01,
        "checkpoint_interval_s": float("inf"), "job_start_ramp_s": 0.0,
        "job_stop_ramp_s": 0.0}


def test_life_study_runs_project_life_and_records_a_failing_point(tmp_path):
    from cellmodels.dutycycles import make_profile
    from cellmodels.life import LifeValidityWarning, project_life
    from cellmodels.ups import UPSConfig

    ecm = make_ecm()
    path = save_ecm(ecm, tmp_path / "cell.ecm.h5")
    data = {"cells": [str(path)], "name": "life test",
            # 60 years is outside project_life's range (0, 50]: that point fails
            "life": {"years": [1.0, 60.0], "model": "lfp_gr_250ah",
                     "check_capability": False},
            "ups": {**UPS, "controller": {"filter_time_constant_s": [2.0, 20.0]}},
            "dutycycle": DUTY}
    cfg = parse_study_config(data, kind="life")
    summary = run_study(cfg, output=tmp_path / "life.h5", workers=0, progress=False)
    assert (summary.total, summary.computed, summary.failed) == (4, 4, 2)
    res = load_study(summary.path)
    failed = res.failed
    assert {p.coords["life.years"] for p in failed} == {60.0}
    assert all(p.error.startswith("InputError: The 'years' argument of project_life")
               for p in failed)
    ok = {p.coords["ups.controller.filter_time_constant_s"]: p for p in res.points.values()
          if p.ok}
    assert set(ok) == {2.0, 20.0}
    # the point is project_life itself, called the same way
    ups = UPSConfig.from_dict({**UPS, "controller": {"filter_time_constant_s": 2.0}})
    # the BLAST-Lite-derived model warns outside its validated DoD and C-rate range
    with pytest.warns(LifeValidityWarning, match=r"outside its validated range"):
        ref = project_life(ecm, ups, make_profile(DUTY), years=1.0, model="lfp_gr_250ah",
                           check_capability=False)
    p = ok[2.0]
    np.testing.assert_array_equal(p.arrays["capacity_fraction"], ref.capacity_fraction)
    np.testing.assert_array_equal(p.arrays["resistance_factor"], ref.resistance_factor)
    assert p.values["capacity_fraction_final"] == ref.capacity_fraction[-1] < 1.0
    assert p.warnings  # the validity warnings travel with the point
    assert summary.figures[0].name == "life_life.png"
    assert summary.figures[0].read_bytes()[:4] == b"\x89PNG"


def test_life_config_keys_come_from_project_life():
    with pytest.raises(InputError, match=r"Unknown key 'yeras' in \[life\]\. Did you mean "
                                        r"'years'"):
        parse_study_config({"cells": ["x.h5"], "life": {"yeras": 1.0}, "ups": UPS,
                            "dutycycle": DUTY}, kind="life")
    with pytest.raises(InputError, match=r"Unknown key 'output' in \[life\]"):
        parse_study_config({"cells": ["x.h5"], "life": {"output": "x.h5"}, "ups": UPS,
                            "dutycycle": DUTY}, kind="life")
    with pytest.raises(InputError, match=r"\[ups\] of the study: .*Unknown key 'rated_w'"):
        parse_study_config({"cells": ["x.h5"], "life": {"years": 1.0},
                            "ups": {**UPS, "rectifier": {"rated_w": 1.0}},
                            "dutycycle": DUTY}, kind="life")
