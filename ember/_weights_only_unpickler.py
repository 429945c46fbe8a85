"""The unpickler behind `ember.load(weights_only=True)`: a small opcode interpreter, modelled on
torch's `torch/_weights_only_unpickler.py`, that never imports, never calls anything but the
allowed constructors in `TORCH_GLOBALS`, and sets state only on objects it created itself.

What it refuses (each with `pickle.UnpicklingError`): globals outside the allow-list, calls of
anything that is not an allowed constructor, BUILD (state setting) on objects the pickle did not
create here or with attribute names outside the allow-list, memo indices that were never stored,
strings or bytes longer than the data left, tuples whose nested size would make hashing or
printing them explode, and opcodes it does not know (INST, OBJ, EXT*, PERSID, NEWOBJ_EX, buffers).
Memory use is bounded by the pickle's own size: the memo is a dict, never an array sized by an index.
"""

from __future__ import annotations

import _compat_pickle
import collections
import pickle
import struct
from collections.abc import Callable
from typing import Any

from ember._backend import device as _device
from ember._pickle_safe import (
    TORCH_GLOBALS,
    Storage,
    _codecs_encode,
    _get_layout,
    _parameter_new,
    as_str,
    brief,
    rebuild_from_type_v2,
    rebuild_parameter,
    rebuild_parameter_with_state,
    rebuild_tensor,
    rebuild_tensor_v2,
    set_allowed_state,
)
from ember._size import Size
from ember._tensor import Tensor

MAX_TUPLE_WEIGHT = 1 << 20  # elements reachable through nested tuples (tuple hashes are not cached)
MAX_MARK_DEPTH = 10_000


def _safe_bytearray(*args):
    # bytearray(10**12) would allocate a terabyte: only bytes/str/list sources are allowed
    if args and isinstance(args[0], int):
        raise pickle.UnpicklingError("bytearray(<int>) is not allowed in a weights-only checkpoint")
    return bytearray(*args)


# constructors REDUCE / NEWOBJ may call (the value an allowed global resolves to -> the callable)
_CALLABLE: dict[int, Callable] = {
    id(f): f
    for f in (
        rebuild_tensor,
        rebuild_tensor_v2,
        rebuild_parameter,
        rebuild_parameter_with_state,
        rebuild_from_type_v2,
        _codecs_encode,
        _get_layout,
        _parameter_new,
        collections.OrderedDict,
        collections.Counter,
        set,
        frozenset,
        complex,
        Size,
        _device,
    )
}
_CALLABLE[id(bytearray)] = _safe_bytearray


class WeightsOnlyUnpickler:
    """`load()` returns the unpickled object or raises `pickle.UnpicklingError` (RuntimeError for
    tensor geometry that does not fit its storage, as the rebuild functions report it)."""

    def __init__(self, file, *, persistent_load: Callable, encoding: str = "utf-8") -> None:
        self.read = file.read
        self.readline = file.readline
        self.persistent_load = persistent_load
        self.encoding = encoding
        self.memo: dict[int, Any] = {}
        self.made: dict[int, Any] = {}  # id -> object for everything this unpickler constructed
        self.weight: dict[int, tuple[tuple, int]] = {}  # id(tuple) -> (tuple, nested size)

    # -- reading -------------------------------------------------------------------------------
    def _take(self, n: int) -> bytes:
        data = self.read(n)
        if len(data) != n:
            raise pickle.UnpicklingError(
                f"corrupt checkpoint: pickle data was truncated (wanted {n} bytes, got {len(data)})"
            )
        return data

    def _line(self) -> bytes:
        line = self.readline()
        if not line.endswith(b"\n"):
            raise pickle.UnpicklingError("corrupt checkpoint: pickle data was truncated (no end of line)")
        return line[:-1]

    def _sized(self, fmt: str) -> bytes:
        (n,) = struct.unpack(fmt, self._take(struct.calcsize(fmt)))
        if n < 0:
            raise pickle.UnpicklingError(f"corrupt checkpoint: negative length {n} in the pickle")
        return self._take(n)

    def _text(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as e:
            raise pickle.UnpicklingError(
                f"corrupt checkpoint: invalid UTF-8 string in the pickle ({e})"
            ) from e

    def _py2str(self, raw: bytes):
        if self.encoding == "bytes":
            return raw
        try:
            return raw.decode(self.encoding, "strict")
        except (UnicodeDecodeError, LookupError) as e:
            raise pickle.UnpicklingError(f"corrupt checkpoint: cannot decode a string ({e})") from e

    # -- stack ---------------------------------------------------------------------------------
    def pop(self) -> Any:
        if not self.stack:
            raise pickle.UnpicklingError("corrupt checkpoint: unpickling stack underflow")
        return self.stack.pop()

    def top(self) -> Any:
        if not self.stack:
            raise pickle.UnpicklingError("corrupt checkpoint: unpickling stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list:
        if not self.metastack:
            raise pickle.UnpicklingError("corrupt checkpoint: could not find MARK")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def made_here(self, obj: Any) -> Any:
        self.made[id(obj)] = obj
        return obj

    def tuple_(self, items) -> tuple:
        t = tuple(items)
        w = len(t)
        for e in t:
            if type(e) is tuple:
                w += self.weight.get(id(e), (None, len(e)))[1]
        if w > MAX_TUPLE_WEIGHT:
            raise pickle.UnpicklingError(
                f"corrupt checkpoint: nested tuples reach {w} elements (limit {MAX_TUPLE_WEIGHT}); "
                "hashing or printing them would not finish"
            )
        if w > len(t):
            self.weight[id(t)] = (t, w)
        return t

    # -- the loop ------------------------------------------------------------------------------
    def load(self) -> Any:
        self.stack: list = []
        self.metastack: list[list] = []
        dispatch = _DISPATCH
        while True:
            key = self.read(1)
            if not key:
                raise pickle.UnpicklingError("corrupt checkpoint: pickle data ended before STOP")
            op = dispatch.get(key[0])
            if op is None:
                raise pickle.UnpicklingError(
                    f"corrupt checkpoint: unsupported pickle opcode {key!r} in a weights-only load"
                )
            if op is _stop:
                return self.pop()
            op(self)


# -- opcodes ---------------------------------------------------------------------------------------
def _stop(u: WeightsOnlyUnpickler) -> None:  # handled in load()
    pass


def _proto(u):
    if u._take(1)[0] > pickle.HIGHEST_PROTOCOL:
        raise pickle.UnpicklingError("corrupt checkpoint: unsupported pickle protocol")


def _frame(u):
    u._take(8)  # frames only group opcodes; the data is read through them


def _global(u):
    module = u._text(u._line())
    name = u._text(u._line())
    u.stack.append(find_global(module, name))


def _stack_global(u):
    name, module = u.pop(), u.pop()
    if type(name) is not str or type(module) is not str:
        raise pickle.UnpicklingError("corrupt checkpoint: STACK_GLOBAL requires str")
    u.stack.append(find_global(module, name))


def find_global(module: str, name: str) -> Any:
    """An allowed global, or the weights-only refusal naming it."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    full = f"{module}.{name}"
    if full in TORCH_GLOBALS:
        return TORCH_GLOBALS[full]
    raise pickle.UnpicklingError(
        "Weights only load failed. ember.load(weights_only=True) only rebuilds tensors, "
        "dtypes, devices, containers and plain Python values. Unsupported global: GLOBAL "
        f"{full[:200]} was not an allowed global by default. Re-running ember.load with "
        "weights_only=False will likely succeed, but it can result in arbitrary code "
        "execution: do it only if you got the file from a trusted source."
    )


def _call(u, func, args, opname: str):
    f = _CALLABLE.get(id(func))
    if f is None:
        raise pickle.UnpicklingError(
            f"Weights only load failed: {opname} may only call tensor rebuild functions and "
            f"container constructors, got {brief(func)}"
        )
    if type(args) is not tuple:
        raise pickle.UnpicklingError(
            f"corrupt checkpoint: {opname} arguments must be a tuple, got {brief(args)}"
        )
    try:
        out = f(*args)
    except (RuntimeError, pickle.UnpicklingError):
        raise
    except MemoryError:
        raise RuntimeError(f"ember.load: out of memory calling {brief(func)} from the checkpoint") from None
    except Exception as e:
        raise pickle.UnpicklingError(
            f"corrupt checkpoint: {getattr(func, '__name__', brief(func))}{brief(args)} failed "
            f"({type(e).__name__}: {brief(str(e))})"
        ) from e
    return u.made_here(out)


def _reduce(u):
    args = u.pop()
    func = u.pop()
    u.stack.append(_call(u, func, args, "REDUCE"))


def _newobj(u):
    args = u.pop()
    cls = u.pop()
    u.stack.append(_call(u, cls, args, "NEWOBJ"))


def _build(u):
    state = u.pop()
    inst = u.top()
    if u.made.get(id(inst)) is not inst or not isinstance(inst, (collections.OrderedDict, Tensor)):
        raise pickle.UnpicklingError(
            "Weights only load failed: BUILD may only set the state of an OrderedDict, Tensor or "
            f"Parameter the checkpoint itself created, got {type(inst).__name__} {brief(inst)}"
        )
    try:
        set_allowed_state(inst, state)
    except TypeError as e:
        raise pickle.UnpicklingError(f"corrupt checkpoint: {e}") from None


def _append_to(u, items: list) -> None:
    target = u.top()
    if type(target) is not list or u.made.get(id(target)) is not target:
        raise pickle.UnpicklingError(
            f"corrupt checkpoint: can only append to lists, got {type(target).__name__}"
        )
    target.extend(items)


def _hashable(u, key: Any) -> Any:
    try:  # nested tuples are bounded by MAX_TUPLE_WEIGHT, so hashing finishes
        hash(key)
    except TypeError as e:
        raise pickle.UnpicklingError(
            f"corrupt checkpoint: unhashable key of type {type(key).__name__}"
        ) from e
    return key


def _setitems_on(u, pairs: list) -> None:
    if len(pairs) % 2:
        raise pickle.UnpicklingError("corrupt checkpoint: odd number of items for SETITEMS")
    target = u.top()
    if not isinstance(target, dict) or u.made.get(id(target)) is not target:
        raise pickle.UnpicklingError(
            f"corrupt checkpoint: can only set items of dicts, got {type(target).__name__}"
        )
    for i in range(0, len(pairs), 2):
        target[_hashable(u, pairs[i])] = pairs[i + 1]


def _additems(u):
    items = u.pop_mark()
    target = u.top()
    if type(target) is not set or u.made.get(id(target)) is not target:
        raise pickle.UnpicklingError(
            f"corrupt checkpoint: can only add items to sets, got {type(target).__name__}"
        )
    for x in items:
        target.add(_hashable(u, x))


def _mark(u):
    if len(u.metastack) >= MAX_MARK_DEPTH:
        raise pickle.UnpicklingError(f"corrupt checkpoint: more than {MAX_MARK_DEPTH} nested MARKs")
    u.metastack.append(u.stack)
    u.stack = []


def _dict(u):
    items = u.pop_mark()
    d = u.made_here({})
    u.stack.append(d)
    _setitems_on(u, items)


def _frozenset(u):
    items = u.pop_mark()
    value = u.made_here(frozenset(_hashable(u, x) for x in items))
    u.stack.append(value)


def _persid(u):
    pid = u.pop()
    if type(pid) is not tuple or not pid or as_str(pid[0]) != "storage":
        raise pickle.UnpicklingError(
            f"corrupt checkpoint: only storages may be persistent ids, got {brief(pid)}"
        )
    st = u.persistent_load(pid)
    if not isinstance(st, Storage):
        raise pickle.UnpicklingError("corrupt checkpoint: persistent id did not resolve to a storage")
    u.stack.append(st)


def _get(u, idx: int) -> None:
    if idx not in u.memo:
        raise pickle.UnpicklingError(f"corrupt checkpoint: memo index {idx} was never stored")
    u.stack.append(u.memo[idx])


def _put(u, idx: int) -> None:
    if idx < 0:
        raise pickle.UnpicklingError("corrupt checkpoint: negative memo index")
    u.memo[idx] = u.top()


def _int_line(u) -> int:
    line = u._line()
    if line == b"00":
        return False
    if line == b"01":
        return True
    try:
        return int(line.rstrip(b"L"))
    except ValueError as e:
        raise pickle.UnpicklingError(
            f"corrupt checkpoint: invalid integer in the pickle ({brief(line)})"
        ) from e


def _float_line(u) -> float:
    line = u._line()
    try:
        return float(line)
    except ValueError as e:
        raise pickle.UnpicklingError(
            f"corrupt checkpoint: invalid float in the pickle ({brief(line)})"
        ) from e


def _quoted(u) -> bytes:
    line = u._line()
    if len(line) >= 2 and line[0] == line[-1] and line[0] in b"\"'":
        try:
            return _codecs_escape_decode(line[1:-1])
        except ValueError as e:
            raise pickle.UnpicklingError(f"corrupt checkpoint: invalid STRING ({e})") from e
    raise pickle.UnpicklingError("corrupt checkpoint: the STRING opcode argument must be quoted")


def _codecs_escape_decode(raw: bytes) -> bytes:
    import codecs  # stdlib; only protocol-0 pickles need it

    return codecs.escape_decode(raw)[0]


def _unicode_line(u) -> str:
    try:
        return u._line().decode("raw-unicode-escape")
    except UnicodeDecodeError as e:
        raise pickle.UnpicklingError(f"corrupt checkpoint: invalid UNICODE ({e})") from e


def _push(fn: Callable) -> Callable:
    def op(u):
        u.stack.append(fn(u))

    return op


def _long(raw: bytes) -> int:
    return int.from_bytes(raw, "little", signed=True)


def _pop(u):
    if u.stack:
        u.stack.pop()
    else:
        u.pop_mark()


def _dup(u):
    u.stack.append(u.top())


def _tuple_n(n: int) -> Callable:
    def op(u):
        if len(u.stack) < n:
            raise pickle.UnpicklingError("corrupt checkpoint: unpickling stack underflow")
        items = u.stack[len(u.stack) - n :]
        del u.stack[len(u.stack) - n :]
        u.stack.append(u.tuple_(items))

    return op


def _list(u):
    _push_value(u, u.made_here(u.pop_mark()))


def _push_value(u, value) -> None:
    # not `u.stack.append(f())`: that binds the stack before f() pops a MARK and replaces it
    u.stack.append(value)


def _setitem(u):
    v = u.pop()
    k = u.pop()
    _setitems_on(u, [k, v])


_O = pickle
_DISPATCH: dict[int, Callable] = {
    _O.PROTO[0]: _proto,
    _O.FRAME[0]: _frame,
    _O.STOP[0]: _stop,
    _O.MARK[0]: _mark,
    _O.POP[0]: _pop,
    _O.POP_MARK[0]: lambda u: u.pop_mark(),
    _O.DUP[0]: _dup,
    _O.NONE[0]: lambda u: u.stack.append(None),
    _O.NEWTRUE[0]: lambda u: u.stack.append(True),
    _O.NEWFALSE[0]: lambda u: u.stack.append(False),
    _O.INT[0]: _push(_int_line),
    _O.LONG[0]: _push(_int_line),
    _O.BININT[0]: _push(lambda u: struct.unpack("<i", u._take(4))[0]),
    _O.BININT1[0]: _push(lambda u: u._take(1)[0]),
    _O.BININT2[0]: _push(lambda u: struct.unpack("<H", u._take(2))[0]),
    _O.LONG1[0]: _push(lambda u: _long(u._sized("<B"))),
    _O.LONG4[0]: _push(lambda u: _long(u._sized("<i"))),
    _O.FLOAT[0]: _push(_float_line),
    _O.BINFLOAT[0]: _push(lambda u: struct.unpack(">d", u._take(8))[0]),
    _O.STRING[0]: _push(lambda u: u._py2str(_quoted(u))),
    _O.BINSTRING[0]: _push(lambda u: u._py2str(u._sized("<i"))),
    _O.SHORT_BINSTRING[0]: _push(lambda u: u._py2str(u._sized("<B"))),
    _O.UNICODE[0]: _push(_unicode_line),
    _O.BINUNICODE[0]: _push(lambda u: u._text(u._sized("<I"))),
    _O.SHORT_BINUNICODE[0]: _push(lambda u: u._text(u._sized("<B"))),
    _O.BINUNICODE8[0]: _push(lambda u: u._text(u._sized("<Q"))),
    _O.BINBYTES[0]: _push(lambda u: u._sized("<I")),
    _O.SHORT_BINBYTES[0]: _push(lambda u: u._sized("<B")),
    _O.BINBYTES8[0]: _push(lambda u: u._sized("<Q")),
    _O.BYTEARRAY8[0]: _push(lambda u: u.made_here(bytearray(u._sized("<Q")))),
    _O.EMPTY_TUPLE[0]: lambda u: u.stack.append(()),
    _O.TUPLE[0]: lambda u: _push_value(u, u.tuple_(u.pop_mark())),
    _O.TUPLE1[0]: _tuple_n(1),
    _O.TUPLE2[0]: _tuple_n(2),
    _O.TUPLE3[0]: _tuple_n(3),
    _O.EMPTY_LIST[0]: lambda u: u.stack.append(u.made_here([])),
    _O.LIST[0]: _list,
    _O.APPEND[0]: lambda u: _append_to(u, [u.pop()]),
    _O.APPENDS[0]: lambda u: _append_to(u, u.pop_mark()),
    _O.EMPTY_DICT[0]: lambda u: u.stack.append(u.made_here({})),
    _O.DICT[0]: _dict,
    _O.SETITEM[0]: _setitem,
    _O.SETITEMS[0]: lambda u: _setitems_on(u, u.pop_mark()),
    _O.EMPTY_SET[0]: lambda u: u.stack.append(u.made_here(set())),
    _O.ADDITEMS[0]: _additems,
    _O.FROZENSET[0]: _frozenset,
    _O.GLOBAL[0]: _global,
    _O.STACK_GLOBAL[0]: _stack_global,
    _O.REDUCE[0]: _reduce,
    _O.NEWOBJ[0]: _newobj,
    _O.BUILD[0]: _build,
    _O.BINPERSID[0]: _persid,
    _O.GET[0]: lambda u: _get(u, _int_line(u)),
    _O.BINGET[0]: lambda u: _get(u, u._take(1)[0]),
    _O.LONG_BINGET[0]: lambda u: _get(u, struct.unpack("<I", u._take(4))[0]),
    _O.PUT[0]: lambda u: _put(u, _int_line(u)),
    _O.BINPUT[0]: lambda u: _put(u, u._take(1)[0]),
    _O.LONG_BINPUT[0]: lambda u: _put(u, struct.unpack("<I", u._take(4))[0]),
    _O.MEMOIZE[0]: lambda u: _put(u, len(u.memo)),
}
