"""The harness shared by tests/, ops/ and bench/: its one percentile definition and its loopback-only rule."""
from __future__ import annotations

import pytest

from harness import servers
from harness.stats import percentile


@pytest.mark.parametrize("values, p, expected", [
    ([1, 2, 3, 4], 50, 3),                 # rank floor(0.5 * 4) + 1 = 3: wrk's rank, one past nearest-rank's 2
    ([1, 2, 3, 4, 5], 50, 3),              # rank floor(2.5) + 1 = 3, as nearest-rank
    (list(range(1, 101)), 99, 100),        # rank floor(99) + 1 = 100
    (list(range(1, 1001)), 99, 991),       # rank floor(990) + 1 = 991
    (list(range(1, 1001)), 0, 1),
    (list(range(1, 1001)), 100, 1000),     # clamped to the largest sample
    ([7], 99, 7),
])
def test_percentile_is_the_sample_of_rank_floor_pn_plus_one(values, p, expected):
    assert percentile(values, p) == expected


def test_percentile_of_nothing_is_nan():
    assert percentile([], 99) != percentile([], 99)


def test_the_harness_refuses_an_address_outside_loopback():
    with pytest.raises(SystemExit):
        servers.free_port("0.0.0.0")
    assert 0 < servers.free_port() < 65536
