"""Lean routes: hot endpoints that read their JSON body themselves, inside the one ASGI stack.

FastAPI's request-model machinery (the dependency solver building the body model, then the
response model) is most of a hot request's framework cost. A lean route is still an ordinary
route of the app: the same middleware, routing, exception handlers and OpenAPI description;
it only validates its body with the model directly. `lean_openapi` describes its body and
bearer scheme in the OpenAPI description as FastAPI would have, and `document_lean_routes` adds
the body models' schemas.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from hall_server.const import BEARER_SCHEME

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

_REF = "#/components/schemas/{model}"


def lean_openapi(body: type[BaseModel] | None = None) -> dict[str, Any]:
    """The route's `openapi_extra`: its bearer scheme and body model, as FastAPI would describe them.

    The body's schema itself is added to the components by document_lean_routes.
    """
    extra: dict[str, Any] = {"security": [{BEARER_SCHEME: []}]}
    if body is not None:
        ref = {"$ref": _REF.format(model=body.__name__)}
        extra["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
    return extra


async def read_body(request: Request, model: type[M]) -> M:
    """The body validated against model; 422 request.invalid in the shape FastAPI gives."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise RequestValidationError(
            [{"loc": ("body",), "type": "content_type", "msg": "the body must be application/json"}]
        )
    raw = await request.body()
    try:
        # pydantic parses the JSON itself (bounded nesting, no Python recursion) and validates.
        return model.model_validate_json(raw or b"null")
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        ) from None


def document_lean_routes(app: FastAPI, bodies: tuple[type[BaseModel], ...]) -> None:
    """Make app.openapi() carry the schemas of the lean routes' bodies (built once, as FastAPI's)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            description=app.description,
            routes=app.routes,
        )
        _, defs = models_json_schema([(m, "validation") for m in bodies], ref_template=_REF)
        schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
