"""The demo's UPS step on a small made-up ECM: it runs, writes its files, and what it
prints is what the result says (the smoothing is the controller's, not the demo's)."""

import re

import numpy as np

from cellmodels.demo import demo_ups_config, ups_demo
from cellmodels.ups import simulate_ups

from .test_ecm import make_ecm


def demo_ecm():
    # 20 Ah, 3.0-4.2 V: 250 s x 12 p carries the demo's 1 MW load at about 1.3C
    return make_ecm(capacity_Ah=20.0, r0_Ohm=np.full((11, 3), 0.5e-3),
                    rc_R_Ohm=np.stack([np.full((11, 3), 0.2e-3), np.full((11, 3), 0.1e-3)]))


def test_ups_demo_writes_result_and_figure_and_reports_the_smoothing(tmp_path, capsys):
    ecm = demo_ecm()
    ups_demo(ecm, tmp_path, minutes=2.0)
    text = capsys.readouterr().out
    assert (tmp_path / "ups_demo.h5").is_file() and (tmp_path / "ups_demo.png").is_file()
    shown = float(re.search(r"; (\d+)x less\)", text).group(1))
    assert shown >= 10  # issue 5: the controller cuts 0.1-2 Hz grid oscillation >= 10x
    assert "BMS limit activations 0" in text


def test_demo_config_differs_only_in_the_smoothing_switch():
    on, off = demo_ups_config(True), demo_ups_config(False)
    assert on["controller"].pop("smoothing") and not off["controller"].pop("smoothing")
    assert on == off
    # and it is a valid configuration for the simulator
    res = simulate_ups(demo_ecm(), np.full(2000, 5e5), demo_ups_config(True), dt_s=1e-3)
    assert res.metrics()["unserved_J"] == 0.0
