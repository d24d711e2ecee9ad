"""cellmodels.reduction and cellmodels.dcr at their edges (a review, session 10): each test
reproduced a defect found there and failed before its fix - ECM metadata that did not read
back equal or could not be written, scalar fields and tables unchecked or unnamed, numpy
numbers refused, ambient_K and thermal unchecked, a power error that did not say when,
identification settings failing deep inside, a pulse_dcr cache keyed by the path, a warning
at a bound reached to round-off, reduce flags passed through, a small power off by 1e-7,
a fractional schema version truncated, and a nearly adiabatic cell that did not heat.
"""

import numpy as np
import pytest

from cellmodels.errors import InputError, ParameterError
from cellmodels.reduction import load_ecm, save_ecm, simulate_ecm
from cellmodels.reduction.identify import ECMIdentifier

from .conftest import own_set
from .test_ecm import make_ecm, make_hys_ecm


# ------------------------------------------------------------------ ECM: write then read
@pytest.mark.parametrize("field, value", [
    ("error", {"rmse_V": (1.0e-3, 2.0e-3)}),             # JSON turns the tuple into a list
    ("error", {"rmse_V": float("nan")}),                  # NaN != NaN after the read
])
def test_ecm_metadata_reads_back_equal_to_what_was_written(tmp_path, field, value):
    """The contract: write then read gives an identical object. The ECM accepts any dict
    for error/provenance, but the file holds JSON, so a tuple comes back a list and a NaN
    a new NaN (unequal), and ``load_ecm(save_ecm(ecm)) != ecm``."""
    ecm = make_ecm(**{field: value})
    assert load_ecm(save_ecm(ecm, tmp_path / "cell.ecm.h5")) == ecm


@pytest.mark.parametrize("changes, match", [
    # a non-str key: saved, but read back as "7" (a different ECM); mixed with str keys
    # json.dumps(sort_keys=True) fails with a raw TypeError
    ({"provenance": {7: "an int key"}}, r"'provenance'"),
    ({"provenance": {"cell": "x", 7: "an int key"}}, r"'provenance'"),
    ({"error": {"rmse_V": np.float32(1e-3)}}, r"'error'"),   # json: float32 not serialisable
    ({"name": "cell\x00A"}, r"'name'"),                       # HDF5: no embedded NUL
    ({"name": "cell\udc80"}, r"'name'"),                      # not encodable as UTF-8
])
def test_an_ecm_that_cannot_be_written_is_refused_when_built(tmp_path, changes, match):
    """An ECM is accepted when built but save_ecm then fails with a raw TypeError /
    ValueError / UnicodeEncodeError that names no field (or writes it and reads back
    another ECM): refuse it when built instead."""
    with pytest.raises(ParameterError, match=match):
        ecm = make_ecm(**changes)
        save_ecm(ecm, tmp_path / "cell.ecm.h5")


# ------------------------------------------------------------------ ECM: scalar fields
@pytest.mark.parametrize("field, value", [
    ("capacity_Ah", "10"),                      # raw TypeError '<=' not supported
    ("capacity_Ah", True),                      # accepted as a 1 Ah cell
    ("capacity_Ah", np.array([10.0])),          # accepted, then save_ecm fails (TypeError)
    ("reference_temperature_K", None),          # raw TypeError from np.isfinite
    ("thermal_mass_J_per_K", np.array([300.0, 1.0])),  # raw "truth value ... ambiguous"
    ("heat_transfer_W_per_K", "0.5"),           # raw TypeError from np.isfinite
])
def test_scalar_fields_are_checked_and_named(field, value):
    with pytest.raises(ParameterError, match=rf"'{field}'"):
        make_ecm(**{field: value})


@pytest.mark.parametrize("field, value", [
    ("r0_Ohm", [[2e-3] * 3] * 10 + [[2e-3] * 2]),             # ragged: one row short
    ("rc_R_Ohm", [np.full((11, 3), 1e-3), np.full((11, 2), 1e-3)]),
    ("soc", "0 0.5 1"),                                       # text
    ("docv_dT_V_per_K", [0.0] * 10 + ["x"]),
])
def test_tables_that_are_not_arrays_of_numbers_are_named(field, value):
    """numpy's own ValueError ('inhomogeneous shape', 'could not convert string to
    float') reaches the user without the field's name."""
    with pytest.raises(ParameterError, match=rf"'{field}'"):
        make_ecm(**{field: value})


def test_numpy_numbers_are_numbers_in_limits_and_hysteresis():
    """np.float32(2.5) is refused as 'must be a number', np.int64(40) as 'must be in the
    range (0, inf)': the messages contradict the values they show. Numbers from numpy
    (a table's max, a config read with numpy) must be accepted, stored as float."""
    ecm = make_ecm(limits={"voltage_min_V": np.float32(2.5), "voltage_max_V": np.int64(4)})
    assert ecm.limits == {"voltage_min_V": 2.5, "voltage_max_V": 4.0}
    assert make_hys_ecm(hysteresis_rate=np.int64(40)).hysteresis_rate == 40.0


# ------------------------------------------------------------------ simulate_ecm arguments
def test_ambient_temperature_is_checked():
    """ambient_K is not checked: NaN gives NaN voltages (and a warning 'temperature_K = nan
    is nan outside'), negative kelvin runs, text gives a raw ValueError."""
    ecm = make_ecm()   # heat_transfer_W_per_K = 0.5: the ambient matters
    t = np.linspace(0.0, 10.0, 11)
    for bad in (float("nan"), -5.0, "cold"):
        with pytest.raises(InputError, match=r"'ambient_K' argument of simulate_ecm must be"):
            simulate_ecm(ecm, t, current_A=np.full(t.size, 10.0), initial_soc=0.5,
                         temperature_K=298.15, ambient_K=bad)


def test_thermal_flag_must_be_a_bool():
    """thermal="False" (a string from a config file) is truthy and runs the thermal model."""
    t = np.linspace(0.0, 10.0, 11)
    with pytest.raises(InputError, match=r"'thermal'"):
        simulate_ecm(make_ecm(), t, current_A=np.full(t.size, 10.0), initial_soc=0.5,
                     temperature_K=298.15, thermal="False")


def test_a_power_the_cell_cannot_deliver_says_when():
    """The error names the power and the maximum but not when: on a 1-day profile the
    user cannot find the sample that failed."""
    t = np.linspace(0.0, 10.0, 11)
    p = np.where(t == 5.0, 1e5, 50.0)
    with pytest.raises(InputError, match=r"exceeds what the cell can deliver.*t = 5(\.0)? s"):
        simulate_ecm(make_ecm(), t, power_W=p, initial_soc=0.5, temperature_K=298.15)


# ------------------------------------------------------------------ identification settings
@pytest.mark.parametrize("settings, match", [
    # documented range [0, 36000] s; 0 makes the sequence repeat a time and the engine
    # refuses it as "The 'time_s' array must increase ... at sample 55"
    ({"rest_s": 0.0}, r"'rest_s' of ECMIdentifier"),
    ({"temperature_K": []}, r"'temperature_K'"),          # raw IndexError after the set-up
    ({"seed": -1}, r"'seed' of ECMIdentifier"),           # raw ValueError from numpy
    ({"seed": 1.5}, r"'seed' of ECMIdentifier"),          # raw TypeError from numpy
])
def test_identification_settings_are_refused_by_name(settings, match):
    # SPM and two SOC points: the settings are checked before any solve (seconds at most)
    ident = ECMIdentifier(**({"soc": (0.3, 0.5), "temperature_K": [298.15], "model": "SPM"}
                             | settings))
    with pytest.raises(InputError, match=match):
        ident.fit("semisolid_lfp_power")
    assert not hasattr(ident, "ecm_")


# ------------------------------------------------------------------ DCR
def test_pulse_dcr_of_a_set_file_follows_the_file(tmp_path):
    """pulse_dcr caches its engine by the name or path string: edit the set file (here a
    4 mOhm contact resistance) and pulse_dcr(path) returns the old cell's DCR."""
    from cellmodels.dcr import pulse_dcr

    from .test_dcr import _with_contact

    path = own_set(tmp_path, name="edited")
    before = pulse_dcr(str(path), c_rate=1.0, durations_s=(1.0,), model="SPM")["dcr_Ohm"][0]
    own_set(tmp_path, _with_contact(0.004), name="edited")   # the same file, edited
    after = pulse_dcr(str(path), c_rate=1.0, durations_s=(1.0,), model="SPM")["dcr_Ohm"][0]
    # exactly +4 mOhm isothermal (test_dcr); lumped heating over 1 s at 1C moves it by
    # far less than half of that
    assert after - before == pytest.approx(0.004, abs=0.002)


def test_impedance_does_not_warn_for_a_bound_reached_to_round_off():
    """docs/reduction.md: "A bound reached to round-off does not warn (1e-9 relative)".
    simulate_ecm keeps it; ecm_impedance warns for SOC 0.9 + 1 ulp against soc_max 0.9
    ("outside ... by 1.11e-16"). Warnings are errors in this test run."""
    from cellmodels.reduction import ecm_impedance

    z = float(np.nextafter(0.9, 1.0))
    simulate_ecm(make_ecm(), [0.0, 1.0], current_A=[0.0, 0.0], initial_soc=z,
                 temperature_K=298.15)   # does not warn
    z_ecm = ecm_impedance(make_ecm(), z, float(np.nextafter(318.15, 400.0)), [1.0])
    assert z_ecm.real[0] > 0


@pytest.mark.parametrize("argv, flag", [
    # nargs="*": an empty list is falsy and the default 4-point grid is used silently
    (["--temperatures"], "--temperatures"),
    # passed on as rest_s=0, which the identification fails on with an internal message
    # about 'time_s' after building the model
    (["--rest", "0"], "--rest"),
])
def test_reduce_refuses_flags_by_name_before_identifying(tmp_path, monkeypatch, capsys, argv,
                                                         flag):
    """The CLI's docstring: its flags are checked there and named as flags."""
    from .test_cli_fit_reduce_messages import reduce_run

    code, seen = reduce_run(monkeypatch, "semisolid_lfp_power", "-o",
                            str(tmp_path / "c.ecm.h5"), *argv)
    assert code == 2 and seen == {}   # the identification never started
    assert f"cellmodels reduce: {flag}" in capsys.readouterr().err


@pytest.mark.parametrize("power_W", [1e-6, -1e-6, 1e-9])
def test_a_small_power_is_drawn_to_round_off(power_W):
    """(e - sqrt(e^2 - 4 R P)) / (2 R) cancels for small P: at 1 uW V I misses P by 8e-8
    relative, at 1 nW by 8e-8 (3e-5 with the hysteresis' e), against the 1e-12 the
    existing test_power_mode_draws_the_power holds at 50 W. 2 P / (e + sqrt(...)) is the
    same root without the cancellation."""
    t = np.linspace(0.0, 2.0, 3)
    for ecm in (make_ecm(), make_hys_ecm()):
        run = simulate_ecm(ecm, t, power_W=np.full(t.size, power_W), initial_soc=0.5,
                           temperature_K=298.15)
        np.testing.assert_allclose(run.current_A * run.voltage_V, power_W, rtol=1e-12)


@pytest.mark.parametrize("version", [1.5, 2.9, True])
def test_a_schema_version_that_is_not_an_integer_is_refused(tmp_path, version):
    """A file without the digest block (written before it existed, or by another tool
    following the layout) is read by its schema_version through int(): 2.9 reads as
    schema 2, 1.5 and True as schema 1. Another schema version must be a clear error."""
    import h5py

    import cellmodels.reduction.io as ecm_io
    from cellmodels.errors import FileFormatError

    path = save_ecm(make_ecm(), tmp_path / "cell.ecm.h5")
    legacy = tmp_path / "legacy.ecm.h5"
    legacy.write_bytes(path.read_bytes()[ecm_io.USERBLOCK:])   # no digest: as before it
    with h5py.File(legacy, "r+") as f:
        f.attrs["schema_version"] = version
    with pytest.raises(FileFormatError, match=r"'schema_version' attribute must be an integer"):
        load_ecm(legacy)


@pytest.mark.parametrize("ha", [1e-9, 1e-12, 1e-16])
def test_a_nearly_adiabatic_cell_heats_as_an_adiabatic_one(ha):
    """T <- T_ss + (T - T_ss) exp(-hA h / C) with T_ss = T_amb + q / hA cancels when q / hA
    is large: a cell with hA = 1e-12 W/K ends 0.31 K off the adiabatic run, one with
    1e-16 W/K does not heat at all (298.0 K against 300.59 K). The true difference is
    hA dT t / C ~ 1e-8 K at 1e-9 W/K; 1e-6 K leaves room for round-off over 6000 steps."""
    t = np.linspace(0.0, 600.0, 61)
    i = np.full(t.size, 20.0)

    def final_temperature(h):
        return simulate_ecm(make_ecm(heat_transfer_W_per_K=h), t, current_A=i,
                            initial_soc=0.8, temperature_K=298.15,
                            max_step_s=0.1).temperature_K[-1]

    assert final_temperature(ha) == pytest.approx(final_temperature(0.0), abs=1e-6)
