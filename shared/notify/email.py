"""Email over SMTP (`aiosmtplib`), text and HTML, through the server in `JETDECK_SMTP_*`."""

from __future__ import annotations

import html
import re
from email.message import EmailMessage
from typing import Any, ClassVar

import aiosmtplib

from shared.config import Settings
from shared.errors import Invalid
from shared.notify.base import ChannelConfig, DeliveryError, Outgoing, SendResult, register
from shared.notify.message import text_lines, title

_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$|^[^@\s<>,;]+@localhost$")


@register
class EmailChannel:
    kind: ClassVar[str] = "email"
    secret_fields: ClassVar[tuple[str, ...]] = ()
    required: ClassVar[tuple[str, ...]] = ("to",)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check_config(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        to = config.get("to")
        if not isinstance(to, list) or not to or len(to) > 50:
            raise Invalid(
                "config.to: expected a list of 1 to 50 email addresses",
                code="invalid_channel_config",
                extra={"field": "config.to"},
            )
        for address in to:
            if not isinstance(address, str) or not _ADDRESS.match(address):
                raise Invalid(
                    f"config.to: {address!r} is not an email address",
                    code="invalid_channel_config",
                    extra={"field": "config.to"},
                )

    def compose(self, message: Outgoing, channel: ChannelConfig) -> EmailMessage:
        payload = message.payload
        mail = EmailMessage()
        mail["Subject"] = title(payload)
        mail["From"] = self.settings.smtp.from_address
        mail["To"] = ", ".join(channel.config["to"])
        # The same id on a resend, so a mail client can tell it is one notification.
        mail["Message-ID"] = f"<{message.id}@jetdeck>"
        lines = text_lines(payload)
        mail.set_content("\n".join(lines) + "\n")
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        mail.add_alternative(
            f"<html><body><h3>{html.escape(title(payload))}</h3><ul>{items}</ul></body></html>",
            subtype="html",
        )
        return mail

    async def send(self, message: Outgoing, channel: ChannelConfig) -> SendResult:
        smtp = self.settings.smtp
        if not smtp.host:
            raise DeliveryError("email needs an SMTP server: set JETDECK_SMTP_HOST", permanent=True)
        try:
            await aiosmtplib.send(
                self.compose(message, channel),
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username,
                password=smtp.password,
                use_tls=smtp.security == "tls",
                start_tls=True if smtp.security == "starttls" else False,
                timeout=smtp.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"SMTP refused the recipients: {exc}", permanent=True) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"SMTP authentication failed ({exc.code}: {str(exc.message)[:200]})",
                permanent=True,
                status_code=exc.code,
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"SMTP answered {exc.code}: {str(exc.message)[:200]}",
                permanent=500 <= exc.code < 600,
                status_code=exc.code,
            ) from None
        except (
            aiosmtplib.SMTPTimeoutError,
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPServerDisconnected,
            OSError,
        ) as exc:
            raise DeliveryError(
                f"SMTP: {type(exc).__name__}: {exc}"[:300], permanent=False
            ) from None
        except aiosmtplib.SMTPException as exc:
            # The server lacks what the settings ask for (AUTH, STARTTLS, SMTPUTF8): it will
            # not heal by retrying, the settings have to change.
            raise DeliveryError(f"SMTP: {exc}"[:300], permanent=True) from None
        return SendResult(250)
