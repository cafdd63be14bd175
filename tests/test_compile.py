"""irgrad.compile: same results as eager, guards and recompiles, dynamic shapes, breaks, dumps."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from graph_calls import assert_graphs_answered, graph_call

import irgrad
import irgrad.nn as nn
from irgrad.trace import GraphBreakError


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4))


class CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(8 * 2 * 2, 5)

    def forward(self, x):
        x = nn.functional.max_pool2d(self.bn(self.conv1(x)).relu(), 2)
        x = nn.functional.max_pool2d(self.conv2(x).relu(), 2)
        return self.fc(self.drop(x.flatten(1)))


class LSTMClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 8, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


MODELS = [
    ("mlp", mlp, lambda: irgrad.randn(5, 6)),
    ("cnn", CNN, lambda: irgrad.randn(3, 1, 8, 8)),
    ("lstm", LSTMClassifier, lambda: irgrad.randn(4, 7, 3)),
]


@pytest.mark.parametrize("name,make,inputs", MODELS, ids=[m[0] for m in MODELS])
def test_compiled_inference_matches_eager(name, make, inputs, backend):
    irgrad.manual_seed(0)
    model = make().eval()
    compiled = irgrad.compile(model, backend=backend)
    with irgrad.no_grad():
        for _ in range(3):
            x = inputs()
            np.testing.assert_allclose(compiled(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert_graphs_answered(compiled)


def test_compiled_module_shares_parameters_and_state(backend):
    model = mlp()
    compiled = irgrad.compile(model, backend=backend)
    assert list(compiled.parameters()) == list(model.parameters())
    assert compiled.state_dict().keys() == model.state_dict().keys()
    compiled.eval()
    assert not model.training


@pytest.mark.parametrize("how", ["wrapper", "in_place"])
def test_a_deep_copy_of_a_compiled_model_is_compiled_and_independent(how):
    # copy.deepcopy (an EMA teacher, a checkpointed best model) copies the module and
    # compiles the copy afresh: the original's graphs guard the original's objects
    import copy

    irgrad.manual_seed(0)
    model = mlp()
    if how == "wrapper":
        model = irgrad.compile(model)
    else:
        model.compile()
    x = irgrad.randn(3, 6)
    for _ in range(2):
        model(x)
    twin = copy.deepcopy(model)
    assert type(twin) is type(model)
    assert all(a is not b for a, b in zip(twin.parameters(), model.parameters()))
    with irgrad.no_grad():
        for p in twin.parameters():
            p.mul_(2.0)
    eager_twin = copy.deepcopy(twin._orig_mod if how == "wrapper" else twin)
    for _ in range(3):  # the copy's own graphs read the copy's parameters
        np.testing.assert_allclose(
            twin(x).detach().numpy(), eager_twin(x).detach().numpy(), rtol=1e-5, atol=1e-6
        )
    compiled = twin._compiled if how == "wrapper" else twin._compiled_call
    assert compiled.entries and compiled is not (
        model._compiled if how == "wrapper" else model._compiled_call
    )


def test_shared_submodules_and_tied_weights_bind_each_state_tensor_once(backend):
    """However modules and parameters are shared, each state tensor is one graph input."""
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.BatchNorm1d(3), nn.Sequential(shared, nn.Linear(3, 3)), nn.Linear(3, 3))
    model[3].weight = model[2][1].weight  # tied weights
    graph = irgrad.trace(model, irgrad.randn(4, 3))
    state = [graph.node(i).name for i in graph.inputs[1:]]
    assert (
        len(state) == len(set(state)) == len({id(t) for t in model.parameters()}) + 3
    )  # + BatchNorm buffers
    x = irgrad.randn(4, 3)
    compiled = irgrad.compile(model, backend=backend)
    out = graph_call(compiled, x)  # the first call traces; the second runs the graph
    np.testing.assert_allclose(out.detach().numpy(), model(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_parameter_updates_are_seen_without_recompiling(backend):
    model = mlp()
    compiled = irgrad.compile(model, backend=backend)
    x = irgrad.randn(5, 6)
    with irgrad.no_grad():
        compiled(x)
        model[0].weight.mul_(2.0)
        np.testing.assert_allclose(graph_call(compiled, x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert len(compiled._compiled.cache) == 1


def test_shape_change_retraces_and_explains_why(backend):
    model = mlp()
    compiled = irgrad.compile(model, backend=backend)
    with irgrad.no_grad():
        compiled(irgrad.randn(5, 6))
        compiled(irgrad.randn(9, 6))
        compiled(irgrad.randn(5, 6))
    assert len(compiled._compiled.cache) == 2
    text = compiled.explain()
    assert "input 0 shape changed from [5, 6] to [9, 6]" in text


def test_grad_mode_train_eval_and_shape_changes_retrace(backend):
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    compiled = irgrad.compile(model, backend=backend)
    x = irgrad.randn(2, 3)
    with irgrad.no_grad():
        compiled(x)
        model.eval()
        compiled(x)
    assert "train/eval mode changed" in "\n".join(compiled._compiled.log)
    compiled(x)
    assert "grad mode changed" in "\n".join(compiled._compiled.log)
    with irgrad.no_grad():
        compiled(x[:1])
    assert "input 0 shape changed from [2, 3] to [1, 3]" in "\n".join(compiled._compiled.log)


def test_eval_mode_dropout_is_identity_and_train_mode_is_random(backend):
    model = nn.Sequential(nn.Dropout(0.5))
    compiled = irgrad.compile(model, backend=backend)
    x = irgrad.ones(1000)
    with irgrad.no_grad():
        first, second = compiled(x), compiled(x)
    assert not np.array_equal(first.numpy(), second.numpy()), "dropout masks must be fresh each call"
    assert set(np.unique(second.numpy())) <= {0.0, 2.0}
    model.eval()
    with irgrad.no_grad():
        np.testing.assert_array_equal(graph_call(compiled, x).numpy(), x.numpy())


def test_batchnorm_running_stats_are_updated_by_compiled_calls(backend):
    torch_free = nn.BatchNorm1d(3)
    eager = nn.BatchNorm1d(3)
    compiled = irgrad.compile(torch_free, backend=backend)
    with irgrad.no_grad():
        for _ in range(4):
            x = irgrad.randn(8, 3)
            np.testing.assert_allclose(compiled(x).numpy(), eager(x).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(torch_free.running_mean.numpy(), eager.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(torch_free.running_var.numpy(), eager.running_var.numpy(), rtol=1e-6)
    assert int(torch_free.num_batches_tracked) == int(eager.num_batches_tracked) == 4
    assert_graphs_answered(compiled)


def test_dynamic_batch_gives_one_graph_for_every_size(backend):
    """The batch dimension becomes a symbol once it varies; size 1 is specialised, as in PyTorch."""
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.LogSoftmax(dim=1))
    compiled = irgrad.compile(model, backend=backend, dynamic=True)
    with irgrad.no_grad():
        for batch in (5, 7, 12, 5, 1, 3):
            x = irgrad.randn(batch, 4)
            np.testing.assert_allclose(compiled(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
            if batch == 5:
                assert len(compiled._compiled.cache) == 1
    assert len(compiled._compiled.cache) == 2  # every size >= 2, and size 1
    explanation = assert_graphs_answered(compiled)
    assert "one graph for every size of B" in explanation and "f32[B,4]" in explanation


def test_mark_dynamic_marks_one_dimension(backend):
    def f(x):
        return (x * 2).sum(1)

    compiled = irgrad.compile(f, backend=backend)
    with irgrad.no_grad():
        for n in (3, 4, 6):
            x = irgrad.mark_dynamic(irgrad.randn(2, n), 1)
            np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-6)
    assert len(compiled._compiled.cache) == 1
    assert_graphs_answered(compiled)


def test_decorator_forms_and_plain_functions(backend):
    @irgrad.compile
    def f(x, y):
        return (x * y).tanh() + 1

    @irgrad.compile(backend=backend)
    def g(x):
        return x.exp().sum()

    x, y = irgrad.randn(3), irgrad.randn(3)
    with irgrad.no_grad():
        for _ in range(2):
            np.testing.assert_allclose(f(x, y).numpy(), ((x * y).tanh() + 1).numpy(), rtol=1e-6)
            np.testing.assert_allclose(g(x).numpy(), x.exp().sum().numpy(), rtol=1e-6)
    assert_graphs_answered(f) and assert_graphs_answered(g)


def test_eager_backend_runs_the_original():
    calls = []

    def f(x):
        calls.append(1)
        return x + 1

    compiled = irgrad.compile(f, backend="eager")
    compiled(irgrad.ones(2))
    compiled(irgrad.ones(2))
    assert len(calls) == 2


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="unknown backend"):
        irgrad.compile(mlp(), backend="tpu")


def test_dump_writes_numbered_stage_files(tmp_path, backend):
    compiled = irgrad.compile(mlp(), backend=backend, dump=str(tmp_path))
    with irgrad.no_grad():
        compiled(irgrad.randn(2, 6))
    files = sorted(os.listdir(tmp_path))
    assert files[0] == "00-traced.ir"
    assert [f.split("-", 1)[1] for f in files[:7]] == [
        "traced.ir",
        "fold.ir",
        "simplify.ir",
        "cse.ir",
        "roll.ir",
        "stack.ir",
        "dce.ir",
    ]
    text = (tmp_path / "00-traced.ir").read_text()
    assert text.startswith("graph Sequential(")
    irgrad.ir.parse_graph(text)


def test_dump_directory_from_environment(tmp_path, monkeypatch, backend):
    monkeypatch.setenv("IRGRAD_DUMP", str(tmp_path))
    compiled = irgrad.compile(mlp(), backend=backend)
    with irgrad.no_grad():
        compiled(irgrad.randn(2, 6))
    assert (tmp_path / "00-traced.ir").exists()


def test_a_function_that_keeps_recompiling_runs_eagerly_after_the_limit(backend):
    """As PyTorch's recompile limit: the graphs made so far keep serving, new shapes run eagerly."""
    from irgrad.compile import RECOMPILE_LIMIT
    from irgrad.compiler import CompileWarning

    compiled = irgrad.compile(lambda x: x * 2, backend=backend)
    with irgrad.no_grad(), pytest.warns(CompileWarning, match="recompiled 8 times"):
        for n in range(1, RECOMPILE_LIMIT + 4):
            x = irgrad.randn(n)
            np.testing.assert_array_equal(compiled(x).numpy(), (x * 2).numpy())
    assert len(compiled._compiled.cache) == RECOMPILE_LIMIT
    assert "new call signatures run eagerly" in "\n".join(compiled._compiled.log)


def test_giving_up_on_a_function_whose_every_capture_breaks_names_the_break(backend):
    """A hook that reads its gradient's value breaks every capture, and the list it
    appends to changes the state each call: the limit's message names the break, not
    only the list."""
    w = irgrad.randn(3, requires_grad=True)
    norms: list = []
    w.register_hook(lambda g: norms.append(g.norm().item()))
    compiled = irgrad.compile(lambda x: (x * w).sum().backward(), backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(10):
            compiled(irgrad.ones(3))
    assert len(norms) == 10  # every call ran the hook, eagerly
    assert "every capture broke the graph (item()" in compiled._compiled.gave_up


def _twin(make):
    import copy

    irgrad.manual_seed(0)
    model = make()
    return model, copy.deepcopy(model)


@pytest.mark.parametrize("name,make,inputs", MODELS, ids=[m[0] for m in MODELS])
def test_compiled_gradients_equal_eager(name, make, inputs, backend):
    eager, twin = _twin(make)
    eager.eval(), twin.eval()  # no dropout noise: gradients comparable exactly
    compiled = irgrad.compile(twin, backend=backend)
    for _ in range(3):  # the first call captures, the second recaptures: .grad exists now
        x = inputs()
        (eager(x) ** 2).sum().backward()
        (compiled(x) ** 2).sum().backward()
    for (n, p), (_, q) in zip(eager.named_parameters(), twin.named_parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=n)
    assert_graphs_answered(compiled)


@pytest.mark.parametrize("name,make,inputs", MODELS, ids=[m[0] for m in MODELS])
def test_twenty_compiled_training_steps_give_eager_losses(name, make, inputs, backend):
    eager, twin = _twin(make)
    compiled = irgrad.compile(twin, backend=backend)
    opt_e = irgrad.optim.SGD(eager.parameters(), lr=0.05, momentum=0.9)
    opt_c = irgrad.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(20):
        x = inputs()
        n_classes = 4 if name == "mlp" else 5 if name == "cnn" else 2
        y = irgrad.randint(0, n_classes, (x.shape[0],))
        state = irgrad.get_rng_state()
        loss_e = loss_fn(eager(x), y)
        irgrad.set_rng_state(state)  # the same dropout masks in both
        loss_c = loss_fn(compiled(x), y)
        np.testing.assert_allclose(loss_c.item(), loss_e.item(), rtol=1e-4, err_msg=f"step {step}")
        for opt, loss in ((opt_e, loss_e), (opt_c, loss_c)):
            opt.zero_grad()
            loss.backward()
            opt.step()
    for p, q in zip(eager.parameters(), twin.parameters()):
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-3, atol=1e-5)
    assert_graphs_answered(compiled)


def test_input_gradients_flow_through_compiled_functions(backend):
    def f(x, w):
        return (x @ w).tanh().sum()

    compiled = irgrad.compile(f, backend=backend)
    for _ in range(2):
        x = irgrad.randn(3, 4, requires_grad=True)
        w = irgrad.randn(4, 2, requires_grad=True)
        compiled(x, w).backward()
        x2, w2 = x.detach().requires_grad_(), w.detach().requires_grad_()
        f(x2, w2).backward()
        # tanh' = 1 - tanh^2 loses digits where tanh saturates: one ulp of tanh (numpy's and
        # LLVM's agree to an ulp) is 1e-4 of the gradient at |x @ w| = 4
        np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=2e-4, atol=1e-7)
        np.testing.assert_allclose(w.grad.numpy(), w2.grad.numpy(), rtol=2e-4, atol=1e-7)
    assert_graphs_answered(compiled)


def test_compiled_backward_twice_needs_retain_graph(backend):
    model = mlp()
    compiled = irgrad.compile(model, backend=backend)
    compiled(irgrad.randn(2, 6))
    loss = compiled(irgrad.randn(2, 6)).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


def test_a_weight_modified_in_place_before_the_compiled_backward_raises_as_eager(backend):
    # the backward reads the weight itself (x's gradient is g @ W): run after W *= 2, it
    # would use the new weight, where eager raises; a weight it does not read may change
    irgrad.manual_seed(0)
    layer = nn.Linear(4, 3)
    compiled = irgrad.compile(layer, backend=backend)
    x = irgrad.randn(5, 4, requires_grad=True)
    compiled(x)
    out = graph_call(compiled, x)
    with irgrad.no_grad():
        layer.weight.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
    x.grad = None
    out = graph_call(compiled, x)
    with irgrad.no_grad():
        layer.bias.add_(1.0)  # the backward reads no bias: eager does not raise either
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones((5, 3), np.float32) @ layer.weight.detach().numpy())


def test_data_dependent_branch_is_right_on_both_sides_and_explained(backend):
    def f(x):
        total = (x * 2).sum()
        if total > 0:  # data-dependent: a graph break
            return x.exp()
        return -x

    compiled = irgrad.compile(f, backend=backend)
    with irgrad.no_grad():
        for value in (1.0, -1.0, 2.0, -3.0):
            x = irgrad.full((3,), value)
            np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy())
    text = compiled.explain()
    assert "graph break: bool() reads the value of a traced tensor" in text
    assert "test_compile.py:" in text


def test_fullgraph_turns_breaks_into_errors(backend):
    def f(x):
        return x * x.sum().item()

    compiled = irgrad.compile(f, backend=backend, fullgraph=True)
    with pytest.raises(GraphBreakError, match="item"):
        compiled(irgrad.randn(3))


def test_dynamic_shapes_with_training(backend):
    eager, twin = _twin(mlp)
    compiled = irgrad.compile(twin, backend=backend, dynamic=True)
    for batch in (4, 6, 7, 9, 9):  # 7: a probe's size; 9: traced first, then the graph runs it
        x = irgrad.randn(batch, 6)
        (eager(x) ** 2).mean().backward()
        (compiled(x) ** 2).mean().backward()
    for p, q in zip(eager.parameters(), twin.parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-6)
    assert len(compiled._compiled.cache) == 1
    assert_graphs_answered(compiled)


def test_index_tensors_are_graph_values_not_constants(backend):
    """The graph reads the indices of each call (a negative one too, counted from the end
    natively, with no call handed to the interpreter)."""
    compiled = irgrad.compile(lambda x, i: x[i], backend=backend)
    x = irgrad.arange(12.0).reshape(4, 3)
    with irgrad.no_grad():
        compiled(x, irgrad.tensor([0, 2]))
        for index in ([1, 3], [-1, 0], [2, 2]):
            i = irgrad.tensor(index)
            np.testing.assert_array_equal(graph_call(compiled, x, i).numpy(), x[i].numpy())
    assert len(compiled._compiled.cache) == 1 and not compiled._compiled.breaks
    assert compiled.explain().graphs[0]["interpreted"]["forward"] == 0


def test_boolean_masks_break_the_graph_and_stay_correct(backend):
    def f(x):
        return x[x > 0].sum()

    compiled = irgrad.compile(f, backend=backend)
    with irgrad.no_grad():
        for values in ([1.0, -1.0, 2.0], [-5.0, 3.0, -1.0]):
            x = irgrad.tensor(values)
            assert compiled(x).item() == f(x).item()
    assert "boolean-mask indexing" in compiled.explain()


def test_values_the_tracer_cannot_see_are_caught_by_validation(backend):
    from irgrad.tensor import Tensor

    def sneaky(x):  # computes with numpy on traced data, invisible to the tracer
        return x * Tensor._wrap(np.asarray(x._data.max()))

    compiled = irgrad.compile(sneaky, backend=backend)
    with irgrad.no_grad():
        for value in (1.0, 3.0, -2.0):
            x = irgrad.tensor([value, 2.0])
            np.testing.assert_allclose(compiled(x).numpy(), sneaky(x).numpy())
    assert "graph rejected" in "\n".join(compiled._compiled.log)


@pytest.mark.parametrize("name,make,inputs", MODELS, ids=[m[0] for m in MODELS])
def test_verifier_between_passes_accepts_every_stage(name, make, inputs, backend):
    irgrad.manual_seed(0)
    compiled = irgrad.compile(make(), backend=backend, options={"verify": True})
    for _ in range(3):  # captured, recaptured once .grad exists, then run
        compiled(inputs()).sum().backward()
    assert compiled._compiled.verify
    assert_graphs_answered(compiled)


@pytest.mark.parametrize("m,k,n", [(256, 784, 256), (32, 25088, 64)])
def test_products_with_a_long_sum_are_not_rejected_for_their_rounding(m, k, n, backend):
    # elements that cancel to near zero carry the rounding of their large terms: a
    # per-element tolerance rejected such graphs (they then ran eagerly)
    compiled = irgrad.compile(lambda a, b: a @ b, backend=backend)
    for seed in range(3):
        irgrad.manual_seed(seed)
        a, b = irgrad.randn(m, k), irgrad.randn(k, n)
        np.testing.assert_allclose(
            compiled(a, b).numpy(), a.numpy().astype(np.float64) @ b.numpy(), rtol=1e-3, atol=2e-3
        )
    assert not any("rejected" in line for line in compiled._compiled.log)
    assert_graphs_answered(compiled)


def test_agreement_scales_with_the_largest_value_only_by_rounding():
    from irgrad.compiler.check import agree

    want = np.array([300.0, -300.0, 0.01], np.float32)
    assert agree(want, want + np.array([0, 0, 2e-4], np.float32), rtol=1e-3, atol=1e-5)  # rounding
    assert not agree(want, want + np.array([0, 0, 0.1], np.float32), rtol=1e-3, atol=1e-5)  # a wrong value
    assert not agree(want, want * np.float32(1.01), rtol=1e-3, atol=1e-5)
    assert agree(np.array([np.inf, np.nan, 1.0]), np.array([np.inf, np.nan, 1.0]), rtol=1e-3, atol=1e-5)
    assert not agree(np.array([1, 2]), np.array([1, 3]), rtol=1e-3, atol=1e-5)  # integers: exact
