"""A tiny SMTP server on 127.0.0.1 that records the mail it is given.

Speaks just enough SMTP for smtplib: EHLO/HELO, AUTH PLAIN (any credentials
are accepted and recorded), MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT. It
offers no STARTTLS. `reject_recipient(address)` makes RCPT TO of that
address fail with 550, as a server refusing a mailbox does.

    server = FakeSMTP().start()
    ... send to smtp://user:pass@127.0.0.1:{server.port} ...
    [mail] = server.messages  # Mail(mail_from, rcpt_tos, message: EmailMessage, auth)
"""

from __future__ import annotations

import base64
import email
import email.policy
import socketserver
import threading
from dataclasses import dataclass
from email.message import EmailMessage


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    # (user, password) of AUTH PLAIN, None without AUTH.
    auth: tuple[str, str] | None


def _address(argument: str) -> str:
    """The address of "FROM:<a@b> SIZE=12" or "TO:<a@b>"."""
    _, _, rest = argument.partition(":")
    return rest.strip().split(" ")[0].strip("<>")


class FakeSMTP:
    def __init__(self):
        self.messages: list[Mail] = []
        self.rejected: set[str] = set()
        self.lock = threading.Lock()
        server = self

        class Session(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self):
                self.reply("220 fake-smtp ready")
                mail_from, rcpt_tos, auth = None, [], None
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    verb, _, argument = raw.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
                    verb = verb.upper()
                    if verb == "EHLO":
                        self.reply("250-fake-smtp")
                        self.reply("250-AUTH PLAIN")
                        self.reply("250 8BITMIME")
                    elif verb == "HELO":
                        self.reply("250 fake-smtp")
                    elif verb == "AUTH":
                        mechanism, _, initial = argument.partition(" ")
                        if mechanism.upper() != "PLAIN" or not initial:
                            self.reply("504 only AUTH PLAIN with an initial response")
                            continue
                        _, user, password = base64.b64decode(initial).decode().split("\0")
                        auth = (user, password)
                        self.reply("235 2.7.0 Authentication successful")
                    elif verb == "MAIL":
                        mail_from, rcpt_tos = _address(argument), []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        address = _address(argument)
                        if address in server.rejected:
                            self.reply(f"550 5.1.1 <{address}>: mailbox unavailable")
                            continue
                        rcpt_tos.append(address)
                        self.reply("250 OK")
                    elif verb == "DATA":
                        if mail_from is None or not rcpt_tos:
                            self.reply("503 MAIL FROM and RCPT TO first")
                            continue
                        self.reply("354 end with <CRLF>.<CRLF>")
                        message = email.message_from_bytes(self.read_data(), policy=email.policy.default)
                        with server.lock:
                            server.messages.append(Mail(mail_from, rcpt_tos, message, auth))
                        mail_from, rcpt_tos = None, []
                        self.reply("250 OK queued")
                    elif verb == "RSET":
                        mail_from, rcpt_tos = None, []
                        self.reply("250 OK")
                    elif verb == "NOOP":
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply(f"502 {verb} not implemented")

            def read_data(self) -> bytes:
                lines = []
                while True:
                    line = self.rfile.readline()
                    if line in (b".\r\n", b".\n", b""):
                        return b"".join(lines)
                    lines.append(line[1:] if line.startswith(b"..") else line)  # dot-unstuffing

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Session)
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-smtp", daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, user: str | None = None, password: str | None = None, scheme: str = "smtp", query: str = "") -> str:
        credentials = f"{user}:{password}@" if user is not None else ""
        return f"{scheme}://{credentials}127.0.0.1:{self.port}" + (f"?{query}" if query else "")

    def start(self) -> "FakeSMTP":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reject_recipient(self, address: str) -> None:
        with self.lock:
            self.rejected.add(address)

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.rejected.clear()
