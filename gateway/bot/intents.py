"""What a customer's words ask for: a person, an action of ours, or how
something works. The trigger engine (gateway/bot/triggers.py) reads
messages through these; they are pure functions of one sentence.

A sentence here is normalized text (gateway.bot.text.normalize) with its
commas kept as "," tokens, so that a negation or a question word does not
reach across a clause ("you're not helpful , I want a person").

- person_request(sentence): the customer asks for a person, in English,
  Spanish, French, German, Portuguese, Italian, Dutch, Arabic, Hindi
  (romanized and Devanagari) or Turkish: a verb of contact aimed at a
  person ("talk to an agent", "hablar con una persona", "mit einem
  Mitarbeiter sprechen", "agent se baat karao"), a sentence that is only a
  call for one ("Operator!", "humano", "مندوب"), a question about one being
  there, or a refusal of the bot ("I don't want to talk to a bot").
  Look-alikes fail: a person-word alone in a longer sentence ("my travel
  agent booked it"), the past ("I spoke to an agent yesterday"), a
  negation ("I don't need a human"), a question of necessity ("do I need to
  speak to someone to change my PIN?").
- CONCEPTS: problems the customer has whatever their words, named in the
  bot settings' urgent topics as "@name": a lost or stolen card, someone
  else using the card or account, a payment the customer did not make, an
  account taken over, an account or card locked, a charge taken twice, an
  order the customer no longer wants. The speaker is the victim: "someone
  used my card", not "can someone else use my gift card?".
- read_topic(sentence, start, end): whether the topic words at start:end
  are asked about ("what is your refund policy?", "can I cancel
  anytime?") rather than requested or reported ("I want my money back",
  "cancel my order 4512"): the nearest question or request marker decides;
  without one the reading is a guess (sure=False).
- dismissed(sentence, start, end): the topic is named to be set aside ("I
  don't want a refund", "it's not an emergency").

Every word list is written as customers write it and folded at import as
the text is (fold), so "möchte" matches "mochte" and "أريد" matches "اريد".
"""

from __future__ import annotations

import functools
import os
import re
from typing import NamedTuple

from gateway.bot.text import fold, one_edit_away, typo_index


def _f(fragment: str) -> str:
    """A regex fragment with its non-ASCII letters folded as text is (its
    ASCII, the regex syntax, is left alone: folding would turn \\S into \\s)."""
    return "".join(ch if ch.isascii() else fold(ch) for ch in fragment)


def _any(*words: str) -> str:
    """An alternation of words or phrases (regex fragments), longest first."""
    return "(?:" + "|".join(sorted({_f(word) for word in words}, key=len, reverse=True)) + ")"


def _split(words: str) -> list[str]:
    return [word.replace("_", " ") for word in words.split()]


# Words that undo what follows them, in each language, and the gap of up to
# a few words a pattern may skip: a gap never skips a negation or a comma
# ("my card wasn't stolen" is not "my card ... stolen").
NEGATIONS = _any(*_split("""
not no never dont doesnt didnt isnt wasnt arent werent havent hasnt wont cannot nothing
nunca nadie pas nicht kein keine keinen nie nao non niet geen nooit nahi nahin mat
لا لم لن مش مو ليس ماني نهیں नहीं
"""))
GAP_WORD = rf"(?:(?!{NEGATIONS}\b|,)\S+ )"


def _gap(most: int) -> str:
    return f"{GAP_WORD}{{0,{most}}}"


def _all_of(*parts: str, negatable: bool = True) -> str:
    """A whole sentence that contains each part, in any order: for languages
    whose word order puts the verb last (German, Dutch, Turkish, Hindi) or
    whose words carry their pronouns (Arabic). The match is the sentence,
    and a negation anywhere in it undoes it, unless the parts themselves
    deny something (negatable=False: "it wasn't me")."""
    guard = f"(?!.*?\\b{NEGATIONS}\\b)" if negatable else ""
    # The parts first: a sentence without them fails at once, before the
    # guard reads it all for a negation.
    return "^" + "".join(f"(?=.*?(?:{part}))" for part in parts) + guard + ".*"


SCRIPT_LETTER = re.compile(r"[\u0600-\u06ff\u0900-\u097f]")
_REGEX_SYNTAX = re.compile(r"\\[A-Za-z]|\(\?[:=!<>]*|[(){}|*+?^$\[\].,\d]")


def reads_latin(source: str) -> bool:
    """Whether a pattern (a regex fragment or a term) can match text in Latin
    letters: not when its words are all Arabic or Devanagari. A sentence
    without those scripts (most of them) is only read with such patterns,
    which saves the time the others take to fail."""
    words = _REGEX_SYNTAX.sub(" ", source.replace(NEGATIONS, " "))  # negations come with every gap and guard
    return not SCRIPT_LETTER.search(source) or bool(re.search(r"[a-z]{3,}", words))


# --- a person -------------------------------------------------------------------------------

_BOT_WORDS = _any(*_split("""
bot bots robot robots chatbot chat_bot machine machines ai computer automated_system virtual_assistant
assistant_virtual robo maquina maschine roboter macchina روبوت بوت الة آلي
"""))

# Who a customer asks for, in English: a person-word with its article and
# qualities ("a real live agent"), someone, or a desk or department.
_EN_QUALITY = r"(?:(?:real|live|actual|human|proper|genuine|physical|true|living|breathing|flesh and blood" \
              r"|customer service|customer support|support|other|different|non robotic|bloody|damn|damned" \
              r"|goddamn|fucking|freaking|frigging) ){0,3}"
_EN_PERSON = (r"(?:humans?(?: beings?)?(?! (?:resources|rights|errors?|nature|race|trafficking|body))|persons?"
              r"|agents?(?! (?:of|number|code|id)\b)|representatives?|reps?|operators?|staff(?: members?)?"
              r"|employees?|advis[eo]rs?|consultants?|managers?|supervisors?|specialists?|colleagues?|associates?"
              r"|(?<!virtual )(?<!digital )(?<!ai )assistants?|team members?|members? of (?:staff|your team)"
              r"|(?:customer )?(?:service|support|care) (?:agents?|reps?|representatives?|persons?|people|staff"
              r"|team|members?))\b")
_EN_DETERMINER = r"(?:(?:a|an|the|some|any|your|one of your|another|other|different|somebody from|someone from) )?"
_EN_A_PERSON = f"{_EN_DETERMINER}{_EN_QUALITY}{_EN_PERSON}"
_EN_SOMEONE = (r"(?:someone|somone|someon|some1|somebody|sombody|anyone|anybody|people|whoever (?:is in charge|works there|can help)"
               r"|(?:the )?person in charge)(?: (?:real|human|else|who (?:works|can)))?\b")
_EN_DESK = (r"(?:(?:the|your|a) )?(?:customer (?:service|support|care)|(?:tech |technical )?support"
            r"(?: (?:team|desk|staff|department))?|help ?desk|service desk|front desk|reception|concierge)\b")
# Any team or department, but only after a verb of contact or of handing over
# ("put me through to the returns team"): alone, "the post office" is no one.
_EN_DEPARTMENT = r"(?:(?:the|your|a) )?(?:\S+ ){1,2}(?:team|department|dept|desk|office)\b"
_EN_ANYONE = f"(?:{_EN_A_PERSON}|{_EN_SOMEONE}|{_EN_DESK})"

# Verbs of contact, in the forms of a wish or a request: the present, the
# -ing form, the infinitive. "talked", "spoke", "contacted" tell the past.
_EN_CONTACT = (r"(?:talk|talking|speak|speaking|chat|chatting|converse|conversing|communicate|communicating"
               r"|deal|dealing|get through|getting through|get in touch|getting in touch|be in touch"
               r"|get hold|getting hold)")
_EN_HAND_OVER = (r"(?:connect|connecting|transfer|transferring|put|putting|pass|passing|forward|escalate|hand"
                 r"|handing|route|redirect|switch|send|bring|take|get)")
_EN_REQUEST = re.compile("|".join([
    # talk to a person, chat with someone, get in touch with support, get hold of a human
    (rf"\b{_EN_CONTACT}(?: (?:directly|right now|now|instead|again|please))? (?:to|with|wth|wit|wiht|of) "
     rf"(?:{_EN_ANYONE}|{_EN_DEPARTMENT})"),
    # contact an agent, reach a real person, call someone
    rf"\b(?:contact|contacting|reach|reaching|call|calling|phone|ring) (?:{_EN_A_PERSON}|{_EN_SOMEONE}|{_EN_DESK})",
    # speak to the reception, talk to the gym: any desk of yours, not the bot or "you"
    rf"\b(?:talk|speak|talking|speaking)(?: directly)? (?:to|with) (?:the|your) (?!{_BOT_WORDS}\b)\S+",
    # connect me with an agent, put me through to the returns team, transfer me to billing
    (rf"\b{_EN_HAND_OVER}(?: (?:me|us|this|it|my (?:chat|case|request|ticket|issue|question|call)"
     r"|this (?:chat|conversation|case|request)))?(?: (?:through|over|on|back|across|directly))? (?:to|with) "
     f"(?:{_EN_ANYONE}|{_EN_DEPARTMENT})"),
    rf"\b(?:transfer|connect|redirect|route|forward) (?:me|us)(?: over| through)? (?:to|with) (?!{_BOT_WORDS}\b)\S+",
    r"\bput me through\b",
    r"\bescalate(?: (?:this|it|me|my (?:case|issue|ticket|request)))?(?: please| now)?$",
    # I want a human, can I get a real person, I'd like a representative, a call from someone
    (r"\b(?:want|wanna|need|request|demand|require|prefer|(?:id|would|wed) (?:like|prefer|rather)"
     r"|(?:can|could|may) (?:i|we) (?:please )?(?:have|get|speak to|talk to)|get me|give me|find me|put on"
     r"|(?:a )?call(?: ?back)? from)"
     rf" (?:to (?:talk|speak|chat|deal) (?:to|with) )?(?:{_EN_A_PERSON}|{_EN_SOMEONE})"
     # "can I have someone else sign for it": someone to do something, not to talk to
     r"(?!(?: else)? (?:sign|pick|collect|receive|deliver|use|open|accept|order|pay|buy|return|bring|drop"
     r"|leave)\b)"),
    rf"\b(?:help|answer|response|reply|assistance|callback|call back|a call) from {_EN_ANYONE}",
    rf"\b(?:put|get) (?:{_EN_A_PERSON}|{_EN_SOMEONE}) on(?: the (?:line|phone|chat))?\b",
    # "what I need to do to chay with an assistant": to <any verb> with a person
    rf"\bto \S+ (?:to|with) {_EN_A_PERSON}",
    # someone to talk to, a live person I can message
    (rf"\b(?:{_EN_A_PERSON}|{_EN_SOMEONE}) (?:i can |i could |to |we can )(?:talk|speak|chat|message|write)"
     r"(?: to| with)?\b"),
    # have someone call me, can someone from your team call me back
    (rf"\b(?:{_EN_SOMEONE}|{_EN_A_PERSON})(?: (?:from|on|at) (?:your|the) (?:team|store|shop|company))?"
     r" (?:to )?(?:call|contact|phone|ring|email|text|reach|get back to|get in touch with) (?:me|us)\b"),
    # is anyone there? is there a human? any humans around? is there anyone real
    (rf"\b(?:is|are) there (?:a|an|any|some) {_EN_QUALITY}(?:humans?|persons?|people|agents?|representatives?"
     r"|operators?|staff)\b"),
    r"\b(?:is|are) there (?:anyone|anybody|someone|somebody)(?: (?:real|human|there|here))?(?: i can| to)?",
    r"\b(?:is|are) (?:anyone|anybody|someone|somebody) (?:there|here|real|available|human|alive|around|online)\b",
    (rf"\b(?:is|are) (?:a |an |any )?{_EN_QUALITY}(?:humans?|persons?|agents?|representatives?|operators?"
     r"|people|staff) (?:available|around|online)\b"),
    (rf"\bany {_EN_QUALITY}(?:humans|agents|people|persons|operators|representatives|staff)"
     r" (?:available|there|around|online|here)\b"),
    r"\b(?:anyone|anybody|someone) real\b",
]))
# Whole sentences that are a call for a person: "Operator!", "real agent please",
# "stop , human", "customer service".
_FILLER = _any(*_split("""
hi hello hey ok okay um so please pls plz now asap thanks thank_you right_now immediately stop just and
yes hola por_favor porfa bonjour svp sil_vous_plait merci hallo bitte ola ciao per_favore hoi graag alsjeblieft
alstublieft aub lutfen merhaba tesekkurler please_sir ji namaste من_فضلك لو_سمحت الرجاء ارجوك مرحبا ,
"""))
_CRY_WORDS = _any(*_split("""
humano humanos persona una_persona persona_real agente asesor operador operadora atencion_al_cliente
humain un_humain conseiller conseillere operateur operatrice service_client quelquun
mensch einen_menschen mitarbeiter mitarbeiterin berater kundenservice kundendienst jemand
atendente atendimento pessoa humano_por_favor operatore umano assistenza_clienti qualcuno
medewerker mens klantenservice iemand
temsilci musteri_temsilcisi musteri_hizmetleri operator yetkili canli_destek insan
insaan insan aadmi agent_ji customer_care insaan_chahiye
مندوب موظف بشري انسان خدمة_العملاء خدمه_العملاء ممثل
इंसान एजेंट ग्राहक_सेवा
"""))
_ARTICLE = r"(?:(?:un|une|una|uno|um|uma|ein|einen|een|bir|le|la|el|il|lo|o|a|der|die|de|het) )?"
_CRY = re.compile(
    rf"^(?:{_FILLER} )*(?:{_EN_DETERMINER}{_EN_QUALITY}(?:{_EN_PERSON}|{_EN_DESK})|{_ARTICLE}{_CRY_WORDS}"
    rf"|(?:real|live|actual) (?:one|person|human))(?: {_FILLER}| not (?:a|the) {_BOT_WORDS})*$")

# The other languages: a verb of contact (a wish or request form, not the
# past) with a person-word, in the order each language puts them.
_ES_PERSON = (r"(?:(?:una?|el|la|algun|alguna|otro) )?(?:persona|humano|agente|asesora?|operador(?:a)?|representante"
              r"|empleado|ejecutivo|supervisor|encargado|gerente|alguien|atencion al cliente|servicio al cliente"
              r"|soporte|servicio tecnico)\b")
_FR_PERSON = (r"(?:(?:un|une|le|la|un vrai|une vraie) )?(?:humain|personne|conseillere?|agent|operat(?:eur|rice)"
              r"|quelquun|responsable|technicien|employe|vrai|service client|service clientele|superviseur)\b")
_DE_PERSON = (r"\b(?:menschen?|mitarbeiter(?:in|n)?|berater(?:in)?|kundenservice|kundendienst|support|jemand(?:em|en)?"
              r"|person|agenten?|ansprechpartner|vorgesetzten?|chef|kollegen?)\b")
_PT_PERSON = (r"(?:(?:um|uma|o|a|algum|alguma) )?(?:pessoa|humano|atendente|agente|alguem|operador|representante"
              r"|consultor|atendimento humano|supervisor|gerente)\b")
_IT_PERSON = (r"(?:(?:un|una|il|la|lo) )?(?:persona|umano|operatore|operatrice|agente|qualcuno|consulente|collega"
              r"|servizio clienti|assistenza clienti|responsabile)\b")
_NL_PERSON = (r"\b(?:medewerker|mens|iemand|persoon|klantenservice|adviseur|klantendienst|collega|leidinggevende"
              r"|manager)\b")
_TR_PERSON = (r"\b(?:musteri temsilci\w*|temsilci\w*|musteri hizmetleri\w*|yetkili\w*|operator\w*|insan(?:la|a|i)?"
              r"|canli destek\w*|gercek bir kisi\w*|kisi(?:yle|ye)|biri(?:yle|siyle|ne|sine)?)\b")
_HI_PERSON = (r"(?:\b(?:insaan|insan|aadmi|admi|agent|human|person|executive|representative|customer care"
              r"|customer support|kisi|koi|banda)\b|" + _f("इंसान|एजेंट|व्यक्ति|आदमी|कस्टमर केयर|ग्राहक सेवा|किसी") + ")")
_AR_PERSON = _f(r"(?:\S*(?:موظف|شخص|انسان|بشري|بشر|مندوب|ممثل|وكيل|العملاء|الدعم|مسؤول|مسئول)\S*"
                r"|(?:حد|حدا|احد|أحد|شي واحد|واحد)(?= |$))")

_OTHER_REQUEST_SOURCES = [
    # Spanish: hablar con una persona, quiero un agente, pásame con atención al cliente
    (r"\b(?:hablar|hablo|habla|comunicarme|comunicar|comuniqueme|comunicame|chatear|conversar|contactar|atienda"
     r"|atiendan|pasame|pasa|pasen|paseme|pasar|transfiereme|transfiera|transferir|conecteme|conectame|ponerme"
     r" en contacto|ponganme|pongame)(?: \S+){0,2}(?: (?:con|a|al|en contacto con))? " + _ES_PERSON),
    r"\b(?:quiero|necesito|quisiera|prefiero|me gustaria|pueden darme|puedo tener) (?:hablar con )?" + _ES_PERSON,
    r"\bhay (?:alguien|algun humano|alguna persona|algun agente)(?: real)?(?: ahi| alli| disponible)?\b",
    # French: parler à un conseiller, passez-moi un humain, mettez-moi en relation avec le service client
    (r"\b(?:parler|discuter|echanger|chatter|joindre|contacter|passez moi|passer|transferez moi|transferer"
     r"|mettez moi en relation|mettre en relation|avoir)(?: \S+){0,1}(?: (?:a|avec|au))? " + _FR_PERSON),
    r"\b(?:je veux|je voudrais|jaimerais|je souhaite|puis je avoir|je demande) " + _FR_PERSON,
    r"\b(?:il y a|y a t il|est ce quil y a) (?:quelquun|un humain|une personne)\b",
    # German, Dutch: the verb often comes last
    _all_of(_DE_PERSON, r"\b(?:sprechen|reden|chatten|telefonieren|verbinden|verbindet|erreichen|kontaktieren"
                        r"|haben|mochte|will|brauche|gibt es|ist da)\b"),
    _all_of(_NL_PERSON, r"\b(?:spreken|praten|chatten|bellen|doorverbinden|verbind|verbinden|contact|wil|graag"
                        r"|is er|zijn er|kan ik)\b"),
    # Portuguese: falar com um atendente, preciso de uma pessoa, tem alguém aí?
    (r"\b(?:falar|conversar|atender|transferir|transfere|transfira|passa|passar|me passa|me transfere|ligar"
     r"|contatar|quero|preciso de|gostaria de)(?: \S+){0,2}(?: (?:com|para|pra|a))? " + _PT_PERSON),
    r"\btem (?:alguem|algum atendente|alguma pessoa|algum humano)(?: ai| disponivel)?\b",
    # Italian: parlare con un operatore, voglio un umano, c'è qualcuno?
    (r"\b(?:parlare|parlo|chattare|passare|passi|mi passi|mi metta in contatto|mettermi in contatto|contattare"
     r"|voglio|vorrei)(?: \S+){0,2}(?: (?:con|a|al))? " + _IT_PERSON),
    r"\bce qualcuno\b",
    # Turkish: temsilciyle görüşmek istiyorum, bir insanla konuşabilir miyim, yetkiliye bağlayın
    _all_of(_TR_PERSON, r"\b(?:gorus(?:mek|ebilir|eyim|mem|elim)\w*|konus(?:mak|abilir|ayim|mam|alim)\w*"
                        r"|bagla(?:yin|yiniz|r misiniz|n|yabilir)\w*|baglan(?:mak|abilir)\w*|aktar(?:in|ir misiniz)\w*"
                        r"|ulas(?:mak|abilir)\w*|istiyorum|lutfen)\b"),
    # Hindi: agent se baat karao, kisi insaan se baat karni hai, insaan chahiye
    (_HI_PERSON + r"(?: \S+)? (?:se|" + _f("से") + r") (?:baat|" + _f("बात") + r") (?:kar(?:na|ni|ao|wa|wao|waiye|aiye"
     r"|a do|wa do| sakta| sakti| sakte)|chaht\S*|" + _f("कर(?:नी|ना|वा|ाओ|वाओ| सकता| सकती)") + ")"),
    _HI_PERSON + r" (?:chahiye|" + _f("चाहिए") + ")",
    # Arabic: أريد التحدث مع موظف, ممكن أكلم شخص, حولني على خدمة العملاء
    _f(r"(?:^| )\S*(?:التحدث|اتحدث|نتحدث|اكلم|نكلم|تكلمني|كلمني|احكي|نحكي|نهضر|اتكلم|نتكلم|التواصل|اتواصل|نتواصل"
       r"|حولني|حولوني|تحولني|وصلني|وصلوني|توصلني)(?: \S+){0,2} ") + _AR_PERSON,
    _f(r"(?:^| )(?:اريد|ابغى|ابي|بدي|بغيت|عايز|عاوز|محتاج|ابغي) ") + _AR_PERSON,
]
_OTHER_REQUESTS = re.compile("|".join(_OTHER_REQUEST_SOURCES))
_LATIN_OTHER_REQUESTS = re.compile("|".join(filter(reads_latin, _OTHER_REQUEST_SOURCES)))
# Refusing the bot is asking for a person: no negation check on these.
_REFUSES_BOT = re.compile("|".join([
    (rf"\b(?:dont|do not) want (?:to (?:talk|speak|chat) (?:to|with) )?(?:a |an |the |this |your )?"
     rf"(?:stupid |dumb |automated )?{_BOT_WORDS}\b"),
    r"\b(?:dont|do not) want to (?:talk|speak|chat) (?:to|with) (?:you|u)\b",
    rf"\bstop (?:talking|chatting|speaking) (?:to|with) (?:the |these |this |your )?{_BOT_WORDS}\b",
    (rf"\b(?:stop|enough|no more|done|finished|fed up)(?: with)? (?:the |this |your )?(?:stupid |dumb )?"
     rf"(?:{_BOT_WORDS}|automated (?:replies|answers|messages))\b"),
    rf"\b(?:with|to) (?:a|the) {_BOT_WORDS}\b.*\b(?:comfortable|trust|safe)\b",
    rf"\b(?:comfortable|trust|safe)\b.*\b(?:with|to) (?:a|the) {_BOT_WORDS}\b",
    r"\b(?:this|the) (?:conversation|chat) (?:is not|isnt|doesnt|does not) (?:working|helping|help)\b",
    rf"\bno (?:quiero|deseo) (?:hablar|chatear|conversar) con (?:un |el |una )?{_BOT_WORDS}",
    rf"\b(?:je )?(?:ne )?veux pas (?:parler|discuter) (?:a|avec) (?:un |le |une )?{_BOT_WORDS}",
    rf"\b(?:keinen?|nicht mit (?:einem|dem)) {_BOT_WORDS}",
    rf"\bnao quero (?:falar|conversar) com (?:um |o )?{_BOT_WORDS}",
    rf"\bnon voglio (?:parlare|chattare) con (?:un |il )?{_BOT_WORDS}",
    rf"\b(?:ik wil )?niet met (?:een |de )?{_BOT_WORDS}",
    r"\b(?:bot|robot)\w* (?:konus|gorus)\w* istemiyorum\b",
    r"\b(?:bot|robot) se baat (?:nahi|nahin|mat)\b",
    _f(r"(?:لا اريد|ما ابغى|مش عايز|ما بدي|مابدي|ما ابي) \S*(?:التحدث|اكلم|احكي|اتكلم)(?: مع)? \S*(?:روبوت|بوت|الة|الي)"),
]))
# "I don't want to talk to a person", "no need to transfer me", "no quiero hablar
# con nadie": the request is negated. "Why can't I reach a person?" is not.
REQUEST_NEGATED = re.compile(
    r"(?:^| )(?:dont|do not|doesnt|does not|didnt|did not|wont|never|(?<!can )not|no need to|no need for|rather not"
    r"|no longer|no|ne|nicht|kein\w*|nao|non|niet|hoef geen|geen|" + _f("لا|مش") + r")(?: [^ ,]+){0,2} ?$")
# "Do I need to speak to someone to change my PIN?", "without talking to anyone":
# a question about a person, not a request for one.
_NECESSITY = re.compile(r"(?:without|instead of)(?: [^ ,]+){0,1} ?$")
_NECESSITY_QUESTION = re.compile(r"\b(?:do|does|will|would|should|must) (?:i|we|you) (?:really )?(?:need|have) to"
                                 r" (?:\S+ )?(?:talk|speak|chat|call|contact|go through|see)\b")
# Words whose negation after them undoes a request (Hindi, Turkish put it last).
_NEGATED_AFTER = re.compile(r"^ ?(?:[^ ,]+ ){0,2}(?:nahi|nahin|mat|" + _f("नहीं") + r"|gerek yok|istemiyorum)\b")


# Every request of the other languages names a person in its language: a
# sentence without such a word is not tried against them (most sentences).
_OTHER_PERSON_WORD = re.compile("|".join([_ES_PERSON, _FR_PERSON, _DE_PERSON, _PT_PERSON, _IT_PERSON, _NL_PERSON,
                                          _TR_PERSON, _HI_PERSON, _AR_PERSON]))
_PERSON_WORD = re.compile("|".join([_EN_PERSON, _EN_SOMEONE, rf"\b{_CRY_WORDS}\b", _OTHER_PERSON_WORD.pattern]))


def mentions_a_person(sentence: str) -> bool:
    """A word for a person in the sentence, in any of the languages read
    ("the agent", "alguien", "موظف"): with no request matched, the rules are
    unsure whether the customer asks for one."""
    return bool(_PERSON_WORD.search(sentence))


def person_request(sentence: str) -> tuple[str, str] | None:
    """(the words, how: "words" | "refused_bot") when the sentence asks for a person."""
    if _CRY.match(sentence):
        return sentence, "words"
    others = _OTHER_REQUESTS if SCRIPT_LETTER.search(sentence) else _LATIN_OTHER_REQUESTS
    for pattern in (_EN_REQUEST, others) if _OTHER_PERSON_WORD.search(sentence) else (_EN_REQUEST,):
        for match in pattern.finditer(sentence):
            before, after = sentence[:match.start()], sentence[match.end():]
            if not (REQUEST_NEGATED.search(before) or _NECESSITY.search(before) or _NECESSITY_QUESTION.search(sentence)
                    or _NEGATED_AFTER.match(after)):
                return match.group().strip(), "words"
    match = _REFUSES_BOT.search(sentence)
    if match:
        return match.group().strip(), "refused_bot"
    return None


# Yes to the bot's offer of a person, in the languages it reads.
ACCEPTS_OFFER = re.compile(
    r"^(?:(?:ok|okay|oui|ja|si|sim|evet|haan|han|ji) )?(?:yes|yeah|yea|yep|yup|sure|absolutely|definitely|of course"
    r"|please|y|go ahead|please do|do it|si|por favor|claro|oui|daccord|ja|gerne|graag|sim|certo|evet|tamam|haan|han"
    r"|ji|" + _f("نعم|ايوه|ايوا|اكيد|اه|هاں|हाँ|हां") + r")(?: (?:yes|please|sure|do|go ahead|do it|please do|connect me"
    r"|thanks|thank you|that would be great|i would|id like that|por favor|gracias|svp|merci|bitte|danke|obrigado"
    r"|grazie|alstublieft|lutfen|tesekkurler|ji|" + _f("من فضلك|لو سمحت") + r"))*$")


# --- concepts: problems whatever the words ----------------------------------------------------

_CARD = _any(*_split("""
card cards visa mastercard amex debit_card credit_card bank_card wallet purse handbag bag phone
tarjeta tarjetas cartera billetera monedero bolso movil celular carte cb portefeuille sac
karte kreditkarte bankkarte ec_karte girokarte geldborse portemonnaie brieftasche handy
cartao carteira bolsa carta bancomat portafoglio pas pinpas bankpas kaart creditcard portemonnee telefoon
"""))
# What is taken over when someone else uses it: the card and the money
# (fraud); the account itself, its password and email, are account_takeover's.
_MONEY = _any(*_split("""
card_details card_number card_info bank_details bank_account money funds details info information data pin
datos dinero donnees argent daten geld dados dinheiro dati soldi gegevens
"""))
_ACCOUNT = _any(*_split("""
account accounts bank_account profile login details card_details card_number information info data password
passcode pin email identity credentials money funds
cuenta datos contrasena clave compte donnees mot_de_passe identifiants konto daten passwort zugang
conta dados senha conto rekening gegevens wachtwoord
"""))
_PAYMENT = (r"(?:payments?|charges?|transactions?|withdrawals?|purchases?|debits?|transfers?|deductions?|activity"
            r"|activities|entries|entry|cash|money|amount|direct debit|subscriptions?)")
_NOT_MINE = (r"(?:(?:i|that i|which i|ive|i have|i had|we) )?(?:didnt|did not|never|have not|havent|dont|do not"
             r"|cant|cannot|can not) (?:make|made|authori[sz]e|authori[sz]ed|do|did|order|ordered|buy|bought"
             r"|recogni[sz]e|remember|know|approve|approved|request|requested|place|placed|agree|spend|spent"
             r"|withdraw|take|charge|charged|seen)"
             r"|not mine|isnt mine|wasnt me|was not me|werent me|not me|(?:im |i am )?not responsible for"
             r"|shouldnt have been made|should not have been made|never seen|never heard of|no idea (?:where|what)"
             r"|(?:dont|do not) know (?:where|what|about)")
# Between "I don't know" and a payment, no question word: "I don't know this
# payment" is not "I don't know how to list the payment methods".
_STATEMENT_GAP = rf"(?:(?!(?:how|what|where|when|why|if|whether|to)\b){GAP_WORD})"
_STRANGE = (r"(?:strange|odd|weird|suspicious|unknown|unfamiliar|unusual|questionable|fraudulent|unauthori[sz]ed"
            r"|mysterious|random|unexpected|fake|bogus|unrecogni[sz]ed)")
_SOMEONE_ELSE = (r"(?:someone|somebody|some one|a stranger|strangers|a hacker|hackers|someone else|somebody else"
                 r"|another person|other people|a third party|an unknown person|a thief|thieves)")

_CONCEPT_SOURCES = {
    # "I lost my card", "my wallet was stolen", "report a lost card", "me robaron la tarjeta"
    "card_lost_or_stolen": [
        rf"\b(?:lost|misplaced|dropped|left|cant find|cannot find|can not find|cant locate|losing) {_gap(3)}{_CARD}\b",
        rf"\b{_CARD} {_gap(4)}(?:lost|stolen|missing|taken|gone|nicked|pinched)\b",
        # a theft of anything but credentials, which are account_takeover's
        (r"\b(?:stolen|stole|robbed|theft|pickpocketed|mugged|nicked)\b"
         r"(?! (?:my |our |the )?(?:password|passcode|email|login|account|identity|credentials)\b)"),
        r"\breport\w* (?:\S+ ){0,3}(?:lost|stolen|missing)\b|\blost card\b",
        _f(r"\b(?:perdi|perdido|perdida|extravie|extraviad[oa]|robaron|robad[oa]|robo|hurto|no encuentro|vole|volee"
           r"|perdu|perdue|egare|egaree|derobe|verloren|gestohlen|geklaut|verlegt|diebstahl|roubaram|roubad[oa]"
           r"|furtad[oa]|furtaram|perdi|nao acho|nao encontro|perso|persa|rubato|rubata|rubati|smarrit[oa]|furto"
           r"|non trovo|kwijt|gestolen|kwijtgeraakt|diefstal|calindi|kayboldu|kaybettim|caldirdim|chori|kho gaya"
           r"|kho gayi|gum ho|खो|चोरी)\b"),
        _f(r"\S*(?:سرق|مسروق|ضاع|ضيعت|فقدت|مفقود|ضايع)\S*|(?:مش|ماني|ما) (?:لاقي|قادر القى|قادر اللاقي|لقيت|جبرت)"
           r"|ما كاين\S*"),
    ],
    # "someone else is using my card", "my card details were leaked", "alguien usó mi tarjeta"
    "card_misuse": [
        (rf"\b{_SOMEONE_ELSE} {_gap(5)}(?:using|used|use|utili[sz]ing|utili[sz]ed|accessed|access|accessing"
         r"|got into|logged into|logged in|logging into|signed into|has access|have access|had access"
         r"|gained access|got access|got hold of|has|have|got|stole|took|charged|spent|bought|buying"
         rf"|made purchases|withdrew|withdrawn|withdrawing|taken|took out) {_gap(5)}(?:{_MONEY}|{_CARD})\b"),
        (rf"\b(?:my (?:ex|child|son|daughter|kid|friend|roommate|partner|husband|wife)|they) {_gap(4)}"
         rf"(?:used|using|took|accessed) {_gap(4)}(?:{_ACCOUNT}|{_CARD}) {_gap(6)}without"),
        r"\bwithout (?:my |me |any )?(?:permission|authori[sz]ation|consent|knowledge|approval|knowing)\b",
        (rf"\b{_CARD} {_gap(3)}(?:has |have |was |were |got |been |is |are )*(?:been )?"
         r"(?:compromised|exposed|leaked|skimmed|cloned|breached)\b"),
        r"\b(?:phishing|skimmed|skimming|cloned)\b",
        (r"\balguien (?:\S+ ){0,3}(?:uso|usa|esta usando|ha usado|utilizo|entro|accedio|tiene acceso|hizo compras"
         r"|compro|saco|cambio|robo)\b"),
        r"\b(?:sin (?:mi )?(?:permiso|autorizacion|consentimiento)|hackear\w*|hackeo|hackead\w*|clonad\w*)\b",
        (r"\bquelquun (?:\S+ ){0,3}(?:utilise|a utilise|accede|a accede|a acces|sest connecte|a pirate|a vole"
         r"|a fait des achats|a retire|a change|a modifie)\b"),
        r"\b(?:sans (?:mon |mes )?(?:autorisation|accord|consentement|permission)|pirate|piratee|pirater|hacke)\b",
        _all_of(r"\bjemand\w*\b", r"\b(?:benutzt|genutzt|verwendet|zugriff|eingeloggt|angemeldet|abgehoben"
                                  r"|gekauft|bestellt|geandert)\b"),
        r"\b(?:ohne (?:meine )?(?:erlaubnis|zustimmung|genehmigung)|gehackt|gehacked)\b",
        (r"\balguem (?:\S+ ){0,3}(?:usou|usando|esta usando|utilizou|acessou|entrou|tem acesso|fez compras|comprou"
         r"|mudou|trocou|alterou|invadiu|hackeou|roubou)\b"),
        r"\b(?:sem (?:minha )?(?:permissao|autorizacao)|hackead\w*|invadid\w*)\b",
        (r"\bqualcuno (?:\S+ ){0,3}(?:ha usato|usa|sta usando|ha utilizzato|ha accesso|e entrato|ha fatto acquisti"
         r"|ha prelevato|ha cambiato|ha modificato|ha rubato)\b"),
        r"\b(?:senza (?:il mio )?(?:permesso|consenso|autorizzazione)|hackerat\w*|violat[oa])\b",
        _all_of(r"\biemand\b", r"\b(?:gebruikt|gebruik|toegang|ingelogd|opgenomen|gekocht|gewijzigd|veranderd)\b"),
        r"\b(?:zonder (?:mijn )?(?:toestemming|medeweten))\b",
        _all_of(r"\b(?:biri|birisi|baskasi|baska biri|birileri)\b",
                r"\b(?:kart\w*|hesab\w*|hesap\w*|bilgi\w*|para\w*|sifre\w*)\b",
                r"\b(?:kullan\w*|erism\w*|girdi|giris yapti|harca\w*|cekti|calmis|degistir\w*)\b"),
        r"\b(?:izinsiz|iznim olmadan|hacklen\w*|hackle\w*|ele gecir\w*)\b",
        _all_of(r"\b(?:kisi ne|kisi aur ne|kisine|koi aur)\b", r"\b(?:card|account|paise|khata|password)\b"),
        r"\bhack (?:ho gaya|ho gayi|kar liya|hua|kiya)\b",
        _all_of(_f(r"(?:^| )(?:\S?حد|\S?حدا|\S?احد|شخص\S*|واحد|طفلي|ابني|بنتي)(?: |$)"),
                _f(r"\S*(?:بطاق|كارت|كارط|كرت|حساب|تفاصيل|معلومات|رقم)"),
                _f(r"\S*(?:استخدم|استعمل|يستخدم|يستعمل|خدام|طلع على|عرف|عنده|لديه|دخل|وصول|اخترق)"),
                negatable=False),  # Arabic negations mostly belong to a clause inside ("when I wasn't home")
        _f(r"(?:بدون|بلا|من غير|بغير) (?:اذن|علمي|موافقتي|ما نعرف)|\S*(?:اختراق|مخترق|اخترق|تهكير|هكر|تهكر|غش"
           r"|احتيال|نصاب)\S*"),
    ],
    # "a payment I didn't make", "I don't recognize this charge", "a strange withdrawal"
    "unrecognized_payment": [
        rf"\b{_PAYMENT} {_gap(7)}(?:{_NOT_MINE})",
        rf"\b(?:{_NOT_MINE}) {_STATEMENT_GAP}{{0,4}}{_PAYMENT}\b",
        rf"\b{_STRANGE} {_gap(2)}{_PAYMENT}\b",
        rf"\b{_PAYMENT} {_gap(6)}(?:, )?(?:but|and) (?:\S+ ){{0,3}}(?:i|it) (?:didnt|did not|wasnt|was not|never)\b",
        r"\b(?:any|recent|suspicious) activity on my (?:\S+ ){0,4}(?:card|account)\b|\breport\w* (?:\S+ ){0,2}activity\b",
        (r"\b(?:cargos?|cobros?|compras?|pagos?|transacci\w+|retiros?) (?:\S+ ){0,4}(?:que )?(?:no (?:reconozco|hice"
         r"|autorice|he hecho)|desconocid\w*|no autorizad\w*)"),
        r"\bno (?:reconozco|hice|autorice) (?:\S+ ){0,3}(?:cargos?|cobros?|compras?|pagos?|transacci\w+)",
        (r"\b(?:paiements?|prelevements?|achats?|transactions?|debits?|retraits?) (?:\S+ ){0,4}(?:que )?"
         r"(?:je ne reconnais pas|je nai pas fait|inconnu\w*|non autorise\w*)"),
        (r"\b(?:abbuchung\w*|zahlung\w*|buchung\w*|transaktion\w*|kauf|lastschrift\w*) (?:\S+ ){0,4}"
         r"(?:nicht kenne|nicht gemacht|nicht getatigt|nicht autorisiert|unbekannt\w*)"),
        r"\bunbekannte (?:abbuchung|zahlung|buchung|transaktion)\w*",
        (r"\b(?:compras?|cobrancas?|pagamentos?|transac\w+|saques?|debitos?) (?:\S+ ){0,5}(?:que )?(?:eu )?"
         r"(?:nao (?:fiz|reconheco|autorizei)|desconhecid\w*)"),
        (r"\b(?:addebit\w*|pagament\w*|acquist\w*|transazion\w*|prelievo|prelievi) (?:\S+ ){0,4}(?:che )?"
         r"(?:non (?:riconosco|ho fatto|ho autorizzato)|sconosciut\w*)"),
        (r"\b(?:betaling\w*|afschrijving\w*|transactie\w*|aankoop|opname) (?:\S+ ){0,6}(?:die )?"
         r"(?:ik )?(?:niet herken|niet heb gedaan|onbekend\w*)|\bonbekende (?:betaling|afschrijving)\w*"),
        r"\b(?:tanimadigim|yapmadigim|bilmedigim) (?:bir )?(?:islem|harcama|odeme|cekim)\w*",
        r"\b(?:maine|mene) (?:\S+ ){0,3}nahi kiya\b|\banjaan (?:transaction|payment)\b",
        _f(r"(?:لم ادفع|لم افعل|لم اقم|ما عملت\S*|ما سويت\S*|ما دفعت|ما خلصت\S*|لا اعرف من اين|لا اتعرف|ما عرفت\S*"
           r"|(?:غير|مش|ما هي|ما هو|مو|ليست|ليس) مصرح|مش انا|ما هو انا|لا اعرف هذه|ما اعرف|ما بعرف|مش عارف)"),
    ],
    # "someone stole my password and changed my email", "a password reset I didn't ask for"
    "account_takeover": [
        (rf"\b{_SOMEONE_ELSE} {_gap(3)}(?:stole|stolen|took|changed|reset|has changed|accessed|got into|logged in"
         r"|logged into|signed in|broke into|hacked|took over|has taken over|locked me out|is using|used|knows"
         rf"|got hold of|guessed) {_gap(3)}(?:my|our|the) (?:\S+ )?(?:password|passcode|email|email address|account"
         r"|login|phone number|number|2fa|pin|username|security questions|credentials)\b"),
        _all_of(r"\b(?:password|passcode|email|login|sign in|signin|account|security|2fa|pin|phone number)\b",
                r"\b(?:changed|reset|new device|logged in|signed in|login attempt|verification code|security code"
                r"|one time code|otp|code)\b",
                r"\b(?:(?:i|which i|that i) )?(?:didnt|did not|never|havent|have not) (?:change|changed|request"
                r"|requested|ask for|asked for|make|made|authori[sz]e|authori[sz]ed|do|did|try|tried)\b"
                r"|\b(?:wasnt|was not|it wasnt|not) me\b|\bwithout my\b", negatable=False),
        (r"\b(?:logins?|log in|sign ins?|signin|logged in|signed in|access|login attempts?) (?:\S+ ){0,4}"
         r"(?:from|on|in) (?:a |an )?(?:another|some|unknown|new|different|strange|unrecogni[sz]ed|foreign)"
         r" (?:\S+ ){0,2}(?:device|location|country|city|phone|computer|ip|place)\b"),
        (r"\b(?:unknown|unrecogni[sz]ed|strange|new|another|foreign) (?:device|location|computer|phone|ip)"
         r" (?:\S+ ){0,2}(?:signed|logged|login|accessed)"),
        (r"\b(?:account|profile|password|login|email|credentials|details) (?:\S+ ){0,3}(?:taken over|hijacked"
         r"|compromised|exposed|leaked|breached)\b"),
        _all_of(_f(r"(?:غير|تغير|تم تغيير)"), _f(r"(?:كلمه السر|الرقم السري|الايميل|البريد)"),
                _f(r"(?:مش انا|ما غيرته|لم اغير|بدون علمي)"), negatable=False),
    ],
    # "my account is locked", "please freeze my card", "how do I unblock my PIN?", "too many PIN tries"
    "account_locked": [
        (r"\b(?:account|accounts|card|cards|pin|pin number|pin code|login|profile|access|visa|debit card"
         r"|credit card|checking|savings|money market|app access|online banking) "
         rf"{_gap(5)}(?:is |was |has |have |been |got |are |keeps getting |a )*(?:been )?(?:locked|blocked|frozen"
         r"|suspended|disabled|deactivated|restricted|on hold|hold|held|banned|barred|stuck|retained|swallowed"
         r"|unlocked|unblocked|unfrozen|reactivated)\b"),
        (r"\b(?:locked|blocked|frozen|suspended|disabled|deactivated|restricted|banned)(?: out)?(?: of)? "
         rf"{_gap(3)}(?:account|card|pin|login|profile)\b"),
        (r"\b(?:unblock|unlock|unfreeze|freeze|block|lock|suspend|deactivate|disable|reactivate|restore"
         r"|unblocking|unlocking|unfreezing|freezing|blocking|locking|suspending"
         r"|(?:put|place|add) (?:a )?(?:freeze|block|hold|stop) (?:on|to)) "
         rf"{_gap(4)}(?:account|card|pin|login|profile|visa|mastercard|checking|savings|money market)\b"),
        rf"\b(?:hold|block|freeze|stop) {_gap(3)}on (?:my |the )?{_gap(2)}account\b",
        r"\b(?:im|i am|ive been|i have been|i got|i was|i get|got|get|getting) (?:\S+ )?(?:locked|blocked|frozen|banned)\b",
        (r"\b(?:too many|several|multiple|\d+|three|all(?: of)? my) (?:\S+ ){0,2}(?:wrong |incorrect |failed )?"
         r"(?:pin |password )?(?:attempts|tries)\b"),
        r"\b(?:wrong|incorrect) pin (?:\S+ ){0,3}(?:times|too many|too much|several)\b",
        r"\bforg[eo]t\w* (?:my |the )?(?:\S+ )?pin\b",
        r"\b(?:card|cards) (?:\S+ ){0,3}(?:stuck|retained|swallowed|eaten|trapped) (?:in|by)\b",
        r"\b(?:atm|machine|cash machine|cashpoint) (?:\S+ ){0,2}(?:kept|swallowed|ate|retained|took|has) (?:my )?card\b",
        r"\b(?:stopping|blocking|declining|rejecting) all (?:my )?(?:transactions|payments)\b",
        r"\b(?:problems?|issues?|something wrong) with my (?:bank )?account\b",
        r"\b(?:is there|there is|theres|why is there) a (?:hold|block|freeze)\b",
        r"^(?:please )?(?:block|freeze|lock|suspend|deactivate) my\b",
        (r"\b(?:cuenta|tarjeta|pin|clave|acceso|usuario|compte|carte|code|acces|identifiant|konto|karte|zugang"
         r"|conta|cartao|senha|conto|carta|rekening|pas|pinpas|kaart|pincode|toegang) (?:\S+ ){0,3}"
         r"(?:bloquead\w*|suspendid\w*|suspens\w*|congelad\w*|desactivad\w*|inhabilitad\w*|retenid\w*|bloque\w*"
         r"|suspendu\w*|gele\w*|desactive\w*|verrouille\w*|gesperrt|blockiert|eingefroren|deaktiviert|desativad\w*"
         r"|travad\w*|bloccat\w*|sospes\w*|congelat\w*|disattivat\w*|geblokkeerd|bevroren|opgeschort"
         r"|vergrendeld)"),
        (r"\b(?:bloquear|bloqueen|bloquee|bloquea|desbloquear|desbloqueen|desbloquea|congelar|congelen|congela"
         r"|bloquer|bloquez|debloquer|debloquez|geler|gelez|faire opposition|opposition sur|sperren|sperrt"
         r"|entsperren|entsperrt|blockieren|einfrieren|bloqueiem|bloqueie|bloccare|bloccate|blocca|sbloccare"
         r"|sblocca|blokkeren|blokkeer|deblokkeren|deblokkeer|bevriezen|ontgrendelen) (?:\S+ ){0,3}(?:cuenta"
         r"|tarjeta|pin|compte|carte|konto|karte|conta|cartao|conto|carta|rekening|pas|kaart)\b"),
        _all_of(r"\b(?:hesab\w*|hesap\w*|kart\w*|sifre\w*)\b",
                r"\b(?:bloke\w*|kilitlen\w*|kilitli|donduruldu|dondur\w*|askiya\w*|engellen\w*|bloklan\w*)\b"),
        _all_of(r"\b(?:account|card|khata|pin)\b|" + _f("कार्ड|खाता"),
                r"\b(?:block|blocked|lock|locked|freeze|frozen)\b|" + _f("ब्लॉक")),
        _f(r"\S*(?:محظور|حظر|مجمد|تجمد|تجميد|جمد|مقفل|مقفول|تحبس|محبوس|موقوف|تبلوك|بلوك|مبلوك|معطل)\S*"),
        _all_of(_f(r"(?:الرقم السري|رقمي السري|رقم التعريف|رمز التعريف|الرمز السري|البين)"),
                _f(r"(?:كثير|مرات|المحاولات|محاولات|تجاوزت)")),
    ],
    # "I was charged twice", "one of my payments was doubled", "me cobraron dos veces"
    "double_charge": [
        (r"\b(?:charged|billed|debited|paid|taken|deducted|withdrawn|processed|charging|billing|went through"
         r"|gone through|came out|taken out|charge|charges|payment|payments|transaction|transactions|bill|shows"
         rf"|showing) {_gap(4)}(?:twice|two times|2 times|three times|3 times|doubled|duplicated|multiple times"
         r"|several times|more than once)\b"),
        (r"\b(?:duplicate|duplicated|double|doubled|two of the same|more than one of the same) (?:\S+ ){0,2}"
         r"(?:charges?|payments?|transactions?|debits?|bills?|billing|entries)\b"),
        r"\b(?:charged|billed) (?:me )?(?:for )?(?:two|2|both|three|3) (?:orders|items)\b",
        (r"\b(?:cobraron|cobrado|cobro|cargaron|cargo|cobrando|cobrad[oa]|debitad[oa]|paguei|debite|debitee"
         r"|preleve|prelevee|facture|facturee|paye|addebitat\w*|pagato|prelevat\w*|abgebucht|belastet|berechnet"
         r"|afgeschreven|betaald|gefactureerd|afgeboekt) (?:\S+ ){0,3}(?:dos veces|doble|duplicad\w*|deux fois"
         r"|en double|duas vezes|em dobro|due volte|doppio|doppelt|zweimal|twee keer|dubbel)\b"),
        (r"\b(?:dos veces|doble|deux fois|duas vezes|due volte|doppelt|zweimal|zwei mal|twee keer|dubbel|2 keer"
         r"|iki kez|iki kere|iki defa|cift|do baar|2 baar|double) (?:\S+ ){0,3}(?:cobr\w+|cargad\w*|debit\w*"
         r"|preleve\w*|factur\w*|abgebucht|belastet|berechnet|afgeschreven|betaald|ucret\w*|cekil\w*|odeme\w*"
         r"|tahsil\w*|paise|payment|charge|kate|kata|cut)\b"),
        r"\b(?:cargo duplicado|cobro doble|cobro duplicado|double (?:debit|prelevement|paiement|facturation)"
        r"|doppelbuchung|doppelte abbuchung|cobranca duplicada|addebito doppio)\b",
        _all_of(_f(r"(?:مرتين|مرتان|دبل|مضاعف)"), _f(r"\S*(?:دفع|خصم|سحب|انسحب|المبلغ)")),
    ],
    # "close my account", "borren mi cuenta", "löschen Sie mein Konto", "احذفوا حسابي"
    "account_closure": [
        (r"\b(?:terminate|close|closing|delete|deleting|remove|removing|end|deactivate|shut down|turn off|pause"
         rf"|erase|cancel) {_gap(3)}(?:account|accounts|membership|profile)\b"),
        r"\b(?:account|profile) (?:\S+ ){0,2}(?:deleted|closed|removed|terminated|delete|close)\b",
        (r"\b(?:borr\w*|elimin\w*|cerr\w*|supprim\w*|ferm\w*|clotur\w*|losch\w*|schliess\w*|exclu\w*|encerr\w*"
         r"|apag\w*|chiud\w*|cancell\w*|verwijder\w*|opheff\w*|sil\w*|kapat\w*) (?:\S+ ){0,2}(?:cuenta|compte"
         r"|konto|conta|conto|account|rekening|hesab\w*)\b"),
        r"\b(?:konto|hesab\w*|hesap|account|rekening) (?:\S+ ){0,2}(?:losch\w*|sil\w*|kapat\w*|delete\w*|verwijder\w*)",
        _all_of(_f(r"\S*(?:حذف|سكر|غلق|اغلاق|قفل|اقفل|نسد|الغي|الغاء|نلغي)\S*"), _f(r"\S*حساب\S*"), negatable=False),
    ],
    # "I don't want this order anymore", "I can no longer afford order 7322"
    "unwanted_order": [
        (r"\b(?:dont|do not|no longer|dont even) (?:want|need) (?:(?:this|that|the|my|these|those) (?:\S+ ){0,2})?"
         r"(?:order|ordered|purchase|purchased|bought|item|items)\b"),
        r"\b(?:cant|cannot|can not|can no longer|no longer) (?:afford|pay for) (?:\S+ ){0,3}(?:order|purchase|it|this)\b",
    ],
}
CONCEPTS = {name: "(?:" + "|".join(sources) + ")" for name, sources in _CONCEPT_SOURCES.items()}
LATIN_CONCEPTS = {name: "(?:" + "|".join(filter(reads_latin, sources)) + ")" for name, sources in _CONCEPT_SOURCES.items()}


# --- topics named, to be set aside ---------------------------------------------------------

# "It's not an emergency", "I don't want a refund", "I'm not cancelling",
# "no quiero un reembolso": the topic is named, not raised.
_DISMISSED_BEFORE = re.compile(
    r"(?:^| )(?:not an?|isnt an?|no need (?:for|to)|(?:dont|do not) (?:want|need)(?: a| an| to| my)?"
    r"|never (?:had|made|asked for) an?|(?:im|i am|were|we are) not(?: trying to| going to| planning to| asking to)?"
    r"|not (?:trying|going|planning|asking) to|no (?:quiero|necesito)(?: un| una| el| la| que)?|no hace falta(?: que)?"
    r"|je ne veux pas(?: de| dun| etre)?|pas (?:de|besoin de)|(?:ich )?(?:will|mochte|brauche) (?:keine?n?|nicht)"
    r"|nao (?:quero|preciso)(?: de)?(?: um| uma| o| a)?|non (?:voglio|serve)(?: un| il| la)?"
    r"|(?:ik wil |ik hoef )?(?:geen|niet)|" + _f(r"(?:لا اريد|ما ابغى|مش عايز|ما بدي)")
    # right before the words: "my card wasn't stolen", "no me robaron", "this is not fraud"
    + r"|(?:not|no|never|wasnt|isnt|arent|werent|hasnt|havent|nunca|(?:nai|na|nest|ne|nont) pas|nicht|nie|nao|non"
    + r"|niet|nooit|nahi|"
    + _f("لم|مش|ما") + r")(?: me| se| mir| mi)?) ?$")
_DISMISSED_AFTER = re.compile(r"^ (?:nahi|nahin|" + _f("नहीं") + r"|istemiyorum|gerek yok|yok)\b")


def dismissed(sentence: str, start: int, end: int) -> bool:
    return bool(_DISMISSED_BEFORE.search(sentence, 0, start) or _DISMISSED_AFTER.match(sentence[end:]))


# --- asked about, or asked for ----------------------------------------------------------------

# Markers of a question about how something works (Q) and of a request or
# report (R), as token sequences, in each language. Single question words
# count at the start of a clause only ("que" starts "qué pasa si...", but is
# "that" in "quiero que me devuelvan"); the other markers count anywhere.
# Questions about the conditions of the topic: before it in its clause, they
# decide even against a request after it ("in what cases can I ask for a
# refund, help me").
_CONDITION_QUESTIONS = _split("""
how_long how_much how_many how_soon how_often how_late how_early in_what_cases in_which_cases in_what_situations
in_which_situations under_what_circumstances under_which_circumstances what_happens_if
en_que_casos cuanto_tarda cuanto_tiempo dans_quels_cas combien_de_temps in_welchen_fallen wie_lange em_que_casos
em_quanto_tempo quanto_tempo in_quali_casi hoe_lang
""")
# Question words and phrases anywhere in the sentence (Hindi and Turkish ask
# after the topic: "refund kaise milta hai?", "iade ne kadar sürer?").
_QUESTION_PHRASES = _split("""
how_do how_does how_can how_would how_to what_happens is_there are_there is_it_possible do_you does_it do_refunds
do_they is_it what_is whats what_are
cuanto_cuesta que_pasa como_funciona como_funcionan se_puede es_posible comment_fonctionne est_ce_que
wie_funktioniert gibt_es kann_man quanto_custa ci_sono quanto_costa hoe_werkt wat_kost ne_kadar ne_zaman
kitne_din kaise_milta kab_tak kitna kitne kitni kaise kya_hai nedir nasil var_mi miyim misiniz musunuz
""")
_QUESTION_OPENERS = _split("""
how what whats when which where is are do does did will would could can_you_tell
que cual cuales cuando cuanto cuanta como donde hay quel quelle quels quelles quand combien comment
wie was wann welche welcher welches wo qual quais quando quanto quanta onde come quale quali hoe wat wanneer
welke waar hoeveel nasil hangi kya kab kitna kitne kaise kaun kahan كيف متى هل كم وش شو ايش شنو كيفاش واش
ما_هي ما_هو ماذا
""")
_INFO_VERBS = _split("""
see check know view read find_out learn understand show tell_me explain look_up look_at consult review list
seeing checking knowing viewing wondering curious question_about info_about information_about details_on
ver saber consultar conocer explicar voir savoir connaitre consulter sehen wissen erfahren nachlesen
vedere sapere conoscere zien weten bekijken ogrenmek bilmek gormek janna jaanna batao bataiye اعرف معرفه اشوف
""")
_CONDITIONS = _split("""
if whether anytime any_time at_any_time in_case once before after within until even_if
si en_cualquier_momento a_tout_moment nimporte_quand wenn falls jederzeit se a_qualquer_momento
in_qualsiasi_momento in_ogni_momento als op_elk_moment altijd eger istedigim_zaman her_zaman agar kabhi_bhi
في_اي_وقت اذا لو
""")
# Nouns of a rule or a price: "refund policy", "cancellation fee", "política de reembolso".
_POLICY_NOUNS = _split("""
policy policies guarantee terms conditions rules fee fees penalty penalties cost costs price
period window deadline limit timeframe time_limit eligibility process procedure options page faq rate
notifications alerts protection prevention insurance settings section
politica politicas condiciones plazo plazos comision comisiones tarifa costo coste precio penalizacion requisitos
proceso politique conditions delai frais penalite cout tarif procedure richtlinie richtlinien bedingungen frist
gebuhr gebuhren kosten regeln ablauf condicoes prazo taxa multa custo processo condizioni termini penale costi
costo procedura beleid voorwaarden termijn boete politika politikasi politikaniz kosul kosullari sart sartlari
ucret ucreti ceza kural niyam shart سياسه شروط رسوم غرامه مده
""")
# Adjectives of a rule: "are gift cards refundable?", "is a refund possible?"
_RULE_ADJECTIVES = _split("""
refundable cancellable cancelable returnable eligible possible allowed available normal usual usually normally
typically generally
""")
_REQUEST_MARKERS = _split("""
want wanna need_a need_to need_my need_you need_help needs_to would_like id_like demand demanding
i_request im_requesting expect owed require please would_like_it_if would_love_it_if appreciate_it_if
would_appreciate appreciate_it grateful_if be_grateful pls plz kindly give_me get_me send_me can_you could_you would_you will_you
help_me i_must i_am_asking im_asking asking_for trying_to issue_me process_my need_assistance want_assistance
want_help need_help assistance
quiero quisiera necesito exijo solicito pido me_gustaria por_favor porfa devuelvanme reembolsenme pueden podrian
ممتنا_لو ممتن_لو
je_veux je_voudrais jaimerais je_souhaite jexige je_demande merci_de veuillez svp sil_vous_plait pouvez_vous
ich_will ich_mochte ich_hatte_gern ich_brauche bitte ich_verlange ich_fordere konnen_sie konnten_sie
quero queria preciso gostaria exijo pfv voglio vorrei ho_bisogno esigo per_favore ik_wil ik_zou_graag graag
ik_eis alstublieft alsjeblieft istiyorum isterim lutfen ihtiyacim edin yapin chahiye chahta chahti karo kar_do
kijiye karna_hai karni_hai karwao karao اريد ابغى ابي بدي بغيت عايز عاوز محتاج ارغب اتمنى ارجو ارجوك
من_فضلك لو_سمحت الرجاء
""")
# "Can I" asks for permission: with the customer's own case ("can I get my
# money back?") a request, without it ("can I cancel?") a question.
_MODALS = _split("""
can_i could_i may_i can_we am_i_able_to puedo podria puis_je je_peux kann_ich darf_ich posso da_para
kan_ik mag_ik yapabilir_miyim sakta sakti sakte يمكنني ممكن
""")
_OWN_CASE = re.compile(r"\b(?:my|me|mine|our|us|mi|mis|mon|ma|mes|moi|mein|meine|meinen|meinem|mir|meu|minha|meus"
                       r"|mio|mia|mijn|benim|mera|meri|mere)\b|\b\d{3,}\b|" + _f(r"\S+(?:ي|ى)(?: |$)"))
# Words said before a question that do not make it one ("hi", "and", "so").
_OPENER_FILLERS = frozenset(_split("""
hi hello hey ok okay so and also but um well quick question please pls sorry excuse_me hola bonjour hallo ola
ciao hoi merhaba y et und e en ve
"""))
_COMMA_DISTANCE = 3  # crossing a comma counts as this many words


def _phrase_table(phrases: list[str], kind: str) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    table: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for phrase in phrases:
        tokens = tuple(fold(phrase).split())
        table.setdefault(tokens[0], []).append((tokens, kind))
    return table


@functools.cache
def _markers() -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """First token -> [(tokens, kind)], kind: condition | q | r | modal | opener, longest first."""
    table: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for phrases, kind in ((_CONDITION_QUESTIONS, "condition"), (_QUESTION_PHRASES, "q"), (_INFO_VERBS, "q"),
                          (_CONDITIONS, "q"), (_RULE_ADJECTIVES, "q"), (_REQUEST_MARKERS, "r"), (_MODALS, "modal"),
                          (_QUESTION_OPENERS, "opener")):
        for first, entries in _phrase_table(phrases, kind).items():
            table.setdefault(first, []).extend(entries)
    for entries in table.values():
        entries.sort(key=lambda entry: len(entry[0]), reverse=True)
    return table


_POLICY_SET = frozenset(fold(noun) for noun in _POLICY_NOUNS if " " not in noun)
_LINKS = frozenset(_split("on for of about de del du des d di da do voor fur pour para per sur"))
_COMPOUND_POLICY = re.compile(r"(?:richtlinie|bedingung|frist|gebuhr|kosten|beleid|voorwaarde|regel|politika)")


def names_a_rule(sentence: str, start: int, end: int) -> bool:
    """The topic words at start:end name a rule, a price or a page rather
    than the topic itself: "refund policy", "the outage page", "fraud
    protection", "política de reembolso"."""
    if len(sentence[start:end].split()) > 2:
        return False  # a problem described ("reporting my card as lost"), not a topic's name
    before, after = sentence[:start].split(), sentence[end:].split()
    return bool(after and after[0] in _POLICY_SET) or (
        len(before) >= 2 and before[-1] in _LINKS and before[-2] in _POLICY_SET)


class TopicReading(NamedTuple):
    asked: bool     # asked about (how it works), rather than asked for or reported
    sure: bool      # a marker decided it, rather than the fallbacks


def read_topic(sentence: str, start: int, end: int, question_mark: bool = False) -> TopicReading:
    """Whether the topic at sentence[start:end] is asked about (how it works,
    what it costs, when it applies) rather than asked for or reported, and
    whether the words made that sure.

    A rule's noun right beside the topic is names_a_rule(), checked first by
    the caller. A rule in the topic's own word decides at once ("refundable",
    "Stornogebühr"), and so does the topic opening the sentence as an
    imperative ("refund the delivery fee", "cancel my order 4512") unless
    the sentence ends in a question mark: Hindi and Turkish put the
    question word after the topic ("refund kaise milta hai?"). Otherwise the nearest marker
    decides, counted in words either side (a comma counts as three): a
    question word opening a clause, a verb of finding out ("see", "check"),
    a condition ("if", "anytime"), a rule's adjective, against a wish or
    request ("I want", "please", "can you", "quiero"); a question about the
    topic's conditions before it in its clause ("how long", "in what cases")
    decides alone. With neither, and unsure, "can I..." asks a question
    unless it names the customer's own case ("can I get my money back?"),
    and anything else is a request or report.
    """
    before = sentence[:start].split()
    topic = sentence[start:end].split()
    after = sentence[end:].split()
    tokens = before + topic + after
    first, last = len(before), len(before) + len(topic) - 1
    if any(_COMPOUND_POLICY.search(word) for word in topic) or any(word.endswith(("able", "ible")) for word in topic):
        return TopicReading(asked=True, sure=True)
    if not question_mark and all(word in _OPENER_FILLERS or word == "," for word in before):
        # the topic opens the sentence: "cancel my order", "refund for order 9931"
        return TopicReading(asked=False, sure=True)
    nearest: tuple[float, str] | None = None
    modal = False
    clause_start = True
    position = 0
    table = _markers()
    while position < len(tokens):
        token = tokens[position]
        if token == ",":
            clause_start = True
            position += 1
            continue
        matched = None
        for phrase, kind in table.get(token, ()):
            if tuple(tokens[position:position + len(phrase)]) == phrase and (
                    kind != "opener" or clause_start) and not (first <= position <= last):
                matched = (phrase, kind)
                break
        if matched:
            phrase, kind = matched
            if kind == "modal":
                modal = True
            elif kind == "condition" and position < first and "," not in tokens[position:first]:
                return TopicReading(asked=True, sure=True)
            else:
                distance = _distance(tokens, position, position + len(phrase) - 1, first, last)
                decided = "q" if kind in ("q", "opener") else "r"
                if nearest is None or distance < nearest[0]:
                    nearest = (distance, decided)
            position += len(phrase)
            clause_start = False
            continue
        if token not in _OPENER_FILLERS:
            clause_start = False
        position += 1
    if nearest is not None:
        return TopicReading(asked=nearest[1] == "q", sure=True)
    if modal:
        return TopicReading(asked=not _OWN_CASE.search(sentence), sure=False)
    return TopicReading(asked=False, sure=False)


def _distance(tokens: list[str], start: int, end: int, first: int, last: int) -> float:
    """Words between a marker (tokens start..end) and the topic (first..last),
    a comma counting as _COMMA_DISTANCE."""
    if end < first:
        between = tokens[end + 1:first]
    else:
        between = tokens[last + 1:start]
    return sum(_COMMA_DISTANCE if token == "," else 1 for token in between)


# --- typos in the words that matter ------------------------------------------------------------

# The key words of the rules above, as customers misspell them ("somenoe",
# "ooerator", "reimbvurse"): a word one edit away from one of these, and
# itself no English word, is read as it. _REAL_WORDS are the words of
# Debian's American English dictionary (wamerican) one edit away from the
# vocabulary that are not its inflections: "contract" is not "contact",
# "walking" not "talking", "sparking" not "speaking".
TYPO_MIN_LENGTH = 7
_TYPO_VOCABULARY = frozenset(_split("""
someone somebody anybody operator operators representative assistant assistance speaking talking chatting
contact contacting customer human_agent reimburse reimbursed reimbursement reimbursements compensation
compensations restitution restitutions refunded refunding cancelling canceling cancellation complaint
reclamation unauthorized fraudulent account password purchase transaction withdrawal recognize recognise
compromised unblock demanding requesting obtaining receive business rebating
"""))
_REAL_WORDS = frozenset(_split("""
balking bushiness busyness calking catting chanting charting cheating compliant compromise compromises contract
contracting deceive declamation demeaning destitution exclamation hatting homebody peaking remanding scatting
sneaking spanking sparking spearing specking staking staling stalking sunblock tabling tacking tailing takings
tanking tasking translation unlocks walking
"""))


@functools.cache
def _typo_index() -> dict[str, tuple[str, ...]]:
    return typo_index([word for word in _TYPO_VOCABULARY if " " not in word], TYPO_MIN_LENGTH - 1)


@functools.lru_cache(maxsize=8192)
def corrected(word: str) -> str:
    """The key word a misspelled word stands for, or the word itself."""
    if len(word) < TYPO_MIN_LENGTH or word in _REAL_WORDS or word in _TYPO_VOCABULARY or not word.isascii():
        return word
    near = sorted(one_edit_away(word, _typo_index()), key=len)
    # An inflection of a key word is the customer's own word ("transactions");
    # two candidates of one family ("canceling", "cancelling") are one.
    if not near or word.startswith(near[0]) or os.path.commonprefix(near)[:5] != near[0][:5]:
        return word
    return near[0]
