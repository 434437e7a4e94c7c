"""Writes the second and the held-out finance-support question sets (all text written for this
project). They differ from `support_*.csv` on purpose: other topics, short and long questions,
informal phrasing, several phrasings per topic, and (in the held-out test set) typos, so the
clustering and retrieval settings are not fitted to one set.

    python bench/data/make_support_sets.py

Writes `support2_{train,test}.csv` (development: tune on these and on `support_*.csv`) and
`holdout_{train,test}.csv` (held out: only for checking the settings chosen on the others).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

DEV_TOPICS: dict[str, list[str]] = {
    "mortgage_payment": [
        "How do I make an extra payment on my mortgage?",
        "mortgage payment due date?",
        "Can I change the date my mortgage installment is taken each month?",
        "I missed my mortgage payment last week, what happens now and will there be a late fee?",
        "Where do I see how much principal is left on my home loan?",
        "Can I set up automatic payments for my mortgage from my checking account?",
        "My mortgage payment went up this month, why?",
        "is there a penalty if i pay off my mortgage early",
        "How do I get a payoff statement for my house loan?",
        "The escrow part of my mortgage payment looks wrong.",
        "Can I switch my mortgage to biweekly payments?",
        "I want to pay down the home loan faster, what are my options?",
    ],
    "direct_deposit": [
        "How do I set up direct deposit for my salary?",
        "What routing and account number do I give my employer for direct deposit?",
        "My paycheck didn't show up in my account today.",
        "direct deposit form please",
        "When does a direct deposit become available to spend?",
        "Can I split my paycheck between checking and savings?",
        "My employer says the payroll deposit was sent but I can't see it.",
        "How early do you release direct deposits on payday?",
        "I changed jobs and need to move my direct deposit to your bank.",
        "Where can I download a pre-filled direct deposit authorization?",
        "Why was my salary deposit returned to my employer?",
        "Can my social security benefits be deposited straight into this account?",
    ],
    "overdraft_fees": [
        "Why was I charged an overdraft fee?",
        "Can you refund the overdraft charge from yesterday?",
        "How do I turn off overdraft coverage?",
        "I went into the negative by $3 and got a $35 fee, that's outrageous.",
        "what's your overdraft limit",
        "Can I link my savings to cover overdrafts automatically?",
        "How many overdraft fees can you charge in one day?",
        "I was hit with three insufficient funds fees in a row, please reverse them.",
        "Is there a grace period before the overdraft fee is applied?",
        "How do I opt out of overdraft protection?",
        "My account is overdrawn, how long do I have to bring it positive?",
        "Please waive the NSF fee, it was a one-time mistake.",
    ],
    "check_deposit": [
        "How do I deposit a check with the mobile app?",
        "My mobile check deposit was rejected, why?",
        "When will the funds from my deposited check be available?",
        "check deposit on hold?",
        "What is the limit for mobile check deposits?",
        "Do I need to endorse the back of the check before depositing it in the app?",
        "The check I deposited bounced, what now?",
        "Can I deposit a check made out to me and my wife?",
        "How long should I keep a paper check after depositing it by photo?",
        "Why is there a hold on the cheque I paid in on Monday?",
        "Can I deposit a foreign check in euros?",
        "The app keeps saying the check image is blurry.",
    ],
    "beneficiary_update": [
        "How do I change the beneficiary on my IRA?",
        "I want to add my daughter as a beneficiary.",
        "Who is listed as beneficiary on my accounts?",
        "beneficiary form",
        "My husband passed away and I need to name new beneficiaries on the account.",
        "Can I split the account between two beneficiaries 60/40?",
        "How do I set up a transfer on death designation?",
        "Can a trust be the beneficiary of my brokerage account?",
        "I got divorced, please remove my ex as beneficiary.",
        "Do I need a notary to update my beneficiary designation?",
        "Can I name a contingent beneficiary as well?",
        "Please confirm my beneficiary change went through.",
    ],
    "power_of_attorney": [
        "How do I add a power of attorney to my mother's account?",
        "What documents do you need for a POA?",
        "My son has power of attorney, can he call on my behalf?",
        "Do you accept a durable power of attorney from another state?",
        "power of attorney rejected why",
        "How long does it take to review a power of attorney?",
        "I need to act for my father who has dementia, what is the process?",
        "Can an attorney-in-fact open new accounts for me?",
        "How do I revoke the power of attorney I gave my brother?",
        "Does the POA need to be notarized for you to accept it?",
        "My aunt gave me power of attorney, can I access her statements?",
        "What form do I fill in so my accountant can manage my account?",
    ],
    "required_minimum_distribution": [
        "When do I have to take my required minimum distribution?",
        "How is my RMD calculated?",
        "rmd amount for this year?",
        "Can you withdraw my RMD automatically every December?",
        "I turned 73, do I need to start withdrawals from my IRA?",
        "What happens if I miss my required minimum distribution?",
        "Can I take the RMD from just one of my IRAs?",
        "Can my RMD be sent directly to a charity?",
        "Please withhold tax from my required distribution.",
        "I inherited an IRA, do I have to take minimum distributions?",
        "Have I already satisfied this year's required minimum withdrawal?",
        "Can I take my RMD in shares instead of cash?",
    ],
    "dividend_reinvestment": [
        "How do I turn on dividend reinvestment?",
        "Can you stop reinvesting my dividends and pay them in cash?",
        "drip for my etfs",
        "Why were my dividends not reinvested this quarter?",
        "Do reinvested dividends buy fractional shares?",
        "Can I reinvest dividends for only some of my holdings?",
        "Are reinvested dividends still taxable?",
        "When are dividends paid into my account?",
        "My dividend payment is missing from the statement.",
        "I'd like all income from my funds to go to my checking account.",
        "Is there a fee for automatic dividend reinvestment?",
        "How do I see the dividends I received this year?",
    ],
    "margin_account": [
        "How do I apply for a margin account?",
        "What is the interest rate on margin loans?",
        "I received a margin call, what do I need to do?",
        "margin requirements for options",
        "How much can I borrow against my portfolio?",
        "Why was my position sold without my permission? I think it was a margin call.",
        "Can I turn off margin on my account?",
        "What's the maintenance requirement for margin?",
        "How is margin interest charged each month?",
        "My buying power dropped suddenly, is it margin related?",
        "Can I use margin in my IRA?",
        "How long do I have to meet a margin call?",
    ],
    "two_factor_auth": [
        "How do I turn on two-factor authentication?",
        "I got a new phone and my authenticator app codes don't work.",
        "The text message verification code never arrives.",
        "2fa code not working",
        "Can I use a security key instead of SMS codes?",
        "I lost my phone and can't get the login code.",
        "How do I change the phone number used for verification codes?",
        "Is two-step verification mandatory now?",
        "My one-time passcode keeps expiring before I can type it.",
        "Can I get backup codes for two factor login?",
        "I'm travelling abroad and can't receive SMS codes to log in.",
        "How do I reset my authenticator after switching phones?",
    ],
    "joint_account": [
        "How do I add my partner to my account as a joint holder?",
        "Can we open a joint account online?",
        "How do I remove my ex-wife from our joint account?",
        "joint account with my son",
        "What happens to a joint account if one owner dies?",
        "Do both joint owners need to sign to close the account?",
        "Can a joint account have three owners?",
        "How do I convert my individual account to joint tenants with rights of survivorship?",
        "My wife and I want to combine our accounts into one.",
        "Can each joint holder have their own debit card?",
        "Whose tax ID is reported on a joint account?",
        "How do I take my name off a joint account I share with my brother?",
    ],
    "fraud_report": [
        "I think someone hacked my account.",
        "There are transactions I didn't make, please help!",
        "I got a phishing email pretending to be from you.",
        "report fraud",
        "Someone called claiming to be from your fraud team and asked for my PIN.",
        "My identity was stolen, can you freeze my accounts?",
        "I clicked a suspicious link and entered my login details.",
        "Unknown withdrawals drained my checking account overnight.",
        "How do I report a scam payment I was tricked into sending?",
        "I received a text saying my account is locked with a link, is it real?",
        "Someone opened an account in my name.",
        "A stranger changed my email address on the account without my permission.",
    ],
    "interest_rates": [
        "What is the current interest rate on savings?",
        "Why did my savings rate go down?",
        "apy on money market?",
        "Do you offer better rates for larger balances?",
        "When is interest paid on my savings account?",
        "How is the interest on my account calculated, daily or monthly?",
        "Your competitor pays 4.5%, can you match it?",
        "Is the high-yield savings rate fixed or variable?",
        "What rate would I get on a 12-month term deposit?",
        "I didn't receive any interest this month.",
        "Will the rate on my savings change after the central bank cut?",
        "How much interest did I earn last year?",
    ],
    "advisor_meeting": [
        "Can I book a meeting with my financial advisor?",
        "I'd like to speak with my advisor about retirement planning.",
        "Who is my assigned wealth manager?",
        "schedule call with advisor",
        "Can we reschedule my review meeting to next Tuesday?",
        "I want an annual portfolio review in person.",
        "Is there a fee to talk to an advisor?",
        "Can I switch to a different advisor?",
        "My advisor hasn't returned my calls for two weeks.",
        "Can I have a video call with the planning team?",
        "Please cancel my appointment on Friday.",
        "I need advice on investing an inheritance, can someone call me?",
    ],
    "loan_application": [
        "How do I apply for a personal loan?",
        "What's the status of my loan application?",
        "loan approval how long",
        "Why was my loan application declined?",
        "What documents do I need to apply for a car loan?",
        "Can I get pre-approved for a loan without affecting my credit score?",
        "What is the maximum amount I can borrow with a personal loan?",
        "I submitted my income documents for the loan, did you get them?",
        "Can I apply for a home equity line of credit?",
        "How long does it take for a loan to be funded after approval?",
        "Can I add a co-signer to my loan application?",
        "Is there an application fee for a securities-backed loan?",
    ],
    "crypto_trading": [
        "Can I buy bitcoin in my account?",
        "Do you support crypto trading?",
        "how to sell my ethereum",
        "Can I transfer my crypto to an external wallet?",
        "What are the fees for buying cryptocurrency?",
        "Is there a bitcoin ETF I can buy in my IRA?",
        "My crypto purchase is stuck as pending.",
        "Are my digital assets insured?",
        "Why can't I see the crypto tab in the app?",
        "How are crypto gains taxed and will you send a form?",
        "Can I set a limit order on bitcoin?",
        "Please close my crypto account and move the cash to checking.",
    ],
}

HOLDOUT_TOPICS: dict[str, list[str]] = {
    "deceased_estate": [
        "My father passed away, how do we access his account?",
        "What do you need from the executor to settle an estate?",
        "We need to transfer my late mother's investments to her heirs.",
        "death certificate where to send",
        "How long does it take to release funds to the estate?",
        "Can the account of someone who died be frozen until probate?",
        "I'm the executor of my uncle's will, what's the process with your firm?",
        "Do you need letters testamentary to close my husband's account?",
        "Who do I notify about the death of an account holder?",
        "Can I keep receiving my late wife's pension payments into our account?",
    ],
    "certificate_of_deposit": [
        "My CD matures next week, what are my options?",
        "Can I withdraw from my certificate of deposit early?",
        "cd rates 6 months",
        "What is the penalty for breaking a CD?",
        "Will my CD automatically renew when it matures?",
        "I'd like to open a 24-month certificate of deposit.",
        "Can I add money to my existing CD?",
        "How is interest on my CD paid out?",
        "Please don't roll over my CD, send the funds to checking.",
        "Do you offer no-penalty CDs?",
    ],
    "account_transfer_in": [
        "How do I transfer my brokerage account from another firm?",
        "My ACAT transfer has been pending for ten days.",
        "Can I move my 401k from my old employer to you?",
        "transfer stocks in kind from other broker",
        "Will you cover the fee my old broker charges to transfer out?",
        "Some positions didn't come over with my account transfer.",
        "How do I roll over my old IRA without paying tax?",
        "Can I transfer mutual funds without selling them first?",
        "What information do you need to pull my account from another bank?",
        "The transfer of my portfolio was rejected, why?",
    ],
    "app_problems": [
        "The app keeps crashing when I open it.",
        "I can't log in on the mobile app but the website works.",
        "app wont load after update",
        "The balance in the app is different from the website.",
        "Push notifications stopped working on my phone.",
        "The app says my device is not supported.",
        "Face ID login doesn't work anymore in your app.",
        "Every time I try to view my statements in the app it freezes.",
        "Is the app down right now? It shows a blank screen.",
        "I get an error code 503 in the mobile app.",
    ],
    "currency_exchange": [
        "What exchange rate do you use for euros?",
        "Can I hold US dollars in my account?",
        "how to convert gbp to usd",
        "Why did I get such a bad rate on my currency conversion?",
        "Do you charge a fee for foreign exchange?",
        "Can I order foreign cash for my holiday?",
        "I want to open a multi-currency account.",
        "Can I lock in an exchange rate for a payment next month?",
        "The amount converted to Swiss francs is less than I expected.",
        "Which currencies can I buy in the app?",
    ],
    "tax_withholding": [
        "Why was tax withheld from my withdrawal?",
        "How do I change my federal withholding on IRA distributions?",
        "Can you stop withholding taxes from my dividends?",
        "W-9 update needed?",
        "I'm a non-resident, what withholding rate applies to me?",
        "Please withhold 20% for taxes on my next distribution.",
        "Backup withholding was applied to my account, how do I remove it?",
        "Can I get a refund of tax you withheld by mistake?",
        "Do I need to file a W-8BEN form with you?",
        "What state tax is withheld on my annuity payments?",
    ],
    "college_savings": [
        "How do I open a 529 plan for my granddaughter?",
        "Can I use the 529 money to pay for university abroad?",
        "529 contribution limit",
        "What happens to the college fund if my son doesn't go to university?",
        "How do I withdraw from the education savings plan to pay tuition?",
        "Can I change the beneficiary of the 529 account to my other child?",
        "Are contributions to the college savings plan tax deductible?",
        "Can grandparents contribute to my kid's 529?",
        "Which investment options are available inside the 529?",
        "I need a statement of my education savings account for financial aid.",
    ],
    "esg_investing": [
        "Do you offer sustainable investment portfolios?",
        "I don't want to invest in oil and gas companies.",
        "esg funds available?",
        "Can my portfolio exclude tobacco and weapons manufacturers?",
        "How do you measure the environmental impact of my investments?",
        "I'd like to switch my account to a green investing strategy.",
        "Are your ESG funds more expensive than regular ones?",
        "Do socially responsible portfolios perform worse?",
        "Can I invest in line with my religious values?",
        "What is the carbon footprint of my portfolio?",
    ],
    "complaint": [
        "I want to file a formal complaint.",
        "Your service has been terrible and I want to speak to a manager.",
        "complaint about my advisor",
        "How do I escalate an issue that hasn't been resolved in a month?",
        "I've been waiting three weeks for an answer, this is unacceptable.",
        "Who can I contact if I'm not happy with how my complaint was handled?",
        "I want to report the rude behaviour of one of your staff.",
        "Please send me your complaints procedure.",
        "I'm going to take this to the ombudsman if it's not fixed.",
        "Nobody ever calls me back, I want this escalated.",
    ],
    "atm_cash": [
        "Where is the nearest ATM I can use for free?",
        "The ATM didn't give me my cash but my account was debited.",
        "atm withdrawal limit per day",
        "Can I withdraw cash abroad and what does it cost?",
        "How do I deposit cash into my account?",
        "Why was I charged a fee at the ATM?",
        "Can I withdraw more than $1,000 in cash at a branch?",
        "The machine only gave me half of the money I asked for.",
        "Can I get cash without my card?",
        "Do you refund other banks' ATM fees?",
    ],
    "insurance_policy": [
        "How do I make a claim on my life insurance policy?",
        "What does my home insurance cover?",
        "life cover quote",
        "Can I increase the coverage on my term life policy?",
        "My insurance premium went up, why?",
        "How do I cancel my travel insurance?",
        "Who is the insurer behind the policy you sold me?",
        "I need proof of insurance for my landlord.",
        "Can I change the beneficiary of my insurance policy?",
        "Is long-term care insurance something you offer?",
    ],
    "credit_card_limit": [
        "Can I get a higher limit on my credit card?",
        "Why was my credit limit reduced?",
        "credit line increase request",
        "What's my available credit right now?",
        "I need a temporary limit increase for a big purchase.",
        "Will asking for a higher limit hurt my credit score?",
        "How often can I request a credit limit increase?",
        "My card was declined because I hit my limit, can you raise it?",
        "Can I lower my credit limit to control spending?",
        "How is my credit card limit decided?",
    ],
}


def _typo(text: str, rng: random.Random) -> str:
    """One or two keyboard slips: a swapped, dropped or doubled letter."""
    chars = list(text)
    for _ in range(rng.randint(1, 2)):
        letters = [i for i, c in enumerate(chars[:-1]) if c.isalpha() and chars[i + 1].isalpha()]
        if not letters:
            break
        i = rng.choice(letters)
        kind = rng.random()
        if kind < 0.4:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif kind < 0.7:
            del chars[i]
        else:
            chars.insert(i, chars[i])
    return "".join(chars)


def _split(
    topics: dict[str, list[str]], train_share: float, rng: random.Random, typo_share: float = 0.0
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    train, test = [], []
    for topic, questions in topics.items():
        order = questions[:]
        rng.shuffle(order)
        cut = round(len(order) * train_share)
        train += [(q, topic) for q in order[:cut]]
        test += [(_typo(q, rng) if rng.random() < typo_share else q, topic) for q in order[cut:]]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def main() -> None:
    train, test = _split(DEV_TOPICS, 0.5, random.Random(21))
    _write(HERE / "support2_train.csv", train)
    _write(HERE / "support2_test.csv", test)
    train, test = _split(HOLDOUT_TOPICS, 0.4, random.Random(99), typo_share=0.35)
    _write(HERE / "holdout_train.csv", train)
    _write(HERE / "holdout_test.csv", test)


if __name__ == "__main__":
    main()
