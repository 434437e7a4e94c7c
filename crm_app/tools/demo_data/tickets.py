"""Generating demo tickets and their message threads as COPY text lines, chunk by chunk, with
SLA states that agree with `crm_app.services.sla`."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from crm_app.tools.demo_data.common import DEMO_DOMAIN, NULL, _copy_text, _Timestamps, _weighted
from crm_app.tools.demo_vocabulary import CHANNELS, PRIORITIES, STATUS_BY_AGE, SUBJECTS, TOPICS


@dataclass
class _TicketContext:
    """Everything the ticket generator needs, bound once."""

    agent_ids: Sequence[int]
    client_ids: Sequence[int]
    clients: dict[int, tuple[str, str]]  # id -> (first name, currency)
    agent_names: dict[int, str]
    targets: dict[str, tuple[int, int]]
    now: float
    share: float
    messages_per_ticket: float
    ts: _Timestamps


class _TicketWriter:
    """Generates one chunk of tickets and their threads as COPY text lines."""

    def __init__(self, ctx: _TicketContext, rng: random.Random) -> None:
        self.ctx, self.rng = ctx, rng
        self.priorities = _weighted(PRIORITIES)
        self.channels = _weighted(CHANNELS)
        self.statuses = [(limit * 86400, _weighted(weights)) for limit, weights in STATUS_BY_AGE]
        esc = _copy_text
        self.topics = [
            (
                tuple(esc(s) for s in t.client_openings),
                tuple(esc(s) for s in t.agent_replies),
                tuple(esc(s) for s in t.client_followups),
                tuple(esc(s) for s in t.internal_notes),
            )
            for t in TOPICS
        ]
        self.messages = 0
        self.done = 0
        self._messages_at: dict[int, int] = {}

    def chunk(
        self, ticket_ids: Sequence[int], numbers: Sequence[int], created_times: Sequence[int]
    ) -> tuple[list[str], list[str]]:
        ctx, rng = self.ctx, self.rng
        random_, choice, choices = rng.random, rng.choice, rng.choices
        lognorm = rng.lognormvariate
        ts, now, share = ctx.ts, ctx.now, ctx.share
        now_int = int(now)
        priorities, priority_cum = self.priorities
        channels, channel_cum = self.channels
        targets = ctx.targets
        tickets: list[str] = []
        messages: list[str] = []
        open_statuses = ("new", "open", "pending")
        for ticket_id, number, created in zip(ticket_ids, numbers, created_times, strict=True):
            priority = choices(priorities, cum_weights=priority_cum)[0]
            channel = choices(channels, cum_weights=channel_cum)[0]
            age = now - created
            for limit, (statuses, status_cum) in self.statuses:
                if age < limit:
                    status = choices(statuses, cum_weights=status_cum)[0]
                    break
            subject, topic_index = choice(SUBJECTS)
            openings, replies, followups, notes = self.topics[topic_index]
            client_id = choice(ctx.client_ids)
            client, currency = ctx.clients[client_id]
            staff_opened = channel in ("phone", "agent")
            assigned = status != "new" or staff_opened or random_() < 0.4
            assignee = choice(ctx.agent_ids) if assigned else None
            agent = ctx.agent_names[assignee] if assignee else "Client Services"
            first_minutes, resolution_minutes = targets[priority]
            first_due = created + first_minutes * 60
            resolution_due = created + resolution_minutes * 60

            responded = resolved = closed = None
            if status != "new":
                responded = created + max(60, int(first_minutes * 60 * lognorm(-1.0, 0.8)))
                if responded >= now_int:
                    responded, status = None, "new"
            if status in ("resolved", "closed"):
                assert responded is not None
                resolved = responded + max(300, int(resolution_minutes * 60 * lognorm(-0.9, 0.9)))
                if resolved >= now_int:
                    resolved, status = None, "open"
                elif status == "closed":
                    closed = resolved + int(86400 * (1 + 4 * random_()))
                    if closed >= now_int:
                        closed, status = None, "resolved"

            # SLA state: the same rule as crm_app.services.sla (a scan right after changes nothing)
            if status in open_statuses:
                if (responded or now) > first_due or now > resolution_due:
                    sla = "breached"
                elif (responded is None and now >= created + (first_due - created) * share) or (
                    now >= created + (resolution_due - created) * share
                ):
                    sla = "near_breach"
                else:
                    sla = "on_track"
            else:
                finished = resolved or closed
                assert finished is not None  # a resolved or closed ticket was resolved
                sla = (
                    "breached"
                    if (responded or finished) > first_due or (finished > resolution_due)
                    else "met"
                )

            # The thread: the client writes, an agent answers at `responded`, then they alternate
            # until resolution (or now), with an occasional internal note.
            amount = f"{rng.randint(5, 500) * 1000:,} {currency}"
            fill = {"client": client, "agent": agent, "amount": amount, "ref": f"{ticket_id:08d}"}
            thread: list[tuple[int, str, str, bool]] = [  # (time, sender, body, internal)
                (
                    created,
                    "agent" if staff_opened else "client",
                    choice(openings).format_map(fill),
                    False,
                )
            ]
            if responded is None:
                if random_() < 0.3:
                    thread.append(
                        (
                            created + int((now_int - created) * random_() * 0.9),
                            "client",
                            "Any update on this, please?",
                            False,
                        )
                    )
            else:
                thread.append((responded, "agent", choice(replies).format_map(fill), False))
                target_count = 2 + int(random_() * (2 * ctx.messages_per_ticket - 3))
                end = resolved if resolved else now_int - 1
                span = max(end - responded - 1, 1)
                times = sorted(
                    responded + 1 + int(random_() * span) for _ in range(target_count - 2)
                )
                sender = "client"
                for moment in times:
                    if random_() < 0.12:
                        thread.append((moment, "agent", choice(notes), True))
                        continue
                    body = (
                        choice(followups)
                        if sender == "client"
                        else choice(replies).format_map(fill)
                    )
                    thread.append((moment, sender, body, False))
                    sender = "agent" if sender == "client" else "client"

            last_time, last_sender = thread[-1][0], thread[-1][1]
            updated = max(last_time, closed or resolved or 0)
            unread = "t" if status in open_statuses and last_sender == "client" else "f"
            tickets.append(
                f"{ticket_id}\t{number}\t{subject}\t{status}\t{priority}\t{channel}\t{client_id}\t"
                f"{assignee if assignee else NULL}\t{ts(first_due)}\t{ts(resolution_due)}\t"
                f"{ts(responded) if responded else NULL}\t{sla}\t{unread}\t{ts(created)}\t"
                f"{ts(updated)}\t{ts(resolved) if resolved else NULL}\t"
                f"{ts(closed) if closed else NULL}\n"
            )
            email = channel == "email"
            previous_id = NULL
            for seq, (moment, sender, body, internal) in enumerate(thread):
                author = assignee if sender == "agent" and assignee else NULL
                message_id = (
                    f"<{ticket_id}.{seq}@mail.{DEMO_DOMAIN}>" if email and not internal else NULL
                )
                messages.append(
                    f"{ticket_id}\t{sender}\t{author}\t{body}\t{NULL}\t"
                    f"{'t' if internal else 'f'}\t{'agent' if internal else channel}\t"
                    f"{message_id}\t{previous_id if message_id != NULL else NULL}\t{ts(moment)}\n"
                )
                if message_id != NULL:
                    previous_id = message_id
        self.messages += len(messages)
        self._messages_at[self.done + len(tickets)] = self.messages
        self.done += len(tickets)
        return tickets, messages

    def messages_upto(self, done: int) -> int:
        """Messages generated with the first `done` tickets (for progress lines)."""
        return self._messages_at.pop(done, self.messages)


_TICKET_COLUMNS = (
    "id, number, subject, status, priority, channel, client_id, assignee_id, "
    "first_response_due_at, resolution_due_at, first_responded_at, sla_state, is_unread, "
    "created_at, updated_at, resolved_at, closed_at"
)
_MESSAGE_COLUMNS = (
    "ticket_id, sender_kind, author_id, body_text, body_html, is_internal, "
    "channel, external_message_id, in_reply_to, created_at"
)
