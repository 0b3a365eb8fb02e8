"""`mlflow.genai.judges` in accord: `make_judge` and the judge classes (re-exported from `accord.judges`)."""

from accord.judges import Judge, make_judge

__all__ = ["Judge", "make_judge"]
