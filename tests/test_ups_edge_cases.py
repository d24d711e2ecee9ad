"""cellmodels.ups and cellmodels.dutycycles at their edges (a review, session 10): each test
reproduced one defect found there and failed before its fix - long regular profiles refused,
a table look-up in the wrong interval on a finely refined SOC grid, a NaN current at the
string's maximum power, simulate_string silent outside the ECM's validity, impossible or
misspelt limits accepted, grid and generator times off the grid rounded, chunk_steps
unchecked, 0 K accepted, Profile.cumulative clipping, a 2-D trace flattened, and result
metadata that was not standard JSON.
"""

import json
import warnings

import h5py
import numpy as np
import pytest

from cellmodels.dutycycles import Profile, import_trace
from cellmodels.errors import InputError, ParameterError
from cellmodels.reduction.simulate import ValidityWarning
from cellmodels.ups import (
    BMSConfig,
    UPSConfig,
    init,
    init_string,
    load_result,
    simulate_string,
    simulate_ups,
    step,
    string_params,
    ups_params,
)

from .test_ups_kernel import varied_ecm

FLAT = [[0.0, 1.0]]  # a lossless converter: the battery's demand is the load, exactly
SMALL = {"rectifier": {"rated_W": 600.0}, "inverter": {"rated_W": 500.0}}


def outage_config(**sections):
    """One cell on the DC link, lossless converters, the grid out from t = 0 (no
    generator): the battery carries the whole load."""
    d = {"rectifier": {"rated_W": 100.0, "efficiency": FLAT},
         "inverter": {"rated_W": 1e6, "efficiency": FLAT},
         "controller": {"smoothing": False},
         "grid": {"events": [{"start_s": 0.0, "duration_s": 1e5, "voltage": 0.0}]}}
    d.update(sections)
    return UPSConfig.from_dict(d)


# --- long runs: a regular grid is refused for the rounding of its own edge times -------
def test_long_regular_profile_runs_without_dt_s():
    """A Profile on a regular 1 ms grid of 1e7 steps (2.8 h; ``np.linspace`` edges, as
    synchronized_training makes them) is regular to round-off, but its steps differ from
    1 ms by up to 1.6e-9 relative (the edges' last bit at ~1e4 s), above the 1e-9 test of
    _regular_profile: simulate_ups refuses it ("the profile's step at sample 8192006 is
    0.0009999999983847374 s"), and with dt_s given to_grid resamples it (3 s) for nothing."""
    n = 10**7
    profile = Profile(np.linspace(0.0, n * 1e-3, n + 1), power_W=np.full(n, 100.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidityWarning)  # not under test here
        res = simulate_ups(varied_ecm(temps=(298.15,)), profile, SMALL)
    assert res.n_steps == n and res.dt_s == pytest.approx(1e-3, rel=1e-12)


# --- the kernel's O(1) table look-up on a finely refined SOC grid ----------------------
def test_kernel_ocv_is_the_ecms_on_a_finely_refined_soc_grid():
    """An OCV table refined geometrically towards 0 % SOC (nodes 1e-6 apart at the
    bottom, as a raw measured low-SOC knee gives) has more than 32768 smallest spacings in
    its span, so _bucket caps the table at 65536 buckets, each wider than half the
    smallest spacing, and _locate's single +-1 correction lands several intervals off:
    the kernel extrapolates the tables of the wrong interval at the first step of every
    block (in _run: every 2048 steps). Measured on SOC 1e-6..3e-5: 12 uV off for a smooth
    OCV, 1.3 mV for this one (a monotone 0-0.2 mV jitter per node, as a raw C/20 curve
    has). At zero current the terminal voltage is the OCV: the kernel must give
    ``ecm.ocv`` to round-off (1e-9 V, as test_ups_kernel against simulate_ecm)."""
    soc = np.unique(np.concatenate([[0.0], np.geomspace(1e-6, 0.05, 40),
                                    np.linspace(0.1, 1.0, 10)]))
    jitter = np.random.default_rng(0).uniform(0.0, 2e-4, soc.size - 1)
    ocv = 3.0 + 0.25 * soc / (soc + 2e-3) + 0.2 * soc + np.concatenate([[0.0],
                                                                        np.cumsum(jitter)])
    ecm = varied_ecm(soc=soc, temps=(298.15,), ocv_V=ocv, docv_dT_V_per_K=0.0 * soc,
                     validity={"soc_min": 0.0, "soc_max": 1.0})  # identified down to 0 %
    params = string_params(ecm)
    for z in (3e-6, 1.5e-5, 1e-4):
        run = simulate_string(params, init_string(params, soc=z, temperature_K=298.15),
                              1e-3, current_A=[0.0])
        assert run.voltage_V[0] == pytest.approx(ecm.ocv(z, 298.15), abs=1e-9), z


# --- a demand at the string's maximum power: NaN instead of the maximum ---------------
def test_ups_current_is_finite_when_the_demand_is_the_strings_maximum_power():
    """With no voltage limit the BMS's power bound is the string's maximum E^2 / 4R.
    A demand equal to it (to the last bit, or one below) passes the bound test (not
    greater) but ``E^2 - 4 R P`` rounds below 0, so _power_to_current returns NaN and the
    UPS loop takes it as the current (no NaN check in the UPS branch): SOC, voltage and
    every later step become NaN, silently. Measured: 31 of 60 SOCs give a NaN here."""
    ecm = varied_ecm(temps=(298.15,), limits={})
    bad = []
    for z in np.linspace(0.06, 0.94, 12):
        params = ups_params(ecm, outage_config(battery={"initial_soc": float(z)}), 1e-3)
        s0 = init(params)
        p_max = step(params, s0, 1e7, 1e-3).outputs["battery_W"]  # held at the bound
        for k in range(-2, 3):
            out = step(params, s0, p_max + k * np.spacing(p_max), 1e-3)
            if not (np.isfinite(out.outputs["current_A"])
                    and np.all(np.isfinite(out.cells.cells))):
                bad.append((float(z), k))
    assert bad == []


# --- simulate_string leaves the ECM's validity without a word ---------------------------
def test_simulate_string_warns_when_soc_leaves_the_validity_range():
    """simulate_ecm and simulate_ups warn (ValidityWarning) when the state leaves the
    ECM's identified range; simulate_string, the same equations, says nothing: 10 A for an
    hour from SOC 0.05 on a 10 Ah cell returns SOC -0.95 and a voltage from the OCV table
    clamped at 0 % SOC, without a warning."""
    params = string_params(varied_ecm())
    with pytest.warns(ValidityWarning, match="soc"):
        run = simulate_string(params, init_string(params, soc=0.05), 1.0,
                              current_A=np.full(3600, 10.0))
    assert run.final.soc[0] == pytest.approx(-0.95, abs=1e-9)


# --- configuration accepted that cannot mean anything ---------------------------------
def test_bms_config_refuses_soc_limits_outside_0_1_or_reversed_ranges():
    """[bms] takes soc_min, soc_max in [-1, inf) and never compares low with high (the
    ECM's own limits are checked exactly so: cellmodels.reduction.ecm._check_ranges);
    soc_min 0.9 with soc_max 0.1 silently blocks both directions for the whole run."""
    with pytest.raises(ParameterError, match=r"soc_min.*\[0, 1\].*-0\.5"):
        BMSConfig(soc_min=-0.5)
    with pytest.raises(ParameterError, match=r"soc_max.*\[0, 1\].*1\.5"):
        BMSConfig(soc_max=1.5)
    with pytest.raises(ParameterError, match=r"soc_min.*soc_max.*0\.9.*0\.1"):
        BMSConfig(soc_min=0.9, soc_max=0.1)
    with pytest.raises(ParameterError, match=r"voltage_min_V.*voltage_max_V"):
        BMSConfig(voltage_min_V=4.0, voltage_max_V=3.0)


def test_string_params_refuses_unknown_or_reversed_limits():
    """string_params(limits=...) drops a key it does not know (a BMS limit typed
    'voltage_min' is simply not enforced) and accepts a reversed range, also against the
    ECM's limit it overrides one side of."""
    ecm = varied_ecm(temps=(298.15,))  # limits: voltage 2.5 .. 4.3 V
    with pytest.raises((InputError, ParameterError), match=r"voltage_min.*voltage_min_V"):
        string_params(ecm, limits={"voltage_min": 3.3})
    with pytest.raises((InputError, ParameterError), match=r"soc_min.*soc_max"):
        string_params(ecm, limits={"soc_min": 0.9, "soc_max": 0.1})
    with pytest.raises((InputError, ParameterError), match=r"voltage_min_V.*voltage_max_V"):
        string_params(ecm, limits={"voltage_min_V": 4.5})


def test_grid_event_without_a_required_field_is_a_parameter_error():
    """[[grid.events]] without start_s or duration_s raises a bare TypeError from the
    dataclass ("__init__() missing 1 required positional argument"), not the package's
    ParameterError naming the section and the field ([rectifier] and [grid.generator]
    name their required rated_W)."""
    for event, missing in (({"duration_s": 5.0}, "start_s"), ({"start_s": 5.0}, "duration_s")):
        with pytest.raises(ParameterError, match=rf"grid.events.*{missing}"):
            UPSConfig.from_dict({**SMALL, "grid": {"events": [event]}})


def test_grid_event_off_the_time_grid_is_refused_late_in_a_run_too():
    """_on_grid's tolerance is 1e-9 max(1, |t|) seconds: at t = 1e5 s that is 1e-4 s, a
    whole step at dt = 1e-4 s, so an event 0.3 step off the grid is silently snapped
    (its twin at t = 1.00003 s is refused). The tolerance belongs to the step."""
    ecm = varied_ecm(temps=(298.15,))
    for t in (1.00003, 100000.00003):
        cfg = {**SMALL, "grid": {"events": [{"start_s": t, "duration_s": 1.0}]}}
        with pytest.raises(ParameterError, match="not on the time grid"):
            ups_params(ecm, cfg, 1e-4)


def test_generator_start_delay_off_the_time_grid_is_refused():
    """Grid event edges off the grid are refused ("the edge would be smeared"), but the
    generator's start edge is rounded silently: start_delay_s = 1.49 ms at dt = 1 ms
    starts it after 1 ms."""
    cfg = {**SMALL, "grid": {"events": [{"start_s": 1.0, "duration_s": 5.0}],
                             "generator": {"rated_W": 100.0, "start_delay_s": 0.00149}}}
    with pytest.raises(ParameterError, match="start_delay_s"):
        ups_params(varied_ecm(temps=(298.15,)), cfg, 1e-3)


@pytest.mark.parametrize("chunk_steps", [0, -1, 2.5])
def test_simulate_ups_refuses_a_chunk_size_that_is_not_a_positive_integer(chunk_steps):
    """chunk_steps = -1 runs no step at all and returns a result that says "Completed 50
    steps" with no bins and zero energies; 0 raises range()'s bare ValueError, 2.5 a
    TypeError."""
    with pytest.raises(InputError, match="chunk_steps"):
        simulate_ups(varied_ecm(temps=(298.15,)), np.full(50, 100.0), SMALL, dt_s=1e-3,
                     chunk_steps=chunk_steps)


def test_init_string_refuses_zero_kelvin():
    """init_string checks temperature_K in [0, 1000] while string_params, [battery] and
    simulate_ecm take (0, 1000]: 0 K is accepted as a cell temperature."""
    params = string_params(varied_ecm(temps=(298.15,)))
    with pytest.raises(InputError, match="temperature_K"):
        init_string(params, temperature_K=0.0)


# --- profiles ---------------------------------------------------------------------------
def test_profile_cumulative_refuses_times_outside_the_profile():
    """value_at refuses a time outside [0, duration]; cumulative clips it silently (the
    energy 'up to' -5 s is 0, up to 1e9 s the total) and returns NaN for NaN."""
    p = Profile([0.0, 1.0, 2.0], power_W=[1.0, 2.0])
    for t in (-5.0, 1e9, np.nan):
        with pytest.raises(InputError, match="t_s"):
            p.cumulative(t)


def test_profile_scale_names_the_factor_when_it_is_infinite():
    """scale checks its factor in [-inf, inf] (check_range's default), so inf passes and
    the error comes from the new Profile, naming 'power_W[0]', which the caller never
    gave."""
    with pytest.raises(InputError, match="'factor'"):
        Profile([0.0, 1.0], power_W=[2.0]).scale(np.inf)


def test_import_trace_refuses_a_2d_hdf5_dataset(tmp_path):
    """A trace column is a 1-D dataset; _read_hdf5 ravels whatever it finds, so a (3, 2)
    power matrix beside 6 times is read as 6 interleaved samples without a word."""
    path = tmp_path / "trace.h5"
    with h5py.File(path, "w") as f:
        f["time_s"] = np.arange(6.0)
        f["power_W"] = np.arange(6.0).reshape(3, 2)
    with pytest.raises(InputError, match=r"power_W.*\(3, 2\)"):
        import_trace(path)


# --- result files ---------------------------------------------------------------------
def test_result_file_config_and_run_are_standard_json(tmp_path):
    """The result file's 'config' and 'run' attributes are documented as JSON, but written
    with json.dumps' default allow_nan=True: the default ramp limit (inf) and every absent
    BMS limit become 'Infinity', which no standard JSON reader (jq, JavaScript, serde)
    accepts. Profile metadata is written with allow_nan=False already."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidityWarning)  # not under test here
        res = simulate_ups(varied_ecm(temps=(298.15,)), np.full(20, 100.0), SMALL, dt_s=1e-3)
    path = res.save(tmp_path / "run.h5")

    def refuse(token):
        raise ValueError(f"non-standard JSON constant {token}")

    with h5py.File(path, "r") as f:
        for key in ("config", "run"):
            json.loads(f.attrs[key], parse_constant=refuse)
    # and the file still reads back into the same numbers
    again = load_result(path)
    assert again.run["ramp_limit_W_per_s"] == res.run["ramp_limit_W_per_s"]
