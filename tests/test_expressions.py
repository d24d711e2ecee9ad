import math

import numpy as np
import pybamm
import pytest

from cellmodels.errors import ParameterError
from cellmodels.expressions import compile_expression, safe_bpx_functions


def test_expression_matches_python_arithmetic():
    f = compile_expression("0.1297 * (x / 1000) ** 3 - 2.51 * (x / 1000) ** 1.5 + 3.329 * (x / 1000)")
    x = 1200.0
    expected = 0.1297 * (x / 1000) ** 3 - 2.51 * (x / 1000) ** 1.5 + 3.329 * (x / 1000)
    assert f(x) == pytest.approx(expected, rel=1e-15)


def test_expression_functions_on_arrays_and_symbols():
    f = compile_expression("exp(-x) + tanh(2 * x) - cosh(x) / 3")
    xs = np.linspace(0, 1, 5)
    np.testing.assert_allclose(f(xs), np.exp(-xs) + np.tanh(2 * xs) - np.cosh(xs) / 3)
    sym = f(pybamm.Scalar(0.5))
    assert isinstance(sym, pybamm.Symbol)
    assert sym.evaluate() == pytest.approx(math.exp(-0.5) + math.tanh(1) - math.cosh(0.5) / 3)


@pytest.mark.parametrize(
    "text, found",
    [
        ("__import__('os').system('true')", "call"),
        ("x.__class__", "Attribute"),
        ("open(x)", "call to open"),
        ("y + 1", "name 'y'"),
        ("'a' * 3", "constant 'a'"),
        ("[x for x in (1, 2)]", "ListComp"),
    ],
)
def test_expression_refuses_anything_but_arithmetic(text, found):
    with pytest.raises(ParameterError, match=found):
        compile_expression(text, "Negative electrode/OCP [V]")


def test_bpx_functions_are_parsed_not_executed():
    from bpx import Function

    original = Function.to_python_function
    with safe_bpx_functions():
        fn = Function("2 * x + 1").to_python_function()
        assert fn(3.0) == 7.0
        assert fn.__name__ == "bpx_expression"
    assert Function.to_python_function is original
