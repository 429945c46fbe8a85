"""ember.save / ember.load in PyTorch's checkpoint format (torch.load reads ember's files and back).

Layout of a zip checkpoint (what torch.save writes): `<name>/data.pkl` (the pickled object, with
tensors as persistent ids ('storage', torch.FloatStorage, key, location, numel)), `<name>/data/<key>`
(raw little-endian storage bytes, 64-byte aligned), `<name>/version`, `<name>/byteorder`, ...
`load` is safe by default (weights_only=True): see `ember._pickle_safe`.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import pickletools
import re
import secrets
import socket
import struct
import sys
import zipfile
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from ember import _backend
from ember._pickle_safe import TORCH_GLOBALS, Storage, TorchUnpickler, as_str, brief, storage_dtype
from ember._pickle_torch import StorageTable, TorchPickler
from ember._weights_only_unpickler import WeightsOnlyUnpickler

__all__ = ["save", "load"]

FILE_LIKE = str | os.PathLike | IO[bytes]
MAP_LOCATION = str | _backend.device | dict | Callable | None

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # legacy (non-zip) format
PROTOCOL_VERSION = 1001
_ALIGN = 64
_OWN_ERRORS = ("Weights only", "corrupt checkpoint", "ember", "_codecs")


# --------------------------------------------------------------------------------------------
# save
# --------------------------------------------------------------------------------------------
def save(
    obj: Any,
    f: FILE_LIKE,
    pickle_module: Any = None,
    pickle_protocol: int = 2,
    _use_new_zipfile_serialization: bool = True,
    _disable_byteorder_record: bool = False,
) -> None:
    """Save `obj` to a path (written atomically: temp file + rename) or a binary file object."""
    table = StorageTable()
    buf = io.BytesIO()
    legacy = not _use_new_zipfile_serialization
    TorchPickler(buf, pickle_protocol, table, legacy=legacy).dump(obj)  # fails before any write

    def write(fp) -> None:
        if legacy:
            _write_legacy(fp, buf.getvalue(), table, pickle_protocol)
        else:
            _write_zip(fp, _archive_name(f), buf.getvalue(), table, not _disable_byteorder_record)

    if isinstance(f, (str, bytes, os.PathLike)):
        _atomic_write(os.fsdecode(f), write)
    elif hasattr(f, "write"):
        if _seekable(f):
            write(f)
        else:  # zipfile needs to seek back to fill in sizes: build in memory
            mem = io.BytesIO()
            write(mem)
            f.write(mem.getvalue())
    else:
        raise AttributeError(
            f"expected 'f' to be string, path, or a file-like object with a "
            f"'write' attribute, got {type(f).__name__}"
        )


def _seekable(f) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _archive_name(f) -> str:
    if isinstance(f, (str, bytes, os.PathLike)):
        stem = os.path.splitext(os.path.basename(os.fsdecode(f)))[0]
        if stem and stem.isprintable() and stem.isascii():
            return stem
    return "archive"


# temp files are named .<target>.ember-<host>-<pid>-<random>.tmp so that a later save can tell
# the leftovers of a killed save (writer process gone) from a save in progress
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
_TMP_RE = re.compile(r"\.ember-([0-9a-f]{8})-(\d+)-[0-9a-f]{8}\.tmp")
_writing: set[str] = set()  # temp files this process is writing now


def _temp_name(parent: str, base: str) -> str:
    return os.path.join(parent, f".{base}.ember-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}.tmp")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove_stale_temps(parent: str, base: str) -> None:
    """Delete temp files an interrupted save to <parent>/<base> left behind: only files named
    like our temp files for this target, written on this host by a process that no longer runs
    (or by this process, outside a save in progress). A finished checkpoint is never touched."""
    prefix = f".{base}"
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix):
            continue
        m = _TMP_RE.fullmatch(name[len(prefix) :])
        if m is None or m.group(1) != _HOST:
            continue
        path = os.path.join(parent, name)
        pid = int(m.group(2))
        if (pid == os.getpid() and path not in _writing) or (pid != os.getpid() and not _pid_alive(pid)):
            try:
                os.unlink(path)
            except OSError:
                pass


def _atomic_write(path: str, write: Callable) -> None:
    target = os.path.realpath(path)  # write through symlinks, like open() would
    parent = os.path.dirname(target) or "."
    base = os.path.basename(target)
    if not os.path.isdir(parent):
        raise RuntimeError(f"Parent directory {os.path.dirname(path) or '.'} does not exist.")
    while True:
        tmp = _temp_name(parent, base)
        _writing.add(tmp)  # before it exists: another thread's cleanup must not take it
        try:  # O_EXCL: never clobber; mode 0o666 lets the umask decide, as open() does
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except BaseException:
            _writing.discard(tmp)
            if not isinstance(sys.exc_info()[1], FileExistsError):
                raise
    try:
        with os.fdopen(fd, "wb") as fp:
            write(fp)
            fp.flush()
            os.fsync(fp.fileno())
        if os.path.exists(target):
            os.chmod(tmp, os.stat(target).st_mode & 0o7777)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    finally:
        _writing.discard(tmp)
    # only after the new checkpoint is in place: a stale temp may hold the newest finished data
    _remove_stale_temps(parent, base)


def _write_zip(fp, name: str, pkl: bytes, table: StorageTable, byteorder: bool) -> None:
    with zipfile.ZipFile(fp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        start = zf.start_dir if hasattr(zf, "start_dir") else fp.tell()

        def record(rec: str, data) -> None:
            info = zipfile.ZipInfo(f"{name}/{rec}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            size = memoryview(data).nbytes
            zip64 = size * 1.05 > zipfile.ZIP64_LIMIT
            # pad the local header's extra field ('FB', as torch does) so data starts aligned
            header = zf.start_dir - start + 30 + len(info.filename.encode()) + 4 + (20 if zip64 else 0)
            pad = -header % _ALIGN
            info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
            with zf.open(info, "w", force_zip64=zip64) as out:
                out.write(data)

        record("data.pkl", pkl)
        record(".format_version", b"1")
        record(".storage_alignment", str(_ALIGN).encode())
        if byteorder:
            record("byteorder", b"little")
        for entry in table.entries:
            record(f"data/{entry.key}", entry.little_endian_bytes())
        record("version", b"3\n")
        record(".data/serialization_id", str(secrets.randbits(128)).zfill(40).encode())


def _write_legacy(fp, pkl: bytes, table: StorageTable, protocol: int) -> None:
    sys_info = {
        "protocol_version": PROTOCOL_VERSION,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 4},
    }
    for header in (MAGIC_NUMBER, PROTOCOL_VERSION, sys_info):
        pickle.dump(header, fp, protocol=protocol)
    fp.write(pkl)
    pickle.dump(sorted(e.key for e in table.entries), fp, protocol=protocol)
    for entry in sorted(table.entries, key=lambda e: e.key):
        fp.write(struct.pack("<q", entry.numel))
        fp.write(entry.little_endian_bytes())


# --------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------
def load(
    f: FILE_LIKE,
    map_location: MAP_LOCATION = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    **pickle_load_args: Any,
) -> Any:
    """Load a checkpoint written by torch.save or ember.save. `weights_only` (default True)
    refuses every pickled global except tensors, dtypes, devices and containers."""
    weights_only = True if weights_only is None else bool(weights_only)
    encoding = pickle_load_args.pop("encoding", "utf-8")
    if pickle_load_args:
        raise TypeError(f"load() got unexpected keyword arguments {list(pickle_load_args)}")
    ctx = _LoadContext(map_location, weights_only, encoding)
    if isinstance(f, (str, bytes, os.PathLike)):
        path = os.fsdecode(f)
        with open(path, "rb") as fp:
            if mmap and zipfile.is_zipfile(fp):
                fp.seek(0)
                ctx.mmap = np.memmap(path, dtype=np.uint8, mode="c") if os.path.getsize(path) else None
            fp.seek(0)
            return _load_file(fp, ctx)
    if mmap:
        raise ValueError("f must be a file path in order to use the mmap argument")
    if not hasattr(f, "read"):
        raise AttributeError(
            f"expected 'f' to be string, path, or a file-like object with a "
            f"'read' attribute, got {type(f).__name__}"
        )
    if not _seekable(f):
        f = io.BytesIO(f.read())
    return _load_file(f, ctx)


class _LoadContext:
    def __init__(self, map_location, weights_only: bool, encoding: str) -> None:
        self.map_location = map_location
        self.weights_only = weights_only
        self.encoding = encoding
        self.mmap = None

    def unpickle(self, fp, persistent_load: Callable):
        if self.weights_only:  # ember's own interpreter: see ember/_weights_only_unpickler.py
            return WeightsOnlyUnpickler(fp, persistent_load=persistent_load, encoding=self.encoding).load()
        u = TorchUnpickler(fp, weights_only=False, persistent_load=persistent_load, encoding=self.encoding)
        try:
            return u.load()
        except (
            EOFError,
            pickle.UnpicklingError,
            struct.error,
            IndexError,
            ValueError,
            KeyError,
            TypeError,
            MemoryError,
            UnicodeDecodeError,
        ) as e:
            if isinstance(e, pickle.UnpicklingError) and str(e).startswith(_OWN_ERRORS):
                raise  # already names the problem
            raise pickle.UnpicklingError(
                f"corrupt checkpoint: could not unpickle its data ({type(e).__name__}: {brief(str(e))})"
            ) from e

    def restore(self, array: np.ndarray, location: str) -> Storage:
        """Move a freshly read CPU storage to where `map_location` says."""
        ml = self.map_location
        if callable(ml) and not isinstance(ml, (str, _backend.device)):
            try:
                out = ml(Storage(array, location), location)
            except Exception as e:  # the caller's own error, not the file's: let it through as is
                raise _CallerError(e) from e
            if out is not None:
                if not isinstance(out, Storage):
                    raise TypeError(f"map_location must return a storage or None, got {type(out).__name__}")
                return out
            target = location
        elif isinstance(ml, dict):
            target = str(ml.get(location, location))
        elif ml is None:
            target = location
        else:
            target = str(ml)
        dev = _backend.device(target)
        if dev.type == "cuda" and _backend.cupy() is None:
            raise RuntimeError(
                "Attempting to deserialize object on a CUDA device but ember.cuda.is_available() "
                "is False. If you are running on a CPU-only machine, please use ember.load with "
                "map_location=ember.device('cpu') to map your storages to the CPU."
            )
        return Storage(array, "cpu").to(dev)


def _load_file(fp, ctx: _LoadContext):
    """Load from an open binary file. With weights_only every failure caused by the file's
    contents is a RuntimeError or pickle.UnpicklingError naming the problem (docs/security.md)."""
    try:
        return _load_any(fp, ctx)
    except _CallerError as e:
        raise e.error from None
    except (RuntimeError, pickle.UnpicklingError):
        raise
    except MemoryError:
        raise RuntimeError(
            "ember.load: out of memory reading the checkpoint (it declares more data than fits)"
        ) from None
    except Exception as e:
        if not ctx.weights_only or isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise RuntimeError(f"ember.load: corrupt checkpoint ({type(e).__name__}: {brief(str(e))})") from e


class _CallerError(Exception):
    """An exception raised by the caller's map_location callable, carried past the wrapping of
    file errors."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _file_size(fp) -> int:
    here = fp.tell()
    end = fp.seek(0, os.SEEK_END)
    fp.seek(here)
    return end


def _load_any(fp, ctx: _LoadContext):
    start = fp.tell()
    head = fp.read(262)
    fp.seek(start)
    if not head:
        raise RuntimeError("ember.load: the file is empty, it is not a checkpoint")
    if head[:4] == b"PK\x03\x04" or _is_zip(fp):
        fp.seek(start)
        try:
            zf = zipfile.ZipFile(fp)
        except Exception as e:  # BadZipFile, but also ValueError, OverflowError, UnicodeDecodeError...
            if isinstance(e, MemoryError):
                raise
            raise RuntimeError(
                f"PytorchStreamReader failed reading zip archive: {type(e).__name__}: {brief(str(e))} "
                "(the checkpoint is truncated or corrupt)"
            ) from e
        with zf:
            return _load_zip(zf, ctx, _file_size(fp) - start)
    fp.seek(start)
    if head[257:262] == b"ustar":
        raise RuntimeError(
            "ember.load cannot read PyTorch's legacy .tar checkpoint format "
            "(load and re-save it with torch first)"
        )
    return _load_legacy(fp, ctx)


def _is_zip(fp) -> bool:
    try:
        return zipfile.is_zipfile(fp)
    except (OSError, ValueError, OverflowError):
        return False


# deflate cannot expand data by more than 1032:1; torch.save never compresses (ZIP_STORED)
_MAX_DEFLATE_RATIO = 1032
_SUPPORTED_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}


def _check_record(info: zipfile.ZipInfo, archive_size: int) -> None:
    """Refuse a record whose directory entry claims more than the archive can hold, before
    anything is allocated or inflated for it."""
    name = brief(info.filename)
    if info.compress_type not in _SUPPORTED_COMPRESSION:
        raise RuntimeError(
            f"ember.load: record {name} uses unsupported compression method {info.compress_type} "
            "(checkpoints are stored or deflated)"
        )
    if info.flag_bits & 0x1:
        raise RuntimeError(f"ember.load: record {name} is encrypted")
    if info.header_offset < 0 or info.compress_size < 0 or info.file_size < 0:
        raise RuntimeError(f"ember.load: record {name} has a negative size or offset (corrupt directory)")
    if info.header_offset + info.compress_size > archive_size:
        raise RuntimeError(
            f"ember.load: record {name} claims {info.compress_size} bytes at offset "
            f"{info.header_offset} but the archive has only {archive_size} bytes (corrupt directory)"
        )
    stored = info.compress_type == zipfile.ZIP_STORED
    if stored and info.file_size != info.compress_size:
        raise RuntimeError(
            f"ember.load: stored record {name} claims {info.file_size} bytes but occupies "
            f"{info.compress_size} (corrupt directory)"
        )
    limit = info.compress_size if stored else info.compress_size * _MAX_DEFLATE_RATIO + 64
    if info.file_size > limit:
        raise RuntimeError(
            f"ember.load: record {name} claims {info.file_size} bytes from {info.compress_size} "
            f"{_SUPPORTED_COMPRESSION[info.compress_type]} bytes, more than that can hold (corrupt directory)"
        )


def _load_zip(zf: zipfile.ZipFile, ctx: _LoadContext, archive_size: int):
    pkl_names = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if not pkl_names:
        raise RuntimeError(
            "ember.load: the zip archive has no '<name>/data.pkl' record, it is not a PyTorch checkpoint"
        )
    prefix = pkl_names[0][: -len("data.pkl")]
    big = (
        _read(zf, prefix + "byteorder", archive_size) == b"big"
        if prefix + "byteorder" in zf.NameToInfo
        else False
    )
    storages: dict[str, Storage] = {}

    def persistent_load(pid):
        if not isinstance(pid, tuple) or len(pid) != 5 or as_str(pid[0]) != "storage":
            raise pickle.UnpicklingError(f"corrupt checkpoint: unsupported persistent id {brief(pid)}")
        dtype = storage_dtype(pid[1])
        key, location, numel = as_str(pid[2]), as_str(pid[3]), pid[4]
        if not isinstance(key, str) or not isinstance(location, str) or type(numel) is not int or numel < 0:
            raise pickle.UnpicklingError(f"corrupt checkpoint: invalid storage id {brief(pid)}")
        if key not in storages:
            arr = _read_storage(zf, f"{prefix}data/{key}", dtype.np, numel, ctx.mmap, archive_size)
            if big:
                arr = arr.byteswap()
            storages[key] = ctx.restore(arr, location)
        st = storages[key]
        if st.array.dtype != dtype.np:  # two dtypes viewing one storage
            nbytes = numel * dtype.itemsize
            if nbytes > st.array.nbytes:
                raise RuntimeError(
                    f"ember.load: storage {brief(key)} is read as {numel} elements of {dtype.name} "
                    f"({nbytes} bytes) but holds only {st.array.nbytes} bytes"
                )
            return Storage(st.array.view(np.uint8)[:nbytes].view(dtype.np), st.location)
        return st

    data = _read(zf, pkl_names[0], archive_size)
    return ctx.unpickle(io.BytesIO(data), persistent_load)


_ZIP_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    ValueError,
    OverflowError,
    NotImplementedError,
    struct.error,
)


def _info(zf: zipfile.ZipFile, name: str, archive_size: int) -> zipfile.ZipInfo:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise RuntimeError(
            f"ember.load: the checkpoint is missing the {'data ' if '/data/' in name else ''}record "
            f"{brief(name)} (truncated or corrupt file)"
        ) from None
    _check_record(info, archive_size)
    return info


def _read(zf: zipfile.ZipFile, name: str, archive_size: int) -> bytes:
    info = _info(zf, name, archive_size)
    try:
        with zf.open(info) as raw:
            return raw.read()
    except _ZIP_ERRORS as e:
        raise RuntimeError(f"ember.load: record {brief(name)} is corrupt ({type(e).__name__}: {e})") from e


def _read_storage(
    zf: zipfile.ZipFile, name: str, np_dtype: np.dtype, numel: int, mm, archive_size: int
) -> np.ndarray:
    info = _info(zf, name, archive_size)
    nbytes = numel * np_dtype.itemsize
    if info.file_size != nbytes:
        raise RuntimeError(
            f"ember.load: data record {brief(name)} holds {info.file_size} bytes, expected "
            f"{nbytes} ({numel} elements of {np_dtype}); the checkpoint is corrupt"
        )
    le = np_dtype.newbyteorder("<")
    if mm is not None and info.compress_type == zipfile.ZIP_STORED:
        hdr = bytes(mm[info.header_offset : info.header_offset + 30])
        if len(hdr) == 30 and hdr[:4] == b"PK\x03\x04":
            n, m = struct.unpack("<HH", hdr[26:30])
            begin = info.header_offset + 30 + n + m
            if begin + nbytes <= mm.size:
                # its own buffer (not a slice of the file's memmap): storage_offset() counts from
                # this storage's start and tensors of different records do not share a storage
                arr = np.frombuffer(memoryview(mm[begin : begin + nbytes]), le)
                return arr.astype(np_dtype, copy=False)
    try:
        arr = np.empty(numel, le)
    except (MemoryError, ValueError) as e:
        raise RuntimeError(
            f"ember.load: cannot allocate {nbytes} bytes for data record {brief(name)} ({e})"
        ) from None
    try:
        with zf.open(info) as raw:
            got = raw.readinto(memoryview(arr).cast("B")) if nbytes else 0
            raw.read(1)  # reaching the end makes zipfile check the CRC
    except _ZIP_ERRORS as e:
        raise RuntimeError(
            f"ember.load: data record {brief(name)} is corrupt ({type(e).__name__}: {e})"
        ) from e
    except MemoryError:
        raise RuntimeError(
            f"ember.load: cannot allocate memory to inflate data record {brief(name)} ({nbytes} bytes)"
        ) from None
    if got != nbytes:
        raise RuntimeError(f"ember.load: data record {brief(name)} is truncated ({got} of {nbytes} bytes)")
    return arr.astype(np_dtype, copy=False)


class _BoundedReader:
    """A file view that refuses reads past `size` before making them (a length field of 2**62
    must not become a 2**62-byte buffer)."""

    def __init__(self, fp, size: int) -> None:
        self.fp, self.size = fp, size

    def left(self) -> int:
        return self.size - self.fp.tell()

    def read(self, n: int = -1) -> bytes:
        left = self.left()
        if n is None or n < 0 or n > left:
            n = max(left, 0) if n is None or n < 0 else n
            if n > left:
                raise pickle.UnpicklingError(
                    f"corrupt checkpoint: the file wants {n} more bytes but has only {max(left, 0)}"
                )
        return self.fp.read(n)

    def readline(self, limit: int = -1) -> bytes:
        return self.fp.readline(limit)

    def tell(self) -> int:
        return self.fp.tell()

    def seek(self, pos: int, whence: int = 0) -> int:
        return self.fp.seek(pos, whence)


def _load_legacy(fp, ctx: _LoadContext):
    """PyTorch's pre-1.6 format: pickles of the magic number, version, sys_info, the object and
    the storage keys, then every storage as <int64 numel><raw bytes>."""
    fp = _BoundedReader(fp, _file_size(fp))

    def header():
        return ctx.unpickle(fp, _no_persistent)

    if header() != MAGIC_NUMBER:
        raise RuntimeError("Invalid magic number; corrupt file? (not a PyTorch checkpoint)")
    if header() != PROTOCOL_VERSION:
        raise RuntimeError("Invalid protocol version: not a supported PyTorch checkpoint")
    sys_info = header()
    little = not isinstance(sys_info, dict) or sys_info.get("little_endian", True) is not False
    body = fp.tell()
    dtypes = _legacy_storage_dtypes(fp)  # element sizes are needed to find the storages
    keys = header()
    if type(keys) is not list:
        raise pickle.UnpicklingError("corrupt checkpoint: the storage key list is missing")
    storages: dict[str, Storage] = {}
    for key in map(as_str, keys):
        if not isinstance(key, str) or key not in dtypes:
            raise pickle.UnpicklingError(f"corrupt checkpoint: storage {brief(key)} is never used")
        np_dtype, location = dtypes[key]
        n = fp.read(8) if fp.left() >= 8 else b""
        if len(n) != 8:
            raise RuntimeError(f"ember.load: storage {brief(key)} is missing (truncated file)")
        (count,) = struct.unpack("<q", n)
        nbytes = count * np_dtype.itemsize
        if count < 0 or nbytes > fp.left():
            raise RuntimeError(
                f"ember.load: storage {brief(key)} claims {count} elements of {np_dtype} "
                f"({nbytes} bytes) but the file has only {fp.left()} bytes left (truncated or corrupt)"
            )
        data = fp.read(nbytes)
        arr = np.frombuffer(data, np_dtype.newbyteorder("<" if little else ">")).astype(np_dtype)
        storages[key] = ctx.restore(arr, location)

    def persistent_load(pid):
        if not isinstance(pid, tuple) or len(pid) != 6 or as_str(pid[0]) != "storage":
            raise pickle.UnpicklingError(f"corrupt checkpoint: unsupported persistent id {brief(pid)}")
        key = as_str(pid[2])
        st = storages.get(key) if isinstance(key, str) else None
        if st is None:
            raise RuntimeError(f"ember.load: storage {brief(pid[2])} is missing from the checkpoint")
        view = pid[5]
        if view is not None:  # (view_key, offset, numel) inside the root storage
            if not (isinstance(view, tuple) and len(view) == 3 and all(type(v) is int for v in view[1:])):
                raise pickle.UnpicklingError(f"corrupt checkpoint: invalid storage view {brief(view)}")
            _key, off, size = view
            if off < 0 or size < 0 or off + size > st.array.size:
                raise RuntimeError(
                    f"ember.load: storage view [{off}, {off + size}) lies outside storage "
                    f"{brief(key)} of {st.array.size} elements"
                )
            return Storage(st.array[off : off + size], st.location)
        return st

    fp.seek(body)
    return ctx.unpickle(fp, persistent_load)


_PUSH_ARG = {
    "BINUNICODE",
    "SHORT_BINUNICODE",
    "UNICODE",
    "BININT",
    "BININT1",
    "BININT2",
    "INT",
    "LONG",
    "LONG1",
    "SHORT_BINSTRING",
    "BINSTRING",
    "STRING",
    "NONE",
}
_MARK_CONSUMERS = {
    "APPENDS": 0,
    "SETITEMS": 0,
    "ADDITEMS": 0,
    "POP_MARK": 0,
    "DICT": 1,
    "LIST": 1,
    "FROZENSET": 1,
}
_TUPLE_N = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}


def _legacy_storage_dtypes(fp) -> dict[str, tuple[np.dtype, str]]:
    """Storage key -> (dtype, location) from the persistent ids of a pickle, without running it
    (leaves `fp` after the pickle's STOP). Values other than strings, ints and tuples become None;
    every opcode costs O(1)."""
    out: dict[str, tuple[np.dtype, str]] = {}
    stack: list = []
    marks: list[int] = []
    memo: dict = {}
    try:
        for op, arg, _pos in pickletools.genops(fp):
            name = op.name
            if name == "GLOBAL":
                module, attr = arg.split(" ", 1)
                stack.append(TORCH_GLOBALS.get(f"{module}.{attr}"))
            elif name in _PUSH_ARG:
                stack.append(arg)
            elif name == "MARK":
                marks.append(len(stack))
            elif name == "TUPLE" or name in _MARK_CONSUMERS:
                i = marks.pop()
                items = tuple(stack[i:])
                del stack[i:]
                if name == "TUPLE":
                    stack.append(items)
                elif _MARK_CONSUMERS[name]:
                    stack.append(None)
            elif name in _TUPLE_N:
                n = _TUPLE_N[name]
                if len(stack) < n:
                    raise IndexError("stack underflow")
                items = tuple(stack[-n:])
                del stack[-n:]
                stack.append(items)
            elif name == "BINPERSID":
                pid = stack.pop() if stack else None
                if isinstance(pid, tuple) and len(pid) == 6 and as_str(pid[0]) == "storage":
                    key, location = as_str(pid[2]), as_str(pid[3])
                    if isinstance(key, str) and isinstance(location, str):
                        out.setdefault(key, (storage_dtype(pid[1]).np, location))
                stack.append(None)
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                stack.append(memo.get(arg))
            elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[arg] = stack[-1] if stack else None
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1] if stack else None
            elif name in ("POP", "APPEND", "BUILD", "SETITEM", "REDUCE", "NEWOBJ"):
                # consume their arguments so later tuples see the right items
                del stack[len(stack) - {"POP": 1, "APPEND": 1, "BUILD": 1, "SETITEM": 2}.get(name, 1) :]
                if name in ("REDUCE", "NEWOBJ"):
                    stack[-1:] = [None]
            elif name not in ("PROTO", "FRAME", "STOP"):
                stack.append(None)
    except (ValueError, EOFError, struct.error, IndexError, OverflowError, UnicodeDecodeError, KeyError) as e:
        raise pickle.UnpicklingError(
            f"corrupt checkpoint: unreadable pickle ({type(e).__name__}: {brief(str(e))})"
        ) from e
    return out


def _no_persistent(pid):
    raise pickle.UnpicklingError("corrupt checkpoint: unexpected persistent id in a header")
