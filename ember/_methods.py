"""The binding table: the one place where Tensor gets the methods and operators that live in
layers above ember._tensor (ops, creation, autograd). Each entry maps a Tensor attribute to
the function that implements it; the function's first argument is the tensor.

To give Tensor a new method, add its name below (or to a module's `__all__` when the module's
public functions are all methods, see METHOD_MODULES)."""

from __future__ import annotations

import numpy as np

from ember import _shared, creation
from ember._tensor import Tensor
from ember.autograd import graph_math
from ember.autograd.backward import tensor_backward
from ember.graph import engine
from ember.ops import (
    arith,
    combine,
    compare,
    copy,
    counting,
    householder,
    index,
    inplace,
    linalg,
    mathfuncs,
    operators,
    random_ops,
    reduce,
    resize,
    scatter_reduce,
    shape,
    sort,
    special,
    statistics,
)
from ember.ops.pointwise import Abs, Add, Div, Mul, Neg, Pow, Sub

# Modules whose every public function is also a Tensor method of the same name, less these.
METHOD_MODULES = {
    arith: {"where", "clone"},
    compare: set(),
    reduce: {"return_types", "std_mean", "var_mean"},
    sort: set(),
}

# Tensor methods from modules that also hold functions that are not methods.
METHODS_FROM = {
    shape: (
        "reshape view permute transpose t expand view_as reshape_as flatten unflatten ravel swapaxes "
        "swapdims adjoint movedim moveaxis squeeze unsqueeze expand_as broadcast_to repeat tile narrow "
        "select split chunk tensor_split unbind flip fliplr flipud roll rot90"
    ),
    index: (
        "gather scatter scatter_add index_select index_add index_fill index_copy index_put masked_fill "
        "masked_select masked_scatter nonzero argwhere take take_along_dim"
    ),
    special: "lgamma digamma erfinv xlogy erfc mvlgamma",
    counting: "unique unique_consecutive bincount histc",
    scatter_reduce: "scatter_reduce",
    combine: "repeat_interleave diff inner diagflat hsplit vsplit dsplit select_scatter slice_scatter "
    "diagonal_scatter dist renorm",
    mathfuncs: "logaddexp logaddexp2 logit sinc hypot rad2deg deg2rad copysign ldexp positive sgn signbit heaviside gcd lcm frexp",
    statistics: "cummax cummin aminmax mode nanmedian quantile nanquantile logcumsumexp cov corrcoef",
    linalg: (
        "matmul mm bmm mv dot vdot outer ger addmm addmv baddbmm addbmm addr inverse det logdet svd diagonal "
        "diag trace triu tril cross kron diag_embed"
    ),
}

# `name_` computed out of place by `name` and written back (Tensor._inplace).
INPLACE_VARIANTS = {
    arith: set(arith.__all__) - {"where", "clone", "maximum", "minimum", "fmax", "fmin", "rsub"},
    compare: set(compare.__all__)
    - {"isnan", "isinf", "isfinite", "isposinf", "isneginf", "isreal", "equal"}
    - {"allclose", "isclose"},
    index: {
        "scatter",
        "scatter_add",
        "index_add",
        "index_fill",
        "index_copy",
        "index_put",
        "masked_fill",
        "masked_scatter",
    },
    linalg: {"addmm", "addmv", "baddbmm", "addbmm", "addr", "triu", "tril"},
    reduce: {"cumsum", "cumprod"},
    scatter_reduce: {"scatter_reduce"},
    special: {"lgamma", "digamma", "erfinv", "xlogy", "erfc"},
}

# `name_` that changes this tensor's own shape (metadata only, storage kept).
RESHAPE_INPLACE = ("squeeze", "unsqueeze", "t", "transpose", "swapaxes", "swapdims")

OPERATORS = {
    "__add__": Add.apply_binary,
    "__radd__": Add.apply_binary,
    "__sub__": Sub.apply_binary,
    "__rsub__": lambda s, o: Sub.apply(operators.as_tensor(o), s),
    "__mul__": Mul.apply_binary,
    "__rmul__": Mul.apply_binary,
    "__truediv__": Div.apply_binary,
    "__rtruediv__": lambda s, o: Div.apply(operators.as_tensor(o), s),
    "__floordiv__": lambda s, o: arith.floor_divide(s, o),
    "__rfloordiv__": lambda s, o: arith.floor_divide(operators.as_tensor(o), s),
    "__mod__": lambda s, o: arith.remainder(s, o),
    "__rmod__": lambda s, o: arith.remainder(operators.as_tensor(o), s),
    "__pow__": Pow.apply_binary,
    "__rpow__": operators.rpow,
    "__neg__": lambda s: Neg.apply(s),
    "__pos__": lambda s: s,
    "__abs__": lambda s: Abs.apply(s),
    "__invert__": lambda s: compare.bitwise_not(s),
    "__and__": lambda s, o: compare.bitwise_and(s, o),
    "__rand__": lambda s, o: compare.bitwise_and(s, o),
    "__or__": lambda s, o: compare.bitwise_or(s, o),
    "__ror__": lambda s, o: compare.bitwise_or(s, o),
    "__xor__": lambda s, o: compare.bitwise_xor(s, o),
    "__rxor__": lambda s, o: compare.bitwise_xor(s, o),
    "__lshift__": lambda s, o: compare.bitwise_left_shift(s, o),
    "__rshift__": lambda s, o: compare.bitwise_right_shift(s, o),
    "__matmul__": operators.matmul_operator,
    "__rmatmul__": lambda s, o: operators.matmul_operator(o, s),
    "__eq__": operators.eq_operator,
    "__ne__": operators.ne_operator,
    "__lt__": lambda s, o: compare.lt(s, o),
    "__le__": lambda s, o: compare.le(s, o),
    "__gt__": lambda s, o: compare.gt(s, o),
    "__ge__": lambda s, o: compare.ge(s, o),
    "__iadd__": operators.inplace_operator(np.add, Add),
    "__isub__": operators.inplace_operator(np.subtract, Sub),
    "__imul__": operators.inplace_operator(np.multiply, Mul),
    "__itruediv__": operators.inplace_operator(np.true_divide, Div),
    "__ifloordiv__": lambda s, o: inplace.write_inplace(s, arith.floor_divide(s, o)),
    "__imod__": lambda s, o: inplace.write_inplace(s, arith.remainder(s, o)),
    "__ipow__": lambda s, o: inplace.write_inplace(s, Pow.apply(s, o)),
    "__iand__": lambda s, o: inplace.write_inplace(s, compare.bitwise_and(s, o)),
    "__ior__": lambda s, o: inplace.write_inplace(s, compare.bitwise_or(s, o)),
    "__ixor__": lambda s, o: inplace.write_inplace(s, compare.bitwise_xor(s, o)),
    "__getitem__": index.getitem,
    "__setitem__": index.setitem,
}

OTHER_METHODS = {
    "backward": tensor_backward,
    "register_post_accumulate_grad_hook": engine.register_post_accumulate_grad_hook,
    "to": copy.to,
    "clone": copy.clone,
    "copy_": copy.copy_,
    "_check_inplace": inplace.check_inplace,
    "_inplace": inplace.write_inplace,
    "zero_": inplace.zero_,
    "fill_": inplace.fill_,
    "uniform_": random_ops.uniform_,
    "normal_": random_ops.normal_,
    "random_": random_ops.random_,
    "bernoulli_": random_ops.bernoulli_,
    "exponential_": random_ops.exponential_,
    "geometric_": random_ops.geometric_,
    "log_normal_": random_ops.log_normal_,
    "cauchy_": random_ops.cauchy_,
    "bernoulli": random_ops.bernoulli_method,
    "multinomial": random_ops.multinomial,
    "where": lambda self, condition, other: arith.where(condition, self, other),
    "geqrf": householder.geqrf,
    "resize_": resize.resize_,
    "polygamma": lambda self, n: special.polygamma(n, self),
    "split": lambda self, split_size, dim=0: shape.split(self, split_size, dim),
    "new_zeros": creation.new_zeros,
    "new_ones": creation.new_ones,
    "new_empty": creation.new_empty,
    "new_full": creation.new_full,
    "new_tensor": creation.new_tensor,
    "share_memory_": _shared.share_memory_,
    "is_shared": _shared.is_shared,
}

# Fast paths bound over a general method: `t.add_(x)` with no graph to record writes straight
# into the storage (operators.direct_inplace), otherwise it is the general in-place variant.
DIRECT_INPLACE = {"add_": np.add, "sub_": np.subtract, "mul_": np.multiply, "div_": np.true_divide}


def inplace_variant(fn):
    def method(self, *args, **kwargs):
        return inplace.write_inplace(self, fn(self, *args, **kwargs))

    method.__name__ = fn.__name__ + "_"
    return method


def reshape_inplace(fn):
    """squeeze_/unsqueeze_/t_/transpose_: change this tensor's own shape, keep its storage."""

    def method(self, *args, **kwargs):
        res = fn(self, *args, **kwargs)
        self._data = res._data
        if res.grad_fn is not None:
            self.grad_fn = res.grad_fn
        return self

    method.__name__ = fn.__name__ + "_"
    return method


def bind() -> None:
    for mod, skip in METHOD_MODULES.items():
        for name in mod.__all__:
            if name not in skip:
                setattr(Tensor, name, getattr(mod, name))
    for mod, names in METHODS_FROM.items():
        for name in names.split():
            setattr(Tensor, name, getattr(mod, name))
    for mod, names in INPLACE_VARIANTS.items():
        for name in sorted(names):
            setattr(Tensor, name + "_", inplace_variant(getattr(mod, name)))
    for name in RESHAPE_INPLACE:
        setattr(Tensor, name + "_", reshape_inplace(getattr(shape, name)))
    for name, fn in {**OPERATORS, **OTHER_METHODS}.items():
        setattr(Tensor, name, fn)
    for name, ufunc in DIRECT_INPLACE.items():
        setattr(Tensor, name, operators.inplace_method(getattr(Tensor, name), ufunc))
    Tensor._array_namespace = graph_math  # `_backend.of(tensor)`: formulas over Tensors (create_graph)


bind()
