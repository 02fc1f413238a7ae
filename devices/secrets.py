"""Device secrets (the DTLS psk, the MQTT password-mode secret) encrypted at rest.

The DTLS and MQTT checks need them in clear, so they cannot be hashed: they are encrypted with
Fernet (AES-128-CBC + HMAC-SHA256) under DEVICE_SECRET_KEYS, a comma-separated list of keys whose
first encrypts and all decrypt (rotation: put a new key first, re-encrypt, drop the old one). Without
the setting the key is derived from SECRET_KEY, which is fine on one machine and must be set
explicitly when SECRET_KEY may change.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@cache
def _fernet() -> MultiFernet:
    keys = settings.DEVICE_SECRET_KEYS or [
        base64.urlsafe_b64encode(hashlib.sha256(b"device-secrets:" + settings.SECRET_KEY.encode()).digest()).decode()
    ]
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode() if token else ""
