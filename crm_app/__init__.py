"""Finance CRM and helpdesk."""
