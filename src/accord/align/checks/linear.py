"""The small linear models a fitted decision is made of, stored as plain numbers (JSON, never pickle)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LinearModel:
    """Standardise (missing values become the training mean), then a linear model."""

    mean: list[float]
    scale: list[float]
    coef: list[list[float]]  # one row per class (one row for two classes, or for a regression)
    intercept: list[float]

    def standardise(self, x: np.ndarray) -> np.ndarray:
        mean, scale = np.asarray(self.mean), np.asarray(self.scale)
        x = np.where(np.isnan(x), mean, x)
        return (x - mean) / scale

    def scores(self, x: np.ndarray) -> np.ndarray:
        return self.standardise(x) @ np.asarray(self.coef).T + np.asarray(self.intercept)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """n x K class probabilities (two classes: sigmoid of the one score)."""
        z = self.scores(x)
        if z.shape[1] == 1:
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1 - p1, p1])
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, regression: bool, c: float) -> LinearModel:
        from sklearn.linear_model import LogisticRegression, Ridge

        mean = np.nanmean(x, axis=0) if len(x) else np.zeros(x.shape[1])
        mean = np.where(np.isnan(mean), 0.0, mean)
        filled = np.where(np.isnan(x), mean, x)
        scale = filled.std(axis=0)
        scale = np.where(scale < 1e-9, 1.0, scale)
        z = (filled - mean) / scale
        if regression:
            model = Ridge(alpha=1.0 / c).fit(z, y)
            return cls(mean.tolist(), scale.tolist(), [np.ravel(model.coef_).tolist()], [float(model.intercept_)])
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(z, y)
        return cls(mean.tolist(), scale.tolist(), model.coef_.tolist(), model.intercept_.tolist())

    def check_shape(self, features: int) -> None:
        if len(self.mean) != features or any(len(row) != features for row in self.coef):
            raise ValueError(f"weights for {len(self.mean)} features, but the decision names {features}")
