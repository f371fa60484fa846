"""/api/v1/auth: sign in, refresh, sign out, who am I."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from services.access import Access, access
from services.api.auth import Principal
from shared.accounts import orgs, sessions
from shared.accounts.authenticate import user_id_of
from shared.accounts.schemas import LoginIn, MeOut, PasswordIn, RefreshIn, TokenOut
from shared.accounts.tokens import TokenPair
from shared.backends import Backends

NOT_AUDITED = "a sign-in or sign-out changes no organization's data"


def _out(pair: TokenPair) -> TokenOut:
    return TokenOut(pair.access_token, pair.refresh_token, pair.expires_in, pair.token_type)


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post("/login", status_code=200, opt=access(Access.PUBLIC, audit_exempt=NOT_AUDITED))
    async def login(
        self,
        data: JSONBody[LoginIn],
        request: Request[Any, Any, Any],
        backends: NamedDependency[Backends],
    ) -> TokenOut:
        """Same 401 for an unknown email and a wrong password; 429 after too many failures."""
        ip = request.client.host if request.client else None
        pair = await sessions.login(
            backends, data.email, data.password, ip=ip, user_agent=request.headers.get("user-agent")
        )
        return _out(pair)

    @post("/refresh", status_code=200, opt=access(Access.PUBLIC, audit_exempt=NOT_AUDITED))
    async def refresh(
        self, data: JSONBody[RefreshIn], backends: NamedDependency[Backends]
    ) -> TokenOut:
        """Uses up the refresh token; a used one revokes the whole login (401)."""
        return _out(await sessions.refresh(backends, data.refresh_token))

    @post("/logout", status_code=204, opt=access(Access.PUBLIC, audit_exempt=NOT_AUDITED))
    async def logout(self, data: JSONBody[RefreshIn], backends: NamedDependency[Backends]) -> None:
        await sessions.logout(backends, data.refresh_token)

    @post(
        "/password",
        status_code=204,
        opt=access(Access.AUTHENTICATED, audit="user.password_change", users_only=True),
    )
    async def change_password(
        self,
        data: JSONBody[PasswordIn],
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        backends: NamedDependency[Backends],
    ) -> None:
        """Ends every other login of the user; 401 when the current password is wrong."""
        ip = request.client.host if request.client else None
        await sessions.change_password(
            backends,
            user_id_of(principal),
            data.current_password,
            data.new_password,
            keep_login=principal.login_id,
            ip=ip,
        )

    @get("/me", opt=access(Access.AUTHENTICATED, users_only=True))
    async def me(
        self, principal: NamedDependency[Principal], backends: NamedDependency[Backends]
    ) -> MeOut:
        return await orgs.me(sessions.database(backends), user_id_of(principal))
