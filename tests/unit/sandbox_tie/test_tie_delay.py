"""The emulated server delay: replies are due a fixed time after arrival, without blocking."""

from __future__ import annotations

import threading
import time
from typing import List

from dxltieclient.sandbox.tie.emulator import DelayedSender


def test_no_delay_runs_the_action_at_once_in_the_callers_thread() -> None:
    sender = DelayedSender(0)
    ran: List[str] = []
    sender.submit(lambda: ran.append(threading.current_thread().name))
    assert ran == [threading.current_thread().name]
    sender.close()


def test_an_action_runs_no_sooner_than_the_delay_and_submit_does_not_block() -> None:
    sender = DelayedSender(1000)
    done = threading.Event()
    ran_at: List[float] = []
    try:
        start = time.monotonic()
        sender.submit(lambda: (ran_at.append(time.monotonic()), done.set()), start)
        # submit returned well before the delay ran out (a wide margin for a busy machine)
        assert time.monotonic() - start < 0.5
        assert not done.is_set()
        assert done.wait(10)
        assert ran_at[0] - start >= 1.0
    finally:
        sender.close()


def test_many_pending_actions_overlap() -> None:
    sender = DelayedSender(200)
    count = 50
    finished = threading.Event()
    lock = threading.Lock()
    times: List[float] = []

    def action() -> None:
        with lock:
            times.append(time.monotonic())
            if len(times) == count:
                finished.set()

    try:
        start = time.monotonic()
        for _ in range(count):
            sender.submit(action)
        assert finished.wait(5)
        # serial delays would take 10 s; overlapping ones all finish around 0.2 s
        assert max(times) - start < 1.5
        assert min(times) - start >= 0.2
    finally:
        sender.close()


def test_actions_run_in_due_order_whatever_the_submission_order() -> None:
    sender = DelayedSender(50)
    order: List[str] = []
    done = threading.Event()
    try:
        now = time.monotonic()
        sender.submit(lambda: (order.append("late"), done.set()), now + 0.1)
        sender.submit(lambda: order.append("early"), now)
        assert done.wait(5)
        assert order == ["early", "late"]
    finally:
        sender.close()


def test_a_failing_action_is_logged_and_the_scheduler_keeps_going(caplog) -> None:
    sender = DelayedSender(10)
    done = threading.Event()
    try:
        with caplog.at_level("ERROR", logger="dxltieclient.sandbox.tie.emulator"):
            sender.submit(lambda: 1 / 0)
            sender.submit(done.set)
            assert done.wait(5)
        assert "failed to send" in caplog.text
    finally:
        sender.close()


def test_close_runs_the_pending_actions_at_once() -> None:
    sender = DelayedSender(60_000)
    ran: List[int] = []
    sender.submit(lambda: ran.append(1))
    sender.submit(lambda: ran.append(2))
    start = time.monotonic()
    sender.close()
    assert sorted(ran) == [1, 2]
    assert time.monotonic() - start < 5
    sender.submit(lambda: ran.append(3))  # after close: at once
    assert ran[-1] == 3
