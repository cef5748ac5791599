"""
Smoke test of the benchmarks: ``python bench/run_all.py --quick`` runs every benchmark against a
real sandbox at tiny sizes, exits 0 and prints every figure. The figures themselves are not
checked (they are meaningless at these sizes and on a shared machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN_ALL = REPO / "bench" / "run_all.py"

#: Every figure the run must print (``{d}``: each emulated server delay, 0 and 10 ms).
FIGURES = [
    "overhead.tie_median_us", "overhead.raw_median_us", "overhead.tie_mean_us",
    "overhead.raw_mean_us", "overhead.added_median_us", "overhead.ratio_median",
    "overhead.ratio_mean", "overhead.tie_thread_cpu_us", "overhead.raw_thread_cpu_us",
    "overhead.added_cpu_us", "overhead.tie_p99_us", "overhead.raw_p99_us", "overhead.stalls",
    "events.tie_rate", "events.raw_rate", "events.rate_ratio", "events.publish_rate",
    "events.tie_cpu_us_per_event", "events.raw_cpu_us_per_event",
    "events.transform_us_per_event",
    "aio.threaded_bulk_rps", "aio.async_bulk_rps", "aio.raw_async_rps", "aio.async_gather_rps",
    "aio.client_cpu_ms_per_1k.threaded_bulk", "aio.client_cpu_ms_per_1k.async_bulk",
    "aio.client_cpu_ms_per_1k.raw_async", "aio.client_cpu_ms_per_1k.async_gather",
    "aio.rps_ratio", "aio.cpu_ratio", "aio.gather_cpu_ratio",
    "cache.hit_median_us", "cache.uncached_median_us", "cache.zipf_cached_lookups_per_s",
    "cache.zipf_uncached_lookups_per_s", "cache.zipf_speedup", "cache.zipf_hit_ratio",
    "cache.zipf_stale_answers", "cache.set_to_invalidation_median_us",
    "cache.listener_cpu_us_per_event",
] + [name.format(d=delay) for delay in ("0", "10") for name in (
    "bulk_{d}ms.sequential_rps", "bulk_{d}ms.bulk_default_rps", "bulk_{d}ms.bulk_best_rps",
    "bulk_{d}ms.bulk_best_k", "bulk_{d}ms.ratio_best", "bulk_{d}ms.ratio_default",
    "bulk_{d}ms.raw_async_rps", "bulk_{d}ms.client_cpu_ms_per_1k.sequential",
    "bulk_{d}ms.client_cpu_ms_per_1k.bulk", "bulk_{d}ms.client_cpu_ms_per_1k.raw",
    "bulk_{d}ms.server_cpu_ms_per_1k.tie_emulator",
)]

# Without Mosquitto the run fails with the sandbox's "install mosquitto" message: never skipped.
pytestmark = pytest.mark.integration


def test_quick_run_prints_every_figure(tmp_path: Path) -> None:
    json_file = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(RUN_ALL), "--quick", "--json", str(json_file)],
        cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=240)
    output = proc.stdout
    assert proc.returncode == 0, "exit {}\nstdout:\n{}\nstderr:\n{}".format(
        proc.returncode, output, proc.stderr[-4000:])
    printed = {line.split()[0] for line in output.splitlines() if line.strip()}
    missing = [name for name in FIGURES if name not in printed]
    assert not missing, "figures not printed: {}\n{}".format(missing, output)
    assert "FAILED" not in output, output

    saved = json.loads(json_file.read_text())
    by_name = {figure["name"]: figure for figure in saved["figures"]}
    assert set(FIGURES) <= set(by_name)
    # Every run completed something: no rate is missing or zero.
    for name in FIGURES:
        if name.endswith("_rps") or name.endswith("_rate"):
            assert by_name[name]["value"], "{} has no value".format(name)
    assert by_name["overhead.ratio_median"]["target"] == "<= 1.05"
    assert by_name["bulk_10ms.ratio_best"]["target"] == ">= 10"
    assert by_name["aio.rps_ratio"]["target"] == ">= 0.9"
    if Path("/proc/stat").is_file():
        assert "CPU steal during the run" in output, output
