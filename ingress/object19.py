"""Object 19 (LwM2M APPDATA) downlinks: which form a device gets, and what each form sends.

OMA object 19's resource 0 is a multiple-instance resource. Huawei modules take a plain opaque write
to /19/{down}/0; a conformant client refuses that (4.00: "multiple resource, but the payload treats it
as single") and takes a write of the resource instance instead (docs/lwm2m.md, "Object 19"):

- `opaque`: PUT /19/{down}/0, Content-Format 42 (Huawei modules; today's form);
- `instance`: PUT /19/{down}/0/0, Content-Format 42 (LwM2M 1.1 and later address resource instances);
- `tlv`: PUT /19/{down}/0, Content-Format 11542, a multiple-resource TLV carrying resource instance 0
  (LwM2M 1.0, which cannot address a resource instance in a URI).

The order is chosen at registration from the product's setting, the registration's `lwm2m=` version
and what its links declare (`declares_standard`), with the form the device accepted before
(ingress.models.LearnedDownlink) first. A device that refuses the first form with one of REFUSALS gets
the second once; the one that worked is learned. A device whose notifications come in a format that
carries resource instances (MULTIPLE_VALUE_FORMATS: TLV, SenML, LwM2M JSON or CBOR) treats resource 0
as the specification does: that is learned too, before any downlink (ingress.sessions.learn_from_format).
Execute (POST, the delivery policy's other method) is never a fallback.
"""

from __future__ import annotations

from typing import Any

from ingress.formats import (
    LWM2M_CBOR,
    LWM2M_JSON,
    OLD_JSON,
    OLD_TLV,
    OPAQUE,
    SENML_CBOR,
    SENML_JSON,
    TLV,
    encode_tlv_multiple,
)
from products.models import LWM2M_OBJECT19_FORMS

OPAQUE_FORM, INSTANCE_FORM, TLV_FORM = "opaque", "instance", "tlv"
FORMS = (OPAQUE_FORM, INSTANCE_FORM, TLV_FORM)
SETTINGS = LWM2M_OBJECT19_FORMS  # products.Product.lwm2m_object19
# Answers that say "not this form": Bad Request, Method Not Allowed, Unsupported Content-Format.
REFUSALS = ("4.00", "4.05", "4.15")
# Formats that carry a resource's instances, each with its id: a client notifying /19/0/0 in one of them
# treats resource 0 as multiple-instance. (Opaque, text and CBOR 60 carry one value: Huawei modules' opaque.)
MULTIPLE_VALUE_FORMATS = frozenset({TLV, OLD_TLV, LWM2M_JSON, OLD_JSON, SENML_JSON, SENML_CBOR, LWM2M_CBOR})


def version_at_least_1_1(version: str) -> bool:
    try:
        major, _, minor = version.partition(".")
        return (int(major), int(minor or 0)) >= (1, 1)
    except ValueError:
        return False


def standard_form(version: str) -> str:
    """The specification's form for the client's version: the resource instance from 1.1, TLV before."""
    return INSTANCE_FORM if version_at_least_1_1(version) else TLV_FORM


def declares_standard(links: list[dict[str, Any]]) -> str:
    """What in a registration's links (ingress.formats.parse_link_format) says the client follows the
    specification's object model, which Huawei modules' bare `</19/0>,</19/1>` never do; "" if nothing:

    - a content format on the root link (`</>;rt="oma.lwm2m";ct=11543`, LwM2M 1.0 5.3.1: Zephyr's 1.0
      client declares its JSON so) that carries resource instances (MULTIPLE_VALUE_FORMATS);
    - an object 19 link with an object version (`</19>;ver=1.0`), or a resource link of object 19 with a
      dimension (`</19/1/0>;dim=1`) or a resource instance link (`</19/1/0/0>`)."""
    for link in links:
        path = [part for part in str(link.get("path", "")).split("/") if part]
        if not path and str(link.get("ct", "")).isdigit() and int(link["ct"]) in MULTIPLE_VALUE_FORMATS:
            return f"its root link declares content format {link['ct']}"
        if path[:1] != ["19"]:
            continue
        target = "</" + "/".join(path) + ">"
        if len(path) == 1 and link.get("ver"):
            return f"{target} declares object version {link['ver']}"
        if len(path) == 3 and link.get("dim"):
            return f"{target} declares dim={link['dim']}"
        if len(path) == 4:
            return f"it lists the resource instance {target}"
    return ""


def forms_for(setting: str, version: str, learned: str = "", declared: bool = False) -> list[str]:
    """The forms to try, in order (two at most): the learned one first, then the setting's choice.

    `auto`: clients that declare LwM2M 1.1 or later, or whose links declare the specification's object
    model (`declared`: declares_standard), get the standard form first; other 1.0 clients (every
    Huawei module) get today's opaque write first, then TLV."""
    standard = standard_form(version)
    if setting == "standard" or (setting == "auto" and (version_at_least_1_1(version) or declared)):
        order = [standard, OPAQUE_FORM]
    else:
        order = [OPAQUE_FORM, standard]
    if learned in FORMS:
        order = [learned, *[form for form in order if form != learned]]
    return order[:2]


def next_form(forms: tuple[str, ...] | list[str], tried: list[str], code: str) -> str | None:
    """The form to send the same downlink in after the device answered `tried[-1]` with `code` (once):
    the other form after one of REFUSALS; after 4.04 to the instance form, TLV, since a client may hold
    no instance 0 of the resource yet (Anjay answers 4.04 to a write of /19/1/0/0 until one exists) and a
    TLV write of the resource replaces its instances, creating it. None: no other form."""
    if len(tried) != 1:
        return None
    if code in REFUSALS:
        return next((form for form in forms if form not in tried), None)
    if tried[0] == INSTANCE_FORM and code == "4.04":
        return TLV_FORM
    return None


def huawei_form(forms: tuple[str, ...] | list[str]) -> bool:
    """Whether a device with these forms (first tried first) is treated as a Huawei module: the opaque
    write goes first. Such a device keeps the previous registration's observe token accepted (modules
    notify on it for a while); other clients' stale observations are cancelled (ingress.sessions.register)."""
    return not forms or forms[0] == OPAQUE_FORM


def request_parts(form: str, base: tuple[str, ...], payload: bytes) -> tuple[tuple[str, ...], int, bytes]:
    """(URI path, Content-Format, payload) of a write of `payload` to resource `base` (/19/{down}/0,
    prefixed for a gateway's sub-device) in `form`."""
    if form == INSTANCE_FORM:
        return (*base, "0"), OPAQUE, payload
    if form == TLV_FORM:
        return base, TLV, encode_tlv_multiple(0, [payload])
    return base, OPAQUE, payload
