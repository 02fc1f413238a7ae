"""The plugin checker (F-3.8): what `manage.py check_codec`, the upload page and `POST /api/v1/codecs` run.

In order, stopping where going on makes no sense:
1. the zip and the manifest (products.codecs.package);
2. the script loads in the sandbox: it compiles (CODEC_JS_SYNTAX, with the line), its top-level code
   neither throws nor loops (CODEC_JS_LOAD);
3. it defines the functions of its format (CODEC_JS_EXPORTS): decode (and encode) for OceanConnect
   style, decodeUplink (and encodeDownlink) for TTN v3 and ChirpStack v4, Decode (and Encode) for
   ChirpStack v3, Decoder (and Encoder, with the optional Converter and Validator) for TTN v2;
4. for TTN codecs, the manifest's mapping names properties of the profile (when one is known);
5. the test vectors, when the plugin has them: each gives what it expects, and the decoded values fit
   the profile (when one is known). Vectors are recommended, not required (real codecs from
   OceanConnect users, TTN and ChirpStack arrive without them): a plugin without decode vectors, or
   that encodes without encode vectors, passes with a warning (CODEC_VECTORS_MISSING in `warnings`);
   vectors that are present and fail refuse it;
6. time per call, measured over the vectors in one batch, within CODEC_CHECK_CALL_BUDGET_MS.

The report lists every issue with its code (docs/errors.md) and, for the command's output, what
passed.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings

from products.codecs import shapes
from products.codecs.base import Outcome
from products.codecs.errors import CodecError, CodecIssue, Raw, issue
from products.codecs.package import Package, read_package, script_key
from products.codecs.profile import ProfileIndex, check_command, check_uplink
from products.codecs.sandbox import Limits, SandboxFailure, get_sandbox
from products.codecs.script import ScriptPlugin, hex_inputs, load
from products.codecs.ttn import DECODE_CALLS as TTN_DECODE_CALLS
from products.codecs.ttn import TtnPlugin, check_mapping
from products.codecs.vectors import DecodeVector, EncodeVector, parse_vectors, same

TIMING_CALLS = 200
DECODERS = {"script": ("decode",), "ttn": ("decodeUplink", "Decode", "Decoder")}
ENCODERS = {"script": ("encode",), "ttn": ("encodeDownlink", "Encode", "Encoder")}


@dataclass(frozen=True)
class VectorResult:
    direction: str
    name: str
    path: str
    passed: bool


@dataclass
class Report:
    file_name: str
    package: Package | None = None
    kind: str | None = None
    functions: list[str] = field(default_factory=list)
    results: list[VectorResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # function -> milliseconds per call
    issues: list[CodecIssue] = field(default_factory=list)
    # What the plugin may keep but should fix (no test vectors): shown, never a refusal.
    warnings: list[CodecIssue] = field(default_factory=list)
    # What the plugin printed, warned and threw while its vectors ran ("vector name: line").
    logs: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.issues

    @property
    def key(self) -> str:
        assert self.package is not None
        return script_key(self.package.source)

    def as_dict(self) -> dict[str, Any]:
        package = self.package
        return {
            "passed": self.passed,
            "file": self.file_name,
            "manufacturerId": package.manufacturer_id if package else None,
            "model": package.model if package else None,
            "version": package.version if package else None,
            "format": {"script": "oceanconnect", "ttn": "ttn"}.get(self.kind or ""),
            "functions": self.functions,
            "vectors": [
                {"direction": result.direction, "name": result.name, "path": result.path, "passed": result.passed}
                for result in self.results
            ],
            "msPerCall": self.timings,
            "errors": [found.as_dict() for found in self.issues],
            "warnings": [found.as_dict() for found in self.warnings],
            "logs": self.logs,
        }


def _at(found: CodecIssue, file: str, path: str) -> CodecIssue:
    """An issue raised while running a vector, placed at that vector."""
    return replace(found, file=file, path=f"{path} {found.path}".strip())


def _error_text(error: CodecError) -> str:
    return " ".join(f"{found.message_en} {found.detail or ''}" for found in error.issues)


def check_package(
    file_name: str | None, data: bytes, *, index: ProfileIndex | None = None, limits: Limits | None = None
) -> Report:
    """Every check of an offline plugin; `index` is the product's profile when it is known."""
    report = Report(file_name=file_name or "plugin.zip")
    try:
        package = read_package(file_name, data)
    except CodecError as error:
        report.issues = error.issues
        return report
    report.package = package
    report.file_name = package.file_name
    limits = limits or Limits.from_settings()
    key = report.key
    try:
        report.functions = load(key, package.source, limits)
    except CodecError as error:
        report.issues = [replace(found, file=package.entry) for found in error.issues]
        return report
    kind = package.kind
    if kind is None:
        kind = (
            "script"
            if "decode" in report.functions
            else "ttn"
            if set(DECODERS["ttn"]) & set(report.functions)
            else None
        )
    if kind is None or not set(DECODERS[kind]) & set(report.functions):
        missing = "decodeUplink(input)" if kind == "ttn" else "decode(bytes)"
        report.issues.append(issue("CODEC_JS_EXPORTS", file=package.entry, missing=Raw(missing)))
        return report
    report.kind = kind
    encoder = bool(set(ENCODERS[kind]) & set(report.functions))
    if kind == "ttn" and index is not None:
        report.issues += check_mapping(package.manifest.get("mapping"), index)
    decode_vectors, encode_vectors, found = parse_vectors(package.vectors, package.vectors_file)
    report.issues += found
    if not decode_vectors and not any(item.code == "CODEC_VECTOR_SHAPE" for item in found):
        report.warnings.append(issue("CODEC_VECTORS_MISSING", file=package.vectors_file, what=Raw("decode")))
    if encoder and not encode_vectors and not any(item.code == "CODEC_VECTOR_SHAPE" for item in found):
        report.warnings.append(issue("CODEC_VECTORS_MISSING", file=package.vectors_file, what=Raw("encode")))
    if kind == "ttn":
        plugin: ScriptPlugin | TtnPlugin = TtnPlugin(key, package.source, package.manifest, index or _EMPTY, limits)
    else:
        plugin = ScriptPlugin(key, package.source, limits)
    _decode_vectors(report, plugin, decode_vectors, index)
    _encode_vectors(report, plugin, encode_vectors, index)
    if report.passed:
        _time(report, key, package.source, decode_vectors, encode_vectors, limits)
    return report


_EMPTY = ProfileIndex({})


def _decode_vectors(
    report: Report, plugin: ScriptPlugin | TtnPlugin, vectors: list[DecodeVector], index: ProfileIndex | None
) -> None:
    assert report.package is not None
    file = report.package.vectors_file
    if isinstance(plugin, TtnPlugin):
        outcomes = plugin.raw_data([vector.payload for vector in vectors], [vector.fport for vector in vectors])
    else:
        outcomes = plugin.decode_many([vector.payload for vector in vectors])
    for vector, outcome in zip(vectors, outcomes, strict=True):
        before = len(report.issues)
        _judge_decode(report, plugin, vector, outcome, index, file)
        passed = len(report.issues) == before
        report.results.append(VectorResult("decode", vector.name, vector.path, passed))
        if not passed:
            report.logs += [f"{vector.name}: {line}" for line in outcome.logs]


def _judge_decode(
    report: Report,
    plugin: ScriptPlugin | TtnPlugin,
    vector: DecodeVector,
    outcome: Outcome,
    index: ProfileIndex | None,
    file: str,
) -> None:
    if vector.error is not None:
        if outcome.error is None:
            report.issues.append(
                issue(
                    "CODEC_VECTOR_NO_ERROR",
                    file=file,
                    path=vector.path,
                    vector=vector.name,
                    expected=vector.error,
                    actual=Raw("the payload decoded"),
                )
            )
        elif vector.error.lower() not in _error_text(outcome.error).lower():
            actual = Raw(f"the error was: {_error_text(outcome.error).strip()}")
            report.issues.append(
                issue(
                    "CODEC_VECTOR_NO_ERROR",
                    file=file,
                    path=vector.path,
                    vector=vector.name,
                    expected=vector.error,
                    actual=actual,
                )
            )
        return
    if outcome.error is not None:
        report.issues += [_at(found, file, vector.path) for found in outcome.error.issues]
        return
    expected = vector.expected
    if isinstance(plugin, ScriptPlugin):
        # Compared as normalised (hasMore filled in); a vector that does not normalise is compared as written.
        with contextlib.suppress(CodecError):
            expected = shapes.uplink(expected, "decode")
    if not same(expected, outcome.value):
        report.issues.append(
            issue(
                "CODEC_VECTOR_FAILED",
                file=file,
                path=vector.path,
                vector=vector.name,
                expected=expected,
                actual=outcome.value,
            )
        )
        return
    if index is None:
        return
    value = outcome.value
    if isinstance(plugin, TtnPlugin):
        try:
            value = plugin.device_req(value)
        except CodecError as error:
            report.issues += [_at(found, file, vector.path) for found in error.issues]
            return
    report.issues += [_at(found, file, vector.path) for found in check_uplink(index, value)]


def _encode_vectors(
    report: Report, plugin: ScriptPlugin | TtnPlugin, vectors: list[EncodeVector], index: ProfileIndex | None
) -> None:
    assert report.package is not None
    file = report.package.vectors_file
    for vector in vectors:
        before = len(report.issues)
        if vector.input is None:
            if isinstance(plugin, TtnPlugin):
                outcome = plugin.encode_data(vector.data or {}, vector.fport)
                _judge_encode(report, vector, outcome, file)
                if len(report.issues) != before:
                    report.logs += [f"{vector.name}: {line}" for line in outcome.logs]
            else:
                problem = "gives the codec's own data, which only TTN and ChirpStack codecs take; give an input"
                report.issues.append(issue("CODEC_VECTOR_SHAPE", file=file, path=vector.path, problem=Raw(problem)))
            report.results.append(VectorResult("encode", vector.name, vector.path, len(report.issues) == before))
            continue
        try:
            message = shapes.cloud_message(vector.input)
        except CodecError as error:
            report.issues += [_at(found, file, f"{vector.path}.input") for found in error.issues]
        else:
            if index is not None and message["msgType"] == "cloudReq":
                report.issues += [_at(found, file, f"{vector.path}.input") for found in check_command(index, message)]
            outcome = plugin.encode(message)
            _judge_encode(report, vector, outcome, file)
            if len(report.issues) != before:
                report.logs += [f"{vector.name}: {line}" for line in outcome.logs]
        report.results.append(VectorResult("encode", vector.name, vector.path, len(report.issues) == before))


def _judge_encode(report: Report, vector: EncodeVector, outcome: Outcome, file: str) -> None:
    if vector.error is not None:
        if outcome.error is None or vector.error.lower() not in _error_text(outcome.error).lower():
            actual = Raw("the message encoded")
            if outcome.error is not None:
                actual = Raw(f"the error was: {_error_text(outcome.error).strip()}")
            report.issues.append(
                issue(
                    "CODEC_VECTOR_NO_ERROR",
                    file=file,
                    path=vector.path,
                    vector=vector.name,
                    expected=vector.error,
                    actual=actual,
                )
            )
        return
    if outcome.error is not None:
        report.issues += [_at(found, file, vector.path) for found in outcome.error.issues]
        return
    if outcome.value != vector.expected:
        shown = Raw(vector.expected.hex().upper() if vector.expected is not None else "null")
        actual = Raw(outcome.value.hex().upper() if outcome.value is not None else "null")
        report.issues.append(
            issue("CODEC_VECTOR_FAILED", file=file, path=vector.path, vector=vector.name, expected=shown, actual=actual)
        )


def _time(
    report: Report,
    key: str,
    source: str,
    decode_vectors: list[DecodeVector],
    encode_vectors: list[EncodeVector],
    limits: Limits,
) -> None:
    """Milliseconds per call of decode and encode over the vectors, in one batch each."""
    assert report.kind is not None
    budget = settings.CODEC_CHECK_CALL_BUDGET_MS
    ttn = report.kind == "ttn"
    manifest_port = (report.package.manifest.get("fPort") if report.package else None) or 1
    payloads = [vector for vector in decode_vectors if vector.error is None]
    runs: list[tuple[str, str, list[Any]]] = []
    if payloads:
        texts = hex_inputs([vector.payload for vector in payloads])
        if ttn:
            inputs: list[Any] = [
                {"hex": text, "fPort": vector.fport or manifest_port}
                for text, vector in zip(texts, payloads, strict=True)
            ]
            function, mode = next(found for found in TTN_DECODE_CALLS if found[0] in report.functions)
            runs.append((function, mode, inputs))
        else:
            runs.append(("decode", "bytes", texts))
    messages = [vector.input for vector in encode_vectors if vector.error is None and vector.input is not None]
    if messages and not ttn:
        inputs = []
        for message in messages:
            normal = dict(message)
            if normal.get("msgType") == "cloudRsp" and isinstance(normal.get("request"), str):
                normal["request"] = "".join(normal["request"].split())
            inputs.append(normal)
        runs.append(("encode", "cloud", inputs))
    for function, call, inputs in runs:
        batch = (inputs * (TIMING_CALLS // len(inputs) + 1))[:TIMING_CALLS]
        try:
            result = get_sandbox(key).run(
                key, source, function, call, json.loads(json.dumps(batch)), limits, budget_ms=budget * len(batch) + 1000
            )
        except SandboxFailure:
            milliseconds = float(budget * 2)  # it could not run the batch within twice the budget
        else:
            milliseconds = result.elapsed_us / len(batch) / 1000
        report.timings[function] = round(milliseconds, 4)
        if milliseconds > budget:
            report.issues.append(
                issue(
                    "CODEC_CHECK_SLOW",
                    file=report.package.entry if report.package else "",
                    function=Raw(function),
                    time=Raw(f"{milliseconds:.2f}"),
                    limit=Raw(budget),
                )
            )
