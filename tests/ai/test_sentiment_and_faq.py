"""Sentiment of client messages (stored by the indexing job, better than VADER on financial
text) and FAQ topics found without being told how many."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

from crm_app.ai import faq_clusters, sentiment
from crm_app.ai.embeddings import LocalMiniLM
from crm_app.services import tickets
from crm_app.services.errors import InvalidInput, PermissionDenied
from jobs import ai_index
from models.base import utcnow
from tests.factories import make_client, make_user

FINANCIAL = [
    ("Net sales fell to EUR 80.2 mn from EUR 95.1 mn.", "negative"),
    ("Operating profit increased to EUR 5.3 mn from EUR 3.9 mn.", "positive"),
    ("The company will cut 200 jobs in Finland.", "negative"),
    ("The contract includes maintenance and support services.", "neutral"),
    ("The agreement will be signed in Helsinki next week.", "neutral"),
    ("Order intake grew by 24% in the third quarter.", "positive"),
    ("Shares in the company dropped 7% on Friday.", "negative"),
    ("The company expects its net sales to increase in 2026.", "positive"),
]


def test_offline_sentiment_reads_financial_direction_where_vader_does_not() -> None:
    texts = [t for t, _ in FINANCIAL]
    ours = [s.label for s in sentiment.classify_offline(texts)]
    vader = sentiment.vader_labels(texts)
    gold = [label for _, label in FINANCIAL]
    ours_right = sum(a == b for a, b in zip(ours, gold, strict=True))
    vader_right = sum(a == b for a, b in zip(vader, gold, strict=True))
    assert ours_right >= 7 and ours_right > vader_right + 2


def test_shipped_sentiment_model_matches_its_training_data() -> None:
    shipped = json.loads(sentiment.MODEL_FILE.read_text())
    assert shipped["train_sha256"] == hashlib.sha256(sentiment.TRAIN_FILE.read_bytes()).hexdigest()


def test_indexing_job_scores_each_client_message_once(db: str) -> None:
    agent, client_user = make_user("agent"), make_user("client")
    client = make_client(agent, portal_user=client_user)
    number = tickets.create_ticket(
        agent, client_id=client, subject="Fees", body="Opened for the client."
    ).number
    tickets.add_message(client_user, number, "Thank you so much, the refund arrived. Great help!")
    tickets.add_message(client_user, number, "I'm furious, you charged the fee again!")
    first = ai_index.run()
    assert first["messages_scored"] == 2
    assert ai_index.run()["messages_scored"] == 0
    detail = tickets.get_ticket(agent, number)
    ids = [m.id for m in detail.messages if m.sender_kind == "client"]
    stored = sentiment.sentiment_for_messages(agent, ids)
    assert [stored[i].label for i in ids] == ["positive", "negative"]
    assert stored[ids[1]].score < 0 < stored[ids[0]].score
    with pytest.raises(PermissionDenied):
        sentiment.sentiment_for_messages(client_user, ids)


def test_faq_topics_group_questions_without_being_told_how_many(db: str) -> None:
    agent, client_user = make_user("agent"), make_user("client")
    client = make_client(agent, portal_user=client_user)
    questions = {
        "password": [
            "I forgot my portal password, how do I reset it?",
            "How can I reset my password for the client portal?",
            "My portal password no longer works, please help me reset it.",
        ],
        "tax": [
            "When will my 1099 tax form be available?",
            "Where can I download my 1099 tax form?",
            "I still have not received my 1099 tax form.",
        ],
    }
    numbers: dict[str, list[int]] = {}
    for topic, texts in questions.items():
        for text in texts:
            number = tickets.create_ticket(
                agent, client_id=client, subject="Question", body="Opened for the client."
            ).number
            tickets.add_message(client_user, number, text)
            numbers.setdefault(topic, []).append(number)
    now = utcnow()
    topics = faq_clusters.faq_topics(agent, now - timedelta(days=1), now + timedelta(minutes=1))
    assert sorted(sorted(t.ticket_numbers) for t in topics) == sorted(
        sorted(n) for n in numbers.values()
    )
    every_question = [q for texts in questions.values() for q in texts]
    assert all(t.size == 3 and t.representative in every_question for t in topics)
    with pytest.raises(InvalidInput):
        faq_clusters.faq_topics(agent, now, now - timedelta(days=1))
    with pytest.raises(PermissionDenied):
        faq_clusters.faq_topics(client_user, now - timedelta(days=1), now)


def test_faq_clustering_keeps_paraphrases_and_typos_together_and_topics_apart() -> None:
    from sklearn.metrics import adjusted_rand_score

    questions = {
        "rmd": [
            "When do I have to take my required minimum distribution?",
            "rmd amount for this year?",
            "How is my RMD calcualted?",
            "I turned 73, do I need to start withdrawals from my IRA?",
        ],
        "overdraft": [
            "Why was I charged an overdraft fee?",
            "Can you refund the overdarft charge from yesterday?",
            "How do I turn off overdraft coverage?",
            "I went negative by $3 and got a $35 fee, that's outrageous.",
        ],
        "2fa": [
            "How do I turn on two-factor authentication?",
            "2fa code not working",
            "The text message verification code never arrives.",
            "I got a new phone and my authenticator app codes don't work.",
        ],
    }
    texts = [q for qs in questions.values() for q in qs]
    gold = [topic for topic, qs in questions.items() for _ in qs]
    labels, _ = faq_clusters.cluster_texts(texts)
    assert 3 <= len(set(labels.tolist())) <= 6  # found, not given; never one bucket
    assert adjusted_rand_score(gold, labels) >= 0.5
    # No cluster mixes two topics.
    for label in set(labels.tolist()):
        assert len({g for g, lab in zip(gold, labels, strict=True) if lab == label}) == 1


def test_faq_clustering_does_not_bucket_questions_by_their_language() -> None:
    # The offline encoder is English-only: before the per-language centring, the German and the
    # Spanish questions each made one topic, whatever they asked.
    english = {
        "wire": [
            "How do I send an international wire transfer?",
            "What is the SWIFT code for wires to my account?",
            "My wire transfer to London has not arrived yet.",
            "Can I cancel a wire I sent this morning?",
        ],
        "statement": [
            "Where can I download my monthly statement?",
            "Please send me my account statements for last year.",
            "My March statement is missing from the portal.",
            "How do I get a PDF copy of my statement?",
        ],
        "card": [
            "My debit card was declined at the shop.",
            "I lost my credit card, please block it.",
            "When will my replacement card arrive?",
            "My card stopped working abroad.",
        ],
    }
    other = [
        ("Wie sende ich eine Auslandsüberweisung?", "wire"),
        ("Wo finde ich meinen Kontoauszug?", "statement"),
        ("Meine Karte wurde im Geschäft abgelehnt.", "card"),
        ("¿Dónde puedo descargar mi extracto mensual?", "statement"),
        ("Mi tarjeta fue rechazada en la tienda.", "card"),
        ("¿Cómo envío una transferencia internacional?", "wire"),
    ]
    texts = [q for qs in english.values() for q in qs] + [q for q, _ in other]
    gold = [topic for topic, qs in english.items() for _ in qs] + [topic for _, topic in other]
    labels = faq_clusters.cluster_labels(LocalMiniLM().embed(texts), texts)
    for label in set(labels.tolist()):
        assert len({g for g, lab in zip(gold, labels, strict=True) if lab == label}) == 1
    for topic in english:  # each English topic still has one cluster holding most of it
        ids = [lab for g, lab in zip(gold[:12], labels[:12], strict=True) if g == topic]
        assert max(ids.count(i) for i in ids) >= 3


def test_language_detection_falls_back_to_the_window_main_language() -> None:
    from crm_app.ai import languages

    found = languages.detect(
        [
            "Meine neue Karte ist noch nicht angekommen.",
            "Ich möchte mein Konto kündigen, bitte.",
            "",
            "¿Por qué me cobraron una comisión?",
            "Je souhaite fermer mon compte.",
        ]
    )
    assert found == ["de", "de", "de", "es", "fr"]
    assert languages.detect(["", "  "]) == ["en", "en"]


def test_centred_gram_matches_centring_the_vectors_themselves() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(9, 6))
    groups = np.array([0, 0, 0, 0, 0, 1, 1, 2, 0])
    sizes = np.bincount(groups)
    centred = vectors.copy()
    for g in (1, 2):  # the main language (0) is left as it is
        rows = groups == g
        centred[rows] -= (
            sizes[g] / (sizes[g] + faq_clusters.LANGUAGE_SHRINK) * vectors[rows].mean(0)
        )
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    got = faq_clusters._centred_gram(vectors @ vectors.T, groups)
    assert np.allclose(got, centred @ centred.T)


def test_queue_can_filter_tickets_by_the_latest_client_sentiment(db: str) -> None:
    from sqlalchemy import select

    from crm_app.db import session_scope
    from models.ticket import Ticket

    agent, client_user = make_user("agent"), make_user("client")
    client = make_client(agent, portal_user=client_user)
    calmed = tickets.create_ticket(
        agent, client_id=client, subject="Fee", body="Opened for the client."
    ).number
    tickets.add_message(client_user, calmed, "I'm furious, you charged the fee twice!")
    tickets.add_message(client_user, calmed, "Thank you so much, the refund arrived. Great!")
    angry = tickets.create_ticket(
        agent, client_id=client, subject="Card", body="Opened for the client."
    ).number
    tickets.add_message(client_user, angry, "This is unacceptable, my card was declined again!")
    ai_index.run()
    latest = sentiment.latest_ticket_sentiment()
    with session_scope() as session:
        negative = (
            session.execute(
                select(Ticket.number)
                .join(latest, latest.c.ticket_id == Ticket.id)
                .where(latest.c.label == "negative")
            )
            .scalars()
            .all()
        )
    assert negative == [angry]  # the calmed-down client's ticket is no longer negative


def test_a_question_is_clustered_by_its_content_words_more_than_its_frame() -> None:
    import numpy as np

    from crm_app.ai.embeddings import LocalMultilingual, split_halves

    assert faq_clusters.content_words("Could you please tell me how I can close my account?") == (
        "close account"
    )
    assert faq_clusters.content_words("I still have not received my card") == "not received card"
    assert faq_clusters.content_words("How do I?") == "How do I?"  # nothing left: kept whole
    provider = LocalMultilingual()
    texts = ["Could you please tell me how I can close my account?", "Kontoauszug bitte"]
    vectors = provider.embed(texts)
    clustered = faq_clusters.question_vectors(texts, vectors, provider)
    assert np.allclose(np.linalg.norm(clustered, axis=1), 1.0, atol=1e-5)
    content = LocalMiniLM().embed(["close account"])[0]
    before, after = (split_halves(v)[0][0] @ content for v in (vectors, clustered))  # type: ignore[index]
    assert after > before + 0.01
    assert np.array_equal(clustered[1], vectors[1])  # no English frame: unchanged
    assert np.array_equal(clustered[:, 384:], vectors[:, 384:])  # the USE half as it was
