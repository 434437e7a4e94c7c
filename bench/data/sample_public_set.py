"""Samples a public intent dataset into the `text,label` files `bench/ai_eval.py` reads, the
same number of texts per intent from each side of the dataset's own split:

    python bench/data/sample_public_set.py --train train.csv --test test.csv \
        --out /somewhere/hwu64 [--per-intent 10] [--seed 7]

writes `/somewhere/hwu64_train.csv` and `/somewhere/hwu64_test.csv`. The input files are CSV
with a text column (`text`) and an intent column (`category`, `label` or `intent`), as the usual
exports of HWU64, BANKING77 and CLINC150 are. No third-party data is kept in the repository:
download the dataset, then run this.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections import defaultdict
from pathlib import Path

LABEL_COLUMNS = ("category", "label", "intent")


def _by_intent(path: Path) -> dict[str, list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        label = next((name for name in LABEL_COLUMNS if name in fields), None)
        if "text" not in fields or label is None:
            raise SystemExit(f"{path}: needs a text column and one of {', '.join(LABEL_COLUMNS)}")
        grouped: dict[str, list[str]] = defaultdict(list)
        for row in reader:
            if (row["text"] or "").strip():
                grouped[row[label].strip()].append(row["text"])
    return grouped


def sample(path: Path, per_intent: int, seed: int) -> list[tuple[str, str]]:
    """`per_intent` texts of each intent (all of them where it has fewer), intents sorted."""
    rows: list[tuple[str, str]] = []
    shuffler = random.Random(seed)
    for label, texts in sorted(_by_intent(path).items()):
        chosen = texts[:]
        shuffler.shuffle(chosen)
        rows += [(text, label) for text in chosen[:per_intent]]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--out", required=True, help="path prefix of the two files written")
    parser.add_argument("--per-intent", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for side, source in (("train", args.train), ("test", args.test)):
        rows = sample(source, args.per_intent, args.seed)
        target = Path(f"{args.out}_{side}.csv")
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
        print(f"{target}: {len(rows)} texts, {len({label for _, label in rows})} intents")


if __name__ == "__main__":
    main()
