"""dtype objects with torch's names and torch's type-promotion rules (not NumPy's)."""

from __future__ import annotations

import numpy as np


class dtype:
    """A tensor element type; `repr` is torch's (`torch.float32`) so printed output matches."""

    __slots__ = (
        "name",
        "np",
        "is_floating_point",
        "is_complex",
        "is_signed",
        "itemsize",
        "_cat",
        "scalar_name",
    )

    def __init__(self, name: str, np_dtype, cat: int, scalar_name: str) -> None:
        self.name = name
        self.scalar_name = scalar_name  # torch's ScalarType name, as its messages print it
        self.np = np.dtype(np_dtype)
        self._cat = cat  # 0 bool, 1 integer, 2 floating, 3 complex
        self.is_floating_point = cat == 2
        self.is_complex = cat == 3
        self.is_signed = self.np.kind in "ifc"
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        return "torch." + self.name

    def __reduce__(self):
        return (_by_name, (self.name,))

    @property
    def tensor_type(self) -> str:
        """The legacy type name `Tensor.type()` prints: torch.FloatTensor, torch.LongTensor..."""
        return f"torch.{self.scalar_name}Tensor"

    def to_real(self) -> dtype:
        return {"complex64": float32, "complex128": float64}.get(self.name, self)


bool_ = dtype("bool", np.bool_, 0, "Bool")
uint8 = dtype("uint8", np.uint8, 1, "Byte")
int8 = dtype("int8", np.int8, 1, "Char")
int16 = dtype("int16", np.int16, 1, "Short")
int32 = dtype("int32", np.int32, 1, "Int")
int64 = dtype("int64", np.int64, 1, "Long")
float16 = dtype("float16", np.float16, 2, "Half")
float32 = dtype("float32", np.float32, 2, "Float")
float64 = dtype("float64", np.float64, 2, "Double")
complex64 = dtype("complex64", np.complex64, 3, "ComplexFloat")
complex128 = dtype("complex128", np.complex128, 3, "ComplexDouble")

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64, complex64, complex128)
_FROM_NP = {d.np: d for d in ALL}
_NAMES = {d.name: d for d in ALL}


_TENSOR_TYPES = {d.tensor_type.removeprefix("torch."): d for d in ALL}


def from_tensor_type(name: str) -> dtype:
    """dtype of a legacy type name: "torch.FloatTensor", "torch.cuda.LongTensor", "BoolTensor"."""
    return _TENSOR_TYPES[name.split(".")[-1]]


def _by_name(name: str) -> dtype:
    return _NAMES[name]


_default = [float32]


def get_default_dtype() -> dtype:
    return _default[0]


def set_default_dtype(d: dtype) -> None:
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default[0] = d


def from_np(np_dtype) -> dtype:
    """ember dtype for a NumPy dtype (raises TypeError for unsupported ones)."""
    try:
        return _FROM_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(
            f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only supported types are: "
            "float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint8, and bool."
        ) from None


def to_dtype(d) -> dtype:
    """Accept ember dtypes, NumPy dtypes, Python types (float/int/bool) and names."""
    if isinstance(d, dtype):
        return d
    if d is float:
        return float64
    if d is int:
        return int64
    if d is bool:
        return bool_
    if d is complex:
        return complex128
    if isinstance(d, str) and d.removeprefix("torch.") in _NAMES:
        return _NAMES[d.removeprefix("torch.")]
    if hasattr(d, "name") and type(d).__name__ == "dtype" and type(d).__module__.startswith("torch"):
        return _NAMES[d.name if hasattr(d, "name") else str(d).split(".")[1]]
    return from_np(d)


def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: floating beats integer whatever the width (float16 + int64 -> float16)."""
    if a is b:
        return a
    if a._cat != b._cat:
        hi, lo = (a, b) if a._cat > b._cat else (b, a)
        if hi._cat == 3 and lo._cat == 2 and lo.itemsize > hi.itemsize // 2:
            return complex128
        return hi
    return _FROM_NP[np.promote_types(a.np, b.np)]


def scalar_dtype(x) -> dtype:
    """dtype a Python scalar takes when it alone decides the result (weak scalar rules)."""
    if isinstance(x, bool):
        return bool_
    if isinstance(x, int):
        return int64
    if isinstance(x, complex):
        return complex64 if _default[0] is float32 else complex128
    return _default[0]


def category(x) -> int:
    if isinstance(x, bool):
        return 0
    if isinstance(x, int):
        return 1
    if isinstance(x, float):
        return 2
    if isinstance(x, complex):
        return 3
    return from_np(np.asarray(x).dtype)._cat


class finfo:
    """torch.finfo: machine limits of a floating-point dtype (default: the default dtype)."""

    def __init__(self, type: dtype | None = None) -> None:
        d = get_default_dtype() if type is None else to_dtype(type)
        if not (d.is_floating_point or d.is_complex):
            raise TypeError(
                "torch.finfo() requires a floating point input type. Use torch.iinfo to handle 'torch.finfo'"
            )
        d = d.to_real()
        f = np.finfo(d.np)
        self.bits, self.dtype = int(f.bits), d.name
        self.eps, self.max, self.min = float(f.eps), float(f.max), float(f.min)
        self.tiny = self.smallest_normal = float(f.smallest_normal)
        self.resolution = 10.0 ** -int(f.precision)

    def __repr__(self) -> str:
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
            f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})"
        )


class iinfo:
    """torch.iinfo: limits of an integer dtype."""

    def __init__(self, type: dtype) -> None:
        d = to_dtype(type)
        if d is bool_:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if d.is_floating_point or d.is_complex:
            raise TypeError(
                "torch.iinfo() requires an integer input type. Use torch.finfo to handle 'torch.iinfo'"
            )
        i = np.iinfo(d.np)
        self.bits, self.max, self.min, self.dtype = int(i.bits), int(i.max), int(i.min), d.name

    def __repr__(self) -> str:
        return f"iinfo(min={float(self.min):g}, max={float(self.max):g}, dtype={self.dtype})"
