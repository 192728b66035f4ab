"""gateway/bot/intents.py and the text analysis under it, table by table:
requests for a person in each language the engine reads, the concepts
(problems whatever the words), asked-about versus asked-for topics,
dismissed topics, typo correction and the language guess."""

from __future__ import annotations

import re

import pytest

from gateway.bot import intents
from gateway.bot.text import LANGUAGES, fold, language, normalize
from gateway.bot.triggers import _Text


def parts(text: str) -> list[tuple[str, bool]]:
    """The sentences as the engine hands them to intents."""
    return _Text(text).questioned_parts


def asks_for_person(text: str) -> bool:
    return any(intents.person_request(part) for part, _ in parts(text))


# --- a person ---------------------------------------------------------------------------------

PERSON_REQUESTS = [
    # English, with typos and one-word cries
    "stop. operator.", "agent!", "I need help speaking to a bloody live agent", "i do not know how to chat with somenoe",
    "help me contact somebody", "transfer me to the spa team", "put me through to the returns team",
    "have someone contact me please", "get a manager on the line", "where can I find a real person to talk to",
    "I don't want to talk to a bot", "I really want to stop talking to bots, get me to someone else!",
    "I don't feel comfortable sharing my personal details with a machine",
    # Spanish, French, German, Portuguese, Italian, Dutch
    "Quiero hablar con una persona", "¿Puedo hablar con un asesor?", "humano", "no quiero hablar con un bot",
    "Je voudrais parler à un conseiller", "un conseiller s'il vous plaît", "il y a quelqu'un ?",
    "Ich möchte mit einem Mitarbeiter sprechen", "Kundenservice bitte", "ich möchte keinen Bot, sondern einen Menschen",
    "Quero falar com um atendente", "tem algum atendente disponível?",
    "Vorrei parlare con un operatore", "c'è qualcuno?",
    "Ik wil met een medewerker spreken", "Kan ik iemand spreken?",
    # Arabic, Hindi (romanized and Devanagari), Turkish
    "أريد التحدث مع موظف", "مندوب", "عايز أكلم حد من خدمة العملاء",
    "agent se baat karao", "मुझे किसी एजेंट से बात करनी है", "insaan chahiye",
    "Müşteri temsilcisiyle görüşmek istiyorum", "temsilci", "botla konuşmak istemiyorum",
]
NOT_PERSON_REQUESTS = [
    "my travel agent booked it", "I talked to someone on the phone last week", "can I have someone else sign for it?",
    "Do I need to speak to a representative to change my pin?", "I'm not a bot", "the post office",
    "Call the post office for me?", "I don't need a human, just tell me the shipping cost",
    "Hablé con un agente ayer", "J'ai discuté avec une personne au magasin", "ich brauche keinen Mitarbeiter, danke",
    "Ich habe gestern mit jemandem gesprochen", "Falei com um atendente ontem", "Ho già parlato con un operatore",
    "Ik heb gisteren al met een medewerker gesproken", "تكلمت مع موظف أمس", "maine kal agent se baat ki thi",
    "mujhe agent nahi chahiye", "Dün bir temsilciyle konuştum", "temsilciye gerek yok, teşekkürler",
]


@pytest.mark.parametrize("text, fires", [pytest.param(text, True, id=f"person: {text}") for text in PERSON_REQUESTS]
                         + [pytest.param(text, False, id=f"no person: {text}") for text in NOT_PERSON_REQUESTS])
def test_person_request(text, fires):
    assert asks_for_person(text) == fires


def test_a_refusal_of_the_bot_says_so():
    [(part, _)] = parts("I don't want to talk to a bot")
    assert intents.person_request(part) == ("dont want to talk to a bot", "refused_bot")


@pytest.mark.parametrize("text, accepts", [
    ("yes please", True), ("sí, por favor", True), ("oui merci", True), ("ja bitte", True), ("evet lütfen", True),
    ("haan ji", True), ("نعم من فضلك", True), ("no thanks", False), ("yes I found my order number", False),
])
def test_yes_to_an_offer_in_the_languages_read(text, accepts):
    assert bool(intents.ACCEPTS_OFFER.match(normalize(text))) == accepts


# --- concepts ---------------------------------------------------------------------------------

CONCEPT_CASES = {
    "card_lost_or_stolen": (["I lost my card", "my wallet was stolen", "i need to report credit card theft",
                             "Me robaron la cartera", "Kartım çalındı", "mera card kho gaya", "ضاعت بطاقتي مني"],
                            ["I lost my way to the showroom", "I lost my receipt", "my card wasn't stolen",
                             "no me robaron la tarjeta"]),
    "card_misuse": (["I think someone else is using my card", "someone may have gained access to the info on my card",
                     "jemand hat meine Karte benutzt", "حد استخدم بطاقتي بدون إذن"],
                    ["Can my husband use my account to order?", "can someone else pick up my order?"]),
    "unrecognized_payment": (["there is a payment I didn't make", "I don't recognize this charge",
                              "There is a odd withdrawal on my account", "The app says I got cash from an ATM but I "
                              "didn't", "Hay un cargo en mi tarjeta que no reconozco", "لم أدفع هذه البطاقة"],
                             ["I don't know how to list the payment methods", "my payment failed"]),
    "account_takeover": (["I think someone stole my password and changed my email",
                          "my email was changed and it wasn't me", "I got a password reset email I didn't ask for",
                          "there's a login from another country on my account"],
                         ["I changed my email yesterday, how do I confirm it?", "I didn't get the reset email"]),
    "account_locked": (["my account is locked", "How do I get my PIN unblocked?", "please freeze my card",
                        "too many wrong PIN attempts", "the ATM kept my card", "Mein Konto ist gesperrt", "حسابي محظور"],
                       ["How do I lock my screen?", "I blocked the delivery driver's number",
                        "account is not locked"]),
    "double_charge": (["I was charged twice", "One of my payments was doubled", "me cobraron dos veces",
                       "iki kez ücret alındı"],
                      ["I paid for two items", "can I pay twice a month?"]),
    "account_closure": (["delete my account", "borren mi cuenta", "hesabımı silin", "احذفوا حسابي"],
                        ["delete the item from my cart"]),
    "unwanted_order": (["I don't want this order anymore", "I can no longer afford order 7322"],
                       ["I don't want a bag with my order"]),
}


@pytest.mark.parametrize("concept, text, fires", [
    pytest.param(concept, text, fires, id=f"{concept} {'fires' if fires else 'quiet'}: {text}")
    for concept, (fire, quiet) in CONCEPT_CASES.items()
    for text, fires in [(case, True) for case in fire] + [(case, False) for case in quiet]
])
def test_concept(concept, text, fires):
    pattern = re.compile(intents.CONCEPTS[concept])
    found = [match for part, _ in parts(text) for match in pattern.finditer(part)
             if not intents.dismissed(part, *match.span())]
    assert bool(found) == fires, found


# --- asked about, or asked for ----------------------------------------------------------------

TOPIC = re.compile(r"\b(?:refund\w*|money back|cancel\w*|reembols\w*|cancelar|annuler|rembours\w*|kundigen"
                   r"|ruckerstattung|iade|cancel|\S*استرداد\S*|\S*الغاء\S*)\b")
ASKED = [
    "What is your refund policy?", "can I cancel anytime?", "Which plans can I cancel anytime?",
    "How do I cancel an item in my cart before checkout?", "help me see in what cases I can ask for refunds, please",
    "in which cases can I ask for refunds help me", "are gift cards refundable?", "how long does a refund take?",
    "I want to see your money back policy", "what happens if I cancel after it ships?",
    "¿Cuál es su política de reembolsos?", "¿Puedo cancelar en cualquier momento?", "Puis-je annuler à tout moment ?",
    "Kann ich jederzeit kündigen?", "refund kaise milta hai?", "iade ne kadar sürer?", "ما هي سياسة الاسترداد؟",
]
ASKED_FOR = [
    "I want my money back", "cancel my order 4512", "refund the delivery fee, it arrived late", "Can I get my money "
    "back?", "can you refund the $40 you charged me", "I need help to request compensation for my refund",
    "I would really appreciate it if I could get a full refund", "I'm cancelling this charge",
    "Quiero que me devuelvan el dinero y el reembolso", "Je veux annuler", "Ich möchte mein Abo kündigen",
    "mujhe mera refund chahiye", "Paramı iade edin", "أريد استرداد أموالي", "أريد إلغاء اشتراكي",
]


@pytest.mark.parametrize("text, asked", [pytest.param(text, True, id=f"asked: {text}") for text in ASKED]
                         + [pytest.param(text, False, id=f"asked for: {text}") for text in ASKED_FOR])
def test_read_topic(text, asked):
    verdicts = []
    for part, question_mark in parts(text):
        for match in TOPIC.finditer(part):
            start, end = match.span()
            verdicts.append(intents.names_a_rule(part, start, end)
                            or intents.read_topic(part, start, end, question_mark).asked)
    assert verdicts, "the table's topic pattern should find the topic"
    assert all(verdicts) if asked else not all(verdicts)


@pytest.mark.parametrize("text, topic_words, dismissed", [
    ("I don't want a refund, just a replacement", "refund", True),
    ("it's not an emergency", "emergency", True),
    ("I'm not cancelling, just asking", "cancelling", True),
    ("No quiero un reembolso", "reembolso", True),
    ("I didn't get my refund", "refund", False),
    ("I can't cancel my order, the button is broken", "cancel", False),
])
def test_dismissed(text, topic_words, dismissed):
    [(part, _)] = parts(text)
    start = part.index(fold(topic_words))
    assert intents.dismissed(part, start, start + len(topic_words)) == dismissed


@pytest.mark.parametrize("text, topic_words, names", [
    ("is the outage page updated automatically", "outage", True),
    ("what is the cancellation fee", "cancellation", True),
    ("politica de reembolso", "reembolso", True),
    ("is there a fraud protection guarantee", "fraud", True),
    ("someone made a fraudulent charge on my card", "fraudulent", False),
    ("what is the process for reporting my card as lost", "reporting my card as lost", False),
])
def test_names_a_rule(text, topic_words, names):
    start = text.index(topic_words)
    assert intents.names_a_rule(text, start, start + len(topic_words)) == names


# --- typos and language -------------------------------------------------------------------------

@pytest.mark.parametrize("word, read_as", [
    ("somenoe", "someone"), ("ooerator", "operator"), ("reimbvurse", "reimburse"), ("casnceling", "canceling"),
    ("reabting", "rebating"),
    # real words and inflections stay themselves
    ("contract", "contract"), ("walking", "walking"), ("sparking", "sparking"), ("transactions", "transactions"),
    ("someone", "someone"), ("shop", "shop"),
])
def test_typos_of_key_words(word, read_as):
    assert intents.corrected(word) == read_as


@pytest.mark.parametrize("text, code", [
    ("Where is my order? I want to know when it arrives", "en"), ("¿Dónde está mi pedido? Quiero saberlo", "es"),
    ("Bonjour, je voudrais annuler ma commande", "fr"), ("Ich möchte meine Bestellung stornieren", "de"),
    ("Olá, quero cancelar o meu pedido", "pt"), ("Ciao, vorrei annullare il mio ordine", "it"),
    ("Hallo, ik wil mijn bestelling annuleren", "nl"), ("أريد إلغاء طلبي", "ar"), ("mujhe mera order cancel karna hai",
                                                                                 "hi"),
    ("मुझे ऑर्डर रद्द करना है", "hi"), ("Siparişimi iptal etmek istiyorum", "tr"), ("ok", None), ("12345", None),
])
def test_language(text, code):
    assert language(text) == code and (code is None or code in LANGUAGES)


def test_hindi_words_keep_their_vowel_signs():
    assert normalize("बात करनी है") == "बात करनी है"
