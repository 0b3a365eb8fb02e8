"""The review web page: experts give feedback on traces, and everyone sees how well judges agree."""

from accord.review.app import ReviewSettings, create_app
from accord.review.server import serve

__all__ = ["ReviewSettings", "create_app", "serve"]
