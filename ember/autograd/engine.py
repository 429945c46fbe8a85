"""The backward pass: iterative (no recursion limit), dependency-counted, frees saved buffers."""

from __future__ import annotations

from heapq import heappop, heappush

from ember.autograd import grad_mode
from ember.autograd.function import _ERR_FREED, Function, _flag_bl


def _check_versions(node) -> None:
    for i, src in enumerate(node._versions):
        if src is None:
            continue
        t, vc, v = src
        if vc[0] != v:
            s = node.saved[i]
            tname = _type_name(s)
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{tname} [{', '.join(map(str, s.shape))}]], which is output 0 "
                f"of {node.name() if t is None else _producer(t)}, is at version {vc[0]}; expected "
                f"version {v} instead. Hint: the backtrace further above can point to the operation "
                "that failed to compute its gradient. The variable in question was changed in there "
                "or anywhere later. Good luck!"
            )


def _producer(t) -> str:
    return t.grad_fn.name() if t.grad_fn is not None else "AccumulateGrad"


def _type_name(arr) -> str:
    from ember._dtype import from_np

    names = {
        "float32": "Float",
        "float64": "Double",
        "float16": "Half",
        "int64": "Long",
        "int32": "Int",
        "int16": "Short",
        "int8": "Char",
        "uint8": "Byte",
        "bool": "Bool",
    }
    return f"torch.{names.get(from_np(arr.dtype).name, 'Float')}Tensor"


def _saved_as_tensors(node):
    """create_graph: saved inputs are the input tensors themselves (so the backward formula is
    differentiated through them); a saved output is re-attached to this node."""
    from ember._tensor import Tensor

    out = []
    srcs = node._versions or [None] * len(node.saved)
    for s, src in zip(node.saved, srcs):
        if src is not None and src[0] is not None:
            out.append(src[0])
        elif src is not None:
            out.append(Tensor._wrap(s, True, node))
        elif hasattr(s, "shape") and not isinstance(s, Tensor):
            out.append(Tensor._wrap(s, False, None))
        else:
            out.append(s)
    return tuple(out)


def _call_backward(node, g, create_graph):
    if node._versions is not None:
        _check_versions(node)
    if not create_graph:
        grads = node.backward(node, g)
    else:
        saved = node.saved
        node.saved = _saved_as_tensors(node)
        try:
            grads = node.backward(node, g)
        finally:
            node.saved = saved
    if type(grads) is not tuple:
        grads = (grads,)
    return grads


def run_backward(
    roots, grads, retain_graph: bool, create_graph: bool, inputs=None, allow_unused: bool = False
):
    """Propagate `grads` (raw arrays, or Tensors under create_graph) from `roots` (tensors).

    With `inputs` None, gradients accumulate into leaves' `.grad` (Tensor.backward). Otherwise
    return the gradient for each of `inputs` without touching `.grad` (autograd.grad)."""
    if inputs is None and not create_graph and len(roots) == 1 and roots[0].grad_fn is not None:
        return _run_simple(roots[0].grad_fn, grads[0], retain_graph, Tensor)
    wrap = _wrap_grad if not create_graph else _as_tensor
    # 1. count, for every node reachable from the roots, how many edges point at it
    deps: dict = {}
    stack = []
    for r in roots:
        if r.grad_fn is not None and r.grad_fn not in deps:
            deps[r.grad_fn] = 0
            stack.append(r.grad_fn)
    while stack:
        node = stack.pop()
        for nxt in node.next:
            if nxt is None or isinstance(nxt, Tensor):
                continue
            if nxt in deps:
                deps[nxt] += 1
            else:
                deps[nxt] = 1
                stack.append(nxt)

    capture = None
    if inputs is not None:
        capture = {}
        for t in inputs:
            capture[id(t.grad_fn) if t.grad_fn is not None else id(t)] = None
    pending: dict = {}  # node -> summed grad
    leaves: dict = {}  # id(leaf) -> [leaf, summed grad]
    for r, g in zip(roots, grads):
        if r.grad_fn is None:
            _add_leaf(leaves, r, g)
        else:
            n = r.grad_fn
            pending[n] = g if n not in pending else pending[n] + g
    ready = [r.grad_fn for r in roots if r.grad_fn is not None and deps[r.grad_fn] == 0]
    ready = list(dict.fromkeys(ready))
    prev_mode = grad_mode._state[0]
    grad_mode._state[0] = create_graph
    try:
        while ready:
            node = ready.pop()
            g = pending.pop(node, None)
            if node._hooks:
                for h in node._hooks:
                    r = h(wrap(g))
                    if r is not None:
                        g = r._data if (not create_graph and isinstance(r, Tensor)) else r
            if node._retain is not None:
                node._retain(wrap(g))
            if capture is not None and id(node) in capture:
                capture[id(node)] = g
            if node._freed:
                raise RuntimeError(_ERR_FREED)
            if g is None:
                in_grads = (None,) * len(node.next)
            else:
                in_grads = _call_backward(node, g, create_graph)
            if not retain_graph:
                if node.saved:
                    node._freed = True
                    node.saved = ()
            for nxt, ig in zip(node.next, in_grads):
                if nxt is None:
                    continue
                if isinstance(nxt, Tensor):
                    if ig is not None:
                        _add_leaf(leaves, nxt, ig)
                    continue
                if ig is not None:
                    old = pending.get(nxt)
                    pending[nxt] = ig if old is None else old + ig
                deps[nxt] -= 1
                if deps[nxt] == 0:
                    ready.append(nxt)
    finally:
        grad_mode._state[0] = prev_mode

    if capture is not None:
        out = []
        for t in inputs:
            if t.grad_fn is not None:
                g = capture.get(id(t.grad_fn))
            else:
                entry = leaves.get(id(t))
                g = entry[1] if entry else None
            if g is None and not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior."
                )
            out.append(None if g is None else (_as_tensor(g) if create_graph else _wrap_grad(g)))
        return tuple(out)

    for leaf, g in leaves.values():
        _accumulate(leaf, g, create_graph)
        if post_acc_live[0]:
            _run_post_acc_hooks(leaf)
    return None


def _run_simple(root, g, retain_graph: bool, Tensor):
    """The common case (one root, accumulate into leaves, no create_graph), kept lean: nodes run
    in decreasing creation order (a consumer is always created after its inputs, so every
    node runs after all the nodes that feed it a gradient), with no dependency-counting pass.

    Nodes waiting for their turn sit in `pending` (node -> summed grad) and in `heap`. A chain
    skips both: when a node reaches exactly one new node and nothing else is waiting, that
    node is the next in creation order, so it runs at once (`cand`)."""
    pending: dict = {}
    heap: list = []
    leaves: dict = {}
    waits = _post_acc_waits(root, Tensor) if post_acc_live[0] else None
    prev_mode = grad_mode._state[0]
    grad_mode._state[0] = False
    node = root
    try:
        while True:
            if node._hooks is not None or node._retain is not None:
                g = _run_hooks(node, g)
            if node._freed:
                raise RuntimeError(_ERR_FREED)
            vs = node._versions
            if vs is not None:
                for src in vs:
                    if src is not None and src[1][0] != src[2]:
                        _check_versions(node)  # raises the version error
            in_grads = node.backward(node, g)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if not retain_graph and node.saved:
                node._freed = True
                node.saved = ()
            cand = None
            i = 0
            for nxt in node.next:
                if nxt is not None:
                    ig = in_grads[i]
                    if ig is not None:
                        if isinstance(nxt, Tensor):
                            e = leaves.get(nxt)
                            leaves[nxt] = ig if e is None else e + ig
                        elif cand is None and not pending:
                            cand, cand_g = nxt, ig
                        else:
                            if cand is not None:  # a second node: both wait in the heap
                                pending[cand] = cand_g
                                heappush(heap, (-cand._seq, cand))
                                cand = None
                            old = pending.get(nxt)
                            if old is None:
                                pending[nxt] = ig
                                heappush(heap, (-nxt._seq, nxt))
                            else:
                                pending[nxt] = old + ig
                i += 1
            if waits is not None:
                _release_leaves(node, waits, leaves, Tensor)
            if cand is not None:
                node, g = cand, cand_g
            elif heap:
                node = heappop(heap)[1]
                g = pending.pop(node)
            else:
                break
    finally:
        grad_mode._state[0] = prev_mode
    if waits is not None:
        for leaf, g in leaves.items():
            _accumulate(leaf, g, False)
            _run_post_acc_hooks(leaf)
        return
    for leaf, g in leaves.items():
        if leaf._hooks is None and leaf.grad is not None and g.shape == leaf._data.shape:
            old = leaf.grad._data
            if (
                type(old) is type(g)
                and old.dtype == g.dtype
                and old.flags.writeable
                and leaf.grad.grad_fn is None
            ):
                old += g  # accumulate in place, as torch's AccumulateGrad does
                leaf.grad._vc[0] += 1
                continue
        _accumulate(leaf, g, False)


post_acc_live = [False]  # set by the first Tensor.register_post_accumulate_grad_hook


def _post_acc_waits(root, Tensor) -> dict | None:
    """For each leaf with post-accumulate-grad hooks, how many graph edges point at it: its
    gradient is final (and is accumulated at once, while backward goes on) when all have run."""
    waits: dict = {}
    seen = {root}
    stack = [root]
    while stack:
        for nxt in stack.pop().next:
            if nxt is None:
                continue
            if isinstance(nxt, Tensor):
                if nxt.__dict__.get("_post_acc_hooks"):
                    waits[nxt] = waits.get(nxt, 0) + 1
            elif nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return waits or None


def _release_leaves(node, waits: dict, leaves: dict, Tensor) -> None:
    """After `node` ran: accumulate the leaves whose last edge it was, then run their hooks."""
    for nxt in node.next:
        if isinstance(nxt, Tensor) and nxt in waits:
            if waits[nxt] > 1:
                waits[nxt] -= 1
                continue
            del waits[nxt]
            g = leaves.pop(nxt, None)
            if g is not None:
                _accumulate(nxt, g, False)
                _run_post_acc_hooks(nxt)


def _run_post_acc_hooks(leaf) -> None:
    for h in leaf.__dict__.get("_post_acc_hooks", ()):
        h(leaf)


def _run_hooks(node, g):
    for h in node._hooks or ():
        r = h(_wrap_grad(g))
        if r is not None:
            g = r._data
    if node._retain is not None:
        node._retain(_wrap_grad(g))
    return g


def _add_leaf(leaves, t, g):
    e = leaves.get(id(t))
    if e is None:
        leaves[id(t)] = [t, g]
    else:
        e[1] = e[1] + g


def _wrap_grad(g):
    from ember._tensor import Tensor

    if g is None:
        return None
    t = Tensor._wrap(g, False, None)
    _flag_bl(t)  # a batch-last gradient (hooks, retain_grad) shows as contiguous, as in torch
    return t


def _as_tensor(g):
    from ember._tensor import Tensor

    if g is None or isinstance(g, Tensor):
        return g
    return Tensor._wrap(g, False, None)


def _accumulate(t, g, create_graph: bool) -> None:
    """AccumulateGrad: run the leaf's hooks, then add into `.grad` (a fresh copy the first time,
    so no two leaves ever share a gradient buffer)."""
    from ember._tensor import Tensor

    if t._hooks:
        for h in t._hooks:
            r = h(_as_tensor(g) if create_graph else _wrap_grad(g))
            if r is not None:
                g = r if create_graph else r._data
    if create_graph:
        g = _as_tensor(g)
        if g.dtype is not t.dtype:
            g = g.to(t.dtype)
        t.grad = g if t.grad is None else t.grad + g
        return
    if isinstance(g, Tensor):
        g = g._data
    if g.shape != t._data.shape:
        g = _reshape_grad(g, t)
    if t.grad is None:
        if g.dtype != t._data.dtype:
            g = g.astype(t._data.dtype)
        else:
            g = g.copy()
        t.grad = Tensor._wrap(g, False, None)
    else:
        old = t.grad._data
        if old.flags.writeable and t.grad.grad_fn is None:
            old += g
            t.grad._vc[0] += 1
        else:
            t.grad = Tensor._wrap(old + g, False, None)


def _reshape_grad(g, t):
    xp = type(g)
    try:
        import numpy as np

        return np.broadcast_to(g, t._data.shape).copy() if xp is np.ndarray else g.reshape(t.shape)
    except ValueError:
        raise RuntimeError(
            f"Function returned an invalid gradient - got shape {list(g.shape)} but expected shape "
            f"compatible with {list(t._data.shape)}"
        ) from None


Tensor = None  # bound by ember._tensor at import (avoids an import cycle)

__all__ = ["run_backward", "Function"]
