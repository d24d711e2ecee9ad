"""Bad input to the readers and to the Dataset checks: each gets a DataError naming the
file, the column and the sample (small synthetic arrays and files)."""

import zipfile

import numpy as np
import pytest

from cellmodels.errors import DataError
from cellmodels.measured import (
    Dataset,
    check_dataset,
    detect_current_sign,
    read_kokam,
    read_nissan,
    read_nissan_lvm,
    read_samsung,
)


def _pulses(scale_i=1.0, scale_v=1.0, scale_t=1.0, sign=1.0):
    """Two 3 A discharge steps of a 3 Ah cell, voltage falling under load."""
    t = np.arange(0.0, 200.0, 1.0)
    i = np.where((t >= 20) & (t < 80) | (t >= 120) & (t < 180), 3.0, 0.0)
    v = 4.0 - 0.01 * i - 2e-4 * np.cumsum(i)  # IR drop plus a falling trend under load
    return Dataset(time_s=t * scale_t, current_A=sign * i * scale_i, voltage_V=v * scale_v,
                   name="synthetic", source="synthetic.csv")


def test_good_synthetic_data_passes():
    check_dataset(_pulses(), 3.0)
    assert detect_current_sign(_pulses().current_A, _pulses().voltage_V) == 1.0


def test_nan_and_inf_samples():
    t = np.arange(5.0)
    v = np.array([3.7, 3.7, np.nan, 3.6, 3.6])
    with pytest.raises(DataError, match=r"synthetic.csv: column 'voltage_V' holds nan at sample 2"):
        Dataset(time_s=t, current_A=np.zeros(5), voltage_V=v, name="x", source="synthetic.csv")
    i = np.array([0, 0, 0, np.inf, 0.0])
    with pytest.raises(DataError, match=r"column 'current_A' holds inf at sample 3"):
        Dataset(time_s=t, current_A=i, voltage_V=np.full(5, 3.7), name="x",
                source="synthetic.csv")


def test_time_not_increasing():
    t = np.array([0.0, 1.0, 2.0, 2.0, 3.0])
    with pytest.raises(DataError, match=r"column 'time_s' does not increase at sample 3"):
        Dataset(time_s=t, current_A=np.zeros(5), voltage_V=np.full(5, 3.7), name="x",
                source="synthetic.csv")


def test_millivolts_given_as_volts():
    with pytest.raises(DataError, match=r"column 'voltage_V' .* Got 4000.0 at sample 0 "
                                        r"instead \(millivolts given as volts\?\)"):
        check_dataset(_pulses(scale_v=1000.0), 3.0)


def test_milliamperes_given_as_amperes():
    with pytest.raises(DataError, match=r"column 'current_A' must be in amperes, at most 45 A "
                                        r".* Got 3000.0 at sample 20 .*milliamperes"):
        check_dataset(_pulses(scale_i=1000.0), 3.0)


def test_time_in_milliseconds():
    # 3 A for 120 000 "s": 100 Ah through a 3 Ah cell
    with pytest.raises(DataError, match=r"charge passed swings by 100 Ah.*milliseconds"):
        check_dataset(_pulses(scale_t=1000.0), 3.0)


def test_current_sign_disagrees_with_voltage_trend():
    with pytest.raises(DataError, match=r"column 'current_A' disagrees with the voltage: over "
                                        r"2 of 2 steps .* first at samples 20-79: a charge"):
        check_dataset(_pulses(sign=-1.0), 3.0)


def test_detect_sign_needs_clear_steps():
    with pytest.raises(DataError, match="no current step"):
        detect_current_sign(np.zeros(4), np.full(4, 3.7), "f.csv", "I")
    with pytest.raises(DataError, match="ambiguous"):
        detect_current_sign(np.array([0.0, 5.0, 0.0, 5.0, 0.0]),
                            np.array([3.6, 3.5, 3.6, 3.7, 3.6]))


# --- Nissan Bitrode CSV -----------------------------------------------------------------

HEADER = ("Exclude,Time(s),Cycle,Loop,Loop,Loop,Step,StepTime(s),Current(A),Voltage(V),"
          "Power(W),Capacity(Ah),Energy(Wh),Mode,Data,")


def _bitrode(tmp_path, edit=None):
    rows = []
    for k in range(60):
        dch = 10 <= k < 50
        i = -30.0 if dch else 0.0
        v = (3.9 - 0.05 - 0.001 * (k - 10)) if dch else 3.9
        rows.append(["No", f"{k + 1}.0", "1", "1", "1", "1", "2" if dch else "1", "1.0",
                     f"{i:.2f}", f"{v:.3f}", f"{i * v:.1f}", "0.00", "0.00",
                     "DCHG" if dch else "REST", " ", ""])
    if edit:
        edit(rows)
    p = tmp_path / "NissanLeaf-cell-Low-Current-HPPC-25C-x.csv"
    p.write_text("\n".join([HEADER] + [",".join(r) for r in rows]) + "\n")
    return p


def test_nissan_synthetic_file_reads(tmp_path):
    ds = read_nissan(_bitrode(tmp_path))
    assert ds.current_A.max() == 30.0 and ds.meta["chamber_temperature_K"] == 298.15


def test_nissan_millivolts_break_power(tmp_path):
    def edit(rows):
        for r in rows:
            r[9] = f"{1000 * float(r[9]):.0f}"
    with pytest.raises(DataError, match=r"column 'Power\(W\)' = -115.5 at sample 10 \(line 12\) "
                                        r"is not 'Current\(A\)' x 'Voltage\(V\)'"):
        read_nissan(_bitrode(tmp_path, edit))


def test_nissan_sign_against_mode(tmp_path):
    def edit(rows):
        rows[30][8] = "30.00"
        rows[30][10] = f"{30 * float(rows[30][9]):.1f}"
    with pytest.raises(DataError, match=r"column 'Current\(A\)' = 30.0 at sample 30 \(line 32\) "
                                        r"has the other sign than the rest of its mode \(DCHG\)"):
        read_nissan(_bitrode(tmp_path, edit))


def test_nissan_time_and_numbers(tmp_path):
    def back(rows):
        rows[7][1] = "3.0"
    with pytest.raises(DataError, match=r"column 'Time\(s\)' does not increase at sample 7 "
                                        r"\(line 9\)"):
        read_nissan(_bitrode(tmp_path, back))

    def word(rows):
        rows[4][9] = "n/a"
    with pytest.raises(DataError, match=r"column 'Voltage\(V\)' holds 'n/a' at sample 4"):
        read_nissan(_bitrode(tmp_path, word))

    def nan(rows):
        rows[4][8] = "nan"
    with pytest.raises(DataError, match=r"column 'Current\(A\)' holds nan at sample 4"):
        read_nissan(_bitrode(tmp_path, nan))


def test_lvm_in_kelvin_is_refused(tmp_path):
    p = tmp_path / "t.lvm"
    p.write_text("\t25.0\t25.1\t25.2\t25.0\n\t298.2\t25.1\t25.2\t25.0\n")
    with pytest.raises(DataError, match=r"channel TC1 holds 298.2 at row 1"):
        read_nissan_lvm(p)


# --- Samsung .xlsx ---------------------------------------------------------------------

def write_xlsx(path, header, rows):
    """A one-sheet .xlsx (Sheet1) of a header row and rows of numbers or text, written by
    hand (zip + XML), as the reader parses it."""
    def cell(ref, val):
        if isinstance(val, str):
            return f'<c r="{ref}" t="inlineStr"><is><t>{val}</t></is></c>'
        return f'<c r="{ref}"><v>{val!r}</v></c>'

    letters = "ABCDEFGH"
    body = []
    for r, vals in enumerate([header, *rows], start=1):
        cells = "".join(cell(f"{letters[j]}{r}", x) for j, x in enumerate(vals))
        body.append(f'<row r="{r}">{cells}</row>')
    m = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{m}" xmlns:r="{rns}"><sheets>'
                   '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'relationships"><Relationship Id="rId1" Target="worksheets/sheet1.xml" '
                   'Type="x"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml",
                   f'<worksheet xmlns="{m}"><sheetData>{"".join(body)}</sheetData></worksheet>')
    return path


def _xlsx(tmp_path, rows, header=("Time", "Current", "Voltage")):
    return write_xlsx(tmp_path / "multipulse_hppc.xlsx", header, rows)


def _sam_rows():
    t = np.round(np.arange(0, 30, 0.1), 3)
    i = np.where((t >= 5) & (t < 15), 3.0, 0.0)
    v = 4.18 - 0.008 * i - 1e-4 * np.cumsum(i)
    return [[float(a), float(b), float(c)] for a, b, c in zip(t, i, v, strict=True)]


def test_samsung_synthetic_reads_and_drops_exact_duplicates(tmp_path):
    rows = _sam_rows()
    rows.insert(10, list(rows[9]))
    ds = read_samsung(_xlsx(tmp_path, rows))
    assert ds.time_s.size == 300 and ds.meta["dropped_duplicate_rows"] == [10]


def test_samsung_duplicate_time_with_other_values(tmp_path):
    rows = _sam_rows()
    rows.insert(10, [rows[9][0], rows[9][1], rows[9][2] + 0.01])
    with pytest.raises(DataError, match=r"column 'Time' repeats 0.9 at samples 9 and 10 with "
                                        "different values"):
        read_samsung(_xlsx(tmp_path, rows))


def test_samsung_millivolts_and_missing_column(tmp_path):
    rows = [[a, b, 1000 * c] for a, b, c in _sam_rows()]
    # the file's own column is named (its Dataset field is voltage_V)
    with pytest.raises(DataError, match=r"column 'Voltage' .* in \[2.5, 4.25\] V.*millivolts"):
        read_samsung(_xlsx(tmp_path, rows))
    with pytest.raises(DataError, match=r"no column 'Voltage' in its first row"):
        read_samsung(_xlsx(tmp_path, _sam_rows(), header=("Time", "Current", "U")))


def test_samsung_milliamperes(tmp_path):
    rows = [[a, 1000 * b, c] for a, b, c in _sam_rows()]
    with pytest.raises(DataError, match=r"column 'Current' must be in amperes.*milliamperes"):
        read_samsung(_xlsx(tmp_path, rows))


def test_not_an_xlsx(tmp_path):
    p = tmp_path / "multipulse_hppc.xlsx"
    p.write_text("Time,Current,Voltage\n")
    with pytest.raises(DataError, match="not an .xlsx file"):
        read_samsung(p)


# --- Kokam digitised CSV ------------------------------------------------------------------

def test_kokam_time_in_minutes(tmp_path):
    p = tmp_path / "Ecker_1C.csv"
    p.write_text("".join(f"{m},{4.1 - 0.02 * m}\n" for m in range(0, 62, 2)))
    with pytest.raises(DataError, match=r"spans 60 s, 0.125 Ah at 7.5 A.*is time in seconds"):
        read_kokam(p)
    p.write_text("0,4.1\n10,4.0\n5,3.9\n")
    with pytest.raises(DataError, match=r"column 'time_s' does not increase at sample 2"):
        read_kokam(p)
