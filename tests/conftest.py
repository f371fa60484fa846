"""Real services for every test (ARCHITECTURE.md, Tests). Fixtures live in tests/fixtures/."""

import os

# Unit tests use Dramatiq's in-memory broker; the integration test runs a real Redis worker.
os.environ.setdefault("JETDECK_BROKER", "stub")
os.environ.setdefault("JETDECK_ENV", "test")

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.nats",
    "tests.fixtures.apps",
    "tests.fixtures.accounts",
    "tests.fixtures.jetstream",
    "tests.fixtures.nats_auth",
    "tests.fixtures.receivers",
]
