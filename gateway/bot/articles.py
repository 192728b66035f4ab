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
from dataclasses import dataclass
from pathlib import Path

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


def display_path(path: Path) -> str:
    """The path as the article source records it: relative to the current
    directory when the file is inside it, absolute otherwise."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


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
    return articles_from_text(text, source_path or display_path(path),
                              markdown=path.suffix.lower() in MARKDOWN_SUFFIXES)


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
