"""Small-signal impedance: the ECM's against exact answers, the physics' sanity checks."""

import numpy as np
import pytest

from cellmodels.errors import InputError
from cellmodels.physics.cells import load_cell
from cellmodels.reduction import ValidityWarning
from cellmodels.reduction.impedance import (
    DEFAULT_DOUBLE_LAYER_F_PER_M2,
    ecm_impedance,
    ocv_slope,
    physics_impedance,
    supplied_parameters,
)

from .conftest import own_set
from .test_ecm import make_ecm

R0, R1, R2, TAU1, TAU2 = 2e-3, 1e-3, 0.5e-3, 2.0, 60.0  # make_ecm's tables (flat)


def one_rc(**changes):
    soc = np.linspace(0, 1, 11)
    kw = {"r0_Ohm": np.full((11, 3), R0), "rc_R_Ohm": np.full((1, 11, 3), R1),
          "rc_tau_s": np.full((1, 11, 3), TAU1), "soc": soc}
    kw.update(changes)
    return make_ecm(**kw)


# ---------------------------------------------------------------- ECM, exact answers
def test_ecm_dc_and_infinite_frequency():
    ecm = make_ecm()
    z = ecm_impedance(ecm, 0.5, 298.15, [0.0, 1e12])
    assert z[0] == pytest.approx(R0 + R1 + R2, rel=1e-15)
    assert z[0].imag == 0.0
    # at 1e12 Hz each RC leaves R/(w tau)^2 ~ 1e-26 Ohm
    assert z[1].real == pytest.approx(R0, rel=1e-12)
    assert abs(z[1].imag) < 1e-15


def test_single_rc_semicircle_apex_at_one_over_tau():
    ecm = one_rc()
    f_apex = 1.0 / (2 * np.pi * TAU1)
    z = ecm_impedance(ecm, 0.5, 298.15, f_apex)
    assert z.shape == ()  # a scalar frequency gives a 0-d array
    # R/(1 + j) = R/2 - j R/2: the top of the semicircle of diameter R centred on R0 + R/2
    assert z.real == pytest.approx(R0 + R1 / 2, rel=1e-14)
    assert z.imag == pytest.approx(-R1 / 2, rel=1e-14)
    f = f_apex * np.array([0.9, 0.99, 1.01, 1.1])
    assert np.all(-ecm_impedance(ecm, 0.5, 298.15, f).imag < R1 / 2)
    # every point lies on the semicircle |Z - (R0 + R/2)| = R/2
    zz = ecm_impedance(ecm, 0.5, 298.15, np.logspace(-4, 4, 41))
    np.testing.assert_allclose(np.abs(zz - (R0 + R1 / 2)), R1 / 2, rtol=1e-12)
    assert np.all(zz.real > 0) and np.all(zz.imag <= 0)


def test_ecm_impedance_follows_the_tables_over_soc():
    soc = np.linspace(0, 1, 11)
    r0 = np.repeat((1e-3 + 1e-3 * soc)[:, None], 3, axis=1)
    ecm = one_rc(r0_Ohm=r0)
    z = ecm_impedance(ecm, 0.25, 298.15, [0.0, 1e12])
    assert z[0].real == pytest.approx(1.25e-3 + R1, rel=1e-12)
    assert z[1].real == pytest.approx(1.25e-3, rel=1e-9)


def test_ocv_capacitance_term():
    ecm = make_ecm()  # OCV 3.0 + 1.2 SOC: dOCV/dSOC = 1.2 V exactly; Q = 10 A.h
    assert ocv_slope(ecm, 0.5, 298.15) == pytest.approx(1.2, rel=1e-12)
    f = np.array([1e-4, 1e-2, 1.0])
    w = 2 * np.pi * f
    extra = ecm_impedance(ecm, 0.5, 298.15, f, ocv_capacitance=True) - ecm_impedance(
        ecm, 0.5, 298.15, f)
    np.testing.assert_allclose(extra, 1.2 / (1j * w * 3600 * 10.0), rtol=1e-12)
    with pytest.raises(InputError, match=r"'frequencies_Hz' .* range \(0, inf\)\. Got 0\.0"):
        ecm_impedance(ecm, 0.5, 298.15, [0.0, 1.0], ocv_capacitance=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"soc": 1.2}, r"'soc' argument of ecm_impedance must be in the range \[0, 1\]\. Got 1\.2"),
        ({"soc": -0.1}, r"'soc' .* \[0, 1\]\. Got -0\.1"),
        ({"frequencies_Hz": [1.0, -5.0]},
         r"'frequencies_Hz' .* range \[0, inf\)\. Got -5\.0 \(entry 1\)"),
        ({"frequencies_Hz": [np.nan]}, r"'frequencies_Hz' .* Got nan"),
        ({"frequencies_Hz": []}, r"'frequencies_Hz' .* non-empty array"),
        ({"temperature_K": -3.0}, r"'temperature_K' .* \(0, inf\)\. Got -3\.0"),
    ],
)
def test_ecm_impedance_refuses_bad_input(kwargs, match):
    args = {"soc": 0.5, "temperature_K": 298.15, "frequencies_Hz": [1.0]} | kwargs
    with pytest.raises(InputError, match=match):
        ecm_impedance(make_ecm(), **args)


def test_ecm_impedance_warns_outside_validity():
    with pytest.warns(ValidityWarning, match=r"soc = 0\.05 is outside the identified range"):
        ecm_impedance(make_ecm(), 0.05, 298.15, [1.0])


# ---------------------------------------------------------------- physics, sanity
@pytest.fixture(scope="module")
def semisolid():
    return load_cell("semisolid_lfp_power")


@pytest.mark.parametrize("model", ["SPM", "SPMe"])
def test_physics_impedance_sign_and_ohmic_limit(semisolid, model):
    """Re Z > 0, capacitive (Im Z < 0), and at 100 kHz the real part is the ohmic
    resistance read from a 1 ms pulse (contact + solid + electrolyte ohmic).

    Tolerance 1 %: at 100 kHz the double-layer arc (0.2 F/m2 supplied, tau = R_ct C_dl of
    order ms) leaves R_ct / (1 + (w tau)^2), below 1e-5 of R_ct; the 1 ms pulse at 1C reads
    the ohmic terms before the electrolyte concentration has moved (its component is
    ~1e-5 of the DCR). Measured: 2e-6 (SPM) and 1e-4 (SPMe) relative; 1 % leaves room for
    the solver tolerances (rtol 1e-6) and the mesh, not for a wrong resistance.
    """
    from cellmodels.dcr import pulse_dcr

    f = np.array([1e-2, 1.0, 1e2, 1e5])
    z = physics_impedance(semisolid, 0.5, 298.15, f, model)
    assert z.shape == f.shape
    assert np.all(z.real > 0)
    assert np.all(z.imag < 0)
    assert z.real[0] > z.real[-1]  # the resistance falls with frequency
    r = pulse_dcr(semisolid, 0.5, 298.15, 1.0, (1e-3,), model=model)
    ohmic = float(r["contact"][0] + r["solid_ohmic"][0] + r["electrolyte_ohmic"][0])
    assert z[-1].real == pytest.approx(ohmic, rel=0.01)


def test_algebraic_surface_form_is_the_double_layer_free_limit(semisolid):
    """Without a double layer (algebraic surface form) the high-frequency resistance is the
    small-signal 1 ms DCR of the same DFN (ohmic + charge transfer + film); at 1 mHz the
    double layer does not matter. Tolerance 1 %: the 0.05C pulse is small-signal (the 1 ms
    DCR moves by < 0.5 % from 0.05C to 5C at 25 degC), and at 1 ms the diffusion terms are
    ~1e-5 of the DCR; measured 0.2 %."""
    from cellmodels.dcr import pulse_dcr

    f = np.array([1e-3, 1e4])
    z_alg = physics_impedance(semisolid, 0.5, 298.15, f, "DFN", surface_form="algebraic")
    z_dl = physics_impedance(semisolid, 0.5, 298.15, f, "DFN")
    assert abs(z_alg[0] - z_dl[0]) / abs(z_dl[0]) < 0.005
    dcr = pulse_dcr(semisolid, 0.5, 298.15, 0.05, (1e-3,), model="DFN")["dcr_Ohm"][0]
    assert z_alg[1].real == pytest.approx(dcr, rel=0.01)
    assert z_alg[1].real > 1.3 * z_dl[1].real  # the double layer shorts R_ct at 10 kHz


@pytest.mark.xfail(strict=True, reason=(
    "PyBaMM 26.10's EISSimulation of the SPMe is ~10 % below the SPMe's own small-signal "
    "response (a 0.5 A sine at 1 Hz in the time domain: 0.441 vs 0.393 mOhm on the plain "
    "SPMe of this set; the DFN agrees to 1e-4). If this passes, PyBaMM fixed it: drop the "
    "caveat in physics_impedance's docstring."))
def test_spme_eis_matches_its_time_domain_resistance(semisolid):
    from cellmodels.dcr import pulse_dcr

    z = physics_impedance(semisolid, 0.5, 298.15, [1e4], "SPMe", surface_form="algebraic")
    dcr = pulse_dcr(semisolid, 0.5, 298.15, 0.05, (1e-3,), model="SPMe")["dcr_Ohm"][0]
    assert z[0].real == pytest.approx(dcr, rel=0.01)


def test_double_layer_supplied_only_where_the_set_has_none(tmp_path, semisolid):
    assert supplied_parameters(semisolid) == {
        "Negative electrode double-layer capacity [F.m-2]": DEFAULT_DOUBLE_LAYER_F_PER_M2,
        "Positive electrode double-layer capacity [F.m-2]": DEFAULT_DOUBLE_LAYER_F_PER_M2,
    }
    assert supplied_parameters(semisolid, "algebraic") == {}

    def with_dl(value):
        def mutate(doc):
            doc["Parameterisation"].setdefault("User-defined", {}).update(
                {"Negative electrode double-layer capacity [F.m-2]": value,
                 "Positive electrode double-layer capacity [F.m-2]": value})
        return mutate

    own = load_cell(own_set(tmp_path, with_dl(2.0), name="dl_own"))
    same = load_cell(own_set(tmp_path, with_dl(DEFAULT_DOUBLE_LAYER_F_PER_M2), name="dl_02"))
    assert supplied_parameters(own) == {}
    f = [10.0, 100.0]
    z_own = physics_impedance(own, 0.5, 298.15, f, "SPM")
    z_same = physics_impedance(same, 0.5, 298.15, f, "SPM")
    plain = load_cell(own_set(tmp_path, name="no_dl"))
    z_plain = physics_impedance(plain, 0.5, 298.15, f, "SPM")
    np.testing.assert_allclose(z_plain, z_same, rtol=1e-10)  # supplied = 0.2 F/m2
    assert np.all(np.abs(z_own - z_same) / np.abs(z_same) > 0.01)  # the set's own is used


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"soc": 1.5},
         r"'soc' argument of physics_impedance must be in the range \[0, 1\]\. Got 1\.5"),
        ({"frequencies_Hz": [-1.0]}, r"'frequencies_Hz' .* range \(0, inf\)\. Got -1\.0"),
        ({"frequencies_Hz": [0.0]}, r"'frequencies_Hz' .* range \(0, inf\)\. Got 0\.0"),
        ({"temperature_K": 400.0}, r"'temperature_K' .* \[263\.15, 333\.15\]\. Got 400\.0"),
        ({"model": "P2D"}, r"'model' argument of physics_impedance must be one of"),
        ({"surface_form": "false"}, r"'surface_form' .* one of \('differential'"),
    ],
)
def test_physics_impedance_refuses_bad_input(semisolid, kwargs, match):
    args = {"soc": 0.5, "temperature_K": 298.15, "frequencies_Hz": [1.0]} | kwargs
    with pytest.raises(InputError, match=match):
        physics_impedance(semisolid, **args)
