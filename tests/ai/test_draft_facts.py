"""A draft never carries another client's facts: the scrubbing rules, one greeting and one
sign-off, no attachment claims, and no answer to a question the source did not answer."""

from __future__ import annotations

import pytest

from crm_app.ai import compliance, drafting, facts, llm, retrieval, suggestions
from crm_app.services import tickets
from tests.factories import make_client, make_user


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in facts.find(text)]


@pytest.mark.parametrize(
    "amount",
    [
        "259,000 SGD",
        "SGD 259,000",
        "€1.250,00",
        "1 250 000 CHF",
        "CHF 4'812.50",
        "£12.5k",
        "USD 1.2m",
        "$3,000",
        "25.000 EUR",
        "AED 85,000",
        "1,5 Mio. EUR",
        "3 million dollars",
        "¥150,000",
        "EUR 18,250.75",
        "S$40,000",
        "2,000 euros",
    ],
)
def test_amounts_in_any_format_and_currency_are_found(amount: str) -> None:
    assert kinds(f"The payment of {amount} was made.") == [("amount", amount)]


@pytest.mark.parametrize(
    "iban",
    [
        "DE89 3704 0044 0532 0130 00",
        "GB29NWBK60161331926819",
        "FR76 3000 6000 0112 3456 7890 189",
        "CH93 0076 2011 6238 5295 7",
    ],
)
def test_ibans_are_found_with_or_without_spaces(iban: str) -> None:
    assert kinds(f"Paid to {iban} today.")[0] == ("iban", iban)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("reference WD-00012404 applies", "reference", "WD-00012404"),
        ("case TRF-2025-00981 opened", "reference", "TRF-2025-00981"),
        ("I have closed ticket #48213", "reference", "#48213"),
        ("review of order 884120 started", "reference", "884120"),
        ("the dial-in PIN 9921 works", "reference", "9921"),
        ("for account 55-210987-3 only", "account", "55-210987-3"),
        ("your depot 0233-456789.01 at UBS", "account", "0233-456789.01"),
        ("the card ending 4471 was used", "account", "4471"),
        ("account 55779911 is debited", "account", "55779911"),
        ("passport X1234567 received", "account", "X1234567"),
        ("call +41 44 555 01 00 now", "phone", "+41 44 555 01 00"),
        ("write to mei.tan@example.com", "email", "mei.tan@example.com"),
        ("we moved you to 14 Rue de Rivoli on file", "address", "14 Rue de Rivoli"),
        ("delivered to 22 Baker Street today", "address", "22 Baker Street"),
    ],
)
def test_references_accounts_and_contact_details_are_found(
    text: str, kind: str, value: str
) -> None:
    assert (kind, value) in kinds(text)


@pytest.mark.parametrize(
    "date",
    [
        "14 March 2025",
        "March 14, 2025",
        "1st August 2025",
        "12/06/2025",
        "01.07.2024",
        "2025-03-14",
        "30 September",
        "Tuesday 8 April",
        "3 février 2025",
        "22 Jan 2025",
    ],
)
def test_dates_in_any_common_format_are_found(date: str) -> None:
    assert kinds(f"It settled on {date} as planned.") == [("date", date)]


def test_firm_facts_stay_and_a_bare_year_is_not_an_account() -> None:
    text = (
        "Transfers take two to four weeks; ongoing charges range from 0.35% to 0.60% a "
        "year. The 2024 statement is in the portal."
    )
    assert facts.find(text) == []
    assert ("figure", "68%") in kinds("Your equity allocation is currently 68%.")


def test_names_come_from_greeting_signature_titles_and_roles() -> None:
    answer = (
        "Dear Mei,\nYour adviser Kwame Mensah will call. Dr. Elena Petrova agrees; the "
        "plan is in favour of Tariq Khan.\nKind regards,\nJames Carter\nClient Services"
    )
    assert facts.names_in(answer) >= {
        "Mei",
        "Kwame Mensah",
        "Elena Petrova",
        "Tariq Khan",
        "James Carter",
    }
    letter = facts.letter_parts(answer)
    assert letter.greeting == "Dear Mei,"
    assert letter.sign_off.startswith("Kind regards,") and "James Carter" in letter.sign_off
    assert "James" not in letter.body


def test_other_clients_amount_becomes_this_clients_and_the_rest_blanks() -> None:
    body = (
        "The withdrawal of 259,000 SGD has been submitted under reference WD-00012404 "
        "and should settle on 14 March 2025, Mei."
    )
    out = facts.scrub(
        body,
        source_question="Please pay out 259,000 SGD to my DBS account.",
        own_text="I would like to withdraw 411,000 EUR.",
        source_clients={"Mei"},
        client_first_name="Ada",
    )
    assert out == (
        "The withdrawal of 411,000 EUR has been submitted under reference "
        "[reference] and should settle on [date], Ada."
    )


def test_an_amount_the_other_client_did_not_ask_about_is_left_blank() -> None:
    out = facts.scrub(
        "A performance fee of CHF 4,812.50 was charged.",
        source_question="Why is my fee higher?",
        own_text="I want 10,000 EUR.",
    )
    assert out == "A performance fee of [amount] was charged."


def test_attachment_claims_are_removed_clause_by_clause() -> None:
    text = (
        "We will need the death certificate and the grant of probate; I have attached a "
        "checklist. Please sign the attached transfer authority. I have attached the "
        "calculation. Please find enclosed our terms."
    )
    out = facts.drop_attachment_claims(text)
    assert out == (
        "We will need the death certificate and the grant of probate. Please sign "
        "the transfer authority."
    )
    assert not facts.claims_attachment(out)


def _embed(texts: list[str]):
    from crm_app.ai.embeddings import LocalMiniLM

    return LocalMiniLM().embed(texts)


WITHDRAWAL = drafting.Source(
    question="Please pay out 259,000 SGD from my portfolio. When will it arrive?",
    answer=(
        "Dear Mei,\nThank you for your request. The withdrawal of 259,000 SGD has been "
        "submitted under reference WD-00012404 and should settle within two business "
        "days. I have attached a checklist.\nKind regards,\nJames Carter\n\nBest,\nJames"
    ),
    participants=("Mei Tan",),
)


def test_draft_has_one_greeting_one_sign_off_by_this_agent_and_this_clients_amount() -> None:
    draft = drafting.draft_from_source(
        "Hello, I would like to withdraw 411,000 EUR. When will the money be there?",
        WITHDRAWAL,
        client_name="Ada Lovelace",
        agent_name="Sam Rivera",
        own_text="I would like to withdraw 411,000 EUR.",
        embed=_embed,
    )
    assert draft.answered
    text = draft.text
    assert text.startswith("Dear Ada,\n") and text.endswith("Kind regards,\nSam Rivera")
    assert "411,000 EUR" in text and "[reference]" in text
    for foreign in ("259,000", "SGD", "WD-00012404", "Mei", "James", "attach", "Best,"):
        assert foreign not in text
    assert text.count("Dear") == 1 and text.count("regards") == 1


def test_source_answering_another_question_gives_a_holding_reply_not_its_answer() -> None:
    documents = drafting.Source(
        question="Which documents do you accept as proof of address? I moved recently.",
        answer="Dear Hannah,\nWe accept a utility bill or bank statement.\nBest,\nTomas",
    )
    draft = drafting.draft_from_source(
        "Is the review complete? I need to place a trade this week.",
        documents,
        client_name="Ada Lovelace",
        agent_name="Sam Rivera",
        own_text="",
        embed=_embed,
    )
    assert not draft.answered
    assert "utility bill" not in draft.text and drafting.HOLDING_LINE in draft.text
    flags = drafting.grounding_flags(
        draft.text, sources=[documents], own_text="", answered=draft.answered
    )
    assert "no_matching_answer" in {f.kind for f in flags}


def test_post_check_removes_foreign_facts_from_a_generated_draft() -> None:
    generated = (
        "Dear Ada,\n\nDear Mei,\nThe withdrawal of 259,000 SGD (WD-00012404) is on "
        "its way; I have attached the confirmation [1].\n\nKind regards,\nJames Carter"
    )
    out = drafting.finish_generated(
        generated,
        client_name="Ada Lovelace",
        agent_name="Sam Rivera",
        sources=[WITHDRAWAL],
        own_text="withdraw 411,000 EUR",
        topic_text="withdraw",
    )
    assert out.startswith("Dear Ada,\n") and out.endswith("Kind regards,\nSam Rivera")
    for foreign in ("259,000", "WD-00012404", "Mei", "James", "attach"):
        assert foreign not in out
    assert (
        compliance.check_grounding(
            out, sources=[WITHDRAWAL.answer], own_text="withdraw 411,000 EUR"
        )
        == []
    )


def test_grounding_check_flags_leftover_foreign_facts() -> None:
    flags = compliance.check_grounding(
        "Your 259,000 SGD left under WD-00012404. Please find attached the note.\nKind regards,"
        "\nSam\nBest,\nSam",
        sources=[WITHDRAWAL.answer],
        own_text="411,000 EUR",
    )
    found = {f.kind for f in flags}
    assert {"foreign_fact", "attachment_claim", "several_sign_offs"} <= found


# --- through the product's suggestion service -------------------------------------------------


@pytest.fixture
def withdrawal_setting(db):
    agent = make_user("agent", name="Sam Rivera")
    mei = make_client(agent, "Mei Tan")
    old = tickets.create_ticket(
        agent,
        client_id=mei,
        subject="Withdrawal request",
        body="Please withdraw 259,000 SGD to my bank. When will it arrive?",
    )
    tickets.add_message(agent, old.number, WITHDRAWAL.answer)
    tickets.update_ticket(agent, old.number, expected_version=None, status="resolved")
    retrieval.index_resolved_tickets()
    ada_user = make_user("client")
    ada = make_client(agent, "Ada Lovelace", portal_user=ada_user)
    number = tickets.create_ticket(
        agent, client_id=ada, subject="Withdrawal", body="Opened for the client."
    ).number
    tickets.add_message(
        ada_user,
        number,
        "Hello, I would like to withdraw 411,000 EUR to my "
        "usual bank account. When will the money arrive?",
    )
    return agent, number


def test_retrieval_only_suggestion_carries_no_other_clients_facts(withdrawal_setting):
    agent, number = withdrawal_setting
    view = suggestions.generate_suggestion(
        agent, suggestions.request_suggestion(agent, number).id, config=llm.LlmConfig()
    )
    assert "411,000 EUR" in view.draft and "two business days" in view.draft
    for foreign in ("259,000", "SGD", "WD-00012404", "Mei", "James Carter", "attach"):
        assert foreign not in view.draft
    assert view.draft.rstrip().endswith("Kind regards,\nSam Rivera")
    assert "blanks_to_fill" in {f["kind"] for f in view.flags}


def test_llm_suggestion_is_post_checked_for_foreign_facts(withdrawal_setting, fake_openai):
    agent, number = withdrawal_setting
    fake_openai.reply = (
        "Dear Ada,\n\nYour withdrawal of 259,000 SGD is under reference "
        "WD-00012404 [1]. I have attached a checklist.\n\nBest,\nJames Carter"
    )
    view = suggestions.generate_suggestion(
        agent, suggestions.request_suggestion(agent, number).id, config=fake_openai.config()
    )
    assert view.mode == "llm"
    prompt = fake_openai.requests[-1]["body"]["messages"][0]["content"]
    assert "never copy their amounts" in prompt and "attached" in prompt
    for foreign in ("259,000", "WD-00012404", "James Carter", "attach"):
        assert foreign not in view.draft
    assert view.draft.rstrip().endswith("Kind regards,\nSam Rivera")
