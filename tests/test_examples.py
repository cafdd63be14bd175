"""Every example runs end to end (briefly) and learns something."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

import irgrad

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


def test_pretrained_torch_weights_give_torch_outputs_in_irgrad(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    example = importlib.import_module("pretrained_weights")
    torch.manual_seed(0)
    model = example.digits_cnn(torch.nn)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):  # a few steps, so that weights and BatchNorm statistics are not the defaults
        optimizer.zero_grad()
        model(torch.rand(16, 1, 8, 8)).logsumexp(dim=1).mean().backward()
        optimizer.step()
    model.eval()
    torch.save(model.state_dict(), tmp_path / "cnn.pt")
    safetensors_torch.save_file(model.state_dict(), tmp_path / "cnn.safetensors")

    x = np.random.default_rng(0).random((32, 1, 8, 8), dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    for name in ("cnn.pt", "cnn.safetensors"):
        ours = example.load_pretrained(tmp_path / name)
        with irgrad.no_grad():
            got = ours(irgrad.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=name)


def test_pretrained_weights_example_trains_with_torch_when_given_no_checkpoint(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    pytest.importorskip("sklearn")
    results = _run("pretrained_weights", epochs=1, out_dir=str(tmp_path))
    assert sorted(Path(p).name for p in results) == ["digits_cnn.pt", "digits_cnn.safetensors"]
    (torch_line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("trained with PyTorch")]
    torch_accuracy = float(torch_line.split()[-1])
    for accuracy in results.values():  # the same predictions (one of 360 may round the other way)
        assert abs(accuracy - torch_accuracy) <= 1 / 360 + 1e-4


def test_pretrained_weights_example_without_torch(tmp_path, monkeypatch, capsys):
    pytest.importorskip("sklearn")
    monkeypatch.setitem(sys.modules, "torch", None)  # as if PyTorch were not installed
    example = importlib.import_module("pretrained_weights")
    with pytest.raises(SystemExit, match=r"torch.save\(model.state_dict\(\), PATH\)"):
        example.main()
    path = tmp_path / "fresh.safetensors"
    irgrad.safetensors.save_file(example.digits_cnn(irgrad.nn).state_dict(), path)
    (accuracy,) = example.main([str(path)]).values()
    assert 0.0 <= accuracy <= 1.0
    assert f"weights from {path}: test accuracy" in capsys.readouterr().out


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
        "pretrained_weights",
    ):
        sys.modules.pop(name, None)
