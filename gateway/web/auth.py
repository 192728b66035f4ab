"""Agent authentication: the login form, logout, and the guards other blueprints use.

Pages use `@login_required` (the session cookie; anonymous browsers are sent
to /login?next=...). JSON endpoints use `@api_auth` or `@api_auth(admin=True)`:
the session cookie or `Authorization: Bearer <personal API token>`, and a 401
JSON answer instead of a redirect. Either way the agent is `current_agent()`.

Forms carry a CSRF token bound to the session (`csrf_token()` in templates,
checked with `check_csrf()`); a JSON request authenticated by the session
cookie that changes something must send the same token in X-CSRF-Token
(bearer-token requests need none: a browser never adds that header by itself).
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from redis.exceptions import RedisError

from gateway import ratelimit
from gateway.services import services
from gateway.store import agents, sessions
from gateway.web.edge import client_address
from gateway.web.errors import error_response

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

CSRF_SESSION_KEY = "csrf_token"
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# A session older than this must log in again, even if the browser kept its cookie.
SESSION_MAX_AGE_SECONDS = 12 * 3600
# The session cookie holds the token of a server-side session (gateway/store/sessions.py).
SESSION_TOKEN_KEY = "session_token"
# Longer input is refused before hashing (scrypt on megabytes costs the server).
MAX_EMAIL_LENGTH = 254
MAX_PASSWORD_LENGTH = 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Defense in depth for every page of the inbox: customer text is escaped by
# Jinja, and even if something slipped through, no inline script would run.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def add_security_headers(response: Response) -> Response:
    """after_request hook for blueprints that render agent pages."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    # Pages with customer data are not kept by the browser or proxies (no
    # transcript on the back button after logout).
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


bp.after_request(add_security_headers)


# --- CSRF --------------------------------------------------------------------------------

def csrf_token() -> str:
    """This session's CSRF token (created on first use); put it in every form."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)
    return token


def csrf_valid(submitted: str | None) -> bool:
    expected = session.get(CSRF_SESSION_KEY)
    if not isinstance(expected, str) or not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def check_csrf() -> bool:
    """True when the request carries this session's CSRF token (form field or header)."""
    return csrf_valid(request.form.get(CSRF_FORM_FIELD) or request.headers.get(CSRF_HEADER))


# --- Who is asking --------------------------------------------------------------------------

def current_agent() -> dict | None:
    """The agent this request is authenticated as (session or API token), or None."""
    if "agent" not in g:
        g.agent = _agent_from_session()
        g.auth_method = "session" if g.agent else None
    return g.agent


def _agent_from_session() -> dict | None:
    token = session.get(SESSION_TOKEN_KEY)
    if not isinstance(token, str) or not token:
        return None
    with services().pool.connection() as conn:
        agent = sessions.agent_of_session(conn, token)
    if agent is None:  # logged out elsewhere, expired, ended by a reset, disabled or deleted
        session.clear()
    return agent


def _agent_from_bearer(header: str) -> dict | None:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    with services().pool.connection() as conn:
        return agents.agent_by_api_token(conn, token)


def _unauthorized(message: str, bearer_error: str | None = None):
    body, status = error_response(401, message)
    challenge = 'Bearer realm="handoff"' + (f', error="{bearer_error}"' if bearer_error else "")
    body.headers["WWW-Authenticate"] = challenge
    return body, status


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def login_required(view):
    """Decorator for agent pages: anonymous browsers go to /login?next=<this page>
    (a client asking for JSON gets a 401 JSON answer instead)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_agent() is None:
            if _wants_json():
                return _unauthorized("log in first")
            target = request.path + (f"?{request.query_string.decode('latin-1')}" if request.query_string else "")
            return redirect(url_for("auth.login", next=target if request.method == "GET" else None))
        return view(*args, **kwargs)

    return wrapped


def is_admin(agent: dict | None) -> bool:
    """The one rule for what only admins may do: the admin API and the settings and reports pages."""
    return bool(agent and agent["is_admin"])


def admin_required(view):
    """Decorator for admin pages: login_required, then a 403 page for agents who are not admins."""

    @functools.wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not is_admin(current_agent()):
            return render_template("settings/forbidden.html"), 403
        return view(*args, **kwargs)

    return wrapped


def api_auth(view=None, *, admin: bool = False):
    """Decorator for JSON endpoints: `@api_auth` or `@api_auth(admin=True)`.

    Accepts `Authorization: Bearer <personal API token>` or the session
    cookie; answers 401 JSON otherwise (403 for a non-admin on an admin
    endpoint). A session-authenticated request with an unsafe method must
    carry the session's CSRF token in X-CSRF-Token (403 otherwise).
    """

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            header = request.headers.get("Authorization")
            if header:  # an explicit credential wins over any cookie, and must be valid
                agent = _agent_from_bearer(header)
                if agent is None:
                    return _unauthorized("invalid API token", "invalid_token")
                g.agent, g.auth_method = agent, "token"
            else:
                agent = current_agent()
                if agent is None:
                    return _unauthorized("authentication required: log in, or send Authorization: Bearer <API token>")
                if request.method not in SAFE_METHODS and not check_csrf():
                    return error_response(403, f"missing or wrong {CSRF_HEADER} header")
            if admin and not is_admin(agent):
                return error_response(403, "this endpoint is for admins")
            return view(*args, **kwargs)

        return wrapped

    return decorate(view) if view is not None else decorate


@bp.app_context_processor
def template_helpers():
    return {"csrf_token": csrf_token, "current_agent": current_agent, "is_admin": is_admin}


# --- Redirect targets -----------------------------------------------------------------------

def safe_next(target: str | None) -> str:
    """`target` if it is a path on this site, else the inbox.

    Refuses absolute URLs, scheme-relative ones (//evil.com), and what
    browsers turn into them (backslashes, control characters).
    """
    default = url_for("inbox.index")
    if not target or len(target) > 2000:
        return default
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    if parts.path in (url_for("auth.login"), url_for("auth.logout")):
        return default
    return target


# --- Failed-login rate limits (gateway/ratelimit.py) ----------------------------------------
#
# Failures are counted per account (the email tried), per client address and
# for the whole deployment. Past the address limit that address may not try
# again for a while: password spraying from one place stops. Past the account
# or the global limit, only the addresses this account logged in from before
# may still try: an attacker can slow an agent down from elsewhere, but not
# lock them out of the places where they work.

KNOWN_ADDRESSES_SECONDS = 30 * 24 * 3600


def _account(email: str) -> str:
    return email.strip().lower()


def _known_key(email: str) -> str:
    return ratelimit.subject_key("login_known_addresses", _account(email))


def _login_blocked_for(email: str) -> int:
    """Seconds until this email may be tried again from this address (0: now)."""
    svc, address = services(), client_address()
    blocked = ratelimit.exceeded(svc.redis, svc.config.rates(), [("login_failures_per_address", address)])
    if blocked:
        return blocked
    blocked = ratelimit.exceeded(svc.redis, svc.config.rates(), [
        ("login_failures_per_account", _account(email)), ("login_failures_global", "all")])
    if blocked and _known_address(email, address):
        return 0
    return blocked


def _known_address(email: str, address: str) -> bool:
    try:
        return bool(services().redis.sismember(_known_key(email), address))
    except RedisError:
        return False


def _record_login_failure(email: str) -> None:
    svc = services()
    ratelimit.record(svc.redis, svc.config.rates(), [
        ("login_failures_per_account", _account(email)), ("login_failures_per_address", client_address()),
        ("login_failures_global", "all")])


def _remember_login_address(email: str) -> None:
    try:
        with services().redis.pipeline(transaction=False) as pipe:
            pipe.sadd(_known_key(email), client_address())
            pipe.expire(_known_key(email), KNOWN_ADDRESSES_SECONDS)
            pipe.execute()
    except RedisError as error:
        log.warning("could not remember a login address (Redis: %s)", error)


# --- Views ----------------------------------------------------------------------------------

def _login_page(*, error: str | None = None, email: str = "", status: int = 200, next_url: str | None = None):
    return render_template("auth/login.html", error=error, email=email,
                           next_url=next_url if next_url is not None else request.values.get("next", "")), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if current_agent() is not None:
            return redirect(safe_next(request.args.get("next")))
        return _login_page()

    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    if not check_csrf():
        return _login_page(error="This form expired. Please try again (cookies must be enabled).",
                           email=email, status=400)
    blocked_for = _login_blocked_for(email)
    if blocked_for:
        minutes = -(-blocked_for // 60)
        response = make_response(_login_page(
            error=f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
            email=email, status=429))
        response.headers["Retry-After"] = str(blocked_for)
        return response

    agent = None
    if email and password and len(email) <= MAX_EMAIL_LENGTH and len(password) <= MAX_PASSWORD_LENGTH:
        with services().pool.connection() as conn:
            agent = agents.authenticate(conn, email, password)
    if agent is None:
        _record_login_failure(email)
        log.info("failed login from %s", client_address())
        return _login_page(error="Wrong email or password.", email=email)

    _remember_login_address(email)
    with services().pool.connection() as conn:
        token = sessions.open_session(conn, agent["id"], max_age_seconds=SESSION_MAX_AGE_SECONDS)
    session.clear()  # nothing from before the login survives it (session fixation)
    session[SESSION_TOKEN_KEY] = token
    session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)
    g.agent, g.auth_method = agent, "session"
    log.info("agent %s logged in", agent["id"])
    return redirect(safe_next(request.form.get("next")), code=303)


@bp.post("/logout")
def logout():
    agent = current_agent()
    if agent is not None and not check_csrf():
        return Response("Missing or wrong CSRF token: reload the page and log out again.\n", 400,
                        mimetype="text/plain")
    token = session.get(SESSION_TOKEN_KEY)
    if isinstance(token, str):
        with services().pool.connection() as conn:
            sessions.end_session(conn, token)  # a copy of the cookie is worth nothing now
    session.clear()
    if agent is not None:
        log.info("agent %s logged out", agent["id"])
        flash("You are logged out.")
    return redirect(url_for("auth.login"), code=303)


@bp.get("/api/agent/me")
@api_auth
def me():
    """The authenticated agent (session or API token)."""
    agent = current_agent()
    return jsonify(
        id=agent["id"], email=agent["email"], name=agent["name"], is_admin=agent["is_admin"],
        presence=agent["presence"], capacity=agent["capacity"], auth=g.auth_method,
    )
