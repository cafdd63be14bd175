"""The modified Bessel functions of the first kind of orders 0 and 1, plain and
exponentially scaled: ``i0``, ``i0e``, ``i1``, ``i1e``, as PyTorch's CPU kernels compute
them (Cephes): Chebyshev expansions of ``exp(-|x|) I(x)`` on ``[0, 8]`` and of
``exp(-|x|) sqrt(|x|) I(x)`` on ``[8, inf)``, summed by Clenshaw's recurrence (``chbevl``)
in the operand's dtype, with PyTorch's order of operations, so the special values are
its own: ``i0(inf)`` is NaN (``exp(inf) c / sqrt(inf)``), ``i0e(+-inf)`` 0, ``i1`` odd.

The scalar rules use only arithmetic, ``exp``, ``sqrt`` and ``where``: the kernels are
those rules run by numpy, and compiled code computes them natively.

Gradients (PyTorch's): ``i0' = i1``; ``i0e' = i1e - sign(x) i0e``;
``i1' = i0 - i1 / x`` and ``i1e' = i0e - i1e (sign(x) + 1 / x)``, both 1/2 where
``|x|`` is at most the dtype's epsilon (where the quotient would lose everything).
"""

from __future__ import annotations

import numpy as np

from .elementwise import register_elementwise
from .registry import DtypeRule
from .scalar import NumpyScalars

# exp(-x) I0(x) on [0, 8], in y = x/2 - 2
_I0_SMALL = (
    -4.41534164647933937950e-18, 3.33079451882223809783e-17, -2.43127984654795469359e-16,
    1.71539128555513303061e-15, -1.16853328779934516808e-14, 7.67618549860493561688e-14,
    -4.85644678311192946090e-13, 2.95505266312963983461e-12, -1.72682629144155570723e-11,
    9.67580903537323691224e-11, -5.18979560163526290666e-10, 2.65982372468238665035e-9,
    -1.30002500998624804212e-8, 6.04699502254191894932e-8, -2.67079385394061173391e-7,
    1.11738753912010371815e-6, -4.41673835845875056359e-6, 1.64484480707288970893e-5,
    -5.75419501008210370398e-5, 1.88502885095841655729e-4, -5.76375574538582365885e-4,
    1.63947561694133579842e-3, -4.32430999505057594430e-3, 1.05464603945949983183e-2,
    -2.37374148058994688156e-2, 4.93052842396707084878e-2, -9.49010970480476444210e-2,
    1.71620901522208775349e-1, -3.04682672343198398683e-1, 6.76795274409476084995e-1,
)  # fmt: skip
# exp(-x) sqrt(x) I0(x) on [8, inf), in y = 32/x - 2
_I0_LARGE = (
    -7.23318048787475395456e-18, -4.83050448594418207126e-18, 4.46562142029675999901e-17,
    3.46122286769746109310e-17, -2.82762398051658348494e-16, -3.42548561967721913462e-16,
    1.77256013305652638360e-15, 3.81168066935262242075e-15, -9.55484669882830764870e-15,
    -4.15056934728722208663e-14, 1.54008621752140982691e-14, 3.85277838274214270114e-13,
    7.18012445138366623367e-13, -1.79417853150680611778e-12, -1.32158118404477131188e-11,
    -3.14991652796324136454e-11, 1.18891471078464383424e-11, 4.94060238822496958910e-10,
    3.39623202570838634515e-9, 2.26666899049817806459e-8, 2.04891858946906374183e-7,
    2.89137052083475648297e-6, 6.88975834691682398426e-5, 3.36911647825569408990e-3,
    8.04490411014108831608e-1,
)  # fmt: skip
# exp(-x) I1(x) / x on [0, 8]
_I1_SMALL = (
    2.77791411276104639959e-18, -2.11142121435816608115e-17, 1.55363195773620046921e-16,
    -1.10559694773538630805e-15, 7.60068429473540693410e-15, -5.04218550472791168711e-14,
    3.22379336594557470981e-13, -1.98397439776494371520e-12, 1.17361862988909016308e-11,
    -6.66348972350202774223e-11, 3.62559028155211703701e-10, -1.88724975172282928790e-9,
    9.38153738649577178388e-9, -4.44505912879632808065e-8, 2.00329475355213526229e-7,
    -8.56872026469545474066e-7, 3.47025130813767847674e-6, -1.32731636560394358279e-5,
    4.78156510755005422638e-5, -1.61760815825896745588e-4, 5.12285956168575772895e-4,
    -1.51357245063125314899e-3, 4.15642294431288815669e-3, -1.05640848946261981558e-2,
    2.47264490306265168283e-2, -5.29459812080949914269e-2, 1.02643658689847095384e-1,
    -1.76416518357834055153e-1, 2.52587186443633654823e-1,
)  # fmt: skip
# exp(-x) sqrt(x) I1(x) on [8, inf)
_I1_LARGE = (
    7.51729631084210481353e-18, 4.41434832307170791151e-18, -4.65030536848935832153e-17,
    -3.20952592199342395980e-17, 2.96262899764595013876e-16, 3.30820231092092828324e-16,
    -1.88035477551078244854e-15, -3.81440307243700780478e-15, 1.04202769841288027642e-14,
    4.27244001671195135429e-14, -2.10154184277266431302e-14, -4.08355111109219731823e-13,
    -7.19855177624590851209e-13, 2.03562854414708950722e-12, 1.41258074366137813316e-11,
    3.25260358301548823856e-11, -1.89749581235054123450e-11, -5.58974346219658380687e-10,
    -3.83538038596423702205e-9, -2.63146884688951950684e-8, -2.51223623787020892529e-7,
    -3.88256480887769039346e-6, -1.10588938762623716291e-4, -9.76109749136146840777e-3,
    7.78576235018280120474e-1,
)  # fmt: skip


def _chbevl(S, y, coefficients):
    """Clenshaw's sum of a Chebyshev series at ``y``, as Cephes' ``chbevl``."""
    b0, b1 = S.const(coefficients[0], y), S.const(0.0, y)
    b2 = b1
    for c in coefficients[1:]:
        b2, b1 = b1, b0
        b0 = S.add(S.sub(S.mul(y, b1), b2), S.const(c, y))
    return S.mul(S.const(0.5, y), S.sub(b0, b2))


def _bessel_rule(order: int, scaled: bool):
    """The scalar rule of ``i0`` (order 0) or ``i1``, ``scaled`` by ``exp(-|x|)`` or not."""
    small_series, large_series = (_I0_SMALL, _I0_LARGE) if order == 0 else (_I1_SMALL, _I1_LARGE)

    def rule(S, x):
        a = S.abs(x)
        y_small = S.sub(S.div(a, S.const(2.0, a)), S.const(2.0, a))
        y_large = S.sub(S.div(S.const(32.0, a), a), S.const(2.0, a))
        small, large = _chbevl(S, y_small, small_series), _chbevl(S, y_large, large_series)
        if order == 0:
            near = small if scaled else S.mul(S.exp(a), small)
        else:
            near = S.mul(small, a) if scaled else S.mul(S.mul(S.exp(a), a), small)
        far = S.div(large if scaled else S.mul(S.exp(a), large), S.sqrt(a))
        value = S.where(S.le(a, S.const(8.0, a)), near, far)
        return value if order == 0 else S.where(S.lt(x, S.const(0.0, x)), S.neg(value), value)

    return rule


def _kernel(rule):
    def kernel(x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(rule(NumpyScalars, x))

    return kernel


def _quotient_safe(F, c):
    """The input where its magnitude exceeds its dtype's epsilon, the epsilon elsewhere,
    and where (PyTorch's guard of ``1 / x`` in the gradients of ``i1`` and ``i1e``)."""
    x = c.ins[0]
    eps = float(np.finfo(c.metas[0].dtype.np).eps)
    wide = F.gt(F.abs(x), eps)
    return F.where(wide, x, eps), wide


def _i0_vjp(F, g, c):
    return (F.mul(g, F.i1(c.ins[0])),)


def _i0e_vjp(F, g, c):
    x = c.ins[0]
    return (F.mul(g, F.sub(F.i1e(x), F.mul(F.sign(x), c.out))),)


def _i1_vjp(F, g, c):
    safe, wide = _quotient_safe(F, c)
    slope = F.sub(F.i0(safe), F.div(c.out, safe))
    return (F.mul(g, F.where(wide, slope, 0.5)),)


def _i1e_vjp(F, g, c):
    safe, wide = _quotient_safe(F, c)
    slope = F.sub(F.i0e(safe), F.mul(c.out, F.add(F.sign(safe), F.reciprocal(safe))))
    return (F.mul(g, F.where(wide, slope, 0.5)),)


for _name, _order, _scaled, _vjp, _doc in (
    ("i0", 0, False, _i0_vjp, "I0(x), the modified Bessel function of the first kind of order 0."),
    ("i0e", 0, True, _i0e_vjp, "exp(-|x|) I0(x)."),
    ("i1", 1, False, _i1_vjp, "I1(x), the modified Bessel function of the first kind of order 1."),
    ("i1e", 1, True, _i1e_vjp, "exp(-|x|) I1(x)."),
):
    _rule = _bessel_rule(_order, _scaled)
    register_elementwise(
        _name,
        _kernel(_rule),
        _vjp,
        rule=DtypeRule.FLOAT,
        save_inputs=True,
        save_output=_name != "i0",
        scalar=_rule,
        doc=_doc,
    )
