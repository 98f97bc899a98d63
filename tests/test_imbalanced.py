"""Imbalanced regression: the LDS label density, balanced_mse (BMC) and lds_mse / lds_mae.

The catalog-wide checks (finite-difference gradients, multi-output, training through the real
proxy) walk these losses with the others in ``test_losses.py`` and ``test_proxy.py``; here are
the properties of their own: BMC is the paper's formula and depends on the batch, blocks
bound its memory, the LDS edges move with a standardised target, and on a target whose rare
region is noisy the balanced losses lower the balanced and few-shot MAE against mse.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_softmax

from advisor import label_density as lds
from advisor.experiment.scoring import score_balanced_mae, score_mae, scoring_context
from advisor.load import load_data
from advisor.losses import CATALOG
from advisor.losses._imbalanced import BMC_BLOCK_ROWS
from advisor.profile import profile_data
from advisor.proxy import make_proxy

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def bmc(**params):
    return CATALOG["balanced_mse"].bind(params, "regression")


def paper_bmc(z: np.ndarray, y: np.ndarray, sigma: float) -> np.ndarray:
    """Ren et al.'s bmc_loss per row: cross-entropy of -(z_i - y_j)^2 / 2 sigma^2 against i."""
    noise_var = 2.0 * sigma ** 2
    logits = -(z[:, None] - y[None, :]) ** 2 / noise_var
    return -np.diagonal(log_softmax(logits, axis=1)) * noise_var


def test_balanced_mse_is_the_papers_batch_loss_and_depends_on_the_batch():
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=50), rng.normal(size=50)
    value, _ = bmc(noise_sigma=0.7).loss_gradient(z[:, None], y[:, None])
    np.testing.assert_allclose(value, paper_bmc(z, y, 0.7), rtol=1e-12)
    moved = y.copy()
    moved[1:] += 0.5  # other rows' targets only: row 0's loss changes
    assert bmc(noise_sigma=0.7).loss_gradient(z[:, None], moved[:, None])[0][0] != pytest.approx(value[0])


def test_large_calls_are_split_into_bounded_batches():
    rng = np.random.default_rng(1)
    n = 2 * BMC_BLOCK_ROWS + 500
    z, y = rng.normal(size=n), rng.normal(size=n)
    value, grad = bmc(noise_sigma=0.5).loss_gradient(z[:, None], y[:, None])
    blocks = np.array_split(np.arange(n), 3)
    assert max(block.size for block in blocks) <= BMC_BLOCK_ROWS
    np.testing.assert_allclose(value, np.concatenate([paper_bmc(z[b], y[b], 0.5) for b in blocks]))
    assert grad.shape == (n, 1) and np.isfinite(grad).all()


def test_balanced_mse_sigma_scales_with_the_standardised_target():
    rng = np.random.default_rng(2)
    z, y = rng.normal(3.0, 2.0, size=40), rng.normal(3.0, 2.0, size=40)
    original = bmc(noise_sigma=0.8)
    scaled = original.for_standardized(np.array([3.0]), np.array([2.0]))
    assert scaled.params["noise_sigma"] == pytest.approx(0.4)
    standard = scaled.loss_gradient(((z - 3.0) / 2.0)[:, None], ((y - 3.0) / 2.0)[:, None])[0]
    np.testing.assert_allclose(standard * 4.0, original.loss_gradient(z[:, None], y[:, None])[0])


@pytest.mark.parametrize("loss_id", ["lds_mse", "lds_mae"])
def test_lds_weights_follow_the_target_through_standardisation(loss_id):
    rng = np.random.default_rng(3)
    y = rng.exponential(2.0, size=400) + 10.0
    profile = profile_data(load_data(pd.DataFrame({"x": rng.normal(size=400), "y": y}), target="y"))
    math_ = CATALOG[loss_id].bind(CATALOG[loss_id].derive(profile), "regression")
    weights = math_.lds_weights(y[:, None])[:, 0]
    assert np.mean(weights) == pytest.approx(1.0, rel=1e-3)  # normalised to mean 1 over rows
    assert weights[np.argmax(y)] > 3.0 * weights[np.argmin(np.abs(y - np.median(y)))]
    moved = math_.for_standardized(np.array([y.mean()]), np.array([y.std()]))
    np.testing.assert_allclose(moved.lds_weights(((y - y.mean()) / y.std())[:, None])[:, 0], weights)


def noisy_rare_region(seed: int, n: int = 1500):
    """A skewed feature drives a target with label noise: its large values are rare, and
    they are the rows whose noise was positive, which the conditional mean under-predicts."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    X[:, 0] = rng.exponential(size=n)
    y = 2.0 * X[:, 0] + np.sin(X[:, 1]) + rng.normal(size=n)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)]).assign(target=y)
    return X, y, profile_data(load_data(frame, target="target"))


def test_balanced_losses_lower_the_balanced_and_few_shot_mae_against_mse():
    X, y, profile = noisy_rare_region(seed=0)
    context = scoring_context(profile, {})
    train, test = np.arange(1000), np.arange(1000, len(y))
    density = lds.label_density(y[train], np.asarray(context.target_edges[0]))
    few_shot = density.shot_groups()[lds.bin_index(y[test], density.edges)] == 2
    assert profile.facts["target_rare_share"] > 0.03 and few_shot.sum() >= 30
    scores = {}
    for loss_id in ("mse", "lds_mse", "balanced_mse"):
        loss = CATALOG[loss_id]
        predicted = make_proxy(loss, loss.derive(profile), profile, seed=0, max_iter=40, hidden=(32,),
                               learning_rate_init=0.01).fit(X[train], y[train]).predict(X[test])
        scores[loss_id] = (score_balanced_mae(y[test], predicted, context),
                           float(np.abs(predicted - y[test])[few_shot].mean()),
                           score_mae(y[test], predicted, context))
    for loss_id in ("lds_mse", "balanced_mse"):
        assert scores[loss_id][0] < scores["mse"][0], scores
        assert scores[loss_id][1] < scores["mse"][1], scores
    assert scores["balanced_mse"][2] < 1.1 * scores["mse"][2], scores  # the bulk pays little


def test_label_density_bins_kernel_and_rare_share():
    uniform = lds.label_density(np.linspace(0.0, 1.0, 400))
    assert uniform.n_bins == 20 and uniform.density_ratio() == pytest.approx(1.0, abs=0.05)
    assert uniform.rare_share() == 0.0
    counts = lds.label_density(np.repeat([0.0, 1.0, 2.0, 3.0], [500, 300, 100, 5]))
    assert counts.n_bins == 4 and counts.edges[0] == -0.5  # one bin per whole number
    np.testing.assert_allclose(lds.KERNEL, np.exp(-np.arange(-2, 3) ** 2 / 8) / np.exp(-np.arange(-2, 3) ** 2 / 8).sum())
    assert lds.label_density(np.full(5, 7.0)).density_ratio() == 1.0
