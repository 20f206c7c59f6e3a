"""GET /blobs/{key}: the local backend's public objects (saved tracks only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import FileResponse, Response

from api.deps import AppState, get_state
from common.errors import NotFoundError
from common.storage.base import SAVED_PREFIX
from common.storage.local import LocalBlobStore

router = APIRouter(include_in_schema=False)
CONTENT_TYPES = {"mp3": "audio/mpeg"}


@router.get("/blobs/{key:path}")
async def public_blob(key: str, state: AppState = Depends(get_state)) -> Response:
    """Saved objects are public and immutable; everything else here is private."""
    store = state.store
    if not isinstance(store, LocalBlobStore) or not key.startswith(SAVED_PREFIX):
        raise NotFoundError("No such object.")
    try:
        path = store.path(key)
    except ValueError as exc:
        raise NotFoundError("No such object.") from exc
    if not path.is_file():
        raise NotFoundError("No such object.")
    media_type = CONTENT_TYPES.get(path.suffix.lstrip("."), "application/octet-stream")
    return FileResponse(
        path,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
