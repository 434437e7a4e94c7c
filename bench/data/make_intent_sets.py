# ruff: noqa: E501  (one client question a line, as written)
"""Writes `intents_train.csv` / `intents_test.csv`: a harder development set for the FAQ
clustering, written for this project (no third-party data). Unlike `support_*` its intents sit
close to each other (a card not arrived vs. a card not working, a pending vs. a failed top-up),
questions run from three words to a paragraph, carry typos, names and amounts, and about one in
six is in German, French or Spanish, as client questions in a European wealth desk do.

    python bench/data/make_intent_sets.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

INTENTS: dict[str, list[str]] = {
    "card_arrival": [
        "My new card still hasn't arrived",
        "When will my card be delivered?",
        "It's been two weeks and no card in the post",
        "card not arrived yet",
        "I ordered a replacement debit card on the 3rd, where is it?",
        "How long does it take for a new card to come by mail?",
        "Meine neue Karte ist noch nicht angekommen.",
        "Je n'ai toujours pas reçu ma carte bancaire.",
        "Can you track the card you sent me? Nothing has come.",
        "still waiting for my visa card to show up, ordered ages ago",
    ],
    "card_not_working": [
        "My card keeps getting declined in shops",
        "The card doesn't work at the terminal",
        "card declined at the supermarket even though I have money",
        "Why was my card refused when I tried to pay online?",
        "My contactless payments stopped working",
        "Meine Karte wird an der Kasse abgelehnt.",
        "Mi tarjeta no funciona en los cajeros.",
        "The chip on my card seems broken, payments fail",
        "card rejected again!!",
        "I tried paying for dinner and the card was declined twice, what is wrong?",
    ],
    "lost_or_stolen_card": [
        "I lost my card, please block it",
        "My wallet was stolen with my credit card inside",
        "How do I freeze my card? I can't find it",
        "someone stole my card",
        "Please cancel my card immediately, I left it in a taxi",
        "Ich habe meine Kreditkarte verloren, bitte sperren.",
        "On m'a volé ma carte, que dois-je faire ?",
        "Can I temporarily lock my card while I look for it?",
        "lost card abroad what now",
        "My handbag was taken on the train this morning with my debit card in it.",
    ],
    "top_up_pending": [
        "My top-up is still pending",
        "I added money to my account but it hasn't shown up yet",
        "How long does a bank transfer top-up take to appear?",
        "top up pending for 2 days",
        "The deposit I made yesterday shows as pending, is that normal?",
        "Meine Aufladung ist noch in Bearbeitung.",
        "Mi recarga sigue pendiente.",
        "Why is my top up taking so long to go through?",
        "funds I sent from my other bank are not in the balance yet",
        "I topped up EUR 500 on Monday morning and it still says processing.",
    ],
    "top_up_failed": [
        "My top-up failed",
        "The top up was declined, why?",
        "I tried to add money with my card and it didn't work",
        "top-up rejected",
        "Why can't I top up my account with Apple Pay?",
        "Die Aufladung ist fehlgeschlagen.",
        "Le rechargement de mon compte a échoué.",
        "Every time I try to load money it says the payment failed",
        "top up not going through error message",
        "I got an error when topping up from my Mastercard, the money was not added.",
    ],
    "exchange_rate": [
        "What exchange rate do you use?",
        "How is the currency conversion rate calculated?",
        "Why did I get a bad rate converting dollars to euros?",
        "exchange rate today GBP EUR",
        "Do you add a markup on the FX rate?",
        "Welchen Wechselkurs verwenden Sie?",
        "Quel est votre taux de change pour le franc suisse ?",
        "Is the rate shown in the app the one I will actually get?",
        "rates for currency exchange",
        "I paid in yen on holiday and the conversion looks worse than the market rate, why?",
    ],
    "transfer_not_received": [
        "The money I sent hasn't reached the recipient",
        "My transfer says completed but my landlord didn't get it",
        "transfer not received by beneficiary",
        "Where is my outgoing payment? The other side has nothing.",
        "I sent 2,000 to my brother three days ago and it never arrived",
        "Die Überweisung ist beim Empfänger nicht angekommen.",
        "Mi transferencia no ha llegado al destinatario.",
        "How can I prove to the payee that the transfer left my account?",
        "recipient says no money arrived",
        "The supplier insists our payment of last week never landed in their account.",
    ],
    "cancel_transfer": [
        "Can I cancel a transfer I just made?",
        "I sent money to the wrong account, can you stop it?",
        "How do I reverse a payment?",
        "cancel transfer please",
        "Is it possible to recall a wire that is already sent?",
        "Kann ich eine Überweisung stornieren?",
        "Puis-je annuler un virement ?",
        "I made a mistake in the IBAN, please stop the transfer",
        "undo payment",
        "I scheduled a standing order by mistake and need to cancel it before it goes out tomorrow.",
    ],
    "pin_change": [
        "How do I change my PIN?",
        "I forgot my card PIN",
        "pin blocked after three wrong tries",
        "Can I pick my own PIN number?",
        "Where can I see my PIN in the app?",
        "Wie ändere ich meine PIN?",
        "J'ai oublié mon code PIN.",
        "My PIN is locked, how do I unlock it?",
        "reset pin",
        "I typed the wrong PIN at the ATM too many times and now it says PIN blocked.",
    ],
    "account_verification": [
        "Why do you need to verify my identity?",
        "My ID verification failed",
        "What documents do I need to verify my account?",
        "verification stuck",
        "The selfie check keeps rejecting my photo",
        "Welche Dokumente brauche ich für die Verifizierung?",
        "¿Qué documentos necesito para verificar mi identidad?",
        "How long does the identity check take?",
        "kyc documents required",
        "I uploaded my passport and a utility bill a week ago and my account is still unverified.",
    ],
    "refund_not_showing": [
        "A merchant refunded me but I don't see the money",
        "Where is my refund?",
        "refund missing",
        "The shop says they refunded my purchase, it's not in my account",
        "How long do card refunds take to appear?",
        "Die Rückerstattung ist nicht auf meinem Konto.",
        "No veo el reembolso de una compra.",
        "I returned an item a month ago and the refund still has not come through",
        "refund not credited",
        "Amazon confirmed the refund on the 12th but my statement shows nothing, can you check?",
    ],
    "unrecognised_payment": [
        "There is a payment I don't recognise",
        "I see a charge on my card that isn't mine",
        "unknown transaction on statement",
        "Who is this merchant charging me every month?",
        "Someone used my card without permission",
        "Ich sehe eine Abbuchung, die ich nicht kenne.",
        "Il y a un paiement que je ne reconnais pas.",
        "strange debit from a company I never heard of",
        "charge i did not make",
        "Three small payments to an online store I have never used appeared overnight.",
    ],
    "atm_cash_wrong": [
        "The ATM didn't give me my cash but took the money",
        "I got less cash than I asked for at the machine",
        "atm swallowed money",
        "Withdrawal failed but my account was debited",
        "The cash machine charged me twice for one withdrawal",
        "Der Geldautomat hat kein Geld ausgegeben, aber abgebucht.",
        "El cajero no me dio el dinero.",
        "ATM error, no notes came out",
        "wrong amount of cash from atm",
        "I asked for 200 at the airport ATM, it gave me 100 and charged 200.",
    ],
    "statement_request": [
        "How can I get my bank statement?",
        "I need a statement for my mortgage application",
        "download statement pdf",
        "Can you send me statements for the last six months?",
        "Where do I find my monthly statements?",
        "Ich brauche einen Kontoauszug.",
        "Necesito un extracto bancario.",
        "Can I get a stamped statement for the visa office?",
        "statements please",
        "My accountant needs all account statements from January to June for the tax return.",
    ],
    "portfolio_performance": [
        "How has my portfolio performed this year?",
        "Why is my portfolio down this quarter?",
        "portfolio returns ytd",
        "Can you explain the drop in my investment value?",
        "What is the performance of my managed account since inception?",
        "Wie hat sich mein Depot entwickelt?",
        "Pourquoi mon portefeuille a-t-il baissé ?",
        "Is my portfolio beating its benchmark?",
        "returns on my investments",
        "I lost about 8% last month while the market was flat, can someone explain what happened?",
    ],
    "pension_contribution": [
        "How much can I contribute to my pension this year?",
        "Can I increase my monthly pension contribution?",
        "pension contribution limit",
        "Is there tax relief on pension payments?",
        "How do I make a one-off payment into my pension?",
        "Wie viel kann ich in meine Rente einzahlen?",
        "¿Puedo aumentar mis aportaciones al plan de pensiones?",
        "Can my employer pay into my private pension too?",
        "add money to pension",
        "I got a bonus and want to put 10,000 of it into my pension before the tax year ends.",
    ],
    "close_account": [
        "I want to close my account",
        "How do I close my savings account?",
        "close account",
        "Please terminate my account and send the balance to my other bank",
        "What happens to my money if I close the account?",
        "Ich möchte mein Konto kündigen.",
        "Je souhaite fermer mon compte.",
        "Can I close my account online?",
        "delete my account",
        "We are moving abroad and would like to close all our accounts with you by the end of the month.",
    ],
    "fee_charged": [
        "Why was I charged a fee?",
        "What is this monthly fee?",
        "fee on my account",
        "I was charged for a transfer that should be free",
        "Can you refund the maintenance fee?",
        "Warum wurde mir eine Gebühr berechnet?",
        "¿Por qué me cobraron una comisión?",
        "What are your custody fees?",
        "extra charge on statement",
        "There is a 25 euro service charge this month that I don't understand, please explain it.",
    ],
    "change_personal_details": [
        "How do I change my address?",
        "I got married, how do I update my surname?",
        "update phone number",
        "I moved house, please change my postal address",
        "Can I change the email on my account?",
        "Ich bin umgezogen, bitte Adresse ändern.",
        "Quiero cambiar mi número de teléfono.",
        "How do I update my personal details?",
        "new address",
        "Please update my contact details: I have a new mobile number and a new home address.",
    ],
    "login_problem": [
        "I can't log in to the app",
        "Forgot my password",
        "login not working",
        "The app says my password is wrong but it isn't",
        "My online banking is locked after too many attempts",
        "Ich kann mich nicht einloggen.",
        "No puedo iniciar sesión en la aplicación.",
        "I don't receive the SMS code to sign in",
        "cant sign in",
        "Since the last update the app logs me out and won't accept my fingerprint or password.",
    ],
    "interest_rate_savings": [
        "What interest rate do you pay on savings?",
        "Has the savings rate changed?",
        "interest on savings account",
        "When is interest paid into my savings account?",
        "Do you have a better rate for fixed deposits?",
        "Wie hoch sind die Sparzinsen?",
        "¿Qué interés paga la cuenta de ahorro?",
        "Why did my savings interest go down?",
        "savings rate",
        "I have 50,000 sitting in savings, what is the best rate you can offer me for a year?",
    ],
    "tax_certificate": [
        "Where is my annual tax certificate?",
        "I need the tax statement for my investments",
        "tax certificate",
        "When will you send the tax documents for last year?",
        "Can I get a certificate of interest paid for my tax return?",
        "Ich brauche die Jahressteuerbescheinigung.",
        "J'ai besoin de mon attestation fiscale.",
        "The capital gains report is missing from my documents",
        "tax form download",
        "My tax adviser asks for the year-end tax certificate showing dividends and withholding tax.",
    ],
}


def main() -> None:
    rng = random.Random(17)
    train: list[tuple[str, str]] = []
    test: list[tuple[str, str]] = []
    for label, texts in INTENTS.items():
        shuffled = texts[:]
        rng.shuffle(shuffled)
        train += [(t, label) for t in shuffled[:4]]
        test += [(t, label) for t in shuffled[4:]]
    for name, rows in (("intents_train.csv", train), ("intents_test.csv", test)):
        rng.shuffle(rows)
        with (HERE / name).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(rows)


if __name__ == "__main__":
    main()
