"""Offline plugins as uploaded: a zip with manifest.json, the script and its test vectors.

    manifest.json   {"manufacturerId": "Acme", "model": "s1", "entry": "codec.js", "version": "1.0.0",
                     "format": "oceanconnect" | "ttn" (optional: found from the functions the script
                     defines), "vectors": "vectors.json" (the default), and for TTN codecs "mapping",
                     "commands" and "fPort" (products.codecs.ttn)}
    codec.js        the script (`entry`), UTF-8, any file name and folder (F-3.10)
    vectors.json    {"decode": [...], "encode": [...]} (products.codecs.vectors), optional; or The Things
                    Network's `<name>-codec.yaml` (its uplinkDecoder and downlinkEncoder examples) as it
                    is in TTN's device repository, found by name when there is no vectors.json

The zip may hold everything inside one folder (zipping the folder rather than its content is common),
and other files (a README, tests) which are ignored, as are hidden files (.DS_Store, __MACOSX/).
It is read in memory within limits and never extracted: entry names are compared, never used as paths.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.conf import settings

from products.codecs.errors import CodecError, CodecIssue, Raw, issue
from products.codecs.vectors import from_ttn_examples

MANIFEST = "manifest.json"
DEFAULT_VECTORS = "vectors.json"
FORMATS = {"oceanconnect": "script", "ttn": "ttn"}
MAX_ENTRIES = 200
MAX_ENTRY_BYTES = 2 * 1024 * 1024
MAX_RATIO = 100
_UTF8_FLAG = 0x800
_ENCRYPTED = 0x1


@dataclass
class Package:
    """What the zip holds, read and parsed; `kind` is None until the script's functions are known."""

    file_name: str
    archive: bytes
    manifest: dict[str, Any]
    entry: str
    source: str
    vectors_file: str
    vectors: Any = None  # the parsed vectors file; None when the zip has none
    kind: str | None = None
    issues: list[CodecIssue] = field(default_factory=list)

    @property
    def manufacturer_id(self) -> str:
        return self.manifest["manufacturerId"]

    @property
    def model(self) -> str:
        return self.manifest["model"]

    @property
    def version(self) -> str:
        return self.manifest["version"]


def _entry_issue(name: str, reason: str) -> CodecIssue:
    return issue("CODEC_ZIP_ENTRY", file=name, name=Raw(name), reason=Raw(reason))


def _name(info: zipfile.ZipInfo) -> str | None:
    """The entry's name as UTF-8 with `/` separators; None when it is in a legacy code page."""
    name = info.orig_filename
    if not info.flag_bits & _UTF8_FLAG and not name.isascii():
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return None
    return name.replace("\\", "/")


def _hidden(name: str) -> bool:
    return any((part.startswith(".") and part not in (".", "..")) or part == "__MACOSX" for part in name.split("/"))


def read_files(file_name: str, data: bytes) -> dict[str, bytes]:
    """The zip's plain files by name, within the limits; CodecError for what makes it unreadable or unsafe."""
    if data[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise CodecError(issue("CODEC_NOT_ZIP", file=file_name))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, UnicodeDecodeError):
        raise CodecError(issue("CODEC_NOT_ZIP", file=file_name)) from None
    if len(infos) > MAX_ENTRIES:
        reason = f"the zip holds {len(infos)} entries; a plugin may hold at most {MAX_ENTRIES}"
        raise CodecError(_entry_issue(file_name, reason))
    issues: list[CodecIssue] = []
    files: dict[str, bytes] = {}
    for info in infos:
        name = _name(info)
        if name is None:
            shown = info.orig_filename.encode("cp437", "replace").decode("utf-8", "backslashreplace")
            issues.append(
                _entry_issue(shown, "its name is not UTF-8 (make the zip with a tool that stores UTF-8 names)")
            )
            continue
        if info.is_dir() or _hidden(name):
            continue
        parts = [part for part in name.split("/") if part not in ("", ".")]
        reason = None
        mode = info.external_attr >> 16
        if name.startswith("/") or re.match(r"[A-Za-z]:", name):
            reason = "its path is absolute"
        elif ".." in parts:
            reason = "its path climbs out of the zip with '..'"
        elif info.create_system == 3 and stat.S_IFMT(mode) not in (0, stat.S_IFREG):
            reason = "it is a link or another special file"
        elif info.flag_bits & _ENCRYPTED:
            reason = "it is encrypted"
        elif info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            reason = "it is compressed with another method than deflate"
        elif info.file_size > MAX_ENTRY_BYTES:
            reason = f"it unpacks to {info.file_size} bytes; at most {MAX_ENTRY_BYTES}"
        elif info.file_size > 16384 and info.file_size / max(1, info.compress_size) > MAX_RATIO:
            reason = f"it is compressed more than {MAX_RATIO} to 1 (a zip bomb's signature)"
        elif "/".join(parts) in files:
            reason = "it appears twice"
        if reason is not None:
            issues.append(_entry_issue(name, reason))
            continue
        try:
            with archive.open(info) as member:
                content = member.read(MAX_ENTRY_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, RuntimeError) as error:
            issues.append(_entry_issue(name, f"it cannot be read, the zip is damaged: {error}"))
            continue
        if len(content) > MAX_ENTRY_BYTES:
            issues.append(_entry_issue(name, f"it unpacks to more than {MAX_ENTRY_BYTES} bytes"))
            continue
        files["/".join(parts)] = content
    if issues:
        raise CodecError(issues)
    # One folder around everything: look inside it.
    if MANIFEST not in files:
        tops = {name.split("/", 1)[0] for name in files if "/" in name}
        if len(tops) == 1 and f"{next(iter(tops))}/{MANIFEST}" in files:
            prefix = f"{next(iter(tops))}/"
            files = {name.removeprefix(prefix): content for name, content in files.items() if name.startswith(prefix)}
    return files


def _json(content: bytes, file: str, code: str, issues: list[CodecIssue]) -> Any:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        issues.append(issue(code, file=file, detail=Raw("the file is not UTF-8 text")))
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        detail = Raw(f"{error.msg} at line {error.lineno}, column {error.colno}")
        issues.append(issue(code, file=file, path=f"{error.lineno}:{error.colno}", detail=detail))
        return None
    except (ValueError, RecursionError) as error:
        issues.append(issue(code, file=file, detail=Raw(str(error))))
        return None


def _examples_file(files: dict[str, bytes]) -> str | None:
    """The Things Network's example file (`<name>-codec.yaml`) when the zip has one and no vectors.json."""
    if DEFAULT_VECTORS in files:
        return None
    found = sorted(name for name in files if name.endswith(("codec.yaml", "codec.yml")))
    return found[0] if found else None


def _yaml(content: bytes, file: str, issues: list[CodecIssue]) -> Any:
    try:
        return yaml.safe_load(content.decode("utf-8-sig"))
    except UnicodeDecodeError:
        issues.append(issue("CODEC_VECTORS_YAML", file=file, detail=Raw("the file is not UTF-8 text")))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        detail = Raw(f"{error.problem} at line {where.replace(':', ', column ')}" if where else str(error.problem))
        issues.append(issue("CODEC_VECTORS_YAML", file=file, path=where, detail=detail))
    except (yaml.YAMLError, RecursionError) as error:
        issues.append(issue("CODEC_VECTORS_YAML", file=file, detail=Raw(str(error)[:200])))
    return None


def _manifest_field(problem: str, key: str) -> CodecIssue:
    return issue("CODEC_MANIFEST_FIELD", file=MANIFEST, path=f"$.{key}", field=key, problem=Raw(problem))


def check_manifest(manifest: Any) -> list[CodecIssue]:
    """The manifest's fields, each named with what is wrong."""
    if not isinstance(manifest, dict):
        return [
            issue(
                "CODEC_MANIFEST_FIELD", file=MANIFEST, path="$", field="manifest.json", problem=Raw("must be an object")
            )
        ]
    found = []
    for key in ("manufacturerId", "model", "entry", "version"):
        value = manifest.get(key)
        if value is None:
            found.append(_manifest_field("is missing", key))
        elif not isinstance(value, str) or not value.strip():
            found.append(_manifest_field("must be a non-empty string", key))
        elif len(value) > (255 if key == "entry" else 64):
            found.append(_manifest_field("is too long", key))
    plugin_format = manifest.get("format")
    if plugin_format is not None and plugin_format not in FORMATS:
        found.append(_manifest_field(f"is {json.dumps(plugin_format)}; it is oceanconnect or ttn", "format"))
    vectors = manifest.get("vectors")
    if vectors is not None and (not isinstance(vectors, str) or not vectors):
        found.append(_manifest_field("must name the vectors file", "vectors"))
    mapping = manifest.get("mapping")
    if mapping is not None:
        if not isinstance(mapping, dict):
            found.append(_manifest_field("must be an object of data keys and ServiceId.property", "mapping"))
        else:
            for key, target in mapping.items():
                if target is not None and not isinstance(target, str):
                    found.append(_manifest_field("must be ServiceId.property or null", f"mapping.{key}"))
    commands = manifest.get("commands")
    if commands is not None and (
        not isinstance(commands, dict) or not all(isinstance(value, dict) for value in commands.values())
    ):
        found.append(_manifest_field("must be an object of command names and {fPort, data}", "commands"))
    port = manifest.get("fPort")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 255):
        found.append(_manifest_field("must be a whole number from 1 to 255", "fPort"))
    return found


def read_package(file_name: str | None, data: bytes) -> Package:
    """The plugin in the zip, or CodecError listing what is wrong with the zip and its manifest."""
    shown = re.split(r"[\\/]", file_name or "plugin.zip")[-1]
    limit = settings.CODEC_MAX_UPLOAD_BYTES
    if len(data) > limit:
        raise CodecError(issue("CODEC_UPLOAD_TOO_LARGE", file=shown, size=Raw(len(data)), limit=Raw(limit)))
    files = read_files(shown, data)
    if MANIFEST not in files:
        raise CodecError(issue("CODEC_MANIFEST_MISSING", file=shown))
    issues: list[CodecIssue] = []
    manifest = _json(files[MANIFEST], MANIFEST, "CODEC_MANIFEST_JSON", issues)
    if issues:
        raise CodecError(issues)
    issues += check_manifest(manifest)
    if issues:
        raise CodecError(issues)
    entry = manifest["entry"].replace("\\", "/").removeprefix("./")
    if entry not in files:
        raise CodecError(issue("CODEC_ENTRY_MISSING", file=MANIFEST, path="$.entry", entry=entry))
    try:
        source = files[entry].decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CodecError(issue("CODEC_ENTRY_ENCODING", file=entry, entry=entry)) from None
    vectors_file = manifest.get("vectors") or _examples_file(files) or DEFAULT_VECTORS
    vectors = None
    if vectors_file in files:
        if vectors_file.endswith((".yaml", ".yml")):
            examples = _yaml(files[vectors_file], vectors_file, issues)
            vectors = None if examples is None else from_ttn_examples(examples)
        else:
            vectors = _json(files[vectors_file], vectors_file, "CODEC_VECTORS_JSON", issues)
        if issues:
            raise CodecError(issues)
    return Package(
        file_name=shown,
        archive=data,
        manifest=manifest,
        entry=entry,
        source=source,
        vectors_file=vectors_file,
        vectors=vectors,
        kind=FORMATS.get(manifest.get("format")) if manifest.get("format") else None,
    )


def checksum(kind: str, definition: Any, source: str) -> str:
    """SHA-256 of what makes a version behave as it does: its kind, definition (or manifest) and script."""
    digest = hashlib.sha256()
    digest.update(kind.encode())
    digest.update(b"\0")
    digest.update(json.dumps(definition, sort_keys=True, separators=(",", ":")).encode())
    digest.update(b"\0")
    digest.update(source.encode())
    return digest.hexdigest()


def script_key(source: str) -> str:
    """What names a script's V8 context in the sandbox: the same script shares one, whichever version."""
    return "js-" + hashlib.sha256(source.encode()).hexdigest()
