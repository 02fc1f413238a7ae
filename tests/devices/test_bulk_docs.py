"""docs/errors.md documents every bulk registration code with its message, as devices.bulk has them."""

from __future__ import annotations

import re

from devices.bulk import MESSAGES
from portal.env import BASE_DIR


def _template(text: str) -> str:
    return re.sub(r"%\((\w+)\)s", lambda match: f"\u2039{match.group(1)}\u203a", text).replace("|", "\\|")


def test_every_bulk_code_is_documented_with_its_message():
    docs = (BASE_DIR / "docs" / "errors.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line for line in docs.splitlines() if line.startswith("| `BULK_")}
    assert set(rows) == set(MESSAGES)
    for code, message in MESSAGES.items():
        assert _template(str(message)) in rows[code], code
