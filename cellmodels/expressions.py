"""Safe parsing of BPX expressions.

BPX stores functions as strings such as ``"2.5e-3 * exp(-x) + tanh(10 * (x - 0.5))"``.
The ``bpx`` package turns them into Python by writing and executing a module; this
package never executes text from a file. Instead :func:`compile_expression` parses the
string with :mod:`ast` (parse only), checks every node against a whitelist (numbers, the
variable ``x``, ``+ - * / **``, unary minus and a fixed set of functions) and returns a
closure that walks the tree. The closure works on floats, NumPy arrays and PyBaMM
symbols alike.
"""

from __future__ import annotations

import ast
import contextlib
import operator
import threading
from collections.abc import Callable, Iterator

import numpy as np

from .errors import ParameterError

_BINOPS: dict[type, Callable] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
FUNCTIONS = ("exp", "log", "sqrt", "tanh", "cosh", "sinh", "arctan", "abs")


def _function(name: str, arg):
    import pybamm

    if isinstance(arg, pybamm.Symbol):
        fn = {"abs": pybamm.AbsoluteValue}.get(name) or getattr(pybamm, name)
        return fn(arg)
    return getattr(np, name)(arg)


def _check(node: ast.AST, text: str, field: str) -> None:
    def bad(what: str) -> ParameterError:
        return ParameterError(
            f"The expression for '{field}' may use only numbers, the variable x, "
            f"+ - * / ** and the functions {', '.join(FUNCTIONS)}; found {what} in {text!r}."
        )

    if isinstance(node, ast.Expression):
        _check(node.body, text, field)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise bad(f"the operator {type(node.op).__name__}")
        _check(node.left, text, field)
        _check(node.right, text, field)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise bad(f"the operator {type(node.op).__name__}")
        _check(node.operand, text, field)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise bad(f"the constant {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id != "x":
            raise bad(f"the name {node.id!r}")
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise bad("a call to " + ast.unparse(node.func))
        if len(node.args) != 1 or node.keywords:
            raise bad(f"{node.func.id} called with other than one argument")
        _check(node.args[0], text, field)
    else:
        raise bad(f"a {type(node).__name__} node")


def _evaluate(node: ast.AST, x):
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_evaluate(node.left, x), _evaluate(node.right, x))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, x))
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return x
    if isinstance(node, ast.Call):
        return _function(node.func.id, _evaluate(node.args[0], x))
    raise AssertionError(f"unchecked node {node!r}")  # _check admits nothing else


def compile_expression(text: str, field: str = "expression") -> Callable:
    """Parse a BPX expression of ``x`` into a callable, without executing any code.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"0.1297 * (x / 1000) ** 3 - 2.51 * (x / 1000) ** 1.5"``.
    field : str
        The parameter the expression belongs to, named in any error.

    Raises
    ------
    ParameterError
        If the text is not a valid expression of ``x`` over the whitelist.
    """
    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except SyntaxError as exc:
        raise ParameterError(
            f"The expression for '{field}' is not a valid expression of x: {text!r} ({exc.msg})."
        ) from None
    _check(tree, text, field)
    body = tree.body

    def expression(x):
        return _evaluate(body, x)

    expression.__name__ = "bpx_expression"
    expression.__doc__ = f"{field}: {text}"
    return expression


_patch_lock = threading.Lock()


@contextlib.contextmanager
def safe_bpx_functions() -> Iterator[None]:
    """Within this block, ``bpx.Function.to_python_function`` parses instead of executing.

    Both ``bpx`` (its OCP voltage-limit validator) and PyBaMM's BPX importer turn
    expressions into callables only through this one public method, so replacing it for
    the duration of a load keeps every expression in a file away from ``exec``.
    """
    from bpx import Function

    def to_python_function(self, preamble: str | None = None) -> Callable:
        return compile_expression(str(self))

    with _patch_lock:
        original = Function.to_python_function
        Function.to_python_function = to_python_function
        try:
            yield
        finally:
            Function.to_python_function = original
