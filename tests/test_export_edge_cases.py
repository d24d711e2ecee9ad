"""Exports at their edges (a review of cellmodels/export, session 10): each test but the last
reproduced one defect found there, and failed before its fix: the FMU's validity warning
without simulate_ecm's tolerance, a foreign serialized state that destroyed the caller's,
log categories unnamed or ignored, a compiler without C library headers, `-o` naming a
folder, a non-atomic PyBaMM file, a JSON whose 'tables' is not an object, and the PyBaMM
export given something that is not an ECM. The last test pins edge cases the review checked
and found right (power near zero and changing sign, n_rc 1-4, steps past every time
constant, temperatures past the tables).
"""

import contextlib
import errno
import json
import shlex
import shutil
import subprocess
import warnings

import numpy as np
import pytest
from fmpy.fmi1 import FMICallException
from fmpy.validation import validate_fmu

from cellmodels.cli import main
from cellmodels.errors import FileFormatError, InputError
from cellmodels.export import pybamm_model, to_pybamm_parameter_values
from cellmodels.export.fmu import FMUBuildError, export_fmu
from cellmodels.export.json_export import ecm_from_json, export_json
from cellmodels.reduction import ValidityWarning, save_ecm, simulate_ecm

from .test_ecm import make_ecm
from .test_fmu import Slave
from .test_fmu import make_ecm as make_varying_ecm


# ------------------------------------------------------------------ FMU: validity warnings
def test_fmu_validity_current_bound_has_the_reference_tolerance(tmp_path):
    """The FMU warns where simulate_ecm does not: at "5C" of an ECM whose capacity_Ah
    (the coulomb count, 20.00003 Ah) is a solver tolerance above the nominal 20 Ah that
    set current_max_A = 100 A. simulate_ecm (and the UPS kernel, ups/system.py) widen the
    current bound by 1e-5 relative and the SOC/temperature bounds by 1e-9 relative
    (reduction/simulate.py, _ValidityGuard.bounds); the FMU's check_validity
    (fmu_template/ecm_fmu.c) compares against the bare bounds."""
    ecm = make_varying_ecm(capacity_Ah=20.00003,
                           validity={"soc_min": 0.0, "soc_max": 1.0,
                                     "temperature_min_K": 250.0, "temperature_max_K": 350.0,
                                     "current_max_A": 100.0})
    five_c = 5 * ecm.capacity_Ah  # 100.00015 A: 1.5e-6 relative above the bound
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        simulate_ecm(ecm, [0.0, 1.0, 2.0], current_A=[five_c] * 3, initial_soc=0.6,
                     temperature_K=298.15)
    assert seen == []  # the reference: inside its validity
    path = export_fmu(ecm, tmp_path / "c.fmu")

    def warnings_at(current):
        s = Slave(path, tmp_path / f"run{current}")
        try:
            s.start(initial_soc=0.6)
            s.set(current_A=current)
            s.fmu.doStep(currentCommunicationPoint=0.0, communicationStepSize=1.0)
            s.fmu.doStep(currentCommunicationPoint=1.0, communicationStepSize=1.0)
        finally:
            s.close()
        return [m[2] for m in s.messages if m[0] == 1]

    # control: 1 % beyond the bound is outside for both, and the FMU says so once
    assert len(warnings_at(101.0)) == 1
    assert warnings_at(five_c) == []


# ------------------------------------------------------------------ FMU: saved states
def test_fmu_deserialize_of_a_foreign_blob_keeps_the_state_passed_in(tmp_path):
    """fmi2DeSerializeFMUstate given an existing state to re-use and a blob that is not
    this FMU's copies the blob over that state before checking its tag, so the caller's
    valid state is destroyed although the call fails (fmu_template/ecm_fmu.c,
    fmi2DeSerializeFMUstate)."""
    path = export_fmu(make_varying_ecm(), tmp_path / "c.fmu")
    s = Slave(path, tmp_path)
    try:
        s.start(initial_soc=0.6)
        s.set(current_A=50.0)
        s.fmu.doStep(currentCommunicationPoint=0.0, communicationStepSize=2.0)
        soc_saved = s.get("soc")
        good = s.fmu.getFMUstate()
        blob = bytearray(s.fmu.serializeFMUstate(good))
        blob[:8] = bytes(8)  # the tag (first field) of another FMU: refused, as it should be
        with pytest.raises(FMICallException, match="fmi2DeSerializeFMUstate failed"):
            s.fmu.deSerializeFMUstate(bytes(blob), good)
        s.fmu.doStep(currentCommunicationPoint=2.0, communicationStepSize=2.0)
        assert s.get("soc") != soc_saved  # moved on
        s.fmu.setFMUstate(good)  # the state passed in is still the one saved at t = 2 s
        assert s.get("soc") == soc_saved
    finally:
        s.close()


def test_fmu_unknown_log_category_is_named(tmp_path):
    """fmi2SetDebugLogging refuses a category it does not have, rightly, but its message
    does not say which of the categories passed it refused ("unknown log category (the
    categories are logStatusWarning and logStatusError)"), so a master passing several
    (the Reference FMUs' logEvents, say) is left guessing (fmu_template/ecm_fmu.c,
    fmi2SetDebugLogging)."""
    path = export_fmu(make_ecm(), tmp_path / "c.fmu")
    s = Slave(path, tmp_path)
    try:
        with pytest.raises(FMICallException, match="fmi2SetDebugLogging failed"):
            s.fmu.setDebugLogging(True, ["logStatusWarning", "logEvents"])
    finally:
        s.close()
    assert "logStatusError" in s.messages[-1][2]  # the allowed ones are named
    assert "logEvents" in s.messages[-1][2]  # and so must be the value refused


def test_fmu_debug_logging_honours_the_categories_asked_for(tmp_path):
    """FMI 2.0 (2.1.5, fmi2SetDebugLogging): "If loggingOn = fmi2True and nCategories > 0,
    then only debug messages according to the categories argument shall be output". The
    FMU checks the names but then logs every category: asked for logStatusError only, it
    still logs the validity warning (logStatusWarning) (fmu_template/ecm_fmu.c,
    fmi2SetDebugLogging and log_message: one logging_on flag, no category mask)."""
    path = export_fmu(make_ecm(), tmp_path / "c.fmu")  # validity: soc in [0.1, 0.9]
    s = Slave(path, tmp_path)
    try:
        s.fmu.setDebugLogging(True, ["logStatusError"])
        s.start(initial_soc=0.95)  # outside: the warning's category was not asked for
        s.fmu.doStep(currentCommunicationPoint=0.0, communicationStepSize=1.0)
    finally:
        s.close()
    assert [m for m in s.messages if m[1] == "logStatusWarning"] == []


# ------------------------------------------------------------------ FMU: build errors
@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_compiler_without_c_library_headers_names_what_to_install(tmp_path):
    """Debian's gcc only *recommends* libc6-dev, so `apt-get install --no-install-recommends
    gcc` (common in slim images) gives a compiler without math.h. Reproduced here with the
    compiler's own headers only; the FMUBuildError then shows the compiler output but not
    what to install (fmu.py, _compile)."""
    own = subprocess.run(["cc", "-print-file-name=include"], capture_output=True, text=True,
                         check=True).stdout.strip()
    with pytest.raises(FMUBuildError, match=r"math\.h") as info:
        export_fmu(make_ecm(), tmp_path / "x.fmu", cc=f"cc -nostdinc -isystem {shlex.quote(own)}")
    message = str(info.value)
    assert "math.h: No such file or directory" in message  # the condition was reproduced
    assert "libc6-dev" in message or "build-essential" in message
    assert not (tmp_path / "x.fmu").exists()


# ------------------------------------------------------------------ CLI
@pytest.mark.parametrize("target", ["json", "pybamm", "fmu"])
def test_cli_export_to_an_existing_folder_is_a_clear_error(target, tmp_path, capsys):
    """`-o` naming an existing folder raises IsADirectoryError out of the command (for
    fmu after compiling) instead of the refusal out_folder_problem gives a missing folder
    (_atomic.py, out_folder_problem; export/_cli.py, _cmd_export)."""
    ecm_path = save_ecm(make_ecm(), tmp_path / "c.ecm.h5")
    folder = tmp_path / "out"
    folder.mkdir()
    assert main(["export", str(ecm_path), "--to", target, "-o", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "-o" in err and str(folder) in err
    assert list(folder.iterdir()) == [] and not list(tmp_path.glob(".*.part"))


def test_cli_pybamm_export_never_leaves_a_truncated_file(tmp_path, monkeypatch):
    """`--to pybamm` writes through pybamm.ParameterValues.to_json(path), which opens the
    target itself and streams into it: a write that fails part way (disk full, killed)
    leaves a truncated file where the previous good one was. The json and fmu targets
    (and save_ecm) write a temporary file and rename it (export/_cli.py, _cmd_export)."""
    ecm_path = save_ecm(make_ecm(), tmp_path / "c.ecm.h5")
    out = tmp_path / "p.json"
    old = '{"previous": "export"}\n'
    out.write_text(old)

    def dump_then_fail(obj, fp, *args, **kwargs):
        fp.write('{\n  "Cell capacity [A.h]": 10.0,\n  "R0 [Ohm]": {')  # part of it
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(json, "dump", dump_then_fail)
    with contextlib.suppress(OSError):
        main(["export", str(ecm_path), "--to", "pybamm", "-o", str(out)])
    monkeypatch.undo()
    text = out.read_text()
    if text != old:  # a writer that does not use json.dump may have finished: whole file
        json.loads(text)
    assert not list(tmp_path.glob(".*.part"))


# ------------------------------------------------------------------ JSON reader
@pytest.mark.parametrize("tables", [[], None, "r0_Ohm"])
def test_json_tables_that_are_not_an_object_are_a_file_format_error(tables, tmp_path):
    """'tables' that is not an object raises AttributeError ('list' object has no
    attribute 'get') from _table instead of FileFormatError naming the key: ecm_from_json
    checks isinstance(doc["tables"], dict) only after reading the tables through it
    (json_export.py, ecm_from_json)."""
    doc = json.loads(export_json(make_ecm(), tmp_path / "c.json").read_text())
    doc["tables"] = tables
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(FileFormatError, match="'tables'"):
        ecm_from_json(bad)


# ------------------------------------------------------------------ PyBaMM export
@pytest.mark.parametrize("function", [to_pybamm_parameter_values, pybamm_model])
def test_pybamm_export_of_something_not_an_ecm_names_the_argument(function, tmp_path):
    """A path where the ECM belongs (the docs write pybamm_model(load_ecm("cell.ecm.h5")))
    gives AttributeError ("'str' object has no attribute 'has_hysteresis'"), where
    export_fmu and export_json refuse with an InputError naming the argument and the type
    (pybamm_ecm.py, to_pybamm_parameter_values and pybamm_model)."""
    ecm_path = str(save_ecm(make_ecm(), tmp_path / "c.ecm.h5"))
    with pytest.raises(InputError, match=r"'ecm'.*ECM.*Got (a )?str"):
        function(ecm_path)


def _power_steps(s, t, p, outputs) -> np.ndarray:
    """Drive a started Slave in power mode: at each time, set the power, read ``outputs``,
    then step to the next time. Returns one row per time."""
    got = []
    for k in range(t.size):
        s.set(power_W=p[k])
        got.append(s.get(*outputs))
        if k < t.size - 1:
            s.fmu.doStep(currentCommunicationPoint=t[k], communicationStepSize=t[k + 1] - t[k])
    return np.array(got)


def test_reviewed_fmu_still_matches_the_reference_in_edge_cases(tmp_path):
    """Not a defect: guards what the review checked and found right. Power input near zero
    and changing sign, with the charge-transfer element and hysteresis, direct stepping with
    steps far longer than every time constant: the FMU is simulate_ecm to rounding (same
    operations in C and numpy), and all outputs are readable before the first step."""
    base = make_varying_ecm()
    ecm = base.replace(ct_R_Ohm=0.8 * base.r0_Ohm, ct_i0_A=np.full(base.r0_Ohm.shape, 15.0),
                       hysteresis_V=0.008 + 0.010 * np.sin(np.pi * base.soc),
                       hysteresis_rate=60.0, hysteresis_initial=0.3,
                       validity={"temperature_min_K": 250.0, "temperature_max_K": 400.0})
    t = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 500.0, 1500.0, 1600.0])
    p = np.array([0.0, 1e-9, -1e-9, 1e-300, -5.0, 5.0, 120.0, -60.0, 0.0])
    with pytest.warns(ValidityWarning, match="soc = "):  # discharged past SOC 0, on purpose
        ref = simulate_ecm(ecm, t, power_W=p, initial_soc=0.3, temperature_K=260.0,
                           ambient_K=340.0, max_step_s=1000.0)
    path = export_fmu(ecm, tmp_path / "e.fmu", input_mode="power")
    assert validate_fmu(str(path)) == []
    outputs = ["voltage_V", "soc", "temperature_K", "heat_W", "current_A", "hysteresis"]
    s = Slave(path, tmp_path)
    try:
        before = s.get(*outputs)  # instantiated, nothing set: start values
        assert before[1:3] == [1.0, ecm.reference_temperature_K] and before[4] == 0.0
        s.start(initial_soc=0.3, T0_K=260.0, max_step_s=1000.0)
        s.set(T_amb_K=340.0)
        got = _power_steps(s, t, p, outputs)
    finally:
        s.close()
    # same arithmetic in C and numpy: rounding only (measured 0 except heat, 9e-16 W)
    np.testing.assert_allclose(got[:, 0], ref.voltage_V, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got[:, 2], ref.temperature_K, rtol=0, atol=1e-11)
    np.testing.assert_allclose(got[:, 3], ref.heat_W["total_W"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[:, 4], ref.current_A, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got[:, 5], ref.hysteresis, rtol=0, atol=1e-14)
    assert ref.temperature_K.max() > 318.15  # above the table's hottest column
    assert ref.soc.min() < 0.0 and np.ptp(ref.hysteresis) > 0.5  # past the SOC grid; h moved


def test_fmu_nearly_adiabatic_cell_heats_as_simulate_ecm_does(tmp_path):
    """The FMU's thermal step is simulate_ecm's (no T_amb + q / hA, which cancelled for a
    small hA: with hA = 1e-16 W/K the cell did not heat at all), and a small power is drawn
    as 2P / (e + sqrt(disc)) in both."""
    ecm = make_varying_ecm(heat_transfer_W_per_K=1e-16)
    t = np.array([0.0, 10.0, 60.0, 200.0])
    p = np.array([200.0, 1e-6, 150.0, 0.0])
    ref = simulate_ecm(ecm, t, power_W=p, initial_soc=0.8, temperature_K=298.15)
    assert ref.temperature_K[-1] > 298.15 + 1.0  # it heats (adiabatic)
    path = export_fmu(ecm, tmp_path / "a.fmu", input_mode="power")
    s = Slave(path, tmp_path)
    try:
        s.start(initial_soc=0.8, T0_K=298.15)
        s.set(T_amb_K=298.15)
        got = _power_steps(s, t, p, ["temperature_K", "current_A"])
    finally:
        s.close()
    # same arithmetic in C and numpy: rounding only
    np.testing.assert_allclose(got[:, 0], ref.temperature_K, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got[:, 1], ref.current_A, rtol=1e-12, atol=0)
