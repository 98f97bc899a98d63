"""The scikit-learn MLP proxy: train a small MLP with any catalog loss.

The empirical validator trains one small network per candidate loss. scikit-learn's MLP
only knows log loss, squared error and Poisson, so this module is the one place where we
extend it. :class:`LossMLP` subclasses :class:`~sklearn.neural_network.MLPRegressor` and
overrides five private hooks:

- ``_initialize``: the last layer stays linear (``out_activation_ = "identity"``), so the
  network's output *is* the raw output the catalog's losses differentiate against, and the
  output bias starts where the loss asks (``LossMath.init_bias``, e.g. log of the mean for log
  links);
- ``_backprop``: the per-sample loss and its gradient come from ``LossMath.loss_gradient``;
  sample weights, L2 and the hidden-layer recursion are scikit-learn's own (a batch loss,
  ``LossMath.batch_loss``, gets the batch's weights and returns its gradient weighted);
- ``_fit``: fixes the loss parameters for the fit and turns non-finite weights into a
  :class:`ProxyDivergedError`;
- ``_validate_input``: keeps the target 2-D float (one column per network output);
- ``_score``: early stopping watches the loss itself on the validation split (scikit-learn
  would watch R2, which misleads for quantile, asymmetric and log-link losses).

Everything else (adam, sgd, lbfgs, early stopping, partial_fit, clone, pickling) is
scikit-learn's, unchanged. The private methods are checked against the signatures this
adapter was written for (:func:`check_sklearn_compatibility`, which the validator calls once
before anything trains), so a scikit-learn release that changes them fails loudly instead
of training something else.

:func:`make_proxy` wraps a :class:`LossMLP` for the validator: it takes the profile's
target, encodes it for the loss, standardises identity-link targets on the training fold,
and predicts in the task's space (probabilities, or values on the original scale).
"""

from __future__ import annotations

import functools
import inspect
from itertools import chain
from typing import Any

import numpy as np
import sklearn
from sklearn.base import BaseEstimator
from sklearn.neural_network import MLPRegressor
from sklearn.neural_network._base import DERIVATIVES
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted, validate_data

from .errors import SklearnCompatibilityError
from .losses import LossMath, LossSpec

__all__ = [
    "LossMLP", "LossProxy", "make_proxy", "standardization", "ProxyDivergedError",
    "check_sklearn_compatibility",
    "EXPECTED_PRIVATE_SIGNATURES", "SUPPORTED_SKLEARN",
]

#: Lowest scikit-learn release whose MLP internals this adapter was written against.
MIN_SKLEARN = (1, 7)
#: The releases the adapter is tested on (setup.cfg's bound: the lowest in CI, the newest in
#: the main run).
SUPPORTED_SKLEARN = ">=1.7,<1.10"

#: The private MLP methods this adapter overrides or calls, with the signatures it expects.
EXPECTED_PRIVATE_SIGNATURES: dict[str, str] = {
    "_backprop": "(self, X, y, sample_weight, activations, deltas, coef_grads, intercept_grads)",
    "_initialize": "(self, y, layer_units, dtype)",
    "_fit": "(self, X, y, sample_weight=None, incremental=False)",
    "_score": "(self, X, y, sample_weight=None)",
    "_validate_input": "(self, X, y, incremental, reset)",
    "_forward_pass": "(self, activations)",
    "_forward_pass_fast": "(self, X, check_input=True)",
    "_compute_loss_grad": "(self, layer, sw_sum, activations, deltas, coef_grads, intercept_grads)",
}


class ProxyDivergedError(RuntimeError):
    """Training a proxy produced a non-finite loss or non-finite weights.

    Not an ``AdvisorError``: it is a result of the experiment (the validator records the
    candidate as failed), not a problem with the user's input.
    """

    def __init__(self, loss_id: str, epoch: int, where: str) -> None:
        self.loss_id = loss_id
        self.epoch = epoch
        self.where = where
        super().__init__(
            f"proxy MLP with loss {loss_id!r} diverged at epoch {epoch}: non-finite {where}; "
            "lower learning_rate_init or check the target's scale")


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


@functools.cache
def check_sklearn_compatibility() -> None:
    """Fail loudly when scikit-learn's private MLP methods are not the ones we override.

    The validator calls it once before anything trains, so a breaking release is one clear
    error instead of every candidate failing.

    Raises
    ------
    SklearnCompatibilityError
        One line naming the installed version, what differs and the supported range.
    """
    version = sklearn.__version__
    if _version_tuple(version) < MIN_SKLEARN:
        raise _incompatible(version, "is too old for the loss-advisor proxy")
    for name, expected in EXPECTED_PRIVATE_SIGNATURES.items():
        method = getattr(MLPRegressor, name, None)
        if method is None:
            raise _incompatible(version, f"has no MLPRegressor.{name}, which the loss-advisor "
                                "proxy (advisor/proxy.py) overrides")
        actual = str(inspect.signature(method))
        if actual != expected:
            raise _incompatible(version, f"has MLPRegressor.{name}{actual}, the loss-advisor "
                                f"proxy (advisor/proxy.py) expects {name}{expected}")
    if not {"identity", "logistic", "tanh", "relu"} <= set(DERIVATIVES):
        raise _incompatible(version, "changed sklearn.neural_network._base.DERIVATIVES, which "
                            "the loss-advisor proxy (advisor/proxy.py) uses")


def _incompatible(version: str, what: str) -> SklearnCompatibilityError:
    return SklearnCompatibilityError(
        f"scikit-learn {version} {what}",
        hint=f"install scikit-learn{SUPPORTED_SKLEARN} (the releases the adapter is tested on) "
             "or update the adapter")


def _loss_id(loss: LossMath | LossSpec | None) -> str:
    return getattr(loss, "id", "") or type(loss).__name__


class LossMLP(MLPRegressor):
    """An MLP trained on any catalog loss, through the loss's value and raw-output gradient.

    Parameters
    ----------
    loss : LossMath
        The catalog loss bound to its parameters and task (``LossSpec.bind``).
    Other parameters
        As :class:`~sklearn.neural_network.MLPRegressor`; defaults differ only in
        ``hidden_layer_sizes=(64,)``.

    Notes
    -----
    ``fit(X, target)`` takes the target exactly as ``loss.encode_target`` returns it (2-D
    float, one column per network output). ``loss_curve_`` holds the mean training loss per
    epoch (plus the L2 term, as in scikit-learn); with ``early_stopping=True``,
    ``validation_scores_`` holds *minus* the mean validation loss (scikit-learn maximises
    it) and ``best_validation_score_`` the best of them.
    """

    _parameter_constraints: dict = {
        **MLPRegressor._parameter_constraints,
        "loss": [LossMath],
    }

    def __init__(
        self,
        loss: LossMath | None = None,
        hidden_layer_sizes=(64,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
    ):
        super().__init__(
            loss=loss, hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            solver=solver, alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
        )

    # ----- scikit-learn hooks ------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, incremental=False):
        """Every fit and partial_fit: turn blow-ups into one error."""
        try:
            return super()._fit(X, y, sample_weight=sample_weight, incremental=incremental)
        except ValueError:
            # scikit-learn's own check for non-finite weights after the last update.
            weights = chain(getattr(self, "coefs_", ()), getattr(self, "intercepts_", ()))
            if not all(np.isfinite(w).all() for w in weights):
                raise ProxyDivergedError(_loss_id(self.loss), getattr(self, "n_iter_", 0),
                                         "weights") from None
            raise

    def _validate_input(self, X, y, incremental, reset):
        """Keep the target 2-D float (scikit-learn's regressor would ravel one column)."""
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        return X, y

    def _initialize(self, y, layer_units, dtype):
        """scikit-learn's initialisation, then a linear output and the loss's bias start."""
        super()._initialize(y, layer_units, dtype)
        self.out_activation_ = "identity"
        bias = self.loss.init_bias(y)
        if bias is not None:
            output_bias = self.intercepts_[-1]
            output_bias[...] = np.broadcast_to(np.asarray(bias, dtype=output_bias.dtype),
                                               output_bias.shape)
            self._best_intercepts = [b.copy() for b in self.intercepts_]

    def _backprop(self, X, y, sample_weight, activations, deltas, coef_grads, intercept_grads):
        """Loss and gradients of one batch; the output delta is the loss's raw gradient."""
        activations = self._forward_pass(activations)  # last layer is linear: raw outputs
        advance = getattr(self.loss, "advance", None)
        if advance is not None:  # online state (group DRO's weights): one step per batch
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                advance(activations[-1], y, sample_weight)
        per_sample, raw_grad = self._weighted_loss_gradient(activations[-1], y, sample_weight)
        if sample_weight is None:
            sw_sum = X.shape[0]
            loss = float(np.mean(per_sample))
        else:
            sw_sum = sample_weight.sum()
            loss = float(np.dot(per_sample, sample_weight)) / sw_sum
        if not np.isfinite(loss):
            raise ProxyDivergedError(_loss_id(self.loss), self.n_iter_ + 1, "training loss")

        penalty = 0.0
        for coef in self.coefs_:
            flat = coef.ravel()
            penalty += np.dot(flat, flat)
        loss += (0.5 * self.alpha) * penalty / sw_sum

        # From here on, scikit-learn's own backward recursion.
        last = self.n_layers_ - 2
        deltas[last] = raw_grad
        self._compute_loss_grad(last, sw_sum, activations, deltas, coef_grads, intercept_grads)
        inplace_derivative = DERIVATIVES[self.activation]
        for i in range(last, 0, -1):
            deltas[i - 1] = safe_sparse_dot(deltas[i], self.coefs_[i].T)
            inplace_derivative(activations[i], deltas[i - 1])
            self._compute_loss_grad(i - 1, sw_sum, activations, deltas, coef_grads,
                                    intercept_grads)
        return loss, coef_grads, intercept_grads

    def _score(self, X, y, sample_weight=None):
        """Early-stopping score: minus the mean loss on the validation split."""
        raw = self._forward_pass_fast(X, check_input=False)
        return -self.mean_loss(raw, y, sample_weight, where="validation loss")

    def _weighted_loss_gradient(self, raw: np.ndarray, target: np.ndarray,
                                sample_weight: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The loss's per-sample values and its raw gradient with the sample weights applied:
        per row here, inside the batch's sums for a batch loss (``LossMath.batch_loss``),
        which returns its gradient weighted."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if self.loss.batch_loss:
                return self.loss.loss_gradient(raw, target, sample_weight)
            per_sample, raw_grad = self.loss.loss_gradient(raw, target)
        if sample_weight is not None:
            raw_grad = raw_grad * sample_weight.reshape(-1, 1)
        return per_sample, raw_grad

    # ----- public API ----------------------------------------------------------------------
    def mean_loss(self, raw: np.ndarray, target: np.ndarray, sample_weight: np.ndarray | None = None,
                  *, where: str = "loss") -> float:
        """Mean (weighted) loss of raw outputs against an encoded target, without L2."""
        per_sample, _ = self._weighted_loss_gradient(raw, target, sample_weight)
        value = float(np.average(per_sample, weights=sample_weight))
        if not np.isfinite(value):
            raise ProxyDivergedError(_loss_id(self.loss), getattr(self, "n_iter_", 0), where)
        return value

    def decision_function(self, X) -> np.ndarray:
        """Raw outputs of the last layer, shape ``(n_samples, n_outputs)``."""
        check_is_fitted(self)
        return self._forward_pass_fast(X)

    def predict_task(self, X) -> np.ndarray:
        """Predictions in the task's space (``loss.predict`` of the raw outputs)."""
        return self.loss.predict(self.decision_function(X))


class LossProxy(BaseEstimator):
    """What the validator trains: profile-style targets in, task-space predictions out.

    ``fit`` binds the loss's math to ``params`` and the profile's task and encodes the target
    for it; when the loss asks for it (``standardize_target``), it standardises the encoded
    target with the training fold's mean and standard deviation and trains with the math
    rescaled to it (``LossMath.for_standardized``). ``predict`` undoes the standardisation on the
    raw outputs and predicts with the math of the original parameters, completed by the
    training rows where the loss asks for it (``LossMath.after_training``: cox's baseline). Build it with
    :func:`make_proxy`.
    """

    def __init__(self, loss: LossSpec | None = None, params: dict[str, Any] | None = None,
                 profile: Any = None, *, seed: int = 0, max_iter: int = 200,
                 hidden: tuple[int, ...] = (64,), solver: str = "adam", alpha: float = 1e-4,
                 batch_size: int | str = "auto", learning_rate_init: float = 1e-3,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 10, tol: float = 1e-4) -> None:
        self.loss = loss
        self.params = params
        self.profile = profile
        self.seed = seed
        self.max_iter = max_iter
        self.hidden = hidden
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol

    def encode(self, y, groups=None) -> np.ndarray:
        """The loss's 2-D float target for profile-style ``y``, checked against the contract;
        ``groups`` (a group index per row) go to a loss that needs them (``needs_groups``)."""
        math = getattr(self, "math_", None) or self._bind()
        extra = {"groups": groups} if math.needs_groups else {}
        target = np.asarray(math.encode_target(np.asarray(y), self.profile, **extra),
                            dtype=np.float64)
        width = math.n_outputs(self.profile)
        if target.ndim != 2 or target.shape != (len(target), width):
            raise ValueError(
                f"loss {_loss_id(self.loss)!r}: encode_target returned shape {target.shape}, "
                f"expected (n_samples, {width}) as n_outputs says; fix the loss")
        return target

    def fit(self, X, y, sample_weight=None, groups=None) -> LossProxy:
        """Train on features ``X`` and a profile-style target ``y`` (class indices, 0/1
        matrix or values); ``groups``: each row's group, for a group-aware loss."""
        self.math_ = self._bind()
        target = encoded = self.encode(y, groups)
        fit_math = self.math_
        self.standardized_ = bool(fit_math.standardize_target)
        if self.standardized_:
            self.center_, self.scale_ = standardization(target)
            target = (target - self.center_) / self.scale_
            fit_math = fit_math.for_standardized(self.center_.copy(), self.scale_.copy())
        else:
            self.center_ = np.zeros(target.shape[1])
            self.scale_ = np.ones(target.shape[1])
        self.fit_params_ = fit_math.params
        self.model_ = LossMLP(
            loss=fit_math, hidden_layer_sizes=tuple(self.hidden),
            solver=self.solver, alpha=self.alpha, batch_size=self.batch_size,
            learning_rate_init=self.learning_rate_init, max_iter=self.max_iter,
            early_stopping=self.early_stopping, validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change, tol=self.tol, random_state=self.seed,
        ).fit(X, target, sample_weight=sample_weight)
        self.n_iter_ = self.model_.n_iter_
        self.loss_curve_ = getattr(self.model_, "loss_curve_", None)
        self.math_ = self.math_.after_training(self.decision_function(X), encoded)
        return self

    def _bind(self) -> LossMath:
        """The loss's math for this proxy's parameters and the profile's task."""
        if self.loss is None:
            raise ValueError("LossProxy needs a catalog loss (loss=...); build it with make_proxy")
        return self.loss.bind(dict(self.params or {}), self.profile.task)

    def decision_function(self, X) -> np.ndarray:
        """Raw outputs on the encoded target's original scale, ``(n_samples, n_outputs)``."""
        check_is_fitted(self, "model_")
        raw = self.model_.decision_function(X)
        if self.standardized_:
            raw = self.math_.unstandardize(raw, self.center_, self.scale_)
        if not np.isfinite(raw).all():
            raise ProxyDivergedError(_loss_id(self.loss), self.model_.n_iter_, "predictions")
        return raw

    def predict(self, X) -> np.ndarray:
        """Task-space predictions: probabilities ``(n, K)`` / ``(n, L)``, or values ``(n,)``."""
        return self.math_.predict(self.decision_function(X))

    def predict_distribution(self, X) -> Any:
        """The loss's predictive distribution of a numeric target on ``X`` (a
        ``Gaussian`` or ``ZeroInflatedLogNormal`` of ``advisor.losses._predictive``), or None
        for a loss that predicts one number per row."""
        return self.math_.predictive(self.decision_function(X))

    def predict_class(self, X) -> np.ndarray:
        """Class indices ``(n,)`` for binary, multiclass and ordinal tasks (the loss's own
        decision rule, e.g. CORAL counts thresholds)."""
        return self.math_.predict_class(self.decision_function(X))


def standardization(target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The per-column centre and scale a standardised target is trained on: the training
    target's mean and standard deviation, a scale of 1 where a column is constant (to
    rounding). The benchmark's truth standardises the same way."""
    center = target.mean(axis=0)
    spread = target.std(axis=0)
    return center, np.where(spread > 1e-12 * np.maximum(1.0, np.abs(center)), spread, 1.0)


def make_proxy(loss: LossSpec, params: dict[str, Any] | None, profile: Any, *, seed: int,
               max_iter: int, hidden: tuple[int, ...] = (64,), solver: str = "adam",
               alpha: float = 1e-4, batch_size: int | str = "auto",
               learning_rate_init: float = 1e-3, early_stopping: bool = False,
               validation_fraction: float = 0.1, n_iter_no_change: int = 10,
               tol: float = 1e-4) -> LossProxy:
    """A proxy MLP for ``loss`` with ``params`` on the task described by ``profile``.

    The returned object has ``fit(X, y, sample_weight=None)`` (profile-style ``y``) and
    ``predict(X)`` (task-space predictions). It raises :class:`ProxyDivergedError` when
    training blows up. Features must already be numeric and scaled.
    """
    return LossProxy(loss, params, profile, seed=seed, max_iter=max_iter, hidden=tuple(hidden),
                     solver=solver, alpha=alpha, batch_size=batch_size,
                     learning_rate_init=learning_rate_init, early_stopping=early_stopping,
                     validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
                     tol=tol)
