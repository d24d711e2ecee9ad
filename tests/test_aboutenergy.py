"""The About:Energy reader, and the DFN against About:Energy's published errors (fast part).

The full comparison, with the drive cycles, is the slow validation case
``validation/case_aboutenergy.py`` (``cellmodels validate``).
"""

import numpy as np
import pytest

from cellmodels import data
from cellmodels.errors import DataError
from cellmodels.measured import Dataset
from cellmodels.measured.aboutenergy import available_runs, detect_sign, read_aboutenergy

NMC_1C = "aboutenergy_bpx/NMC/NMC_25degC_1C.csv"


def test_every_run_is_registered_and_reads():
    runs = available_runs()
    assert len(runs) == 10
    assert available_runs("LFP") == [r for r in runs if "/LFP/" in r]
    for name in runs:
        ds = read_aboutenergy(name)
        assert isinstance(ds, Dataset)
        n = len(ds.time_s)
        assert n > 1000 and ds.current_A.shape == ds.voltage_V.shape == (n,)
        assert ds.time_s[0] == 0.0 and np.all(np.diff(ds.time_s) > 0)
        assert ds.temperature_K is None
        assert ds.meta["raw_current_sign"] == "discharge negative"
        assert ds.meta["chamber_temperature_K"] == pytest.approx(298.15)
        assert ds.source == name


@pytest.mark.parametrize("chem, nominal", [("NMC", 12.5), ("LFP", 2.0)])
def test_c20_discharge_is_positive_and_near_nominal_capacity(chem, nominal):
    ds = read_aboutenergy(f"aboutenergy_bpx/{chem}/{chem}_25degC_Co20.csv")
    assert ds.name == f"{chem} 25degC C/20"
    assert ds.meta["protocol"] == "C/20"
    # discharge positive, at C/20 of the nominal capacity after the first samples
    assert np.median(ds.current_A) == pytest.approx(nominal / 20, rel=0.01)
    assert ds.current_A.min() > -1e-2
    q = ds.discharged_Ah()[-1]
    assert nominal < q < 1.1 * nominal  # 13.10 Ah and 2.07 Ah measured
    assert ds.voltage_V[-1] < ds.voltage_V[0]


def test_units_are_si():
    ds = read_aboutenergy(NMC_1C)
    assert np.median(ds.current_A) == pytest.approx(12.5, rel=1e-3)  # A, not mA
    assert 2.69 < ds.voltage_V.min() < ds.voltage_V.max() < 4.2  # V, not mV
    assert ds.duration_s == pytest.approx(3727.07, abs=0.01)  # s, not ms


def test_detect_sign_reads_the_voltage_response():
    i = np.array([0.0, 0.0, 5.0, 5.0, 0.0, 0.0])  # discharge-positive pulse
    v = np.array([3.6, 3.6, 3.5, 3.49, 3.58, 3.59])
    assert detect_sign(i, v) == 1.0
    assert detect_sign(-i, v) == -1.0
    with pytest.raises(DataError, match="no current step"):
        detect_sign(np.zeros(6), v, "x.csv")
    with pytest.raises(DataError, match="ambiguous"):
        detect_sign(np.array([0.0, 5.0, 0.0, 5.0, 0.0]), np.array([3.6, 3.5, 3.6, 3.7, 3.6]))


def _write(tmp_path, edit, name="NMC_25degC_1C.csv"):
    lines = data.path(NMC_1C).read_text().splitlines()
    lines = edit(lines)
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def _scale(column, factor):
    def edit(lines):
        out = [lines[0]]
        for line in lines[1:]:
            cells = line.split(",")
            cells[column] = repr(float(cells[column]) * factor)
            out.append(",".join(cells))
        return out

    return edit


def test_a_good_copy_reads_like_the_registered_file(tmp_path):
    ds = read_aboutenergy(_write(tmp_path, lambda lines: lines))
    ref = read_aboutenergy(NMC_1C)
    assert np.array_equal(ds.voltage_V, ref.voltage_V)
    assert ds.source.endswith("NMC_25degC_1C.csv")


def test_nan_names_file_column_and_sample(tmp_path):
    def edit(lines):
        lines[3] = lines[3].rsplit(",", 1)[0] + ",nan"
        return lines

    with pytest.raises(DataError, match=r"NMC_25degC_1C\.csv: column 'U\[V\]' holds nan at "
                                        r"sample 2 \(line 4\)"):
        read_aboutenergy(_write(tmp_path, edit))


def test_non_increasing_time_is_refused(tmp_path):
    def edit(lines):
        lines[5] = lines[4]  # a repeated sample
        return lines

    with pytest.raises(DataError, match=r"column 'Time \[s\]' does not increase at sample 4"):
        read_aboutenergy(_write(tmp_path, edit))


def test_millivolts_are_refused(tmp_path):
    with pytest.raises(DataError, match=r"column 'U\[V\]' must be in volts.*sample 0.*"
                                        r"millivolts"):
        read_aboutenergy(_write(tmp_path, _scale(2, 1000.0)))


def test_milliamperes_are_refused(tmp_path):
    with pytest.raises(DataError, match=r"column 'I\[A\]' must be in amperes.*milliamperes"):
        read_aboutenergy(_write(tmp_path, _scale(1, 1000.0)))


def test_milliseconds_are_refused(tmp_path):
    with pytest.raises(DataError, match=r"charge passed reaches 18.75 Ah.*milliseconds"):
        read_aboutenergy(_write(tmp_path, _scale(0, 1000.0)))


def test_text_in_a_number_column_is_refused(tmp_path):
    def edit(lines):
        lines[10] = "9,-12.5,four"
        return lines

    with pytest.raises(DataError, match=r"column 'U\[V\]' holds 'four' at sample 9"):
        read_aboutenergy(_write(tmp_path, edit))


def test_wrong_header_and_file_name_are_refused(tmp_path):
    def header(lines):
        lines[0] = "Time [s],Current [A],Voltage [V]"
        return lines

    with pytest.raises(DataError, match="the header must be Time"):
        read_aboutenergy(_write(tmp_path, header))
    with pytest.raises(DataError, match="file name must look like"):
        read_aboutenergy(_write(tmp_path, lambda lines: lines, name="NMC_25degC_3C.csv"))


def test_unknown_registry_name_suggests_the_right_one():
    with pytest.raises(DataError, match="Did you mean 'aboutenergy_bpx/NMC/NMC_25degC_1C.csv'"):
        read_aboutenergy("aboutenergy_bpx/NMC/NMC_25degC_1c.csv")


@pytest.mark.parametrize("chem", ["NMC", "LFP"])
def test_dfn_reproduces_published_constant_current_errors(chem, tmp_path):
    """C/20, C/2, 1C and 2C within +-3 mV of About:Energy's published RMSE (drive cycle:
    the slow validation case)."""
    from validation.case_aboutenergy import PUBLISHED_MV, TOLERANCE_MV, run_cell

    res = run_cell(chem, ("Co20", "Co2", "1C", "2C"), fig_dir=tmp_path)
    assert res.passed, res.rows
    assert [r["run"] for r in res.rows] == ["C/20", "C/2", "1C", "2C"]
    for row, label in zip(res.rows, ("Co20", "Co2", "1C", "2C"), strict=True):
        assert abs(row["RMSE [mV]"] - PUBLISHED_MV[chem][label]) <= TOLERANCE_MV
        assert row["RMSE first 90 % [mV]"] < row["RMSE [mV]"]
        assert row["capacity model [Ah]"] == pytest.approx(row["capacity measured [Ah]"],
                                                           rel=0.03)
    assert (tmp_path / f"aboutenergy_{chem.lower()}.png").stat().st_size > 10_000
