"""Repositories own every query; callers pass the session of their transaction."""

from storage.repositories.audit import AuditRepository
from storage.repositories.destinations import DestinationRepository
from storage.repositories.history import HistoryRepository
from storage.repositories.incidents import IncidentRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.rules import RuleRepository
from storage.repositories.series import SeriesRepository
from storage.repositories.silences import SilenceRepository

__all__ = [
    "AuditRepository",
    "DestinationRepository",
    "HistoryRepository",
    "IncidentRepository",
    "OutboxRepository",
    "RuleRepository",
    "SeriesRepository",
    "SilenceRepository",
]
