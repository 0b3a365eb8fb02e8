"""The "shrunk" decision for few labels: the base judge's own verdict, moved by checks whose weights are pulled
towards zero by a prior, so a check moves a verdict only as far as the evidence behind it carries it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from accord.align.checks.decision import SHRINK, SHRINK_INTERCEPT, CaseFeatures, FittedDecision, base_offsets
from accord.align.checks.linear import LinearModel


def fit_shrunk(
    features: CaseFeatures,
    y: np.ndarray,
    classes: list[Any],
    regression: bool,
    check_questions: list[str],
    grounding: Sequence[str],
) -> FittedDecision:
    """The base judge's own verdict plus the checks' weights, each weight pulled towards zero by a normal
    prior (SHRINK), so a check moves a verdict only as far as the evidence behind it carries it. Two verdicts:
    a logistic regression with the judge's log-odds as offset. A scale: one ridge regression of the verdict's
    place on the scale with the judge's expected place as offset, so a verdict with one example borrows from
    its neighbours."""
    from scipy.optimize import minimize

    decision = FittedDecision(
        "shrunk", classes, regression, False, list(check_questions), fitted_on=len(y), grounding=list(grounding)
    )
    decision.offset = True
    raw = base_offsets(features.judge, len(classes), decision.on_scale, np.nan)
    fill = float(np.nanmean(raw)) if not np.isnan(raw).all() else (float(np.mean(y)) if decision.on_scale else 0.0)
    decision.extra["offset_fill"] = round(fill, 6)
    offset = np.where(np.isnan(raw), fill, raw)
    x = decision.matrix(features)
    mean = np.nanmean(x, axis=0) if x.shape[1] and len(x) else np.zeros(x.shape[1])
    mean = np.where(np.isnan(mean), 0.0, mean)
    filled = np.where(np.isnan(x), mean, x)
    scale = filled.std(axis=0) if len(x) else np.ones(x.shape[1])
    scale = np.where(scale < 1e-9, 1.0, scale)
    z = (filled - mean) / scale
    m = z.shape[1]
    penalty = np.r_[np.full(m, SHRINK), SHRINK_INTERCEPT]
    design = np.column_stack([z, np.ones(len(z))])
    if decision.on_scale:  # ridge on the residual from the base judge's place: closed form
        residual = y.astype(float) - offset
        theta = np.linalg.solve(design.T @ design + np.diag(penalty), design.T @ residual)
    else:
        target = (y == 1).astype(float)

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            s = offset + design @ theta
            p = 1.0 / (1.0 + np.exp(-s))
            value = float(np.sum(np.logaddexp(0, s) - target * s) + 0.5 * penalty @ theta**2)
            return value, design.T @ (p - target) + penalty * theta

        theta = minimize(loss, np.zeros(m + 1), jac=True, method="L-BFGS-B").x
    decision.linear = LinearModel(mean.tolist(), scale.tolist(), [theta[:m].tolist()], [float(theta[m])])
    return decision
