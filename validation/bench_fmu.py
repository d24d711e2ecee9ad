"""Benchmark: FMU export time, and the FMU against the reference simulator simulate_ecm.

Target: building an FMU (C generation, compile, zip) under 30 s. Measured on a small ECM
(11 SOC x 3 temperatures x 2 RC pairs) and a large one (101 x 9 x 3).

Agreement: a 1 h UPS-like pulse profile (thermal on, sub-stepped: 2 s communication
steps, max_step_s 0.75 s) run by fmpy.simulate_fmu in current and in power mode, against
simulate_ecm on the same steps. fmpy records the outputs at the end of a step before it
applies the next input, so at an input edge it reports the left limit; the reference is
simulate_ecm's state with the previous input (see tests/test_fmu.py). Also driven by hand
(set input, read, step), where the FMU's outputs are right-continuous like simulate_ecm's.

The same, build and agreement, for the small ECM with the one-state OCV hysteresis
(half-gap 8-18 mV, gamma 60 per unit SOC): the pulses drive h to the discharge branch,
the recharges turn it back up.

Run: ``python validation/bench_fmu.py``; writes validation/bench_fmu.json.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

T0, T_AMB, DT, MAX_STEP = 298.15, 303.15, 2.0, 0.75


def make_ecm(ns: int = 11, nt: int = 3, n_rc: int = 2, hysteresis: bool = False):
    import numpy as np

    from cellmodels.reduction import ECM

    soc = np.linspace(0, 1, ns)
    temps = np.linspace(263.15, 333.15, nt) if nt > 3 else np.array([273.15, 298.15, 318.15])
    s, t = np.meshgrid(soc, temps, indexing="ij")
    r0 = 2e-3 * (1 + 0.6 * (1 - s) ** 2) * np.exp(2000 * (1 / t - 1 / 298.15))
    rc_r = np.stack([r0 * (0.5 / (k + 1)) * (1 + 0.3 * s) for k in range(n_rc)])
    rc_tau = np.stack([(2.0 * 10**k) * (1 + 0.2 * s) * (1 + 0.1 * (t - 273.15) / 45)
                       for k in range(n_rc)])
    hys = {"hysteresis_V": 0.008 + 0.010 * np.sin(np.pi * soc), "hysteresis_rate": 60.0,
           "hysteresis_initial": 0.3} if hysteresis else {}
    return ECM(name=f"bench_{ns}x{nt}x{n_rc}" + ("_hys" if hysteresis else ""),
               capacity_Ah=20.0, soc=soc, temperature_K=temps,
               ocv_V=3.0 + 1.2 * soc - 0.05 * np.sin(6 * soc),
               docv_dT_V_per_K=-1e-4 + 2e-4 * soc, r0_Ohm=r0, rc_R_Ohm=rc_r, rc_tau_s=rc_tau,
               thermal_mass_J_per_K=150.0, heat_transfer_W_per_K=0.5,
               validity={"soc_min": 0.0, "soc_max": 1.0, "temperature_min_K": temps[0],
                         "temperature_max_K": temps[-1], "current_max_A": 200.0}, **hys)


def ups_profile(amplitude: float, t_end: float = 3600.0):
    """Pulses: every 60 s a 10 s discharge pulse, every fifth one a 6 s recharge."""
    import numpy as np

    edges = [(0.0, 0.0)]
    for k, start in enumerate(np.arange(20.0, t_end - 30.0, 60.0)):
        edges.append((float(start), amplitude))
        edges.append((float(start) + 10.0, 0.0))
        if k % 5 == 4:
            edges.append((float(start) + 30.0, -0.4 * amplitude))
            edges.append((float(start) + 36.0, 0.0))
    t = np.arange(0.0, t_end + DT / 2, DT)
    u = np.zeros_like(t)
    for te, value in edges:
        u[t >= te] = value
    rows = []
    for k, (te, value) in enumerate(edges):
        if k > 0:
            rows.append((te, edges[k - 1][1], T_AMB))
        rows.append((te, value, T_AMB))
    rows.append((t_end, edges[-1][1], T_AMB))
    return t, u, rows


def left_voltage(ecm, run, u, power):
    import numpy as np

    u_left = np.concatenate([[u[0]], u[:-1]])
    hys = run.hysteresis if run.hysteresis is not None else np.zeros(u.size)
    out = []
    for z, temp, v, ul, h in zip(run.soc, run.temperature_K, run.rc_V, u_left, hys,
                                 strict=True):
        r0 = ecm.r0(z, temp)
        e = ecm.ocv(z, temp) + ecm.hysteresis(z) * h - v.sum()
        i = (e - np.sqrt(e * e - 4.0 * r0 * ul)) / (2.0 * r0) if power else ul
        out.append(e - r0 * i)
    return np.array(out)


def agreement(ecm, path, mode: str) -> dict:
    import numpy as np
    from fmpy import simulate_fmu

    from cellmodels.reduction import simulate_ecm

    power = mode == "power"
    name = "power_W" if power else "current_A"
    t, u, rows = ups_profile(300.0 if power else 90.0)
    t0 = time.perf_counter()
    ref = simulate_ecm(ecm, t, initial_soc=0.95, temperature_K=T0, ambient_K=T_AMB,
                       max_step_s=MAX_STEP, **{name: u})
    t_ref = time.perf_counter() - t0
    sig = np.array(rows, dtype=[("time", float), (name, float), ("T_amb_K", float)])
    t0 = time.perf_counter()
    res = simulate_fmu(str(path), start_time=0.0, stop_time=t[-1], output_interval=DT,
                       input=sig, start_values={"initial_soc": 0.95, "T0_K": T0,
                                                "max_step_s": MAX_STEP},
                       output=["voltage_V", "soc", "temperature_K"])
    t_fmu = time.perf_counter() - t0
    assert np.array_equal(res["time"], t)
    dv = np.abs(res["voltage_V"] - left_voltage(ecm, ref, u, power))
    extra = {}
    if ecm.has_hysteresis:
        h = simulate_fmu(str(path), start_time=0.0, stop_time=t[-1], output_interval=DT,
                         input=sig, start_values={"initial_soc": 0.95, "T0_K": T0,
                                                  "max_step_s": MAX_STEP},
                         output=["hysteresis"])["hysteresis"]
        extra = {"max_abs_dh": float(np.abs(h - ref.hysteresis).max()),
                 "h_range": [float(ref.hysteresis.min()), float(ref.hysteresis.max())]}
    return {
        "profile": f"1 h, {len(rows) // 2 - 1} edges, {t.size - 1} steps of {DT} s, "
                   f"max_step_s {MAX_STEP}",
        "max_abs_dV_V": float(dv.max()),
        "max_abs_dsoc": float(np.abs(res["soc"] - ref.soc).max()),
        "max_abs_dT_K": float(np.abs(res["temperature_K"] - ref.temperature_K).max()),
        "temperature_rise_K": float(ref.temperature_K.max() - T0),
        "soc_end": float(ref.soc[-1]),
        "run_s": {"fmpy_simulate_fmu": t_fmu, "simulate_ecm": t_ref},
        **extra,
    }


def direct_right_continuous(ecm, path, mode: str) -> float:
    """Max |dV| with the input set before each read (the FMU's own right limits)."""
    import numpy as np
    from fmpy import extract, read_model_description
    from fmpy.fmi2 import FMU2Slave

    from cellmodels.reduction import simulate_ecm

    power = mode == "power"
    name = "power_W" if power else "current_A"
    t, u, _rows = ups_profile(300.0 if power else 90.0, t_end=600.0)
    ref = simulate_ecm(ecm, t, initial_soc=0.95, temperature_K=T0, ambient_K=T_AMB,
                       max_step_s=MAX_STEP, **{name: u})
    md = read_model_description(str(path))
    vr = {v.name: v.valueReference for v in md.modelVariables}
    with tempfile.TemporaryDirectory() as tmp:
        fmu = FMU2Slave(guid=md.guid, unzipDirectory=extract(str(path), unzipdir=tmp),
                        modelIdentifier=md.coSimulation.modelIdentifier, instanceName="bench")
        fmu.instantiate()
        fmu.setupExperiment(startTime=0.0)
        fmu.enterInitializationMode()
        fmu.setReal([vr["initial_soc"], vr["T0_K"], vr["max_step_s"], vr["T_amb_K"]],
                    [0.95, T0, MAX_STEP, T_AMB])
        fmu.exitInitializationMode()
        v = []
        for k in range(t.size):
            fmu.setReal([vr[name]], [u[k]])
            v.append(fmu.getReal([vr["voltage_V"]])[0])
            if k < t.size - 1:
                fmu.doStep(currentCommunicationPoint=t[k], communicationStepSize=t[k + 1] - t[k])
        fmu.terminate()
        fmu.freeInstance()
    return float(np.abs(np.array(v) - ref.voltage_V).max())


def main() -> dict:
    import zipfile

    from cellmodels.export.fmu import export_fmu

    builds = {}
    with tempfile.TemporaryDirectory() as tmp:
        export_fmu(make_ecm(), Path(tmp) / "warm.fmu")  # imports, compiler caches
        for shape in ((11, 3, 2), (101, 9, 3), (11, 3, 2, True)):
            ecm = make_ecm(*shape)
            times = []
            for k in range(3):
                t0 = time.perf_counter()
                path = export_fmu(ecm, Path(tmp) / f"{ecm.name}_{k}.fmu")
                times.append(time.perf_counter() - t0)
            with zipfile.ZipFile(path) as zf:
                same_binary = all(
                    zipfile.ZipFile(Path(tmp) / f"{ecm.name}_{k}.fmu").read(n) == zf.read(n)
                    for k in range(2) for n in zf.namelist())
            builds["x".join(map(str, shape[:3])) + ("+hysteresis" if shape[3:] else "")] = {
                "build_s_median_of_3": statistics.median(times), "build_s_max": max(times),
                "fmu_bytes": path.stat().st_size, "byte_identical_including_binary":
                    same_binary, "target_s": 30.0, "met": max(times) < 30.0}
        checks = {}
        for hys in (False, True):
            ecm = make_ecm(hysteresis=hys)
            for mode in ("current", "power"):
                key = mode + ("+hysteresis" if hys else "")
                path = export_fmu(ecm, Path(tmp) / f"agree_{key}.fmu", input_mode=mode)
                checks[key] = agreement(ecm, path, mode)
                checks[key]["max_abs_dV_V_direct_stepping_right_continuous"] = (
                    direct_right_continuous(ecm, path, mode))

    import fmpy

    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": sys.version.split()[0],
        "fmpy": fmpy.__version__,
        "build": builds,
        "agreement_vs_simulate_ecm": checks,
        "tolerance_V": 1e-6,
        "met": all(b["met"] for b in builds.values()) and all(
            c["max_abs_dV_V"] < 1e-6 and c["max_abs_dV_V_direct_stepping_right_continuous"]
            < 1e-6 for c in checks.values()),
    }
    out = Path(__file__).with_name("bench_fmu.json")
    tmp_out = out.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(result, indent=1))
    os.replace(tmp_out, out)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
