"""The ``torch`` fixture: PyTorch, the oracle; a test that asks for it skips without it."""

from __future__ import annotations

import pytest


@pytest.fixture
def torch():
    return pytest.importorskip("torch")
