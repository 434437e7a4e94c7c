"""Quality of the AI core on labelled CSV files (`text,label`), through the product's own code:

    python bench/ai_eval.py --train bench/data/support_train.csv \
        --test bench/data/support_test.csv --sentiment bench/data/sentiment_dev.csv

Loads the train texts into the retrieval store as resolved tickets (label = topic), queries the
same hybrid search with each test text (hit@1, hit@5), clusters the test texts with the FAQ
clustering service (NMI, ARI, clusters found), scores sentiment against the majority baseline
and VADER, and measures embedding throughput beside the bare model. Runs on a throwaway
embedded PostgreSQL unless DATABASE_URL is set. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _read(path: str) -> tuple[list[str], list[str]]:
    with Path(path).open(newline="") as handle:
        rows = [(r["text"].strip(), r["label"].strip()) for r in csv.DictReader(handle)]
    rows = [(t, lab) for t, lab in rows if t]
    return [t for t, _ in rows], [lab for _, lab in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--sentiment")
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL"):
        os.environ["CRM_DATA_DIR"] = tempfile.mkdtemp(prefix="crm-ai-eval-")
    os.environ.setdefault("CRM_SECRET_KEY", "ai-eval-throwaway-key-0123456789abcdef")

    from sklearn.metrics import (
        accuracy_score,
        adjusted_rand_score,
        f1_score,
        normalized_mutual_info_score,
    )

    from crm_app.ai import faq_clusters, retrieval, sentiment
    from crm_app.ai.embeddings import LocalMiniLM
    from crm_app.ai.minilm import get_encoder
    from crm_app.ai.retrieval import DocumentInput
    from crm_app.auth.permissions import SYSTEM
    from crm_app.db import get_engine, upgrade_to_head
    from models.retrieval import Audience, SourceKind

    upgrade_to_head()
    train_texts, train_labels = _read(args.train)
    test_texts, test_labels = _read(args.test)
    provider = LocalMiniLM()
    get_encoder()  # load once, outside the timings

    # Throughput: the bare model, then the product's provider, on the same texts.
    sample = (train_texts + test_texts)[:160]
    # Interleaved rounds, best of each: the machine is shared, so single timings are noisy.
    bare_rate = product_rate = 0.0
    for _ in range(3):
        started = time.perf_counter()
        get_encoder().encode(sample)
        bare_rate = max(bare_rate, len(sample) / (time.perf_counter() - started))
        started = time.perf_counter()
        provider.embed(sample)
        product_rate = max(product_rate, len(sample) / (time.perf_counter() - started))
    print(f"embedding: bare model {bare_rate:.1f} texts/s, product {product_rate:.1f} texts/s "
          f"({product_rate / bare_rate:.2f}x)")

    from sqlalchemy import text

    with get_engine().begin() as conn:
        conn.execute(text("TRUNCATE retrieval_document CASCADE"))
    started = time.perf_counter()
    for start in range(0, len(train_texts), 256):
        retrieval.upsert_documents(SYSTEM, [
            DocumentInput(source_kind=SourceKind.RESOLVED_TICKET, source_ref=f"eval-{i}",
                          title="", question=t, answer="", label=lab, audience=Audience.STAFF,
                          chunks=[t])
            for i, (t, lab) in enumerate(zip(train_texts[start:start + 256],
                                             train_labels[start:start + 256], strict=True),
                                         start=start)
        ], provider)
    print(f"indexed {len(train_texts)} train texts in {time.perf_counter() - started:.1f}s")

    query_vectors = provider.embed(test_texts)
    hit1 = hit5 = 0
    started = time.perf_counter()
    for query, label, vector in zip(test_texts, test_labels, query_vectors, strict=True):
        hits = retrieval.search(SYSTEM, query, k=5, provider=provider, query_vector=vector)
        labels = [h.label for h in hits]
        hit1 += bool(labels[:1] == [label])
        hit5 += label in labels
    per_query_ms = 1000 * (time.perf_counter() - started) / max(1, len(test_texts))
    print(f"retrieval: hit@1 {hit1 / len(test_texts):.3f} hit@5 {hit5 / len(test_texts):.3f} "
          f"({per_query_ms:.1f} ms/query)")

    clusters = faq_clusters.cluster_labels(query_vectors)
    nmi = normalized_mutual_info_score(test_labels, clusters)
    ari = adjusted_rand_score(test_labels, clusters)
    print(f"clustering: {len(set(clusters.tolist()))} clusters for {len(set(test_labels))} "
          f"labels, NMI {nmi:.3f}, ARI {ari:.3f}")

    result = {"hit_at_1": round(hit1 / len(test_texts), 4),
              "hit_at_5": round(hit5 / len(test_texts), 4), "nmi": round(nmi, 4),
              "ari": round(ari, 4), "clusters": len(set(clusters.tolist())),
              "sentiment_accuracy": None, "sentiment_macro_f1": None, "majority_baseline": None,
              "embed_texts_per_s": round(product_rate, 1)}
    if args.sentiment:
        texts, gold = _read(args.sentiment)
        predicted = [s.label for s in sentiment.classify_offline(texts)]
        vader = sentiment.vader_labels(texts)
        majority = Counter(gold).most_common(1)[0][1] / len(gold)
        result.update(sentiment_accuracy=round(accuracy_score(gold, predicted), 4),
                      sentiment_macro_f1=round(f1_score(gold, predicted, average="macro"), 4),
                      majority_baseline=round(majority, 4))
        print(f"sentiment: accuracy {result['sentiment_accuracy']}, macro-F1 "
              f"{result['sentiment_macro_f1']}; VADER accuracy "
              f"{accuracy_score(gold, vader):.4f}, macro-F1 "
              f"{f1_score(gold, vader, average='macro'):.4f}; majority {majority:.4f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
