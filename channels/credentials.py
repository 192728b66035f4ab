"""What each kind of channel is configured with, checked the same way by the
settings pages, the admin API and `handoff channel`; and the "check
credentials" call that asks the provider whether they work.

    whatsapp   address: the Twilio WhatsApp number (whatsapp:+E164)
               credentials: account_sid (AC + 32 characters), auth_token
    messenger  address: the Facebook Page id (digits)
               credentials: page_token, app_secret, verify_token (generated when not given)
    web        address: the widget key (generated); no credentials

Secrets are write-only: nothing here returns them, and `credential_hints`
gives only enough of each to recognize it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any, Mapping

ACCOUNT_SID = re.compile(r"^AC[0-9a-zA-Z]{32}$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
PAGE_ID = re.compile(r"^[0-9]{1,30}$")
SECRET_MAX_LENGTH = 1000

# The credential fields of each kind, in the order a form asks for them, with
# what an admin reads for each.
CREDENTIAL_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "whatsapp": (("account_sid", "Twilio Account SID"), ("auth_token", "Twilio auth token")),
    "messenger": (("page_token", "Page access token"), ("app_secret", "App secret"),
                  ("verify_token", "Webhook verify token")),
    "web": (),
}
# Account SIDs identify rather than authenticate: shown in full.
NOT_SECRET = frozenset({"account_sid"})
ADDRESS_LABELS = {"whatsapp": "WhatsApp number", "messenger": "Facebook Page ID", "web": "Widget key"}


class CredentialProblem(ValueError):
    """A field is not what the provider issues: `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def whatsapp_address(value: str) -> str:
    """whatsapp:+E164 from "+1 415 523 8886", "whatsapp:+14155238886"..."""
    number = re.sub(r"[\s().-]", "", (value or "").strip()).removeprefix("whatsapp:")
    if not E164.match(number):
        raise CredentialProblem("address", f"{value!r} is not a phone number in E.164 form, like +14155238886")
    return "whatsapp:" + number


def page_id(value: str) -> str:
    value = (value or "").strip()
    if not PAGE_ID.match(value):
        raise CredentialProblem("address", "a Facebook Page ID is a number, like 104955512345678")
    return value


def account_sid(value: str) -> str:
    value = (value or "").strip()
    if not ACCOUNT_SID.match(value):
        raise CredentialProblem("account_sid",
                                "a Twilio Account SID starts with AC and has 34 characters (see the Twilio console)")
    return value


def address_of(kind: str, value: str) -> str:
    """The channel's address, normalized (web: the widget key, never typed)."""
    if kind == "whatsapp":
        return whatsapp_address(value)
    if kind == "messenger":
        return page_id(value)
    return value


def checked_credentials(kind: str, given: Mapping[str, Any], current: Mapping[str, str] | None = None) -> dict:
    """The credentials of a channel of this kind: `given` over `current` (a
    field left blank keeps its current value: secrets are never shown, so a
    form cannot send them back). Raises CredentialProblem for the first field
    missing or malformed. A Messenger verify token nobody chose is generated."""
    current = dict(current or {})
    result = {}
    for name, label in CREDENTIAL_FIELDS[kind]:
        value = given.get(name)
        value = value.strip() if isinstance(value, str) else ""
        if not value:
            value = current.get(name, "")
        if not value and name == "verify_token":
            value = secrets.token_urlsafe(18)
        if not value:
            raise CredentialProblem(name, f"the {label} is required")
        if len(value) > SECRET_MAX_LENGTH:
            raise CredentialProblem(name, f"the {label} is at most {SECRET_MAX_LENGTH} characters")
        if any(ch.isspace() for ch in value):
            raise CredentialProblem(name, f"the {label} has spaces in it: paste it again, without them")
        result[name] = account_sid(value) if name == "account_sid" else value
    return result


def hint(secret: str) -> str:
    """Enough of a secret to recognize it, not to use it."""
    return secret[:4] + "…" if len(secret) > 8 else "…"


def credential_hints(kind: str, credentials: Mapping[str, str]) -> dict[str, str]:
    """What an admin may see of each credential: account SIDs in full, secrets as a hint."""
    return {name: (credentials.get(name, "") if name in NOT_SECRET else hint(credentials.get(name, "")))
            for name, _ in CREDENTIAL_FIELDS[kind] if credentials.get(name)}


# --- asking the provider --------------------------------------------------------------------------


@dataclass(frozen=True)
class CredentialCheck:
    ok: bool
    message: str                   # in words, for an admin: what works, or what is wrong and what to do
    detail: str | None = None      # the provider's own words (an error code and message)


def check_twilio(credentials: Mapping[str, str], *, api_base_url: str, timeout: float) -> CredentialCheck:
    """Fetch the Twilio account with the channel's credentials."""
    import requests
    from twilio.base.exceptions import TwilioRestException
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    sid = credentials.get("account_sid", "")
    client = Client(sid, credentials.get("auth_token", ""), http_client=TwilioHttpClient(timeout=timeout))
    client.api.base_url = api_base_url.rstrip("/")
    try:
        account = client.api.v2010.accounts(sid).fetch()
    except TwilioRestException as error:
        detail = f"Twilio {error.status}, error {error.code}: {error.msg}"
        if error.status in (401, 403) or error.code == 20003:
            return CredentialCheck(False, "Twilio refused this Account SID and auth token: copy the auth token "
                                          "again from the Twilio console (Account info) and save it here.", detail)
        if error.status == 404:
            return CredentialCheck(False, f"Twilio has no account {sid}: check the Account SID.", detail)
        return CredentialCheck(False, "Twilio answered with an error; try again in a minute.", detail)
    except requests.RequestException as error:
        return CredentialCheck(False, f"Twilio could not be reached ({error.__class__.__name__}); "
                                      "check this server's internet access.")
    if account.status != "active":
        return CredentialCheck(False, f'The Twilio account "{account.friendly_name}" is {account.status}: '
                                      "it cannot send until Twilio reactivates it.")
    return CredentialCheck(True, f'Twilio accepts these credentials: account "{account.friendly_name}" is active.')


def check_messenger(address: str, credentials: Mapping[str, str], *, graph_url: str, graph_version: str,
                    timeout: float) -> CredentialCheck:
    """Ask Graph which Page the token belongs to (/me with the Page token)."""
    import requests

    token = credentials.get("page_token", "")
    params = {"fields": "id,name", "access_token": token}
    if credentials.get("app_secret"):  # what the Send API adds too (apps that require it)
        params["appsecret_proof"] = hmac.new(credentials["app_secret"].encode(), token.encode(),
                                             hashlib.sha256).hexdigest()
    try:
        response = requests.get(f"{graph_url.rstrip('/')}/{graph_version}/me", params=params, timeout=timeout)
        body = response.json()
    except requests.RequestException as error:
        return CredentialCheck(False, f"Facebook could not be reached ({error.__class__.__name__}); "
                                      "check this server's internet access.")
    except ValueError:
        return CredentialCheck(False, "Facebook answered with something that is not JSON; try again in a minute.")
    error = body.get("error") if isinstance(body, dict) else None
    if error:
        detail = f"Graph error {error.get('code')}: {error.get('message')}"
        if error.get("code") == 190:
            return CredentialCheck(False, "Facebook says the Page access token is invalid or expired: generate a "
                                          "new one (Meta app dashboard, Messenger > Settings) and save it here.",
                                   detail)
        if "appsecret_proof" in str(error.get("message")):
            return CredentialCheck(False, "Facebook refused the app secret: copy it again from the Meta app "
                                          "dashboard (App settings > Basic).", detail)
        return CredentialCheck(False, "Facebook answered with an error.", detail)
    if not isinstance(body, dict) or str(body.get("id")) != address:
        return CredentialCheck(False, f"This token belongs to another Page ({body.get('name')}, "
                                      f"id {body.get('id')}), not to Page {address}: generate the token for this Page.")
    return CredentialCheck(True, f'Facebook accepts this token for the Page "{body.get("name")}".')
