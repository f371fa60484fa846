"""Every way a cluster authenticates, against real nats-servers (tests/fixtures/nats_auth.py):
token, nkey seed, creds (operator → account → user JWTs), mutual TLS, TLS handshake first."""

from __future__ import annotations

import time
from typing import Any

import nkeys
import pytest
from sqlalchemy import select

from shared.clusters.models import Cluster
from shared.crypto import decrypt_json, encrypt_json
from tests.fixtures.jetstream import ORG_PATH, Api
from tests.fixtures.nats_auth import (
    AuthServer,
    Pki,
    connection_test,
    make_operator,
    new_keypair,
    register,
    seed_of,
    stream_round_trip,
)


def _tls(pki: Pki, *, handshake_first: bool = False) -> dict[str, Any]:
    return {
        "ca_pem": pki.ca_pem,
        "cert_pem": pki.client_cert_pem,
        "key_pem": pki.client_key_pem,
        "handshake_first": handshake_first,
    }


def _body(name: str, server: AuthServer, auth: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "servers": server.servers, "auth": auth, **extra}


@pytest.fixture
def good_body(request: pytest.FixtureRequest) -> Any:
    """The registration body of each way to authenticate, with the secrets it carries."""

    def make(kind: str) -> tuple[dict[str, Any], list[str]]:
        if kind == "token":
            server = request.getfixturevalue("token_server")
            return _body(kind, server, {"type": "token", "token": server.secret}), [server.secret]
        if kind == "nkey":
            server = request.getfixturevalue("nkey_server")
            return _body(kind, server, {"type": "nkey", "seed": server.secret}), [server.secret]
        if kind == "creds":
            server = request.getfixturevalue("creds_server")
            jwt, seed = (
                server.secret.split(f"BEGIN {block}-----\n")[1].split("\n")[0]
                for block in ("NATS USER JWT", "USER NKEY SEED")
            )
            return _body(kind, server, {"type": "creds", "creds": server.secret}), [jwt, seed]
        pki = request.getfixturevalue("tls_pki")
        first = kind == "tls-first"
        server = request.getfixturevalue("tls_first_server" if first else "tls_server")
        body = _body(kind, server, {"type": "none"}, tls=_tls(pki, handshake_first=first))
        return body, [pki.client_key_pem.splitlines()[1]]

    return make


KINDS = ["token", "nkey", "creds", "mutual-tls", "tls-first"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_cluster_reached_with_each_kind_of_auth_tests_ok_and_serves_streams(
    client: Any, auth_headers: Any, good_body: Any, kind: str
) -> None:
    body, _ = good_body(kind)
    await register(client, auth_headers, body)
    result = await connection_test(client, auth_headers, kind)
    assert result["ok"] is True, result
    assert result["error"] is None
    assert result["server_version"].count(".") == 2
    assert result["rtt_ms"] >= 0
    assert "limits" in result["jetstream"] and "streams" in result["jetstream"]
    api = Api(
        client,
        f"{ORG_PATH}/{kind}",
        await auth_headers("editor"),
        await auth_headers("viewer"),
        await auth_headers("admin"),
    )
    await stream_round_trip(api, f"AUTH_{kind.replace('-', '_').upper()}")


@pytest.mark.parametrize("kind", KINDS)
async def test_responses_say_which_secrets_are_set_and_never_show_them(
    client: Any, auth_headers: Any, good_body: Any, kind: str
) -> None:
    body, secrets = good_body(kind)
    created = await register(client, auth_headers, body)
    admin = await auth_headers("admin")
    read = await client.get(f"{ORG_PATH}/{kind}", headers=admin)
    listed = await client.get(ORG_PATH, headers=admin)
    tested = await client.post(f"{ORG_PATH}/{kind}/test", headers=admin)
    for text in (str(created), read.text, listed.text, tested.text):
        for secret in secrets:
            assert secret not in text
    auth = created["auth"]
    set_flags = {k for k, v in auth.items() if k.endswith("_set") and v}
    expected = {"token": {"token_set"}, "nkey": {"seed_set"}, "creds": {"creds_set"}}
    assert set_flags == expected.get(kind, set())
    if kind in {"mutual-tls", "tls-first"}:
        assert created["tls"]["key_pem_set"] is True
        assert "key_pem" not in created["tls"]
        assert created["tls"]["handshake_first"] is (kind == "tls-first")
        assert read.json()["tls"] == created["tls"]


async def test_a_wrong_token_or_none_is_an_auth_failure(
    client: Any, auth_headers: Any, token_server: AuthServer
) -> None:
    await register(
        client, auth_headers, _body("wrong", token_server, {"type": "token", "token": "nope"})
    )
    await register(client, auth_headers, _body("none", token_server, {"type": "none"}))
    for name in ("wrong", "none"):
        result = await connection_test(client, auth_headers, name)
        assert result["ok"] is False
        assert result["error"]["code"] == "cluster_auth_failed"
        assert (
            result["error"]["detail"]
            == f"Cannot connect to cluster {name!r}: authentication failed"
        )


async def test_the_seed_of_another_nkey_user_is_an_auth_failure(
    client: Any, auth_headers: Any, nkey_server: AuthServer
) -> None:
    stranger = seed_of(new_keypair(nkeys.PREFIX_BYTE_USER))
    await register(
        client, auth_headers, _body("stranger", nkey_server, {"type": "nkey", "seed": stranger})
    )
    result = await connection_test(client, auth_headers, "stranger")
    assert result["ok"] is False
    assert result["error"]["code"] == "cluster_auth_failed"
    assert "authentication failed" in result["error"]["detail"]


async def _store_secret(accounts: Any, name: str, auth_secret: dict[str, Any]) -> None:
    """Overwrite a registered cluster's auth secret as stored before registration checked
    secrets: the connection must still refuse it quickly and say why."""
    async with accounts.db.session() as session:
        cluster = await session.scalar(select(Cluster).where(Cluster.name == name))
        secrets = decrypt_json(accounts.backends.settings, cluster.secrets)
        secrets["auth"] = auth_secret
        cluster.secrets = encrypt_json(accounts.backends.settings, secrets)


async def test_a_stored_malformed_seed_is_an_auth_failure_that_says_so(
    client: Any, auth_headers: Any, nkey_server: AuthServer, accounts: Any
) -> None:
    # nats-py's "nkeys: invalid seed" used to be reported as an unreachable cluster.
    good = {"type": "nkey", "seed": nkey_server.secret}
    await register(client, auth_headers, _body("bad", nkey_server, good))
    await _store_secret(accounts, "bad", {"type": "nkey", "seed": "SUNOTASEED"})
    result = await connection_test(client, auth_headers, "bad")
    assert result["ok"] is False
    assert result["error"]["code"] == "cluster_auth_failed"
    assert "not a valid nkey seed" in result["error"]["detail"]


async def test_a_seed_pasted_with_surrounding_whitespace_still_connects(
    client: Any, auth_headers: Any, nkey_server: AuthServer
) -> None:
    padded = {"type": "nkey", "seed": f"  {nkey_server.secret}\n"}
    await register(client, auth_headers, _body("padded", nkey_server, padded))
    assert (await connection_test(client, auth_headers, "padded"))["ok"] is True


async def test_creds_of_another_operator_are_an_auth_failure(
    client: Any, auth_headers: Any, creds_server: AuthServer
) -> None:
    foreign = {"type": "creds", "creds": make_operator().user_creds()}
    await register(client, auth_headers, _body("foreign", creds_server, foreign))
    result = await connection_test(client, auth_headers, "foreign")
    assert result["ok"] is False
    assert result["error"]["code"] == "cluster_auth_failed"
    assert "authentication failed" in result["error"]["detail"]


async def test_creds_signed_by_an_account_the_operator_did_not_sign_are_an_auth_failure(
    client: Any, auth_headers: Any, creds_server: AuthServer, operator: Any
) -> None:
    rogue = new_keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    creds = {"type": "creds", "creds": operator.user_creds(account=rogue)}
    await register(client, auth_headers, _body("rogue", creds_server, creds))
    result = await connection_test(client, auth_headers, "rogue")
    assert result["ok"] is False
    assert result["error"]["code"] == "cluster_auth_failed"


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda creds: creds.split("\n\n", 1)[1], id="without-its-jwt-block"),
        pytest.param(lambda creds: creds.split("***")[0], id="without-its-seed-block"),
        pytest.param(lambda creds: "not a creds file", id="not-a-creds-file"),
    ],
)
async def test_a_stored_malformed_creds_file_is_an_auth_failure_reported_at_once(
    client: Any, auth_headers: Any, creds_server: AuthServer, accounts: Any, broken: Any
) -> None:
    # Without a JWT block nats-py's reader looped forever (blocking the event loop); without a
    # seed block it failed with "object of type 'NoneType' has no len()".
    good = {"type": "creds", "creds": creds_server.secret}
    await register(client, auth_headers, _body("broken", creds_server, good))
    await _store_secret(accounts, "broken", {"type": "creds", "creds": broken(good["creds"])})
    started = time.monotonic()
    result = await connection_test(client, auth_headers, "broken")
    assert time.monotonic() - started < 5
    assert result["ok"] is False
    assert result["error"]["code"] == "cluster_auth_failed"
    assert "creds file has no user JWT or no user nkey seed block" in result["error"]["detail"]


async def test_a_creds_file_with_windows_line_ends_connects(
    client: Any, auth_headers: Any, creds_server: AuthServer
) -> None:
    crlf = {"type": "creds", "creds": creds_server.secret.replace("\n", "\r\n").rstrip()}
    await register(client, auth_headers, _body("crlf", creds_server, crlf))
    assert (await connection_test(client, auth_headers, "crlf"))["ok"] is True


async def test_a_client_without_the_client_certificate_is_a_tls_failure_every_time(
    client: Any, auth_headers: Any, tls_server: AuthServer, tls_pki: Pki
) -> None:
    # With TLS 1.3 the refusal races the client's first write: the alert, or a reset/broken
    # pipe, which used to be reported as an unreachable cluster.
    body = _body("nocert", tls_server, {"type": "none"}, tls={"ca_pem": tls_pki.ca_pem})
    await register(client, auth_headers, body)
    for _ in range(10):
        result = await connection_test(client, auth_headers, "nocert")
        assert result["ok"] is False
        assert result["error"]["code"] == "cluster_tls_failed", result
        assert "certificate" in result["error"]["detail"].lower()


async def test_a_server_certificate_from_another_ca_is_a_tls_failure(
    client: Any, auth_headers: Any, tls_server: AuthServer, tls_pki: Pki
) -> None:
    tls = {**_tls(tls_pki), "ca_pem": tls_pki.other_ca_pem}
    await register(client, auth_headers, _body("wrongca", tls_server, {"type": "none"}, tls=tls))
    result = await connection_test(client, auth_headers, "wrongca")
    assert result["ok"] is False
    assert result["error"]["code"] == "cluster_tls_failed"
    assert "certificate verify failed" in result["error"]["detail"]


async def test_no_tls_settings_against_a_tls_server_is_a_tls_failure(
    client: Any, auth_headers: Any, tls_server: AuthServer
) -> None:
    await register(client, auth_headers, _body("plain", tls_server, {"type": "none"}))
    result = await connection_test(client, auth_headers, "plain")
    assert result["ok"] is False
    assert result["error"]["code"] == "cluster_tls_failed"


async def test_plain_tls_against_a_handshake_first_server_is_a_tls_failure_naming_the_setting(
    client: Any, auth_headers: Any, tls_first_server: AuthServer, tls_pki: Pki
) -> None:
    # The server waits, silent, for a TLS handshake; this used to read "empty response from
    # server when expecting INFO message" as an unreachable cluster.
    body = _body("notfirst", tls_first_server, {"type": "none"}, tls=_tls(tls_pki))
    await register(client, auth_headers, body)
    result = await connection_test(client, auth_headers, "notfirst")
    assert result["ok"] is False
    assert result["error"]["code"] == "cluster_tls_failed"
    assert "expects the TLS handshake first" in result["error"]["detail"]
    assert "handshake_first" in result["error"]["detail"]


async def test_turning_handshake_first_on_by_patch_makes_the_cluster_reachable(
    client: Any, auth_headers: Any, tls_first_server: AuthServer, tls_pki: Pki
) -> None:
    body = _body("later", tls_first_server, {"type": "none"}, tls=_tls(tls_pki))
    await register(client, auth_headers, body)
    assert (await connection_test(client, auth_headers, "later"))["ok"] is False
    patch = {"tls": {**_tls(tls_pki, handshake_first=True), "key_pem": None}}
    patched = await client.patch(
        f"{ORG_PATH}/later", json=patch, headers=await auth_headers("admin")
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["tls"]["key_pem_set"] is True  # the stored key is kept
    assert (await connection_test(client, auth_headers, "later"))["ok"] is True


async def test_handshake_first_against_a_server_that_sends_info_first_fails_with_a_hint(
    client: Any, auth_headers: Any, tls_server: AuthServer, tls_pki: Pki
) -> None:
    # The server's plain-text INFO reaches the TLS layer (wrong version number) or was read
    # before it and the handshake times out: either way the answer says what to change.
    body = _body("first", tls_server, {"type": "none"}, tls=_tls(tls_pki, handshake_first=True))
    await register(client, auth_headers, body)
    result = await connection_test(client, auth_headers, "first")
    assert result["ok"] is False
    error = result["error"]
    if error["code"] == "cluster_tls_failed":
        assert "wrong version number" in error["detail"].lower()
    else:
        assert error["code"] == "cluster_unreachable"
        assert "handshake_first is on" in error["detail"]


async def test_a_tls_patch_keeps_the_stored_fields_it_does_not_give(
    client: Any, auth_headers: Any, tls_first_server: AuthServer, tls_pki: Pki
) -> None:
    admin = await auth_headers("admin")
    await register(
        client, auth_headers, _body("keep", tls_first_server, {"type": "none"}, tls=_tls(tls_pki))
    )
    patched = await client.patch(
        f"{ORG_PATH}/keep", json={"tls": {"handshake_first": True}}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["tls"] == {
        "ca_pem": tls_pki.ca_pem,
        "cert_pem": tls_pki.client_cert_pem,
        "key_pem_set": True,
        "handshake_first": True,
    }
    assert (await connection_test(client, auth_headers, "keep"))["ok"] is True
    # A new CA alone is not refused for want of the stored client certificate's key.
    patched = await client.patch(
        f"{ORG_PATH}/keep", json={"tls": {"ca_pem": tls_pki.other_ca_pem}}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["tls"] == {
        "ca_pem": tls_pki.other_ca_pem,
        "cert_pem": tls_pki.client_cert_pem,
        "key_pem_set": True,
        "handshake_first": True,
    }
    assert (await client.get(f"{ORG_PATH}/keep", headers=admin)).json()["tls"] == patched.json()[
        "tls"
    ]
    # `tls: {}` still removes every TLS setting.
    removed = await client.patch(f"{ORG_PATH}/keep", json={"tls": {}}, headers=admin)
    assert removed.status_code == 200, removed.text
    assert removed.json()["tls"] is None
