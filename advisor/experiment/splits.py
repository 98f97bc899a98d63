"""Samples and splits: every candidate sees the same stratified sample and the same folds.

Strata are the classes, quantile bins of a numeric target, or the rarest label of a
multi-label target; strata too small to split are pooled.
"""

from __future__ import annotations

import warnings

import numpy as np

from .scoring import CLASS_TASKS

__all__ = ["strata_of", "stratified_sample", "make_splits", "split_seed"]


def strata_of(y: np.ndarray, task: str, bins: int = 10) -> tuple[np.ndarray, str]:
    """Integer strata to stratify on, and what they are."""
    if task in CLASS_TASKS:
        return np.asarray(y, dtype=int).ravel(), "class"
    if task == "survival":  # (duration, event): every fold gets its share of the events
        return (np.asarray(y, dtype=float)[:, 1] > 0.5).astype(int), "event"
    if task == "multilabel":
        matrix = np.asarray(y) > 0.5
        prevalence = matrix.sum(axis=0)
        order = np.argsort(prevalence, kind="stable")  # rarest label first
        ranked = matrix[:, order]
        has_label = ranked.any(axis=1)
        rarest = np.where(has_label, np.argmax(ranked, axis=1), matrix.shape[1])
        return rarest.astype(int), "rarest label"
    values = np.asarray(y, dtype=float)
    values = values[:, 0] if values.ndim == 2 else values
    ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable")
    groups = max(1, min(bins, values.size // 20))
    return (ranks * groups // max(1, values.size)).astype(int), f"{groups} quantile bins of the target"


def _merge_small_strata(strata: np.ndarray, minimum: int) -> np.ndarray:
    """Pool strata with fewer than ``minimum`` rows; a pool still too small joins the largest."""
    labels, counts = np.unique(strata, return_counts=True)
    small = labels[counts < minimum]
    if small.size == 0:
        return strata
    merged = strata.copy()
    pool = int(labels.max()) + 1
    merged[np.isin(strata, small)] = pool
    if np.count_nonzero(merged == pool) < minimum:
        kept_labels, kept_counts = np.unique(merged[merged != pool], return_counts=True)
        if kept_labels.size:
            merged[merged == pool] = kept_labels[np.argmax(kept_counts)]
    return merged


def stratified_sample(strata: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted positions of a reproducible stratified sample of ``size`` rows."""
    from sklearn.model_selection import train_test_split

    total = strata.size
    if size >= total:
        return np.arange(total)
    positions = np.arange(total)
    merged = _merge_small_strata(strata, 2)
    try:
        chosen, _ = train_test_split(positions, train_size=size, stratify=merged,
                                     random_state=seed)
    except ValueError:  # too few rows per stratum for this size: plain random sample
        chosen, _ = train_test_split(positions, train_size=size, random_state=seed)
    return np.sort(chosen)


def make_splits(strata: np.ndarray, folds: int, repeats: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) positions of every split, repeat-major, stratified where possible."""
    from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

    merged = _merge_small_strata(strata, folds)
    if repeats > 1:
        splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "least populated class" when a pooled stratum is small
        return [(np.asarray(train), np.asarray(test))
                for train, test in splitter.split(np.zeros(strata.size), merged)]


def split_seed(seed: int, split: int) -> int:
    """The proxy seed of one split: the same for every candidate, different across splits."""
    return int(np.random.SeedSequence([seed, split]).generate_state(1)[0] % (2**31 - 1))

