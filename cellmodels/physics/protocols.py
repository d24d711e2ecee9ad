"""Standard protocols as zero-order-hold profiles for :func:`~cellmodels.physics.simulate`.

Each function returns ``(time_s, value)`` arrays: ``value[k]`` holds from ``time_s[k]``
to ``time_s[k + 1]`` (the last sample only closes the profile). Values are currents [A]
or powers [W], discharge positive, as the caller passes them to ``simulate``.
"""

from __future__ import annotations

import numpy as np

from ..errors import check_range

__all__ = ["hppc", "pulse_train"]


def hppc(
    capacity_Ah: float,
    *,
    discharge_c_rate: float = 1.0,
    charge_c_rate: float = 0.75,
    pulse_s: float = 10.0,
    rest_between_s: float = 40.0,
    rest_after_s: float = 60.0,
) -> tuple[np.ndarray, np.ndarray]:
    """One hybrid pulse power characterisation block (after the USABC/FreedomCAR manual).

    Discharge pulse, rest, charge pulse, rest. Repeat it at each SOC with a discharge
    in between to build a full HPPC test.
    """
    check_range(capacity_Ah, "capacity_Ah", "argument of hppc", 0.0, float("inf"),
                closed=(False, True))
    for name, v in (("pulse_s", pulse_s), ("rest_between_s", rest_between_s),
                    ("rest_after_s", rest_after_s)):
        check_range(v, name, "argument of hppc", 0.0, float("inf"), closed=(False, True))
    i_d = discharge_c_rate * capacity_Ah
    i_c = -charge_c_rate * capacity_Ah
    durations = [pulse_s, rest_between_s, pulse_s, rest_after_s]
    values = [i_d, 0.0, i_c, 0.0]
    t = np.concatenate([[0.0], np.cumsum(durations)])
    return t, np.array(values + [0.0])


def pulse_train(
    high: float,
    low: float,
    period_s: float,
    duty: float = 0.5,
    cycles: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """A square wave: ``high`` for ``duty * period_s``, then ``low``, ``cycles`` times.

    The shape of the AI-training swing (compute, then communicate) at its simplest.
    """
    check_range(period_s, "period_s", "argument of pulse_train", 0.0, float("inf"),
                closed=(False, True))
    check_range(duty, "duty", "argument of pulse_train", 0.0, 1.0, closed=(False, False))
    check_range(cycles, "cycles", "argument of pulse_train", 1, 10_000_000)
    n = int(cycles)
    starts = np.arange(n) * period_s
    t = np.empty(2 * n + 1)
    t[0:-1:2] = starts
    t[1:-1:2] = starts + duty * period_s
    t[-1] = n * period_s
    v = np.empty(2 * n + 1)
    v[0:-1:2] = high
    v[1:-1:2] = low
    v[-1] = low
    return t, v
