"""``MultivariateNormal(loc, covariance_matrix | precision_matrix | scale_tril)``: the
Gaussian over vectors, as ``torch.distributions.MultivariateNormal``.

The distribution keeps the lower Cholesky factor ``L`` of its covariance (given as
``scale_tril``, or factorized from the covariance, or from the precision by PyTorch's
flip trick) without broadcasting it, and derives everything from it: a draw is
``loc + L eps``; the log density needs the Mahalanobis distance ``|L^-1 (x - loc)|^2``
(one triangular solve) and ``log det L`` (the log diagonal's sum), so no inverse or
determinant of the covariance is ever formed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..creation import eye, randn
from ..ops.shapes import broadcast_shapes
from ..tensor import Size, Tensor
from ..tensor_ops.factorizations import cholesky_inverse, solve_triangular
from ..tensor_ops.lapack import cholesky
from . import constraints
from .distribution import Distribution
from .utils import lazy_property

__all__ = ["MultivariateNormal"]


def _batch_mv(matrix: Tensor, vector: Tensor) -> Tensor:
    """``matrix @ vector`` over broadcast batch dims."""
    return (matrix @ vector.unsqueeze(-1)).squeeze(-1)


def batch_mahalanobis(scale_tril: Tensor, diff: Tensor) -> Tensor:
    """``|scale_tril^-1 diff|^2`` per vector, broadcasting ``diff``'s batch dims against
    the factor's."""
    shape = broadcast_shapes("MultivariateNormal", tuple(scale_tril.shape[:-1]), tuple(diff.shape))
    solved = solve_triangular(
        scale_tril.expand(shape + (shape[-1],)), diff.expand(shape).unsqueeze(-1), upper=False
    )
    return solved.squeeze(-1).pow(2).sum(-1)


def _precision_to_scale_tril(precision: Tensor) -> Tensor:
    """The lower Cholesky factor of ``precision``'s inverse, from a Cholesky factor of
    ``precision`` with its rows and columns reversed (PyTorch's way: no inverse of an
    ill-conditioned matrix is formed)."""
    flipped = cholesky(precision.flip((-2, -1)))
    inverse_factor = flipped.flip((-2, -1)).mT
    identity = eye(precision.shape[-1], dtype=precision.dtype)
    return solve_triangular(inverse_factor, identity, upper=False)


class MultivariateNormal(Distribution):
    """The normal distribution over vectors with mean ``loc`` and one of its covariance,
    precision or lower Cholesky scale matrices (batch dims broadcast; ``rsample`` is
    differentiable in all of them)."""

    arg_constraints = {
        "loc": constraints.real_vector,
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(
        self,
        loc: Tensor,
        covariance_matrix: Tensor | None = None,
        precision_matrix: Tensor | None = None,
        scale_tril: Tensor | None = None,
        validate_args: bool | None = None,
    ) -> None:
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError(
                "Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified."
            )
        matrix = given[0]
        if matrix.dim() < 2:
            name = next(
                n
                for n, m in (
                    ("scale_tril matrix", scale_tril),
                    ("covariance_matrix", covariance_matrix),
                    ("precision_matrix", precision_matrix),
                )
                if m is not None
            )
            raise ValueError(
                f"{name} must be at least two-dimensional, with optional leading batch dimensions"
            )
        batch_shape = Size(
            broadcast_shapes("MultivariateNormal", tuple(matrix.shape[:-2]), tuple(loc.shape[:-1]))
        )
        expanded = tuple(batch_shape) + tuple(matrix.shape[-2:])
        if scale_tril is not None:
            self.scale_tril = scale_tril.expand(expanded)
        elif covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(expanded)
        else:
            self.precision_matrix = precision_matrix.expand(expanded)
        self.loc = loc.expand(tuple(batch_shape) + (-1,))
        super().__init__(batch_shape, Size(loc.shape[-1:]), validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)

    def expand(
        self, batch_shape: Sequence[int], _instance: MultivariateNormal | None = None
    ) -> MultivariateNormal:
        new = self._get_checked_instance(MultivariateNormal, _instance)
        batch_shape = Size(batch_shape)
        matrix_shape = tuple(batch_shape) + tuple(self.event_shape) + tuple(self.event_shape)
        new.loc = self.loc.expand(tuple(batch_shape) + tuple(self.event_shape))
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(matrix_shape))
        super(MultivariateNormal, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self) -> tuple:
        return tuple(self._batch_shape) + tuple(self._event_shape) + tuple(self._event_shape)

    @lazy_property
    def scale_tril(self) -> Tensor:
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        factor = self._unbroadcasted_scale_tril
        return (factor @ factor.mT).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self) -> Tensor:
        return cholesky_inverse(self._unbroadcasted_scale_tril).expand(self._matrix_shape())

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        shape = tuple(self._batch_shape) + tuple(self._event_shape)
        return self._unbroadcasted_scale_tril.pow(2).sum(-1).expand(shape)

    def rsample(self, sample_shape: Sequence[int] = Size()) -> Tensor:
        eps = randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + _batch_mv(self._unbroadcasted_scale_tril, eps)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        # in the distribution's dtype, as PyTorch's result is for a value of another one
        distance = batch_mahalanobis(self._unbroadcasted_scale_tril, (value - self.loc).to(self.loc.dtype))
        half_log_det = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + distance) - half_log_det

    def entropy(self) -> Tensor:
        half_log_det = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        entropy = 0.5 * self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + half_log_det
        return entropy if len(self._batch_shape) == 0 else entropy.expand(self._batch_shape)
