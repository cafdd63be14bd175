"""Training progress for the examples: a tqdm bar when tqdm is installed, plain lines if not.

``pip install -e ".[progress]"`` (or ``".[examples]"``) brings tqdm. Without it each
reported epoch (or every ``every``-th step) prints one line to stdout, such as
``epoch  3  loss 0.2417  test accuracy 0.9500``. With it one bar on stderr counts the
epochs and shows the latest report after it.

    progress = Progress(range(1, epochs + 1), "epoch")
    for epoch in progress:
        ...
        progress.report(f"loss {loss:.4f}")
"""

from __future__ import annotations

from collections.abc import Iterator

try:
    from tqdm import tqdm
except ImportError:  # the optional "progress" extra is not installed
    tqdm = None


class Progress:
    """Iterates over ``steps`` (a range) and reports on them: see the module docstring.

    ``every`` thins the plain lines out (a report on step ``every``, ``2 * every``, ...);
    ``enabled=False`` reports nothing (for all but one process of a distributed run).
    """

    def __init__(self, steps: range, label: str, every: int = 1, enabled: bool = True) -> None:
        self.steps = steps
        self.label = label
        self.every = every
        self.enabled = enabled
        self.step = steps.start
        self._bar = None
        self._width = len(str(steps[-1])) if steps else 1

    def __iter__(self) -> Iterator[int]:
        bar = tqdm(total=len(self.steps), unit=self.label) if tqdm is not None and self.enabled else None
        self._bar = bar
        try:
            for step in self.steps:
                self.step = step
                yield step
                if bar is not None:
                    bar.update(1)
        finally:
            self._bar = None
            if bar is not None:
                bar.close()

    def report(self, text: str) -> None:
        """Show ``text`` for the current step: after the bar, or as a line of its own."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
        elif self.step % self.every == 0:
            print(f"{self.label} {self.step:{self._width}d}  {text}")
