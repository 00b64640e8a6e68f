"""MLflow's artifact proxy, ``mlflow-artifacts/artifacts``, over the server's artifact root.

An ``mlflow-artifacts:/<path>`` URI is ``/api/2.0/mlflow-artifacts/artifacts/<path>`` here and
``/api/artifacts/<path>`` to tunetrack's clients: both proxies serve the same files, with the
same path checks and streaming (this module answers through tunetrack's proxy routes). A
listing names each entry relative to the directory listed, as MLflow's does.
"""

from __future__ import annotations

import posixpath

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from tunetrack.server.api import artifacts as proxy
from tunetrack.server.deps import ArtifactsDep
from tunetrack.server.mlflow_api.errors import MlflowRoute
from tunetrack.server.mlflow_api.shapes import Empty, Shape

router = APIRouter(prefix="/artifacts", route_class=MlflowRoute)


class FileInfoShape(Shape):
    path: str
    is_dir: bool
    file_size: int | None = None


class ArtifactList(Shape):
    files: list[FileInfoShape]


@router.get("")
def list_artifacts(artifacts: ArtifactsDep, path: str = "") -> ArtifactList:
    """The direct children of the directory ``path`` (none when it is not a directory)."""
    files = proxy.list_artifacts(artifacts, path).files
    return ArtifactList(
        files=[
            FileInfoShape(
                path=posixpath.basename(f.path),
                is_dir=f.is_dir,
                file_size=None if f.is_dir else f.file_size,
            )
            for f in files
        ]
    )


@router.get(
    "/{path:path}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file."}},
)
def download_artifact(path: str, artifacts: ArtifactsDep) -> StreamingResponse:
    """The file at ``path``, streamed."""
    return proxy.download_artifact(path, artifacts)


@router.put("/{path:path}")
async def upload_artifact(path: str, request: Request, artifacts: ArtifactsDep) -> Empty:
    """Store the request body as the file ``path`` (replacing it), streamed to storage."""
    await proxy.upload_artifact(path, request, artifacts)
    return Empty()
