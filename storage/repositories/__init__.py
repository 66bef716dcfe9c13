"""Repositories own every query; callers pass the session of their transaction."""

from storage.repositories.anomaly import AnomalyModelRepository
from storage.repositories.audit import AuditRepository
from storage.repositories.destinations import DestinationRepository
from storage.repositories.events import EventRepository
from storage.repositories.held import HeldRepository
from storage.repositories.history import HistoryRepository
from storage.repositories.incidents import IncidentRepository
from storage.repositories.messages import MessageRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.proposals import ProposalRepository
from storage.repositories.reports import ReportRepository
from storage.repositories.retention import RetentionRepository
from storage.repositories.rules import RuleRepository
from storage.repositories.sample_history import SampleHistoryRepository
from storage.repositories.series import SeriesRepository
from storage.repositories.silences import SilenceRepository
from storage.repositories.stats import StatsRepository
from storage.repositories.subscriptions import SubscriptionRepository
from storage.repositories.target_health import TargetHealthRepository
from storage.repositories.window import WindowJournalRepository

__all__ = [
    "AnomalyModelRepository",
    "AuditRepository",
    "DestinationRepository",
    "EventRepository",
    "HeldRepository",
    "HistoryRepository",
    "IncidentRepository",
    "MessageRepository",
    "OutboxRepository",
    "ProposalRepository",
    "ReportRepository",
    "RetentionRepository",
    "RuleRepository",
    "SampleHistoryRepository",
    "SeriesRepository",
    "SilenceRepository",
    "StatsRepository",
    "SubscriptionRepository",
    "TargetHealthRepository",
    "WindowJournalRepository",
]
