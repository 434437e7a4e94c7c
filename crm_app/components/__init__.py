"""What pages share: badges, form pieces, empty states, confirmation dialogs, pickers keyed by
id, filter selects, data tables and keyset paging. A widget two pages use lives here, not in a
page."""

from crm_app.components.badges import (
    channel_badge,
    priority_badge,
    removable_chip,
    sla_badge,
    status_badge,
)
from crm_app.components.dialogs import confirm_dialog
from crm_app.components.feedback import empty_state, form_error, stat_card
from crm_app.components.forms import account_fields, auth_form, field, native_form
from crm_app.components.lists import (
    audience_select,
    client_pick_option,
    filter_select,
    keyset_pager,
    numbered_pager,
    options_listbox,
    search_input,
    staff_picker,
)
from crm_app.components.tables import KeysetPaging, data_table, paging_bar

__all__ = [
    "KeysetPaging",
    "account_fields",
    "audience_select",
    "auth_form",
    "channel_badge",
    "client_pick_option",
    "confirm_dialog",
    "data_table",
    "empty_state",
    "field",
    "filter_select",
    "form_error",
    "keyset_pager",
    "native_form",
    "numbered_pager",
    "options_listbox",
    "paging_bar",
    "priority_badge",
    "removable_chip",
    "search_input",
    "sla_badge",
    "staff_picker",
    "stat_card",
    "status_badge",
]
