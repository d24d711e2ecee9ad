"""The command line, as a user runs it."""

from cellmodels.cli import main


def test_dcr_unknown_cell_lists_available(capsys):
    assert main(["dcr", "no_such_cell"]) == 2
    err = capsys.readouterr().err
    assert "Unknown cell 'no_such_cell'" in err and "aboutenergy_lfp" in err


def test_dcr_writes_table_and_png(tmp_path, capsys, monkeypatch):
    from cellmodels import dcr

    # a 2 x 1 grid keeps the test short; the full 9 x 4 map is the benchmark's job
    real = dcr.dcr_map
    monkeypatch.setattr(dcr, "dcr_map", lambda name, **kw: real(
        name, soc=(0.4, 0.6), temperature_K=(298.15,), **kw))
    assert main(["dcr", "aboutenergy_lfp", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Loss breakdown of aboutenergy_lfp" in out
    assert (tmp_path / "dcr_aboutenergy_lfp.png").stat().st_size > 10_000
    assert "charge_transfer" in (tmp_path / "dcr_aboutenergy_lfp.txt").read_text()


def test_validate_unknown_case_is_an_error(capsys):
    from .conftest import ROOT

    assert main(["validate", "--dir", str(ROOT / "validation"), "--only", "nope"]) == 2
    assert "unknown case(s) ['nope']" in capsys.readouterr().err


def test_export_round_trip_through_the_cli(tmp_path, capsys):
    import pybamm

    from cellmodels.reduction import load_ecm, save_ecm

    from .test_ecm import make_ecm

    ecm_path = save_ecm(make_ecm(), tmp_path / "cell.ecm.h5")
    assert main(["export", str(ecm_path), "--to", "json", "-o", str(tmp_path / "c.json")]) == 0
    assert main(["export", str(ecm_path), "--to", "pybamm", "-o", str(tmp_path / "p.json")]) == 0
    pv = pybamm.ParameterValues.from_json(str(tmp_path / "p.json"))
    assert pv["Cell capacity [A.h]"] == load_ecm(ecm_path).capacity_Ah
    assert main(["export", str(ecm_path), "--to", "fmu", "-o", str(tmp_path / "c.fmu")]) == 0
    assert (tmp_path / "c.fmu").stat().st_size > 1000


def test_export_of_a_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope.h5"), "--to", "json", "-o",
                 str(tmp_path / "x.json")]) == 2
    assert "No ECM file at" in capsys.readouterr().err


def test_dutycycle_from_toml(tmp_path, capsys):
    from cellmodels.dutycycles import load_profile

    cfg = tmp_path / "p.toml"
    cfg.write_text('generator = "synchronized_training"\nrack_peak_W = 132000.0\n'
                   "n_racks = 2\nduration_s = 60.0\ndt_s = 0.01\n")
    assert main(["dutycycle", str(cfg), "-o", str(tmp_path / "p.h5")]) == 0
    profile = load_profile(tmp_path / "p.h5")
    assert profile.duration_s == 60.0 and (tmp_path / "p.png").stat().st_size > 10_000
    # the range on one engineering prefix, 3 significant digits: "NNN-264 kW"
    import re

    out = capsys.readouterr().out
    assert re.search(r"steps, \d+-264 kW, \d+(\.\d+)? kWh;", out), out


def test_dutycycle_unknown_key_suggests(tmp_path, capsys):
    cfg = tmp_path / "p.toml"
    cfg.write_text('generator = "synchronized_training"\nrack_peak_w = 1.0\n')
    assert main(["dutycycle", str(cfg), "-o", str(tmp_path / "p.h5")]) == 2
    assert "rack_peak_W" in capsys.readouterr().err


def test_ups_run_from_files(tmp_path, capsys):
    """dutycycle -> ups, as a user chains them: result file, PNG, metrics printed."""
    from cellmodels.reduction import save_ecm

    from .test_ecm import make_ecm

    ecm = save_ecm(make_ecm(capacity_Ah=50.0), tmp_path / "cell.ecm.h5")
    prof = tmp_path / "p.toml"
    prof.write_text('generator = "synchronized_training"\nrack_peak_W = 2000.0\n'
                    "n_racks = 1\nduration_s = 20.0\ndt_s = 0.01\n"
                    "checkpoint_interval_s = 1000.0\njob_start_ramp_s = 0.0\n"
                    "job_stop_ramp_s = 0.0\n")
    assert main(["dutycycle", str(prof), "-o", str(tmp_path / "p.h5")]) == 0
    cfg = tmp_path / "ups.toml"
    cfg.write_text("[rectifier]\nrated_W = 4000.0\n[inverter]\nrated_W = 4000.0\n"
                   "[battery]\nn_series = 4\nn_parallel = 1\n")
    assert main(["ups", "--ecm", str(ecm), "--profile", str(tmp_path / "p.h5"), "--config",
                 str(cfg), "-o", str(tmp_path / "run.h5")]) == 0
    out = capsys.readouterr().out
    assert "grid_max_ramp_W_per_s" in out
    # a summary to read: 4 significant digits with units, no 17-digit floats or raw dicts
    import re

    assert not re.search(r"\d\.\d{6,}", out) and "{" not in out, out
    assert re.search(r"  efficiency: \d+\.\d\d %", out) and " degC" in out
    assert (tmp_path / "run.png").stat().st_size > 10_000


def test_cells_without_the_data_folder_says_which_sets_need_it(tmp_path, capsys, monkeypatch):
    from cellmodels import data

    monkeypatch.setenv("CELLMODELS_DATA_DIR", str(tmp_path))  # empty: nothing to read
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data.urllib.request, "urlopen", lambda *a, **k: (_ for _ in ()).throw(
        OSError("no network in this test")))
    assert main(["cells"]) == 0
    out = capsys.readouterr().out
    assert "aboutenergy_lfp" in out and "not loaded" in out and "semisolid_lfp_power" in out


def test_reduce_passes_every_setting_to_the_identifier(tmp_path, capsys, monkeypatch):
    """`cellmodels reduce` hands its options to ECMIdentifier unchanged (the settings of the
    lgm50 validation ECM can be given on the command line); the identification itself is
    replaced here (tests/test_reduction.py runs real ones)."""
    import dataclasses

    from cellmodels.reduction import identify

    from .test_ecm import make_ecm

    seen = {}

    def fake_fit(self, cell, progress=False):
        seen.update(vars(self), cell=cell)
        ecm = make_ecm()
        self.ecm_ = dataclasses.replace(ecm, error={
            **ecm.error, "identification_rmse_V_mean": 1e-3, "identification_rmse_V_max": 2e-3})
        self.seconds_ = 0.0
        return self

    monkeypatch.setattr(identify.ECMIdentifier, "fit", fake_fit)
    out = tmp_path / "c.ecm.h5"
    assert main(["reduce", "lgm50", "-o", str(out), "--n-rc", "4", "--rest", "900",
                 "--centre-soc", "--soc-points", "21", "--current-dependence",
                 "butler-volmer", "--temperatures", "10", "25", "40", "90",
                 "--beyond-validity", "45"]) == 0
    assert out.exists()
    assert seen["cell"] == "lgm50" and seen["n_rc"] == 4 and seen["rest_s"] == 900.0
    assert seen["centre_soc"] is True and seen["beyond_validity_K"] == 45.0
    assert seen["current_dependence"] == "butler-volmer"
    assert len(seen["soc"]) == 21 and seen["soc"][0] == 0.05 and seen["soc"][-1] == 0.95
    assert seen["temperature_K"] == [283.15, 298.15, 313.15, 363.15]
    # defaults stay the identifier's own
    assert main(["reduce", "lgm50", "-o", str(out)]) == 0
    assert seen["rest_s"] == 120.0 and seen["centre_soc"] is False and seen["n_rc"] == 2
    assert seen["beyond_validity_K"] == 0.0
    assert main(["reduce", "lgm50", "-o", str(out), "--soc-points", "1"]) == 2
    assert "--soc-points must be an integer in [2, 201]; got 1" in capsys.readouterr().err


def test_export_of_an_ecm_with_hysteresis_says_how_to_run_it(tmp_path, capsys):
    """Stock Thevenin would ignore the hysteresis parameters silently: the CLI says so and
    names the model that carries them; the values themselves round-trip."""
    import pybamm

    from cellmodels.reduction import save_ecm

    from .test_ecm import make_hys_ecm

    ecm_path = save_ecm(make_hys_ecm(), tmp_path / "h.ecm.h5")
    assert main(["export", str(ecm_path), "--to", "pybamm", "-o", str(tmp_path / "p.json")]) == 0
    out = capsys.readouterr().out
    assert "cannot represent" in out and "cellmodels.export.pybamm_model(ecm)" in out
    pv = pybamm.ParameterValues.from_json(str(tmp_path / "p.json"))
    assert pv["Initial hysteresis state"] == 1.0
