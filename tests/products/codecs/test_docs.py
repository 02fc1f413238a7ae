"""docs/errors.md documents every codec rule with its message and fix, as the code has them."""

from __future__ import annotations

import re

from portal.env import BASE_DIR
from products.codecs.errors import RULES


def _template(text: str) -> str:
    return re.sub(r"%\((\w+)\)s", lambda match: f"\u2039{match.group(1)}\u203a", text).replace("|", "\\|")


def test_every_codec_rule_is_documented_with_its_fix():
    docs = (BASE_DIR / "docs" / "errors.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line for line in docs.splitlines() if line.startswith("| `CODEC_")}
    assert set(rows) == set(RULES)
    for code, rule in RULES.items():
        assert _template(rule.message) in rows[code], code
        assert _template(rule.fix) in rows[code], code
