"""The teacher, as seen from the client: a REST service selling CLIP embeddings."""

from client_trainer.teacher.client import PurchasedBatch, TeacherClient
from client_trainer.teacher.errors import (
    BudgetExhausted,
    TeacherError,
    TeacherHTTPError,
    TeacherProtocolError,
    TeacherRetryable,
    TeacherUnavailable,
)

__all__ = [
    "BudgetExhausted",
    "PurchasedBatch",
    "TeacherClient",
    "TeacherError",
    "TeacherHTTPError",
    "TeacherProtocolError",
    "TeacherRetryable",
    "TeacherUnavailable",
]
