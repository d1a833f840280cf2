"""The in-memory reply log: readers get every delta after the seq they ask for, exactly once,
live while the reply runs, then its final frame, from any event loop of the process."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared_apps.chat import reply_log
from shared_apps.chat.payloads import error_frame
from shared_apps.chat.reply_log import MemoryReplyLog, ReplyEntry
from shared_apps.core.errors import UpstreamError

WAKE_BOUND = 1.0  # seconds: a woken reader answers well within this
MESSAGE_ID = "4f6a3a52-54a4-4c38-9a54-1f3c0b3c2b55"
FINAL = {"type": "done", "message": {"id": MESSAGE_ID, "content": "Paris is the capital."}, "usage": {}}
DELTAS = ["Paris", " is", " the", " capital", "."]


@pytest.fixture
def log() -> MemoryReplyLog:
    return MemoryReplyLog()


@pytest.fixture
def entry(log) -> ReplyEntry:
    return log.open(MESSAGE_ID, "conversation-1", user_id="user-1")


def finished(log: MemoryReplyLog, entry: ReplyEntry, deltas: list[str] = DELTAS) -> ReplyEntry:
    for text in deltas:
        log.append(entry, text)
    log.finish(entry, FINAL)
    return entry


async def collect(log: MemoryReplyLog, entry: ReplyEntry, after_seq: int) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        return [frame async for frame in log.read(entry, after_seq)]

    return await asyncio.wait_for(run(), WAKE_BOUND)


def delta(seq: int) -> dict[str, Any]:
    return {"type": "delta", "message_id": MESSAGE_ID, "seq": seq, "content": DELTAS[seq - 1]}


async def waiting(entry: ReplyEntry, count: int = 1) -> None:
    """Until ``count`` readers wait for the entry to change."""
    deadline = time.monotonic() + WAKE_BOUND
    while len(entry._waiters) < count:
        assert time.monotonic() < deadline, "the reader never started waiting"
        await asyncio.sleep(0.001)


# --- reading a reply ---------------------------------------------------------------------------------


async def test_a_reader_from_the_start_gets_every_delta_in_order_then_the_final_frame(log, entry):
    # given
    finished(log, entry)
    # when
    frames = await collect(log, entry, after_seq=0)
    # then
    assert frames == [delta(1), delta(2), delta(3), delta(4), delta(5), FINAL]


@pytest.mark.parametrize("after_seq", range(len(DELTAS) + 1))
async def test_a_reader_resuming_after_any_seq_gets_exactly_the_rest(log, entry, after_seq):
    # given
    finished(log, entry)
    # when
    frames = await collect(log, entry, after_seq=after_seq)
    # then no gap and no repeat: seqs after_seq+1.., the text the client had not seen, then the end
    assert [f["seq"] for f in frames[:-1]] == list(range(after_seq + 1, len(DELTAS) + 1))
    assert "".join(f["content"] for f in frames[:-1]) == "".join(DELTAS[after_seq:])
    assert frames[-1] == FINAL


@pytest.mark.parametrize("after_seq", [len(DELTAS) + 1, 1000])
async def test_a_reader_resuming_beyond_the_end_gets_only_the_final_frame(log, entry, after_seq):
    # given
    finished(log, entry)
    # when
    frames = await collect(log, entry, after_seq=after_seq)
    # then
    assert frames == [FINAL]


async def test_a_negative_after_seq_reads_from_the_start(log, entry):
    # given
    finished(log, entry, DELTAS[:2])
    # when
    frames = await collect(log, entry, after_seq=-3)
    # then
    assert frames == [delta(1), delta(2), FINAL]


async def test_an_error_is_the_final_frame_after_what_arrived(log, entry):
    # given an upstream failure after two deltas
    log.append(entry, DELTAS[0])
    log.append(entry, DELTAS[1])
    failure = error_frame(MESSAGE_ID, UpstreamError("The model API broke off."))
    log.finish(entry, failure)
    # when
    frames = await collect(log, entry, after_seq=0)
    # then
    assert frames == [delta(1), delta(2), failure]
    assert failure["code"] == "upstream_error" and failure["message"] == "The model API broke off."


# --- a reader that asks to coalesce (websocket, gRPC streams) ---------------------------------------


def spans(frames: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(first, last) seq of each delta frame."""
    return [(f.get("from_seq", f["seq"]), f["seq"]) for f in frames if f["type"] == "delta"]


async def test_a_coalescing_reader_behind_gets_the_waiting_deltas_as_one_frame(log, entry, settings):
    # given a finished reply whose deltas have waited longer than CHAT_COALESCE_AFTER_SECONDS
    settings.CHAT_COALESCE_AFTER_SECONDS = 0.0
    finished(log, entry)

    # when a client that saw the first delta resumes
    async def read() -> list[dict[str, Any]]:
        return [frame async for frame in log.read(entry, 1, coalesce=True)]

    frames = await asyncio.wait_for(read(), WAKE_BOUND)
    # then the rest comes joined, saying which deltas it carries, then the end
    assert frames == [
        {"type": "delta", "message_id": MESSAGE_ID, "seq": 5, "content": " is the capital.", "from_seq": 2},
        FINAL,
    ]


@pytest.mark.parametrize("after_seq", range(len(DELTAS) + 1))
async def test_coalesced_frames_still_cover_every_delta_once(log, entry, settings, after_seq):
    # given deltas that waited, some read live and some as a backlog
    settings.CHAT_COALESCE_AFTER_SECONDS = 0.0
    for text in DELTAS[:3]:
        log.append(entry, text)

    async def read() -> list[dict[str, Any]]:
        return [frame async for frame in log.read(entry, after_seq, coalesce=True)]

    reader = asyncio.create_task(asyncio.wait_for(read(), WAKE_BOUND))
    await asyncio.sleep(0)
    # when the reply goes on and ends
    for text in DELTAS[3:]:
        log.append(entry, text)
    log.finish(entry, FINAL)
    frames = await reader
    # then the frames chain from after_seq+1 to the last seq with no gap and no overlap
    covered = spans(frames)
    expected_first = after_seq + 1
    for first, last in covered:
        assert first == expected_first and last >= first
        expected_first = last + 1
    assert expected_first == len(DELTAS) + 1
    assert "".join(f["content"] for f in frames[:-1]) == "".join(DELTAS[after_seq:])
    assert frames[-1] == FINAL


async def test_a_coalescing_reader_keeping_up_gets_one_frame_a_delta(log, entry, settings):
    # given deltas fresher than CHAT_COALESCE_AFTER_SECONDS
    settings.CHAT_COALESCE_AFTER_SECONDS = 60.0
    finished(log, entry)

    # when
    async def read() -> list[dict[str, Any]]:
        return [frame async for frame in log.read(entry, 0, coalesce=True)]

    frames = await asyncio.wait_for(read(), WAKE_BOUND)
    # then
    assert frames == [delta(1), delta(2), delta(3), delta(4), delta(5), FINAL]


async def test_a_reader_that_does_not_ask_to_coalesce_never_gets_joined_frames(log, entry, settings):
    # given a backlog old enough to be joined
    settings.CHAT_COALESCE_AFTER_SECONDS = 0.0
    finished(log, entry)
    # when
    frames = await collect(log, entry, after_seq=0)
    # then
    assert frames == [delta(1), delta(2), delta(3), delta(4), delta(5), FINAL]


# --- following a reply live ---------------------------------------------------------------------------


async def test_a_live_reader_receives_later_deltas_and_the_end(log, entry):
    # given a reader that has read the first delta and waits for more
    log.append(entry, DELTAS[0])
    reader = asyncio.create_task(collect(log, entry, after_seq=0))
    await waiting(entry)
    # when the reply goes on
    for text in DELTAS[1:]:
        log.append(entry, text)
        await asyncio.sleep(0)
    log.finish(entry, FINAL)
    # then
    assert await reader == [delta(1), delta(2), delta(3), delta(4), delta(5), FINAL]


async def test_a_reader_resuming_mid_reply_gets_the_missing_deltas_then_follows_live(log, entry):
    # given three deltas, of which the client saw two
    for text in DELTAS[:3]:
        log.append(entry, text)
    reader = asyncio.create_task(collect(log, entry, after_seq=2))
    await waiting(entry)
    # when
    log.append(entry, DELTAS[3])
    log.append(entry, DELTAS[4])
    log.finish(entry, FINAL)
    # then
    assert await reader == [delta(3), delta(4), delta(5), FINAL]


async def test_a_reader_resuming_beyond_the_end_of_a_running_reply_still_ends_with_the_final_frame(log, entry):
    # given
    log.append(entry, DELTAS[0])
    reader = asyncio.create_task(collect(log, entry, after_seq=3))
    await waiting(entry)
    # when
    log.append(entry, DELTAS[1])
    await asyncio.sleep(0)
    log.finish(entry, FINAL)
    # then nothing it claims to have seen is sent again
    assert await reader == [FINAL]


async def test_finish_wakes_every_waiting_reader(log, entry):
    # given two readers waiting after every delta
    for text in DELTAS:
        log.append(entry, text)
    first = asyncio.create_task(collect(log, entry, after_seq=len(DELTAS)))
    second = asyncio.create_task(collect(log, entry, after_seq=2))
    await waiting(entry, count=2)
    # when
    log.finish(entry, FINAL)
    # then both end, each with what it had not seen
    assert await first == [FINAL]
    assert await second == [delta(3), delta(4), delta(5), FINAL]


# --- readers on another event loop ----------------------------------------------------------------


@pytest.fixture
def other_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in another thread (as the reply loop of a gRPC process is)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="other-loop", daemon=True)
    thread.start()
    yield loop

    async def cancel_readers() -> None:  # a reader a failed test left waiting
        readers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(cancel_readers(), loop).result(timeout=5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    loop.close()


def follow_from(loop: asyncio.AbstractEventLoop, log: MemoryReplyLog, entry: ReplyEntry) -> asyncio.Queue:
    """Read the entry on ``loop``; every frame lands in the returned queue of the running loop."""
    here = asyncio.get_running_loop()
    frames: asyncio.Queue = asyncio.Queue()

    async def read() -> None:
        async for frame in log.read(entry, 0):
            here.call_soon_threadsafe(frames.put_nowait, frame)

    asyncio.run_coroutine_threadsafe(read(), loop)
    return frames


async def waiting_on(entry: ReplyEntry, loop: asyncio.AbstractEventLoop) -> None:
    deadline = time.monotonic() + WAKE_BOUND
    while not any(waiter_loop is loop for waiter_loop, _future in list(entry._waiters)):
        assert time.monotonic() < deadline, "the reader on the other loop never started waiting"
        await asyncio.sleep(0.001)


async def test_a_reader_on_another_loop_in_another_thread_is_woken_by_an_append(log, entry, other_loop):
    # given a reader on the other loop, waiting for the first delta
    frames = follow_from(other_loop, log, entry)
    await waiting_on(entry, other_loop)
    # when this loop appends
    started = time.monotonic()
    log.append(entry, DELTAS[0])
    # then the reader gets it promptly (its loop is asleep in select: only a thread-safe wake-up reaches it)
    assert await asyncio.wait_for(frames.get(), WAKE_BOUND) == delta(1)
    assert time.monotonic() - started < WAKE_BOUND
    # and it keeps following until the end
    await waiting_on(entry, other_loop)
    log.append(entry, DELTAS[1])
    assert await asyncio.wait_for(frames.get(), WAKE_BOUND) == delta(2)
    await waiting_on(entry, other_loop)
    log.finish(entry, FINAL)
    assert await asyncio.wait_for(frames.get(), WAKE_BOUND) == FINAL


async def test_a_reader_on_another_loop_is_woken_by_finish(log, entry, other_loop):
    # given a reader on the other loop that has read every delta
    for text in DELTAS[:2]:
        log.append(entry, text)
    frames = follow_from(other_loop, log, entry)
    assert [await asyncio.wait_for(frames.get(), WAKE_BOUND) for _ in range(2)] == [delta(1), delta(2)]
    await waiting_on(entry, other_loop)
    # when
    log.finish(entry, FINAL)
    # then
    assert await asyncio.wait_for(frames.get(), WAKE_BOUND) == FINAL


async def test_a_waiter_whose_loop_is_closed_does_not_stop_the_others(log, entry):
    # given a reader whose loop was closed while it waited, and a reader on this loop
    dead = asyncio.new_event_loop()
    entry._waiters.append((dead, dead.create_future()))
    dead.close()
    reader = asyncio.create_task(collect(log, entry, after_seq=0))
    await waiting(entry, count=2)
    # when
    log.append(entry, DELTAS[0])
    log.finish(entry, FINAL)
    # then
    assert await reader == [delta(1), FINAL]


# --- the log's entries ------------------------------------------------------------------------------


def test_append_returns_the_seq_of_the_delta(log, entry):
    assert [log.append(entry, text) for text in DELTAS] == [1, 2, 3, 4, 5]


def test_an_opened_reply_is_found_by_its_message_id(log, entry):
    assert log.get(MESSAGE_ID) is entry
    assert (entry.conversation_id, entry.user_id) == ("conversation-1", "user-1")
    assert log.get("another") is None


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_a_finished_reply_is_kept_for_a_while_then_expires(log, monkeypatch):
    # given a reply finished at t=1000, and one still running
    clock = FakeMonotonic()
    monkeypatch.setattr(reply_log, "time", clock)
    done = finished(log, log.open("done", "c", user_id="u"))
    running = log.open("running", "c", user_id="u")
    # when another reply opens just within the keep time
    clock.now += reply_log.KEEP_FINISHED_SECONDS
    log.open("second", "c", user_id="u")
    # then the finished reply can still be resumed
    assert log.get("done") is done
    # when one opens past it
    clock.now += 1
    log.open("third", "c", user_id="u")
    # then the finished reply is gone; the running one stays
    assert log.get("done") is None
    assert log.get("running") is running
