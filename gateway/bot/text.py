"""One text analysis for the bot: what the trigger engine, the knowledge-base
responder and the handoff packet read in a customer's words.

- fold(): lowercase, no accents, apostrophes joining what they separate,
  one spelling for letters written several ways (ß, dotless ı, Arabic
  alef and ta marbuta forms);
- normalize(): folded words of any script, one space apart (the trigger
  engine matches its patterns and terms on this);
- language(): which of the languages the bot reads a text is in;
- deletions() / typo_index() / one_edit_away(): typo correction against a
  known vocabulary (the knowledge base's, the trigger engine's key words);
- terms(): the knowledge base's analysis (see workers/brain/kb.py): a few
  spellings unified, questions rewritten from how customers ask to the words
  help articles use, words stemmed, synonyms mapped to one term, function
  words dropped;
- small_talk_kind(): a message that is only a greeting, thanks or goodbye;
- questions_asked(): what a message asks, without its pleasantries, one
  text per question when it asks several.
"""

from __future__ import annotations

import re
import unicodedata

STOPWORDS = frozenset("""
a about above after again all also am an and any anyone anything are as at be because been before being below
between both but by can could did do does doing down during each either else even ever every few for from
further had has have having he her here hers him his how i if in into is it its itself just me more most my
myself no nor not now of off on once only or other our ours out over own same she should so some someone
something such than that the their theirs them then there these they this those through to too under until
up us very was we were what when where which while who whom why will with would you your yours yourself
yourselves already actually anyway maybe really still yet soon anywhere somewhere today tomorrow yesterday
please pls plz thanks thank thx hi hello hey hiya guys u ur ok okay yes yeah yep
dont doesnt didnt cant cannot wont isnt arent wasnt werent havent hasnt hadnt couldnt wouldnt shouldnt
im ive id ill youre youve whats wheres hows whens whos thats theres heres lets
tell know want need get got getting gonna wanna like make way long much many take keep mistake accidentally
put came come show shown go going went happen see look try tried find found work use say said seem mean let
offer provide able possible wondering question help kind sort bit lot lots guess think
""".split())

# Rewrites of the folded text of articles and questions alike: one spelling
# for what is written several ways.
SPELLINGS = [
    (re.compile(r"\be[ -]?mail"), "email"),
    (re.compile(r"\bphone (?:number|no)\b"), "phone"),
    (re.compile(r"\bgift ?(?:card|certificate|voucher)s?\b"), "giftcard"),
    (re.compile(r"\b(?:united kingdom|great britain|britain|england|scotland|wales)\b"), "uk"),
    (re.compile(r"\bamerican express\b"), "amex"),
    (re.compile(r"\b(?:credit|debit|bank) card"), "card"),
    (re.compile(r"\b(?:2fa|mfa|two[ -]?factor|2[ -]?step|two[ -]?step|multi[ -]?factor)\b"), "twofactor"),
    (re.compile(r"\b(?:sign|log) ?(?:in|on)\b|\blogin\b"), "signin"),
    (re.compile(r"\bcheck ?out\b"), "checkout"),
    (re.compile(r"\bpick ?(?:it |them )?up\b|\bpickup\b"), "pickup"),
    (re.compile(r"\bshipping address"), "delivery address"),
    (re.compile(r"\bcustomer (?:service|support|care)\b"), "contact"),
    (re.compile(r"\bweekends?\b"), "saturday sunday"),
    (re.compile(r"\b(\d{1,2})(am|pm)\b"), r"\1 \2"),
    # A stated length of time is one term, so that a question about time
    # meets the passages that state one.
    (re.compile(r"\b(?:\d+|an?|one|two|three|four|five|six|seven|ten|few|couple(?: of)?|several)"
                r"(?: (?:more|whole|full|business|working))? (?:days?|weeks?|hours?|months?)\b"), "duration"),
]

# How customers ask, rewritten to the words help articles use. Questions
# only: in an article "your email" is the customer's, in a question it is ours.
QUESTION_PHRASES = [
    (re.compile(r"\bwhen (?:will|would|does|do|is|should) (?:it|they|(?:my|the|our) \w+) "
                r"(?:arrive|get here|come|be delivered|be here|turn up|show up)\b"), "duration ship"),
    (re.compile(r"\bhow (?:long|soon|quickly|fast)\b|\bhow many (?:days|weeks|hours)\b|\bdeadline\b|"
                r"\bwhen (?:will|would|should|can i expect|(?:do|can|will) i (?:get|receive))\b|"
                r"\btime (?:limit|frame|window)\b|\b(?:for|in) (?:days|weeks|ages)\b"), "duration"),
    (re.compile(r"\bhow much\b"), "cost"),
    (re.compile(r"\bmoney back\b"), "refund"),
    (re.compile(r"\b(?:(?:is|its|it is|was|isnt) not here|never (?:came|arrived|showed up|got it|received)|"
                r"(?:didnt|did not|havent|have not|hasnt|has not|never) (?:get|got|receive|received|arrived?|"
                r"come|came|turned up|showed up)|nothing (?:came|arrived|showed up))\b"), "missing received"),
    (re.compile(r"\b(?:send|sent|sending|bring|take|ship) (?:(?:it|them|this|that|something|stuff|everything|"
                r"(?:the|my|an?) \w+) )?back\b"), "return"),
    (re.compile(r"\b(?:call|phone|ring|email|reach|text|message|write to|talk to|speak to|speak with|"
                r"get in touch with|get hold of) (?:you|u|your team|your support)\b"), "contact"),
    (re.compile(r"\byour (email|phone)(?: address)?\b"), r"contact \1"),
    (re.compile(r"\b(?:a )?number (?:i can|to|we can) call\b"), "contact phone"),
    (re.compile(r"\bwhere (?:are you|is your (?:store|shop|office))(?: located| based)?\b"), "store"),
    (re.compile(r"\b(?:close|deactivate|terminate|remove|erase) (?:my |the |our )?account\b"), "delete account"),
    (re.compile(r"\b(?:need|have to have|have to create|must have|require) an? account\b"), "guest account"),
    (re.compile(r"\b(?:do|does|will) (?:you|u|ya) take\b"), "accept"),
    (re.compile(r"\b(?:send|sent|deliver|delivered|post|posted|mail|mailed) "
                r"(?:(?:it|them|this|(?:my|the|an?) \w+) )?to\b"), "ship to"),
]
QUESTION_REWRITES = QUESTION_PHRASES + SPELLINGS

# Words that mean the same in customer support, mapped to one term (after
# stemming, so plurals and tenses follow).
SYNONYMS = {
    "package": "parcel", "packet": "parcel", "shipment": "parcel", "box": "parcel",
    "product": "item", "stuff": "item", "thing": "item",
    "reimburse": "refund", "reimbursement": "refund",
    "cancellation": "cancel", "cancelled": "cancel",
    "telephone": "phone", "cellphone": "phone",
    "cracked": "broken", "smashed": "broken", "shattered": "broken", "broke": "broken",
    "incorrect": "wrong",
    "price": "cost", "fee": "cost",
    "abroad": "international", "overseas": "international", "worldwide": "international",
    "customs": "duty",
    "swap": "exchange",
    "colour": "color",
    "shop": "store", "showroom": "store", "boutique": "store",
    "pw": "password", "passcode": "password", "passwd": "password",
    "remove": "delete", "erase": "delete",
    "purchase": "buy", "bought": "buy",
    "trace": "track",
    "delivery": "ship",  # the service; "delivered" (the event) stays itself
    "arrive": "receive",
    "update": "change", "modify": "change", "edit": "change", "stuck": "change",
    "together": "combine",
    "colleague": "member", "coworker": "member", "teammate": "member", "workmate": "member",
}

# The knowledge base's terms are ASCII words of folded text; the trigger
# engine reads words of any script. Indic vowel signs are marks, not letters,
# to Python: without them in the class, Hindi words would fall apart
# ("बात" -> "ब त"); the danda (।) ends a sentence and stays out.
WORD = re.compile(r"[a-z0-9]+")
WORD_CHARACTER = r"(?:[^\W_]|[\u0900-\u0963\u0966-\u0dff])"
LETTERS_AND_DIGITS = re.compile(WORD_CHARACTER + "+")
# Apostrophes join what they separate; the rest are letters written two ways
# (German ß, Turkish dotless ı, Arabic alef maqsura, ta marbuta, the tatweel
# that only stretches a word). Hamza and madda on alef are marks NFKD removes.
_FOLD_CHARACTERS = str.maketrans({"'": None, "`": None, "\u2019": None, "\u2018": None, "\u02bc": None,
                                  "ß": "ss", "ı": "i", "\u0649": "\u064a", "\u0629": "\u0647", "\u0640": None})


def fold(text: str) -> str:
    """Lowercase without accents or apostrophes: 'Réembourser' matches
    'reembourser', "where's" is 'wheres' (apostrophes join what they separate)."""
    lowered = text.lower().translate(_FOLD_CHARACTERS)
    if lowered.isascii():  # most text: nothing to decompose
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize(text: str) -> str:
    """Words of any script, folded, one space apart, punctuation dropped:
    "Réel AGENT, s'il vous plaît!" -> "reel agent sil vous plait"."""
    return " ".join(LETTERS_AND_DIGITS.findall(fold(text)))


def stem(word: str) -> str:
    """A light suffix stripper: refunds/refunded/refunding -> refund,
    charge/charged -> charg, policy/policies -> policy."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ly") and len(word) > 6:
        word = word[:-2]  # internationally -> international
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            # shipping -> shipp -> ship (but call, pass, buzz keep their double letter)
            if word[-1] == word[-2] and word[-1] not in "aeiouslz":
                word = word[:-1]
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


SYNONYM_STEMS = {stem(word): stem(canonical) for word, canonical in SYNONYMS.items()}
STOP_STEMS = frozenset(stem(word) for word in STOPWORDS)


# In a question, an order number, an amount, an email or a phone number is a
# detail of the customer's case, not a word an article could use: counted as
# unknown words, "where is my order 12345?" would match nothing.
IDENTIFIER = re.compile(r"\S*@\S+|[#$€£]?\b[\w-]*\d[\w.,/-]*\d[\w.,/-]*\d[\w-]*")


def terms(text: str, question: bool = False) -> list[str]:
    """The analysed terms of a text, in order (see the module docstring)."""
    folded = fold(text)
    if question:
        folded = IDENTIFIER.sub(" ", folded)
    for pattern, replacement in (QUESTION_REWRITES if question else SPELLINGS):
        folded = pattern.sub(replacement, folded)
    found = []
    for word in WORD.findall(folded):
        if word in STOPWORDS:
            continue
        term = stem(word)
        term = SYNONYM_STEMS.get(term, term)
        if term not in STOP_STEMS:
            found.append(term)
    return found


# --- small talk ---------------------------------------------------------------------------

# In the languages the trigger engine reads, folded as fold() folds ("gracias", "teşekkürler").
GREETINGS = frozenset("""
hi hello hey hiya howdy yo greetings morning afternoon evening hola buenos buenas dias tardes noches bonjour salut
bonsoir hallo guten tag morgen abend servus ola bom boa ciao buongiorno buonasera hoi goedemorgen goedemiddag
merhaba selam gunaydin namaste namaskar marhaba
""".split())
THANKS = frozenset("""
thanks thank thx ty tks cheers appreciate appreciated grateful gracias merci danke obrigado obrigada grazie bedankt
dank tesekkurler tesekkur sagol dhanyavad shukriya
""".split())
GOODBYES = frozenset("bye goodbye cya later farewell night adios chao hasta luego revoir tschuss wiedersehen tchau "
                     "arrivederci doei hoscakal gorusuruz alvida".split())
# Words that may come with a greeting, thanks or goodbye without making it a question.
POLITE = frozenset("""
good great ok okay so much very a lot you u there all team guys everyone folks again that it this the for your
help helps helped helping helpful awesome perfect nice cool lovely have day see soon talk many dear and oh ah well
muchas mucho muy por todo beaucoup bien vielen dank sehr muito muita molte mille heel wel cok dhanyavaad ji bahut
""".split())
SMALL_TALK_WORDS = GREETINGS | THANKS | GOODBYES | POLITE


def small_talk_kind(message: str) -> str | None:
    """'thanks', 'goodbye' or 'greeting' when the message is only that; None
    when it says anything else ("hi, where is my order?" is a question)."""
    words = set(WORD.findall(fold(message)))
    if not words <= SMALL_TALK_WORDS:
        return None
    for kind, markers in (("thanks", THANKS), ("goodbye", GOODBYES), ("greeting", GREETINGS)):
        if words & markers:
            return kind
    return None


SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"(])")

# --- what a message asks ---------------------------------------------------------------------

# Sentences as customers type them: ended by . ! ? or a colon before a space,
# capital or not ("$14.95?" is one).
_TYPED_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+|\n+")
# Words that only introduce a question: "One more thing: how much...?", "Also, do you...".
_INTRODUCTION = re.compile(r"^(?:(?:and|also|so|oh|ok|okay|well|plus|then|btw|by the way|one more thing"
                           r"|another thing|(?:a )?quick question|(?:i have )?(?:a|another|one more) question"
                           r"|question|one last thing|last thing)(?:[\s,:;.!-]+|$))+")
_QUESTION_START = re.compile(r"^(?:how|what|whats|when|where|wheres|why|which|who|can|could|do|does|did|is|are"
                             r"|will|would|may|should|am|have|has)\b")


def questions_asked(message: str) -> list[str]:
    """What a message asks, as the knowledge base should look it up. Its
    greetings and thanks and the words that introduce a question are left
    out ("Thanks! One more thing: how much is shipping?" asks "how much is
    shipping?"). A message of several questions gives one text per question
    ("Do you ship to Canada? And can I pay with PayPal?"); otherwise one
    text, the rest of the message with it, since a statement may say what
    the question is about ("My lamp arrived broken. What can I do?")."""
    sentences = []
    for sentence in _TYPED_SENTENCE_END.split(message.strip()):
        if not WORD.search(fold(sentence)) or small_talk_kind(sentence):
            continue
        introduction = _INTRODUCTION.match(sentence.lower())
        asked = sentence[introduction.end():] if introduction else sentence
        if WORD.search(fold(asked)):
            sentences.append((asked, asked.endswith("?") or bool(_QUESTION_START.match(fold(asked)))))
    questions = [asked for asked, is_question in sentences if is_question]
    if len(questions) >= 2:
        return questions
    return [" ".join(asked for asked, _ in sentences) or message]


# --- typos ----------------------------------------------------------------------------------


def deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def typo_index(vocabulary, min_length: int) -> dict[str, tuple[str, ...]]:
    """Each known word of at least `min_length` letters, and each of its
    one-letter deletions, -> the known words. Two words meet there when they
    are one insertion, deletion, substitution or swap of neighbours apart."""
    index: dict[str, set[str]] = {}
    for word in vocabulary:
        if len(word) >= min_length and not word.isdigit():
            for variant in (word, *deletions(word)):
                index.setdefault(variant, set()).add(word)
    return {variant: tuple(sorted(known)) for variant, known in index.items()}


def one_edit_away(word: str, index: dict[str, tuple[str, ...]]) -> set[str]:
    """The known words of the index one edit away from `word` (or equal to it)."""
    found: set[str] = set()
    for variant in (word, *deletions(word)):
        found.update(index.get(variant, ()))
    return found


# --- language -------------------------------------------------------------------------------

# The languages the trigger engine reads (gateway/bot/intents.py). The bot's
# own sentences exist in fewer (gateway/handoff/wording.py); the others fall
# back to English.
LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "nl", "ar", "hi", "tr")

# Frequent short words of each language, and its words for what customers
# write about (orders, cards, refunds, people), folded. A word several
# languages share counts for each a fraction; scripts decide Arabic and
# Devanagari, and letters only some languages use count as a word.
_LANGUAGE_WORDS = {
    "en": "the a an and is are was i im my me you your to of for with this that what how can please want need not "
          "do dont does it its there have has be order where when why thanks hi hello would like get agent human "
          "person someone refund cancel card account money back charged stolen lost",
    "es": "a el la los las del que y en por para con una es mi mis quiero hacen envios necesito hola gracias como no me pedido "
          "esta puedo usted su al lo hay tengo cuenta tarjeta dinero quisiera pero muy favor persona humano agente "
          "reembolso cancelar envio cuanto cuesta cobraron veces suscripcion hablar alguien",
    "fr": "le la les des du de et est je vous pour une un mon ma mes bonjour merci comment pas ne suis avec "
          "commande cest svp jai il y au sur votre quel quelle veux voudrais moi carte compte remboursement annuler "
          "quelquun personne conseiller humain operateur parler marre",
    "de": "der die das und ist ich nicht mit ein eine einen einem mein meine meinen bitte hallo danke wie was kann "
          "bestellung mir sie wurde zu auf den dem hat habe keine mochte will konto karte geld mitarbeiter mensch "
          "jemand sprechen gibt hier im war sehr",
    "pt": "a o os as do da que e nao um uma meu minha ola obrigado obrigada como voce esta quero pedido com para por "
          "tem meus foi sua posso preciso conta cartao dinheiro reembolso atendente pessoa humano vezes voces "
          "estou qual",
    "it": "il lo gli di che e non un una mio mia ciao grazie come sono ho voglio ordine per con del della vorrei "
          "mi ce posso stato conto carta soldi rimborso operatore persona umano qualcuno annullare spedite volte",
    "nl": "de het een en ik niet met mijn is van hallo dank graag hoe wat kan bestelling je u wil ben heb er op "
          "te dit dat zijn geen medewerker iemand rekening pas geld terug jullie ook winkel",
    "tr": "bir ve bu ben benim icin ile degil mi mu lutfen merhaba tesekkurler nasil ne var yok istiyorum siparis "
          "siparisim hesabim kartim oldu musunuz miyim iade iptal temsilci para",
    "hi": "mujhe mera meri mere hai hain nahi nahin kya kaise se baat karna karni chahiye aap ko ka ki ke main "
          "hoon tha gaya kar karo do baar paise kitne mein hoon",
}
_WORD_LANGUAGES: dict[str, list[str]] = {}
for _language, _words in _LANGUAGE_WORDS.items():
    for _word in _words.split():
        _WORD_LANGUAGES.setdefault(_word, []).append(_language)
_LETTER_LANGUAGES = {"ñ": ["es"], "¿": ["es"], "¡": ["es"], "ã": ["pt"], "õ": ["pt"], "ç": ["fr", "pt", "tr"],
                     "ı": ["tr"], "ş": ["tr"], "ğ": ["tr"], "ä": ["de"], "ö": ["de", "tr"], "ü": ["de", "tr"],
                     "ß": ["de"], "è": ["fr", "it"], "ê": ["fr", "pt"], "à": ["fr", "it"], "ò": ["it"],
                     "ì": ["it"], "ù": ["fr", "it"], "œ": ["fr"]}
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_DEVANAGARI = re.compile(r"[\u0900-\u097f]")
# The languages language() tells by their script.
SCRIPT_LANGUAGES = ("ar", "hi")


def conversation_language(texts) -> str | None:
    """The language of a conversation: that of the customer's latest text
    whose words say one (texts oldest first)."""
    for text in reversed(list(texts)):
        found = language(text)
        if found:
            return found
    return None


def language(text: str) -> str | None:
    """The language of a customer's text, one of LANGUAGES, or None when its
    words do not say ("ok", "12345"). A guess from frequent words: good on a
    sentence, unsure on two words."""
    if _ARABIC.search(text):
        return "ar"
    if _DEVANAGARI.search(text):
        return "hi"
    scores: dict[str, float] = {}
    clues = [_WORD_LANGUAGES.get(word, ()) for word in LETTERS_AND_DIGITS.findall(fold(text))]
    clues += [_LETTER_LANGUAGES[letter] for letter in set(text.lower()) if letter in _LETTER_LANGUAGES]
    for languages in clues:
        for candidate in languages:
            scores[candidate] = scores.get(candidate, 0.0) + 1 / len(languages)
    if not scores:
        return None
    best = max(scores.values())
    leaders = [candidate for candidate in LANGUAGES if scores.get(candidate) == best]
    # A tie is no answer, except that English wins one: it is the fallback anyway.
    return leaders[0] if len(leaders) == 1 or leaders[0] == "en" else None
