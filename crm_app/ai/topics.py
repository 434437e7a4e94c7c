"""What a client message is about, across the languages a wealth firm's clients write in.

The built-in sentence model (all-MiniLM-L6) is an English model: a German or Spanish question
scores near zero against the English question that a past answer replied to, even when both ask
for the same thing. This module gives the drafting step a second, language-independent view: the
finance topics a message names (a withdrawal, a change of address, a fee) and what it asks for
about them (is it done, how long, what does it cost), from word stems in English, German,
French, Spanish, Italian, Dutch and Portuguese.

It is a vocabulary of the firm's domain, not a translation: a message in another language, or
about a topic not listed here, simply has no topics and the embedding alone decides.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

# Topic -> stems (matched at a word start, accents removed, lower case). A stem names the
# topic in one language; keep them specific enough that an unrelated message does not match.
TOPICS: dict[str, tuple[str, ...]] = {
    "withdrawal": (
        "withdraw",
        "pay out",
        "payout of",
        "auszahl",
        "abheb",
        "retir",
        "retrait",
        "prelev",
        "prelievo",
        "opname",
        "opnemen",
        "levantamento",
        "resgat",
    ),
    "incoming_transfer": (
        "transfer",
        "wire",
        "uberweis",
        "virement",
        "transferencia",
        "bonifico",
        "overboeking",
        "overschrijving",
        "transferencia",
    ),
    "portfolio_transfer": (
        "transfer my holdings",
        "transfer my portfolio",
        "move my investments",
        "depotubertrag",
        "depot von",
        "depot zu",
        "transferer mon portefeuille",
        "transferir mi cartera",
        "trasferire il mio portafoglio",
        "portefeuille over",
    ),
    "payout_account": (
        "payout account",
        "bank account my",
        "account my dividends",
        "iban",
        "bankverbindung",
        "auszahlungskonto",
        "compte de versement",
        "cuenta bancaria",
        "conto corrente",
        "rekeningnummer",
        "conta bancaria",
    ),
    "dividend": ("dividend", "dividende", "dividendo", "ausschuttung"),
    "fees": (
        "fee",
        "charge",
        "cost",
        "gebuhr",
        "kosten",
        "frais",
        "coût",
        "cout",
        "comision",
        "comisiones",
        "tarifa",
        "commissioni",
        "costi",
        "spese",
        "kosten",
        "custos",
        "taxa",
    ),
    "statement": (
        "statement",
        "abrechnung",
        "kontoauszug",
        "releve",
        "extracto",
        "estratto",
        "afschrift",
        "extrato",
    ),
    "tax": (
        "tax",
        "steuer",
        "fiscal",
        "impot",
        "impuesto",
        "tasse",
        "belasting",
        "imposto",
    ),
    "address": (
        "address",
        "moved",
        "adresse",
        "umgezogen",
        "umzug",
        "demenag",
        "direccion",
        "mudado",
        "mude",
        "indirizzo",
        "trasferit",
        "adres",
        "verhuisd",
        "endereco",
        "morada",
    ),
    "proof_documents": (
        "proof of",
        "document",
        "nachweis",
        "unterlagen",
        "dokument",
        "justificatif",
        "piece",
        "comprobante",
        "justificante",
        "documenti",
        "prova di",
        "bewijs",
        "comprovativo",
    ),
    "identity_review": (
        "review",
        "passport",
        "verification",
        "prufung",
        "verifizier",
        "reisepass",
        "verification",
        "passeport",
        "verificacion",
        "pasaporte",
        "verifica",
        "passaporto",
        "controle",
        "paspoort",
    ),
    "login": (
        "log in",
        "login",
        "sign in",
        "password",
        "portal",
        "two-factor",
        "2fa",
        "token",
        "anmeld",
        "einlogg",
        "passwort",
        "handy",
        "connect",
        "mot de passe",
        "telephone",
        "entrar",
        "contrasena",
        "movil",
        "accedere",
        "accesso",
        "inloggen",
        "wachtwoord",
        "senha",
        "telemovel",
    ),
    "beneficiary": (
        "beneficiar",
        "begunstig",
        "bezugsberecht",
        "beneficiaire",
        "beneficiario",
        "begunstigde",
    ),
    "power_of_attorney": (
        "power of attorney",
        "manage my account",
        "vollmacht",
        "procuration",
        "poder notarial",
        "poderes",
        "procura",
        "volmacht",
        "procuracao",
    ),
    "estate": (
        "estate",
        "passed away",
        "late mother",
        "late father",
        "deceased",
        "died",
        "verstorb",
        "nachlass",
        "erbe",
        "decede",
        "succession",
        "fallecid",
        "herencia",
        "decedut",
        "morto",
        "successione",
        "overleden",
        "nalatenschap",
        "falecid",
        "heranca",
    ),
    "complaint": (
        "complain",
        "unhappy",
        "beschwer",
        "reklam",
        "plainte",
        "reclam",
        "lament",
        "klacht",
        "queixa",
    ),
    "execution_price": (
        "execution price",
        "price i got",
        "ausfuhrungskurs",
        "ausfuhrungspreis",
        "prix d'execution",
        "precio de ejecucion",
        "prezzo di esecuzione",
        "uitvoeringsprijs",
    ),
    "close_account": (
        "close my account",
        "closing my account",
        "konto schliess",
        "konto aufloes",
        "konto kundig",
        "depot auflos",
        "fermer mon compte",
        "cloturer",
        "cerrar mi cuenta",
        "chiudere il mio conto",
        "chiudere il conto",
        "rekening opzeggen",
        "encerrar",
    ),
    "currency_conversion": (
        "convert",
        "exchange",
        "into chf",
        "into eur",
        "into usd",
        "tausch",
        "umtausch",
        "wechsel",
        "convertir",
        "conversion",
        "cambiar",
        "convertire",
        "cambio",
        "omwissel",
        "wisselen",
        "converter",
        "cambiar",
    ),
    "investment_order": (
        "invest",
        "buy",
        "purchase",
        "order",
        "kauf",
        "anleg",
        "investir",
        "acheter",
        "ordre",
        "comprar",
        "invertir",
        "orden",
        "investire",
        "acquist",
        "ordine",
        "beleggen",
        "kopen",
        "aankoop",
    ),
    "sell_order": ("sell", "verkauf", "vendre", "vender", "vendere", "verkopen"),
    "rebalance": (
        "rebalanc",
        "target allocation",
        "in line with my target",
        "neu gewicht",
        "umschicht",
        "reequilibr",
        "rééquilibr",
        "ribilanci",
        "herbalanc",
        "herverdel",
    ),
    "sustainable": (
        "esg",
        "sustainab",
        "nachhaltig",
        "durable",
        "sostenibl",
        "duurzam",
        "sustentav",
    ),
    "phone_hours": (
        "phone opening",
        "reach you by phone",
        "hotline",
        "telefonisch",
        "heures d'ouverture",
        "horario",
        "orari",
        "telefonisch bereikbaar",
        "opening hours",
    ),
    "appointment": (
        "call with",
        "schedule a call",
        "book a call",
        "meeting",
        "appointment",
        "termin",
        "rendez-vous",
        "rendez vous",
        "cita",
        "llamada",
        "appuntamento",
        "afspraak",
        "reuniao",
        "gesprek",
    ),
    "pension": ("pension", "retirement", "rente", "retraite", "jubilacion", "pensione"),
    "thanks": (
        "thank",
        "danke",
        "vielen dank",
        "merci",
        "gracias",
        "grazie",
        "bedankt",
        "obrigad",
    ),
}

# What is asked about the topic. "Is it done?" and "which documents?" on one topic have different
# answers; two messages that both ask something but share no act ask for different things.
ACTS: dict[str, tuple[str, ...]] = {
    "status": (
        "still not",
        "has not arrived",
        "not arrived",
        "not received",
        "not been credited",
        "is the review complete",
        "been executed",
        "immer noch nicht",
        "noch nicht",
        "ausgefuhrt",
        "abgeschlossen",
        "angekommen",
        "eingegangen",
        "pas ete",
        "pas encore",
        "toujours pas",
        "terminee",
        "termine",
        "todavia no",
        "aun no",
        "no ha llegado",
        "non e ancora",
        "non ancora",
        "nog steeds niet",
        "nog niet",
        "ainda nao",
        "any update",
        "where is",
    ),
    "duration": (
        "how long",
        "when will",
        "how soon",
        "wie lange",
        "wann",
        "combien de temps",
        "quand",
        "cuanto tarda",
        "cuando",
        "quanto tempo",
        "quando",
        "hoe lang",
        "wanneer",
        "delai",
        "dauer",
        "plazo",
        "tempi",
        "termijn",
        "prazo",
    ),
    "cost": (
        "fee",
        "cost",
        "charge",
        "gebuhr",
        "kosten",
        "frais",
        "comision",
        "costi",
        "commission",
        "spese",
        "custos",
    ),
    "how_to": (
        "how do i",
        "what do you need",
        "what do i need",
        "was brauch",
        "was benotig",
        "wie ist das",
        "wie kann",
        "que faut-il",
        "quelle est la procedure",
        "comment",
        "que tengo que",
        "que necesit",
        "como",
        "cosa serve",
        "come ",
        "wat moet",
        "hoe kan",
        "o que preciso",
        "which documents",
        "welche dokumente",
        "quels documents",
        "quali documenti",
        "que documentos",
        "vorgehen",
        "procedure",
        "procedimiento",
        "procedura",
        "procedimento",
    ),
    "thanks": ("thank", "danke", "vielen dank", "merci", "gracias", "grazie", "bedankt"),
}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def _pattern(stems: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = sorted({_fold(s) for s in stems}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(a) for a in alternatives) + ")")


def _found(text: str, table: dict[str, tuple[str, ...]]) -> set[str]:
    folded = _fold(text)
    return {name for name, stems in table.items() if _pattern(stems).search(folded)}


def topics(text: str) -> set[str]:
    """The finance topics `text` names (empty when it names none this vocabulary knows)."""
    return _found(text, TOPICS)


def acts(text: str) -> set[str]:
    """What `text` asks about its topics: status, duration, cost, how_to, thanks."""
    return _found(text, ACTS)


_ENGLISH = frozenset(
    {
        "the",
        "and",
        "is",
        "are",
        "you",
        "your",
        "my",
        "to",
        "of",
        "for",
        "i",
        "have",
        "has",
        "what",
        "when",
        "how",
        "can",
        "could",
        "please",
        "do",
        "with",
        "this",
        "that",
        "not",
        "it",
        "be",
        "will",
        "would",
    }
)


def looks_english(text: str) -> bool:
    """Whether `text` reads as English (the sentence model's language), by its function words."""
    words = re.findall(r"[a-z']+", _fold(text))
    if not words:
        return True
    share = sum(w in _ENGLISH for w in words) / len(words)
    return share >= 0.12


def agreement(question: str, source_question: str) -> float:
    """How surely two messages ask the same thing by topic and act, 0..1: 0 when they name
    no topic in common or ask different things about it."""
    mine, theirs = topics(question), topics(source_question)
    mine.discard("thanks")
    theirs.discard("thanks")
    if not mine or not theirs:
        return 0.0
    shared = mine & theirs
    if not shared:
        return 0.0
    asked, answered = acts(question), acts(source_question)
    if (asked or answered) and not asked & answered:
        return 0.0
    return len(shared) / len(mine | theirs)
