"""The client portal: a client's own requests, answers and help centre, in the firm's own look
and apart from the staff shell. One module per page; importing the package registers them."""

from pages.portal import access, help_centre, new_request, requests, settings, ticket
from pages.portal.layout import PortalBase
from pages.portal.new_request import NewRequestState
from pages.portal.ticket import PortalTicketState

__all__ = [
    "NewRequestState",
    "PortalBase",
    "PortalTicketState",
    "access",
    "help_centre",
    "new_request",
    "requests",
    "settings",
    "ticket",
]
