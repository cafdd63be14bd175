"""Tests of the differential fuzzer (``irgrad.testing.fuzz``) and the fixed-seed batch it runs.

The fuzzer is tested against a *planted* defect: ``irgrad.compile`` is wrapped so that a
compiled function whose code mentions ``sigmoid`` returns its outputs plus one.  That
gives a known failure to find, shrink and write out, independent of the real
compiler's state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import irgrad
from irgrad.testing import EagerError, Mismatch, assert_same, check_compiled
from irgrad.testing.differential import _load, arguments, tensor_leaves
from irgrad.testing.fuzz.cli import main
from irgrad.testing.fuzz.generate import generate
from irgrad.testing.fuzz.oracle import check_eager, float64_verdict
from irgrad.testing.fuzz.program import Input, Program, Stmt
from irgrad.testing.fuzz.regression import array_literal, regression_name, regression_test, write
from irgrad.testing.fuzz.runner import Case, available_backends, build_cases, run_case
from irgrad.testing.fuzz.shrink import shrink
from irgrad.testing.fuzz.stateful import generate_stateful, stateful_cases

# generated programs overflow, divide by zero and meet NaN on purpose
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

ROOT = Path(__file__).resolve().parents[1]
BATCH = ["--n", "120", "--seed", "20240611", "--no-shrink", "--quiet"]


# --- comparison --------------------------------------------------------------------------------------
def test_assert_same_accepts_equal_results_with_nan_and_inf_in_place():
    a = irgrad.tensor([1.0, float("nan"), float("inf"), -float("inf")])
    assert_same((a, {"k": [a]}), (a.clone(), {"k": [a.clone()]}))


@pytest.mark.parametrize(
    "got, expected, aspect",
    [
        (irgrad.tensor([1.0, 2.0]), irgrad.tensor([1.0, 2.1]), "value"),
        (irgrad.tensor([1.0, float("nan")]), irgrad.tensor([1.0, 2.0]), "nonfinite"),
        (irgrad.tensor([float("inf")]), irgrad.tensor([-float("inf")]), "nonfinite"),
        (irgrad.tensor([float("inf"), 1.0]), irgrad.tensor([float("nan"), 1.0]), "nan-or-inf"),
        (irgrad.tensor([float("nan"), 1.0]), irgrad.tensor([-float("inf"), float("nan")]), "nonfinite"),
        (irgrad.tensor([1.0]), irgrad.tensor([1.0], dtype=irgrad.float64), "dtype"),
        (irgrad.tensor([[1.0]]), irgrad.tensor([1.0]), "shape"),
        (irgrad.tensor([1]), irgrad.tensor([2]), "value"),
        ((irgrad.tensor(1.0),), [irgrad.tensor(1.0)], "structure"),
        (irgrad.tensor(1.0, requires_grad=True), irgrad.tensor(1.0), "requires_grad"),
    ],
)
def test_assert_same_names_what_differs(got, expected, aspect):
    with pytest.raises(Mismatch) as caught:
        assert_same(got, expected)
    assert caught.value.aspect == aspect


def test_assert_same_allows_float32_rounding_only():
    base = np.linspace(-3, 3, 50).astype(np.float32)
    assert_same(irgrad.tensor(base * (1 + 3e-6)), irgrad.tensor(base))
    with pytest.raises(Mismatch):
        assert_same(irgrad.tensor(base * (1 + 1e-3)), irgrad.tensor(base))


def test_check_compiled_classifies_an_invalid_program_as_eager_error():
    def f(x0):
        return x0.view(7)

    with pytest.raises(EagerError):
        check_compiled(f, [[np.ones(3, np.float32)]])


# --- generation ----------------------------------------------------------------------------------------
def test_generation_is_deterministic_for_a_seed():
    for i in range(6):
        a = generate(np.random.SeedSequence([11, i]))
        b = generate(np.random.SeedSequence([11, i]))
        assert a.program.source() == b.program.source()
        for name, values in a.values.items():
            for key, array in values.items():
                np.testing.assert_array_equal(array, b.values[name][key])
        cases_a = build_cases(a, i, 11, ("infer", "train", "mark"), ["numpy"])
        cases_b = build_cases(b, i, 11, ("infer", "train", "mark"), ["numpy"])
        assert [(c.mode, c.train, c.mark, c.seed) for c in cases_a] == [
            (c.mode, c.train, c.mark, c.seed) for c in cases_b
        ]
    s1, calls1 = generate_stateful(np.random.SeedSequence([11, 0, 1]))
    s2, calls2 = generate_stateful(np.random.SeedSequence([11, 0, 1]))
    assert s1.source() == s2.source() and len(calls1) == len(calls2)


def _run_eagerly(program: Program, arrays: dict, train: bool):
    f = _load(program.source(), {}, "test")["f"]
    args = arguments([arrays[spec.name] for spec in program.params()], train)
    with irgrad.set_grad_enabled(train):
        out = f(*args)
    if train:
        total = [t.sum() for t in tensor_leaves(out) if t.requires_grad]
        if total:
            sum(total).backward()
    return out


def test_every_generated_program_runs_eagerly_at_both_batch_sizes():
    for i in range(40):
        gen = generate(np.random.SeedSequence([5, i]))
        assert 3 <= len(gen.program.stmts) <= 25
        for key in ("a", "b"):
            _run_eagerly(gen.program, {n: v[key] for n, v in gen.values.items()}, train=False)
        if gen.train_ok:
            _run_eagerly(gen.program, {n: v["a"] for n, v in gen.values.items()}, train=True)


def test_generator_reaches_every_op_family():
    seen = set()
    for i in range(80):
        seen.update(generate(np.random.SeedSequence([6, i])).program.ops())
    wanted = {
        "add", "matmul", "linear", "conv2d", "max_pool2d", "softmax", "log_softmax", "layer_norm",
        "embedding", "cross_entropy", "sum", "mean", "view", "permute", "getitem", "index_tensor",
        "index_mask", "cat", "stack", "split", "setitem", "add_", "masked_fill_", "cast_float64",
    }  # fmt: skip
    assert wanted <= seen, wanted - seen


def test_available_backends_are_real_compiled_backends():
    found = available_backends()
    assert "numpy" in found
    assert "eager" not in found


# --- a planted defect: found, shrunk, written out ---------------------------------------------------------
@pytest.fixture
def planted(monkeypatch):
    """``irgrad.compile`` that adds 1 to the float outputs of functions that call sigmoid."""
    real = irgrad.compile

    def compile_with_defect(fn, **options):
        compiled = real(fn, **options)
        if "sigmoid" not in fn.__code__.co_names:
            return compiled

        def wrong(*args):
            out = compiled(*args)
            if isinstance(out, irgrad.Tensor) and out.is_floating_point():
                return out + 1
            if isinstance(out, tuple):
                return tuple(o + 1 if o.is_floating_point() else o for o in out)
            return out

        return wrong

    monkeypatch.setattr(irgrad, "compile", compile_with_defect)


def _planted_case() -> Case:
    inputs = (
        Input("x0", "float32", (3, 4), batch=True),
        Input("x1", "float32", (4,)),
        Input("i2", "int64", (2,), draw="int", lo=0, hi=4),
    )
    stmts = (
        Stmt(("v0",), "{0} * {1}", ("x0", "x1"), "mul"),
        Stmt(("v1",), "{0}.sum(1)", ("v0",), "sum"),
        Stmt(("v2",), "torch.exp({0})", ("x1",), "exp"),
        Stmt(("v3",), "torch.sigmoid({0})", ("v2",), "sigmoid"),
        Stmt(("v4",), "{0} + {1}.mean()", ("v3", "v1"), "add"),
        Stmt(("v5",), "{0}.view(2, 2)", ("v4",), "view"),
        Stmt(("v6",), "{0}[:, {1}]", ("x0", "i2"), "index_tensor"),
    )
    program = Program(inputs, stmts, "({0}, {1})", ("v5", "v6"))
    rng = np.random.default_rng(0)
    call = {
        "x0": rng.standard_normal((3, 4)).astype(np.float32),
        "x1": rng.standard_normal(4).astype(np.float32),
        "i2": np.array([0, 3]),
    }
    return Case(program, "infer", "numpy", False, (call, call), origin="planted")


def test_planted_defect_is_found(planted):
    outcome = run_case(_planted_case())
    assert outcome.status == "mismatch" and outcome.aspect == "value", outcome


def test_shrinker_reduces_a_planted_defect_to_the_minimal_program(planted):
    case = _planted_case()
    small, outcome, runs = shrink(case, run_case(case))
    assert outcome.failed and outcome.aspect == "value"
    program = small.program
    assert [s.op for s in program.stmts] == ["sigmoid"], program.function_source()
    assert len(program.params()) == 1 and len(small.calls) == 1
    assert all(np.asarray(v).size <= 1 for call in small.calls for v in call.values())
    assert program.function_source() == "def f(x0):\n    v0 = torch.sigmoid(x0)\n    return v0\n"


def test_a_defect_still_fails_with_float64_inputs(planted):
    case = _planted_case()
    verdict = float64_verdict(case, run_case(case))
    assert verdict.startswith("fails with its float32 inputs in float64 too (mismatch: value)"), verdict


def test_a_float32_rounding_difference_passes_with_float64_inputs(monkeypatch):
    # a compiled function that is off by float32 rounding made large (here: 1e-3 relative)
    # passes in float64, and the verdict says it is likely no defect
    real = irgrad.compile

    def compile_rounding_float32(fn, **options):
        compiled = real(fn, **options)

        def off(*args):
            out = compiled(*args)
            outs = out if isinstance(out, tuple) else (out,)
            outs = tuple(o * 1.001 if o.dtype == irgrad.float32 else o for o in outs)
            return outs if isinstance(out, tuple) else outs[0]

        return off

    monkeypatch.setattr(irgrad, "compile", compile_rounding_float32)
    case = _planted_case()
    outcome = run_case(case)
    assert outcome.status == "mismatch"
    assert float64_verdict(case, outcome).startswith("passes with its float32 inputs in float64"), outcome


def test_regression_test_runs_under_pytest(planted, tmp_path):
    case = _planted_case()
    small, outcome, _ = shrink(case, run_case(case))
    path = write(
        regression_test(small, outcome, "a planted defect"), tmp_path, regression_name(small, outcome)
    )
    namespace: dict = {"__name__": "regression"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    with pytest.raises(Mismatch):  # the planted defect is active in this process
        namespace[regression_name(small, outcome)]()
    result = _pytest(path)  # a fresh process has no planted defect: the test passes
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout


def test_an_eager_crash_is_shrunk_and_written_out(monkeypatch, tmp_path):
    """A planted eager defect (irgrad.sigmoid raises; PyTorch runs the program) shrinks to one statement."""
    pytest.importorskip("torch")

    def broken_sigmoid(x):
        raise RuntimeError("sigmoid: planted defect")

    case = replace(_planted_case(), mode="eager", backend="none")
    monkeypatch.setattr(irgrad, "sigmoid", broken_sigmoid)
    outcome = check_eager(case)
    assert outcome.status == "eager-crash", outcome
    small, outcome, _ = shrink(case, outcome, check=check_eager)
    assert [s.op for s in small.program.stmts] == ["sigmoid"] and outcome.status == "eager-crash"
    path = write(regression_test(small, outcome), tmp_path, regression_name(small, outcome))
    monkeypatch.undo()
    result = _pytest(path)  # no planted defect in a fresh process: the program runs
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout


def test_stateful_regression_test_runs_under_pytest(tmp_path):
    kinds = {}
    for i in range(20):
        program, calls = generate_stateful(np.random.SeedSequence([2, i, 1]))
        kinds.setdefault(program.train is None, (i, program, calls))
    assert len(kinds) == 2  # a program with free tensors and a train step
    for i, program, calls in kinds.values():
        case = stateful_cases(program, calls, i, 2, ["numpy"])[0]
        outcome = run_case(case)
        path = write(regression_test(case, outcome), tmp_path, f"test_state_{i}")
        result = _pytest(path)
        assert result.returncode in (0, 1), result.stdout  # collected and run: passed or failed
        expected = "1 passed" if outcome.status == "ok" else "1 failed"
        assert expected in result.stdout, (outcome, result.stdout)


def _pytest(path: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    import os

    env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
        cwd=path.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "a",
    [
        np.array([0.1, np.nan, -np.inf, -0.0, 1e-40, 3.4e38], np.float32),
        np.random.default_rng(1).standard_normal((2, 3)),
        np.zeros((0, 3), np.int64),
        np.array(2.5),
        np.array([[True, False]]),
    ],
)
def test_array_literal_reads_back_bit_for_bit(a):
    from numpy import inf, nan  # noqa: F401  (names the literal uses)

    b = eval(array_literal(a))
    assert b.dtype == a.dtype and b.shape == a.shape and b.tobytes() == a.tobytes()


def test_cli_end_to_end_with_shrinking(planted, tmp_path, capsys):
    report = main(
        [
            "--json",
            str(tmp_path / "report.json"),
            "--n",
            "3",
            "--seed",
            "1",
            "--mode",
            "infer,train,state",
            "--shrink-runs",
            "40",
            "--out",
            str(tmp_path),
        ]
    )
    assert report.programs == 6 and not report.harness
    assert "coverage:" in capsys.readouterr().out
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["programs"] == 6 and len(data["findings"]) == len(report.findings)
    for finding in report.findings.values():
        for shrunk in finding.shrunk:
            assert shrunk.path is not None and shrunk.path.exists() and shrunk.runs <= 41


@pytest.mark.parametrize(
    "in_float64, status",
    [
        (None, "rounding"),
        (Mismatch("value", "output[0]", "cancelled 1e58s"), "rounding"),
        (Mismatch("nonfinite", "output[0]", "nan positions differ"), "mismatch"),
    ],
)
def test_a_nan_against_an_infinity_is_rounding_when_float64_places_them_alike(
    monkeypatch, in_float64, status
):
    # a fused multiply-add keeps inf * 1 + 8.3e28 * -1e30 inf where eager's rounded product
    # makes inf - inf = NaN (the fixed-seed batch's one finding with unfold statements);
    # in float64 nothing overflows, and NaN and inf must then sit where eager has them
    from irgrad.testing.fuzz import runner

    def checker(fn, calls, **settings):
        if calls[0][0].dtype == np.float32:
            raise Mismatch("nan-or-inf", "output[0]", "nan positions differ")
        if in_float64 is not None:
            raise in_float64

    monkeypatch.setattr(runner, "check_compiled", checker)
    program = Program((Input("x0", "float32", (2,)),), (), "{0} @ {0}", ("x0",))
    case = Case(program, "values", "llvm", False, ({"x0": np.ones(2, np.float32)},))
    assert run_case(case).status == status


# --- the fixed-seed batch ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def batch_report():
    return main(BATCH)


def test_fixed_seed_batch_has_no_fuzzer_errors(batch_report):
    assert not batch_report.harness, batch_report.harness[:3]
    assert batch_report.programs == 240


def test_fixed_seed_batch_compiled_matches_eager(batch_report):
    found = [
        f"{f.outcome.category()} x{f.count}: {f.outcome.message[:160]}"
        for f in batch_report.findings.values()
    ]
    assert not found, "\n".join(found)
