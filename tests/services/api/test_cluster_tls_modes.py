"""TLS combined with how a cluster is named and authenticated, against real nats-servers
(tests/fixtures/nats_auth.py): a certificate verified by DNS name, TLS or mutual TLS with a
user/password, nkey or token on the same server, system-account nkeys, and natscli contexts
whose files `jetdeck clusters import` reads from disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nkeys
import pytest

from tests.fixtures.jetstream import ORG_PATH, Api
from tests.fixtures.nats_auth import (
    AuthServer,
    Pki,
    connection_test,
    new_keypair,
    register,
    seed_of,
    stream_round_trip,
)


def _mutual(pki: Pki) -> dict[str, Any]:
    return {"ca_pem": pki.ca_pem, "cert_pem": pki.client_cert_pem, "key_pem": pki.client_key_pem}


# TLS verified by DNS name ------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["tls", "nats"])
async def test_a_certificate_for_localhost_is_verified_by_name(
    client: Any, auth_headers: Any, tls_localhost_server: AuthServer, tls_pki: Pki, scheme: str
) -> None:
    # `nats://` with TLS settings upgrades when the server's INFO requires TLS.
    body = {
        "name": "by-name",
        "servers": [f"{scheme}://localhost:{tls_localhost_server.port}"],
        "tls": {"ca_pem": tls_pki.ca_pem},
    }
    await register(client, auth_headers, body)

    result = await connection_test(client, auth_headers, "by-name")

    assert result["ok"] is True, result
    assert result["error"] is None
    assert result["server_version"].count(".") == 2


async def test_the_same_certificate_reached_by_ip_is_a_tls_failure_naming_the_mismatch(
    client: Any, auth_headers: Any, tls_localhost_server: AuthServer, tls_pki: Pki
) -> None:
    body = {
        "name": "by-ip",
        "servers": [tls_localhost_server.url_for("127.0.0.1")],
        "tls": {"ca_pem": tls_pki.ca_pem},
    }
    await register(client, auth_headers, body)

    result = await connection_test(client, auth_headers, "by-ip")

    assert result["ok"] is False
    assert result["error"]["code"] == "cluster_tls_failed"
    detail = result["error"]["detail"]
    assert detail.startswith("Cannot connect to cluster 'by-ip': TLS failed (")
    assert "certificate verify failed" in detail
    assert "IP address mismatch, certificate is not valid for '127.0.0.1'" in detail


async def test_a_certificate_for_localhost_from_another_ca_is_still_refused_by_name(
    client: Any, auth_headers: Any, tls_localhost_server: AuthServer, tls_pki: Pki
) -> None:
    body = {
        "name": "by-name-other-ca",
        "servers": [tls_localhost_server.url_for("localhost")],
        "tls": {"ca_pem": tls_pki.other_ca_pem},
    }
    await register(client, auth_headers, body)

    result = await connection_test(client, auth_headers, "by-name-other-ca")

    assert result["ok"] is False
    assert result["error"]["code"] == "cluster_tls_failed"
    assert "unable to get local issuer certificate" in result["error"]["detail"]


# TLS and an auth type on the same server ---------------------------------------------------

COMBINED = ["tls-user-password", "mtls-nkey", "mtls-token"]


@pytest.fixture
def combined(request: pytest.FixtureRequest, tls_pki: Pki) -> Any:
    """(server, registration body with good credentials, body with wrong ones) of each kind."""

    def make(kind: str) -> tuple[AuthServer, dict[str, Any], dict[str, Any]]:
        if kind == "tls-user-password":
            server = request.getfixturevalue("tls_user_server")
            tls: dict[str, Any] = {"ca_pem": tls_pki.ca_pem}
            good = {"type": "user_password", "username": server.user, "password": server.secret}
            wrong = {**good, "password": "not-the-password"}
        elif kind == "mtls-nkey":
            server = request.getfixturevalue("mtls_nkey_server")
            tls = _mutual(tls_pki)
            good = {"type": "nkey", "seed": server.secret}
            wrong = {"type": "nkey", "seed": seed_of(new_keypair(nkeys.PREFIX_BYTE_USER))}
        else:
            server = request.getfixturevalue("mtls_token_server")
            tls = _mutual(tls_pki)
            good = {"type": "token", "token": server.secret}
            wrong = {"type": "token", "token": "not-the-token"}
        base = {"servers": server.servers, "tls": tls}
        return server, {**base, "auth": good}, {**base, "auth": wrong}

    return make


@pytest.mark.parametrize("kind", COMBINED)
async def test_tls_with_good_credentials_tests_ok_and_serves_streams(
    client: Any, auth_headers: Any, combined: Any, kind: str
) -> None:
    _, good, _ = combined(kind)
    await register(client, auth_headers, {"name": kind, **good})

    result = await connection_test(client, auth_headers, kind)

    assert result["ok"] is True, result
    assert "limits" in result["jetstream"]
    api = Api(
        client,
        f"{ORG_PATH}/{kind}",
        await auth_headers("editor"),
        await auth_headers("viewer"),
        await auth_headers("admin"),
    )
    await stream_round_trip(api, f"TLS_{kind.replace('-', '_').upper()}")


@pytest.mark.parametrize("kind", COMBINED)
async def test_wrong_credentials_over_tls_are_an_auth_failure_not_a_tls_one(
    client: Any, auth_headers: Any, combined: Any, kind: str
) -> None:
    # The TLS handshake succeeds; the server then refuses the credentials and closes. Each
    # try must say "authentication failed", however the close races the client's reads.
    _, _, wrong = combined(kind)
    await register(client, auth_headers, {"name": kind, **wrong})
    for _ in range(5):
        result = await connection_test(client, auth_headers, kind)
        assert result["ok"] is False
        assert result["error"]["code"] == "cluster_auth_failed", result
        assert (
            result["error"]["detail"]
            == f"Cannot connect to cluster {kind!r}: authentication failed"
        )


@pytest.mark.parametrize("kind", COMBINED)
async def test_no_credentials_over_tls_are_an_auth_failure(
    client: Any, auth_headers: Any, combined: Any, kind: str
) -> None:
    _, good, _ = combined(kind)
    await register(client, auth_headers, {"name": kind, **good, "auth": {"type": "none"}})

    result = await connection_test(client, auth_headers, kind)

    assert result["ok"] is False
    assert result["error"]["code"] == "cluster_auth_failed", result


@pytest.mark.parametrize("kind", ["mtls-nkey", "mtls-token"])
async def test_good_credentials_without_the_client_certificate_are_a_tls_failure(
    client: Any, auth_headers: Any, combined: Any, tls_pki: Pki, kind: str
) -> None:
    # The server checks the certificate before it reads any credentials.
    _, good, _ = combined(kind)
    await register(client, auth_headers, {"name": kind, **good, "tls": {"ca_pem": tls_pki.ca_pem}})

    result = await connection_test(client, auth_headers, kind)

    assert result["ok"] is False
    assert result["error"]["code"] == "cluster_tls_failed", result
    assert "certificate" in result["error"]["detail"].lower()


# System-account nkeys ----------------------------------------------------------------------


@pytest.fixture(params=["plain", "mutual-tls"])
def system_server(request: pytest.FixtureRequest, tls_pki: Pki) -> tuple[AuthServer, Any]:
    """A server with APP and SYS nkey users, and the `tls` of a registration body for it."""
    if request.param == "plain":
        return request.getfixturevalue("system_nkey_server"), None
    return request.getfixturevalue("mtls_system_nkey_server"), _mutual(tls_pki)


def _system_body(server: AuthServer, tls: Any, system_seed: str) -> dict[str, Any]:
    return {
        "name": "sys-nkey",
        "servers": server.servers,
        "auth": {"type": "nkey", "seed": server.secret},
        "system_auth": {"type": "nkey", "seed": system_seed},
        "tls": tls,
    }


async def test_system_account_nkey_shows_every_server_in_the_overview(
    client: Any, auth_headers: Any, system_server: tuple[AuthServer, Any]
) -> None:
    server, tls = system_server
    admin = await auth_headers("admin")
    created = await register(client, auth_headers, _system_body(server, tls, server.system_secret))
    assert created["system_auth"]["type"] == "nkey"
    assert created["system_auth"]["seed_set"] is True

    overview = await client.get(f"{ORG_PATH}/sys-nkey/overview", headers=admin)

    assert overview.status_code == 200, overview.text
    data = overview.json()
    assert data["source"] == "system"
    assert [s["name"] for s in data["servers"]] == [server.name]
    assert data["servers"][0]["jetstream"] is True
    assert data["jetstream"]["usage"]["streams"] == 0
    for secret in (server.secret, server.system_secret):
        assert secret not in overview.text
        assert secret not in str(created)


async def test_the_application_nkey_alone_shows_only_what_the_account_sees(
    client: Any, auth_headers: Any, system_nkey_server: AuthServer
) -> None:
    admin = await auth_headers("admin")
    body = {
        "name": "app-nkey",
        "servers": system_nkey_server.servers,
        "auth": {"type": "nkey", "seed": system_nkey_server.secret},
    }
    await register(client, auth_headers, body)

    overview = await client.get(f"{ORG_PATH}/app-nkey/overview", headers=admin)

    assert overview.status_code == 200, overview.text
    assert overview.json()["source"] == "account"
    assert [s["server_name"] for s in overview.json()["servers"]] == ["system-nkey"]


async def test_a_system_nkey_the_server_does_not_know_is_an_auth_failure_in_the_overview(
    client: Any, auth_headers: Any, system_nkey_server: AuthServer
) -> None:
    stranger = seed_of(new_keypair(nkeys.PREFIX_BYTE_USER))
    await register(client, auth_headers, _system_body(system_nkey_server, None, stranger))

    overview = await client.get(
        f"{ORG_PATH}/sys-nkey/overview", headers=await auth_headers("admin")
    )

    assert overview.status_code == 503, overview.text
    assert overview.json()["code"] == "cluster_auth_failed"
    assert "authentication failed" in overview.json()["detail"]
    assert stranger not in overview.text


async def test_system_credentials_of_an_ordinary_account_say_so_in_the_overview(
    settings: Any, auth_headers: Any, system_nkey_server: AuthServer
) -> None:
    # The APP user signs in, but nobody answers its $SYS pings: the overview must not show
    # an empty server list as if it came from the system account.
    from litestar.testing import AsyncTestClient

    from services.app import create_app

    settings.nats.request_timeout = 1.0
    body = _system_body(system_nkey_server, None, system_nkey_server.secret)
    async with AsyncTestClient(create_app(settings), base_url="http://testserver.local") as client:
        await register(client, auth_headers, body)
        overview = await client.get(
            f"{ORG_PATH}/sys-nkey/overview", headers=await auth_headers("admin")
        )

    assert overview.status_code == 503, overview.text
    assert overview.json()["code"] == "cluster_unreachable"
    assert "are the system account credentials right?" in overview.json()["detail"]


# `jetdeck clusters import` with files -------------------------------------------------------

# Every key `nats context save` writes; the ones a test does not set stay empty.
NATSCLI_CONTEXT = {
    "description": "",
    "url": "",
    "socks_proxy": "",
    "token": "",
    "user": "",
    "password": "",
    "creds": "",
    "nkey": "",
    "cert": "",
    "key": "",
    "ca": "",
    "nsc": "",
    "jetstream_domain": "",
    "jetstream_api_prefix": "",
    "jetstream_event_prefix": "",
    "inbox_prefix": "",
    "user_jwt": "",
    "color_scheme": "",
    "tls_first": False,
    "windows_cert_store": "",
    "windows_cert_match_by": "",
    "windows_cert_match": "",
    "windows_ca_certs_match": [],
}


@pytest.fixture
def import_context(settings: Any, accounts: Any, monkeypatch: Any) -> Any:
    """Run `jetdeck clusters import CONTEXT --org acme` in-process, as an operator would."""
    from services.cli import main
    from shared.config import get_settings
    from tests.fixtures.services import in_thread

    monkeypatch.setenv("JETDECK_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("JETDECK_ENCRYPTION_KEY", settings.app.encryption_key)
    monkeypatch.setenv("JETDECK_SECRET_KEY", settings.app.secret_key)

    async def run(context: str | Path, *args: str) -> int:
        await accounts.make_org("acme")
        get_settings.cache_clear()
        try:
            argv = ["clusters", "import", str(context), "--org", "acme", *args]
            return int(in_thread(main, argv))
        finally:
            get_settings.cache_clear()

    return run


async def test_an_imported_context_reads_its_creds_file_and_connects(
    client: Any,
    auth_headers: Any,
    creds_server: AuthServer,
    import_context: Any,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    # A context given by name (~/.config/nats/context/NAME.json), naming its creds file
    # under `~`, as natscli writes them.
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".nkeys").mkdir()
    (tmp_path / ".nkeys" / "app.creds").write_text(creds_server.secret)
    contexts = tmp_path / ".config" / "nats" / "context"
    contexts.mkdir(parents=True)
    context = {**NATSCLI_CONTEXT, "url": creds_server.url, "creds": "~/.nkeys/app.creds"}
    (contexts / "decentral.json").write_text(json.dumps(context, indent=2))

    assert await import_context("decentral") == 0

    admin = await auth_headers("admin")
    read = (await client.get(f"{ORG_PATH}/decentral", headers=admin)).json()
    assert read["auth"]["type"] == "creds"
    assert read["auth"]["creds_set"] is True
    assert read["tls"] is None
    assert (await connection_test(client, auth_headers, "decentral"))["ok"] is True


async def test_an_imported_context_reads_its_nkey_and_tls_files_and_connects(
    client: Any,
    auth_headers: Any,
    mtls_nkey_server: AuthServer,
    tls_pki: Pki,
    import_context: Any,
    tmp_path: Path,
) -> None:
    files = {
        "nkey": ("user.nk", mtls_nkey_server.secret + "\n"),
        "ca": ("ca.pem", tls_pki.ca_pem),
        "cert": ("client.pem", tls_pki.client_cert_pem),
        "key": ("client-key.pem", tls_pki.client_key_pem),
    }
    context = dict(NATSCLI_CONTEXT, url=mtls_nkey_server.url)
    for field, (name, content) in files.items():
        (tmp_path / name).write_text(content)
        context[field] = str(tmp_path / name)
    path = tmp_path / "secure.json"
    path.write_text(json.dumps(context))

    assert await import_context(path, "--name", "mtls-imported") == 0

    admin = await auth_headers("admin")
    read = (await client.get(f"{ORG_PATH}/mtls-imported", headers=admin)).json()
    assert read["auth"]["type"] == "nkey"
    assert read["auth"]["seed_set"] is True
    assert read["tls"] == {
        "ca_pem": tls_pki.ca_pem,
        "cert_pem": tls_pki.client_cert_pem,
        "key_pem_set": True,
        "handshake_first": False,
    }
    result = await connection_test(client, auth_headers, "mtls-imported")
    assert result["ok"] is True, result


async def test_an_imported_context_whose_file_is_missing_registers_nothing(
    client: Any, auth_headers: Any, import_context: Any, tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "gone.json"
    missing = tmp_path / "nowhere.creds"
    path.write_text(
        json.dumps({**NATSCLI_CONTEXT, "url": "nats://127.0.0.1:1", "creds": str(missing)})
    )

    assert await import_context(path) == 1

    assert str(missing) in capsys.readouterr().err
    admin = await auth_headers("admin")
    assert (await client.get(ORG_PATH, headers=admin)).json()["total"] == 0


@pytest.mark.parametrize("kind", ["tls-first-mutual", "tls-user-password"])
async def test_an_imported_context_with_tls_files_and_other_settings_connects(
    client: Any,
    auth_headers: Any,
    request: pytest.FixtureRequest,
    tls_pki: Pki,
    import_context: Any,
    tmp_path: Path,
    kind: str,
) -> None:
    (tmp_path / "ca.pem").write_text(tls_pki.ca_pem)
    context: dict[str, Any] = {**NATSCLI_CONTEXT, "ca": str(tmp_path / "ca.pem")}
    if kind == "tls-first-mutual":
        server = request.getfixturevalue("tls_first_server")
        (tmp_path / "cert.pem").write_text(tls_pki.client_cert_pem)
        (tmp_path / "key.pem").write_text(tls_pki.client_key_pem)
        context.update(cert=str(tmp_path / "cert.pem"), key=str(tmp_path / "key.pem"))
        context["tls_first"] = True
    else:
        server = request.getfixturevalue("tls_user_server")
        context.update(user=server.user, password=server.secret)
    context["url"] = server.url
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(context))

    assert await import_context(path) == 0

    read = (await client.get(f"{ORG_PATH}/{kind}", headers=await auth_headers("admin"))).json()
    assert read["tls"]["ca_pem"] == tls_pki.ca_pem
    assert read["tls"]["handshake_first"] is (kind == "tls-first-mutual")
    result = await connection_test(client, auth_headers, kind)
    assert result["ok"] is True, result
