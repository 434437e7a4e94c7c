"""The web chat: a widget page the firm embeds on its website (`/chat/<site>`), and
`POST /api/chat/messages` for other front ends (with the site's key).

- A manager creates a site (`create_site`): its branding, the origins allowed to frame the
  widget, and a key shown once (only its hash is kept).
- A visitor gives name and email (`start`: an unverified client is created for an unknown
  address; the browser keeps the signed credential they get, so a reload `resume`s the
  chat), writes (`post_message`: the conversation is a ticket with channel `web_chat`)
  and sees staff answers (`lines`) while the page polls; `heartbeat` says they are still on
  the page, and whether they are typing (`visitor_status` tells the agent).
- A client signed in to the portal is recognised (`open_for_client`): no name and email
  step, the chat is their client record's ticket, and it needs their session too.
- An agent's reply (`enqueue_web_chat_reply`, registered in `services.channels`) is shown in
  the widget when the visitor is on the page, and goes out by email when they are not.
- Abuse: messages per IP and per visitor per minute are limited, sizes are capped, a filled
  honeypot field is accepted and dropped, text is stored and shown as text (never HTML).

One import for callers, `from crm_app.services.messaging import web_chat`; by what the code
does:
- `sites`: the managers' sites (create, change, turn on and off, rotate the key, list) and
  the snippets
- `visitors`: the widget's side (branding, start, resume, post, read, heartbeat)
- `credentials`: the signed, expiring credential the browser keeps for a visitor
- `signed_in`: the same for a client signed in to the portal (no name and email step)
- `front_ends`: the same for other front ends, with the site's key
- `agents`: the agent's view of the visitor, and the reply path (the channel registration)
- `rows`: the limits, the rows returned and the lookups the modules share
"""

from crm_app.services.messaging.web_chat.agents import (
    composer_note,
    enqueue_web_chat_reply,
    presence_text,
    visitor_status,
)
from crm_app.services.messaging.web_chat.front_ends import api_post, site_for_key
from crm_app.services.messaging.web_chat.rows import (
    CHANNEL,
    KEY_PREFIX,
    MAX_NAME,
    MAX_TEXT,
    ON_PAGE,
    PER_IP_PER_MINUTE,
    PER_VISITOR_PER_MINUTE,
    STARTS_PER_IP_PER_HOUR,
    TYPING,
    ApiPosted,
    Branding,
    ChatLine,
    CreatedSite,
    ResumedChat,
    SiteRow,
    VisitorStatus,
)
from crm_app.services.messaging.web_chat.signed_in import open_for_client
from crm_app.services.messaging.web_chat.sites import (
    clean_origins,
    create_site,
    embed_snippet,
    list_sites,
    loader_script,
    loader_snippet,
    rotate_key,
    set_site_enabled,
    update_site,
)
from crm_app.services.messaging.web_chat.visitors import (
    agents_available,
    branding,
    frame_ancestors,
    heartbeat,
    lines,
    post_message,
    resume,
    start,
)

__all__ = [
    "CHANNEL",
    "KEY_PREFIX",
    "MAX_NAME",
    "MAX_TEXT",
    "ON_PAGE",
    "PER_IP_PER_MINUTE",
    "PER_VISITOR_PER_MINUTE",
    "STARTS_PER_IP_PER_HOUR",
    "TYPING",
    "ApiPosted",
    "Branding",
    "ChatLine",
    "CreatedSite",
    "ResumedChat",
    "SiteRow",
    "VisitorStatus",
    "agents_available",
    "api_post",
    "branding",
    "clean_origins",
    "composer_note",
    "create_site",
    "embed_snippet",
    "enqueue_web_chat_reply",
    "frame_ancestors",
    "heartbeat",
    "lines",
    "list_sites",
    "loader_script",
    "loader_snippet",
    "open_for_client",
    "post_message",
    "presence_text",
    "resume",
    "rotate_key",
    "set_site_enabled",
    "site_for_key",
    "start",
    "update_site",
    "visitor_status",
]
