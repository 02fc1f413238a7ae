"""Known vulnerabilities of every locked package: fail unless each is allow-listed, with a reason, until
an expiry date.

    .venv/bin/python .ci/audit.py                     # `make audit`: no advisory data is a failure
    .venv/bin/python .ci/audit.py --unreachable warn  # .ci/run on this workplace (see below)

pip-audit reads the lock files (pinned, hashed: no resolution, no install) and asks PyPI's JSON API
for the advisories of each release (`-s pypi`: PyPI is the one advisory source this machine and CI
reach; OSV is not). The allow-list, requirements/audit-allowlist.toml, holds entries

    [[allow]]
    id = "GHSA-xxxx-xxxx-xxxx"     # or PYSEC-..., CVE-...: any of the advisory's ids or aliases
    package = "somepackage"
    reason = "why it does not reach us, or what waits on the fix"
    expires = 2027-03-31           # then the audit fails again until someone looks

An entry without a reason or an expiry, or past its expiry, fails the audit too.

A package pip-audit could not look up is not audited, and says nothing about vulnerabilities. Some
packages skipped while others were found: a failure (a package PyPI does not know). Every package
skipped: the advisory source is out of reach (on this workplace, whose network reaches PyPI only
through a proxy that answers the per-release JSON API with 404, and OSV not at all). The audit then
says so in capitals and fails, unless `--unreachable warn`, which .ci/run passes so that CI here stays
usable; wherever PyPI itself is reachable the audit runs for real.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = [ROOT / "requirements" / "runtime.txt", ROOT / "requirements" / "dev.txt"]
ALLOWLIST = ROOT / "requirements" / "audit-allowlist.toml"


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    ids: frozenset[str]  # the advisory's id and its aliases
    fix_versions: tuple[str, ...]

    def __str__(self) -> str:
        fixed = f", fixed in {', '.join(self.fix_versions)}" if self.fix_versions else ", no fixed release"
        return f"{self.package} {self.version}: {', '.join(sorted(self.ids))}{fixed}"


def findings_of(report: dict) -> list[Finding]:
    """The vulnerabilities in pip-audit's JSON report."""
    found = []
    for dependency in report.get("dependencies", []):
        for vuln in dependency.get("vulns", []):
            ids = frozenset([vuln["id"], *vuln.get("aliases", [])])
            found.append(Finding(dependency["name"], dependency["version"], ids, tuple(vuln.get("fix_versions", []))))
    return found


def problems_of_allowlist(entries: list[dict], today: dt.date) -> list[str]:
    """Entries that cannot excuse anything: incomplete or expired."""
    problems = []
    for number, entry in enumerate(entries, 1):
        name = entry.get("id", f"entry {number}")
        missing = [field for field in ("id", "package", "reason", "expires") if not entry.get(field)]
        if missing:
            problems.append(f"allow-list {name}: missing {', '.join(missing)}")
        elif not isinstance(entry["expires"], dt.date):
            problems.append(f"allow-list {name}: expires must be a date (YYYY-MM-DD), not {entry['expires']!r}")
        elif entry["expires"] < today:
            problems.append(f"allow-list {name} ({entry['package']}) expired on {entry['expires']}: look at it again")
    return problems


def judge(findings: list[Finding], entries: list[dict], today: dt.date) -> tuple[list[str], list[str]]:
    """(failures, notes): a finding fails unless a valid, unexpired entry names one of its ids for its package."""
    failures = problems_of_allowlist(entries, today)
    valid = [entry for entry in entries if not problems_of_allowlist([entry], today)]
    notes, used = [], set()
    for finding in findings:
        entry = next(
            (
                entry
                for entry in valid
                if entry["id"] in finding.ids and entry["package"].lower() == finding.package.lower()
            ),
            None,
        )
        if entry is None:
            failures.append(f"vulnerable: {finding}")
        else:
            used.add(entry["id"])
            notes.append(f"allowed until {entry['expires']}: {finding} ({entry['reason']})")
    notes += [
        f"allow-list {entry['id']} matches nothing any more: remove it" for entry in valid if entry["id"] not in used
    ]
    return failures, notes


def skipped_of(report: dict) -> list[str]:
    """The packages pip-audit could not look up, with its reason."""
    return [dep.get("skip_reason", dep["name"]) for dep in report.get("dependencies", []) if "skip_reason" in dep]


def coverage_problems(report: dict, unreachable: str) -> tuple[list[str], list[str]]:
    """(failures, warnings) about packages that were not audited at all."""
    skipped, total = skipped_of(report), len(report.get("dependencies", []))
    if not skipped:
        return [], []
    if len(skipped) < total:
        return [f"not audited: {reason}" for reason in skipped], []
    message = (
        f"NOT AUDITED: none of the {total} locked packages could be looked up (the advisory source, PyPI's "
        f"per-release JSON API, is out of reach: {skipped[0]})"
    )
    return ([], [message]) if unreachable == "warn" else ([message], [])


def run_pip_audit() -> dict:
    command = [sys.executable, "-m", "pip_audit", "--disable-pip", "--require-hashes", "-s", "pypi"]
    command += [arg for lock in LOCKS for arg in ("-r", str(lock))]
    command += ["-f", "json", "--progress-spinner", "off"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if not done.stdout.strip():  # pip-audit exits 1 when it finds something; no report at all is an error
        sys.stderr.write(done.stderr)
        raise SystemExit(f"pip-audit produced no report (exit {done.returncode})")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--unreachable", choices=["fail", "warn"], default="fail")
    args = parser.parse_args(argv)
    entries = tomllib.loads(ALLOWLIST.read_text()).get("allow", []) if ALLOWLIST.exists() else []
    report = run_pip_audit()
    failures, notes = judge(findings_of(report), entries, dt.date.today())
    missing, warnings = coverage_problems(report, args.unreachable)
    failures += missing
    for line in notes:
        print(line)
    for line in [*warnings, *failures]:
        print(line, file=sys.stderr)
    audited = len(report.get("dependencies", [])) - len(skipped_of(report))
    print(
        f"audit: {audited} of {len(report.get('dependencies', []))} locked packages audited, {len(failures)} problem(s)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
