"""Operator commands beside a running platform (issue 20, item 9): `make manage ARGS=...` runs manage.py
on the database and Redis that `make run` started, instead of starting a second, separate Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from applications.models import Application
from portal import launcher
from portal.env import BASE_DIR
from tests.conftest import database_url_for_tests


def _manage(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "REDIS_URL")}
    env["DATA_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "portal.launcher", "manage", "--", *args],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _publish(tmp_path, pid: int) -> None:
    services = {"pid": pid, "DATABASE_URL": database_url_for_tests(), "REDIS_URL": os.environ["REDIS_URL"]}
    (tmp_path / "run-services.json").write_text(json.dumps(services))


def test_a_command_in_another_terminal_reaches_the_running_platforms_database(transactional_db, tmp_path):
    # given: a running `make run` (this process) published its services
    _publish(tmp_path, os.getpid())
    # when
    result = _manage(tmp_path, "create_app", "--name", "Night shift", "--json")
    # then: the application is in the platform's database, credentials on stdout as JSON
    assert result.returncode == 0, result.stderr
    credentials = json.loads(result.stdout)
    application = Application.objects.get(app_id=credentials["appId"])
    assert application.name == "Night shift" and application.check_secret(credentials["secret"])
    assert "embedded" not in result.stdout + result.stderr  # no second PostgreSQL or Redis started


@pytest.mark.parametrize("published", [False, True])
def test_without_a_running_platform_it_says_so_and_changes_nothing(transactional_db, tmp_path, published):
    if published:  # a file left behind by a run that was killed: its process is gone
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        _publish(tmp_path, gone.pid)
    result = _manage(tmp_path, "create_app", "--name", "Nowhere", "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "start `make run` in another terminal first" in result.stderr
    assert not Application.objects.filter(name="Nowhere").exists()


def test_make_run_publishes_its_services_privately_and_removes_them_when_it_stops(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    with launcher.published_services({"DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r:1/0"}):
        path = tmp_path / "run-services.json"
        assert path.stat().st_mode & 0o777 == 0o600
        assert launcher.running_services() == {"DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r:1/0"}
    assert not path.exists()
    assert launcher.running_services() is None
