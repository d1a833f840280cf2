# ruff: noqa: B023 - bench harness: fixed argv of our own modules; closures run inside their loop iteration
"""(c) Database work per reply: statements per reply by phase (counted by wrapping Django's
cursor, so every connection and thread is seen), and the final save's latency when 200
replies end at once (the same ``_finish_save`` the producer awaits, on one event loop)."""

from __future__ import annotations

import asyncio
import threading
import time

from bench import harness
from bench.harness import pct
from bench.report import Report
from bench.targets import Target, at_most
from testkit.fake_openai import FakeOpenAIProcess

STATEMENTS_PER_REPLY = at_most(
    3,
    "",
    "a reply still costs its lookup, history read and one transaction before the first token, then a "
    "progress save per second of streaming and the final save",
)
STATEMENTS_PER_TOKEN = Target(
    "0 (batched)", lambda v: v < 0.05, "progress is saved more often than once per second of streaming"
)
FINAL_SAVE_P99 = at_most(
    50,
    "ms",
    "final saves at once queue for the database executor (CHAT_DB_THREADS) and the connection pool on one core",
)


class QueryCounter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statements: list[str] = []

    def install(self) -> None:
        from django.db.backends import utils

        original = utils.CursorWrapper._execute
        counter = self

        def _execute(self, sql, params, *ignored):
            with counter.lock:
                counter.statements.append(sql.split()[0].upper() if sql else "")
            return original(self, sql, params, *ignored)

        utils.CursorWrapper._execute = _execute

    def take(self) -> list[str]:
        with self.lock:
            out, self.statements = self.statements, []
        return out


def run(report: Report, stack: harness.Stack, auth_target: str, *, replies: int) -> None:
    with FakeOpenAIProcess(preset="realistic", cpus={harness.LOAD_CPU} if harness.PINNED else None) as upstream:
        harness.django_in_process(stack, auth_target=auth_target, OPENAI_BASE_URL=upstream.base_url)
        user = harness.sign_up(auth_target)[0]
        counter = QueryCounter()
        counter.install()
        asyncio.run(_per_reply(report, counter, user))
        asyncio.run(_final_saves(report, user, replies))


async def _per_reply(report: Report, counter: QueryCounter, user: harness.User) -> None:
    from shared_apps.chat import reply_log, reply_producer, services
    from shared_apps.chat.async_bridge import db

    b = "c"
    conversation = await db(services.conversation_create)(user_id=user.user_id, title="bench")
    rows = []
    for i in range(6):
        counter.take()
        plan = await db(services.reply_prepare)(
            user_id=user.user_id, conversation_id=str(conversation.id), content=f"question {i}"
        )
        prepare = counter.take()
        entry = reply_log.memory_log.open(
            str(plan.assistant_message.id), str(plan.conversation.id), user_id=str(user.user_id)
        )
        done = asyncio.Event()
        during: list[str] = []

        async def watch():
            # statements issued while deltas are still arriving (progress saves)
            while entry.final is None and len(entry.deltas) < 64:
                await asyncio.sleep(0.005)
            during.extend(counter.take())
            done.set()

        watcher = asyncio.create_task(watch())
        await reply_producer.reply_produce(plan, entry)
        await watcher
        finish = counter.take()
        rows.append(
            {
                "prepare": len(prepare),
                "stream": len(during),
                "finish": len(finish),
                "deltas": len(entry.deltas),
                "prepare_sql": prepare,
                "finish_sql": finish,
            }
        )
    rows = rows[1:]  # the first one warms caches and the pool
    per_reply = max(r["prepare"] + r["stream"] + r["finish"] for r in rows)
    stored_side = max(r["stream"] + r["finish"] for r in rows)
    per_token = max(r["stream"] / r["deltas"] for r in rows)
    report.add(
        b,
        "statements per message + reply (all phases)",
        per_reply,
        "",
        target=STATEMENTS_PER_REPLY,
        note=f"prepare {rows[-1]['prepare']}, while streaming {rows[-1]['stream']}, final {rows[-1]['finish']}",
    )
    report.add(b, "statements per reply by its producer (progress + final)", stored_side, "")
    report.add(
        b,
        "statements per token",
        per_token,
        "",
        target=STATEMENTS_PER_TOKEN,
        note="one progress save per second of streaming, never per delta",
    )
    report.context["db_statements"] = rows


async def _final_saves(report: Report, user: harness.User, n: int) -> None:
    from shared_apps.chat import reply_producer, services
    from shared_apps.chat.async_bridge import db
    from shared_apps.chat.models import Message
    from shared_apps.chat.providers.base import Usage

    plans = []
    for i in range(n):
        plans.append(
            await db(services.reply_prepare)(user_id=user.user_id, conversation_id=None, content=f"end together {i}")
        )
    content = "abcd" * 64

    async def finish(plan):
        start = time.perf_counter()
        await reply_producer._finish_save(
            message=plan.assistant_message,
            content=content,
            seq=64,
            status=Message.Status.COMPLETE,
            usage=Usage(10, 64, 74),
            finish_reason="stop",
        )
        return time.perf_counter() - start

    # warm the pool
    await asyncio.gather(*(finish(p) for p in plans[:10]))
    times = await asyncio.gather(*(finish(p) for p in plans))
    p99 = pct(times, 99)
    report.add(
        "c",
        f"final save p99 with {n} replies ending together",
        p99 * 1e3,
        "ms",
        target=FINAL_SAVE_P99,
        note=f"p50 {pct(times, 50) * 1e3:.1f} ms",
    )
