"""Bad input to the ECM, its file and its exports (issue 4, "Bad input"): tables that would
give a negative resistance or a non-monotonic OCV are refused when built (also when read
from a file); an ECM file edited, damaged or cut short is refused with a clear error
(never loaded with altered numbers, never a hang); strings from an ECM file stay data in
the FMU; a PyBaMM run that stops early raises; validity is warned once per run."""

import warnings
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest

import cellmodels.reduction.io as ecm_io
from cellmodels.errors import CutoffError, FileFormatError, ParameterError
from cellmodels.export.fmu import write_fmu_sources
from cellmodels.export.pybamm_ecm import solve_pybamm
from cellmodels.reduction import ValidityWarning, load_ecm, save_ecm, simulate_ecm

from .test_ecm import make_ecm

SOC = np.linspace(0, 1, 11)
TEMPS = np.array([273.15, 298.15, 318.15])


def with_value(shape, index, value, base=1e-3):
    a = np.full(shape, base)
    a[index] = value
    return a


# ------------------------------------------------------------ tables refused when built
@pytest.mark.parametrize("changes, match", [
    ({"rc_R_Ohm": with_value((2, 11, 3), (1, 3, 1), -2e-4)},
     r"'rc_R_Ohm' must be non-negative. Got -0.0002 for RC 2 at SOC 0.3, 298.15 K"),
    ({"rc_tau_s": with_value((2, 11, 3), (0, 10, 2), 0.0, base=5.0)},
     r"'rc_tau_s' must be positive. Got 0.0 for RC 1 at SOC 1, 318.15 K"),
    ({"r0_Ohm": with_value((11, 3), (0, 0), 0.0)},
     r"'r0_Ohm' must be positive. Got 0.0 at SOC 0, 273.15 K"),
    ({"ct_R_Ohm": with_value((11, 3), (5, 2), -1e-3), "ct_i0_A": np.full((11, 3), 5.0)},
     r"'ct_R_Ohm' must be non-negative. Got -0.001 at SOC 0.5, 318.15 K"),
    ({"ct_R_Ohm": np.full((11, 3), 1e-3), "ct_i0_A": with_value((11, 3), (2, 0), -1.0, 5.0)},
     r"'ct_i0_A' must be positive. Got -1.0 at SOC 0.2, 273.15 K"),
    ({"hysteresis_V": with_value((11,), 4, -0.01, 0.01), "hysteresis_rate": 30.0,
      "hysteresis_initial": 0.0},
     r"'hysteresis_V' .* must be non-negative. Got -0.01 at SOC 0.4"),
    ({"ocv_V": np.where(np.arange(11) == 6, 3.0 + 1.2 * SOC[5], 3.0 + 1.2 * SOC)},  # flat
     (r"'ocv_V' must increase with SOC .* It falls from 3.600000 V at SOC 0.5 to 3.600000 V "
      r"at SOC 0.6")),
    ({"ocv_V": 3.0 + 1.2 * SOC - 0.3 * (SOC > 0.75)},
     r"'ocv_V' must increase with SOC .* from 3.840000 V at SOC 0.7 to 3.660000 V at SOC 0.8"),
    ({"name": b"cell"}, r"The ECM field 'name' must be a string. Got b'cell' instead"),
])
def test_bad_tables_are_refused_when_built(changes, match):
    with pytest.raises(ParameterError, match=match):
        make_ecm(**changes)
    # and on a copy with a field changed
    if "name" not in changes:
        with pytest.raises(ParameterError, match=match):
            make_ecm().replace(**changes)


@pytest.mark.parametrize("changes, match", [
    ({"validity": {"soc_min": 0.9, "soc_max": 0.1}},
     r"'validity' must have soc_min <= soc_max. Got 0.9 and 0.1 instead"),
    ({"validity": {"soc_max": 95.0}},
     r"'validity' entry 'soc_max' must be in the range \[0, 1\]. Got 95.0 instead"),
    ({"validity": {"current_max_A": -100.0}},
     r"'validity' entry 'current_max_A' must be in the range \[0, inf\]. Got -100.0"),
    ({"limits": {"voltage_min_V": 4.2, "voltage_max_V": 2.5}},
     r"'limits' must have voltage_min_V <= voltage_max_V. Got 4.2 and 2.5 instead"),
    ({"limits": {"temperature_min_K": -10.0}},
     r"'limits' entry 'temperature_min_K' must be in the range \(0, inf\]. Got -10.0"),
])
def test_reversed_or_impossible_ranges_are_refused(changes, match):
    with pytest.raises(ParameterError, match=match):
        make_ecm(**changes)


def test_a_negative_table_written_into_a_file_is_refused_on_reading(tmp_path):
    path = save_ecm(make_ecm(), tmp_path / "cell.ecm.h5")
    with h5py.File(path, "r+") as f:
        r = f["rc_R_Ohm"][()]
        r[0, 3, 1] = -1e-3
        f["rc_R_Ohm"][...] = r
    with pytest.raises(FileFormatError, match=r"holds an invalid ECM: The ECM table 'rc_R_Ohm' "
                       r"must be non-negative. Got -0.001 for RC 1 at SOC 0.3, 298.15 K"):
        load_ecm(path)


# ------------------------------------------------------------------ the file: edited, damaged
def test_a_value_altered_in_the_file_is_refused_not_loaded(tmp_path):
    """A plausible edit HDF5 sees nothing wrong with: caught by the file's digest."""
    path = save_ecm(make_ecm(), tmp_path / "cell.ecm.h5")
    with h5py.File(path, "r+") as f:
        r0 = f["r0_Ohm"][()]
        r0[4, 1] = 2.5e-3
        f["r0_Ohm"][...] = r0
    with pytest.raises(FileFormatError, match=r"cell.ecm.h5 is corrupt or truncated: the SHA-256 "
                       r"of its \d+ bytes of content is [0-9a-f]{64}, but the file records "
                       r"'[0-9a-f]{64}'"):
        load_ecm(path)


def test_a_schema_version_that_is_not_a_number_is_named(tmp_path):
    path = save_ecm(make_ecm(), tmp_path / "cell.ecm.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = "three"
    with pytest.raises(FileFormatError, match=r"its 'schema_version' attribute must be an "
                       r"integer \(this cellmodels reads \(1, 2, 3\)\). Got 'three' instead"):
        load_ecm(path)
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 4
    with pytest.raises(FileFormatError, match=r"has ECM schema version 4; this cellmodels reads "
                       r"schema version 3"):
        load_ecm(path)


@pytest.mark.parametrize("edit, match", [
    (lambda f: f.attrs.__setitem__("capacity_Ah", np.array([1.0, 2.0])),
     r"attribute 'capacity_Ah' must be a number; it is array\(\[1., 2.\]\)"),
    (lambda f: f["meta"].attrs.__setitem__("limits", 3.0),
     r"meta attribute 'limits' must be JSON text"),
    (lambda f: f["meta"].attrs.__setitem__("validity", "[0.1, 0.9]"),
     r"meta attribute 'validity' must be a JSON object; it is list \[0.1, 0.9\]"),
    (lambda f: f.attrs.__setitem__("name", np.array([1, 2])),
     r"attribute 'name' must be a string"),
])
def test_malformed_fields_are_named(tmp_path, edit, match):
    path = save_ecm(make_ecm(), tmp_path / "cell.ecm.h5")
    with h5py.File(path, "r+") as f:
        edit(f)
    with pytest.raises(FileFormatError, match="is incomplete or corrupt: " + match):
        load_ecm(path)


def test_truncated_anywhere_is_refused(tmp_path):
    data = save_ecm(make_ecm(), tmp_path / "cell.ecm.h5").read_bytes()
    path = tmp_path / "cut.ecm.h5"
    for n in (0, 100, 511, 512, 600, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:n])
        with pytest.raises(FileFormatError, match="corrupt|truncated"):
            load_ecm(path)


def test_damage_anywhere_is_an_error_never_altered_numbers_or_a_hang(tmp_path, monkeypatch):
    """64 bytes zeroed at every 128th byte of the file. Some of these positions (in the
    root attributes) send the HDF5 library itself into an endless loop when it reads them;
    the digest makes load_ecm read such a file only in a child process it can stop."""
    monkeypatch.setattr(ecm_io, "DIAGNOSE_TIMEOUT_S", 2.0)
    data = save_ecm(make_ecm(), tmp_path / "cell.ecm.h5").read_bytes()
    path = tmp_path / "damaged.ecm.h5"
    tried = 0
    for off in range(0, len(data), 128):
        damaged = data[:off] + bytes(64) + data[off + 64:]
        if damaged == data:
            continue  # zeros already (HDF5's free space and padding)
        path.write_bytes(damaged[:len(data)])
        tried += 1
        with pytest.raises(FileFormatError, match="damaged.ecm.h5"):  # each names the file
            load_ecm(path)
    assert tried > 40


def test_a_file_written_before_the_digest_still_reads(tmp_path):
    """HDF5 addresses are relative to the superblock, so dropping the user block gives the
    layout written before the digest existed; it reads back exactly (no digest check)."""
    path = save_ecm(make_ecm(), tmp_path / "cell.ecm.h5")
    with open(path, "rb") as fh:
        assert fh.read(22) == b"cellmodels.ecm sha256="
    legacy = tmp_path / "legacy.ecm.h5"
    legacy.write_bytes(path.read_bytes()[ecm_io.USERBLOCK:])
    assert load_ecm(legacy) == make_ecm()
    assert load_ecm(path) == make_ecm()


# ------------------------------------------------------------ strings from a file stay data
HOSTILE = 'cell</ScalarVariable>"<x y="1"/> */ int evil(void); /*\n#define ECM_NS 0\r\t&amp;'


def test_hostile_strings_read_from_an_ecm_file_stay_data_in_the_fmu_sources(tmp_path):
    ecm = make_ecm(name=HOSTILE, provenance={"cell": HOSTILE, HOSTILE: "*/ x", "n": 1})
    ecm = load_ecm(save_ecm(ecm, tmp_path / "hostile.ecm.h5"))
    assert ecm.name == HOSTILE
    files = write_fmu_sources(ecm, None)
    root = ET.fromstring(files["modelDescription.xml"])
    assert root.get("modelName") == HOSTILE
    assert root.find(".//x") is None
    prov = {e.get("key"): e.get("value")
            for e in root.iter("{urn:cellmodels:ecm-fmu}Provenance")}
    assert prov == {"cell": HOSTILE, HOSTILE: "*/ x", "n": "1"}
    ident = root.find("CoSimulation").get("modelIdentifier")
    assert ident == "cell_ScalarVariable_x_y_1_int_evil_void_define_ECM_NS_0_amp"
    plain = write_fmu_sources(make_ecm(), None, model_identifier=ident)
    for name, text in files.items():
        if name.endswith((".c", ".h")):
            assert b"evil" not in text and b'y="1"' not in text
            strip = [line for line in text.decode().splitlines()
                     if not line.startswith(("#define ECM_GUID", "#define ECM_STATE_TAG"))]
            assert strip == [line for line in plain[name].decode().splitlines()
                             if not line.startswith(("#define ECM_GUID",
                                                     "#define ECM_STATE_TAG"))], name


# ---------------------------------------------------------------------- runs outside range
def test_a_pybamm_run_that_stops_early_raises():
    t = np.array([0.0, 100.0, 3000.0])
    i = np.array([0.0, 30.0, 30.0])  # 3C from SOC 0.3: empty after ~360 s of load
    with pytest.raises(CutoffError, match=r"The PyBaMM run of the ECM 'test' stopped at "
                       r"t = \d+\.?\d* s, before the profile's end at 3000 s \(event: "):
        solve_pybamm(make_ecm(), t, i, initial_soc=0.3, temperature_K=298.15)
    sol = solve_pybamm(make_ecm(), t[:2], i[:2], initial_soc=0.3, temperature_K=298.15)
    assert sol.termination == "final time"


def test_validity_warns_once_per_variable_naming_how_far_out():
    ecm = make_ecm()
    t = np.linspace(0.0, 60.0, 7)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        simulate_ecm(ecm, t, current_A=np.full(t.size, 150.0), initial_soc=0.5,
                     temperature_K=330.0, thermal=False)
    msgs = sorted(str(w.message) for w in rec if issubclass(w.category, ValidityWarning))
    assert len(msgs) == 2
    assert "current_A = 150 is 50 outside the identified range [-100, 100]" in msgs[0]
    assert "temperature_K = 330 is 11.9 outside the identified range [273.15, 318.15]" in msgs[1]


def test_power_mode_current_leaving_the_range_within_an_interval_warns():
    """A held power draws a rising current as the voltage sags: one long interval whose
    start is inside the current range and whose sub-steps leave it (the next sample is at
    rest, so only the sub-steps see it)."""
    ecm = make_ecm(validity={"current_max_A": 30.0})
    t = np.array([0.0, 600.0, 601.0])
    p = np.array([118.0, 0.0, 0.0])  # 29.4 A at SOC 0.9 (4.02 V), ~34 A at SOC 0.4
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        run = simulate_ecm(ecm, t, power_W=p, initial_soc=0.9, temperature_K=298.15,
                           thermal=False)
    assert abs(run.current_A[0]) < 30.0 and run.current_A[1] == 0.0
    msgs = [str(w.message) for w in rec if issubclass(w.category, ValidityWarning)]
    assert len(msgs) == 1 and "current_A = 30" in msgs[0] and "outside the identified range " \
        "[-30, 30]" in msgs[0]


def test_a_pybamm_run_outside_validity_warns_once_naming_how_far():
    t = np.array([0.0, 5.0, 10.0])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        solve_pybamm(make_ecm(), t, np.array([150.0, 150.0, 150.0]), initial_soc=0.5,
                     temperature_K=298.15)
    msgs = [str(w.message) for w in rec if issubclass(w.category, ValidityWarning)]
    assert len(msgs) == 1
    assert "current_A = 150 is 50 outside the identified range [-100, 100]" in msgs[0]


def test_impedance_and_fmu_say_how_far_outside_validity(tmp_path):
    from fmpy import simulate_fmu

    from cellmodels.export.fmu import export_fmu
    from cellmodels.reduction import ecm_impedance

    ecm = make_ecm()
    with pytest.warns(ValidityWarning, match=r"soc = 0.95 is outside the identified range "
                      r"\[0.1, 0.9\] by 0.05\."):
        ecm_impedance(ecm, 0.95, 298.15, [1.0])
    messages = []

    def log(_env, _name, status, _category, message):
        messages.append((status, message.decode()))

    path = export_fmu(ecm, tmp_path / "cell.fmu")
    simulate_fmu(str(path), stop_time=2.0, output_interval=1.0, logger=log, debug_logging=True,
                 start_values={"initial_soc": 0.95, "T0_K": 330.0})
    warned = sorted(text for status, text in messages if status == 1)
    assert len(warned) == 2
    assert "soc = 0.95 at t = 0 s is outside the identified range [0.1, 0.9] by 0.05." \
        in warned[0]
    assert "temperature_K = 330 at t = 0 s is outside the identified range [273.15, 318.15] " \
        "by 11.9." in warned[1]
