"""SQLModel tables, one module per aggregate. Importing this package registers them all."""

from models.audit import AuditLog
from models.client import Client, RiskCategory
from models.notification import Notification
from models.sla import SlaConfig
from models.ticket import (
    OPEN_STATUSES,
    Attachment,
    Channel,
    SenderKind,
    SlaState,
    Ticket,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from models.user import IdentityProvider, LoginAttempt, Role, User, UserSession

__all__ = [
    "OPEN_STATUSES",
    "Attachment",
    "AuditLog",
    "Channel",
    "Client",
    "IdentityProvider",
    "LoginAttempt",
    "Notification",
    "RiskCategory",
    "Role",
    "SenderKind",
    "SlaConfig",
    "SlaState",
    "Ticket",
    "TicketMessage",
    "TicketPriority",
    "TicketStatus",
    "User",
    "UserSession",
]
