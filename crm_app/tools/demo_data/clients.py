"""Generating demo clients (with their finance fields) as COPY text lines."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence

from crm_app.tools.demo_data.common import (
    CLIENT_HISTORY_DAYS,
    HISTORY_DAYS,
    NULL,
    _Timestamps,
    _weighted,
)
from crm_app.tools.demo_vocabulary import (
    CLIENT_EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    REGIONS,
    RISK_CATEGORIES,
)


def _client_rows(
    ids: Sequence[int], agent_ids: Sequence[int], now: int, rng: random.Random, ts: _Timestamps
) -> Iterator[str]:
    regions = [r[:3] for r in REGIONS]
    region_weights = _weighted([(str(i), r[3]) for i, r in enumerate(REGIONS)])[1]
    risks, risk_weights = _weighted(RISK_CATEGORIES)
    random_, choice, choices = rng.random, rng.choice, rng.choices
    lognorm, randint = rng.lognormvariate, rng.randint
    mu = math.log(1_500_000)
    for client_id in ids:
        first, last = choice(FIRST_NAMES), choice(LAST_NAMES)
        region, currency, phone_format = choices(regions, cum_weights=region_weights)[0]
        phone = phone_format.format(
            a=randint(201, 989), b=randint(0, 99), c=randint(0, 999), d=randint(0, 9_999_999)
        )
        cents = max(2_500_000, int(lognorm(mu, 1.1) * 100))
        # Clients predate the ticket history, so no ticket is older than its client.
        created = now - int((HISTORY_DAYS + random_() * CLIENT_HISTORY_DAYS) * 86400)
        email = f"{first.lower()}.{last.lower()}.{client_id}@{choice(CLIENT_EMAIL_DOMAINS)}"
        yield (
            f"{client_id}\t{first} {last}\t{email}\t{phone}\t{region}\t"
            f"{choices(risks, cum_weights=risk_weights)[0]}\t{cents // 100}.{cents % 100:02d}\t"
            f"{currency}\t{choice(agent_ids)}\t{NULL}\t{ts(created)}\t{ts(created)}\n"
        )


_CLIENT_COLUMNS = (
    "id, name, email, phone, region, risk_category, net_worth, currency, "
    "owner_agent_id, portal_user_id, created_at, updated_at"
)
