"""Checks and a decision fitted to the experts: how an aligned judge works well on a small model."""

from accord.align.checks.decision import CaseFeatures, FittedDecision, fit_decision
from accord.align.checks.questions import CaseAnswers, Check, answer_choices, ask_case
from accord.align.checks.selection import CandidateScore, choose, cross_validate

__all__ = [
    "CandidateScore",
    "CaseAnswers",
    "CaseFeatures",
    "Check",
    "FittedDecision",
    "answer_choices",
    "ask_case",
    "choose",
    "cross_validate",
    "fit_decision",
]
