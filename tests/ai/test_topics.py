"""A question in another language than the sentence model's is matched by topic and act."""

from __future__ import annotations

from crm_app.ai import drafting, topics
from crm_app.ai.embeddings import LocalMiniLM

WITHDRAWAL = drafting.Source(
    question="Please pay out 259,000 SGD from my portfolio to my DBS account. When will it arrive?",
    answer=(
        "Dear Mei,\nThe withdrawal of 259,000 SGD has been submitted under reference "
        "WD-00012404 and should settle within two business days.\nKind regards,\nJames Carter"
    ),
)


def _draft(question: str, source: drafting.Source) -> drafting.Draft:
    return drafting.draft_from_source(
        question,
        source,
        client_name="Ada Lovelace",
        agent_name="Sam Rivera",
        own_text="",
        embed=LocalMiniLM().embed,
    )


def test_topics_are_found_in_several_languages() -> None:
    assert "withdrawal" in topics.topics("Je souhaite retirer 150 000 EUR de mon compte")
    assert "withdrawal" in topics.topics("Hola, quiero retirar 40.000 USD de mi cuenta")
    assert "address" in topics.topics("Ich bin umgezogen, bitte ändern Sie meine Adresse")
    assert topics.topics("Das Wetter ist heute schön") == set()


def test_english_is_told_from_other_languages() -> None:
    assert topics.looks_english("When will the money be in my account?")
    assert not topics.looks_english("Wann kommt das Geld auf meinem Konto an?")
    assert not topics.looks_english("¿Cuándo llegará el dinero a mi cuenta?")


def test_a_spanish_withdrawal_question_is_answered_from_the_english_withdrawal() -> None:
    draft = _draft(
        "Hola, quiero retirar 40.000 USD de mi cuenta. ¿Cuándo llegará el dinero?", WITHDRAWAL
    )
    assert draft.answered
    assert "259,000" not in draft.text and "WD-00012404" not in draft.text
    assert "Mei" not in draft.text and "James Carter" not in draft.text


def test_another_act_on_the_same_topic_is_not_answered() -> None:
    # "Is the check done?" is not answered by an answer to "which documents do you take?".
    documents = drafting.Source(
        question="Which documents do you accept as proof of address?",
        answer="Dear Tom,\nWe accept a utility bill or a bank statement.\nKind regards,\nAnna",
    )
    draft = _draft("Est-ce que la vérification de mes documents est terminée ?", documents)
    assert not draft.answered
    assert "utility bill" not in draft.text
