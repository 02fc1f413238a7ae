"""Every rule has a code documented in docs/errors.md and a message in English and Chinese."""

import re

import pytest
from django.utils import translation

from portal.env import BASE_DIR
from products.validation import RULES, ProfileIssue, Raw

DOC = (BASE_DIR / "docs" / "errors.md").read_text()


def test_every_code_is_documented_and_every_documented_code_exists():
    rows = set(re.findall(r"^\| `(PROFILE_[A-Z0-9_]+)` \|", DOC, re.MULTILINE))
    settings = {name for name in rows if name.startswith("PROFILE_MAX_")}
    assert rows - settings == set(RULES)


@pytest.mark.parametrize("code", sorted(RULES))
def test_every_rule_speaks_english_and_chinese(code):
    rule = RULES[code]
    placeholders = set(re.findall(r"%\((\w+)\)s", rule.message))
    assert placeholders == set(re.findall(r"%\((\w+)\)s", rule.message_zh))
    issue = ProfileIssue(code, params={name: Raw("X") for name in placeholders})
    assert issue.message_en.isascii()
    assert re.search(r"[\u4e00-\u9fff]", issue.message_zh)


def test_the_portal_shows_chinese_until_the_catalogue_translates():
    issue = ProfileIssue("PROFILE_NOT_ZIP")
    with translation.override("zh-hans"):
        assert issue.message == issue.message_zh
    with translation.override("en"):
        assert issue.message == issue.message_en


def test_values_from_the_profile_are_quoted_and_our_words_are_not():
    issue = ProfileIssue("PROFILE_DATA_TYPE", params={"value": "float"})
    assert issue.message_en.startswith("dataType “float” must")
    numbers = ProfileIssue("PROFILE_RANGE", params={"min": Raw(5), "max": Raw(1)})
    assert numbers.message_en == "min 5 is greater than max 1."


def test_an_issue_prints_where_then_what():
    issue = ProfileIssue("PROFILE_JSON_SYNTAX", file="a.json", line=3, column=4, params={"detail": Raw("oops")})
    assert str(issue) == "a.json:3:4: PROFILE_JSON_SYNTAX: The input format is wrong, the file is not valid JSON: oops."
