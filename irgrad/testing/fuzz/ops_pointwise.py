"""Elementwise generators: unary math and activations, casts, binary arithmetic with
broadcasting and Python scalars, comparisons, logical and bitwise ops, ``where``."""

from __future__ import annotations

import numpy as np

from .catalog import register

# op -> (templates, domain): "pos" ops get a positive operand most of the time (log of a
# negative is NaN, valid but uninformative when it is everywhere)
UNARY_FLOAT = {
    "neg": (("torch.neg({0})", "-{0}", "{0}.neg()"), None),
    "abs": (("torch.abs({0})", "{0}.abs()"), None),
    "exp": (("torch.exp({0})", "{0}.exp()"), None),
    "exp2": (("torch.exp2({0})",), None),
    "expm1": (("torch.expm1({0})",), None),
    "log": (("torch.log({0})", "{0}.log()"), "pos"),
    "log2": (("torch.log2({0})",), "pos"),
    "log10": (("torch.log10({0})",), "pos"),
    "log1p": (("torch.log1p({0})",), "pos"),
    "sqrt": (("torch.sqrt({0})", "{0}.sqrt()"), "pos"),
    "rsqrt": (("torch.rsqrt({0})",), "pos"),
    "reciprocal": (("torch.reciprocal({0})", "1 / {0}"), "pos"),
    "sin": (("torch.sin({0})",), None),
    "cos": (("torch.cos({0})", "{0}.cos()"), None),
    "tan": (("torch.tan({0})",), None),
    "tanh": (("torch.tanh({0})", "{0}.tanh()", "F.tanh({0})"), None),
    "sigmoid": (("torch.sigmoid({0})", "{0}.sigmoid()", "F.sigmoid({0})"), None),
    "relu": (("torch.relu({0})", "F.relu({0})", "{0}.relu()"), None),
    "erf": (("torch.erf({0})",), None),
    "sign": (("torch.sign({0})",), None),
    "floor": (("torch.floor({0})",), None),
    "ceil": (("torch.ceil({0})",), None),
    "round": (("torch.round({0})", "{0}.round()"), None),
    "trunc": (("torch.trunc({0})",), None),
    "square": (("torch.square({0})", "{0} * {0}"), None),
    "pow_scalar": (("{0} ** 2", "torch.pow({0}, 3)", "{0}.pow(-1)", "{0} ** 1.5", "{0}.pow(0.5)"), "pos"),
    "rpow": (("2 ** {0}", "torch.pow(1.5, {0})"), None),
    "nan_to_num": (
        ("torch.nan_to_num({0})", "torch.nan_to_num({0}, nan=0.5, posinf=2.0, neginf=-2.0)"),
        None,
    ),
    "clamp": (
        (
            "torch.clamp({0}, min=-0.5, max=0.5)",
            "{0}.clamp(min=0)",
            "torch.clamp({0}, max=1.0)",
            "torch.clip({0}, -1, 1)",
            "{0}.clamp_min(0.25)",
            "{0}.clamp_max(-0.25)",
        ),
        None,
    ),
    "gelu": (("F.gelu({0})", 'F.gelu({0}, approximate="tanh")'), None),
    "silu": (("F.silu({0})",), None),
    "leaky_relu": (("F.leaky_relu({0}, 0.2)", "F.leaky_relu({0})"), None),
    "elu": (("F.elu({0})", "F.elu({0}, alpha=0.5)"), None),
    "selu": (("F.selu({0})",), None),
    "celu": (("F.celu({0}, alpha=2.0)",), None),
    "softplus": (("F.softplus({0})", "F.softplus({0}, beta=2.0, threshold=5.0)"), None),
    "hardtanh": (("F.hardtanh({0})", "F.hardtanh({0}, -0.5, 2.0)"), None),
    "relu6": (("F.relu6({0})",), None),
    "logsigmoid": (("F.logsigmoid({0})",), None),
    "mish": (("F.mish({0})",), None),
    "hardswish": (("F.hardswish({0})",), None),
    "hardsigmoid": (("F.hardsigmoid({0})",), None),
    "softsign": (("F.softsign({0})",), None),
    "tanhshrink": (("F.tanhshrink({0})",), None),
    "softshrink": (("F.softshrink({0}, 0.5)",), None),
    "hardshrink": (("F.hardshrink({0})",), None),
    "threshold": (("F.threshold({0}, 0.1, -1.0)",), None),
}

UNARY_INT = {
    "neg": ("-{0}", "torch.neg({0})"),
    "abs": ("torch.abs({0})",),
    "sign": ("torch.sign({0})",),
    "mul_scalar": ("{0} * 3", "2 * {0}"),
    "add_scalar": ("{0} + 1", "{0} - 2"),
    "floor_divide_scalar": ("{0} // 2", "torch.div({0}, 3, rounding_mode='floor')"),
    "remainder_scalar": ("{0} % 3", "torch.remainder({0}, 2)"),
    "clamp": ("torch.clamp({0}, min=0, max=2)", "{0}.clamp(min=-1)"),
    "square": ("torch.square({0})",),
}

UNARY_BOOL = {"logical_not": ("~{0}", "torch.logical_not({0})", "{0}.logical_not()")}

CASTS = {
    "float32": ("{0}.float()", "{0}.to(torch.float32)", "{0}.type(torch.float32)"),
    "float64": ("{0}.double()", "{0}.to(torch.float64)", "{0}.to(dtype=torch.float64)"),
    "int64": ("{0}.long()", "{0}.to(torch.int64)"),
    "bool": ("{0}.bool()", "{0}.to(torch.bool)", "{0} != 0"),
}

FLOAT_SCALARS = ("0.5", "-2.0", "3", "1.5", "-1", "0.0", "1e-3", "2")
INT_SCALARS = ("2", "-3", "1", "0")


@register("pointwise", 6.0)
def unary_float(g) -> bool:
    name = g.choice(sorted(UNARY_FLOAT))
    templates, domain = UNARY_FLOAT[name]
    template = g.choice(templates)
    if domain == "pos" and (not g.special or g.coin(0.5)) and g.coin(0.7):
        template = template.replace("{0}", "({0}.abs() + 0.5)")
    x = g.pick_float()
    return g.add(template, (x,), name)


@register("pointwise", 1.5)
def unary_int(g) -> bool:
    x = g.pick(lambda n: g.dtype(n) == "int64")
    if x is None:
        x = g.new_input("int64", g.random_shape(int(g.rng.integers(0, 4))), batch=g.coin())
    name = g.choice(sorted(UNARY_INT))
    return g.add(g.choice(UNARY_INT[name]), (x,), name)


@register("pointwise", 0.7)
def unary_bool(g) -> bool:
    m = g.pick(lambda n: g.dtype(n) == "bool")
    if m is None:
        return False
    return g.add(g.choice(UNARY_BOOL["logical_not"]), (m,), "logical_not")


@register("pointwise", 2.0)
def cast(g) -> bool:
    x = g.pick()
    if x is None:
        return False
    to = g.choice([d for d in sorted(CASTS) if d != g.dtype(x)])
    if to in ("int64", "bool") and g.is_float(x) and (g.special or to == "int64" and g.coin(0.5)):
        return False  # NaN/inf to integer is undefined in C, hence in both libraries
    return g.add(g.choice(CASTS[to]), (x,), f"cast_{to}")


def broadcastable(g, a: str, b: str) -> bool:
    try:
        for env in (0, 1):
            np.broadcast_shapes(g.shape(a, env), g.shape(b, env))
    except ValueError:
        return False
    return True


def partner_shape(g, a: str) -> tuple[tuple[int, ...], bool]:
    """A shape that broadcasts with ``a``'s (and whether its dim 0 is the batch)."""
    shape = g.shape(a)
    varying = g.varying(a)
    r = len(shape)
    rank = int(np.clip(r + g.choice((-2, -1, 0, 0, 0, 0, 1)), 0, 4))
    dims: list[int] = []
    batch = False
    for j in range(rank):
        i = r - rank + j
        if i < 0:
            dims.append(g.choice((1, 2, 3)))
        elif i in varying:
            batch = batch or j == 0
            dims.append(shape[i] if j == 0 else 1)
        elif shape[i] == 1:
            dims.append(1 if g.coin(0.7) else g.choice((2, 3)))
        else:
            dims.append(shape[i] if g.coin(0.75) else 1)
    return tuple(dims), batch


def partner(
    g, a: str, dtype: str, scalar: float = 0.25, scalars=FLOAT_SCALARS, **spec
) -> tuple[str | None, str]:
    """A second operand for ``a``: (variable name or None, text for a Python scalar)."""
    if g.coin(scalar):
        if g.scalars and g.coin(0.3):
            return g.choice(sorted(g.scalars)), ""
        return None, g.choice(scalars)
    if g.coin(0.45):
        b = g.pick(lambda n: n != a and g.dtype(n) == dtype and broadcastable(g, a, n))
        if b is not None:
            return b, ""
    shape, batch = partner_shape(g, a)
    return g.new_input(dtype, shape, batch=batch, **spec), ""


BINARY_FLOAT = {
    "add": ("{0} + {1}", "torch.add({0}, {1})", "torch.add({0}, {1}, alpha=2)", "{0}.add({1}, alpha=-0.5)"),
    "sub": ("{0} - {1}", "torch.sub({0}, {1})", "{0}.sub({1}, alpha=3)", "torch.rsub({0}, {1})"),
    "mul": ("{0} * {1}", "torch.mul({0}, {1})", "{0}.mul({1})"),
    "div": (
        "{0} / {1}",
        "torch.div({0}, {1})",
        "torch.div({0}, {1}, rounding_mode='floor')",
        "torch.true_divide({0}, {1})",
        "torch.div({0}, {1}, rounding_mode='trunc')",
    ),
    "floor_divide": ("{0} // {1}",),
    "remainder": ("{0} % {1}", "torch.remainder({0}, {1})"),
    "fmod": ("torch.fmod({0}, {1})",),
    "maximum": ("torch.maximum({0}, {1})", "torch.max({0}, {1})"),
    "minimum": ("torch.minimum({0}, {1})", "torch.min({0}, {1})"),
    "atan2": ("torch.atan2({0}, {1})",),
    "pow": ("{0}.abs() ** {1}", "torch.pow({0}.abs() + 0.5, {1})"),
    "lerp": ("torch.lerp({0}, {1}, 0.25)",),
    "hypot_like": ("torch.sqrt({0} * {0} + {1} * {1})",),
}
TENSOR_ONLY = {"atan2", "lerp", "fmod", "maximum", "minimum", "hypot_like"}
COMPARE = (
    "{0} < {1}",
    "{0} <= {1}",
    "{0} > {1}",
    "{0} >= {1}",
    "{0} == {1}",
    "{0} != {1}",
    "torch.eq({0}, {1})",
    "torch.gt({0}, {1})",
    "{0}.ne({1})",
)


@register("pointwise", 7.0)
def binary_float(g) -> bool:
    name = g.choice(sorted(BINARY_FLOAT))
    a = g.pick_float()
    dtype = g.dtype(a) if g.coin(0.85) else g.float_dtype()
    b, scalar = partner(g, a, dtype, scalar=0.0 if name in TENSOR_ONLY else 0.3)
    template = g.choice(BINARY_FLOAT[name])
    if b is None:
        infix = template.split(" ")
        if len(infix) == 3 and infix[0] == "{0}" and infix[2] == "{1}" and g.coin(0.4):
            return g.add(f"{scalar} {infix[1]} {{0}}", (a,), "r" + name)
        return g.add(template.replace("{1}", scalar), (a,), name)
    return g.add(template, (a, b), name)


@register("pointwise", 1.5)
def binary_mixed_dtype(g) -> bool:
    """Arithmetic between floats, ints and bools of different kinds (type promotion)."""
    a = g.pick()
    if a is None:
        return False
    other = g.choice(("int64", "bool", "float32", "float64"))
    b, _ = partner(g, a, other, scalar=0.0)
    op = g.choice(("add", "mul", "sub", "maximum"))
    template = {
        "add": "{0} + {1}",
        "mul": "{0} * {1}",
        "sub": "{0} - {1}",
        "maximum": "torch.maximum({0}, {1})",
    }[op]
    return g.add(template, (a, b), op)


@register("pointwise", 1.5)
def binary_int(g) -> bool:
    a = g.pick(lambda n: g.dtype(n) == "int64")
    if a is None:
        return False
    op = g.choice(
        (
            "add",
            "mul",
            "sub",
            "floor_divide",
            "remainder",
            "maximum",
            "bitwise_and",
            "bitwise_or",
            "bitwise_xor",
        )
    )
    if op in ("floor_divide", "remainder"):
        b, scalar = partner(g, a, "int64", scalar=0.5, scalars=("2", "3"), lo=1, hi=4)
    else:
        b, scalar = partner(g, a, "int64", scalar=0.3, scalars=INT_SCALARS)
    template = {
        "add": "{0} + {1}",
        "mul": "{0} * {1}",
        "sub": "{0} - {1}",
        "floor_divide": "{0} // {1}",
        "remainder": "{0} % {1}",
        "maximum": "torch.maximum({0}, {1})",
        "bitwise_and": "{0} & {1}",
        "bitwise_or": "torch.bitwise_or({0}, {1})",
        "bitwise_xor": "{0} ^ {1}",
    }[op]
    if b is None:
        return g.add(template.replace("{1}", scalar), (a,), op)
    return g.add(template, (a, b), op)


@register("pointwise", 2.5)
def compare(g) -> bool:
    a = g.pick(lambda n: g.dtype(n) != "bool") or g.pick_float()
    b, scalar = partner(g, a, g.dtype(a), scalar=0.4, scalars=("0", "0.5", "-1.0"))
    template = g.choice(COMPARE)
    if b is None:
        return g.add(template.replace("{1}", scalar), (a,), "compare")
    return g.add(template, (a, b), "compare")


@register("pointwise", 1.0)
def isfinite_family(g) -> bool:
    a = g.pick_float()
    name = g.choice(("isnan", "isinf", "isfinite"))
    return g.add(f"torch.{name}({{0}})", (a,), name)


@register("pointwise", 1.2)
def logical(g) -> bool:
    a = g.pick(lambda n: g.dtype(n) == "bool") or g.pick()
    if a is None:
        return False
    b, _ = partner(g, a, "bool", scalar=0.0)
    op = g.choice(("logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or"))
    template = {
        "logical_and": "torch.logical_and({0}, {1})",
        "logical_or": "{0}.logical_or({1})",
        "logical_xor": "torch.logical_xor({0}, {1})",
        "bitwise_and": "{0} & {1}",
        "bitwise_or": "{0} | {1}",
    }[op]
    return g.add(template, (a, b), op)


@register("pointwise", 2.0)
def where(g) -> bool:
    a = g.pick_float()
    mask = g.pick(lambda n: g.dtype(n) == "bool" and broadcastable(g, a, n))
    if mask is None or g.coin(0.3):
        shape, batch = partner_shape(g, a)
        mask = g.new_input("bool", shape, batch=batch)
    form = g.rng.integers(4)
    if form == 0:
        b, _ = partner(g, a, g.dtype(a), scalar=0.0)
        return g.add("torch.where({0}, {1}, {2})", (mask, a, b), "where")
    if form == 1:
        return g.add("torch.where({0}, {1}, 0.0)", (mask, a), "where")
    if form == 2:
        return g.add("torch.where({0} > 0, {0}, {0} * 0.1)", (a,), "where")
    return g.add("{1}.where({0}, -1.0)", (mask, a), "where")


@register("pointwise", 1.0)
def ternary(g) -> bool:
    a = g.pick_float()
    b, _ = partner(g, a, g.dtype(a), scalar=0.0)
    c, _ = partner(g, a, g.dtype(a), scalar=0.0)
    op = g.choice(("addcmul", "addcdiv", "lerp"))
    template = {
        "addcmul": "torch.addcmul({0}, {1}, {2}, value=0.5)",
        "addcdiv": "torch.addcdiv({0}, {1}, {2}.abs() + 1)",
        "lerp": "torch.lerp({0}, {1}, torch.sigmoid({2}))",
    }[op]
    return g.add(template, (a, b, c), op)
