"""The client portal's services: `from crm_app.services import portal`.

- `requests`: a client's own tickets (list, open, read, comment, close, reopen, rate, upload)
- `knowledge`: the help centre's FAQ, suggestions, deflection, and the FAQ manager
- `csat`: satisfaction ratings as staff see them (ticket, agent figures)
- `notify`: who hears about portal traffic, and the client's mail preference

Every client-facing function requires `USE_PORTAL` and is scoped to the signed-in client's
own records. Nothing here imports Reflex.
"""

from crm_app.services.portal import csat, knowledge, notify, requests

__all__ = ["csat", "knowledge", "notify", "requests"]
