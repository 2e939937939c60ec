"""Downloads against a local HTTP server on 127.0.0.1 (no external network).

The server serves bytes the test writes, honours ``Range`` requests, and can be
told to cut a response short (an interrupted download) to test resuming.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import shutil
import subprocess
import tarfile
import threading
import zipfile

import pytest

from drumscribe.datasets import download as dl
from drumscribe.datasets.base import DatasetSpec, Download
from drumscribe.errors import ChecksumError, InputError


class _Server:
    """Serve ``files[name] = bytes``; record each request's Range header."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut_after: dict[str, int] = {}  # name -> send only this many bytes, then close
        self.ranges: list[str | None] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                name = self.path.lstrip("/")
                server.ranges.append(self.headers.get("Range"))
                if name not in server.files:
                    self.send_error(404)
                    return
                data = server.files[name]
                start, status = 0, 200
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                    status = 206
                body = data[start:]
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                cut = server.cut_after.pop(name, None)
                self.wfile.write(body if cut is None else body[:cut])
                self.wfile.flush()
                if cut is not None:
                    self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_fetch_verifies_sha256_and_md5(server, tmp_path):
    data = b"drums" * 1000
    server.files["a.bin"] = data
    d = Download(url=server.url("a.bin"), filename="a.bin", size=len(data), sha256=_sha256(data))
    out = dl.fetch(d, tmp_path, progress=False)
    assert out == tmp_path / "a.bin" and out.read_bytes() == data
    assert not (tmp_path / "a.bin.part").exists()
    d5 = Download(url=server.url("a.bin"), filename="b.bin", md5=hashlib.md5(data).hexdigest())
    assert dl.fetch(d5, tmp_path, progress=False).read_bytes() == data


def test_fetch_resumes_interrupted_download_with_range(server, tmp_path):
    data = bytes(range(256)) * 400  # 102,400 bytes
    server.files["big.bin"] = data
    server.cut_after["big.bin"] = 30_000  # first response stops after 30,000 bytes
    d = Download(url=server.url("big.bin"), filename="big.bin", size=len(data), sha256=_sha256(data))
    with pytest.raises(InputError, match="rerun to resume"):
        dl.fetch(d, tmp_path, progress=False)
    part = tmp_path / "big.bin.part"
    assert part.stat().st_size == 30_000
    assert not (tmp_path / "big.bin").exists()
    out = dl.fetch(d, tmp_path, progress=False)
    assert server.ranges == [None, "bytes=30000-"]  # the second request asked only for the rest
    assert out.read_bytes() == data and not part.exists()


def test_checksum_mismatch_names_file_and_both_sums_and_deletes(server, tmp_path):
    data = b"not what was published"
    server.files["x.zip"] = data
    wrong = "0" * 64
    d = Download(url=server.url("x.zip"), filename="x.zip", sha256=wrong)
    with pytest.raises(ChecksumError) as err:
        dl.fetch(d, tmp_path, progress=False)
    msg = str(err.value)
    assert "x.zip" in msg and wrong in msg and _sha256(data) in msg and "\n" not in msg
    assert list(tmp_path.iterdir()) == []  # neither the file nor its .part is left


def test_size_mismatch_is_a_checksum_error(server, tmp_path):
    server.files["s.bin"] = b"12345"
    d = Download(url=server.url("s.bin"), filename="s.bin", size=4)
    with pytest.raises(ChecksumError, match=r"s\.bin.*expected 4 bytes, got 5"):
        dl.fetch(d, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unpublished_checksum_is_recorded_then_enforced(server, tmp_path):
    server.files["u.bin"] = b"first version"
    d = Download(url=server.url("u.bin"), filename="u.bin")
    out = dl.fetch(d, tmp_path, progress=False)
    record = tmp_path / "u.bin.sha256"
    assert record.read_text().split()[0] == _sha256(b"first version")
    out.unlink()
    server.files["u.bin"] = b"changed upstream"
    with pytest.raises(ChecksumError) as err:
        dl.fetch(d, tmp_path, progress=False)
    assert _sha256(b"first version") in str(err.value) and _sha256(b"changed upstream") in str(err.value)
    assert not (tmp_path / "u.bin").exists()


def test_http_error_is_one_line_input_error(server, tmp_path):
    d = Download(url=server.url("missing.zip"), filename="missing.zip")
    with pytest.raises(InputError, match="HTTP 404"):
        dl.fetch(d, tmp_path, progress=False)


def test_extract_tar_gz_and_zip(tmp_path):
    tgz = tmp_path / "a.tar.gz"
    tgz.write_bytes(_tar_gz({"top/x.txt": b"x", "top/sub/y.txt": b"y"}))
    out = dl.extract(tgz, tmp_path / "out")
    assert (out / "top" / "sub" / "y.txt").read_bytes() == b"y"
    z = tmp_path / "b.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("dir/z.txt", "z")
    assert (dl.extract(z, tmp_path / "outz") / "dir" / "z.txt").read_text() == "z"


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_truncated_archive_leaves_no_half_extracted_folder(tmp_path, kind):
    payload = {f"d/f{i}.bin": bytes([i]) * 50_000 for i in range(6)}
    if kind == "tar.gz":
        data = _tar_gz(payload)
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for n, b in payload.items():
                zf.writestr(n, b)
        data = buf.getvalue()
    bad = tmp_path / f"bad.{kind}"
    bad.write_bytes(data[: len(data) // 2])
    dest = tmp_path / "dataset"
    with pytest.raises(InputError, match=r"bad\..*(corrupt|truncated)"):
        dl.extract(bad, dest)
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir()] == [bad.name]  # no temporary sibling left


def test_archive_with_parent_path_is_refused(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(_tar_gz({"../escape.txt": b"x"}))
    with pytest.raises(InputError, match="unsafe"):
        dl.extract(evil, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out").exists()


def _spec(downloads):
    return DatasetSpec(name="toy", description="", license="", tracks=lambda root: [],
                       label_map={}, downloads=tuple(downloads), path_key="toy")


def test_download_downloads_extracts_and_then_reuses(server, tmp_path, monkeypatch):
    data = _tar_gz({"toy/readme.txt": b"hello"})
    server.files["toy.tar.gz"] = data
    spec = _spec([Download(url=server.url("toy.tar.gz"), filename="toy.tar.gz", sha256=_sha256(data))])
    monkeypatch.setitem(dl.RAW_SOURCES, "toy", spec.downloads)
    path = tmp_path / "resources" / "toy"
    assert dl.download("toy", path, progress=False) == path
    assert (path / "readme.txt").read_bytes() == b"hello"  # the archive's single top folder is flattened
    assert (tmp_path / "resources" / ".downloads" / "toy" / "toy.tar.gz").is_file()
    n = len(server.ranges)
    server.close()  # no network from here on
    assert dl.download("toy", path, progress=False) == path
    assert len(server.ranges) == n


def test_downloads_for_datasets_and_path_keys():
    from drumscribe.errors import ConfigError

    (gmd,) = dl.downloads_for("gmd")
    assert gmd.filename == "groove-v1.0.0-midionly.zip" and gmd.size == 3_260_318
    mdb = dl.downloads_for("mdb_drums")
    assert mdb[0].git_commit == "b29e2d63c3a023506f4bf353c5b2e8a558eed135"
    assert dl.downloads_for("sadtp") == ()
    with pytest.raises(ConfigError, match="paths.nonsense"):
        dl.downloads_for("nonsense")


def test_download_uses_a_present_folder_without_network(tmp_path, monkeypatch):
    spec = _spec([Download(url="http://127.0.0.1:9/never", filename="never.zip", sha256="0" * 64)])
    monkeypatch.setitem(dl.RAW_SOURCES, "toy", spec.downloads)
    placed = tmp_path / "mine"
    placed.mkdir()
    (placed / "song.wav").write_bytes(b"RIFF")
    assert dl.download("toy", placed, progress=False) == placed


def test_download_checksum_failure_leaves_no_dataset_folder(server, tmp_path, monkeypatch):
    server.files["t.tar.gz"] = _tar_gz({"a.txt": b"a"})
    spec = _spec([Download(url=server.url("t.tar.gz"), filename="t.tar.gz", sha256="f" * 64)])
    monkeypatch.setitem(dl.RAW_SOURCES, "toy", spec.downloads)
    path = tmp_path / "resources" / "toy"
    with pytest.raises(ChecksumError, match="t.tar.gz"):
        dl.download("toy", path, progress=False)
    assert not path.exists()
    assert [p.name for p in (tmp_path / "resources").iterdir()] == [".downloads"]


def test_download_without_download_says_where_to_place_it(tmp_path, monkeypatch):
    monkeypatch.setitem(dl.RAW_SOURCES, "toy", ())
    with pytest.raises(InputError, match="place it there by hand"):
        dl.download("toy", tmp_path / "absent", progress=False)


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_git_download_checks_out_the_pinned_commit(tmp_path, monkeypatch):
    repo = tmp_path / "upstream"
    repo.mkdir()

    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo,
                              check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (repo / "f.txt").write_text("v1")
    git("add", "f.txt")
    git("commit", "-qm", "v1")
    pinned = git("rev-parse", "HEAD")
    (repo / "f.txt").write_text("v2")
    git("commit", "-qam", "v2")
    d = Download(url=str(repo), filename="clone", git_commit=pinned, extract=False)
    out = dl.fetch(d, tmp_path / "dl", progress=False)
    assert (out / "f.txt").read_text() == "v1"
    assert dl.fetch(d, tmp_path / "dl", progress=False) == out  # reused
    bad = Download(url=str(repo), filename="clone", git_commit="0" * 40, extract=False)
    with pytest.raises(ChecksumError, match="HEAD mismatch"):
        dl.fetch(bad, tmp_path / "dl", progress=False)
    with pytest.raises(InputError, match="git"):
        dl.fetch(bad, tmp_path / "dl2", progress=False)
    assert not (tmp_path / "dl2" / "clone").exists()
    monkeypatch.setitem(dl.RAW_SOURCES, "toy", (d,))  # download clones straight into place
    path = dl.download("toy", tmp_path / "resources" / "toy", progress=False)
    assert (path / "clone" / "f.txt").read_text() == "v1"
