"""FMI 2.0 Co-Simulation FMU of an :class:`~cellmodels.reduction.ECM`.

:func:`export_fmu` writes the ECM's tables into a C header (``static const double``
arrays), compiles it with a fixed C source (``fmu_template/ecm_fmu.c``) by the system C
compiler into ``binaries/<platform>/<modelIdentifier>.<so|dylib|dll>``, and zips that
with ``modelDescription.xml`` and the C sources (``sources/``, with the FMI 2.0 headers,
BSD-2-Clause) so the FMU can be rebuilt on another platform.

The FMU steps exactly as :func:`cellmodels.reduction.simulate_ecm` does: within
``fmi2DoStep(t, h)`` the inputs are held, the step is split into sub-steps of at most
``max_step_s`` (a parameter), and each sub-step takes the exact exponential RC update, exact
coulomb counting and the exact linear thermal update with the parameters frozen at its
start. Outputs are evaluated from the state and the inputs set, so after a new input is set
they are right-continuous, as simulate_ecm's are. An ECM with the one-state OCV hysteresis
(``ecm.has_hysteresis``) carries its state h in the FMU's state (saved and restored with
it) and steps it exactly as simulate_ecm does (see ``fmu_template/ecm_fmu.c``).

Variables (SI units)::

    input      current_A   [A]  discharge positive     (input_mode="current")
    input      power_W     [W]  discharge positive     (input_mode="power")
    input      T_amb_K     [K]  ambient / coolant temperature
    output     voltage_V   [V]  terminal voltage
    output     soc         [1]  state of charge
    output     temperature_K [K] cell temperature
    output     heat_W      [W]  total heat: ohmic + polarisation + reversible (entropic)
    output     current_A   [A]  (input_mode="power")
    output     hysteresis  [1]  hysteresis state h, -1 discharge .. +1 charge branch
                                (an ECM with hysteresis only; heat_W then includes its
                                dissipation -I M h)
    parameter  initial_soc [1], T0_K [K] (initial cell temperature), max_step_s [s]
    parameter  initial_hysteresis [1] in [-1, 1] (an ECM with hysteresis only)

An ECM without hysteresis gives the same ``ecm_model.h`` and ``modelDescription.xml`` as
before the hysteresis was added (apart from the GUID, a digest that includes the C
template), and ``ecm_fmu.c`` preprocesses to the same C.

Strings from the ECM (its name, provenance) reach only ``modelDescription.xml`` (escaped)
and ``documentation/ecm.json`` (JSON); never the C sources. The model identifier is a C
identifier made of ``[A-Za-z0-9_]``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import resources
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from .._atomic import atomic_path
from ..errors import FMUBuildError, InputError, check_range, suggest
from ..reduction.ecm import ECM

__all__ = ["FMUBuildError", "export_fmu"]

TEMPLATE_FILES = ("ecm_fmu.c", "fmi2Functions.h", "fmi2FunctionTypes.h", "fmi2TypesPlatform.h")
INPUT_MODES = ("current", "power")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# characters XML 1.0 cannot hold at all, not even as a character reference
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_INSTALL_HINT = (
    "export_fmu compiles the FMU's C source with the system C compiler. Install one "
    "(Debian/Ubuntu: `apt-get install gcc`, or `apt-get install build-essential`; "
    "Fedora/RHEL: `dnf install gcc`; Alpine: `apk add gcc musl-dev`; macOS: "
    "`xcode-select --install`), or name one with the CC environment variable or the 'cc' "
    "argument."
)


# ----------------------------------------------------------------------------- helpers
def model_identifier_for(name: str) -> str:
    """A C identifier from an ECM name: runs of other characters become one '_'."""
    ident = re.sub(r"[^A-Za-z0-9]+", "_", str(name)).strip("_")[:64].rstrip("_")
    if not ident:
        return "ecm"
    if ident[0].isdigit():
        ident = "ecm_" + ident
    return ident


def _c_double(x: float) -> str:
    """A C double literal that reads back as exactly ``x`` (repr is the shortest one)."""
    x = float(x)
    if math.isinf(x):
        return "HUGE_VAL" if x > 0 else "(-HUGE_VAL)"
    if math.isnan(x):
        raise InputError("A NaN cannot be written into the FMU.")
    text = repr(x)
    return f"({text})" if text.startswith("-") else text


def _c_array(name: str, size: str, values) -> str:
    flat = [_c_double(v) for v in np.asarray(values, dtype=float).ravel()]
    if not flat:
        flat = ["0.0"]
    lines = [", ".join(flat[k:k + 6]) for k in range(0, len(flat), 6)]
    body = ",\n    ".join(lines)
    return f"static const double {name}[{size}] = {{\n    {body}\n}};\n"


def _xml_attr(value) -> str:
    """A double-quoted XML attribute value holding ``value`` exactly (invalid XML 1.0
    characters become U+FFFD; line ends and tabs are kept as character references)."""
    text = _XML_INVALID.sub("\ufffd", str(value))
    return '"' + escape(text, {'"': "&quot;", "\n": "&#10;", "\r": "&#13;",
                               "\t": "&#9;"}) + '"'


def _element(tag: str, attrs: dict, indent: int, children: list[str] | None = None) -> str:
    pad = "  " * indent
    text = pad + "<" + tag + "".join(f" {k}={_xml_attr(v)}" for k, v in attrs.items())
    if not children:
        return text + "/>\n"
    return text + ">\n" + "".join(children) + f"{pad}</{tag}>\n"


def _validity(ecm: ECM, key: str, default: float) -> float:
    """The validity bound as simulate_ecm reads it; unusable entries fall back."""
    try:
        value = float(ecm.validity.get(key, default))
    except (TypeError, ValueError):
        return float(default)
    return float(default) if math.isnan(value) else value


def _tolerance(ecm: ECM, name: str) -> float:
    """simulate_ecm's widening of a validity bound, so the FMU warns where it does."""
    from ..reduction.simulate import _ValidityGuard

    return float(_ValidityGuard(ecm).tolerance(name))


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    return str(x)


# ----------------------------------------------------------------------------- generation
def _model_header(ecm: ECM, power: bool, starts: dict, guid: str, tag: float) -> str:
    from .. import __version__

    ns, nt, n = ecm.soc.size, ecm.temperature_K.size, ecm.n_rc
    macros = {
        "ECM_GUID": f'"{guid}"',
        "ECM_STATE_TAG": _c_double(tag),
        "ECM_POWER_MODE": "1" if power else "0",
        "ECM_NS": str(ns),
        "ECM_NT": str(nt),
        "ECM_NRC": str(n),
        "ECM_NRC_DIM": str(max(n, 1)),
        "ECM_HAS_CT": "1" if ecm.has_ct else "0",
        "ECM_T_REF": _c_double(ecm.reference_temperature_K),
        "ECM_Q_AS": _c_double(ecm.capacity_Ah * 3600.0),
        "ECM_C_TH": _c_double(ecm.thermal_mass_J_per_K),
        "ECM_HA": _c_double(ecm.heat_transfer_W_per_K),
        "ECM_VALID_SOC_MIN": _c_double(_validity(ecm, "soc_min", ecm.soc[0])),
        "ECM_VALID_SOC_MAX": _c_double(_validity(ecm, "soc_max", ecm.soc[-1])),
        "ECM_VALID_T_MIN": _c_double(_validity(ecm, "temperature_min_K",
                                               ecm.temperature_K[0])),
        "ECM_VALID_T_MAX": _c_double(_validity(ecm, "temperature_max_K",
                                               ecm.temperature_K[-1])),
        "ECM_VALID_I_MAX": _c_double(_validity(ecm, "current_max_A", np.inf)),
        "ECM_VALID_SOC_TOL": _c_double(_tolerance(ecm, "soc")),
        "ECM_VALID_T_TOL": _c_double(_tolerance(ecm, "temperature_K")),
        "ECM_VALID_I_TOL": _c_double(_tolerance(ecm, "current_A")),
        "ECM_START_CURRENT": "0.0",
        "ECM_START_POWER": "0.0",
        "ECM_START_T_AMB": _c_double(starts["T_amb_K"]),
        "ECM_START_SOC": _c_double(starts["initial_soc"]),
        "ECM_START_T0": _c_double(starts["T0_K"]),
        "ECM_START_MAX_STEP": _c_double(starts["max_step_s"]),
    }
    if ecm.has_hysteresis:  # the one-state OCV hysteresis (ECM schema 3)
        macros.update({
            "ECM_HAS_HYS": "1",
            "ECM_HYS_RATE": _c_double(ecm.hysteresis_rate),
            "ECM_START_HYS": _c_double(starts["initial_hysteresis"]),
        })
    out = [
        f"/* ecm_model.h: the tables and constants of one ECM for ecm_fmu.c, generated by\n"
        f"   cellmodels {__version__}. SI units: SOC [1], temperature [K], voltage [V],\n"
        f"   resistance [Ohm], time [s]. 2-D tables are row-major [soc][temperature]; the\n"
        f"   RC tables are [rc][soc][temperature]. */\n",
        "#ifndef ECM_MODEL_H\n#define ECM_MODEL_H\n\n",
    ]
    out += [f"#define {k} {v}\n" for k, v in macros.items()]
    out.append("\n")
    out.append(_c_array("ECM_SOC", "ECM_NS", ecm.soc))
    out.append(_c_array("ECM_TEMPERATURE", "ECM_NT", ecm.temperature_K))
    out.append(_c_array("ECM_OCV", "ECM_NS", ecm.ocv_V))
    out.append(_c_array("ECM_DOCV_DT", "ECM_NS", ecm.docv_dT_V_per_K))
    out.append(_c_array("ECM_R0", "ECM_NS * ECM_NT", ecm.r0_Ohm))
    out.append(_c_array("ECM_RC_R", "ECM_NRC_DIM * ECM_NS * ECM_NT", ecm.rc_R_Ohm))
    out.append(_c_array("ECM_RC_TAU", "ECM_NRC_DIM * ECM_NS * ECM_NT", ecm.rc_tau_s))
    if ecm.has_ct:  # the charge-transfer element (ECM schema 2)
        out.append(_c_array("ECM_CT_R", "ECM_NS * ECM_NT", ecm.ct_R_Ohm))
        out.append(_c_array("ECM_CT_I0", "ECM_NS * ECM_NT", ecm.ct_i0_A))
    if ecm.has_hysteresis:
        out.append(_c_array("ECM_HYS", "ECM_NS", ecm.hysteresis_V))
    out.append("\n#endif\n")
    return "".join(out)


def _model_description(ecm: ECM, power: bool, identifier: str, guid: str,
                       starts: dict) -> str:
    from .. import __version__

    # (name, value reference, attributes, Real attributes); the order is the index
    u_name = "power_W" if power else "current_A"
    variables = [
        (u_name, 2 if power else 1,
         {"causality": "input", "variability": "continuous",
          "description": ("Electrical power drawn, discharge positive (held over each "
                          "communication step)") if power else
                         "Current, discharge positive (held over each communication step)"},
         {"quantity": "Power" if power else "ElectricCurrent", "unit": "W" if power else "A",
          "start": "0.0"}),
        ("T_amb_K", 3,
         {"causality": "input", "variability": "continuous",
          "description": "Ambient (coolant) temperature of the lumped thermal model"},
         {"quantity": "ThermodynamicTemperature", "unit": "K", "min": "0.0",
          "start": repr(float(starts["T_amb_K"]))}),
        ("voltage_V", 10,
         {"causality": "output", "variability": "continuous", "initial": "calculated",
          "description": "Terminal voltage"},
         {"quantity": "ElectricPotential", "unit": "V"}),
        ("soc", 11,
         {"causality": "output", "variability": "continuous", "initial": "calculated",
          "description": "State of charge (coulomb counting)"},
         {"unit": "1"}),
        ("temperature_K", 12,
         {"causality": "output", "variability": "continuous", "initial": "calculated",
          "description": "Cell temperature (lumped)"},
         {"quantity": "ThermodynamicTemperature", "unit": "K"}),
        ("heat_W", 13,
         {"causality": "output", "variability": "continuous", "initial": "calculated",
          "description": "Total heat generated: ohmic + polarisation + reversible "
                         "(entropic)" + (" + hysteresis" if ecm.has_hysteresis else "")},
         {"quantity": "Power", "unit": "W"}),
    ]
    if ecm.has_hysteresis:
        variables.append(
            ("hysteresis", 14,
             {"causality": "output", "variability": "continuous", "initial": "calculated",
              "description": "OCV hysteresis state h (-1 discharge branch, +1 charge "
                             "branch); the OCV is U(z) + M(z) h"},
             {"unit": "1"}))
    if power:
        variables.append(
            ("current_A", 1,
             {"causality": "output", "variability": "continuous", "initial": "calculated",
              "description": "Current drawing the power, discharge positive"},
             {"quantity": "ElectricCurrent", "unit": "A"}))
    variables += [
        ("initial_soc", 20,
         {"causality": "parameter", "variability": "fixed", "initial": "exact",
          "description": "State of charge at the start (RC pairs relaxed)"},
         {"unit": "1", "min": "0.0", "max": "1.0", "start": repr(float(starts["initial_soc"]))}),
        ("T0_K", 21,
         {"causality": "parameter", "variability": "fixed", "initial": "exact",
          "description": "Cell temperature at the start"},
         {"quantity": "ThermodynamicTemperature", "unit": "K", "min": "0.0",
          "start": repr(float(starts["T0_K"]))}),
        ("max_step_s", 22,
         {"causality": "parameter", "variability": "fixed", "initial": "exact",
          "description": "Longest internal sub-step; the tables are re-read at each "
                         "sub-step start"},
         {"quantity": "Time", "unit": "s", "min": "0.0",
          "start": repr(float(starts["max_step_s"]))}),
    ]
    if ecm.has_hysteresis:
        variables.append(
            ("initial_hysteresis", 23,
             {"causality": "parameter", "variability": "fixed", "initial": "exact",
              "description": "Hysteresis state h at the start (-1 discharge branch, +1 "
                             "charge branch)"},
             {"unit": "1", "min": "-1.0", "max": "1.0",
              "start": repr(float(starts["initial_hysteresis"]))}))
    index = {name: k + 1 for k, (name, *_rest) in enumerate(variables)}
    u_idx = str(index[u_name])
    p_idx = f"{index['initial_soc']} {index['T0_K']}"
    if ecm.has_hysteresis:
        p_idx += f" {index['initial_hysteresis']}"

    out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    head = {
        "fmiVersion": "2.0",
        "modelName": ecm.name,
        "guid": guid,
        "description": (f"Equivalent-circuit model ({ecm.n_rc} RC pairs, "
                        + ("OCV hysteresis, " if ecm.has_hysteresis else "")
                        + f"lumped thermal) of {ecm.name}, {input_mode_label(power)} input"),
        "generationTool": f"cellmodels {__version__}",
        "variableNamingConvention": "flat",
        "numberOfEventIndicators": "0",
    }
    out.append("<fmiModelDescription" + "".join(f"\n  {k}={_xml_attr(v)}"
                                                for k, v in head.items()) + ">\n")
    out.append(_element(
        "CoSimulation",
        {"modelIdentifier": identifier,
         "canHandleVariableCommunicationStepSize": "true",
         "canInterpolateInputs": "false",
         "maxOutputDerivativeOrder": "0",
         "canRunAsynchronuously": "false",
         "canBeInstantiatedOnlyOncePerProcess": "false",
         "canNotUseMemoryManagementFunctions": "true",
         "canGetAndSetFMUstate": "true",
         "canSerializeFMUstate": "true",
         "providesDirectionalDerivative": "false"},
        1, [_element("SourceFiles", {}, 2, [_element("File", {"name": "ecm_fmu.c"}, 3)])]))
    units = [
        ("1", {}), ("A", {"A": "1"}), ("K", {"K": "1"}),
        ("V", {"kg": "1", "m": "2", "s": "-3", "A": "-1"}),
        ("W", {"kg": "1", "m": "2", "s": "-3"}), ("s", {"s": "1"}),
    ]
    out.append(_element("UnitDefinitions", {}, 1, [
        _element("Unit", {"name": name}, 2, [_element("BaseUnit", base, 3)])
        for name, base in units]))
    out.append(_element("LogCategories", {}, 1, [
        _element("Category", {"name": "logStatusWarning",
                              "description": "The ECM is used outside its validity range"},
                 2),
        _element("Category", {"name": "logStatusError",
                              "description": "Errors: bad inputs, power beyond what the "
                                             "cell can deliver, calls out of order"}, 2)]))
    out.append(_element("DefaultExperiment",
                        {"startTime": "0.0", "stepSize": repr(float(starts["max_step_s"]))}, 1))
    # the schema takes elements of another namespace only inside a Tool
    provenance = [_element("Provenance", {"key": k, "value": v if isinstance(v, str)
                                          else json.dumps(_jsonable(v))}, 4)
                  for k, v in sorted(ecm.provenance.items(), key=lambda kv: str(kv[0]))]
    meta = _element("ECM", {"xmlns": "urn:cellmodels:ecm-fmu", "name": ecm.name,
                            "capacity_Ah": repr(float(ecm.capacity_Ah)),
                            "n_rc": str(ecm.n_rc), "input_mode": input_mode_label(power)},
                    3, provenance)
    out.append(_element("VendorAnnotations", {}, 1,
                        [_element("Tool", {"name": "cellmodels"}, 2, [meta])]))
    out.append(_element("ModelVariables", {}, 1, [
        _element("ScalarVariable", {"name": name, "valueReference": str(vr), **attrs}, 2,
                 [_element("Real", real, 3)])
        for name, vr, attrs, real in variables]))
    feedthrough = {"voltage_V": u_idx, "heat_W": u_idx, "current_A": u_idx,
                   "soc": "", "temperature_K": ""}
    initial = {"voltage_V": f"{u_idx} {p_idx}", "heat_W": f"{u_idx} {p_idx}",
               "current_A": f"{u_idx} {p_idx}", "soc": str(index["initial_soc"]),
               "temperature_K": str(index["T0_K"])}
    if ecm.has_hysteresis:
        feedthrough["hysteresis"] = ""
        initial["hysteresis"] = str(index["initial_hysteresis"])
    outputs = [name for name, _vr, attrs, _r in variables if attrs["causality"] == "output"]

    def unknown(name: str, deps: str) -> str:
        attrs = {"index": str(index[name]), "dependencies": deps}
        if deps:
            attrs["dependenciesKind"] = " ".join(["dependent"] * len(deps.split()))
        return _element("Unknown", attrs, 3)

    out.append(_element("ModelStructure", {}, 1, [
        _element("Outputs", {}, 2, [unknown(n, feedthrough[n]) for n in outputs]),
        _element("InitialUnknowns", {}, 2, [unknown(n, initial[n]) for n in outputs]),
    ]))
    out.append("</fmiModelDescription>\n")
    return "".join(out)


def input_mode_label(power: bool) -> str:
    return "power" if power else "current"


_BUILD_README = """\
Sources of the FMU {identifier} (FMI 2.0 Co-Simulation), generated by cellmodels {version}.

  ecm_fmu.c        the model and the FMI 2.0 functions (the same for every ECM)
  ecm_model.h      this ECM's tables and constants
  fmi2*.h          FMI 2.0 headers, Modelica Association Project "FMI", BSD-2-Clause

Build the shared library and put it into the FMU's binaries/<platform>/ folder:

  Linux:   cc -shared -fPIC -O2 -ffp-contract=off -o {identifier}.so ecm_fmu.c -lm
           -> binaries/linux64/{identifier}.so
  macOS:   cc -shared -fPIC -O2 -ffp-contract=off -o {identifier}.dylib ecm_fmu.c
           -> binaries/darwin64/{identifier}.dylib
  Windows: cl /LD /O2 /fp:precise ecm_fmu.c /Fe{identifier}.dll
           -> binaries/win64/{identifier}.dll

-ffp-contract=off keeps the arithmetic operation for operation that of cellmodels'
reference simulator (no fused multiply-add), so results agree to rounding.
"""


# ----------------------------------------------------------------------------- compiling
def _platform() -> tuple[str, str]:
    bits = "64" if sys.maxsize > 2**32 else "32"
    if sys.platform.startswith("linux"):
        return f"linux{bits}", ".so"
    if sys.platform == "darwin":
        return "darwin64", ".dylib"
    if sys.platform in ("win32", "cygwin"):
        return f"win{bits}", ".dll"
    raise FMUBuildError(f"export_fmu does not know the FMI platform name of "
                        f"{sys.platform!r}; build from the sources with "
                        f"`cellmodels.export.fmu.write_fmu_sources` instead.")


def _find_compiler(cc: str | None) -> list[str]:
    """The compiler command: the 'cc' argument, else $CC, else cc, gcc or clang."""
    if cc is not None or os.environ.get("CC"):
        origin = "the 'cc' argument" if cc is not None else "the CC environment variable"
        text = cc if cc is not None else os.environ["CC"]
        parts = shlex.split(text)
        if not parts:
            raise FMUBuildError(f"No C compiler: {origin} is empty. {_INSTALL_HINT}")
        found = shutil.which(parts[0])
        if found is None:
            raise FMUBuildError(f"No C compiler: {parts[0]!r} (from {origin}) was not found. "
                                f"{_INSTALL_HINT}")
        return [found, *parts[1:]]
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name)
        if found is not None:
            return [found]
    raise FMUBuildError(f"No C compiler found (looked for cc, gcc and clang on PATH). "
                        f"{_INSTALL_HINT}")


def _compile(compiler: list[str], source_dir: Path, output: str, suffix: str) -> bytes:
    cmd = [*compiler, "-shared", "-O2", "-ffp-contract=off", "-o", output, "ecm_fmu.c"]
    if suffix != ".dll":
        cmd.insert(len(compiler) + 1, "-fPIC")
    if suffix == ".so":
        cmd.append("-lm")
    try:
        proc = subprocess.run(cmd, cwd=source_dir, capture_output=True, text=True,
                              timeout=300, check=False)
    except OSError as exc:
        raise FMUBuildError(f"The C compiler {compiler[0]!r} could not be run: {exc}. "
                            f"{_INSTALL_HINT}") from None
    except subprocess.TimeoutExpired:
        raise FMUBuildError(f"The C compiler {compiler[0]!r} did not finish within 300 s.") \
            from None
    if proc.returncode != 0 or not (source_dir / output).is_file():
        text = proc.stderr or proc.stdout or ""
        tail = text[-3000:]
        missing = re.search(r"\b(math|stdio|stdlib|string|stdarg|stddef)\.h: No such file", text)
        hint = (f"\nThe C library headers are missing ({missing.group(1)}.h): Debian/Ubuntu "
                "`apt-get install libc6-dev` (or build-essential); Fedora/RHEL `dnf install "
                "glibc-devel`; Alpine `apk add musl-dev`.") if missing else ""
        raise FMUBuildError(f"The C compiler failed (exit code {proc.returncode}) on "
                            f"`{' '.join(shlex.quote(c) for c in cmd)}`:\n{tail}{hint}")
    return (source_dir / output).read_bytes()


def _write_zip(path: Path, files: dict[str, tuple[bytes, int]]) -> None:
    """Write ``files`` (name -> (bytes, unix mode)) as a zip, atomically and reproducibly."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        for name in sorted(files):
            data, mode = files[name]
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, data)


# ----------------------------------------------------------------------------- API
def _check_args(ecm, input_mode, model_identifier, initial_soc, temperature_K, max_step_s,
                initial_hysteresis=None):
    if not isinstance(ecm, ECM):
        raise InputError(f"The 'ecm' argument of export_fmu must be an ECM. Got "
                         f"{type(ecm).__name__} instead.")
    if input_mode not in INPUT_MODES:
        raise InputError(f"The 'input_mode' argument of export_fmu must be one of "
                         f"{', '.join(map(repr, INPUT_MODES))}. Got {input_mode!r} instead."
                         + suggest(str(input_mode), INPUT_MODES))
    if model_identifier is None:
        identifier = model_identifier_for(ecm.name)
    else:
        identifier = str(model_identifier)
        if not _IDENTIFIER.fullmatch(identifier) or len(identifier) > 200:
            raise InputError(f"The 'model_identifier' argument of export_fmu must be a C "
                             f"identifier ([A-Za-z_][A-Za-z0-9_]*, at most 200 characters). "
                             f"Got {model_identifier!r} instead.")
    owner = "argument of export_fmu"
    starts = {
        "initial_soc": check_range(initial_soc, "initial_soc", owner, 0.0, 1.0),
        "T0_K": check_range(ecm.reference_temperature_K if temperature_K is None
                            else temperature_K, "temperature_K", owner, 0.0, 1000.0,
                            closed=(False, True)),
        "max_step_s": check_range(max_step_s, "max_step_s", owner, 0.0, math.inf,
                                  closed=(False, False)),
    }
    starts["T_amb_K"] = starts["T0_K"]
    if initial_hysteresis is not None and not ecm.has_hysteresis:
        raise InputError(f"The ECM {ecm.name!r} has no hysteresis; the 'initial_hysteresis' "
                         f"argument of export_fmu must be None. Got {initial_hysteresis!r} "
                         "instead.")
    if ecm.has_hysteresis:
        starts["initial_hysteresis"] = check_range(
            ecm.hysteresis_initial if initial_hysteresis is None else initial_hysteresis,
            "initial_hysteresis", owner, -1.0, 1.0)
    return identifier, starts


def write_fmu_sources(ecm: ECM, directory: str | Path, *, input_mode: str = "current",
                      model_identifier: str | None = None, initial_soc: float = 1.0,
                      temperature_K: float | None = None, max_step_s: float = 1.0,
                      initial_hysteresis: float | None = None) -> dict[str, bytes]:
    """The FMU's platform-independent files (name -> bytes); also written under
    ``directory`` when it is not None. See :func:`export_fmu` for the arguments."""
    identifier, starts = _check_args(ecm, input_mode, model_identifier, initial_soc,
                                     temperature_K, max_step_s, initial_hysteresis)
    power = input_mode == "power"
    template = resources.files(__package__).joinpath("fmu_template")
    sources = {name: template.joinpath(name).read_bytes() for name in TEMPLATE_FILES}
    # GUID and state tag: a digest of everything the binary and the XML depend on
    body = _model_header(ecm, power, starts, "", 0.0)
    digest = hashlib.sha256()
    for part in (body.encode(), *(sources[n] for n in TEMPLATE_FILES),
                 _model_description(ecm, power, identifier, "", starts).encode()):
        digest.update(hashlib.sha256(part).digest())
    hexd = digest.hexdigest()
    guid = "{%s-%s-%s-%s-%s}" % (hexd[:8], hexd[8:12], hexd[12:16], hexd[16:20], hexd[20:32])
    tag = float(int(hexd[32:45], 16))  # < 2**52: exact as a double
    files = {f"sources/{name}": data for name, data in sources.items()}
    files["sources/ecm_model.h"] = _model_header(ecm, power, starts, guid, tag).encode()
    from .. import __version__

    files["sources/README.txt"] = _BUILD_README.format(identifier=identifier,
                                                       version=__version__).encode()
    files["modelDescription.xml"] = _model_description(ecm, power, identifier, guid,
                                                       starts).encode("utf-8")
    meta = {
        "format": "cellmodels.ecm.fmu",
        "name": ecm.name,
        "model_identifier": identifier,
        "input_mode": input_mode,
        "capacity_Ah": ecm.capacity_Ah,
        "n_rc": ecm.n_rc,
        "limits": ecm.limits,
        "validity": ecm.validity,
        "error": ecm.error,
        "provenance": ecm.provenance,
    }
    files["documentation/ecm.json"] = (json.dumps(_jsonable(meta), indent=1, sort_keys=True)
                                       + "\n").encode()
    if directory is not None:
        root = Path(directory)
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
    return files


def export_fmu(
    ecm: ECM,
    path: str | Path,
    *,
    input_mode: str = "current",
    model_identifier: str | None = None,
    initial_soc: float = 1.0,
    temperature_K: float | None = None,
    max_step_s: float = 1.0,
    cc: str | None = None,
    initial_hysteresis: float | None = None,
) -> Path:
    """Write ``ecm`` as an FMI 2.0 Co-Simulation FMU at ``path``; return the path.

    Parameters
    ----------
    input_mode : "current" (input current_A [A]) or "power" (input power_W [W]; the FMU
        solves V I = P and outputs current_A). Discharge positive either way.
    model_identifier : the FMU's C identifier and binary name; default from ``ecm.name``
        (other characters than [A-Za-z0-9_] replaced).
    initial_soc, temperature_K, max_step_s : start values of the FMU's parameters
        initial_soc, T0_K (default the ECM's reference temperature; also the start of the
        T_amb_K input) and max_step_s.
    initial_hysteresis : start value of the parameter initial_hysteresis (the state h at
        the start, in [-1, 1]) of an ECM with hysteresis; default
        ``ecm.hysteresis_initial``. Refused for an ECM without hysteresis.
    cc : C compiler command (default: $CC, else cc, gcc or clang on PATH).

    Raises :class:`FMUBuildError` when no C compiler is found or it fails. The file is
    written atomically (temporary file, then rename); every member but the binary is a
    function of the arguments alone.
    """
    path = Path(path)
    files = write_fmu_sources(ecm, None, input_mode=input_mode,
                              model_identifier=model_identifier, initial_soc=initial_soc,
                              temperature_K=temperature_K, max_step_s=max_step_s,
                              initial_hysteresis=initial_hysteresis)
    identifier = (model_identifier_for(ecm.name) if model_identifier is None
                  else str(model_identifier))
    platform, suffix = _platform()
    compiler = _find_compiler(cc)
    with tempfile.TemporaryDirectory(prefix="cellmodels-fmu-") as tmp:
        src = Path(tmp)
        for name, data in files.items():
            if name.startswith("sources/"):
                (src / name.removeprefix("sources/")).write_bytes(data)
        binary = _compile(compiler, src, identifier + suffix, suffix)
    members = {name: (data, 0o644) for name, data in files.items()}
    members[f"binaries/{platform}/{identifier}{suffix}"] = (binary, 0o755)
    _write_zip(path, members)
    return path
