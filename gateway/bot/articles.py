"""Knowledge-base articles from markdown and text files (`handoff kb import`, the demo seed).

A markdown file with level-1 or level-2 headings gives one article per
heading: the heading is the title, the text up to the next such heading is
the body (deeper headings stay in the body). Any other file is one article,
titled by its first line, or by its file name when the first line is a whole
paragraph. Each article's source is "path#heading" (just "path" for a whole
file), so importing the same files again updates the articles instead of
adding copies.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from marshmallow import Schema, ValidationError, fields, validate

from gateway.errors import ApiError
from gateway.store import kb

MARKDOWN_SUFFIXES = (".md", ".markdown")
TEXT_SUFFIXES = MARKDOWN_SUFFIXES + (".txt", ".text")
# A first line longer than this is a paragraph, not a title.
TITLE_MAX_LENGTH = 120

ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n---[ \t]*(?:\n|\Z)", re.S)


class UnreadableFile(ValueError):
    pass


@dataclass(frozen=True)
class ArticleDraft:
    title: str
    body: str
    source: str


def title_from_file_name(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else stem


def markdown_sections(text: str) -> list[tuple[str | None, str]]:
    """(heading, body) for the text before the first level-1/2 heading (heading
    None) and for each such heading. Headings inside fenced code are text."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    fence: str | None = None
    for line in text.splitlines():
        opening = FENCE.match(line)
        if opening:
            marker = opening.group(1)
            if fence is None:
                fence = marker[0] * 3
            elif marker.startswith(fence):
                fence = None
        heading = None if fence or opening else ATX_HEADING.match(line)
        if heading and len(heading.group(1)) <= 2 and heading.group(2).strip():
            sections.append((heading.group(2).strip(), []))
        else:
            sections[-1][1].append(line)
    return [(heading, "\n".join(lines).strip()) for heading, lines in sections]


def whole_file_article(text: str, path: str) -> ArticleDraft | None:
    text = text.strip()
    if not text:
        return None
    first, _, rest = text.partition("\n")
    first = first.strip().lstrip("#").strip()
    if rest.strip() and first and len(first) <= TITLE_MAX_LENGTH:
        return ArticleDraft(title=first, body=rest.strip(), source=path)
    return ArticleDraft(title=title_from_file_name(path), body=text, source=path)


def articles_from_text(text: str, path: str, *, markdown: bool) -> list[ArticleDraft]:
    """The articles of one file's text; `path` is what their sources start with."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if markdown:
        text = FRONT_MATTER.sub("", text, count=1)
        sections = markdown_sections(text)
        if len(sections) > 1:
            drafts, seen = [], {}
            preamble = sections[0][1]
            if preamble:
                drafts.append(ArticleDraft(title=title_from_file_name(path), body=preamble, source=path))
            for heading, body in sections[1:]:
                if not body:
                    continue  # a title heading directly followed by its sections
                seen[heading] = seen.get(heading, 0) + 1
                suffix = f" ({seen[heading]})" if seen[heading] > 1 else ""
                drafts.append(ArticleDraft(title=heading, body=body, source=f"{path}#{heading}{suffix}"))
            return drafts
    article = whole_file_article(text, path)
    return [article] if article else []


def read_articles(path: Path, source_path: str | None = None) -> list[ArticleDraft]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise UnreadableFile(f"{path}: {error.strerror or error}") from None
    return articles_from_text(text, source_path or path.name, markdown=is_markdown(path.name))


def is_markdown(file_name: str) -> bool:
    return file_name.lower().endswith(MARKDOWN_SUFFIXES)


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, each once; a directory stands for its markdown and text files."""
    files, seen = [], set()
    for path in paths:
        found = (sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
                 if path.is_dir() else [path])
        for file in found:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                files.append(file)
    return files


def save_articles(conn, drafts: list[ArticleDraft]) -> tuple[int, int]:
    """Insert or update each article by its source; returns (created, updated)."""
    created = updated = 0
    for draft in drafts:
        _, is_new = kb.upsert_article(conn, title=draft.title, body=draft.body, source=draft.source)
        if is_new:
            created += 1
        else:
            updated += 1
    return created, updated


class ArticleSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200, error="a title of 1 to 200 characters"))
    body = fields.String(required=True, validate=validate.Length(min=1, max=50_000,
                                                                 error="a text of 1 to 50,000 characters"))


def checked_article(body: dict) -> dict:
    """{title, body} stripped and validated (ApiError 400 naming the field)."""
    cleaned = {key: value.strip() if isinstance(value, str) else value for key, value in body.items()}
    try:
        return ArticleSchema().load(cleaned)
    except ValidationError as error:
        raise ApiError(400, "invalid article", error.messages) from None


def write_article(conn, body: dict, article_id: int | None = None) -> int:
    """A new article written by an admin, or a change to one; its id."""
    article = checked_article(body)
    if article_id is None:
        return kb.upsert_article(conn, title=article["title"], body=article["body"],
                                 source=f"editor:{uuid.uuid4().hex}")[0]
    if not kb.update_article(conn, article_id, title=article["title"], body=article["body"]):
        raise ApiError(404, f"no article {article_id}")
    return article_id


def import_text(conn, file_name: str, raw: bytes) -> tuple[int, int]:
    """An uploaded file's articles, created or updated by source: (created, updated)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile(f"{file_name}: not UTF-8 text") from None
    return save_articles(conn, articles_from_text(text, os.path.basename(file_name) or "upload.txt",
                                                  markdown=is_markdown(file_name)))
