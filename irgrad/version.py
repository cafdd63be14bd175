"""``torch.version``: the build facts scripts print or test (``torch.version.cuda`` is
None without CUDA, which is how a script learns it runs on the CPU).

``__version__`` is irgrad's own version (``irgrad.__version__`` is this string), not
the PyTorch release irgrad follows. irgrad is built with no GPU toolkit, so every
toolkit version is None, and it records no commit: ``git_version`` is ``"Unknown"``,
as in a PyTorch built outside a git checkout.
"""

from __future__ import annotations

__all__ = ["__version__", "debug", "cuda", "git_version", "hip", "rocm", "xpu"]

__version__ = "0.1.0"
debug = False
cuda: str | None = None
git_version = "Unknown"
hip: str | None = None
rocm: str | None = None
xpu: str | None = None
