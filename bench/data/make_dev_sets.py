"""Writes the labelled development sets (all text written for this project, no third-party
data): financial sentiment sentences and client messages, and finance-support questions with
topics. `--split train` makes the sentiment classifier's training set from one half of the
phrase pools; `--split dev` makes the evaluation sets from the other half, so the harness never
scores a sentence pattern it was trained on.

    python bench/data/make_dev_sets.py            # writes bench/data/*.csv and the train set
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAIN_OUT = HERE.parent.parent / "crm_app" / "ai" / "data" / "sentiment_train.csv"

COMPANIES = [
    "Nordvik Oyj",
    "Harbor Metals",
    "Aurelia Bank",
    "Keystone Paper",
    "Lumen Telecom",
    "Brightwater Foods",
    "Vantor Shipping",
    "Osprey Retail",
    "Calder Energy",
    "Meridian Software",
    "Tallis Pharma",
    "Granite Builders",
    "Sora Logistics",
    "Fjord Timber",
    "Beacon Insurance",
    "Ironclad Tools",
]
METRICS = [
    "operating profit",
    "net sales",
    "net profit",
    "revenue",
    "EBITDA",
    "order intake",
    "earnings per share",
    "pre-tax profit",
    "operating income",
    "gross margin",
]
PERIODS = [
    "in the third quarter",
    "for the first half of the year",
    "in 2025",
    "in the January-March period",
    "for the full year",
    "in the fourth quarter",
    "year-on-year",
    "compared with the previous quarter",
]

POS_NEWS = [
    "{c} said its {m} rose to EUR {a} mn from EUR {b} mn {p}.",
    "{c}'s {m} increased by {x}% {p}.",
    "{m} at {c} grew strongly {p}, beating analyst expectations.",
    "{c} won a contract worth EUR {a} mn to supply equipment to a major customer.",
    "Shares in {c} jumped {x}% after the company raised its outlook.",
    "{c} raised its full-year guidance on strong demand.",
    "{c} reported record {m} {p}.",
    "The board of {c} proposed a higher dividend of EUR 0.{x} per share.",
    "{c} returned to profit {p}, posting {m} of EUR {a} mn.",
    "Demand for {c}'s products improved markedly, lifting {m}.",
    "{c} completed the acquisition, which is expected to boost earnings immediately.",
    "Analysts upgraded {c} to buy after a strong set of results.",
    "{c} cut its net debt by EUR {a} mn and improved its credit rating.",
    "{c}'s order backlog reached an all-time high of EUR {a} mn.",
    "Profitability at {c} improved clearly {p}.",
    "{c} expects its {m} to grow significantly next year.",
]
NEG_NEWS = [
    "{c} said its {m} fell to EUR {b} mn from EUR {a} mn {p}.",
    "{c}'s {m} decreased by {x}% {p}.",
    "{c} swung to an operating loss of EUR {b} mn {p}.",
    "Shares in {c} dropped {x}% after a profit warning.",
    "{c} will cut {n} jobs as demand weakens.",
    "{c} lowered its full-year outlook, citing weak demand.",
    "{c}'s pre-tax loss widened to EUR {b} mn {p}.",
    "{c} suspended its dividend to preserve cash.",
    "Analysts downgraded {c} to sell after disappointing results.",
    "{c} is closing its plant, and the closure will hit earnings.",
    "{m} at {c} declined sharply {p} due to lower prices.",
    "{c} reported a net loss and warned of further losses ahead.",
    "{c}'s credit rating was cut to junk by a rating agency.",
    "Sales volumes at {c} slumped {p}, missing forecasts.",
    "{c} faces a EUR {a} mn fine over the breach.",
    "Weak markets pushed {c} deeper into the red {p}.",
]
NEU_NEWS = [
    "{c} will publish its interim report on {d}.",
    "{c} is headquartered in Helsinki and employs about {n} people.",
    "The share capital of {c} consists of {n} million shares.",
    "{c} operates in the {s} sector in Europe and Asia.",
    "The annual general meeting of {c} will be held on {d}.",
    "{c} appointed a new chief financial officer, effective {d}.",
    "The transaction is subject to approval by the competition authorities.",
    "{c} supplies products to customers in more than {x} countries.",
    "The agreement between {c} and the city covers maintenance services.",
    "{c} will hold a conference call for analysts on {d}.",
    "{c}'s shares are listed on the Nasdaq Helsinki stock exchange.",
    "The new facility of {c} is located near Tampere.",
    "{c} has {n} subsidiaries across the Nordic countries.",
    "The terms of the deal between {c} and its partner were not disclosed.",
    "{c} develops and sells software for the {s} industry.",
    "The company's financial year ends on 31 December.",
]
SECTORS = ["forestry", "telecom", "retail", "shipping", "energy", "banking", "construction"]
DATES = ["12 March", "5 May", "21 August", "30 October", "8 February"]

POS_CLIENT = [
    "Thank you so much, the transfer arrived this morning.",
    "Great service, my account was opened within a day.",
    "I really appreciate how quickly you fixed the login problem.",
    "Perfect, that answers my question. Many thanks!",
    "Excellent, the statement is exactly what I needed.",
    "You have been very helpful, I'm delighted with the new portfolio.",
    "Brilliant, the refund has already reached my account.",
    "Thanks for the clear explanation of the fees, much appreciated.",
    "I'm very happy with the returns this year, thank you for the advice.",
    "Wonderful, the beneficiary change went through smoothly.",
    "Your advisor was fantastic and patient with all my questions.",
    "The new mobile app works great, thanks for the update.",
    "Good news, the wire cleared, thank you for chasing it.",
    "I'm pleased to confirm everything is sorted now.",
    "Much appreciated, the tax documents were easy to find.",
    "Thank you, I'm glad the issue was resolved so fast.",
]
NEG_CLIENT = [
    "This is unacceptable, my withdrawal is still missing after two weeks.",
    "I'm extremely frustrated, nobody has answered my emails.",
    "You charged me a fee I never agreed to, I want it reversed now.",
    "I'm very disappointed with the service, this is the third time I ask.",
    "My portfolio lost a lot and nobody warned me, I'm furious.",
    "The app keeps crashing and I can't access my money.",
    "I am considering closing my account because of these delays.",
    "Your advisor gave me wrong information and it cost me money.",
    "I'm angry that the transfer failed without any explanation.",
    "This is a terrible experience, I will file a complaint.",
    "Why was my card blocked? This is ridiculous and embarrassing.",
    "I've been waiting for hours and still no response, awful service.",
    "The statement is wrong again and I'm fed up with these mistakes.",
    "I was overcharged on the management fee and I'm not happy.",
    "Nobody told me about the penalty, this feels like a scam.",
    "I'm worried and upset that my account shows a negative balance.",
]
NEU_CLIENT = [
    "Could you send me the statement for the third quarter?",
    "What is the cut-off time for international wires?",
    "Please update my address to 12 Harbour Street.",
    "I would like to know the fees for the managed portfolio.",
    "When will the 1099 forms be available in the portal?",
    "Can I add my spouse as a beneficiary on the IRA?",
    "I'm moving abroad next month, what do I need to do with my account?",
    "Please confirm the minimum balance for the premium account.",
    "How do I reset my password for the client portal?",
    "Is it possible to schedule a call with my advisor on Tuesday?",
    "I'd like to transfer 5,000 USD from savings to my brokerage account.",
    "What documents do you need to open a joint account?",
    "Could you explain how the rebalancing works?",
    "Please send the wire instructions for the deposit.",
    "I want to change my risk profile to moderate.",
    "Which funds are included in the conservative model portfolio?",
]

TOPICS = {
    "wire_transfer": [
        "How long does an international wire take to arrive?",
        "What is the daily limit for outgoing wire transfers?",
        "My wire transfer hasn't arrived yet, can you trace it?",
        "What are your wire instructions for incoming funds?",
        "Is there a fee for sending a wire abroad?",
        "What is the cut-off time for same-day wires?",
        "Can I cancel a wire I sent this morning?",
        "Do you need a SWIFT code to receive an international transfer?",
        "The recipient says my transfer never came, please check.",
        "How do I send money to a bank account overseas?",
    ],
    "password_login": [
        "I forgot my password for the client portal.",
        "How do I reset my login credentials?",
        "My account is locked after too many login attempts.",
        "I'm not receiving the two-factor authentication code.",
        "Can I change the phone number used for 2FA?",
        "The portal says my password has expired.",
        "I can't sign in to the mobile app anymore.",
        "How do I unlock my online banking access?",
        "The verification code email never arrives.",
        "Is there a way to log in without the authenticator app?",
    ],
    "tax_documents": [
        "When will my 1099 be available?",
        "Where can I download my annual tax statement?",
        "I need a corrected tax form, the cost basis is wrong.",
        "Do you send tax documents by mail or only online?",
        "How do I get my year-end capital gains report?",
        "My tax form is missing the dividend income.",
        "Can you resend last year's tax certificate?",
        "Which form reports the interest I earned?",
        "Is the foreign tax withheld shown on my statement?",
        "When do you issue the consolidated tax document?",
    ],
    "fees": [
        "What is the annual management fee on my portfolio?",
        "Why was I charged an account maintenance fee?",
        "Can you explain the advisory fee on my statement?",
        "Are there any trading commissions for ETFs?",
        "How are your fees calculated for managed accounts?",
        "I see an unexpected charge, what is it for?",
        "Is there a fee for closing my account?",
        "Do you offer fee discounts for larger balances?",
        "What does the custody fee cover?",
        "Can the fee be waived this quarter?",
    ],
    "retirement_accounts": [
        "Can I open a Roth IRA with you?",
        "What is the contribution limit for my IRA this year?",
        "How do I roll over my 401(k) from my old employer?",
        "When do I have to take required minimum distributions?",
        "Can I withdraw from my IRA before 59 and a half?",
        "How do I convert my traditional IRA to a Roth?",
        "Can I name my children as IRA beneficiaries?",
        "Is my pension transfer complete?",
        "What happens to my retirement account if I move abroad?",
        "Can I make a catch-up contribution?",
    ],
    "account_closure": [
        "How do I close my brokerage account?",
        "I want to close my account and transfer everything out.",
        "What is the process to shut down a joint account?",
        "Can I close my account online?",
        "How long does it take to close an account?",
        "Will my positions be sold when I close the account?",
        "I'd like to terminate my advisory agreement.",
        "How do I close the account of a deceased relative?",
        "Please close my savings account and send a check.",
        "Is there a form for account closure?",
    ],
    "address_change": [
        "How do I update my mailing address?",
        "I moved, please change my home address.",
        "Can I change my email address on file?",
        "I need to update my phone number.",
        "Where do I change my contact details in the portal?",
        "Please update my legal name after my marriage.",
        "My statements are going to my old address.",
        "How do I change my citizenship or residency details?",
        "Can I add a secondary email for notifications?",
        "I want my documents sent to my office address.",
    ],
    "portfolio_rebalancing": [
        "When will my portfolio be rebalanced?",
        "Can you rebalance my account to a more conservative mix?",
        "Why did you sell some of my bond funds?",
        "How often do you rebalance managed portfolios?",
        "My allocation drifted, should we rebalance?",
        "I want to change my risk profile to aggressive.",
        "Can I exclude certain stocks from my portfolio?",
        "What triggers a rebalance in my account?",
        "Please move more of my money into equities.",
        "Can we review my asset allocation next week?",
    ],
    "card_issues": [
        "My debit card was declined at the store.",
        "I lost my card, please block it.",
        "When will my replacement card arrive?",
        "How do I activate my new card?",
        "There is a card payment I don't recognize.",
        "Can I raise my card's daily spending limit?",
        "My card was swallowed by an ATM.",
        "How do I change my card PIN?",
        "Can I use my card abroad without fees?",
        "My contactless payments stopped working.",
    ],
    "statements": [
        "Where can I find my monthly statement?",
        "Can you send me a copy of my Q2 statement?",
        "I need a bank reference letter for a mortgage.",
        "How do I switch to paper statements?",
        "My statement shows the wrong balance.",
        "Can I get statements for the last three years?",
        "I need a proof of funds letter.",
        "When are quarterly statements published?",
        "How do I download my transaction history as CSV?",
        "Can you confirm my account balance in writing?",
    ],
}


def _fill(template: str, rng: random.Random) -> str:
    a = round(rng.uniform(5, 300), 1)
    return template.format(
        c=rng.choice(COMPANIES),
        m=rng.choice(METRICS),
        p=rng.choice(PERIODS),
        a=a,
        b=round(a * rng.uniform(0.4, 0.9), 1),
        x=rng.randint(2, 40),
        n=rng.randint(20, 900),
        s=rng.choice(SECTORS),
        d=rng.choice(DATES),
    )


def sentiment_rows(split: str, rng: random.Random, per_template: int) -> list[tuple[str, str]]:
    half = 0 if split == "train" else 1
    rows: list[tuple[str, str]] = []
    for label, news, client in (
        ("positive", POS_NEWS, POS_CLIENT),
        ("negative", NEG_NEWS, NEG_CLIENT),
        ("neutral", NEU_NEWS, NEU_CLIENT),
    ):
        for template in news[half::2]:
            rows += [(_fill(template, rng), label) for _ in range(per_template)]
        rows += [(text, label) for text in client[half::2]]
    # Financial news is mostly neutral; keep that shape (about half neutral).
    neutral_extra = [(_fill(t, rng), "neutral") for t in NEU_NEWS[half::2] for _ in range(2)]
    rows += neutral_extra
    rng.shuffle(rows)
    return rows


def topic_rows(part: str) -> list[tuple[str, str]]:
    # Train: first six phrasings per topic; test: the other four.
    sl = slice(0, 6) if part == "train" else slice(6, 10)
    return [(q, topic) for topic, qs in TOPICS.items() for q in qs[sl]]


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def main() -> None:
    _write(TRAIN_OUT, sentiment_rows("train", random.Random(7), per_template=3))
    _write(HERE / "sentiment_dev.csv", sentiment_rows("dev", random.Random(11), per_template=2))
    _write(HERE / "support_train.csv", topic_rows("train"))
    _write(HERE / "support_test.csv", topic_rows("test"))


if __name__ == "__main__":
    main()
