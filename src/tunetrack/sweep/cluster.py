"""A Dask client for the ``dask`` backend: a scheduler address, or a local cluster; and the
check that a cluster's workers on other machines can reach the sweep's store and artifacts."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

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


def check_workers_reach(client: Any, tracking_uri: str, artifact_uri: str) -> None:
    """Refuse (ConfigError) a SQLite store, or an artifact root on this machine's own disk
    (not a network filesystem), when some of the cluster's workers run on other machines:
    each would write a database or artifact folder of its own there, and the sweep would
    not see its trials' records."""
    remote = sorted(
        host
        for host in {urlparse(a).hostname for a in client.scheduler_info()["workers"]}
        if host and not _is_this_machine(host)
    )
    if not remote:
        return
    where = f"Dask workers on {', '.join(remote[:3])}{' …' if len(remote) > 3 else ''}"
    if tracking_uri.startswith("sqlite:"):
        raise ConfigError(
            f"{where} cannot open this machine's SQLite store ({tracking_uri}): give the "
            "sweep a store every worker reaches, PostgreSQL or a tunetrack server "
            "(--tracking-uri; see docs/deploy.md)"
        )
    parsed = urlparse(artifact_uri)
    if parsed.scheme in ("", "file") and not _on_network_filesystem(parsed.path):
        raise ConfigError(
            f"{where} cannot write to this machine's artifact folder ({artifact_uri}): give "
            "the experiment an artifact location every worker reaches, a tunetrack server's "
            "proxy, an fsspec URL such as s3://bucket/path, or a folder on a network "
            "filesystem every worker mounts at the same path (see docs/deploy.md)"
        )


def _is_this_machine(host: str) -> bool:
    """Whether ``host`` names one of this machine's own addresses."""
    import psutil

    try:
        address = socket.gethostbyname(host)
    except OSError:
        return False
    own = {a.address for addrs in psutil.net_if_addrs().values() for a in addrs}
    return address.startswith("127.") or address in own


_NETWORK_FILESYSTEMS = ("nfs", "cifs", "smb", "fuse", "ceph", "gluster", "lustre", "gpfs", "9p")


def _on_network_filesystem(path: str) -> bool:
    """Whether ``path`` lies on a mounted network filesystem (NFS, SMB, a FUSE mount …)."""
    import psutil

    path = os.path.realpath(os.path.abspath(path))
    mounts = [
        p
        for p in psutil.disk_partitions(all=True)
        if path == p.mountpoint or path.startswith(p.mountpoint.rstrip("/") + "/")
    ]
    if not mounts:
        return False
    mount = max(mounts, key=lambda p: len(p.mountpoint))
    return mount.fstype.startswith(_NETWORK_FILESYSTEMS)
