"""ember.vision.datasets: CIFAR10/100 from small fake python-pickle archives (local folders and a local
http.server, md5 checked, code-carrying pickles refused), ImageFolder/DatasetFolder, FakeData, KMNIST, EMNIST."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import tarfile
import threading
import zipfile

import numpy as np
import pytest

import ember
from ember.vision import datasets
from ember.vision.datasets import write_idx

Image = pytest.importorskip("PIL.Image", reason="Pillow (the vision extra) is not installed")


@pytest.fixture
def http_root(tmp_path):
    srv = tmp_path / "srv"
    srv.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(srv))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield srv, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _md5(path) -> str:
    return hashlib.md5(open(path, "rb").read()).hexdigest()


def _write_cifar(folder, cifar100: bool = False, n: int = 4, seed: int = 0):
    """A miniature archive in the real format: pickled dicts with a (n, 3072) uint8 'data' array."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = (["train"], ["test"]) if cifar100 else ([f"data_batch_{i}" for i in range(1, 6)], ["test_batch"])
    key = "fine_labels" if cifar100 else "labels"
    content = {}
    for name in names[0] + names[1]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 100 if cifar100 else 10, n).tolist()
        entry = {
            "batch_label": name,
            key: labels,
            "data": data,
            "filenames": [f"{name}_{i}.png" for i in range(n)],
        }
        if cifar100:
            entry["coarse_labels"] = [v // 5 for v in labels]
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
        content[name] = (data, labels)
    meta_name, meta_key = ("meta", "fine_label_names") if cifar100 else ("batches.meta", "label_names")
    classes = [f"class{i}" for i in range(100 if cifar100 else 10)]
    with open(folder / meta_name, "wb") as f:
        pickle.dump({meta_key: classes, "num_cases_per_batch": n}, f, protocol=2)
    return content, classes, names


def _local_class(base, folder, names):
    meta = dict(base.meta)
    meta["md5"] = _md5(folder / meta["filename"])

    class Local(base):
        train_list = [[n, _md5(folder / n)] for n in names[0]]
        test_list = [[n, _md5(folder / n)] for n in names[1]]

    Local.meta = meta
    return Local


@pytest.mark.parametrize("cifar100", [False, True])
def test_cifar_reads_the_pickled_batches(tmp_path, cifar100):
    base = datasets.CIFAR100 if cifar100 else datasets.CIFAR10
    folder = tmp_path / base.base_folder
    content, classes, names = _write_cifar(folder, cifar100)
    Local = _local_class(base, folder, names)
    train = Local(tmp_path, train=True)
    test = Local(tmp_path, train=False, transform=lambda im: np.asarray(im))
    want = np.vstack([content[n][0] for n in names[0]]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    assert train.data.shape == (4 * len(names[0]), 32, 32, 3) and train.data.dtype == np.uint8
    np.testing.assert_array_equal(train.data, want)
    assert train.targets == sum((content[n][1] for n in names[0]), [])
    assert train.classes == classes and train.class_to_idx["class3"] == 3
    img, target = train[3]
    assert isinstance(img, Image.Image) and img.size == (32, 32) and img.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(img), want[3])
    assert target == train.targets[3]
    np.testing.assert_array_equal(
        test[0][0], content[names[1][0]][0][0].reshape(3, 32, 32).transpose(1, 2, 0)
    )
    assert len(test) == 4 and "Split: Test" in repr(test)


def test_cifar_missing_corrupt_and_malicious(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.CIFAR10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    _, _, names = _write_cifar(folder)
    Local = _local_class(datasets.CIFAR10, folder, names)
    with open(folder / "data_batch_1", "ab") as f:  # corrupt: md5 no longer matches
        f.write(b"x")
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        Local(tmp_path)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump({"data": Evil(), "labels": [0]}, f, protocol=2)
    Evil2 = _local_class(datasets.CIFAR10, folder, names)
    with pytest.raises(RuntimeError, match="refusing to load global"):
        Evil2(tmp_path)
    assert not (tmp_path / "pwned").exists()  # nothing ran


def _serve_cifar_archive(tmp_path, srv):
    build = tmp_path / "build"
    folder = build / "cifar-10-batches-py"
    content, _, names = _write_cifar(folder, seed=3)
    archive = srv / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    return _local_class(datasets.CIFAR10, folder, names), content, archive


def test_cifar_download_from_a_local_server(tmp_path, http_root):
    srv, url = http_root
    Local, content, archive = _serve_cifar_archive(tmp_path, srv)
    Local.url, Local.tgz_md5 = url + "cifar-10-python.tar.gz", _md5(archive)
    root = tmp_path / "data"
    ds = Local(root, train=False, download=True)
    np.testing.assert_array_equal(
        ds.data[1], content["test_batch"][0][1].reshape(3, 32, 32).transpose(1, 2, 0)
    )
    assert len(Local(root, train=True, download=True)) == 20  # already there: checked, not fetched


@pytest.mark.parametrize("damage", ["checksum", "truncated"])
def test_cifar_bad_download_keeps_nothing(tmp_path, http_root, damage):
    srv, url = http_root
    Local, _, archive = _serve_cifar_archive(tmp_path, srv)
    Local.url, Local.tgz_md5 = url + "cifar-10-python.tar.gz", _md5(archive)
    if damage == "checksum":
        Local.tgz_md5 = "0" * 32
    else:
        archive.write_bytes(archive.read_bytes()[:200])
    root = tmp_path / "data"
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        Local(root, download=True)
    assert not root.exists() or os.listdir(root) == []


def test_extract_archive_refuses_paths_outside(tmp_path):
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    (tmp_path / "out").mkdir()
    with pytest.raises(RuntimeError, match="outside"):
        datasets.utils.extract_archive(str(bad), str(tmp_path / "out"))
    assert not (tmp_path / "escape.txt").exists()


# ---------------------------------------------------------------- folders


def _tree(tmp_path):
    rng = np.random.default_rng(4)
    arrays = {}
    for cls, files in (("dog", ["b.png", "a.jpg", "notes.txt"]), ("cat", ["z.png", "sub/y.bmp"])):
        for name in files:
            path = tmp_path / cls / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if name.endswith(".txt"):
                path.write_text("not an image")
                continue
            arr = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
            Image.fromarray(arr).save(path)
            arrays[str(path)] = arr
    return arrays


def test_image_folder(tmp_path):
    arrays = _tree(tmp_path)
    ds = datasets.ImageFolder(tmp_path)
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    rel = [(os.path.relpath(p, tmp_path), t) for p, t in ds.samples]
    assert rel == [
        ("cat/z.png", 0),
        ("cat/sub/y.bmp", 0),
        ("dog/a.jpg", 1),
        ("dog/b.png", 1),
    ]  # os.walk order
    assert ds.targets == [0, 0, 1, 1] and ds.imgs == ds.samples
    img, target = ds[3]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and target == 1
    np.testing.assert_array_equal(np.asarray(img), arrays[ds.samples[3][0]])
    only_png = datasets.ImageFolder(tmp_path, is_valid_file=lambda p: p.endswith(".png"))
    assert len(only_png) == 2
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes cat"):
        datasets.ImageFolder(tmp_path, is_valid_file=lambda p: "dog" in p)
    assert len(datasets.ImageFolder(tmp_path, is_valid_file=lambda p: "dog" in p, allow_empty=True)) == 3
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(tmp_path / "cat" / "sub")
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG broken")
    broken = datasets.ImageFolder(tmp_path)
    with pytest.raises(RuntimeError, match="Could not read image .*broken.png"):
        broken[[p for p, _ in broken.samples].index(str(tmp_path / "dog" / "broken.png"))]


def test_dataset_folder_with_a_custom_loader(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        np.save(tmp_path / cls / "x.npy", np.full(3, ord(cls)))
    ds = datasets.DatasetFolder(
        tmp_path, loader=np.load, extensions=(".npy",), target_transform=lambda t: t * 10
    )
    x, t = ds[1]
    assert x.tolist() == [98, 98, 98] and t == 10
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        datasets.DatasetFolder(tmp_path, loader=np.load)


def test_fake_data():
    fd = datasets.FakeData(size=5, image_size=(3, 8, 6), num_classes=4)
    ember.manual_seed(11)
    before = ember.rand(3)
    ember.manual_seed(11)
    img, target = fd[2]
    np.testing.assert_array_equal(ember.rand(3).numpy(), before.numpy())  # the global RNG is untouched
    assert isinstance(img, Image.Image) and img.size == (6, 8) and 0 <= target < 4
    img2, target2 = fd[2]
    np.testing.assert_array_equal(np.asarray(img), np.asarray(img2))
    assert target == target2 and len(fd) == 5
    assert not np.array_equal(np.asarray(fd[3][0]), np.asarray(img))
    with pytest.raises(IndexError, match="FakeData index out of range"):
        fd[5]


# ---------------------------------------------------------------- KMNIST / EMNIST


def test_kmnist_download_from_a_local_mirror(tmp_path, http_root):
    srv, url = http_root
    rng = np.random.default_rng(5)
    for prefix, n in (("train", 6), ("t10k", 3)):
        write_idx(srv / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(srv / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, dtype=np.uint8))

    class Local(datasets.KMNIST):
        mirrors = [url]
        resources = [(n, _md5(srv / n)) for n, _ in datasets.KMNIST.resources]

    ds = Local(tmp_path, train=False, download=True)
    assert len(ds) == 3 and ds.classes[1] == "ki"
    assert os.path.isdir(tmp_path / "Local" / "raw")


def test_emnist_split_files_and_download(tmp_path, http_root):
    srv, url = http_root
    rng = np.random.default_rng(6)
    zpath = srv / "gzip.zip"
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    with zipfile.ZipFile(zpath, "w") as zf:
        for part, n in (("train", 5), ("test", 2)):
            for kind, arr in (
                ("images-idx3", images[:n]),
                ("labels-idx1", rng.integers(0, 10, n, dtype=np.uint8)),
            ):
                tmp = tmp_path / f"emnist-digits-{part}-{kind}-ubyte.gz"
                write_idx(tmp, arr)
                zf.write(tmp, f"gzip/{tmp.name}")

    class Local(datasets.EMNIST):
        pass

    Local.url, Local.md5 = url + "gzip.zip", _md5(zpath)
    ds = Local(tmp_path, split="digits", download=True)
    assert len(ds) == 5 and ds.classes == list("0123456789")
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert len(Local(tmp_path, split="digits", train=False)) == 2
    assert datasets.EMNIST.classes_split_dict["letters"][:3] == ["N/A", "a", "b"]
    assert len(datasets.EMNIST.classes_split_dict["balanced"]) == 47
    with pytest.raises(ValueError, match="Unknown value 'kanji' for argument split"):
        datasets.EMNIST(tmp_path, split="kanji")
    gz = gzip.compress(b"")
    assert gz  # gzip available for the archives above
