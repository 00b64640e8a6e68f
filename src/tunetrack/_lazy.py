"""Attributes of a package loaded on first use (PEP 562): its import stays light."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, namespace: dict[str, Any], where: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` (``namespace`` is its globals()).

    Attribute ``name`` is the attribute ``name`` of module ``where[name]``, or that module
    itself when it is ``package.name``; once loaded it is kept in ``namespace``, so later
    lookups skip ``__getattr__``. Other names raise AttributeError (so that the import
    system then looks for a submodule of that name).
    """

    def __getattr__(name: str) -> Any:
        module_name = where.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(module_name)
        value = module if module_name == f"{package}.{name}" else getattr(module, name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__
