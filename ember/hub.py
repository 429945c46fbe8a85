"""torch.hub's checkpoint cache: get_dir, download_url_to_file, load_state_dict_from_url.

Files live where torch keeps them (``$TORCH_HOME/hub/checkpoints``, ``TORCH_HOME`` defaulting to
``$XDG_CACHE_HOME/torch`` or ``~/.cache/torch``), so checkpoints torch downloaded are reused as is.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import urllib.request
from typing import Any
from urllib.parse import urlparse

import ember

__all__ = ["get_dir", "set_dir", "download_url_to_file", "load_state_dict_from_url"]

# torchvision names its files <name>-<first hex digits of the sha256>.pth
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
_hub_dir: str | None = None


def _torch_home() -> str:
    xdg = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(xdg, "torch")))


def get_dir() -> str:
    """The hub cache directory: ``set_dir``'s value, else ``$TORCH_HOME/hub``."""
    if _hub_dir is not None:
        return _hub_dir
    return os.path.join(_torch_home(), "hub")


def set_dir(d: str | os.PathLike) -> None:
    """Use ``d`` as the hub cache directory from now on."""
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def download_url_to_file(
    url: str, dst: str, hash_prefix: str | None = None, progress: bool = True, timeout: float = 30.0
) -> None:
    """Download ``url`` to ``dst`` through a temporary file; with ``hash_prefix`` the file's sha256
    must start with it, else RuntimeError and nothing is kept."""
    dst = os.path.expanduser(dst)
    dst_dir = os.path.dirname(os.path.abspath(dst))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(dst) + ".", suffix=".partial", dir=dst_dir)
    try:
        sha256 = hashlib.sha256()
        req = urllib.request.Request(url, headers={"User-Agent": "ember"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(req, timeout=timeout) as resp:
            total = resp.headers.get("Content-Length")
            done = 0
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                sha256.update(chunk)
                done += len(chunk)
                if progress and total:
                    sys.stderr.write(f"\r{os.path.basename(dst)}: {100 * done // int(total)}%")
            if progress and total:
                sys.stderr.write("\n")
            if total is not None and done != int(total):
                raise RuntimeError(f"incomplete download of {url}: got {done} of {total} bytes")
        if hash_prefix is not None:
            digest = sha256.hexdigest()
            if digest[: len(hash_prefix)] != hash_prefix:
                raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "{digest}")')
        shutil.move(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_state_dict_from_url(
    url: str,
    model_dir: str | None = None,
    map_location: Any = None,
    progress: bool = True,
    check_hash: bool = False,
    file_name: str | None = None,
    weights_only: bool = False,
) -> dict[str, Any]:
    """``ember.load`` of the cached copy of ``url`` (downloaded first when missing; with
    ``check_hash`` the download must match the hash prefix in its file name)."""
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name or os.path.basename(urlparse(url).path)
    cached_file = os.path.join(model_dir, filename)
    if not os.path.exists(cached_file):
        if progress:
            sys.stderr.write(f'Downloading: "{url}" to {cached_file}\n')
        hash_prefix = None
        if check_hash:
            r = HASH_REGEX.search(filename)
            hash_prefix = r.group(1) if r else None
        download_url_to_file(url, cached_file, hash_prefix, progress=progress)
    # torchvision's checkpoints hold only tensors: the weights-only unpickler reads them (and refuses code)
    return ember.load(cached_file, map_location=map_location, weights_only=True)
