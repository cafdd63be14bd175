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
from . import guard_reports
from .sources import expression
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
from .state_kinds import same_contents
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
            "_same_keys": guard_reports.same_keys,
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
            if isinstance(x, StateNode) and x.kind == TENSOR and not x.unguarded:
                array, flag = f"{var}_d", f"{var}_f"  # read by the tensor's checks
            elif not isinstance(x, StateNode) or x.kind != VALUE:  # (held by identity, or unguarded)
                array = f"{var}._data"
                flag = f"{array}.flags"
            else:  # (a lifted number's 0-d tensor: it overlaps nothing)
                continue
            arrays.append(array)
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
        return guard_reports.mismatch(self, roots)

    def describe(self) -> list[str]:
        """One line per guarded source that is not a plain identity check, for ``explain()``."""
        return guard_reports.described(self)
