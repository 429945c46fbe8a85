"""Hand-written hostile checkpoints for `ember.load(weights_only=True)`.

`CASES` maps a name to (file bytes, expected exception class name, message regex). Every case
must raise exactly that class with that message, run no code (the canary file stays absent),
leave ember's own objects unchanged and stay inside the fuzz child's memory and time limits.
`CANARY` is the path a successful code-execution payload would create.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import tempfile
import zipfile

CANARY = os.path.join(tempfile.gettempdir(), f"ember-fuzz-canary-{os.getpid()}")
P2 = b"\x80\x02"


def glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def ustr(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def legacy_header(body: bytes) -> bytes:
    """The first pickle of a legacy checkpoint (where the magic number goes) replaced by `body`."""
    return P2 + body + b"."


def zip_with_pickle(
    pkl: bytes, records: dict[str, bytes] | None = None, compress=zipfile.ZIP_STORED
) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compress) as zf:
        zf.writestr("archive/data.pkl", pkl)
        for name, data in (records or {}).items():
            zf.writestr(f"archive/{name}", data)
        zf.writestr("archive/version", b"3\n")
    return out.getvalue()


def _rebuild(key: str, numel: int, size: tuple, stride: tuple, offset: int = 0) -> bytes:
    pid = b"(" + ustr("storage") + glob("torch", "FloatStorage") + ustr(key) + ustr("cpu")
    pid += long1(numel) + b"tQ"
    args = b"(" + pid + long1(offset) + _ints(size) + _ints(stride) + b"\x89}tR"
    return glob("torch._utils", "_rebuild_tensor_v2") + args


def long1(x: int) -> bytes:
    enc = pickle.encode_long(x)
    return b"\x8a" + bytes([len(enc)]) + enc


def _ints(xs) -> bytes:
    return b"(" + b"".join(long1(x) for x in xs) + b"t"


def code_payload(module: str, name: str) -> bytes:
    """GLOBAL module.name called with a shell command / code that would create the canary."""
    cmd = f"open({CANARY!r}, 'w').close()" if name in ("exec", "eval") else f"touch {CANARY}"
    return P2 + glob(module, name) + ustr(cmd) + b"\x85R."


def nested_tuples(depth: int) -> bytes:
    """t0 = (1, 1); t(i+1) = (t(i), t(i)): 2**depth leaves through memo references."""
    out = P2 + b"K\x01K\x01\x86q\x00"
    for i in range(depth):
        out += b"h" + bytes([i]) + b"h" + bytes([i]) + b"\x86q" + bytes([i + 1])
    return out


def zip_bomb(declared: int) -> bytes:
    """An honestly sized deflated data record of `declared` zero bytes (~1000x smaller on disk)."""
    numel = declared // 4
    pkl = P2 + _rebuild("0", numel, (numel,), (1,)) + b"."
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", pkl)
        info = zipfile.ZipInfo("archive/data/0")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as w:
            chunk = bytes(1 << 20)
            for _ in range(declared >> 20):
                w.write(chunk)
    return out.getvalue()


def lying_directory(real: int, claimed: int) -> bytes:
    """data.pkl whose central-directory entry claims `claimed` bytes while it inflates to `real`."""
    pkl = P2 + b"(" + b"K\x01" * (real // 2) + b"l."
    data = zip_with_pickle(pkl, compress=zipfile.ZIP_DEFLATED)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("archive/data.pkl")
    cd = data.index(b"PK\x01\x02")  # the first central-directory entry is data.pkl's
    patched = bytearray(data)
    patched[cd + 24 : cd + 28] = struct.pack("<I", claimed)
    assert struct.unpack("<I", data[cd + 24 : cd + 28])[0] == info.file_size
    return bytes(patched)


def legacy_storage(count: int, numel: int = 4) -> bytes:
    """A legacy checkpoint whose storage record claims `count` elements."""
    out = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(header, out, protocol=2)
    pid = b"(" + ustr("storage") + glob("torch", "FloatStorage") + ustr("0") + ustr("cpu")
    pid += b"\x8a\x08" + struct.pack("<q", numel) + b"Nt"
    tup = b"(\x8a\x08" + struct.pack("<q", numel) + b"t(K\x01t"
    out.write(P2 + glob("torch._utils", "_rebuild_tensor_v2") + b"(" + pid + b"QK\x00" + tup + b"\x89}tR.")
    pickle.dump(["0"], out, protocol=2)
    out.write(struct.pack("<q", count) + bytes(16))
    return out.getvalue()


def _build_global(module: str, name: str, state: bytes) -> bytes:
    return P2 + glob(module, name) + state + b"b."


_UP = "UnpicklingError"
_RT = "RuntimeError"
_WO = r"Weights only load failed"
_BUILD = r"BUILD may only set the state"

CASES: dict[str, tuple[bytes, str, str]] = {
    # -- BUILD on globals: must never mutate ember (the probe's findings) -------------------
    "build_storage_dtype": (
        P2 + glob("torch", "FloatStorage") + b"}" + ustr("dtype") + glob("torch", "int32") + b"sb.",
        _UP,
        _BUILD,
    ),
    "build_tensor_tolist": (
        _build_global("torch", "Tensor", b"N}" + ustr("tolist") + b"K\x01s\x86"),
        _UP,
        _BUILD,
    ),
    "build_float32_slots": (
        _build_global("torch", "float32", b"N}" + ustr("is_floating_point") + b"\x89s\x86"),
        _UP,
        _BUILD,
    ),
    "build_rebuild_defaults": (
        _build_global("torch._utils", "_rebuild_tensor_v2", b"N}" + ustr("__defaults__") + b"(K\x01ts\x86"),
        _UP,
        _BUILD,
    ),
    "build_device_repr": (
        _build_global("torch", "device", b"N}" + ustr("__repr__") + b"K\x01s\x86"),
        _UP,
        _BUILD,
    ),
    "build_size_numel": (_build_global("torch", "Size", b"N}" + ustr("numel") + b"K\x01s\x86"), _UP, _BUILD),
    "build_ordereddict_class": (
        P2
        + glob("collections", "OrderedDict")
        + b")R}"
        + ustr("__class__")
        + glob("torch", "Tensor")
        + b"sb.",
        _UP,
        r"not an allowed state name",
    ),
    "build_ordereddict_method": (
        P2 + glob("collections", "OrderedDict") + b")R}" + ustr("keys") + b"K\x01sb.",
        _UP,
        r"attribute 'keys'.*not an allowed state name",
    ),
    "build_on_plain_dict": (P2 + b"}}" + ustr("x") + b"K\x01sb.", _UP, _BUILD),
    "setitem_on_global_dict": (P2 + glob("torch", "float32") + ustr("k") + b"K\x01s.", _UP, r"set items"),
    "append_to_global": (P2 + glob("torch", "Size") + b"K\x01a.", _UP, r"append"),
    # -- code execution: the canary must stay absent ------------------------------------------
    "os_system": (code_payload("os", "system"), _UP, _WO + r".*os\.system"),
    "posix_system": (code_payload("posix", "system"), _UP, _WO),
    "builtins_exec": (code_payload("builtins", "exec"), _UP, _WO),
    "py2_builtin_eval": (code_payload("__builtin__", "eval"), _UP, _WO + r".*builtins\.eval"),
    "subprocess": (code_payload("subprocess", "getoutput"), _UP, _WO),
    "stack_global_exec": (
        P2[:1] + b"\x04" + b"\x8c\x08builtins\x8c\x04exec\x93" + ustr("1") + b"\x85R.",
        _UP,
        _WO,
    ),
    "inst_opcode": (b"(ios\nsystem\n" + ustr(f"touch {CANARY}") + b".", _UP, r"unsupported pickle opcode"),
    "obj_opcode": (P2 + b"(" + glob("os", "system") + ustr("x") + b"o.", _UP, _WO),
    "ext1_opcode": (P2 + b"\x82\x01.", _UP, r"unsupported pickle opcode"),
    "text_persid": (b"P1\n.", _UP, r"unsupported pickle opcode"),
    "reduce_on_dtype": (P2 + glob("torch", "float32") + b")R.", _UP, r"REDUCE may only call"),
    "reduce_on_tensor_class": (
        P2 + glob("torch", "Tensor") + b"J\x00\x00\x00\x40\x85R.",
        _UP,
        r"REDUCE may only",
    ),
    "getattr_global": (P2 + glob("builtins", "getattr") + b".", _UP, _WO),
    "codecs_other_encoding": (
        P2 + glob("_codecs", "encode") + ustr("x") + ustr("rot13") + b"\x86R.",
        _UP,
        r"not allowed",
    ),
    "rebuild_with_non_storage": (
        P2 + glob("torch._utils", "_rebuild_tensor_v2") + b"(K\x00K\x00)))tR.",
        _UP,
        r"expected a storage",
    ),
    "persid_not_storage": (P2 + ustr("module") + b"\x85Q.", _UP, r"only storages"),
    # -- memory and time amplification ------------------------------------------------------
    "memo_put_huge_index": (P2 + b"Nr\x00\x00\x00\x40.", _RT, r"Invalid magic number"),
    "memo_put_max_index": (P2 + b"Nr\xff\xff\xff\xff.", _RT, r"Invalid magic number"),
    "memo_get_missing": (P2 + b"j\x00\x00\x00\x40.", _UP, r"memo index 1073741824 was never stored"),
    "binunicode8_huge": (
        P2 + b"\x8d" + struct.pack("<Q", 1 << 62) + b"x.",
        _UP,
        r"wants \d+ more bytes but has only \d",
    ),
    "binbytes8_huge": (
        P2 + b"\x8e" + struct.pack("<Q", 1 << 63) + b".",
        _UP,
        r"wants \d+ more bytes but has only \d",
    ),
    "long4_negative": (P2 + b"\x8b\xff\xff\xff\xff.", _UP, r"negative length"),
    "binunicode_past_end": (P2 + b"X\xff\xff\xff\xffab.", _UP, r"wants \d+ more bytes but has only \d"),
    "bytearray_huge": (
        P2 + glob("builtins", "bytearray") + b"\x8a\x06\x00\x00\x00\x00\x00\x01\x85R.",
        _UP,
        r"bytearray",
    ),
    "tuple_hash_bomb": (nested_tuples(60) + b"\x8f(h<\x90.", _UP, r"nested tuples reach"),
    "tuple_repr_bomb": (nested_tuples(60) + b"Q.", _UP, r"nested tuples reach"),
    "deep_marks": (P2 + b"(" * 20000 + b".", _UP, r"nested MARKs"),
    "tensor_numel_huge": (
        zip_with_pickle(P2 + _rebuild("0", 1 << 60, (1 << 60,), (1,)) + b".", {"data/0": b"\x00" * 16}),
        _RT,
        r"holds 16 bytes, expected 4611686018427387904",
    ),
    "tensor_size_outside_storage": (
        zip_with_pickle(P2 + _rebuild("0", 4, (1 << 40, 1 << 40), (1, 1)) + b".", {"data/0": b"\x00" * 16}),
        _RT,
        r"needs \d+ elements but its storage holds only 4",
    ),
    "tensor_size_overflow": (
        zip_with_pickle(P2 + _rebuild("0", 4, (1 << 70,), (0,)) + b".", {"data/0": b"\x00" * 16}),
        _RT,
        r"out of range",
    ),
    "zip_bomb_honest": (zip_bomb(384 << 20), _RT, r"cannot allocate"),
    "zip_lying_directory": (lying_directory(1 << 20, 1024), _RT, r"corrupt"),
    "zip_bzip2_record": (
        zip_with_pickle(P2 + b"N.", compress=zipfile.ZIP_BZIP2),
        _RT,
        r"unsupported compression",
    ),
    "legacy_storage_1e12": (legacy_storage(10**12), _RT, r"claims 1000000000000 elements"),
    "legacy_storage_2_62": (legacy_storage(1 << 62), _RT, r"claims 4611686018427387904 elements"),
    "legacy_storage_negative": (legacy_storage(-5), _RT, r"claims -5 elements"),
}
