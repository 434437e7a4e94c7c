"""Writes bench/data/draft_cases.jsonl: labelled cases for the suggested-reply drafts.

Each case: the client's latest message (`question`, in the client's own words and language),
the best source a search returned (`source_question`: what that other client asked;
`source_answer`: what the firm replied, with its greeting and signature), `label`
(`acceptable` when the source's answer does answer this question, `unacceptable` when it
answers something else), and `foreign_facts`: every detail of the source that belongs to the
other client or agent (amounts, account and reference numbers, names, dates) and must never
appear in a draft for this client. Written by hand for this project from wealth-management
support mail; the scenarios are not drawn from the demo seed's templates.
"""

from __future__ import annotations

import json
from pathlib import Path

CASES: list[dict] = []


def case(
    lang: str,
    question: str,
    source_question: str,
    source_answer: str,
    label: str,
    foreign: list[str],
    client: str = "Ada Lovelace",
    agent: str = "Sam Rivera",
    kind: str = "resolved_ticket",
) -> None:
    CASES.append(
        {
            "id": f"c{len(CASES) + 1:03d}",
            "lang": lang,
            "client_name": client,
            "source_kind": kind,
            "agent_name": agent,
            "question": question,
            "source_question": source_question,
            "source_answer": source_answer,
            "label": label,
            "foreign_facts": foreign,
        }
    )


# --- withdrawals and transfers -----------------------------------------------------------
W_Q = "Please pay out 259,000 SGD from my portfolio to my DBS account. When will it arrive?"
W_A = (
    "Dear Mei,\nThank you for your request. The withdrawal of 259,000 SGD has been "
    "submitted under reference WD-00012404 and should settle within two business days, on "
    "14 March 2025. You will receive a confirmation by email.\nKind regards,\nJames Carter"
)
W_F = ["259,000", "WD-00012404", "Mei", "James Carter", "14 March 2025"]
case(
    "en",
    "Hello, I would like to withdraw 411,000 EUR to my usual bank account. When will "
    "the money be there?",
    W_Q,
    W_A,
    "acceptable",
    W_F,
)
case(
    "en",
    "hi, need 25k GBP out of the account asap, how long does a withdrawal take?",
    W_Q,
    W_A,
    "acceptable",
    W_F,
)
case(
    "de",
    "Guten Tag, ich möchte 80.000 CHF von meinem Depot auf mein Konto überweisen "
    "lassen. Wann kommt das Geld an?",
    W_Q,
    W_A,
    "acceptable",
    W_F,
)
case(
    "fr",
    "Bonjour, je souhaite retirer 150 000 EUR de mon compte d'investissement. Quel est le délai ?",
    W_Q,
    W_A,
    "acceptable",
    W_F,
)
case(
    "es",
    "Hola, quiero retirar 40.000 USD de mi cuenta. ¿Cuándo llegará el dinero?",
    W_Q,
    W_A,
    "acceptable",
    W_F,
)
case(
    "en",
    "Could you please tell me what my current portfolio performance is this year?",
    W_Q,
    W_A,
    "unacceptable",
    W_F,
)

T_Q = "My transfer of USD 1,200,000 has not arrived at Chase yet, where is it?"
T_A = (
    "Dear Mr Okafor,\nI checked with our payments team: the transfer of USD 1,200,000 left "
    "us on 3 February and carries reference TRF-2025-00981. Your bank should credit account "
    "ending 4471 by tomorrow.\nBest regards,\nPriya Shah\nClient Services"
)
T_F = ["1,200,000", "TRF-2025-00981", "Okafor", "Priya Shah", "3 February", "4471"]
case(
    "en",
    "The 50,000 EUR I asked you to send last week still has not reached my bank. Can "
    "you check where it is?",
    T_Q,
    T_A,
    "acceptable",
    T_F,
)
case(
    "en",
    "where is my money?? transfer of £7,500 requested on monday, nothing at Barclays",
    T_Q,
    T_A,
    "acceptable",
    T_F,
)
case(
    "de",
    "Die Überweisung über 12.000 EUR ist noch nicht auf meinem Konto eingegangen. "
    "Können Sie das prüfen?",
    T_Q,
    T_A,
    "acceptable",
    T_F,
)
case(
    "nl",
    "Mijn overboeking van 9.000 EUR is nog steeds niet aangekomen. Kunt u nagaan waar die is?",
    T_Q,
    T_A,
    "acceptable",
    T_F,
)
case("en", "Can I set up a monthly standing order into my ISA?", T_Q, T_A, "unacceptable", T_F)
case(
    "en",
    "Which currency will my withdrawal be paid in if my account is in CHF?",
    T_Q,
    T_A,
    "unacceptable",
    T_F,
)

# --- bank details ------------------------------------------------------------------------
B_Q = "Please change my payout account to IBAN DE89 3704 0044 0532 0130 00."
B_A = (
    "Dear Lars,\nWe received your form. Bank detail changes are confirmed by a call back to "
    "your registered number +49 30 1234567 before they take effect; the new account "
    "DE89 3704 0044 0532 0130 00 will be used from 1 April 2025.\nBest,\nElena Rossi"
)
B_F = [
    "DE89 3704 0044 0532 0130 00",
    "DE89370400440532013000",
    "Lars",
    "Elena Rossi",
    "+49 30 1234567",
    "1 April 2025",
]
case(
    "en",
    "I have a new bank account, IBAN GB33 BUKB 2020 1555 5555 55. Please use it for "
    "future payouts.",
    B_Q,
    B_A,
    "acceptable",
    B_F,
)
case(
    "fr",
    "Merci de remplacer mon compte de versement par le IBAN FR76 3000 6000 0112 3456 7890 189.",
    B_Q,
    B_A,
    "acceptable",
    B_F,
)
case(
    "en", "How do I update the bank account my dividends are paid to?", B_Q, B_A, "acceptable", B_F
)
case(
    "es",
    "Quiero cambiar la cuenta bancaria para los pagos, ¿qué tengo que hacer?",
    B_Q,
    B_A,
    "acceptable",
    B_F,
)
case("en", "Is the change of my bank details active now?", B_Q, B_A, "unacceptable", B_F)

# --- KYC and documents ---------------------------------------------------------------------
K_Q = "Which documents do you accept as proof of address? I moved to Zurich recently."
K_A = (
    "Dear Hannah,\nWe accept a utility bill or bank statement dated within the last three "
    "months. You can upload it securely through the client portal; please quote case "
    "KYC-7781 when you do.\nBest,\nTomas Novak"
)
K_F = ["Hannah", "Tomas Novak", "KYC-7781"]
case("en", "What can I send you as proof of my new address?", K_Q, K_A, "acceptable", K_F)
case(
    "de",
    "Welche Dokumente akzeptieren Sie als Adressnachweis? Ich bin umgezogen.",
    K_Q,
    K_A,
    "acceptable",
    K_F,
)
case(
    "it",
    "Quali documenti accettate come prova di residenza? Ho cambiato casa.",
    K_Q,
    K_A,
    "acceptable",
    K_F,
)
case(
    "en",
    "Is the review complete? I need to place a trade this week.",
    K_Q,
    K_A,
    "unacceptable",
    K_F,
)
case(
    "en",
    "Has my KYC review been completed yet? It has been two weeks.",
    K_Q,
    K_A,
    "unacceptable",
    K_F,
)
case(
    "fr",
    "Est-ce que la vérification de mes documents est terminée ?",
    K_Q,
    K_A,
    "unacceptable",
    K_F,
)

R_Q = "I uploaded my new passport yesterday. Is the review complete?"
R_A = (
    "Dear Aisha,\nThank you, we received your passport (number X1234567) on 2 June 2025 and "
    "our compliance team completed the review today. No further action is needed; your "
    "account is fully active again.\nKind regards,\nOmar Haddad"
)
R_F = ["Aisha", "X1234567", "2 June 2025", "Omar Haddad"]
case(
    "en", "Is the review complete? I need to place a trade this week.", R_Q, R_A, "acceptable", R_F
)
case("en", "Have you finished checking the passport I sent?", R_Q, R_A, "acceptable", R_F)
case(
    "de", "Ist die Prüfung meiner Unterlagen inzwischen abgeschlossen?", R_Q, R_A, "acceptable", R_F
)
case("en", "Which documents do you accept as proof of address?", R_Q, R_A, "unacceptable", R_F)
case(
    "en",
    "My passport expires next month. Do I need to send you the new one?",
    R_Q,
    R_A,
    "unacceptable",
    R_F,
)

# --- estates and inheritance --------------------------------------------------------------
E_Q = "I am writing about the estate of my late mother, Margaret Byrne. What is the process?"
E_A = (
    "Dear Siobhan,\nI am very sorry for your loss. We will need the death certificate and "
    "the grant of probate for account 55-210987-3; I have attached a checklist. Your case "
    "number is EST-00412.\nWith sympathy,\nDaniel Weber\nEstates Team"
)
E_F = ["Siobhan", "Margaret Byrne", "55-210987-3", "EST-00412", "Daniel Weber"]
case(
    "en",
    "My father passed away last month and held an account with you. What do I need to do?",
    E_Q,
    E_A,
    "acceptable",
    E_F,
)
case(
    "de",
    "Mein Vater ist verstorben, er hatte ein Depot bei Ihnen. Wie ist das Vorgehen?",
    E_Q,
    E_A,
    "acceptable",
    E_F,
)
case(
    "fr",
    "Ma mère est décédée et avait un compte chez vous. Quelle est la procédure ?",
    E_Q,
    E_A,
    "acceptable",
    E_F,
)
case(
    "en",
    "How long will the estate process take in total? We sent probate in May.",
    E_Q,
    E_A,
    "unacceptable",
    E_F,
)
case("en", "Can I add my daughter as a joint holder on my account?", E_Q, E_A, "unacceptable", E_F)

# --- fees and statements ------------------------------------------------------------------
F_Q = "The fee on my Q3 statement is CHF 4,812.50, much higher than last quarter. Why?"
F_A = (
    "Dear Dr. Fischer,\nThe difference comes from a performance fee of CHF 4'812.50 on the "
    "alternative fund, as set out in its terms dated 01.07.2024. Your account 0098-776512 "
    "was charged on 30 September. I have attached the calculation.\nRegards,\nLuca Bianchi"
)
F_F = [
    "4,812.50",
    "4'812.50",
    "Fischer",
    "01.07.2024",
    "0098-776512",
    "30 September",
    "Luca Bianchi",
]
case(
    "en",
    "Why is the fee on my latest statement so much higher than last quarter?",
    F_Q,
    F_A,
    "acceptable",
    F_F,
)
case(
    "en",
    "I was charged €2.310,00 in fees this quarter vs €900 before. Please explain.",
    F_Q,
    F_A,
    "acceptable",
    F_F,
)
case(
    "de",
    "Warum sind die Gebühren auf meiner letzten Abrechnung so viel höher?",
    F_Q,
    F_A,
    "acceptable",
    F_F,
)
case(
    "en",
    "Can you send me last year's tax statement for my accountant?",
    F_Q,
    F_A,
    "unacceptable",
    F_F,
)
case(
    "en",
    "How do I close my account and move everything to another bank?",
    F_Q,
    F_A,
    "unacceptable",
    F_F,
)

S_Q = "My accountant needs the annual tax statement for 2024. Can you send it?"
S_A = (
    "Hi Noah,\nThe 2024 annual tax statement for portfolio P-448120 is now available in the "
    "documents section of the portal, published on 15 January 2025. Let me know if your "
    "accountant needs anything else.\nCheers,\nGrace Kim\n\nSent from the client service "
    "desk"
)
S_F = ["Noah", "P-448120", "15 January 2025", "Grace Kim"]
case("en", "Where can I find my tax statement for last year?", S_Q, S_A, "acceptable", S_F)
case(
    "en",
    "my tax advisor is asking for the annual tax certificate, can you help?",
    S_Q,
    S_A,
    "acceptable",
    S_F,
)
case(
    "es",
    "Mi contable necesita el certificado fiscal anual. ¿Dónde lo encuentro?",
    S_Q,
    S_A,
    "acceptable",
    S_F,
)
case(
    "en",
    "Why is the fee on my latest statement higher than last quarter?",
    S_Q,
    S_A,
    "unacceptable",
    S_F,
)
case(
    "en",
    "The dividend from Nestlé shares has not been credited. Can you check?",
    S_Q,
    S_A,
    "unacceptable",
    S_F,
)

D_Q = "The dividend of 1,340.00 USD from Microsoft due on 12/06/2025 is missing."
D_A = (
    "Dear Kenji,\nThe dividend of USD 1,340.00 was booked late by the custodian; it was "
    "credited to account 7712-0045-19 on 14/06/2025 with value date 12/06/2025.\n"
    "Best wishes,\nSofia Costa"
)
D_F = ["1,340.00", "7712-0045-19", "14/06/2025", "12/06/2025", "Kenji", "Sofia Costa"]
case(
    "en",
    "I have not received the dividend from my Nestlé shares. Can you check?",
    D_Q,
    D_A,
    "acceptable",
    D_F,
)
case(
    "fr",
    "Le dividende de mes actions TotalEnergies n'a pas été versé. Pouvez-vous vérifier ?",
    D_Q,
    D_A,
    "acceptable",
    D_F,
)
case(
    "en",
    "Can I reinvest my dividends automatically instead of getting cash?",
    D_Q,
    D_A,
    "unacceptable",
    D_F,
)
case(
    "en", "When is the next dividend payment date for my bond fund?", D_Q, D_A, "unacceptable", D_F
)

# --- portfolio questions ----------------------------------------------------------------
P_Q = "Given the market moves, should we rebalance? My equity share looks too high."
P_A = (
    "Dear Charlotte,\nYour equity allocation is currently 68%, 6 points above your target of "
    "62%. I suggest rebalancing back to the agreed mix, in line with your risk profile; I "
    "can prepare a proposal for your approval by Friday 21 March.\nKind regards,\n"
    "Benjamin Moore"
)
P_F = ["Charlotte", "68%", "62%", "21 March", "Benjamin Moore"]
case(
    "en",
    "Equities have rallied a lot. Is my portfolio still in line with my target mix?",
    P_Q,
    P_A,
    "acceptable",
    P_F,
)
case(
    "de",
    "Sollten wir mein Portfolio nach den Kursgewinnen neu gewichten?",
    P_Q,
    P_A,
    "acceptable",
    P_F,
)
case(
    "en", "What would the tax impact of selling my equity funds be?", P_Q, P_A, "unacceptable", P_F
)
case("en", "Can we book a call next week to talk about my pension?", P_Q, P_A, "unacceptable", P_F)

G_Q = "I would like to move part of my portfolio into sustainable funds. What are the fees?"
G_A = (
    "Dear Ingrid,\nWe offer three ESG strategies matching your moderate risk profile. I have "
    "attached the factsheets; ongoing charges range from 0.35% to 0.60% a year. Your "
    "adviser Kwame Mensah can walk you through them.\nBest,\nFreya Larsen"
)
G_F = ["Ingrid", "Kwame Mensah", "Freya Larsen"]
case(
    "en",
    "Do you have ESG or sustainable investment options, and what do they cost?",
    G_Q,
    G_A,
    "acceptable",
    G_F,
)
case(
    "fr",
    "Proposez-vous des fonds durables (ESG) ? Quels sont les frais ?",
    G_Q,
    G_A,
    "acceptable",
    G_F,
)
case(
    "nl",
    "Hebben jullie duurzame beleggingsfondsen? Wat zijn de kosten?",
    G_Q,
    G_A,
    "acceptable",
    G_F,
)
case("en", "Please sell all my oil company shares today.", G_Q, G_A, "unacceptable", G_F)

# --- access and security ------------------------------------------------------------------
L_Q = "I cannot log in since I changed my phone. Can you reset my two-factor authentication?"
L_A = (
    "Dear Mateo,\nFor your security I have started the reset for user ID mgarcia_1987; you "
    "will receive a verification call on +34 612 345 678 before it completes, today before "
    "17:00.\nKind regards,\nYuki Tanaka\nDigital Support"
)
L_F = ["Mateo", "mgarcia_1987", "+34 612 345 678", "17:00", "Yuki Tanaka"]
case(
    "en",
    "I got a new phone and the authenticator app is gone, I can't get into the portal.",
    L_Q,
    L_A,
    "acceptable",
    L_F,
)
case(
    "de",
    "Ich habe ein neues Handy und komme nicht mehr ins Portal. Können Sie die "
    "Zwei-Faktor-Anmeldung zurücksetzen?",
    L_Q,
    L_A,
    "acceptable",
    L_F,
)
case(
    "es",
    "Cambié de móvil y no puedo entrar en el portal, ¿pueden restablecer la "
    "verificación en dos pasos?",
    L_Q,
    L_A,
    "acceptable",
    L_F,
)
case("en", "I got the call and can log in again, thanks!", L_Q, L_A, "unacceptable", L_F)
case("en", "How do I change the email address you have on file?", L_Q, L_A, "unacceptable", L_F)

# --- custody transfers --------------------------------------------------------------------
C_Q = "I would like to transfer my holdings from UBS to you. What do you need from me?"
C_A = (
    "Dear Mr. Schmidt,\nPlease sign the attached transfer authority for your UBS depot "
    "0233-456789.01; we handle the rest with your previous custodian. Transfers usually "
    "complete in two to four weeks, so we expect yours by 30.05.2025.\nMit freundlichen "
    "Grüßen,\nAnika Jensen"
)
C_F = ["Schmidt", "0233-456789.01", "30.05.2025", "Anika Jensen"]
case(
    "en",
    "How do I move my investments from my current bank to your firm?",
    C_Q,
    C_A,
    "acceptable",
    C_F,
)
case(
    "de",
    "Ich möchte mein Depot von der Commerzbank zu Ihnen übertragen. Was brauchen Sie?",
    C_Q,
    C_A,
    "acceptable",
    C_F,
)
case(
    "fr",
    "Je voudrais transférer mon portefeuille de BNP Paribas chez vous. Que faut-il ?",
    C_Q,
    C_A,
    "acceptable",
    C_F,
)
case(
    "en",
    "The signed transfer form is uploaded. How long will the whole transfer take?",
    C_Q,
    C_A,
    "unacceptable",
    C_F,
)

# --- complaints and closure ---------------------------------------------------------------
X_Q = "I want to complain about the execution price of my sale of 2,000 Roche shares."
X_A = (
    "Dear Fatima,\nI am sorry to hear this. I have logged your complaint as CMP-2025-0077 and "
    "our dealing desk will review the execution of order 884120 of 11 April within eight "
    "weeks, as our complaints procedure sets out.\nRegards,\nSven Lindqvist"
)
X_F = ["Fatima", "CMP-2025-0077", "884120", "11 April", "Sven Lindqvist"]
case(
    "en",
    "I am unhappy with the price I got when you sold my bonds. I want to complain.",
    X_Q,
    X_A,
    "acceptable",
    X_F,
)
case(
    "de",
    "Ich möchte mich über den Ausführungskurs meines Verkaufs beschweren.",
    X_Q,
    X_A,
    "acceptable",
    X_F,
)
case(
    "en", "Please close my account and send the balance to my bank.", X_Q, X_A, "unacceptable", X_F
)

Z_Q = "Please close my account and transfer the balance of EUR 18,250.75 to my bank."
Z_A = (
    "Dear Pablo,\nWe have received your request to close account 3310-22. The closing "
    "balance of EUR 18,250.75 will be paid to IBAN ES91 2100 0418 4502 0005 1332 within five "
    "business days, and you will get a final statement on 30 June 2025.\nKind regards,\n"
    "Chiara Rossi"
)
Z_F = [
    "Pablo",
    "3310-22",
    "18,250.75",
    "ES91 2100 0418 4502 0005 1332",
    "30 June 2025",
    "Chiara Rossi",
]
case(
    "en",
    "I would like to close my account with you. What happens to my balance?",
    Z_Q,
    Z_A,
    "acceptable",
    Z_F,
)
case("es", "Quiero cerrar mi cuenta. ¿Cómo recibo el saldo?", Z_Q, Z_A, "acceptable", Z_F)
case(
    "it", "Vorrei chiudere il mio conto. Come ricevo il saldo residuo?", Z_Q, Z_A, "acceptable", Z_F
)
case("en", "I am unhappy with the execution price of my last trade.", Z_Q, Z_A, "unacceptable", Z_F)

# --- power of attorney, beneficiaries, pensions ------------------------------------------
A_Q = "My son will manage my account. What do you need for a power of attorney?"
A_A = (
    "Dear Mrs Walsh,\nWe need the original lasting power of attorney, certified copies of "
    "your son Patrick Walsh's passport and proof of address. Our legal team registers it "
    "within ten business days under reference POA-33190.\nKind regards,\nRiley Evans"
)
A_F = ["Walsh", "Patrick", "POA-33190", "Riley Evans"]
case(
    "en",
    "My daughter holds a power of attorney for me. What do you need to register it?",
    A_Q,
    A_A,
    "acceptable",
    A_F,
)
case(
    "de",
    "Meine Tochter soll eine Vollmacht für mein Konto bekommen. Was benötigen Sie?",
    A_Q,
    A_A,
    "acceptable",
    A_F,
)
case("en", "How do I change the beneficiary of my pension plan?", A_Q, A_A, "unacceptable", A_F)

N_Q = "How do I change the beneficiary of my pension plan?"
N_A = (
    "Dear Leila,\nYou can change your beneficiary with the nomination form in the portal. "
    "Your current nomination for plan PEN-551203, in favour of Tariq Khan, stays valid until "
    "we receive the new form.\nBest regards,\nNathan Hughes"
)
N_F = ["Leila", "PEN-551203", "Tariq Khan", "Nathan Hughes"]
case(
    "en",
    "I would like to name my wife as beneficiary of my pension instead of my brother.",
    N_Q,
    N_A,
    "acceptable",
    N_F,
)
case("fr", "Comment changer le bénéficiaire de mon plan de retraite ?", N_Q, N_A, "acceptable", N_F)
case(
    "en",
    "Can I increase my monthly pension contribution to 1,000 GBP?",
    N_Q,
    N_A,
    "unacceptable",
    N_F,
)

M_Q = "Can I increase my monthly pension contribution from 500 to 750 GBP?"
M_A = (
    "Dear Oliver,\nYes. I have updated your monthly contribution to £750.00 from the "
    "collection on 1st August 2025; the direct debit from sort code 20-00-00 account "
    "55779911 changes automatically.\nKind regards,\nIsla Fraser"
)
M_F = ["Oliver", "£750.00", "750", "1st August 2025", "20-00-00", "55779911", "Isla Fraser"]
case(
    "en",
    "I want to raise my monthly pension payments to 1,200 GBP. Is that possible?",
    M_Q,
    M_A,
    "acceptable",
    M_F,
)
case("en", "How do I change the beneficiary of my pension plan?", M_Q, M_A, "unacceptable", M_F)

# --- FAQ-style sources (no signature, still carries specifics) -----------------------------
O_Q = "What are your phone opening hours?"
O_A = (
    "Our client service desk is open Monday to Friday, 8:00 to 18:00 CET, on "
    "+41 44 555 01 00. Outside these hours you can leave a message in the portal."
)
O_F = []
case("en", "When can I reach you by phone?", O_Q, O_A, "acceptable", O_F, kind="faq")
case(
    "de", "Wann ist Ihre telefonische Hotline erreichbar?", O_Q, O_A, "acceptable", O_F, kind="faq"
)
case(
    "en",
    "I cannot log in to the portal since this morning.",
    O_Q,
    O_A,
    "unacceptable",
    O_F,
    kind="faq",
)

# --- status follow-ups vs first requests --------------------------------------------------
U_Q = "I still do not see the funds. Is there anything else you need from me?"
U_A = (
    "Dear Harper,\nNothing else is needed. The payment of AUD 62,000 was released on "
    "Tuesday 8 April with reference WD-00013377; please allow one more business day for "
    "your bank to credit it.\nBest regards,\nJulian King"
)
U_F = ["Harper", "62,000", "8 April", "WD-00013377", "Julian King"]
case(
    "en",
    "The withdrawal still hasn't arrived. Do you need anything else from me?",
    U_Q,
    U_A,
    "acceptable",
    U_F,
)
case(
    "en", "funds still not in my account, anything missing on my side?", U_Q, U_A, "acceptable", U_F
)
case(
    "de",
    "Das Geld ist immer noch nicht da. Brauchen Sie noch etwas von mir?",
    U_Q,
    U_A,
    "acceptable",
    U_F,
)
case(
    "en",
    "I would like to withdraw 30,000 AUD. What is the cut-off time for same-day payment?",
    U_Q,
    U_A,
    "unacceptable",
    U_F,
)

V_Q = "Could you confirm which account the withdrawal will be paid into?"
V_A = (
    "Dear Amelia,\nThe withdrawal will be paid to your registered account at Lloyds, "
    "IBAN GB29 NWBK 6016 1331 9268 19, the only payout account on file since 2 May 2023.\n"
    "Kind regards,\nEthan Clark"
)
V_F = [
    "Amelia",
    "GB29 NWBK 6016 1331 9268 19",
    "GB29NWBK60161331926819",
    "2 May 2023",
    "Ethan Clark",
]
case("en", "Which bank account will you pay the money into?", V_Q, V_A, "acceptable", V_F)
case("fr", "Sur quel compte le retrait sera-t-il versé ?", V_Q, V_A, "acceptable", V_F)
case(
    "en",
    "Can I have the withdrawal paid to my wife's account instead?",
    V_Q,
    V_A,
    "unacceptable",
    V_F,
)

# --- thanks / closing messages vs substantive sources ------------------------------------
H_Q = "Received, thank you for the quick help."
H_A = (
    "Dear Victoria,\nYou are welcome. I have closed ticket #48213; reply to this email if "
    "anything else comes up.\nBest,\nIsaac Turner"
)
H_F = ["Victoria", "#48213", "48213", "Isaac Turner"]
case("en", "Got it, many thanks for sorting this out so fast!", H_Q, H_A, "acceptable", H_F)
case("de", "Vielen Dank für die schnelle Hilfe, alles angekommen.", H_Q, H_A, "acceptable", H_F)
case("en", "Thanks. Also, can you tell me my current cash balance?", H_Q, H_A, "unacceptable", H_F)

# --- meetings -----------------------------------------------------------------------------
Y_Q = "Could we schedule a call to discuss my portfolio next week?"
Y_A = (
    "Dear Mr. Nguyen,\nOf course. I have booked a call with your adviser Dr. Elena Petrova "
    "for Thursday 10:00 on 17 April; the dial-in is 0800 123 4567, PIN 9921.\n"
    "Kind regards,\nZoe Baker"
)
Y_F = [
    "Nguyen",
    "Elena Petrova",
    "Petrova",
    "17 April",
    "0800 123 4567",
    "9921",
    "Zoe Baker",
    "Thursday 10:00",
]
case(
    "en",
    "Can I speak with my adviser about my investments sometime next week?",
    Y_Q,
    Y_A,
    "acceptable",
    Y_F,
)
case(
    "es",
    "¿Podemos concertar una llamada con mi asesor la próxima semana?",
    Y_Q,
    Y_A,
    "acceptable",
    Y_F,
)
case(
    "en",
    "Please cancel the call we had planned, I'll be travelling.",
    Y_Q,
    Y_A,
    "unacceptable",
    Y_F,
)

# --- more variety in amounts and references ----------------------------------------------
I_Q = "Please buy 10,000 USD of the MSCI World ETF for me."
I_A = (
    "Dear Elijah,\nYour order O-2025-118842 to buy USD 10,000.00 of the MSCI World ETF was "
    "executed at 10:42 on 09/05/2025 at 98.34 per unit; the contract note is in the portal "
    "as usual.\nBest regards,\nAva Mitchell"
)
I_F = ["Elijah", "O-2025-118842", "10,000.00", "10:42", "09/05/2025", "98.34", "Ava Mitchell"]
case(
    "en",
    "I placed an order to buy 5k EUR of the world equity ETF yesterday. Has it been executed?",
    I_Q,
    I_A,
    "acceptable",
    I_F,
)
case(
    "de",
    "Wurde meine Kauforder über 20.000 EUR für den MSCI-World-ETF ausgeführt?",
    I_Q,
    I_A,
    "acceptable",
    I_F,
)
case("en", "What does the MSCI World ETF cost in annual fees?", I_Q, I_A, "unacceptable", I_F)

J_Q = "My salary of AED 85,000 came in. Please invest half in the balanced fund."
J_A = (
    "Dear Zainab,\nWe invested AED 42,500 in the balanced fund on 22 Jan 2025 under "
    "instruction INV-0099812, in line with your risk profile. Please note the value of "
    "investments can fall as well as rise.\nKind regards,\nSebastian Hall"
)
J_F = ["Zainab", "42,500", "85,000", "22 Jan 2025", "INV-0099812", "Sebastian Hall"]
case(
    "en",
    "I received a bonus of AED 120,000 and want to invest some of it in the balanced "
    "fund. Can you do that?",
    J_Q,
    J_A,
    "acceptable",
    J_F,
)
case(
    "fr",
    "J'ai reçu 60 000 EUR, pouvez-vous en investir une partie dans le fonds équilibré ?",
    J_Q,
    J_A,
    "acceptable",
    J_F,
)
case(
    "en",
    "Can you explain the difference between the balanced and the growth fund?",
    J_Q,
    J_A,
    "unacceptable",
    J_F,
)

# --- currency conversions ----------------------------------------------------------------
Q_Q = "Please convert 1.5m JPY into EUR in my account."
Q_A = (
    "Dear Hiroshi,\nWe converted JPY 1,500,000 into EUR 9,214.66 at 162.79 on "
    "28.02.2025 (deal FX-778201); the euros are in your cash account 4410-EUR.\nBest,\n"
    "Charles Edwards"
)
Q_F = [
    "Hiroshi",
    "1,500,000",
    "9,214.66",
    "162.79",
    "28.02.2025",
    "FX-778201",
    "4410-EUR",
    "Charles Edwards",
]
case("en", "Can you convert my USD cash, about 200k, into CHF?", Q_Q, Q_A, "acceptable", Q_F)
case("de", "Bitte tauschen Sie 50.000 GBP aus meinem Konto in EUR.", Q_Q, Q_A, "acceptable", Q_F)
case(
    "en",
    "What exchange rate margin do you charge on currency conversions?",
    Q_Q,
    Q_A,
    "unacceptable",
    Q_F,
)

# --- address change -----------------------------------------------------------------------
AD_Q = "I have moved to 14 Rue de Rivoli, 75001 Paris. Please update my address."
AD_A = (
    "Dear Camille,\nWe have updated your address to 14 Rue de Rivoli, 75001 Paris from "
    "3 March 2025, and statements will go there from now on.\nKind regards,\n"
    "Henry Dubois"
)
AD_F = ["Camille", "14 Rue de Rivoli", "75001", "3 March 2025", "Henry Dubois"]
case(
    "en",
    "I moved house last month. Can you update my postal address to 22 Baker Street, "
    "London NW1 6XE?",
    AD_Q,
    AD_A,
    "acceptable",
    AD_F,
)
case(
    "it", "Mi sono trasferito, potete aggiornare il mio indirizzo?", AD_Q, AD_A, "acceptable", AD_F
)
case(
    "en",
    "Which documents do you accept as proof of my new address?",
    AD_Q,
    AD_A,
    "unacceptable",
    AD_F,
)


def main() -> None:
    out = Path(__file__).with_name("draft_cases.jsonl")
    with out.open("w") as handle:
        for row in CASES:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    labels = [c["label"] for c in CASES]
    print(
        f"{len(CASES)} cases ({labels.count('acceptable')} acceptable, "
        f"{labels.count('unacceptable')} unacceptable) -> {out.name}"
    )


if __name__ == "__main__":
    main()
