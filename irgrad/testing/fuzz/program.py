"""A fuzz program: inputs, straight-line statements and a return, rendered as source.

Statements keep their operands apart from their text (``template`` has ``{0}``,
``{1}``... where ``args`` go), so the shrinker can delete statements, cut a
dependency by replacing an operand with a new input, and rename variables, all
without parsing Python.  The rendered source is what runs (``exec``), what a failure
prints and what a regression test contains, so a failing program can be pasted.

Names say what a variable is: ``x*`` floating inputs, ``i*`` integer inputs, ``m*``
bool masks, ``v*`` statement results, ``s*`` Python numbers.  A stateful program's
free tensors are inputs whose ``source`` is not ``"arg"``: the body reads them
through their path (a closure variable, a global, ``S.name`` or ``BOX["name"]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

HEADER = "import irgrad as torch\nimport irgrad.nn as nn\nimport irgrad.nn.functional as F\n"


@dataclass(frozen=True)
class Input:
    """An input of a program: how its values are drawn, and how the body reaches it.

    ``draw`` is ``"normal"`` (scaled standard normal), ``"unit"`` (uniform in [0, 1]),
    ``"int"`` (uniform integers in ``[lo, hi)``), ``"bool"`` (True with probability
    ``p``) or ``"fixed"`` (a value taken from the program itself, not redrawn).
    ``batch``: dimension 0 is the batch size, which the batch-size modes change.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    draw: str = "normal"
    batch: bool = False
    lo: int = 0
    hi: int = 0
    p: float = 0.5
    scale: float = 1.0
    special: bool = False  # some elements are NaN, +-inf, +-0, huge or tiny
    ties: bool = False  # values rounded to small integers (ties for max/argmax/sort)
    source: str = "arg"  # "arg", "closure", "global", "attr" (S.name) or "dict" (BOX["name"])
    requires_grad: bool = False  # a free tensor that is a leaf requiring grad

    def ref(self) -> str:
        """How the function body refers to this input."""
        if self.source == "attr":
            return f"S.{self.name}"
        if self.source == "dict":
            return f'BOX["{self.name}"]'
        return self.name


@dataclass(frozen=True)
class Stmt:
    """One statement: ``targets = template.format(*args)`` (no targets: a bare statement)."""

    targets: tuple[str, ...]
    template: str
    args: tuple[str, ...]
    op: str

    def render(self, refs: dict[str, str]) -> str:
        text = self.template.format(*[refs.get(a, a) for a in self.args])
        return f"{', '.join(self.targets)} = {text}" if self.targets else text


@dataclass(frozen=True)
class Program:
    """A straight-line function ``f(args...)`` over irgrad's public API."""

    inputs: tuple[Input, ...]
    stmts: tuple[Stmt, ...]
    result: str  # template of the returned expression
    result_args: tuple[str, ...]
    uses_rng: bool = False
    globals_: tuple[tuple[str, str], ...] = field(
        default=()
    )  # Python globals the body reads: (name, value text)

    def params(self) -> list[Input]:
        return [i for i in self.inputs if i.source == "arg"]

    def refs(self) -> dict[str, str]:
        return {i.name: i.ref() for i in self.inputs}

    def body_lines(self) -> list[str]:
        refs = self.refs()
        lines = [s.render(refs) for s in self.stmts]
        lines.append("return " + self.result.format(*[refs.get(a, a) for a in self.result_args]))
        return lines

    def function_source(self, name: str = "f") -> str:
        head = f"def {name}({', '.join(i.name for i in self.params())}):"
        return head + "".join("\n    " + line for line in self.body_lines()) + "\n"

    def source(self) -> str:
        """Self-contained module text defining ``f``."""
        return HEADER + "\n\n" + self.function_source()

    def ops(self) -> list[str]:
        return [s.op for s in self.stmts]

    def used_names(self) -> set[str]:
        names = set(self.result_args)
        for s in self.stmts:
            names.update(s.args)
        return names

    def without_unused_inputs(self) -> Program:
        used = self.used_names()
        return replace(self, inputs=tuple(i for i in self.inputs if i.name in used or i.source != "arg"))


def torch_source(source: str) -> str:
    """The same program for PyTorch (a program's source speaks PyTorch, importing irgrad as torch)."""
    return source.replace("import irgrad as torch", "import torch").replace("irgrad.", "torch.")


def input_prefix(dtype: str) -> str:
    """The name prefix of an input of this dtype."""
    if dtype == "bool":
        return "m"
    if dtype.startswith("int") or dtype.startswith("uint"):
        return "i"
    return "x"


def draw_values(spec: Input, rng: np.random.Generator, batch: int | None = None) -> np.ndarray:
    """New values for an input (``batch`` replaces dimension 0 when the input is batched)."""
    shape = tuple(spec.shape)
    if spec.batch and batch is not None:
        shape = (batch,) + shape[1:]
    dtype = np.dtype(spec.dtype)
    if spec.draw == "int":
        return np.asarray(rng.integers(spec.lo, spec.hi, size=shape), dtype=dtype)
    if spec.draw == "bool":
        return np.asarray(rng.random(shape) < spec.p)
    if spec.draw == "unit":
        return np.asarray(rng.random(shape), dtype=dtype)
    values = rng.standard_normal(shape) * spec.scale
    if spec.ties:
        values = np.round(values)
    if spec.special and values.size:
        specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 1e-40, 88.0, -1e4])
        hit = rng.random(shape) < 0.2
        values = np.where(hit, rng.choice(specials, size=shape), values)
    return np.asarray(values, dtype=dtype)
