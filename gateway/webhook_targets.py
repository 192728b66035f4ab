"""Where outbound webhooks may go: public addresses only, unless an admin
named the host in WEBHOOK_ALLOWED_HOSTS.

An admin's webhook URL is a request the server makes on their behalf; left
unchecked it reaches what only the server can reach (the cloud metadata
service at 169.254.169.254, a database's HTTP port, an internal admin
page). So a URL is refused when its host resolves to a loopback, private,
link-local, shared (carrier NAT), multicast, reserved or unspecified address
(IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry):

- when it is subscribed (`refusal`: the admin API and the CLI answer why), and
- at every delivery, on the address actually connected to (`session()`):
  a name that resolved to a public address yesterday may resolve to
  127.0.0.1 today (DNS rebinding), so the check sits in the connection
  itself, after resolution, and the connection goes to the address checked.

Redirects are never followed and proxies from the environment are not used
(either would lead the request elsewhere after the check).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Iterable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class RefusedTarget(OSError):
    """The webhook's host is not one we may connect to (an OSError, so that
    urllib3 reports it as a connection failure with this text)."""


def address_refusal(address: str) -> str | None:
    """Why we may not connect to this IP address, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a scope id (fe80::1%eth0) is not part of the address
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address (cloud metadata services live there)"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return f"{ip} is not a unicast address"
    if not ip.is_global:
        return f"{ip} is a private address"
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to (RefusedTarget when it does not)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise RefusedTarget(f"{host} does not resolve ({error})") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def allowed(host: str, allowed_hosts: Iterable[str]) -> bool:
    return host.lower().rstrip(".") in allowed_hosts


def refusal(url: str, allowed_hosts: Iterable[str]) -> str | None:
    """Why webhooks may not be sent to `url` now, or None. Every address the
    host resolves to must be public: a client may be handed any of them."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if allowed(host, allowed_hosts):
        return None
    try:
        addresses = resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    except RefusedTarget as error:
        return str(error)
    for address in addresses:
        problem = address_refusal(address)
        if problem:
            return f"{_where(host, address, problem)}; name the host in WEBHOOK_ALLOWED_HOSTS to allow it"
    return None


def _where(host: str, address: str, problem: str) -> str:
    return problem if host.strip("[]") == address else f"{host} resolves to {problem}"


def _guarded(connection_class):
    class Guarded(connection_class):
        allowed_hosts: frozenset[str] = frozenset()

        def _new_conn(self):
            if allowed(self.host, self.allowed_hosts):
                return super()._new_conn()
            # Resolve once, check, and connect to the checked address. The
            # host name is put back at once: TLS verifies the certificate for
            # it, and it is the Host header.
            addresses = resolve(self.host, self.port)
            problems = [address_refusal(address) for address in addresses]
            public = [address for address, problem in zip(addresses, problems) if problem is None]
            if not public:
                raise RefusedTarget("refused: " + _where(self.host, addresses[0], problems[0]))
            name, self._dns_host = self._dns_host, public[0]
            try:
                return super()._new_conn()
            finally:
                self._dns_host = name

    return Guarded


def session(allowed_hosts: Iterable[str]) -> requests.Session:
    """A requests session that connects to public addresses only (and to
    the allowed hosts), ignoring proxy settings."""
    hosts = frozenset(host.lower() for host in allowed_hosts)
    http, https = _guarded(HTTPConnection), _guarded(HTTPSConnection)
    http.allowed_hosts = https.allowed_hosts = hosts

    class Pool(HTTPConnectionPool):
        ConnectionCls = http

    class TlsPool(HTTPSConnectionPool):
        ConnectionCls = https

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TlsPool}

    guarded = requests.Session()
    guarded.trust_env = False
    guarded.max_redirects = 0
    for scheme in ("http://", "https://"):
        guarded.mount(scheme, Adapter())
    return guarded
