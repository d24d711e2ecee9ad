"""Messages, checks and flags of the fit / reduce / export commands and their libraries."""

import warnings

import numpy as np
import pytest

from cellmodels.reduction import ValidityWarning, simulate_ecm

from .test_ecm import make_ecm as _test_ecm

SOC = np.linspace(0, 1, 11)
TEMPS = np.array([273.15, 298.15, 318.15])


def make_ecm(**changes):
    """test_ecm's ECM with three RC pairs and the coulomb-count capacity 20.00003 Ah
    against the validity's current_max_A = 100 A, set from the nominal 20 Ah at 5C."""
    kw = {"capacity_Ah": 20.00003,
          "rc_R_Ohm": np.stack([np.full((11, 3), r) for r in (1e-3, 0.5e-3, 0.3e-3)]),
          "rc_tau_s": np.stack([np.full((11, 3), tau) for tau in (2.0, 60.0, 600.0)])}
    kw.update(changes)
    return _test_ecm(**kw)


# ---------------------------------------------------------------- 7: the current bound
def run_at(current_A):
    ecm = make_ecm()
    t = np.linspace(0.0, 10.0, 11)
    return simulate_ecm(ecm, t, current_A=np.full(11, current_A), initial_soc=0.5,
                        temperature_K=298.15, thermal=False)


def test_five_c_on_the_coulomb_count_does_not_warn():
    # 5 * 20.00003 Ah = 100.00015 A, 1.5e-6 relative over the 100 A bound: inside 1e-5
    with warnings.catch_warnings():
        warnings.simplefilter("error", ValidityWarning)
        run_at(5 * make_ecm().capacity_Ah)


def test_current_beyond_the_tolerance_warns_and_names_the_callers_file():
    # 100.01 A is 1e-4 relative over: a real excursion, warned at this file's call
    # (simulate_ecm called here directly: a helper in this file would hide a stacklevel
    # one too deep, which names the helper's caller - also this file)
    t = np.linspace(0.0, 10.0, 11)
    with pytest.warns(ValidityWarning, match=r"current_A = 100\.01 is 0\.01 outside") as rec:
        simulate_ecm(make_ecm(), t, current_A=np.full(11, 100.01), initial_soc=0.5,
                     temperature_K=298.15, thermal=False)
    assert [w.filename for w in rec] == [__file__]


def test_solve_pybamm_takes_the_same_tolerance_and_names_the_callers_file():
    from cellmodels.export.pybamm_ecm import solve_pybamm

    ecm = make_ecm()
    t = np.array([0.0, 5.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ValidityWarning)
        solve_pybamm(ecm, t, [5 * ecm.capacity_Ah] * 2, initial_soc=0.5,
                     temperature_K=298.15)
    with pytest.warns(ValidityWarning, match=r"current_A = 100\.01 is 0\.01 outside") as rec:
        solve_pybamm(ecm, t, [100.01] * 2, initial_soc=0.5, temperature_K=298.15)
    assert [w.filename for w in rec] == [__file__]


# ---------------------------------------------------------------- 1-3: fit and fit-ecm
def parser_with(*adders):
    import argparse

    parser = argparse.ArgumentParser(prog="cellmodels")
    sub = parser.add_subparsers(dest="command")
    for add in adders:
        add(sub)
    return parser


def fit_ecm_args(*argv):
    from cellmodels.fitting.ecm_hppc import add_parser

    return parser_with(add_parser).parse_args(["fit-ecm", *argv])


def test_fit_ecm_without_a_temperature_names_the_flag(tmp_path):
    from cellmodels.errors import InputError

    # the Samsung excerpt does not say its temperature (meta chamber_temperature_K None)
    args = fit_ecm_args("samsung_inr21700_30t_pybop/sample_hppc_pulse.xlsx",
                        "-o", str(tmp_path / "x.ecm.h5"))
    with pytest.raises(InputError, match=r"no temperature in its file; give the cell "
                                         r"temperature with --temperature-C") as exc:
        args.func(args)
    assert "temperatures_K" not in str(exc.value)
    assert not (tmp_path / "x.ecm.h5").exists()


def test_fit_ecm_temperature_out_of_range_is_named_in_degc(tmp_path):
    from cellmodels.errors import InputError

    args = fit_ecm_args("samsung_inr21700_30t_pybop/sample_hppc_pulse.xlsx",
                        "--temperature-C", "298", "-o", str(tmp_path / "x.ecm.h5"))
    with pytest.raises(InputError, match=r"--temperature-C must be in \(-123.15, 226.85\) "
                                         r"degC .* Got 298 instead"):
        args.func(args)


def fit_args(*argv):
    from cellmodels.fitting._cli import add_parser

    return parser_with(add_parser).parse_args(["fit", *argv])


@pytest.mark.parametrize("argv, missing", [
    (["lgm50", "wmg-rate:T25:1C", "-o", "x.json"], "missing: --params (what to fit)."),
    (["lgm50", "--params", "State/Heat transfer coefficient [W.m-2.K-1]", "-o", "x.json"],
     "missing: at least one DATA (a dataset spec)."),
    (["lgm50", "wmg-rate:T25:1C"],
     "missing: --params (what to fit), -o (the fitted set to write)."),
    ([], ("missing: CELL (a parameter set), at least one DATA (a dataset spec), --params "
         "(what to fit), -o (the fitted set to write).")),
])
def test_fit_names_what_is_missing(argv, missing):
    from cellmodels.errors import InputError

    args = fit_args(*argv)
    with pytest.raises(InputError, match="missing: ") as exc:
        args.func(args)
    assert str(exc.value).split("; ")[1].startswith(missing)


def test_fit_and_fit_ecm_refuse_a_missing_folder_before_any_work(tmp_path, monkeypatch):
    from cellmodels.errors import InputError
    from cellmodels.fitting import physics

    def no_fit(*args, **kwargs):
        pytest.fail("fitted although an output folder is missing")

    monkeypatch.setattr(physics, "fit_physics", no_fit)
    missing = tmp_path / "nonexistent"
    base = ["lgm50", "wmg-rate:T25:1C", "--params",
            "User-defined/Contact resistance [Ohm]", "-o"]
    for extra, flag, path in (([str(missing / "x.json")], "-o", missing / "x.json"),
                              ([str(tmp_path / "x.json"), "--plot", str(missing / "p.png")],
                               "--plot", missing / "p.png"),
                              ([str(tmp_path / "x.json"), "--report", str(missing / "r.json")],
                               "--report", missing / "r.json")):
        args = fit_args(*base, *extra)
        with pytest.raises(InputError, match=f"the folder of {flag} {str(path)!r}, "
                                             f"{str(missing)!r}, does not exist"):
            args.func(args)
    args = fit_ecm_args("samsung_inr21700_30t_pybop/sample_hppc_pulse.xlsx",
                        "--temperature-C", "25", "-o", str(missing / "x.ecm.h5"))
    with pytest.raises(InputError, match="the folder of -o"):
        args.func(args)
    assert not missing.exists()


def test_fit_heat_of_mixing_flag_maps_and_checks(monkeypatch, capsys):
    from cellmodels.errors import InputError
    from cellmodels.fitting import physics

    base = ["lgm50", "wmg-rate:T25:1C", "--params", ("State/Heat transfer coefficient "
            "[W.m-2.K-1]"), "-o", "x.json"]
    assert fit_args(*base).heat_of_mixing == "off"  # default as before the flag
    seen = {}

    def fake_fit(*a, **kw):  # record what the CLI passes; the fit itself is not the point
        seen.update(kw)
        raise InputError("stop here")

    monkeypatch.setattr(physics, "fit_physics", fake_fit)
    monkeypatch.setattr("cellmodels.fitting.datasets.dataset_from_spec",
                        lambda spec: (object(), 1.0))
    monkeypatch.setattr(physics, "Experiment", lambda ds, **kw: ds)
    for flag, value in (("off", False), ("auto", "auto"), ("quasi-steady", "quasi-steady")):
        args = fit_args(*base, "--heat-of-mixing", flag)
        with pytest.raises(InputError, match="stop here"):
            args.func(args)
        assert seen["heat_of_mixing"] == value
    args = fit_args(*base, "--heat-of-mixing", "quasi-steady", "--thermal", "isothermal")
    with pytest.raises(InputError, match=r"--heat-of-mixing quasi-steady .* needs --thermal "
                                         r"lumped. Got --thermal isothermal"):
        args.func(args)
    args = fit_args(*base, "--heat-of-mixing", "auto", "--thermal", "measured")
    with pytest.raises(InputError, match=r"--thermal measured has no heat equation"):
        args.func(args)
    with pytest.raises(SystemExit, match="^2$"):  # argparse: usage error
        fit_args(*base, "--heat-of-mixing", "on")
    assert "invalid choice: 'on' (choose from 'off', 'auto', 'quasi-steady')" in \
        capsys.readouterr().err


# ---------------------------------------------------------------- 4: FitResult printout
def residual(name, temperature_model_K=None, temperature_measured_K=None):
    from cellmodels.fitting.result import ExperimentResidual

    t = np.linspace(0.0, 100.0, 5)
    return ExperimentResidual(
        name=name, source="x.csv", weight=1.0, time_s=t,
        voltage_measured_V=np.full(5, 3.7), voltage_model_V=np.full(5, 3.701),
        current_A=np.ones(5), temperature_measured_K=temperature_measured_K,
        temperature_model_K=temperature_model_K)


def printed(experiments, thermal):
    from cellmodels.fitting import FitResult

    J = np.eye(5, 1)
    return str(FitResult.from_solution(
        names=["p0"], x=np.zeros(1), x0=np.zeros(1), scaling=["linear"], scale=[1.0],
        bounds_z=(np.full(1, -1.0), np.full(1, 1.0)), jacobian=J, residuals=np.zeros(5),
        experiments=experiments, n_evaluations=1, n_jacobians=1, gradient="exact",
        success=True, status=1, message="test", wall_time_s=0.0,
        meta={"thermal": thermal}))


def test_fit_result_prints_the_temperature_rmse_where_there_is_one():
    meas = np.full(5, 298.15)
    # model 1 K warm on 4 samples, 3 K on one: RMSE sqrt((4 + 9) / 5) = 1.61 K
    model = meas + np.array([1.0, 1.0, 1.0, 1.0, 3.0])
    text = printed([residual("warm", model, meas), residual("no T")], "lumped")
    lines = text.splitlines()
    assert lines[-2].endswith("warm: RMSE 1.0 mV, max 1.0 mV, T RMSE 1.61 K")
    assert lines[-1].endswith("no T: RMSE 1.0 mV, max 1.0 mV")  # no measured temperature
    # thermal="measured": the model's temperature is the measured trace, nothing to report
    assert "T RMSE" not in printed([residual("warm", meas, meas)], "measured")


# ---------------------------------------------------------------- 5, 6: export
def run_cli(add_parser, *argv):
    args = parser_with(add_parser).parse_args(list(argv))
    return args.func(args)


def test_export_refuses_a_missing_folder_for_every_target(tmp_path, capsys):
    from cellmodels.export._cli import add_parser
    from cellmodels.reduction import save_ecm

    ecm_path = save_ecm(make_ecm(), tmp_path / "c.ecm.h5")
    missing = tmp_path / "nonexistent"
    for target in ("fmu", "pybamm", "json"):
        out = missing / f"x.{target}"
        assert run_cli(add_parser, "export", str(ecm_path), "--to", target, "-o", str(out)) == 2
        err = capsys.readouterr().err
        assert f"cellmodels export: the folder of -o {str(out)!r}, {str(missing)!r}, does " \
               "not exist; create it first" in err
        assert not missing.exists()  # nothing created
    (tmp_path / "file").write_text("")
    assert run_cli(add_parser, "export", str(ecm_path), "--to", "json", "-o",
                   str(tmp_path / "file" / "x.json")) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_export_to_pybamm_says_how_many_rc_pairs_to_run(tmp_path, capsys):
    import pybamm

    from cellmodels.export import pybamm_model
    from cellmodels.export._cli import add_parser
    from cellmodels.reduction import load_ecm, save_ecm

    ecm_path = save_ecm(make_ecm(), tmp_path / "c.ecm.h5")  # 3 RC pairs
    out = tmp_path / "p.json"
    assert run_cli(add_parser, "export", str(ecm_path), "--to", "pybamm", "-o", str(out)) == 0
    text = capsys.readouterr().out
    assert 'options={"number of rc elements": 3}' in text
    assert (f"cellmodels.export.pybamm_model(ecm), ecm = "
            f"cellmodels.reduction.load_ecm({str(ecm_path)!r})") in text
    assert "run pybamm.equivalent_circuit.Thevenin " not in text  # the old advice
    # what it names exists and takes the file: a model with the file's 3 RC pairs
    model = pybamm_model(load_ecm(ecm_path))
    assert model.options["number of rc elements"] == 3
    assert pybamm.ParameterValues.from_json(str(out))["Element-3 initial overpotential [V]"] \
        == 0.0


# ---------------------------------------------------------------- 6, 8, 9: reduce
def reduce_run(monkeypatch, *argv):
    """``cellmodels reduce`` with the identification replaced by a recorder (the real one
    takes minutes; the progress lines are tested on a small real one below)."""
    from cellmodels.reduction import identify
    from cellmodels.reduction._cli import add_parser

    seen = {}

    def fake_fit(self, cell, progress=False):
        seen.update(vars(self), cell=cell)
        self.ecm_ = make_ecm(error={"identification_rmse_V_mean": 1e-3,
                                    "identification_rmse_V_max": 2e-3})
        self.fit_table_ = [{"soc": 0.05, "temperature_K": 283.15, "rmse_V": 2e-3},
                           {"soc": 0.5, "temperature_K": 298.15, "rmse_V": 1e-3}]
        self.seconds_ = 0.0
        return self

    monkeypatch.setattr(identify.ECMIdentifier, "fit", fake_fit)
    return run_cli(add_parser, "reduce", *argv), seen


def test_reduce_refuses_a_missing_folder_before_identifying(tmp_path, monkeypatch, capsys):
    out = tmp_path / "nonexistent" / "c.ecm.h5"
    code, seen = reduce_run(monkeypatch, "lgm50", "-o", str(out))
    assert code == 2 and seen == {}  # the identification never started
    assert f"the folder of -o {str(out)!r}" in capsys.readouterr().err
    assert not out.parent.exists()


def test_reduce_passes_cutoff_margin_and_per_point_tau(tmp_path, monkeypatch, capsys):
    out = str(tmp_path / "c.ecm.h5")
    code, seen = reduce_run(monkeypatch, "lgm50", "-o", out)
    assert code == 0 and seen["shared_tau"] is True and seen["cutoff_margin_V"] == 0.0
    # where the largest identification error sits, from the fit table
    assert "max 2.00 mV (at SOC 0.05, 10 degC)" in capsys.readouterr().out
    code, seen = reduce_run(monkeypatch, "lgm50", "-o", out, "--cutoff-margin", "0.05",
                            "--per-point-tau")
    assert code == 0 and seen["shared_tau"] is False and seen["cutoff_margin_V"] == 0.05
    code, seen = reduce_run(monkeypatch, "lgm50", "-o", out, "--cutoff-margin", "0.1", "0.02")
    assert code == 0 and seen["cutoff_margin_V"] == (0.1, 0.02)


@pytest.mark.parametrize("margin, message", [
    (["1.5"], ("--cutoff-margin must be in [0, 1] V (how far inside the voltage cut-offs the "
              "sequence stays); got 1.5.")),
    (["-0.01"], "--cutoff-margin must be in [0, 1] V"),
    (["0.1", "0.1", "0.1"], ("--cutoff-margin takes one value (both cut-offs) or two (lower, "
                            "upper) [V]; got 3: 0.1 0.1 0.1.")),
])
def test_reduce_checks_cutoff_margin(tmp_path, monkeypatch, capsys, margin, message):
    code, seen = reduce_run(monkeypatch, "lgm50", "-o", str(tmp_path / "c.ecm.h5"),
                            "--cutoff-margin", *margin)
    assert code == 2 and seen == {}
    assert f"cellmodels reduce: {message}" in capsys.readouterr().err


def test_reduce_help_documents_the_new_flags(capsys):
    from cellmodels.reduction._cli import add_parser

    with pytest.raises(SystemExit, match="^0$"):  # --help exits 0
        parser_with(add_parser).parse_args(["reduce", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--cutoff-margin V [V ...]" in text and "each in [0, 1]" in text
    assert "--per-point-tau" in text and "(shared_tau=False)" in text
    assert "its folder must exist" in text


def test_identification_progress_names_each_temperature_and_the_worst_point(capsys):
    from cellmodels.reduction._cli import summary
    from cellmodels.reduction.identify import ECMIdentifier

    # a small real identification (SPM, 2 x 2 points, 30 s sequence): ~3 s
    ident = ECMIdentifier(n_rc=1, soc=(0.4, 0.6), temperature_K=[298.15, 308.15],
                          model="SPM", sequence_s=20.0, rest_s=10.0,
                          ocv_points=11).fit("lgm50", progress=True)
    err = capsys.readouterr().err
    assert "reduce lgm50: fitting the tables at 2 temperature(s) (time constants shared " \
           "over SOC)" in err
    for j, temp in enumerate((25, 35)):
        rows = [r for r in ident.fit_table_ if r["temperature_K"] == temp + 273.15]
        worst = max(rows, key=lambda r: r["rmse_V"])
        assert (f"  {temp} degC ({j + 1}/2): fitted in ") in err
        assert (f"RMSE max {worst['rmse_V'] * 1e3:.2f} mV at SOC {worst['soc']:g}") in err
    worst = max(ident.fit_table_, key=lambda r: r["rmse_V"])
    assert worst["rmse_V"] == ident.ecm_.error["identification_rmse_V_max"]
    assert (f"max {worst['rmse_V'] * 1e3:.2f} mV (at SOC {worst['soc']:g}, "
            f"{worst['temperature_K'] - 273.15:g} degC)") in summary(ident, "x.ecm.h5")
