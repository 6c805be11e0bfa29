"""GitHub's OpenAPI description: loading, patching and validating traffic.

The full description (``@octokit/openapi``, ~13 MB) is reduced to the paths the
fake serves plus every component they reference (and the webhook schemas of the
events the fake emits). The reduced, patched spec is cached as JSON under
``tests/.cache/`` keyed by the package version, the served paths and this
module's source; in-process it is built once per test session.

Every request and response is validated with ``openapi-core`` (spec validation
off). A violation raises ``SpecViolation`` and is recorded, so a fixture can
fail the test even when the client code swallowed the exception.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema_path import SchemaPath
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.datatypes import TemplateResult
from openapi_core.templating.paths.datatypes import Path as SpecPath
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.validation.schemas import oas30_read_schema_validators_factory
from werkzeug.datastructures import Headers, ImmutableMultiDict

from fakegithub.examples import NODE_MODULES, require

PACKAGE_DIR = NODE_MODULES / "@octokit" / "openapi"
SPEC_FILE = PACKAGE_DIR / "generated" / "api.github.com.json"
CACHE_DIR = Path(__file__).resolve().parent.parent / ".cache" / "fakegithub"
HOST_URL = "https://api.github.com"
ERROR_SCHEMA = "#/components/schemas/basic-error"

# Known gaps between the description and real GitHub/PyGithub traffic that are
# tolerated (each is patched into the reduced spec at load time):
# 1. PyGithub posts/puts issue labels as a bare JSON array (["bug"]); GitHub
#    accepts it (the description text says so) but the schema only allows
#    {"labels": [...]}. -> a bare array of strings is added to the oneOf.
# 2. OpenAPI 3.0 ``nullable: true`` does not let ``null`` through an ``enum``
#    that lacks it (e.g. check-run ``conclusion``), nor (in openapi-schema-validator)
#    through a ``oneOf``/``anyOf`` (e.g. commit ``author``). -> null is added to
#    such enums, and a null-only alternative to such oneOf/anyOf.
# 3. Error answers whose status the operation does not document (injected 5xx,
#    429 or secondary-rate-limit 403; a 404 for a deleted comment on PATCH) are
#    GitHub's ordinary errors: their body is checked against ``basic-error``.
TOLERATED_GAPS = (
    "issue labels POST/PUT body may be a bare array of label names (PyGithub)",
    "nullable enums and nullable oneOf/anyOf accept null",
    "undocumented error statuses (faults, 404 after delete) are checked as basic-error",
)


class SpecViolation(AssertionError):
    """A request or response that GitHub's OpenAPI description rejects."""


@dataclass
class Stats:
    """Counters for the whole test session (shared by every fake)."""

    requests: int = 0
    responses: int = 0
    webhooks: int = 0
    deliberate: int = 0  # violations provoked on purpose (expect_violation)
    violations: list[str] = field(default_factory=list)
    load_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


STATS = Stats()


# --------------------------------------------------------------------------- loading


def _spec_version() -> str:
    with require(PACKAGE_DIR / "package.json").open(encoding="utf-8") as f:
        return str(json.load(f)["version"])


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _strip_examples(node: Any) -> None:
    """Drop media-type ``examples`` (they only reference example components)."""
    if isinstance(node, dict):
        if "schema" in node:
            node.pop("examples", None)
        for value in node.values():
            _strip_examples(value)
    elif isinstance(node, list):
        for value in node:
            _strip_examples(value)


def reduce_spec(
    full: dict[str, Any], paths: Iterable[str], webhooks: Iterable[str]
) -> dict[str, Any]:
    """The sub-spec with ``paths``, ``x-webhooks`` entries and the components they use."""
    out: dict[str, Any] = {
        "openapi": full["openapi"],
        "info": full["info"],
        "servers": full["servers"],
        "paths": {p: full["paths"][p] for p in sorted(paths)},
        "x-webhooks": {w: full["x-webhooks"][w] for w in sorted(webhooks)},
        "components": {},
    }
    _strip_examples(out["paths"])
    _strip_examples(out["x-webhooks"])
    pending = [*_refs([out["paths"], out["x-webhooks"]]), ERROR_SCHEMA]
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)  # "#/components/<kind>/<name>"
        node = json.loads(json.dumps(full["components"][kind][name]))
        _strip_examples(node)
        out["components"].setdefault(kind, {})[name] = node
        pending.extend(_refs(node))
    return out


def _let_null_through_nullable(node: Any) -> None:
    if isinstance(node, dict):
        enum = node.get("enum")
        if node.get("nullable") is True and isinstance(enum, list) and None not in enum:
            enum.append(None)
        for key in ("oneOf", "anyOf"):
            if node.get("nullable") is True and isinstance(node.get(key), list):
                node[key].append({"nullable": True, "enum": [None]})
        for value in node.values():
            _let_null_through_nullable(value)
    elif isinstance(node, list):
        for value in node:
            _let_null_through_nullable(value)


def patch_spec(spec: dict[str, Any]) -> None:
    """Apply the tolerated gaps listed in ``TOLERATED_GAPS``."""
    _let_null_through_nullable(spec)
    labels = spec["paths"].get("/repos/{owner}/{repo}/issues/{issue_number}/labels", {})
    for method in ("post", "put"):
        body = labels.get(method, {}).get("requestBody")
        if body:
            schema = body["content"]["application/json"]["schema"]
            schema.setdefault("oneOf", []).append({"type": "array", "items": {"type": "string"}})


def _build_spec(paths: frozenset[str], webhooks: frozenset[str]) -> dict[str, Any]:
    code = Path(__file__).read_text(encoding="utf-8")  # patches live here
    key_src = json.dumps([_spec_version(), code, sorted(paths), sorted(webhooks)])
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    cached = CACHE_DIR / f"spec-{key}.json"
    if cached.exists():
        with cached.open(encoding="utf-8") as f:
            loaded: dict[str, Any] = json.load(f)
            return loaded
    with require(SPEC_FILE).open(encoding="utf-8") as f:
        full = json.load(f)
    missing = sorted(p for p in paths if p not in full["paths"])
    if missing:
        raise KeyError(f"paths not in GitHub's OpenAPI description: {missing}")
    spec = reduce_spec(full, paths, webhooks)
    patch_spec(spec)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    (CACHE_DIR.parent / ".gitignore").write_text("*\n", encoding="utf-8")
    for stale in CACHE_DIR.glob("spec-*.json"):
        stale.unlink(missing_ok=True)
    tmp = cached.with_suffix(f".{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(spec), encoding="utf-8")
    tmp.replace(cached)
    return spec


# --------------------------------------------------------------------------- path finding


class _ExactPaths:
    """Find the path item by the exact template the fake's router matched.

    openapi-core's own finder matches templates with ``[^/]*`` parameters, which
    cannot match git refs such as ``heads/feature/x``.
    """

    def __call__(
        self, name: str, spec: SchemaPath, base_url: str | None = None
    ) -> Iterator[SpecPath]:
        template = urlsplit(name).path
        item = _path_items(spec).get(template)
        if item is not None:
            yield SpecPath(item, TemplateResult(template, {}))


_ITEMS: dict[int, dict[str, SchemaPath]] = {}


def _path_items(spec: SchemaPath) -> dict[str, SchemaPath]:
    items = _ITEMS.get(id(spec))
    if items is None:
        items = dict((spec / "paths").str_items())
        _ITEMS[id(spec)] = items
    return items


class _ExactPathFinder(APICallPathFinder):
    paths_iterator = _ExactPaths()


# --------------------------------------------------------------------------- validation


@dataclass
class _Request:
    method: str
    path: str
    path_pattern: str
    parameters: RequestParameters
    body: bytes | None
    content_type: str
    host_url: str = HOST_URL


@dataclass
class _Response:
    status_code: int
    data: bytes | None
    headers: Headers
    content_type: str


class SpecValidator:
    """Validates the fake's traffic; one per served path set, shared per session."""

    def __init__(self, paths: frozenset[str], webhooks: frozenset[str]) -> None:
        started = time.perf_counter()
        spec = _build_spec(paths, webhooks)
        config = Config(spec_validator_cls=None, path_finder_cls=_ExactPathFinder)
        self.api = OpenAPI.from_dict(spec, config=config)
        self._documented: dict[tuple[str, str], frozenset[str]] = {
            (template, method): frozenset(op.get("responses", {}))
            for template, item in spec["paths"].items()
            for method, op in item.items()
            if isinstance(op, dict)
        }
        self._webhooks = {
            name: item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            for name, item in spec["x-webhooks"].items()
        }
        self._schema_validators: dict[str, Any] = {}
        STATS.load_seconds += time.perf_counter() - started

    def documents(self, template: str, method: str, status: int) -> bool:
        codes = self._documented.get((template, method.lower()), frozenset())
        return str(status) in codes or "default" in codes

    def _fail(self, what: str, error: Exception) -> SpecViolation:
        detail = getattr(error, "__cause__", None)
        schema_errors = getattr(detail, "schema_errors", None) or getattr(
            error, "schema_errors", None
        )
        lines = [f"{what}: {error!r}"]
        for err in list(schema_errors or ())[:5]:
            lines.append(f"  at {'/'.join(map(str, err.absolute_path))}: {err.message[:300]}")
        message = "\n".join(lines)
        with STATS.lock:
            STATS.violations.append(message)
        return SpecViolation(message)

    def request(
        self,
        *,
        method: str,
        path: str,
        template: str,
        path_params: Mapping[str, str],
        query: Iterable[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> _Request:
        content_type = headers.get("Content-Type", "application/json" if body else "")
        req = _Request(
            method=method.lower(),
            path=path,
            path_pattern=template,
            parameters=RequestParameters(
                query=ImmutableMultiDict(list(query)),
                header=Headers(dict(headers)),
                cookie=ImmutableMultiDict(),
                path=dict(path_params),
            ),
            body=body or None,
            content_type=content_type.lower() or "application/octet-stream",
        )
        try:
            self.api.validate_request(req)
        except Exception as error:
            raise self._fail(f"request {method} {path} ({template})", error) from error
        finally:
            with STATS.lock:
                STATS.requests += 1
        return req

    def response(self, req: _Request, status: int, headers: Mapping[str, str], body: bytes) -> None:
        content_type = headers.get("Content-Type", "")
        resp = _Response(status, body or None, Headers(dict(headers)), content_type.lower())
        try:
            self.api.validate_response(req, resp)
        except Exception as error:
            what = f"response {status} to {req.method.upper()} {req.path} ({req.path_pattern})"
            raise self._fail(what, error) from error
        finally:
            with STATS.lock:
                STATS.responses += 1

    def _schema(self, ref: str, value: Any, what: str) -> None:
        validator = self._schema_validators.get(ref)
        if validator is None:
            schema = self.api.spec
            for part in ref.split("/")[1:]:
                schema = schema / part
            validator = oas30_read_schema_validators_factory.create(self.api.spec, schema)
            self._schema_validators[ref] = validator
        try:
            validator.validate(value)
        except Exception as error:
            raise self._fail(what, error) from error

    def error_response(self, req: _Request, status: int, body: bytes) -> None:
        """An error whose status the operation does not document: a basic-error body."""
        try:
            self._schema(
                ERROR_SCHEMA, json.loads(body), f"error {status} to {req.method.upper()} {req.path}"
            )
        finally:
            with STATS.lock:
                STATS.responses += 1

    def webhook(self, name: str, payload: Mapping[str, Any]) -> None:
        """Validate a webhook payload, ``name`` as in x-webhooks (``issues-opened``)."""
        try:
            self._schema(self._webhooks[name], payload, f"webhook {name}")
        finally:
            with STATS.lock:
                STATS.webhooks += 1


@cache
def get_validator(paths: frozenset[str], webhooks: frozenset[str]) -> SpecValidator:
    """The validator for a path set, built once per process (test session)."""
    return SpecValidator(paths, webhooks)
