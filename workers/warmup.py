"""What a worker builds once, before its first job.

RQ forks a work-horse per job, and each inherits what its parent process
built instead of rebuilding it (tens of milliseconds a job; about 100 ms for
a send's imports).
"""

from __future__ import annotations

import importlib
from dataclasses import replace

from channels.whatsapp import load_client_modules
from gateway.bot.settings import load_bot_settings
from gateway.bot.triggers import TriggerConfig, sentiment_analyzer
from gateway.store import kb
from workers.brain import responder_for
from workers.brain.kb import knowledge_base

# Every module a job runs from (the rest are imported by these).
JOB_MODULES = ("workers.inbound", "workers.outbound", "workers.schedule", "workers.notify", "workers.brain.summary")


def warm_up(conn, config) -> None:
    """Build, once, what every job needs: the job modules and the lazily
    loaded parts of the twilio client, the responder (and its SDK), the
    compiled trigger settings, the knowledge-base index, the sentiment lexicon.
    A knowledge base or settings changed later are rebuilt per job until the
    worker restarts."""
    for module in JOB_MODULES:
        importlib.import_module(module)
    load_client_modules()
    settings = load_bot_settings(conn)
    responder_for(replace(config, ai_provider=settings["provider"] or config.ai_provider))
    TriggerConfig.from_settings(settings)
    knowledge_base(kb.list_articles(conn))
    sentiment_analyzer()
