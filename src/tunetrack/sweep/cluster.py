"""A Dask client for the ``dask`` backend: a scheduler address, or a local cluster."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from tunetrack.errors import ConfigError


@contextlib.contextmanager
def dask_client(address: str | None, n_jobs: int) -> Iterator[object]:
    """Connect to ``address``, or start a LocalCluster of ``n_jobs`` single-thread workers."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(
            "parallel.backend dask needs dask.distributed: pip install 'tunetrack[dask]'"
        ) from None
    if address is not None:
        with Client(address) as client:
            yield client
        return
    workers = n_jobs if n_jobs > 0 else (os.cpu_count() or 1)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
