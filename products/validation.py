# ruff: noqa: RUF001  (the Chinese messages use Chinese punctuation: full-width commas, colons, brackets)
"""Profile validation: one set of rules behind every way a profile arrives.

A profile (product model) is a zip named `deviceType_manufacturerId_model.zip` holding
`profile/devicetype-capability.json` and one `service/<serviceType>/profile/servicetype-capability.json`
per service type (shared/reference/northbound-api.md section 8). It arrives through the portal's upload,
`POST /api/v1/profiles`, `manage.py import_profile`, or is built in the online editor: the first three
call `validate_archive`, the editor calls `validate_documents` on the documents the zip would hold, and
`validate_archive` ends in `validate_documents` too, so every entry point applies the same rules.

Every rule has a stable code, documented in docs/errors.md. An issue names the file inside the zip, the
JSON path (`$.services[0].properties[2].dataType`), the line and column for syntax errors, and carries
its message in English and in Chinese.

Archives are read in memory, each entry with a size cap, and never extracted: entry names are compared
with the expected layout, never used as paths on disk. The limits are settings (`PROFILE_MAX_*`).

Rules about the platform's state (F-2.7 uniqueness, F-2.9 lock) need the database and are checked in
products.actions; their codes are listed here with the others so that one catalogue holds them all.
"""

from __future__ import annotations

import io
import json
import math
import re
import stat
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

# --- The layout of a profile zip ------------------------------------------------------------------

DEVICE_FILE = "profile/devicetype-capability.json"
# The original's zips carry this file, usually empty; it is kept as it is and not interpreted.
DISPLAY_FILE = "profile/devicetype-display.json"
SERVICE_FILE = "service/{}/profile/servicetype-capability.json"
_SERVICE_FILE = re.compile(r"service/([^/]+)/profile/servicetype-capability\.json")


def service_file(service_type: str) -> str:
    return SERVICE_FILE.format(service_type)


DATA_TYPES = ("int", "decimal", "double", "string", "DateTime", "jsonObject")
NUMERIC_DATA_TYPES = frozenset({"int", "decimal", "double"})
OPTIONS = ("Master", "Mandatory", "Optional", "")
PROTOCOL_TYPES = ("CoAP", "LWM2M", "MQTT")
METHOD_LETTERS = "RWE"

NAME_MAX_LENGTH = 64
MANUFACTURER_NAME_MAX_LENGTH = 128
DESCRIPTION_MAX_LENGTH = 2048
UNIT_MAX_LENGTH = 64
ENUM_VALUE_MAX_LENGTH = 256

# Naming conventions. The original's own examples decide how strict each is: deviceType, serviceType
# and serviceId are UpperCamel everywhere; property and para names are lowerCamel in the WaterMeter
# example but UpperCamel in MultiSensor (TemperatureCur, Period), so both pass; command and response
# names are UPPER_SNAKE (SET_METER_REPORT_RSP); manufacturerId and model are free-form ids (eSDK, v1001).
UPPER_CAMEL = re.compile(r"[A-Z][A-Za-z0-9]*")
CAMEL = re.compile(r"[A-Za-z][A-Za-z0-9]*")
COMMAND_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NUMERIC_TEXT = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*")

PROPERTY_KEYS = (
    "propertyName",
    "dataType",
    "required",
    "min",
    "max",
    "step",
    "maxLength",
    "method",
    "unit",
    "enumList",
)
PARA_KEYS = ("paraName", "dataType", "required", "min", "max", "step", "maxLength", "unit", "enumList")
DEVICE_KEYS = ("manufacturerId", "manufacturerName", "model", "protocolType", "deviceType", "serviceTypeCapabilities")
CAPABILITY_KEYS = ("serviceId", "serviceType", "option")
SERVICE_KEYS = ("serviceType", "description", "commands", "properties")
COMMAND_KEYS = ("commandName", "paras", "responses")
RESPONSE_KEYS = ("responseName", "paras")


# --- Limits -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What an archive may cost to read; each is a setting so a deployment can move it."""

    max_upload_bytes: int = 4 * 1024 * 1024
    max_members: int = 1000
    max_member_bytes: int = 2 * 1024 * 1024
    max_total_bytes: int = 16 * 1024 * 1024
    max_compression_ratio: int = 100
    # Tiny entries compress at silly ratios without harm; the ratio applies to entries above this.
    ratio_floor_bytes: int = 16 * 1024

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            max_upload_bytes=settings.PROFILE_MAX_UPLOAD_BYTES,
            max_members=settings.PROFILE_MAX_MEMBERS,
            max_member_bytes=settings.PROFILE_MAX_MEMBER_BYTES,
            max_total_bytes=settings.PROFILE_MAX_TOTAL_BYTES,
            max_compression_ratio=settings.PROFILE_MAX_COMPRESSION_RATIO,
        )


# --- Rules --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One rule: its stable code, the FAQ rule it comes from, its message in English and Chinese.

    `message` is the English source, marked for gettext; `message_zh` is the Chinese text the API
    always returns and the portal falls back to until the catalogue has a translation.
    """

    code: str
    area: str
    faq: str | None
    message: str
    message_zh: str


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {rule.code: rule for rule in rules}


RULES: dict[str, Rule] = _rules(
    # The upload as a whole.
    Rule(
        "PROFILE_FILE_MISSING",
        "upload",
        None,
        gettext_noop("No file was uploaded: send the profile zip as the file field."),
        "未上传文件：请以 file 字段上传 Profile 压缩包。",
    ),
    Rule(
        "PROFILE_UPLOAD_TOO_LARGE",
        "upload",
        None,
        gettext_noop("The file is %(size)s bytes; a profile zip may be at most %(limit)s bytes."),
        "文件大小为 %(size)s 字节，Profile 压缩包最大为 %(limit)s 字节。",
    ),
    Rule(
        "PROFILE_NOT_ZIP",
        "upload",
        "F-2.3",
        gettext_noop("The file is not a zip archive: compress the profile folders as a zip and upload it again."),
        "文件不是 zip 格式：请将 Profile 文件夹压缩为 zip 后重新上传。",
    ),
    Rule(
        "PROFILE_ZIP_NAME",
        "upload",
        "F-2.2",
        gettext_noop("The file name %(name)s is not of the form deviceType_manufacturerId_model.zip."),
        "文件名 %(name)s 不符合 deviceType_manufacturerId_model.zip 格式。",
    ),
    Rule(
        "PROFILE_ZIP_NAME_MISMATCH",
        "upload",
        "F-2.2",
        gettext_noop(
            "The file name %(name)s does not match deviceType, manufacturerId and model in "
            "devicetype-capability.json, which make %(expected)s."
        ),
        "文件名 %(name)s 与 devicetype-capability.json 中的 deviceType、manufacturerId、model 不一致，"
        "应为 %(expected)s。",
    ),
    Rule(
        "PROFILE_ZIP_DAMAGED",
        "upload",
        "F-2.3",
        gettext_noop("The entry %(name)s cannot be read, the zip is damaged: %(detail)s."),
        "无法读取条目 %(name)s，压缩包已损坏：%(detail)s。",
    ),
    # What a hostile archive would try.
    Rule(
        "PROFILE_TOO_MANY_MEMBERS",
        "security",
        None,
        gettext_noop("The zip holds %(count)s entries; a profile may hold at most %(limit)s."),
        "压缩包包含 %(count)s 个条目，Profile 最多允许 %(limit)s 个。",
    ),
    Rule(
        "PROFILE_MEMBER_NAME_NOT_UTF8",
        "security",
        None,
        gettext_noop("The entry name %(name)s is not UTF-8: create the zip again with a tool that stores UTF-8 names."),
        "条目名称 %(name)s 不是 UTF-8 编码：请使用以 UTF-8 保存文件名的工具重新压缩。",
    ),
    Rule(
        "PROFILE_MEMBER_PATH_ABSOLUTE",
        "security",
        None,
        gettext_noop("The entry %(name)s has an absolute path; entries must be relative to the zip's root."),
        "条目 %(name)s 使用了绝对路径；条目路径必须相对于压缩包根目录。",
    ),
    Rule(
        "PROFILE_MEMBER_PATH_TRAVERSAL",
        "security",
        None,
        gettext_noop("The entry %(name)s uses '..' to climb out of the archive."),
        "条目 %(name)s 使用“..”跳出压缩包目录。",
    ),
    Rule(
        "PROFILE_MEMBER_SYMLINK",
        "security",
        None,
        gettext_noop(
            "The entry %(name)s is a symbolic link or another special file; only plain files and folders are allowed."
        ),
        "条目 %(name)s 是符号链接或其他特殊文件；只允许普通文件和文件夹。",
    ),
    Rule(
        "PROFILE_MEMBER_ENCRYPTED",
        "security",
        None,
        gettext_noop("The entry %(name)s is encrypted; upload the profile without a password."),
        "条目 %(name)s 已加密；请上传未设置密码的 Profile。",
    ),
    Rule(
        "PROFILE_MEMBER_COMPRESSION",
        "security",
        None,
        gettext_noop(
            "The entry %(name)s uses compression method %(method)s; only deflate and no compression (store) are read."
        ),
        "条目 %(name)s 使用了压缩方法 %(method)s；只支持 deflate 或不压缩（store）。",
    ),
    Rule(
        "PROFILE_MEMBER_DUPLICATE",
        "security",
        None,
        gettext_noop("The entry %(name)s appears more than once in the zip."),
        "条目 %(name)s 在压缩包中出现了多次。",
    ),
    Rule(
        "PROFILE_MEMBER_TOO_LARGE",
        "security",
        None,
        gettext_noop("The entry %(name)s unpacks to %(size)s bytes; each file may be at most %(limit)s bytes."),
        "条目 %(name)s 解压后为 %(size)s 字节，单个文件最大为 %(limit)s 字节。",
    ),
    Rule(
        "PROFILE_MEMBER_RATIO",
        "security",
        None,
        gettext_noop(
            "The entry %(name)s is compressed %(ratio)s to 1; at most %(limit)s to 1 is accepted, "
            "as a protection against zip bombs."
        ),
        "条目 %(name)s 的压缩比为 %(ratio)s:1，最大允许 %(limit)s:1（防止压缩炸弹）。",
    ),
    Rule(
        "PROFILE_ARCHIVE_TOO_LARGE",
        "security",
        None,
        gettext_noop("The zip unpacks to %(size)s bytes in all; a profile may unpack to at most %(limit)s bytes."),
        "压缩包解压后共 %(size)s 字节，Profile 解压后最大为 %(limit)s 字节。",
    ),
    Rule(
        "PROFILE_HIDDEN_FILE",
        "security",
        "F-2.6",
        gettext_noop(
            "The entry %(name)s is a hidden file or folder (such as .DS_Store or __MACOSX/): "
            "delete it and compress the profile again."
        ),
        "条目 %(name)s 是隐藏文件或文件夹（如 .DS_Store、__MACOSX/）：请删除后重新压缩。",
    ),
    # The files a profile holds.
    Rule(
        "PROFILE_UNEXPECTED_FILE",
        "layout",
        None,
        gettext_noop(
            "The entry %(name)s is not part of a profile, which holds profile/devicetype-capability.json, "
            "service/<serviceType>/profile/servicetype-capability.json and optionally "
            "profile/devicetype-display.json."
        ),
        "条目 %(name)s 不属于 Profile。Profile 只包含 profile/devicetype-capability.json、"
        "service/<serviceType>/profile/servicetype-capability.json 以及可选的 profile/devicetype-display.json。",
    ),
    Rule(
        "PROFILE_DEVICE_FILE_MISSING",
        "layout",
        None,
        gettext_noop("The zip has no profile/devicetype-capability.json."),
        "压缩包中缺少 profile/devicetype-capability.json。",
    ),
    Rule(
        "PROFILE_SERVICE_FILE_MISSING",
        "layout",
        None,
        gettext_noop(
            "The service type %(service_type)s has no file "
            "service/%(service_type)s/profile/servicetype-capability.json."
        ),
        "服务类型 %(service_type)s 缺少文件 service/%(service_type)s/profile/servicetype-capability.json。",
    ),
    Rule(
        "PROFILE_SERVICE_FILE_UNREFERENCED",
        "layout",
        None,
        gettext_noop(
            "No entry of serviceTypeCapabilities in devicetype-capability.json uses the service type "
            "%(service_type)s: reference it or delete its folder."
        ),
        "devicetype-capability.json 的 serviceTypeCapabilities 未引用服务类型 %(service_type)s："
        "请引用它或删除该文件夹。",
    ),
    Rule(
        "PROFILE_SERVICE_TYPE_MISMATCH",
        "layout",
        None,
        gettext_noop(
            "The folder service/%(folder)s holds the service type %(service_type)s; "
            "the folder name and serviceType must be the same."
        ),
        "文件夹 service/%(folder)s 中的服务类型为 %(service_type)s；文件夹名与 serviceType 必须一致。",
    ),
    # JSON text.
    Rule(
        "PROFILE_JSON_ENCODING",
        "json",
        "F-2.4",
        gettext_noop("The file is not UTF-8 text: save it as UTF-8."),
        "文件不是 UTF-8 文本：请以 UTF-8 编码保存。",
    ),
    Rule(
        "PROFILE_JSON_SYNTAX",
        "json",
        "F-2.4",
        gettext_noop("The input format is wrong, the file is not valid JSON: %(detail)s."),
        "文件输入格式有误，不是合法的 JSON：%(detail)s。",
    ),
    Rule(
        "PROFILE_JSON_DUPLICATE_KEY",
        "json",
        "F-2.4",
        gettext_noop("The key %(key)s appears twice in one object."),
        "同一对象中键 %(key)s 出现了两次。",
    ),
    Rule(
        "PROFILE_JSON_NUMBER_RANGE",
        "json",
        "F-2.4",
        gettext_noop("The number %(value)s is too large to store."),
        "数字 %(value)s 过大，无法保存。",
    ),
    Rule(
        "PROFILE_JSON_NUL",
        "json",
        "F-2.4",
        gettext_noop("Text may not contain the NUL character (\\u0000)."),
        "文本不能包含 NUL 字符（\\u0000）。",
    ),
    # The shape of the documents.
    Rule(
        "PROFILE_FIELD_MISSING",
        "structure",
        None,
        gettext_noop("The required field %(field)s is missing."),
        "缺少必填字段 %(field)s。",
    ),
    Rule(
        "PROFILE_FIELD_TYPE",
        "structure",
        None,
        gettext_noop("%(field)s must be %(expected)s, not %(actual)s."),
        "%(field)s 的类型必须是 %(expected)s，而不是 %(actual)s。",
    ),
    Rule(
        "PROFILE_FIELD_EMPTY",
        "structure",
        None,
        gettext_noop("%(field)s must not be empty."),
        "%(field)s 不能为空。",
    ),
    Rule(
        "PROFILE_FIELD_TOO_LONG",
        "structure",
        None,
        gettext_noop("%(field)s is %(length)s characters long; at most %(limit)s are allowed."),
        "%(field)s 长度为 %(length)s 个字符，最多允许 %(limit)s 个。",
    ),
    Rule(
        "PROFILE_NOT_ARRAY",
        "structure",
        "F-2.5",
        gettext_noop("%(field)s must be an array (in square brackets) or null, not %(actual)s."),
        "%(field)s 的值必须是数组（包含在中括号之内）或 null，而不是 %(actual)s。",
    ),
    Rule(
        "PROFILE_DEVICE_COUNT",
        "structure",
        None,
        gettext_noop("devices must hold exactly one device, not %(count)s."),
        "devices 必须且只能包含一个设备，当前为 %(count)s 个。",
    ),
    Rule(
        "PROFILE_SERVICE_COUNT",
        "structure",
        None,
        gettext_noop("services must hold exactly one service, not %(count)s."),
        "services 必须且只能包含一个服务，当前为 %(count)s 个。",
    ),
    # Values.
    Rule(
        "PROFILE_NAME_UPPER_CAMEL",
        "content",
        None,
        gettext_noop(
            "%(field)s %(value)s must be UpperCamelCase: a capital letter, then letters and digits (like WaterMeter)."
        ),
        "%(field)s 的值 %(value)s 必须采用大驼峰命名：以大写字母开头，后跟字母或数字（如 WaterMeter）。",
    ),
    Rule(
        "PROFILE_NAME_CAMEL",
        "content",
        None,
        gettext_noop("%(field)s %(value)s must be camelCase: a letter, then letters and digits (like batteryLevel)."),
        "%(field)s 的值 %(value)s 必须采用驼峰命名：以字母开头，后跟字母或数字（如 batteryLevel）。",
    ),
    Rule(
        "PROFILE_NAME_COMMAND",
        "content",
        None,
        gettext_noop(
            "%(field)s %(value)s must start with a letter and hold only letters, digits and underscores "
            "(like SET_REPORT_PERIOD)."
        ),
        "%(field)s 的值 %(value)s 必须以字母开头，且只包含字母、数字和下划线（如 SET_REPORT_PERIOD）。",
    ),
    Rule(
        "PROFILE_NAME_IDENTIFIER",
        "content",
        None,
        gettext_noop(
            "%(field)s %(value)s must start with a letter or digit and hold only letters, digits, '.', '-' and '_'."
        ),
        "%(field)s 的值 %(value)s 必须以字母或数字开头，且只包含字母、数字、“.”、“-”和“_”。",
    ),
    Rule(
        "PROFILE_NAME_DUPLICATE",
        "content",
        None,
        gettext_noop("%(field)s %(value)s is already used at %(other)s."),
        "%(field)s 的值 %(value)s 已在 %(other)s 使用。",
    ),
    Rule(
        "PROFILE_PROTOCOL_TYPE",
        "content",
        None,
        gettext_noop("protocolType %(value)s is not supported: use CoAP, LWM2M or MQTT."),
        "不支持 protocolType %(value)s：请使用 CoAP、LWM2M 或 MQTT。",
    ),
    Rule(
        "PROFILE_OPTION",
        "content",
        None,
        gettext_noop("option %(value)s must be Master, Mandatory, Optional or empty."),
        "option 的值 %(value)s 必须是 Master、Mandatory、Optional 或空。",
    ),
    Rule(
        "PROFILE_DATA_TYPE",
        "content",
        "F-2.8",
        gettext_noop("dataType %(value)s must be one of int, decimal, double, string, DateTime, jsonObject."),
        "dataType 的值 %(value)s 必须是 int、decimal、double、string、DateTime、jsonObject 之一。",
    ),
    Rule(
        "PROFILE_METHOD",
        "content",
        None,
        gettext_noop(
            "method %(value)s must combine the letters R (read), W (write) and E (observe), each at most once, like RE."
        ),
        "method 的值 %(value)s 必须由字母 R（可读）、W（可写）、E（可观察）组成，每个字母最多一次，如 RE。",
    ),
    Rule(
        "PROFILE_NUMBER",
        "content",
        None,
        gettext_noop("%(field)s %(value)s must be a number, or a string holding one."),
        "%(field)s 的值 %(value)s 必须是数字，或内容为数字的字符串。",
    ),
    Rule(
        "PROFILE_NEGATIVE",
        "content",
        None,
        gettext_noop("%(field)s must be 0 or more, not %(value)s."),
        "%(field)s 必须大于或等于 0，而不是 %(value)s。",
    ),
    Rule(
        "PROFILE_WHOLE_NUMBER",
        "content",
        None,
        gettext_noop("%(field)s %(value)s must be a whole number."),
        "%(field)s 的值 %(value)s 必须是整数。",
    ),
    Rule(
        "PROFILE_RANGE",
        "content",
        None,
        gettext_noop("min %(min)s is greater than max %(max)s."),
        "最小值 min %(min)s 大于最大值 max %(max)s。",
    ),
    Rule(
        "PROFILE_ENUM_DATA_TYPE",
        "content",
        "F-2.8",
        gettext_noop("enumList is for string data only; dataType %(data_type)s cannot have one."),
        "enumList 只适用于 string 类型；dataType 为 %(data_type)s 时不能设置枚举值。",
    ),
    Rule(
        "PROFILE_ENUM_VALUE",
        "content",
        "F-2.8",
        gettext_noop("The enumList value %(value)s must be a non-empty string, used once."),
        "enumList 的值 %(value)s 必须是非空字符串，且不能重复。",
    ),
    # The platform's state, checked in products.actions.
    Rule(
        "PROFILE_DUPLICATE",
        "platform",
        "F-2.7",
        gettext_noop("The manufacturerId and model already exist."),
        "Profile文件的厂商ID和设备型号已存在，请重新定义。",
    ),
    Rule(
        "PROFILE_LOCKED",
        "platform",
        "F-2.9",
        gettext_noop(
            "The product is locked: devices registered with it: %(count)s. "
            "Delete those devices before you edit, replace or delete the product."
        ),
        "此产品已锁定，无法编辑：该产品下已注册 %(count)s 个设备。请先删除这些设备，再编辑、替换或删除产品。",
    ),
    Rule(
        "PROFILE_REPLACE_MISMATCH",
        "platform",
        None,
        gettext_noop(
            "This profile is for manufacturerId %(manufacturer_id)s and model %(model)s, but the product "
            "being replaced has %(expected_manufacturer_id)s and %(expected_model)s: upload it as a new product."
        ),
        "该 Profile 的厂商ID为 %(manufacturer_id)s、型号为 %(model)s，而被替换的产品为 "
        "%(expected_manufacturer_id)s、%(expected_model)s：请作为新产品上传。",
    ),
    Rule(
        "PROFILE_EDIT_CONFLICT",
        "platform",
        None,
        gettext_noop(
            "The product was changed by someone else since you opened it: reload it and make your change again."
        ),
        "自您打开以来，该产品已被他人修改：请刷新后重新修改。",
    ),
)


@dataclass(frozen=True)
class ProfileIssue:
    """One broken rule: where (file inside the zip, JSON path, line and column) and what."""

    code: str
    file: str = ""
    path: str = ""
    line: int | None = None
    column: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def rule(self) -> Rule:
        return RULES[self.code]

    def _text(self, template: str) -> str:
        return template % {name: _display(value) for name, value in self.params.items()}

    @property
    def message_en(self) -> str:
        return self._text(self.rule.message)

    @property
    def message_zh(self) -> str:
        return self._text(self.rule.message_zh)

    @property
    def message(self) -> str:
        """The message in the active language (the portal's); Chinese from the rule until translated."""
        language = translation.get_language() or "en"
        translated = gettext(self.rule.message)
        if language.startswith("zh") and translated == self.rule.message:
            return self.message_zh
        return self._text(translated)

    @property
    def location(self) -> str:
        """`file:line:column path`, leaving out what is unknown."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column}"
        return f"{where} {self.path}".strip()

    def as_dict(self) -> dict[str, Any]:
        """The issue as the API and `import_profile --json` show it."""
        return {
            "code": self.code,
            "file": self.file,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message_en,
            "message_zh": self.message_zh,
        }

    def __str__(self) -> str:
        location = self.location
        return f"{location}: {self.code}: {self.message_en}" if location else f"{self.code}: {self.message_en}"


class ProfileInvalid(Exception):
    """A profile broke one or more rules; nothing was stored."""

    def __init__(self, issues: Iterable[ProfileIssue]) -> None:
        self.issues = list(issues)
        assert self.issues, "ProfileInvalid needs at least one issue"
        super().__init__("; ".join(str(issue) for issue in self.issues))


def _display(value: Any) -> str:
    """A parameter as a message shows it: values from the profile quoted, our own words as they are."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return f"“{value}”" if value else "“”"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)[:80]
    return str(value)


class Raw(str):
    """A parameter shown as it is (a number, a path, a field name), without quotes."""


# --- The result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidatedProfile:
    """A profile that passed every rule: the normalised profile and the zip it came in, if any."""

    profile: dict[str, Any]
    archive: bytes | None = None

    @property
    def device(self) -> dict[str, Any]:
        return self.profile["device"]


# --- Reading the archive ------------------------------------------------------------------------


def read_upload(name: str | None, stream: Any, size: int | None, *, limits: Limits | None = None) -> bytes:
    """The bytes of an uploaded file, refusing one over the upload limit before reading it."""
    limits = limits or Limits.from_settings()
    shown = _base_name(name) if name else ""

    def too_large(actual: int) -> ProfileInvalid:
        params = {"size": Raw(actual), "limit": Raw(limits.max_upload_bytes)}
        return ProfileInvalid([ProfileIssue("PROFILE_UPLOAD_TOO_LARGE", file=shown, params=params)])

    if size is not None and size > limits.max_upload_bytes:
        raise too_large(size)
    data = stream.read(limits.max_upload_bytes + 1)
    if len(data) > limits.max_upload_bytes:
        raise too_large(len(data))
    return data


_ALLOWED_COMPRESSION = {zipfile.ZIP_STORED: "store", zipfile.ZIP_DEFLATED: "deflate"}
_COMPRESSION_NAMES = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
_UTF8_NAME_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_DOS_HIDDEN = 0x2
_UNIX, _DOS = 3, 0


def validate_archive(file_name: str | None, data: bytes, *, limits: Limits | None = None) -> ValidatedProfile:
    """Validate an uploaded profile zip; raise ProfileInvalid listing every issue found."""
    limits = limits or Limits.from_settings()
    issues: list[ProfileIssue] = []
    name = _base_name(file_name) if file_name is not None else None
    if name is not None and not _zip_name_shape(name):
        issues.append(ProfileIssue("PROFILE_ZIP_NAME", file=name, params={"name": name}))
    if len(data) > limits.max_upload_bytes:
        raise ProfileInvalid(
            [
                *issues,
                ProfileIssue(
                    "PROFILE_UPLOAD_TOO_LARGE",
                    file=name or "",
                    params={"size": Raw(len(data)), "limit": Raw(limits.max_upload_bytes)},
                ),
            ]
        )
    files, extra_files = _read_members(data, name or "", limits, issues)
    documents = _parse_documents(files, issues)
    # Files that could not be read or parsed have their issues already; the others are checked
    # anyway, so that one upload reports as much as it can.
    unreadable = {issue.file for issue in issues if _is_profile_file(issue.file)} - set(documents)
    if DEVICE_FILE not in documents:
        if DEVICE_FILE not in unreadable:
            issues.append(ProfileIssue("PROFILE_DEVICE_FILE_MISSING", file=name or ""))
        raise ProfileInvalid(issues)
    profile = _check_documents(documents, extra_files, name, unreadable, issues)
    if issues:
        raise ProfileInvalid(issues)
    assert profile is not None
    return ValidatedProfile(profile=profile, archive=data)


def _is_profile_file(name: str) -> bool:
    return name == DEVICE_FILE or bool(_SERVICE_FILE.fullmatch(name))


def _base_name(file_name: str) -> str:
    # Browsers on old Windows send the whole client path; only the last part is the name.
    return re.split(r"[\\/]", file_name)[-1]


def _zip_name_shape(name: str) -> bool:
    stem, dot, extension = name.rpartition(".")
    return bool(dot) and extension.lower() == "zip" and len([part for part in stem.split("_") if part]) >= 3


def _read_members(
    data: bytes, zip_name: str, limits: Limits, issues: list[ProfileIssue]
) -> tuple[dict[str, bytes], dict[str, str]]:
    """The profile's files by their path in the layout, read in memory within the limits.

    Raises ProfileInvalid at once for what makes reading unsafe or pointless; appends the rest.
    """
    if data[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ProfileInvalid([*issues, ProfileIssue("PROFILE_NOT_ZIP", file=zip_name)])
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except UnicodeDecodeError as error:
        # The entry claims UTF-8 (flag bit 11) but is not: zipfile cannot even list the archive.
        bad = error.object.decode("utf-8", "backslashreplace") if isinstance(error.object, bytes) else "?"
        raise ProfileInvalid(
            [*issues, ProfileIssue("PROFILE_MEMBER_NAME_NOT_UTF8", params={"name": Raw(bad)})]
        ) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, NotImplementedError):
        raise ProfileInvalid([*issues, ProfileIssue("PROFILE_NOT_ZIP", file=zip_name)]) from None

    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise ProfileInvalid(
            [
                *issues,
                ProfileIssue(
                    "PROFILE_TOO_MANY_MEMBERS",
                    file=zip_name,
                    params={"count": Raw(len(infos)), "limit": Raw(limits.max_members)},
                ),
            ]
        )

    unsafe: list[ProfileIssue] = []
    entries: list[tuple[str, zipfile.ZipInfo]] = []
    seen: set[str] = set()
    total = 0
    for info in infos:
        name, name_issue = _member_name(info)
        if name_issue is not None:
            unsafe.append(name_issue)
            continue
        member_issues = _member_issues(info, name, limits)
        if name.rstrip("/") in seen:
            member_issues.append(ProfileIssue("PROFILE_MEMBER_DUPLICATE", file=name, params={"name": Raw(name)}))
        seen.add(name.rstrip("/"))
        unsafe.extend(member_issues)
        if not member_issues and not info.is_dir():
            entries.append((name, info))
        total += info.file_size
    if total > limits.max_total_bytes:
        unsafe.append(
            ProfileIssue(
                "PROFILE_ARCHIVE_TOO_LARGE",
                file=zip_name,
                params={"size": Raw(total), "limit": Raw(limits.max_total_bytes)},
            )
        )
    if unsafe:
        raise ProfileInvalid([*issues, *unsafe])

    entries = _strip_wrapping_folder(entries)
    files: dict[str, bytes] = {}
    extra_files: dict[str, str] = {}
    for name, info in entries:
        if name != DEVICE_FILE and name != DISPLAY_FILE and not _SERVICE_FILE.fullmatch(name):
            issues.append(ProfileIssue("PROFILE_UNEXPECTED_FILE", file=name, params={"name": Raw(name)}))
            continue
        content = _read_member(archive, info, name, limits, issues)
        if content is None:
            continue
        if name == DISPLAY_FILE:
            text = _decode(content, name, issues)
            if text is not None:
                extra_files[name] = text
                if text.strip():
                    _parse_json(text, name, issues)  # F-2.4: every JSON file parses, this one too
            continue
        files[name] = content
    return files, extra_files


def _member_name(info: zipfile.ZipInfo) -> tuple[str, ProfileIssue | None]:
    """The entry's name as UTF-8 with `/` separators, or the issue that it is not UTF-8."""
    name = info.orig_filename
    if not info.flag_bits & _UTF8_NAME_FLAG and not name.isascii():
        # Without flag bit 11 zipfile decodes as CP437; recover the bytes. Tools that write UTF-8
        # without setting the flag are common and harmless; a legacy code page (GBK) is refused.
        raw = name.encode("cp437")
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            shown = raw.decode("utf-8", "backslashreplace")
            return shown, ProfileIssue("PROFILE_MEMBER_NAME_NOT_UTF8", file=shown, params={"name": Raw(shown)})
    # Zips made on Windows (PowerShell's Compress-Archive) separate with backslashes.
    return name.replace("\\", "/"), None


def _member_issues(info: zipfile.ZipInfo, name: str, limits: Limits) -> list[ProfileIssue]:
    found: list[ProfileIssue] = []
    params = {"name": Raw(name)}
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        found.append(ProfileIssue("PROFILE_MEMBER_PATH_ABSOLUTE", file=name, params=params))
    if ".." in parts:
        found.append(ProfileIssue("PROFILE_MEMBER_PATH_TRAVERSAL", file=name, params=params))
    hidden_on_windows = info.create_system == _DOS and info.external_attr & _DOS_HIDDEN
    if any((part.startswith(".") and part != "..") or part == "__MACOSX" for part in parts) or hidden_on_windows:
        found.append(ProfileIssue("PROFILE_HIDDEN_FILE", file=name, params=params))
    mode = info.external_attr >> 16
    if info.create_system == _UNIX and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        found.append(ProfileIssue("PROFILE_MEMBER_SYMLINK", file=name, params=params))
    if info.flag_bits & _ENCRYPTED_FLAG:
        found.append(ProfileIssue("PROFILE_MEMBER_ENCRYPTED", file=name, params=params))
    if info.compress_type not in _ALLOWED_COMPRESSION:
        method = _COMPRESSION_NAMES.get(info.compress_type, str(info.compress_type))
        found.append(ProfileIssue("PROFILE_MEMBER_COMPRESSION", file=name, params={**params, "method": Raw(method)}))
    if info.file_size > limits.max_member_bytes:
        found.append(
            ProfileIssue(
                "PROFILE_MEMBER_TOO_LARGE",
                file=name,
                params={**params, "size": Raw(info.file_size), "limit": Raw(limits.max_member_bytes)},
            )
        )
    elif info.file_size > limits.ratio_floor_bytes:
        ratio = info.file_size / max(1, info.compress_size)
        if ratio > limits.max_compression_ratio:
            found.append(
                ProfileIssue(
                    "PROFILE_MEMBER_RATIO",
                    file=name,
                    params={**params, "ratio": Raw(int(ratio)), "limit": Raw(limits.max_compression_ratio)},
                )
            )
    return found


def _strip_wrapping_folder(entries: list[tuple[str, zipfile.ZipInfo]]) -> list[tuple[str, zipfile.ZipInfo]]:
    """Accept `WaterMeter_Huawei_v1001/profile/...`: zipping the folder instead of its content is common."""
    names = [name for name, _ in entries]
    if DEVICE_FILE in names or not names:
        return entries
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) != 1:
        return entries
    prefix = f"{tops.pop()}/"
    if f"{prefix}{DEVICE_FILE}" not in names:
        return entries
    return [(name.removeprefix(prefix), info) for name, info in entries]


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limits: Limits, issues: list[ProfileIssue]
) -> bytes | None:
    try:
        with archive.open(info) as member:
            content = member.read(limits.max_member_bytes + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, NotImplementedError, RuntimeError) as error:
        issues.append(
            ProfileIssue("PROFILE_ZIP_DAMAGED", file=name, params={"name": Raw(name), "detail": Raw(str(error))})
        )
        return None
    if len(content) > limits.max_member_bytes:  # the header lied about the size
        issues.append(
            ProfileIssue(
                "PROFILE_MEMBER_TOO_LARGE",
                file=name,
                params={"name": Raw(name), "size": Raw(len(content)), "limit": Raw(limits.max_member_bytes)},
            )
        )
        return None
    return content


# --- Parsing JSON -------------------------------------------------------------------------------


def _decode(content: bytes, name: str, issues: list[ProfileIssue]) -> str | None:
    try:
        # Notepad on Windows starts UTF-8 files with a byte-order mark; it is not part of the JSON.
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        issues.append(ProfileIssue("PROFILE_JSON_ENCODING", file=name))
        return None


class _DuplicateKeys:
    """object_pairs_hook that remembers keys given twice in one object instead of silently taking the last."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                self.keys.append(key)
            result[key] = value
        return result


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value")


class _NotJson(ValueError):
    pass


def _parse_json(text: str, name: str, issues: list[ProfileIssue]) -> Any:
    duplicates = _DuplicateKeys()
    try:
        value = json.loads(text, object_pairs_hook=duplicates, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        issues.append(
            ProfileIssue(
                "PROFILE_JSON_SYNTAX",
                file=name,
                line=error.lineno,
                column=error.colno,
                params={"detail": Raw(error.msg)},
            )
        )
        return None
    except (_NotJson, ValueError, RecursionError) as error:
        detail = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        issues.append(ProfileIssue("PROFILE_JSON_SYNTAX", file=name, params={"detail": Raw(detail)}))
        return None
    for key in dict.fromkeys(duplicates.keys):
        issues.append(ProfileIssue("PROFILE_JSON_DUPLICATE_KEY", file=name, params={"key": key}))
    return value


def _parse_documents(files: Mapping[str, bytes], issues: list[ProfileIssue]) -> dict[str, Any]:
    documents: dict[str, Any] = {}
    for name, content in files.items():
        text = _decode(content, name, issues)
        if text is None:
            continue
        before = len(issues)
        value = _parse_json(text, name, issues)
        if len(issues) == before:
            documents[name] = value
    return documents


# --- Checking the documents ---------------------------------------------------------------------


def validate_documents(
    documents: Mapping[str, Any], *, extra_files: Mapping[str, str] | None = None, file_name: str | None = None
) -> dict[str, Any]:
    """Check parsed profile documents (path in the zip -> JSON value); return the normalised profile.

    Used by validate_archive and by the online editor, which builds the documents from its forms.
    Raises ProfileInvalid with every issue found.
    """
    issues: list[ProfileIssue] = []
    if DEVICE_FILE not in documents:
        raise ProfileInvalid([ProfileIssue("PROFILE_DEVICE_FILE_MISSING")])
    profile = _check_documents(documents, extra_files or {}, file_name, set(), issues)
    if issues:
        raise ProfileInvalid(issues)
    assert profile is not None
    return profile


def _check_documents(
    documents: Mapping[str, Any],
    extra_files: Mapping[str, str],
    file_name: str | None,
    unreadable: set[str],
    issues: list[ProfileIssue],
) -> dict[str, Any] | None:
    """Append the documents' issues; the normalised profile when there were none.

    `unreadable` names files that exist but did not parse: they count as present for the
    cross-file rules and are not checked further.
    """
    before = len(issues)
    for name, value in documents.items():
        _check_storable(value, name, issues)
    device = _Checker(DEVICE_FILE, issues).device(documents[DEVICE_FILE])

    service_files: dict[str, str] = {}
    for name in [*documents, *unreadable]:
        if name == DEVICE_FILE:
            continue
        match = _SERVICE_FILE.fullmatch(name)
        if match is None:
            issues.append(ProfileIssue("PROFILE_UNEXPECTED_FILE", file=name, params={"name": Raw(name)}))
        else:
            service_files[match[1]] = name
    services: dict[str, dict[str, Any]] = {}
    for folder, name in service_files.items():
        if name in unreadable:
            continue
        service = _Checker(name, issues).service(documents[name], folder)
        if service is not None:
            services[folder] = service

    if device is not None:
        _check_references(device, service_files, issues)
        name_paths = {f"$.devices[0].{key}" for key in ("deviceType", "manufacturerId", "model")}
        if file_name is not None and not any(issue.path in name_paths for issue in issues[before:]):
            _check_zip_name(device, file_name, issues)
    if len(issues) > before or device is None or unreadable:
        return None
    return _normalise(device, services, dict(extra_files))


def _check_storable(value: Any, name: str, issues: list[ProfileIssue]) -> None:
    """PostgreSQL's jsonb stores neither infinite numbers nor the NUL character; say so instead of failing."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    issues.append(ProfileIssue("PROFILE_JSON_NUL", file=name))
                    return
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                issues.append(ProfileIssue("PROFILE_JSON_NUL", file=name))
                return
        elif isinstance(item, float) and not math.isfinite(item):
            issues.append(ProfileIssue("PROFILE_JSON_NUMBER_RANGE", file=name, params={"value": Raw(item)}))
            return


def _check_references(device: dict[str, Any], service_files: Mapping[str, str], issues: list[ProfileIssue]) -> None:
    referenced: dict[str, int] = {}
    for index, capability in enumerate(device.get("serviceTypeCapabilities") or []):
        service_type = capability.get("serviceType") if isinstance(capability, dict) else None
        if isinstance(service_type, str) and UPPER_CAMEL.fullmatch(service_type):
            referenced.setdefault(service_type, index)
    for service_type, index in referenced.items():
        if service_type not in service_files:
            issues.append(
                ProfileIssue(
                    "PROFILE_SERVICE_FILE_MISSING",
                    file=DEVICE_FILE,
                    path=f"$.devices[0].serviceTypeCapabilities[{index}].serviceType",
                    params={"service_type": Raw(service_type)},
                )
            )
    for folder, name in service_files.items():
        if folder not in referenced:
            issues.append(
                ProfileIssue("PROFILE_SERVICE_FILE_UNREFERENCED", file=name, path="$", params={"service_type": folder})
            )


def _check_zip_name(device: dict[str, Any], file_name: str, issues: list[ProfileIssue]) -> None:
    """F-2.2: the zip's name is deviceType_manufacturerId_model.zip, from the device's own fields."""
    fields = [device.get(key) for key in ("deviceType", "manufacturerId", "model")]
    if not all(isinstance(value, str) and value for value in fields):
        return
    if not _zip_name_shape(file_name):
        return  # already reported as PROFILE_ZIP_NAME
    expected = "_".join(fields) + ".zip"
    if file_name.rpartition(".")[0] != expected.removesuffix(".zip"):
        issues.append(
            ProfileIssue(
                "PROFILE_ZIP_NAME_MISMATCH",
                file=DEVICE_FILE,
                path="$.devices[0]",
                params={"name": file_name, "expected": expected},
            )
        )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _Checker:
    """Checks one document, appending issues that name its file and the JSON path."""

    def __init__(self, file: str, issues: list[ProfileIssue]) -> None:
        self.file = file
        self.issues = issues

    def add(self, code: str, path: str, **params: Any) -> None:
        self.issues.append(ProfileIssue(code, file=self.file, path=path, params=params))

    # Generic shapes.

    def object(self, value: Any, path: str, field: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.add("PROFILE_FIELD_TYPE", path, field=Raw(field), expected=Raw("object"), actual=Raw(_json_type(value)))
        return None

    def array(self, container: dict[str, Any], key: str, path: str, *, required: bool = False) -> list[Any]:
        """An array or null (F-2.5; null is the original's own habit); [] when missing or null."""
        here = f"{path}.{key}"
        if key not in container:
            if required:
                self.add("PROFILE_FIELD_MISSING", here, field=Raw(key))
            return []
        value = container[key]
        if value is None:
            return []
        if not isinstance(value, list):
            self.add("PROFILE_NOT_ARRAY", here, field=Raw(key), actual=Raw(_json_type(value)))
            return []
        return value

    def text(
        self,
        container: dict[str, Any],
        key: str,
        path: str,
        *,
        required: bool = True,
        max_length: int = NAME_MAX_LENGTH,
        pattern: re.Pattern[str] | None = None,
        pattern_code: str = "",
    ) -> str | None:
        """A string field: present (when required), a string, not empty, not too long, well named."""
        here = f"{path}.{key}"
        value = container.get(key)
        if value is None:
            if required:
                self.add("PROFILE_FIELD_MISSING", here, field=Raw(key))
            return None
        if not isinstance(value, str):
            self.add("PROFILE_FIELD_TYPE", here, field=Raw(key), expected=Raw("string"), actual=Raw(_json_type(value)))
            return None
        if required and not value.strip():
            self.add("PROFILE_FIELD_EMPTY", here, field=Raw(key))
            return None
        if len(value) > max_length:
            self.add("PROFILE_FIELD_TOO_LONG", here, field=Raw(key), length=Raw(len(value)), limit=Raw(max_length))
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.add(pattern_code, here, field=Raw(key), value=value)
            return None
        return value

    def unique(self, seen: dict[str, str], value: str | None, key: str, path: str) -> None:
        if value is None:
            return
        if value in seen:
            self.add("PROFILE_NAME_DUPLICATE", f"{path}.{key}", field=Raw(key), value=value, other=Raw(seen[value]))
        else:
            seen[value] = f"{path}.{key}"

    # devicetype-capability.json

    def device(self, document: Any) -> dict[str, Any] | None:
        root = self.object(document, "$", "$")
        if root is None:
            return None
        if "devices" not in root:
            self.add("PROFILE_FIELD_MISSING", "$.devices", field=Raw("devices"))
            return None
        devices = root["devices"]
        if not isinstance(devices, list):
            self.add(
                "PROFILE_FIELD_TYPE",
                "$.devices",
                field=Raw("devices"),
                expected=Raw("array"),
                actual=Raw(_json_type(devices)),
            )
            return None
        if len(devices) != 1:
            self.add("PROFILE_DEVICE_COUNT", "$.devices", count=Raw(len(devices)))
            return None
        path = "$.devices[0]"
        device = self.object(devices[0], path, "devices[0]")
        if device is None:
            return None
        self.text(device, "deviceType", path, pattern=UPPER_CAMEL, pattern_code="PROFILE_NAME_UPPER_CAMEL")
        self.text(device, "manufacturerId", path, pattern=IDENTIFIER, pattern_code="PROFILE_NAME_IDENTIFIER")
        self.text(device, "manufacturerName", path, max_length=MANUFACTURER_NAME_MAX_LENGTH)
        self.text(device, "model", path, pattern=IDENTIFIER, pattern_code="PROFILE_NAME_IDENTIFIER")
        protocol = self.text(device, "protocolType", path)
        if protocol is not None and protocol.upper() not in {name.upper() for name in PROTOCOL_TYPES}:
            self.add("PROFILE_PROTOCOL_TYPE", f"{path}.protocolType", value=protocol)
        capabilities = self.array(device, "serviceTypeCapabilities", path, required=True)
        service_ids: dict[str, str] = {}
        for index, item in enumerate(capabilities):
            here = f"{path}.serviceTypeCapabilities[{index}]"
            capability = self.object(item, here, f"serviceTypeCapabilities[{index}]")
            if capability is None:
                continue
            service_id = self.text(
                capability, "serviceId", here, pattern=UPPER_CAMEL, pattern_code="PROFILE_NAME_UPPER_CAMEL"
            )
            self.unique(service_ids, service_id, "serviceId", here)
            self.text(capability, "serviceType", here, pattern=UPPER_CAMEL, pattern_code="PROFILE_NAME_UPPER_CAMEL")
            option = capability.get("option")
            if option is not None and (not isinstance(option, str) or option not in OPTIONS):
                self.add("PROFILE_OPTION", f"{here}.option", value=option)
        return device

    # servicetype-capability.json

    def service(self, document: Any, folder: str) -> dict[str, Any] | None:
        root = self.object(document, "$", "$")
        if root is None:
            return None
        if "services" not in root:
            self.add("PROFILE_FIELD_MISSING", "$.services", field=Raw("services"))
            return None
        services = root["services"]
        if not isinstance(services, list):
            self.add(
                "PROFILE_FIELD_TYPE",
                "$.services",
                field=Raw("services"),
                expected=Raw("array"),
                actual=Raw(_json_type(services)),
            )
            return None
        if len(services) != 1:
            self.add("PROFILE_SERVICE_COUNT", "$.services", count=Raw(len(services)))
            return None
        path = "$.services[0]"
        service = self.object(services[0], path, "services[0]")
        if service is None:
            return None
        service_type = self.text(
            service, "serviceType", path, pattern=UPPER_CAMEL, pattern_code="PROFILE_NAME_UPPER_CAMEL"
        )
        if service_type is not None and service_type != folder:
            self.add(
                "PROFILE_SERVICE_TYPE_MISMATCH", f"{path}.serviceType", folder=Raw(folder), service_type=service_type
            )
        self.text(service, "description", path, required=False, max_length=DESCRIPTION_MAX_LENGTH)

        names: dict[str, str] = {}
        for index, item in enumerate(self.array(service, "properties", path)):
            here = f"{path}.properties[{index}]"
            prop = self.object(item, here, f"properties[{index}]")
            if prop is not None:
                self.unique(names, self.datum(prop, here, "propertyName"), "propertyName", here)

        command_names: dict[str, str] = {}
        for index, item in enumerate(self.array(service, "commands", path)):
            here = f"{path}.commands[{index}]"
            command = self.object(item, here, f"commands[{index}]")
            if command is None:
                continue
            name = self.text(command, "commandName", here, pattern=COMMAND_NAME, pattern_code="PROFILE_NAME_COMMAND")
            self.unique(command_names, name, "commandName", here)
            self.paras(command, here)
            response_names: dict[str, str] = {}
            for response_index, response_item in enumerate(self.array(command, "responses", here)):
                response_path = f"{here}.responses[{response_index}]"
                response = self.object(response_item, response_path, f"responses[{response_index}]")
                if response is None:
                    continue
                response_name = self.text(
                    response, "responseName", response_path, pattern=COMMAND_NAME, pattern_code="PROFILE_NAME_COMMAND"
                )
                self.unique(response_names, response_name, "responseName", response_path)
                self.paras(response, response_path)
        return service

    def paras(self, container: dict[str, Any], path: str) -> None:
        names: dict[str, str] = {}
        for index, item in enumerate(self.array(container, "paras", path)):
            here = f"{path}.paras[{index}]"
            para = self.object(item, here, f"paras[{index}]")
            if para is not None:
                self.unique(names, self.datum(para, here, "paraName"), "paraName", here)

    def datum(self, item: dict[str, Any], path: str, name_key: str) -> str | None:
        """A property (name_key propertyName, with method) or a command's para (paraName); returns its name."""
        name = self.text(item, name_key, path, pattern=CAMEL, pattern_code="PROFILE_NAME_CAMEL")
        data_type = self.text(item, "dataType", path)
        if data_type is not None and data_type not in DATA_TYPES:
            self.add("PROFILE_DATA_TYPE", f"{path}.dataType", value=data_type)
            data_type = None
        required = item.get("required")
        if required is not None and not isinstance(required, bool):
            self.add(
                "PROFILE_FIELD_TYPE",
                f"{path}.required",
                field=Raw("required"),
                expected=Raw("boolean"),
                actual=Raw(_json_type(required)),
            )
        low = self.number(item, "min", path)
        high = self.number(item, "max", path)
        # Properties only: the original's WaterMeterAlarm example has a command para with min 1, max 0.
        numeric = name_key == "propertyName" and data_type in NUMERIC_DATA_TYPES
        if numeric and low is not None and high is not None and low > high:
            self.add("PROFILE_RANGE", f"{path}.min", min=Raw(item["min"]), max=Raw(item["max"]))
        step = self.number(item, "step", path)
        if step is not None and step < 0:
            self.add("PROFILE_NEGATIVE", f"{path}.step", field=Raw("step"), value=Raw(item["step"]))
        self.max_length(item, path)
        self.text(item, "unit", path, required=False, max_length=UNIT_MAX_LENGTH)
        self.enum_list(item, path, data_type)
        if name_key == "propertyName":
            method = self.text(item, "method", path)
            if method is not None and not (
                1 <= len(method) <= 3 and set(method) <= set(METHOD_LETTERS) and len(set(method)) == len(method)
            ):
                self.add("PROFILE_METHOD", f"{path}.method", value=method)
        return name

    def number(self, item: dict[str, Any], key: str, path: str) -> float | None:
        """min, max and step: a number, or a string holding one (the original writes both)."""
        value = item.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.add("PROFILE_NUMBER", f"{path}.{key}", field=Raw(key), value=value)
            return None
        if isinstance(value, str):
            if not _NUMERIC_TEXT.fullmatch(value):
                self.add("PROFILE_NUMBER", f"{path}.{key}", field=Raw(key), value=value)
                return None
            number = float(value)
        else:
            number = float(value)
        if not math.isfinite(number):
            self.add("PROFILE_JSON_NUMBER_RANGE", f"{path}.{key}", value=Raw(value))
            return None
        return number

    def max_length(self, item: dict[str, Any], path: str) -> None:
        value = item.get("maxLength")
        if value is None:
            return
        here = f"{path}.maxLength"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add("PROFILE_WHOLE_NUMBER", here, field=Raw("maxLength"), value=value)
        elif isinstance(value, float) and not value.is_integer():
            self.add("PROFILE_WHOLE_NUMBER", here, field=Raw("maxLength"), value=Raw(value))
        elif value < 0:
            self.add("PROFILE_NEGATIVE", here, field=Raw("maxLength"), value=Raw(value))

    def enum_list(self, item: dict[str, Any], path: str, data_type: str | None) -> None:
        here = f"{path}.enumList"
        values = item.get("enumList")
        if values is None:
            return
        if not isinstance(values, list):
            self.add(
                "PROFILE_FIELD_TYPE", here, field=Raw("enumList"), expected=Raw("array"), actual=Raw(_json_type(values))
            )
            return
        if values and data_type is not None and data_type != "string":
            self.add("PROFILE_ENUM_DATA_TYPE", here, data_type=data_type)
            return
        seen: set[str] = set()
        for index, value in enumerate(values):
            if not isinstance(value, str) or not value.strip() or value in seen or len(value) > ENUM_VALUE_MAX_LENGTH:
                self.add("PROFILE_ENUM_VALUE", f"{here}[{index}]", value=value)
            else:
                seen.add(value)


# --- Normalising --------------------------------------------------------------------------------


def ordered(item: Mapping[str, Any], keys: Iterable[str], defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The item with its known keys first, in the original's order, missing ones filled; unknown keys kept."""
    keys = tuple(keys)
    defaults = defaults or {}
    result = {key: item.get(key, defaults.get(key)) for key in keys}
    for key, value in item.items():
        if key not in result:
            result[key] = value
    return result


def _datum(item: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    result = ordered(item, keys, {"required": False})
    if result["required"] is None:
        result["required"] = False
    return result


def _normalise_service(service: Mapping[str, Any]) -> dict[str, Any]:
    result = ordered(service, SERVICE_KEYS)
    result["properties"] = [_datum(prop, PROPERTY_KEYS) for prop in service.get("properties") or []]
    commands = []
    for command in service.get("commands") or []:
        normal = ordered(command, COMMAND_KEYS)
        normal["paras"] = [_datum(para, PARA_KEYS) for para in command.get("paras") or []]
        responses = []
        for response in command.get("responses") or []:
            normal_response = ordered(response, RESPONSE_KEYS)
            normal_response["paras"] = [_datum(para, PARA_KEYS) for para in response.get("paras") or []]
            responses.append(normal_response)
        normal["responses"] = responses
        commands.append(normal)
    result["commands"] = commands
    return result


def _normalise(
    device: Mapping[str, Any],
    services: Mapping[str, Mapping[str, Any]],
    extra_files: dict[str, str],
) -> dict[str, Any]:
    """The profile as stored: every known key present, null lists as [], services in reference order.

    Normalising twice gives the same result, which is what makes export followed by import lossless.
    Top-level keys of the two files other than `devices` and `services` are not part of the profile.
    """
    normal_device = ordered(device, DEVICE_KEYS)
    normal_device["serviceTypeCapabilities"] = [
        ordered(capability, CAPABILITY_KEYS, {"option": ""}) for capability in device["serviceTypeCapabilities"] or []
    ]
    for capability in normal_device["serviceTypeCapabilities"]:
        if capability["option"] is None:
            capability["option"] = ""
    ordered_services = []
    for capability in normal_device["serviceTypeCapabilities"]:
        service_type = capability["serviceType"]
        if service_type in services and all(s["serviceType"] != service_type for s in ordered_services):
            ordered_services.append(_normalise_service(services[service_type]))
    profile: dict[str, Any] = {"device": normal_device, "services": ordered_services}
    if extra_files:
        profile["extraFiles"] = dict(sorted(extra_files.items()))
    return profile
