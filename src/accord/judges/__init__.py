"""Judges: `make_judge` for your own, and the built-in ones."""

from accord.judges.base import Judge, JudgeInput
from accord.judges.builtin import (
    BUILTIN_JUDGES,
    Completeness,
    ConversationCompleteness,
    Correctness,
    Equivalence,
    ExpectationsGuidelines,
    Fluency,
    Guidelines,
    RelevanceToQuery,
    RetrievalGroundedness,
    RetrievalRelevance,
    RetrievalSufficiency,
    Safety,
    UserFrustration,
)
from accord.judges.factory import builtin_judge, judge_from_dict, judge_from_file, make_judge
from accord.judges.pairwise import PairwiseJudge, PairwisePreference, make_pairwise_judge
from accord.judges.value_types import ValueType

__all__ = [
    "BUILTIN_JUDGES",
    "Completeness",
    "ConversationCompleteness",
    "Correctness",
    "Equivalence",
    "ExpectationsGuidelines",
    "Fluency",
    "Guidelines",
    "Judge",
    "JudgeInput",
    "PairwiseJudge",
    "PairwisePreference",
    "RelevanceToQuery",
    "RetrievalGroundedness",
    "RetrievalRelevance",
    "RetrievalSufficiency",
    "Safety",
    "UserFrustration",
    "ValueType",
    "builtin_judge",
    "judge_from_dict",
    "judge_from_file",
    "make_judge",
    "make_pairwise_judge",
]
