"""The AI services: embeddings, the retrieval store, sentiment, suggested replies, the
compliance check and FAQ clustering. Nothing here imports Reflex."""
