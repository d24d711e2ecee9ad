"""What one point of a study computes: the same function on a local process or a Dask worker.

:func:`run_point` never raises for a failing point (only for an interrupt): it returns
``status = "error"`` with the exception's type and message, so the sweep goes on and the
failure is recorded. Validity warnings raised while computing are returned as text.
"""

from __future__ import annotations

import time
import traceback
import warnings

import numpy as np

__all__ = ["run_point"]


def _heating(ecm, params: dict) -> tuple[dict, dict, dict]:
    from ..life.heating import periodic_heating, swing_waveform

    p = dict(params.get("heating", {}))
    wave = {k: p.pop(k) for k in ("period_s", "swing_depth", "swing_C_rate",
                                  "compute_fraction") if k in p}
    durations, current = swing_waveform(ecm, **wave)
    res = periodic_heating(ecm, durations, current, **p)
    values = res.summary()
    bad = [k for k, v in values.items() if not np.isfinite(v)]
    if bad:
        raise ValueError(f"periodic_heating returned non-finite {bad}")
    t_max = ecm.limits.get("temperature_max_K", np.inf)
    values["temperature_limit_K"] = float(t_max)
    # the question the study answers: does the cell stay inside its temperature window?
    values["within_limit"] = float(res.temperature_max_K <= t_max)
    values["period_s"] = res.period_s
    arrays = {"orbit_time_s": res.orbit["time_s"],
              "orbit_temperature_K": res.orbit["temperature_K"]}
    return values, arrays, {}


def _life(ecm, params: dict) -> tuple[dict, dict, dict]:
    from ..dutycycles import make_profile
    from ..life import project_life
    from ..ups import UPSConfig

    ups = UPSConfig.from_dict(params.get("ups", {}))
    profile = make_profile(params.get("dutycycle", {}))
    res = project_life(ecm, ups, profile, **params.get("life", {}))
    years = np.asarray(res.time_years, dtype=float)
    cap = np.asarray(res.capacity_fraction, dtype=float)
    rfac = np.asarray(res.resistance_factor, dtype=float)
    if not (np.all(np.isfinite(cap)) and np.all(np.isfinite(rfac))):
        raise ValueError("project_life returned a NaN capacity or resistance")
    values = {
        # NaN: that end of life is not reached within the projected years
        "eol_capacity_years": float(res.eol_capacity_years),
        "eol_capability_years": float(res.eol_capability_years),
        "years_projected": float(years[-1]),
        "capacity_fraction_final": float(cap[-1]),
        "resistance_factor_final": float(rfac[-1]),
        "efc_final": float(np.asarray(res.efc)[-1]),
        "temperature_max_K": float(np.nanmax(res.temperature_max_K)),
    }
    arrays = {
        "time_years": years,
        "capacity_fraction": cap,
        "resistance_factor": rfac,
        "efc": np.asarray(res.efc, dtype=float),
        "temperature_max_K": np.asarray(res.temperature_max_K, dtype=float),
        "ride_through_ok": np.asarray(res.ride_through_ok, dtype=float),
        "reservoir_m3": np.asarray(res.reservoir_m3, dtype=float),
    }
    notes = {"eol_capability_reason": str(res.eol_capability_reason)}
    return values, arrays, notes


POINT_FUNCTIONS = {"heating": _heating, "life": _life}


def run_point(kind: str, ecm, params: dict) -> dict:
    """Compute one point of a study.

    Parameters
    ----------
    kind : "heating" or "life"
    ecm : cellmodels.reduction.ECM
    params : the point's sections (``{"heating": {...}}``, or ``{"life", "ups",
        "dutycycle"}``), with the axes' values filled in

    Returns
    -------
    dict with ``status`` ("ok" or "error"), ``values`` (scalar outputs, float; NaN only
    where it means "not reached", e.g. an end of life beyond the projection), ``arrays``,
    ``notes`` (text outputs), ``warnings`` (messages), ``error`` (for "error": type and
    message), ``seconds``.
    """
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            values, arrays, notes = POINT_FUNCTIONS[kind](ecm, params)
        except Exception as exc:  # noqa: BLE001 - a failing point is recorded, not raised
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
            return {"status": "error", "error": f"{type(exc).__name__}: {exc}{where}",
                    "values": {}, "arrays": {}, "notes": {},
                    "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
                    "seconds": time.perf_counter() - t0}
    return {"status": "ok", "error": "", "values": values, "arrays": arrays, "notes": notes,
            "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
            "seconds": time.perf_counter() - t0}
