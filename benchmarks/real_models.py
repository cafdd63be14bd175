"""Small versions of well-known public PyTorch models, for the compiler's real-model tests.

Each is written as such scripts write it (in-place activations, ``out += shortcut``,
tied weights, a causal mask buffer, ``F.scaled_dot_product_attention``), at sizes a
test can train for a few steps.  ``MODELS`` maps a name to ``(make_model, make_batch,
loss)``; ``make_batch(step)`` is deterministic.
"""

from __future__ import annotations

import math

import numpy as np

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F

VOCAB, BLOCK = 17, 8


class CausalSelfAttention(nn.Module):
    """minGPT's attention: one projection to q, k, v, a lower-triangular mask buffer."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.c_attn = nn.Linear(dim, 3 * dim)
        self.c_proj = nn.Linear(dim, dim)
        self.attn_drop = nn.Dropout(dropout)
        self.heads = heads
        self.register_buffer("bias", irgrad.tril(irgrad.ones(BLOCK, BLOCK)).view(1, 1, BLOCK, BLOCK))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = self.attn_drop(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class SDPAAttention(nn.Module):
    """nanoGPT's attention: ``F.scaled_dot_product_attention`` with ``is_causal``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.c_attn = nn.Linear(dim, 3 * dim, bias=False)
        self.c_proj = nn.Linear(dim, dim, bias=False)
        self.heads = heads

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=0.0)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, attention) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.attn = attention(dim, heads)
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(0.1))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class CharTransformer(nn.Module):
    """A character-level GPT: token and position embeddings, blocks, tied head."""

    def __init__(self, attention=CausalSelfAttention, dim: int = 16, heads: int = 2, layers: int = 2) -> None:
        super().__init__()
        self.tok_emb = nn.Embedding(VOCAB, dim)
        self.pos_emb = nn.Embedding(BLOCK, dim)
        self.drop = nn.Dropout(0.1)
        self.blocks = nn.ModuleList([Block(dim, heads, attention) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, VOCAB, bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying

    def forward(self, idx):
        _, t = idx.size()
        pos = irgrad.arange(0, t, dtype=irgrad.long).unsqueeze(0)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


class BasicBlock(nn.Module):
    """torchvision's ResNet basic block (``out += identity``, ``ReLU(inplace=True)``)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TinyResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True)
        )
        self.layer1 = BasicBlock(8, 8)
        self.layer2 = BasicBlock(8, 16, stride=2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class Generator(nn.Module):
    """The DCGAN example's generator, scaled down (latent 8 -> 3x16x16)."""

    def __init__(self, nz: int = 8, ngf: int = 4) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, 3, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    """The DCGAN example's discriminator, scaled down (3x16x16 -> probability)."""

    def __init__(self, ndf: int = 4) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(3, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


class WordLSTM(nn.Module):
    """The word-language-model example's RNNModel (LSTM), with a tied decoder."""

    def __init__(self, ntoken: int = VOCAB, ninp: int = 12, nlayers: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, ninp, nlayers, dropout=dropout)
        self.decoder = nn.Linear(ninp, ntoken)
        self.decoder.weight = self.encoder.weight

    def forward(self, input):
        emb = self.drop(self.encoder(input))
        output, _ = self.rnn(emb)
        output = self.drop(output)
        return F.log_softmax(self.decoder(output).view(-1, VOCAB), dim=1)


def _rng(step: int) -> np.random.Generator:
    return np.random.default_rng(100 + step)


def tokens(step: int, batch: int = 3):
    ids = _rng(step).integers(0, VOCAB, (batch, BLOCK + 1))
    return irgrad.tensor(ids[:, :-1]), irgrad.tensor(ids[:, 1:])


def images(step: int, batch: int = 4, classes: int = 10):
    g = _rng(step)
    return irgrad.tensor(g.standard_normal((batch, 3, 8, 8)).astype(np.float32)), irgrad.tensor(
        g.integers(0, classes, batch)
    )


def lm_loss(logits, y):
    return F.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1))


def seq_batch(step: int):
    ids = _rng(step).integers(0, VOCAB, (BLOCK + 1, 2))  # (seq, batch), as the example feeds the LSTM
    return irgrad.tensor(ids[:-1]), irgrad.tensor(ids[1:])


def gan_batch(step: int):
    g = _rng(step)
    return irgrad.tensor(g.standard_normal((4, 8, 1, 1)).astype(np.float32)), None


MODELS = {
    "char-transformer": (CharTransformer, tokens, lm_loss),
    "gpt-sdpa": (lambda: CharTransformer(SDPAAttention), tokens, lm_loss),
    "resnet-basic-block": (TinyResNet, images, F.cross_entropy),
    "dcgan-generator": (Generator, gan_batch, lambda out, _: (out**2).mean()),
    "dcgan-discriminator": (
        Discriminator,
        lambda step: (images(step)[0].repeat(1, 1, 2, 2), irgrad.ones(4)),
        F.binary_cross_entropy,
    ),
    "word-lstm": (WordLSTM, seq_batch, lambda out, y: F.nll_loss(out, y.reshape(-1))),
}
