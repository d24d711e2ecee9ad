"""Duty cycles: the ZOH profile against exact answers, the generator against its settings,
the files round-trip, and bad input is refused with the one message format."""

import math

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellmodels.dutycycles import (
    Profile,
    import_trace,
    load_profile,
    make_profile,
    plot_profile,
    save_profile,
    synchronized_training,
)
from cellmodels.errors import FileFormatError, InputError

# A short, quick generator setting: no job ramps, no checkpoints unless asked.
QUICK = {"rack_peak_W": 100e3, "n_racks": 1, "swing_depth": 0.6, "period_s": 1.0,
         "period_jitter": 0.0, "compute_fraction": 0.6, "edge_s": 0.0,
         "checkpoint_interval_s": None, "job_start_ramp_s": 0.0, "job_stop_ramp_s": 0.0,
         "duration_s": 60.0, "dt_s": 1e-3, "seed": 1}


def quick(**changes):
    kw = dict(QUICK)
    kw.update(changes)
    return synchronized_training(**kw)


def rises(p: Profile, level: float) -> np.ndarray:
    """Times [s] at which the profile crosses ``level`` upwards."""
    v = p.values
    k = np.flatnonzero((v[:-1] < level) & (v[1:] >= level)) + 1
    return p.time_s[k]


# --- the profile ---------------------------------------------------------------------
def test_energy_and_charge_are_exact_for_zero_order_hold():
    p = Profile([0.0, 1.0, 3.0, 4.0], power_W=[10.0, 20.0, -5.0])
    assert p.duration_s == 4.0
    assert p.energy_Wh == (10.0 + 40.0 - 5.0) / 3600.0
    q = Profile([0.0, 0.5, 2.0], current_A=[4.0, -2.0], metadata={"name": "c"})
    assert q.charge_Ah == (2.0 - 3.0) / 3600.0
    with pytest.raises(InputError, match="energy_Wh needs a power profile"):
        _ = q.energy_Wh
    # value k holds on [t_k, t_k+1): the value at an edge is the new one
    assert p.value_at(1.0) == 20.0 and p.value_at(0.999) == 10.0 and p.value_at(4.0) == -5.0


def test_slice_concatenate_scale_keep_the_energy_they_should():
    p = Profile([0.0, 1.0, 3.0, 4.0], power_W=[10.0, 20.0, -5.0], metadata={"name": "p"})
    s = p.slice(0.5, 3.5)
    np.testing.assert_array_equal(s.time_s, [0.0, 0.5, 2.5, 3.0])
    np.testing.assert_array_equal(s.power_W, [10.0, 20.0, -5.0])
    assert s.energy_Wh * 3600 == pytest.approx(5.0 + 40.0 - 2.5, rel=1e-15)
    assert s.metadata["slice_s"] == [0.5, 3.5]
    c = p.concatenate(p, p.scale(2.0))
    np.testing.assert_array_equal(c.time_s, [0, 1, 3, 4, 5, 7, 8, 9, 11, 12])
    assert c.energy_Wh == pytest.approx(4 * p.energy_Wh, rel=1e-15)
    assert c.metadata["parts"] == ["p", "p", "p"]
    with pytest.raises(InputError, match=r"'others\[0\]' argument of Profile.concatenate must "
                                         r"be a Profile of power_W\. Got 'current_A'"):
        p.concatenate(Profile([0.0, 1.0], current_A=[1.0]))


def test_resample_snaps_edges_to_the_nearest_boundary_and_keeps_energy():
    p = Profile([0.0, 0.33, 1.27, 2.0], power_W=[1.0, 5.0, 2.0])
    r = p.resample(0.1)
    np.testing.assert_allclose(r.time_s, np.linspace(0, 2, 21), rtol=0, atol=1e-15)
    # each plateau keeps its energy over its snapped length: no intermediate value
    expected = np.r_[np.full(3, 0.33 / 0.3), np.full(10, 5 * 0.94), np.full(7, 2 * 0.73 / 0.7)]
    np.testing.assert_allclose(r.power_W, expected, rtol=1e-13)
    jumps = r.time_s[1:-1][np.diff(r.power_W) != 0]
    np.testing.assert_allclose(jumps, [0.3, 1.3], rtol=1e-14)
    assert r.energy_Wh == pytest.approx(p.energy_Wh, rel=1e-14)
    # cumulative energy at each snapped edge equals the original's at the true edge
    np.testing.assert_allclose(r.cumulative([0.3, 1.3]), p.cumulative([0.33, 1.27]),
                               rtol=1e-14)
    assert r.metadata["resample"]["edges_kept"] == 2
    assert r.metadata["resample"]["edges_merged"] == 0


def test_resample_merges_colliding_edges_and_says_so():
    # a 20 ms pulse on a 100 ms grid: both its edges want the boundary at 0.5 s
    p = Profile([0.0, 0.49, 0.51, 1.0], power_W=[0.0, 100.0, 0.0])
    r = p.resample(0.1)
    assert r.metadata["resample"]["edges_merged"] == 1
    assert r.energy_Wh == pytest.approx(p.energy_Wh, rel=1e-14)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.floats(1e-3, 5.0), min_size=1, max_size=40),
    values=st.lists(st.floats(-1e4, 1e4), min_size=40, max_size=40),
    dt=st.floats(1e-3, 3.0),
)
def test_resample_conserves_energy_for_any_zoh_profile(lengths, values, dt):
    t = np.concatenate([[0.0], np.cumsum(lengths)])
    p = Profile(t, power_W=values[: len(lengths)])
    dt = min(dt, p.duration_s)
    r = p.resample(dt)
    scale = float(np.sum(np.abs(p.power_W) * np.diff(p.time_s)))
    assert abs(r.energy_Wh - p.energy_Wh) * 3600 <= 1e-12 * scale + 1e-300
    # the grid is regular (a shorter last step at most) and ends where the profile ends
    assert r.duration_s == p.duration_s
    np.testing.assert_allclose(np.diff(r.time_s)[:-1], dt, rtol=1e-9)


def test_to_grid_returns_the_kernel_array_and_refuses_a_ragged_duration():
    p = Profile([0.0, 0.25, 1.0], power_W=[3.0, 1.0])
    g = p.to_grid(0.05)
    assert g.dtype == np.float64 and g.flags["C_CONTIGUOUS"] and g.size == 20
    np.testing.assert_array_equal(g, np.r_[np.full(5, 3.0), np.full(15, 1.0)])
    p2 = quick(duration_s=2.0)
    assert np.array_equal(p2.to_grid(1e-3), p2.power_W)
    with pytest.raises(InputError, match=r"The 'dt_s' argument of Profile.to_grid must be a "
                                         r"step that divides the duration 1.0 s into whole"):
        p.to_grid(0.3)


def test_from_samples_holds_the_last_sample_for_the_median_spacing():
    p = Profile.from_samples([5.0, 5.1, 5.2, 5.4], power_W=[1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(p.time_s, [0.0, 0.1, 0.2, 0.4, 0.5], atol=1e-12)
    assert p.metadata["time_offset_s"] == 5.0
    assert p.metadata["last_hold_s"] == pytest.approx(0.1)


# --- bad input ------------------------------------------------------------------------
def test_nan_is_refused_naming_the_sample():
    with pytest.raises(InputError, match=r"The 'power_W\[3\]' argument of Profile must be a "
                                         r"finite number\. Got nan instead\."):
        Profile([0.0, 1.0, 2.0, 3.0, 4.0], power_W=[1.0, 2.0, 3.0, np.nan])
    with pytest.raises(InputError, match=r"The 'time_s\[2\]' argument of Profile must be a "
                                         r"finite number\. Got inf instead\."):
        Profile([0.0, 1.0, np.inf], current_A=[1.0, 2.0])


def test_non_increasing_or_negative_time_is_refused_naming_the_sample():
    with pytest.raises(InputError, match=r"The 'time_s\[2\]' argument of Profile must be "
                                         r"greater than time_s\[1\] = 1\.0 \(times must be "
                                         r"strictly increasing\)\. Got 1\.0 instead\."):
        Profile([0.0, 1.0, 1.0, 2.0], power_W=[1.0, 2.0, 3.0])
    with pytest.raises(InputError, match=r"The 'time_s\[1\]' argument of Profile must be in "
                                         r"the range \[0, inf\)"):
        Profile([0.0, -1.0, 2.0], power_W=[1.0, 2.0])
    with pytest.raises(InputError, match=r"The 'time_s\[0\]' argument of Profile must be 0"):
        Profile([1.0, 2.0], power_W=[1.0])


def test_profile_shape_and_quantity_errors():
    with pytest.raises(InputError, match=r"exactly one of them\. Got 'both' instead"):
        Profile([0.0, 1.0], power_W=[1.0], current_A=[1.0])
    with pytest.raises(InputError, match=r"The 'power_W' argument of Profile must be of length "
                                         r"len\(time_s\) - 1 = 2"):
        Profile([0.0, 1.0, 2.0], power_W=[1.0, 2.0, 3.0])
    with pytest.raises(InputError, match=r"'metadata' argument of Profile must be a dict of "
                                         r"JSON types"):
        Profile([0.0, 1.0], power_W=[1.0], metadata={"x": object()})


def test_out_of_range_generator_settings_name_field_range_and_value():
    with pytest.raises(InputError, match=r"^The 'swing_depth' argument of "
                                         r"synchronized_training must be in the range \[0, 1\]\. "
                                         r"Got 1\.5 instead\.$"):
        quick(swing_depth=1.5)
    with pytest.raises(InputError, match=r"The 'n_racks' argument of synchronized_training "
                                         r"must be an integer in the range \[1, 10000\]\. Got "
                                         r"True instead\."):
        quick(n_racks=True)
    with pytest.raises(InputError, match=r"The 'edge_s' argument of synchronized_training "
                                         r"must be at most 0\.399 s with these settings"):
        quick(edge_s=0.5)
    with pytest.raises(InputError, match=r"The 'duration_s' argument of synchronized_training "
                                         r"must be a whole number of dt_s"):
        quick(duration_s=1.0005, dt_s=1e-3)
    with pytest.raises(InputError, match=r"'checkpoint_interval_s' argument of "
                                         r"synchronized_training must be in the range \(30, "
                                         r"inf\]\. Got 10\.0 instead"):
        quick(checkpoint_interval_s=10.0, checkpoint_s=30.0)


def test_unknown_config_key_gets_a_suggestion():
    with pytest.raises(InputError, match=r"Unknown key 'swing_dept' in the duty-cycle config "
                                         r"\(generator 'synchronized_training'\)\. Did you mean "
                                         r"'swing_depth'\?"):
        make_profile({"swing_dept": 0.5})
    with pytest.raises(InputError, match=r"Unknown generator 'synchronised_training'.*Did you "
                                         r"mean 'synchronized_training'\?"):
        make_profile({"generator": "synchronised_training"})
    with pytest.raises(InputError, match=r"The 'swing_depth' argument of synchronized_training "
                                         r"must be in the range \[0, 1\]\. Got -0\.1 instead\."):
        make_profile({"swing_depth": -0.1})


# --- the generator against its settings -------------------------------------------------
def test_generator_swings_between_its_levels_with_its_period_and_duty():
    peak, n, depth, period, jitter, duty = 100e3, 4, 0.6, 1.0, 0.05, 0.6
    p = quick(n_racks=n, period_jitter=jitter, duration_s=200.0)
    assert p.power_W.max() == n * peak
    assert p.power_W.min() == pytest.approx(n * peak * (1 - depth), rel=1e-15)
    up = rises(p, n * peak * (1 - depth / 2))
    periods = np.diff(up)
    # the mean period within its standard error (3 sigma) plus one step of rounding
    sem = jitter * period / math.sqrt(periods.size)
    assert abs(periods.mean() - period) <= 3 * sem + 1e-3
    assert periods.std() == pytest.approx(jitter * period, rel=0.2)
    assert abs(p.metadata["statistics"]["mean_period_s"] - periods.mean()) <= 1e-3
    # compute fraction: time at peak over the whole profile, edge-free here
    at_peak = np.mean(p.power_W == n * peak)
    assert at_peak == pytest.approx(duty, abs=2e-3)


def test_power_floor_lifts_every_low_level():
    p = quick(n_racks=2, power_floor=0.7, swing_depth=0.5, checkpoint_interval_s=20.0,
              checkpoint_s=5.0, checkpoint_level=0.1, duration_s=30.0)
    assert p.power_W.min() == 2 * 100e3 * 0.7
    assert p.power_W.max() == 2 * 100e3
    assert p.metadata["statistics"]["levels"]["low"] == 0.7


def test_same_seed_same_profile_other_seed_other_profile():
    kw = {"n_racks": 3, "period_jitter": 0.1, "desync_s": 0.3, "duration_s": 20.0}
    a, b, c = quick(seed=7, **kw), quick(seed=7, **kw), quick(seed=8, **kw)
    assert a == b
    assert a != c
    assert a.metadata["seed"] == 7 and a.metadata["settings"]["desync_s"] == 0.3


def test_desynchronisation_reduces_the_summed_swing():
    kw = {"n_racks": 8, "swing_depth": 0.5, "period_jitter": 0.02, "duration_s": 60.0}
    together = quick(desync_s=0.0, **kw).power_W
    apart = quick(desync_s=0.8, **kw).power_W
    full = 8 * 100e3 * 0.5
    assert together.max() - together.min() == pytest.approx(full, rel=1e-12)
    steady = slice(2000, None)  # after the first second, when every rack has started
    assert apart[steady].max() - apart[steady].min() < 0.8 * full
    assert apart[steady].std() < 0.6 * together[steady].std()
    # nearly the same energy, only moved in time: racks lag by less than one period, so
    # only the first and the last period differ (a lagging rack computes until it starts)
    assert np.mean(apart) == pytest.approx(np.mean(together), rel=5e-3)


def test_many_racks_convolution_matches_the_sum_of_shifted_racks(monkeypatch):
    import cellmodels.dutycycles.generators as gen

    kw = {"n_racks": 300, "desync_s": 0.9, "period_jitter": 0.05, "duration_s": 20.0,
          "dt_s": 1e-3, "edge_s": 0.0025}
    fft = quick(**kw)
    assert len(set(fft.metadata["statistics"]["rack_delay_s"])) > gen._DIRECT_SHIFTS
    monkeypatch.setattr(gen, "_DIRECT_SHIFTS", 10**9)
    direct = quick(**kw)
    np.testing.assert_allclose(fft.power_W, direct.power_W, rtol=1e-12, atol=1e-6)


def test_checkpoint_pauses_come_at_the_configured_interval():
    interval, length, level = 20.0, 5.0, 0.1
    p = quick(n_racks=2, period_jitter=0.05, checkpoint_interval_s=interval,
              checkpoint_s=length, checkpoint_level=level, duration_s=70.0)
    low = p.power_W == 2 * 100e3 * level
    k = np.flatnonzero(np.diff(low.astype(int)) == 1) + 1
    ends = np.flatnonzero(np.diff(low.astype(int)) == -1) + 1
    starts = p.time_s[k]
    assert starts.size == 3  # due at 20, 40 and 60 s
    np.testing.assert_allclose(p.time_s[ends] - starts, length, atol=1e-9)
    due = interval * np.arange(1, 4)
    # each starts at the first iteration boundary at or after it is due
    assert np.all(starts >= due) and np.all(starts < due + 1.0 * (1 + 3 * 0.05) + 1e-3)
    np.testing.assert_allclose(starts, p.metadata["statistics"]["checkpoint_start_s"],
                               atol=1e-3)


def test_job_ramps_start_and_end_near_idle():
    p = quick(job_start_ramp_s=2.0, job_stop_ramp_s=3.0, checkpoint_level=0.2, duration_s=20.0)
    idle = 100e3 * 0.2
    assert p.power_W[0] == pytest.approx(idle + 0.5e-3 / 2.0 * (100e3 - idle), rel=1e-9)
    assert p.power_W[-1] < idle * 1.01
    assert p.power_W[2500:-3500].max() == 100e3


def test_edges_between_steps_are_averaged_exactly():
    # a 2.5-step ramp: the bin averages of a trapezoid wave; its energy is exact
    peak, e = 100e3, 0.0025
    p = quick(swing_depth=0.5, compute_fraction=0.5, edge_s=e, duration_s=10.0)
    # 10 periods, each averaging (1 + 0.5) / 2 of peak; the first has no rise (starts high)
    exact = peak * (10 * 0.75 + e / 2 * 0.5)
    assert p.energy_Wh * 3600 == pytest.approx(exact, rel=1e-13)
    assert np.max(np.abs(np.diff(p.power_W))) == pytest.approx(0.4 * 0.5 * peak, rel=1e-12)


# --- files ------------------------------------------------------------------------------
def test_save_load_round_trip_is_exact(tmp_path):
    p = quick(n_racks=2, desync_s=0.2, period_jitter=0.05, duration_s=10.0)
    path = save_profile(p, tmp_path / "sub" / "p.h5")
    q = load_profile(path)
    assert q == p
    assert q.metadata == p.metadata and q.quantity == "power_W"
    assert [f.name for f in path.parent.iterdir()] == ["p.h5"]  # no temporary left behind
    with h5py.File(path) as f:
        assert f.attrs["schema_version"] == 1
        assert f["time_s"].attrs["unit"] == "s" and f["power_W"].attrs["unit"] == "W"
    c = Profile([0.0, 0.5, 2.0], current_A=[4.0, -2.0], metadata={"name": "c"})
    assert load_profile(save_profile(c, tmp_path / "c.h5")) == c


def test_load_refuses_other_files_and_versions(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["format"] = "cellmodels.ecm"
    with pytest.raises(FileFormatError, match="is not a cellmodels profile file"):
        load_profile(other)
    p = save_profile(Profile([0.0, 1.0], power_W=[1.0]), tmp_path / "p.h5")
    with h5py.File(p, "a") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(FileFormatError, match="has profile schema version 99"):
        load_profile(p)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(FileFormatError, match="not a readable HDF5 file"):
        load_profile(junk)


def test_import_csv_converts_declared_units(tmp_path):
    csv_path = tmp_path / "trace.csv"
    csv_path.write_text("# logged at 10 Hz\ntime_ms,Power [kW]\n1000,1.5\n1100,2.5\n1200,"
                        "0.5\n")
    p = import_trace(csv_path, time_column="time_ms", power_column="Power [kW]")
    np.testing.assert_allclose(p.time_s, [0.0, 0.1, 0.2, 0.3], atol=1e-12)
    np.testing.assert_array_equal(p.power_W, [1500.0, 2500.0, 500.0])
    src = p.metadata["source"]
    assert src["units"] == {"time": "ms", "power": "kW"} and len(src["sha256"]) == 64
    assert p.metadata["time_offset_s"] == 1.0


def test_import_refuses_undeclared_conflicting_or_ambiguous_units(tmp_path):
    bare = tmp_path / "bare.csv"
    bare.write_text("t;p\n0;1\n1;2\n")
    with pytest.raises(InputError, match=r"The power column 'p' in bare.csv declares no unit; "
                                         r".*units=\{'power': 'W'\}"):
        import_trace(bare, time_column="t", power_column="p", units={"time": "s"})
    p = import_trace(bare, time_column="t", power_column="p", units={"time": "s",
                                                                      "power": "kW"})
    np.testing.assert_array_equal(p.power_W, [1000.0, 2000.0])
    named = tmp_path / "named.csv"
    named.write_text("time_s,power_W,power_mw\n0,1,1\n1,2,2\n")
    with pytest.raises(InputError, match=r"conflicting units: its name says 'W', the 'units' "
                                         r"argument says 'kW'"):
        import_trace(named, units="kW")
    with pytest.raises(InputError, match=r"The unit 'mw' of column 'power_mw' in named.csv is "
                                         r"ambiguous"):
        import_trace(named, power_column="power_mw")
    with pytest.raises(InputError, match=r"no column 'power_w'.*Did you mean 'power_W'\?"):
        import_trace(named, power_column="power_w")
    twice = tmp_path / "twice.csv"
    twice.write_text("time_s,power_W,power_W\n0,1,1\n1,2,2\n")
    with pytest.raises(InputError, match=r"has 2 columns named 'power_W'"):
        import_trace(twice)


def test_import_names_the_bad_row(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,power_W\n0,1\n1,2\n2,nan\n")
    with pytest.raises(InputError, match=r"The 'power_W' column of bad.csv must be finite at "
                                         r"every sample\. Got 'nan at data row 2 \(line 4\)'"):
        import_trace(bad)
    back = tmp_path / "back.csv"
    back.write_text("time_s,power_W\n0,1\n2,2\n1,3\n")
    with pytest.raises(InputError, match=r"'time_s' column of back.csv must be strictly "
                                         r"increasing\. Got '1\.0 at data row 2 \(line 4\)"):
        import_trace(back)
    text = tmp_path / "text.csv"
    text.write_text("time_s,power_W\n0,1\n1,__import__('os')\n")
    with pytest.raises(InputError, match=r"non-numeric 'power_W' value \"__import__\('os'\)\" "
                                         r"at data row 1 \(line 3\)"):
        import_trace(text)


def test_import_hdf5_with_unit_attributes_and_resample(tmp_path):
    path = tmp_path / "trace.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("t", data=np.arange(0, 100) * 10.0).attrs["unit"] = "ms"
        f.create_dataset("P", data=np.where(np.arange(100) % 20 < 13, 2.0, 1.0)
                         ).attrs["unit"] = "MW"
    p = import_trace(path, time_column="t", power_column="P")
    assert p.duration_s == pytest.approx(1.0) and p.power_W.max() == 2e6
    r = import_trace(path, time_column="t", power_column="P", resample_dt=0.025)
    assert r.energy_Wh == pytest.approx(p.energy_Wh, rel=1e-13)
    # every edge of the trace, and only those, on the nearest 25 ms boundary
    jumps_p = p.time_s[1:-1][np.diff(p.power_W) != 0]
    jumps_r = r.time_s[1:-1][np.abs(np.diff(r.power_W)) > 0.5e6]
    assert jumps_r.size == jumps_p.size == 9
    assert np.all(np.abs(jumps_r - jumps_p) <= 0.0125 + 1e-12)
    assert r.metadata["resample"]["edges_merged"] == 0
    # 130 ms at 2 MW, then 70 ms at 1 MW: the edge at 130 ms lands on 125 ms
    np.testing.assert_allclose(r.power_W[:8] / 1e6, [2 * 0.13 / 0.125] * 5
                               + [0.07 / 0.075] * 3, rtol=1e-12)
    with pytest.raises(InputError, match=r"has no dataset 'p'; its datasets are \['P', 't'\]\. "
                                         r"Did you mean 'P'\?"):
        import_trace(path, time_column="t", power_column="p")


def test_make_profile_from_toml_file_and_trace(tmp_path):
    cfg = tmp_path / "p.toml"
    cfg.write_text('name = "two racks"\nrack_peak_W = 100e3\nn_racks = 2\nperiod_s = 1.0\n'
                   'checkpoint_interval_s = inf\njob_start_ramp_s = 0.0\n'
                   'job_stop_ramp_s = 0.0\nduration_s = 5.0\nseed = 3\n')
    p = make_profile(cfg)
    assert p.name == "two racks" and p.duration_s == 5.0 and p.power_W.max() == 200e3
    assert p.metadata["settings"]["checkpoint_interval_s"] is None
    (tmp_path / "m.csv").write_text("time_s,power_kW\n0,1\n0.5,2\n")
    q = make_profile({"generator": "trace", "path": "m.csv", "power_column": "power_kW",
                      "resample_dt": 0.25},
                     base_dir=tmp_path)
    np.testing.assert_allclose(q.power_W, [1e3, 1e3, 2e3, 2e3])
    bad = tmp_path / "bad.toml"
    bad.write_text("rack_peak_W = = 1\n")
    with pytest.raises(InputError, match="is not valid TOML"):
        make_profile(bad)


def test_plot_writes_a_png_atomically(tmp_path):
    p = quick(n_racks=2, desync_s=0.2, duration_s=30.0)
    out = plot_profile(p, tmp_path / "p.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    small = plot_profile(Profile([0.0, 1.0, 2.0], current_A=[1.0, -1.0]), tmp_path / "c.png")
    assert small.stat().st_size > 1000
    assert sorted(f.name for f in tmp_path.iterdir()) == ["c.png", "p.png"]
