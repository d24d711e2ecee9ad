"""The fast validation cases run in the test suite too (the slow ones: `cellmodels validate`)."""

import pytest

from cellmodels.validate import discover

from .conftest import ROOT

FAST = [c for c in discover(ROOT / "validation") if c.fast]


@pytest.mark.parametrize("case", FAST, ids=[c.name for c in FAST])
def test_fast_validation_case(case, tmp_path):
    result = case.run(tmp_path)
    assert result.passed, f"{case.name}: {result.result} (target {result.target})\n{result.rows}"
