"""A whole training step compiled as one graph trains exactly as eager, step after step.

``irgrad.compile(step)`` follows ``zero_grad()``, the forward, ``backward()``,
``clip_grad_norm_``, ``optimizer.step()`` and ``lr_scheduler.step()`` into one graph that
updates the parameters and the optimizer's state in place.  Each test builds two copies
of a model from the same weights, trains one with the eager step and the other with the
same step compiled, on the same batches, and after every step compares the loss, every
parameter and its ``.grad``, the buffers (BatchNorm's running statistics) and the whole
``optimizer.state_dict()`` ("state" and "param_groups").  What other files check already
(an MLP-only optimizer grid of a few calls, SGD with momentum on real models, compiled
modules) is not repeated: this file covers 20 whole steps of an MLP, a CNN and an LSTM
for each optimizer, BatchNorm and Dropout with a scheduler and clipping inside the step
(reproducible from one seed), the optimizer's state_dict round trip between compiled
steps, learning-rate changes that must not recompile, and the two graph breaks a step
can have (data-dependent Python, a gradient hook that reads its gradient's value), which
must run as eager and be named in ``explain()``.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import os
import warnings

import numpy as np
import pytest
from graph_calls import assert_graphs_answered
from optim_cases import cross_entropy_step

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F
from irgrad.tensor import Tensor

STEPS = 20
RTOL, ATOL = 1e-5, 1e-6  # float32, after a step (as test_compile_state.py)
DRIFT_RTOL = 1e-4  # after many steps: two backends round transcendentals an ulp apart
# RMSprop divides each gradient by sqrt of its running square: an ulp of a small average
# moves its momentum buffer by up to ~3e-6 of the buffer's scale (measured: bounded over
# the 20 steps, not growing), where the other optimizers stay under 1e-6
RMSPROP_ATOL = 1e-5


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        return self.fc(self.pool(self.conv(x).relu()).flatten(1))


class LSTMClassifier(nn.Module):
    """An LSTM reading the sequence, a linear head on the last hidden state."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 8, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


class BatchNormDropoutCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        # no bias before BatchNorm: its gradient is zero but for rounding, which AdamW
        # would normalise into steps of +-lr in whichever direction each side rounds
        self.conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        x = F.max_pool2d(self.bn(self.conv(x)).relu(), 2)
        return self.fc(self.drop(x.flatten(1)))


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))


# name: (model factory, shape of one example)
MODELS = {
    "mlp": (_mlp, (6,)),
    "cnn": (SmallCNN, (1, 8, 8)),
    "lstm": (LSTMClassifier, (5, 3)),
}

OPTIMIZERS = {
    "sgd-nesterov-wd": lambda p: irgrad.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2),
    "adam": lambda p: irgrad.optim.Adam(p, lr=1e-2),
    "adamw": lambda p: irgrad.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    "rmsprop-momentum": lambda p: irgrad.optim.RMSprop(p, lr=1e-2, momentum=0.5),
    "rmsprop-centered-momentum": lambda p: irgrad.optim.RMSprop(p, lr=1e-2, momentum=0.5, centered=True),
    "adagrad": lambda p: irgrad.optim.Adagrad(p, lr=0.1, lr_decay=0.01),
}


def _batch(i: int, shape: tuple, n: int = 4):
    g = np.random.default_rng(i)
    x = irgrad.tensor(g.standard_normal((n, *shape)).astype(np.float32))
    return x, irgrad.tensor(g.integers(0, 3, n))


def _assert_tree_close(want, got, where: str, rtol: float = RTOL, atol: float = ATOL) -> None:
    """Nested dicts, lists and tuples of tensors and Python values are equal: tensors to
    float tolerances (with the same dtype and shape), everything else exactly.  ``atol``
    is relative to the tensor's largest magnitude: an element that is a small difference
    of large terms (an RMSprop momentum buffer of g / sqrt(v) ~ 10) carries their rounding."""
    if isinstance(want, Tensor):
        assert isinstance(got, Tensor), f"{where}: eager has a tensor, compiled {got!r}"
        assert (got.dtype, tuple(got.shape)) == (want.dtype, tuple(want.shape)), where
        a, b = want.detach().numpy(), got.detach().numpy()
        scale = max(1.0, float(np.abs(a).max())) if a.size and a.dtype.kind == "f" else 1.0
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol * scale, err_msg=where)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), f"{where}: keys {list(want)} vs {got!r}"
        for k in want:
            _assert_tree_close(want[k], got[k], f"{where}[{k!r}]", rtol, atol)
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want), f"{where}: {want!r} vs {got!r}"
        for k, (a, b) in enumerate(zip(want, got)):
            _assert_tree_close(a, b, f"{where}[{k}]", rtol, atol)
    else:
        assert got == want, f"{where}: eager {want!r}, compiled {got!r}"


def _assert_same_training_state(
    eager, compiled, opt_e, opt_c, where: str, rtol: float = RTOL, atol: float = ATOL
) -> None:
    """Parameters, their gradients, buffers and the optimizer's state_dict equal eager's."""
    named = zip(eager.named_parameters(), compiled.named_parameters())
    for (name, p), (name_c, q) in named:
        assert name == name_c
        _assert_tree_close(p, q, f"{where}: {name}", rtol, atol)
        assert (p.grad is None) == (q.grad is None), f"{where}: {name}.grad presence differs"
        if p.grad is not None:
            _assert_tree_close(p.grad, q.grad, f"{where}: {name}.grad", rtol, atol)
    for (name, b), (_, c) in zip(eager.named_buffers(), compiled.named_buffers()):
        _assert_tree_close(b, c, f"{where}: buffer {name}", rtol, atol)
    want, got = opt_e.state_dict(), opt_c.state_dict()
    _assert_tree_close(want["state"], got["state"], f"{where}: optimizer state", rtol, atol)
    _assert_tree_close(want["param_groups"], got["param_groups"], f"{where}: param_groups", rtol, atol)


def _twins(make_model, make_opt) -> tuple:
    """``(eager, twin, opt_e, opt_c)``: a model and its copy from the same weights, each
    with its own optimizer."""
    irgrad.manual_seed(0)
    eager = make_model()
    twin = copy.deepcopy(eager)
    return eager, twin, make_opt(eager.parameters()), make_opt(twin.parameters())


def _assert_steps_agree(steps, batch, models, opts, where: str, rtol: float = RTOL, atol: float = ATOL):
    """Run the eager and the compiled step (``steps``) on ``batch``; their losses and the
    training state after them equal.  Returns eager's loss."""
    (step_e, step_c), (eager, twin), (opt_e, opt_c) = steps, models, opts
    loss_e, loss_c = step_e(*batch), step_c(*batch)
    np.testing.assert_allclose(loss_c.item(), loss_e.item(), rtol=RTOL, err_msg=f"{where}: loss")
    _assert_same_training_state(eager, twin, opt_e, opt_c, where, rtol, atol)
    return loss_e


def _assert_one_graph_per_state(compiled) -> None:
    """Captured whole: no break, the calls after the captures ran graphs, and only the
    first step (before .grad and the optimizer state exist) has a graph of its own."""
    explanation = assert_graphs_answered(_explain(compiled))
    assert all(g["break"] is None and not g["unlocated"] for g in explanation.graphs), explanation.events
    assert len(compiled._compiled.cache) == 2, explanation.events


def _explain(compiled):
    with contextlib.redirect_stdout(io.StringIO()):  # (explain() prints its report too)
        return compiled.explain()


@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("model_name", list(MODELS))
def test_a_compiled_whole_step_trains_as_eager_for_twenty_steps(model_name, opt_name, backend):
    make, shape = MODELS[model_name]
    eager, twin, opt_e, opt_c = _twins(make, OPTIMIZERS[opt_name])
    step_c = irgrad.compile(cross_entropy_step(twin, opt_c), backend=backend)
    steps = (cross_entropy_step(eager, opt_e), step_c)
    atol = RMSPROP_ATOL if opt_name.startswith("rmsprop") else ATOL
    for i in range(STEPS):
        _assert_steps_agree(
            steps, _batch(i, shape), (eager, twin), (opt_e, opt_c), f"step {i}", DRIFT_RTOL, atol
        )
    _assert_one_graph_per_state(step_c)  # (two graphs: no recompile after the second step)


def _frozen(x):
    """A copy of nested tensors that later in-place updates leave alone."""
    if isinstance(x, Tensor):
        return x.detach().clone()
    if isinstance(x, dict):
        return {k: _frozen(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_frozen(v) for v in x)
    return x


def _training_record(model, opt, loss) -> dict:
    """Everything a step changes: loss, parameters, gradients, buffers, optimizer state_dict."""
    return _frozen(
        {
            "loss": loss,
            "parameters": dict(model.named_parameters()),
            "grads": {name: p.grad for name, p in model.named_parameters()},
            "buffers": dict(model.named_buffers()),
            "optimizer": opt.state_dict(),
        }
    )


def _bn_dropout_run(model, backend: str | None, seed: int = 0):
    """20 steps of the BatchNorm + Dropout CNN with AdamW, clip_grad_norm_ and a StepLR
    stepped inside the step, irgrad's generator seeded once before the first step (each
    step's dropout mask is the generator's next draw).  Returns each step's record, the
    step function and the generator's next draw after the run."""
    opt = irgrad.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05)
    sched = irgrad.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    step = cross_entropy_step(model, opt, clip=0.5, scheduler=sched)
    if backend is not None:
        step = irgrad.compile(step, backend=backend)
    irgrad.manual_seed(seed)
    records = [_training_record(model, opt, step(*_batch(i, (1, 8, 8), n=6))) for i in range(STEPS)]
    return records, step, irgrad.rand(4)


def test_batchnorm_dropout_scheduler_and_clipping_in_a_compiled_step_train_as_eager(backend):
    irgrad.manual_seed(0)
    eager = BatchNormDropoutCNN()
    twin, again = copy.deepcopy(eager), copy.deepcopy(eager)
    want, _, next_draw_e = _bn_dropout_run(eager, None)
    got, step_c, next_draw_c = _bn_dropout_run(twin, backend)
    clipped = 0
    for i, (a, b) in enumerate(zip(want, got)):
        np.testing.assert_allclose(b["loss"].item(), a["loss"].item(), rtol=RTOL, err_msg=f"step {i}: loss")
        _assert_tree_close(a, b, f"step {i}", DRIFT_RTOL)  # with running_mean/var, num_batches_tracked
        norm = np.sqrt(sum(float((g.numpy().astype(np.float64) ** 2).sum()) for g in b["grads"].values()))
        assert norm <= 0.5 * (1 + 1e-5), f"step {i}: gradient norm {norm} after clipping to 0.5"
        clipped += norm > 0.5 * (1 - 1e-5)
    assert clipped >= STEPS // 2, clipped  # clip_grad_norm_ inside the step did clip
    # the compiled steps drew their masks from irgrad's generator as eager did: it is left
    # where eager left it
    np.testing.assert_array_equal(next_draw_c.numpy(), next_draw_e.numpy())
    rates = [r["optimizer"]["param_groups"][0]["lr"] for r in got]
    # the scheduler stepped inside each compiled step: halved every 4 steps (20 = 6 rates)
    assert rates == pytest.approx([1e-2 * 0.5 ** ((i + 1) // 4) for i in range(STEPS)], rel=1e-12)
    assert twin.bn.num_batches_tracked.item() == STEPS
    _assert_one_graph_per_state(step_c)
    # reproducible: a second compiled run from the same weights and seed gives the same bits
    repeated, _, _ = _bn_dropout_run(again, backend)
    _assert_tree_close(got, repeated, "second compiled run", rtol=0, atol=0)


def _line_of(fn, text: str) -> str:
    """``file.py:line`` of the first line of ``fn``'s source containing ``text``."""
    lines, first = inspect.getsourcelines(fn)
    (offset,) = [k for k, line in enumerate(lines) if text in line][:1]
    return f"{os.path.basename(inspect.getsourcefile(fn))}:{first + offset}"


def _assert_break_named(compiled, cause: str, where: str) -> None:
    """Every call signature broke (ran eagerly), and explain() names the break: its cause
    and the source line."""
    explanation = _explain(compiled)
    assert explanation.breaks and all(cause in b and where in b for b in explanation.breaks), (
        explanation.breaks
    )
    assert all(g["break"] is not None for g in explanation.graphs), explanation.events
    assert f"graph break: {explanation.breaks[0]}" in explanation


def test_a_step_that_branches_on_loss_item_is_a_named_graph_break_and_trains_as_eager(backend):
    threshold = 1.1

    def make(model, opt):
        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            if loss.item() > threshold:  # data-dependent Python: which branch is the value's
                (loss * 0.5).backward()
            else:
                loss.backward()
            opt.step()
            return loss.detach()

        return step

    eager, twin, opt_e, opt_c = _twins(_mlp, lambda p: irgrad.optim.Adam(p, lr=1e-2))
    step_c = irgrad.compile(make(twin, opt_c), backend=backend)
    steps = (make(eager, opt_e), step_c)
    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the break's CompileWarning)
        for i in range(STEPS):
            loss_e = _assert_steps_agree(steps, _batch(i, (6,)), (eager, twin), (opt_e, opt_c), f"step {i}")
            losses.append(loss_e.item())
    assert 0 < sum(loss > threshold for loss in losses) < STEPS, losses  # both branches ran
    _assert_break_named(step_c, "item()", _line_of(make, "if loss.item() > threshold"))
    # one break entry before .grad exists and one after: no recompile at every call
    assert len(step_c._compiled.cache) == 2, step_c._compiled.log


@pytest.mark.parametrize("where", ["activation hook set in the step", "parameter hook set before"])
def test_a_gradient_hook_reading_its_value_is_a_named_graph_break_and_trains_as_eager(where, backend):
    # a hook set inside a step whose backward runs inside is compiled (see
    # test_compile_backward_after_the_call.py); one whose Python reads the gradient's value
    # cannot be: the call runs eagerly, and the hook sees eager's gradients
    def make(model, opt, norms):
        def log_norm(g):
            norms.append(g.norm().item())

        def step(x, y):
            opt.zero_grad()
            h = model[0](x)
            if where.startswith("activation"):
                h.register_hook(log_norm)
            loss = F.cross_entropy(model[2](model[1](h)), y)
            loss.backward()
            opt.step()
            return loss.detach()

        if where.startswith("parameter"):
            model[2].weight.register_hook(log_norm)
        return step, log_norm

    eager, twin, opt_e, opt_c = _twins(_mlp, lambda p: irgrad.optim.SGD(p, lr=0.1, momentum=0.9))
    norms_e, norms_c = [], []
    step_e, _ = make(eager, opt_e, norms_e)
    step_c, log_norm = make(twin, opt_c, norms_c)
    step_c = irgrad.compile(step_c, backend=backend)
    steps = (step_e, step_c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the break's CompileWarning)
        for i in range(STEPS):
            _assert_steps_agree(steps, _batch(i, (6,)), (eager, twin), (opt_e, opt_c), f"step {i}")
    assert len(norms_c) == len(norms_e) == STEPS  # the hook ran once per step, on each side
    np.testing.assert_allclose(norms_c, norms_e, rtol=RTOL)
    _assert_break_named(step_c, "item()", _line_of(log_norm, "g.norm().item()"))


@pytest.mark.parametrize("into", ["the same optimizer", "a fresh optimizer"])
@pytest.mark.parametrize("opt_name", ["sgd-nesterov-wd", "adam", "rmsprop-centered-momentum", "adagrad"])
def test_an_optimizer_state_dict_reloaded_between_compiled_steps_trains_on_as_eager(opt_name, into, backend):
    """After 10 compiled steps the optimizer's state_dict is loaded back (into the same
    optimizer, or a fresh one over the same parameters that the step uses from then on),
    rewound to the state saved after step 5 so that its values matter; 10 more compiled
    steps equal eager doing the same."""
    make_opt = OPTIMIZERS[opt_name]
    atol = RMSPROP_ATOL if opt_name.startswith("rmsprop") else ATOL
    irgrad.manual_seed(0)
    eager = _mlp()
    twin = copy.deepcopy(eager)
    sides = []
    for model, compile_it in ((eager, False), (twin, True)):
        holder = {"opt": make_opt(model.parameters())}

        def step(x, y, model=model, holder=holder):
            opt = holder["opt"]
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.detach()

        sides.append((model, holder, irgrad.compile(step, backend=backend) if compile_it else step))
    saved = []
    for i in range(2 * 10):
        if i == 10:
            for _, holder, _ in sides:
                if into == "a fresh optimizer":
                    holder["opt"] = make_opt(holder["opt"].param_groups[0]["params"])
                holder["opt"].load_state_dict(saved.pop(0))
        (_, holder_e, step_e), (_, holder_c, step_c) = sides
        opts = (holder_e["opt"], holder_c["opt"])
        _assert_steps_agree(
            (step_e, step_c), _batch(i, (6,)), (eager, twin), opts, f"step {i}", DRIFT_RTOL, atol
        )
        if i == 5:
            saved = [_frozen(opt.state_dict()) for opt in opts]
    assert holder_c["opt"].state_dict()["state"], "the optimizer has state"
    explanation = _explain(step_c)
    assert_graphs_answered(explanation)
    assert all(g["break"] is None for g in explanation.graphs), explanation.events
    # the loaded group lists "params" last: at most one recompile, then the steps after
    # the reload run its graph
    assert len(explanation.graphs) <= 3, explanation.events
    assert explanation.graphs[-1]["runs"] >= 8, explanation.events


@pytest.mark.parametrize("opt_name", ["adam", "adamw", "rmsprop-centered-momentum", "adagrad"])
def test_a_learning_rate_written_between_compiled_steps_does_not_recompile(opt_name, backend):
    # (SGD's is checked in test_compile_state.py): the rate is a graph input, so a new
    # value written into param_groups reaches the graph without a recompile
    make_opt = OPTIMIZERS[opt_name]
    atol = RMSPROP_ATOL if opt_name.startswith("rmsprop") else ATOL
    rates = [1e-2, 1e-2, 5e-3, 2e-3, 2e-3, 1e-2, 3e-2, 1e-3, 7e-3, 7e-3]
    eager, twin, opt_e, opt_c = _twins(_mlp, make_opt)
    step_c = irgrad.compile(cross_entropy_step(twin, opt_c), backend=backend)
    steps = (cross_entropy_step(eager, opt_e), step_c)
    for i, rate in enumerate(rates):
        opt_e.param_groups[0]["lr"] = opt_c.param_groups[0]["lr"] = rate
        where = f"step {i} (lr {rate})"
        _assert_steps_agree(steps, _batch(i, (6,)), (eager, twin), (opt_e, opt_c), where, DRIFT_RTOL, atol)
    _assert_one_graph_per_state(step_c)
    assert _explain(step_c).graphs[-1]["runs"] >= len(rates) - 2  # every step after the captures
