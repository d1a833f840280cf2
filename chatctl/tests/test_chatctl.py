"""``chatctl`` as a user runs it: a subprocess against the real stack; the interactive prompt
driven through tmux (a real terminal, so Ctrl-C is a real SIGINT)."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from testkit.processes import free_port
from testkit.stack import PASSWORD, ROOT, new_email, require_tool

LONG = " ".join(f"word{i}" for i in range(30))


def expected_answer(content: str, turn: int = 1) -> str:
    return (
        f"You said: {content.strip()} (local-echo, turn {turn}; set OPENAI_API_KEY or OPENAI_BASE_URL for a real model)"
    )


@pytest.fixture
def cli_env(stack, tmp_path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CHATCTL_")},
        "PYTHONPATH": str(ROOT),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "CHATCTL_AUTH_URL": stack.auth_url,
        "CHATCTL_CHAT_URL": stack.chat_url,
        "CHATCTL_CHAT_GRPC": stack.chat_grpc,
    }


def chatctl(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "chatctl", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"chatctl {args} exited {result.returncode}: {result.stdout}{result.stderr}")
    return result


def signed_up(env: dict[str, str]) -> str:
    email = new_email()
    chatctl(env, "signup", "--name", "Ada", "--email", email, "--password", PASSWORD, "--json")
    return email


def tokens_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "chatctl" / "tokens.json"


def test_signup_signin_conversations_history_signout_as_json(cli_env, stack):
    # when: signed up
    email = new_email()
    out = json.loads(
        chatctl(cli_env, "signup", "--name", "Ada", "--email", email, "--password", PASSWORD, "--json").stdout
    )
    # then
    assert out["user"]["email"] == email and "tokens" not in out
    assert stat.S_IMODE(tokens_file(cli_env).stat().st_mode) == 0o600
    assert json.loads(chatctl(cli_env, "conversations", "--json").stdout) == {"conversations": [], "total": 0}

    # given: a conversation with one exchange, made over REST with the stored token
    import urllib.request

    access = json.loads(tokens_file(cli_env).read_text())["tokens"]["access_token"]
    auth = {"Authorization": f"Bearer {access}", "Content-Type": "application/json"}
    created = json.load(
        urllib.request.urlopen(
            urllib.request.Request(f"{stack.chat_url}/v1/chat/conversations", data=b'{"title": "Plans"}', headers=auth)
        )
    )
    urllib.request.urlopen(
        urllib.request.Request(
            f"{stack.chat_url}/v1/chat/conversations/{created['id']}/messages", data=b'{"content": "hi"}', headers=auth
        )
    )
    # when / then: signed in again, the lists show it
    out = json.loads(chatctl(cli_env, "signin", "--email", email, "--password", PASSWORD, "--json").stdout)
    assert out["user"]["email"] == email
    listing = json.loads(chatctl(cli_env, "conversations", "--json").stdout)
    assert listing["total"] == 1 and listing["conversations"][0]["title"] == "Plans"
    history = json.loads(chatctl(cli_env, "history", created["id"], "--json").stdout)
    assert [(m["role"], m["content"], m["status"]) for m in history["messages"]] == [
        ("user", "hi", "complete"),
        ("assistant", expected_answer("hi"), "complete"),
    ]
    assert created["id"] in chatctl(cli_env, "conversations").stdout  # and as text
    assert "ai> " + expected_answer("hi") in chatctl(cli_env, "history", created["id"]).stdout

    # when: signed out
    assert json.loads(chatctl(cli_env, "signout", "--json").stdout)["session_ended"] is True
    # then
    assert not tokens_file(cli_env).exists()
    result = chatctl(cli_env, "conversations", check=False)
    assert result.returncode == 2 and "run `chatctl signin`" in result.stderr


def test_an_expired_access_token_is_refreshed_and_an_ended_session_says_sign_in(cli_env, stack):
    # given: the stored access token has expired
    signed_up(cli_env)
    stored = json.loads(tokens_file(cli_env).read_text())
    stored["tokens"]["access_expires_at"] = "2000-01-01T00:00:00Z"
    tokens_file(cli_env).write_text(json.dumps(stored))
    # when
    chatctl(cli_env, "conversations", "--json")
    # then: a new pair was fetched and kept
    renewed = json.loads(tokens_file(cli_env).read_text())["tokens"]
    assert renewed["refresh_token"] != stored["tokens"]["refresh_token"]
    # given: the old (spent) refresh token comes back: the auth service ends the whole session
    tokens_file(cli_env).write_text(json.dumps(stored))
    # when
    result = chatctl(cli_env, "conversations", check=False)
    # then
    assert result.returncode == 2
    assert "your session has expired or was ended: run `chatctl signin`" in result.stderr


def test_regenerate_edit_and_branch_from_the_command_line(cli_env, stack):
    # given: a conversation with one exchange, made with chatctl's stored token
    signed_up(cli_env)
    import urllib.request

    access = json.loads(tokens_file(cli_env).read_text())["tokens"]["access_token"]
    auth = {"Authorization": f"Bearer {access}", "Content-Type": "application/json"}
    first = json.load(
        urllib.request.urlopen(
            urllib.request.Request(f"{stack.chat_url}/v1/chat/ai", data=b'{"message": "hi"}', headers=auth)
        )
    )
    conversation_id = first["conversation_id"]
    asked, answered = json.loads(chatctl(cli_env, "history", conversation_id, "--json").stdout)["messages"]
    # when: the reply is regenerated
    regenerated = json.loads(chatctl(cli_env, "regenerate", answered["id"], "--json").stdout)["assistant_message"]
    # then: a second reply sits beside the first
    assert regenerated["sibling_ids"] == [answered["id"], regenerated["id"]]
    assert regenerated["content"] == expected_answer("hi")
    # when: the question is edited (as text)
    out = chatctl(cli_env, "edit", asked["id"], "hello instead").stdout
    # then: the new question and its reply are printed, marked as the second at their place
    assert "you> (2/2) hello instead" in out and "ai> " + expected_answer("hello instead") in out
    # when: the first branch is chosen again
    chosen = json.loads(chatctl(cli_env, "branch", conversation_id, asked["id"], "--json").stdout)
    # then: it ends at the newest reply below the first question, and history shows it with ids
    assert chosen == {"conversation_id": conversation_id, "leaf_message_id": regenerated["id"]}
    shown = chatctl(cli_env, "history", conversation_id, "--ids").stdout
    assert f"you> [{asked['id']}] (1/2) hi" in shown
    assert f"ai> [{regenerated['id']}] (2/2) " + expected_answer("hi") in shown
    # and a mistake is said plainly
    result = chatctl(cli_env, "regenerate", asked["id"], check=False)
    assert result.returncode == 1 and "Only a reply (an assistant message) can be regenerated" in result.stderr


def test_clear_errors_and_help(cli_env):
    down = f"http://127.0.0.1:{free_port()}"
    result = chatctl(cli_env, "--auth-url", down, "signin", "--email", "a@example.com", "--password", "x", check=False)
    assert result.returncode == 1 and f"cannot reach the auth service at {down}" in result.stderr
    result = chatctl(cli_env, "signin", "--email", new_email(), "--password", "wrong-password", check=False)
    assert result.returncode == 1 and "wrong email or password" in result.stderr
    for command in ("signup", "signin", "signout", "conversations", "history", "chat", "regenerate", "edit", "branch"):
        assert "--help" in chatctl(cli_env, command, "--help").stdout


# ---- the interactive prompt, in a real terminal ------------------------------------------------------


class Terminal:
    """A tmux session of its own (private server socket) running one command."""

    def __init__(self, tmux: str, tmp: Path) -> None:
        self.tmux = tmux
        self.tmp = tmp
        self.server = f"chatctl-test-{uuid.uuid4().hex[:8]}"

    def _run(self, *args: str) -> str:
        return subprocess.run(
            [self.tmux, "-L", self.server, *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout

    def start(self, env: dict[str, str], command: list[str]) -> None:
        script = self.tmp / "run.sh"
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items() if k.isidentifier())
        script.write_text(
            f'{exports}cd {shlex.quote(str(ROOT))}\n{shlex.join(command)}\necho "CHATCTL-EXITED $?"\nsleep 60\n'
        )
        self._run("-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", "200", "-y", "50", f"bash {script}")

    def keys(self, *keys: str) -> None:
        self._run("send-keys", "-t", "main", *keys)

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-J", "-t", "main", "-S", "-300")

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on the terminal within {timeout} s:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.server, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def terminal(tmp_path):
    term = Terminal(require_tool("tmux", "the interactive prompt is driven through tmux"), tmp_path)
    yield term
    term.close()


def test_chat_streams_replies_and_ctrl_c_cancels_the_reply_not_the_program(cli_env, terminal):
    # given
    signed_up(cli_env)
    terminal.start(cli_env, [sys.executable, "-m", "chatctl", "chat"])
    terminal.wait_for("you> ")
    # when: a message
    terminal.keys("hello there", "Enter")
    # then: the reply streams in and the prompt comes back
    terminal.wait_for("ai> " + expected_answer("hello there") + "\nyou> ")
    # when: a long reply, interrupted mid-way
    terminal.keys(LONG, "Enter")
    terminal.wait_for("ai> You said: word0")
    terminal.keys("C-c")
    # then: the reply is cancelled, the program goes on
    screen = terminal.wait_for("[reply cancelled]\nyou> ")
    assert "CHATCTL-EXITED" not in screen
    listing = json.loads(chatctl(cli_env, "conversations", "--json").stdout)
    assert listing["total"] == 1
    messages = json.loads(chatctl(cli_env, "history", listing["conversations"][0]["id"], "--json").stdout)["messages"]
    assert [m["status"] for m in messages] == ["complete", "complete", "complete", "cancelled"]
    assert expected_answer(LONG, 2).startswith(messages[-1]["content"]) and messages[-1]["content"]
    # when: Ctrl-C twice at an empty prompt
    terminal.keys("C-c")
    terminal.wait_for("(Ctrl-C again or Ctrl-D to exit)")
    terminal.keys("C-c")
    # then
    terminal.wait_for("CHATCTL-EXITED 0")


def test_chat_over_grpc_continues_a_conversation_and_ctrl_d_exits(cli_env, terminal):
    # given: a conversation with one exchange
    signed_up(cli_env)
    terminal.start(cli_env, [sys.executable, "-m", "chatctl", "chat", "--grpc"])
    terminal.wait_for("you> ")
    terminal.keys("first", "Enter")
    terminal.wait_for("ai> " + expected_answer("first") + "\nyou> ")
    # when: a second turn, then Ctrl-D
    terminal.keys("second", "Enter")
    terminal.wait_for("ai> " + expected_answer("second", 2) + "\nyou> ")
    terminal.keys("C-d")
    # then
    terminal.wait_for("CHATCTL-EXITED 0")
    listing = json.loads(chatctl(cli_env, "conversations", "--json").stdout)
    assert listing["total"] == 1
