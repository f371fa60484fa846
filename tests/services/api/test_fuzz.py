"""Fuzzing every operation of the real app's OpenAPI document with schemathesis.

The app runs under uvicorn on its own database, Redis and ClickHouse, with a cluster on the
test nats-server; every request is signed in as the organization's owner and names real
things (tests/fixtures/world.py), so requests get past "not found" to the real work. Each
operation gets schemathesis' coverage cases (boundary and invalid values of every parameter
and body field) and a few generated ones (valid and invalid data), from a fixed seed: the same
requests on every run. Three promises are checked separately for each operation:

- no server error: no 5xx, except a 503 the operation documents;
- every status it answers is documented in its OpenAPI entry;
- a documented response's body and content type conform to the schema.

The operations come from the OpenAPI document at collection time, so a route added later is
fuzzed without touching this file. Routes that change or delete what their path names get
throwaway things, and run after the others (deletions last). Generated cluster addresses are
replaced by loopback ones: the fuzzer never makes the app connect anywhere else.

Run alone: `pytest tests/services/api/test_fuzz.py` (about a minute).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from services.app import create_app
from services.embedded.process import free_port
from tests.fixtures.accounts import Accounts
from tests.fixtures.nats import NatsTarget, delete_every_stream
from tests.fixtures.services import make_settings
from tests.fixtures.world import World, build_world, serve

pytestmark = pytest.mark.slow

# Generated cases per operation and mode, on top of the coverage cases: more for reads,
# which are cheap and take the most open-ended parameters (offsets, times, sequences).
FUZZ_EXAMPLES = {"GET": 25}
FUZZ_DEFAULT = 6
PATH_FUZZ = 6  # cases with generated names in the path (the organization stays the real one)
SEED = 11
REQUEST_TIMEOUT = 30
TAIL_READ_SECONDS = 0.25
ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 2, "DELETE": 3}
KNOWN_DEFECT = "known defect: {}"


def _openapi() -> dict[str, Any]:
    app = create_app(
        make_settings(
            database={"url": "postgresql+asyncpg://nobody@127.0.0.1:1/none"},
            redis={"url": "redis://127.0.0.1:1/0"},
        )
    )
    return dict(app.openapi_schema.to_schema())


DOCUMENT = _openapi()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = sorted(
    (
        (method.upper(), path)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method.upper() in ORDER
    ),
    # Deletions last, deepest first (a consumer before its stream).
    key=lambda op: (ORDER[op[0]], -op[1].count("/") if op[0] == "DELETE" else 0),
)


def _label(op: tuple[str, str]) -> str:
    return f"{op[0]} {op[1]}"


# Known defects: a strict xfail each, so it fails once fixed (issue 11's are all fixed).
SERVER_ERRORS: dict[str, str] = {}
UNDOCUMENTED_STATUSES: dict[str, str] = {}
NONCONFORMING: dict[str, str] = {}


def _params(known: dict[str, str]) -> list[Any]:
    return [
        pytest.param(
            op,
            id=_label(op),
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_DEFECT.format(known[_label(op)]))]
            if _label(op) in known
            else [],
        )
        for op in OPERATIONS
    ]


@dataclass
class Findings:
    cases: int = 0
    server_errors: list[str] = field(default_factory=list)
    undocumented: list[str] = field(default_factory=list)
    nonconforming: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------
# The world: the app on a database of its own, a cluster on the test nats-server.


@dataclass
class Target:
    base_url: str
    world: World
    session: requests.Session
    findings: dict[str, Findings] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def fuzz_target(module_settings: Any, nats_single_deployment: Any) -> Any:
    import httpx

    from shared.backends import Backends

    nats = NatsTarget(nats_single_deployment)
    nats.restart_stopped_nodes()
    # From an empty server, whatever a module before left (its clean-up is skipped when its
    # set-up fails): build_world creates ORDERS and SCRATCH afresh.
    await delete_every_stream(nats)
    backends = Backends.open(module_settings)
    accounts = Accounts(backends)
    with serve(create_app(module_settings)) as base_url:
        async with httpx.AsyncClient(
            base_url=base_url, timeout=REQUEST_TIMEOUT, trust_env=False
        ) as client:
            world = await build_world(client, accounts, nats)
        with requests.Session() as session:
            session.trust_env = False  # loopback only, whatever proxy the environment names
            yield Target(base_url, world, session)
    await backends.close()
    await delete_every_stream(nats)


# ------------------------------------------------------------------------------------------
# Cases and calls.


def _confine(body: Any) -> Any:
    """Generated cluster addresses become loopback ones (a port nothing listens on is as
    good a test of the code as any host): the app must never be made to connect elsewhere."""
    if isinstance(body, dict):
        confined = {key: _confine(value) for key, value in body.items()}
        if isinstance(confined.get("servers"), list):
            confined["servers"] = [LOOPBACK for _ in confined["servers"]] or [LOOPBACK]
        if isinstance(confined.get("url"), str):
            confined["url"] = LOOPBACK
        return confined
    if isinstance(body, list):
        return [_confine(item) for item in body]
    return body


LOOPBACK = f"nats://127.0.0.1:{free_port()}"


def _cases(method: str, path: str, world: World) -> Iterator[Any]:
    operation = SCHEMA[path][method.lower()]
    real = world.path_values(method, path)
    fixed = {
        name: real[name]
        for name in (p.name for p in operation.path_parameters.items)
        if name in real
    }
    coverage_config = SCHEMA.config.generation_for(operation=operation, phase="coverage")
    for case in SCHEMA.iter_coverage_cases(
        operation,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=coverage_config,
    ):
        if case.method.upper() != method:  # probes of other methods (405): not this operation
            continue
        case.path_parameters = {**(case.path_parameters or {}), **fixed}
        yield case
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        yield from _generate(operation, mode, fixed, FUZZ_EXAMPLES.get(method, FUZZ_DEFAULT))
    if set(fixed) - {"org"}:
        # Names in the path as a caller may type them (spaces, dots, wildcards, unicode).
        yield from _generate(operation, GenerationMode.POSITIVE, {"org": world.org}, PATH_FUZZ)


def _generate(operation: Any, mode: Any, fixed: dict[str, str], examples: int) -> list[Any]:
    """The same cases on every run, whatever the code around them (a fixed seed; Hypothesis'
    `derandomize` would seed from this function's source)."""
    generated: list[Any] = []

    @hypothesis.settings(
        max_examples=examples,
        derandomize=False,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.seed(SEED)
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    def collect(case: Any) -> None:
        generated.append(case)

    try:
        collect()
    except hypothesis.errors.Unsatisfiable:  # nothing to vary (every parameter fixed)
        pass
    return generated


def _call(case: Any, target: Target) -> Any:
    if case.body is not None and not _is_not_set(case.body):
        case.body = _confine(case.body)
    if case.path.endswith("/messages/tail"):
        return _call_stream(case, target)
    return case.call(
        base_url=target.base_url,
        session=target.session,
        headers=target.world.owner,
        timeout=REQUEST_TIMEOUT,
    )


def _is_not_set(value: Any) -> bool:
    return type(value).__name__ == "NotSet"


@dataclass
class StreamedResponse:
    """What the checks need of an SSE response read for a bounded time."""

    status_code: int
    headers: dict[str, str]


def _call_stream(case: Any, target: Target) -> StreamedResponse:
    """An SSE route never ends by itself: read its head, then leave (the server must notice)."""
    kwargs = case.as_transport_kwargs(base_url=target.base_url, headers=target.world.owner)
    with target.session.request(**kwargs, stream=True, timeout=(5, TAIL_READ_SECONDS)) as response:
        try:
            next(response.iter_content(1024), None)
        except requests.exceptions.ConnectionError:  # the read timed out: nothing new to send
            pass
        return StreamedResponse(response.status_code, dict(response.headers))


def _describe(case: Any, response: Any, problem: str = "") -> str:
    query = f"?{json.dumps(case.query)}" if case.query else ""
    body = "" if case.body is None or _is_not_set(case.body) else f" body={case.body!r}"[:300]
    return f"{response.status_code} for {case.path_parameters}{query}{body} {problem}".strip()


def _documented(operation: Any) -> set[str]:
    return set(operation.definition.raw.get("responses", {}))


def _is_documented(status: int, documented: set[str]) -> bool:
    return bool({str(status), f"{str(status)[0]}XX", "default"} & documented)


def _fuzz(op: tuple[str, str], target: Target) -> Findings:
    label = _label(op)
    if label in target.findings:
        return target.findings[label]
    method, path = op
    findings = Findings()
    operation = SCHEMA[path][method.lower()]
    documented = _documented(operation)
    for case in _cases(method, path, target.world):
        response = _call(case, target)
        findings.cases += 1
        status = response.status_code
        if status >= 500 and not (status == 503 and "503" in documented):
            findings.server_errors.append(_describe(case, response))
        if not _is_documented(status, documented):
            if status < 500:  # a server error is reported as such
                findings.undocumented.append(_describe(case, response))
            continue
        if isinstance(response, StreamedResponse):
            received = response.headers.get("content-type", "").split(";")[0].strip()
            content = operation.definition.raw["responses"][str(status)].get("content") or {}
            if content and received not in content:
                findings.nonconforming.append(
                    _describe(case, response, f"{received} is not one of {sorted(content)}")
                )
            continue
        for check in (response_schema_conformance, content_type_conformance):
            try:
                case.validate_response(response, checks=[check])
            except (Exception, BaseExceptionGroup) as exc:  # a failed check raises
                findings.nonconforming.append(
                    _describe(case, response, str(exc).strip().splitlines()[0])
                )
    target.findings[label] = findings
    return findings


def _summary(problems: list[str]) -> list[str]:
    """At most a few distinct examples, so a failure reads quickly."""
    unique = list(dict.fromkeys(problems))
    return unique[:5] + ([f"... and {len(unique) - 5} more"] if len(unique) > 5 else [])


# ------------------------------------------------------------------------------------------
# The checks: one test per operation and promise.


def test_the_fuzzer_sees_every_route_of_the_api() -> None:
    app = create_app(make_settings(database={"url": "postgresql+asyncpg://x@127.0.0.1:1/x"}))
    routes = {
        (method, route.path)
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if getattr(handler, "include_in_schema", True) and route.path.startswith("/api/v1")
        for method in handler.http_methods - {"OPTIONS", "HEAD"}
    }
    paths = {(method, path) for method, path in OPERATIONS}
    litestar_paths = {(m, _openapi_path(p)) for m, p in routes}
    assert litestar_paths <= paths
    assert len(OPERATIONS) >= 40


def _openapi_path(path: str) -> str:
    import re

    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


@pytest.mark.parametrize("op", _params(SERVER_ERRORS))
def test_no_input_makes_an_operation_answer_a_server_error(op: Any, fuzz_target: Target) -> None:
    findings = _fuzz(op, fuzz_target)
    assert findings.cases > 0
    assert _summary(findings.server_errors) == []


@pytest.mark.parametrize("op", _params(UNDOCUMENTED_STATUSES))
def test_every_status_an_operation_answers_is_documented(op: Any, fuzz_target: Target) -> None:
    findings = _fuzz(op, fuzz_target)
    assert findings.cases > 0
    assert _summary(findings.undocumented) == []


@pytest.mark.parametrize("op", _params(NONCONFORMING))
def test_every_documented_response_conforms_to_the_schema(op: Any, fuzz_target: Target) -> None:
    findings = _fuzz(op, fuzz_target)
    assert findings.cases > 0
    assert _summary(findings.nonconforming) == []
