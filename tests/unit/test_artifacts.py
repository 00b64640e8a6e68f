"""ArtifactRepository: round trips on local and memory:// roots, and every path refusal."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import fsspec
import pytest

from tunetrack.entities import FileInfo
from tunetrack.errors import InvalidInput, NotFound
from tunetrack.store.artifacts import ArtifactRepository

BAD_PATHS = [
    "../x",
    "a/../../x",
    "a/b/../../../x",
    "/etc/x",
    "C:/x",
    "C:\\x",
    "..\\x",
    "a\x00b",
    "s3://bucket/x",
]


def snapshot(top: Path) -> dict[str, bytes | None]:
    """Every path under ``top`` (without following links) with file contents."""
    result: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, top)
            if os.path.islink(path):
                result[rel] = b"link->" + os.readlink(path).encode()
            elif os.path.isfile(path):
                result[rel] = Path(path).read_bytes()
            else:
                result[rel] = None
    return result


def make_tree(top: Path) -> None:
    (top / "sub" / "deep").mkdir(parents=True)
    (top / "a.txt").write_bytes(b"alpha")
    (top / "sub" / "b.bin").write_bytes(bytes(range(256)))
    (top / "sub" / "deep" / "c.json").write_text('{"c": 1}')


@pytest.fixture
def memory_root() -> Iterator[str]:
    name = f"tt-{uuid.uuid4().hex}"
    yield f"memory://{name}/run"
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{name}"):
        fs.rm(f"/{name}", recursive=True)


@pytest.fixture(params=["local", "file_uri", "memory"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactRepository:
    if request.param == "local":
        return ArtifactRepository(str(tmp_path / "store" / "run"))
    if request.param == "file_uri":
        return ArtifactRepository((tmp_path / "store" / "run").as_uri())
    return ArtifactRepository(request.getfixturevalue("memory_root"))


# -- round trips --------------------------------------------------------------------------


def test_log_artifact_round_trip(repo: ArtifactRepository, tmp_path: Path) -> None:
    src = tmp_path / "model.pkl"
    src.write_bytes(b"\x00model bytes")
    repo.log_artifact(src)
    repo.log_artifact(str(src), "models/best")
    assert repo.read_bytes("model.pkl") == b"\x00model bytes"
    assert repo.read_bytes("models/best/model.pkl") == b"\x00model bytes"
    assert repo.list_artifacts() == [
        FileInfo("model.pkl", False, 12),
        FileInfo("models", True, None),
    ]
    assert repo.list_artifacts("models/best") == [FileInfo("models/best/model.pkl", False, 12)]


def test_log_artifacts_and_download_tree(repo: ArtifactRepository, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    repo.log_artifacts(src, "data")
    assert repo.list_artifacts("data") == [
        FileInfo("data/a.txt", False, 5),
        FileInfo("data/sub", True, None),
    ]
    assert repo.list_artifacts("data/sub") == [
        FileInfo("data/sub/b.bin", False, 256),
        FileInfo("data/sub/deep", True, None),
    ]
    out = repo.download_artifacts("data", tmp_path / "dl")
    assert out == str(tmp_path / "dl" / "data")
    assert snapshot(Path(out)) == snapshot(src)

    whole = repo.download_artifacts("", tmp_path / "all")
    assert whole == str(tmp_path / "all")
    assert snapshot(Path(whole) / "data") == snapshot(src)


def test_log_artifacts_to_root(repo: ArtifactRepository, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    repo.log_artifacts(str(src))
    assert [f.path for f in repo.list_artifacts()] == ["a.txt", "sub"]
    assert repo.read_bytes("sub/deep/c.json") == b'{"c": 1}'


def test_write_read_bytes_and_overwrite(repo: ArtifactRepository) -> None:
    repo.write_bytes("plots/loss.png", b"png1")
    repo.write_bytes("plots/loss.png", b"png-2")
    assert repo.read_bytes("plots/loss.png") == b"png-2"
    assert repo.list_artifacts("plots") == [FileInfo("plots/loss.png", False, 5)]


def test_empty_and_dot_segments_are_normalised(repo: ArtifactRepository) -> None:
    repo.write_bytes("a//b/./c.txt", b"c")
    assert repo.read_bytes("a/b/c.txt") == b"c"
    assert repo.read_bytes("./a/b//c.txt") == b"c"
    assert repo.list_artifacts("a/") == [FileInfo("a/b", True, None)]


def test_download_single_file(repo: ArtifactRepository, tmp_path: Path) -> None:
    repo.write_bytes("cfg/sweep.yaml", b"name: x\n")
    out = repo.download_artifacts("cfg/sweep.yaml", tmp_path / "dl")
    assert out == str(tmp_path / "dl" / "cfg" / "sweep.yaml")
    assert Path(out).read_bytes() == b"name: x\n"


def test_missing_things(repo: ArtifactRepository, tmp_path: Path) -> None:
    assert repo.list_artifacts() == []
    assert repo.list_artifacts("nope") == []
    with pytest.raises(NotFound, match=r"nope/x\.txt"):
        repo.read_bytes("nope/x.txt")
    with pytest.raises(NotFound, match="nope"):
        repo.download_artifacts("nope", tmp_path / "dl")
    repo.write_bytes("f.txt", b"1")
    assert repo.list_artifacts("f.txt") == []  # a file has no children
    with pytest.raises(NotFound, match=r"missing\.txt"):
        repo.log_artifact(tmp_path / "missing.txt")
    with pytest.raises(NotFound, match="missing_dir"):
        repo.log_artifacts(tmp_path / "missing_dir")
    with pytest.raises(InvalidInput, match="log_artifacts"):
        repo.log_artifact(tmp_path)


def test_delete_all_removes_the_root_and_everything_below_it_only(
    repo: ArtifactRepository, tmp_path: Path
) -> None:
    sibling = ArtifactRepository(repo.root_uri.removesuffix("run") + "other-run")
    for r in (repo, sibling):
        r.write_bytes("a.txt", b"a")
        r.write_bytes("sub/deep/b.txt", b"b")
    assert repo.exists()
    assert repo.delete_all() is True
    assert not repo.exists()
    assert repo.list_artifacts() == []
    assert repo.delete_all() is False  # nothing left to remove
    assert sibling.read_bytes("sub/deep/b.txt") == b"b"


def test_delete_all_removes_a_link_at_the_root_not_what_it_points_to(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    ArtifactRepository(str(target)).write_bytes("keep.txt", b"k")
    (tmp_path / "run").symlink_to(target)
    assert ArtifactRepository(str(tmp_path / "run")).delete_all() is True
    assert not (tmp_path / "run").exists()
    assert (target / "keep.txt").read_bytes() == b"k"


def test_local_root_is_created_lazily(tmp_path: Path) -> None:
    repo = ArtifactRepository(str(tmp_path / "lazy" / "run"))
    assert repo.list_artifacts() == []
    assert not (tmp_path / "lazy").exists()
    repo.write_bytes("x", b"1")
    assert (tmp_path / "lazy" / "run" / "x").read_bytes() == b"1"


def test_symlinked_root_and_inside_links_are_allowed(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    repo = ArtifactRepository(str(tmp_path / "alias"))
    repo.write_bytes("d/x.txt", b"x")
    (real / "d_link").symlink_to(real / "d")
    assert repo.read_bytes("d_link/x.txt") == b"x"
    repo.write_bytes("d_link/y.txt", b"y")
    assert (real / "d" / "y.txt").read_bytes() == b"y"


# -- refusals -----------------------------------------------------------------------------


def _all_operations(repo: ArtifactRepository, bad: str, tmp_path: Path) -> list:
    src_file = tmp_path / "src.txt"
    src_file.write_bytes(b"payload")
    src_dir = tmp_path / "srcdir"
    src_dir.mkdir(exist_ok=True)
    (src_dir / "f.txt").write_bytes(b"payload")
    return [
        lambda: repo.write_bytes(bad, b"payload"),
        lambda: repo.log_artifact(src_file, bad),
        lambda: repo.log_artifacts(src_dir, bad),
        lambda: repo.read_bytes(bad),
        lambda: repo.list_artifacts(bad),
        lambda: repo.download_artifacts(bad, tmp_path / "dl"),
    ]


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_bad_paths_refused_locally_and_nothing_written(tmp_path: Path, bad: str) -> None:
    store = tmp_path / "work" / "store"
    store.mkdir(parents=True)
    repo = ArtifactRepository(str(store / "run"))
    ops = _all_operations(repo, bad, tmp_path)
    before = snapshot(tmp_path)
    for op in ops:
        with pytest.raises(InvalidInput) as info:
            op()
        assert repr(bad) in str(info.value)
    assert snapshot(tmp_path) == before
    assert os.listdir(store) == []  # not even the run root was created
    assert not os.path.exists("/etc/x")


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_bad_paths_refused_on_memory(memory_root: str, tmp_path: Path, bad: str) -> None:
    repo = ArtifactRepository(memory_root)
    fs = fsspec.filesystem("memory")
    parent = memory_root.removeprefix("memory://").rsplit("/", 1)[0]
    before = fs.find("/", withdirs=True)
    for op in _all_operations(repo, bad, tmp_path):
        with pytest.raises(InvalidInput) as info:
            op()
        assert repr(bad) in str(info.value)
    assert fs.find("/", withdirs=True) == before
    assert not fs.exists(f"/{parent}")
    assert not (tmp_path / "dl").exists()


@pytest.fixture
def escaping_root(tmp_path: Path) -> tuple[ArtifactRepository, Path, Path]:
    """A run root holding ``link`` -> an outside dir and ``f.txt`` -> an outside file."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    root = tmp_path / "store" / "run"
    root.mkdir(parents=True)
    (root / "link").symlink_to(outside)
    (root / "f.txt").symlink_to(outside / "secret.txt")
    (root / "ok.txt").write_bytes(b"ok")
    return ArtifactRepository(str(root)), root, outside


def test_symlink_inside_root_pointing_outside_is_refused(
    escaping_root: tuple[ArtifactRepository, Path, Path], tmp_path: Path
) -> None:
    repo, _root, outside = escaping_root
    src = tmp_path / "model.pkl"
    src.write_bytes(b"model")
    before = snapshot(tmp_path)
    ops = [
        lambda: repo.write_bytes("link/new.txt", b"evil"),
        lambda: repo.write_bytes("f.txt", b"evil"),
        lambda: repo.log_artifact(src, "link"),
        lambda: repo.read_bytes("link/secret.txt"),
        lambda: repo.read_bytes("f.txt"),
        lambda: repo.list_artifacts("link"),
        lambda: repo.download_artifacts("link", tmp_path / "dl"),
    ]
    for op in ops:
        with pytest.raises(InvalidInput, match="outside"):
            op()
    assert snapshot(tmp_path) == before
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"secret"
    # The escaping links are not listed; a whole-root download refuses them by name.
    assert repo.list_artifacts() == [FileInfo("ok.txt", False, 2)]
    with pytest.raises(InvalidInput, match="link"):
        repo.download_artifacts("", tmp_path / "dl")
    assert not (tmp_path / "dl").exists()


def test_source_symlink_pointing_outside_is_refused(tmp_path: Path, memory_root: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    src = tmp_path / "src"
    make_tree(src)
    (src / "sub" / "leak.txt").symlink_to(outside / "secret.txt")
    (src / "leakdir").symlink_to(outside)
    store = tmp_path / "store"
    store.mkdir()
    before = snapshot(tmp_path)
    for repo in (ArtifactRepository(str(store / "run")), ArtifactRepository(memory_root)):
        with pytest.raises(InvalidInput) as info:
            repo.log_artifacts(src)
        message = str(info.value)
        assert "leak.txt" in message
        assert "leakdir" in message
        assert repo.list_artifacts() == []  # nothing copied, not even the safe files
    assert snapshot(tmp_path) == before
    assert os.listdir(store) == []


def test_source_symlink_inside_tree_is_copied_as_file(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    (src / "alias.txt").symlink_to(src / "a.txt")
    (src / "subalias").symlink_to(src / "sub" / "deep")
    repo = ArtifactRepository(str(tmp_path / "run"))
    repo.log_artifacts(src)
    assert repo.read_bytes("alias.txt") == b"alpha"
    assert repo.read_bytes("subalias/c.json") == b'{"c": 1}'
    assert not os.path.islink(tmp_path / "run" / "alias.txt")


def test_source_symlink_loop_and_fifo_are_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    (src / "sub" / "loop").symlink_to(src)
    os.mkfifo(src / "pipe")
    repo = ArtifactRepository(str(tmp_path / "run"))
    with pytest.raises(InvalidInput) as info:
        repo.log_artifacts(src)
    assert "loop" in str(info.value)
    assert "pipe (not a regular file)" in str(info.value)
    assert not (tmp_path / "run").exists()


def test_remote_key_with_dotdot_is_refused_on_download(memory_root: str, tmp_path: Path) -> None:
    repo = ArtifactRepository(memory_root)
    repo.write_bytes("sub/ok.txt", b"ok")
    fs = fsspec.filesystem("memory")
    fs.pipe_file(memory_root.removeprefix("memory://") + "/sub/../../evil.txt", b"evil")
    dst = tmp_path / "a" / "b"
    with pytest.raises(InvalidInput, match=r"\.\./\.\./evil\.txt"):
        repo.download_artifacts("sub", dst)
    assert snapshot(tmp_path) == {}


# -- permissions ------------------------------------------------------------------------------


def test_artifacts_are_written_with_the_process_umask(
    tmp_path: Path, assert_umask_modes: Callable[[Path], None]
) -> None:
    src = tmp_path / "src"
    make_tree(src)
    root = tmp_path / "store"
    repo = ArtifactRepository(str(root / "run"))
    repo.log_artifact(src / "a.txt", "one")
    repo.log_artifacts(src, "tree")
    repo.write_bytes("notes/text.txt", b"hello")
    assert_umask_modes(root)
    repo.download_artifacts("", tmp_path / "copy")
    assert_umask_modes(tmp_path / "copy")
