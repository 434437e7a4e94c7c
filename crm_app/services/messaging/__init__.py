"""Messaging channels beside email: WhatsApp (Twilio, Meta Cloud API) and the web chat."""
