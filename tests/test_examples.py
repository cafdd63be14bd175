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


def test_progress_prints_one_plain_line_per_epoch_without_tqdm(capsys, monkeypatch):
    progress_module = importlib.import_module("_progress")
    monkeypatch.setattr(progress_module, "tqdm", None)
    progress = progress_module.Progress(range(1, 11), "epoch")
    for epoch in progress:
        progress.report(f"loss {1 / epoch:.4f}")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "epoch  1  loss 1.0000" and lines[-1] == "epoch 10  loss 0.1000"
    assert len(lines) == 10
    steps = progress_module.Progress(range(1, 1001), "step", every=400)
    for _ in steps:
        steps.report("mse 0.1")
    assert capsys.readouterr().out.splitlines() == ["step  400  mse 0.1", "step  800  mse 0.1"]


def test_progress_shows_a_tqdm_bar_when_installed(capsys):
    pytest.importorskip("tqdm")
    progress_module = importlib.import_module("_progress")
    progress = progress_module.Progress(range(1, 4), "epoch")
    for _ in progress:
        progress.report("loss 0.5000")
    out, err = capsys.readouterr()
    assert out == ""
    assert "3/3" in err and "loss 0.5000" in err


def test_progress_reports_nothing_when_disabled(capsys):
    progress_module = importlib.import_module("_progress")
    progress = progress_module.Progress(range(1, 4), "epoch", enabled=False)
    for _ in progress:
        progress.report("loss 0.5000")
    assert capsys.readouterr() == ("", "")


def teardown_module():
    for name in (
        "mlp_digits",
        "cnn_digits",
        "lstm_packed",
        "regression_sgd",
        "custom_function",
        "demo",
        "_digits",
        "_progress",
    ):
        sys.modules.pop(name, None)
