"""Encode a numpy array or a PIL image as the bytes of an image artifact (PNG, JPEG...)."""

from __future__ import annotations

import io
from pathlib import PurePosixPath
from typing import Any

from tunetrack.errors import InvalidInput


def image_bytes(image: Any, artifact_file: str) -> bytes:
    """``image`` in the format ``artifact_file``'s extension names.

    Arrays are HxW (grayscale), HxWx1, HxWx3 (RGB) or HxWx4 (RGBA): integers in 0-255,
    or floats in 0-1 (scaled to 0-255).
    """
    from PIL import Image

    suffix = PurePosixPath(artifact_file).suffix.lower()
    fmt = Image.registered_extensions().get(suffix)
    if fmt is None:
        raise InvalidInput(
            f"cannot save an image as {artifact_file!r}: use an image extension such as .png"
        )
    if not isinstance(image, Image.Image):
        image = _from_array(image)
    if fmt == "JPEG" and image.mode not in ("L", "RGB"):
        image = image.convert("RGB")  # JPEG has no alpha channel
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def _from_array(array: Any) -> Any:
    import numpy as np
    from PIL import Image

    if not hasattr(array, "__array__"):
        raise InvalidInput(
            f"log_image takes a numpy array or a PIL image, got {type(array).__name__}"
        )
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise InvalidInput(f"an image array is HxW, HxWx1, HxWx3 or HxWx4, got {arr.shape}")
    if arr.dtype.kind == "f":
        if arr.size and not (np.nanmin(arr) >= 0 and np.nanmax(arr) <= 1):
            raise InvalidInput("a float image array holds values in 0-1")
        arr = np.rint(np.nan_to_num(arr) * 255)
    elif arr.dtype.kind in "iub":
        if arr.size and not (arr.min() >= 0 and arr.max() <= 255):
            raise InvalidInput("an integer image array holds values in 0-255")
    else:
        raise InvalidInput(f"an image array holds integers or floats, got dtype {arr.dtype}")
    return Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8))  # L, RGB or RGBA
