"""Benchmark of the AI index: embedding speed beside the fastest runtime, indexing throughput,
and what indexing does to the agents' queue (a script, not a test).

    python bench/ai_index.py [--tickets 2000] [--clients 400] [--rounds 5]
                             [--reference-python PATH]

1. Embedding, side by side in one run, interleaved rounds, the same ticket-length texts (the
   chunks the indexer embeds: subject + client messages, agent answers of resolved demo
   tickets), the same thread budget (`CRM_AI_MAX_THREADS`) on every side:
   - the product's path (`LocalMiniLM().embed`, what the indexer calls);
   - references: sentence-transformers on torch for the same model (in this interpreter if it
     has it, or in `--reference-python`, e.g. a throwaway venv with torch and
     sentence-transformers), and a bare onnxruntime session on the same ONNX graph with default
     options. `reference_texts_per_s` is the fastest reference; `ratio` = product / that.
   Best round of each side (timeit's rule: the machine is shared, slower rounds measure
   other people's work).
2. Indexing: empties the retrieval store and the sentiment table, then runs the `ai_index` job
   (`jobs.ai_index:run`, as the jobs process does: low priority, capped threads) in a separate
   process until it reports no work; `tickets_indexed_per_s` = resolved tickets indexed / time.
3. The queue page through the product's service (`tickets.queue`, built-in views, demo agents):
   p95 idle, then p95 while the indexer process of step 2 runs.

Seeds a throwaway embedded database under `bench/.data/ai_index` (gitignored; `BENCH_DATA_DIR`
moves it) or reuses the one seeded before. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR") or ROOT / "bench" / ".data" / "ai_index")
os.environ["CRM_DATA_DIR"] = str(DATA_DIR)
os.environ.pop("DATABASE_URL", None)  # never a configured server: this database is throwaway
os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
os.environ.setdefault("CRM_SECRET_KEY", "ai-index-bench-throwaway-key-0123456789")

from bench.timing import percentiles_ms  # noqa: E402

# A reference encoder in another interpreter: loads the model, then encodes the texts once per
# line read on stdin and answers with the rate.
REFERENCE_WORKER = textwrap.dedent("""
    import json, os, sys, time
    os.environ["HF_HUB_OFFLINE"] = "1"
    import sentence_transformers, torch
    from sentence_transformers import SentenceTransformer
    model_path, texts_file, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(threads)
    model = SentenceTransformer(model_path, device="cpu")
    texts = json.loads(open(texts_file).read())
    model.encode(texts[:32], batch_size=32)
    print(json.dumps({"ready": f"sentence-transformers {sentence_transformers.__version__} "
                      f"on torch {torch.__version__}"}), flush=True)
    for _ in sys.stdin:
        started = time.perf_counter()
        vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
        rate = len(texts) / (time.perf_counter() - started)
        print(json.dumps({"rate": rate, "first": vectors[0].tolist()}), flush=True)
""")

INDEXER = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    import jobs.ai_index as job
    started, totals = time.monotonic(), {}
    while True:
        result = job.run()
        for key, value in result.items():
            totals[key] = totals.get(key, 0) + value
        if not any(result.values()):
            break
    totals["seconds"] = time.monotonic() - started
    print(json.dumps(totals), flush=True)
""")


def seed_if_needed(tickets: int, clients: int) -> None:
    from crm_app.db import upgrade_to_head
    from crm_app.tools.demo_data import has_demo_data

    upgrade_to_head()
    if has_demo_data():
        print(f"reusing the bench database in {DATA_DIR.name}/", file=sys.stderr)
        return
    print(f"seeding {tickets:,} tickets and {clients:,} clients…", file=sys.stderr)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "crm_app.cli",
            "seed-demo",
            "--tickets",
            str(tickets),
            "--clients",
            str(clients),
        ],
        cwd=ROOT,
        check=True,
        env={**os.environ},
    )


def ticket_texts(count: int) -> list[str]:
    """The chunks the indexer embeds, from resolved demo tickets."""
    from sqlalchemy import select

    from crm_app.ai.retrieval import resolved_ticket_document
    from crm_app.db import session_scope
    from models.ticket import Ticket, TicketStatus

    texts: list[str] = []
    with session_scope() as session:
        for ticket in session.execute(
            select(Ticket)
            .where(Ticket.status.in_([TicketStatus.RESOLVED, TicketStatus.CLOSED]))
            .order_by(Ticket.id)
            .limit(count)
        ).scalars():
            doc = resolved_ticket_document(session, ticket)
            if doc is not None:
                texts.extend(doc.chunk_texts())
    return texts[:count]


class _Side:
    def __init__(self, name: str, run) -> None:
        self.name, self.run, self.best = name, run, 0.0


def bare_onnxruntime(threads: int):
    """The same graph in a plain onnxruntime session with its default options."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from crm_app.ai.minilm import MAX_TOKENS, model_dir
    from crm_app.ai.minilm_onnx import build_model

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(
        build_model().SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding()

    def encode(texts: list[str]) -> None:
        ordered = sorted(texts, key=len)
        for start in range(0, len(ordered), 32):
            batch = tokenizer.encode_batch(ordered[start : start + 32])
            ids = np.array([e.ids for e in batch], dtype=np.int64)
            mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
            session.run(None, {"input_ids": ids, "attention_mask": mask})

    return encode


def reference_process(python: str, texts: list[str], threads: int):
    from crm_app.ai.minilm import model_dir

    handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)  # noqa: SIM115
    json.dump(texts, handle)
    handle.close()
    process = subprocess.Popen(
        [python, "-c", REFERENCE_WORKER, str(model_dir()), handle.name, str(threads)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    ready = json.loads(process.stdout.readline())["ready"]
    last: dict = {}

    def encode(_texts: list[str]) -> float:
        process.stdin.write("go\n")
        process.stdin.flush()
        last.update(json.loads(process.stdout.readline()))
        return float(last["rate"])

    return ready, encode, process, last


def embedding_rates(
    texts: list[str], rounds: int, reference_python: str | None
) -> dict[str, object]:
    import numpy as np

    from crm_app.ai import runtime
    from crm_app.ai.embeddings import LocalMiniLM, local_encoder

    threads = runtime.max_threads()
    provider = LocalMiniLM()
    local_encoder()
    provider.embed(texts[:32])
    sides = [_Side("product", provider.embed)]
    bare = bare_onnxruntime(threads)
    bare(texts[:32])
    sides.append(_Side("onnxruntime (bare session, default options)", bare))
    process, reference_name, last = None, "", {}
    python = reference_python
    if python is None:
        try:
            import sentence_transformers  # noqa: F401

            python = sys.executable
        except ImportError:
            python = None
    if python:
        reference_name, remote, process, last = reference_process(python, texts, threads)
        sides.append(_Side(reference_name, remote))
    try:
        for round_no in range(rounds):
            order = sides if round_no % 2 == 0 else list(reversed(sides))
            for side in order:
                started = time.perf_counter()
                reported = side.run(texts)
                rate = (
                    reported
                    if isinstance(reported, float)
                    else len(texts) / (time.perf_counter() - started)
                )
                side.best = max(side.best, rate)
    finally:
        if process is not None:
            process.stdin.close()
            process.wait(timeout=30)
    agreement = None
    if last.get("first"):
        mine = provider.embed(texts[:1])[0]
        agreement = round(float(np.dot(mine, np.asarray(last["first"], dtype=np.float32))), 6)
    for side in sides:
        print(
            f"embedding {side.name}: {side.best:.1f} texts/s ({threads} thread(s))", file=sys.stderr
        )
    product, references = sides[0], sides[1:]
    fastest = max(references, key=lambda s: s.best)
    return {
        "texts_per_s": round(product.best, 1),
        "reference_texts_per_s": round(fastest.best, 1),
        "reference": fastest.name,
        "ratio": round(product.best / fastest.best, 3),
        "threads": threads,
        "texts": len(texts),
        "cosine_vs_sentence_transformers": agreement,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=400)
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--queue-runs", type=int, default=200)
    parser.add_argument(
        "--reference-python", help="an interpreter with torch and sentence-transformers"
    )
    args = parser.parse_args()

    seed_if_needed(args.tickets, args.clients)
    results: dict[str, object] = embedding_rates(
        ticket_texts(args.texts), args.rounds, args.reference_python
    )

    from sqlalchemy import text

    from crm_app.auth.permissions import Actor
    from crm_app.db import get_engine
    from crm_app.services import tickets
    from crm_app.services.tickets import BUILTIN_VIEWS
    from crm_app.tools.demo_data import DEMO_DOMAIN

    with get_engine().begin() as conn:
        agents = conn.execute(
            text(
                "SELECT id, name, email FROM user_account WHERE role = "
                "'agent' AND email LIKE :d ORDER BY id"
            ),
            {"d": f"%@{DEMO_DOMAIN}"},
        ).all()
        resolved = conn.execute(
            text("SELECT count(*) FROM ticket WHERE status IN ('resolved', 'closed')")
        ).scalar_one()
        conn.execute(text("TRUNCATE retrieval_document, message_sentiment CASCADE"))
    actors = [Actor(user_id=a.id, role="agent", name=a.name, email=a.email) for a in agents]
    views = [f for _, f in BUILTIN_VIEWS.values()]

    def queue_call(i: int) -> float:
        started = time.perf_counter()
        tickets.queue(actors[i % len(actors)], views[i % len(views)])
        return time.perf_counter() - started

    for i in range(len(views) * 2):
        queue_call(i)
    idle = [queue_call(i) for i in range(args.queue_runs)]

    # Its own session, as a jobs process started by a service manager has.
    indexer = subprocess.Popen(
        [sys.executable, "-c", INDEXER, str(ROOT)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
        start_new_session=True,
    )
    time.sleep(3)  # past the model load, into the indexing itself
    busy: list[float] = []
    i = 0
    while indexer.poll() is None:
        busy.append(queue_call(i))
        i += 1
        time.sleep(0.05)  # an agent's pace, not a flood
    output = indexer.stdout.read().strip().splitlines()
    totals = json.loads(output[-1]) if indexer.returncode == 0 and output else {}
    _, idle_p95 = percentiles_ms(idle)
    _, busy_p95 = percentiles_ms(busy) if busy else (0.0, 0.0)
    seconds = float(totals.get("seconds", 0.0)) or 1e-9
    results.update(
        {
            "resolved_tickets": resolved,
            "tickets_indexed": totals.get("tickets_indexed", 0),
            "messages_scored": totals.get("messages_scored", 0),
            "index_seconds": round(seconds, 1),
            "tickets_indexed_per_s": round(totals.get("tickets_indexed", 0) / seconds, 2),
            "queue_p95_ms_idle": idle_p95,
            "queue_p95_ms_while_indexing": busy_p95,
            "queue_samples_while_indexing": len(busy),
            "queue_p95_ratio": round(busy_p95 / idle_p95, 2) if idle_p95 else None,
        }
    )
    print(
        f"indexed {results['tickets_indexed']} of {resolved} resolved tickets in "
        f"{seconds:.1f}s; queue p95 idle {idle_p95} ms, while indexing {busy_p95} ms",
        file=sys.stderr,
    )
    print(json.dumps(results))
    return 0 if indexer.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
