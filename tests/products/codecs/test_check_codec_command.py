"""`python manage.py check_codec PATH`: the checker from the command line, on a zip or a folder."""

from __future__ import annotations

import copy
import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import manage
from tests.products.codecs.fixtures import (
    OCEANCONNECT_VECTORS,
    meter,
    oceanconnect_files,
    oceanconnect_zip,
    profile_zip,
)


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("check_codec", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _refused(*args: str) -> tuple[str, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("check_codec", *args, stdout=out, stderr=err)
    return str(refused.value), out.getvalue(), err.getvalue()


def test_a_good_zip_passes(tmp_path):
    path = tmp_path / "codec.zip"
    path.write_bytes(oceanconnect_zip())
    out, err = _run(str(path))
    assert "codec.zip: Acme m1, version 1.0.0, entry codec.js" in out
    assert "functions: decode, encode" in out
    assert "decode vector 'report': ok" in out and "encode vector 'ack': ok" in out
    assert "µs per call" in out and out.rstrip().endswith("passed")
    assert err == ""


def test_a_folder_with_any_characters_in_its_path_f_3_10(tmp_path):
    folder = tmp_path / "插件 ü" / "meter codec"
    folder.mkdir(parents=True)
    for name, value in oceanconnect_files().items():
        (folder / name).write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")
    out, _err = _run(str(folder))
    assert out.rstrip().endswith("passed")


def test_a_bad_plugin_lists_each_issue_with_its_fix(tmp_path):
    vectors = copy.deepcopy(OCEANCONNECT_VECTORS)
    vectors["encode"][0]["expected"] = "00"
    path = tmp_path / "codec.zip"
    path.write_bytes(oceanconnect_zip(**{"vectors.json": vectors}))
    message, out, err = _refused(str(path))
    assert message == "the plugin was refused (1 issue)"
    assert "encode vector 'set period': FAILED" in out
    assert "vectors.json $.encode[0]: CODEC_VECTOR_FAILED: The vector “set period” expected 00" in err
    assert "    fix: Fix the plugin, or the vector if the plugin is right." in err


def test_json_output(tmp_path):
    path = tmp_path / "codec.zip"
    path.write_bytes(oceanconnect_zip(**{"codec.js": "var x = ;"}))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_codec", str(path), "--json", stdout=out, stderr=io.StringIO())
    body = json.loads(out.getvalue())
    assert body["error_code"] == "100022" and body["errors"][0]["code"] == "CODEC_JS_SYNTAX"
    assert body["check"]["passed"] is False


def test_against_a_profile_zip_or_a_stored_product(tmp_path, owner_app):
    vectors = copy.deepcopy(OCEANCONNECT_VECTORS)
    vectors["decode"][0]["payload"] = "01 000004D2 00C8"
    vectors["decode"][0]["expected"]["data"][0]["serviceData"]["temperature"] = 200
    plugin = tmp_path / "codec.zip"
    plugin.write_bytes(oceanconnect_zip(**{"vectors.json": vectors}))
    assert _run(str(plugin))[0].rstrip().endswith("passed")
    name, data = profile_zip()
    profile = tmp_path / name
    profile.write_bytes(data)
    _message, _out, err = _refused(str(plugin), "--profile", str(profile))
    assert "CODEC_VALUE_RANGE: The value 200 is outside -40 to 125." in err
    product = meter(owner_app)
    _message, _out, err = _refused(str(plugin), "--product", str(product.product_id))
    assert "CODEC_VALUE_RANGE" in err


def test_a_missing_path(tmp_path):
    with pytest.raises(CommandError, match="no such file or folder"):
        call_command("check_codec", str(tmp_path / "nothing.zip"))


@pytest.mark.django_db(transaction=True)
def test_the_real_command_exits_with_status_1_when_refused(tmp_path):
    path = tmp_path / "codec.zip"
    path.write_bytes(oceanconnect_zip(**{"codec.js": "function parse(bytes) { return null; }"}))
    result = manage("check_codec", str(path))
    assert result.returncode == 1
    assert "CODEC_JS_EXPORTS" in result.stderr
    path.write_bytes(oceanconnect_zip(**{"vectors.json": None}))
    result = manage("check_codec", str(path))
    assert result.returncode == 0
    assert "warning: " in result.stdout and "CODEC_VECTORS_MISSING" in result.stdout
    path.write_bytes(oceanconnect_zip())
    assert manage("check_codec", str(path)).returncode == 0
