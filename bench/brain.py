"""`handoff bench brain`: how fast the bot brain handles customer messages, in one worker process.

A built-in corpus of a few hundred distinct customer messages (questions the
sample knowledge base answers, off-topic ones, greetings and thanks, requests
for a person, frustrated and urgent messages, messages with order numbers and
emails, a few long pasted ones) is replayed as conversations of a few turns,
so the engine sees history: earlier questions (repeats), the bot's streak of
unsure answers, whether it offered a person, an escalation that silences it.

Measured in this one process, each for a timed window, pass after pass over
the corpus (the engine's per-text caches are cleared before each pass: in real
traffic every new message is new):

- brain: what process_inbound computes for a message, without the database:
  TriggerConfig.from_settings, evaluate_message, the kb responder's answer,
  judge_reply, extract_details/merge_details;
- the parts on the same inputs: triggers only (from_settings, evaluate_message,
  judge_reply), responder only (responder_for + answer), details only.

Then end to end through the real job: workers.inbound.process_inbound called
directly (workers.context configured) on messages stored in a fresh, migrated
benchmark database, round by round (each conversation's next message is
stored after the bot handled the previous one, as when customers wait for
the answer), so it includes every database round trip and the Redis enqueue
and publish. As a baseline in the same run, on the same kind of messages, a
floor job: the same locking read, one INSERT of a fixed reply, mark processed.

Servers: DATABASE_URL / REDIS_URL when set, but a dedicated database
(handoff_bench_brain, created fresh) and Redis db (12); otherwise embedded
PostgreSQL and Valkey in a temporary directory. Everything is removed at the
end. No RQ worker runs: the send jobs the bot queues are flushed.
"""

from __future__ import annotations

import gc
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.services import (
    Backing,
    backing_services,
    interrupt,
    load_average,
    number,
    say,
)

BENCH_DATABASE = "handoff_bench_brain"
BENCH_REDIS_DB = 12
SEED = 20240611
FLOOR_REPLY = "Thanks for your message! Here is our answer."


# --- the corpus ------------------------------------------------------------------------------

# Questions the sample knowledge base (gateway/local/demo_kb) answers, as customers ask them.
KB_QUESTIONS = """
How do I reset my password?
I forgot my password, what do I do?
The password reset email never arrived
how long is the password reset link valid
Can I change the email on my account?
I want to update my email address
Do I need an account to buy something?
can i checkout as a guest
How do I delete my account?
Please delete my account and all my personal data
Will you keep my data if I close my account?
What are your opening hours?
When is customer service open?
Are you open on Sundays?
are you open on saturday
What time do you close on Friday?
How can I contact you?
What is your phone number?
What's your email address?
Can I reach you on WhatsApp?
How fast do you answer emails?
Where is your showroom?
Can I pick up my order in store?
Is there a store in Portland?
Where is my order?
How do I track my parcel?
I can't find the tracking number for my order
My tracking hasn't updated in a week
tracking still says label created, is that normal?
The tracking says delivered but I didn't get the package
My parcel says delivered but nothing arrived
Can I cancel my order?
I placed an order an hour ago, can I still cancel it?
How do I cancel an order I just placed?
Which payment methods do you accept?
Do you take PayPal?
Can I pay with Apple Pay?
do you accept american express
Can I pay cash on delivery?
Do you accept bank transfers?
When will my card be charged?
Why was I charged twice for one order sent in two parcels?
My card was declined at checkout
Why is my payment declined?
Can I use a gift card together with my credit card?
Do gift cards expire?
How do I check my gift card balance?
What is your return policy?
How many days do I have to return something?
Can I return an item I already used?
Can I return a final sale item?
How do I return an item?
How do I get a return label?
Are returns free?
Do I have to pay for international returns?
When will I get my refund?
How long does a refund take?
I sent my return back last week, when do I get my money back?
My item arrived broken
The vase I received is cracked
You sent me the wrong item
The item arrived damaged, what can I do?
Can I exchange a sweater for a different size?
Do you do exchanges for another color?
How long does shipping take?
How long does standard shipping take?
How fast is express shipping?
If I order today before 2pm will it ship today?
How much is shipping?
Is shipping free?
How much does express delivery cost?
Do you ship to Canada?
Do you ship internationally?
Do you ship to the UK?
How long does international delivery take?
Will I have to pay customs duties?
Can I change my delivery address?
I entered the wrong shipping address, can I fix it?
Can I change the address after the order has shipped?
When will my order arrive?
how long until my package gets here
What does it cost to ship to Europe?
Is there a minimum order for free shipping?
What happens if my parcel is lost?
Can I get a refund instead of a replacement?
""".strip().splitlines()

# Questions with details the bot collects (order numbers, emails, phone numbers).
DETAIL_QUESTIONS = """
Hi, where is order #48213? My email is jane.doe@example.com
Order 10023887 has not arrived yet, can you check?
My order number is MM-55102, when will it ship?
I need to return order #77410, how do I get a label?
Tracking for order 3349120 hasn't changed in 5 days
Can you change the address on order #90311 to 12 Elm St?
My email is sam.rivers@example.org and I can't reset my password
Please call me back at +1 207 555 0199 about my refund
The parcel for order #66021 says delivered but I never got it, my phone is (415) 555-2671
I'm Maria Lopez, order 55210, the lamp arrived broken
Can I cancel order #12044? I placed it 20 minutes ago
my order 88410 was charged but never shipped, email m.chen@example.com
Order #30071: wrong color sent, I ordered green not blue
I want to change my account email from old@example.com to new@example.com
Gift card 4455-1122 balance please
Order 70215 is missing one item
Please send the return label for order #41188 to kim@example.net
Is order #10931 shipped yet? Reach me on 617-555-0123
What's the status of order 99402?
My name is Tom Becker and my order 61003 is late
""".strip().splitlines()

OFF_TOPIC = """
Do you sell bicycles?
What's the weather like in Paris tomorrow?
Can you recommend a good lasagna recipe?
Who won the football game last night?
Are you hiring?
Do you have a loyalty program?
Can I get a discount code?
Do you sell furniture for outdoor use?
Is this sofa available in velvet?
What's the meaning of life?
Can you write me a poem?
Do you have any job openings in Boston?
How do I become a wholesale partner?
Do you offer gift wrapping?
Can I buy in bulk for my restaurant?
Do you do interior design consultations?
What is the capital of Australia?
Do you price match Amazon?
Are your products made in the USA?
Is your wood sustainably sourced?
Do you have an affiliate program?
What's the best plant for a dark room?
Can I book a table for two?
How tall is the Eiffel Tower?
Do you sell spare parts for the Nordic lamp?
Do you have a catalog I can download?
Is there a student discount?
Can you assemble furniture at my home?
Do you sell candles without fragrance?
Do you have a newsletter?
How do I care for a linen tablecloth?
What size rug fits under a queen bed?
Are your cushions machine washable?
Do you sponsor local events?
What's your company's carbon footprint?
""".strip().splitlines()

SMALL_TALK = """
hi
Hello
hello there
Hey!
Good morning
good evening
hi there, anyone around?
Thanks!
thank you so much
thanks, that helps
great, thanks
ok thanks
Thank you, bye
bye
goodbye
have a nice day
cheers
perfect, thank you
awesome
ok
""".strip().splitlines()

HUMAN_REQUESTS = """
I want to talk to a person
real agent please
Can I speak to someone?
representative
human!
Let me talk to a human
I need to speak with a real person
connect me to an agent
agent
Is there a human I can chat with?
Please transfer me to customer service staff
Can I talk to somebody real?
I'd rather talk to a person, not a bot
get me a manager
operator please
talk to agent
I want a live agent
speak to a human
Could a real person help me with this?
Stop the bot, I want a human
""".strip().splitlines()

FRUSTRATED = """
This is ridiculous, I've been waiting for two weeks!!!
WHERE IS MY ORDER???
You are not helping at all
This is the third time I ask the same thing
I am so frustrated with this service
Terrible service, nothing works
I'm really annoyed, my package is late again!!
Why is this so complicated???
This bot is useless
I have been waiting for two weeks and nobody answers
Seriously?! This is unacceptable
I'M VERY ANGRY ABOUT THIS
worst experience ever, never ordering again
this is a joke, nothing arrived
I'm fed up with waiting
not helping. at all.
You keep giving me the same useless answer
I've asked three times already!!!
Honestly this is ridiculous
Still nothing?? This is awful
""".strip().splitlines()

URGENT = """
I think my account was hacked
Someone logged into my account and changed my password
There is a fraudulent charge on my card from your store
I want a refund now
I was charged twice, it's a billing error
I'm filing a chargeback with my bank
Please cancel my subscription immediately
My account is locked and I can't get in
This is an emergency, the heater I bought is sparking
Your website is down, I can't place an order
I see an unauthorized payment on my statement
I need to cancel my order right now, it's urgent
Fraud alert: I didn't make this purchase
my account has been locked after too many attempts
I was overcharged on my last invoice
Refund me immediately for the broken table
The checkout is broken, there's an outage
My credit card was stolen and used on your site
Billing error: I was charged for an order I cancelled
I want to dispute this charge
""".strip().splitlines()

LONG_MESSAGES = [
    "Hello, I ordered a set of four dining chairs two weeks ago and the tracking page has said 'in transit' "
    "for nine days now without any update. I already checked with my neighbours and the building reception "
    "and nobody has seen a parcel. I need these chairs for a family dinner next weekend, so I would really "
    "like to know where the order is and whether you can send a replacement if it is lost. The order number "
    "is 58213 and my email address is alex.morgan@example.com. Thank you in advance for your help.",
    "Hi there. I'm writing because I tried to return a lamp through the Orders page but the return label "
    "never arrived in my inbox. I checked my spam folder twice. The lamp is unused and still in its box. "
    "Could you tell me how to get the prepaid label, and whether the return is free within the US? Also, "
    "once you receive it, how long will the refund take to show on my card statement?",
    "Good afternoon, a question about international shipping: I live in Toronto and want to order a large "
    "rug and two cushions. How long would delivery take to Canada, how much does it cost, and will I have "
    "to pay import duties or taxes when the parcel arrives? I'd also like to know if I can pay with PayPal.",
    "I have been a loyal customer for years and I have never had an experience this bad. My order arrived "
    "with a broken mirror, the box was crushed, and the replacement you promised never came. I have sent "
    "three emails and nobody has replied. This is ridiculous and I am seriously considering a chargeback. "
    "Please have someone who can actually fix this contact me today.",
    "Quick summary of my problem: 1) I changed my email in account settings, 2) the confirmation link "
    "expired before I clicked it, 3) now I can't sign in with either the old or the new email, and 4) the "
    "password reset email goes to the old address which I no longer have access to. What should I do?",
    "Hello! We are furnishing a new office and would like to know whether you offer business accounts, "
    "invoices with VAT numbers, delivery to a loading dock with a specific time window, and assembly of "
    "desks on site. We'd be ordering around forty desks and chairs over the next two months.",
    "My payment keeps getting declined even though the card is valid and has plenty of funds. The billing "
    "address is the same as on my bank statement, the card expires in 2027, and I tried three times from "
    "two different browsers. Is there something wrong on your side or should I call my bank?",
    "I received my order today but one of the three items is missing and another is the wrong size. The "
    "packing slip lists all three. I'd like the missing item sent and the wrong one exchanged for a large, "
    "or otherwise a refund for both. What's the fastest way to sort this out? Order #61520.",
]

# Added to some messages, so that the corpus has the variety of real typing.
OPENERS = ["Hi, ", "Hello! ", "Hey, ", "Quick question: ", "Good morning. ", "hi there ", "Sorry to bother you, "]
CLOSERS = [" Thanks!", " thank you", " Thanks in advance.", " pls", " ??", " :)"]

CATEGORIES = ("kb", "details", "off_topic", "small_talk", "human", "frustrated", "urgent", "long")


@dataclass(frozen=True)
class Conversation:
    turns: tuple[tuple[str, str], ...]  # (category, text), in order


def corpus_messages() -> dict[str, list[str]]:
    """The distinct messages of each category: the base texts and some retyped variants."""
    rng = random.Random(SEED)

    def variants(texts: list[str], share: float) -> list[str]:
        out = list(texts)
        for text in texts:
            if rng.random() < share:
                kind = rng.randrange(3)
                if kind == 0:
                    out.append(rng.choice(OPENERS) + text[0].lower() + text[1:])
                elif kind == 1:
                    out.append(text.rstrip("?.!") + rng.choice(CLOSERS))
                else:
                    out.append(text.lower().rstrip("?.!"))
        return list(dict.fromkeys(out))

    return {
        "kb": variants(KB_QUESTIONS, 0.9),
        "details": variants(DETAIL_QUESTIONS, 0.5),
        "off_topic": variants(OFF_TOPIC, 0.6),
        "small_talk": list(SMALL_TALK),
        "human": variants(HUMAN_REQUESTS, 0.3),
        "frustrated": variants(FRUSTRATED, 0.3),
        "urgent": variants(URGENT, 0.4),
        "long": list(LONG_MESSAGES),
    }


def build_conversations(messages: dict[str, list[str]]) -> list[Conversation]:
    """Conversations of 2 to 6 turns that use every distinct message at least once:
    often a greeting first, then questions, then sometimes thanks or an escalator
    (a person asked for, frustration, an urgent topic), sometimes a question
    asked again and again."""
    rng = random.Random(SEED + 1)
    pools = {name: list(texts) for name, texts in messages.items()}
    for texts in pools.values():
        rng.shuffle(texts)
    cursor = {name: 0 for name in pools}
    used = {name: 0 for name in pools}

    def draw(name: str) -> tuple[str, str]:
        texts = pools[name]
        text = texts[cursor[name] % len(texts)]
        cursor[name] += 1
        used[name] = min(len(texts), used[name] + 1)
        return name, text

    conversations = []
    while any(used[name] < len(pools[name]) for name in pools) or len(conversations) < 60:
        turns = []
        if rng.random() < 0.45:
            turns.append(draw("small_talk"))
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            roll = rng.random()
            if roll < 0.55:
                turns.append(draw("kb"))
            elif roll < 0.72:
                turns.append(draw("details"))
            elif roll < 0.92:
                turns.append(draw("off_topic"))
            else:
                turns.append(draw("long"))
        if rng.random() < 0.06:  # the same question again, and again
            asked = turns[-1]
            turns += [asked, asked]
        roll = rng.random()
        if roll < 0.2:
            turns.append(draw("small_talk"))
        elif roll < 0.35:
            turns.append(draw("human"))
        elif roll < 0.5:
            turns.append(draw("frustrated"))
        elif roll < 0.65:
            turns.append(draw("urgent"))
        if rng.random() < 0.25:  # a customer who goes on writing (after an escalation, to a person)
            turns.append(draw(rng.choice(("kb", "off_topic", "frustrated"))))
        conversations.append(Conversation(tuple(turns)))
    return conversations


# --- the brain, without a database ----------------------------------------------------------


@dataclass
class SimulatedConversation:
    """A conversation row and its brain_context(), kept the way process_inbound's
    writes would leave them."""

    conversation: dict = field(default_factory=lambda: {
        "status": "bot", "escalated_at": None, "low_confidence_streak": 0, "collected": {}})
    history: list = field(default_factory=list)  # {"sender", "text"}, oldest first
    bot_answer_count: int = 0
    human_offered: bool = False

    def known(self) -> dict:
        recent = self.history[-20:]
        return {
            "channel_kind": "web", "contact_vip": False, "contact_attributes": {},
            "bot_answer_count": self.bot_answer_count, "human_offered": self.human_offered,
            "history": recent,
            "previous_customer_texts": tuple(m["text"] for m in recent if m["sender"] == "customer" and m["text"]),
        }


@dataclass
class Step:
    """One customer message with the inputs process_inbound would give the brain."""

    category: str
    text: str
    conversation: dict
    known: dict
    outcome: str = ""                       # answered | escalated | escalated_after | human
    reply: object = None                    # the responder's Reply, when it answered


class Brain:
    """The pure part of process_inbound, step by step, on given inputs."""

    def __init__(self, settings: dict, articles: list[dict]):
        from gateway.config import Config

        self.settings = settings
        self.articles = articles
        self.config = Config(ai_provider="kb")

    def triggers_before(self, step: Step):
        from gateway.bot.triggers import TriggerConfig, Turn, conversation_state, evaluate_message

        config = TriggerConfig.from_settings(self.settings)
        state = conversation_state(step.conversation, step.known)
        turn = Turn(text=step.text)
        return config, state, turn, evaluate_message(state, turn, config)

    def respond(self, step: Step):
        from workers.brain import responder_for

        provider = self.settings["provider"] or self.config.ai_provider
        return responder_for(replace(self.config, ai_provider=provider)).answer(
            step.known["history"], step.text, self.articles)

    def details(self, step: Step):
        from gateway.bot.details import extract_details, merge_details

        return merge_details(step.conversation["collected"], extract_details(step.text))

    def full(self, step: Step) -> str:
        """triggers, responder, judge, details: what process_inbound computes."""
        from gateway.bot.triggers import judge_reply

        if step.conversation["status"] != "bot":
            return "human"
        config, state, turn, before = self.triggers_before(step)
        if before.escalate:
            return "escalated"
        reply = self.respond(step)
        after = judge_reply(state, turn, reply, config)
        self.details(step)
        return "escalated_after" if after.escalate else "answered"

    def triggers_only(self, step: Step) -> None:
        from gateway.bot.triggers import judge_reply

        if step.conversation["status"] != "bot":
            return
        config, state, turn, before = self.triggers_before(step)
        if not before.escalate:
            judge_reply(state, turn, step.reply, config)


def replay(brain: Brain, conversations: list[Conversation]) -> list[Step]:
    """Every message with the state process_inbound would see, conversation by
    conversation, updating the state as process_inbound's writes do."""
    from gateway.bot.triggers import judge_reply

    steps = []
    for script in conversations:
        sim = SimulatedConversation()
        for category, text in script.turns:
            step = Step(category, text, dict(sim.conversation), sim.known())
            steps.append(step)
            sim.history.append({"sender": "customer", "text": text})
            if sim.conversation["status"] != "bot":
                step.outcome = "human"
                continue
            config, state, turn, before = brain.triggers_before(step)
            if before.escalate:
                step.outcome = "escalated"
                _escalate(sim)
                continue
            reply = step.reply = brain.respond(step)
            after = judge_reply(state, turn, reply, config)
            sim.conversation["low_confidence_streak"] = after.low_confidence_streak
            sim.conversation["collected"] = brain.details(step)
            if after.escalate:
                step.outcome = "escalated_after"
                _escalate(sim)
                continue
            step.outcome = "answered"
            sim.human_offered = (before if before.offer_human else after).offer_human or sim.bot_answer_count == 0
            sim.bot_answer_count += 1
            sim.history.append({"sender": "bot", "text": reply.text})
    return steps


def _escalate(sim: SimulatedConversation) -> None:
    sim.conversation["status"] = "queued"
    sim.conversation["escalated_at"] = "now"
    sim.history.append({"sender": "system", "text": "I'm connecting you with our team."})


def _clear_text_caches() -> None:
    """The trigger engine's per-text caches: a pass over the corpus starts as
    real traffic does, with messages it has not seen (the index of the
    knowledge base and the compiled settings stay: they are per process)."""
    from gateway.bot import triggers

    for name in ("_content_terms", "confirms_solved", "text_of"):
        cached = getattr(triggers, name, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()


class Window:
    """A timed measurement, run in slices (interleaved with the others, so that
    a burst of other work on the machine does not land on one of them only)."""

    def __init__(self, label: str, steps: list, work):
        self.label, self.steps, self.work = label, steps, work
        self.times: list[int] = []
        self.indexes: list[int] = []
        self.wall_ns = 0
        self.cpu = 0.0
        self.position = 0

    def run(self, seconds: float) -> None:
        """Go on through the steps (from where the last slice stopped) for `seconds`;
        the engine's per-text caches are cleared at the start of each pass."""
        clock, steps, work = time.perf_counter_ns, self.steps, self.work
        times, indexes = self.times, self.indexes
        started = clock()
        deadline = started + int(seconds * 1e9)
        cpu_started = time.process_time()
        while True:
            if self.position == 0:
                _clear_text_caches()
            step = steps[self.position]
            t0 = clock()
            work(step)
            t1 = clock()
            times.append(t1 - t0)
            indexes.append(self.position)
            self.position = (self.position + 1) % len(steps)
            if t1 >= deadline:
                break
        self.wall_ns += clock() - started
        self.cpu += time.process_time() - cpu_started

    def figures(self) -> dict:
        wall = self.wall_ns / 1e9
        figures = _latency(self.times, scale=1e3)  # ns -> µs
        figures.update({"messages": len(self.times), "passes": round(len(self.times) / len(self.steps), 2),
                        "seconds": wall, "per_second": len(self.times) / wall if wall else None,
                        "cpu_seconds": self.cpu, "cpu_share": self.cpu / wall if wall else None})
        say(f"    {self.label}: {figures['per_second']:,.0f} messages/s, p50 {figures['p50']:.0f} µs, "
            f"p99 {figures['p99']:.0f} µs ({len(self.times)} messages, {figures['passes']:g} passes, {wall:.1f} s, "
            f"CPU {100 * figures['cpu_share']:.0f}% of the wall time)")
        return figures


SLICES = 4


def timed_windows(windows: dict[str, Window], seconds: float) -> dict[str, dict]:
    """Each window for `seconds` in all, in SLICES slices, taking turns in a rotating order."""
    keys = list(windows)
    for slice_index in range(SLICES):
        for key in keys[slice_index % len(keys):] + keys[:slice_index % len(keys)]:
            windows[key].run(seconds / SLICES)
    return {key: window.figures() for key, window in windows.items()}


def _latency(times: list, scale: float) -> dict:
    """p50/p90/p99/max/mean of times (in ns or s, divided by scale)."""
    if not times:
        return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(times)
    n = len(ordered)

    def pct(p: float) -> float:
        return ordered[min(n - 1, max(0, int(round(p / 100 * n + 0.5)) - 1))] / scale

    return {"p50": pct(50), "p90": pct(90), "p99": pct(99), "max": ordered[-1] / scale,
            "mean": statistics.fmean(ordered) / scale}


def measure_brain(steps: list[Step], brain: Brain, seconds: float, settings: dict) -> dict:
    from gateway.bot.settings import normalized_settings

    # A message in a conversation already with a person never reaches the brain.
    evaluated = [s for s in steps if s.outcome != "human"]
    answered = [s for s in steps if s.reply is not None]
    windows = {
        "brain": Window("brain (triggers + kb responder + judge + details)", evaluated, brain.full),
        "triggers": Window("triggers only (from_settings + evaluate_message + judge_reply)", evaluated,
                           brain.triggers_only),
        "responder": Window("kb responder only (on the messages it answers)", answered, brain.respond),
        "details": Window("details only (extract + merge)", answered, brain.details),
        # Not the brain, but pure Python that process_inbound runs for every message before it:
        # load_bot_settings normalizes the stored document (cached per document, then copied).
        "settings": Window("settings (load_bot_settings -> normalized_settings)", [None],
                           lambda _: normalized_settings(None)),
    }
    say(f"  in process, no database: {', '.join(windows)} for {seconds:g} s each, in {SLICES} interleaved slices")
    results = timed_windows(windows, seconds)
    brain_times = list(zip(windows["brain"].indexes, windows["brain"].times))
    per_category: dict[str, list[int]] = {}
    per_message: dict[int, list[int]] = {}
    for index, ns in brain_times:
        per_category.setdefault(evaluated[index].category, []).append(ns)
        per_message.setdefault(index, []).append(ns)
    results["per_category"] = {
        category: {**_latency(times, 1e3), "messages": sum(1 for s in evaluated if s.category == category)}
        for category, times in sorted(per_category.items(), key=lambda kv: CATEGORIES.index(kv[0]))
    }
    slowest = sorted(per_message.items(), key=lambda kv: -statistics.median(kv[1]))[:5]
    results["slowest_messages"] = [
        {"us": statistics.median(times) / 1e3, "category": evaluated[index].category,
         "outcome": evaluated[index].outcome, "text": evaluated[index].text}
        for index, times in slowest
    ]
    # Mean time per evaluated message of the corpus, split into the parts.
    n = len(evaluated)
    results["split_us_per_message"] = {
        "triggers": results["triggers"]["mean"],
        "responder": results["responder"]["mean"] * len(answered) / n,
        "details": results["details"]["mean"] * len(answered) / n,
        "brain": results["brain"]["mean"],
        "settings_validation": results["settings"]["mean"],
    }
    results["evaluated"] = n
    results["answered"] = len(answered)
    return results


def cold_costs(articles: list[dict], settings: dict) -> dict:
    """What the first message of a worker process pays once: indexing the knowledge
    base, compiling the settings, loading VADER."""
    from gateway.bot.triggers import TriggerConfig, _compile_config, sentiment_analyzer
    from workers.brain import kb

    kb._index.cache_clear()
    _compile_config.cache_clear()
    sentiment_analyzer.cache_clear()
    t0 = time.perf_counter()
    kb.knowledge_base(articles)
    t1 = time.perf_counter()
    TriggerConfig.from_settings(settings)
    t2 = time.perf_counter()
    sentiment_analyzer()
    t3 = time.perf_counter()
    return {"kb_index_ms": (t1 - t0) * 1e3, "compile_settings_ms": (t2 - t1) * 1e3, "vader_load_ms": (t3 - t2) * 1e3}


# --- end to end: the real job on a database ---------------------------------------------------


def floor_job(message_id: int) -> str:
    """The floor: process_inbound's locking read, one INSERT of a fixed reply, mark processed."""
    from gateway.db import transaction
    from gateway.store import messages
    from workers import context
    from workers.inbound import lock_unprocessed

    ctx = context.current()
    with transaction(ctx.pool) as conn:
        loaded = lock_unprocessed(conn, message_id)
        if isinstance(loaded, str):
            return loaded
        message, conversation = loaded
        messages.insert_outbound(conn, conversation_id=conversation["id"], channel_id=conversation["channel_id"],
                                 sender="bot", text=FLOOR_REPLY, reply_to_id=message_id)
        messages.mark_processed(conn, message_id)
    return "answered"


def run_end_to_end(backing: Backing, conversations: list[Conversation], total_messages: int) -> dict:
    """Handoff's process_inbound and the floor job on the same kind of stored
    messages, round by round, alternating who goes first."""
    from channels.base import InboundMessage
    from gateway.bot.articles import save_articles
    from gateway.config import Config
    from gateway.conversations.intake import store_inbound_message
    from gateway.db import connect
    from gateway.local.demo import sample_articles
    from gateway.store.channels import create_channel
    from workers import context
    from workers.inbound import process_inbound

    # Conversations (cycling through the corpus's) until total_messages, for each side.
    scripts: list[Conversation] = []
    count = 0
    while count < total_messages:
        script = conversations[len(scripts) % len(conversations)]
        script = Conversation(script.turns[: total_messages - count])
        scripts.append(script)
        count += len(script.turns)

    with connect(backing.database_url) as conn:
        save_articles(conn, sample_articles())
        channels = {
            side: create_channel(conn, kind="web", name=f"Bench brain ({side})", address=f"bench-brain-{side}",
                                 credentials={})
            for side in ("handoff", "floor")
        }
        conn.commit()

    context.configure(Config(database_url=backing.database_url, redis_url=backing.redis_url, ai_provider="kb"))
    jobs = {"handoff": process_inbound, "floor": floor_job}
    times: dict[str, list[float]] = {"handoff": [], "floor": []}
    cpu: dict[str, float] = {"handoff": 0.0, "floor": 0.0}
    outcomes: dict[str, dict[str, int]] = {"handoff": {}, "floor": {}}
    rounds = max(len(s.turns) for s in scripts)
    tag = secrets.token_hex(4)
    say(f"  {count} messages in {len(scripts)} conversations for each of Handoff and the floor, {rounds} rounds")
    try:
        with connect(backing.database_url, autocommit=True) as store_conn:
            # Warm-up, not counted: the pool, prepared plans, the KB index, the settings.
            for side in ("handoff", "floor"):
                stored = store_inbound_message(store_conn, channels[side], InboundMessage(
                    channel_address=channels[side].address, sender_address=f"warmup-{side}-{tag}",
                    provider_message_id=f"warmup-{side}-{tag}", text="How long does shipping take?"))
                jobs[side](stored.message_id)
            for round_index in range(rounds):
                order = ("handoff", "floor") if round_index % 2 == 0 else ("floor", "handoff")
                for side in order:
                    ids = []
                    for number, script in enumerate(scripts):
                        if round_index < len(script.turns):
                            _, text = script.turns[round_index]
                            stored = store_inbound_message(store_conn, channels[side], InboundMessage(
                                channel_address=channels[side].address,
                                sender_address=f"visitor-{tag}-{number}",
                                provider_message_id=f"{tag}-{side}-{number}-{round_index}", text=text))
                            ids.append(stored.message_id)
                    job = jobs[side]
                    side_times = times[side]
                    side_outcomes = outcomes[side]
                    gc.collect()
                    cpu_started = time.process_time()
                    for message_id in ids:
                        t0 = time.perf_counter()
                        outcome = job(message_id)
                        side_times.append(time.perf_counter() - t0)
                        side_outcomes[outcome] = side_outcomes.get(outcome, 0) + 1
                    cpu[side] += time.process_time() - cpu_started
                say(f"    round {round_index + 1}/{rounds}: "
                    + ", ".join(f"{side} {len(times[side])} done" for side in ("handoff", "floor")))
        stored_counts = _stored_counts(backing.database_url, channels)
    finally:
        context.current().close()

    results = {}
    for side in ("handoff", "floor"):
        busy = sum(times[side])
        figures = _latency(times[side], scale=1e-3)  # s -> ms
        figures.update({"messages": len(times[side]), "busy_seconds": busy,
                        "per_second": len(times[side]) / busy if busy else None,
                        "cpu_ms_per_message": 1e3 * cpu[side] / len(times[side]) if times[side] else None,
                        "outcomes": outcomes[side]})
        results[side] = figures
        say(f"    {side}: {figures['per_second']:,.0f} messages/s, p50 {figures['p50']:.2f} ms, "
            f"p99 {figures['p99']:.2f} ms")
    results["ratio"] = {
        "per_second": _ratio(results["handoff"]["per_second"], results["floor"]["per_second"]),
        "p50": _ratio(results["handoff"]["p50"], results["floor"]["p50"]),
        "p99": _ratio(results["handoff"]["p99"], results["floor"]["p99"]),
        "cpu": _ratio(results["handoff"]["cpu_ms_per_message"], results["floor"]["cpu_ms_per_message"]),
    }
    results["stored"] = stored_counts
    results["conversations"] = len(scripts)
    return results


def _stored_counts(database_url: str, channels: dict) -> dict:
    from gateway.db import connect

    counts = {}
    with connect(database_url) as conn:
        for side, channel in channels.items():
            row = conn.execute(
                """
                SELECT count(*) FILTER (WHERE direction = 'inbound') AS inbound,
                       count(*) FILTER (WHERE direction = 'inbound' AND processed_at IS NULL) AS unprocessed,
                       count(*) FILTER (WHERE sender = 'bot') AS bot_replies,
                       count(*) FILTER (WHERE sender = 'system') AS escalation_notices
                  FROM messages WHERE channel_id = %(channel)s
                """, {"channel": channel.id}).fetchone()
            counts[side] = dict(row)
        counts["escalation_events"] = conn.execute(
            "SELECT count(*) AS n FROM events WHERE kind = 'conversation.escalated'").fetchone()["n"]
    return counts


def _ratio(a, b):
    return (a / b) if (a is not None and b) else None


# --- the whole run ----------------------------------------------------------------------------


@dataclass
class Options:
    messages: int = 400
    seconds: float = 2.0
    end_to_end: bool = True


def run_brain(options: Options) -> dict:
    from gateway.bot.settings import default_bot_settings
    from gateway.local.demo import sample_articles

    started = time.perf_counter()
    load_before = load_average()
    messages = corpus_messages()
    conversations = build_conversations(messages)
    distinct = sum(len(texts) for texts in messages.values())
    settings = default_bot_settings()
    articles = [{"title": draft.title, "body": draft.body} for draft in sample_articles()]
    say(f"handoff bench brain: {distinct} distinct customer messages in {len(conversations)} conversations; "
        f"kb responder over {len(articles)} sample articles; default bot settings; pid {os.getpid()}")

    cold = cold_costs(articles, settings)
    say(f"  cold start (once per worker process): kb index {cold['kb_index_ms']:.1f} ms, settings "
        f"{cold['compile_settings_ms']:.1f} ms, VADER {cold['vader_load_ms']:.1f} ms")
    brain = Brain(settings, articles)
    steps = replay(brain, conversations)
    outcomes: dict[str, int] = {}
    for step in steps:
        outcomes[step.outcome] = outcomes.get(step.outcome, 0) + 1
    say(f"  replayed {len(steps)} messages: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    warmup = Window("warm-up (not counted)", [s for s in steps if s.outcome != "human"], brain.full)
    warmup.run(min(0.5, options.seconds))
    warmup.figures()
    in_process = measure_brain(steps, brain, options.seconds, settings)

    end_to_end = None
    backing_kinds = None
    if options.end_to_end:
        previous_sigterm = signal.signal(signal.SIGTERM, interrupt)
        workdir = Path(tempfile.mkdtemp(prefix="handoff-bench-brain-"))
        say("  end to end: workers.inbound.process_inbound in this process, against the floor job")
        try:
            with backing_services(workdir, database_name=os.environ.get("HANDOFF_BENCH_BRAIN_DATABASE") or BENCH_DATABASE,
                                  redis_db=int(os.environ.get("HANDOFF_BENCH_BRAIN_REDIS_DB") or BENCH_REDIS_DB)) as backing:
                backing_kinds = {"database": backing.database_kind, "redis": backing.redis_kind}
                end_to_end = run_end_to_end(backing, conversations, options.messages)
                say("  dropping the benchmark database, flushing the benchmark Redis db…")
        finally:
            signal.signal(signal.SIGTERM, previous_sigterm)
            shutil.rmtree(workdir, ignore_errors=True)
    return {
        "benchmark": "brain",
        "settings": {
            "seconds": options.seconds, "messages": options.messages, "cpus": os.cpu_count(),
            "python": sys.version.split()[0], "responder": "kb", "bot_settings": "defaults",
            "articles": len(articles), "distinct_messages": distinct, "conversations": len(conversations),
            "corpus_messages": len(steps), "corpus_by_category": {k: len(v) for k, v in messages.items()},
            "corpus_outcomes": outcomes, **(backing_kinds or {}),
            "load_average_before": load_before, "load_average_after": load_average(),
        },
        "cold_start": cold,
        "in_process": in_process,
        "end_to_end": end_to_end,
        "elapsed_seconds": time.perf_counter() - started,
    }






# --- output -----------------------------------------------------------------------------------




def format_report(report: dict) -> str:
    s = report["settings"]
    ip = report["in_process"]
    lines = [
        f"Brain benchmark: {s['distinct_messages']} distinct customer messages in {s['conversations']} conversations "
        f"({s['corpus_messages']} turns); kb responder over {s['articles']} sample articles; default bot settings; "
        f"one process, Python {s['python']}, {s['cpus']} CPUs",
        "Corpus outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(s["corpus_outcomes"].items()))
        + " (human: the conversation is already with a person; the bot stays silent)",
        "",
        "In process, no database (µs per message):",
        f"  {'measurement':<44} {'msg/s':>9} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} {'mean':>7} {'messages':>9} {'CPU':>5}",
    ]
    names = {
        "brain": "brain: triggers + kb responder + judge + details",
        "triggers": "triggers only (before + judge_reply)",
        "responder": "kb responder only (messages it answers)",
        "details": "details only (messages answered)",
        "settings": "not brain: loading the bot settings",
    }
    for key, name in names.items():
        f = ip[key]
        lines.append(f"  {name:<44} {number(f['per_second'], ',.0f'):>9} {number(f['p50'], '.0f'):>7} "
                     f"{number(f['p90'], '.0f'):>7} {number(f['p99'], '.0f'):>7} {number(f['max'], '.0f'):>7} "
                     f"{number(f['mean'], '.0f'):>7} {f['messages']:>9} {number(100 * f['cpu_share'], '.0f'):>4}%")
    split = ip["split_us_per_message"]
    parts = split["triggers"] + split["responder"] + split["details"]
    lines += [
        f"  ({ip['evaluated']} of the corpus's {s['corpus_messages']} turns reach the brain, the others are in "
        f"conversations already with a person; the responder answers {ip['answered']}, the rest escalate first)",
        "  (CPU: this process's CPU time over the wall time of the measurement; well below 100%, other work",
        "  took the CPU from it and the figures, p99 first, are noisy)",
        "",
        "Where the brain's time goes (mean µs per message that reaches it):",
        f"  triggers {split['triggers']:.0f} ({100 * split['triggers'] / parts:.0f}%), "
        f"kb responder {split['responder']:.0f} ({100 * split['responder'] / parts:.0f}%), "
        f"details {split['details']:.0f} ({100 * split['details'] / parts:.0f}%); "
        f"sum {parts:.0f}, brain measured {split['brain']:.0f}",
        f"  process_inbound also loads the bot settings for every message (normalized once per document, then "
        f"copied): {split['settings_validation']:.0f} µs, {split['settings_validation'] / split['brain']:.2f}x the brain",
        "",
        "Brain per message category (µs):",
        f"  {'category':<12} {'turns':>8} {'p50':>7} {'p99':>7} {'mean':>7}",
    ]
    for category, f in ip["per_category"].items():
        lines.append(f"  {category:<12} {f['messages']:>8} {number(f['p50'], '.0f'):>7} {number(f['p99'], '.0f'):>7} "
                     f"{number(f['mean'], '.0f'):>7}")
    lines += ["", "Slowest messages (median µs through the brain):"]
    for m in ip["slowest_messages"]:
        text = m["text"] if len(m["text"]) <= 70 else m["text"][:67] + "..."
        lines.append(f"  {m['us']:>7.0f}  {m['category']:<10} {m['outcome']:<15} {text}")
    cold = report["cold_start"]
    lines += ["", f"Once per worker process: kb index {cold['kb_index_ms']:.1f} ms, compiled settings "
                  f"{cold['compile_settings_ms']:.1f} ms, VADER {cold['vader_load_ms']:.1f} ms"]
    e2e = report.get("end_to_end")
    if e2e:
        lines += [
            "",
            f"End to end: workers.inbound.process_inbound called in this process on stored messages "
            f"(PostgreSQL {s.get('database')}, Redis {s.get('redis')}), one message at a time (ms per message):",
            f"  {'job':<40} {'msg/s':>7} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} {'CPU':>6} {'messages':>9}",
        ]
        for key, name in (("handoff", "Handoff: process_inbound"),
                          ("floor", "floor: lock + INSERT reply + processed")):
            f = e2e[key]
            lines.append(f"  {name:<40} {number(f['per_second'], ',.0f'):>7} {number(f['p50'], '.2f'):>7} "
                         f"{number(f['p90'], '.2f'):>7} {number(f['p99'], '.2f'):>7} {number(f['max'], '.1f'):>7} "
                         f"{number(f['cpu_ms_per_message'], '.2f'):>6} {f['messages']:>9}")
        r = e2e["ratio"]
        lines.append(f"  {'ratio Handoff / floor':<40} {number(r['per_second'], '.2f'):>6}x {number(r['p50'], '.2f'):>6}x "
                     f"{'':>7} {number(r['p99'], '.2f'):>6}x {'':>7} {number(r['cpu'], '.2f'):>5}x")
        h, fl = e2e["handoff"], e2e["floor"]
        brain_ms = ip["brain"]["mean"] / 1e3
        settings_ms = ip["settings"]["mean"] / 1e3
        cpu_ms = h["cpu_ms_per_message"]
        waiting = h["mean"] - cpu_ms if cpu_ms is not None else None
        rest = cpu_ms - brain_ms - settings_ms - fl["cpu_ms_per_message"] if cpu_ms is not None else None
        lines += [
            "",
            "  Handoff outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(h["outcomes"].items())),
            f"  Where Handoff's mean {h['mean']:.2f} ms per message goes (vs the floor's {fl['mean']:.2f} ms):",
            f"    waiting on PostgreSQL / Redis  ~{number(waiting, '.2f')} ms (floor ~"
            f"{number(fl['mean'] - fl['cpu_ms_per_message'], '.2f')} ms)",
            f"    CPU in this process             {number(cpu_ms, '.2f')} ms: settings ~{settings_ms:.2f}, "
            f"brain ~{brain_ms:.2f}, what the floor also does ~{fl['cpu_ms_per_message']:.2f}, "
            f"the rest ~{number(rest, '.2f')}",
            "    (the rest: psycopg for Handoff's extra statements -- settings, articles, brain_context, the bot",
            "    turn, events, a second transaction -- and the RQ send job and live events on Redis)",
        ]
        st = e2e["stored"]
        warnings = []
        for side in ("handoff", "floor"):
            if st[side]["unprocessed"]:
                warnings.append(f"{side}: {st[side]['unprocessed']} inbound messages left unprocessed")
        lines.append(f"  Stored: Handoff {st['handoff']['inbound']} inbound, {st['handoff']['bot_replies']} bot replies, "
                     f"{st['handoff']['escalation_notices']} escalation notices; floor {st['floor']['inbound']} inbound, "
                     f"{st['floor']['bot_replies']} replies. Database dropped, Redis db flushed.")
        if warnings:
            lines += ["", "Warnings:"] + [f"  {w}" for w in warnings]
    busy = max(s.get("load_average_before") or 0, s.get("load_average_after") or 0) > (s["cpus"] or 1)
    lines += ["", f"Elapsed: {report['elapsed_seconds']:.1f} s; load average {number(s.get('load_average_before'), '.2f')} "
                  f"before, {number(s.get('load_average_after'), '.2f')} after"
                  + (f" (above {s['cpus']}: other work competes for the CPUs, the p99 figures are noisy)" if busy else "")]
    return "\n".join(lines)


def print_report(report: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(format_report(report))
