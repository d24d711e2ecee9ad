"""The readers of every measured format, on the real files (via the data registry).

Shapes, sign (discharge positive), units and the charge passed against each cell's rating.
"""

import numpy as np
import pytest

from cellmodels import data
from cellmodels.errors import DataError
from cellmodels.measured import (
    Dataset,
    read_kokam,
    read_nissan,
    read_nissan_discharge,
    read_nissan_lvm,
    read_pyprobe,
    read_samsung,
    read_samsung_current,
    step_segments,
)
from cellmodels.measured.nissan import HPPC_FILES, NOMINAL_CAPACITY_AH

PYPROBE = next(n for n in data.REGISTRY if n.endswith(".parquet"))


@pytest.mark.parametrize("temp_c, n", [(10, 13360), (25, 13248), (40, 13643)])
def test_nissan_hppc(temp_c, n):
    ds = read_nissan(HPPC_FILES[temp_c])
    assert isinstance(ds, Dataset) and ds.time_s.shape == (n,)
    assert ds.meta["chamber_temperature_K"] == pytest.approx(273.15 + temp_c)
    assert ds.meta["raw_current_sign"] == "discharge negative"
    mode = ds.meta["mode"]
    # discharge positive: every DCHG sample above 0, every CHRG sample below
    assert np.all(ds.current_A[mode == "DCHG"] > 0) and np.all(ds.current_A[mode == "CHRG"] < 0)
    assert ds.current_A.max() == pytest.approx(30.0)  # the 30 A pulses, in A
    assert 2.99 <= ds.voltage_V.min() and ds.voltage_V.max() <= 4.21  # V
    # full (CC-CV to 4.2 V) to the 3.0 V end: 30.3-30.8 Ah measured, 92-93 % of 33.1 Ah
    q = ds.discharged_Ah()
    span = q.max() - q.min()
    assert 0.9 * NOMINAL_CAPACITY_AH < span < NOMINAL_CAPACITY_AH
    # ten pulse groups: 10 discharge pulses of 30 s at 30 A
    segs = [(a, b) for a, b in step_segments(ds) if ds.meta["step_number"][a] == 6]
    assert len(segs) == 10
    # the cycler's own charge count of each 3 Ah discharge step agrees with ours to 1 %
    c = ds.interval_current_A()
    a, b = next((a, b) for a, b in step_segments(ds) if ds.meta["step_number"][a] == 9)
    ours = np.sum(c[a - 1:b] * np.diff(ds.time_s[a - 1:b + 1])) / 3600
    assert ours == pytest.approx(-ds.meta["capacity_column_Ah"][b], rel=0.01)


def test_nissan_cycling_and_lvm():
    ds = read_nissan("nissan_leaf_ornl/NissanLeaf-cell-Cycling-10C-24C-40C.csv")
    assert ds.time_s.size == 22596 and ds.meta["chamber_temperature_K"] is None
    # C/15 = 2.2 A of 33.1 Ah
    assert np.max(np.abs(ds.current_A)) == pytest.approx(33.1 / 15, rel=0.02)
    lvm = read_nissan_lvm("nissan_leaf_ornl/Temperature-2C-discharge.lvm")
    assert lvm.time_s.size == 25233 and np.all(np.diff(lvm.time_s) == 3.0)
    assert set(lvm.temperature_K) == {"TC1", "TC2", "TC3", "TC4"}
    assert 290 < lvm.temperature_K["TC2"].min() < lvm.temperature_K["TC2"].max() < 320  # K


@pytest.mark.parametrize("rate, amps", [("1C", 30.6), ("2C", 61.2), ("3C", 91.8)])
def test_nissan_discharge_with_temperature(rate, amps):
    ds = read_nissan_discharge(rate)
    assert ds.temperature_K is not None and ds.temperature_K.shape == ds.time_s.shape
    assert ds.current_A.max() == pytest.approx(amps)
    # the cell warms during the discharge: 2C reaches ~36 degC mid-cell from ~25 degC
    assert ds.temperature_K.max() - ds.temperature_K.min() > 3.0
    if rate == "3C":  # the 3C thermocouple file ends after 3948 s: the record is cut
        assert ds.meta["cut_at_s"] == pytest.approx(3942.4)
    else:
        assert ds.meta["cut_at_s"] is None


def test_samsung_hppc():
    ds = read_samsung("samsung_inr21700_30t_pybop/multipulse_hppc.xlsx")
    assert ds.time_s.shape == (1187,)  # 1194 rows, 7 exact duplicates dropped
    assert ds.meta["dropped_duplicate_rows"] == [302, 514, 684, 736, 791, 892, 993]
    assert ds.meta["raw_current_sign"] == "discharge positive"
    # 1C and 2C pulses of the 3 Ah rating, in A; the CV top-up is charge (negative)
    assert ds.current_A.max() == pytest.approx(6.0, abs=0.01)
    assert ds.current_A.min() == pytest.approx(-1.065, abs=0.01)
    assert np.sum(ds.current_A > 2.9) > 150  # two 10 s pulses at 0.1 s
    # 10 s at 3 A + 10 s at 6 A - top-up: 0.016 Ah, 0.5 % of 3 Ah
    assert ds.discharged_Ah()[-1] == pytest.approx(0.0164, abs=0.0005)
    one = read_samsung("samsung_inr21700_30t_pybop/sample_hppc_pulse.xlsx")
    assert one.time_s.size == 402 and one.current_A.max() == pytest.approx(3.00361)
    t, i = read_samsung_current()
    assert t.size == 3601 and np.max(np.abs(i)) == pytest.approx(3.0)


@pytest.mark.parametrize("name, n, q", [("Ecker_1C.csv", 31, 7.70), ("Ecker_5C.csv", 33, 7.35)])
def test_kokam_digitised_curves(name, n, q):
    ds = read_kokam(f"pybamm_ecker2015_kokam/{name}")
    assert ds.time_s.size == n
    assert np.all(ds.current_A == ds.current_A[0]) and ds.current_A[0] > 0
    assert "declared" in ds.meta["current"]
    assert ds.discharged_Ah()[-1] == pytest.approx(q, abs=0.01)  # near the 7.5 Ah rating
    assert ds.voltage_V[-1] < 2.8 and ds.voltage_V[0] > 3.8  # V, ends near the 2.7 V cut-off


def test_pyprobe_parquet():
    ds = read_pyprobe(PYPROBE)
    assert ds.time_s.size == 81661
    assert ds.meta["raw_current_sign"] == "discharge negative"
    assert ds.current_A.min() == pytest.approx(-1.502, abs=0.001)  # 1.5 A CC charge
    assert ds.current_A.max() == pytest.approx(0.5003, abs=0.001)  # C/10 discharge
    q = ds.discharged_Ah()
    assert 4.6 < q.max() - q.min() < 5.0  # 4.81 Ah of the 5 Ah rating
    assert 295 < ds.temperature_K.min() < ds.temperature_K.max() < 310  # K, not degC
    assert ds.step is not None and set(np.unique(ds.step)) <= set(range(10))


def test_pyprobe_without_pyarrow_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DataError, match=r"pip install cellmodels\[parquet\]"):
        read_pyprobe(PYPROBE)


def test_read_measured_picks_the_reader(tmp_path):
    from cellmodels.measured import read_measured

    assert read_measured(HPPC_FILES[10]).meta["raw_current_sign"] == "discharge negative"
    assert read_measured("pybamm_ecker2015_kokam/Ecker_5C.csv").current_A[0] == 37.5
    assert read_measured("aboutenergy_bpx/LFP/LFP_25degC_1C.csv").name == "LFP 25degC 1C"
    with pytest.raises(DataError, match="LabVIEW temperature file holds no current"):
        read_measured("nissan_leaf_ornl/Temperature-1C-discharge.lvm")
    with pytest.raises(DataError, match="Did you mean 'nissan_leaf_ornl/1C-Discharge"):
        read_measured("nissan_leaf_ornl/1C-Discharge-Bitrode.csv")
    odd = tmp_path / "x.csv"
    odd.write_text("a,b,c,d\n")
    with pytest.raises(DataError, match="Cannot tell the format"):
        read_measured(odd)
