"""ROC and precision-recall curves from labels and scores, in numpy (no scikit-learn).

Conventions follow scikit-learn: thresholds are the distinct scores in decreasing order; ROC
starts at (0, 0); PR ends at recall 0, precision 1; AUC is the trapezoid area; average
precision is ``Σ (R_n − R_{n−1}) P_n``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runlane.errors import InvalidArgumentError

Array = np.ndarray[Any, Any]


def _binary(y_true: Any, y_score: Any) -> tuple[Array, Array]:
    truth = np.asarray(y_true).ravel()
    score = np.asarray(y_score, dtype=np.float64).ravel()
    if truth.shape != score.shape or truth.size == 0:
        raise InvalidArgumentError(
            f"labels ({truth.size}) and scores ({score.size}) must be non-empty and of one length"
        )
    labels = np.unique(truth)
    if not np.all(np.isin(labels, [0, 1, False, True])):
        raise InvalidArgumentError(f"labels must be 0/1 or booleans, got values {labels[:5]!r}")
    if np.isnan(score).any():
        raise InvalidArgumentError("scores may not contain NaN")
    return truth.astype(bool), score


def _counts(truth: Array, score: Array) -> tuple[Array, Array, Array]:
    """Cumulative true/false positives at each distinct threshold (decreasing)."""
    order = np.argsort(-score, kind="mergesort")
    score, truth = score[order], truth[order]
    last = np.r_[np.flatnonzero(np.diff(score)), truth.size - 1]
    tps = np.cumsum(truth)[last].astype(np.float64)
    fps = (last + 1 - tps).astype(np.float64)
    return tps, fps, score[last]


def roc_curve(y_true: Any, y_score: Any) -> tuple[Array, Array, Array]:
    """``(fpr, tpr, thresholds)``; raises when only one class is present."""
    truth, score = _binary(y_true, y_score)
    positives = truth.sum()
    negatives = truth.size - positives
    if positives == 0 or negatives == 0:
        raise InvalidArgumentError("a ROC curve needs both positive and negative labels")
    tps, fps, thresholds = _counts(truth, score)
    tpr = np.r_[0.0, tps / positives]
    fpr = np.r_[0.0, fps / negatives]
    return fpr, tpr, np.r_[np.inf, thresholds]


def auc(x: Any, y: Any) -> float:
    """Area under the curve ``y(x)`` by the trapezoid rule (``x`` monotonic)."""
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    area = float(np.sum(np.diff(xs) * (ys[1:] + ys[:-1]) / 2.0))
    return abs(area)


def pr_curve(y_true: Any, y_score: Any) -> tuple[Array, Array, Array]:
    """``(precision, recall, thresholds)``, one point per distinct score, recall decreasing
    to a final point at recall 0, precision 1 (scikit-learn ≥ 1.1)."""
    truth, score = _binary(y_true, y_score)
    positives = truth.sum()
    if positives == 0:
        raise InvalidArgumentError("a precision-recall curve needs at least one positive label")
    tps, fps, thresholds = _counts(truth, score)
    precision = tps / (tps + fps)
    recall = tps / positives
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


def average_precision(y_true: Any, y_score: Any) -> float:
    precision, recall, _ = pr_curve(y_true, y_score)
    return float(-np.sum(np.diff(recall) * precision[:-1]))
