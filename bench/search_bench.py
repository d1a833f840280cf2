"""(h) Search over one user's 100,000 messages: the latency of ``conversation_search`` (the
function REST, gRPC and the page call) in process, for queries of a rare, a common and a
two-word term, and whether PostgreSQL answers from the full-text indexes (``EXPLAIN`` of the
same querysets the search runs). Another user's 20,000 messages sit beside them, never read.

PostgreSQL only: SQLite's fallback is a plain scan, documented as such, and not measured."""

from __future__ import annotations

import random
import time
import uuid
from datetime import timedelta

from bench import harness
from bench.harness import median, pct
from bench.report import Report
from bench.targets import equal

MESSAGES = 100_000
OTHER_MESSAGES = 20_000
PER_CONVERSATION = 100
QUERIES = {"a rare word": "zephyrine", "a common word": "weather", "two words": "garden weather"}
ROUNDS = 15
INDEX_USED = equal(
    1, "yes", "the planner read the rows of the user's index instead of the full-text index: see the plan note"
)

# A vocabulary where "weather" is in about one message in ten and "zephyrine" in one in 5,000.
_WORDS = (
    "the a of to and in is it that for on with as was at by this be from or have an they which one you "
    "were her all she there would their we him been has when who will more no if out so said what up its "
    "about into than them can only other new some could time these two may then do first any my now such "
    "like our over man me even most made after also did many before must through back years where much your "
    "way well down should because each just those people how too little state good very make world still "
    "own see men work long get here between both life being under never day same another know while last "
    "might us great old year off come since against go came right used take three garden river music"
).split()


def _text(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(12, 40))]
    if rng.random() < 0.1:
        words.insert(rng.randrange(len(words)), "weather")
    if rng.random() < 0.0002:
        words.insert(rng.randrange(len(words)), "zephyrine")
    return " ".join(words)


def _fill(user_id: uuid.UUID, count: int, rng: random.Random) -> None:
    from django.db import transaction
    from django.utils import timezone

    from shared_apps.chat.models import Conversation, Message

    start = timezone.now() - timedelta(days=365)
    for c in range(count // PER_CONVERSATION):
        with transaction.atomic():
            conversation = Conversation.objects.create(user_id=user_id, title=f"notes {c}")
            Message.objects.bulk_create(
                Message(
                    conversation=conversation,
                    user_id=user_id,
                    role=Message.Role.USER if i % 2 == 0 else Message.Role.ASSISTANT,
                    content=_text(rng),
                    created_at=start + timedelta(minutes=c * PER_CONVERSATION + i),
                )
                for i in range(PER_CONVERSATION)
            )


def run(report: Report, stack: harness.Stack, auth_target: str) -> None:
    b = "h"
    if not stack.postgres:
        report.add(b, "search over 100,000 messages", None, note="PostgreSQL only: this run uses SQLite")
        return
    harness.django_in_process(stack, auth_target=auth_target)
    from django.db import connection

    from shared_apps.chat import search

    rng = random.Random(7)  # noqa: S311 - reproducible bench text, not secrets
    user_id, other_id = uuid.uuid4(), uuid.uuid4()
    t0 = time.monotonic()
    _fill(user_id, MESSAGES, rng)
    _fill(other_id, OTHER_MESSAGES, rng)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE chat_message")
        cursor.execute("ANALYZE chat_conversation")
    report.context["search_fill_seconds"] = round(time.monotonic() - t0, 1)
    for label, q in QUERIES.items():
        search.conversation_search(user_id=user_id, q=q, limit=20, offset=0)  # warm
        times = []
        for _ in range(ROUNDS):
            t = time.perf_counter()
            page = search.conversation_search(user_id=user_id, q=q, limit=20, offset=0)
            times.append(time.perf_counter() - t)
        report.add(
            b,
            f"search '{q}' ({label}), first page of 20 (p99 {pct(times, 99) * 1e3:.1f} ms)",
            median(times) * 1e3,
            "ms",
            note=f"{page.total:,} hits of {MESSAGES:,} messages",
        )
    plan = search.message_matches(user_id, search.websearch_query(QUERIES["a rare word"])).explain()
    used = "chat_msg_content_fts_idx" in plan
    index_lines = [line.strip() for line in plan.splitlines() if "Index" in line]
    report.add(
        b,
        "the message full-text index answers the search (EXPLAIN)",
        1 if used else 0,
        "",
        target=INDEX_USED,
        note="; ".join(index_lines)[:300] or plan.splitlines()[0][:300],
    )
