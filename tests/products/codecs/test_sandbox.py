"""JavaScript plugins in the sandbox: limits on every call, the plugin's own errors, logs, batches.

A plugin that loops, allocates without end, throws or returns the wrong shape gives a clear error
and the platform's process carries on; so does one that makes V8 abort its whole process.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from products.codecs.package import script_key
from products.codecs.sandbox import get_sandbox
from products.codecs.script import ScriptPlugin

PLUGIN = """
function decode(bytes) {
  console.log('first byte', bytes[0], {length: bytes.length});
  switch (bytes[0]) {
    case 1: return {msgType: 'deviceReq', data: [{serviceId: 'Meter', serviceData: {reading: bytes[1]}}]};
    case 2: while (true) {}
    case 3: var hoard = []; while (true) hoard.push(new Array(1000000).fill(1));
    case 4: throw new RangeError('reading out of range at byte 1');
    case 5: throw 'a bare string';
    case 6: return 42;
    case 7: return {msgType: 'deviceReq', data: []};
    case 8: return {msgType: 'deviceRsp', mid: 70000, errcode: 0};
    case 9: new Array(3e8).fill(0); return null;
    case 10: return {msgType: 'deviceRsp', mid: 7, errcode: 1, body: {result: 'late'}};
    case 11: return {msgType: 'deviceReq', data: [{serviceId: 'Meter', serviceData: {x: 'y'.repeat(100000)}}]};
  }
  return undefined;
}
function encode(obj) {
  if (obj.paras && obj.paras.mode === 'big') return [256];
  if (obj.paras && obj.paras.mode === 'text') return 'AA';
  if (obj.paras && obj.paras.mode === 'none') return null;
  if (obj.msgType === 'cloudRsp') return obj.request[0] === 1 ? [0xAA, obj.errcode] : null;
  return [obj.mid & 255];
}
"""


@pytest.fixture
def plugin(settings) -> ScriptPlugin:
    settings.CODEC_JS_TIMEOUT_MS = 100
    return ScriptPlugin(script_key(PLUGIN), PLUGIN)


def _decode(plugin: ScriptPlugin, *first_bytes: int):
    return plugin.decode_many([bytes([first, 7]) for first in first_bytes])


def test_a_good_payload_decodes_and_its_logs_come_with_it(plugin):
    (outcome,) = _decode(plugin, 1)
    assert outcome.error is None
    assert outcome.value == {
        "msgType": "deviceReq",
        "hasMore": 0,
        "data": [{"serviceId": "Meter", "serviceData": {"reading": 7}}],
    }
    assert outcome.logs == ['first byte 1 {"length":2}']


def test_an_endless_loop_is_stopped_by_the_time_limit(plugin):
    started = time.monotonic()
    (outcome,) = _decode(plugin, 2)
    assert time.monotonic() - started < 3
    assert outcome.error.code == "CODEC_JS_TIMEOUT"
    assert "ran longer than 100 ms" in str(outcome.error)
    assert _decode(plugin, 1)[0].error is None  # and the plugin goes on working


def test_a_huge_allocation_is_stopped_by_the_memory_limit(plugin, settings):
    settings.CODEC_JS_TIMEOUT_MS = 5000  # memory, not time, must stop it
    (outcome,) = _decode(plugin, 3)
    assert outcome.error.code == "CODEC_JS_MEMORY"
    assert str(settings.CODEC_JS_MAX_MEMORY) in str(outcome.error)
    assert _decode(plugin, 1)[0].error is None


def test_an_exception_carries_the_plugins_own_message_and_logs(plugin):
    (outcome,) = _decode(plugin, 4)
    error = outcome.error
    assert error.code == "CODEC_JS_EXCEPTION"
    assert error.detail.startswith("RangeError: reading out of range at byte 1 (line 8")
    assert error.logs == ['first byte 4 {"length":2}']
    (thrown,) = _decode(plugin, 5)
    assert thrown.error.detail == "thrown: a bare string"


@pytest.mark.parametrize(
    ("first", "problem"),
    [
        (6, "a number, not an object with msgType deviceReq or deviceRsp"),
        (7, "an array as data; a deviceReq's data is a non-empty array"),
        (8, "70000 as mid; it is a whole number from 1 to 65535"),
        (12, "null, not an object with msgType deviceReq or deviceRsp"),
    ],
)
def test_a_wrong_shape_says_what_is_wrong(plugin, first, problem):
    (outcome,) = _decode(plugin, first)
    assert outcome.error.code == "CODEC_JS_SHAPE"
    assert problem in str(outcome.error)


def test_a_device_rsp_passes_with_its_mid_and_errcode(plugin):
    (outcome,) = _decode(plugin, 10)
    assert outcome.value == {"msgType": "deviceRsp", "mid": 7, "errcode": 1, "hasMore": 0, "body": {"result": "late"}}


def test_a_result_too_large_is_refused(plugin):
    (outcome,) = _decode(plugin, 11)
    assert outcome.error.code == "CODEC_JS_EXCEPTION"
    assert "characters of JSON; at most 65536" in outcome.error.detail


def test_encode_results_are_checked(plugin):
    base = {"msgType": "cloudReq", "serviceId": "Meter", "cmd": "SET_PERIOD", "mid": 9}
    assert plugin.encode({**base, "paras": {}}).value == b"\x09"
    assert plugin.encode({**base, "paras": {"mode": "big"}}).error.code == "CODEC_JS_SHAPE"
    assert plugin.encode({**base, "paras": {"mode": "text"}}).error.code == "CODEC_JS_SHAPE"
    assert plugin.encode({**base, "paras": {"mode": "none"}}).error.code == "CODEC_ENCODE_NOTHING"
    ack = {"msgType": "cloudRsp", "request": b"\x01\x02", "errcode": 3, "hasMore": 0}
    assert plugin.encode(ack).value == b"\xaa\x03"
    assert plugin.encode({**ack, "request": b"\x02"}).value is None  # no ACK for that report


def test_one_looping_payload_in_a_batch_spoils_only_itself(plugin):
    payloads = [1] * 20 + [2] + [1] * 20
    outcomes = _decode(plugin, *payloads)
    codes = [outcome.error.code if outcome.error else None for outcome in outcomes]
    assert codes == [None] * 20 + ["CODEC_JS_TIMEOUT"] + [None] * 20


def test_a_killed_engine_is_restarted_for_the_next_call(plugin):
    assert _decode(plugin, 1)[0].error is None
    sandbox = get_sandbox(plugin.key)  # the shared child, or the quarantine one after a test's loop
    starts = sandbox.starts
    os.kill(sandbox._process.pid, signal.SIGKILL)
    sandbox._process.wait()
    assert _decode(plugin, 1)[0].error is None
    assert sandbox.starts == starts + 1


def test_a_plugin_that_makes_v8_abort_never_harms_this_process(plugin):
    (outcome,) = _decode(plugin, 9)
    assert outcome.error.code in ("CODEC_JS_TIMEOUT", "CODEC_JS_CRASHED", "CODEC_JS_MEMORY")
    # whatever V8 does next with that context, this process and the other payloads carry on
    for _ in range(3):
        assert _decode(plugin, 1)[0].error is None
    assert os.getpid() > 0


def test_a_script_that_does_not_compile_names_the_line():
    broken = "function decode(bytes) {\n  return {msgType: 'deviceReq',\n}"
    outcome = ScriptPlugin(script_key(broken), broken).decode_many([b"\x01"])[0]
    assert outcome.error.code == "CODEC_JS_SYNTAX"
    assert "<anonymous>:3: SyntaxError" in outcome.error.detail


def test_top_level_code_that_loops_is_a_load_error(settings):
    settings.CODEC_JS_LOAD_TIMEOUT_MS = 100
    looping = "while (true) {}\nfunction decode(b) { return null; }"
    outcome = ScriptPlugin(script_key(looping), looping).decode_many([b"\x01"])[0]
    assert outcome.error.code == "CODEC_JS_LOAD"
    assert "ran longer than 100 ms" in str(outcome.error)


def test_common_js_exports_are_found():
    source = "module.exports = {decode: function (b) { return {msgType: 'deviceRsp', errcode: b[0]}; }};"
    outcome = ScriptPlugin(script_key(source), source).decode_many([b"\x05"])[0]
    assert outcome.value["errcode"] == 5


def test_a_script_that_ran_out_of_time_runs_in_quarantine_and_the_others_keep_the_shared_child(settings):
    settings.CODEC_JS_TIMEOUT_MS = 100
    looping = "function decode(bytes) { if (bytes[0] === 2) while (true) {} return null; }"
    well = "function decode(bytes) { return {msgType: 'deviceRsp', errcode: bytes[0]}; }"
    noisy, quiet = ScriptPlugin(script_key(looping), looping), ScriptPlugin(script_key(well), well)
    assert get_sandbox(noisy.key) is get_sandbox(quiet.key) is get_sandbox()
    assert noisy.decode_many([b"\x02"])[0].error.code == "CODEC_JS_TIMEOUT"
    assert get_sandbox(noisy.key) is not get_sandbox()
    assert get_sandbox(quiet.key) is get_sandbox()
    assert quiet.decode_many([b"\x05"])[0].value["errcode"] == 5
    # the quarantined script still decodes what it can, in its own child
    assert noisy.decode_many([b"\x01", b"\x02"])[0].error.code == "CODEC_JS_SHAPE"
