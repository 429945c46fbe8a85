"""torchvision.datasets.utils: checksummed downloads and safe archive extraction."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from urllib.parse import urlparse

__all__ = [
    "calculate_md5", "check_md5", "check_integrity", "download_url", "extract_archive",
    "download_and_extract_archive", "verify_str_arg",
]  # fmt: skip


def calculate_md5(fpath: str | os.PathLike, chunk_size: int = 1024 * 1024) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            h.update(chunk)
    return h.hexdigest()


def check_md5(fpath: str | os.PathLike, md5: str) -> bool:
    return md5 == calculate_md5(fpath)


def check_integrity(fpath: str | os.PathLike, md5: str | None = None) -> bool:
    """The file exists and, when ``md5`` is given, has that md5 sum."""
    if not os.path.isfile(fpath):
        return False
    return True if md5 is None else check_md5(fpath, md5)


def fetch(url: str, target: str, md5: str | None, timeout: float = 30.0) -> None:
    """Download ``url`` to a temporary file next to ``target``, check its md5, only then rename it."""
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(target)), suffix=".part")
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "ember"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(req, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out)
        if md5 is not None:
            got = calculate_md5(tmp)
            if got != md5:
                raise RuntimeError(f"checksum mismatch for {url} (md5 {got}, expected {md5})")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def download_url(
    url: str, root: str | os.PathLike, filename: str | None = None, md5: str | None = None
) -> None:
    """Download ``url`` into ``root/filename`` unless a file with the right md5 is already there."""
    root = os.path.expanduser(os.fspath(root))
    filename = filename or os.path.basename(urlparse(url).path)
    fpath = os.path.join(root, filename)
    if check_integrity(fpath, md5):
        return
    fetch(url, fpath, md5)


def _safe_members(tar: tarfile.TarFile, to_path: str) -> list[tarfile.TarInfo]:
    base = os.path.realpath(to_path)
    members = []
    for m in tar.getmembers():
        dest = os.path.realpath(os.path.join(base, m.name))
        if not (dest == base or dest.startswith(base + os.sep)) or m.issym() or m.islnk() or m.isdev():
            raise RuntimeError(
                f"refusing to extract {m.name!r}: it points outside {to_path} or is a link/device"
            )
        members.append(m)
    return members


def extract_archive(from_path: str, to_path: str | None = None, remove_finished: bool = False) -> str:
    """Extract a .tar(.gz/.bz2/.xz), .tgz, .zip or .gz file into ``to_path`` (default: its folder);
    members that would land outside ``to_path`` are refused."""
    to_path = to_path or os.path.dirname(from_path)
    if from_path.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz")):
        with tarfile.open(from_path, "r:*") as tar:
            tar.extractall(to_path, members=_safe_members(tar, to_path))
    elif from_path.endswith(".zip"):
        with zipfile.ZipFile(from_path) as zf:
            base = os.path.realpath(to_path)
            for name in zf.namelist():
                dest = os.path.realpath(os.path.join(base, name))
                if not (dest == base or dest.startswith(base + os.sep)):
                    raise RuntimeError(f"refusing to extract {name!r}: it points outside {to_path}")
            zf.extractall(to_path)
    elif from_path.endswith(".gz"):
        out = os.path.join(to_path, os.path.basename(from_path)[:-3])
        with gzip.open(from_path, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        raise RuntimeError(f"Extraction of {from_path} not supported")
    if remove_finished:
        os.remove(from_path)
    return to_path


def download_and_extract_archive(
    url: str,
    download_root: str,
    extract_root: str | None = None,
    filename: str | None = None,
    md5: str | None = None,
    remove_finished: bool = False,
) -> None:
    """``download_url`` then ``extract_archive``."""
    download_root = os.path.expanduser(download_root)
    extract_root = extract_root or download_root
    filename = filename or os.path.basename(urlparse(url).path)
    download_url(url, download_root, filename, md5)
    archive = os.path.join(download_root, filename)
    print(f"Extracting {archive} to {extract_root}")
    extract_archive(archive, extract_root, remove_finished)


def verify_str_arg(value: str, arg: str | None = None, valid_values: tuple[str, ...] | None = None) -> str:
    """torchvision's argument check: ``value`` must be one of ``valid_values``."""
    if not isinstance(value, str):
        raise ValueError(f"Expected type str for argument {arg}, but got type {type(value)}.")
    if valid_values is not None and value not in valid_values:
        raise ValueError(
            f"Unknown value '{value}' for argument {arg}. Valid values are {{{', '.join(map(repr, valid_values))}}}."
        )
    return value
