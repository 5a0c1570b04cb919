"""Tests for the MNIST / Fashion-MNIST downloader and the IDX reader.

Everything runs against a local HTTP server on 127.0.0.1 serving small IDX files that
the tests generate; no test touches the internet.
"""

import gzip
import hashlib
import re
import shutil
import socket
import struct
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from bpcourse.data import (
    ChecksumError,
    IDXFormatError,
    load_fashion_mnist,
    load_mnist,
    parse_idx,
)
from bpcourse.data.download import data_dir
from bpcourse.data.mnist import FASHION_MNIST, FILES, MNIST

N_TRAIN, N_TEST = 20, 10


def idx_bytes(array):
    """Encode a uint8 array as IDX (type 0x08)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def no_real_network(monkeypatch, tmp_path):
    """Point every default at places that cannot reach the internet or the real cache."""
    monkeypatch.setenv("BPCOURSE_DATA_DIR", str(tmp_path / "env-cache"))
    monkeypatch.setenv("BPCOURSE_MNIST_MIRROR", closed_port_url())
    monkeypatch.setenv("BPCOURSE_FASHION_MNIST_MIRROR", closed_port_url())
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def arrays():
    """Small fake MNIST: 20 train and 10 test images of 28x28, labels 0..9."""
    rng = np.random.default_rng(0)
    return {
        "train_images": rng.integers(0, 256, size=(N_TRAIN, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(N_TRAIN) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, size=(N_TEST, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(N_TEST)[::-1] % 10).astype(np.uint8),
    }


class Mirror:
    """A local HTTP server over a folder; counts the GET requests it answers."""

    def __init__(self, root):
        self.root, self.requests = root, []
        mirror = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):
                mirror.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def put(self, filename, content):
        """Serve ``content`` (bytes) as ``filename``; return its SHA-256."""
        (self.root / filename).write_bytes(content)
        return hashlib.sha256(content).hexdigest()

    def stop(self):
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()


@pytest.fixture
def mirror(tmp_path, arrays):
    """A running local mirror serving the fake files; ``mirror.digests`` are their SHA-256."""
    root = tmp_path / "mirror"
    root.mkdir()
    m = Mirror(root)
    m.digests = {FILES[key]: m.put(FILES[key], gzip.compress(idx_bytes(a), mtime=0))
                 for key, a in arrays.items()}
    yield m
    m.stop()


def leftovers(folder):
    """Files in ``folder`` (recursively), as names."""
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --------------------------------------------------------------------------- happy path and cache

def test_download_and_load(mirror, arrays, tmp_path):
    cache = tmp_path / "cache"
    (X_tr, y_tr), (X_te, y_te) = load_mnist(cache_dir=cache, mirror=mirror.url,
                                            checksums=mirror.digests, progress=False)
    assert X_tr.shape == (N_TRAIN, 784) and X_te.shape == (N_TEST, 784)
    assert X_tr.dtype == np.float32 and y_tr.dtype == np.int64 and y_te.shape == (N_TEST,)
    assert 0.0 <= X_tr.min() and X_tr.max() <= 1.0
    np.testing.assert_allclose(X_tr, arrays["train_images"].reshape(N_TRAIN, 784) / 255, rtol=1e-6)
    np.testing.assert_allclose(X_te, arrays["test_images"].reshape(N_TEST, 784) / 255, rtol=1e-6)
    assert np.array_equal(y_tr, arrays["train_labels"]) and np.array_equal(y_te, arrays["test_labels"])
    assert leftovers(cache) == sorted(FILES.values())  # no temporary files left behind
    assert all(p.parent == cache / "mnist" for p in (cache / "mnist").iterdir())
    assert len(mirror.requests) == 4


def test_unflattened_float64(mirror, arrays, tmp_path):
    (X_tr, _), (X_te, _) = load_mnist(cache_dir=tmp_path, mirror=mirror.url, flatten=False,
                                      dtype=np.float64, checksums=mirror.digests, progress=True)
    assert X_tr.shape == (N_TRAIN, 28, 28) and X_te.shape == (N_TEST, 28, 28)
    assert X_tr.dtype == np.float64
    np.testing.assert_array_equal(X_tr * 255, arrays["train_images"])


def test_cache_is_used_without_network(mirror, arrays, tmp_path):
    kwargs = dict(cache_dir=tmp_path / "cache", checksums=mirror.digests, progress=False)
    first = load_mnist(mirror=mirror.url, **kwargs)
    mirror.stop()
    second = load_mnist(mirror=mirror.url, **kwargs)
    assert len(mirror.requests) == 4
    for (a, b), (c, d) in zip(first, second):
        assert np.array_equal(a, c) and np.array_equal(b, d)


def test_files_placed_by_hand_are_used_offline(mirror, tmp_path):
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    for name in FILES.values():
        shutil.copy(mirror.root / name, folder / name)
    (X_tr, _), _ = load_mnist(cache_dir=tmp_path / "cache", mirror=closed_port_url(),
                              checksums=mirror.digests, progress=False)
    assert X_tr.shape == (N_TRAIN, 784) and mirror.requests == []


def test_mirror_without_trailing_slash(mirror, tmp_path):
    (X_tr, _), _ = load_mnist(cache_dir=tmp_path, mirror=mirror.url.rstrip("/"),
                              checksums=mirror.digests, progress=False)
    assert len(X_tr) == N_TRAIN


# --------------------------------------------------------------------------- checksums

def test_bad_checksum_deletes_download_and_says_why(mirror, tmp_path):
    cache = tmp_path / "cache"
    wrong = "0" * 64
    actual = mirror.digests["train-images-idx3-ubyte.gz"]
    with pytest.raises(ChecksumError, match=rf"{re.escape(mirror.url)}train-images-idx3-ubyte.gz "
                                            rf"has SHA-256 {actual}, expected {wrong}; it was deleted"):
        load_mnist(cache_dir=cache, mirror=mirror.url, progress=False,
                   checksums={**mirror.digests, "train-images-idx3-ubyte.gz": wrong})
    assert leftovers(cache) == []  # neither the bad file nor a temporary one


def test_builtin_digests_reject_other_files(mirror, tmp_path):
    # the fake files are not the real MNIST, so the real digests must refuse them
    with pytest.raises(ChecksumError, match=r"expected 440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"):
        load_mnist(cache_dir=tmp_path, mirror=mirror.url, progress=False)
    assert leftovers(tmp_path / "mnist") == []


def test_corrupt_cached_file_is_reported_not_used(mirror, tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"half a download")
    with pytest.raises(ChecksumError, match=r"the cached file .*train-images-idx3-ubyte.gz has SHA-256 .* "
                                            r"Delete it to download it again"):
        load_mnist(cache_dir=tmp_path, mirror=mirror.url, checksums=mirror.digests, progress=False)
    assert (folder / "train-images-idx3-ubyte.gz").exists()  # the user's file is left alone


@pytest.mark.parametrize("checksums, error, match", [
    ({"train.gz": "0" * 64}, ValueError, r"unknown file name 'train.gz'; expected one of"),
    ({"train-images-idx3-ubyte.gz": "abc"}, ValueError, r"must be a SHA-256 digest \(64 hex digits\), got 'abc'"),
    ([("a", "b")], TypeError, r"checksums must be a dict"),
])
def test_checksum_override_is_validated(checksums, error, match, tmp_path):
    with pytest.raises(error, match=match):
        load_mnist(cache_dir=tmp_path, checksums=checksums)


def test_builtin_digests_are_well_formed():
    for ds in (MNIST, FASHION_MNIST):
        assert set(ds.sha256) == set(FILES.values())
        assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in ds.sha256.values())
        assert len(set(ds.sha256.values())) == 4
    assert not set(MNIST.sha256.values()) & set(FASHION_MNIST.sha256.values())


# --------------------------------------------------------------------------- network failures

def test_offline_error_names_url_and_fixes(tmp_path):
    url = closed_port_url()
    with pytest.raises(ConnectionError) as info:
        load_mnist(cache_dir=tmp_path, mirror=url, progress=False)
    message = str(info.value)
    assert f"{url}train-images-idx3-ubyte.gz" in message
    assert "looks offline, or the mirror is unreachable" in message
    assert "BPCOURSE_MNIST_MIRROR" in message and str(tmp_path / "mnist") in message
    assert leftovers(tmp_path) == []


def test_missing_file_on_mirror(mirror, tmp_path):
    (mirror.root / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ConnectionError, match=r"t10k-labels-idx1-ubyte.gz: the server answered HTTP 404"):
        load_mnist(cache_dir=tmp_path / "cache", mirror=mirror.url, checksums=mirror.digests, progress=False)
    assert leftovers(tmp_path / "cache") == sorted(set(FILES.values()) - {"t10k-labels-idx1-ubyte.gz"})


def test_timeout_is_a_connection_error(tmp_path):
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        with pytest.raises(ConnectionError, match=rf"could not download {re.escape(url)}train-images"):
            load_mnist(cache_dir=tmp_path, mirror=url, timeout=0.2, progress=False)
    assert leftovers(tmp_path) == []


def test_default_mirror_is_used_when_nothing_is_set(monkeypatch, tmp_path):
    import bpcourse.data.download as download

    monkeypatch.delenv("BPCOURSE_MNIST_MIRROR")
    monkeypatch.delenv("BPCOURSE_FASHION_MNIST_MIRROR")
    asked = []

    def fake_urlopen(url, timeout):
        asked.append(url)
        raise download.urllib.error.URLError("no network in tests")

    monkeypatch.setattr(download.urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(ConnectionError, match="no network in tests"):
        load_mnist(cache_dir=tmp_path, progress=False)
    with pytest.raises(ConnectionError):
        load_fashion_mnist(cache_dir=tmp_path, progress=False)
    assert asked == [MNIST.default_mirror + "train-images-idx3-ubyte.gz",
                     FASHION_MNIST.default_mirror + "train-images-idx3-ubyte.gz"]


# --------------------------------------------------------------------------- configuration

def test_env_vars_choose_mirror_and_cache(mirror, monkeypatch, tmp_path):
    monkeypatch.setenv("BPCOURSE_MNIST_MIRROR", mirror.url)
    monkeypatch.setenv("BPCOURSE_DATA_DIR", str(tmp_path / "from-env"))
    (X_tr, _), _ = load_mnist(checksums=mirror.digests, progress=False)
    assert X_tr.shape == (N_TRAIN, 784)
    assert leftovers(tmp_path / "from-env" / "mnist") == sorted(FILES.values())


def test_fashion_env_var_and_separate_folder(mirror, monkeypatch, tmp_path):
    monkeypatch.setenv("BPCOURSE_FASHION_MNIST_MIRROR", mirror.url)
    (X_tr, y_tr), _ = load_fashion_mnist(cache_dir=tmp_path, checksums=mirror.digests, progress=False)
    assert X_tr.shape == (N_TRAIN, 784) and len(y_tr) == N_TRAIN
    assert leftovers(tmp_path / "fashion-mnist") == sorted(FILES.values())
    assert not (tmp_path / "mnist").exists()
    # the MNIST variable is not used for Fashion-MNIST, and vice versa
    monkeypatch.setenv("BPCOURSE_FASHION_MNIST_MIRROR", closed_port_url())
    monkeypatch.setenv("BPCOURSE_MNIST_MIRROR", mirror.url)
    with pytest.raises(ConnectionError, match="BPCOURSE_FASHION_MNIST_MIRROR"):
        load_fashion_mnist(cache_dir=tmp_path / "other", checksums=mirror.digests, progress=False)


def test_arguments_beat_env_vars(mirror, monkeypatch, tmp_path):
    monkeypatch.setenv("BPCOURSE_MNIST_MIRROR", closed_port_url())
    load_mnist(cache_dir=tmp_path / "arg", mirror=mirror.url, checksums=mirror.digests, progress=False)
    assert leftovers(tmp_path / "arg" / "mnist") == sorted(FILES.values())
    assert leftovers(tmp_path / "env-cache") == []


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("BPCOURSE_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_dir() == tmp_path / ".cache" / "bpcourse"
    monkeypatch.setenv("BPCOURSE_DATA_DIR", str(tmp_path / "x"))
    assert data_dir() == tmp_path / "x"
    assert data_dir(tmp_path / "y") == tmp_path / "y"
    with pytest.raises(TypeError, match=r"cache_dir must be a path \(str or pathlib.Path\), got int"):
        data_dir(3)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"dtype": np.uint8}, TypeError, r"dtype must be np.float32 or np.float64"),
    ({"flatten": 0}, TypeError, r"flatten must be True or False, got 0"),
    ({"mirror": 42}, TypeError, r"mirror must be a base URL string, got int"),
])
def test_argument_errors(kwargs, error, match, tmp_path):
    with pytest.raises(error, match=match):
        load_mnist(cache_dir=tmp_path, progress=False, **kwargs)


# --------------------------------------------------------------------------- malformed files

def test_malformed_idx_file(mirror, tmp_path):
    digests = dict(mirror.digests)
    digests["t10k-images-idx3-ubyte.gz"] = mirror.put(
        "t10k-images-idx3-ubyte.gz", gzip.compress(b"\x01\x02\x08\x03" + b"\x00" * 40))
    with pytest.raises(IDXFormatError, match=r"t10k-images-idx3-ubyte.gz is malformed: expected a magic "
                                             r"number 00 00 <type> <ndim>.*got 01 02 08 03"):
        load_mnist(cache_dir=tmp_path, mirror=mirror.url, checksums=digests, progress=False)


def test_not_gzip(mirror, tmp_path):
    digests = dict(mirror.digests)
    digests["train-labels-idx1-ubyte.gz"] = mirror.put("train-labels-idx1-ubyte.gz", b"<html>oops</html>")
    with pytest.raises(IDXFormatError, match=r"train-labels-idx1-ubyte.gz is not a valid gzip file"):
        load_mnist(cache_dir=tmp_path, mirror=mirror.url, checksums=digests, progress=False)


def test_images_and_labels_must_match(mirror, tmp_path):
    digests = dict(mirror.digests)
    digests["train-labels-idx1-ubyte.gz"] = mirror.put(
        "train-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(np.zeros(N_TRAIN + 1, np.uint8))))
    with pytest.raises(IDXFormatError, match=r"MNIST train files do not match: .*got shapes \(20, 28, 28\) and \(21,\)"):
        load_mnist(cache_dir=tmp_path, mirror=mirror.url, checksums=digests, progress=False)


def test_parse_idx_round_trip_and_types():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    out = parse_idx(idx_bytes(a))
    assert out.dtype == np.uint8 and np.array_equal(out, a)
    b = np.array([-300, 2, 1000], dtype=">i2")
    out = parse_idx(b"\x00\x00\x0b\x01" + struct.pack(">I", 3) + b.tobytes())
    assert out.dtype == np.int16 and out.dtype.isnative and out.tolist() == [-300, 2, 1000]
    f = np.array([[1.5, -2.25]], dtype=">f8")
    out = parse_idx(b"\x00\x00\x0e\x02" + struct.pack(">II", 1, 2) + f.tobytes())
    assert out.dtype == np.float64 and out.tolist() == [[1.5, -2.25]]


@pytest.mark.parametrize("data, match", [
    (b"\x00\x00", r"expected at least a 4-byte header, got 2 bytes"),
    (b"\x00\x00\x07\x01" + b"\x00" * 8, r"type one of 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, got 00 00 07 01"),
    (b"\x00\x00\x08\x03" + b"\x00" * 4, r"header says 3 dimensions \(16 header bytes\), but the file has only 8 bytes"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"\x00" * 4, r"uint8 array of shape \(5,\) needs 5 bytes after the header, got 4"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"\x00" * 6, r"needs 5 bytes after the header, got 6"),
])
def test_parse_idx_errors(data, match):
    with pytest.raises(IDXFormatError, match=match):
        parse_idx(data)
    assert issubclass(IDXFormatError, ValueError)
