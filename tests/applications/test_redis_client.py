"""applications.redis.get_redis: one client per process, even when threads ask for it first at once."""

import threading
import time

from applications import redis as ours


def test_threads_asking_at_once_share_one_client(monkeypatch):
    monkeypatch.setattr(ours, "_client", None)
    made = []
    original = ours.redis.Redis.from_url

    def slow_from_url(*args, **kwargs):
        made.append(True)
        time.sleep(0.05)  # a wide window for the other threads to come in (without the lock: 8 clients)
        return original(*args, **kwargs)

    monkeypatch.setattr(ours.redis.Redis, "from_url", slow_from_url)
    clients = []
    threads = [threading.Thread(target=lambda: clients.append(ours.get_redis())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1
    assert len({id(client) for client in clients}) == 1
