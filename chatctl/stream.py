"""Streaming a reply to the terminal: over the websocket (default) or ``StreamChatWithAI`` (gRPC).

Ctrl-C while a reply streams cancels that reply (a ``cancel`` frame), not the program: a SIGINT
handler only raises a flag, which the receive loop polls between short waits.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import click
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from chatctl.errors import ChatctlError, ServiceUnreachable, SessionExpired
from chatctl.session import Session

POLL_SECONDS = 0.1
RECONNECT_ATTEMPTS = 6
CLOSE_UNAUTHENTICATED = 4401
ERROR_WORDS = {
    "rate_limited": "you are sending messages too quickly; wait a moment",
    "upstream_error": "the AI model failed to answer",
    "upstream_timeout": "the AI model took too long to answer",
    "unavailable": "the AI model is not available right now",
    "not_found": "no such conversation",
}


@dataclass
class ReplyOutcome:
    conversation_id: str | None = None
    message: dict | None = None
    error: str | None = None


@dataclass
class Interrupt:
    requested: bool = False
    count: int = 0


@contextlib.contextmanager
def sigint_as_flag() -> Iterator[Interrupt]:
    flag = Interrupt()

    def handler(signum, frame):  # noqa: ARG001
        flag.requested = True
        flag.count += 1

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


class Spinner:
    """A spinner on stderr (terminals only) until the first token arrives."""

    frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.cycle = itertools.cycle(self.frames)
        self.shown = False
        self.last = 0.0

    def tick(self, label: str = "waiting for the model…") -> None:
        if not self.enabled or time.monotonic() - self.last < 0.08:
            return
        self.last = time.monotonic()
        sys.stderr.write(f"\r{next(self.cycle)} {label}")
        sys.stderr.flush()
        self.shown = True

    def stop(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self.shown = False


@dataclass
class ReplyPrinter:
    """Prints one reply as it grows: each delta once, in order, whatever reconnects happen."""

    spinner: Spinner = field(default_factory=Spinner)
    message_id: str | None = None
    seq: int = 0
    started: bool = False

    def begin(self) -> None:
        if not self.started:
            self.spinner.stop()
            click.echo(click.style("ai> ", fg="green", bold=True), nl=False)
            self.started = True

    def delta(self, seq: int, content: str, from_seq: int = 0) -> bool:
        """Print deltas ``from_seq``..``seq`` (one delta when ``from_seq`` is 0: a server joins
        the deltas waiting for a reader that fell behind). False when the frame does not
        follow what was printed (a gap, or a joined frame overlapping it): resume instead."""
        first = from_seq or seq
        if seq <= self.seq:
            return True  # already printed (a resume overlaps what we have)
        if first != self.seq + 1:
            return False
        self.begin()
        self.seq = seq
        click.echo(content, nl=False)
        sys.stdout.flush()
        return True

    def finish(self, message: dict | None, error: str | None = None) -> None:
        self.spinner.stop()
        if message is not None and not self.started and message.get("content"):
            self.begin()
            click.echo(message["content"], nl=False)
        if self.started:
            click.echo()
        status = (message or {}).get("status")
        if status == "cancelled":
            click.echo(click.style("[reply cancelled]", fg="yellow"))
        elif status == "failed":
            click.echo(click.style("[the reply failed; what arrived is kept]", fg="red"))
        if error:
            click.echo(click.style(f"error: {error}", fg="red"), err=True)


def error_words(code: str, message: str) -> str:
    words = ERROR_WORDS.get(code)
    return f"{words} ({message})" if words else message


class WebsocketChat:
    """One websocket for the whole prompt session, reopened when it drops."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.ws: ClientConnection | None = None

    def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                self.ws.close()
            self.ws = None

    def _connect(self) -> ClientConnection:
        url = self.session.endpoints.ws_url
        for attempt in range(RECONNECT_ATTEMPTS):
            token = self.session.access_token()  # refreshed first when it has expired
            try:
                return connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10)
            except (OSError, InvalidStatus, InvalidURI, TimeoutError) as exc:
                if attempt == RECONNECT_ATTEMPTS - 1:
                    raise ServiceUnreachable("chat", self.session.endpoints.chat_url, exc) from exc
                time.sleep(min(8.0, 0.5 * 2**attempt))
        raise AssertionError("unreachable")

    def _send_first(self, frame: dict) -> None:
        """Send on the open socket, or on a new one when it closed while the prompt was idle
        (the server closes a socket whose token expired: 4401)."""
        if self.ws is not None:
            try:
                self.ws.send(json.dumps(frame))
                return
            except ConnectionClosed:
                self.ws = None
        self.ws = self._connect()
        self.ws.send(json.dumps(frame))

    def send(self, content: str, conversation_id: str | None, model: str | None = None) -> ReplyOutcome:
        frame = {"type": "message", "content": content, "client_message_id": str(uuid.uuid4())}
        if conversation_id:
            frame["conversation_id"] = conversation_id
        if model:
            frame["model"] = model
        outcome = ReplyOutcome(conversation_id=conversation_id)
        printer = ReplyPrinter()
        cancel_sent = False
        refusals = 0
        with sigint_as_flag() as interrupt:
            self._send_first(frame)
            while True:
                if interrupt.requested and printer.message_id and not cancel_sent:
                    cancel_sent = True
                    self._send_quietly({"type": "cancel", "message_id": printer.message_id})
                try:
                    raw = self.ws.recv(timeout=POLL_SECONDS)
                except TimeoutError:
                    if not printer.started:
                        printer.spinner.tick("cancelling…" if interrupt.requested else "waiting for the model…")
                    continue
                except ConnectionClosed as exc:
                    # The reply goes on without us: reconnect, then resume after the last seq
                    # printed (or re-send the message: the same client_message_id makes no second one).
                    refused = exc.rcvd is not None and exc.rcvd.code == CLOSE_UNAUTHENTICATED
                    refusals += refused
                    if refusals > 1:
                        printer.finish(None)
                        raise SessionExpired() from exc
                    self.ws = None
                    if refused:
                        self.session.refresh()
                    self.ws = self._connect()
                    if printer.message_id:
                        self.ws.send(
                            json.dumps({"type": "resume", "message_id": printer.message_id, "after_seq": printer.seq})
                        )
                    else:
                        self.ws.send(json.dumps(frame))
                    continue
                event = json.loads(raw)
                kind = event.get("type")
                if kind == "ack":
                    outcome.conversation_id = event["conversation_id"]
                elif kind == "start":
                    printer.message_id = event["message_id"]
                elif kind == "delta" and event.get("message_id") == printer.message_id:
                    if not printer.delta(event["seq"], event["content"], event.get("from_seq", 0)):
                        self._send_quietly(
                            {"type": "resume", "message_id": printer.message_id, "after_seq": printer.seq}
                        )
                elif kind == "done" and event["message"]["id"] == printer.message_id:
                    outcome.message = event["message"]
                    printer.finish(event["message"])
                    return outcome
                elif kind == "error":
                    if event.get("code") == "unauthenticated":
                        continue  # the 4401 close that follows is handled above
                    if event.get("message_id") in (None, printer.message_id):
                        outcome.error = error_words(event.get("code", ""), event.get("message", ""))
                        printer.finish(None, outcome.error)
                        return outcome

    def _send_quietly(self, frame: dict) -> None:
        with contextlib.suppress(ConnectionClosed):
            self.ws.send(json.dumps(frame))


class GrpcChat:
    """``chat.ChatService/StreamChatWithAI``. gRPC has no cancel RPC: Ctrl-C sends the ``cancel``
    frame over a one-off websocket, then reads the stream to its end (status ``cancelled``)."""

    def __init__(self, session: Session) -> None:
        import grpc

        from protos import chat_pb2_grpc

        self.grpc = grpc
        self.session = session
        self.channel = grpc.insecure_channel(session.endpoints.chat_grpc)
        self.stub = chat_pb2_grpc.ChatServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def send(self, content: str, conversation_id: str | None, model: str | None = None) -> ReplyOutcome:
        from protos import chat_pb2

        request = chat_pb2.ChatWithAIRequest(
            message=content,
            conversation_id=conversation_id or "",
            model=model or "",
            client_message_id=str(uuid.uuid4()),
        )
        outcome = ReplyOutcome(conversation_id=conversation_id)
        printer = ReplyPrinter()
        for attempt in (1, 2):
            metadata = (("authorization", f"Bearer {self.session.access_token(force_refresh=attempt == 2)}"),)
            call = self.stub.StreamChatWithAI(request, metadata=metadata)
            events: queue.Queue = queue.Queue()
            threading.Thread(target=self._pump, args=(call, events), daemon=True).start()
            try:
                return self._read(call, events, printer, outcome)
            except self.grpc.RpcError as exc:
                if exc.code() == self.grpc.StatusCode.UNAUTHENTICATED and attempt == 1 and not printer.message_id:
                    continue
                printer.finish(None)
                self._raise(exc)
        raise SessionExpired()

    @staticmethod
    def _pump(call, events: queue.Queue) -> None:
        try:
            for event in call:
                events.put(event)
        except Exception as exc:  # noqa: BLE001 - handed to the reading thread
            events.put(exc)
        events.put(None)

    def _read(self, call, events: queue.Queue, printer: ReplyPrinter, outcome: ReplyOutcome) -> ReplyOutcome:
        cancel_sent = False
        with sigint_as_flag() as interrupt:
            while True:
                if interrupt.requested and printer.message_id and not cancel_sent:
                    cancel_sent = True
                    self._cancel(printer.message_id)
                try:
                    event = events.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    if not printer.started:
                        printer.spinner.tick("cancelling…" if interrupt.requested else "waiting for the model…")
                    continue
                if isinstance(event, Exception):
                    raise event
                if event is None:
                    printer.finish(outcome.message)
                    return outcome
                which = event.WhichOneof("event")
                if which == "ack":
                    outcome.conversation_id = event.ack.conversation_id
                elif which == "start":
                    printer.message_id = event.start.message_id
                elif which == "delta":
                    printer.delta(event.delta.seq, event.delta.content, event.delta.from_seq)
                elif which == "done":
                    message = event.done.message
                    outcome.message = {"id": message.id, "content": message.content, "status": message.status}

    def _cancel(self, message_id: str) -> None:
        token = self.session.access_token()
        try:
            with connect(
                self.session.endpoints.ws_url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10
            ) as ws:
                ws.send(json.dumps({"type": "cancel", "message_id": message_id}))
                time.sleep(0.2)  # let the frame be read before the socket goes
        except (OSError, InvalidStatus, InvalidURI, TimeoutError) as exc:
            click.echo(f"\nerror: could not cancel the reply over {self.session.endpoints.ws_url} ({exc})", err=True)

    def _raise(self, exc) -> None:
        code = exc.code()
        if code == self.grpc.StatusCode.UNAUTHENTICATED:
            raise SessionExpired() from exc
        if code == self.grpc.StatusCode.UNAVAILABLE and "connect" in (exc.details() or "").lower():
            raise ServiceUnreachable("chat gRPC", self.session.endpoints.chat_grpc, exc.details()) from exc
        raise ChatctlError(f"{exc.details()} ({code.name})") from exc
