"""Sparse COO tensors (irgrad.sparse) against PyTorch: construction, conversions, products,
reductions, gradients, the errors of unsupported ops, and irgrad.compile's eager fallback."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import irgrad

INDICES = [[0, 1, 1, 2, 1], [2, 0, 2, 1, 0]]  # (1, 0) twice: uncoalesced
VALUES = [3.0, 4.0, 5.0, 6.0, 1.5]


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    warnings.filterwarnings("ignore", message="Sparse invariant checks")
    return torch


def _pair(lib, values=VALUES, **kwargs):
    return lib.sparse_coo_tensor(lib.tensor(INDICES), lib.tensor(values), (3, 3), **kwargs)


def _same_sparse(ours, theirs) -> None:
    assert ours.layout is irgrad.sparse_coo and theirs.layout.__repr__() == "torch.sparse_coo"
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(
        ours.to_dense().detach().numpy(), theirs.to_dense().detach().numpy(), rtol=1e-6
    )


def test_layout_facts():
    s = _pair(irgrad)
    assert s.is_sparse and s.layout is irgrad.sparse_coo and repr(s.layout) == "torch.sparse_coo"
    assert irgrad.ones(2).layout is irgrad.strided and not irgrad.ones(2).is_sparse
    assert (s.sparse_dim(), s.dense_dim(), s._nnz(), s.is_coalesced()) == (2, 0, 5, False)
    assert s.dtype is irgrad.float32 and s.shape == (3, 3) and s.size(1) == 3 and s.dim() == 2
    c = s.coalesce()
    assert c.is_coalesced() and c._nnz() == 4
    assert c.indices().tolist() == [[0, 1, 1, 2], [2, 0, 2, 1]]
    assert c.values().tolist() == [3.0, 5.5, 5.0, 6.0]
    with pytest.raises(RuntimeError, match="uncoalesced"):
        s.indices()


def test_repr_matches_torch(torch):
    for dtype in ("float32", "float64", "int64"):
        ours = _pair(irgrad, dtype=getattr(irgrad, dtype)).coalesce()
        theirs = _pair(torch, dtype=getattr(torch, dtype)).coalesce()
        assert repr(ours).replace("irgrad.", "torch.") == repr(theirs)
    leaf_ours, leaf_theirs = _pair(irgrad, requires_grad=True), _pair(torch, requires_grad=True)
    assert repr(leaf_ours) == repr(leaf_theirs)


def test_construction_checks_and_inferred_size(torch):
    assert tuple(irgrad.sparse_coo_tensor(INDICES, VALUES).shape) == tuple(
        torch.sparse_coo_tensor(INDICES, VALUES).shape
    )
    hybrid = irgrad.sparse_coo_tensor(INDICES, irgrad.ones(5, 2), (3, 3, 2))
    assert (hybrid.sparse_dim(), hybrid.dense_dim()) == (2, 1)
    _same_sparse(hybrid, torch.sparse_coo_tensor(INDICES, torch.ones(5, 2), (3, 3, 2)))
    with pytest.raises(RuntimeError, match="size is inconsistent with indices: for dim 0, size is 2"):
        irgrad.sparse_coo_tensor(INDICES, VALUES, (2, 3))
    with pytest.raises(RuntimeError, match="same nnz"):
        irgrad.sparse_coo_tensor(INDICES, VALUES[:3], (3, 3))
    empty = irgrad.sparse_coo_tensor(irgrad.zeros(2, 0, dtype=irgrad.int64), irgrad.zeros(0), (2, 2))
    assert empty._nnz() == 0 and empty.to_dense().tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_to_sparse_and_back(torch):
    x = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, -3.0]], dtype=np.float32)
    ours, theirs = irgrad.tensor(x).to_sparse(), torch.tensor(x).to_sparse()
    assert ours.indices().tolist() == theirs.indices().tolist() and ours.is_coalesced()
    rows = irgrad.tensor(x).to_sparse(1)
    assert rows.indices().tolist() == torch.tensor(x).to_sparse(1).indices().tolist()
    np.testing.assert_array_equal(rows.to_dense().numpy(), x)
    diagonal = irgrad.diag(irgrad.tensor([1.0, 0.0, 2.0])).to_sparse()
    assert diagonal._nnz() == 2


def test_conversions_and_copies():
    s = _pair(irgrad)
    assert s.double().dtype is irgrad.float64 and s.to(irgrad.float64).dtype is irgrad.float64
    assert s.to("cpu") is s and s.float() is s
    assert s.clone().is_sparse and s.detach().is_sparse
    np.testing.assert_array_equal(s.clone().to_dense().numpy(), s.to_dense().numpy())
    leaf = _pair(irgrad).requires_grad_()
    assert leaf.requires_grad and leaf.is_leaf and not leaf.detach().requires_grad


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib, s, d: lib.mm(s, d),
        lambda lib, s, d: lib.spmm(s, d),
        lambda lib, s, d: lib.sparse.mm(s, d),
        lambda lib, s, d: s @ d,
        lambda lib, s, d: lib.matmul(s, d),
        lambda lib, s, d: d.t() @ s,
    ],
)
def test_sparse_dense_products_and_gradients(torch, fn):
    d = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    results = []
    for lib in (irgrad, torch):
        s = _pair(lib, requires_grad=True)
        dense = lib.tensor(
            d if fn(lib, s.detach(), lib.tensor(d)).shape[0] == 3 else d[:, :3], requires_grad=True
        )
        out = fn(lib, s, dense)
        (out * lib.arange(out.numel()).reshape(out.shape)).sum().backward()
        results.append((out, dense.grad, s.grad))
    (out, dgrad, sgrad), (tout, tdgrad, tsgrad) = results
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(dgrad.numpy(), tdgrad.numpy(), rtol=1e-5)
    assert sgrad.is_sparse == tsgrad.is_sparse  # torch.sparse.mm: sparse; torch.mm: dense
    np.testing.assert_allclose(sgrad.to_dense().numpy(), tsgrad.to_dense().numpy(), rtol=1e-5)


def test_gradient_reaches_the_values_a_tensor_was_made_from(torch):
    grads = []
    for lib in (irgrad, torch):
        v = lib.tensor(VALUES, requires_grad=True)
        s = lib.sparse_coo_tensor(lib.tensor(INDICES), v, (3, 3))
        assert not s.is_leaf and s.grad_fn is not None
        (lib.spmm(s * 2.0, lib.ones(3, 2)).sum() + lib.sparse.sum(s)).backward()
        grads.append(v.grad.numpy())
    np.testing.assert_allclose(*grads)


def test_sparse_sparse_and_elementwise(torch):
    ours, theirs = _pair(irgrad), _pair(torch)
    for fn in (
        lambda s: s @ s,
        lambda s: s + s,
        lambda s: s - s * 0.5,
        lambda s: 2 * s,
        lambda s: s / 4,
        lambda s: -s,
        lambda s: s.t(),
        lambda s: s.transpose(0, 1),
        lambda s: s.abs(),
        lambda s: s.coalesce(),
    ):
        _same_sparse(fn(ours), fn(theirs))
    assert (ours @ ours).is_coalesced()
    dense = irgrad.eye(3) + _pair(irgrad, dtype=irgrad.int64)
    np.testing.assert_array_equal(dense.numpy(), (torch.eye(3) + _pair(torch, dtype=torch.int64)).numpy())


def test_sums_and_softmax(torch):
    ours, theirs = _pair(irgrad), _pair(torch)
    assert irgrad.sum(ours).item() == pytest.approx(torch.sum(theirs).item())
    _same_sparse(irgrad.sum(ours, dim=1), torch.sum(theirs, dim=1))
    _same_sparse(irgrad.sparse.sum(ours, dim=0), torch.sparse.sum(theirs, dim=0))
    assert not irgrad.sparse.sum(ours, dim=(0, 1)).is_sparse
    _same_sparse(irgrad.sparse.softmax(ours, 1), torch.sparse.softmax(theirs, 1))
    _same_sparse(irgrad.sparse.log_softmax(ours, 0), torch.sparse.log_softmax(theirs, 0))


def test_unsupported_ops_name_the_op_and_layout():
    s = _pair(irgrad)
    with pytest.raises(
        NotImplementedError, match="Could not run 'aten::exp' with arguments from the 'SparseCPU'"
    ):
        s.exp()
    with pytest.raises(NotImplementedError, match="SparseCPU"):
        s.max()
    with pytest.raises(TypeError, match="can't convert Sparse layout tensor to numpy"):
        s.numpy()
    with pytest.raises(RuntimeError, match=r"add\(sparse, dense\) is not supported"):
        s + irgrad.ones(3, 3)
    with pytest.raises(RuntimeError, match="sparse"):
        s.view(9)
    with pytest.raises(TypeError, match="subclass SparseTensor"):
        irgrad.save(s, "/dev/null")


def graph_conv(lib):
    """pytorch/examples' gcn GraphConv, an ``nn.Module`` of ``lib``: spmm(adj, x @ kernel) + bias."""

    class GraphConv(lib.nn.Module):
        def __init__(self, weight: np.ndarray) -> None:
            super().__init__()
            self.kernel = lib.nn.Parameter(lib.tensor(weight))
            self.bias = lib.nn.Parameter(lib.zeros(weight.shape[1]))

        def forward(self, input_tensor, adj_mat):
            return lib.spmm(adj_mat, lib.mm(input_tensor, self.kernel)) + self.bias

    return GraphConv


def _normalized_adjacency(lib, edges: np.ndarray, nodes: int):
    """gcn/main.py's load_cora: A + I, then D^-1/2 (A + I) D^-1/2, as a sparse tensor."""
    adj = lib.sparse_coo_tensor(edges.T, lib.ones(edges.shape[0]), (nodes, nodes), dtype=lib.int64)
    adj = lib.eye(nodes) + adj
    degree = lib.sqrt(1 / lib.sum(adj, dim=1))
    degree[degree == float("inf")] = 0
    degree = lib.diag(degree).to_sparse()
    return (degree @ adj @ degree).to_sparse()


def _gcn_run(lib, steps: int = 4):
    rng = np.random.default_rng(1)
    nodes, features, hidden, classes = 12, 6, 5, 3
    edges = rng.integers(0, nodes, size=(30, 2)).astype(np.int32)
    x = rng.random((nodes, features)).astype(np.float32)
    x[x < 0.6] = 0
    labels = lib.tensor(rng.integers(0, classes, nodes))
    w1 = rng.standard_normal((features, hidden)).astype(np.float32) * 0.5
    w2 = rng.standard_normal((hidden, classes)).astype(np.float32) * 0.5
    adj = _normalized_adjacency(lib, edges, nodes)
    feats = lib.tensor(x).to_sparse()
    layers = [graph_conv(lib)(w1), graph_conv(lib)(w2)]
    params = [p for layer in layers for p in (layer.kernel, layer.bias)]
    opt = lib.optim.Adam(params, lr=0.05, weight_decay=5e-4)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        h = lib.nn.functional.relu(layers[0](feats, adj))
        out = lib.nn.functional.log_softmax(layers[1](h, adj), dim=1)
        loss = lib.nn.functional.nll_loss(out, labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy().copy() for p in params]


def test_gcn_training_matches_torch(torch):
    ours, theirs = _gcn_run(irgrad), _gcn_run(torch)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5)
    for a, b in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_compiled_gcn_layer_runs_eagerly_and_matches():
    rng = np.random.default_rng(2)
    adj = irgrad.tensor((rng.random((6, 6)) < 0.4).astype(np.float32)).to_sparse()
    kernel = irgrad.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)

    def layer(x, a):
        return irgrad.relu(irgrad.spmm(a, irgrad.mm(x, kernel))).sum()

    compiled = irgrad.compile(layer)
    x = irgrad.tensor(rng.standard_normal((6, 4)).astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = [compiled(x, adj), compiled(x, adj)]
    expected = layer(x, adj)
    expected.backward()
    eager_grad = kernel.grad.numpy().copy()
    for result in results:
        kernel.grad = None
        result.backward()
        assert result.item() == pytest.approx(expected.item())
        np.testing.assert_allclose(kernel.grad.numpy(), eager_grad, rtol=1e-6)
    assert "sparse COO tensor argument a" in str(compiled.explain())

    def makes_one(v):
        return irgrad.sparse_coo_tensor(irgrad.tensor(INDICES), v, (3, 3)).to_dense() * 2

    maker = irgrad.compile(makes_one)
    v = irgrad.tensor(VALUES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(maker(v).numpy(), makes_one(v).numpy())
        np.testing.assert_array_equal(maker(v).numpy(), makes_one(v).numpy())
    assert "sparse COO tensor" in str(maker.explain())
