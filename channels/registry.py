"""The kinds of channel, what each can carry, and the adapter that sends on one.

    capabilities(kind)          Capabilities (channels.base): label, text limit,
                                quick replies, templates, messaging window
    adapter_for(channel, config) the Channel that sends on a configured channel

The adapters (and the provider SDKs they import) load when first needed, so
that asking what a channel can do costs nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from channels.base import Capabilities, Channel

KINDS = ("whatsapp", "messenger", "web")

_CAPABILITIES = {
    "whatsapp": Capabilities(
        kind="whatsapp", label="WhatsApp", in_sentence="WhatsApp", reply_here="here on WhatsApp",
        # Twilio refuses a longer WhatsApp body (error 21617).
        text_limit=1600, quick_replies=False, templates=True,
        window=timedelta(hours=24), human_agent_window=None, asks_for_email=False),
    "messenger": Capabilities(
        kind="messenger", label="Messenger", in_sentence="Messenger", reply_here="here on Messenger",
        text_limit=2000, quick_replies=True, templates=False,
        window=timedelta(hours=24), human_agent_window=timedelta(days=7), asks_for_email=False),
    "web": Capabilities(
        kind="web", label="Web chat", in_sentence="the web chat", reply_here="here in this chat",
        text_limit=4000, quick_replies=True, templates=False,
        window=None, human_agent_window=None, asks_for_email=True),
}


def capabilities(kind: str) -> Capabilities:
    return _CAPABILITIES[kind]


def adapter_for(channel: Any, config: Any) -> Channel:
    """The adapter for a configured channel (kind, address, credentials),
    pointed at the provider URLs of `config` (tests point them at stand-ins)."""
    if channel.kind == "whatsapp":
        from channels.whatsapp import WhatsAppChannel

        return WhatsAppChannel(channel.credentials, channel.address, api_base_url=config.twilio_api_base_url,
                               timeout=config.provider_timeout,
                               status_callback_url=f"{config.public_url}/webhooks/twilio/status")
    if channel.kind == "messenger":
        from channels.messenger import MessengerChannel

        return MessengerChannel(channel.credentials, channel.address, graph_url=config.messenger_graph_url,
                                graph_version=config.messenger_graph_version, timeout=config.provider_timeout)
    from channels.web import WebChannel

    return WebChannel()
