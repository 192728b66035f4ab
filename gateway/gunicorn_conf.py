"""gunicorn settings for `web:` in the Procfile (and `handoff run`, `handoff bench`).

gthread workers: webhook requests are short, but SSE streams (widget, inbox)
hold a thread each for their lifetime, so each process gets many threads.
Environment (and .env): PORT, WEB_CONCURRENCY (processes), WEB_THREADS.
"""

from gateway.config import environment

env = environment()
bind = f"{env.get('HOST', '0.0.0.0')}:{env.get('PORT', '8000')}"
workers = int(env.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(env.get("WEB_THREADS", "32"))
keepalive = 5
# SSE responses stream for minutes; the worker is alive while it writes heartbeats.
timeout = 120
graceful_timeout = 10
accesslog = env.get("ACCESS_LOG") or None
# gunicorn's control socket lives at one fixed path per user, shared by every
# gunicorn on the machine (two Handoffs, the benchmark's two apps): off.
control_socket_disable = True
