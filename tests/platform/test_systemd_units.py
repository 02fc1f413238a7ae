"""deploy/systemd/ and deploy/iot.env.example stay true to the code (docs/deployment.md).

Each unit's ExecStart must run a command that exists and accepts the unit's arguments; every variable
of the environment example must be a setting documented in docs/configuration.md (and read by the
code); `systemd-analyze verify` must accept the units when the machine has it; and the five commands,
started with the example's environment, must serve and then stop within their TimeoutStopSec when
only their main process is signalled (KillMode=mixed).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from portal.env import BASE_DIR

pytestmark = pytest.mark.deployment

UNITS = BASE_DIR / "deploy" / "systemd"
ENV_EXAMPLE = BASE_DIR / "deploy" / "iot.env.example"
CONFIGURATION = BASE_DIR / "docs" / "configuration.md"
# Where the units expect the code (a checkout of the release with its virtual environment in .venv).
INSTALLED_AT = "/opt/iot"
METRICS = ("INGRESS_METRICS_PORT", "MQTT_METRICS_PORT", "WEB_METRICS_PORT", "WORKER_METRICS_PORT", "BEAT_METRICS_PORT")
EXPECTED = {"iot-web.service", "iot-ingress.service", "iot-mqtt.service", "iot-worker.service", "iot-beat.service"}


def unit_files() -> dict[str, Path]:
    return {path.name: path for path in sorted(UNITS.glob("*.service"))}


def directives(path: Path) -> dict[str, list[str]]:
    """`Section.Key` -> values, in order (systemd allows a key more than once)."""
    found: dict[str, list[str]] = {}
    section = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        found.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return found


def exec_start(path: Path) -> list[str]:
    (command,) = directives(path)["Service.ExecStart"]
    return shlex.split(command)


def documented_settings() -> set[str]:
    """The variables of docs/configuration.md's table (its first column)."""
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", CONFIGURATION.read_text(), re.MULTILINE))


def example_variables(*, commented: bool = True) -> dict[str, str]:
    """NAME -> value of every line of the example that sets one, and of those commented out (`# NAME=value`)
    unless `commented` is false (the environment systemd would load)."""
    pattern = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$" if commented else r"^([A-Z][A-Z0-9_]*)=(.*)$")
    return {match[1]: match[2] for line in ENV_EXAMPLE.read_text().splitlines() if (match := pattern.match(line))}


def test_there_is_a_unit_for_every_process():
    assert set(unit_files()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_unit_runs_the_release_python_in_the_release_folder_with_the_environment_file(name):
    unit = directives(unit_files()[name])
    assert unit["Service.WorkingDirectory"] == [INSTALLED_AT]
    assert unit["Service.EnvironmentFile"] == ["/etc/iot/iot.env"]
    assert exec_start(unit_files()[name])[0] == f"{INSTALLED_AT}/.venv/bin/python"
    # The supervisors (run_web, run_ingress, run_mqtt) stop their own workers: SIGTERM to the main
    # process only, SIGKILL for what is left after TimeoutStopSec.
    assert unit["Service.KillMode"] == ["mixed"]


@pytest.mark.parametrize("name", ["iot-web.service", "iot-ingress.service", "iot-mqtt.service"])
def test_a_manage_py_unit_runs_an_existing_command_with_arguments_it_accepts(name):
    from django.core.management import get_commands, load_command_class

    argv = exec_start(unit_files()[name])
    assert argv[1] == "manage.py"
    command, arguments = argv[2], argv[3:]
    assert command in get_commands(), f"{name}: manage.py has no command {command!r}"
    # The command's own parser, as manage.py would build it: an unknown option raises CommandError.
    load_command_class(get_commands()[command], command).create_parser("manage.py", command).parse_args(arguments)
    help_run = subprocess.run(
        [sys.executable, "manage.py", "help", command], cwd=BASE_DIR, capture_output=True, text=True, timeout=60
    )
    assert help_run.returncode == 0, help_run.stderr


@pytest.mark.parametrize("name", ["iot-worker.service", "iot-beat.service"])
def test_a_celery_unit_runs_a_celery_command_of_this_project_with_options_it_accepts(name):
    from celery.bin.base import CLIContext
    from celery.bin.celery import celery as celery_cli

    from portal.celery import app

    argv = exec_start(unit_files()[name])
    assert argv[1:4] == ["-m", "celery", "-A"] and argv[4] == "portal"
    subcommand, arguments = argv[5], argv[6:]
    assert subcommand in celery_cli.commands, f"{name}: celery has no command {subcommand!r}"
    # Click parses (and checks: --pool's choices, numbers) the options without running the command.
    context = celery_cli.make_context("celery", ["-A", "portal", subcommand], resilient_parsing=True)
    context.obj = CLIContext(app=app, no_color=True, workdir=None)
    celery_cli.commands[subcommand].make_context(subcommand, list(arguments), parent=context)
    help_run = subprocess.run(
        [sys.executable, *argv[1:6], "--help"], cwd=BASE_DIR, capture_output=True, text=True, timeout=60
    )
    assert help_run.returncode == 0, help_run.stderr


def test_the_units_match_the_launchers_commands():
    """`make run` (portal.launcher) and the units start the same processes with the same arguments."""
    from portal import launcher

    assert exec_start(unit_files()["iot-worker.service"])[2:] == [
        "celery", "-A", "portal", "worker", "-l", "info", *launcher.WORKER_POOL,
    ]  # fmt: skip
    beat = exec_start(unit_files()["iot-beat.service"])
    assert beat[2:8] == ["celery", "-A", "portal", "beat", "-l", "info"]
    # Beat keeps its schedule in DATA_DIR, which is the units' StateDirectory (/var/lib/iot).
    assert beat[8:] == ["-s", "/var/lib/iot/celerybeat-schedule"]
    assert example_variables()["DATA_DIR"] == "/var/lib/iot"
    assert directives(unit_files()["iot-beat.service"])["Service.StateDirectory"] == ["iot"]


def test_every_variable_of_the_environment_example_is_a_documented_setting_the_code_reads():
    variables = example_variables()
    assert len(variables) >= 30
    undocumented = sorted(set(variables) - documented_settings())
    assert undocumented == [], f"not in docs/configuration.md: {undocumented}"
    sources = "\n".join(
        path.read_text() for folder in ("portal", "applications", "ingress", "devices") for path in
        (BASE_DIR / folder).rglob("*.py")
    )  # fmt: skip
    unread = sorted(name for name in variables if f'"{name}"' not in sources)
    assert unread == [], f"documented but read nowhere: {unread}"


def test_the_environment_example_is_accepted_by_the_settings():
    """Loaded as systemd would, the example gives settings Django accepts (no typo in a number or a
    boolean: those stop the process with a line naming the variable)."""
    environment = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    for name, value in example_variables(commented=False).items():
        environment[name] = value.strip('"')
    environment["DATA_DIR"] = str(BASE_DIR / "data")  # /var/lib/iot does not exist on a developer machine
    run = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "System check identified no issues" in run.stdout


def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip(
            "systemd-analyze is not installed here (Debian package systemd); the other tests still check the units"
        )
    # verify checks that ExecStart's program exists: the units point at /opt/iot, this checkout stands in.
    for name, path in unit_files().items():
        (tmp_path / name).write_text(path.read_text().replace(INSTALLED_AT, str(BASE_DIR)))
    run = subprocess.run(
        [analyze, "verify", *sorted(str(path) for path in tmp_path.glob("*.service"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (run.returncode, run.stderr.strip()) == (0, "")


def test_the_guide_names_each_units_command():
    """docs/deployment.md's process table gives each unit the command its ExecStart runs."""
    guide = (BASE_DIR / "docs" / "deployment.md").read_text()
    rows = dict(re.findall(r"^\| `(iot-[a-z]+\.service)` \| `([^`]+)` \|", guide, re.MULTILINE))
    assert set(rows) == EXPECTED
    for name, path in unit_files().items():
        assert ["python", *exec_start(path)[1:]] == shlex.split(rows[name]), name


def _session_pids(session: int) -> set[int]:
    import psutil

    found = set()
    for process in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error, OSError):  # gone meanwhile
            if os.getsid(process.pid) == session and process.status() != psutil.STATUS_ZOMBIE:
                found.add(process.pid)
    return found


def _answers(url: str, text: str) -> bool:
    import httpx

    try:
        response = httpx.get(url, timeout=2)
    except httpx.TransportError:
        return False
    return response.status_code == 200 and text in response.text


@pytest.mark.usefixtures("transactional_db")
def test_each_unit_starts_with_the_example_environment_serves_and_stops_on_sigterm_to_its_main_process(tmp_path):
    """The five ExecStart commands, with the example's environment (addresses, ports and the database
    this test's), become ready (web: /livez; the others: their /metrics port from the example's bases),
    and each stops, workers included, within its TimeoutStopSec after SIGTERM to the main process only,
    which is what KillMode=mixed sends."""
    from django.conf import settings

    from portal.ports import free_port
    from tests.conftest import database_url_for_tests
    from tests.platform.running import free_udp_port, wait_for

    loaded = example_variables(commented=False)
    environment = {**os.environ, **{name: value.strip('"') for name, value in loaded.items()}}
    environment.pop("DEVICE_SECRET_KEYS")  # derived from SECRET_KEY, as the test process's own
    ports = {name: free_port() for name in ("HTTP_PORT", "MQTT_PORT", *METRICS)}
    environment.update(
        {name: str(port) for name, port in ports.items()},
        DATABASE_URL=database_url_for_tests(),
        REDIS_URL=os.environ["REDIS_URL"],
        REDIS_KEY_PREFIX=settings.REDIS_KEY_PREFIX,
        SECRET_KEY=settings.SECRET_KEY,
        DATA_DIR=str(tmp_path),
        ALLOWED_HOSTS="127.0.0.1",
        BIND_ADDRESS="127.0.0.1",
        INGRESS_BIND_ADDRESS="127.0.0.1",
        COAP_PORT=str(free_udp_port()),
        COAPS_PORT=str(free_udp_port()),
    )
    ready = {
        "iot-web.service": f"http://127.0.0.1:{ports['HTTP_PORT']}/livez",
        "iot-ingress.service": f"http://127.0.0.1:{ports['INGRESS_METRICS_PORT']}/metrics",
        "iot-mqtt.service": f"http://127.0.0.1:{ports['MQTT_METRICS_PORT']}/metrics",
        "iot-worker.service": f"http://127.0.0.1:{ports['WORKER_METRICS_PORT']}/metrics",
        "iot-beat.service": f"http://127.0.0.1:{ports['BEAT_METRICS_PORT']}/metrics",
    }
    started: dict[str, subprocess.Popen] = {}
    try:
        for name, path in unit_files().items():
            argv = [sys.executable, *exec_start(path)[1:]]
            argv = [part.replace("/var/lib/iot", str(tmp_path)) for part in argv]
            with (tmp_path / f"{name}.log").open("wb") as log:
                started[name] = subprocess.Popen(
                    argv, cwd=BASE_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
        for name, url in ready.items():
            expected = "ok" if url.endswith("/livez") else "platform_"
            output = tmp_path / f"{name}.log"
            try:
                wait_for(lambda url=url, expected=expected: _answers(url, expected), 60, f"{name} at {url}")
            except AssertionError as failure:
                raise AssertionError(f"{failure}; its output: {output.read_text()[-3000:]}") from None
            assert started[name].poll() is None, f"{name} exited: {output.read_text()[-3000:]}"
        for name, process in started.items():
            timeout = int(directives(unit_files()[name])["Service.TimeoutStopSec"][0])
            assert len(_session_pids(process.pid)) >= 1
            process.send_signal(signal.SIGTERM)  # the main process only
            wait_for(lambda pid=process.pid: not _session_pids(pid), timeout, f"{name} to stop within {timeout}s")
            assert process.wait(timeout=5) in (0, -signal.SIGTERM), name
    finally:
        for process in started.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
