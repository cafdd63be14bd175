"""Stateful programs: functions that read and change state outside their arguments.

Two kinds, compared eager against compiled from identical fresh state (the source
is executed twice), call after call, on every output and on everything the program
can change (``observe()``):

- ``free``: a random straight-line body (from the ordinary generator) whose
  non-batch inputs become *free tensors*, reached through a closure, a global, an
  attribute ``S.name`` or a dict ``BOX["name"]``, some of them leaves that require
  grad (a weighted backward runs after each call, so ``.grad`` accumulates).  The
  body may also update free buffers in place, read Python globals, and set
  ``S.last``.  Between calls, free tensors are changed in place or rebound and
  globals change.
- ``train``: a small ``nn.Sequential``, a loss, ``backward()`` and an optimizer step
  (SGD with momentum/nesterov/weight decay, Adam, AdamW; gradient clipping and an lr
  scheduler sometimes) run for several calls, wholly inside the function or with the
  backward and step outside it.
"""

from __future__ import annotations

import re
import warnings
import zlib
from dataclasses import dataclass, field, replace

import numpy as np

from ..differential import _load, arguments, check_stateful
from .generate import generate
from .program import HEADER, Input, Program, Stmt, draw_values
from .regression import array_literal
from .runner import Case, Outcome, classify, fell_back

CALLS = 4
SOURCES = ("closure", "global", "attr", "dict")
NAME_PREFIX = {"closure": "w", "global": "g", "attr": "a", "dict": "d"}


@dataclass(frozen=True)
class TrainStep:
    """A training step: model layers, optimizer, loss, and where backward/step run."""

    layers: tuple[str, ...]
    optimizer: str  # "SGD", "Adam" or "AdamW"
    options: tuple[str, ...]  # keyword arguments of the optimizer, e.g. "momentum=0.9"
    loss: str  # "mse" or "cross_entropy"
    placement: str  # "step": all inside f; "loss": f returns the loss; "backward": f runs backward
    clip: bool = False
    scheduler: bool = False

    def setup(self) -> list[str]:
        lines = ["model = nn.Sequential(" + ", ".join(self.layers) + ")"]
        lines.append(
            f"opt = torch.optim.{self.optimizer}({', '.join(('model.parameters()',) + self.options)})"
        )
        if self.scheduler:
            lines.append("sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)")
        return lines

    def loss_text(self, x: str, y: str) -> str:
        return f"F.mse_loss(model({x}), {y})" if self.loss == "mse" else f"F.cross_entropy(model({x}), {y})"

    def update_lines(self) -> list[str]:
        lines = ["torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)"] if self.clip else []
        lines.append("opt.step()")
        if self.scheduler:
            lines.append("sched.step()")
        return lines


@dataclass(frozen=True)
class StatefulProgram:
    """A stateful program (see the module docstring); ``body`` holds its function's arguments."""

    body: Program
    data: dict = field(default_factory=dict)  # free tensor name -> initial value
    between: tuple[str, ...] = ()  # statements run between calls
    scalars: tuple[tuple[str, str], ...] = ()  # Python globals: (name, initial value)
    train: TrainStep | None = None
    coefs: tuple[float, ...] = ()  # weights of the backward after each call (free kind)

    # --- what the shrinker and the runner need -------------------------------------------------
    @property
    def inputs(self):
        return self.body.inputs

    def params(self) -> list[Input]:
        return self.body.params()

    def ops(self) -> list[str]:
        if self.train is not None:
            return [
                f"train_{self.train.placement}",
                f"optim_{self.train.optimizer}",
                f"loss_{self.train.loss}",
            ]
        return self.body.ops() + ["free_" + i.source for i in self.free()]

    def free(self) -> list[Input]:
        return [i for i in self.body.inputs if i.source != "arg"]

    def state_size(self) -> int:
        """What the shrinker counts beside the body: state, actions, training options."""
        n = 50 * len(self.between) + 20 * len(self.scalars)
        n += sum(10 * i.requires_grad + 5 * (i.source != "closure") for i in self.free())
        t = self.train
        if t is not None:
            n += 20 * (len(t.options) + t.clip + t.scheduler + len(t.layers))
        return n

    # --- source ------------------------------------------------------------------------------------
    def function_source(self) -> str:
        """What a report shows: the whole program (its state is part of it)."""
        return self.source().split("from types import SimpleNamespace\n", 1)[1].strip("\n") + "\n"

    def source(self) -> str:
        lines = [
            HEADER + "from types import SimpleNamespace\n",
            "torch.manual_seed(0)",
            "S = SimpleNamespace()",
            "BOX = {}",
        ]
        for spec in self.free():
            if spec.source != "closure":
                lines.append(f"{spec.ref()} = {_tensor_text(spec)}")
        lines += [f"{name} = {value}" for name, value in self.scalars]
        if self.train is not None:
            lines += self.train.setup()
        lines += ["", "", "def make():"]
        closures = [i.name for i in self.free() if i.source == "closure"]
        for spec in self.free():
            if spec.source == "closure":
                lines.append(f"    {spec.name} = {_tensor_text(spec)}")
        lines.append("")
        lines += ["    " + line for line in self.function_lines()]
        lines += ["", "    def between(k):"]
        if closures:
            lines.append(f"        nonlocal {', '.join(closures)}")
        globals_ = [i.name for i in self.free() if i.source == "global"] + [n for n, _ in self.scalars]
        if globals_:
            lines.append(f"        global {', '.join(globals_)}")
        lines += ["        " + line for line in self.between] or ["        pass"]
        lines += ["", "    def observe():", "        return {"]
        for key, expr in self.observed():
            lines.append(f"            {key!r}: {expr},")
        lines += ["        }", ""]
        lines += self.after_lines()
        lines += ["    return f, between, observe" + (", after" if self.after_lines() else ""), "", ""]
        lines.append("f, between, observe" + (", after" if self.after_lines() else "") + " = make()")
        return "\n".join(lines) + "\n"

    def function_lines(self) -> list[str]:
        params = ", ".join(i.name for i in self.params())
        if self.train is None:
            return [line for line in self.body.function_source().splitlines()]
        x, y = (i.name for i in self.params())
        t = self.train
        body = [f"def f({params}):"]
        if t.placement == "step":
            body += ["    opt.zero_grad()", f"    loss = {t.loss_text(x, y)}", "    loss.backward()"]
            body += ["    " + line for line in t.update_lines()] + ["    return loss.detach()"]
        elif t.placement == "backward":
            body += [f"    loss = {t.loss_text(x, y)}", "    loss.backward()", "    return loss.detach()"]
        else:
            body += [f"    return {t.loss_text(x, y)}"]
        return body

    def after_lines(self) -> list[str]:
        t = self.train
        if t is not None:
            if t.placement == "step":
                return []
            lines = ["    def after(out):"]
            if t.placement == "loss":
                lines.append("        out.backward()")
            lines += ["        " + line for line in t.update_lines()] + ["        opt.zero_grad()", ""]
            return lines
        if not any(i.requires_grad for i in self.free()) or not self.coefs:
            return []
        return [
            "    def after(out):",
            "        outs = out if isinstance(out, (tuple, list)) else list(out.values()) if isinstance(out, dict) else [out]",
            f"        terms = [(o * c).sum() for o, c in zip(outs, {list(self.coefs)!r}) if isinstance(o, torch.Tensor) and o.requires_grad]",
            "        if terms:",
            "            sum(terms).backward()",
            "",
        ]

    def observed(self) -> list[tuple[str, str]]:
        if self.train is not None:
            items = [
                ("params", "[p.detach() for p in model.parameters()]"),
                ("grads", "[p.grad for p in model.parameters()]"),
            ]
            items.append(("optimizer state", "[dict(opt.state[p]) for p in model.parameters()]"))
            items.append(("lr", "opt.param_groups[0]['lr']"))
            return items
        items = []
        for spec in self.free():
            items.append((spec.ref(), f"{spec.ref()}.detach()"))
            if spec.requires_grad:
                items.append((spec.ref() + ".grad", f"{spec.ref()}.grad"))
        items += [(name, name) for name, _ in self.scalars]
        items.append(("S.last", "getattr(S, 'last', None)"))
        return items

    # --- running --------------------------------------------------------------------------------
    def run(self, case: Case) -> Outcome:

        calls = [[call[i.name] for i in self.params()] for call in case.calls]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                compiled = check_stateful(
                    self.source(), calls, data=self.data, backend=case.backend, seed=case.seed
                )
            except Exception as error:
                return classify(error, caught)
        return Outcome("ok", fell_back=fell_back(compiled))

    def regression_body(self, case: Case, name: str) -> str:

        params = [i.name for i in self.params()]
        data = "{" + ", ".join(f"{k!r}: {array_literal(v)}" for k, v in self.data.items()) + "}"
        calls = (
            "["
            + ", ".join("[" + ", ".join(array_literal(c[p]) for p in params) + "]" for c in case.calls)
            + "]"
        )
        return (
            f"SOURCE = '''\n{self.source()}'''\n\nDATA = {data}\n\nCALLS = {calls}\n\n\n"
            f"def {name}():\n"
            f'    check_stateful(SOURCE, CALLS, data=DATA, backend="{case.backend}", seed={case.seed})\n'
        )

    # --- shrinking --------------------------------------------------------------------------------
    def reductions(self):
        """Smaller variants of the state (the shrinker tries each)."""
        used = self.body.used_names()
        for spec in self.free():
            if spec.name not in used:
                yield self.without_free(spec)
        for k in range(len(self.between)):
            yield replace(self, between=self.between[:k] + self.between[k + 1 :])
        text = "\n".join([s.template for s in self.body.stmts] + list(self.between))
        for k, (name, _) in enumerate(self.scalars):
            if name not in text:
                yield replace(self, scalars=self.scalars[:k] + self.scalars[k + 1 :])
        for spec in self.free():
            if spec.requires_grad:
                yield self.with_input(spec.name, requires_grad=False)
            if spec.source != "closure":
                yield self.with_input(spec.name, source="closure")
        t = self.train
        if t is not None:
            for k in range(len(t.options)):
                yield replace(self, train=replace(t, options=t.options[:k] + t.options[k + 1 :]))
            if t.clip:
                yield replace(self, train=replace(t, clip=False))
            if t.scheduler:
                yield replace(self, train=replace(t, scheduler=False))
            if len(t.layers) > 1:
                for k in range(len(t.layers)):
                    if "Linear" not in t.layers[k]:
                        yield replace(self, train=replace(t, layers=t.layers[:k] + t.layers[k + 1 :]))

    def without_free(self, spec: Input) -> StatefulProgram:
        """The program without a free tensor (and the actions between calls on it)."""
        mention = re.compile(r"(?<![\w.])" + re.escape(spec.ref()) + r"(?![\w\[])")
        inputs = tuple(i for i in self.body.inputs if i.name != spec.name)
        data = {k: v for k, v in self.data.items() if k != spec.name}
        between = tuple(line for line in self.between if not mention.search(line))
        return replace(self, body=replace(self.body, inputs=inputs), data=data, between=between)

    def with_input(self, name: str, **changes) -> StatefulProgram:
        inputs = tuple(replace(i, **changes) if i.name == name else i for i in self.body.inputs)
        return replace(self, body=replace(self.body, inputs=inputs))


def _tensor_text(spec: Input) -> str:
    text = f'torch.from_numpy(DATA["{spec.name}"].copy())'
    return text + ".requires_grad_()" if spec.requires_grad else text


# --- generation ------------------------------------------------------------------------------------
def generate_stateful(seed, max_ops: int = 25) -> tuple[StatefulProgram, list[dict]]:
    """A random stateful program and the arguments of its calls (deterministic in ``seed``)."""
    rng = np.random.default_rng(seed)
    if rng.random() < 0.4:
        return _train_program(rng)
    return _free_program(rng, max_ops)


def _free_program(rng: np.random.Generator, max_ops: int) -> tuple[StatefulProgram, list[dict]]:
    gen = generate(np.random.SeedSequence(int(rng.integers(2**63))), min(max_ops, 12), 2)
    body = gen.program
    grad_ok = gen.train_ok
    inputs, data, renames = [], {}, {}
    counter = 0
    for spec in body.inputs:
        if spec.batch or rng.random() < 0.35:
            inputs.append(spec)
            continue
        source = SOURCES[int(rng.integers(len(SOURCES)))]
        name = f"{NAME_PREFIX[source]}{counter}"
        counter += 1
        renames[spec.name] = name
        requires_grad = grad_ok and spec.dtype.startswith("float") and rng.random() < 0.6
        inputs.append(replace(spec, name=name, source=source, requires_grad=requires_grad))
        data[name] = gen.values[spec.name]["a"]
    body = _renamed(replace(body, inputs=tuple(inputs)), renames)
    free = [i for i in body.inputs if i.source != "arg"]
    buffers = [i for i in free if not i.requires_grad and i.dtype.startswith("float")]
    floats = [t for s in body.stmts for t in s.targets if not t.startswith("s")]
    extra: list[Stmt] = []
    scalars: list[tuple[str, str]] = []
    if buffers and floats and rng.random() < 0.6:
        b = buffers[int(rng.integers(len(buffers)))]
        v = floats[int(rng.integers(len(floats)))]
        template = (
            "{0}.mul_(0.5).add_({1}.detach().float().mean())",
            "{0}.add_(1)",
            "{0}.copy_({0} * 0.9 + 0.1)",
        )[int(rng.integers(3))]
        extra.append(Stmt(("v_upd",), template, (b.name, v), "inplace_free"))
    if floats and rng.random() < 0.5:
        scalars.append(("SCALE", "2.0"))
        v = floats[-1]
        extra.append(Stmt(("v_scaled",), "{0} * SCALE", (v,), "global_scalar"))
    if floats and rng.random() < 0.3:
        extra.append(Stmt((), "S.last = {0}", (floats[int(rng.integers(len(floats)))],), "attr_side_effect"))
    stmts = body.stmts + tuple(extra)
    result_args = body.result_args + tuple(
        s.targets[0] for s in extra if s.targets and s.op != "inplace_free"
    )
    body = replace(body, stmts=stmts, result=_result_text(len(result_args)), result_args=result_args)
    between = tuple(_between_action(rng, spec) for spec in free if rng.random() < 0.7)
    if scalars and rng.random() < 0.7:
        between += ("SCALE = SCALE + 1.0",)
    coefs = tuple(float(c) for c in np.round(rng.standard_normal(len(result_args)), 2))
    program = StatefulProgram(body, data, between, tuple(scalars), None, coefs)
    return _valid_or_simpler(program, gen, rng)


def _result_text(n: int) -> str:
    return "(" + ", ".join(f"{{{k}}}" for k in range(n)) + ("," if n == 1 else "") + ")"


def _renamed(body: Program, renames: dict) -> Program:
    stmts = tuple(replace(s, args=tuple(renames.get(a, a) for a in s.args)) for s in body.stmts)
    return replace(body, stmts=stmts, result_args=tuple(renames.get(a, a) for a in body.result_args))


def _between_action(rng: np.random.Generator, spec: Input) -> str:
    ref = spec.ref()
    if spec.requires_grad:
        options = (
            f"{ref}.grad = None",
            f"with torch.no_grad(): {ref}.add_(0.5)",
            f"{ref} = ({ref}.detach() * 2).requires_grad_()",
        )
    elif spec.dtype == "bool":
        options = (f"{ref} = ~{ref}", f"{ref}.fill_(True)")
    else:
        options = (
            f"{ref}.add_(1)",
            f"{ref}.mul_(-1)",
            f"{ref}.zero_()",
            f"{ref} = {ref} * 2",
            f"{ref} = torch.full_like({ref}, 3)",
        )
    return options[int(rng.integers(len(options)))]


def _train_program(rng: np.random.Generator) -> tuple[StatefulProgram, list[dict]]:
    d, h, c = int(rng.integers(2, 6)), int(rng.integers(2, 6)), int(rng.integers(2, 5))
    batch = int(rng.integers(2, 5))
    act = ("nn.ReLU()", "nn.Tanh()", "nn.GELU()", "nn.Sigmoid()")[int(rng.integers(4))]
    layers = [f"nn.Linear({d}, {h})", act]
    if rng.random() < 0.3:
        layers.append(f"nn.LayerNorm({h})")
    if rng.random() < 0.2:
        layers.append("nn.Dropout(0.25)")
    layers.append(f"nn.Linear({h}, {c})")
    optimizer = ("SGD", "SGD", "Adam", "AdamW")[int(rng.integers(4))]
    if optimizer == "SGD":
        options = ["lr=0.1"] + [
            o
            for o, p in (("momentum=0.9", 0.6), ("nesterov=True", 0.2), ("weight_decay=0.01", 0.3))
            if rng.random() < p
        ]
        if "nesterov=True" in options and "momentum=0.9" not in options:
            options.remove("nesterov=True")
    else:
        options = ["lr=0.01"] + (["weight_decay=0.05"] if rng.random() < 0.4 else [])
    loss = "mse" if rng.random() < 0.5 else "cross_entropy"
    placement = ("step", "step", "loss", "backward")[int(rng.integers(4))]
    step = TrainStep(
        tuple(layers),
        optimizer,
        tuple(options),
        loss,
        placement,
        bool(rng.random() < 0.25),
        bool(rng.random() < 0.25),
    )
    x = Input("x0", "float32", (batch, d), batch=True)
    y = (
        Input("y1", "float32", (batch, c), batch=True)
        if loss == "mse"
        else Input("y1", "int64", (batch,), draw="int", lo=0, hi=c, batch=True)
    )
    body = Program((x, y), (), "{0}", ("x0",), uses_rng="Dropout" in " ".join(layers))
    program = StatefulProgram(body, {}, (), (), step)
    return program, [{i.name: draw_values(i, rng) for i in (x, y)} for _ in range(CALLS)]


def _valid_or_simpler(
    program: StatefulProgram, gen, rng: np.random.Generator
) -> tuple[StatefulProgram, list[dict]]:
    """The program, or a simpler one when eager execution rejects it (an invalid combination).

    Batched arguments get new values on every call, at two alternating batch sizes."""
    calls = [
        {
            i.name: draw_values(i, rng, gen.batch_sizes[k % 2]) if i.batch else gen.values[i.name]["a"]
            for i in program.params()
        }
        for k in range(CALLS)
    ]
    no_grad = replace(
        program.body, inputs=tuple(replace(i, requires_grad=False) for i in program.body.inputs)
    )
    for candidate in (program, replace(program, between=()), replace(program, between=(), body=no_grad)):
        if _eager_runs(candidate, calls):
            return candidate, calls
    return program, calls


def _eager_runs(program: StatefulProgram, calls: list) -> bool:

    try:
        ns = _load(program.source(), program.data, "check")
        for k, call in enumerate(calls):
            args = arguments([call[i.name] for i in program.params()])
            out = ns["f"](*args)
            if "after" in ns:
                ns["after"](out)
            ns["observe"]()
            ns["between"](k)
    except Exception:
        return False
    return True


def stateful_cases(program: StatefulProgram, calls: list, index: int, seed: int, backends) -> list[Case]:
    calls = tuple(calls)
    case_seed = zlib.crc32(f"{seed}/{index}/state".encode()) % 100_000
    return [
        Case(program, "state", b, False, calls, seed=case_seed, origin=f"seed {seed}, program {index}")
        for b in backends
    ]
