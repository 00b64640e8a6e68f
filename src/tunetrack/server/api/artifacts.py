"""``/api/artifacts``: the artifact proxy over the server's ``--artifacts-destination``.

``PUT /api/artifacts/<path>`` stores the request body as a file, ``GET`` streams it back, and
``GET /api/artifacts?path=<dir>`` lists a directory. Paths are relative to the artifact root
and checked like every artifact path (no ``..``, absolute paths, drive letters or escaping
symlinks); a path still holding a ``%XX`` escape once the URL is decoded (double encoding)
or a ``#`` is refused as well, so no later decoding can turn it into another path.
Bodies stream through in pieces: no file is ever held whole in memory.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from typing import IO

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from tunetrack.errors import InvalidInput, NotFound
from tunetrack.server.api import schemas as s
from tunetrack.server.deps import ArtifactsDep
from tunetrack.store.artifacts import ArtifactRepository, file_relpath

router = APIRouter(prefix="/api/artifacts", tags=["artifacts"])
_PIECE = 1 << 20  # bytes handed to the storage at a time
_ESCAPED = re.compile(r"%[0-9A-Fa-f]{2}|#")


def _proxied(path: str) -> str:
    """``path`` as a client may name it through the proxy (InvalidInput otherwise)."""
    if _ESCAPED.search(path):
        raise InvalidInput(
            f"artifact path {path!r} holds a '#' or a %-escape left after URL decoding "
            "(encoded twice?)"
        )
    return path


@contextlib.contextmanager
def _public_errors(artifacts: ArtifactRepository) -> Iterator[None]:
    """Errors about a path, without saying where the artifact root is on the server."""
    try:
        yield
    except (NotFound, InvalidInput) as exc:
        message = exc.message
        for where in {artifacts.root_uri, os.path.realpath(artifacts.root_uri)}:
            message = message.replace(where, "the server's artifact store")
        raise type(exc)(message) from None


@router.get("")
def list_artifacts(artifacts: ArtifactsDep, path: str = "") -> s.ArtifactList:
    """The direct children of the directory ``path`` (empty when it does not exist)."""
    with _public_errors(artifacts):
        return s.ArtifactList(files=artifacts.list_artifacts(_proxied(path)))


def _pieces(fh: IO[bytes]) -> Iterator[bytes]:
    with fh:
        while piece := fh.read(_PIECE):
            yield piece


@router.get(
    "/{path:path}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file."}},
)
def download_artifact(path: str, artifacts: ArtifactsDep) -> StreamingResponse:
    """The file at ``path``, streamed."""
    with _public_errors(artifacts):
        fh = artifacts.open_read(_proxied(path))
    return StreamingResponse(_pieces(fh), media_type="application/octet-stream")


@router.put("/{path:path}")
async def upload_artifact(
    path: str, request: Request, artifacts: ArtifactsDep
) -> s.ArtifactWritten:
    """Store the request body as the file ``path`` (replacing it), streamed to storage."""
    with _public_errors(artifacts):
        rel = file_relpath(_proxied(path))
        stack = contextlib.ExitStack()
        out = await run_in_threadpool(stack.enter_context, artifacts.open_write(rel))
    size = 0
    try:
        piece = bytearray()
        async for chunk in request.stream():
            piece += chunk
            if len(piece) >= _PIECE:
                size += len(piece)
                await run_in_threadpool(out.write, bytes(piece))
                piece.clear()
        size += len(piece)
        await run_in_threadpool(out.write, bytes(piece))
    except BaseException:
        await run_in_threadpool(stack.__exit__, *sys.exc_info())  # drops the partial file
        raise
    await run_in_threadpool(stack.close)
    return s.ArtifactWritten(path=rel, size=size)
