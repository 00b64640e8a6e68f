"""Where a sweep's trials run: joblib's backend for them, the clusters of the ``dask`` and
``ray`` backends (an existing one at ``address``, or one started on this machine for the
sweep), the check that workers on other machines can reach the sweep's store and
artifacts, and how a worker pool that broke says so."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlparse

from tunetrack.errors import ConfigError

_CRASH_ERRORS = ("TerminatedWorkerError", "BrokenProcessPool", "KilledWorker", "WorkerCrashedError")


@contextlib.contextmanager
def parallel_backend(
    backend: str, address: str | None, n_jobs: int, tracking_uri: str, artifact_uri: str
) -> Iterator[None]:
    """Run the block with joblib set to ``backend``; for ``dask`` and ``ray`` inside their
    cluster, once its workers are found to reach the store and the artifacts."""
    from joblib import parallel_config

    if backend == "dask":
        with dask_client(address, n_jobs) as cluster:
            check_workers_reach(dask_hosts(cluster), tracking_uri, artifact_uri)
            with parallel_config(backend="dask"):
                yield
    elif backend == "ray":
        with ray_session(address, n_jobs) as hosts:
            check_workers_reach(hosts, tracking_uri, artifact_uri)
            yield  # trials go to Ray's own tasks (ray_unordered)
    elif backend in ("loky", "threading"):
        with parallel_config(backend=backend):
            yield
    else:
        yield


def is_pool_crash(error: Exception) -> bool:
    """Whether ``error`` says a process of the worker pool died (killed from outside)."""
    return type(error).__name__ in _CRASH_ERRORS


def pool_error(error: Exception) -> str:
    """A broken worker pool's error in one line: its type, and loky's exit codes if given."""
    lines = [line.strip() for line in str(error).splitlines()]
    codes = next((line for line in lines if "exit codes" in line), None)
    return type(error).__name__ + (f": {codes}" if codes else "")


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


@contextlib.contextmanager
def ray_session(address: str | None, n_jobs: int) -> Iterator[list[str]]:
    """Connect to the Ray cluster at ``address``, or start a local one of ``n_jobs`` CPUs,
    for the sweep (a session the caller started already is used as it is); yields the
    hosts of its nodes."""
    try:
        import ray
    except ImportError:
        raise ConfigError("parallel.backend ray needs ray: pip install 'tunetrack[ray]'") from None
    ours = not ray.is_initialized()
    if ours:
        cpus = None if address is not None or n_jobs < 0 else n_jobs
        ray.init(address=address, num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    try:
        yield [node["NodeManagerAddress"] for node in ray.nodes() if node.get("Alive")]
    finally:
        if ours:
            ray.shutdown()


def ray_unordered(
    calls: Iterable[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]], n_jobs: int
) -> Iterator[Any]:
    """Run joblib-style ``delayed`` calls as Ray tasks, at most ``n_jobs`` at a time (-1: the
    cluster's CPUs), pulling the next call as one finishes and yielding results in the order
    they finish (what joblib's ``return_as="generator_unordered"`` does, which Ray's joblib
    backend lacks). A task whose worker died raises Ray's WorkerCrashedError; the tasks still
    running are then cancelled, as a broken loky pool ends its other workers."""
    import ray

    width = n_jobs if n_jobs > 0 else max(1, int(ray.cluster_resources().get("CPU", 1)))
    remotes: dict[Callable[..., Any], Any] = {}
    pending: set[Any] = set()
    calls = iter(calls)
    try:
        while True:
            while len(pending) < width and (call := next(calls, None)) is not None:
                fn, args, kwargs = call
                if fn not in remotes:
                    remotes[fn] = ray.remote(num_cpus=1, max_retries=0)(fn)
                pending.add(remotes[fn].remote(*args, **kwargs))
            if not pending:
                return
            [done], _ = ray.wait(list(pending), num_returns=1)
            pending.discard(done)
            yield ray.get(done)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


def dask_hosts(client: Any) -> list[str]:
    """The hosts of a Dask cluster's workers."""
    found = (urlparse(a).hostname for a in client.scheduler_info()["workers"])
    return [host for host in found if host]


def check_workers_reach(hosts: list[str], tracking_uri: str, artifact_uri: str) -> None:
    """Refuse (ConfigError) a SQLite store, or an artifact root on this machine's own disk
    (not a network filesystem), when some workers run on other ``hosts``: each would write
    a database or artifact folder of its own there, and the sweep would not see its trials'
    records."""
    remote = sorted({host for host in hosts if not _is_this_machine(host)})
    if not remote:
        return
    where = f"workers on {', '.join(remote[:3])}{' …' if len(remote) > 3 else ''}"
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
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    own = {a.address.split("%")[0] for addrs in psutil.net_if_addrs().values() for a in addrs}
    return any(a.startswith("127.") or a == "::1" or a in own for a in addresses)


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
