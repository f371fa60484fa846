"""Cluster secrets are checked when a cluster is registered, changed or imported: a malformed
nkey seed, creds file or TLS PEM is a 400 naming its field, never echoing the secret, and
nothing is stored. (Well-formed secrets that a server refuses are `…/test` failures: see
test_cluster_auth.py.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nkeys
import pytest
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)

from tests.fixtures.jetstream import ORG_PATH
from tests.fixtures.nats_auth import (
    AuthServer,
    Operator,
    Pki,
    creds_file,
    make_operator,
    new_keypair,
    seed_of,
)

NOWHERE = ["nats://127.0.0.1:4222"]  # never dialled: a refused registration connects to nothing


def _blocks(creds: str) -> tuple[str, str]:
    """(user JWT, user seed) of a creds file."""
    jwt, seed = (
        creds.split(f"BEGIN {block}-----\n")[1].split("\n")[0]
        for block in ("NATS USER JWT", "USER NKEY SEED")
    )
    return jwt, seed


def _tampered(seed: str) -> str:
    """The seed with one character changed: still base32, but its checksum no longer holds."""
    i = 20
    return seed[:i] + ("A" if seed[i] != "A" else "B") + seed[i + 1 :]


def _with_tampered_seed(creds: str) -> str:
    seed = _blocks(creds)[1]
    return creds.replace(seed, _tampered(seed))


def _encrypted(key_pem: str) -> str:
    key = load_pem_private_key(key_pem.encode(), password=None)
    return key.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"a passphrase")
    ).decode()


def _user_seed() -> str:
    return seed_of(new_keypair(nkeys.PREFIX_BYTE_USER))


def _nkey(seed: str, where: str = "auth") -> dict[str, Any]:
    return {where: {"type": "nkey", "seed": seed}}


def _creds(creds: str, where: str = "auth") -> dict[str, Any]:
    return {where: {"type": "creds", "creds": creds}}


# Each way a secret can be malformed: how the registration body carries it, the field named.
MALFORMED: dict[str, tuple[Callable[[Operator, Pki], dict[str, Any]], str]] = {
    "seed-not-base32": (lambda op, pki: _nkey("SUNOTASEED!"), "auth.seed"),
    "seed-with-a-typo": (lambda op, pki: _nkey(_tampered(_user_seed())), "auth.seed"),
    "seed-of-an-account": (
        lambda op, pki: _nkey(seed_of(new_keypair(nkeys.PREFIX_BYTE_ACCOUNT))),
        "auth.seed",
    ),
    "creds-without-its-jwt-block": (
        lambda op, pki: _creds(op.user_creds().split("\n\n", 1)[1]),
        "auth.creds",
    ),
    "creds-without-its-seed-block": (
        lambda op, pki: _creds(op.user_creds().split("***")[0]),
        "auth.creds",
    ),
    "creds-whose-jwt-is-not-a-jwt": (
        lambda op, pki: _creds(creds_file("not-a-jwt", _blocks(op.user_creds())[1])),
        "auth.creds",
    ),
    "creds-whose-seed-is-malformed": (
        lambda op, pki: _creds(_with_tampered_seed(op.user_creds())),
        "auth.creds",
    ),
    "creds-whose-seed-is-another-users": (
        lambda op, pki: _creds(creds_file(_blocks(op.user_creds())[0], _user_seed())),
        "auth.creds",
    ),
    "system-seed": (lambda op, pki: _nkey("SUNOTASEED", "system_auth"), "system_auth.seed"),
    "system-creds": (
        lambda op, pki: _creds("not a creds file", "system_auth"),
        "system_auth.creds",
    ),
    "ca-not-pem": (lambda op, pki: {"tls": {"ca_pem": "not a certificate"}}, "tls.ca_pem"),
    "cert-not-pem": (
        lambda op, pki: {
            "tls": {"cert_pem": pki.client_cert_pem[:200], "key_pem": pki.client_key_pem}
        },
        "tls.cert_pem",
    ),
    "key-not-pem": (
        lambda op, pki: {"tls": {"cert_pem": pki.client_cert_pem, "key_pem": "not a key"}},
        "tls.key_pem",
    ),
    "key-encrypted": (
        lambda op, pki: {
            "tls": {"cert_pem": pki.client_cert_pem, "key_pem": _encrypted(pki.client_key_pem)}
        },
        "tls.key_pem",
    ),
    "key-of-another-certificate": (
        lambda op, pki: {"tls": {"cert_pem": pki.client_cert_pem, "key_pem": pki.server_key_pem}},
        "tls.key_pem",
    ),
}


def _secrets_of(change: dict[str, Any]) -> list[str]:
    """Every secret value a change carries, and a telling line of each (a PEM's body)."""
    found = []
    for part in change.values():
        for key, value in part.items():
            if key in {"seed", "creds", "ca_pem", "cert_pem", "key_pem"} and value:
                found.append(value)
                found.extend(line for line in value.splitlines()[1:2] if len(line) > 20)
    return found


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_a_malformed_secret_is_refused_at_registration_naming_its_field(
    client: Any, auth_headers: Any, operator: Operator, tls_pki: Pki, case: str
) -> None:
    admin = await auth_headers("admin")
    change, field = MALFORMED[case]
    body = {"name": "broken", "servers": NOWHERE, **change(operator, tls_pki)}

    refused = await client.post(ORG_PATH, json=body, headers=admin)

    assert refused.status_code == 400, refused.text
    error = refused.json()
    assert error["code"] in {"invalid_auth", "invalid_tls"}
    assert error["extra"]["field"] == field
    assert error["detail"].startswith(f"{field}: ")
    for secret in _secrets_of({k: v for k, v in body.items() if isinstance(v, dict)}):
        assert secret not in refused.text
    assert (await client.get(ORG_PATH, headers=admin)).json()["total"] == 0


async def test_a_failed_update_leaves_the_stored_seed_working(
    client: Any, auth_headers: Any, nkey_server: AuthServer
) -> None:
    admin = await auth_headers("admin")
    body = {"name": "nk", "servers": nkey_server.servers, **_nkey(nkey_server.secret)}
    assert (await client.post(ORG_PATH, json=body, headers=admin)).status_code == 201

    refused = await client.patch(f"{ORG_PATH}/nk", json=_nkey("SUNOTASEED"), headers=admin)

    assert refused.status_code == 400
    assert refused.json()["extra"]["field"] == "auth.seed"
    tested = (await client.post(f"{ORG_PATH}/nk/test", headers=admin)).json()
    assert tested["ok"] is True, tested


async def test_a_failed_update_leaves_the_stored_client_certificate_and_key_working(
    client: Any, auth_headers: Any, tls_server: AuthServer, tls_pki: Pki
) -> None:
    admin = await auth_headers("admin")
    tls = {
        "ca_pem": tls_pki.ca_pem,
        "cert_pem": tls_pki.client_cert_pem,
        "key_pem": tls_pki.client_key_pem,
    }
    body = {"name": "mtls", "servers": tls_server.servers, "tls": tls}
    assert (await client.post(ORG_PATH, json=body, headers=admin)).status_code == 201

    bad_key = await client.patch(
        f"{ORG_PATH}/mtls", json={"tls": {"key_pem": "not a key"}}, headers=admin
    )
    # A certificate that is not the stored key's: named as the field that was given.
    foreign_cert = await client.patch(
        f"{ORG_PATH}/mtls", json={"tls": {"cert_pem": tls_pki.server_cert_pem}}, headers=admin
    )
    bad_ca = await client.patch(
        f"{ORG_PATH}/mtls", json={"tls": {"ca_pem": "-----BEGIN CERTIFICATE-----"}}, headers=admin
    )

    assert [r.status_code for r in (bad_key, foreign_cert, bad_ca)] == [400, 400, 400]
    assert [r.json()["extra"]["field"] for r in (bad_key, foreign_cert, bad_ca)] == [
        "tls.key_pem",
        "tls.cert_pem",
        "tls.ca_pem",
    ]
    stored = (await client.get(f"{ORG_PATH}/mtls", headers=admin)).json()["tls"]
    assert stored["cert_pem"] == tls_pki.client_cert_pem
    assert stored["ca_pem"] == tls_pki.ca_pem
    tested = (await client.post(f"{ORG_PATH}/mtls/test", headers=admin)).json()
    assert tested["ok"] is True, tested


async def test_an_imported_context_with_a_malformed_file_is_refused_naming_it(
    client: Any, auth_headers: Any
) -> None:
    admin = await auth_headers("admin")
    imported = await client.post(
        f"{ORG_PATH}/import",
        headers=admin,
        json={
            "name": "ctx",
            "context": {"url": NOWHERE[0], "nkey": "/home/me/user.nk"},
            "files": {"/home/me/user.nk": "SUNOTASEED\n"},
        },
    )

    assert imported.status_code == 400, imported.text
    error = imported.json()
    assert error["extra"]["field"] == "auth.seed"
    assert error["extra"]["context_field"] == "nkey"
    assert error["extra"]["path"] == "/home/me/user.nk"
    assert "/home/me/user.nk" in error["detail"]
    assert "SUNOTASEED" not in imported.text
    assert (await client.get(ORG_PATH, headers=admin)).json()["total"] == 0


async def test_an_imported_context_with_well_formed_files_is_registered(
    client: Any, auth_headers: Any, tls_pki: Pki
) -> None:
    admin = await auth_headers("admin")
    creds = make_operator().user_creds()
    imported = await client.post(
        f"{ORG_PATH}/import",
        headers=admin,
        json={
            "name": "ctx",
            "context": {
                "url": NOWHERE[0],
                "creds": "/me/app.creds",
                "ca": "/me/ca.pem",
                "cert": "/me/cert.pem",
                "key": "/me/key.pem",
            },
            "files": {
                "/me/app.creds": creds,
                "/me/ca.pem": tls_pki.ca_pem,
                "/me/cert.pem": tls_pki.client_cert_pem,
                "/me/key.pem": tls_pki.client_key_pem,
            },
        },
    )

    assert imported.status_code == 201, imported.text
    assert imported.json()["auth"]["creds_set"] is True
    assert imported.json()["tls"]["key_pem_set"] is True


async def test_system_account_creds_show_every_server_in_the_overview(
    client: Any, auth_headers: Any, creds_server: AuthServer, operator: Operator
) -> None:
    admin = await auth_headers("admin")
    body = {
        "name": "decentral",
        "servers": creds_server.servers,
        **_creds(creds_server.secret),
        **_creds(operator.user_creds("sys", account=operator.system), "system_auth"),
    }
    created = await client.post(ORG_PATH, json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["system_auth"]["creds_set"] is True

    overview = await client.get(f"{ORG_PATH}/decentral/overview", headers=admin)

    assert overview.status_code == 200, overview.text
    assert overview.json()["source"] == "system"
    assert [s["name"] for s in overview.json()["servers"]] == ["creds"]
