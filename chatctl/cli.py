"""The ``chatctl`` commands: signup, signin, signout, conversations, history, chat, and for
branches: regenerate, edit, branch."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import click

from chatctl.errors import NotSignedIn, ServiceUnreachable
from chatctl.rest import api_error
from chatctl.session import Endpoints, Session, auth_post
from chatctl.stream import GrpcChat, WebsocketChat
from chatctl.tokens import tokens_clear, tokens_load, tokens_save

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of text.")


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--auth-url",
    envvar="CHATCTL_AUTH_URL",
    default="http://127.0.0.1:8081",
    show_default=True,
    help="Base URL of the auth service's REST API (env CHATCTL_AUTH_URL).",
)
@click.option(
    "--chat-url",
    envvar="CHATCTL_CHAT_URL",
    default="http://127.0.0.1:8083",
    show_default=True,
    help="Base URL of the chat service (REST and websocket; env CHATCTL_CHAT_URL).",
)
@click.option(
    "--chat-grpc",
    envvar="CHATCTL_CHAT_GRPC",
    default="127.0.0.1:8082",
    show_default=True,
    help="Address of the chat service's gRPC server, for `chat --grpc` (env CHATCTL_CHAT_GRPC).",
)
@click.pass_context
def main(ctx: click.Context, auth_url: str, chat_url: str, chat_grpc: str) -> None:
    """A command-line client of the chat platform.

    Sign in once (tokens are kept in $XDG_CONFIG_HOME/chatctl/tokens.json, mode 0600), then
    list conversations, read one, or chat with streamed replies.
    """
    ctx.obj = Endpoints(auth_url=auth_url.rstrip("/"), chat_url=chat_url.rstrip("/"), chat_grpc=chat_grpc)


def _signed_in(endpoints: Endpoints, data: dict, as_json: bool, verb: str) -> None:
    path = tokens_save({"auth_url": endpoints.auth_url, "user": data["user"], "tokens": data["tokens"]})
    if as_json:
        emit_json({"user": data["user"], "tokens_file": str(path)})
    else:
        click.echo(f"{verb} as {data['user']['email']} (tokens saved to {path})")


@main.command()
@click.option("--name", prompt=True, help="Your display name.")
@click.option("--email", prompt=True, help="Your email address.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="At least 8 characters (prompted, hidden, when omitted).",
)
@json_option
@click.pass_obj
def signup(endpoints: Endpoints, name: str, email: str, password: str, as_json: bool) -> None:
    """Create an account and sign in."""
    status, data = auth_post(endpoints, "signup", {"name": name, "email": email, "password": password})
    if status != 201:
        raise api_error(status, data)
    _signed_in(endpoints, data, as_json, "Signed up")


@main.command()
@click.option("--email", prompt=True, help="Your email address.")
@click.option("--password", prompt=True, hide_input=True, help="Prompted (hidden) when omitted.")
@json_option
@click.pass_obj
def signin(endpoints: Endpoints, email: str, password: str, as_json: bool) -> None:
    """Sign in and keep the tokens for the other commands."""
    status, data = auth_post(endpoints, "signin", {"email": email, "password": password})
    if status == 401:
        raise click.ClickException("wrong email or password")
    if status != 200:
        raise api_error(status, data)
    _signed_in(endpoints, data, as_json, "Signed in")


@main.command()
@json_option
@click.pass_obj
def signout(endpoints: Endpoints, as_json: bool) -> None:
    """End the session on the server and forget the tokens here."""
    stored = tokens_load()
    ended_remotely = False
    if stored and stored.get("tokens"):
        try:
            session = Session(endpoints)
            status, _ = auth_post(endpoints, "signout", {}, bearer=session.access_token())
            ended_remotely = status == 200
        except (NotSignedIn, ServiceUnreachable) as exc:
            tokens_clear()
            if isinstance(exc, ServiceUnreachable):
                raise click.ClickException(f"{exc.message}; the local tokens were removed anyway") from exc
    tokens_clear()
    if as_json:
        emit_json({"status": "signed_out", "session_ended": ended_remotely})
    else:
        click.echo("Signed out." if stored else "Not signed in.")


@main.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@json_option
@click.pass_obj
def conversations(endpoints: Endpoints, limit: int, offset: int, as_json: bool) -> None:
    """List your conversations, newest activity first."""
    data = Session(endpoints).chat_request("GET", f"conversations?limit={limit}&offset={offset}")
    if as_json:
        emit_json(data)
        return
    if not data["conversations"]:
        click.echo("No conversations yet: start one with `chatctl chat`.")
        return
    for conversation in data["conversations"]:
        when = (conversation.get("updated_at") or "")[:16].replace("T", " ")
        click.echo(f"{conversation['id']}  {when}  {conversation.get('title') or '(untitled)'}")
    shown = offset + len(data["conversations"])
    if data["total"] > shown:
        click.echo(f"… {data['total'] - shown} more (--offset {shown})")


def _print_message(message: dict, *, ids: bool = False) -> None:
    who = {"user": ("you> ", "cyan"), "assistant": ("ai> ", "green")}.get(message["role"], ("system> ", "magenta"))
    siblings = message.get("sibling_ids") or [message["id"]]
    place = f"({siblings.index(message['id']) + 1}/{len(siblings)}) " if len(siblings) > 1 else ""
    label = f"[{message['id']}] " if ids else ""
    click.echo(click.style(who[0], fg=who[1], bold=True) + click.style(label + place, dim=True) + message["content"])
    if message["status"] in ("cancelled", "failed", "streaming"):
        click.echo(click.style(f"[{message['status']}]", fg="yellow"))


@main.command()
@click.argument("conversation_id")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100), help="The last N messages.")
@click.option("--ids", is_flag=True, help="Show each message's id (for regenerate, edit and branch).")
@json_option
@click.pass_obj
def history(endpoints: Endpoints, conversation_id: str, limit: int, ids: bool, as_json: bool) -> None:
    """Show a conversation's branch shown now, oldest first; (2/3) marks a message that has
    others at its place (regenerated replies, edited messages)."""
    session = Session(endpoints)
    data = _history(session, conversation_id, limit)
    if as_json:
        emit_json(data)
        return
    for message in data["messages"]:
        _print_message(message, ids=ids)


def _history(session: Session, conversation_id: str, limit: int) -> dict:
    path = f"conversations/{conversation_id}/messages"
    data = session.chat_request("GET", f"{path}?limit={limit}")
    if data["total"] > limit:
        data = session.chat_request("GET", f"{path}?limit={limit}&offset={data['total'] - limit}")
    return data


@main.command()
@click.argument("message_id")
@click.option("--model", default=None, help="Ask for this model (one the service allows).")
@json_option
@click.pass_obj
def regenerate(endpoints: Endpoints, message_id: str, model: str | None, as_json: bool) -> None:
    """Answer again: a new reply beside reply MESSAGE_ID (the old one stays); the conversation
    then shows the new reply's branch."""
    body = {"model": model} if model else {}
    data = Session(endpoints).chat_request("POST", f"messages/{message_id}/regenerate", body)
    if as_json:
        emit_json(data)
        return
    _print_message(data["assistant_message"])


@main.command()
@click.argument("message_id")
@click.argument("content")
@click.option("--model", default=None, help="Ask for this model (one the service allows).")
@json_option
@click.pass_obj
def edit(endpoints: Endpoints, message_id: str, content: str, model: str | None, as_json: bool) -> None:
    """Ask differently: CONTENT as a new message beside your message MESSAGE_ID (the old one
    stays), and its reply; the conversation then shows the new branch."""
    body = {"content": content, **({"model": model} if model else {})}
    data = Session(endpoints).chat_request("POST", f"messages/{message_id}/edit", body)
    if as_json:
        emit_json(data)
        return
    _print_message(data["user_message"])
    _print_message(data["assistant_message"])


@main.command()
@click.argument("conversation_id")
@click.argument("message_id")
@json_option
@click.pass_obj
def branch(endpoints: Endpoints, conversation_id: str, message_id: str, as_json: bool) -> None:
    """Show the branch through MESSAGE_ID (to the newest message below it) in CONVERSATION_ID:
    `history` and the next message of `chat` continue it."""
    session = Session(endpoints)
    data = session.chat_request("PUT", f"conversations/{conversation_id}/branch", {"leaf_message_id": message_id})
    if as_json:
        emit_json(data)
        return
    for message in _history(session, conversation_id, 50)["messages"]:
        _print_message(message)


@main.command()
@click.argument("conversation_id", required=False)
@click.option("--grpc", "use_grpc", is_flag=True, help="Stream over gRPC (StreamChatWithAI) instead of the websocket.")
@click.option("--model", default=None, help="Ask for this model (one the service allows).")
@click.pass_obj
def chat(endpoints: Endpoints, conversation_id: str | None, use_grpc: bool, model: str | None) -> None:
    """Chat interactively; replies stream in as they are written.

    Continues CONVERSATION_ID when given, else starts a new conversation. Ctrl-C while a reply
    streams cancels that reply; Ctrl-D, or Ctrl-C twice at an empty prompt, exits.
    """
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 - line editing and history for input()
    session = Session(endpoints)
    session.access_token()  # fail now, not after the first message, when signed out
    if conversation_id:
        for message in _history(session, conversation_id, 10)["messages"]:
            _print_message(message)
    transport = GrpcChat(session) if use_grpc else WebsocketChat(session)
    click.echo(click.style("Type a message and press Enter. Ctrl-C stops a reply; Ctrl-D exits.", dim=True))
    interrupted = False
    try:
        while True:
            try:
                line = input("you> ")
            except EOFError:
                click.echo()
                return
            except KeyboardInterrupt:
                if interrupted:
                    click.echo()
                    return
                interrupted = True
                click.echo("\n(Ctrl-C again or Ctrl-D to exit)")
                continue
            interrupted = False
            if not line.strip():
                continue
            outcome = transport.send(line, conversation_id, model)
            conversation_id = outcome.conversation_id or conversation_id
    finally:
        transport.close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
