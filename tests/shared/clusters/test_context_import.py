"""natscli contexts become cluster registrations."""

from __future__ import annotations

import pytest

from shared.clusters.schemas import ContextImport
from shared.clusters.services import context_to_cluster
from shared.errors import Invalid


def test_a_user_password_context_with_several_urls() -> None:
    cluster = context_to_cluster(
        ContextImport(
            name="prod", context={"url": "nats://a:4222,b:4222", "user": "app", "password": "pw"}
        )
    )
    assert cluster.servers == ["nats://a:4222", "nats://b:4222"]
    assert (cluster.auth.type, cluster.auth.username, cluster.auth.password) == (
        "user_password",
        "app",
        "pw",
    )


def test_creds_and_tls_come_from_the_files_given() -> None:
    cluster = context_to_cluster(
        ContextImport(
            name="prod",
            context={
                "url": "tls://a:4222",
                "creds": "/me/app.creds",
                "ca": "/me/ca.pem",
                "tls_first": True,
            },
            files={"/me/app.creds": "-----BEGIN NATS USER JWT-----", "/me/ca.pem": "CA"},
        )
    )
    assert cluster.auth.type == "creds" and cluster.auth.creds
    assert cluster.tls is not None and cluster.tls.ca_pem == "CA" and cluster.tls.handshake_first


def test_a_file_the_context_names_but_the_import_lacks_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        context_to_cluster(ContextImport(name="prod", context={"nkey": "/me/seed.nk"}))
    assert caught.value.code == "context_file_missing"


def test_a_user_jwt_with_its_nkey_seed_becomes_a_creds_file() -> None:
    from shared.nats.connection import split_creds

    cluster = context_to_cluster(
        ContextImport(
            name="prod",
            context={"url": "nats://a:4222", "user_jwt": " eyJ0.eyJ1.sig ", "nkey": "/me/u.nk"},
            files={"/me/u.nk": "SUAEXAMPLESEED\n"},
        )
    )
    assert cluster.auth.type == "creds" and cluster.auth.creds
    assert split_creds(cluster.auth.creds) == ("eyJ0.eyJ1.sig", "SUAEXAMPLESEED")


@pytest.mark.parametrize(
    "setting",
    [
        {"nsc": "nsc://operator/account/user"},
        {"jetstream_domain": "hub"},
        {"jetstream_api_prefix": "$JS.hub.API"},
        {"socks_proxy": "127.0.0.1:1080"},
    ],
)
def test_a_setting_jetdeck_cannot_honour_is_refused_not_dropped(setting: dict) -> None:
    with pytest.raises(Invalid) as caught:
        context_to_cluster(
            ContextImport(name="prod", context={"url": "nats://a:4222", "user": "u", **setting})
        )
    assert caught.value.code == "context_unsupported"
    assert caught.value.extra["fields"] == list(setting)
