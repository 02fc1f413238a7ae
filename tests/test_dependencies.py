"""The lock files and the vulnerability audit: every package pinned with hashes, every direct requirement in
its lock at its pinned version, and the audit's verdict on findings and the allow-list."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
spec = importlib.util.spec_from_file_location("ci_audit", ROOT / ".ci" / "audit.py")
audit = sys.modules["ci_audit"] = importlib.util.module_from_spec(spec)  # dataclasses look their module up
spec.loader.exec_module(audit)

TODAY = dt.date(2026, 12, 7)
FINDING = {
    "dependencies": [
        {"name": "django", "version": "5.2.19", "vulns": []},
        {
            "name": "somepackage",
            "version": "1.0",
            "vulns": [{"id": "PYSEC-2026-1", "aliases": ["GHSA-aaaa-bbbb-cccc"], "fix_versions": ["1.1"]}],
        },
    ]
}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^ ;\\]+)", line)
        if match:
            found[normalized(match.group(1))] = match.group(3)
    return found


@pytest.mark.parametrize("lock", ["runtime.txt", "dev.txt"])
def test_every_locked_package_is_pinned_with_hashes(lock):
    text = (REQUIREMENTS / lock).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])  # after uv's two header lines
    assert len(entries) > 50
    for entry in entries:
        assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?==\S+ \\\n    --hash=sha256:[0-9a-f]{64}", entry), (
            entry
        )


@pytest.mark.parametrize(("source", "lock"), [("runtime.in", "runtime.txt"), ("dev.in", "dev.txt")])
def test_every_direct_requirement_is_in_its_lock_at_its_pin(source, lock):
    # Fails when someone edits a .in file without `make lock`.
    locked = pins(REQUIREMENTS / lock)
    wanted = pins(REQUIREMENTS / source)
    assert wanted
    assert {name: locked.get(name) for name in wanted} == wanted


def test_the_dev_lock_keeps_the_runtime_lock_s_versions():
    runtime, dev = pins(REQUIREMENTS / "runtime.txt"), pins(REQUIREMENTS / "dev.txt")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_a_known_vulnerability_fails_the_audit():
    failures, _ = audit.judge(audit.findings_of(FINDING), [], TODAY)

    assert failures == ["vulnerable: somepackage 1.0: GHSA-aaaa-bbbb-cccc, PYSEC-2026-1, fixed in 1.1"]


def test_an_allow_listed_vulnerability_passes_until_its_expiry():
    entry = {"id": "GHSA-aaaa-bbbb-cccc", "package": "SomePackage", "reason": "never called", "expires": TODAY}

    failures, notes = audit.judge(audit.findings_of(FINDING), [entry], TODAY)
    expired, _ = audit.judge(audit.findings_of(FINDING), [entry], TODAY + dt.timedelta(days=1))

    assert failures == [] and notes[0].startswith("allowed until 2026-12-07: somepackage 1.0")
    assert expired[0] == "allow-list GHSA-aaaa-bbbb-cccc (SomePackage) expired on 2026-12-07: look at it again"
    assert "vulnerable: somepackage 1.0: GHSA-aaaa-bbbb-cccc, PYSEC-2026-1, fixed in 1.1" in expired


def test_an_entry_without_a_reason_or_for_another_package_excuses_nothing():
    no_reason = {"id": "PYSEC-2026-1", "package": "somepackage", "reason": "", "expires": TODAY}
    other = {"id": "PYSEC-2026-1", "package": "otherpackage", "reason": "x", "expires": TODAY}

    failures, notes = audit.judge(audit.findings_of(FINDING), [no_reason, other], TODAY)

    assert failures == [
        "allow-list PYSEC-2026-1: missing reason",
        "vulnerable: somepackage 1.0: GHSA-aaaa-bbbb-cccc, PYSEC-2026-1, fixed in 1.1",
    ]
    assert notes == ["allow-list PYSEC-2026-1 matches nothing any more: remove it"]


def test_the_allow_list_in_the_repository_is_valid():
    import tomllib

    entries = tomllib.loads((REQUIREMENTS / "audit-allowlist.toml").read_text()).get("allow", [])
    assert audit.problems_of_allowlist(entries, dt.date.today()) == []


def test_packages_the_audit_could_not_look_up_are_not_taken_for_safe():
    some = {"dependencies": [{"name": "a", "version": "1", "vulns": []}, {"name": "b", "skip_reason": "b: not found"}]}
    none = {
        "dependencies": [{"name": "a", "skip_reason": "a: not found"}, {"name": "b", "skip_reason": "b: not found"}]
    }

    assert audit.coverage_problems(some, "warn") == (["not audited: b: not found"], [])
    failures, _ = audit.coverage_problems(none, "fail")
    assert failures[0].startswith("NOT AUDITED: none of the 2 locked packages could be looked up")
    failures, warnings = audit.coverage_problems(none, "warn")
    assert failures == [] and warnings[0].startswith("NOT AUDITED")
