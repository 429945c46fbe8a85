"""The backward pass: iterative (no recursion limit), dependency-counted, frees saved buffers."""

from __future__ import annotations

from heapq import heappop, heappush

import numpy as np

from ember import _backend
from ember._dtype import from_np
from ember._hooks import add_hook
from ember._layout import flag_batch_last
from ember._tensor import Tensor
from ember.graph import grad_mode
from ember.graph.node import _ERR_FREED, OUTPUT, Function


def _check_versions(node) -> None:
    for i, src in enumerate(node._versions):
        if src is None:
            continue
        source, vc, v = src
        if vc[0] != v:
            s = node.saved[i]
            tname = _type_name(s)
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{tname} [{', '.join(map(str, s.shape))}]], which is output 0 "
                f"of {_producer(node, source)}, is at version {vc[0]}; expected "
                f"version {v} instead. Hint: the backtrace further above can point to the operation "
                "that failed to compute its gradient. The variable in question was changed in there "
                "or anywhere later. Good luck!"
            )


def _producer(node, source) -> str:
    if source is OUTPUT:
        return node.name()
    return source.name() if isinstance(source, Function) else "AccumulateGrad"


def _type_name(arr) -> str:
    return from_np(arr.dtype).tensor_type


def _saved_as_tensors(node):
    """create_graph: saved inputs are the input tensors themselves (so the backward formula is
    differentiated through them); a saved output is re-attached to this node."""
    out = []
    srcs = node._versions or [None] * len(node.saved)
    for s, src in zip(node.saved, srcs):
        if src is not None and src[0] is not None:
            out.append(_saved_tensor(node, s, src))
        elif hasattr(s, "shape") and not isinstance(s, Tensor):
            out.append(Tensor._wrap(s, False, None))
        else:
            out.append(s)
    return tuple(out)


def _saved_tensor(node, s, src):
    """The tensor a saved array belongs to, rebuilt from its version record: a leaf is itself;
    a non-leaf input or this node's output is a tensor over the same array, attached to the
    node that made it and sharing its version counter."""
    source, counter, _ = src
    if isinstance(source, Tensor):
        return source
    t = Tensor._wrap(s, True, node if source is OUTPUT else source)
    t._version_counter = counter
    return t


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


def _check_nan(node, in_grads) -> None:
    """Anomaly mode: a NaN in any gradient a node returns raises, naming the node (torch's message)."""
    for i, ig in enumerate(in_grads):
        a = getattr(ig, "_data", ig)
        if a is not None and getattr(a, "dtype", None) is not None and a.dtype.kind in "fc":
            if bool(_backend.of(a).isnan(a).any()):
                raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


def run_backward(
    roots, grads, retain_graph: bool, create_graph: bool, inputs=None, allow_unused: bool = False
):
    """Propagate `grads` (raw arrays, or Tensors under create_graph) from `roots` (tensors).

    With `inputs` None, gradients accumulate into leaves' `.grad` (Tensor.backward). Otherwise
    return the gradient for each of `inputs` without touching `.grad` (autograd.grad).
    One root accumulating into leaves without create_graph takes the fast path
    `run_backward_single_root`; everything else the general, dependency-counting path."""
    if (
        inputs is None
        and not create_graph
        and len(roots) == 1
        and roots[0].grad_fn is not None
        and not grad_mode._anomaly[0]
    ):
        return run_backward_single_root(roots[0].grad_fn, grads[0], retain_graph)
    return run_backward_general(roots, grads, retain_graph, create_graph, inputs, allow_unused)


def run_backward_general(
    roots, grads, retain_graph: bool, create_graph: bool, inputs=None, allow_unused: bool = False
):
    """Any roots, `inputs` capture and create_graph: count the edges into every reachable node,
    run a node when all its consumers have run."""
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
                for h in list(node._hooks.values()):
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
                if grad_mode._anomaly[0] and grad_mode._anomaly[1]:
                    _check_nan(node, in_grads)
            if not retain_graph and node.saved:
                _free(node)
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


def _free(node) -> None:
    """Release a node's saved buffers and their version records (backward without retain_graph)."""
    node._freed = True
    node.saved = ()
    node._versions = None
    node.__dict__.pop("state", None)  # backward state objects (a convolution's columns) go too


def run_backward_single_root(root, g, retain_graph: bool):
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
                node._versions = None
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
        # fast path of _accumulate: add into an existing plain .grad in place, as torch's
        # AccumulateGrad does (a read-only .grad raises ValueError and takes the general path)
        grad = leaf.grad
        if leaf._hooks is None and grad is not None and grad.grad_fn is None:
            old = grad._data
            if type(old) is type(g) and old.dtype == g.dtype and g.shape == old.shape:
                try:
                    old += g
                    grad._bump()
                    continue
                except ValueError:
                    pass
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


def register_post_accumulate_grad_hook(self, hook):
    """Tensor.register_post_accumulate_grad_hook: `hook(tensor)` runs after this leaf's gradient
    is accumulated into `.grad`."""
    if not self._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    post_acc_live[0] = True
    return add_hook(self.__dict__.setdefault("_post_acc_hooks", {}), hook)


def _run_post_acc_hooks(leaf) -> None:
    for h in list(leaf.__dict__.get("_post_acc_hooks", {}).values()):
        h(leaf)


def _run_hooks(node, g):
    for h in list(node._hooks.values()) if node._hooks else ():
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
    if g is None:
        return None
    t = Tensor._wrap(g, False, None)
    flag_batch_last(t)  # a batch-last gradient (hooks, retain_grad) shows as contiguous, as in torch
    return t


def _as_tensor(g):
    if g is None or isinstance(g, Tensor):
        return g
    return Tensor._wrap(g, False, None)


def _accumulate(t, g, create_graph: bool) -> None:
    """AccumulateGrad: run the leaf's hooks, then add into `.grad` (a fresh copy the first time,
    so no two leaves ever share a gradient buffer)."""
    if t._hooks:
        for h in list(t._hooks.values()):
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
            t.grad._bump()
        else:
            t.grad = Tensor._wrap(old + g, False, None)


def _reshape_grad(g, t):
    xp = type(g)
    try:
        return np.broadcast_to(g, t._data.shape).copy() if xp is np.ndarray else g.reshape(t.shape)
    except ValueError:
        raise RuntimeError(
            f"Function returned an invalid gradient - got shape {list(g.shape)} but expected shape "
            f"compatible with {list(t._data.shape)}"
        ) from None


_ONES: dict = {}


def seed_grad(d):
    """The implicit gradient 1 of `loss.backward()` for a one-element array `d`: a shared
    read-only array of d's shape and dtype (backward never writes into its input grad). Built
    with ones, never as d*0+1: a NaN loss still starts backward from 1, as torch does."""
    key = (d.dtype, d.shape, type(d))
    one = _ONES.get(key)
    if one is None:
        one = _backend.of(d).ones(d.shape, dtype=d.dtype)
        if type(one) is np.ndarray:
            one.flags.writeable = False
        _ONES[key] = one
    return one


__all__ = ["run_backward", "run_backward_general", "run_backward_single_root", "seed_grad"]
