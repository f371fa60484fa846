"""Settings: strict, typed, and a bad or missing variable is named in the error."""

import os
import subprocess
import sys

import pytest

from shared.config import ConfigError, load_settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("JETDECK_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_production_refuses_to_start_without_secret_and_encryption_keys(clean_env) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "JETDECK_SECRET_KEY" in str(caught.value)
    assert "JETDECK_ENCRYPTION_KEY" in str(caught.value)


def test_yes_is_not_a_boolean(clean_env) -> None:
    clean_env.setenv("JETDECK_ENV", "test")
    clean_env.setenv("JETDECK_EMBEDDED", "yes")
    with pytest.raises(ConfigError, match="JETDECK_EMBEDDED: expected true or false"):
        load_settings()


def test_a_malformed_number_names_its_variable(clean_env) -> None:
    clean_env.setenv("JETDECK_ENV", "test")
    clean_env.setenv("JETDECK_NATS_REQUEST_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="JETDECK_NATS_REQUEST_TIMEOUT"):
        load_settings()


def test_housekeeping_runs_hourly_unless_told_otherwise_and_not_more_than_once_a_minute(
    clean_env,
) -> None:
    clean_env.setenv("JETDECK_ENV", "test")
    assert load_settings().workers.housekeeping_interval == 3600
    clean_env.setenv("JETDECK_HOUSEKEEPING_INTERVAL", "600")
    assert load_settings().workers.housekeeping_interval == 600
    clean_env.setenv("JETDECK_HOUSEKEEPING_INTERVAL", "5")
    with pytest.raises(ConfigError, match="JETDECK_HOUSEKEEPING_INTERVAL"):
        load_settings()


def test_a_wrong_url_scheme_names_the_variable_but_not_the_value(clean_env) -> None:
    clean_env.setenv("JETDECK_ENV", "test")
    clean_env.setenv("JETDECK_DATABASE_URL", "mysql://root:hunter2-secret@db/x")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "JETDECK_DATABASE_URL: expected a PostgreSQL URL" in str(caught.value)
    assert "hunter2-secret" not in str(caught.value)


def test_secrets_can_come_from_files(clean_env, tmp_path) -> None:
    (tmp_path / "secret").write_text("s" * 40 + "\n")
    (tmp_path / "key").write_text("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n")
    clean_env.setenv("JETDECK_SECRET_KEY_FILE", str(tmp_path / "secret"))
    clean_env.setenv("JETDECK_ENCRYPTION_KEY_FILE", str(tmp_path / "key"))
    settings = load_settings()
    assert settings.app.secret_key == "s" * 40
    assert settings.app.env == "production"


def test_an_unreadable_secret_file_is_named(clean_env, tmp_path) -> None:
    clean_env.setenv("JETDECK_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="JETDECK_SECRET_KEY_FILE: cannot read"):
        load_settings()


def test_an_encryption_key_that_is_not_a_fernet_key_is_refused(clean_env) -> None:
    clean_env.setenv("JETDECK_ENV", "test")
    clean_env.setenv("JETDECK_ENCRYPTION_KEY", "short")
    with pytest.raises(ConfigError, match="JETDECK_ENCRYPTION_KEY: expected a Fernet key"):
        load_settings()


def test_serve_without_a_database_url_exits_naming_the_variable(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JETDECK_")}
    env.update(
        JETDECK_ENV="development",
        JETDECK_REDIS_URL="redis://127.0.0.1:1/0",
        JETDECK_CLICKHOUSE_URL="chdb:///nonexistent",
    )
    result = subprocess.run(
        [sys.executable, "-m", "services", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "JETDECK_DATABASE_URL: required, not set" in result.stderr


def test_a_bad_port_stops_start_up_with_its_name(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JETDECK_")}
    env.update(JETDECK_ENV="development", JETDECK_PORT="eighty")
    result = subprocess.run(
        [sys.executable, "-m", "services", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "JETDECK_PORT" in result.stderr
