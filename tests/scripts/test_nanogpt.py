"""The nanoGPT-style script: a GPT configured by a dataclass, attention through
``F.scaled_dot_product_attention(is_causal=True)`` with its own dropout, a LayerNorm
without bias (``F.layer_norm`` with ``bias=None``), the token embedding tied to the head
(``wte.weight = lm_head.weight``), the inference path ``lm_head(x[:, [-1], :])``;
``configure_optimizers`` groups parameters by dimension (AdamW decay for matrices only),
the learning rate follows warmup + cosine decay set on every param group between steps,
and a step accumulates gradients over two micro-batches before ``clip_grad_norm_``;
``estimate_loss`` runs under the ``@no_grad()`` decorator in ``eval()``.

Compared: losses, final parameters, the inference logits and ``estimate_loss`` against
torch (dropout 0); compiled module and compiled step against eager irgrad (dropout on).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

import irgrad

from .common import Training, against_eager, against_torch, assert_whole, tensors

LEARNING_RATE, MIN_LR, WARMUP, DECAY_ITERS, ACCUMULATE = 6e-3, 6e-4, 2, 6, 2


@dataclass
class GPTConfig:
    block_size: int = 8
    vocab_size: int = 19
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 16
    dropout: float = 0.1
    bias: bool = False


def build(lib, dropout=0.1):
    nn, F = lib.nn, lib.nn.functional
    config = GPTConfig(dropout=dropout)

    class LayerNorm(nn.Module):
        def __init__(self, ndim, bias):
            super().__init__()
            self.weight = nn.Parameter(lib.ones(ndim))
            self.bias = nn.Parameter(lib.zeros(ndim)) if bias else None

        def forward(self, input):
            return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
            self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
            self.resid_dropout = nn.Dropout(config.dropout)
            self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0, is_causal=True
            )
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
            self.dropout = nn.Dropout(config.dropout)

        def forward(self, x):
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
            self.attn = CausalSelfAttention()
            self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.config = config
            self.transformer = nn.ModuleDict(
                dict(
                    wte=nn.Embedding(config.vocab_size, config.n_embd),
                    wpe=nn.Embedding(config.block_size, config.n_embd),
                    drop=nn.Dropout(config.dropout),
                    h=nn.ModuleList([Block() for _ in range(config.n_layer)]),
                    ln_f=LayerNorm(config.n_embd, bias=config.bias),
                )
            )
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight  # weight tying
            self.apply(self._init_weights)
            for pn, p in self.named_parameters():
                if pn.endswith("c_proj.weight"):
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

        def _init_weights(self, module):
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

        def forward(self, idx, targets=None):
            b, t = idx.size()
            assert t <= self.config.block_size
            pos = lib.arange(0, t, dtype=lib.long)
            x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
            for block in self.transformer.h:
                x = block(x)
            x = self.transformer.ln_f(x)
            if targets is not None:
                logits = self.lm_head(x)
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
            else:  # inference: only the last position's logits
                logits = self.lm_head(x[:, [-1], :])
                loss = None
            return logits, loss

        def configure_optimizers(self, weight_decay, learning_rate, betas):
            param_dict = {pn: p for pn, p in self.named_parameters() if p.requires_grad}
            decay_params = [p for p in param_dict.values() if p.dim() >= 2]
            nodecay_params = [p for p in param_dict.values() if p.dim() < 2]
            optim_groups = [
                {"params": decay_params, "weight_decay": weight_decay},
                {"params": nodecay_params, "weight_decay": 0.0},
            ]
            return lib.optim.AdamW(optim_groups, lr=learning_rate, betas=betas)

    return GPT()


def get_lr(it):
    """Linear warmup, then cosine decay down to MIN_LR."""
    if it < WARMUP:
        return LEARNING_RATE * (it + 1) / (WARMUP + 1)
    if it > DECAY_ITERS:
        return MIN_LR
    decay_ratio = (it - WARMUP) / (DECAY_ITERS - WARMUP)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return MIN_LR + coeff * (LEARNING_RATE - MIN_LR)


def trainer(lib, model, wrap):
    net = wrap(model)
    optimizer = model.configure_optimizers(weight_decay=0.1, learning_rate=LEARNING_RATE, betas=(0.9, 0.95))
    iter_num = 0

    def set_lr():
        for param_group in optimizer.param_groups:
            param_group["lr"] = get_lr(iter_num)

    def train_step(X, Y):
        total = 0.0
        for micro_step in range(ACCUMULATE):
            _, loss = net(X[micro_step], Y[micro_step])
            loss = loss / ACCUMULATE
            loss.backward()
            total = total + loss.detach()
        lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return total

    def next_iteration():
        nonlocal iter_num
        iter_num += 1
        set_lr()

    set_lr()
    return Training(train_step, next_iteration)


def estimate_loss(lib, model, splits):
    @lib.no_grad()
    def estimate():
        out = {}
        model.eval()
        for split, (X, Y) in splits.items():
            losses = lib.zeros(len(X))
            for k in range(len(X)):
                _, loss = model(X[k], Y[k])
                losses[k] = loss.item()
            out[split] = losses.mean()
        model.train()
        return out

    return estimate()


def batches(n: int = 4, size: int = 3):
    """``get_batch``: random windows of a token stream, the targets shifted by one."""
    config = GPTConfig()
    data = np.random.default_rng(12).integers(0, config.vocab_size, 200)
    rng = np.random.default_rng(13)
    out = []
    for _ in range(n):
        ix = rng.integers(0, len(data) - config.block_size, (ACCUMULATE, size))
        x = np.stack([[data[i : i + config.block_size] for i in row] for row in ix])
        y = np.stack([[data[i + 1 : i + 1 + config.block_size] for i in row] for row in ix])
        out.append((x, y))
    return out


def test_trains_as_torch(torch):
    mine, theirs = against_torch(torch, functools.partial(build, dropout=0.0), trainer, batches(6))
    assert mine.transformer.wte.weight is mine.lm_head.weight
    prompt = np.array([[3, 1, 4, 1, 5]])
    logits = [
        model(lib.tensor(prompt))[0].detach().numpy() for lib, model in ((irgrad, mine), (torch, theirs))
    ]
    assert logits[0].shape == (1, 1, GPTConfig.vocab_size)
    np.testing.assert_allclose(logits[0], logits[1], rtol=1e-4, atol=1e-5)
    split = batches(1, 2)[0]
    estimates = [
        float(estimate_loss(lib, model, {"val": tensors(lib, split)})["val"])
        for lib, model in ((irgrad, mine), (torch, theirs))
    ]
    np.testing.assert_allclose(estimates[0], estimates[1], rtol=1e-5)


def test_compiled_trains_as_eager():
    explained = against_eager(build, trainer, batches())
    for explanation in explained["model"]:
        assert_whole(explanation, graphs=2)  # the second micro-batch finds .grad set
    assert_whole(explained["step"], graphs=2)  # the learning rate changes are graph inputs


def test_grad_scaler_disabled_on_cpu():
    model = build(irgrad, dropout=0.0)
    optimizer = model.configure_optimizers(weight_decay=0.1, learning_rate=LEARNING_RATE, betas=(0.9, 0.95))
    scaler = irgrad.amp.GradScaler("cpu", enabled=False)
    X, Y = tensors(irgrad, batches(1)[0])
    _, loss = model(X[0], Y[0])
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    scaler.step(optimizer)
    scaler.update()
