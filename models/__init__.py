"""SQLModel tables, one module per aggregate. Importing this package registers them all."""

from models.ai import LlmSettings, MessageSentiment, ReplySuggestion, SuggestionFeedback
from models.audit import AuditLog
from models.business_hours import BusinessCalendar
from models.client import (
    Client,
    ClientFieldDefinition,
    ClientKind,
    ClientListLayout,
    ClientNote,
    CustomFieldType,
    KycStatus,
    RiskCategory,
)
from models.currency import CurrencyRate, ReportingCurrency
from models.mailbox import AfterFetch, ConnectionSecurity, Mailbox, MailboxFolderState, OutboundKind
from models.notification import Notification
from models.retrieval import RetrievalChunk, RetrievalDocument
from models.segment import Segment
from models.sla import (
    DashboardDaily,
    DashboardSentimentDaily,
    SlaConfig,
    SlaEscalationRule,
    SlaPolicy,
    SlaSettings,
    TicketSla,
    TicketSlaEvent,
)
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
from models.upload import UploadSlot
from models.user import (
    IdentityProvider,
    KnownDevice,
    LoginThrottle,
    Role,
    ThrottleScope,
    User,
    UserSession,
)
from models.workspace import AssignmentSetting, Macro, SavedView, TicketPresence

__all__ = [
    "OPEN_STATUSES",
    "AfterFetch",
    "AssignmentSetting",
    "Attachment",
    "AuditLog",
    "BusinessCalendar",
    "Channel",
    "Client",
    "ClientFieldDefinition",
    "ClientKind",
    "ClientListLayout",
    "ClientNote",
    "ConnectionSecurity",
    "CurrencyRate",
    "CustomFieldType",
    "DashboardDaily",
    "DashboardSentimentDaily",
    "IdentityProvider",
    "KnownDevice",
    "KycStatus",
    "LlmSettings",
    "LoginThrottle",
    "Macro",
    "Mailbox",
    "MailboxFolderState",
    "MessageSentiment",
    "Notification",
    "OutboundKind",
    "ReplySuggestion",
    "ReportingCurrency",
    "RetrievalChunk",
    "RetrievalDocument",
    "RiskCategory",
    "Role",
    "SavedView",
    "Segment",
    "SenderKind",
    "SlaConfig",
    "SlaEscalationRule",
    "SlaPolicy",
    "SlaSettings",
    "SlaState",
    "SuggestionFeedback",
    "ThrottleScope",
    "Ticket",
    "TicketMessage",
    "TicketPresence",
    "TicketPriority",
    "TicketSla",
    "TicketSlaEvent",
    "TicketStatus",
    "UploadSlot",
    "User",
    "UserSession",
]
