"""The offline embedding reads the languages clients write in: MiniLM beside Google's
multilingual USE, an English query leaning on MiniLM and any other on USE."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from crm_app.ai import faq_clusters, retrieval, runtime
from crm_app.ai.embeddings import (
    LocalMiniLM,
    LocalMultilingual,
    embed_query,
    get_provider,
    local_provider,
    split_halves,
)
from crm_app.ai.retrieval import DocumentInput
from crm_app.auth.permissions import SYSTEM
from models.retrieval import SourceKind

ENGLISH_ANSWERED = {
    "wire": "What is the daily limit for outgoing wire transfers?",
    "tax": "When will my 1099 tax form be available?",
    "address": "I moved house, how do I update my postal address?",
    "card": "I lost my debit card, please block it.",
    "close": "I want to close my account and move the money out.",
    "fee": "What fee do you charge for managing my portfolio?",
}
ASKED_ELSEWHERE = {
    "Ich bin umgezogen, wie ändere ich meine Adresse?": "address",
    "J'ai perdu ma carte, pouvez-vous la bloquer ?": "card",
    "¿Cuánto cobran por gestionar mi cartera?": "fee",
    "Ich möchte mein Konto schließen.": "close",
    "Quand mon formulaire fiscal sera-t-il disponible ?": "tax",
}


def _index(questions: dict[str, str], provider) -> None:
    retrieval.upsert_documents(
        SYSTEM,
        [
            DocumentInput(
                source_kind=SourceKind.RESOLVED_TICKET,
                source_ref=ref,
                title=question,
                question=question,
                answer=f"answer about {ref}",
            )
            for ref, question in questions.items()
        ],
        provider,
    )


def _top(query: str, provider) -> str:
    return retrieval.search(SYSTEM, query, k=1, provider=provider)[0].source_ref


def test_a_question_in_german_french_or_spanish_finds_the_english_answer(db: str) -> None:
    provider = LocalMultilingual()
    _index(ENGLISH_ANSWERED, provider)
    found = {query: _top(query, provider) for query in ASKED_ELSEWHERE}
    assert found == ASKED_ELSEWHERE
    # The English model alone misses most of them: that is what the USE half is for.
    english = LocalMiniLM()
    retrieval.reembed_stale(100, english)
    missed = [q for q, ref in ASKED_ELSEWHERE.items() if _top(q, english) != ref]
    assert len(missed) >= 2


def test_a_question_finds_an_answer_written_in_another_foreign_language(db: str) -> None:
    provider = LocalMultilingual()
    _index(
        {
            "address-de": "Ich bin umgezogen und möchte meine Adresse ändern.",
            "card-de": "Meine Karte ist gestohlen worden, bitte sperren.",
            "fee-de": "Welche Gebühren zahle ich für die Vermögensverwaltung?",
        },
        provider,
    )
    assert _top("On m'a volé ma carte, que dois-je faire ?", provider) == "card-de"
    assert _top("He cambiado de domicilio, ¿cómo actualizo mi dirección?", provider) == (
        "address-de"
    )


def test_english_retrieval_ranks_as_the_english_model_does(db: str) -> None:
    queries = {
        "what is the most I can send abroad in a single day": "wire",
        "my card is gone, stop it from being used": "card",
        "what do you charge to look after my investments": "fee",
        "when can I download my tax paperwork": "tax",
    }
    _index(ENGLISH_ANSWERED, LocalMultilingual())
    assert {q: _top(q, LocalMultilingual()) for q in queries} == queries
    retrieval.reembed_stale(100, LocalMiniLM())
    assert {q: _top(q, LocalMiniLM()) for q in queries} == queries
    # The query leans on the English model: its MiniLM half carries 0.95 of the weight.
    vector = embed_query(LocalMultilingual(), ["when can I download my tax paperwork"])[0]
    english_part = float(np.linalg.norm(vector[:384]))
    assert english_part > 0.99 and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_clustering_groups_a_question_with_its_translations() -> None:
    texts = [
        "How do I change my postal address?",
        "I moved, please update my address.",
        "Ich bin umgezogen, bitte ändern Sie meine Adresse.",
        "J'ai déménagé, merci de changer mon adresse.",
        "I lost my card, please block it.",
        "My debit card was stolen, block it please.",
        "Ich habe meine Karte verloren, bitte sperren.",
        "On m'a volé ma carte bancaire, bloquez-la.",
        "What is your fee for managing my portfolio?",
        "How much do you charge for portfolio management?",
        "Welche Gebühren verlangen Sie für die Vermögensverwaltung?",
        "Quels sont vos frais de gestion de portefeuille ?",
    ]
    truth = [0] * 4 + [1] * 4 + [2] * 4
    labels = faq_clusters.cluster_labels(LocalMultilingual().embed(texts), texts)
    groups = {tuple(int(x) for x in np.flatnonzero(labels == lab)) for lab in set(labels)}
    assert groups == {tuple(np.flatnonzero(np.array(truth) == t)) for t in range(3)}


def test_the_setting_switches_the_offline_encoder(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("CRM_AI_LOCAL_EMBEDDINGS", raising=False)
    assert isinstance(get_provider(), LocalMultilingual)
    monkeypatch.setenv("CRM_AI_LOCAL_EMBEDDINGS", "english")
    assert isinstance(get_provider(), LocalMiniLM)
    assert get_provider().name == "local/all-MiniLM-L6-v2"
    monkeypatch.setenv("CRM_AI_LOCAL_EMBEDDINGS", "klingon")
    with caplog.at_level(logging.WARNING):
        assert isinstance(get_provider(), LocalMultilingual)
    assert "CRM_AI_LOCAL_EMBEDDINGS" in caplog.text
    with pytest.raises(ValueError, match="unknown offline encoder"):
        local_provider("klingon")


def test_multilingual_vectors_are_the_two_models_side_by_side() -> None:
    texts = ["Where is my withdrawal?", "Wo bleibt meine Auszahlung?"]
    vectors = LocalMultilingual().embed(texts)
    assert vectors.shape == (2, 896) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    halves = split_halves(vectors)
    assert halves is not None
    assert np.allclose(halves[0], LocalMiniLM().embed(texts), atol=1e-5)
    assert halves[0].shape == (2, 384) and halves[1].shape == (2, 512)
    assert split_halves(LocalMiniLM().embed(texts)) is None
    # The USE half knows the German question is the English one; MiniLM barely does.
    assert float(halves[1][0] @ halves[1][1]) > float(halves[0][0] @ halves[0][1]) + 0.2


def test_search_keeps_working_on_old_english_vectors_while_they_are_reembedded(db: str) -> None:
    _index(ENGLISH_ANSWERED, LocalMiniLM())  # what a store held before the switch
    provider = LocalMultilingual()
    # Not yet re-embedded: the old 384-wide vectors are read by the query's English half.
    assert _top("what is the most I can send abroad in a single day", provider) == "wire"
    assert retrieval.reembed_stale(4, provider) == 4  # the ai_index job, a batch at a time
    assert _top("what is the most I can send abroad in a single day", provider) == "wire"
    assert _top("my card is gone, stop it from being used", provider) == "card"
    assert retrieval.reembed_stale(100, provider) == 2
    assert retrieval.reembed_stale(100, provider) == 0
    assert _top("Ich bin umgezogen, wie ändere ich meine Adresse?", provider) == "address"
    runtime.release_models()
    assert not runtime.models_loaded()
