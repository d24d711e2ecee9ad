"""Case: physics invariants, measured and reported (the tests assert the same).

- zero current holds the open-circuit voltage;
- the heat split (ohmic + irreversible + reversible + contact + hysteresis) sums to the
  total;
- the semi-solid model with liquid properties and full wetting equals the liquid model.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from cellmodels.validate import Case, CaseResult


def _semisolid_twin(cell, folder: Path) -> Path:
    """The same cell declared semi-solid with full wetting and no film (BPX 1.x file)."""
    from cellmodels.physics.cells import bpx_document

    doc = bpx_document(cell)
    doc["Parameterisation"].setdefault("User-defined", {}).update({
        "Initial negative electrode interface utilisation": 1.0,
        "Initial positive electrode interface utilisation": 1.0,
        "Interfacial film resistance [Ohm.m2]": 0.0,
    })
    meta = dict(cell.meta)
    meta.update({"name": f"{cell.name}_as_semisolid", "electrolyte_kind": "semisolid"})
    meta.pop("bpx_data", None)
    meta.setdefault("default_source", "twin of " + cell.name)
    doc["cellmodels"] = meta
    path = folder / f"{cell.name}_semisolid_twin.json"
    path.write_text(json.dumps(doc))
    return path


def run(fig_dir: Path) -> CaseResult:
    import cellmodels as cm

    name = "liquid_lfp_ups" if "liquid_lfp_ups" in cm.available_cells() else "lgm50"
    if name not in cm.available_cells():
        name = cm.available_cells()[0]
    cell = cm.load_cell(name)
    q = cell.capacity_Ah
    rows = []

    rest = cm.simulate(cell, initial_soc=0.6, temperature_K=298.15, current_A=0.0,
                       duration_s=3600.0)
    drift = float(np.max(np.abs(rest.voltage_V - rest.ocv_V[0])))
    rows.append({"invariant": "zero current holds OCV (1 h)", "measured": drift,
                 "unit": "V", "tolerance": 1e-5, "pass": drift <= 1e-5})

    run_ = cm.simulate(cell, initial_soc=0.9, temperature_K=298.15, current_A=2 * q,
                       duration_s=900.0)
    h = run_.heat_W
    split = (h["ohmic_W"] + h["irreversible_W"] + h["reversible_W"] + h["contact_W"]
             + h["hysteresis_W"])
    err = float(np.max(np.abs(split - h["total_W"]) / np.abs(h["total_W"])))
    rows.append({"invariant": "heat split sums to total (2C)", "measured": err,
                 "unit": "relative", "tolerance": 1e-9, "pass": err <= 1e-9})

    with tempfile.TemporaryDirectory() as tmp:
        twin = cm.load_cell(_semisolid_twin(cell, Path(tmp)))
        kw = dict(initial_soc=0.9, temperature_K=298.15, current_A=2 * q, duration_s=900.0)
        a = cm.simulate(cell, **kw)
        b = cm.simulate(twin, **kw)
    dv = float(np.max(np.abs(a.voltage_V - b.voltage_V)))
    rows.append({"invariant": "semi-solid (u = 1, R_film = 0) equals liquid (2C, 15 min)",
                 "measured": dv, "unit": "V", "tolerance": 2e-5, "pass": dv <= 2e-5})
    passed = all(r["pass"] for r in rows)
    return CaseResult(
        name="physics_invariants",
        data_source=f"physics only (cell {name}, DFN, lumped thermal)",
        metric="max deviation from each invariant",
        target="within solver tolerance (rtol 1e-6)",
        result="all hold" if passed else "violated: " + ", ".join(
            r["invariant"] for r in rows if not r["pass"]),
        passed=passed,
        rows=rows,
    )


CASES = [Case("physics_invariants", run, fast=True)]
