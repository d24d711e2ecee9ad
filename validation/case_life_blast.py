"""Ageing model against NREL's BLAST-Lite, inside BLAST-Lite's validated range.

Protocols (both models), each one full-depth cycle a day, at a constant 25 degC and 35 degC,
for 10 years:

- ``continuous C/12``: SOC 1 -> 0 in 12 h and back in 12 h. The cycle's C-rate and the
  day's mean C-rate coincide (1/12 C);
- ``0.5C + 20 h rest``: SOC 0.5 -> 0 in 1 h, 0 -> 1 in 2 h, 1 -> 0.5 in 1 h, 20 h at rest at
  50 %. Here the C-rate definitions part: BLAST-Lite's C-rate stressor is ``|dSOC/dt|``
  averaged over the whole day, rests included (0.5C x 4/24 = 0.083C); a cycle's own-charge
  rate is 0.5C. The two coefficient sets ported from BLAST-Lite declare
  ``"crate_definition": "window_mean"`` (BLAST-Lite's definition, see
  cellmodels.life.ageing.CRATE_DEFINITIONS), so their coefficients are used with the
  stressor they were fitted with. A diagnostic run of the LFP model with the own-charge
  definition (``"own_charge"``, the package default) shows what the definition is worth
  (the NMC model has no rate term).

Every cycle is full depth on the *present* capacity, so the throughput falls as the cell
fades (BLAST-Lite's ``is_conserve_energy_throughput=False``; ours: ``capacity_fraction``
scales the equivalent full cycles).

Models: LFP, BLAST-Lite ``Lfp_Gr_250AhPrismatic`` (validated 10-45 degC, DoD 0.8-1,
<= 0.65C charge, <= 1C discharge) against our ``lfp_gr_250ah``; NMC, BLAST-Lite
``Nmc111_Gr_Kokam75Ah_Battery`` (0-45 degC, DoD 0.8-1, 1C) against our
``nmc111_gr_kokam75ah``. Our coefficient sets take BLAST-Lite's published coefficients;
what differs is the machinery: SOC history -> rainflow cycles with their own temperature,
rate and mean SOC, calendar terms integrated as ``int k**(1/p) dt`` over the samples (BLAST-
Lite averages ``k`` over each day first), the LAM onset at each cycle's mean SOC (BLAST-Lite:
the day's mean SOC). So the check is that the machinery reproduces the published models
where they are valid.

BLAST-Lite pins numpy < 2, so it runs in its own virtual environment
(``validation/out/.venv-blast``, created on first use with ``python -m venv`` and ``pip
install blast-lite``) in a subprocess that prints JSON.

Acceptance (issue 6): our 10-year capacity loss within +-20 % (relative) of BLAST-Lite's,
on both protocols (both chemistries, both temperatures: 8 comparisons).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

from cellmodels.validate import Case, CaseResult

HERE = Path(__file__).resolve().parent
VENV = HERE / "out" / ".venv-blast"
YEARS = 10
TEMPERATURES_C = (25.0, 35.0)
TOLERANCE = 0.20
PAIRS = (
    ("LFP", "Lfp_Gr_250AhPrismatic", "lfp_gr_250ah"),
    ("NMC", "Nmc111_Gr_Kokam75Ah_Battery", "nmc111_gr_kokam75ah"),
)
STEP_DAYS = 5  # our model: window stress recomputed (at the present capacity) every 5 days

RUNNER = r"""
import json, sys
import numpy as np
import blast
from blast import models
spec = json.loads(sys.stdin.read())
out = {"blast_version": getattr(blast, "__version__", "unknown")}
t = np.asarray(spec["time_s"]); soc = np.asarray(spec["soc"])
for name in spec["models"]:
    for tc in spec["temperatures_C"]:
        cell = getattr(models, name)()
        cell.simulate_battery_life({"Time_s": t, "SOC": soc,
                                    "Temperature_C": np.full(t.size, tc)},
                                   threshold_time=spec["years"], is_constant_input=True,
                                   is_conserve_energy_throughput=False)
        out[f"{name}@{tc}"] = {"t_days": cell.stressors["t_days"].tolist(),
                               "q": cell.outputs["q"].tolist(),
                               "r": cell.outputs["r"].tolist() if "r" in cell.outputs else None}
print(json.dumps(out))
"""


PROTOCOLS = {
    "continuous C/12": ((0.0, 12.0, 24.0), (1.0, 0.0, 1.0)),
    "0.5C + 20 h rest": ((0.0, 1.0, 3.0, 4.0, 24.0), (0.5, 0.0, 1.0, 0.5, 0.5)),
}
ACCEPTANCE_PROTOCOL = "continuous C/12"
REST_PROTOCOL = "0.5C + 20 h rest"


def daily_profile(protocol: str = "0.5C + 20 h rest", step_s: float = 60.0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One day of a protocol (:data:`PROTOCOLS`): time [s] and SOC, linear between knots."""
    knots_t = np.array(PROTOCOLS[protocol][0]) * 3600.0
    knots_z = np.array(PROTOCOLS[protocol][1])
    t = np.arange(0.0, 86400.0 + step_s / 2, step_s)
    return t, np.interp(t, knots_t, knots_z)


def ensure_venv() -> Path:
    """The BLAST-Lite virtual environment's python (created on first use)."""
    py = VENV / "bin" / "python"
    if not py.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(py), "-c", "import blast"], capture_output=True, check=False)
    if probe.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", "blast-lite"], check=True)
    return py


def run_blast(time_s, soc) -> dict:
    py = ensure_venv()
    spec = {"time_s": time_s.tolist(), "soc": soc.tolist(), "years": YEARS,
            "temperatures_C": list(TEMPERATURES_C), "models": [p[1] for p in PAIRS]}
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([str(py), "-c", RUNNER], input=json.dumps(spec), text=True,
                          capture_output=True, env=env, timeout=1800, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"BLAST-Lite run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_ours(model_name: str, temperature_K: float, time_s, soc,
             crate_definition: str | None = None) -> dict:
    """Our model day by day (window stress every STEP_DAYS). ``crate_definition``
    replaces the coefficient set's (diagnostic: ``"own_charge"`` on a BLAST-Lite set)."""
    from cellmodels.life import AgeingModel, load_model

    model = load_model(model_name)
    if crate_definition is not None:
        d = model.to_dict()
        d["crate_definition"] = crate_definition
        model = AgeingModel.from_dict(d)
    state = model.initial_state()
    days, q, r = [0.0], [1.0], [1.0]
    n_steps = round(YEARS * 365 / STEP_DAYS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(n_steps):
            ws = model.window_stress(time_s, soc, temperature_K,
                                     capacity_fraction=model.capacity_fraction(state))
            state = model.advance(state, ws, STEP_DAYS)
            days.append(state.time_s / 86400)
            q.append(model.capacity_fraction(state))
            r.append(model.resistance_factor(state))
    # the compared (capacity) terms must be inside their validated range
    for w in caught:
        if "capacity" in str(w.message).split("':")[0]:
            raise AssertionError(f"outside BLAST-Lite's validated range: {w.message}")
    return {"t_days": days, "q": q, "r": r,
            "warnings": sorted({str(w.message).split(" Source:")[0] for w in caught})}


def _compare(protocol: str) -> tuple[list, list]:
    t, z = daily_profile(protocol)
    blast = run_blast(t, z)
    rows, curves = [], []
    end = YEARS * 365.0
    for chem, bname, oname in PAIRS:
        for tc in TEMPERATURES_C:
            b = blast[f"{bname}@{tc}"]
            o = run_ours(oname, tc + 273.15, t, z)
            tb, qb = np.asarray(b["t_days"]), np.asarray(b["q"])
            to, qo = np.asarray(o["t_days"]), np.asarray(o["q"])
            loss_b = 1 - float(np.interp(end, tb, qb))
            loss_o = 1 - float(np.interp(end, to, qo))
            row = {"protocol": protocol, "chemistry": chem, "blast_model": bname,
                   "our_model": oname, "temperature_C": tc,
                   "blast_loss_10y": round(loss_b, 5), "our_loss_10y": round(loss_o, 5),
                   "relative_difference": round((loss_o - loss_b) / loss_b, 4),
                   "blast_version": blast.get("blast_version")}
            if b["r"] is not None:
                row.update(blast_resistance_10y=round(float(np.interp(end, tb, b["r"])), 4),
                           our_resistance_10y=round(float(np.interp(end, to, o["r"])), 4))
            if o["warnings"]:
                row["our_warnings"] = "; ".join(o["warnings"])
            rows.append(row)
            curves.append((f"{chem} {tc:g} degC, {protocol}", tb, qb, to, qo))
            row["crate_definition"] = "window_mean"
            if chem == "LFP" and protocol == REST_PROTOCOL:
                od = run_ours(oname, tc + 273.15, t, z, crate_definition="own_charge")
                loss_d = 1 - float(np.interp(end, np.asarray(od["t_days"]),
                                             np.asarray(od["q"])))
                rows.append({**row, "our_model": f"{oname} (diagnostic)",
                             "crate_definition": "own_charge",
                             "our_loss_10y": round(loss_d, 5),
                             "relative_difference": round((loss_d - loss_b) / loss_b, 4)})
    return rows, curves


def _run(folder: Path) -> CaseResult:
    rows, curves = [], []
    for protocol in PROTOCOLS:
        r, c = _compare(protocol)
        rows += r
        curves += c
    scored = [r for r in rows if "diagnostic" not in r["our_model"]]
    diag = [r for r in rows if "diagnostic" in r["our_model"]]
    ok = len(scored) == 2 * len(PAIRS) * len(TEMPERATURES_C) and \
        all(abs(r["relative_difference"]) <= TOLERANCE for r in scored)

    def worst(protocol):
        return max((r for r in scored if r["protocol"] == protocol),
                   key=lambda r: abs(r["relative_difference"]))

    def say(r):
        return (f"{r['relative_difference']:+.1%} ({r['chemistry']} "
                f"{r['temperature_C']:g} degC)")

    worst_d = max(diag, key=lambda r: abs(r["relative_difference"]))
    fig = Path(folder) / "life_vs_blast.png"
    _plot(curves, fig)
    return CaseResult(
        name="life_vs_blast_lite",
        data_source=f"NREL BLAST-Lite {rows[0]['blast_version']} (pip blast-lite): "
                    "Lfp_Gr_250AhPrismatic, Nmc111_Gr_Kokam75Ah_Battery",
        metric="relative difference of the 10-year capacity loss, ours vs BLAST-Lite, one "
               "full-depth cycle a day at <= 1C, 25 and 35 degC",
        target=f"within +-{TOLERANCE:.0%} (each of 8: 2 models x 2 temperatures x "
               "2 protocols)",
        result=f"worst: continuous C/12 {say(worst(ACCEPTANCE_PROTOCOL))}; "
               f"0.5C + 20 h rest {say(worst(REST_PROTOCOL))} (diagnostic with the "
               f"own-charge C-rate: {say(worst_d)})",
        passed=bool(ok),
        rows=rows,
        figure=f"figures/{fig.name}",
        notes="The compared capacity terms are inside BLAST-Lite's validated range (no "
              "LifeValidityWarning from them; the LFP resistance term, Naumann's, is fitted "
              "at 0.2-1C and warns at C/12: listed in the rows, not compared). "
              "With rests in the day, BLAST-Lite's C-rate stressor is |dSOC/dt| averaged "
              "over the whole day (0.5C x 4 h / 24 h = 0.083C); a cycle's own-charge rate "
              "is 0.5C. Both coefficient sets declare crate_definition 'window_mean' "
              "(BLAST-Lite's, blast/models/degradation_model.py _extract_stressors), so "
              "they are used with the stressor they were fitted with. The diagnostic rows "
              "run the LFP set with the own-charge definition (the package default, and "
              "this case's behaviour before the field existed): the LFP rate term "
              "(p6 Crate) dominates its cycle fade, so that overestimates the loss. Our coefficient sets carry BLAST-Lite's published coefficients "
              "(sources in cellmodels/life/coefficients); what is compared is the "
              "machinery (rainflow, per-sample calendar integration, per-cycle stresses).",
    )


def _plot(curves, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 5.5))
    for k, (label, tb, qb, to, qo) in enumerate(curves):
        ax.plot(tb / 365, qb * 100, color=f"C{k}", lw=2.5, alpha=0.45,
                label=f"BLAST-Lite {label}")
        ax.plot(to / 365, qo * 100, color=f"C{k}", ls="--", lw=1.2,
                label=f"cellmodels {label}")
    ax.set_xlabel("years")
    ax.set_ylabel("capacity [% of initial]")
    ax.set_title("One full-depth cycle a day: cellmodels.life (dashed) vs BLAST-Lite")
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


CASES = [Case("life_vs_blast_lite", _run, fast=False)]
