"""Repositories own every query; callers pass the session of their transaction."""

from storage.repositories.anomaly import AnomalyModelRepository
from storage.repositories.audit import AuditRepository
from storage.repositories.history import HistoryRepository
from storage.repositories.incidents import IncidentRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.rules import RuleRepository
from storage.repositories.sample_history import SampleHistoryRepository
from storage.repositories.series import SeriesRepository
from storage.repositories.silences import SilenceRepository

__all__ = [
    "AnomalyModelRepository",
    "AuditRepository",
    "HistoryRepository",
    "IncidentRepository",
    "OutboxRepository",
    "RuleRepository",
    "SampleHistoryRepository",
    "SeriesRepository",
    "SilenceRepository",
]
