"""The `whatsapp_send` job: deliver queued WhatsApp replies (`services/messaging/delivery.py`)."""

from __future__ import annotations

from crm_app.services.messaging import delivery


def run() -> delivery.DeliveryReport:
    return delivery.run()


if __name__ == "__main__":
    print(run())
