"""Do suggested-reply drafts keep other clients' facts out and answer the question asked?

    python bench/ai_drafts.py [--cases bench/data/draft_cases.jsonl] [--show-failures]

For every labelled case (bench/data/make_draft_cases.py writes them: the client's question, the
best source a search found, whether that source answers the question, and the source's foreign
facts), builds the retrieval-only draft through the product's code (`drafting.draft_from_source`
with the built-in embedding model), and also runs the LLM path's post-check on a worst-case
model output that copies the source answer verbatim under this client's greeting
(`drafting.finish_generated`). The checks here are the case's own labels and plain string
tests, not the product's fact finder:

- foreign-fact free: none of the case's `foreign_facts` is in the draft (names as words,
  numbers also compared digit for digit);
- one greeting, one sign-off with the current agent's name under it, no claim of an attachment;
- answers the question: drafted from the source when it is `acceptable`, a holding reply when
  it is `unacceptable`.

Needs no database. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_GREETING = re.compile(r"^(?:dear|hi|hello|good (?:morning|afternoon))\b", re.IGNORECASE)
_SIGN_OFF = re.compile(
    r"^(?:kind regards|best regards|regards|best|best wishes|cheers|"
    r"sincerely|with sympathy|thanks|many thanks|mit freundlichen grüßen)"
    r"[,.!]?$",
    re.IGNORECASE,
)
_ATTACH = re.compile(r"\battach|\benclos", re.IGNORECASE)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _numbers(text: str) -> set[str]:
    return {_digits(m) for m in re.findall(r"\d[\d,.' \u00a0/-]*\d|\d", text)}


def leaked(draft: str, fact: str, own_text: str = "") -> bool:
    """Whether the source's `fact` is in `draft`. A number counts also when written another
    way (259,000 / 259000 / 259 000 / 259k), except a number of this client's own message
    (`own_text`): "12.000 EUR" from the question is this client's, whatever it resembles."""
    if re.search(rf"(?<!\w){re.escape(fact)}(?!\w)", draft, re.IGNORECASE):
        return True
    digits = _digits(fact)
    if len(digits) >= 3:
        numbers = _numbers(draft) - _numbers(own_text)
        return digits in numbers or digits.rstrip("0") in {
            n.rstrip("0") for n in numbers if len(n) >= 3
        }
    return False


def letter_ok(draft: str, agent_name: str) -> tuple[bool, str]:
    lines = [line.strip() for line in draft.splitlines() if line.strip()]
    greetings = [line for line in lines if _GREETING.match(line)]
    sign_offs = [i for i, line in enumerate(lines) if _SIGN_OFF.match(line)]
    if len(greetings) != 1:
        return False, f"{len(greetings)} greetings"
    if len(sign_offs) != 1 or lines[sign_offs[0] + 1 :] != [agent_name]:
        return False, "sign-off"
    if _ATTACH.search(draft):
        return False, "attachment claim"
    return True, ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=str(ROOT / "bench" / "data" / "draft_cases.jsonl"))
    parser.add_argument("--show-failures", action="store_true")
    args = parser.parse_args()

    from crm_app.ai import drafting
    from crm_app.ai.embeddings import LocalMiniLM

    embed = LocalMiniLM().embed
    cases = [json.loads(line) for line in Path(args.cases).read_text().splitlines() if line]
    counts = {
        "foreign_free": 0,
        "letter_ok": 0,
        "llm_foreign_free": 0,
        "llm_letter_ok": 0,
        "acceptable": 0,
        "answered_acceptable": 0,
        "unacceptable": 0,
        "declined_unacceptable": 0,
    }
    for case in cases:
        source = drafting.Source(
            question=case["source_question"],
            answer=case["source_answer"],
            kind=case.get("source_kind", "resolved_ticket"),
        )
        draft = drafting.draft_from_source(
            case["question"],
            source,
            client_name=case["client_name"],
            agent_name=case["agent_name"],
            own_text=case["question"],
            embed=embed,
        )
        leaks = [f for f in case["foreign_facts"] if leaked(draft.text, f, case["question"])]
        ok, why = letter_ok(draft.text, case["agent_name"])
        counts["foreign_free"] += not leaks
        counts["letter_ok"] += ok
        if case["label"] == "acceptable":
            counts["acceptable"] += 1
            counts["answered_acceptable"] += draft.answered
        else:
            counts["unacceptable"] += 1
            counts["declined_unacceptable"] += not draft.answered
        # The LLM path's post-check, on a model that copied the source whole.
        copied = (
            f"Dear {drafting.first_name(case['client_name'])},\n\n"
            f"{case['source_answer']}\n\nKind regards,\n{case['agent_name']}"
        )
        finished = drafting.finish_generated(
            copied,
            client_name=case["client_name"],
            agent_name=case["agent_name"],
            sources=[source],
            own_text=case["question"],
            topic_text=case["question"],
        )
        llm_leaks = [f for f in case["foreign_facts"] if leaked(finished, f, case["question"])]
        llm_ok, llm_why = letter_ok(finished, case["agent_name"])
        counts["llm_foreign_free"] += not llm_leaks
        counts["llm_letter_ok"] += llm_ok
        decision_wrong = draft.answered != (case["label"] == "acceptable")
        if args.show_failures and (leaks or not ok or llm_leaks or not llm_ok or decision_wrong):
            print(
                f"--- {case['id']} ({case['lang']}, {case['label']}, similarity "
                f"{draft.similarity}): {case['question']}",
                file=sys.stderr,
            )
            if leaks or not ok or decision_wrong:
                print(f"retrieval-only leaks={leaks} {why}\n{draft.text}", file=sys.stderr)
            if llm_leaks or not llm_ok:
                print(f"llm post-check leaks={llm_leaks} {llm_why}\n{finished}", file=sys.stderr)
    n = len(cases)
    result = {
        "cases": n,
        "acceptable": counts["acceptable"],
        "unacceptable": counts["unacceptable"],
        "foreign_fact_free_rate": round(counts["foreign_free"] / n, 4),
        "one_greeting_one_sign_off_no_attachment_rate": round(counts["letter_ok"] / n, 4),
        "answers_question_rate": round(
            counts["answered_acceptable"] / max(counts["acceptable"], 1), 4
        ),
        "declines_unanswered_rate": round(
            counts["declined_unacceptable"] / max(counts["unacceptable"], 1), 4
        ),
        "decision_accuracy": round(
            (counts["answered_acceptable"] + counts["declined_unacceptable"]) / n, 4
        ),
        "llm_post_check_foreign_fact_free_rate": round(counts["llm_foreign_free"] / n, 4),
        "llm_post_check_letter_ok_rate": round(counts["llm_letter_ok"] / n, 4),
        "answer_min_similarity": drafting.ANSWER_MIN_SIMILARITY,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
