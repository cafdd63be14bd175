"""Attention and Transformer layers against PyTorch (weights copied through state dicts, eval
mode, dropout 0): outputs, attention weights, and the gradients of inputs and parameters,
with bool, float, causal and key-padding masks."""

from __future__ import annotations

import copy
import itertools
import warnings

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F

torch = pytest.importorskip("torch")

TOL = dict(rtol=1e-4, atol=1e-5)


def copy_weights(tm, im) -> None:
    assert list(tm.state_dict()) == list(im.state_dict())
    im.load_state_dict({k: irgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def pair(value, requires_grad=False):
    """The same array as a torch tensor and an irgrad tensor."""
    t = torch.tensor(value, requires_grad=requires_grad)
    return t, irgrad.tensor(value, requires_grad=requires_grad)


def close(t, i) -> None:
    assert tuple(i.shape) == tuple(t.shape)
    np.testing.assert_allclose(i.detach().numpy(), t.detach().numpy(), **TOL)


def backward_both(t, i, rng) -> None:
    g = rng.standard_normal(tuple(t.shape)).astype(np.float32)
    (t * torch.tensor(g)).sum().backward()
    (i * irgrad.tensor(g)).sum().backward()


def grads_close(tensors) -> None:
    for t, i in tensors:
        np.testing.assert_allclose(i.grad.numpy(), t.grad.numpy(), **TOL)


def param_grads_close(tm, im) -> None:
    for (tn, tp), (iname, ip) in zip(tm.named_parameters(), im.named_parameters()):
        assert tn == iname
        np.testing.assert_allclose(ip.grad.numpy(), tp.grad.numpy(), err_msg=tn, **TOL)


def attn_mask(kind, shape, rng):
    if kind == "bool":
        m = rng.random(shape) < 0.4
        m[..., 0] = True  # SDPA convention: True = may attend; keep one key per row
        return m
    if kind == "float":
        return rng.standard_normal(shape).astype(np.float32)
    return None


# --- scaled_dot_product_attention --------------------------------------------------------


@pytest.mark.parametrize(
    "mask,scale,lengths",
    list(itertools.product([None, "bool", "float", "causal"], [None, 0.3], [(4, 4), (3, 5)])),
)
def test_sdpa_matches_torch(mask, scale, lengths):
    rng = np.random.default_rng(0)
    L, S = lengths
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in ((2, 3, L, 4), (2, 3, S, 4), (2, 3, S, 5)))
    (tq, iq), (tk, ik), (tv, iv) = pair(q, True), pair(k, True), pair(v, True)
    m = attn_mask(mask, (L, S), rng)
    tm_, im_ = (None, None) if m is None else pair(m)
    kw = dict(is_causal=mask == "causal", scale=scale)
    t = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm_, **kw)
    i = F.scaled_dot_product_attention(iq, ik, iv, attn_mask=im_, **kw)
    close(t, i)
    backward_both(t, i, rng)
    grads_close([(tq, iq), (tk, ik), (tv, iv)])


def test_sdpa_fully_masked_rows_are_zero():
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((1, 2, 3, 4)).astype(np.float32) for _ in range(3))
    (tq, iq), (tk, ik), (tv, iv) = pair(q, True), pair(k, True), pair(v, True)
    m = np.ones((3, 3), dtype=bool)
    m[1] = False
    for mask in (m, np.where(m, 0.0, -np.inf).astype(np.float32)):
        tm_, im_ = pair(mask)
        t = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm_)
        i = F.scaled_dot_product_attention(iq, ik, iv, attn_mask=im_)
        close(t, i)
        assert np.all(i.detach().numpy()[:, :, 1] == 0)
        backward_both(t, i, rng)
        grads_close([(tq, iq), (tk, ik), (tv, iv)])
        assert np.isfinite(iq.grad.numpy()).all()


def test_sdpa_gqa_and_errors():
    rng = np.random.default_rng(2)
    q = rng.standard_normal((2, 4, 3, 8)).astype(np.float32)
    k, v = (rng.standard_normal((2, 2, 5, 8)).astype(np.float32) for _ in range(2))
    (tq, iq), (tk, ik), (tv, iv) = pair(q, True), pair(k, True), pair(v, True)
    t = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, enable_gqa=True)
    i = F.scaled_dot_product_attention(iq, ik, iv, enable_gqa=True)
    close(t, i)
    backward_both(t, i, rng)
    grads_close([(tq, iq), (tk, ik), (tv, iv)])
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(
            iq, ik, iv, attn_mask=irgrad.ones(3, 5, dtype=irgrad.bool), is_causal=True
        )


# --- MultiheadAttention --------------------------------------------------------------------


def mha_case(
    tm, im, rng, *, self_attn, batch_first, mask, kpm, need_weights, average, causal=False, L=4, S=5, N=3
):
    E = im.embed_dim
    Sx = L if self_attn else S
    shape = (lambda n: (N, n, E)) if batch_first else (lambda n: (n, N, E))
    tq, iq = pair(rng.standard_normal(shape(L)).astype(np.float32), True)
    if self_attn:
        (tk, ik), (tv, iv) = (tq, iq), (tq, iq)
    else:
        tk, ik = pair(rng.standard_normal(shape(Sx)).astype(np.float32), True)
        tv, iv = pair(rng.standard_normal(shape(Sx)).astype(np.float32), True)
    am = None
    if mask == "bool":
        am = rng.random((L, Sx)) < 0.3  # MHA convention: True = masked out
        am[:, 0] = False
    elif mask == "float":
        am = rng.standard_normal((L, Sx)).astype(np.float32)
    elif mask == "causal":
        am = np.triu(np.full((L, Sx), -np.inf, dtype=np.float32), 1)
    km = None
    if kpm == "bool":
        km = rng.random((N, Sx)) < 0.3
        km[:, 0] = False
    elif kpm == "float":
        km = rng.standard_normal((N, Sx)).astype(np.float32)
    (tam, iam) = (None, None) if am is None else pair(am)
    (tkm, ikm) = (None, None) if km is None else pair(km)
    kw = dict(need_weights=need_weights, average_attn_weights=average, is_causal=causal)
    to, tw = tm(tq, tk, tv, key_padding_mask=tkm, attn_mask=tam, **kw)
    io, iw = im(iq, ik, iv, key_padding_mask=ikm, attn_mask=iam, **kw)
    close(to, io)
    if need_weights:
        close(tw, iw)
    else:
        assert iw is None
    backward_both(to, io, rng)
    grads_close([(tq, iq)] + ([] if self_attn else [(tk, ik), (tv, iv)]))
    param_grads_close(tm, im)


MHA_CASES = [
    (bf, nw, mask, kpm, sa)
    for bf, nw, mask, kpm, sa in itertools.product(
        [False, True],
        [True, False],
        [None, "bool", "float", "causal"],
        [None, "bool", "float"],
        [True, False],
    )
    if not (mask == "causal" and not sa) and not (mask in ("bool", "float") and kpm not in (None, mask))
]


@pytest.mark.parametrize("batch_first,need_weights,mask,kpm,self_attn", MHA_CASES)
def test_mha_matches_torch(batch_first, need_weights, mask, kpm, self_attn):
    rng = np.random.default_rng(len(MHA_CASES))
    torch.manual_seed(0)
    tm, im = (
        torch.nn.MultiheadAttention(8, 2, batch_first=batch_first),
        nn.MultiheadAttention(8, 2, batch_first=batch_first),
    )
    copy_weights(tm, im)
    mha_case(
        tm,
        im,
        rng,
        self_attn=self_attn,
        batch_first=batch_first,
        mask=mask,
        kpm=kpm,
        need_weights=need_weights,
        average=bool(rng.integers(2)),
        causal=mask == "causal",
    )


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_kdim_vdim_bias_kv_zero_attn(need_weights):
    rng = np.random.default_rng(3)
    kwargs = dict(kdim=5, vdim=3, add_bias_kv=True, add_zero_attn=True, bias=True)
    torch.manual_seed(0)
    tm, im = torch.nn.MultiheadAttention(6, 3, **kwargs), nn.MultiheadAttention(6, 3, **kwargs)
    assert [n for n, _ in im.named_parameters()] == [n for n, _ in tm.named_parameters()]
    copy_weights(tm, im)
    L, S, N = 4, 3, 2
    tq, iq = pair(rng.standard_normal((L, N, 6)).astype(np.float32), True)
    tk, ik = pair(rng.standard_normal((S, N, 5)).astype(np.float32), True)
    tv, iv = pair(rng.standard_normal((S, N, 3)).astype(np.float32), True)
    tkm, ikm = pair(np.array([[False, True, False], [False, False, True]]))
    to, tw = tm(tq, tk, tv, key_padding_mask=tkm, need_weights=need_weights)
    io, iw = im(iq, ik, iv, key_padding_mask=ikm, need_weights=need_weights)
    close(to, io)
    if need_weights:
        close(tw, iw)
    backward_both(to, io, rng)
    grads_close([(tq, iq), (tk, ik), (tv, iv)])
    param_grads_close(tm, im)


def test_mha_unbatched_3d_mask_no_bias():
    rng = np.random.default_rng(4)
    torch.manual_seed(0)
    tm, im = torch.nn.MultiheadAttention(8, 4, bias=False), nn.MultiheadAttention(8, 4, bias=False)
    copy_weights(tm, im)
    tx, ix = pair(rng.standard_normal((5, 8)).astype(np.float32), True)
    tam, iam = pair(rng.standard_normal((4, 5, 5)).astype(np.float32))
    to, tw = tm(tx, tx, tx, attn_mask=tam, average_attn_weights=False)
    io, iw = im(ix, ix, ix, attn_mask=iam, average_attn_weights=False)
    close(to, io)
    close(tw, iw)
    backward_both(to, io, rng)
    grads_close([(tx, ix)])
    param_grads_close(tm, im)


def test_mha_fully_masked_row_with_weights_is_nan_as_torch():
    torch.manual_seed(0)
    tm, im = torch.nn.MultiheadAttention(4, 2), nn.MultiheadAttention(4, 2)
    copy_weights(tm, im)
    x = np.random.default_rng(5).standard_normal((3, 1, 4)).astype(np.float32)
    mask = np.zeros((3, 3), dtype=bool)
    mask[1] = True
    (tx, ix), (tm_, im_) = pair(x), pair(mask)
    for need_weights in (True, False):
        to, _ = tm(tx, tx, tx, attn_mask=tm_, need_weights=need_weights)
        io, _ = im(ix, ix, ix, attn_mask=im_, need_weights=need_weights)
        np.testing.assert_allclose(io.detach().numpy(), to.detach().numpy(), **TOL)  # NaN where torch has NaN


def test_mha_init_and_errors():
    m = nn.MultiheadAttention(16, 4)
    assert [n for n, _ in m.named_parameters()] == [
        "in_proj_weight",
        "in_proj_bias",
        "out_proj.weight",
        "out_proj.bias",
    ]
    assert isinstance(m.out_proj, nn.Linear)
    assert np.all(m.in_proj_bias.detach().numpy() == 0) and np.all(m.out_proj.bias.detach().numpy() == 0)
    bound = np.sqrt(6 / (16 + 48))
    assert np.abs(m.in_proj_weight.detach().numpy()).max() <= bound
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(irgrad.randn(3, 2, 16), irgrad.randn(3, 2, 16), irgrad.randn(3, 2, 16), is_causal=True)


def test_mha_dropout_in_training_only():
    m = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = irgrad.randn(5, 2, 8)
    m.eval()
    a = m(x, x, x)[0].detach().numpy()
    np.testing.assert_array_equal(a, m(x, x, x)[0].detach().numpy())
    m.train()
    assert not np.allclose(a, m(x, x, x)[0].detach().numpy())


# --- Transformer layers --------------------------------------------------------------------

ENCODER_CASES = [
    c
    for c in itertools.product(
        [False, True], [False, True], ["relu", "gelu"], [None, "bool", "float", "causal"], [None, "bool"]
    )
    if not (c[3] == "float" and c[4] == "bool")
]


def encoder_inputs(rng, batch_first, mask, kpm, L=5, N=3, E=8):
    tx, ix = pair(rng.standard_normal((N, L, E) if batch_first else (L, N, E)).astype(np.float32), True)
    am = None
    if mask == "bool":
        am = rng.random((L, L)) < 0.3
        np.fill_diagonal(am, False)
    elif mask == "float":
        am = rng.standard_normal((L, L)).astype(np.float32)
    elif mask == "causal":
        am = np.triu(np.full((L, L), -np.inf, dtype=np.float32), 1)
    km = None
    if kpm == "bool":
        km = rng.random((N, L)) < 0.3
        km[:, 0] = False
    tam, iam = (None, None) if am is None else pair(am)
    tkm, ikm = (None, None) if km is None else pair(km)
    return (tx, ix), (tam, iam), (tkm, ikm)


@pytest.mark.parametrize("batch_first,norm_first,activation,mask,kpm", ENCODER_CASES)
def test_encoder_layer_matches_torch(batch_first, norm_first, activation, mask, kpm):
    rng = np.random.default_rng(7)
    kwargs = dict(
        dim_feedforward=16, dropout=0.0, activation=activation, batch_first=batch_first, norm_first=norm_first
    )
    torch.manual_seed(0)
    tm, im = torch.nn.TransformerEncoderLayer(8, 2, **kwargs), nn.TransformerEncoderLayer(8, 2, **kwargs)
    copy_weights(tm, im)
    tm.eval()
    im.eval()
    (tx, ix), (tam, iam), (tkm, ikm) = encoder_inputs(rng, batch_first, mask, kpm)
    causal = mask == "causal"
    to = tm(tx, src_mask=tam, src_key_padding_mask=tkm, is_causal=causal)
    io = im(ix, src_mask=iam, src_key_padding_mask=ikm, is_causal=causal)
    close(to, io)
    backward_both(to, io, rng)
    grads_close([(tx, ix)])
    param_grads_close(tm, im)


@pytest.mark.parametrize("mask,kpm", [(None, None), ("causal", None), ("bool", "bool")])
def test_encoder_stack_matches_torch(mask, kpm):
    rng = np.random.default_rng(8)
    torch.manual_seed(0)
    kwargs = dict(dim_feedforward=16, dropout=0.0, batch_first=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: "enable_nested_tensor is True, but ..."
        tm = torch.nn.TransformerEncoder(
            torch.nn.TransformerEncoderLayer(8, 2, **kwargs), 2, norm=torch.nn.LayerNorm(8)
        )
    im = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, **kwargs), 2, norm=nn.LayerNorm(8))
    copy_weights(tm, im)
    tm.eval()
    im.eval()
    (tx, ix), (tam, iam), (tkm, ikm) = encoder_inputs(rng, True, mask, kpm)
    to = tm(tx, mask=tam, src_key_padding_mask=tkm)
    io = im(ix, mask=iam, src_key_padding_mask=ikm)
    close(to, io)
    backward_both(to, io, rng)
    grads_close([(tx, ix)])
    param_grads_close(tm, im)


def test_encoder_layers_are_independent_copies():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    enc = nn.TransformerEncoder(layer, 3)
    weights = [m.self_attn.in_proj_weight for m in enc.layers]
    assert len({id(w) for w in weights}) == 3 and all(
        w is not layer.self_attn.in_proj_weight for w in weights
    )
    np.testing.assert_array_equal(weights[0].detach().numpy(), weights[2].detach().numpy())
    with irgrad.no_grad():
        weights[0].add_(1.0)
    assert not np.allclose(weights[0].detach().numpy(), weights[1].detach().numpy())
    clone = copy.deepcopy(enc)
    assert clone.layers[0].linear1.weight is not enc.layers[0].linear1.weight
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in enc.named_parameters()]


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_matches_torch(norm_first):
    rng = np.random.default_rng(9)
    kwargs = dict(
        d_model=8,
        nhead=2,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dim_feedforward=16,
        dropout=0.0,
        norm_first=norm_first,
        activation="gelu",
    )
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = torch.nn.Transformer(**kwargs)
    im = nn.Transformer(**kwargs)
    copy_weights(tm, im)
    tm.eval()
    im.eval()
    tsrc, isrc = pair(rng.standard_normal((6, 2, 8)).astype(np.float32), True)
    ttgt, itgt = pair(rng.standard_normal((4, 2, 8)).astype(np.float32), True)
    tmask, imask = pair(torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(4).numpy(), tmask.numpy())
    tkm, ikm = pair(np.array([[False] * 5 + [True], [False] * 6]))
    to = tm(tsrc, ttgt, tgt_mask=tmask, src_key_padding_mask=tkm, memory_key_padding_mask=tkm)
    io = im(isrc, itgt, tgt_mask=imask, src_key_padding_mask=ikm, memory_key_padding_mask=ikm)
    close(to, io)
    backward_both(to, io, rng)
    grads_close([(tsrc, isrc), (ttgt, itgt)])
    param_grads_close(tm, im)
