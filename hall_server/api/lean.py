"""Lean routes: hot endpoints that read their JSON body themselves, inside the one ASGI stack.

FastAPI's request-model machinery (the dependency solver building the body model, then the
response model) is most of a hot request's framework cost. A lean route is still an ordinary
route of the app: the same middleware, routing, exception handlers and OpenAPI description;
it only validates its body with the model directly, and its path and header parameters with a
`LeanParam` (a validator built once) instead of through the dependency solver, which re-derives
each parameter's shape on every request. `lean_openapi` describes its body, parameters and
bearer scheme in the OpenAPI description as FastAPI would have, and `document_lean_routes` adds
the body models' schemas. Dependencies declared on the route or its router are still solved by
FastAPI as for any route.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema

from hall_server.const import BEARER_SCHEME

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

_REF = "#/components/schemas/{model}"


# FastAPI's answer to a request whose parameters or body fail validation, as it documents it.
_VALIDATION_ERROR = {
    "description": "Validation Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
}


class LeanParam:
    """A path or header parameter a lean route reads itself; its check and description built once."""

    __slots__ = ("adapter", "location", "name", "required", "title")

    def __init__(self, location: Literal["path", "header"], name: str, annotation: Any, title: str) -> None:
        self.location = location
        self.name = name
        self.required = location == "path"
        self.title = title
        self.adapter: TypeAdapter[Any] = TypeAdapter(annotation)

    def read(self, request: Request) -> Any:
        """The parameter's validated value (None for an absent header); 422 request.invalid as FastAPI's."""
        if self.location == "path":
            raw = request.path_params.get(self.name)
        else:
            raw = request.headers.get(self.name)
            if raw is None:
                return None
        try:
            return self.adapter.validate_python(raw)
        except ValidationError as exc:
            raise RequestValidationError(
                [
                    {**e, "loc": (self.location, self.name, *e.get("loc", ()))}
                    for e in exc.errors(include_url=False)
                ]
            ) from None

    def openapi(self) -> dict[str, Any]:
        """The parameter's entry in the OpenAPI description."""
        schema = {**self.adapter.json_schema(), "title": self.title}
        return {"name": self.name, "in": self.location, "required": self.required, "schema": schema}


def lean_openapi(body: type[BaseModel] | None = None, params: tuple[LeanParam, ...] = ()) -> dict[str, Any]:
    """The route's `openapi_extra`: its bearer scheme, parameters and body model, as FastAPI would
    describe them.

    The body's schema itself is added to the components by document_lean_routes.
    """
    extra: dict[str, Any] = {"security": [{BEARER_SCHEME: []}]}
    if params:
        extra["parameters"] = [p.openapi() for p in params]
    if body is not None:
        ref = {"$ref": _REF.format(model=body.__name__)}
        extra["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
    if params or body is not None:
        extra["responses"] = {"422": _VALIDATION_ERROR}
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
