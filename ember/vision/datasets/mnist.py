"""torchvision.datasets.MNIST / FashionMNIST / KMNIST / EMNIST: IDX files (gz or raw) read into uint8 tensors."""

from __future__ import annotations

import gzip
import os
import string
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import ember
from ember.vision.datasets.utils import calculate_md5 as _md5
from ember.vision.datasets.utils import extract_archive, fetch, verify_str_arg

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "EMNIST", "read_idx", "write_idx", "bundled_root"]

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw) into a NumPy array; a bad header or short data raises."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise RuntimeError(f"Could not read IDX file {path}: {e}") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise RuntimeError(f"Corrupt IDX file {path}: bad magic number {raw[:4].hex() or '(empty)'}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise RuntimeError(f"Corrupt IDX file {path}: truncated header")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    need = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != need:
        raise RuntimeError(
            f"Corrupt IDX file {path}: expected {need} data bytes for shape {shape}, found {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file, gzip-compressed when ``path`` ends in ``.gz``."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + array.tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
            f.write(data)
    else:
        path.write_bytes(data)


def bundled_root() -> str:
    """Root of the small Fashion-MNIST subset shipped with ember (2,000 train / 500 test images)."""
    return str(Path(__file__).resolve().parent.parent / "data")


class MNIST:
    """MNIST digits; ``root/<ClassName>/raw/`` (or ``root`` itself) holds the four IDX files.

    ``__getitem__`` returns ``(img, target)`` where ``img`` is a uint8 ``H x W`` NumPy array
    (torchvision gives a PIL image; ``transforms.ToTensor`` accepts both).
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    training_file = "training.pt"
    test_file = "test.pt"
    classes = [
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
    ]  # fmt: skip

    def __init__(
        self,
        root: str | os.PathLike,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        self.root = os.path.expanduser(str(root))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if download:
            self.download()
        files = self._find_files()
        if files is None:
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        images, labels = read_idx(files[0]), read_idx(files[1])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise RuntimeError(
                f"Corrupt {type(self).__name__} files in {self.raw_folder}: images {images.shape}, labels {labels.shape}"
            )
        self.data = ember.from_numpy(np.ascontiguousarray(images, dtype=np.uint8))
        self.targets = ember.from_numpy(labels.astype(np.int64))

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def _file_names(self) -> tuple[str, str]:
        prefix = "train" if self.train else "t10k"
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"

    def _find_files(self) -> tuple[str, str] | None:
        """Paths of this split's (images, labels) files, gz or raw, in raw_folder or root; None when missing."""
        found = []
        for name in self._file_names():
            hits = [
                os.path.join(folder, name + ext)
                for folder in (self.raw_folder, self.root)
                for ext in ("", ".gz")
                if os.path.isfile(os.path.join(folder, name + ext))
            ]
            if not hits:
                return None
            found.append(hits[0])
        return found[0], found[1]

    def _check_exists(self) -> bool:
        return self._find_files() is not None

    def download(self) -> None:
        """Fetch the four files from ``mirrors`` into ``raw_folder``, checking their md5 sums."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        for filename, md5 in self.resources:
            target = os.path.join(self.raw_folder, filename)
            if os.path.isfile(target) and _md5(target) == md5:
                continue
            errors = []
            for mirror in self.mirrors:
                url = mirror.rstrip("/") + "/" + filename
                try:
                    fetch(url, target, md5)
                    break
                except (urllib.error.URLError, OSError, RuntimeError) as e:
                    errors.append(f"{url}: {e}")
            else:
                raise RuntimeError(
                    f"Error downloading {filename} for {type(self).__name__} (offline? put the files in "
                    f"{self.raw_folder} yourself):\n  " + "\n  ".join(errors)
                )

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img = self.data._data[index]
        target = int(self.targets._data[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        lines += [f"    Root location: {self.root}", f"    {self.extra_repr()}"]
        if self.transform is not None:
            lines.append(f"    StandardTransform\nTransform: {self.transform!r}")
        return "\n".join(lines)


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando Research): 28x28 grayscale clothing images, 10 classes."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]


class KMNIST(MNIST):
    """Kuzushiji-MNIST: 28x28 cursive Japanese (hiragana) characters, 10 classes."""

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


class EMNIST(MNIST):
    """Extended MNIST (NIST Special Database 19 in MNIST's format); ``split`` is one of
    byclass, bymerge, balanced, letters, digits, mnist. Images are as stored (transposed), as in torchvision."""

    url = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
    md5 = "58c8d27c78d21e728a6bc7b3cc06412e"
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    _all_classes = set(string.digits + string.ascii_letters)
    _merged_classes = {"c", "i", "j", "k", "l", "m", "o", "p", "s", "u", "v", "w", "x", "y", "z"}
    classes_split_dict = {
        "byclass": sorted(_all_classes),
        "bymerge": sorted(_all_classes - _merged_classes),
        "balanced": sorted(_all_classes - _merged_classes),
        "letters": ["N/A"] + list(string.ascii_lowercase),
        "digits": list(string.digits),
        "mnist": list(string.digits),
    }

    def __init__(self, root: str | os.PathLike, split: str, **kwargs: Any) -> None:
        self.split = verify_str_arg(split, "split", self.splits)
        self.classes = self.classes_split_dict[self.split]
        super().__init__(root, **kwargs)

    def _file_names(self) -> tuple[str, str]:
        part = "train" if self.train else "test"
        return (
            f"emnist-{self.split}-{part}-images-idx3-ubyte",
            f"emnist-{self.split}-{part}-labels-idx1-ubyte",
        )

    def download(self) -> None:
        """Fetch gzip.zip (md5 checked) and unpack its ``emnist-*.gz`` files into ``raw_folder``."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        archive = os.path.join(self.raw_folder, "gzip.zip")
        try:
            fetch(self.url, archive, self.md5)
        except (urllib.error.URLError, OSError, RuntimeError) as e:
            raise RuntimeError(
                f"Error downloading EMNIST (offline? put the files in {self.raw_folder} yourself): {self.url}: {e}"
            ) from e
        extract_archive(archive, self.raw_folder)
        gzip_folder = os.path.join(self.raw_folder, "gzip")
        for name in sorted(os.listdir(gzip_folder)):
            if name.endswith(".gz"):
                os.replace(os.path.join(gzip_folder, name), os.path.join(self.raw_folder, name))
        if not os.listdir(gzip_folder):
            os.rmdir(gzip_folder)
        os.remove(archive)
