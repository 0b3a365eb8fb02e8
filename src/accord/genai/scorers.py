"""`mlflow.genai.scorers` in accord: the built-in judges (re-exported from `accord.judges`)."""

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

__all__ = [
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
