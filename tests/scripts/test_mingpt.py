"""The minGPT-style script: a GPT with explicit causal self-attention (one Linear to q, k, v,
``masked_fill`` with a registered ``tril`` buffer, softmax, attention and residual dropout),
GELU MLPs, LayerNorm, weights initialised through ``apply`` (and the scaled ``c_proj``
init); the loss is ``cross_entropy(..., ignore_index=-1)``; AdamW with minGPT's
``configure_optimizers`` (decay for Linear weights, none for biases, LayerNorm and
Embedding weights), ``zero_grad(set_to_none=True)`` and ``clip_grad_norm_``; then greedy
generation with ``topk``.

Compared: losses, final parameters and a greedy generation against torch (dropout 0);
compiled module and compiled step against eager irgrad (dropout on).
"""

from __future__ import annotations

import functools
import math

import numpy as np

import irgrad

from .common import Training, against_eager, against_torch, assert_whole

VOCAB, BLOCK, EMBD, HEADS, LAYERS = 17, 8, 16, 2, 2


def build(lib, pdrop=0.1):
    nn, F = lib.nn, lib.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(EMBD, 3 * EMBD)
            self.c_proj = nn.Linear(EMBD, EMBD)
            self.attn_dropout = nn.Dropout(pdrop)
            self.resid_dropout = nn.Dropout(pdrop)
            self.register_buffer("bias", lib.tril(lib.ones(BLOCK, BLOCK)).view(1, 1, BLOCK, BLOCK))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(EMBD, dim=2)
            k = k.view(B, T, HEADS, C // HEADS).transpose(1, 2)
            q = q.view(B, T, HEADS, C // HEADS).transpose(1, 2)
            v = v.view(B, T, HEADS, C // HEADS).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = self.attn_dropout(F.softmax(att, dim=-1))
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(EMBD)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(EMBD)
            self.mlp = nn.ModuleDict(
                dict(
                    c_fc=nn.Linear(EMBD, 4 * EMBD),
                    c_proj=nn.Linear(4 * EMBD, EMBD),
                    act=nn.GELU(),
                    dropout=nn.Dropout(pdrop),
                )
            )
            m = self.mlp
            self.mlpf = lambda x: m.dropout(m.c_proj(m.act(m.c_fc(x))))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlpf(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.block_size = BLOCK
            self.transformer = nn.ModuleDict(
                dict(
                    wte=nn.Embedding(VOCAB, EMBD),
                    wpe=nn.Embedding(BLOCK, EMBD),
                    drop=nn.Dropout(pdrop),
                    h=nn.ModuleList([Block() for _ in range(LAYERS)]),
                    ln_f=nn.LayerNorm(EMBD),
                )
            )
            self.lm_head = nn.Linear(EMBD, VOCAB, bias=False)
            self.apply(self._init_weights)
            for pn, p in self.named_parameters():
                if pn.endswith("c_proj.weight"):
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * LAYERS))

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            elif isinstance(module, nn.LayerNorm):
                nn.init.zeros_(module.bias)
                nn.init.ones_(module.weight)

        def configure_optimizers(self, learning_rate, weight_decay, betas):
            decay, no_decay = set(), set()
            for mn, m in self.named_modules():
                for pn, _ in m.named_parameters():
                    fpn = f"{mn}.{pn}" if mn else pn
                    if pn.endswith("bias"):
                        no_decay.add(fpn)
                    elif pn.endswith("weight") and isinstance(m, nn.Linear):
                        decay.add(fpn)
                    elif pn.endswith("weight") and isinstance(m, (nn.LayerNorm, nn.Embedding)):
                        no_decay.add(fpn)
            param_dict = dict(self.named_parameters())
            assert decay | no_decay == set(param_dict) and not decay & no_decay
            groups = [
                {"params": [param_dict[pn] for pn in sorted(decay)], "weight_decay": weight_decay},
                {"params": [param_dict[pn] for pn in sorted(no_decay)], "weight_decay": 0.0},
            ]
            return lib.optim.AdamW(groups, lr=learning_rate, betas=betas)

        def forward(self, idx, targets=None):
            b, t = idx.size()
            pos = lib.arange(0, t, dtype=lib.long).unsqueeze(0)
            x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
            for block in self.transformer.h:
                x = block(x)
            logits = self.lm_head(self.transformer.ln_f(x))
            loss = None
            if targets is not None:
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
            return logits, loss

    return GPT()


def generate(lib, model, idx, max_new_tokens):
    """minGPT's generate() without sampling: the most likely next token, one at a time."""
    F = lib.nn.functional
    model.eval()
    with lib.no_grad():
        for _ in range(max_new_tokens):
            idx_cond = idx if idx.size(1) <= BLOCK else idx[:, -BLOCK:]
            logits, _ = model(idx_cond)
            probs = F.softmax(logits[:, -1, :], dim=-1)
            _, idx_next = lib.topk(probs, k=1, dim=-1)
            idx = lib.cat((idx, idx_next), dim=1)
    return idx


def trainer(lib, model, wrap):
    net = wrap(model)
    optimizer = model.configure_optimizers(learning_rate=1e-3, weight_decay=0.1, betas=(0.9, 0.95))

    def train_step(x, y):
        _, loss = net(x, y)
        model.zero_grad(set_to_none=True)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.detach()

    return Training(train_step)


def batches(n: int = 4, size: int = 3):
    """Random token blocks; the targets are the next tokens, the last one ignored (-1)."""
    rng = np.random.default_rng(11)
    out = []
    for _ in range(n):
        ids = rng.integers(0, VOCAB, (size, BLOCK + 1))
        y = ids[:, 1:].copy()
        y[:, -1] = -1
        out.append((ids[:, :-1], y))
    return out


def test_trains_as_torch(torch):
    mine, theirs = against_torch(torch, functools.partial(build, pdrop=0.0), trainer, batches())
    start = np.array([[1, 2, 3]])
    out = [
        generate(lib, model, lib.tensor(start), BLOCK).numpy()
        for lib, model in ((irgrad, mine), (torch, theirs))
    ]
    np.testing.assert_array_equal(out[0], out[1])


def test_compiled_trains_as_eager():
    explained = against_eager(build, trainer, batches())
    for explanation in explained["model"]:
        assert_whole(explanation, graphs=2)  # the forward runs before zero_grad: .grad None, then set
    assert_whole(explained["step"], graphs=2)


def test_compiled_generation_past_the_block_size_is_eager_generation():
    """minGPT's generate() on a compiled model (``dynamic=True``): the sequence grows a
    token a call, and past the block size the model gets a window of it,
    ``idx[:, -BLOCK:]``, with other strides each call. Three passes of 3 * BLOCK tokens
    give eager's tokens; the window keeps its graph, and the model never gives up
    compiling (it did after 8 windows)."""
    irgrad.manual_seed(0)
    model = build(irgrad, pdrop=0.0)
    start = irgrad.tensor(np.array([[1, 2, 3], [4, 5, 6]]))
    want = generate(irgrad, model, start, 3 * BLOCK).numpy()
    compiled = irgrad.compile(model, dynamic=True)
    for _ in range(3):
        np.testing.assert_array_equal(generate(irgrad, compiled, start, 3 * BLOCK).numpy(), want)
    events = " ".join(compiled._compiled.log)
    assert "strides changed" not in events and "new call signatures run eagerly" not in events
