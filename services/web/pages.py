"""What every page needs: who is signed in (on public pages too) and their CSRF token.

A full page is sent as it renders (`StreamedPage`): its head (stylesheets, scripts) leaves
first, so the browser fetches them while the rest renders. Everything a page shows
is read before its response starts (the handler's work; an error there is a proper error
page); only the rendering is streamed. A fragment (htmx) is small and is sent whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from litestar import Request
from litestar.response import Template
from litestar.response.streaming import ASGIStreamingResponse

from services.api.auth import WEB_SESSION
from services.api.security import SESSION_COOKIE, session_csrf_token
from shared.accounts.authenticate import resolve
from shared.accounts.principals import Principal
from shared.backends import Backends
from shared.errors import NotAuthenticated

# Pages show who is signed in and a CSRF token: no shared cache may keep them.
NO_STORE = {"Cache-Control": "no-store"}


async def session_user(request: Request[Any, Any, Any], backends: Backends) -> Principal | None:
    """The user of the session cookie, if any and still valid. On a public page the access
    middleware authenticates nobody, so the page asks (through the same cached resolution)."""
    if request.scope.get("state", {}).get(WEB_SESSION):
        principal: Principal = request.scope["state"]["principal"]
        return principal
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        principal, _ = await resolve(backends, token, None, web_session=True)
    except NotAuthenticated:
        return None
    return principal


def page(
    name: str,
    backends: Backends,
    user: Principal | None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    """A full page; base.html shows the user with a sign-out form, or a sign-in link."""
    csrf = (
        session_csrf_token(backends.settings, user.login_id)
        if user is not None and user.login_id is not None
        else None
    )
    return StreamedPage(
        name,
        context={"user": user, "csrf_token": csrf, **context},
        status_code=status_code,
        headers={**NO_STORE, **(headers or {})},
    )


# The first piece leaves at the end of the head (or once this much is rendered); the rest in
# pieces this size (each is one gzip flush and one write).
FIRST_PIECE = 4096
PIECE = 32768


def pieces(parts: Iterator[str], first: int = FIRST_PIECE, size: int = PIECE) -> Iterator[str]:
    """Jinja's output (thousands of small strings) joined into a few pieces: the first once
    the head is closed (`</head>`) or `first` characters are there, then every `size`, then
    what is left."""
    buffer: list[str] = []
    held, limit, head = 0, first, True
    for part in parts:
        buffer.append(part)
        held += len(part)
        if held >= limit or (head and "</head>" in part):
            yield "".join(buffer)
            buffer, held, limit, head = [], 0, size, False
    if buffer:
        yield "".join(buffer)


async def _aiter(first: str, rest: Iterable[str]) -> AsyncIterator[str]:
    # Rendered on the event loop, as a whole page would be (no thread hop per piece).
    yield first
    for piece in rest:
        yield piece


class StreamedPage(Template):
    """A Template response sent as it renders (see the module docstring). The first piece is
    rendered before the response starts, so an error in the page's top half is still a 500
    page; one further down cuts the response short (and is logged)."""

    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        background: Any = None,
        cookies: Iterable[Any] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: str | None = None,
        status_code: int | None = None,
        type_encoders: Any = None,
    ) -> ASGIStreamingResponse:
        engine = request.app.template_engine
        assert engine is not None and self.template_name is not None
        template = engine.get_template(self.template_name)
        rendered = pieces(template.generate(**self.create_template_context(request)))
        first = next(rendered, "")
        return ASGIStreamingResponse(
            iterator=_aiter(first, rendered),
            background=self.background or background,
            cookies=[*self.cookies, *(cookies or ())],
            encoded_headers=encoded_headers,
            encoding=self.encoding,
            headers={**(headers or {}), **self.headers},
            is_head_response=is_head_response,
            media_type=self.media_type or media_type or "text/html",
            status_code=self.status_code or status_code,
        )
