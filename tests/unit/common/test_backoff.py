"""The shared retry delay rule."""

from __future__ import annotations

import pytest

from supersvg.common.backoff import Backoff


def test_delays_double_from_the_base_up_to_the_cap() -> None:
    backoff = Backoff(base=0.5, maximum=4.0)
    assert [backoff.delay(n) for n in range(7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_long_failure_streak_stays_at_the_cap() -> None:
    assert Backoff(base=10.0, maximum=300.0).delay(10_000) == 300.0


def test_full_jitter_stays_within_the_delay_and_spreads() -> None:
    backoff = Backoff(base=1.0, maximum=8.0, jitter=True)
    delays = [backoff.delay(3) for _ in range(200)]
    assert all(0.0 <= d <= 4.0 for d in delays)
    assert max(delays) - min(delays) > 1.0


@pytest.mark.parametrize(
    "kwargs", [{"base": -1.0, "maximum": 1.0}, {"base": 1.0, "maximum": -1.0},
               {"base": 1.0, "maximum": 2.0, "factor": 0.5}],
)  # fmt: skip
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**kwargs)
