"""The keywords PyTorch's argument parser binds beyond a Python signature (irgrad._keywords):
NumPy's ``axis=``, ``keepdims=``, ``x=``/``a=``/``x1=`` and ``x2=`` for ``dim``, ``keepdim``,
``input`` and ``other``, and list parameters by name (``zeros(size=...)``,
``x.view(size=...)``).  Checked over every public function and method that takes one of
those parameters, against PyTorch where it is installed: the same calls accepted, the same
values, and a TypeError where PyTorch raises one."""

from __future__ import annotations

import inspect
import types

import numpy as np
import pytest

import irgrad
from irgrad._keywords import NUMPY_NAMES

_NAMESPACES = {
    "": irgrad,
    "linalg.": irgrad.linalg,
    "special.": irgrad.special,
    "nn.functional.": irgrad.nn.functional,
}
_ALIASES = {alias for aliases in NUMPY_NAMES.values() for alias in aliases}


def _public_functions() -> dict[str, types.FunctionType]:
    """``"linalg.vector_norm"`` -> the function, for every public function irgrad defines."""
    found = {}
    for prefix, namespace in _NAMESPACES.items():
        for name in dir(namespace):
            fn = getattr(namespace, name)
            if (
                not name.startswith("_")
                and isinstance(fn, types.FunctionType)
                and fn.__module__.startswith("irgrad")
            ):
                found[prefix + name] = fn
    return found


def _methods() -> dict[str, types.FunctionType]:
    return {
        name: fn
        for name, fn in vars(irgrad.Tensor).items()
        if isinstance(fn, types.FunctionType) and not name.startswith("__")
    }


FUNCTIONS = _public_functions()
METHODS = _methods()


def _parameters(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def _resolve(library, qualified: str):
    target = library
    for part in qualified.split("."):
        target = getattr(target, part, None)
    return target


def _parsed_by_torch(torch_fn) -> bool:
    """Whether PyTorch's argument parser reads the calls of ``torch_fn`` (a C++ binding)."""
    return type(torch_fn).__name__ in ("builtin_function_or_method", "method_descriptor")


def _takes(fn, method: bool) -> set[str]:
    """The NumPy names irgrad's ``fn`` takes (as a method: not those of ``self``)."""
    binding = getattr(fn, "torch_keywords", None)
    if binding is None:
        return set()
    if method:
        return set(binding.method_keywords) & _ALIASES
    return {alias for aliases in binding.aliases.values() for alias in aliases}


def _runs_without_wrapper(fn, where: str) -> bool:
    """Whether ``fn``, public as ``where``, is one of those that take no keyword beyond their
    signature, so that they stay as fast as they are (docs/pytorch-differences.md): the
    elementwise ops that check their arguments in their own body, functions taking
    ``**kwargs`` themselves (torch.sin_), nn.functional's functions PyTorch also has at top
    level (torch.selu), and the methods written without a wrapper (in-place ops, ``size``,
    ``type_as`` ...)."""
    parameters = inspect.signature(fn).parameters.values()
    return (
        getattr(fn, "__wrapped__", None) is None
        or any(p.kind is p.VAR_KEYWORD for p in parameters)
        or (fn.__module__.startswith("irgrad.nn.") and not where.startswith("nn."))
    )


def _method_runs_without_wrapper(name: str) -> bool:
    """As :func:`_runs_without_wrapper`, for a method: not one attached without the
    wrapper its function has."""
    fn, public = METHODS[name], FUNCTIONS.get(name)
    return getattr(public, "__wrapped__", None) is not fn and _runs_without_wrapper(fn, name)


# --- without torch -----------------------------------------------------------------------


def _t(*shape):
    return irgrad.tensor(np.random.default_rng(0).standard_normal(shape))


def _equal(a, b):
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _equal(x, y)
    elif hasattr(a, "numpy"):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    else:
        assert a == b


@pytest.mark.parametrize(
    "aliased, plain",
    [
        (lambda x: irgrad.sum(x, axis=1), lambda x: irgrad.sum(x, dim=1)),
        (lambda x: x.sum(axis=-1, keepdims=True), lambda x: x.sum(dim=-1, keepdim=True)),
        (lambda x: x.mean(axis=(0, 2)), lambda x: x.mean((0, 2))),
        (lambda x: irgrad.max(x, axis=1), lambda x: irgrad.max(x, 1)),
        (lambda x: x.chunk(2, axis=-1), lambda x: x.chunk(2, -1)),
        (lambda x: irgrad.cat([x, x], axis=1), lambda x: irgrad.cat([x, x], 1)),
        (lambda x: irgrad.stack(tensors=[x, x], axis=0), lambda x: irgrad.stack([x, x])),
        (lambda x: irgrad.cumsum(x, axis=0), lambda x: irgrad.cumsum(x, 0)),
        (lambda x: x.softmax(axis=1), lambda x: x.softmax(1)),
        (lambda x: irgrad.sum(x=x, axis=0), lambda x: irgrad.sum(x, 0)),
        (lambda x: irgrad.matmul(x1=x[0], x2=x[0].T), lambda x: irgrad.matmul(x[0], x[0].T)),
        (lambda x: x.matmul(x2=x[0].T), lambda x: x.matmul(x[0].T)),
        (
            lambda x: irgrad.gather(x, axis=2, index=irgrad.zeros(2, 3, 1, dtype=irgrad.int64)),
            lambda x: x[..., :1],
        ),
        (lambda x: x.reshape(shape=(6, 4)), lambda x: x.reshape(6, 4)),
        (lambda x: x.view(size=[4, 6]), lambda x: x.view(4, 6)),
        (lambda x: x.expand(size=(2, 2, 3, 4)), lambda x: x.expand(2, 2, 3, 4)),
        (lambda x: x.repeat(repeats=(1, 2, 1)), lambda x: x.repeat(1, 2, 1)),
        (lambda x: x.permute(dims=(2, 0, 1)), lambda x: x.permute(2, 0, 1)),
        (lambda x: irgrad.permute(x, dims=(2, 0, 1)), lambda x: x.permute(2, 0, 1)),
        (lambda x: irgrad.zeros(size=(2, 3)), lambda x: irgrad.zeros(2, 3)),
        (lambda x: irgrad.ones(size=[2], dtype=irgrad.int64), lambda x: irgrad.ones(2, dtype=irgrad.int64)),
        (lambda x: irgrad.empty(size=(0, 3)).shape, lambda x: irgrad.empty(0, 3).shape),
        (lambda x: x.new_zeros(size=(2,)), lambda x: x.new_zeros(2)),
    ],
)
def test_an_alias_is_its_parameter(aliased, plain):
    _equal(aliased(_t(2, 3, 4)), plain(_t(2, 3, 4)))


def test_random_factories_take_size_by_name():
    for name in ("rand", "randn"):
        irgrad.manual_seed(0)
        by_name = getattr(irgrad, name)(size=(2, 3))
        irgrad.manual_seed(0)
        _equal(by_name, getattr(irgrad, name)(2, 3))
    irgrad.manual_seed(0)
    by_name = irgrad.randint(high=5, size=(4,))
    irgrad.manual_seed(0)
    _equal(by_name, irgrad.randint(5, (4,)))
    irgrad.manual_seed(0)
    _equal(irgrad.randint(5, size=(4,)), by_name)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: x.sum(dim=0, axis=1), "sum() got an unexpected keyword argument 'axis'"),
        (lambda x: irgrad.sum(x, 0, axis=1), "sum() got an unexpected keyword argument 'axis'"),
        (lambda x: x.sum(0, True, keepdims=False), "sum() got an unexpected keyword argument 'keepdims'"),
        (lambda x: x.sum(x=x), "sum() got an unexpected keyword argument 'x'"),
        (lambda x: irgrad.sum(x=x, a=x), "sum() got an unexpected keyword argument 'a'"),
        (lambda x: x.sum(axes=0), "sum() got an unexpected keyword argument 'axes'"),
        (lambda x: x.softmax(axis=0, dim=1), "softmax() got an unexpected keyword argument 'axis'"),
        (lambda x: irgrad.split(x, 1, axis=0), "split() got an unexpected keyword argument 'axis'"),
        (
            lambda x: x.unflatten(axis=0, sizes=(2, 1)),
            "unflatten() got an unexpected keyword argument 'axis'",
        ),
        (
            lambda x: irgrad.nn.functional.softmax(x, axis=0),
            "softmax() got an unexpected keyword argument 'axis'",
        ),
        (lambda x: irgrad.zeros(2, size=(2,)), "zeros() got multiple values for argument 'size'"),
        (lambda x: irgrad.zeros(size=2), "zeros(): argument 'size' must be tuple of ints, not int"),
        (lambda x: x.reshape(shape=6), "reshape(): argument 'shape' must be tuple of ints, not int"),
        (lambda x: x.view(shape=(6, 4)), "view() got an unexpected keyword argument 'shape'"),
        (lambda x: irgrad.cumsum(x), "cumsum() missing 1 required positional argument: 'dim'"),
        (lambda x: irgrad.gather(x), "gather() missing 2 required positional arguments: 'dim' and 'index'"),
        (
            lambda x: irgrad.narrow(axis=0),
            "narrow() missing 3 required positional arguments: 'input', 'start', and 'length'",
        ),
    ],
)
def test_pytorchs_type_errors(call, message):
    with pytest.raises(TypeError) as error:
        call(_t(2, 3, 4))
    assert str(error.value) == message


def test_missing_arguments_are_reported_as_python_does():
    gather = irgrad.tensor_ops.indexing.gather
    for args in [(), (_t(2),), (_t(2), 0)]:
        with pytest.raises(TypeError) as direct:
            gather.__wrapped__(*args)
        with pytest.raises(TypeError) as wrapped:
            gather(*args)
        assert str(wrapped.value) == str(direct.value)


def test_signatures_are_the_functions_own():
    for where, fn in FUNCTIONS.items():
        if getattr(fn, "torch_keywords", None) is not None:
            assert inspect.signature(fn) == inspect.signature(fn.__wrapped__), where
            assert "_caught" not in inspect.signature(fn).parameters, where


def test_methods_pay_for_a_wrapper_only_where_pytorch_binds_more():
    assert irgrad.Tensor.exp is irgrad.exp  # (checks in its own body: no wrapper)
    assert irgrad.Tensor.flatten is irgrad.flatten.__wrapped__  # takes nothing for self's parameter
    assert irgrad.Tensor.sum is irgrad.sum  # x.sum(axis=0)
    assert irgrad.Tensor.unflatten is irgrad.unflatten.__wrapped__  # Tensor.unflatten is Python in torch
    reshape = irgrad.Tensor.reshape  # x.reshape(shape=...): the lighter wrapper of a list by name
    assert reshape is not irgrad.reshape and reshape.__wrapped__ is irgrad.reshape.__wrapped__


# --- against torch -----------------------------------------------------------------------

# Arguments besides ``dim`` for the functions that need more than a tensor, as
# (lib, sample) -> (args, kwargs): the same code builds torch's and irgrad's.


def _index(lib, *shape):
    return lib.zeros(*shape, dtype=lib.int64)


_MORE = {
    "cat": lambda lib, s: (([s, s],), {}),
    "concat": lambda lib, s: (([s, s],), {}),
    "concatenate": lambda lib, s: (([s, s],), {}),
    "stack": lambda lib, s: (([s, s],), {}),
    "chunk": lambda lib, s: ((s, 2), {}),
    "cross": lambda lib, s: ((s, s.flip(0)), {}),
    "linalg.cross": lambda lib, s: ((s, s.flip(0)), {}),
    "gather": lambda lib, s: ((s,), {"index": _index(lib, 2, 1, 4)}),
    "take_along_dim": lambda lib, s: ((s,), {"indices": _index(lib, 2, 1, 4)}),
    "index_select": lambda lib, s: ((s,), {"index": _index(lib, 2)}),
    "index_add": lambda lib, s: ((s,), {"index": _index(lib, 1), "source": s[:, :1]}),
    "index_copy": lambda lib, s: ((s,), {"index": _index(lib, 1), "source": s[:, :1]}),
    "index_fill": lambda lib, s: ((s,), {"index": _index(lib, 1), "value": 2.0}),
    "index_reduce": lambda lib, s: ((s,), {"index": _index(lib, 1), "source": s[:, :1], "reduce": "prod"}),
    "scatter": lambda lib, s: ((s,), {"index": _index(lib, 2, 1, 4), "src": s}),
    "scatter_add": lambda lib, s: ((s,), {"index": _index(lib, 2, 1, 4), "src": s}),
    "scatter_reduce": lambda lib, s: ((s,), {"index": _index(lib, 2, 1, 4), "src": s, "reduce": "sum"}),
    "select_scatter": lambda lib, s: ((s,), {"src": s[:, 0], "index": 0}),
    "slice_scatter": lambda lib, s: ((s,), {"src": s}),
    "narrow": lambda lib, s: ((s,), {"start": 1, "length": 2}),
    "narrow_copy": lambda lib, s: ((s,), {"start": 1, "length": 2}),
    "select": lambda lib, s: ((s,), {"index": 1}),
    "select_copy": lambda lib, s: ((s,), {"index": 1}),
    "topk": lambda lib, s: ((s, 2), {}),
    "kthvalue": lambda lib, s: ((s, 2), {}),
    "quantile": lambda lib, s: ((s, 0.25), {}),
    "nanquantile": lambda lib, s: ((s, 0.25), {}),
    "renorm": lambda lib, s: ((s,), {"p": 2, "maxnorm": 1.0}),
    "split": lambda lib, s: ((s, 1), {}),
    "split_copy": lambda lib, s: ((s, 1), {}),
    "split_with_sizes": lambda lib, s: ((s, [1, 2]), {}),
    "split_with_sizes_copy": lambda lib, s: ((s, [1, 2]), {}),
    "tensor_split": lambda lib, s: ((s, 2), {}),
    "unflatten": lambda lib, s: ((s,), {"sizes": (3, 1)}),
    "repeat_interleave": lambda lib, s: ((s, 2), {}),
    "cumulative_trapezoid": lambda lib, s: ((s,), {}),
    "trapezoid": lambda lib, s: ((s,), {}),
    "trapz": lambda lib, s: ((s,), {}),
    "cosine_similarity": lambda lib, s: ((s, s.flip(0)), {}),
    "nn.functional.cosine_similarity": lambda lib, s: ((s, s.flip(0)), {}),
    "pairwise_distance": lambda lib, s: ((s, s.flip(0)), {}),
    "nn.functional.pairwise_distance": lambda lib, s: ((s, s.flip(0)), {}),
    "linalg.vecdot": lambda lib, s: ((s, s.flip(0)), {}),
}


def _sample(lib):
    return lib.tensor(np.random.default_rng(1).standard_normal((2, 3, 4)))


def _call(lib, target, where: str, method: bool, keywords: dict):
    """``target`` (a function, or a method name) on the sample and ``_MORE``'s arguments."""
    sample = _sample(lib)
    more = _MORE.get(where) or _MORE.get(where.removesuffix("_"), lambda lib, s: ((s,), {}))  # (index_add_)
    args, kwargs = more(lib, sample)
    if lib is irgrad:
        irgrad.manual_seed(0)
    if method:
        return getattr(args[0], target)(*args[1:], **kwargs, **keywords)
    return target(*args, **kwargs, **keywords)


def _same(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    elif hasattr(theirs, "numpy"):
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-9)
    else:
        assert ours == theirs


def _outcome(call):
    """The result of ``call()``, or the type of exception it raised."""
    try:
        return call()
    except Exception as error:  # noqa: BLE001 - any error is an outcome to compare
        return type(error)


def _agree(where: str, without_wrapper: bool, torch_aliased, ours_aliased, ours_plain) -> None:
    """With PyTorch running the plain call: the aliased call is refused (TypeError) by both
    or taken by both, and taken it does what irgrad's plain call does (the same value, or
    the same error); irgrad refuses what PyTorch takes only in a function that runs without
    a wrapper."""
    accepted, result = _outcome(torch_aliased), _outcome(ours_aliased)
    if isinstance(accepted, type):
        assert accepted is TypeError and result is TypeError, f"{where}: torch raises, irgrad gives {result}"
        return
    plain = _outcome(ours_plain)
    if result is TypeError and plain is not TypeError:
        assert without_wrapper, f"{where}: torch takes it, irgrad raises TypeError"
    elif isinstance(plain, type) or isinstance(result, type):
        assert result is plain, f"{where}: {result} where the plain call gives {plain}"
    else:
        _equal(result, plain)


def _dim_cases():
    functions = [
        (where, False) for where, fn in FUNCTIONS.items() if {"dim", "keepdim"} & set(_parameters(fn))
    ]
    methods = [(name, True) for name, fn in METHODS.items() if {"dim", "keepdim"} & set(_parameters(fn)[1:])]
    return functions + methods


@pytest.mark.filterwarnings("ignore::UserWarning")  # (deprecated and beta functions among them)
@pytest.mark.parametrize(
    "where, method", _dim_cases(), ids=lambda v: v if isinstance(v, str) else ("method" if v else "fn")
)
def test_axis_and_keepdims_as_pytorch_takes_them(where, method):
    """Every function and method with a ``dim`` or ``keepdim`` parameter, where PyTorch runs
    it with ``dim=`` (and ``keepdim=``) on the sample: ``axis=`` (and ``keepdims=``) as
    :func:`_agree` says."""
    torch = pytest.importorskip("torch")
    ours = where if method else FUNCTIONS[where]
    theirs = where if method else _resolve(torch, where)
    if method and not hasattr(torch.Tensor, where) or theirs is None:
        pytest.skip("not in PyTorch")
    parameters = set(_parameters(METHODS[where] if method else ours))
    for dim in (1, -1):
        plain = {"dim": dim} if "dim" in parameters else {}
        plain.update({"keepdim": True} if "keepdim" in parameters else {})
        if not isinstance(_outcome(lambda plain=plain: _call(torch, theirs, where, method, plain)), type):
            break
    else:
        pytest.skip("PyTorch refuses the sample with dim=")
    aliased = {NUMPY_NAMES[key][0]: value for key, value in plain.items()}
    _agree(
        f"{where}({aliased})",
        _method_runs_without_wrapper(where) if method else _runs_without_wrapper(ours, where),
        lambda: _call(torch, theirs, where, method, aliased),
        lambda: _call(irgrad, ours, where, method, aliased),
        lambda: _call(irgrad, ours, where, method, plain),
    )


def _operand_cases():
    cases = []
    for where, fn in FUNCTIONS.items():
        cases += [(where, name) for name in ("input", "other") if name in _parameters(fn)]
    return cases


def _operands(lib, names: tuple[str, ...], aliases: dict[str, str] | None = None) -> dict:
    """The sample as ``input=`` (and its flip as ``other=``), under the names in ``names``
    renamed by ``aliases``."""
    sample = _sample(lib)
    if lib is irgrad:
        irgrad.manual_seed(0)
    values = {"input": sample, "other": sample.flip(0)}
    aliases = aliases or {}
    return {aliases.get(name, name): values[name] for name in names}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("where, parameter", _operand_cases())
def test_input_and_other_aliases_as_pytorch_takes_them(where, parameter):
    """``x=``, ``a=``, ``x1=`` for ``input`` and ``x2=`` for ``other``, in every function that
    PyTorch runs on the sample given by keyword (and a second operand): as :func:`_agree`
    says."""
    torch = pytest.importorskip("torch")
    fn, theirs = FUNCTIONS[where], _resolve(torch, where)
    if theirs is None:
        pytest.skip("not in PyTorch")
    names = ("input", "other") if parameter == "other" else ("input",)
    if isinstance(_outcome(lambda: theirs(**_operands(torch, names))), type):
        pytest.skip("PyTorch refuses the sample")
    for alias in NUMPY_NAMES[parameter]:
        _agree(
            f"{where}({alias}=)",
            _runs_without_wrapper(fn, where),
            lambda alias=alias: theirs(**_operands(torch, names, {parameter: alias})),
            lambda alias=alias: fn(**_operands(irgrad, names, {parameter: alias})),
            lambda: fn(**_operands(irgrad, names)),
        )


def test_every_function_takes_the_aliases_pytorchs_does():
    """By the functions' signatures: irgrad takes a NumPy name exactly where PyTorch's
    parser reads the calls of the function (not for those PyTorch writes in Python), but
    for the functions that run without a wrapper."""
    torch = pytest.importorskip("torch")
    wrong = []
    for where, fn in FUNCTIONS.items():
        theirs = _resolve(torch, where)
        if theirs is None:
            continue
        expected = (
            {a for p in _parameters(fn) for a in NUMPY_NAMES.get(p, ())}
            if _parsed_by_torch(theirs)
            else set()
        )
        takes = _takes(fn, method=False)
        if takes - expected or (expected - takes and not _runs_without_wrapper(fn, where)):
            wrong.append(f"{where}: takes {sorted(takes)}, PyTorch {sorted(expected)}")
    for name, fn in METHODS.items():
        theirs = getattr(torch.Tensor, name, None)
        if theirs is None:
            continue
        own = _parameters(fn)[1:]
        expected = {a for p in own for a in NUMPY_NAMES.get(p, ())} if _parsed_by_torch(theirs) else set()
        takes = _takes(fn, method=True)
        if takes - expected or (expected - takes and not _method_runs_without_wrapper(name)):
            wrong.append(f"Tensor.{name}: takes {sorted(takes)}, PyTorch {sorted(expected)}")
    assert not wrong, wrong


@pytest.mark.parametrize(
    "call",
    [
        "torch.zeros(size=(2, 3))",
        "torch.ones(size=[2, 3], dtype=torch.int64)",
        "torch.empty(size=(2, 3)).shape",
        "torch.full(size=(2,), fill_value=3.0)",
        "torch.randint(0, 5, size=(2, 3)).shape",
        "torch.randint(high=5, size=(2, 3)).shape",
        "torch.rand(size=(2,)).shape",
        "torch.randn(size=(2,)).shape",
        "t.reshape(shape=(4, 6))",
        "torch.reshape(t, shape=(4, 6))",
        "t.view(size=(4, 6))",
        "t.expand(size=(2, 2, 3, 4))",
        "t.repeat(repeats=(1, 2, 1))",
        "t.permute(dims=(2, 0, 1))",
        "torch.permute(t, dims=(2, 0, 1))",
        "t.new_zeros(size=(2,))",
        "t.new_ones(size=(2,))",
        "t.new_empty(size=(2,)).shape",
        "torch.sum(x=t, axis=0)",
        "torch.sum(t, axis=(0, 2), keepdims=True)",
        "torch.cat(tensors=[t, t], axis=0)",
        "torch.max(t, axis=1)",
        "torch.where(t > 0, x=t, other=t)",
        "torch.matmul(x1=t, x2=t.mT)",
        "torch.zeros_like(x=t)",
        "torch.linalg.norm(t, axis=1)",
        "torch.special.logsumexp(t, axis=1)",
        "torch.nn.functional.linear(x=t, weight=t[0])",
        "torch.nn.functional.cosine_similarity(t, t, axis=0)",
    ],
)
def test_calls_pytorch_takes(call):
    torch = pytest.importorskip("torch")
    theirs = eval(call, {"torch": torch, "t": _sample(torch)})
    ours = eval(call, {"torch": irgrad, "t": _sample(irgrad)})
    if isinstance(theirs, torch.Size):
        assert tuple(ours) == tuple(theirs)
    else:
        _same(ours, theirs)


@pytest.mark.parametrize(
    "call",
    [
        "torch.sum(t, dim=0, axis=1)",
        "torch.sum(t, 0, axis=1)",
        "t.sum(1, keepdims=True, keepdim=True)",
        "t.softmax(axis=0, dim=1)",
        "torch.cat([t, t], 1, axis=0)",
        "torch.zeros(2, size=(2,))",
        "torch.split(t, 1, axis=0)",
        "t.split(1, axis=0)",
        "torch.norm(t, axis=0)",
        "t.unflatten(axis=1, sizes=(3, 1))",
        "torch.nn.functional.softmax(t, axis=1)",
        "torch.nn.functional.normalize(t, axis=1)",
        "torch.flip(t, axis=(0,))",
        "torch.roll(t, 1, axis=0)",
        "t.transpose(axis0=0, axis1=1)",
        "t.view(shape=(4, 6))",
        "t.reshape(size=(4, 6))",
        "t.expand(sizes=(2, 3, 4))",
        "torch.sum(t, axes=0)",
    ],
)
def test_calls_pytorch_refuses(call):
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError) as theirs:
        eval(call, {"torch": torch, "t": _sample(torch)})
    with pytest.raises(TypeError) as ours:
        eval(call, {"torch": irgrad, "t": _sample(irgrad)})
    if "got an unexpected keyword argument" in str(theirs.value) or "multiple values" in str(theirs.value):
        # the same words after the name (Python's own errors name methods Tensor.split)
        assert str(ours.value).split("() ")[1] == str(theirs.value).split("() ")[1]
