"""The arrivals sensor's cost per tick does not grow with the landing zone's history.

100,000 consumed objects (a year and more of one file a minute) against an empty zone, on
S3 (moto's server on loopback, over HTTP) and on the local folder; the measure is requests
(folders read, locally), never time: the benchmark (benchmarks/bench_arrivals.py) times it.
"""

import pytest

from stock_assets_tests.arrivals_scale import LocalZone, measure_ticks, s3_zone

HISTORY = 100_000
ROUNDS = 3


def assert_scales(empty, full) -> None:
    assert full.calls <= 1.5 * empty.calls, (full.calls, empty.calls)
    # Exactly once: each new object in one run request, none of the history ever.
    for zone in (empty, full):
        assert zone.requested == zone.landed and len(set(zone.landed)) == ROUNDS


@pytest.mark.slow
def test_s3_list_requests_per_tick_do_not_grow_with_consumed_objects():
    with s3_zone() as zone:
        empty = measure_ticks(zone, 0, ROUNDS)
    with s3_zone() as zone:
        full = measure_ticks(zone, HISTORY, ROUNDS)
    assert full.calls > 0 and full.warmup_calls >= 1
    assert_scales(empty, full)


@pytest.mark.slow
def test_local_folders_read_per_tick_do_not_grow_with_consumed_objects(tmp_path):
    empty = measure_ticks(LocalZone(str(tmp_path / "empty")), 0, ROUNDS)
    full = measure_ticks(LocalZone(str(tmp_path / "full")), HISTORY, ROUNDS)
    assert_scales(empty, full)
