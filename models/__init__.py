"""SQLModel tables, one module per aggregate. Importing this package registers them all."""

from models.ai import LlmSettings, MessageSentiment, ReplySuggestion, SuggestionFeedback
from models.api_token import ApiToken, TokenScope
from models.audit import AuditLog
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
from models.ory_session import OrySessionLink
from models.retrieval import RetrievalChunk, RetrievalDocument
from models.segment import Segment
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
from models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from models.workspace import AssignmentSetting, Macro, SavedView, TicketPresence

__all__ = [
    "OPEN_STATUSES",
    "AfterFetch",
    "ApiToken",
    "AssignmentSetting",
    "Attachment",
    "AuditLog",
    "Channel",
    "Client",
    "ClientFieldDefinition",
    "ClientKind",
    "ClientListLayout",
    "ClientNote",
    "ConnectionSecurity",
    "CurrencyRate",
    "CustomFieldType",
    "DeliveryStatus",
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
    "OrySessionLink",
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
    "SlaState",
    "SuggestionFeedback",
    "ThrottleScope",
    "Ticket",
    "TicketMessage",
    "TicketPresence",
    "TicketPriority",
    "TicketStatus",
    "TokenScope",
    "UploadSlot",
    "User",
    "UserSession",
    "WebhookDelivery",
    "WebhookEndpoint",
]
