"""kb_articles: the knowledge base the built-in responder answers from.

Columns: id, title, body, source (unique: file path and heading, so a
re-import updates an article instead of duplicating it), timestamps.
"""

from __future__ import annotations


def upsert_article(conn, *, title: str, body: str, source: str) -> tuple[int, bool]:
    """(id, created) for the article from `source`."""
    row = conn.execute(
        """
        INSERT INTO kb_articles (title, body, source) VALUES (%(title)s, %(body)s, %(source)s)
        ON CONFLICT (source) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body, updated_at = now()
        RETURNING id, (xmax = 0) AS created
        """,
        {"title": title, "body": body, "source": source},
    ).fetchone()
    return row["id"], row["created"]


def list_articles(conn) -> list[dict]:
    return conn.execute("SELECT id, title, body, source FROM kb_articles ORDER BY id").fetchall()
