"""The landing sensor is evaluated at the cadence users configure, under Dagster's daemon loop.

The daemon's own skip rule (``dagster._daemon.sensor.is_under_min_interval``) is replayed over
its wake-ups, every MIN_INTERVAL_LOOP_TIME seconds, with each tick starting a varying few
milliseconds after its wake-up (other sensors, storage calls), as it does in the daemon.
"""

import itertools
import random
from types import SimpleNamespace

import pytest
from dagster._core.scheduler.instigation import SensorInstigatorData
from dagster._daemon import sensor as sensor_daemon

from stock_assets.definitions import build_definitions
from stock_assets.sensors import daemon_minimum_interval
from stock_assets.settings import Settings

MAX_TICK_START_DELAY = 0.05  # seconds from the daemon waking to the tick's start timestamp


def tick_times(minimum_interval: int, wakeups: int, monkeypatch) -> list[float]:
    """When the daemon starts ticks over `wakeups` loops, by its own skip rule."""
    loop = sensor_daemon.MIN_INTERVAL_LOOP_TIME
    remote_sensor = SimpleNamespace(min_interval_seconds=minimum_interval)
    delays = random.Random(7)
    ticks: list[float] = []
    for n in range(wakeups):
        now = n * loop + delays.uniform(0, MAX_TICK_START_DELAY)
        monkeypatch.setattr(sensor_daemon, "get_current_timestamp", lambda now=now: now)
        data = SensorInstigatorData(last_tick_start_timestamp=ticks[-1]) if ticks else None
        if not sensor_daemon.is_under_min_interval(
            SimpleNamespace(instigator_data=data), remote_sensor
        ):
            ticks.append(now)
    return ticks


def spacings(ticks: list[float]) -> set[float]:
    return {round(b - a) for a, b in itertools.pairwise(ticks)}


def test_dagster_ticks_a_plain_5_s_interval_every_5_or_10_s(monkeypatch):
    # Why the mapping exists (if Dagster's loop changes, this shows it): a tick that starts
    # earlier after its wake-up than the last one finds just under 5 s elapsed.
    assert spacings(tick_times(5, 40, monkeypatch)) == {5.0, 10.0}


@pytest.mark.parametrize("cadence", [5, 10, 30, 60])
def test_configured_cadence_is_the_observed_one(cadence, monkeypatch):
    ticks = tick_times(daemon_minimum_interval(cadence), 40, monkeypatch)
    assert spacings(ticks) == {float(cadence)}


def test_cadence_below_the_daemon_loop_is_the_loop(monkeypatch):
    assert spacings(tick_times(daemon_minimum_interval(2), 12, monkeypatch)) == {5.0}


def test_cadence_comes_from_the_settings(tmp_path):
    def interval(environ: dict[str, str]) -> int:
        settings = Settings.from_env({"STOCK_ASSETS_DATA_DIR": str(tmp_path), **environ})
        defs = build_definitions(settings)
        return defs.resolve_sensor_def("landing_arrivals_sensor").minimum_interval_seconds

    assert interval({"STOCK_ASSETS_SENSOR_INTERVAL_SECONDS": "5"}) == daemon_minimum_interval(5)
    assert interval({}) == daemon_minimum_interval(10) == 9


@pytest.mark.parametrize("text", ["five", "2.5"])
def test_a_cadence_that_is_not_whole_seconds_is_refused(text):
    with pytest.raises(ValueError, match="STOCK_ASSETS_SENSOR_INTERVAL_SECONDS"):
        Settings.from_env({"STOCK_ASSETS_SENSOR_INTERVAL_SECONDS": text})


def test_a_cadence_below_one_second_is_refused():
    with pytest.raises(ValueError, match="at least 1 s"):
        daemon_minimum_interval(0)
