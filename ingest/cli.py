"""`python -m ingest PATH... [--json]`: per-file counts, or one JSON line per message."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .model import ItemError, Message, NonMailItem
from .serialize import record_to_dict
from .sources import iter_paths


class _Counts:
    def __init__(self) -> None:
        self.messages = self.attachments = self.non_mail = self.errors = 0
        self.error_lines: list[str] = []

    def line(self, path: Path) -> str:
        return (
            f"{path}: messages={self.messages} attachments={self.attachments} "
            f"non_mail={self.non_mail} errors={self.errors}"
        )


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None,
         err: TextIO | None = None) -> int:  # fmt: skip
    """Run the CLI; exit status 1 when any file or item had an error, 2 on bad usage."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Parse PST/OST, mbox and EML files or folders into normalized messages.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH")
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON line per message on stdout; per-file counts on stderr",
    )
    args = parser.parse_args(argv)
    summary = err if args.json else out
    failed = False
    for given in args.paths:
        if not Path(given).exists():
            print(f"{given}: error: no such file or folder", file=summary)
            failed = True
    current: Path | None = None
    counts = _Counts()

    def report() -> None:
        if current is None:
            return
        print(counts.line(current), file=summary)
        for line in counts.error_lines:
            print(f"  error: {line}", file=summary)

    for path, record in iter_paths([p for p in args.paths if Path(p).exists()]):
        if path != current:
            report()
            current, counts = path, _Counts()
        if isinstance(record, Message):
            counts.messages += 1
            counts.attachments += len(record.attachments)
            if args.json:
                out.write(json.dumps(record_to_dict(record), ensure_ascii=False) + "\n")
        elif isinstance(record, NonMailItem):
            counts.non_mail += 1
        elif isinstance(record, ItemError):
            counts.errors += 1
            failed = True
            where = record.provenance.folder or ""
            if record.provenance.position is not None:
                where = f"{where}#{record.provenance.position}"
            counts.error_lines.append(f"{where}: {record.message}" if where else record.message)
    report()
    out.flush()
    return 1 if failed else 0
