"""Search of the caller's conversation titles and message contents, best first.

PostgreSQL: full-text search (``websearch_to_tsquery``: words, "quoted phrases", ``or``,
``-word``) ranked with ``ts_rank`` and cut with ``ts_headline``, over GIN indexes on
``to_tsvector('english', ...)`` (migration 0002); the filters below build that same expression
so the indexes are used. SQLite: a plain case-insensitive contains match, titles first, then the
newest. Only the caller's rows are ever read: every query filters by owner.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import CharField, F, FloatField, Q, Value
from django.db.models.functions import Cast

from shared_apps.chat.models import SEARCH_CONFIG, Conversation, Message
from shared_apps.chat.selectors import Page, window_params
from shared_apps.core.errors import ValidationFailed

MAX_QUERY_CHARS = 200
SNIPPET_CHARS = 160  # SQLite snippets; PostgreSQL's headline is counted in words
HIGHLIGHT = ("**", "**")  # plain text around a matched word (Markdown bold), never HTML
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SearchHit:
    conversation: Conversation
    message_id: str | None  # None: the title matched
    snippet: str


def search_query_clean(q: str | None) -> str:
    """The query, stripped; empty, too long, or made only of operators is the caller's mistake."""
    q = (q or "").strip()
    if not q:
        raise ValidationFailed("q: Must not be empty.", details={"q": ["Must not be empty."]})
    if len(q) > MAX_QUERY_CHARS:
        message = f"At most {MAX_QUERY_CHARS} characters."
        raise ValidationFailed(f"q: {message}", details={"q": [message]})
    words = [w for w in _WORD.findall(q) if w.lower() != "or" and w.strip("_")]
    if not words:
        message = "Must contain a word to search for, not only operators."
        raise ValidationFailed(f"q: {message}", details={"q": [message]})
    return q


def conversation_search(*, user_id: uuid.UUID, q: str | None, limit: int | None, offset: int | None) -> Page:
    """A page of ``SearchHit``: one per matching title and per matching message."""
    q = search_query_clean(q)
    limit, offset = window_params(limit=limit, offset=offset)
    if connection.vendor == "postgresql":
        return _search_postgres(user_id, q, limit, offset)
    return _search_contains(user_id, q, limit, offset)


def title_matches(user_id: uuid.UUID, query: SearchQuery):
    """The caller's conversations whose title matches: ``to_tsvector(config, title) @@ query``,
    the expression of ``chat_conv_title_fts_idx``."""
    return (
        Conversation.objects.filter(user_id=user_id)
        .annotate(fts=SearchVector("title", config=SEARCH_CONFIG))
        .filter(fts=query)
    )


def message_matches(user_id: uuid.UUID, query: SearchQuery):
    """The caller's messages whose content matches, through ``chat_msg_content_fts_idx``."""
    return (
        Message.objects.filter(user_id=user_id)
        .annotate(fts=SearchVector("content", config=SEARCH_CONFIG))
        .filter(fts=query)
    )


def websearch_query(q: str) -> SearchQuery:
    return SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)


def _search_postgres(user_id: uuid.UUID, q: str, limit: int, offset: int) -> Page:
    query = websearch_query(q)
    title_vector = SearchVector("title", config=SEARCH_CONFIG)  # the indexed expressions
    content_vector = SearchVector("content", config=SEARCH_CONFIG)
    columns = ("conversation_id", "hit_message_id", "rank", "at")
    titles = (
        title_matches(user_id, query)
        .annotate(
            conversation_id=F("id"),
            hit_message_id=Value(None, output_field=CharField()),
            rank=SearchRank(title_vector, query, cover_density=False) + Value(1.0, output_field=FloatField()),
            at=F("last_activity_at"),
        )
        .values_list(*columns)
    )
    messages = (
        message_matches(user_id, query)
        .annotate(
            hit_message_id=Cast("id", CharField()),
            rank=SearchRank(content_vector, query),
            at=F("created_at"),
        )
        .values_list(*columns)
    )
    hits = titles.union(messages, all=True)
    total = hits.count()
    rows = list(hits.order_by("-rank", "-at", "hit_message_id")[offset : offset + limit])
    return Page(items=_with_snippets(user_id, rows, query), total=total)


def _with_snippets(user_id: uuid.UUID, rows: list[tuple], query: SearchQuery) -> list[SearchHit]:
    """Headlines for the page only (ts_headline reads the whole text: never for every match)."""
    options = {"config": SEARCH_CONFIG, "start_sel": HIGHLIGHT[0], "stop_sel": HIGHLIGHT[1], "max_words": 30}
    conversations = Conversation.objects.filter(user_id=user_id, id__in={r[0] for r in rows}).annotate(
        snippet=SearchHeadline("title", query, **options)
    )
    by_conversation = {c.id: c for c in conversations}
    message_ids = [r[1] for r in rows if r[1]]
    snippets = dict(
        Message.objects.filter(user_id=user_id, id__in=message_ids)
        .annotate(snippet=SearchHeadline("content", query, **options))
        .values_list("id", "snippet")
    )
    hits = []
    for conversation_id, message_id, *_rest in rows:
        conversation = by_conversation[conversation_id]
        snippet = snippets[uuid.UUID(message_id)] if message_id else conversation.snippet
        hits.append(SearchHit(conversation=conversation, message_id=message_id, snippet=snippet))
    return hits


def _search_contains(user_id: uuid.UUID, q: str, limit: int, offset: int) -> Page:
    titles = list(Conversation.objects.filter(user_id=user_id, title__icontains=q).order_by("-last_activity_at", "-id"))
    messages = Message.objects.filter(Q(user_id=user_id) & Q(content__icontains=q)).order_by("-created_at", "-id")
    total = len(titles) + messages.count()
    hits = [SearchHit(c, None, _contains_snippet(c.title, q)) for c in titles[offset : offset + limit]]
    start = max(0, offset - len(titles))
    for message in messages.select_related("conversation")[start : start + limit - len(hits)]:
        hits.append(SearchHit(message.conversation, str(message.id), _contains_snippet(message.content, q)))
    return Page(items=hits, total=total)


def _contains_snippet(text: str, q: str) -> str:
    at = text.lower().find(q.lower())
    if at < 0:
        return text[:SNIPPET_CHARS]
    start = max(0, at - (SNIPPET_CHARS - len(q)) // 2)
    end = min(len(text), start + SNIPPET_CHARS)
    match = f"{HIGHLIGHT[0]}{text[at : at + len(q)]}{HIGHLIGHT[1]}"
    body = f"{text[start:at]}{match}{text[at + len(q) : end]}"
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")
