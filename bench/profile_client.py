"""
Profile mode (``run_all.py --profile``): cProfile of the client side, every thread included (the
caller's and dxlclient's), for each workload of the benchmarks, printed as the top functions by
cumulative and by own time. The profiled runs are separate from the measured ones (a profiler
slows everything down), and their figures are not reported.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional

from bench import bench_events
from bench._common import ThreadsProfiler, connect, destroy_quietly, log, make_hashes
from dxltieclient import TieClient
from dxltieclient.client import TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC


def _profiled(title: str, config_file: str, work: Callable[[Any], None]) -> str:
    profiler = ThreadsProfiler()
    client: Optional[Any] = None
    profiler.start()
    try:
        client = connect(config_file)  # inside the span: its threads get profiled
        work(client)
    finally:
        destroy_quietly(client)
        profiler.stop()
    return profiler.report(title)


def run(config_file: str, count: int) -> List[str]:
    """
    Profiles the sequential lookups, the bulk call and the event dispatch, ``count`` of each.

    :param config_file: the sandbox's client configuration
    :param count: requests or events per workload
    :return: one printable report per workload
    """
    hashes = make_hashes(count, seed=3)
    reports = []

    def sequential(client: Any) -> None:
        tie_client = TieClient(client)
        for item in hashes:
            tie_client.get_file_reputation(item)

    def bulk(client: Any) -> None:
        TieClient(client).get_file_reputations(hashes, timeout=30.0)

    def events(client: Any) -> None:
        publisher = bench_events._Publisher(config_file, TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC,
                                            timeout=30.0)
        try:
            bench_events._one_run(client, TieClient(client), publisher, "tie", count, 60.0)
        finally:
            publisher.close()

    for title, work in (("sequential get_file_reputation x{}".format(count), sequential),
                        ("bulk get_file_reputations x{} (default K)".format(count), bulk),
                        ("event dispatch to ReputationChangeCallback x{}".format(count),
                         events)):
        log("profiling: " + title)
        reports.append(_profiled(title, config_file, work))
    return reports
