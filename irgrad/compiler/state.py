"""The state a compiled function can reach, walked from its roots.

Tracing runs the function eagerly once, so Python reads the tracer cannot see (a
global ``scale``, ``self.training``, whether ``optimizer.state`` holds a key yet)
shape the graph silently.  :func:`walk` records everything reachable from the call's
roots (the function's closure cells and the globals its code names, a module's
attributes, the arguments) as a tree of :class:`StateNode`: Python values, tensors
with their shape/dtype/requires_grad, containers with their keys, and the identity
of everything else.  That tree serves three purposes:

* **sources**: a tensor the trace uses but did not create is found in the tree, and
  its path is how every later call fetches it afresh (a free tensor is a graph input);
* **guards**: the tree, compiled to straight-line code (:mod:`.guards`), decides
  whether a cached graph stands for the state of a new call;
* **side effects**: comparing the tree with the state after the traced call
  (:func:`changes`) lists what the function rebound, added or deleted.

What is walked: containers (dict, list, tuple, deque, set), tensors (and their ``.grad``
and hooks), the ``__dict__`` of irgrad modules, optimizers and schedulers, of instances
of classes defined in user code (with the class's own functions) and of any other
object with attributes (a ``SimpleNamespace`` holding state), user functions (closure
cells, the globals their code names, defaults), bound methods and partials, a user's
Python modules, and what a library's module holds that a function reads straight off
it (``os.environ``).  irgrad's own internals, library functions, classes and the rest
of library modules are compared by identity only: their internals are taken to be
constant.  A walk is bounded (``MAX_NODES``); what lies
beyond is compared by identity and the snapshot says it was truncated.

How each kind of object is compared is decided in :mod:`.state_kinds`, what is user code
and which names its code reads in :mod:`.user_code`; the diff of this tree with the state
after a call is :mod:`.state_changes`.
"""

from __future__ import annotations

import collections
import functools
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..nn.parameter import is_lazy
from ..tensor import Tensor
from ..trace import storage
from .sources import ROOT_ARGS, ROOT_FN, ROOT_KWARGS, Step, describe, read
from .state_kinds import (
    CONTENT_TYPES,
    contents,
    holds_state,
    is_irgrad_class,
    is_value,
    slot_names,
    stateful_library_classes,
)
from .user_code import attributes_read, code_names, is_user_class, is_user_file, is_user_module

MAX_NODES = 50_000
MAX_ITEMS = 2_000  # containers longer than this are compared by identity and length
MAX_ARRAY = 100_000  # numpy arrays larger than this are compared by identity, shape and dtype

# Node kinds.
VALUE = "value"  # an immutable Python value: compared by type and value
TENSOR = "tensor"  # compared by class, shape, dtype, requires_grad, layout, leafness
DICT = "dict"  # compared by type and keys (in order)
SEQ = "seq"  # list, tuple or deque: compared by type and length
CONTENTS = "contents"  # a set or os.environ: compared by type and elements, in order
OBJECT = "object"  # an object whose __dict__ is walked: type and attribute names
FUNCTION = "function"  # a user function: identity; cells, globals and defaults walked
OPAQUE = "opaque"  # compared by identity only
LARGE = "large"  # a long container: identity and length
ARRAY = "array"  # a numpy array: shape, dtype and contents
ALIAS = "alias"  # the same object as an earlier node: identity with it


@dataclass(eq=False)
class StateNode:
    """One object reached from the roots, and how it was reached."""

    path: tuple[Step, ...]
    kind: str
    obj: Any
    info: Any = None
    children: list[StateNode] = field(default_factory=list)
    target: StateNode | None = None  # ALIAS: the node first reaching the object
    lifted: bool = False  # VALUE: a graph input (a learning rate), fetched at every call
    read: bool = False  # VALUE: also read as a Python value by the traced code
    predicates: list = field(default_factory=list)  # VALUE, SEQ: (predicate, answer) branched on
    replayed: bool = False  # rebound by a call the compiled call repeats (see .deferred)

    @property
    def any_value(self) -> bool:
        """A lifted value nothing else read: the guard accepts any value of its type."""
        return self.lifted and not self.read

    @property
    def unguarded(self) -> bool:
        """Rebound after every compiled call by a call it repeats, and not read by the traced
        code otherwise: whatever it holds, the graph does not depend on it."""
        return self.replayed and not self.read

    @property
    def step(self) -> Step:
        return self.path[-1]


@dataclass
class Snapshot:
    """The walked state of one call (see the module doc)."""

    roots: list[StateNode]
    first: dict[int, StateNode]  # id(object) -> the node that first reached it
    tensors: dict[int, StateNode]  # id(tensor) -> its first node
    truncated: bool = False
    _by_array: dict | None = field(default=None, repr=False)  # id(storage) -> walked tensor
    _large: set | None = field(default=None, repr=False)  # see large_arrays
    walker: Any = field(default=None, repr=False)  # walks a view's base when a trace needs it
    # (view node, base node, chain of view ops): views the graph derives from their base,
    # which the guard checks still are those views (see capture._derived_views)
    derived_views: list = field(default_factory=list)

    def source_of(self, t: Tensor) -> StateNode | None:
        """The node through which ``t`` is reached, or None if it is not reachable.  The base
        of a walked view is reached through it (``x._base``), walked when first asked for:
        a write through an argument that is a view reaches the base of *that* call, while
        calls that never touch the base do not guard it (its size varies with the view's)."""
        node = self.tensors.get(id(t))
        if node is None and self.walker is not None and id(t) in self.walker.views:
            view = self.walker.views[id(t)]
            node = self.walker.visit(t, view.path + (Step("slot", "_base"),))
            view.children.append(node)
            node = self.tensors.get(id(t))
        return node

    def tensor_over(self, array) -> Tensor | None:
        """The walked tensor whose storage is ``array`` (a parameter whose ``.data`` the
        traced code took), or None."""
        if self._by_array is None:
            self._by_array = {id(node.obj._data): node.obj for node in self.tensors.values()}
        return self._by_array.get(id(array))

    def large_arrays(self) -> set[int]:
        """The ids of the walked numpy arrays too large to be compared by value (the guard
        checks their identity only), and of the arrays owning their memory."""
        if self._large is None:
            arrays = [
                n.obj for n in self.first.values() if n.kind == OPAQUE and isinstance(n.obj, np.ndarray)
            ]
            self._large = {id(a) for a in arrays} | ({storage(a) for a in arrays} - {None})
        return self._large

    def describe(self, node: StateNode) -> str:
        """A readable name for ``node``'s source (``model.0.weight``)."""
        return describe(node.path, self.name_of)

    def name_of(self, obj: Any) -> str:
        node = self.first.get(id(obj))
        return describe(node.path, self.name_of) if node is not None else type(obj).__name__

    def nodes(self):
        """Every node, parents before children, in walk order."""
        stack = list(reversed(self.roots))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


def slotted(node: StateNode) -> bool:
    """Whether ``node`` is an object of a ``__slots__`` class walked slot by slot."""
    return any(child.step.how == "slot" for child in node.children)


# --- walking ------------------------------------------------------------------------------


class _Walker:
    def __init__(self) -> None:
        self.first: dict[int, StateNode] = {}
        self.tensors: dict[int, StateNode] = {}
        self.views: dict[int, StateNode] = {}  # id(base) -> a walked view of it
        # id(tensor) -> id of its grad_fn, of the tensors that require grad: an in-place op
        # autograd records gives the tensor another (which links to the old, kept alive)
        self.grad_fns: dict[int, int] = {}
        self.names: set[str] = set()  # every name a walked function's code may read
        self.modules_reached: list[StateNode] = []  # user modules reached through an attribute
        self.count = 0
        self.truncated = False
        self.stateful = stateful_library_classes()

    def visit(self, obj: Any, path: tuple[Step, ...]) -> StateNode:
        self.count += 1
        if is_value(obj):
            return StateNode(path, VALUE, obj, (type(obj), obj))
        seen = self.first.get(id(obj))
        if seen is not None:
            return StateNode(path, ALIAS, obj, target=seen)
        if self.count > MAX_NODES:
            self.truncated = True
            return self._register(StateNode(path, OPAQUE, obj))
        if isinstance(obj, Tensor):
            if obj.is_sparse:  # no dense array to record: its ops break the graph (irgrad.sparse)
                return self._register(StateNode(path, OPAQUE, obj))
            return self._tensor(obj, path)
        if isinstance(obj, dict):
            return self._dict(obj, path)
        if isinstance(obj, (list, tuple)) or type(obj) is collections.deque:
            return self._sequence(obj, path)
        if type(obj) in CONTENT_TYPES:  # (a frozenset of values is a value, above)
            return self._contents(obj, path)
        if isinstance(obj, np.ndarray):
            if obj.size > MAX_ARRAY:
                return self._register(StateNode(path, OPAQUE, obj))
            return self._register(StateNode(path, ARRAY, obj, obj.copy()))
        if isinstance(obj, types.FunctionType):
            return self._function(obj, path)
        if isinstance(obj, types.MethodType):
            node = self._register(StateNode(path, OPAQUE, obj))
            node.children = [
                self.visit(obj.__self__, path + (Step("self"),)),
                self.visit(obj.__func__, path + (Step("func"),)),
            ]
            return node
        if isinstance(obj, functools.partial):
            node = self._register(StateNode(path, OPAQUE, obj))
            node.children = [
                self.visit(getattr(obj, part), path + (Step("partial", part),))
                for part in ("func", "args", "keywords")
            ]
            return node
        if isinstance(obj, type):
            return self._class(obj, path)
        if isinstance(obj, types.ModuleType):
            node = self._register(StateNode(path, OPAQUE, obj))
            if is_user_module(obj):  # reached through an attribute: walked for what code reads (finish)
                self.modules_reached.append(node)
            return node
        if hasattr(obj, "_compiled") and hasattr(obj, "_orig_mod"):  # a CompiledModule
            return self._object(obj, path)
        if isinstance(obj, self.stateful) or is_user_class(type(obj)):
            return self._object(obj, path)
        if is_irgrad_class(type(obj)) or not hasattr(obj, "__dict__"):
            return self._register(StateNode(path, OPAQUE, obj))
        return self._object(obj, path)  # a stdlib or package object with attributes (a SimpleNamespace)

    def _register(self, node: StateNode) -> StateNode:
        self.first[id(node.obj)] = node
        return node

    def _tensor(self, t: Tensor, path: tuple) -> StateNode:
        if is_lazy(t):
            raise Uninitialized(describe(path))
        data = t._data
        # the strides of an array whose shape and contiguity do not give them (code may
        # read ``x.stride()``): a non-contiguous one, or one with a dim of size 1 or 0,
        # whose stride numpy and PyTorch ignore; and whether a tensor that requires grad
        # is a leaf (code may read ``x.is_leaf``, ``x.grad_fn``)
        strides = None if data.flags.c_contiguous and min(data.shape, default=2) > 1 else data.strides
        leaf = (t._node is None) if t._rg else None
        info = (
            type(t),
            data.shape,
            data.dtype,
            t._rg,
            data.flags.c_contiguous,
            tuple(t.__dict__),
            strides,
            leaf,
        )
        node = self._register(StateNode(path, TENSOR, t, info))
        self.tensors[id(t)] = node
        if t._rg:
            self.grad_fns[id(t)] = id(t._node)
        node.children.append(self.visit(t._grad, path + (Step("slot", "_grad"),)))
        node.children.append(self.visit(t._hooks, path + (Step("slot", "_hooks"),)))  # backward hooks
        if t._base is not None:  # a view: walked to its base when a trace needs it (source_of)
            self.views.setdefault(id(t._base), node)
        for key, value in t.__dict__.items():
            node.children.append(self.visit(value, path + (Step("attr", key),)))
        return node

    def _dict(self, d: dict, path: tuple) -> StateNode:
        if len(d) > MAX_ITEMS:
            return self._register(StateNode(path, LARGE, d, (type(d), len(d))))
        node = self._register(StateNode(path, DICT, d, (type(d), tuple(d))))
        node.children = [self.visit(v, path + (Step("item", k),)) for k, v in list(d.items())]
        for key, value in list(getattr(d, "__dict__", {}).items()):  # a dict subclass's attributes
            node.children.append(self.visit(value, path + (Step("attr", key),)))
        return node

    def _sequence(self, s, path: tuple) -> StateNode:
        if len(s) > MAX_ITEMS:
            return self._register(StateNode(path, LARGE, s, (type(s), len(s))))
        node = self._register(StateNode(path, SEQ, s, (type(s), len(s))))
        node.children = [self.visit(v, path + (Step("item", i),)) for i, v in enumerate(s)]
        if isinstance(s, collections.deque):  # how long it may grow: ``len(d) == d.maxlen``
            node.children.append(self.visit(s.maxlen, path + (Step("slot", "maxlen"),)))
        for key, value in list(getattr(s, "__dict__", {}).items()):  # a list subclass's attributes
            node.children.append(self.visit(value, path + (Step("attr", key),)))
        return node

    def _contents(self, obj, path: tuple) -> StateNode:
        if len(obj) > MAX_ITEMS:
            return self._register(StateNode(path, LARGE, obj, (type(obj), len(obj))))
        return self._register(StateNode(path, CONTENTS, obj, (type(obj), contents(obj))))

    def _function(self, fn: types.FunctionType, path: tuple) -> StateNode:
        node = self._register(StateNode(path, FUNCTION, fn))
        compiled = getattr(fn, "_compiled", None)
        if compiled is not None and hasattr(compiled, "fn"):  # irgrad.compile's wrapper
            node.children.append(self.visit(compiled.fn, path + (Step("compiled"),)))
            return node
        if not is_user_file(fn.__code__.co_filename):
            node.kind = OPAQUE
            return node
        code = fn.__code__
        names, attributes = code_names(code), attributes_read(code)
        self.names |= names
        for i, name in enumerate(code.co_freevars):
            try:
                value = fn.__closure__[i].cell_contents
            except ValueError:  # an empty cell (a variable assigned later)
                continue
            step = Step("cell", (i, name))
            node.children.append(self._read_by(value, path + (step,), names, attributes.get(name, set())))
        namespace = fn.__globals__
        for name in sorted(names):
            if name in namespace:
                value, step = namespace[name], Step("global", name)
                node.children.append(self._read_by(value, path + (step,), names, attributes.get(name, set())))
        for i, value in enumerate(fn.__defaults__ or ()):
            node.children.append(self.visit(value, path + (Step("default", i),)))
        for name, value in (fn.__kwdefaults__ or {}).items():
            node.children.append(self.visit(value, path + (Step("kwdefault", name),)))
        return node

    def _read_by(self, value: Any, path: tuple, names: set[str], attributes: set[str]) -> StateNode:
        """``value``, a variable of a function whose code may read the attributes ``names``
        of anything, and reads ``attributes`` of this variable itself.

        A user's module is walked for any of ``names`` it holds (``import config`` ...
        ``config.scale``, read in one function or passed on to another); a library's module
        for the ``attributes`` that hold state (``os.environ``, a list or dict), not its
        functions, classes and submodules, which are as constant as its code."""
        if not isinstance(value, types.ModuleType) or value.__name__.split(".")[0] == "irgrad":
            return self.visit(value, path)
        if is_user_module(value):
            return self._module(value, path, names)
        held = vars(value)  # (not getattr: a module's __getattr__ may import, or raise)
        return self._module(value, path, {a for a in attributes if holds_state(held.get(a))})

    def finish(self) -> None:
        """Walk the user modules reached through an object's attribute (``self.cfg`` a
        module) for the attributes a walked function's code may read: walked for all
        their globals, a change of an unrelated counter recompiled every call."""
        done = None
        while done != (len(self.modules_reached), len(self.names)):
            done = (len(self.modules_reached), len(self.names))
            for node in list(self.modules_reached):
                self._module(node.obj, node.path, set(self.names))

    def _module(self, module: types.ModuleType, path: tuple, names: set[str]) -> StateNode:
        """A module walked for its attributes ``names``, added to its node as other
        functions need more."""
        self.count += 1
        seen = self.first.get(id(module))
        node = seen or self._register(StateNode(path, OPAQUE, module))
        held = {child.step.key for child in node.children}
        attrs = vars(module)
        for name in sorted(names - held):
            if name in attrs and not name.startswith("__"):
                node.children.append(self.visit(attrs[name], node.path + (Step("attr", name),)))
        return node if seen is None else StateNode(path, ALIAS, module, target=seen)

    def _class(self, cls: type, path: tuple) -> StateNode:
        node = self._register(StateNode(path, OPAQUE, cls))
        if not is_user_class(cls):
            return node
        for name, value in list(vars(cls).items()):
            if name.startswith("__") and name.endswith("__"):
                continue
            if isinstance(value, (staticmethod, classmethod, property)):  # its function, read through it
                # (a property's getter, walked for what it reads: the guard reads it off the
                # property, which it holds by identity; it failed at every call when it read
                # ``fget`` off the class)
                held = self._register(StateNode(path + (Step("attr", name),), OPAQUE, value))
                part = "fget" if isinstance(value, property) else "__func__"
                function = getattr(value, part)
                if function is not None:
                    held.children.append(self.visit(function, held.path + (Step("partial", part),)))
                node.children.append(held)
                continue
            node.children.append(self.visit(value, path + (Step("attr", name),)))
        for k, base in enumerate(cls.__bases__):  # what an instance inherits (Base.factor)
            if is_user_class(base):
                node.children.append(self.visit(base, path + (Step("base", k),)))
        return node

    def _object(self, obj: Any, path: tuple) -> StateNode:
        attrs = getattr(obj, "__dict__", None)
        if attrs is None:
            node = self._register(StateNode(path, OPAQUE, obj))
            if is_user_class(type(obj)):  # a class with __slots__: each slot set
                for name in slot_names(type(obj)):
                    if hasattr(obj, name):
                        node.children.append(self.visit(getattr(obj, name), path + (Step("slot", name),)))
                node.children.append(self.visit(type(obj), path + (Step("type"),)))
            return node
        node = self._register(StateNode(path, OBJECT, obj, (type(obj), tuple(attrs))))
        node.children = [self.visit(v, path + (Step("attr", k),)) for k, v in list(attrs.items())]
        if is_user_class(type(obj)):
            node.children.append(self.visit(type(obj), path + (Step("type"),)))
        return node


class Uninitialized(Exception):
    """The state holds a lazy module's placeholder parameter (``irgrad.nn.LazyLinear`` before
    its first call, which gives it its shape): there is no state to compile for yet."""


def walk(fn: Any, args: tuple, kwargs: dict) -> Snapshot:
    """The state reachable from a call of ``fn(*args, **kwargs)`` (see the module doc)."""
    walker = _Walker()
    roots = [
        walker.visit(fn, (Step("root", ROOT_FN),)),
        walker.visit(args, (Step("root", ROOT_ARGS),)),
        walker.visit(kwargs, (Step("root", ROOT_KWARGS),)),
    ]
    walker.finish()
    return Snapshot(roots, walker.first, walker.tensors, walker.truncated, walker=walker)


def follow(roots: tuple, path: tuple[Step, ...]) -> Any:
    """The object at ``path`` now (``roots`` is ``(fn, args, kwargs)``)."""
    obj: Any = roots
    for step in path:
        obj = read(obj, step)
    return obj
