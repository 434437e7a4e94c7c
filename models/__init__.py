"""SQLModel tables, one module per aggregate. Importing this package registers them all."""

from models.ai import LlmSettings, MessageSentiment, ReplySuggestion, SuggestionFeedback
from models.api_token import ApiToken, TokenScope
from models.archive import Archive, ArchiveItemError, ArchiveMessage, ArchivePolicy
from models.audit import AuditLog
from models.business_hours import BusinessCalendar
from models.campaign import (
    Campaign,
    CampaignEvent,
    CampaignRecipient,
    CampaignStatus,
    CampaignTransport,
    CampaignWorker,
    RecipientStatus,
    Suppression,
    SuppressionReason,
)
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
from models.faq import (
    FaqEntry,
    FaqEntryVersion,
    FaqOrigin,
    FaqRun,
    FaqRunStatus,
    FaqStatus,
    FaqVote,
)
from models.inbound_mail import InboundMail, InboundStatus
from models.mailbox import AfterFetch, ConnectionSecurity, Mailbox, MailboxFolderState, OutboundKind
from models.messaging import ChannelConfig as ChannelConfig  # WhatsApp and web chat tables
from models.notification import Notification
from models.ory_session import OrySessionLink
from models.outbox import OutboundMessage, OutboundStatus
from models.portal import (
    DeflectionOutcome,
    FaqDeflection,
    LinkPurpose,
    OneTimeLink,
    PortalPreference,
    PortalRequest,
    TicketRating,
)
from models.request_receipt import RequestReceipt
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
from models.team import Team, TeamMember
from models.ticket import (
    OPEN_STATUSES,
    Attachment,
    Channel,
    SenderKind,
    SlaState,
    Tag,
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
    "Archive",
    "ArchiveItemError",
    "ArchiveMessage",
    "ArchivePolicy",
    "AssignmentSetting",
    "Attachment",
    "AuditLog",
    "BusinessCalendar",
    "Campaign",
    "CampaignEvent",
    "CampaignRecipient",
    "CampaignStatus",
    "CampaignTransport",
    "CampaignWorker",
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
    "DeflectionOutcome",
    "DeliveryStatus",
    "FaqDeflection",
    "FaqEntry",
    "FaqEntryVersion",
    "FaqOrigin",
    "FaqRun",
    "FaqRunStatus",
    "FaqStatus",
    "FaqVote",
    "IdentityProvider",
    "InboundMail",
    "InboundStatus",
    "KnownDevice",
    "KycStatus",
    "LinkPurpose",
    "LlmSettings",
    "LoginThrottle",
    "Macro",
    "Mailbox",
    "MailboxFolderState",
    "MessageSentiment",
    "Notification",
    "OneTimeLink",
    "OrySessionLink",
    "OutboundKind",
    "OutboundMessage",
    "OutboundStatus",
    "PortalPreference",
    "PortalRequest",
    "RecipientStatus",
    "ReplySuggestion",
    "ReportingCurrency",
    "RequestReceipt",
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
    "Suppression",
    "SuppressionReason",
    "Tag",
    "Team",
    "TeamMember",
    "ThrottleScope",
    "Ticket",
    "TicketMessage",
    "TicketPresence",
    "TicketPriority",
    "TicketRating",
    "TicketSla",
    "TicketSlaEvent",
    "TicketStatus",
    "TokenScope",
    "UploadSlot",
    "User",
    "UserSession",
    "WebhookDelivery",
    "WebhookEndpoint",
]
