"""Validation case ``fit_lgm50_measured``: fit on 25 degC data, predict held-out rates and temperatures.

Measured: the WMG LG M50 files (``SOURCES.md``): rate tests
(``LGM50_5Ah_RateTest.mat``, mid-cell thermocouple) read by
:func:`cellmodels.fitting.rate_test` (rest sample + discharge to 2.5 V; discharge
positive), and 10 s 7.5 A pulses (``LGM50_5Ah_Pulse.mat``, :mod:`cellmodels.measured.wmg`,
the current channel's one-sample lag removed by :func:`cellmodels.fitting.pulse_for_fit`).

Model (:data:`MODEL_OPTIONS`): DFN + lumped thermal with the quasi-steady heat of mixing
(:mod:`cellmodels.physics.models`): the set's OCPs are linear interpolants, so PyBaMM's
heat of mixing cannot be formed, and without a stand-in the particle-diffusion part of the
loss (35 % of it at 1C, 38 % at 2C) never becomes heat; the fit then made up for it with a
larger heat transfer coefficient.

Fit (:func:`fit_lgm50`): the package's ``lgm50`` set, fitted with
:func:`cellmodels.fitting.fit_physics` to the 25 degC 0.5C and 1C discharges (voltage and
mid-cell temperature) and the 25 degC pulses of cell 1 at SoC 3, 5, 7, 9 only. Each run
starts from the measured rest voltage of its first sample (SOURCES.md care point) at the
first measured temperature. Fitted: :data:`PARAMETERS`.

Prediction: the fitted set on the held-out 2C discharge at 25 degC and the 1C discharges
at 10 and 45 degC, reporting voltage RMSE over the whole discharge and over its first
90 % of charge, the capacity where the model reaches the measured end voltage (2.5 V),
and the mid-cell temperature error (RMSE and largest).

Verdict: voltage RMSE <= 30 mV on each held-out discharge and temperature error <= 1.5 K
(RMSE over the discharge; the largest error is reported beside it). Stock PyBaMM
(SOURCES.md): ORegan2022 42 mV at 1C and it cannot finish 2C; Chen2020 90 mV.

The fitted set is written to ``parameter_sets/lgm50_fitted.json`` with its provenance.

Why the held-out temperatures at 2C and 45 degC are out of reach (:func:`measured_heat_check`,
reported in the notes): a lumped thermal model driven not by the DFN but by the *measured*
loss ``I (U_ocv - V)`` plus the set's reversible heat, with its heat capacity and
``hA`` fitted to the 25 degC 0.5C and 1C records and their cooling rests (fit RMSE 0.15-0.23
K; cooling time constant 487 s, as the rests show, 480-530 s), predicts 10 degC 1C to 0.45 K
but the 25 degC 2C to 7.6 K and 45 degC 1C to 3.2 K: the 2C cell heats to 57.5 degC, which
with the measured loss needs ``hA`` ~0.12 W/K against the 0.21 W/K that the 0.5C/1C rises
and cooling curves give (the 2C cooling curve also has a slow component, 5 K at ~2300 s,
that the 1C one barely shows). An extra ``I^2 R`` heat (heat of the connections outside the
voltage sense) fitted to 0.5C/1C comes out at 0 +- 0.1 mOhm. The same check per record (heat
capacity held at the fitted one, hA fitted to each 0.5-2C discharge of the file, a
diagnosis that sets nothing; measured 2026-11-27): 0.19 / 0.21 / 0.11 W/K at 0.5C / 1C /
2C at 25 degC, 0.18 / 0.20 / 0.11 at 10 degC, 0.19 / 0.21 / 0.11 at 0 degC, and 0.15 /
0.12 / 0.25 at 0.5C / 1C / 1.5C at 45 degC: the rig's cooling of one cell differs between
records by a factor of 2.4 with no trend a 25 degC 0.5C/1C calibration could carry (a
heat transfer coefficient linear in the cell temperature, fitted to the two fit records,
comes out flat: -0.0021 +- 0.0004 per K, 2C still 7.4 K; a second thermal node for the
holder or chamber air degenerates to none, 2C 7.7 K). So no model whose heat equals its
electrical loss, calibrated on the fit records alone, meets 1.5 K on those two records.
Not even with each held-out record's *own* cooling (rows "held out, own cooling", measured
2026-11-27: hA from the record's rest after its discharge, same heat capacity and measured
heat): 2C 0.156 W/K -> 4.23 K RMSE (its cooling is not one exponential: fit 0.47 K), 45 degC
0.139 W/K -> 1.14 K, 10 degC 0.212 W/K -> 0.41 K. The 2C record's temperature is beyond a
lumped model of its measured heat whatever its cooling constant;
the DFN, running cold at 2C, then reaches its diffusion-limited cut-off early (4.55 of
4.86 Ah), which is most of the 2C voltage RMSE (first 90 % of the charge: ~40 mV).

Voltage error without the thermal error (diagnostic rows "prediction (fitted set, measured
temperature imposed)", not in the verdict): the same fitted values run with each held-out
record's measured mid-cell temperature as the cell temperature (``thermal="measured"`` of
:mod:`cellmodels.fitting.physics`: isothermal DFN, the temperature a piecewise-linear
function of time through the thermocouple samples). Measured 2026-11-27 with the saved
set: 2C 92.6 mV (first 90 % 66.4), 4.64 of 4.86 Ah to 2.5 V; 10 degC 27.1 mV (26.5), still
above 2.5 V where the cell reaches it; 45 degC 124.1 mV (39.9), 4.83 of 4.91 Ah; against
96.1 (40.0) / 26.4 (25.3) / 135.2 (32.6) mV with the lumped model's own temperature. So
the right temperature does not bring the voltage within 30 mV: the 2C run still ends
early (4.55 -> 4.64 Ah) and the first 90 % gets worse, because in mid-discharge, where
the lumped model ran 6-11 K (2C) and 3-5 K (45 degC) cold, the model at the measured
temperature is 68-102 mV (2C, 2-4 Ah) and 47-63 mV (45 degC, 2-3 Ah) above the record:
the cold model's extra overpotential had hidden a shortfall of polarisation at high
temperature (activation energies, or the electrode balance, set on 25 degC records).
The voltage misses are the electrochemistry's, not only the thermal model's. Fitting the
five electrochemical values themselves with the measured temperature imposed (same
records, no thermal values; measured, not adopted) confirms it: fit 0.5C 47.4 mV, 1C 32.4
mV, pulses 2.1-5.3 mV, held out (measured temperature) 2C 96.9 mV (first 90 % 75.2), 10
degC 27.0 mV (25.9), 45 degC 116.8 mV (39.0), negative diffusivity 9.4e-15 m2/s, reaction
rate 1.9e-6, electrolyte conductivity x0.54 (1037 s at load 4-6). Much of the
mid-discharge excess is the open-circuit voltage, not the polarisation: the saved set
with the measured temperature on the 0.1C records (looked at for this diagnosis only) is
already +30 to +35 mV above the record at 2-4 Ah at 25 degC and +40 to +46 mV at 45 degC
(+11 to +21 mV at 10 degC), against +47 to +63 mV on the 45 degC 1C record: the set's
electrode balance (5.15 Ah between the cut-offs, above) and its OCPs' temperature
dependence, which the 25 degC records cannot set. Fitting both active-material fractions
too, with the measured temperature (not adopted; 30 evaluations, not converged, 4374 s,
load 5 then 1): fit 0.5C 12.6 mV, 1C 8.9 mV, pulses 1.1-6.4 mV; held out (measured
temperature) 2C 69.5 mV (first 90 % 35.3), 10 degC 46.3 mV (14.8), 45 degC 137.5 mV
(20.5), 4.72 / >= 4.52 / 4.79 Ah against 4.86 / 4.52 / 4.91: the first 90 % comes close
to the target, the end of discharge does not (the cell's capacity at 1C moves with
temperature far more than the model's).

Electrode balance (measured 2026-11-27, not adopted): the fit above leaves the set's
balance alone, and that balance holds 5.15 Ah between the 4.2 and 2.5 V cut-offs; the
cell gives 4.94 Ah at 0.1C from its rest at ~4.18 V, where the fitted set is still above
2.5 V (the 0.1C record and the held-out traces were looked at for this diagnosis only; no
fitted value comes from them).
Adding each electrode's active-material fraction to :func:`parameters` (BPX "Surface
area per unit volume", :mod:`cellmodels.fitting.physics` "Electrode balance"; the initial
state at each rest voltage follows the trial balance, exact sensitivities) fits the
records far better: 0.5C 45.0 -> 12.7 mV, 1C 31.0 -> 9.4 mV, pulses 2.7-5.9 -> 1.0-6.4
mV; negative fraction x0.963, positive x0.901, the negative diffusivity 4.9e-14 m2/s
(the set's 3.3e-14; it was 9.1e-15 standing in for the balance), contact resistance 17
mOhm (it was on its 0.1 mOhm bound). But the held-out discharges do not improve as a
whole: 2C 85.4 mV (first 90 % 53.1) / 4.73 K, 10 degC 37.4 mV (8.7) / 0.60 K, 45 degC
137.7 mV (20.9) / 2.95 K (fit 460 s at load 2.4-2.8; the baseline's 517 s was at ~7). The first 90 % of the 1C records
and the 2C temperature improve; the end of discharge does not: the records' capacity
rises 4.52 -> 4.78 -> 4.91 Ah from 10 to 25 to 45 degC at 1C, the fitted model's
barely moves (at 10 degC it is still above 2.5 V where the cell reaches it, and the
last 10 % of the charge carries the error; 4.79 Ah at 45 degC), so whatever limits the
cell's capacity at 1C has a much stronger temperature dependence than anything the 25
degC records can set (raising the negative diffusivity's activation energy from 17.4 to
40 kJ/mol moves 45 degC only to 134 mV). That fit held each run's initial concentrations
at the set's balance (a first version); with the state following the balance, as
committed, the same values predict 83.7 / 39.0 / 139.3 mV. With the
negative diffusivity held at the set's value: 91.9 / 36.6 / 143.1 mV, 4.67 / 0.62 / 2.86
K (562 s, load 2.2-2.7). Also fitting the 100 % SOC negative stoichiometry (the
cyclable lithium): it goes to its 0.99 bound, 84.7 / 40.6 / 136.8 mV, 4.65 / 0.65 / 2.89
K, and the fit takes 992 s (load 2-3), over the 600 s budget. Adding the electrolyte
diffusivity (factor) to the balance fit, for the 2C polarisation: 2C 72.7 mV (first 90 %
32.1) / 5.62 K, 10 degC 38.7 mV / 0.64 K, 45 degC 138.7 mV / 3.04 K, but the factor is not
determined (8.7, 95 % interval 0.8-98) and the fit did not converge in 30 evaluations
(1843 s at load 4-5).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from cellmodels.validate import Case, CaseResult

NAME = "fit_lgm50_measured"
RMSE_TARGET_V = 0.030
TEMPERATURE_TARGET_K = 1.5
FIT_SOCS = (3, 5, 7, 9)
HELD_OUT = ((25, "2C"), (10, "1C"), (45, "1C"))
#: A 1 K temperature error counts as much as this voltage error in the fit.
TEMPERATURE_WEIGHT_V_PER_K = 0.02
#: Rest kept after each fitted discharge in :func:`measured_heat_check` [s]: its cooling
#: curve (time constant m c / (h A) ~ 480-530 s on these records) separates the heat
#: capacity from the heat transfer coefficient. (Kept out of the DFN fit: with it the
#: fit took 607 s at load 2.5-3 against the 600 s budget, its voltage residual is dominated
#: by the end-of-discharge OCV error during the relaxation, and the held-out figures moved
#: 2C 7.4 -> 6.7 K, 45 degC 3.0 -> 2.8 K, 10 degC 26.4 -> 30.0 mV: no target met.)
REST_AFTER_S = 2400.0
#: Weight of each pulse record (a 20 s record against discharges of 1-2 h).
PULSE_WEIGHT = 0.5
#: The model of the fit and the predictions (bench_fit.py uses the same).
MODEL_OPTIONS = {"model": "DFN", "thermal": "lumped", "heat_of_mixing": "quasi-steady"}
OUT_SET = Path(__file__).resolve().parents[1] / "parameter_sets" / "lgm50_fitted.json"
TARGET = (f"held-out 2C at 25 degC, 1C at 10 and 45 degC: voltage RMSE <= "
          f"{1e3 * RMSE_TARGET_V:g} mV each and mid-cell temperature RMSE <= "
          f"{TEMPERATURE_TARGET_K:g} K")


def parameters():
    """What is fitted, with bounds (SI)."""
    from cellmodels.fitting import FitParameter

    return [
        FitParameter("State/Heat transfer coefficient [W.m-2.K-1]", bounds=(1.0, 100.0)),
        FitParameter("User-defined/Contact resistance [Ohm]", bounds=(1e-4, 0.03)),
        FitParameter("Negative electrode/Diffusivity [m2.s-1]", bounds=(3.3e-16, 3.3e-12)),
        FitParameter("Positive electrode/Diffusivity [m2.s-1]", bounds=(4e-17, 4e-13)),
        FitParameter("Negative electrode/Reaction rate constant [mol.m-2.s-1]",
                     bounds=(7e-8, 7e-4)),
        FitParameter("Electrolyte/Conductivity [S.m-1] (factor)", bounds=(0.1, 10.0)),
        FitParameter("Cell/Specific heat capacity [J.K-1.kg-1]", bounds=(600.0, 1100.0)),
    ]


def fit_experiments():
    from cellmodels.fitting import Experiment, dataset_from_spec, rate_test

    exps = [Experiment(rate_test(25, rate), temperature=True,
                       temperature_weight_V_per_K=TEMPERATURE_WEIGHT_V_PER_K)
            for rate in ("0p5C", "1C")]
    exps += [Experiment(dataset_from_spec(f"wmg-pulse:T25:SoC{k}:Cell1")[0], weight=PULSE_WEIGHT)
             for k in FIT_SOCS]
    return exps


def held_out_experiments(measured_temperature: bool = False):
    """The held-out discharges; with ``measured_temperature`` for ``thermal="measured"``
    (the measured trace is the model's input, so it is not compared)."""
    from cellmodels.fitting import Experiment, rate_test

    return [Experiment(rate_test(t, r), temperature=not measured_temperature)
            for t, r in HELD_OUT]


#: The diagnostic model: the fitted set with each record's measured temperature imposed
#: (no heat equation, so no heat of mixing; :mod:`cellmodels.fitting.physics`,
#: "Prescribed temperature").
MEASURED_T_OPTIONS = {"model": "DFN", "thermal": "measured", "heat_of_mixing": False}
MEASURED_T_ROLE = "prediction (fitted set, measured temperature imposed)"


def fit_lgm50(progress: bool = False, max_nfev: int = 30):
    """The fit of this case; returns the FitResult."""
    from cellmodels.fitting import fit_physics

    return fit_physics("lgm50", fit_experiments(), parameters(), max_nfev=max_nfev,
                       progress=progress, **MODEL_OPTIONS)


#: O'Regan et al. 2022's GITT diffusivities of this cell's electrodes, as transcribed in
#: PyBaMM 26.10 (ORegan2022.py: nmc_LGM50_diffusivity_ORegan2022,
#: graphite_LGM50_diffusivity_ORegan2022) without their Arrhenius factor: BPX expressions
#: of the stoichiometry x, the reference value at 25 degC (each with its "correcting
#: factor", 2.7 and 3.0321). PyBaMM's Arrhenius temperatures (1449 and 2092 K) are the
#: lgm50 set's activation energies already (12050 and 17390 J/mol), so with_values keeps
#: O'Regan's temperature dependence too. The transcription is
#: checked against PyBaMM's functions in :func:`oregan_shape_cell`.
OREGAN_DIFFUSIVITY = {
    "Positive electrode/Diffusivity [m2.s-1]": (
        "2.7 * 10 ** (-13.96 - 0.9231 * exp(-(x - 0.3216) ** 2 / 0.002534)"
        " - 0.4066 * exp(-(x - 0.4532) ** 2 / 0.003926)"
        " - 0.993 * exp(-(x - 0.8098) ** 2 / 0.09924))"),
    "Negative electrode/Diffusivity [m2.s-1]": (
        "3.0321 * 10 ** (11.17 * x - 15.11 - 1.553 * exp(-(x - 0.2031) ** 2 / 0.0006091)"
        " - 6.136 * exp(-(x - 0.5375) ** 2 / 0.06438)"
        " - 9.725 * exp(-(x - 0.9144) ** 2 / 0.0578)"
        " + 1.85 * exp(-(x - 0.5953) ** 2 / 0.001356))"),
}
#: Variants of the fit measured against this case (docs/fitting.md, "Stoichiometry-
#: dependent diffusivities"; not adopted): which diffusivities take O'Regan's shape, each
#: then fitted as a log-scaled multiplier in [0.01, 100] in place of the constant.
SHAPE_VARIANTS = {
    "oregan_positive": ("Positive electrode/Diffusivity [m2.s-1]",),
    "oregan_both": ("Positive electrode/Diffusivity [m2.s-1]",
                    "Negative electrode/Diffusivity [m2.s-1]"),
}


def oregan_shape_cell(variant: str):
    """The lgm50 set with O'Regan's D(sto) for the diffusivities of ``variant``."""
    import pybamm
    from pybamm.input.parameters.lithium_ion import ORegan2022

    from cellmodels.expressions import compile_expression
    from cellmodels.fitting import with_values

    keys = SHAPE_VARIANTS[variant]
    functions = {"Positive electrode/Diffusivity [m2.s-1]":
                 ORegan2022.nmc_LGM50_diffusivity_ORegan2022,
                 "Negative electrode/Diffusivity [m2.s-1]":
                 ORegan2022.graphite_LGM50_diffusivity_ORegan2022}
    pv = pybamm.ParameterValues("ORegan2022")
    for k in keys:  # the transcription against PyBaMM's function at 25 degC
        f = compile_expression(OREGAN_DIFFUSIVITY[k], k)
        for sto in np.linspace(0.02, 0.98, 25):
            ref = float(pv.evaluate(functions[k](pybamm.Scalar(sto), pybamm.Scalar(298.15))))
            assert abs(f(sto) / ref - 1.0) < 1e-12, (k, sto)
    return with_values(
        "lgm50", {k: OREGAN_DIFFUSIVITY[k] for k in keys}, name=f"lgm50_{variant}",
        source="ORegan2022, GITT diffusivity as a function of stoichiometry at 25 degC "
               "(PyBaMM ORegan2022.py, without its Arrhenius factor, which is the set's)")


def variant_parameters(variant: str):
    """:func:`parameters` with the shaped diffusivities fitted as multipliers."""
    from cellmodels.fitting import FitParameter

    keys = SHAPE_VARIANTS[variant]
    return [FitParameter(p.name + " (factor)", bounds=(0.01, 100.0)) if p.name in keys else p
            for p in parameters()]


#: The eighth value of the activation-energy variant (docs/fitting.md, "The graphite
#: diffusivity's activation energy from the 25 degC records"; not adopted).
ACTIVATION_ENERGY = "Negative electrode/Diffusivity activation energy [J.mol-1]"


def activation_energy_parameters():
    """:func:`parameters` plus the graphite diffusivity's activation energy (0-100 kJ/mol,
    from the set's 17.4)."""
    from cellmodels.fitting import FitParameter

    return parameters() + [FitParameter(ACTIVATION_ENERGY, bounds=(0.0, 100000.0))]


#: The pulse records of :func:`pulse_activation_fit` at the other temperatures, the case's
#: SOCs: at each, the first of these cells whose record starts on a rest sample (the initial
#: state comes from the rest voltage; Cell13's SoC9 record at 10 degC starts loaded). Not
#: 45 degC: those records start at 318.55 K, past the set's validity (318.15 K), which the
#: fit refuses; 45 degC is then an extrapolation of the 10-25 degC activation energies.
PULSE_ACTIVATION_CELLS = {10: ("Cell13", "Cell16")}
#: The activation energies :func:`pulse_activation_fit` and :func:`all_temperatures_fit`
#: fit (0-100 kJ/mol, from the set's values).
ACTIVATION_KEYS = ("Negative electrode/Diffusivity", "Negative electrode/Reaction rate constant",
                   "Electrolyte/Conductivity")


def all_temperatures_fit(progress: bool = False, max_nfev: int = 30):
    """Diagnosis outside the issue's split (docs/fitting.md, "With every temperature in the
    fit"): can the model carry 10, 25 and 45 degC at once? The 25 degC 0.5C and 1C, 10 and
    45 degC 1C discharges and the case's pulses, each with its measured temperature imposed
    (electrochemistry only), the case's five electrochemical values plus three activation
    energies; returns the FitResult."""
    from cellmodels.fitting import (
        Experiment,
        FitParameter,
        dataset_from_spec,
        fit_physics,
        rate_test,
    )

    exps = [Experiment(rate_test(t, r)) for t, r in ((25, "0p5C"), (25, "1C"), (10, "1C"),
                                                     (45, "1C"))]
    exps += [Experiment(dataset_from_spec(f"wmg-pulse:T25:SoC{k}:Cell1")[0],
                        weight=PULSE_WEIGHT) for k in FIT_SOCS]
    params = [p for p in parameters() if "Heat transfer" not in p.name
              and "Specific heat" not in p.name]
    params += [FitParameter(f"{k} activation energy [J.mol-1]", bounds=(0.0, 100000.0))
               for k in ACTIVATION_KEYS]
    return fit_physics("lgm50", exps, params, max_nfev=max_nfev, progress=progress,
                       **MEASURED_T_OPTIONS)


def pulse_activation_fit(progress: bool = False, max_nfev: int = 30):
    """Diagnosis outside the issue's split, the route proposed for it (docs/fitting.md): the
    case's fit records plus the WMG 10 s pulses at 10 degC (same SOCs, one cell per
    temperature and SOC, :data:`PULSE_ACTIVATION_CELLS`), the case's seven values plus three
    activation energies (:data:`ACTIVATION_KEYS`); every discharge but the 25 degC 0.5C and
    1C stays held out. Returns the FitResult."""
    from cellmodels.fitting import Experiment, FitParameter, dataset_from_spec, fit_physics

    exps = fit_experiments()
    for t, cells in PULSE_ACTIVATION_CELLS.items():
        for k in FIT_SOCS:
            records = [dataset_from_spec(f"wmg-pulse:T{t}:SoC{k}:{c}")[0] for c in cells]
            at_rest = [d for d in records if abs(d.current_A[0]) < 0.3]
            exps.append(Experiment(at_rest[0], weight=PULSE_WEIGHT))
    params = parameters() + [FitParameter(f"{k} activation energy [J.mol-1]",
                                          bounds=(0.0, 100000.0)) for k in ACTIVATION_KEYS]
    return fit_physics("lgm50", exps, params, max_nfev=max_nfev, progress=progress,
                       **MODEL_OPTIONS)


def fit_variant(variant: str, progress: bool = False, max_nfev: int = 30):
    """The fit of this case with a :data:`SHAPE_VARIANTS` cell; returns (cell, FitResult)."""
    from cellmodels.fitting import fit_physics

    cell = oregan_shape_cell(variant)
    return cell, fit_physics(cell, fit_experiments(), variant_parameters(variant),
                             max_nfev=max_nfev, progress=progress, **MODEL_OPTIONS)


#: Records whose effective heat transfer coefficient :func:`measured_heat_check` reports
#: (every 0.5-2C discharge of ``LGM50_5Ah_RateTest.mat``; 45 degC has 1.5C, not 2C).
EFFECTIVE_HA_RECORDS = tuple((t, r) for t in (0, 10, 25) for r in ("0p5C", "1C", "2C")) + (
    (45, "0p5C"), (45, "1C"), (45, "1p5C"))


#: Role of :func:`measured_heat_check`'s rows that judge a held-out record with its own
#: cooling (diagnosis; no value of the fit or the verdict comes from them).
OWN_COOLING_ROLE = "held out, own cooling (diagnosis)"
#: Start of the cooling fit after the last loaded sample [s]: the first minute of the rest
#: is the core-to-surface equalisation of the discharge (the mid-cell thermocouple reads the
#: can), not the cell's exchange with the chamber.
OWN_COOLING_SKIP_S = 60.0


def measured_heat_check() -> list[dict]:
    """Thermal-only check with no electrochemical model: can a lumped thermal model driven by
    the *measured* heat predict the held-out temperatures at all?

    Heat: the measured electrical loss ``I (U_ocv(q) - V)`` (``U_ocv``: the WMG OCV table at
    25 degC, ``LGM50_5Ah_OCV.mat`` mean OCV against the 0.1C capacity 4.95 Ah; ``V``
    measured) plus the reversible heat of the lgm50 set's entropic tables (from a C/10 run
    of the set, per ampere and kelvin, against discharged charge). Thermal model:
    ``C dT/dt = Q - hA (T - T_amb)``, ``T_amb`` the first sample; ``C`` and ``hA`` fitted
    (least squares, 1 s steps) to the fit records only: the 25 degC 0.5C and 1C discharges
    and their cooling rests (REST_AFTER_S). Then the same C, hA on every held-out record.
    """
    import scipy.io
    from scipy.optimize import least_squares

    from cellmodels import data
    from cellmodels.fitting import rate_test
    from cellmodels.physics import load_cell, simulate

    ocv = scipy.io.loadmat(str(data.path("lgm50_wmg_widanage/LGM50_5Ah_OCV.mat")),
                           simplify_cells=True)["LGM50_5Ah_OCV"]["T25"]
    soc_tab, ocv_tab = np.asarray(ocv["refSoC"], float) / 100.0, np.asarray(ocv["meanOCV"])
    cap = 4.95  # Ah, 25 degC 0.1C discharge of RateTest.mat
    slow = simulate(load_cell("lgm50"), initial_soc=1.0, temperature_K=298.15, current_A=0.5,
                    duration_s=40000.0, stop_at_cutoff=True)
    q_slow = np.concatenate([[0.0], np.cumsum(np.diff(slow.time_s) * 0.5)]) / 3600.0
    coef = slow.heat_W["reversible_W"] / (0.5 * slow.temperature_K)

    def record(t_c, rate, rest):
        d = rate_test(t_c, rate, rest_after_s=rest)
        q = np.concatenate([[0.0], np.cumsum(d.current_A[1:] * np.diff(d.time_s))]) / 3600.0
        u = np.interp(1.0 - q / cap, soc_tab, ocv_tab)
        loaded = d.current_A > 0.3
        heat = np.where(loaded, d.current_A * (u - d.voltage_V), 0.0)
        return d, heat, np.where(loaded, d.current_A, 0.0) * np.interp(q, q_slow, coef)

    def temperature(rec, c_jk, ha):
        d, heat, rev = rec
        tt = np.arange(0.0, d.time_s[-1] + 1.0, 1.0)
        qi, ri = np.interp(tt, d.time_s, heat), np.interp(tt, d.time_s, rev)
        t_amb = float(d.temperature_K[0])
        out = np.empty(tt.size)
        temp = t_amb
        for k in range(tt.size):
            out[k] = temp
            temp += (qi[k] + ri[k] * temp - ha * (temp - t_amb)) / c_jk
        return np.interp(d.time_s, tt, out)

    fit = [record(25, r, REST_AFTER_S) for r in ("0p5C", "1C")]
    sol = least_squares(lambda p: np.concatenate([temperature(r, *p) - r[0].temperature_K
                                                  for r in fit]),
                        [80.0, 0.2], bounds=([10.0, 0.01], [500.0, 2.0]))
    c_jk, ha = (float(v) for v in sol.x)
    rows = []
    for role, recs in (("fit", fit), ("held out", [record(t, r, 0.0) for t, r in HELD_OUT])):
        for rec in recs:
            err = temperature(rec, c_jk, ha) - rec[0].temperature_K
            rows.append({"experiment": rec[0].name, "role": role, "C_J_per_K": round(c_jk, 1),
                         "hA_W_per_K": round(ha, 4), "T_rmse_K": round(float(np.sqrt(np.mean(
                             err**2))), 2), "T_max_K": round(float(np.max(np.abs(err))), 2)})
    # Diagnosis only (no fitted value comes from it): the hA each record would need, the
    # heat capacity held at the fitted one, on every 0.5-2C discharge of the file.
    for t_c, rate in EFFECTIVE_HA_RECORDS:
        rec = record(t_c, rate, 0.0)
        one = least_squares(lambda p, rec=rec: temperature(rec, c_jk, p[0])
                            - rec[0].temperature_K, [ha], bounds=([0.01], [2.0]))
        rows.append({"experiment": rec[0].name, "role": "effective hA (diagnosis)",
                     "C_J_per_K": round(c_jk, 1), "hA_W_per_K": round(float(one.x[0]), 3),
                     "T_rmse_K": round(float(np.sqrt(np.mean(one.fun**2))), 2),
                     "T_max_K": round(float(np.max(np.abs(one.fun))), 2),
                     "T_peak_C": round(float(rec[0].temperature_K.max()) - 273.15, 1)})
    # Diagnosis only (sets nothing): each held-out record judged with its *own* cooling.
    # hA from the record's rest after its discharge (the heat capacity held at the fitted
    # one; an exponential towards the record's first sample, its amplitude free, from
    # OWN_COOLING_SKIP_S after the last loaded sample), then the discharge's temperature
    # with that hA: what a lumped model driven by the measured heat could do if the rig's
    # cooling of that record were known beforehand.
    for t_c, rate in HELD_OUT:
        d = record(t_c, rate, REST_AFTER_S)[0]
        t_end = d.time_s[np.flatnonzero(d.current_A > 0.3)[-1]]
        rest = d.time_s >= t_end + OWN_COOLING_SKIP_S
        tr = d.time_s[rest] - d.time_s[rest][0]
        t_amb = float(d.temperature_K[0])
        cool = least_squares(
            lambda p, tr=tr, t_amb=t_amb, d=d, rest=rest:
                t_amb + p[1] * np.exp(-p[0] * tr / c_jk) - d.temperature_K[rest],
            [ha, float(d.temperature_K[rest][0]) - t_amb], bounds=([0.01, 0.0], [2.0, 100.0]))
        ha_own = float(cool.x[0])
        rec = record(t_c, rate, 0.0)
        err = temperature(rec, c_jk, ha_own) - rec[0].temperature_K
        rows.append({"experiment": rec[0].name, "role": OWN_COOLING_ROLE,
                     "C_J_per_K": round(c_jk, 1), "hA_W_per_K": round(ha_own, 3),
                     "T_rmse_K": round(float(np.sqrt(np.mean(err**2))), 2),
                     "T_max_K": round(float(np.max(np.abs(err))), 2),
                     "cooling_fit_rmse_K": round(float(np.sqrt(np.mean(cool.fun**2))), 3)})
    return rows


def _row(e, tag: str) -> dict:
    s = e.summary()
    imposed = tag == MEASURED_T_ROLE  # the model's temperature is the measured one
    return {
        "experiment": e.name,
        "role": tag,
        "rmse_mV": round(s["rmse_mV"], 1),
        "rmse_first90_mV": round(s["rmse_first90_mV"], 1),
        "max_mV": round(s["max_abs_mV"], 1),
        "capacity_measured_Ah": round(s["capacity_measured_Ah"], 3),
        "capacity_model_Ah": (f"{s['capacity_model_Ah']:.3f}"
                              + (" (>=, model above cut-off)" if s["capacity_model_is_lower_bound"]
                                 else "")),
        "T_rmse_K": "imposed" if imposed else round(s["temperature_rmse_K"], 2),
        "T_max_K": "imposed" if imposed else round(s["temperature_max_abs_K"], 2),
    }


def run(fig_dir: Path) -> CaseResult:
    from cellmodels.fitting import plot_experiments, predict, save_fitted

    t0 = time.perf_counter()
    baseline = predict("lgm50", held_out_experiments(), **MODEL_OPTIONS)
    res = fit_lgm50()
    pred = predict("lgm50", held_out_experiments(), values=res.values, **MODEL_OPTIONS)
    # Diagnostic, not in the verdict: the same fitted values with each held-out record's
    # measured temperature imposed (what is left is the electrochemistry's error).
    pred_t = predict("lgm50", held_out_experiments(measured_temperature=True),
                     values=res.values, **MEASURED_T_OPTIONS)
    rows = [_row(e, "fit") for e in res.experiments]
    rows += [_row(e, "prediction (fitted set)") for e in pred]
    rows += [_row(e, MEASURED_T_ROLE) for e in pred_t]
    rows += [_row(e, "prediction (lgm50 set, before the fit)") for e in baseline]
    png_fit = fig_dir / "fit_lgm50.png"
    png_pred = fig_dir / "fit_lgm50_predictions.png"
    res.plot(png_fit, title="LG M50: fit to 25 degC 0.5C, 1C (voltage, temperature) and pulses")
    plot_experiments(pred, png_pred, temperature=True,
                     title="LG M50: fitted set on held-out discharges (2C 25 degC, 1C 10 and "
                           "45 degC)")
    saved = None
    if res.success:
        saved = save_fitted(res, "lgm50", OUT_SET, name="lgm50_fitted")
    check = measured_heat_check()
    effective = [r for r in check if r["role"] == "effective hA (diagnosis)"]
    own = [r for r in check if r["role"] == OWN_COOLING_ROLE]
    check = [r for r in check if r["role"] not in ("effective hA (diagnosis)",
                                                   OWN_COOLING_ROLE)]
    own_text = "; ".join(f"{r['experiment']} hA {r['hA_W_per_K']:.3f} W/K (cooling fit "
                         f"{r['cooling_fit_rmse_K']:.2f} K) -> {r['T_rmse_K']:.2f} K (max "
                         f"{r['T_max_K']:.2f})" for r in own)
    own_over = [r["experiment"] for r in own if r["T_rmse_K"] > TEMPERATURE_TARGET_K]
    check_text = "; ".join(f"{r['experiment']} ({r['role']}) {r['T_rmse_K']:.2f} K (max "
                           f"{r['T_max_K']:.2f})" for r in check)
    ha_lo = min(r["hA_W_per_K"] for r in effective)
    ha_hi = max(r["hA_W_per_K"] for r in effective)
    effective_text = ", ".join(f"{r['experiment'].removeprefix('LG M50 ')} {r['hA_W_per_K']:.3f}"
                               f" (peak {r['T_peak_C']:.0f} degC)" for r in effective)
    ok_v = all(e.rmse_V <= RMSE_TARGET_V for e in pred)
    ok_t = all(e.temperature_rmse_K <= TEMPERATURE_TARGET_K for e in pred)
    passed = bool(res.success and ok_v and ok_t)
    text = "; ".join(
        f"{e.name}: {1e3 * e.rmse_V:.1f} mV (first 90 % {1e3 * e.rmse_first90_V:.1f}), "
        f"T RMSE {e.temperature_rmse_K:.2f} K (max {e.temperature_max_abs_K:.2f})"
        for e in pred)
    text += f"; fit {'converged' if res.success else 'DID NOT CONVERGE'}"
    measured_t = ", ".join(
        f"{e.name} {1e3 * e.rmse_V:.1f} mV (first 90 % {1e3 * e.rmse_first90_V:.1f}; "
        f"{'>= ' if e.capacity_model_is_lower_bound else ''}{e.capacity_model_Ah:.3f} of "
        f"{e.capacity_measured_Ah:.3f} Ah to 2.5 V)"
        for e in pred_t)
    n_t_ok = sum(e.rmse_V <= RMSE_TARGET_V for e in pred_t)
    n_lumped_ok = sum(e.rmse_V <= RMSE_TARGET_V for e in pred)
    measured_t_verdict = (
        f"{n_t_ok} of {len(pred_t)} within {1e3 * RMSE_TARGET_V:g} mV against {n_lumped_ok} "
        "with the lumped model's own temperature, so "
        + ("the voltage misses are the thermal model's" if n_t_ok == len(pred_t) else
           "the right temperature alone does not bring the voltage within the target: the "
           "rest of the error is the electrochemistry's"))
    fitted = "; ".join(
        f"{k} = {v:.4g} [{res.ci95[k][0]:.3g}, {res.ci95[k][1]:.3g}]"
        + (" (not separable)" if k in res.not_separable else "")
        for k, v in res.values.items())
    notes = (
        f"Fitted values with 95 % intervals: {fitted}. Fit: {res.n_evaluations} evaluations, "
        f"{res.n_jacobians} sensitivity solves, {res.wall_time_s:.0f} s; {res.message}. "
        f"Set written: {saved if saved else 'none (fit did not converge)'}. Thermal-only check "
        f"with the measured heat (measured_heat_check: loss I (U_ocv - V) from the WMG OCV "
        f"table and the measured voltage, plus the set's reversible heat; one lumped C = "
        f"{check[0]['C_J_per_K']} J/K, hA = {check[0]['hA_W_per_K']} W/K fitted to the 25 degC "
        f"0.5C and 1C records and their cooling rests), temperature RMSE: {check_text}. "
        f"The hA [W/K] each record of the file would need with that C (diagnosis, no value "
        f"used): {effective_text}; from {ha_lo:.3f} to {ha_hi:.3f} W/K between records of "
        f"the same rig (a factor of {ha_hi / ha_lo:.1f}), "
        f"with no trend in temperature or rate that the 25 degC 0.5C and 1C records could "
        f"set. Judged with its *own* cooling instead (diagnosis, rows "
        f"'{OWN_COOLING_ROLE}': hA from each held-out record's rest after its discharge, "
        f"from {OWN_COOLING_SKIP_S:g} s after the current stops, same C, same measured heat): "
        f"{own_text}; "
        + (f"{', '.join(own_over)} still above {TEMPERATURE_TARGET_K:g} K, so the "
           "temperature target on "
           + ("it" if len(own_over) == 1 else "them")
           + " is out of reach of a lumped model whose heat is the measured loss even with "
           "the record's own cooling: the heat or the thermocouple differs between records, "
           "not only the rig's air flow. " if own_over else
           "every held-out record within the target with its own cooling: the miss is the "
           "rig's cooling, which the fit records cannot set. ")
        + f"With each held-out record's measured temperature imposed (thermal='measured', "
        f"rows '{MEASURED_T_ROLE}', not in the verdict) the fitted set gives {measured_t}: "
        f"{measured_t_verdict}. Case total "
        f"{time.perf_counter() - t0:.0f} s."
    )
    return CaseResult(
        name=NAME,
        data_source=("lgm50_wmg_widanage/LGM50_5Ah_RateTest.mat and LGM50_5Ah_Pulse.mat "
                     "(WDWidanage/Simscape-Battery-Library @ "
                     "a3842b91b3ccda006bc9be5d59c8bcbd167ceef7, MIT)"),
        metric="voltage RMSE (whole discharge, first 90 %), capacity at 2.5 V, mid-cell "
               "temperature error, on held-out discharges",
        target=TARGET,
        result=text,
        passed=passed,
        rows=rows,
        figure=f"{fig_dir.name}/{png_pred.name}",
        notes=notes,
    )


CASES = [Case(NAME, run, fast=False)]


if __name__ == "__main__":
    import argparse

    from cellmodels.fitting import Experiment, predict, rate_test

    ap = argparse.ArgumentParser(description="Run this case's fit (and a variant's).")
    ap.add_argument("--variant", choices=sorted(SHAPE_VARIANTS),
                    help="fit with O'Regan's D(sto) shapes (not the case's result)")
    ap.add_argument("--activation-energy", action="store_true",
                    help="also fit the graphite diffusivity's activation energy (not the "
                         "case's result)")
    ap.add_argument("--all-temperatures", action="store_true",
                    help="diagnosis: fit 10, 25 and 45 degC at once with the measured "
                         "temperature imposed (outside the issue's split)")
    ap.add_argument("--balance-first", action="store_true",
                    help="diagnosis: the case's fit on the lgm50 set whose electrode balance "
                         "fit_balance first fitted to the WMG 25 degC OCV table (a record "
                         "outside the issue's split)")
    ap.add_argument("--pulse-activation", action="store_true",
                    help="diagnosis: also fit three activation energies to the WMG pulses "
                         "at 10 degC (pulses outside the issue's split; every "
                         "discharge but the fit's stays held out)")
    args = ap.parse_args()
    cell = "lgm50"
    if args.balance_first:
        import tempfile

        from cellmodels.fitting import fit_balance, save_fitted
        from cellmodels.measured.wmg import read_ocv_table

        balance = fit_balance("lgm50", [read_ocv_table(25)])
        print(balance)
        cell = str(save_fitted(balance, "lgm50", Path(tempfile.mkdtemp()) / "lgm50_ocv.json",
                               name="lgm50_ocv_balanced"))
    if args.all_temperatures:
        r = all_temperatures_fit(progress=True)
        print(r)
        print(json.dumps([_row(e, MEASURED_T_ROLE) for e in predict(
            cell, [Experiment(rate_test(25, "2C"))], values=r.values,
            **MEASURED_T_OPTIONS)], indent=1))
        raise SystemExit(0)
    if args.variant:
        cell, r = fit_variant(args.variant, progress=True)
    elif args.pulse_activation:
        r = pulse_activation_fit(progress=True)
    elif args.activation_energy:
        from cellmodels.fitting import fit_physics

        r = fit_physics(cell, fit_experiments(), activation_energy_parameters(), max_nfev=30,
                        progress=True, **MODEL_OPTIONS)
    elif args.balance_first:
        from cellmodels.fitting import fit_physics

        r = fit_physics(cell, fit_experiments(), parameters(), max_nfev=30, progress=True,
                        **MODEL_OPTIONS)
    else:
        r = fit_lgm50(progress=True)
    print(r)
    rows = [_row(e, "prediction") for e in predict(
        cell, held_out_experiments(), values=r.values, **MODEL_OPTIONS)]
    rows += [_row(e, MEASURED_T_ROLE) for e in predict(
        cell, held_out_experiments(measured_temperature=True), values=r.values,
        **MEASURED_T_OPTIONS)]
    print(json.dumps(rows, indent=1))
    print(np.round(r.correlation, 2))
