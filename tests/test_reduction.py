"""ECM identification (cellmodels.reduction.identify): estimator contract, refused
settings, and a small real identification checked against its physics model on a
held-out profile. The full acceptance (three cells, DFN, 11 SOC x 4 temperatures) is the
slow validation case ``reduction_vs_dfn`` (validation/case_reduction.py)."""

import numpy as np
import pytest

from cellmodels.errors import InputError
from cellmodels.physics.cells import load_cell
from cellmodels.physics.simulate import simulate
from cellmodels.reduction import ValidityWarning, load_ecm, simulate_ecm
from cellmodels.reduction.identify import ECMIdentifier, NotFittedError

CELL = "semisolid_lfp_power"
SOC = (0.3, 0.5, 0.7)
TEMPERATURE_K = 298.15


@pytest.fixture(scope="module")
def cell():
    return load_cell(CELL)


@pytest.fixture(scope="module")
def fitted(cell):
    """3 SOC x 1 temperature on the SPMe (isothermal): about 10 s."""
    ident = ECMIdentifier(soc=SOC, temperature_K=[TEMPERATURE_K], model="SPMe")
    returned = ident.fit(cell)
    return ident, returned


def held_out(capacity_Ah: float):
    """A held-out load, unlike the identification sequence (seed 7, holds 0.3-30 s):
    fast 3C/0.5C swings with 0.5-1 s holds, a 4C burst, rest, a 1.5C-4C-charge staircase,
    and rest. ZOH ``(time_s, current_A)`` and the output grid (every 50 ms and every edge).
    """
    tp = np.array([0, 0.5, 1.5, 2.0, 3.0, 3.5, 4.5, 5.0, 6.0, 8.0, 10.0, 20.0, 25.0, 27.0,
                   30.0, 40.0])
    ip = capacity_Ah * np.array([3, 0.5, 3, 0.5, 3, 0.5, 3, 4, 0.5, 2, 0, 1.5, 4, -1, 0, 0])
    t = np.unique(np.concatenate([np.arange(0.0, 40.0 + 1e-9, 0.05), tp]))
    i = ip[np.searchsorted(tp, t, side="right") - 1]
    return tp, ip, t, i


# ------------------------------------------------------------------ estimator contract


def test_settings_are_stored_unchanged_and_not_checked_in_the_constructor():
    ident = ECMIdentifier(n_rc=9, soc=(0.5, 0.2), temperature_K=[1.0], model="P2D")
    assert (ident.n_rc, ident.soc, ident.temperature_K, ident.model) == (
        9, (0.5, 0.2), [1.0], "P2D")
    assert not hasattr(ident, "ecm_")


def test_not_fitted_before_fit(tmp_path):
    ident = ECMIdentifier()
    with pytest.raises(NotFittedError, match="not fitted yet. Call 'fit'"):
        ident.save(tmp_path / "x.ecm.h5")
    with pytest.raises(ValueError, match="not fitted yet"):  # NotFittedError is a ValueError
        ident._fitted()
    assert not (tmp_path / "x.ecm.h5").exists()


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"n_rc": 5}, r"The 'n_rc' of ECMIdentifier must be in the range \[0, 4\]. Got 5 "),
        ({"n_rc": -1}, r"The 'n_rc' of ECMIdentifier must be in the range \[0, 4\]. Got -1 "),
        ({"n_rc": 1.5}, r"The 'n_rc' of ECMIdentifier must be an integer. Got 1.5 "),
        ({"n_rc": True}, r"The 'n_rc' of ECMIdentifier must be an integer. Got True "),
        ({"soc": (0.5, 0.3, 0.7)}, (r"The 'soc' grid of ECMIdentifier must increase. "
                                    r"Got \[0.5, 0.3, 0.7\]")),
        ({"soc": (0.3, 0.3)}, r"The 'soc' grid of ECMIdentifier must increase"),
        ({"soc": (0.5,)}, r"The 'soc' grid of ECMIdentifier must increase"),
        ({"soc": (0.2, 1.2)}, (r"The 'soc' grid of ECMIdentifier must be in the range "
                               r"\[0, 1\]. Got 1.2 ")),
        ({"temperature_K": [298.15, 350.0]},
         (r"The 'temperature_K' for cell semisolid_lfp_power must be in the range "
          r"\[263.15, 333.15\]. Got 350.0 ")),
        ({"temperature_K": [250.0]}, (r"The 'temperature_K' for cell semisolid_lfp_power "
                                      r"must be in the range")),
        ({"temperature_K": [313.15, 298.15]}, (r"The 'temperature_K' grid of ECMIdentifier "
                                               r"must increase. Got \[313.15, 298.15\]")),
        ({"sequence_s": 0.0}, (r"The 'sequence_s' of ECMIdentifier must be in the range "
                               r"\(0, 36000\]")),
        ({"ocv_points": 2}, r"The 'ocv_points' of ECMIdentifier must be in the range"),
        ({"model": "P2D"}, (r"The 'model' argument must be one of \('DFN', 'SPMe', 'SPM'\). "
                            r"Got 'P2D'")),
        ({"amplitude": 0.0}, r"The 'amplitude' of ECMIdentifier must be in the range \(0, 20\]"),
        ({"backoff": 1.0}, r"The 'backoff' of ECMIdentifier must be in the range \(0, 1\)"),
        ({"current_dependence": "bv"}, (r"The 'current_dependence' of ECMIdentifier must be "
                                        r"one of \('none', 'butler-volmer'\). Got 'bv'")),
        ({"centre_soc": 1}, r"The 'centre_soc' of ECMIdentifier must be True or False"),
        ({"levels": (1.0, 1.0)}, (r"The 'levels' of ECMIdentifier must be at least two "
                                  r"distinct C-rates. Got \[1.0, 1.0\]")),
        ({"levels": (0.0, 25.0)}, (r"The 'levels' of ECMIdentifier must be in the range "
                                   r"\[-20, 20\]. Got 25.0 ")),
        ({"levels": "fast"}, r"The 'levels' of ECMIdentifier must be a sequence of C-rates"),
        ({"beyond_validity_K": -1.0}, (r"The 'beyond_validity_K' of ECMIdentifier must be "
                                       r"in the range \[0, 100\]. Got -1.0 ")),
        ({"temperature_K": [298.15, 350.0], "beyond_validity_K": 10.0},
         (r"The 'temperature_K' for cell semisolid_lfp_power \(its validity range widened "
          r"by beyond_validity_K = 10 K\) must be in the range \[253.15, 343.15\]. "
          r"Got 350.0 ")),
    ],
)
def test_bad_settings_are_refused_by_fit(cell, settings, match):
    ident = ECMIdentifier(**settings)
    with pytest.raises(InputError, match=match):
        ident.fit(cell)
    assert not hasattr(ident, "ecm_")


def test_sequence_levels_default_is_the_published_sequence_and_can_be_replaced():
    """The ``levels`` option leaves the default sequence as it was (seed 7: first hold 2C,
    then draws from -3..5C), and a replacement set is what the sequence uses."""
    from cellmodels.reduction.identify import DEFAULT_LEVELS, identification_sequence

    _, c = identification_sequence()
    assert c[0] == 2.0 and set(c[:-2]) <= set(DEFAULT_LEVELS)
    assert set(c[:-2]) == set(DEFAULT_LEVELS)  # 300 s of 0.3-30 s holds visit every level
    t2, c2 = identification_sequence(levels=(-1.0, 0.0, 1.0, 3.0, 5.0))
    assert set(c2[:-2]) == {-1.0, 0.0, 1.0, 3.0, 5.0}
    assert c2[0] == 1.0  # nearest to 2C (first of the two at equal distance)
    assert c2[-1] == c2[-2] == 0.0 and t2[-1] - t2[-2] == 120.0  # the rest


def test_grid_beyond_validity_is_identified_and_stated(cell):
    """A grid point above the set's range with ``beyond_validity_K``: identified (the
    physics extrapolated), the ECM's validity is the grid, its limits the cell's range,
    and the provenance says the grid left the range."""
    hi = cell.temperature_range_K[1]
    ecm = ECMIdentifier(soc=(0.4, 0.6), temperature_K=[hi + 5.0], model="SPM", n_rc=1,
                        beyond_validity_K=5.0, sequence_s=30.0, rest_s=10.0).fit(cell).ecm_
    assert ecm.validity["temperature_max_K"] == hi + 5.0
    assert ecm.limits["temperature_max_K"] == hi
    assert f"extends past the cell's validity {cell.temperature_range_K[0]:g}-{hi:g} K" in (
        ecm.provenance["method"])
    assert np.all(ecm.r0_Ohm > 1e-6)  # a real fit, not the 1e-9 floor


# ------------------------------------------------------------------ a real identification


def test_fit_returns_self_with_learned_attributes(fitted, cell, tmp_path):
    ident, returned = fitted
    assert returned is ident
    ecm = ident.ecm_
    assert ecm.n_rc == 2
    assert ident.seconds_ > 0
    assert [(r["soc"], r["temperature_K"]) for r in ident.fit_table_] == [
        (s, TEMPERATURE_K) for s in SOC]
    assert ecm.validity["soc_min"] == SOC[0] and ecm.validity["soc_max"] == SOC[-1]
    assert ecm.validity["temperature_min_K"] == ecm.validity["temperature_max_K"] == TEMPERATURE_K
    assert ecm.provenance["cell_sha256"] == cell.sha256
    # the time constants are shared over SOC and ordered
    tau = ecm.rc_tau_s[:, :, 0]
    assert np.allclose(tau, tau[:, :1])
    assert tau[0, 0] < tau[1, 0]
    # save() writes what load_ecm reads back, exactly
    path = ident.save(tmp_path / "semisolid.ecm.h5")
    assert load_ecm(path) == ecm


def test_identified_ecm_reproduces_its_physics_model_on_a_held_out_profile(fitted, cell):
    """The ECM against the SPMe it was identified from (isothermal, 25 degC), on a load
    it was not fitted to, inside its SOC grid (0.6 -> about 0.57).

    Tolerance: RMSE <= 2 mV and max |error| <= 5 mV. The error left is the linear ECM's
    amplitude-independent fit of a nonlinear model (measured: about 0.4 mV RMSE, 1 mV
    max) and the SOC interpolation; 2 and 5 mV are 4 % and 10 % of the 47 mV ohmic drop
    at 4C, and well inside the DFN acceptance (5 mV RMSE, 25 mV max). The second check
    makes sure the match is not trivial: the error is below 5 % of the voltage's own
    swing around its open-circuit value.
    """
    ident, _ = fitted
    tp, ip, t, i = held_out(cell.capacity_Ah)
    phys = simulate(cell, initial_soc=0.6, temperature_K=TEMPERATURE_K, current_A=ip,
                    time_s=tp, t_out=t, model="SPMe", thermal="isothermal")
    ecm = simulate_ecm(ident.ecm_, t, current_A=i, initial_soc=0.6,
                       temperature_K=TEMPERATURE_K, thermal=False)
    np.testing.assert_array_equal(phys.time_s, t)
    err = ecm.voltage_V - phys.voltage_V
    rmse, worst = float(np.sqrt(np.mean(err**2))), float(np.max(np.abs(err)))
    assert rmse <= 2e-3, f"RMSE {1e3 * rmse:.2f} mV"
    assert worst <= 5e-3, f"max {1e3 * worst:.2f} mV"
    swing = float(np.sqrt(np.mean((phys.ocv_V - phys.voltage_V) ** 2)))
    assert rmse < 0.05 * swing, (rmse, swing)
    # same charge counted: the SOC of both models agrees
    np.testing.assert_allclose(ecm.soc, phys.soc, atol=1e-6)


@pytest.fixture(scope="module")
def fitted_bv(cell):
    """The same grid with the Butler-Volmer element, sequence centred on each SOC."""
    return ECMIdentifier(soc=SOC, temperature_K=[TEMPERATURE_K], model="SPMe",
                         current_dependence="butler-volmer", centre_soc=True).fit(cell)


def test_butler_volmer_element_is_identified_and_holds_out(fitted_bv, cell):
    """The element's tables are there and consistent (R_ct = R T / (F I0), a symmetric
    one-electron Butler-Volmer overpotential), the small-signal resistance is R0 + R_ct,
    and the ECM meets the same held-out tolerance as the linear one (same reasoning)."""
    from cellmodels.reduction import ecm_impedance
    from cellmodels.reduction.identify import FARADAY, GAS_CONSTANT

    ecm = fitted_bv.ecm_
    assert ecm.has_ct and "current dependence butler-volmer" in ecm.provenance["method"]
    at = [int(np.argmin(np.abs(ecm.soc - s))) for s in SOC]  # the identified points
    np.testing.assert_allclose((ecm.ct_R_Ohm * ecm.ct_i0_A)[at],
                               GAS_CONSTANT * TEMPERATURE_K / FARADAY, rtol=1e-12)
    z_hf = ecm_impedance(ecm, 0.5, TEMPERATURE_K, [1e6])[0]
    assert z_hf.real == pytest.approx(ecm.r0(0.5, TEMPERATURE_K)
                                      + ecm.ct(0.5, TEMPERATURE_K)[0], rel=1e-9)
    tp, ip, t, i = held_out(cell.capacity_Ah)
    phys = simulate(cell, initial_soc=0.6, temperature_K=TEMPERATURE_K, current_A=ip,
                    time_s=tp, t_out=t, model="SPMe", thermal="isothermal")
    run = simulate_ecm(ecm, t, current_A=i, initial_soc=0.6, temperature_K=TEMPERATURE_K,
                       thermal=False)
    err = run.voltage_V - phys.voltage_V
    assert float(np.sqrt(np.mean(err**2))) <= 2e-3
    assert float(np.max(np.abs(err))) <= 5e-3


def test_outside_the_identified_grid_warns(fitted):
    ident, _ = fitted
    t = np.linspace(0.0, 2.0, 5)
    with pytest.warns(ValidityWarning, match=r"soc = 0.9 is 0.2 outside the identified "
                                             r"range \[0.3, 0.7\]"):
        simulate_ecm(ident.ecm_, t, current_A=np.full(5, 1.0), initial_soc=0.9,
                     temperature_K=TEMPERATURE_K, thermal=False)


# ------------------------------------------------------------------ the held-out profile


def test_validation_profile_is_seeded_and_stays_in_its_envelope():
    from validation.case_reduction import INITIAL_SOC, PAUSE_S, ai_profile

    q = 20.0
    tp, ip = ai_profile(q, q)
    tp2, ip2 = ai_profile(q, q)
    np.testing.assert_array_equal(tp, tp2)
    np.testing.assert_array_equal(ip, ip2)
    assert np.all(np.diff(tp) >= 1e-3 - 1e-12)  # ZOH steps on a 1 ms grid
    np.testing.assert_allclose(tp * 1e3, np.round(tp * 1e3), atol=1e-6)
    assert ip[-1] == ip[-2]  # no edge at the end time
    on = ip[:-1][ip[:-1] != 0]
    assert on.min() >= 0.5 * q - 1e-9 and on.max() <= 5.0 * q + 1e-9  # discharge only
    mid = (tp[:-1] + tp[1:]) / 2
    paused = (mid > PAUSE_S[0]) & (mid < PAUSE_S[1])
    assert np.all(ip[:-1][paused] == 0.0) and paused.any()
    soc = INITIAL_SOC - np.cumsum(ip[:-1] * np.diff(tp)) / 3600.0 / q
    assert soc.min() >= 0.2
    # a different seed is a different profile
    assert not np.array_equal(ai_profile(q, q, seed=1)[0], tp)


def test_electrolyte_diagnostic_cell_scales_only_the_electrolyte_diffusivity():
    """``lgm50@De_x10`` is lgm50 with its electrolyte diffusivity x10 (same everything
    else, the name too), of its own hash, and the case's grid for it is lgm50's."""
    import pybamm

    from validation.case_reduction import grid_temperatures, load_case_cell

    base, diag = load_cell("lgm50"), load_case_cell("lgm50@De_x10")
    assert diag.name == "lgm50" and diag.sha256 != base.sha256
    pb, pd = base.parameter_values(), diag.parameter_values()
    key = "Electrolyte diffusivity [m2.s-1]"
    args = (pybamm.Scalar(1000.0), pybamm.Scalar(298.15))
    assert pd.evaluate(pd[key](*args)) == pytest.approx(10 * pb.evaluate(pb[key](*args)),
                                                        rel=1e-12)
    assert pd.evaluate(pd["Electrolyte conductivity [S.m-1]"](*args)) == pytest.approx(
        pb.evaluate(pb["Electrolyte conductivity [S.m-1]"](*args)), rel=1e-12)
    assert grid_temperatures(diag) == grid_temperatures(base)
    assert max(grid_temperatures(base)) > base.temperature_range_K[1]


def test_thermal_floor_is_zero_for_the_ecms_own_run_and_sees_a_different_heat(fitted, cell):
    """``thermal_floor`` (the reduction case's measure of how well the ECM's heat equation
    can follow the DFN's) drives the ECM's thermal equation by a reference voltage and
    temperature. Driven by the ECM's own thermal run it gives that run back: the only
    difference is that it holds the heat over each 50 ms output interval where
    simulate_ecm averages the RC heat exactly over its sub-steps (measured 5e-4 K on a
    1.1 K rise; tolerance 1e-3 K). A reference that is 5 K hotter is seen at its full size."""
    import dataclasses

    from validation.case_reduction import thermal_floor

    ident, _ = fitted
    # a 50x lighter cell, so that the 40 s load heats it by kelvins, not by 0.04 K
    ecm = dataclasses.replace(ident.ecm_,
                              thermal_mass_J_per_K=ident.ecm_.thermal_mass_J_per_K / 50.0)
    _, _, t, i = held_out(cell.capacity_Ah)
    with pytest.warns(ValidityWarning):  # one-temperature grid; the run heats above it
        run = simulate_ecm(ecm, t, current_A=i, initial_soc=0.6,
                           temperature_K=TEMPERATURE_K, thermal=True)
    rise = float(np.max(run.temperature_K) - TEMPERATURE_K)
    assert rise > 0.5, rise  # the check is not trivial: the run heats
    floor = thermal_floor(ecm, t, i, run.voltage_V, run.temperature_K, TEMPERATURE_K,
                          0.6)
    assert floor[0] == 0.0
    assert np.max(np.abs(floor)) < 1e-3, np.max(np.abs(floor))
    # a reference 5 K hotter after its first sample: the floor sees -5 K (to the few mK
    # by which 5 K moves the heat through U(z, T) and T dU/dT)
    ref = run.temperature_K.copy()
    ref[1:] += 5.0
    hot = thermal_floor(ecm, t, i, run.voltage_V, ref, TEMPERATURE_K, 0.6)
    np.testing.assert_allclose(hot[1:], -5.0, atol=0.05)


def test_depletion_verdict_follows_the_diagnostic_rows():
    """The reduction case's reading of its electrolyte diagnostic is taken from the rows:
    depletion is named only where the copy with the faster electrolyte has the lower error
    at every temperature; otherwise the note says which temperatures contradict it."""
    from validation.case_reduction import _depletion_verdict

    def rows(*rmse):
        return [{"T_degC": t, "rmse_mV": r, "max_mV": 2 * r} for t, r in
                zip((10.0, 25.0, 40.0), rmse, strict=True)]

    assert _depletion_verdict(rows(20, 10, 8), rows(10, 7, 5)).startswith(
        "What remains with the electrolyte kept from depleting")
    text = _depletion_verdict(rows(16, 8, 7.6), rows(15.5, 12.4, 10.4))
    assert text.startswith("The copy's RMSE is not lower at 25 degC, 40 degC")
    assert "32 -> 31 mV, 16 -> 25 mV, 15 -> 21 mV" in text


def test_reduction_case_keeps_finished_runs_and_resumes_from_them(tmp_path, monkeypatch):
    """The reduction case (47-70 min) resumes: a finished run is kept atomically under its
    key and read back by a rerun with the same key; another key, a corrupt file or
    CELLMODELS_NO_RESUME runs it again."""
    from validation.case_reduction import kept_arrays, run_key

    calls = []

    def compute():
        calls.append(1)
        return {"v": np.linspace(3.0, 4.0, 5), "dfn_s": 12.5}

    key = run_key("dfn", cell="abc", temperature_K=298.15, time_s=np.arange(3.0))
    first, kept = kept_arrays(tmp_path, "dfn", key, compute)
    assert not kept and len(calls) == 1
    again, kept = kept_arrays(tmp_path, "dfn", key, compute)
    assert kept and len(calls) == 1
    np.testing.assert_array_equal(again["v"], first["v"])  # bytes written, bytes read
    assert again["dfn_s"] == 12.5 and isinstance(again["dfn_s"], float)
    assert [p.name for p in tmp_path.iterdir()] == [f"dfn_{key}.npz"]  # no temporary left
    # a kept file without a name the caller now reads (an older case) is run again
    _, kept = kept_arrays(tmp_path, "dfn", key, compute, ("v", "T"))
    assert not kept and len(calls) == 2
    calls.pop()
    # a field of the key changes the key (arrays by their contents)
    assert run_key("dfn", cell="abc", temperature_K=298.15, time_s=np.arange(3.0) + 1e-9) != key
    assert run_key("dfn", cell="abc", temperature_K=298.16, time_s=np.arange(3.0)) != key
    # a truncated file (a run killed before atomic writes existed) is run again
    path = tmp_path / f"dfn_{key}.npz"
    path.write_bytes(path.read_bytes()[:40])
    _, kept = kept_arrays(tmp_path, "dfn", key, compute)
    assert not kept and len(calls) == 2
    monkeypatch.setenv("CELLMODELS_NO_RESUME", "1")
    _, kept = kept_arrays(tmp_path, "dfn", key, compute)
    assert not kept and len(calls) == 3


def test_loss_breakdown_note_reads_its_verdict_from_the_rows():
    """The reduction case's loss-breakdown note names a growing diffusion polarisation only
    when the DFN's loss grows by more than the ECM's (by two max-error targets)."""
    from validation.case_reduction import _breakdown_note

    def row(t, dfn, ecm):
        return {"t_s": t, "current_A": 24.0, "T_dfn_K": 283.15 + t / 10, "window_mean_C": 2.6,
                "dfn_loss_mV": dfn, "dfn_particle_mV": dfn / 4, "dfn_electrolyte_mV": dfn / 4,
                "ecm_loss_mV": ecm, "ecm_rc_mV": ecm / 3, "ecm_instant_mV": 2 * ecm / 3}

    grows = _breakdown_note("c", 283.15, [row(5, 620, 660), row(160, 880, 830)])
    assert "grows by 260 mV" in grows and "the ECM's by 170 mV" in grows
    assert "mean of 2.6C" in grows
    same = _breakdown_note("c", 283.15, [row(5, 620, 660), row(160, 700, 730)])
    assert "mean of" not in same


def test_a_kept_dfn_run_does_not_depend_on_the_reduction_code(monkeypatch):
    """A change to cellmodels.reduction re-identifies but keeps the DFN runs (they run
    cellmodels.physics only); a change to cellmodels.physics changes both keys."""
    import validation.case_reduction as cr

    real = cr._code_digest

    def fake(packages, edited=()):
        return real(packages) + "".join(sorted(set(packages) & set(edited)))

    keys = {}
    for edited in ((), ("reduction",), ("physics",)):
        monkeypatch.setattr(cr, "_code_digest", lambda p, e=edited: fake(p, e))
        keys[edited] = (cr.run_key("dfn", cell="x"), cr.run_key("identify", cell="x"))
    assert keys[("reduction",)][0] == keys[()][0]
    assert keys[("reduction",)][1] != keys[()][1]
    assert all(a != b for a, b in zip(keys[("physics",)], keys[()], strict=True))


def test_first_window_cuts_the_profile_without_doubling_an_edge():
    from validation.case_reduction import first_window

    t = np.array([0.0, 1.0, 2.5, 4.0])
    i = np.array([3.0, 1.0, 2.0, 2.0])
    tp, ip = first_window((t, i), 2.0)  # inside a step: it holds to the cut
    np.testing.assert_array_equal(tp, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(ip, [3.0, 1.0, 1.0])
    tp, ip = first_window((t, i), 2.5)  # at an edge: the step starting there is left out
    np.testing.assert_array_equal(tp, [0.0, 1.0, 2.5])
    np.testing.assert_array_equal(ip, [3.0, 1.0, 1.0])
