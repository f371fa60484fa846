"""Outbound HTTP for notifications, guarded against SSRF (ARCHITECTURE.md, decision 14).

Each request resolves the host itself, checks every address with `shared.netguard`, then
connects to the checked address (the URL's host goes in the Host header and the TLS SNI, so
certificates are verified against the name): a name that resolves elsewhere a moment later
(DNS rebinding) gains nothing. http and https only; at most 3 redirects, each checked the same
way; a timeout on every call; at most 64 KiB of a response body is read, and only a short
excerpt of it ever reaches an error message.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from shared import netguard
from shared.config import NotifySettings
from shared.db.base import utcnow
from shared.errors import Invalid
from shared.notify.base import DeliveryError

MAX_REDIRECTS = 3
BODY_LIMIT = 64 * 1024
EXCERPT = 200


class UnsafeUrl(Exception):
    """The URL is not one JetDeck may call: its message says why."""


class UnresolvedHost(UnsafeUrl):
    """The URL's host name does not resolve (now)."""


@dataclass
class Answer:
    status_code: int
    headers: httpx.Headers
    body: bytes  # at most BODY_LIMIT bytes

    def excerpt(self) -> str:
        return self.body[:EXCERPT].decode("utf-8", "replace").strip()

    def json(self) -> Any:
        import json

        try:
            return json.loads(self.body)
        except ValueError:
            return None


def _parts(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise UnsafeUrl("only http:// and https:// URLs are allowed")
    if not parsed.host:
        raise UnsafeUrl("the URL names no host")
    if parsed.userinfo:
        raise UnsafeUrl("credentials in the URL are not allowed")
    return parsed


def _allowed(address: netguard.IPAddress, settings: NotifySettings) -> bool:
    if netguard.never_allowed(address):
        return False  # link-local and metadata addresses: never, whatever the setting
    return settings.allow_private_networks or not netguard.is_internal(address)


async def safe_address(url: str, settings: NotifySettings) -> tuple[httpx.URL, str]:
    """(parsed URL, the address to connect to). Raises UnsafeUrl."""
    parsed = _parts(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = await netguard.resolve(parsed.host, port)
    except OSError:
        raise UnresolvedHost(f"the host {parsed.host!r} does not resolve") from None
    for address in addresses:
        if _allowed(address, settings):
            return parsed, str(address)
    raise UnsafeUrl(
        f"the host {parsed.host!r} is a loopback, private, link-local or metadata address "
        "(set JETDECK_NOTIFY_ALLOW_PRIVATE_NETWORKS=true to allow private networks)"
    )


async def check_url(url: str, settings: NotifySettings, field: str) -> None:
    """At save time: refuse a URL JetDeck would refuse to call, as a 400 naming `field`. A
    name that does not resolve right now is accepted (DNS may be down for a moment); it is
    checked again, like every URL, each time it is called."""
    try:
        await safe_address(url, settings)
    except UnresolvedHost:
        return
    except UnsafeUrl as exc:
        raise Invalid(
            f"{field}: {exc}", code="unsafe_notification_url", extra={"field": field}
        ) from None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


async def request(
    method: str,
    url: str,
    settings: NotifySettings,
    *,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One guarded call; redirects followed (≤ 3) and re-checked. Raises DeliveryError for
    a refused URL (permanent) or a connection failure or timeout (transient); any answer,
    whatever its status, is returned."""
    if json is not None:
        import json as _json

        content = _json.dumps(json, separators=(",", ":")).encode()
        headers = {"content-type": "application/json", **(headers or {})}
    timeout = httpx.Timeout(settings.timeout)
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, trust_env=False
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                parsed, address = await safe_address(url, settings)
            except UnsafeUrl as exc:
                raise DeliveryError(f"refused {exc}", permanent=True) from None
            pinned = parsed.copy_with(host=address)
            host_header = parsed.netloc.decode()
            req = client.build_request(
                method,
                pinned,
                content=content,
                headers={**(headers or {}), "host": host_header},
                extensions={"sni_hostname": parsed.host} if parsed.scheme == "https" else {},
            )
            try:
                response = await client.send(req, stream=True)
                try:
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) >= BODY_LIMIT:
                            break
                finally:
                    await response.aclose()
            except httpx.TimeoutException:
                raise DeliveryError("timed out", permanent=False) from None
            except httpx.HTTPError as exc:
                raise DeliveryError(
                    f"connection failed: {type(exc).__name__}", permanent=False
                ) from None
            if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
                url = str(parsed.join(response.headers["location"]))
                if response.status_code in (301, 302, 303):
                    method, content = "GET", None
                continue
            return Answer(response.status_code, response.headers, bytes(body[:BODY_LIMIT]))
    raise DeliveryError(f"more than {MAX_REDIRECTS} redirects", permanent=True)


def raise_for_answer(answer: Answer, what: str) -> None:
    """Map an HTTP answer to DeliveryError: 2xx passes; 408, 429 and 5xx are transient
    (429 honouring Retry-After); every other status is permanent (410 also disables)."""
    status = answer.status_code
    if 200 <= status < 300:
        return
    message = f"{what} answered {status}"
    excerpt = answer.excerpt()
    if excerpt:
        message += f": {excerpt}"
    if status in (408, 429) or status >= 500:
        raise DeliveryError(
            message,
            permanent=False,
            status_code=status,
            retry_after=_retry_after(answer.headers.get("retry-after")),
        )
    raise DeliveryError(message, permanent=True, status_code=status, gone=status == 410)
