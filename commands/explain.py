"""The portal's answer to "why has this command not been delivered yet?" (issue 8, item 6)."""

from __future__ import annotations

import re

from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from applications.templatetags.present import as_time
from commands.actions import power_mode
from commands.models import Command, CommandStatus, PowerMode
from devices import last_seen
from devices.models import StatusDetail


def _when(value) -> SafeString | str:
    """A time as the portal shows every time (`as_time`: the user's zone, with its offset), or "never"."""
    return as_time(value) if value else _("never")


def _say(text: str, values: dict) -> SafeString:
    """The translated sentence escaped, its %(name)s values escaped in (times are already `<time>` HTML)."""
    escaped = conditional_escape(text)
    if not values:
        return escaped
    template = re.sub(r"%\((\w+)\)s", r"{\1}", escaped.replace("{", "{{").replace("}", "}}"))
    return format_html(template, **values)


def explain(command: Command) -> SafeString:
    """HTML (escaped): times are `<time data-local>` elements that time.js shows in the user's zone."""
    device = command.device
    if command.status == CommandStatus.PENDING:
        if device.status_detail == StatusDetail.FIRMWARE_UPDATING:
            return _say(
                _("The device is being upgraded (firmware or software); commands wait until the upgrade ends."), {}
            )
        if command.expire_time == 0:
            return _say(_("Being sent now (immediate delivery)."), {})
        mode = power_mode(device)
        if mode == PowerMode.PSM:
            return _say(
                _(
                    "Waiting for the device's next uplink: in PSM a device only listens right after it reports "
                    "(last uplink: %(when)s). It expires at %(expires)s."
                ),
                {"when": _when(last_seen.seen_at(device)), "expires": _when(command.expires_at)},
            )
        ahead = (
            Command.objects.filter(device=device, status=CommandStatus.SENT).order_by("sent_at").first()
            or Command.objects.filter(device=device, status=CommandStatus.PENDING, created_at__lt=command.created_at)
            .order_by("created_at")
            .first()
        )
        if ahead is not None:
            return _say(
                _("Queued behind command %(id)s (%(mode)s: one command at a time, the next once it is delivered)."),
                {"id": ahead.command_id, "mode": mode},
            )
        return _say(_("Next in line for the device (%(mode)s)."), {"mode": mode})
    if command.status == CommandStatus.SENT:
        return _say(
            _(
                "Sent at %(when)s, awaiting the device's acknowledgement (attempt %(n)s of %(m)s); "
                "it times out at %(due)s."
            ),
            {
                "when": _when(command.sent_at),
                "n": command.issued_times,
                "m": command.max_retransmit + 1,
                "due": _when(command.ack_due_at),
            },
        )
    if command.status == CommandStatus.DELIVERED:
        return _say(
            _("Delivered at %(when)s; awaiting the device's response with mid %(mid)s (until %(due)s)."),
            {"when": _when(command.delivered_at), "mid": command.mid, "due": _when(command.response_due_at)},
        )
    last = command.events.order_by("-at", "-id").first()
    reason = last.reason if last else ""
    return _say(
        _("%(status)s at %(when)s: %(reason)s."),
        {"status": command.get_status_display(), "when": _when(last.at if last else None), "reason": reason},
    )
