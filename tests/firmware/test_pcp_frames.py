"""Huawei PCP frames (firmware.pcp): the check code against Huawei's worked example, and round trips."""

import pytest

from firmware import pcp

# Huawei's example of an upgrade result report: code 0x18, result 0, version "V1.0"; check code C7D2.
HUAWEI_EXAMPLE = bytes.fromhex("FFFE0118C7D200110056312E30000000000000000000000000")


def test_the_check_code_is_the_one_of_huaweis_example():
    frame = pcp.decode(HUAWEI_EXAMPLE)
    assert (frame.code, frame.data[0], pcp.version_text(frame.data[1:])) == (pcp.UPGRADE_RESULT, 0, "V1.0")
    assert pcp.Frame(pcp.UPGRADE_RESULT, frame.data).encode() == HUAWEI_EXAMPLE


def test_new_version_notice_layout():
    raw = pcp.new_version("V2.0", 500, 7, 0xBEEF)
    frame = pcp.decode(raw)
    assert raw[:4] == b"\xff\xfe\x01\x14" and raw[6:8] == b"\x00\x16"
    assert frame.data == b"V2.0" + b"\x00" * 12 + b"\x01\xf4\x00\x07\xbe\xef"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"\xff\xfe\x01", "shorter than a PCP header"),
        (HUAWEI_EXAMPLE[:-1], "data length field says 17 bytes, 16 came"),
        (HUAWEI_EXAMPLE[:4] + b"\x00\x00" + HUAWEI_EXAMPLE[6:], "check code 0000, computed C7D2"),
        (b"\xff\xfe\x02" + HUAWEI_EXAMPLE[3:], "protocol version 2"),
    ],
)
def test_a_frame_that_cannot_be_read_says_why(raw, problem):
    with pytest.raises(pcp.FrameError, match=problem):
        pcp.decode(raw)
