"""Why a device's upgrade failed (F-7.7): each failure a distinct code with its advice.

The codes appear in sub-operations (`detailInfo` is the description) and in the portal; the table is
documented in docs/errors.md. LwM2M object 5's Update Result (/5/0/5) maps onto them, and so do PCP's
result codes (firmware.pcp.RESULTS).
"""

from __future__ import annotations

SUB_ERRORS: dict[str, tuple[str, str]] = {
    "DEVICE_NOT_ONLINE": ("Device not online.", "Use the policy 'when the device comes online', or wait for a report."),
    "TASK_CONFLICT": ("Task conflict: the device is upgrading in another task.", "Wait for that task, or stop it."),
    "NO_PROTOCOL_SERVICE": (
        "Cannot find the protocol service for the device.",
        "The product must support LwM2M object 5 (firmware) or PCP (software); check its protocolType.",
    ),
    "UPGRADE_DISABLED": ("Upgrades are switched off for this product (F-7.5).", "Switch them on in the product."),
    "SAME_VERSION": ("The current version is the same as the target version", "Nothing to do (F-7.3)."),
    "SOURCE_VERSION_MISMATCH": (
        "The device's current version is not one of the package's source versions.",
        "Upload a package that lists this version, or upgrade the device step by step (F-7.4).",
    ),
    "WAIT_ONLINE_TIMEOUT": (
        "Waiting for device online timeout.",
        "The device did not report within the task's window.",
    ),
    "WAIT_VERSION_TIMEOUT": ("Waiting for version report timeout.", "The device did not report its version."),
    "DOWNLOAD_TIMEOUT": ("Waiting for package download timeout.", "Coverage too poor, or the device stalled: retry."),
    "WAIT_RESULT_TIMEOUT": (
        "Waiting for upgrade result timeout.",
        "The device did not report the result of the update.",
    ),
    "VERSION_CHECK_TIMEOUT": ("Upgrade and version check timeout.", "The device did not report its new version."),
    "DEVICE_BUSY": (
        "The device cannot upgrade now: it is in use, its signal is poor or its battery is low.",
        "Retry later (PCP result 1, 2 or 4).",
    ),
    "NOT_ENOUGH_STORAGE": ("Not enough storage for the new firmware package.", "Free space on the device."),
    "OUT_OF_MEMORY": ("Out of memory during downloading process.", "Retry when the device is idle."),
    "CONNECTION_LOST": ("Connection lost during downloading process.", "Retry: the download resumes (F-7.9)."),
    "INTEGRITY_FAILURE": ("Integrity check failure for new downloaded package.", "Re-upload the package; check it."),
    "UNSUPPORTED_PACKAGE": ("Unsupported package type.", "The device refused the package format."),
    "INVALID_URI": ("Invalid URI.", "The device could not use the package URI."),
    "UPDATE_FAILED": ("Firmware update failed.", "The device failed to install the package; see its logs."),
    "VERSION_MISMATCH": (
        "The device reported another version than the target after the update.",
        "The package's version does not match what the device runs after installing it.",
    ),
    "STOPPED": ("Stopped: the task was aborted.", "Start a new task, or retry the failed sub-tasks."),
}

# LwM2M Firmware Update object, resource 5 (Update Result) -> our code.
LWM2M_RESULTS = {
    2: "NOT_ENOUGH_STORAGE",
    3: "OUT_OF_MEMORY",
    4: "CONNECTION_LOST",
    5: "INTEGRITY_FAILURE",
    6: "UNSUPPORTED_PACKAGE",
    7: "INVALID_URI",
    8: "UPDATE_FAILED",
    9: "NO_PROTOCOL_SERVICE",
}

# Failures that say nothing about the package or the rollout: they do not count towards abort-by-ratio.
NOT_ROLLOUT_FAILURES = {"SAME_VERSION", "SOURCE_VERSION_MISMATCH", "TASK_CONFLICT", "UPGRADE_DISABLED", "STOPPED"}


def describe(code: str) -> str:
    return SUB_ERRORS.get(code, (code, ""))[0]
