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

`LeanRoute` (the route class of the routers that hold lean routes) calls an endpoint whose only
parameter is the Request, with nothing declared to solve, directly from FastAPI's request/response
wrapper: FastAPI's handler would run its dependency solver for nothing (a throw-away Response,
the query string and cookies parsed, endpoint context for error messages), about a tenth of a hot
request's time on the event loop. Every other route of such a router, and a lean route that gains
a dependency (on itself, its router or where the router is included), keeps FastAPI's handler.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
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


try:  # the route as included (with the dependencies of its inclusion), while FastAPI builds its handler
    from fastapi.routing import _effective_route_context_var as _INCLUDED
except ImportError:  # another FastAPI: every route keeps FastAPI's handler
    _INCLUDED = None


def _request_only(dependant: Dependant) -> bool:
    """True if the solver would only hand the endpoint its Request (nothing to read, check or run)."""
    return (
        dependant.request_param_name is not None
        and not dependant.dependencies
        and not (
            dependant.path_params
            or dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
        )
        and dependant.websocket_param_name is None
        and dependant.http_connection_param_name is None
        and dependant.response_param_name is None
        and dependant.background_tasks_param_name is None
        and dependant.security_scopes_param_name is None
    )


class LeanRoute(APIRoute):
    """An APIRoute that calls a request-only endpoint without running FastAPI's dependency solver."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The endpoint itself for a request-only lean route; FastAPI's handler for any other."""
        included = _INCLUDED.get() if _INCLUDED is not None else None
        route = included if included is not None and included.original_route is self else self
        dependant = getattr(route, "dependant", None)
        if (
            _INCLUDED is None
            or dependant is None
            or not _request_only(dependant)
            or not inspect.iscoroutinefunction(self.endpoint)
        ):
            return super().get_route_handler()
        endpoint = self.endpoint
        name = self.name

        async def lean(request: Request) -> Response:
            response = await endpoint(request)
            if not isinstance(response, Response):  # a lean endpoint shapes its own answer
                raise TypeError(f"lean route {name} returned {type(response).__name__}, not a Response")
            return response

        return lean


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


def mount_on_app(app: FastAPI, router: APIRouter, prefix: str) -> None:
    """Put a router's routes on the app's own router, under prefix, instead of including the router.

    FastAPI 0.165 matches an included router's routes through include contexts, twice per request
    (once to find the router, once to pick the route), with a routes-version walk each time: for
    the hot routes that cost more than the rest of the routing stack. A route on the app's own
    router is one regular-expression match, as in Starlette. Each route is declared again with
    FastAPI's own add_api_route and everything it was declared with (as include_router did before
    include contexts), so its handler, dependencies, models and OpenAPI entry are FastAPI's.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r}: only API routes are mounted on the app")
        app.router.add_api_route(
            prefix + route.path,
            route.endpoint,
            route_class_override=type(route),
            **{name: getattr(route, name) for name in _ROUTE_ARGS},
        )


# What add_api_route takes besides path, endpoint and route class: each an attribute of the route.
_ROUTE_ARGS = tuple(
    name
    for name in inspect.signature(APIRouter.add_api_route).parameters
    if name not in ("self", "path", "endpoint", "route_class_override")
)
