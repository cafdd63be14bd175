"""Guards: straight-line Python that decides whether a cached graph fits a new call.

A :class:`Guard` is generated from the :class:`~.state.Snapshot` of the traced call:
every node of the walked state becomes one or two comparisons, read along its
source from its parent's local variable, so each object is fetched once and a
failing call stops at its first difference.  Tensors are compared by class, shape
(a dynamic dimension only by the symbol it binds), dtype, requires_grad and layout;
Python values by type and value; containers by keys or length; everything else by
identity.  The guard returns the graph's input tensors, fetched afresh along their
sources, or None.

Generated code is what TorchDynamo does for its guards too; here it is small and
readable: ``print(guard.source)``.
"""

from __future__ import annotations

import enum
import math
from typing import Any

import numpy as np

from .. import dtypes
from ..dtypes import dtype as irgrad_dtype
from ..ir.aliasing import writes_overlap
from ..recording.grad_mode import STATE
from ..tensor import Tensor
from .sources import Step, describe, expression, read
from .state import (
    ALIAS,
    ARRAY,
    CONTENTS,
    DICT,
    FUNCTION,
    LARGE,
    OBJECT,
    OPAQUE,
    SEQ,
    TENSOR,
    VALUE,
    Snapshot,
    StateNode,
)
from .state_kinds import is_value, same_contents
from .value_equality import same_value, same_zero_signs

_SINGLETON_TYPES = (type(None), bool, irgrad_dtype, enum.Enum)


class _Aliased:
    """What a guard returns for a call it fits but whose tensors overlap where the graph
    writes (see :meth:`Guard._distinct`): the call runs eagerly."""

    def __repr__(self) -> str:
        return "ALIASED"


ALIASED = _Aliased()


_OTHER_FLOATS = (complex, np.floating, np.complexfloating)


def _scalar(value) -> Tensor:
    """A lifted Python number as the float64 0-d tensor its graph input expects (read-only:
    the guard hands the same one to every call until the number changes)."""
    array = np.array(value, dtype=np.float64)
    array.flags.writeable = False
    return Tensor._wrap(array)


class _Lifted:
    """The last number a lifted input had and its tensor: a learning rate read from an
    optimizer's param group is the same float object call after call, and making its
    tensor anew cost about 0.5 us a call.  One tuple, replaced whole, so a thread that
    reads it while another replaces it sees a number and its own tensor."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple = (_Lifted, None)  # (a number object, its tensor): none yet


def _same_keys(mapping: dict, keys: tuple) -> bool:
    """Whether a dict has exactly these keys in this order (object keys by identity)."""
    if len(mapping) != len(keys):
        return False
    for a, b in zip(mapping, keys):
        if a is not b and not (is_value(a) and same_value(a, b)):
            return False
    return True


class _Emitter:
    """Accumulates the guard's source lines and the constants they reference."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.consts: list[Any] = []
        self.index: dict[int, int] = {}
        self.local: dict[int, str] = {}  # id(node) -> local variable holding its object

    def const(self, value: Any) -> str:
        key = id(value)
        i = self.index.get(key)
        if i is None or self.consts[i] is not value:
            i = self.index[key] = len(self.consts)
            self.consts.append(value)
        return f"K{i}"  # a global of the guard's namespace: faster to read than K[i]

    def literal(self, key: Any) -> str:
        if type(key) in (str, int, bool, float) or key is None:
            return repr(key)
        return self.const(key)

    def fail_if(self, condition: str) -> None:
        self.lines.append(f"    if {condition}: return None")


class Guard:
    """The compiled check of one cached graph (see the module doc)."""

    def __init__(
        self,
        snapshot: Snapshot,
        inputs: list[StateNode],
        symbols: list[tuple[str, StateNode, int]],
        grad_enabled: bool,
        written: tuple[int, ...] = (),
    ) -> None:
        self.snapshot = snapshot
        self.inputs = inputs
        self.symbols = symbols
        self.grad_enabled = grad_enabled
        # what torch.zeros(3) and torch.tensor([1.5]) in the traced code made
        self.default_dtype = dtypes.get_default_dtype()
        self.count = 0
        out = _Emitter()
        out.lines.append("def guard(R):")
        out.fail_if(f"STATE.enabled is not {grad_enabled}")
        out.fail_if(f"_dtypes._default_float is not {out.const(self.default_dtype)}")
        dynamic: dict[int, dict[int, str]] = {}
        for name, node, dim in symbols:
            dynamic.setdefault(id(node), {})[dim] = name
        self._bound: set[str] = set()
        for root in snapshot.roots:
            self._emit(root, "R", out, dynamic)
        for view, base, chain in snapshot.derived_views:  # (see capture._derived_views)
            v, b = out.local[id(view)], out.local[id(base)]
            out.fail_if(f"{v}._base is not {b} or {v}._view is None or {v}._view[0] != {out.const(chain)}")
        returned = [self._input(x, out) for x in inputs]
        out.lines.append(f"    inputs = [{', '.join(returned)}]")
        if written:
            self._distinct(inputs, returned, written, out)
        out.lines.append("    return inputs")
        self.source = "\n".join(out.lines)
        namespace = {
            "STATE": STATE,
            "_same_keys": _same_keys,
            "_same_contents": same_contents,
            "_copysign": math.copysign,
            "_dtypes": dtypes,
            "_same_value": same_value,
            "_same_zero_signs": same_zero_signs,
            "np": np,
            "_scalar": _scalar,
            "_item": dict.__getitem__,
            "ALIASED": ALIASED,
            "writes_overlap": writes_overlap,
        }
        namespace.update((f"K{i}", value) for i, value in enumerate(out.consts))
        exec(compile(self.source, "<irgrad guard>", "exec"), namespace)
        self._check = namespace["guard"]

    def __call__(self, roots: tuple) -> list | None:
        """The graph's input tensors for this call, or None if the guard fails."""
        try:
            return self._check(roots)
        except Exception:  # a source that no longer exists: the state is different
            return None

    # --- generation ---------------------------------------------------------------------
    @staticmethod
    def _distinct(inputs: list, returned: list[str], written: tuple[int, ...], out: _Emitter) -> None:
        """A graph that writes inputs assumes distinct tensors (another call, with one
        tensor twice, is another graph) over distinct, writable memory: a call whose
        tensors overlap where the graph writes, or whose written memory is read-only (a
        non-writable numpy array given to ``from_numpy``: eager execution raises, the
        native program would write it), gets :data:`ALIASED` and runs eagerly.  Arrays
        that own their memory and are distinct cannot overlap: the usual call costs a
        few attribute reads."""
        tensors = [var for x, var in zip(inputs, returned) if not isinstance(x, StateNode) or x.kind != VALUE]
        if len(tensors) > 1:  # (a lifted number's tensor is its input's own)
            out.fail_if(f"len({{{', '.join(f'id({t})' for t in tensors)}}}) != {len(tensors)}")
        arrays, flags, writable = [], [], []
        for position, (x, var) in enumerate(zip(inputs, returned)):
            if not isinstance(x, StateNode):  # a tensor held by identity
                array = f"{var}._data"
            elif x.kind == TENSOR and not x.unguarded:
                array = f"{var}_d"  # read by the tensor's checks, which read its flags too
            elif x.kind != VALUE:
                array = f"{var}._data"
            else:  # (a lifted number's 0-d tensor: it overlaps nothing)
                continue
            arrays.append(array)
            flag = f"{var}_f" if array == f"{var}_d" else f"{array}.flags"
            flags.append(flag)
            if position in written:
                writable.append(f"{flag}.writeable")
        owned = " and ".join(f"{f}.owndata" for f in flags)
        all_writable = " and ".join(writable) or "True"
        distinct = f"len({{{', '.join(f'id({a})' for a in arrays)}}}) == {len(arrays)}"
        out.lines.append(f"    if not ({owned} and {all_writable} and {distinct}):")
        out.lines.append(
            f"        if not ({all_writable}) or writes_overlap([t._data for t in inputs], {tuple(written)!r}):"
        )
        out.lines.append("            return ALIASED")

    def _input(self, source, out: _Emitter) -> str:
        """How the guard hands one graph input to the call: a fetched tensor, a lifted
        Python number made a 0-d tensor, or a tensor held by identity."""
        if isinstance(source, Tensor):
            return self._held(source, out)
        var = out.local[id(source)]
        if source.kind == VALUE:
            cache = out.const(_Lifted())
            out.lines.append(f"    {var}_t = {cache}.last")
            out.lines.append(
                f"    if {var}_t[0] is not {var}: {var}_t = {cache}.last = ({var}, _scalar({var}))"
            )
            return f"{var}_t[1]"
        return var

    @staticmethod
    def _predicates(node: StateNode, var: str, out: _Emitter) -> None:
        """A value the traced code branched on (lifted, or holding lifted items) gives the
        same answers."""
        for predicate, answer in node.predicates:
            out.fail_if(f"bool({out.const(predicate)}({var})) is not {answer}")

    def _held(self, t: Tensor, out: _Emitter) -> str:
        """An input reached by no walked path: held by identity, its layout still checked."""
        ref = out.const(t)
        data = t._data
        out.fail_if(f"{ref}._data.shape != {data.shape!r} or {ref}._data.dtype != {out.const(data.dtype)}")
        return ref

    def _emit(self, node: StateNode, parent: str, out: _Emitter, dynamic: dict, fast: str = "") -> None:
        """Emit ``node``'s read from the local ``parent`` and its checks, then its children's.

        ``fast`` says how the parent's class, already checked, lets a child be read
        faster: ``"raw"``, a dict whose ``__getitem__`` only reports reads to a tracer
        (an optimizer's ``ParamGroup``), whose items are read with ``dict.__getitem__``, a
        C call, not through that method; ``"dict"``, an object whose ``__dict__`` is
        already in the local ``<parent>_a``."""
        var = f"v{len(out.local)}"
        out.local[id(node)] = var
        how, key = node.step
        if fast == "raw" and how == "item":
            out.lines.append(f"    {var} = _item({parent}, {out.literal(key)})")
        elif fast == "dict" and how == "attr":
            out.lines.append(f"    {var} = {parent}_a[{out.literal(key)}]")
        else:
            out.lines.append(f"    {var} = {expression(node.step, parent, out.literal)}")
        if node.unguarded:  # fetched (a learning rate is an input) but not checked: see .deferred
            if node.lifted:  # still a number: the graph reads it before the repeated step
                out.fail_if(f"type({var}) not in (int, float)")
            self._predicates(node, var, out)
            for child in node.children:
                self._emit(child, var, out, dynamic)
            return
        self.count += 1
        kind, obj = node.kind, node.obj
        if kind == VALUE and node.any_value:  # a graph input: any value of its type will do
            out.fail_if(f"type({var}) is not {out.const(type(obj))}")
        elif kind == VALUE:
            if isinstance(obj, _SINGLETON_TYPES) or obj is Ellipsis:
                out.fail_if(f"{var} is not {out.const(obj)}")
            elif type(obj) is float and obj != obj:
                out.fail_if(f"type({var}) is not float or {var} == {var}")
            elif type(obj) is float and obj == 0.0:  # its sign too: 1 / x
                sign = "<" if math.copysign(1.0, obj) > 0 else ">"
                out.fail_if(f"type({var}) is not float or {var} != 0.0 or _copysign(1.0, {var}) {sign} 0")
            elif isinstance(obj, _OTHER_FLOATS):  # numpy's floats, complex numbers: NaN, signed zeros
                out.fail_if(f"not _same_value({var}, {out.const(obj)})")
            else:
                out.fail_if(f"type({var}) is not {out.const(type(obj))} or {var} != {out.const(obj)}")
        elif kind == TENSOR:
            cls, shape, dt, rg, contiguous, attrs, strides, leaf = node.info
            out.fail_if(f"{var}.__class__ is not {out.const(cls)} or {var}._rg is not {rg}")
            if leaf is not None:
                out.fail_if(f"({var}._node is None) is not {leaf}")
            data = f"{var}_d"
            out.lines.append(f"    {data} = {var}._data")
            dims = dynamic.get(id(node))
            if dims:
                out.fail_if(f"len({data}.shape) != {len(shape)}")
                for d, size in enumerate(shape):
                    if d in dims:
                        sym = f"S_{dims[d]}"
                        if dims[d] in self._bound:
                            out.fail_if(f"{data}.shape[{d}] != {sym}")
                        else:
                            self._bound.add(dims[d])
                            out.lines.append(f"    {sym} = {data}.shape[{d}]")
                            out.fail_if(f"{sym} < 2")  # sizes 0 and 1 are specialised, as in PyTorch
                    else:
                        out.fail_if(f"{data}.shape[{d}] != {size}")
            else:
                out.fail_if(f"{data}.shape != {shape!r}")
            dtype = out.const(dt)
            out.lines.append(f"    {var}_f = {data}.flags")
            out.fail_if(
                f"({data}.dtype is not {dtype} and {data}.dtype != {dtype}) or {var}_f.c_contiguous is not {contiguous}"
            )
            if strides is not None and not dims:  # (a dynamic size moves the strides: not guarded)
                out.fail_if(f"{data}.strides != {strides!r}")
            if attrs:
                out.fail_if(f"{var}.__dict__.keys() != {out.const(frozenset(attrs))}")
            else:
                out.fail_if(f"{var}.__dict__")
        elif kind == DICT:
            cls, keys = node.info
            if not keys:  # the usual hook dict
                same_keys = f"{var}"
            elif all(type(k) in (str, int) for k in keys):
                same_keys = f"tuple({var}) != {keys!r}"
            else:
                same_keys = f"not _same_keys({var}, {out.const(keys)})"
            out.fail_if(f"type({var}) is not {out.const(cls)} or {same_keys}")
        elif kind == SEQ:
            cls, length = node.info
            out.fail_if(f"type({var}) is not {out.const(cls)} or len({var}) != {length}")
        elif kind == OBJECT:
            cls, attrs = node.info
            out.fail_if(f"type({var}) is not {out.const(cls)}")
            out.lines.append(f"    {var}_a = {var}.__dict__")
            out.fail_if(f"{var}_a.keys() != {out.const(frozenset(attrs))}")
        elif kind == CONTENTS:
            cls, elements = node.info
            # (an empty set or environment is falsy: the usual hook registries)
            same = f"{var}" if not elements else f"not _same_contents({var}, {out.const(elements)})"
            out.fail_if(f"type({var}) is not {out.const(cls)} or {same}")
        elif kind in (FUNCTION, OPAQUE):
            out.fail_if(f"{var} is not {out.const(obj)}")
        elif kind == LARGE:
            out.fail_if(f"{var} is not {out.const(obj)} or len({var}) != {node.info[1]}")
        elif kind == ARRAY:
            ref = out.const(node.info)
            out.fail_if(
                f"type({var}) is not np.ndarray or {var}.shape != {ref}.shape or "
                f"{var}.dtype != {ref}.dtype or not np.array_equal({var}, {ref}, equal_nan=True)"
            )
            if node.info.dtype.kind in "fc" and not node.info.all():  # holds a zero: its sign too
                out.fail_if(f"not _same_zero_signs({var}, {ref})")
        elif kind == ALIAS:
            out.fail_if(f"{var} is not {out.local[id(node.target)]}")
        self._predicates(node, var, out)
        if kind == OBJECT:
            fast = "dict"
        else:
            fast = "raw" if kind == DICT and getattr(node.info[0], "reports_reads", False) else ""
        for child in node.children:
            self._emit(child, var, out, dynamic, fast)

    # --- reading ------------------------------------------------------------------------
    def mismatch(self, roots: tuple) -> str:
        """Why this guard fails for a call (the first difference found), for the log."""
        if STATE.enabled is not self.grad_enabled:
            return f"grad mode changed from {self.grad_enabled} to {STATE.enabled}"
        if dtypes.get_default_dtype() is not self.default_dtype:
            return f"the default dtype changed from {self.default_dtype} to {dtypes.get_default_dtype()}"
        dynamic = {(id(n), d) for _, n, d in self.symbols}
        for root in self.snapshot.roots:
            reason = _first_difference(root, roots, self.snapshot, dynamic)
            if reason:
                return reason
        if self.snapshot.derived_views:  # (the guard checks them after the state's nodes)
            view, base, _ = self.snapshot.derived_views[0]
            name, base_name = (describe(n.path, self.snapshot.name_of) for n in (view, base))
            return f"{name} may no longer be the view of {base_name} the graph derives it from"
        return "the state reached by the function changed"

    def describe(self) -> list[str]:
        """One line per guarded source that is not a plain identity check, for ``explain()``."""
        lines = []
        for node in self.snapshot.nodes():
            name = describe(node.path, self.snapshot.name_of)
            if node.kind == VALUE and node.any_value:
                tests = "".join(f", {p.__name__} {a}" for p, a in node.predicates)
                lines.append(f"{name}: a graph input (any {type(node.obj).__name__}{tests})")
            elif node.unguarded:
                continue  # rebound by a step the call repeats (explain lists those)
            elif node.kind == VALUE and node.step.how != "root":
                lines.append(f"{name} == {node.obj!r}")
            elif node.kind == CONTENTS:
                lines.append(f"{name} holds the same {len(node.info[1])} elements, in order")
            elif node.kind == TENSOR:
                _, shape, dt, rg = node.info[:4]
                dims = {d: s for s, n, d in self.symbols if n is node}
                shown = ", ".join(dims.get(d, str(s)) for d, s in enumerate(shape))
                lines.append(f"{name}: {dt}[{shown}] requires_grad={rg}")
        return lines


def _first_difference(node: StateNode, parent: Any, snapshot: Snapshot, dynamic: set) -> str | None:
    """The first way the current state differs from ``node``'s subtree (None if none)."""
    free = node.unguarded or node.any_value  # any value will do (of its type, if lifted)
    if free and not (node.lifted or node.predicates):
        return None
    name = describe(node.path, snapshot.name_of)
    try:
        now = read(parent, node.step)
    except Exception:
        return f"{name} no longer exists"
    if free and node.lifted:
        number = type(now) in (int, float) if node.unguarded else type(now) is type(node.obj)
        if not number:
            return f"{name} is no longer a number: {_short(now)}"
    for predicate, answer in node.predicates:
        try:
            same = bool(predicate(now)) is answer
        except Exception:  # as the guard, which fails on the error: another branch
            same = False
        if not same:
            return f"{name} changed from {_short(node.obj)} to {_short(now)}: {predicate.__name__} is no longer {answer}"
    if free:
        return None
    kind = node.kind
    if kind == VALUE:
        if not same_value(node.obj, now):
            if node.step == Step("attr", "training"):
                return "train/eval mode changed"
            return f"{name} changed from {node.obj!r} to {_short(now)}"
        return None
    if kind == ALIAS:
        return None if now is node.target.obj else f"{name} is no longer the same object as elsewhere"
    if kind == TENSOR:
        if not isinstance(now, Tensor):
            return f"{name} is no longer a tensor"
        cls, shape, dt, rg, contiguous, _, strides, leaf = node.info
        data = now._data
        label = _tensor_label(node, name)
        if len(data.shape) != len(shape) or any(
            a != b for d, (a, b) in enumerate(zip(data.shape, shape)) if (id(node), d) not in dynamic
        ):
            return f"{label} shape changed from {_shape(shape)} to {_shape(data.shape)}"
        if data.dtype != dt:
            return f"{label} dtype changed from {dt} to {data.dtype}"
        if now._rg != rg:
            return f"{label} requires_grad changed from {rg} to {now._rg}"
        if data.flags.c_contiguous != contiguous:
            return f"{label} contiguity changed from {contiguous} to {data.flags.c_contiguous}"
        if (
            strides is not None
            and data.strides != strides
            and not any((id(node), d) in dynamic for d in range(len(shape)))
        ):
            return f"{label} strides changed from {strides} to {data.strides}"
        if leaf is not None and (now._node is None) != leaf:
            return f"{label} is {'no longer' if leaf else 'now'} a leaf"
    elif kind in (DICT, OBJECT):
        if type(now) is not node.info[0]:
            return f"{name} changed type to {type(now).__name__}"
        keys = tuple(now if kind == DICT else getattr(now, "__dict__", {}))
        if kind == DICT and not _same_keys(now, node.info[1]):
            return f"{name} has other keys than {list(node.info[1])!r}"
        if kind == OBJECT and set(keys) != set(node.info[1]):
            return f"{name} gained or lost attributes"
    elif kind == SEQ:
        if type(now) is not node.info[0]:
            return f"{name} changed type to {type(now).__name__}"
        if len(now) != node.info[1]:
            return f"{name} changed length from {node.info[1]} to {len(now)}"
    elif kind == CONTENTS:
        if type(now) is not node.info[0] or not same_contents(now, node.info[1]):
            return f"{name} changed"
    elif kind in (FUNCTION, OPAQUE, LARGE, ARRAY):
        if kind == ARRAY:
            same = (
                isinstance(now, np.ndarray)
                and now.shape == node.info.shape
                and np.array_equal(now, node.info, equal_nan=now.dtype.kind in "fc")
                and same_zero_signs(now, node.info)
            )
            if not same:
                return f"{name} (a numpy array) changed"
        elif now is not node.obj:
            return f"{name} is another object"
    for child in node.children:
        reason = _first_difference(child, now, snapshot, dynamic)
        if reason:
            return reason
    return None


def _tensor_label(node: StateNode, name: str) -> str:
    """``input 0`` for a positional tensor argument (as the log always said), else its source."""
    path = node.path
    if len(path) == 2 and path[0] == Step("root", 1) and path[1].how == "item":
        return f"input {path[1].key}"
    return name


def _shape(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _short(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {list(value.shape)}"
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."
