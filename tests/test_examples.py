"""Every example runs end to end (briefly) and learns something."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(autouse=True)
def examples_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))


def _run(name: str, **kwargs):
    module = importlib.import_module(name)
    return module.main(**kwargs)


def test_mlp_digits_learns():
    pytest.importorskip("sklearn")
    assert _run("mlp_digits", epochs=3) > 0.8


def test_cnn_digits_learns():
    pytest.importorskip("sklearn")
    assert _run("cnn_digits", epochs=2) > 0.6


def test_lstm_packed_runs():
    accuracy = _run("lstm_packed", epochs=1)
    assert 0.0 <= accuracy <= 1.0


def test_regression_sgd_fits():
    assert _run("regression_sgd", steps=300) < 0.3


def test_custom_function_trains():
    assert _run("custom_function", steps=100) < 2.0


def test_demo_trains_eager_and_compiled_identically(capsys):
    pytest.importorskip("sklearn")
    _run("demo", epochs=1)
    out = capsys.readouterr().out
    assert "same weights as eager after 1 epochs: True" in out
    assert "graph forward(" in out and "graph backward(" in out


def teardown_module():
    for name in (
        "mlp_digits",
        "cnn_digits",
        "lstm_packed",
        "regression_sgd",
        "custom_function",
        "demo",
        "_digits",
    ):
        sys.modules.pop(name, None)
