"""Bad input to fitting and the measured-data readers (issue 3, "Bad input"): each is a
clear error naming the file, the column or the sample, the allowed range and the value,
through the public API on real (small, synthetic) files; a fit that does not converge is
never a success, and ``cellmodels fit`` then exits 1 without writing a set."""

import argparse

import numpy as np
import pytest

from cellmodels.errors import DataError, InputError
from cellmodels.fitting import (
    Experiment,
    PhysicsProblem,
    dataset_from_spec,
    fit_ecm_hppc,
)
from cellmodels.measured import Dataset, read_nissan, read_nissan_lvm

#: A 5 Ah LG M50 (the "lgm50" set): rest at 4.0 V, a 60 s 10 A (2C) discharge pulse, rest.
#: The measured voltage is a plausible placeholder: the checks look at units and sign.
T = np.concatenate([[0.0], np.linspace(0.5, 60.0, 60), np.linspace(61.0, 120.0, 30)])
I = np.where((T > 0) & (T <= 60.0), 10.0, 0.0)
V = 4.0 - 0.01 * I - 1e-4 * np.cumsum(I) * (T <= 60.0)  # IR drop, falling under load
TK = np.full(T.size, 298.15)


def write_csv(path, columns: dict, header=None):
    head = header or list(columns)
    rows = zip(*columns.values(), strict=True)
    path.write_text(",".join(head) + "\n" + "\n".join(",".join(repr(float(x)) for x in r)
                                                      for r in rows) + "\n")
    return path


def problem(spec, **kwargs):
    ds, weight = dataset_from_spec(str(spec))
    return PhysicsProblem("lgm50", [Experiment(ds, weight=weight)],
                          ["User-defined/Contact resistance [Ohm]"], model="SPM",
                          thermal="isothermal", **kwargs)


# ------------------------------------------------------- units and sign, caught by magnitude
def test_a_csv_in_milliamperes_is_named_with_column_sample_and_limit(tmp_path):
    csv = write_csv(tmp_path / "pulse_mA.csv", {"time_s": T, "current_A": 1e3 * I,
                                                "voltage_V": V, "temperature_K": TK})
    # 15C of the set's 5 Ah rating is the largest plausible current
    with pytest.raises(DataError, match=r"pulse_mA.csv: column 'current_A' must be in amperes, "
                       r"at most 75 A \(15C of the rated 5 Ah\) in magnitude. Got 10000.0 at "
                       r"sample 1 instead \(milliamperes given as amperes\?\)"):
        problem(csv)


def test_a_csv_in_millivolts_is_named(tmp_path):
    csv = write_csv(tmp_path / "pulse_mV.csv", {"time_s": T, "current_A": I,
                                                "voltage_V": 1e3 * V, "temperature_K": TK})
    with pytest.raises(DataError, match=r"pulse_mV.csv: column 'voltage_V' must be a cell "
                       r"voltage in volts, in \[1, 5\] V. Got 4000.0 at sample 0 instead "
                       r"\(millivolts given as volts\?\)"):
        problem(csv)


def test_a_discharge_logged_negative_is_named(tmp_path):
    csv = write_csv(tmp_path / "pulse_sign.csv", {"time_s": T, "current_A": -I,
                                                  "voltage_V": V, "temperature_K": TK})
    with pytest.raises(DataError, match=r"pulse_sign.csv: column 'current_A' disagrees with "
                       r"the voltage: over 1 of 1 steps .* first at samples 1-60: a charge "
                       r"\(mean -10 A, discharge positive\) where the voltage falls"):
        problem(csv)


def test_a_temperature_in_celsius_is_named(tmp_path):
    csv = write_csv(tmp_path / "pulse_degC.csv", {"time_s": T, "current_A": I,
                                                  "voltage_V": V, "temperature_K": TK - 273.15})
    with pytest.raises(DataError, match=r"pulse_degC.csv: column 'temperature_K' must be a cell "
                       r"temperature in kelvin, in \[233.15, 373.15\] K. Got 25.0 at sample 0 "
                       r"instead \(degrees Celsius given as kelvin\?\)"):
        problem(csv)


def test_a_dataset_built_in_code_is_checked_too():
    ds = Dataset(time_s=T, current_A=1e3 * I, voltage_V=V, name="mA", source="my array",
                 temperature_K=TK)
    with pytest.raises(DataError, match=r"my array: column 'current_A' must be in amperes"):
        PhysicsProblem("lgm50", [Experiment(ds)], ["User-defined/Contact resistance [Ohm]"],
                       model="SPM", thermal="isothermal")


def test_nan_and_time_going_back_are_named_in_a_csv(tmp_path):
    bad = V.copy()
    bad[7] = np.nan
    csv = write_csv(tmp_path / "nan.csv", {"time_s": T, "current_A": I, "voltage_V": bad})
    with pytest.raises(DataError, match=r"nan.csv: column 'voltage_V' holds nan at sample 7; "
                       r"NaN and inf are not allowed"):
        dataset_from_spec(str(csv))
    t = T.copy()
    t[5] = t[4]
    csv = write_csv(tmp_path / "time.csv", {"time_s": t, "current_A": I, "voltage_V": V})
    with pytest.raises(DataError, match=rf"time.csv: column 'time_s' does not increase at "
                       rf"sample 5 \({float(t[4])!r} then {float(t[4])!r}\)"):
        dataset_from_spec(str(csv))


# ------------------------------------------------------------------- the fit's CSV reader
@pytest.mark.parametrize("text, match", [
    ("time_s,current_A,voltage_V\n0,0,4.0\n1,,4.0\n",
     r"column 'current_A' holds '' at sample 1 \(line 3\), not a number"),
    ("time_s,current_A,voltage_V\n0,0,4.0\n1,0\n",
     r"sample 1 \(line 3\) has 2 fields; the header has 3"),
    ("time_s,current_A,voltage_V\n0,0,4.0\n1,0,4.0 V\n",
     r"column 'voltage_V' holds '4.0 V' at sample 1 \(line 3\), not a number"),
    ("time_s,current_A,voltage_V\n",
     r"the file holds 0 sample\(s\); at least 2 needed"),
    ("time_s,current_mA,voltage_V\n0,0,4.0\n1,0,4.0\n",
     (r"the header holds the column 'current_mA'; the columns must be time_s, current_A, "
      r"voltage_V and optionally temperature_K \(SI units\). Did you mean 'current_A'\?")),
    ("time_s,current_A,voltage_V,voltage_V\n0,0,4.0,4.0\n1,0,4.0,4.0\n",
     r"the column 'voltage_V' appears twice"),
    ("time_s,voltage_V\n0,4.0\n1,4.0\n", r"no column 'current_A' in the header"),
])
def test_the_fit_csv_reader_names_line_and_column(tmp_path, text, match):
    csv = tmp_path / "data.csv"
    csv.write_text(text)
    with pytest.raises(DataError, match="data.csv: " + match):
        dataset_from_spec(str(csv))


# ----------------------------------------------------------------- the Bitrode/LVM readers
HEADER = ("Exclude,Time(s),Cycle,Loop,Loop,Loop,Step,StepTime(s),Current(A),Voltage(V),"
          "Power(W),Capacity(Ah),Energy(Wh),Mode,Data,")


def test_an_unknown_bitrode_mode_is_named_not_a_crash(tmp_path):
    rows = []
    for k in range(20):
        dch = 5 <= k < 15
        i, v = (-30.0, 3.85 - 0.001 * (k - 5)) if dch else (0.0, 3.9)
        rows.append(["No", f"{k + 1}.0", "1", "1", "1", "1", "2" if dch else "1", "1.0",
                     f"{i:.2f}", f"{v:.3f}", f"{i * v:.1f}", "0.00", "0.00",
                     ("DCHG" if dch else "REST") if k != 9 else "CHARGE", " ", ""])
    p = tmp_path / "NissanLeaf-cell-Low-Current-HPPC-25C-x.csv"
    p.write_text("\n".join([HEADER] + [",".join(r) for r in rows]) + "\n")
    # (the message used to call float() on the text and raise ValueError instead)
    with pytest.raises(DataError, match=r"column 'Mode' holds 'CHARGE' at sample 9 \(line 11\); "
                       r"expected one of CHRG, DCHG, REST"):
        read_nissan(p)


def test_a_labview_file_with_a_header_is_named_not_a_crash(tmp_path):
    p = tmp_path / "Temperature-x.lvm"
    p.write_text("Time\tTC1\tTC2\tTC3\tTC4\n\t20.0\t21.0\t22.0\t20.5\n")
    with pytest.raises(DataError, match=r"line 1 starts with 'Time'; this reader takes headerless"):
        read_nissan_lvm(p)


# --------------------------------------------------------------------- the ECM fit to HPPC
def _hppc(scale_i=1.0, scale_v=1.0, sign=1.0, meta=None):
    t = np.arange(0.0, 400.0, 1.0)
    i = np.where((t >= 50) & (t < 110) | (t >= 200) & (t < 260), 2.0, 0.0)
    v = 3.7 - 0.02 * i - 2e-4 * np.cumsum(i)
    return Dataset(time_s=t, current_A=sign * scale_i * i, voltage_V=scale_v * v,
                   name="hppc", source="hppc.csv", meta=meta or {})


def test_fit_ecm_hppc_names_units_and_sign():
    rated = {"nominal_capacity_Ah": 2.0}
    with pytest.raises(DataError, match=r"hppc.csv: column 'current_A' must be in amperes, at "
                       r"most 30 A .* Got 2000.0 at sample 50"):
        fit_ecm_hppc([_hppc(scale_i=1e3, meta=rated)], temperatures_K=[298.15])
    # no rating known: the voltage window and the sign are still checked
    with pytest.raises(DataError, match=r"hppc.csv: column 'voltage_V' must be a cell voltage "
                       r"in volts, in \[1, 5\] V. Got 3700.0 at sample 0"):
        fit_ecm_hppc([_hppc(scale_v=1e3)], temperatures_K=[298.15])
    with pytest.raises(DataError, match=r"hppc.csv: column 'current_A' disagrees with the "
                       r"voltage: over 2 of 2 steps"):
        fit_ecm_hppc([_hppc(sign=-1.0)], temperatures_K=[298.15])
    with pytest.raises(InputError, match=r"'soc_knots' must span the SOC the records reach, "
                       r"\[0.9667, 1\] .* Got \[0.97, 1.0\] instead"):
        fit_ecm_hppc([_hppc()], temperatures_K=[298.15], capacity_Ah=2.0, soc_knots=[0.97, 1.0])
    with pytest.raises(InputError, match=r"'soc_knots' must span .* Got \[0.9, 0.99\]"):
        fit_ecm_hppc([_hppc()], temperatures_K=[298.15], capacity_Ah=2.0, soc_knots=[0.9, 0.99])
    with pytest.raises(InputError, match=r"'capacity_Ah' \(2 Ah\) is below the charge a record "
                       r"swings \(66.67 Ah\).*current in mA"):
        fit_ecm_hppc([_hppc(scale_i=1e3)], temperatures_K=[298.15], capacity_Ah=2.0)


# --------------------------------------------------------- a fit that does not converge (CLI)
def test_cli_fit_that_does_not_converge_exits_1_and_writes_nothing(tmp_path, capsys):
    from cellmodels.fitting._cli import add_parser

    csv = write_csv(tmp_path / "pulse.csv", {"time_s": T, "current_A": I, "voltage_V": V,
                                             "temperature_K": TK})
    parser = argparse.ArgumentParser(prog="cellmodels")
    add_parser(parser.add_subparsers(dest="command", required=True))
    out, report = tmp_path / "fitted.json", tmp_path / "fit.json"
    args = parser.parse_args([
        "fit", "lgm50", str(csv), "--params", "User-defined/Contact resistance [Ohm]=0:0.05",
        "Negative electrode/Diffusivity [m2.s-1]", "--model", "SPM", "--thermal",
        "isothermal", "--max-nfev", "1", "-o", str(out), "--report", str(report)])
    assert args.func(args) == 1
    text = capsys.readouterr().out
    assert "DID NOT CONVERGE" in text and "no parameter set written" in text
    assert not out.exists() and not list(tmp_path.glob("*.part"))
    import json

    summary = json.loads(report.read_text())
    assert summary["success"] is False
    assert "did not converge" in summary["message"] and "max_nfev" in summary["message"]


def test_a_model_that_stopped_early_is_said_next_to_its_rmse():
    """The RMSE of an experiment is over the samples the model reached; the printed result
    says how much of the record that is, so a short run does not read as a good fit."""
    from cellmodels.fitting import ExperimentResidual, FitResult

    t = np.linspace(0.0, 100.0, 11)
    vm = np.where(t <= 40.0, 3.7, np.nan)
    exp = ExperimentResidual(name="rec", source="rec.csv", weight=1.0, time_s=t,
                             voltage_measured_V=np.full(t.size, 3.701), voltage_model_V=vm,
                             current_A=np.full(t.size, 1.0), model_end_s=40.0)
    j = np.column_stack([np.ones(11), np.linspace(0, 1, 11)])
    res = FitResult.from_solution(
        names=["a", "b"], x=np.zeros(2), x0=np.zeros(2), scaling=["linear"] * 2,
        scale=[1.0, 1.0], bounds_z=(np.full(2, -1.0), np.full(2, 1.0)), jacobian=j,
        residuals=np.linspace(-1e-3, 1e-3, 11), experiments=[exp], n_evaluations=1,
        n_jacobians=1, gradient="exact", success=True, status=1, message="test",
        wall_time_s=0.0)
    assert "rec: RMSE 1.0 mV, max 1.0 mV over the 40 % of the record the model reached " \
        "(it stopped at t = 40.0 s)" in str(res)


def test_cli_fit_ecm_that_does_not_converge_exits_1_and_writes_nothing(tmp_path, capsys):
    from cellmodels.fitting.ecm_hppc import add_parser

    parser = argparse.ArgumentParser(prog="cellmodels")
    add_parser(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "s30t.ecm.h5"
    args = parser.parse_args(["fit-ecm", "samsung_inr21700_30t_pybop/sample_hppc_pulse.xlsx",
                              "--temperature-C", "25", "--max-nfev", "1", "-o", str(out)])
    assert args.func(args) == 1
    text = capsys.readouterr().out
    assert "DID NOT CONVERGE" in text and "no ECM written" in text
    assert not out.exists() and not list(tmp_path.glob("*.part"))
