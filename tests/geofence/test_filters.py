"""The filter pipeline: each reason a point stays out of presence, and which one wins."""

from __future__ import annotations

import math

import pytest

from geofence.filters import FilterConfig, flag_for
from geofence.types import Fix, Flag
from tests.geofence.helpers import fix

CFG = FilterConfig()


def test_a_good_fix_passes() -> None:
    assert flag_for(fix(1, 100, 0), fix(0, 90, 0), CFG) is None


@pytest.mark.parametrize(
    ("bad", "flag"),
    [
        (Fix("x", 100, math.nan, 126.978, 10), Flag.INVALID),
        (Fix("x", 100, 91.0, 126.978, 10), Flag.INVALID),
        (Fix("x", 100, 37.5, 126.978, -1), Flag.INVALID),
        (Fix("x", 100, 0.00001, -0.00002, 10), Flag.ZERO_ISLAND),
        (Fix("x", 100, 37.5, 126.978, 151), Flag.LOW_ACCURACY),
        (Fix("x", 1000, 37.5, 126.978, 10, received_t=800), Flag.FUTURE),
        (Fix("x", 100, 37.5, 126.978, 10, received_t=100 + 8 * 86_400), Flag.TOO_OLD),
    ],
)
def test_each_reason_is_named(bad: Fix, flag: Flag) -> None:
    assert flag_for(bad, None, CFG) is flag


def test_a_mocked_point_is_a_spoof_whatever_else_is_wrong_with_it() -> None:
    assert flag_for(fix(1, 100, 0, acc=500, mock=True), None, CFG) is Flag.MOCK


def test_a_second_fix_at_the_same_time_is_a_duplicate() -> None:
    assert flag_for(fix(2, 100, 30), fix(1, 100, 0), CFG) is Flag.DUPLICATE


def test_a_jump_faster_than_a_car_beyond_both_accuracies_is_flagged() -> None:
    prev = fix(1, 100, 0, acc=10)
    # 1 km in 5 s: 200 m/s, far beyond 70 m/s even granting each fix its 10 m.
    assert flag_for(fix(2, 105, 1000, acc=10), prev, CFG) is Flag.SPEED_JUMP
    # 500 m in 5 s: 100 m/s, still too fast once the 20 m the two fixes may be off is granted.
    assert flag_for(fix(3, 105, 500, acc=10), prev, CFG) is Flag.SPEED_JUMP
    # 350 m in 5 s, each fix good to 150 m: within what the two fixes' errors explain.
    assert flag_for(fix(4, 105, 350, acc=150), fix(1, 100, 0, acc=150), CFG) is None
