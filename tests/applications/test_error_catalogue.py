"""Every northbound error code the platform can answer is in the catalogue and in docs/errors.md.

The codes are found where they are raised: `NorthboundError("…")`, `GatewayError("…")`, the small
helpers that build one (`_error("…")`, `_refuse("…")`, `error_body("…")`) and the paging helpers' `code="…"`. A code
raised but missing from `applications.errors` would crash the call (KeyError) instead of answering it;
one missing from docs/errors.md leaves an application developer guessing what it means.
"""

from __future__ import annotations

import re

from applications.errors import CATALOGUE, GATEWAY_CATALOGUE
from portal.env import BASE_DIR

RAISED = re.compile(r'(?:NorthboundError|GatewayError|_error|_refuse|error_body)\(\s*"(\d{6,7})"|\bcode="(\d{6,7})"')
SKIPPED = {".venv", "node_modules", "tests", "migrations"}


def _raised() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in BASE_DIR.rglob("*.py"):
        if SKIPPED & set(path.relative_to(BASE_DIR).parts):
            continue
        for match in RAISED.finditer(path.read_text()):
            found.setdefault(match.group(1) or match.group(2), set()).add(str(path.relative_to(BASE_DIR)))
    return found


def test_the_scan_finds_the_codes_of_every_api():
    # given the apps that answer northbound errors, when scanned, then each contributes codes (a scan
    # that silently found nothing would pass the checks below)
    found = _raised()
    where = {path.split("/")[0] for paths in found.values() for path in paths}
    assert {"applications", "devices", "commands", "firmware", "subscriptions"} <= where
    assert {"1010005", "100418", "123034", "105002"} <= set(found)


def test_every_raised_code_is_in_the_catalogue():
    missing = {
        code: sorted(paths) for code, paths in _raised().items() if code not in {**CATALOGUE, **GATEWAY_CATALOGUE}
    }
    assert missing == {}


def test_every_raised_code_is_documented():
    docs = (BASE_DIR / "docs" / "errors.md").read_text()
    missing = {code: sorted(paths) for code, paths in _raised().items() if not re.search(rf"(?<!\d){code}(?!\d)", docs)}
    assert missing == {}
