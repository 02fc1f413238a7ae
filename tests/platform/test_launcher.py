"""`make run` supervises its children: one that dies is restarted with backoff; Ctrl-C stops them all."""

from __future__ import annotations

import os
import re
import signal
import sys

import pytest

from applications.supervisor import Backoff
from portal.launcher import Supervisor
from portal.ports import free_port
from tests.platform.running import RunningPlatform, wait_for


def test_backoff_doubles_up_to_its_ceiling_and_resets_after_a_stable_run():
    backoff = Backoff(initial=1, ceiling=8, stable_after=60)
    assert [backoff.next_delay(ran_for=0.5) for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    assert backoff.next_delay(ran_for=3600) == 1
    assert backoff.next_delay(ran_for=2) == 2


def test_a_child_that_keeps_dying_is_restarted_later_each_time_and_the_others_run_on(capsys):
    supervisor = Supervisor(
        {
            "crashing": [sys.executable, "-c", "import sys; sys.exit(3)"],
            "steady": [sys.executable, "-c", "import time; time.sleep(120)"],
        },
        dict(os.environ),
        Backoff(initial=0.05, ceiling=0.4, stable_after=60),
    )
    output: list[str] = []

    def poll_until(text: str, count: int = 1):
        def seen() -> bool:
            supervisor.poll()
            output.append(capsys.readouterr().out)
            return "".join(output).count(text) >= count

        wait_for(seen, 20, f"{count} x {text!r}")

    supervisor.start_all()
    steady = supervisor.children["steady"].pid
    try:
        poll_until("exited with code 3; restarting it in", 5)
        delays = re.findall(r"crashing \(pid \d+\) exited with code 3; restarting it in ([\d.]+)s", "".join(output))
        assert delays[:5] == ["0.05", "0.1", "0.2", "0.4", "0.4"]
        assert supervisor.children["steady"].pid == steady  # the others run on
        os.kill(steady, signal.SIGKILL)
        poll_until(f"steady (pid {steady}) was killed by SIGKILL; restarting it in 0.05s")
        poll_until("started steady (pid", 2)
        assert supervisor.children["steady"].pid != steady
    finally:
        supervisor.stop_all(grace=5)
    assert all(child.poll() is not None for child in supervisor.children.values())


@pytest.mark.slow  # the whole platform (`make run`) and a SIGKILL
@pytest.mark.usefixtures("transactional_db")
def test_make_run_restarts_a_killed_worker_and_stops_everything_on_ctrl_c(tmp_path, settings):
    platform = RunningPlatform(tmp_path, REDIS_KEY_PREFIX=settings.REDIS_KEY_PREFIX)
    platform.start()
    try:
        worker = platform.pid_of("worker")
        web = platform.pid_of("web")
        mark = len(platform.lines)
        os.kill(worker, signal.SIGKILL)
        platform.wait_line(rf"worker \(pid {worker}\) was killed by SIGKILL; restarting it in 0.2s", after=mark)
        platform.wait_line(r"\[launcher\] started worker \(pid \d+\)", after=mark)
        restarted = platform.pid_of("worker")
        assert restarted != worker
        platform.wait_line(r"worker \|.*ready", after=mark)  # Celery's own "ready" line: it works again
        assert platform.pid_of("web") == web  # nothing else was touched
        assert platform.process.poll() is None
    finally:
        code = platform.stop()
    assert code == 0
    assert platform.leftovers == []
    assert "[launcher] stopped" in platform.lines[-1]


@pytest.mark.slow  # the whole platform with its embedded Redis, and a SIGKILL
@pytest.mark.usefixtures("transactional_db")
def test_the_death_of_the_embedded_redis_stops_everything(tmp_path):
    platform = RunningPlatform(tmp_path, REDIS_URL="", EMBEDDED_REDIS_PORT=str(free_port()))
    platform.start()
    try:
        redis = int(platform.wait_line(r"embedded Redis ready on 127\.0\.0\.1:\d+ \(pid (\d+)")[1])
        os.kill(redis, signal.SIGKILL)
        platform.wait_line(r"\[launcher\] the embedded Redis stopped; stopping everything")
        wait_for(lambda: platform.process.poll() is not None, 30, "the launcher to exit")
    finally:
        code = platform.stop()
    assert code == 1
    assert platform.leftovers == []
