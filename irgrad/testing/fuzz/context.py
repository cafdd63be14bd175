"""The generation context: a program under construction, run as it is written.

Every proposed statement is executed at once, eagerly, in two environments: the
first call's inputs and inputs with another batch size.  A statement is kept only
if it runs in both, so a generated program is well typed by construction, runs
at both batch sizes (sizes derived from the batch are never baked into the text
unless they happen to be valid for both), and the types of its variables are read
from real tensors instead of being re-derived by hand.

When irgrad rejects a statement, the program so far is replayed in PyTorch (if it is
installed): if PyTorch runs it, irgrad's eager mode has a defect, recorded in
``eager_crashes`` for the report.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np

import irgrad

from ..differential import arguments
from .program import HEADER, Input, Program, Stmt, draw_values, input_prefix, torch_source

FLOAT_DTYPES = ("float32", "float64")
SIZES = (1, 1, 2, 2, 3, 3, 4, 5)
TORCH_CHECKS_PER_MESSAGE = 2


@dataclass
class EagerCrash:
    """A program (ending with the statement) irgrad's eager mode rejected and PyTorch ran."""

    program: Program
    arrays: dict  # input name -> the values it ran on
    grad: bool  # autograd on, float inputs requiring grad
    error: str
    op: str

    @property
    def source(self) -> str:
        return self.program.source()


class Gen:
    """A program being generated; see the module docstring."""

    def __init__(self, rng: np.random.Generator, *, grad: bool, special: bool, batch_sizes: tuple[int, int]):
        self.rng = rng
        self.grad = grad
        self.special = special
        self.batch_sizes = batch_sizes
        self.inputs: list[Input] = []
        self.stmts: list[Stmt] = []
        self.arrays: dict[str, list[np.ndarray]] = {}
        self.envs: list[dict] = [self._namespace(), self._namespace()]
        self.order: list[str] = []  # every variable, in creation order
        self.scalars: set[str] = set()  # variables holding Python numbers
        self.bounds: dict[str, tuple[int, int]] = {}  # integer tensors whose values lie in [lo, hi)
        self.uses: Counter = Counter()
        self.uses_rng = False
        self.n_inputs = 0
        self.n_vars = 0
        self.pending: list[str] = []  # inputs made for the statement being proposed
        self.eager_crashes: list[EagerCrash] = []
        self.torch_checked: Counter = Counter()

    # --- environments -----------------------------------------------------------------------
    @staticmethod
    def _namespace() -> dict:
        ns: dict = {}
        exec(HEADER, ns)
        return ns

    def value(self, name: str, env: int = 0):
        return self.envs[env][name]

    def shape(self, name: str, env: int = 0) -> tuple[int, ...]:
        return tuple(self.envs[env][name].shape)

    def ndim(self, name: str) -> int:
        return len(self.shape(name))

    def dtype(self, name: str) -> str:
        return str(self.envs[0][name].dtype).split(".")[-1]

    def is_float(self, name: str) -> bool:
        return self.dtype(name) in FLOAT_DTYPES

    def varying(self, name: str) -> set[int]:
        """Axes whose size differs between the two batch sizes (all axes if the ranks differ)."""
        a, b = self.shape(name, 0), self.shape(name, 1)
        if len(a) != len(b):
            return set(range(len(a)))
        return {i for i, (x, y) in enumerate(zip(a, b)) if x != y}

    def fixed_axes(self, name: str) -> list[int]:
        varying = self.varying(name)
        return [d for d in range(self.ndim(name)) if d not in varying]

    def numel(self, name: str) -> int:
        return math.prod(self.shape(name))

    # --- choosing operands ------------------------------------------------------------------
    def tensors(self, pred=None) -> list[str]:
        return [n for n in self.order if n not in self.scalars and (pred is None or pred(n))]

    def pick(self, pred=None) -> str | None:
        """A tensor variable satisfying ``pred``: mostly the newest, else an unused or any one."""
        found = self.tensors(pred)
        if not found:
            return None
        r = self.rng.random()
        if r < 0.45:
            return found[-1]
        unused = [n for n in found if self.uses[n] == 0]
        if r < 0.7 and unused:
            return unused[int(self.rng.integers(len(unused)))]
        return found[int(self.rng.integers(len(found)))]

    def pick_float(self, min_rank: int = 0, max_rank: int = 4, pred=None, new: float = 0.15) -> str:
        """A floating tensor of rank in [min_rank, max_rank] (a new input if none fits or by chance)."""

        def ok(n: str) -> bool:
            return self.is_float(n) and min_rank <= self.ndim(n) <= max_rank and (pred is None or pred(n))

        name = None if self.rng.random() < new else self.pick(ok)
        if name is None:
            rank = int(self.rng.integers(min_rank, max_rank + 1))
            name = self.new_input(
                self.float_dtype(), self.random_shape(rank), batch=rank > 0 and self.coin(0.6)
            )
        return name

    def coin(self, p: float = 0.5) -> bool:
        return bool(self.rng.random() < p)

    def choice(self, options):
        return options[int(self.rng.integers(len(options)))]

    def float_dtype(self) -> str:
        return "float64" if self.coin(0.2) else "float32"

    def random_shape(self, rank: int, zero: float = 0.05) -> tuple[int, ...]:
        return tuple(0 if self.coin(zero) else self.choice(SIZES) for _ in range(rank))

    def axis(self, ndim: int, allowed=None) -> tuple[int, str] | None:
        """A random axis of a tensor of rank ``ndim`` and its text (negative half the time)."""
        axes = [d for d in range(ndim) if allowed is None or d in allowed]
        if not axes:
            return None
        d = self.choice(axes)
        return d, str(d - ndim if self.coin(0.4) else d)

    # --- inputs ------------------------------------------------------------------------------
    def new_input(self, dtype: str, shape: tuple[int, ...], *, batch: bool = False, **spec) -> str:
        """A new input (a function argument) with values drawn for both environments."""
        name = f"{input_prefix(dtype)}{self.n_inputs}"
        self.n_inputs += 1
        if "draw" not in spec:
            if dtype == "bool":
                spec["draw"] = "bool"
            elif input_prefix(dtype) == "i":
                spec.setdefault("lo", -4)
                spec.setdefault("hi", 5)
                spec["draw"] = "int"
            else:
                spec.setdefault("scale", self.choice((0.5, 1.0, 1.0, 3.0)))
                spec.setdefault("special", self.special and self.coin(0.7))
                spec.setdefault("ties", self.coin(0.15))
        if batch and shape:
            shape = (self.batch_sizes[0],) + tuple(shape[1:])
        else:
            batch = False
        spec_ = Input(name=name, dtype=dtype, shape=tuple(shape), batch=batch, **spec)
        self.inputs.append(spec_)
        self.arrays[name] = [draw_values(spec_, self.rng, b) for b in self.batch_sizes]
        for env, array in zip(self.envs, self.arrays[name]):
            t = irgrad.from_numpy(array.copy())
            if self.grad and t.is_floating_point():
                t.requires_grad_(True)
            env[name] = t
        if spec_.draw == "int":
            self.bounds[name] = (spec_.lo, spec_.hi)
        self.order.append(name)
        self.pending.append(name)
        return name

    def index_for(self, size: int, shape: tuple[int, ...], negative: bool = False) -> str | None:
        """An integer tensor of ``shape`` whose values index a dimension of ``size``."""
        if size == 0:
            return None
        lo = -size if negative else 0

        def ok(n: str) -> bool:
            b = self.bounds.get(n)
            return (
                b is not None
                and b[0] >= lo
                and b[1] <= size
                and self.shape(n) == shape
                and not self.varying(n)
            )

        found = self.pick(ok) if self.coin(0.5) else None
        return found or self.new_input("int64", shape, lo=lo, hi=size, draw="int")

    # --- statements ----------------------------------------------------------------------------
    def emit(self, template: str, args: tuple[str, ...], op: str, n_out: int = 1, scalar: bool = False):
        """Run a proposed statement in both environments; keep it if it runs in both.

        Returns the new variables' names (``[]`` for a bare statement), or None when the
        statement was rejected (the inputs made for it are then forgotten).
        """
        prefix = "s" if scalar else "v"
        targets = tuple(f"{prefix}{self.n_vars + k}" for k in range(n_out))
        stmt = Stmt(targets, template, tuple(args), op)
        line = stmt.render({i.name: i.ref() for i in self.inputs})
        for env_index, env in enumerate(self.envs):
            error = self._run(line, env)
            if error is None and not all(_valid_result(env.get(t), scalar) for t in targets):
                self._rollback(targets)  # e.g. a tuple where one tensor was expected
                return None
            if error is not None:
                if env_index == 0:
                    self._check_with_torch(stmt, line, error)
                self._rollback(targets)
                return None
        self.n_vars += n_out
        self.stmts.append(stmt)
        self.order.extend(targets)
        if scalar:
            self.scalars.update(targets)
        self.uses.update(args)
        self.pending = []
        return list(targets)

    def add(
        self, template: str, args: tuple[str, ...], op: str, n_out: int = 1, scalar: bool = False
    ) -> bool:
        """``emit`` for a generator that only needs to know whether the statement was kept."""
        return self.emit(template, args, op, n_out, scalar) is not None

    def _run(self, line: str, env: dict) -> BaseException | None:
        try:
            with warnings.catch_warnings(), irgrad.set_grad_enabled(self.grad):
                warnings.simplefilter("ignore")
                exec(line, env)
        except Exception as error:  # a proposal irgrad rejects: the program must not contain it
            return error
        return None

    def _rollback(self, targets: tuple[str, ...]) -> None:
        for name in self.pending:
            self.inputs = [i for i in self.inputs if i.name != name]
            self.order.remove(name)
            self.arrays.pop(name)
            self.bounds.pop(name, None)
            for env in self.envs:
                env.pop(name, None)
        for env in self.envs:
            for t in targets:
                env.pop(t, None)
        self.pending = []
        # a rejected in-place statement may have changed a variable before raising: rebuild
        self._replay()

    def _replay(self) -> None:
        for k in range(len(self.envs)):
            fresh = self._namespace()
            for spec in self.inputs:
                t = irgrad.from_numpy(self.arrays[spec.name][k].copy())
                if self.grad and t.is_floating_point():
                    t.requires_grad_(True)
                fresh[spec.name] = t
            refs = {i.name: i.ref() for i in self.inputs}
            for stmt in self.stmts:
                self._run(stmt.render(refs), fresh)
            self.envs[k] = fresh

    def _check_with_torch(self, stmt: Stmt, line: str, error: BaseException) -> None:
        """Record the statement as an eager defect if PyTorch runs the same program."""
        key = (type(error).__name__, re.sub(r"\d+", "N", str(error))[:80])
        if self.torch_checked[key] >= TORCH_CHECKS_PER_MESSAGE:
            return
        self.torch_checked[key] += 1
        try:
            import torch  # deferred: PyTorch is an optional oracle, and heavy to import
        except ImportError:
            return
        del torch
        program = self.snapshot(extra=[stmt])
        arrays = {i.name: self.arrays[i.name][0] for i in program.params()}
        if run_in_torch(program, list(arrays.values()), self.grad) is None:
            self.eager_crashes.append(
                EagerCrash(program, arrays, self.grad, f"{type(error).__name__}: {error}", stmt.op)
            )

    # --- finishing ---------------------------------------------------------------------------
    def snapshot(self, extra=(), result: str | None = None, result_args=()) -> Program:
        stmts = tuple(self.stmts) + tuple(extra)
        last = [t for s in stmts for t in s.targets][-1:] or [self.inputs[0].name]
        if result is None:
            result, result_args = "{0}", tuple(last)
        program = Program(tuple(self.inputs), stmts, result, tuple(result_args), self.uses_rng)
        return program


def _valid_result(value, scalar: bool) -> bool:
    if scalar:
        return isinstance(value, (int, float, bool)) and not isinstance(value, irgrad.Tensor)
    return isinstance(value, irgrad.Tensor)


def run_in_torch(program: Program, arrays: list[np.ndarray], grad: bool) -> BaseException | None:
    """Run a program in PyTorch (the same source, ``torch`` being PyTorch); the exception or None."""
    import torch  # deferred: PyTorch is an optional oracle, and heavy to import

    ns: dict = {}
    try:
        with warnings.catch_warnings(), torch.set_grad_enabled(grad):
            warnings.simplefilter("ignore")
            exec(torch_source(program.source()), ns)
            ns["f"](*arguments(arrays, grad, lib=torch))
    except Exception as error:
        return error
    return None
