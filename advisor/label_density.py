"""The label density of a numeric target, smoothed as in LDS: one place for the bins and the kernel.

Label distribution smoothing (LDS, Yang, Zha, Chen, Wang & Katabi, ICML 2021, "Delving into
Deep Imbalanced Regression") estimates how densely each region of a continuous target is
populated: a histogram of the target over equal-width bins, convolved with a Gaussian kernel
(neighbouring labels inform each other). Three parts of the advisor read it, all through
:func:`label_density`, so that they agree on the bins and the kernel:

- the facts ``target_density_ratio`` and ``target_rare_share`` (:mod:`advisor.profile`);
- the LDS weights of ``lds_mse`` / ``lds_mae`` and the noise scale of ``balanced_mse``
  (:mod:`advisor.losses._imbalanced`);
- the bins of the metric ``balanced_mae`` (:mod:`advisor.experiment.scoring`).

The choices, made once here:

- **Bins**: ``clip(round(sqrt(n)), 10, 100)`` equal-width bins over ``[min(y), max(y)]`` (the
  square-root rule, at most the paper's 100 one-year bins of age); a whole-number target gets
  at most one bin per whole number, centred on it (edges at ``min - 0.5 .. max + 0.5``).
- **Kernel**: Gaussian with sigma = 2 bins, truncated at 2 bins (5 taps): the paper's default
  (``ks=5, sigma=2``). numpy's convolution, not scipy.ndimage, keeps scipy out of the profile.
  The histogram is mirrored at both ends before the convolution (scipy.ndimage's ``reflect``),
  so the end bins are not thinned by kernel mass falling outside the target's range: a
  uniform target has a density ratio of about 1.
- **Rare**: a bin is rare when its smoothed count is below :data:`RARE_FRACTION` (10 %) of the
  peak's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Fewest and most bins of the square-root rule.
MIN_BINS = 10
MAX_BINS = 100
#: The LDS kernel (Yang et al. 2021 defaults): Gaussian, sigma in bins, truncated at radius.
KERNEL_SIGMA_BINS = 2.0
KERNEL_RADIUS_BINS = 2
#: A bin whose smoothed count is below this share of the peak's is a rare (low-density) region.
RARE_FRACTION = 0.1
#: The LDS weight of a row is (smoothed density)^-power; 1/2 is the paper's default (sqrt_inv).
DEFAULT_WEIGHT_POWER = 0.5
#: Shot groups of the papers' breakdown, by training rows per bin: many > 100, few < 20.
MANY_SHOT, FEW_SHOT = 100, 20

_KERNEL_STEPS = np.arange(-KERNEL_RADIUS_BINS, KERNEL_RADIUS_BINS + 1, dtype=np.float64)
KERNEL = np.exp(-_KERNEL_STEPS ** 2 / (2.0 * KERNEL_SIGMA_BINS ** 2))
KERNEL /= KERNEL.sum()


@dataclass(frozen=True, eq=False)
class LabelDensity:
    """The binned, smoothed density of one numeric target column."""

    #: ``(n_bins + 1,)`` equal-width bin edges.
    edges: np.ndarray
    #: ``(n_bins,)`` rows per bin.
    counts: np.ndarray
    #: ``(n_bins,)`` rows per bin after the LDS convolution.
    smoothed: np.ndarray

    @property
    def n_bins(self) -> int:
        return int(self.counts.size)

    @property
    def bin_width(self) -> float:
        return float(self.edges[1] - self.edges[0])

    @property
    def kernel_bandwidth(self) -> float:
        """The kernel's sigma in target units (2 bins), 0 for a constant target."""
        return KERNEL_SIGMA_BINS * self.bin_width

    def density_ratio(self) -> float:
        """Smoothed count of the densest non-empty bin / that of the sparsest (1 with one bin)."""
        present = self.smoothed[self.counts > 0]
        return float(present.max() / present.min()) if present.size else 1.0

    def rare_bins(self) -> np.ndarray:
        """Boolean ``(n_bins,)``: the non-empty bins below :data:`RARE_FRACTION` of the peak."""
        return (self.counts > 0) & (self.smoothed < RARE_FRACTION * self.smoothed.max())

    def rare_share(self) -> float:
        """Share of the rows that fall in rare bins."""
        total = float(self.counts.sum())
        return float(self.counts[self.rare_bins()].sum()) / total if total else 0.0

    def weights(self, power: float = DEFAULT_WEIGHT_POWER) -> np.ndarray:
        """Per-bin LDS weights smoothed^-power, normalised to mean 1 over the rows.

        Empty bins far from any row have no smoothed mass; they get the weight of the sparsest
        non-empty bin (a value outside the training data is not given an infinite weight).
        """
        present = self.smoothed[self.counts > 0]
        floor = float(present.min()) if present.size else 1.0
        raw = np.maximum(self.smoothed, floor) ** -float(power)
        mean = float(np.dot(self.counts, raw)) / max(float(self.counts.sum()), 1.0)
        return raw / mean

    def shot_groups(self) -> np.ndarray:
        """Per bin: 0 many-shot (> 100 rows), 1 medium (20-100), 2 few-shot (< 20 rows)."""
        return np.where(self.counts > MANY_SHOT, 0, np.where(self.counts >= FEW_SHOT, 1, 2))


def n_bins_for(values: np.ndarray) -> int:
    """The square-root rule clipped to [10, 100]; at most one bin per whole number."""
    count = int(np.clip(round(math.sqrt(values.size)), MIN_BINS, MAX_BINS))
    half_span = _half_span(values)
    if _whole_numbers(values) and half_span < (count - 1) / 2:
        count = int(round(2 * half_span)) + 1
    return max(count, 1)


def _half_span(values: np.ndarray) -> float:
    """(max - min) / 2, without overflow for targets near the float range."""
    return float(values.max()) / 2 - float(values.min()) / 2


def _one_bin_per_value(values: np.ndarray, count: int) -> bool:
    """Whole numbers with exactly one bin per value from min to max."""
    half_span = _half_span(values)
    return _whole_numbers(values) and half_span <= MAX_BINS and int(round(2 * half_span)) + 1 == count


def _whole_numbers(values: np.ndarray) -> bool:
    return bool(np.all(values == np.round(values)))


def bin_edges(values: np.ndarray, n_bins: int | None = None) -> np.ndarray:
    """Equal-width edges over the target's range (whole numbers: centred on each value);
    ``n_bins`` overrides :func:`n_bins_for` (several columns sharing one bin count)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    low, high = float(values.min()), float(values.max())
    count = n_bins_for(values) if n_bins is None else int(n_bins)
    if _one_bin_per_value(values, count) or high <= low:
        low, high = low - 0.5, high + 0.5
    # a weighted mean of the ends, so that no width or product overflows near the float range
    fraction = np.arange(count + 1, dtype=np.float64) / count
    edges = low * (1.0 - fraction) + high * fraction
    edges[0], edges[-1] = low, high
    return edges


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The bin of each value; values outside the edges fall in the first or last bin."""
    inner = np.asarray(edges, dtype=np.float64)[1:-1]
    return np.searchsorted(inner, np.asarray(values, dtype=np.float64), side="right")


def smooth(counts: np.ndarray) -> np.ndarray:
    """The LDS convolution of a histogram with :data:`KERNEL`, ends mirrored."""
    padded = np.pad(np.asarray(counts, dtype=np.float64), KERNEL_RADIUS_BINS, mode="symmetric")
    return np.convolve(padded, KERNEL, mode="valid")


def label_density(values: np.ndarray, edges: np.ndarray | None = None) -> LabelDensity:
    """The LDS density of one target column (finite values), over ``edges`` or its own bins."""
    values = np.asarray(values, dtype=np.float64).ravel()
    edges = bin_edges(values) if edges is None else np.asarray(edges, dtype=np.float64)
    counts = np.bincount(bin_index(values, edges), minlength=edges.size - 1).astype(np.float64)
    return LabelDensity(edges=edges, counts=counts, smoothed=smooth(counts))
