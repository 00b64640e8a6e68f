"""Columns of numbers sent to PostgreSQL as binary arrays packed by numpy.

psycopg dumps a list parameter element by element in Python (its array dumper has no C
path): on a tracking server taking 500-point batches that was a fifth of the time its
worker held the GIL. A column packed here is one numpy assignment, sent as it is by every
connection :func:`register` was called on (the store's engine does it as it connects).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format

# one dimension, no NULLs, the element type, the length, lower bound 1
_HEADER = struct.Struct(">iiIii")


class PackedArray(bytes):
    """A one-dimensional PostgreSQL array without NULLs, in the binary wire format."""

    __slots__ = ()
    element_oid: ClassVar[int]
    array_oid: ClassVar[int]
    numpy_type: ClassVar[str]  # big-endian, as the wire format has it

    @classmethod
    def of(cls, values: Sequence[float]) -> Self:
        """Pack ``values`` (ints or floats that fit the element type)."""
        cells = np.empty(len(values), dtype=[("size", ">i4"), ("value", cls.numpy_type)])
        cells["size"] = cells.dtype["value"].itemsize
        cells["value"] = values
        return cls(_HEADER.pack(1, 0, cls.element_oid, len(values), 1) + cells.tobytes())


class Int4Array(PackedArray):
    """``int4[]``."""

    __slots__ = ()
    element_oid, array_oid, numpy_type = 23, 1007, ">i4"


class Int8Array(PackedArray):
    """``bigint[]``."""

    __slots__ = ()
    element_oid, array_oid, numpy_type = 20, 1016, ">i8"


class Float8Array(PackedArray):
    """``float8[]``: NaN is sent as NaN (the SQL decides what to store for it)."""

    __slots__ = ()
    element_oid, array_oid, numpy_type = 701, 1022, ">f8"


class _PackedDumper(Dumper):
    """Sends a :class:`PackedArray` as it is, typed as its array."""

    format = Format.BINARY

    def __init__(self, cls: type, context: psycopg.abc.AdaptContext | None = None) -> None:
        super().__init__(cls, context)
        self.oid = cls.array_oid  # type: ignore[attr-defined]

    def dump(self, obj: PackedArray) -> bytes:
        return obj


def register(adapters: psycopg.adapt.AdaptersMap) -> None:
    """Let a connection (its ``adapters``) send packed arrays."""
    for packed in (Int4Array, Int8Array, Float8Array):
        adapters.register_dumper(packed, _PackedDumper)
