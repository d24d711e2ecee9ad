"""The measured-data readers at their edges (a review, session 10), on small synthetic files:
each test but the two controls failed before its fix (a UTF-8 BOM, provenance without the
file's sha256, About:Energy sign and swing checks, line numbers after a blank line, Nissan
and Samsung columns dropped silently, Excel day serials as seconds, PyProBE timestamps,
WMG pulses without provenance, unit errors naming the file's column).

Each test writes a plausible lab file under ``tmp_path`` and states what the reader must do
with it (read it correctly, or raise a DataError naming the problem). No real data needed.
"""

import hashlib

import numpy as np
import pytest

from cellmodels.errors import DataError
from cellmodels.measured import read_kokam, read_measured, read_nissan, read_samsung
from cellmodels.measured.aboutenergy import read_aboutenergy

from .test_measured_checks import write_xlsx as _xlsx


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ae_pulse(n_rest=10, n_dis=100, v_slope=-1e-3):
    """An About:Energy-layout record (discharge negative): rest, a -5 A step, rest."""
    t = np.arange(n_rest + n_dis + n_rest, dtype=float)
    i = np.zeros_like(t)
    v = np.full_like(t, 4.0)
    d = slice(n_rest, n_rest + n_dis)
    i[d] = -5.0  # discharge, recorded negative as in the About:Energy files
    v[d] = 3.95 + v_slope * np.arange(n_dis)  # jumps down 50 mV at the step, then drifts
    v[n_rest + n_dis:] = v[n_rest + n_dis - 1] + 0.03  # relaxes up when the load stops
    return t, i, v


def _ae_write(path, t, i, v, *, bom=False, newline="\n", blank_at=None):
    lines = ["Time [s],I[A],U[V]"] + [f"{a:g},{b:g},{c:.4f}" for a, b, c in zip(t, i, v)]
    if blank_at is not None:
        lines.insert(blank_at, "")
    text = newline.join(lines) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


# --- 1. UTF-8 BOM (Excel's "CSV UTF-8" export) ---------------------------------------------

def test_aboutenergy_reads_utf8_bom_csv(tmp_path):
    t, i, v = _ae_pulse()
    plain = read_aboutenergy(_ae_write(tmp_path / "NMC_25degC_1C.csv", t, i, v))
    bom_dir = tmp_path / "bom"
    bom_dir.mkdir()
    # Today: "the header must be Time [s], I[A], U[V]. Got Time [s], I[A], U[V] instead."
    ds = read_aboutenergy(_ae_write(bom_dir / "NMC_25degC_1C.csv", t, i, v, bom=True))
    np.testing.assert_array_equal(ds.current_A, plain.current_A)


def test_read_measured_detects_aboutenergy_with_bom(tmp_path):
    t, i, v = _ae_pulse()
    f = _ae_write(tmp_path / "NMC_25degC_1C.csv", t, i, v, bom=True)
    # Today: "Cannot tell the format of ..." (the BOM hides the header from _kind).
    assert read_measured(f).meta["raw_current_sign"] == "discharge negative"


# --- 2. provenance of a file read by path lacks its sha256 ----------------------------------

def test_path_provenance_records_sha256_aboutenergy(tmp_path):
    t, i, v = _ae_pulse()
    f = _ae_write(tmp_path / "NMC_25degC_1C.csv", t, i, v)
    ds = read_aboutenergy(f)
    assert ds.meta.get("sha256") == _sha(f)


def test_path_provenance_records_sha256_locate(tmp_path):
    # Kokam layout: time [s], voltage [V]; 1C of 7.5 Ah for 3600 s = 7.5 Ah (near rating).
    f = tmp_path / "mine_1C.csv"
    t = np.linspace(0.0, 3600.0, 20)
    f.write_text("".join(f"{a:g},{4.1 - 1.2 * a / 3600:.4f}\n" for a in t))
    ds = read_kokam(f)
    assert ds.meta.get("sha256") == _sha(f)


# --- 3. About:Energy never applies the shared voltage-trend check ---------------------------

def test_aboutenergy_rejects_voltage_rising_through_discharge(tmp_path):
    # The step jump says "discharge negative" (so the current is flipped to +5 A), but over
    # the 100 s discharge the voltage then rises by 99 mV: the contract's "current whose sign
    # disagrees with the voltage trend". check_dataset (used by every other reader) raises;
    # read_aboutenergy only runs its own _check and returns the data.
    t, i, v = _ae_pulse(v_slope=+1e-3)
    f = _ae_write(tmp_path / "NMC_25degC_1C.csv", t, i, v)
    with pytest.raises(DataError, match="disagrees with the voltage"):
        read_aboutenergy(f)


# --- 4. About:Energy "charge passed" counts throughput, not the swing -----------------------

def test_aboutenergy_accepts_discharge_then_recharge(tmp_path):
    # NMC 12.5 Ah: 1C discharge for 3000 s (10.4 Ah), then 1C charge for 3000 s back.
    # Swing 10.4 Ah < 1.5 x 12.5 Ah = 18.75 Ah, so the units are plausible (shared
    # check_magnitudes agrees); the reader sums |I| (20.8 Ah of throughput) and refuses the
    # file with "is time in milliseconds, or current in mA?".
    dt = 10.0
    n = 300
    t = np.arange(1 + 2 * n + 1) * dt
    i = np.zeros_like(t)
    v = np.full_like(t, 4.1)
    i[1:1 + n] = -12.5
    v[1:1 + n] = np.linspace(4.05, 3.4, n)
    i[1 + n:1 + 2 * n] = 12.5
    v[1 + n:1 + 2 * n] = np.linspace(3.5, 4.15, n)
    v[-1] = 4.1
    f = _ae_write(tmp_path / "NMC_25degC_DriveCycle.csv", t, i, v)
    ds = read_aboutenergy(f)
    assert ds.discharged_Ah().max() == pytest.approx(10.42, rel=0.01)  # 12.5 A x 3000 s


# --- 5. error line numbers are wrong after a blank line -------------------------------------

def test_aboutenergy_bad_cell_names_its_real_line(tmp_path):
    t, i, v = _ae_pulse()
    f = _ae_write(tmp_path / "NMC_25degC_1C.csv", t, i, v, blank_at=3)
    lines = f.read_text().split("\n")
    first, _, last = lines[20].split(",")
    lines[20] = f"{first},x,{last}"  # file line 21 (after the blank line 4): I[A] = "x"
    f.write_text("\n".join(lines))
    bad_line = 21  # 1-based line of the file that holds the bad cell
    with pytest.raises(DataError, match=rf"line {bad_line}\)"):
        read_aboutenergy(f)


# --- 6. Nissan Bitrode: extra named columns dropped silently --------------------------------

_HEAD = ("Exclude,Time(s),Cycle,Loop,Loop,Loop,Step,StepTime(s),Current(A),Voltage(V),"
         "Power(W),Capacity(Ah),Energy(Wh),Mode,Data")


def _bitrode_rows():
    rows = []
    for k in range(60):
        rest = k < 10
        cur = 0.0 if rest else -10.0  # Bitrode: discharge negative
        volt = 4.0 if rest else 3.95 - 0.001 * (k - 10)
        mode, step = ("REST", 1) if rest else ("DCHG", 2)
        rows.append(f"No,{k + 1}.0,1,1,1,1,{step},{k + 1}.0,{cur:.2f},{volt:.3f},"
                    f"{cur * volt:.1f},0.00,0.00,{mode}, ")
    return rows


def test_nissan_plain_layout_reads(tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text("\n".join([_HEAD + ","] + [r + "," for r in _bitrode_rows()]) + "\n")
    assert read_nissan(f).current_A.max() == pytest.approx(10.0)


def test_nissan_extra_named_column_is_not_dropped_silently(tmp_path):
    # A lab's own Bitrode export with an extra thermocouple column: the reader checks only
    # the first 15 header names and drops the rest, so the temperature vanishes silently.
    f = tmp_path / "mine.csv"
    f.write_text("\n".join([_HEAD + ",Temp(C)"] + [r + ",25.0" for r in _bitrode_rows()])
                 + "\n")
    with pytest.raises(DataError, match=r"Temp\(C\)"):
        read_nissan(f)


# --- 7. Samsung .xlsx: a Time column in Excel date/time (days) read as seconds --------------

def _pulse_s():
    # 30T-like: 10 s rest (1 s), 10 s 3 A discharge pulse (0.1 s), 10 s rest (1 s).
    t = np.concatenate([np.arange(0, 10, 1.0), 10 + np.arange(0, 10, 0.1),
                        20 + np.arange(0, 10, 1.0)])
    i = np.where((t >= 10) & (t < 20), 3.0, 0.0)
    v = np.where(i > 0, 3.95 - 0.002 * (t - 10), 4.0)
    v[t >= 20] = 3.97
    return t, i, v


def test_samsung_synthetic_sheet_in_seconds_reads(tmp_path):
    t, i, v = _pulse_s()
    f = _xlsx(tmp_path / "mine.xlsx", ["Time", "Current", "Voltage"],
              list(zip(t.tolist(), i.tolist(), v.tolist())))
    assert read_samsung(f).duration_s == pytest.approx(29.0)


def test_samsung_time_in_excel_days_is_caught(tmp_path):
    # The same record with Time as an Excel date/time serial (days since 1900: 2026-11-27
    # 12:00 = 46353.5), as a cycler export formatted as a timestamp stores it. Read as
    # seconds, the 29 s record lasts 0.0003 "s"; the module docstring promises the 0.1 s
    # sample interval is checked, but nothing checks it and the file reads silently.
    t, i, v = _pulse_s()
    days = 46353.5 + t / 86400.0
    f = _xlsx(tmp_path / "mine.xlsx", ["Time", "Current", "Voltage"],
              list(zip(days.tolist(), i.tolist(), v.tolist())))
    with pytest.raises(DataError, match="'Time'"):
        read_samsung(f)


# --- 8. Samsung .xlsx: an unknown extra column is dropped silently --------------------------

def test_samsung_unknown_column_is_not_dropped_silently(tmp_path):
    t, i, v = _pulse_s()
    f = _xlsx(tmp_path / "mine.xlsx", ["Time", "Current", "Voltage", "Temperature"],
              [(a, b, c, 25.0) for a, b, c in zip(t.tolist(), i.tolist(), v.tolist())])
    with pytest.raises(DataError, match="Temperature"):
        read_samsung(f)


# --- 9. PyProBE parquet: a timestamp time column becomes nanoseconds since 1970 -------------

def test_pyprobe_timestamp_time_column_named_in_error(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from cellmodels.measured import read_pyprobe

    t = np.arange(60.0)
    i = np.where((t >= 10) & (t < 40), -0.5, 0.0)  # PyProBE: charge positive
    v = np.where(i < 0, 3.9 - 0.001 * (t - 10), 3.95)
    stamps = np.datetime64("2026-01-01T00:00:00") + (t * 1e9).astype("timedelta64[ns]")
    f = tmp_path / "mine.parquet"
    pq.write_table(pa.table({"Time [s]": pa.array(stamps), "Step": (t >= 10).astype(int),
                             "Current [A]": i, "Voltage [V]": v}), f)
    # Today the datetimes are cast to float (ns since 1970, 1.77e18) and the error blames
    # "column 'time_s'" and "milliseconds, or milliamperes": it must name the file's column
    # 'Time [s]' and say it holds timestamps, not seconds.
    with pytest.raises(DataError, match=r"'Time \[s\]'.*timestamp"):
        read_pyprobe(f)


# --- 10. WMG pulses: no provenance at all, even for the registered file ---------------------

def test_wmg_pulses_carry_registry_provenance():
    from cellmodels import data
    from cellmodels.measured.wmg import PULSE_FILE, read_pulses

    ds = read_pulses()[0]
    # The Dataset docstring: meta holds origin (repository@commit:path) and licence; the
    # other readers also record the registered sha256.
    entry = data.REGISTRY[PULSE_FILE]
    assert ds.meta.get("sha256") == entry.sha256
    assert ds.meta.get("origin") == f"{entry.repository}@{entry.commit}:{entry.origin_path}"


# --- 11. unit errors name the Dataset field, not the file's column --------------------------

def test_samsung_millivolts_error_names_the_sheet_column(tmp_path):
    t, i, v = _pulse_s()
    f = _xlsx(tmp_path / "mine.xlsx", ["Time", "Current", "Voltage"],
              list(zip(t.tolist(), i.tolist(), (1000 * v).tolist())))
    # Today: "column 'voltage_V' must be a cell voltage in volts" - the sheet has no such
    # column; check_dataset never passes the reader's meta["columns"] to check_magnitudes.
    with pytest.raises(DataError, match=r"column 'Voltage' must be .*millivolts"):
        read_samsung(f)
