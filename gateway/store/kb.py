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


# Articles the demo seed adds have sources starting with this (gateway/local/demo.py).
DEMO_SOURCE_PREFIX = "demo:"
SUMMARY_COLUMNS = ("id, title, source, starts_with(source, 'demo:') AS demo, length(body) AS length, "
                   "left(body, 160) AS excerpt, created_at, updated_at")


def search_articles(conn, query: str = "", *, limit: int = 200) -> list[dict]:
    """Articles whose title or body contains every word of `query` (all when empty), by title."""
    words = [f"%{word}%" for word in query.split()][:8]
    return conn.execute(
        f"""
        SELECT {SUMMARY_COLUMNS} FROM kb_articles
         WHERE coalesce(%(words)s::text[], '{{}}') <@ ARRAY(
                   SELECT pattern FROM unnest(%(words)s::text[]) AS pattern
                    WHERE title ILIKE pattern OR body ILIKE pattern)
         ORDER BY lower(title), id LIMIT %(limit)s
        """,
        {"words": words, "limit": limit},
    ).fetchall()


def count_articles(conn) -> dict:
    return conn.execute("SELECT count(*) AS total, count(*) FILTER (WHERE starts_with(source, 'demo:')) AS demo "
                        "FROM kb_articles").fetchone()


def get_article(conn, article_id: int) -> dict | None:
    return conn.execute("SELECT *, starts_with(source, 'demo:') AS demo FROM kb_articles WHERE id = %(id)s",
                        {"id": article_id}).fetchone()


def update_article(conn, article_id: int, *, title: str, body: str) -> bool:
    return conn.execute("UPDATE kb_articles SET title = %(title)s, body = %(body)s, updated_at = now() "
                        "WHERE id = %(id)s", {"id": article_id, "title": title, "body": body}).rowcount > 0


def delete_articles(conn, article_ids: list[int]) -> int:
    return conn.execute("DELETE FROM kb_articles WHERE id = ANY(%(ids)s)", {"ids": article_ids}).rowcount


def delete_all_articles(conn, *, demo_only: bool) -> int:
    """Every article (demo_only: the demo seed's); how many went."""
    return conn.execute("DELETE FROM kb_articles WHERE NOT %(demo_only)s OR starts_with(source, 'demo:')",
                        {"demo_only": demo_only}).rowcount
