"""The chat websocket (``/ws/chat/``): frames in, service calls, frames out.

Client frames: ``auth`` (browsers, first frame), ``message``, ``regenerate``, ``edit``,
``cancel``, ``resume``. Server frames for a reply: ``ack``, ``start``, ``delta``... (``seq``
from 1), then one of ``done``/``error``; ``title`` when a conversation of the user's gets a
generated title. A bad frame gets an ``error`` frame and the socket stays usable.

The consumer never waits on the database or the model on the event loop: ORM work runs
in the bounded executor (``async_bridge.db``), the model call is a task of its own
(``reply_producer.reply_begin``) that outlives this socket; this socket only forwards the reply
log's frames, and ``resume`` forwards them from any ``seq``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from typing import Any

import orjson
import structlog
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from shared_apps.authn.verify import Principal
from shared_apps.authn.ws import credential_verify_async
from shared_apps.chat import events, reply_producer, reply_reader
from shared_apps.chat.payloads import message_data
from shared_apps.core.errors import ApplicationError, NotAuthenticated, ServiceUnavailable
from shared_apps.core.slots import PerUserSlots

logger = structlog.get_logger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_MANY_SOCKETS = 4429
SESSION_CHECK_SECONDS = 0.5
# Authenticated sockets per user in this process (CHAT_MAX_SOCKETS_PER_USER): one account
# must not hold every socket a process can serve.
socket_slots = PerUserSlots()
# Sockets not yet authenticated, per client address (CHAT_MAX_PENDING_SOCKETS_PER_ADDRESS): each
# may wait CHAT_WS_AUTH_TIMEOUT for its auth frame, and without a cap one address could hold
# as many as it can open, without any account.
pending_slots = PerUserSlots()


class FrameError(Exception):
    def __init__(self, message: str, code: str = "invalid_frame") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _origin(scope: dict) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"origin":
            return value.decode("latin-1")
    return None


def _optional(frame: dict, key: str, kind: type | tuple[type, ...]) -> Any:
    value = frame.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise FrameError(f"'{key}' has the wrong type.")
    return value


def _required(frame: dict, key: str) -> str:
    value = frame.get(key)
    if not isinstance(value, str):
        raise FrameError(f"'{key}' must be a string.")
    return value


def _reply_options(frame: dict) -> dict[str, Any]:
    temperature = _optional(frame, "temperature", (int, float))
    return dict(
        model=_optional(frame, "model", str),
        temperature=float(temperature) if temperature is not None else None,
        max_tokens=_optional(frame, "max_tokens", int),
        client_message_id=_optional(frame, "client_message_id", str),
        request_id=str(uuid.uuid4()),  # one correlation id per reply, sent on to the model API
    )


class ChatConsumer(AsyncWebsocketConsumer):
    # No channel-layer subscription per socket: reply frames come from the reply log, and a
    # generated title is handed over in this process (``events.user_socket_add``).
    channel_layer_alias = "__none__"
    principal: Principal | None = None
    slot_user: object | None = None  # the user whose socket slot this socket holds
    pending_address: str | None = None  # the address whose pending slot this socket holds

    async def connect(self) -> None:
        origin = _origin(self.scope)
        # Browsers always send Origin; other clients (CLI, servers) may omit it.
        if origin is not None and origin not in settings.CHAT_WS_ALLOWED_ORIGINS:
            logger.info("ws_origin_refused", origin=origin)
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        if self.scope.get("principal") is None and not self.scope.get("auth_error"):
            address = (self.scope.get("client") or ("-",))[0]  # uvicorn: the trusted proxies' answer
            if not pending_slots.acquire(address, settings.CHAT_MAX_PENDING_SOCKETS_PER_ADDRESS):
                logger.info("ws_pending_cap_reached", limit=settings.CHAT_MAX_PENDING_SOCKETS_PER_ADDRESS)
                await self.close()  # before accept: the handshake is refused (HTTP 403)
                return
            self.pending_address = address
        self.forwarders: dict[str, asyncio.Task] = {}  # one per reply: a resume replaces it
        self.watchdog: asyncio.Task | None = None
        self.auth_timer: asyncio.Task | None = None
        await self.accept()
        if self.scope.get("principal") is not None:
            await self._authenticated(self.scope["principal"])
        elif self.scope.get("auth_error"):
            await self._close_unauthenticated(self.scope["auth_error"])
        else:
            self.auth_timer = asyncio.create_task(self._auth_deadline())

    def _pending_release(self) -> None:
        if self.pending_address is not None:
            pending_slots.release(self.pending_address)
            self.pending_address = None

    async def disconnect(self, code: int) -> None:
        self._pending_release()
        # Forwarders stop with the socket; the replies they forward do not.
        for task in [
            *getattr(self, "forwarders", {}).values(),
            getattr(self, "watchdog", None),
            getattr(self, "auth_timer", None),
        ]:
            if task is not None:
                task.cancel()
        if self.slot_user is not None:
            events.user_socket_discard(self.slot_user, id(self))
            socket_slots.release(self.slot_user)
            self.slot_user = None

    # --- authentication ---------------------------------------------------------------------
    async def _authenticated(self, principal: Principal) -> None:
        self._pending_release()
        limit = settings.CHAT_MAX_SOCKETS_PER_USER
        if not socket_slots.acquire(principal.user_id, limit):
            logger.info("ws_per_user_cap_reached", limit=limit)
            if self.auth_timer is not None:
                self.auth_timer.cancel()
            message = f"At most {limit} open sockets per user; close one first."
            await self._send({"type": "error", "code": "rate_limited", "message": message})
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return
        self.slot_user = principal.user_id
        self.principal = principal
        if self.auth_timer is not None:
            self.auth_timer.cancel()
        self.watchdog = asyncio.create_task(self._session_watchdog())
        events.user_socket_add(principal.user_id, id(self), self._send)  # title frames

    async def _auth_deadline(self) -> None:
        await asyncio.sleep(settings.CHAT_WS_AUTH_TIMEOUT)
        if self.principal is None:
            await self._close_unauthenticated("No auth frame within the time allowed.")

    async def _session_watchdog(self) -> None:
        """Close the socket (4401) once its token expires or its session is ended."""
        from shared_apps.authn.verify import session_state_check

        while True:
            await asyncio.sleep(SESSION_CHECK_SECONDS)
            principal = self.principal
            try:
                live = principal.expires_at.timestamp() > time.time() and session_state_check(principal)
            except ServiceUnavailable:
                live = False
            if not live:
                await self._close_unauthenticated("Session expired or ended; sign in again.")
                return

    async def _close_unauthenticated(self, reason: str) -> None:
        await self._send({"type": "error", "code": "unauthenticated", "message": reason})
        await self.close(code=CLOSE_UNAUTHENTICATED)

    # --- frames ----------------------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = self._parse(text_data, bytes_data)
            kind = frame.get("type")
            if not isinstance(kind, str):  # a list or object here must not reach the dict lookup below
                raise FrameError("'type' must be a string: message, regenerate, edit, cancel, resume or auth.")
            if kind == "auth":
                await self._on_auth(frame)
                return
            if self.principal is None:
                await self._close_unauthenticated('Authenticate first: send {"type": "auth", "token": ...}.')
                return
            handler = {
                "message": self._on_message,
                "regenerate": self._on_regenerate,
                "edit": self._on_edit,
                "cancel": self._on_cancel,
                "resume": self._on_resume,
            }.get(kind)
            if handler is None:
                raise FrameError(
                    f"Unknown frame type {kind!r}; expected message, regenerate, edit, cancel, resume or auth."
                )
            await handler(frame)
        except FrameError as exc:
            await self._send({"type": "error", "code": exc.code, "message": exc.message})
        except ApplicationError as exc:
            await self._send({"type": "error", "code": exc.code, "message": exc.message})

    def _parse(self, text_data: str | None, bytes_data: bytes | None) -> dict:
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", errors="replace")
        if len(raw) > settings.CHAT_WS_MAX_FRAME_BYTES:
            raise FrameError(f"Frame larger than {settings.CHAT_WS_MAX_FRAME_BYTES} bytes.", code="frame_too_large")
        try:
            frame = json.loads(raw)
        except ValueError as exc:
            raise FrameError("Frame is not valid JSON.") from exc
        except RecursionError as exc:  # [[[[... deeper than the parser's limit: still a bad frame
            raise FrameError("Frame is nested too deeply.") from exc
        if not isinstance(frame, dict):
            raise FrameError("Frame must be a JSON object.")
        return frame

    async def _on_auth(self, frame: dict) -> None:
        if self.principal is not None:
            raise FrameError("Already authenticated.")
        token = frame.get("token")
        if not isinstance(token, str) or not token:
            await self._close_unauthenticated("The auth frame needs a 'token'.")
            return
        try:
            principal = await credential_verify_async(token)
        except (NotAuthenticated, ServiceUnavailable) as exc:
            await self._close_unauthenticated(exc.message)
            return
        await self._authenticated(principal)

    async def _on_message(self, frame: dict) -> None:
        await self._reply_start(
            reply_producer.reply_begin,
            conversation_id=_optional(frame, "conversation_id", str),
            content=_required(frame, "content"),
            **_reply_options(frame),
        )

    async def _on_regenerate(self, frame: dict) -> None:
        await self._reply_start(
            reply_producer.reply_regenerate_begin, message_id=_required(frame, "message_id"), **_reply_options(frame)
        )

    async def _on_edit(self, frame: dict) -> None:
        await self._reply_start(
            reply_producer.reply_edit_begin,
            message_id=_required(frame, "message_id"),
            content=_required(frame, "content"),
            **_reply_options(frame),
        )

    async def _reply_start(self, begin, **params: Any) -> None:
        """Begin a reply (``reply_producer.reply_begin`` or another ``reply_*_begin``), send
        ``ack`` and ``start``, and forward its frames."""
        plan = await begin(user_id=self.principal.user_id, **params)
        await self._send(
            {
                "type": "ack",
                "user_message": message_data(plan.user_message),
                "conversation_id": str(plan.conversation.id),
            }
        )
        await self._send({"type": "start", "message_id": str(plan.assistant_message.id)})
        self._forward(str(plan.assistant_message.id), 0)

    async def _on_cancel(self, frame: dict) -> None:
        message_id = frame.get("message_id")
        if not isinstance(message_id, str):
            raise FrameError("'message_id' must be a string.")
        await reply_producer.reply_cancel(user_id=self.principal.user_id, message_id=message_id)

    async def _on_resume(self, frame: dict) -> None:
        message_id = frame.get("message_id")
        after_seq = frame.get("after_seq", 0)
        if not isinstance(message_id, str):
            raise FrameError("'message_id' must be a string.")
        if isinstance(after_seq, bool) or not isinstance(after_seq, int) or after_seq < 0:
            raise FrameError("'after_seq' must be a non-negative integer.")
        with contextlib.suppress(ValueError):  # a malformed id is refused by the reader, as an error frame
            message_id = str(uuid.UUID(message_id))  # one spelling per reply: the log's, the forwarders' key
        limit = settings.CHAT_WS_MAX_FORWARDERS
        if message_id not in self.forwarders and len(self.forwarders) >= limit:
            # Each new forwarder reads the database on the shared executor first: a flood of
            # resumes (random ids cost nothing to send) would queue everyone's ORM work behind it.
            raise FrameError(
                f"At most {limit} replies followed at once on a socket; wait for one to end.", "rate_limited"
            )
        self._forward(message_id, after_seq)

    # --- forwarding a reply's frames -------------------------------------------------------------
    def _forward(self, message_id: str, after_seq: int) -> None:
        """Forward a reply's frames after ``after_seq``: one forwarder per reply per socket. A
        resume of a reply this socket already forwards replaces that forwarder (it is cancelled,
        the new one starts from the seq asked for), so a flood of resumes cannot start a reader
        each; the client joins frames by seq, so an overlap with what it had is harmless."""
        previous = self.forwarders.pop(message_id, None)
        if previous is not None:
            previous.cancel()
        task = asyncio.create_task(self._forward_run(message_id, after_seq))
        self.forwarders[message_id] = task

        def forget(done: asyncio.Task) -> None:
            if self.forwarders.get(message_id) is done:
                del self.forwarders[message_id]

        task.add_done_callback(forget)

    async def _forward_run(self, message_id: str, after_seq: int) -> None:
        try:
            async for frame in reply_reader.reply_frames(
                user_id=self.principal.user_id, message_id=message_id, after_seq=after_seq, coalesce=True
            ):
                await self._send(frame)
        except ApplicationError as exc:
            await self._send({"type": "error", "message_id": message_id, "code": exc.code, "message": exc.message})

    async def _send(self, frame: dict) -> None:
        await self.send(text_data=orjson.dumps(frame).decode())
