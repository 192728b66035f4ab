"""Logging for the web and worker processes: one format, no secrets from
libraries, and untrusted text that cannot forge log lines.

Log messages are written by us; their arguments often are not (a request
path, a provider's id, an email address). A newline in an argument would
start what looks like a new log line ("... 200\n2026-01-01 ERROR admin
logged in"), and other control characters can hide or rewrite what a
terminal shows. Every record's string arguments are escaped when the record
is made, whatever logger or handler carries it: control characters, line
and paragraph separators and unpaired surrogates become \\n, \\x1b, \\u2028...
Tracebacks are not arguments and keep their lines.
"""

from __future__ import annotations

import logging
import re

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries whose chatty levels log secrets: urllib3's DEBUG lines name every
# URL called (Graph's access_token is in the query, Slack's token in the
# path); the twilio client logs each request and its headers at INFO.
QUIETER = {"urllib3.connectionpool": logging.INFO, "twilio.http_client": logging.WARNING}
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    return NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape(text: str) -> str:
    """The text with what could forge or garble a log line escaped."""
    return UNSAFE.sub(lambda match: _escaped(match.group()), text)


def configure_logging(level: int = logging.INFO) -> None:
    """Install the escaping record factory (once per process), and a handler
    at `level` unless the process has one already (gunicorn, pytest)."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "escapes_untrusted_text", False):
        def escaping_factory(*args, **kwargs):
            record = factory(*args, **kwargs)
            if isinstance(record.args, tuple):
                record.args = tuple(escape(arg) if isinstance(arg, str) else arg for arg in record.args)
            return record

        escaping_factory.escapes_untrusted_text = True
        logging.setLogRecordFactory(escaping_factory)
    for name, quieter in QUIETER.items():
        logging.getLogger(name).setLevel(quieter)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format=FORMAT)
