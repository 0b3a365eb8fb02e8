"""`mlflow.genai.scorers` in accord: the built-in judges, the `scorer` decorator and the built-in code-based
scorers (re-exported from `accord.judges`)."""

from accord.judges import (
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
from accord.judges.scorers import (
    Contains,
    ExactMatch,
    LatencyBudget,
    LengthBounds,
    RegexMatch,
    Scorer,
    TokenBudget,
    ValidJson,
    scorer,
)

__all__ = [
    "Contains",
    "ExactMatch",
    "LatencyBudget",
    "LengthBounds",
    "RegexMatch",
    "Scorer",
    "TokenBudget",
    "ValidJson",
    "scorer",
    "Completeness",
    "ConversationCompleteness",
    "Correctness",
    "Equivalence",
    "ExpectationsGuidelines",
    "Fluency",
    "Guidelines",
    "RelevanceToQuery",
    "RetrievalGroundedness",
    "RetrievalRelevance",
    "RetrievalSufficiency",
    "Safety",
    "UserFrustration",
]
