"""Object 19 (LwM2M APPDATA) downlinks: which form a device gets, and what each form sends.

OMA object 19's resource 0 is a multiple-instance resource. Huawei modules take a plain opaque write
to /19/{down}/0; a conformant client refuses that (4.00: "multiple resource, but the payload treats it
as single") and takes a write of the resource instance instead (docs/lwm2m.md, "Object 19"):

- `opaque`: PUT /19/{down}/0, Content-Format 42 (Huawei modules; today's form);
- `instance`: PUT /19/{down}/0/0, Content-Format 42 (LwM2M 1.1 and later address resource instances);
- `tlv`: PUT /19/{down}/0, Content-Format 11542, a multiple-resource TLV carrying resource instance 0
  (LwM2M 1.0, which cannot address a resource instance in a URI).

The order is chosen at registration from the product's setting and the registration's `lwm2m=`
version, with the form the device accepted before (ingress.models.LearnedDownlink) first. A device
that refuses the first form with one of REFUSALS gets the second once; the one that worked is learned.
Execute (POST, the delivery policy's other method) is never a fallback.
"""

from __future__ import annotations

from ingress.formats import OPAQUE, TLV, encode_tlv_multiple
from products.models import LWM2M_OBJECT19_FORMS

OPAQUE_FORM, INSTANCE_FORM, TLV_FORM = "opaque", "instance", "tlv"
FORMS = (OPAQUE_FORM, INSTANCE_FORM, TLV_FORM)
SETTINGS = LWM2M_OBJECT19_FORMS  # products.Product.lwm2m_object19
# Answers that say "not this form": Bad Request, Method Not Allowed, Unsupported Content-Format.
REFUSALS = ("4.00", "4.05", "4.15")


def version_at_least_1_1(version: str) -> bool:
    try:
        major, _, minor = version.partition(".")
        return (int(major), int(minor or 0)) >= (1, 1)
    except ValueError:
        return False


def standard_form(version: str) -> str:
    """The specification's form for the client's version: the resource instance from 1.1, TLV before."""
    return INSTANCE_FORM if version_at_least_1_1(version) else TLV_FORM


def forms_for(setting: str, version: str, learned: str = "") -> list[str]:
    """The forms to try, in order (two at most): the learned one first, then the setting's choice.

    `auto`: clients that declare LwM2M 1.1 or later get the standard form first; 1.0 clients (every
    Huawei module) get today's opaque write first, then TLV."""
    standard = standard_form(version)
    if setting == "standard" or (setting == "auto" and version_at_least_1_1(version)):
        order = [standard, OPAQUE_FORM]
    else:
        order = [OPAQUE_FORM, standard]
    if learned in FORMS:
        order = [learned, *[form for form in order if form != learned]]
    return order[:2]


def request_parts(form: str, base: tuple[str, ...], payload: bytes) -> tuple[tuple[str, ...], int, bytes]:
    """(URI path, Content-Format, payload) of a write of `payload` to resource `base` (/19/{down}/0,
    prefixed for a gateway's sub-device) in `form`."""
    if form == INSTANCE_FORM:
        return (*base, "0"), OPAQUE, payload
    if form == TLV_FORM:
        return base, TLV, encode_tlv_multiple(0, [payload])
    return base, OPAQUE, payload
