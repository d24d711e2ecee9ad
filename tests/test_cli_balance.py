"""``cellmodels fit-balance``: end to end on the WMG OCV table, a CSV OCV table, and the
checks that refuse bad arguments before any work."""

import json

import numpy as np
import pytest

from cellmodels.cli import main

OCV_FILE = "lgm50_wmg_widanage/LGM50_5Ah_OCV.mat"
_NEG = "Negative electrode/Surface area per unit volume [m-1] (factor)"
_POS = "Positive electrode/Surface area per unit volume [m-1] (factor)"
_X100 = "Negative electrode/Maximum stoichiometry"


def test_wmg_ocv_table_end_to_end_writes_a_set_that_loads_and_cites_the_file(tmp_path, capsys):
    from cellmodels import data
    from cellmodels.physics import load_cell

    out, report = tmp_path / "x.json", tmp_path / "r.json"
    assert main(["fit-balance", "lgm50", "wmg-ocv:T25", "-o", str(out),
                 "--report", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "Degradation modes relative to lgm50" in printed
    assert "LLI (loss of lithium inventory)" in printed
    assert f"Wrote {out}" in printed
    cell = load_cell(out)
    rep = json.loads(report.read_text())
    assert rep["success"] is True
    fitted = {k: v["value"] for k, v in rep["parameters"].items()}
    # the set holds the fitted x100 (written, then read back through PyBaMM's BPX reader)
    pv = cell.parameter_values()
    assert pv["Negative electrode maximum stoichiometry"] == pytest.approx(fitted[_X100],
                                                                           rel=1e-12)
    # ...and each value's provenance names the data file with its registered sha256
    prov = cell.meta["provenance"][_X100]
    files = prov["fit"]["files"]
    assert [f["name"] for f in files] == [OCV_FILE]
    assert files[0]["sha256"] == data.REGISTRY[OCV_FILE].sha256
    # the nuisance start charge is reported but not part of the set
    assert rep["nuisance"] == [n for n in rep["parameters"] if n.startswith("start charge")]
    assert not any(k.startswith("start charge") for k in cell.meta["provenance"])
    modes = rep["degradation_modes"]
    assert modes["LAM_negative"] == pytest.approx(1.0 - fitted[_NEG], abs=1e-12)
    assert modes["LAM_positive"] == pytest.approx(1.0 - fitted[_POS], abs=1e-12)


def test_a_missing_out_is_refused_naming_it(capsys):
    assert main(["fit-balance", "lgm50", "wmg-ocv:T25"]) == 2
    assert "missing: -o (the fitted set to write)" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["-o", "--plot", "--report"])
def test_a_missing_output_folder_is_refused_before_any_work(tmp_path, capsys, monkeypatch,
                                                            flag):
    from cellmodels.fitting import balance

    def no_fit(*args, **kwargs):  # the fit must not start
        raise AssertionError("fit_balance ran before the output folder was checked")

    monkeypatch.setattr(balance, "fit_balance", no_fit)
    missing = tmp_path / "nowhere" / "x.json"
    out = missing if flag == "-o" else tmp_path / "x.json"
    argv = ["fit-balance", "lgm50", "wmg-ocv:T25", "-o", str(out)]
    argv += [flag, str(missing)] if flag != "-o" else []
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"the folder of {flag} {str(missing)!r}" in err
    assert "does not exist" in err


def test_an_unknown_data_spec_is_refused_listing_the_forms(tmp_path, capsys):
    assert main(["fit-balance", "lgm50", "wmg-ocv-T25", "-o", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "Cannot read the DATA argument 'wmg-ocv-T25'" in err
    assert "charge_Ah,voltage_V" in err
    assert "Did you mean 'wmg-ocv:T25'" in err


def test_a_pulse_record_is_not_an_ocv(tmp_path, capsys):
    assert main(["fit-balance", "lgm50", "wmg-pulse:T25:SoC5:Cell1", "-o",
                 str(tmp_path / "x.json")]) == 2
    assert "10 s current pulse, not an OCV" in capsys.readouterr().err


def test_an_ocv_table_at_a_temperature_the_file_lacks_lists_what_it_has(tmp_path, capsys):
    assert main(["fit-balance", "lgm50", "wmg-ocv:T10", "-o", str(tmp_path / "x.json")]) == 2
    assert "no OCV table at 10 degC (T10); the file holds T25 (25 degC)" in \
        capsys.readouterr().err


def test_a_record_without_temperature_needs_temperature_K(tmp_path, capsys):
    rec = tmp_path / "slow.csv"
    t = np.linspace(0.0, 3600.0, 50)
    rows = "\n".join(f"{a},{0.5},{4.1 - 1e-4 * a / 36}" for a in t)
    rec.write_text("time_s,current_A,voltage_V\n" + rows + "\n")
    assert main(["fit-balance", "lgm50", str(rec), "-o", str(tmp_path / "x.json")]) == 2
    assert "has no temperature column: give --temperature-K" in capsys.readouterr().err


def _lgm50_table(q_Ah):
    """OCV [V] of the lgm50 set at its own balance (factors 1, its x100, y100 at the upper
    cut-off) at 298.15 K, from PyBaMM's OCP functions."""
    import pybamm

    from cellmodels.fitting.physics import _positive_at
    from cellmodels.physics import load_cell

    pv = load_cell("lgm50").parameter_values()
    param = pybamm.LithiumIonParameters()
    qn, qp = float(pv.evaluate(param.n.Q_init)), float(pv.evaluate(param.p.Q_init))
    x100 = float(pv["Negative electrode maximum stoichiometry"])
    y100 = _positive_at(pv, param, x100, float(pv["Upper voltage cut-off [V]"]),
                        float(pv["Reference temperature [K]"]))
    temp = pybamm.Scalar(298.15)
    u_p = pv.evaluate(param.p.prim.U(pybamm.Vector(y100 + q_Ah / qp), temp))
    u_n = pv.evaluate(param.n.prim.U(pybamm.Vector(x100 - q_Ah / qn), temp))
    return np.ravel(u_p) - np.ravel(u_n), x100


def test_a_csv_ocv_table_of_the_sets_own_balance_gives_it_back(tmp_path, capsys):
    q = np.linspace(0.02, 0.97, 60) * 5.0  # within the set's 5.15 A.h between cut-offs
    v, x100 = _lgm50_table(q)
    table = tmp_path / "lgm50_ocv.csv"
    # the charge axis on its own origin (the first point at 0): the start charge places it
    table.write_text("charge_Ah,voltage_V\n" + "\n".join(
        f"{float(a)!r},{float(b)!r}" for a, b in zip(q - q[0], v, strict=True)) + "\n")
    out, report = tmp_path / "x.json", tmp_path / "r.json"
    assert main(["fit-balance", "lgm50", str(table), "--temperature-K", "298.15",
                 "--local-only", "-o", str(out), "--report", str(report)]) == 0
    capsys.readouterr()
    rep = json.loads(report.read_text())
    fitted = {k: v["value"] for k, v in rep["parameters"].items()}
    # noise-free data of the set itself: what is left is balance.py's 20001-point OCP
    # tables against PyBaMM's functions (a linear interpolant's kinks within one 5e-5
    # stoichiometry cell), far below 1e-4
    assert fitted[_NEG] == pytest.approx(1.0, abs=1e-4)
    assert fitted[_POS] == pytest.approx(1.0, abs=1e-4)
    assert fitted[_X100] == pytest.approx(x100, abs=1e-4)
    q0 = next(v for k, v in fitted.items() if k.startswith("start charge"))
    assert q0 == pytest.approx(q[0], abs=1e-4 * 5.0)
    assert rep["datasets"] == [{"name": "lgm50_ocv", "source": str(table)}]


def test_a_csv_ocv_table_with_another_column_is_refused(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("charge_Ah,voltage_mV\n0,4100\n1,3900\n2,3700\n")
    assert main(["fit-balance", "lgm50", str(table), "--temperature-K", "298.15",
                 "-o", str(tmp_path / "x.json")]) == 2
    assert "the header holds the column 'voltage_mV'" in capsys.readouterr().err


@pytest.mark.parametrize("form", [["--window", "-0.25:4.5"], ["--window=-0.25:4.5"]])
def test_a_window_with_a_negative_low_is_taken_as_the_value(tmp_path, capsys, monkeypatch,
                                                              form):
    # argparse reads '-0.25:4.5' as an option of its own unless the CLI joins it
    from cellmodels.errors import InputError
    from cellmodels.fitting import _cli

    seen = []

    def parse(text):
        seen.append(text)
        raise InputError("stop after parsing")  # the fit itself is tested above

    monkeypatch.setattr(_cli, "_parse_window", parse)
    argv = ["fit-balance", "lgm50", "wmg-ocv:T25", "-o", str(tmp_path / "x.json"), *form]
    assert main(argv) == 2
    assert seen == ["-0.25:4.5"]
    assert "stop after parsing" in capsys.readouterr().err
