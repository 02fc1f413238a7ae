"""Rules about the zip itself: F-2.2 name, F-2.3 a zip, F-2.6 hidden files, and what an attacker would try."""

import io
import json
import warnings
import zipfile

import pytest

from products.validation import validate_archive
from tests.products.fixtures import (
    DEVICE_FILE,
    WATER_METER_ZIP,
    build_zip,
    codes,
    refused,
    service_path,
    water_meter_files,
    water_meter_zip,
    with_flag_bits,
    with_raw_name,
)


def _with(extra: dict) -> dict:
    return {**water_meter_files(), **extra}


def _zip_of_infos(entries: list[tuple[zipfile.ZipInfo, bytes]], base: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in (base if base is not None else {}).items():
            archive.writestr(name, build_zip_member(value))
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def build_zip_member(value) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def test_the_reference_example_passes():
    validated = validate_archive(WATER_METER_ZIP, water_meter_zip())
    assert validated.device["deviceType"] == "WaterMeter"


# --- F-2.3: the file is a zip ----------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"not a zip at all", b'{"devices": []}', b"PK\x03\x04 truncated", water_meter_zip()[:100]],
    ids=["empty", "text", "json", "bare-signature", "truncated"],
)
def test_anything_but_a_zip_is_refused(data):
    issues = refused(data)
    assert codes(issues) == ["PROFILE_NOT_ZIP"]
    assert "not a zip archive" in issues[0].message_en
    assert "zip" in issues[0].message_zh


def test_a_member_with_a_broken_checksum_is_damaged():
    data = bytearray(build_zip(water_meter_files(), compression=zipfile.ZIP_STORED))
    # Flip one byte inside the stored device file: its CRC no longer matches.
    start = data.find(b'"manufacturerId"')
    data[start + 2] ^= 0x20
    issues = refused(bytes(data))
    assert codes(issues) == ["PROFILE_ZIP_DAMAGED"]
    assert issues[0].file == DEVICE_FILE


# --- F-2.2: the zip's name -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["profile.zip", "WaterMeter_Huawei.zip", "WaterMeter_Huawei_v1001.rar", "WaterMeter"])
def test_a_name_not_of_the_form_devicetype_manufacturer_model_zip_is_refused(name):
    issues = refused(water_meter_files(), name)
    assert "PROFILE_ZIP_NAME" in codes(issues)
    assert name in issues[0].message_en


def test_a_name_that_does_not_match_the_device_file_names_the_expected_one():
    issues = refused(water_meter_files(), "WaterMeter_Huawei_v1002.zip")
    assert codes(issues) == ["PROFILE_ZIP_NAME_MISMATCH"]
    assert issues[0].file == DEVICE_FILE
    assert "WaterMeter_Huawei_v1001.zip" in issues[0].message_en
    assert "WaterMeter_Huawei_v1001.zip" in issues[0].message_zh


@pytest.mark.parametrize("name", ["WaterMeter_Huawei_v1001.ZIP", r"C:\Users\dev\WaterMeter_Huawei_v1001.zip"])
def test_name_accepts_an_upper_case_extension_and_a_client_path(name):
    assert validate_archive(name, water_meter_zip()).device["model"] == "v1001"


# --- F-2.6: hidden files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "member", [".DS_Store", "__MACOSX/profile/._devicetype-capability.json", "profile/.hidden.json", ".git/config"]
)
def test_hidden_files_and_folders_are_refused(member):
    issues = refused(_with({member: b"\x00\x05\x16\x07"}))
    assert codes(issues) == ["PROFILE_HIDDEN_FILE"]
    assert issues[0].file == member
    assert ".DS_Store" in issues[0].message_en and "__MACOSX" in issues[0].message_zh


def test_a_file_with_the_windows_hidden_attribute_is_refused():
    info = zipfile.ZipInfo("profile/thumbs.json")
    info.create_system = 0
    info.external_attr = 0x02  # FILE_ATTRIBUTE_HIDDEN
    issues = refused(_zip_of_infos([(info, b"{}")], water_meter_files()))
    assert codes(issues) == ["PROFILE_HIDDEN_FILE"]


# --- What an attacker would try ----------------------------------------------------------------


@pytest.mark.parametrize("member", ["../evil.json", "service/../../etc/cron.d/x", "profile/..\\..\\evil.json"])
def test_path_traversal_is_refused(member):
    issues = refused(_with({member: b"{}"}))
    assert codes(issues) == ["PROFILE_MEMBER_PATH_TRAVERSAL"]
    assert ".." in issues[0].message_en


@pytest.mark.parametrize("member", ["/etc/passwd", "C:/Windows/evil.json", "\\\\server\\share\\x.json"])
def test_absolute_paths_are_refused(member):
    issues = refused(_with({member: b"{}"}))
    assert codes(issues) == ["PROFILE_MEMBER_PATH_ABSOLUTE"]


def test_a_symbolic_link_is_refused():
    info = zipfile.ZipInfo("service/Link/profile/servicetype-capability.json")
    info.create_system = 3
    info.external_attr = 0o120777 << 16
    issues = refused(_zip_of_infos([(info, b"/etc/passwd")], water_meter_files()))
    assert codes(issues) == ["PROFILE_MEMBER_SYMLINK"]
    assert "symbolic link" in issues[0].message_en


def test_an_encrypted_member_is_refused():
    data = with_flag_bits(build_zip({DEVICE_FILE: water_meter_files()[DEVICE_FILE]}), 0x1)
    issues = refused(data)
    assert codes(issues) == ["PROFILE_MEMBER_ENCRYPTED"]
    assert issues[0].file == DEVICE_FILE


def test_a_compression_method_other_than_deflate_or_store_is_refused():
    issues = refused(build_zip(water_meter_files(), compression=zipfile.ZIP_BZIP2))
    assert set(codes(issues)) == {"PROFILE_MEMBER_COMPRESSION"}
    assert "bzip2" in issues[0].message_en


def test_a_name_given_twice_is_refused():
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate we make on purpose
        for name, value in water_meter_files().items():
            archive.writestr(name, build_zip_member(value))
        archive.writestr(DEVICE_FILE, b'{"devices": []}')
    issues = refused(buffer.getvalue())
    assert codes(issues) == ["PROFILE_MEMBER_DUPLICATE"]


def test_a_legacy_code_page_name_is_refused():
    # "水表.json" in GBK, as Windows' built-in zip on a Chinese system writes it, without the UTF-8 flag.
    data = build_zip(_with({"profile/XXXX.json": b"{}"}))
    issues = refused(with_raw_name(data, "XXXX", "水表".encode("gbk")))
    assert codes(issues) == ["PROFILE_MEMBER_NAME_NOT_UTF8"]
    assert "\\x" in issues[0].message_en


def test_a_name_flagged_utf8_that_is_not_is_refused():
    data = with_flag_bits(build_zip({"profile/XX.json": b"{}"}), 0x800)
    issues = refused(with_raw_name(data, "XX", b"\xff\xfe"))
    assert codes(issues) == ["PROFILE_MEMBER_NAME_NOT_UTF8"]


def test_thousands_of_members_are_refused_before_reading_any(settings):
    settings.PROFILE_MAX_MEMBERS = 20
    files = _with({f"service/Padding/x{number}/": b"" for number in range(30)})
    issues = refused(files)
    assert codes(issues) == ["PROFILE_TOO_MANY_MEMBERS"]
    assert "at most 20" in issues[0].message_en


def test_a_member_too_large_is_refused(settings):
    settings.PROFILE_MAX_MEMBER_BYTES = 1000
    issues = refused(water_meter_files())
    assert set(codes(issues)) == {"PROFILE_MEMBER_TOO_LARGE"}
    assert {issue.file for issue in issues} >= {service_path("WaterMeter"), service_path("WaterMeterAlarm")}


def test_a_zip_bomb_member_is_refused_by_its_compression_ratio():
    # 1.5 MiB of spaces inside valid JSON compresses about a thousand to one.
    padded = b'{"services": [' + b" " * (1536 * 1024) + b"]}"
    issues = refused(_with({service_path("Electricity"): padded}))
    assert codes(issues) == ["PROFILE_MEMBER_RATIO"]
    assert "zip bomb" in issues[0].message_en


def test_the_total_unpacked_size_is_limited(settings):
    settings.PROFILE_MAX_TOTAL_BYTES = 3000
    issues = refused(water_meter_files())
    assert codes(issues) == ["PROFILE_ARCHIVE_TOO_LARGE"]


def test_an_upload_over_the_limit_is_refused_unread(settings):
    settings.PROFILE_MAX_UPLOAD_BYTES = 500
    issues = refused(water_meter_zip())
    assert codes(issues) == ["PROFILE_UPLOAD_TOO_LARGE"]
    assert "at most 500 bytes" in issues[0].message_en


# --- The layout --------------------------------------------------------------------------------


def test_a_file_outside_the_layout_is_refused():
    issues = refused(_with({"readme.txt": b"hello", "service/WaterMeter/profile/notes.json": b"{}"}))
    assert codes(issues) == ["PROFILE_UNEXPECTED_FILE", "PROFILE_UNEXPECTED_FILE"]
    assert {issue.file for issue in issues} == {"readme.txt", "service/WaterMeter/profile/notes.json"}


def test_a_zip_without_the_device_file_is_refused():
    files = water_meter_files()
    del files[DEVICE_FILE]
    issues = refused(files, WATER_METER_ZIP)
    assert "PROFILE_DEVICE_FILE_MISSING" in codes(issues)


def test_a_zipped_folder_and_windows_separators_are_read_like_the_plain_layout():
    wrapped = {f"WaterMeter_Huawei_v1001/{name}": value for name, value in water_meter_files().items()}
    backslashed = {name.replace("/", "\\"): value for name, value in water_meter_files().items()}
    plain = validate_archive(WATER_METER_ZIP, water_meter_zip()).profile
    assert validate_archive(WATER_METER_ZIP, build_zip(wrapped)).profile == plain
    assert validate_archive(WATER_METER_ZIP, build_zip(backslashed)).profile == plain


def test_the_display_file_may_be_empty_and_is_kept():
    validated = validate_archive(WATER_METER_ZIP, build_zip(_with({"profile/devicetype-display.json": ""})))
    assert validated.profile["extraFiles"] == {"profile/devicetype-display.json": ""}


def test_a_display_file_with_bad_json_is_refused():
    issues = refused(_with({"profile/devicetype-display.json": "{oops"}))
    assert codes(issues) == ["PROFILE_JSON_SYNTAX"]
    assert issues[0].file == "profile/devicetype-display.json"


def test_directory_entries_are_fine():
    files = {"profile/": b"", "service/": b"", **water_meter_files()}
    assert validate_archive(WATER_METER_ZIP, build_zip(files)).device["deviceType"] == "WaterMeter"
