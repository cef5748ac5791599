"""
The benchmarks' CPU-steal accounting: on a virtual machine whose host runs other guests, the
figures are low and noisy, and the report says so.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench._common import steal_share, system_cpu_times


def test_steal_share_is_the_steal_part_of_all_cpu_time_between_readings() -> None:
    before = {"busy": 10.0, "idle": 20.0, "steal": 1.0}
    after = {"busy": 16.0, "idle": 22.0, "steal": 3.0}
    assert steal_share(before, after) == pytest.approx(2.0 / 10.0)


def test_steal_share_is_zero_without_steal_and_unknown_without_readings() -> None:
    before = {"busy": 1.0, "idle": 1.0, "steal": 0.0}
    assert steal_share(before, {"busy": 3.0, "idle": 2.0, "steal": 0.0}) == 0.0
    assert steal_share(None, before) is None
    assert steal_share(before, None) is None
    assert steal_share(before, dict(before)) is None  # no time passed


def test_system_cpu_times_reads_proc_stat_and_only_grows() -> None:
    first = system_cpu_times()
    if not Path("/proc/stat").is_file():
        assert first is None  # no /proc: the report simply has no steal note
        return
    assert first is not None and set(first) == {"busy", "idle", "steal"}
    assert all(value >= 0 for value in first.values())
    sum(range(200000))  # some work between the readings
    second = system_cpu_times()
    assert second is not None
    assert all(second[key] >= first[key] for key in first)
