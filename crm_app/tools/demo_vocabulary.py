"""The demo seeder's vocabulary: names, regions, weights and the ticket topics (subjects and
the messages of a thread) that realistic finance rows are drawn from."""

from __future__ import annotations

import math
from dataclasses import dataclass

from models.ticket import Channel, TicketPriority


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "Olivia Liam Emma Noah Amelia Oliver Sophia Elijah Charlotte James Ava William Isabella "
    "Benjamin Mia Lucas Evelyn Henry Harper Alexander Camila Daniel Gianna Matthew Abigail Samuel "
    "Luna Jack Ella Sebastian Elizabeth Owen Sofia David Emily Joseph Avery Carter Mila Wyatt "
    "Scarlett John Eleanor Julian Madison Levi Layla Isaac Penelope Gabriel Aria Anthony Chloe "
    "Dylan Grace Leo Ellie Lincoln Nora Jaxon Hazel Asher Zoey Christopher Riley Josiah Victoria "
    "Andrew Lily Thomas Aurora Joshua Violet Ezra Nova Hudson Hannah Charles Emilia Caleb Zoe "
    "Isaiah Stella Ryan Everly Nathan Isla Adrian Leah Christian Lillian Maverick Addison Miles "
    "Hiroshi Aisha Mateo Priya Omar Yuki Fatima Lars Ingrid Rafael Chiara Dmitri Anika Kwame "
    "Mei Tariq Elena Sanjay Leila Pablo Sven Amara Kenji Zainab Luca Freya Arjun Noor Tomas"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips "
    "Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers "
    "Bennett Hughes Foster Kim Patel Shah Tanaka Muller Schmidt Rossi Dubois Novak Jensen Larsen "
    "Okafor Haddad Kowalski Fischer Weber Bianchi Moreau Lindqvist Sato Ito Chen Wang Singh Khan "
    "Ahmed Ali Costa Silva Almeida Oliveira Byrne Kelly Walsh Murray Fraser Campbell Reid Wood"
)
CLIENT_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

# region -> currency, phone format (fictional ranges where a country reserves one)
REGIONS: tuple[tuple[str, str, str, float], ...] = (
    ("North America", "USD", "+1 {a:03d} 555 01{b:02d}", 0.32),
    ("United Kingdom", "GBP", "+44 7700 900{c:03d}", 0.16),
    ("European Union", "EUR", "+49 30 {d:07d}", 0.18),
    ("Switzerland", "CHF", "+41 79 {d:07d}", 0.08),
    ("Middle East", "AED", "+971 50 {d:07d}", 0.09),
    ("Asia Pacific", "SGD", "+65 9{d:07d}", 0.11),
    ("Australia", "AUD", "+61 491 570 {c:03d}", 0.06),
)
RISK_CATEGORIES = (("conservative", 0.35), ("moderate", 0.45), ("aggressive", 0.20))
PRIORITIES = (
    (TicketPriority.LOW.value, 0.20),
    (TicketPriority.NORMAL.value, 0.55),
    (TicketPriority.HIGH.value, 0.18),
    (TicketPriority.URGENT.value, 0.07),
)
CHANNELS = (
    (Channel.EMAIL.value, 0.45),
    (Channel.WEB_CHAT.value, 0.15),
    (Channel.WHATSAPP.value, 0.12),
    (Channel.PORTAL.value, 0.15),
    (Channel.PHONE.value, 0.06),
    (Channel.IN_PERSON.value, 0.02),
    (Channel.AGENT.value, 0.05),
)
# (age limit in days, status weights) — old tickets are almost all finished.
STATUS_BY_AGE: tuple[tuple[float, tuple[tuple[str, float], ...]], ...] = (
    (2, (("new", 0.25), ("open", 0.35), ("pending", 0.15), ("resolved", 0.20), ("closed", 0.05))),
    (14, (("new", 0.03), ("open", 0.15), ("pending", 0.12), ("resolved", 0.30), ("closed", 0.40))),
    (math.inf, (("open", 0.002), ("pending", 0.002), ("resolved", 0.03), ("closed", 0.966))),
)


@dataclass(frozen=True)
class Topic:
    subjects: tuple[str, ...]
    client_openings: tuple[str, ...]
    agent_replies: tuple[str, ...]
    client_followups: tuple[str, ...]
    internal_notes: tuple[str, ...]


TOPICS: tuple[Topic, ...] = (
    Topic(
        subjects=(
            "Withdrawal request",
            "Wire transfer not received",
            "Urgent: funds needed",
            "Partial withdrawal from investment account",
        ),
        client_openings=(
            "Hello,\nI would like to withdraw {amount} from my investment account to my usual "
            "bank account. Could you let me know when the funds will arrive?\nThanks,\n{client}",
            "Hi {agent},\nThe transfer I requested last week has not reached my bank yet. Can you "
            "check where it is? The amount was {amount}.\nRegards,\n{client}",
        ),
        agent_replies=(
            "Dear {client},\nThank you for your request. The withdrawal of {amount} has been "
            "submitted and should settle within two business days. You will receive a "
            "confirmation by email.\nKind regards,\n{agent}",
            "Dear {client},\nI checked with our payments team: the transfer left us yesterday "
            "and carries reference WD-{ref}. Please allow one more business day for your bank.\n"
            "Best regards,\n{agent}",
        ),
        client_followups=(
            "Thank you. Could you confirm which account it will be paid into?",
            "I still do not see the funds. Is there anything else you need from me?",
            "Received, thank you for the quick help.",
        ),
        internal_notes=(
            "Checked the source of funds: consistent with the client profile.",
            "Withdrawal above the review threshold: second approval requested from compliance.",
        ),
    ),
    Topic(
        subjects=(
            "KYC document update",
            "Passport expired: new document attached",
            "Proof of address request",
            "Annual KYC review",
        ),
        client_openings=(
            "Hello,\nI received a reminder that my identity documents need updating. I have "
            "uploaded my new passport to the portal. Please confirm it is sufficient.\n{client}",
            "Hi,\nWhich documents do you accept as proof of address? I moved recently.\n{client}",
        ),
        agent_replies=(
            "Dear {client},\nThank you, we received your document and our compliance team will "
            "review it within three business days. No further action is needed for now.\n"
            "Kind regards,\n{agent}",
            "Dear {client},\nWe accept a utility bill or bank statement dated within the last "
            "three months. You can upload it securely through the client portal.\nBest,\n{agent}",
        ),
        client_followups=(
            "I have uploaded the utility bill now.",
            "Is the review complete? I need to place a trade this week.",
            "Great, thanks for confirming.",
        ),
        internal_notes=(
            "Document verified against the registry; KYC refresh date moved forward a year.",
            "Address on the bill does not match the application: asked the client to clarify.",
        ),
    ),
    Topic(
        subjects=(
            "Portfolio rebalancing question",
            "Change risk profile",
            "Asset allocation review",
            "ESG investment options",
            "Bond maturity reinvestment",
        ),
        client_openings=(
            "Dear {agent},\nGiven the recent market moves, should we rebalance my portfolio? My "
            "equity share looks higher than we agreed.\nBest,\n{client}",
            "Hello,\nI would like to move part of my portfolio into sustainable funds. What "
            "options do you offer and what are the fees?\n{client}",
        ),
        agent_replies=(
            "Dear {client},\nYour equity allocation is currently 6 points above target. I "
            "suggest rebalancing back to the agreed mix; I can prepare a proposal for your "
            "approval.\nKind regards,\n{agent}",
            "Dear {client},\nWe offer three ESG strategies matching your risk profile. I have "
            "attached the factsheets; ongoing charges range from 0.35% to 0.60%.\nBest,\n{agent}",
        ),
        client_followups=(
            "Please go ahead with the proposal.",
            "Could we schedule a call to discuss this next week?",
            "What would the tax impact of selling be?",
        ),
        internal_notes=(
            "Suitability check done: proposal within the client's risk category.",
            "Client asked for a call: booked for Thursday 10:00.",
        ),
    ),
    Topic(
        subjects=(
            "Tax statement request",
            "Question about management fees",
            "Account statement discrepancy",
            "Dividend payment missing",
            "Quarterly performance report",
        ),
        client_openings=(
            "Hello,\nMy accountant needs the annual tax statement for my account. Can you send "
            "it, please?\nThanks,\n{client}",
            "Hi,\nThe fee on my latest statement seems higher than last quarter. Can you explain "
            "the difference?\n{client}",
        ),
        agent_replies=(
            "Dear {client},\nThe annual tax statement is now available in the documents section "
            "of the portal. Let me know if your accountant needs anything else.\nBest,\n{agent}",
            "Dear {client},\nThe difference comes from a performance fee on the alternative "
            "fund, as set out in its terms. I have attached the calculation.\nRegards,\n{agent}",
        ),
        client_followups=(
            "Found it, thank you.",
            "That does not match what I was told when I invested. Please check again.",
            "Can you also send the previous year's statement?",
        ),
        internal_notes=(
            "Fee calculation re-checked with operations: correct.",
            "Dividend was booked late by the custodian; correction requested.",
        ),
    ),
    Topic(
        subjects=(
            "Login problem on client portal",
            "Two-factor authentication reset",
            "Update bank account details",
            "Address change",
            "Change of beneficiary",
        ),
        client_openings=(
            "Hello,\nI cannot log in to the portal since I changed my phone. Can you reset my "
            "two-factor authentication?\n{client}",
            "Hi,\nPlease update my registered bank account for payouts. The new details are in "
            "the signed form I uploaded.\n{client}",
        ),
        agent_replies=(
            "Dear {client},\nFor your security I have started the reset; you will receive a "
            "verification call from our team before it completes.\nKind regards,\n{agent}",
            "Dear {client},\nWe received the form. Bank detail changes are confirmed by a call "
            "back to your registered number before they take effect.\nBest,\n{agent}",
        ),
        client_followups=(
            "Thanks, I got the call and can log in again.",
            "I missed your call, please try again this afternoon.",
            "Is the change active now?",
        ),
        internal_notes=(
            "Identity confirmed by call-back on the number on file.",
            "Request came from a new email address: verified before acting.",
        ),
    ),
    Topic(
        subjects=(
            "Transfer of assets from another custodian",
            "Pension contribution",
            "Inheritance and estate process",
            "Power of attorney documents",
            "Request to close account",
            "Complaint about execution price",
        ),
        client_openings=(
            "Dear {agent},\nI would like to transfer my holdings from my previous bank to you. "
            "What do you need from me to start?\n{client}",
            "Hello,\nI am writing regarding the estate of my late father, who held an account "
            "with you. What is the process?\n{client}",
        ),
        agent_replies=(
            "Dear {client},\nPlease sign the attached transfer authority; we handle the rest "
            "with your previous custodian. Transfers usually complete in two to four weeks.\n"
            "Kind regards,\n{agent}",
            "Dear {client},\nI am very sorry for your loss. We will need the death certificate "
            "and the grant of probate; I have attached a checklist.\nWith sympathy,\n{agent}",
        ),
        client_followups=(
            "The signed form is uploaded.",
            "How long will this take in total?",
            "Thank you for your patience with this.",
        ),
        internal_notes=(
            "Escalated to the estates team; case reference opened.",
            "Complaint logged in the complaints register as required.",
        ),
    ),
)
SUBJECTS: tuple[tuple[str, int], ...] = tuple(
    (subject, index) for index, topic in enumerate(TOPICS) for subject in topic.subjects
)
