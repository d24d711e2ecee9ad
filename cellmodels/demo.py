"""``cellmodels demo``: the main job, growing with each stage of the pipeline.

1. Cells: every shipped set with its 10 s DCR and DCR x capacity.
2. The ultra-low-DCR reference cell: DCR map at 1C and 5C and the loss breakdown that
   says which resistance to attack.
3. Reduction: its ECM identified from the DFN, checked against the DFN on a held-out
   AI-style swing, written as HDF5 and exported as an FMU for a system simulator.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from .dcr import cells_table, dcr_map
from .physics.cells import available_cells, load_cell

REFERENCE_CELL = "semisolid_lfp_power"


def ai_swing(capacity_Ah: float, seconds: float = 120.0, seed: int = 11):
    """A short AI-training swing in current: 5C / 0.5C with periods of 0.5-4 s."""
    rng = np.random.default_rng(seed)
    times, values, t = [0.0], [], 0.0
    while t < seconds:
        period = float(rng.choice([0.5, 1.0, 2.0, 4.0]))
        values += [5 * capacity_Ah, 0.5 * capacity_Ah]
        t += period / 2
        times.append(t)
        t += period / 2
        times.append(t)
    values.append(values[-1])
    return np.array(times), np.array(values)


def run_demo(out: str | Path = "out") -> None:
    from .physics.simulate import simulate
    from .reduction import save_ecm, simulate_ecm
    from .reduction.identify import ECMIdentifier

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    print("== 1. Cells: 10 s DCR at 50 % SOC, 25 degC, 1C ==")
    print(cells_table())
    name = REFERENCE_CELL if REFERENCE_CELL in available_cells() else available_cells()[0]
    for c_rate in (1.0, 5.0):
        print(f"\n== 2. {name}: DCR map at {c_rate:g}C ==")
        m = dcr_map(name, c_rate=c_rate, progress=True)
        print(m.table())
        print()
        print(m.breakdown_table())
        png = m.plot(out / f"dcr_{name}_{c_rate:g}C.png")
        print(f"\nFigure: {png}")

    print(f"\n== 3. {name}: reduced to an equivalent circuit ==")
    cell = load_cell(name)
    ident = ECMIdentifier(temperature_K=[283.15, 298.15, 313.15]).fit(cell, progress=True)
    ecm = ident.ecm_
    path = save_ecm(ecm, out / f"{name}.ecm.h5")
    print(f"ECM: {ecm.n_rc} RC pairs over {ecm.soc.size} SOC x {ecm.temperature_K.size} "
          f"temperatures, identified in {ident.seconds_:.0f} s -> {path}")
    t, i = ai_swing(cell.capacity_Ah)
    t_out = np.arange(0.0, t[-1], 0.01)
    i_out = i[np.searchsorted(t, t_out, side="right") - 1]
    t0 = time.perf_counter()
    dfn = simulate(cell, initial_soc=0.8, temperature_K=298.15, current_A=i, time_s=t,
                   t_out=t_out)
    t_dfn = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        red = simulate_ecm(ecm, t_out, current_A=i_out, initial_soc=0.8, temperature_K=298.15,
                           max_step_s=0.01)
    t_ecm = time.perf_counter() - t0
    dv = (red.voltage_V - dfn.voltage_V) * 1e3
    print(f"Held-out AI swing (5C/0.5C, periods 0.5-4 s, {t[-1]:.0f} s, 25 degC): ECM vs DFN "
          f"voltage RMSE {np.sqrt(np.mean(dv**2)):.2f} mV, max {np.max(np.abs(dv)):.2f} mV, "
          f"temperature {np.max(np.abs(red.temperature_K - dfn.temperature_K)):.3f} K "
          f"(DFN {t_dfn:.1f} s, reference ECM {t_ecm:.2f} s)")
    from .errors import FMUBuildError
    from .export import export_fmu

    try:
        fmu = export_fmu(ecm, out / f"{name}.fmu")
        print(f"FMU for system simulators (FMI 2.0 co-simulation): {fmu}")
    except FMUBuildError as exc:  # no C compiler here: say what to install, go on
        print(f"FMU not built: {exc}")
