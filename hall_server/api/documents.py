"""Document photos kept with a ticket (材料留存): upload raw JPEG bytes, list them, read one back."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Query, Request, Response

from hall_server.api.deps import Creds, get_ctx, json_response, principal_of, run_authed, run_db
from hall_server.api.schemas import DbInt, DocumentOut, ErrorOut
from hall_server.auth import require_roles
from hall_server.const import DOCUMENT_CONTENT_TYPE, DOCUMENT_LABEL_MAX, DOCUMENT_MAX_BYTES
from hall_server.errors import HallError
from hall_server.services import documents
from hall_server.services.documents import DocumentInput

logger = logging.getLogger(__name__)

router = APIRouter(
    tags=["documents"],
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)


async def read_limited(request: Request, limit: int, too_large: str = "document.too_large") -> bytes:
    """The request body, refused with the too_large code as soon as it passes limit bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HallError(too_large, size=int(declared), max_bytes=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            # Stop reading: a client lying about its length cannot make the server hold more.
            raise HallError(too_large, size=size, max_bytes=limit)
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/tickets/{ticket_id}/documents",
    response_model=DocumentOut,
    status_code=201,
    responses={
        200: {"model": DocumentOut, "description": "the same photo again: the document already kept"},
        409: {"model": ErrorOut},
        413: {"model": ErrorOut},
        415: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {DOCUMENT_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload(
    ticket_id: DbInt,
    request: Request,
    creds: Creds,
    label: str = Query(default="", max_length=DOCUMENT_LABEL_MAX),
    taken_at: str | None = Query(default=None, max_length=40),
) -> Response:
    """Keep a JPEG (raw body, image/jpeg) with the ticket in hand; the same bytes again answer 200."""
    ctx = get_ctx(request)
    # Who is calling is settled before the body is read: a stranger cannot make us take 5 MB.
    p = await run_db(ctx, principal_of, ctx, creds)
    require_roles(p, *documents.UPLOADER_ROLES)
    when = documents.parse_taken_at(taken_at)
    data = await read_limited(request, DOCUMENT_MAX_BYTES)
    doc = DocumentInput(data=data, label=label, taken_at=when)
    view, created = await run_db(ctx, documents.add_document, ctx, p, ticket_id, doc)
    return json_response(view, 201 if created else 200)


@router.get("/tickets/{ticket_id}/documents", response_model=list[DocumentOut])
async def list_documents(ticket_id: DbInt, request: Request, creds: Creds) -> Response:
    """The ticket's documents, metadata only (its window's clerk, the hall's managers, admin)."""
    return json_response(await run_authed(request, creds, documents.list_documents, ticket_id))


@router.get(
    "/documents/{document_id}",
    response_class=Response,
    responses={200: {"content": {DOCUMENT_CONTENT_TYPE: {}}, "description": "the decrypted JPEG"}},
)
async def get_document(document_id: DbInt, request: Request, creds: Creds) -> Response:
    """One document's JPEG, decrypted for the same people who may list it."""
    data, meta = await run_authed(request, creds, documents.read_document, document_id)
    return Response(
        content=data,
        media_type=meta["content_type"],
        # Personal data: no cache may keep a copy.
        headers={"Cache-Control": "no-store", "X-Content-SHA256": meta["sha256"]},
    )


@router.delete("/documents/{document_id}", status_code=204, response_class=Response)
async def delete_document(document_id: DbInt, request: Request, creds: Creds) -> Response:
    """Remove one document (managers of its hall, admin); the event log records who and when."""
    await run_authed(request, creds, documents.delete_document, document_id)
    return Response(status_code=204)
