"""Speed of the LG M50 physics fit (issue 3 acceptance: within 10 minutes on this machine).

Runs exactly the fit of ``validation/case_fit_lgm50.py`` (its ``MODEL_OPTIONS``: DFN, lumped
thermal with the quasi-steady heat of mixing; seven parameters, two discharges with their
cooling rests and four pulses, IDAKLU sensitivities) and writes
``validation/bench_fit.json``: wall time, model evaluations (residual solves without
sensitivities), sensitivity solves, the time of each kind, and what one Jacobian would
cost by 2-point finite differences instead (n_parameters plain solves) for comparison.

A stock PyBaMM reference solve (DFN, Chen2020, 1C discharge, IDAKLU) is timed before and
after the fit, so the figures carry their own measure of the machine:
``fit_over_reference_solve`` is the fit's wall time in units of that solve.

Run from the repository root: ``python validation/bench_fit.py``. The machine is shared;
the ratios measured side by side in one run are the robust figures.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIMIT_S = 600.0


def reference_solve_s(repeats: int = 3) -> float:
    """Median wall time of one stock PyBaMM solve (DFN, Chen2020, 1C to 2.5 V, IDAKLU),
    built once: the machine's speed on plain PyBaMM work."""
    import numpy as np
    import pybamm

    pv = pybamm.ParameterValues("Chen2020")
    sim = pybamm.Simulation(pybamm.lithium_ion.DFN(), parameter_values=pv,
                            solver=pybamm.IDAKLUSolver())
    sim.build(initial_soc=1.0)
    model, solver = sim.built_model, sim.solver
    times = []
    for _ in range(repeats + 1):  # the first run pays for the solver's set-up
        t0 = time.perf_counter()
        solver.solve(model, t_eval=[0.0, 3700.0], t_interp=np.linspace(0.0, 3700.0, 371))
        times.append(time.perf_counter() - t0)
    return float(np.median(times[1:]))


def main() -> dict:
    sys.path.insert(0, str(HERE))
    from case_fit_lgm50 import MODEL_OPTIONS, fit_experiments, parameters

    from cellmodels.fitting import PhysicsProblem, fit_physics

    ref_before = reference_solve_s()
    t0 = time.perf_counter()
    problem = PhysicsProblem("lgm50", fit_experiments(), parameters(), **MODEL_OPTIONS)
    build_s = time.perf_counter() - t0
    res = fit_physics("lgm50", [], [], problem=problem, max_nfev=30, progress=False)
    total_s = time.perf_counter() - t0
    ref_after = reference_solve_s()
    ref = 0.5 * (ref_before + ref_after)
    n_par = len(res.names)
    per_eval = problem.time_solve_s / max(problem.n_evaluations, 1)
    per_sens = problem.time_sens_s / max(problem.n_jacobians, 1)
    out = {
        "what": "LG M50 fit of validation/case_fit_lgm50.py",
        "model": dict(MODEL_OPTIONS),
        "parameters": list(res.names),
        "experiments": [e.name for e in res.experiments],
        "n_experiments": len(res.experiments),
        "n_residuals": int(problem.evaluate(res.x)[0].size),
        "success": res.success,
        "message": res.message,
        "wall_time_s": round(total_s, 2),
        "limit_s": LIMIT_S,
        "within_limit": total_s <= LIMIT_S,
        "build_s": round(build_s, 2),
        "model_evaluations": problem.n_evaluations,
        "sensitivity_solves": problem.n_jacobians,
        "time_per_evaluation_s": round(per_eval, 3),
        "time_per_sensitivity_solve_s": round(per_sens, 3),
        "sensitivity_over_evaluation": round(per_sens / per_eval, 2) if per_eval else None,
        "reference_solve_s": {"before": round(ref_before, 3), "after": round(ref_after, 3),
                              "what": "stock PyBaMM DFN, Chen2020, 1C to cut-off, IDAKLU, "
                                      "median of 3 after a warm-up"},
        "fit_over_reference_solve": round(total_s / ref, 1),
        "finite_difference_jacobian_s_estimate": round(n_par * per_eval, 3),
        "fd_over_sensitivity": round(n_par * per_eval / per_sens, 2) if per_sens else None,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_1min_at_end": round(os.getloadavg()[0], 2),
                    "note": "2 cores shared by several engineers when measured; pessimistic"},
    }
    from cellmodels._atomic import write_text

    write_text(HERE / "bench_fit.json", json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
