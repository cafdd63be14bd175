"""Validation: a safety net that runs a new graph against eager execution on other inputs.

Library code that computed with numpy on a traced tensor's data would make the
tracer record a value as a constant: such a graph is right for the traced inputs
only.  Running the graph and the eager function on *other* argument values (floats
jittered; integers redrawn within the range every op that indexes with them
accepts; masks redrawn) exposes that, and the graph is then rejected: a slow answer,
never a wrong one.

An index is drawn in ``[0, size)`` even where it reaches its op through a range
check, a view or an integer cast (``x[i]`` checks ``i`` first): a negative index
would send a native program's call to the interpreter, and one out of range would
make eager execution raise, and validation would then compare nothing native.
What validation found (agreement, or no evidence when eager execution rejects the
other values) is what ``explain()`` reports.

Validation must never change the world, so it runs only for calls without side
effects (no in-place writes to anything that outlives the call, no rebinding), with
the random generator restored, under ``no_grad``.  Other calls are not re-run: their
correctness rests on the tracer.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph
from ..ops import OPS, Kind
from ..random import get_rng_state, set_rng_state
from ..recording.grad_mode import no_grad
from ..tensor import Tensor
from ..utils.pytree import flatten, unflatten
from .capture import Capture
from .capture import capture as capture_call
from .check import BACKEND_DIFFERS, agree, localize
from .runtime import returned_tensor


def _is_tensor(x) -> bool:
    return isinstance(x, Tensor)


VALIDATED = "validated against eager execution on other inputs"


def validate(
    fn, args: tuple, kwargs: dict, capture: Capture, run_forward, seed: int
) -> tuple[str | None, str]:
    """(why the graph disagrees with eager execution on other inputs, None if it agrees
    or cannot tell; what validation found, for ``explain()``: empty where it did not run)."""
    if not capture.side_effect_free:
        return None, ""
    leaves, spec = flatten((args, kwargs), _is_tensor)
    rng = np.random.default_rng(seed)
    bounds = index_bounds(capture)
    fresh = {}
    for t in leaves:
        if id(t) not in fresh:
            pos = _position(capture, t)
            fresh[id(t)] = perturbed(t, rng, bounds.get(pos))
    new_args, new_kwargs = unflatten(spec, [fresh[id(t)] for t in leaves])
    inputs = [fresh.get(id(t), t) for t in capture.inputs]
    state = get_rng_state()  # both runs draw from it; the world is left as it was found
    try:
        with no_grad():
            expected = fn(*new_args, **new_kwargs)
    except Exception as exc:  # the function rejects these values (a domain error): no evidence
        return None, f"no evidence (eager execution raised {type(exc).__name__} on other inputs)"
    finally:
        set_rng_state(state)
    try:
        results = run_forward([t._data for t in inputs])
    except Exception as exc:
        return f"the graph raised {type(exc).__name__} on inputs eager execution accepts", ""
    finally:
        set_rng_state(state)
    wanted, _ = flatten(expected, _is_tensor)
    if len(wanted) != len(capture.returned):
        return "the traced graph returns a different structure for other input values", ""
    for want, (kind, where) in zip(wanted, capture.returned):
        got = results[where] if kind == "output" else returned_tensor(kind, where, inputs, [])._data
        w = want._data
        if w.shape != got.shape or not agree(w, got, rtol=1e-3, atol=1e-5):
            where = _where(fn, new_args, new_kwargs, capture, inputs)
            if where == BACKEND_DIFFERS:  # the trace is right: rounding the data amplifies, or a bug
                cause = "the compiled code's rounding, amplified by the data, or a code generator bug"
            else:
                cause = "the traced graph depends on input values in a way the tracer could not see"
            return f"{cause} (it disagreed with eager execution on other inputs: {where})", ""
    return None, VALIDATED


def _where(fn, args, kwargs, capture: Capture, inputs: list) -> str:
    """The first node whose value differs, from a trace of the (side-effect free) call on
    the other inputs, in the grad mode of the traced call (a trace under no_grad records
    other ops: broadcasts autograd needs are implicit); the random generator is restored
    around it."""
    state = get_rng_state()
    try:
        fresh = capture_call(fn, tuple(args), dict(kwargs), record_values=True)
    except Exception:  # noqa: BLE001 - the first report stands without a location
        return "location unknown"
    finally:
        set_rng_state(state)
    return localize(capture.graph, [t._data for t in inputs], fresh)


def _position(capture: Capture, t: Tensor) -> int | None:
    for i, bound in enumerate(capture.inputs):
        if bound is t:
            return i
    return None


def index_bounds(capture: Capture) -> dict[int, int]:
    """For each integer input used as an index, the exclusive bound its values must stay
    under (the index op's, reached through the values' checks, views and casts)."""
    graph = capture.graph
    position = {nid: i for i, nid in enumerate(graph.inputs)}
    bounds: dict[int, int] = {}
    for node in graph.op_nodes():
        rule = getattr(OPS.get(node.op), "index_bounds", None)
        if rule is None:
            continue
        args = graph.args(node.id)
        metas = [graph.node(a).type for a in args]
        for arg_pos, bound in rule(metas, node.attrs).items():
            pos = position.get(_same_values_as(graph, args[arg_pos]))
            if pos is not None:
                bounds[pos] = min(bound, bounds.get(pos, bound))
    return bounds


def _same_values_as(graph: Graph, nid: int) -> int:
    """The node ``nid`` takes its values from unchanged, followed back through range
    checks (which return their input), views (which rearrange or select its elements)
    and integer-to-integer casts (which keep small values): a bound on ``nid`` bounds it."""
    while True:
        node = graph.node(nid)
        op = OPS.get(node.op)
        if op is None or not (op.kind is Kind.CHECK or op.view is not None or node.op == "cast"):
            return nid
        source = graph.args(nid)[0]
        if node.op == "cast" and np.dtype(graph.node(source).type.dtype.np).kind not in "iu":
            return nid
        nid = source


def perturbed(t: Tensor, rng: np.random.Generator, bound: int | None = None) -> Tensor:
    """A tensor like ``t`` holding other values of the same kind (see the module doc)."""
    data = t._data
    for _ in range(8):  # values equal to the old ones would prove nothing: draw again
        values = _draw(data, rng, bound)
        if data.size == 0 or not np.array_equal(values, data) or (bound is not None and bound <= 1):
            break
    out = Tensor._wrap(np.asarray(values, dtype=data.dtype).reshape(data.shape))  # (0-d stays 0-d)
    out._rg = t._rg
    return out


_BLOCK = 1 << 16  # values drawn for a large tensor's noise, and sampled for its scale


def _sample(data: np.ndarray) -> np.ndarray:
    """About :data:`_BLOCK` of a contiguous tensor's values, evenly spaced (all of another)."""
    if data.size <= _BLOCK or not data.flags.c_contiguous:
        return data
    return data.reshape(-1)[:: data.size // _BLOCK]


def _plus_noise(data: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """``data`` plus ``noise`` repeated over its elements in C order, in one pass (past
    :data:`_BLOCK` elements, one block of noise serves: what validation needs is values
    other than the traced ones), in the noise's dtype."""
    flat = data.reshape(-1)
    out = np.empty(flat.shape, noise.dtype)
    whole = flat.size - flat.size % noise.size
    np.add(flat[:whole].reshape(-1, noise.size), noise, out=out[:whole].reshape(-1, noise.size))
    np.add(flat[whole:], noise[: flat.size - whole], out=out[whole:])
    return out.reshape(data.shape)


def _draw(data: np.ndarray, rng: np.random.Generator, bound: int | None) -> np.ndarray:
    kind = data.dtype.kind
    if kind == "f":
        # uniform noise, drawn in the data's width (a normal float64 draw took 12 of the
        # 13 ms this took for a million floats: W5's warm-cache compile); a block of it
        # repeated over a large tensor, and its scale from a sample (perturbing W5's million
        # floats: 3.0 -> 1.0 ms), added to the data in one pass
        scale = float(np.std(_sample(data), dtype=np.float64)) if data.size > 1 else 1.0
        noise = rng.random(
            min(max(data.size, 1), _BLOCK), dtype=np.float32 if data.dtype.itemsize <= 4 else np.float64
        )
        noise -= 0.5
        noise *= 1.7 * scale + 3.5e-3  # (the standard deviation of the normal noise it replaces)
        return _plus_noise(data, noise).astype(data.dtype, copy=False)
    if kind == "b":
        return rng.random(data.shape) < 0.5
    if bound is not None:  # (under the dtype's largest value too, or it would wrap negative)
        high = min(max(bound, 1), int(np.iinfo(data.dtype).max) + 1)
        return rng.integers(0, high, data.shape).astype(data.dtype)
    if data.size:  # over the data's range and a little past it, within the dtype's
        info = np.iinfo(data.dtype)
        low, high = min(int(data.min()), 0), min(max(int(data.max()), 1) + 4, int(info.max) + 1)
        return rng.integers(low, high, data.shape, dtype=np.int64 if info.min < 0 else np.uint64).astype(
            data.dtype
        )
    return data.copy()
