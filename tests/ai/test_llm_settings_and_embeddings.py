"""The firm's LLM settings (managers only, key never shown), the connection check that says
plainly when the provider is down, and the litellm embedding provider through the fake
OpenAI-compatible server."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from crm_app.ai import llm, retrieval
from crm_app.ai.embeddings import LiteLLMEmbeddings, LocalMultilingual, get_provider
from crm_app.ai.retrieval import DocumentInput
from crm_app.auth.permissions import SYSTEM
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput, PermissionDenied
from models.retrieval import RetrievalChunk, SourceKind
from tests.factories import make_user


def test_settings_screen_never_receives_the_key_and_only_managers_read_it(db, fake_openai):
    manager = make_user("manager")
    llm.update_config(
        manager,
        chat_model="openai/fake-chat",
        api_base=fake_openai.base_url,
        api_key="sk-live-secret-123",
    )
    shown = llm.settings_for(manager)
    assert shown["api_key_set"] is True
    assert "sk-live-secret-123" not in repr(shown)
    for role in ("agent", "marketing", "client", None):
        with pytest.raises(PermissionDenied):
            llm.settings_for(make_user(role))
    # Saving again without a key keeps the stored one; an empty string forgets it.
    llm.update_config(manager, chat_model="openai/other", api_base=fake_openai.base_url)
    assert llm.load_config().api_key == "sk-live-secret-123"
    llm.update_config(manager, chat_model="openai/other", api_key="")
    assert llm.settings_for(manager)["api_key_set"] is False


def test_out_of_range_settings_are_refused_with_a_clear_message(db):
    manager = make_user("manager")
    with pytest.raises(InvalidInput, match="timeout"):
        llm.update_config(manager, timeout_seconds=0)
    with pytest.raises(InvalidInput, match="Retries"):
        llm.update_config(manager, max_retries=50)
    with pytest.raises(InvalidInput, match="Token budgets"):
        llm.update_config(manager, max_output_tokens=1)


def test_connection_check_says_connected_or_provider_down(db, fake_openai):
    manager = make_user("manager")
    ok = llm.check_connection(manager, fake_openai.config())
    assert ok.ok and "Connected" in ok.message and "openai/fake-chat" in ok.message
    assert fake_openai.requests[-1]["body"]["max_tokens"] == 5  # a cheap probe

    fake_openai.down = True
    down = llm.check_connection(manager, fake_openai.config())
    assert not down.ok and down.message.startswith("Provider unreachable")

    nothing = llm.check_connection(manager, llm.LlmConfig())
    assert not nothing.ok and "retrieval-only" in nothing.message
    with pytest.raises(PermissionDenied):
        llm.check_connection(make_user("agent"), fake_openai.config())


def test_litellm_embeddings_are_batched_normalised_and_named_by_model(db, fake_openai):
    provider = LiteLLMEmbeddings(fake_openai.config(embedding_model="openai/fake-embed"))
    texts = [f"question number {i}" for i in range(40)]
    vectors = provider.embed(texts)
    calls = [r for r in fake_openai.requests if r["path"].endswith("/embeddings")]
    assert [len(c["body"]["input"]) for c in calls] == [32, 8]  # batches, not one call a text
    assert all(c["auth"] == "Bearer sk-test-fake" for c in calls)
    assert vectors.shape == (40, 3)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert provider.name == "litellm/openai/fake-embed"

    # Each stored vector records the model that made it.
    retrieval.upsert_documents(
        SYSTEM,
        [
            DocumentInput(
                source_kind=SourceKind.FAQ,
                source_ref="faq-1",
                title="Wire cut-off",
                question="What is the wire cut-off time?",
                answer="2 pm Eastern.",
            )
        ],
        provider,
    )
    with session_scope() as session:
        models = set(session.execute(select(RetrievalChunk.embedding_model)).scalars())
    assert models == {"litellm/openai/fake-embed"}


def test_embedding_provider_outage_raises_unavailable_not_a_crash(fake_openai):
    fake_openai.down = True
    provider = LiteLLMEmbeddings(fake_openai.config(embedding_model="openai/fake-embed"))
    with pytest.raises(llm.LlmUnavailable, match="embedding model did not answer"):
        provider.embed(["hello"])


def test_configured_embedding_model_replaces_the_builtin_one():
    assert isinstance(get_provider(llm.LlmConfig()), LocalMultilingual)
    configured = get_provider(llm.LlmConfig(embedding_model="openai/text-embedding-3-small"))
    assert configured.name == "litellm/openai/text-embedding-3-small"
