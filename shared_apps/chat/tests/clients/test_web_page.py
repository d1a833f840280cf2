"""The web chat page (/app/) in a real headless Chromium against the real stack.

Needs Debian's Chromium at /usr/bin/chromium (``.ci/run`` installs it); never a browser build
downloaded by Playwright.

The Markdown and model tests run against a second front door on the same databases
(``testkit.stack.stack_front_start``) whose chat process talks to ``testkit.fake_openai``, so a test
scripts exactly what the model answers and sees which model it was asked for.

The first test saves a screenshot of the page to var/screenshots/chat-page.png (var/ is gitignored,
so a test run leaves the work tree clean); to refresh the README's picture, copy it over
docs/screenshots/chat-page.png and commit that on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyotp
import pytest

from testkit.fake_openai import FakeOpenAIServer, reply
from testkit.stack import PASSWORD, ROOT, new_email, stack_front_start, stack_stop

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOT = ROOT / "var" / "screenshots" / "chat-page.png"  # never under docs/: tracked files stay as they are
LONG = " ".join(f"word{i}" for i in range(30))  # a reply of ~45 words: several seconds
VENDOR = ROOT / "shared_apps" / "chat" / "static" / "chat" / "vendor"


def expected_answer(content: str, turn: int = 1) -> str:
    return (
        f"You said: {content.strip()} (local-echo, turn {turn}; set OPENAI_API_KEY or OPENAI_BASE_URL for a real model)"
    )


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser):
    # A phone-sized screen: the page must be usable there.
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"pageerror: {error}"))
    page.on("console", lambda m: page.problems.append(m.text) if "Content Security Policy" in m.text else None)
    return context, page


@pytest.fixture
def page(browser, stack):
    context, page = open_page(browser)
    yield page
    context.close()
    stack.check_alive()


@pytest.fixture(scope="module")
def upstream_server():
    with FakeOpenAIServer(delta_count=8, delta_interval=0.02) as server:
        yield server


@pytest.fixture(scope="module")
def front(stack, upstream_server, tmp_path_factory):
    """The stack's databases behind a chat process whose model is the fake upstream, offering
    two models (``fake-a``, the default, and ``fake-b``)."""
    running = stack_front_start(
        stack,
        tmp_path_factory.mktemp("front"),
        CHAT_PROVIDER="openai",
        OPENAI_BASE_URL=upstream_server.base_url,
        OPENAI_API_KEY="sk-test",
        OPENAI_MAX_RETRIES="0",
        CHAT_MODEL="fake-a",
        CHAT_ALLOWED_MODELS="fake-a,fake-b",
    )
    yield running
    stack_stop(running)


@pytest.fixture
def upstream(upstream_server):
    upstream_server.reset()
    yield upstream_server
    upstream_server.reset()


@pytest.fixture
def front_page(browser, front):
    context, page = open_page(browser)
    yield page
    context.close()
    front.check_alive()


def sign_up(page, stack) -> str:
    email = new_email()
    response = page.goto(stack.page_url)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.get_by_label("Name").fill("Ada")
    page.locator("#signup-form").get_by_label("Email").fill(email)
    page.get_by_label("Password (8 characters or more)").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_text(email).wait_for()
    return email


def send(page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def last_reply(page):
    return page.locator("#messages .message.assistant").last


def wait_status(page, status: str, timeout: float = 20_000) -> None:
    last_reply(page).and_(page.locator(f"[data-status='{status}']")).wait_for(timeout=timeout)


def wait_words(page, count: int) -> None:
    page.wait_for_function(
        "n => { const r = [...document.querySelectorAll('#messages .message.assistant')].pop();"
        " return r && r.dataset.status === 'streaming'"
        " && r.querySelector('.text').textContent.split(' ').length >= n }",
        arg=count,
    )


def reply_text(page) -> str:
    return last_reply(page).locator(".text").text_content()


def stored_messages(stack, email: str) -> list[dict]:
    request = urllib.request.Request(
        f"{stack.auth_url}/v1/auth/signin",
        data=json.dumps({"email": email, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    access = json.load(urllib.request.urlopen(request))["tokens"]["access_token"]
    auth = {"Authorization": f"Bearer {access}"}
    listing = urllib.request.Request(f"{stack.chat_url}/v1/chat/conversations", headers=auth)
    conversation = json.load(urllib.request.urlopen(listing))["conversations"][0]
    history = urllib.request.Request(
        f"{stack.chat_url}/v1/chat/conversations/{conversation['id']}/messages", headers=auth
    )
    return json.load(urllib.request.urlopen(history))["messages"]


def test_the_screenshot_is_saved_where_git_ignores_it():
    # A test run must not rewrite tracked files (it used to overwrite docs/screenshots/chat-page.png).
    relative = SCREENSHOT.relative_to(ROOT)
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=ROOT, capture_output=True, check=False)
    if inside.returncode != 0:
        pytest.skip("not a git work tree")
    ignored = subprocess.run(["git", "check-ignore", "-q", str(relative)], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"{relative} is not gitignored"
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", str(relative)], cwd=ROOT, capture_output=True)
    assert tracked.returncode != 0, f"{relative} is tracked"


def test_sign_up_send_and_watch_the_reply_stream_in(page, stack):
    # given
    sign_up(page, stack)
    box = page.get_by_label("Message", exact=True)
    box.fill("line one")
    box.press("Shift+Enter")
    box.press_sequentially("line two")
    assert box.input_value() == "line one\nline two"  # Shift+Enter is a newline, not a send
    # when
    box.press("Enter")
    # then: it streams (partial text while streaming), then completes with exactly the answer
    wait_words(page, 3)
    assert page.get_by_role("button", name="Stop reply").is_enabled()
    wait_status(page, "complete")
    assert reply_text(page) == expected_answer("line one\nline two")
    assert page.get_by_role("log", name="Messages").get_attribute("aria-live") == "polite"
    page.get_by_role("navigation", name="Conversations").get_by_role("listitem").get_by_role("button").first.wait_for()
    assert page.get_by_role("button", name="Send").is_enabled()
    assert page.locator("#auth-view").is_hidden()
    page.set_viewport_size({"width": 1000, "height": 640})
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.read_bytes().startswith(b"\x89PNG")
    assert page.problems == []


def test_reload_mid_reply_then_sign_in_and_see_it_complete(page, stack):
    # given: a long reply under way
    email = sign_up(page, stack)
    send(page, LONG)
    wait_words(page, 4)
    # when: the page reloads (tokens were in memory only: sign in again) and opens the conversation
    page.reload()
    page.locator("#signin-form").get_by_label("Email").fill(email)
    page.locator("#signin-form").get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Conversations").get_by_role("listitem").get_by_role("button").first.click()
    # then: the reply was still being written, and it completes with no gap and no repeat
    last_reply(page).wait_for()
    assert last_reply(page).get_attribute("data-status") == "streaming"
    wait_status(page, "complete")
    assert reply_text(page) == expected_answer(LONG)
    assert page.locator("#messages .message").count() == 2
    assert page.problems == []


def test_a_dropped_socket_reconnects_and_resumes_without_gap_or_repeat(page, stack):
    # given: the first socket is cut after three deltas (Playwright sits between page and server)
    dropped = []

    def route(ws):
        server = ws.connect_to_server()
        seen = []

        def from_server(message):
            ws.send(message)
            if not dropped and '"type":"delta"' in str(message):
                seen.append(message)
                if len(seen) == 3:
                    dropped.append(True)
                    ws.close(code=4000, reason="test: connection dropped")
                    server.close()

        server.on_message(from_server)

    page.route_web_socket(re.compile(r".*/ws/chat/$"), route)
    sign_up(page, stack)
    # when
    send(page, LONG)
    # then
    wait_status(page, "complete", timeout=30_000)
    assert dropped
    assert reply_text(page) == expected_answer(LONG)
    assert page.problems == []


def test_stop_a_reply(page, stack):
    # given
    email = sign_up(page, stack)
    send(page, LONG)
    wait_words(page, 3)
    # when
    page.get_by_role("button", name="Stop reply").click()
    # then
    wait_status(page, "cancelled")
    assert "Stopped." in last_reply(page).text_content()
    shown = reply_text(page)
    assert expected_answer(LONG).startswith(shown) and shown != expected_answer(LONG)
    reply = stored_messages(stack, email)[-1]
    assert reply["role"] == "assistant" and reply["status"] == "cancelled" and reply["content"] == shown


def test_markup_in_a_message_is_shown_as_text_and_never_runs(page, stack):
    # given
    sign_up(page, stack)
    payload = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    # when
    send(page, payload)
    wait_status(page, "complete")
    # then
    assert page.locator("#messages .message.user .text").text_content() == payload
    assert reply_text(page) == expected_answer(payload)
    assert page.locator("#messages script, #messages img").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_rename_and_delete_a_conversation(page, stack):
    # given
    sign_up(page, stack)
    send(page, "hi")
    wait_status(page, "complete")
    # when: renamed
    page.get_by_role("button", name="Rename").click()
    page.get_by_label("Conversation title").fill("Trip <plans>")
    page.get_by_role("button", name="Save title").click()
    # then
    page.get_by_role("heading", name="Trip <plans>").wait_for()
    page.get_by_role("navigation", name="Conversations").get_by_role("button", name="Trip <plans>").wait_for()
    # when: deleted
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    # then
    page.get_by_role("heading", name="New conversation").wait_for()
    page.locator("#conversation-list li").first.wait_for(state="detached")
    assert page.locator("#messages .message").count() == 0


def test_a_session_revoked_elsewhere_is_said_in_words_and_asks_to_sign_in(page, stack):
    # given: signed in (the test reads the tokens off the wire; the page keeps them in memory)
    with page.expect_response(lambda r: r.url.endswith("/v1/auth/signup")) as signup, page.expect_websocket():
        sign_up(page, stack)
    access = signup.value.json()["tokens"]["access_token"]
    # when: the session is revoked (another device, an admin)
    request = urllib.request.Request(
        f"{stack.auth_url}/v1/auth/revoke",
        data=json.dumps({"access_token": access}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request)
    # then: the socket is closed (4401), the refresh fails, and the page says so
    page.get_by_role("alert").get_by_text("Your session has ended").wait_for()
    assert page.locator("#auth-view").is_visible() and page.locator("#chat-view").is_hidden()


def test_a_title_frame_renames_the_conversation_in_the_list_and_heading(page, stack):
    # given: the page's socket runs through Playwright, which can add frames of its own
    sockets = []

    def route(ws):
        server = ws.connect_to_server()
        server.on_message(ws.send)
        sockets.append(ws)

    page.route_web_socket(re.compile(r".*/ws/chat/$"), route)
    sign_up(page, stack)
    send(page, "plan a trip")
    wait_status(page, "complete")
    conversations = page.get_by_role("navigation", name="Conversations")
    conversations.get_by_role("button", name="plan a trip").wait_for()
    conversation_id = page.locator("#conversation-list button").first.get_attribute("data-id")
    # when: the service names the conversation (the frame the server will push)
    title = {"type": "title", "conversation_id": conversation_id, "title": "Trip to <Lisbon>"}
    sockets[-1].send(json.dumps(title))
    # then
    page.get_by_role("heading", name="Trip to <Lisbon>").wait_for()
    conversations.get_by_role("button", name="Trip to <Lisbon>").wait_for()
    assert page.locator("#conversation-list button").all_text_contents() == ["Trip to <Lisbon>"]
    # and a title for a conversation the page does not know makes it list the conversations again
    with page.expect_response(lambda r: "/v1/chat/conversations?" in r.url):
        sockets[-1].send(json.dumps({**title, "conversation_id": "00000000-0000-4000-8000-000000000000"}))
    assert page.problems == []


# ---- against the fake upstream: models and Markdown ------------------------------------------------


def test_the_vendored_renderer_is_the_one_recorded(front):
    # bin/vendor-markdown-it copies the published file unchanged and records its digest
    recorded = dict(line.split(" ", 1) for line in (VENDOR / "VERSION").read_text().splitlines())
    script = (VENDOR / "markdown-it.umd.min.js").read_bytes()
    assert hashlib.sha256(script).hexdigest() == recorded["sha256"]
    assert "MIT" in (VENDOR / "markdown-it.LICENSE").read_text()
    # it is served from the page's own origin (script-src 'self')
    with urllib.request.urlopen(f"{front.chat_url}/app/assets/vendor/markdown-it.umd.min.js") as response:
        assert response.read() == script
        assert "javascript" in response.headers["Content-Type"]


def test_models_are_offered_and_the_chosen_one_is_asked_for(front_page, front, upstream):
    # given
    page = front_page
    sign_up(page, front)
    picker = page.get_by_label("Model")
    picker.locator("option[value='fake-b']").wait_for(state="attached")
    assert picker.input_value() == "fake-a"  # the default, preselected
    assert [o.get_attribute("value") for o in picker.locator("option").all()] == ["fake-a", "fake-b"]
    # when: the default
    upstream.enqueue(reply("first", delta_count=1))
    send(page, "one")
    wait_status(page, "complete")
    # then
    assert upstream.chat_requests[-1].json["model"] == "fake-a"
    # when: another model chosen
    picker.select_option("fake-b")
    upstream.enqueue(reply("second", delta_count=1))
    send(page, "two")
    page.locator("#messages .message.assistant[data-status='complete']").nth(1).wait_for()
    # then
    assert upstream.chat_requests[-1].json["model"] == "fake-b"
    assert reply_text(page) == "second"
    assert page.problems == []


MARKDOWN = (
    "Here is a plan:\n\n"
    "- pack *light*\n"
    "- take `sunscreen`\n\n"
    "See [the guide](https://example.com/guide?a=1&b=2).\n\n"
    "```python\n"
    "print('<b>hi</b>')\n"
    "```\n"
)


def test_a_reply_is_rendered_as_markdown_while_it_streams(front_page, front, upstream):
    # given: the list arrives first, the rest slowly
    page = front_page
    sign_up(page, front)
    rest = MARKDOWN.split("\n\n", 1)[1]
    upstream.enqueue(
        reply(["Here is a plan:\n\n", *[rest[i : i + 4] for i in range(0, len(rest), 4)]], delta_interval=0.1)
    )
    # when
    send(page, "how do I travel?")
    # then: the list is a list while the reply is still being written
    page.wait_for_function(
        "() => { const r = [...document.querySelectorAll('#messages .message.assistant')].pop();"
        " return r && r.dataset.status === 'streaming' && r.querySelectorAll('.text ul > li').length >= 1 }"
    )
    wait_status(page, "complete")
    text = last_reply(page).locator(".text")
    assert text.locator("ul > li").all_text_contents() == ["pack light", "take sunscreen"]
    assert text.locator("li em").text_content() == "light"
    assert text.locator("li code").text_content() == "sunscreen"
    link = text.locator("a")
    assert link.count() == 1
    assert link.get_attribute("href") == "https://example.com/guide?a=1&b=2"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert link.get_attribute("target") == "_blank"
    assert text.locator("pre > code").text_content() == "print('<b>hi</b>')\n"
    assert text.locator("b").count() == 0
    # user messages stay plain text
    assert page.locator("#messages .message.user .text").text_content() == "how do I travel?"
    assert page.locator("#messages .message.user .text *").count() == 0
    assert page.problems == []


def test_markup_from_the_model_never_becomes_markup_or_runs(front_page, front, upstream):
    # given: a model answering with script, an image with a handler and a javascript: link
    page = front_page
    response = page.goto(front.page_url)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    sign_up(page, front)
    hostile = (
        "<script>window.__pwned=1</script>\n\n"
        '<img src=x onerror="window.__pwned=2">\n\n'
        "[x](javascript:window.__pwned=3) and ![y](javascript:window.__pwned=4)\n\n"
        '<a href="javascript:window.__pwned=5">z</a> [w](JaVaScRiPt:window.__pwned=6)'
    )
    upstream.enqueue(reply(hostile, delta_count=12))
    # when
    send(page, "be evil")
    wait_status(page, "complete")
    # then: nothing ran, and the reply made no script, image or javascript: link
    text = last_reply(page).locator(".text")
    assert "<script>window.__pwned=1</script>" in text.text_content()
    assert '<img src=x onerror="window.__pwned=2">' in text.text_content()
    assert page.locator("#messages script, #messages img, #messages [onerror]").count() == 0
    assert (
        page.locator("#messages a[href]").evaluate_all(
            "links => links.filter(a => !/^https?:|^mailto:/i.test(a.getAttribute('href'))).length"
        )
        == 0
    )
    assert page.locator("#messages a").count() == 0
    page.wait_for_timeout(300)  # an image's onerror would have fired by now
    assert page.evaluate("window.__pwned") is None
    assert page.problems == []


def test_branch_controls_follow_the_messages_siblings(page, stack):
    # given: a reply with one version: Regenerate, no arrows; the user message shows nothing
    sign_up(page, stack)
    send(page, "hi")
    wait_status(page, "complete")
    last_reply(page).get_by_role("button", name="Regenerate").wait_for()
    assert page.locator("#messages .branch-nav").count() == 0
    assert page.locator("#messages .message.user .branch").count() == 0
    # when: the history says the reply has an older sibling (the requests the buttons make are
    # answered here, so the test pins what the page sends)
    older = "00000000-0000-4000-8000-0000000000aa"
    calls = []

    def with_siblings(route):
        body = route.fetch().json()
        for message in body["messages"]:
            message["parent_id"] = None
            message["sibling_ids"] = [older, message["id"]] if message["role"] == "assistant" else [message["id"]]
        route.fulfill(json=body)

    def branch_call(route):
        calls.append((route.request.method, route.request.url.split("/v1/chat/")[1], route.request.post_data_json))
        route.fulfill(json={})

    page.route(re.compile(r".*/v1/chat/conversations/[^/]+/messages\?.*"), with_siblings)
    page.route(re.compile(r".*/v1/chat/(conversations/[^/]+/branch|messages/[^/]+/regenerate)$"), branch_call)
    page.locator("#conversation-list button").first.click()
    # then
    reply = last_reply(page)
    reply.get_by_text("2 / 2").wait_for()
    assert reply.get_by_role("button", name="Previous version").is_enabled()
    assert reply.get_by_role("button", name="Next version").is_disabled()
    assert page.locator("#messages .message.user .branch").count() == 0  # one version: nothing to show
    # when: the older version, then another answer
    reply_id = reply.get_attribute("data-id")
    conversation_id = page.locator("#conversation-list button").first.get_attribute("data-id")
    history = re.compile(r".*/v1/chat/conversations/[^/]+/messages\?.*")
    with page.expect_response(history):  # the conversation shown again, as the branch now is
        reply.get_by_role("button", name="Previous version").click()
    with page.expect_response(history):
        last_reply(page).get_by_role("button", name="Regenerate").click()
    # then
    last_reply(page).get_by_role("button", name="Regenerate").wait_for()
    assert page.get_by_role("button", name="Send").is_enabled()
    assert calls == [
        ("PUT", f"conversations/{conversation_id}/branch", {"leaf_message_id": older}),
        ("POST", f"messages/{reply_id}/regenerate", {}),
    ]
    assert page.problems == []


# ---- the account panel: sessions, password, two-factor ---------------------------------------------


def auth_call(stack, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{stack.auth_url}/v1/auth/{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else {}


def open_account(page):
    page.get_by_role("button", name="Account", exact=True).click()
    page.get_by_role("heading", name="Account", exact=True).wait_for()


def sign_in_on_page(page, email: str, password: str = PASSWORD) -> None:
    page.locator("#signin-form").get_by_label("Email").fill(email)
    page.locator("#signin-form").get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_the_account_panel_lists_sessions_and_ends_them(page, stack):
    # given: two sessions, one through the API (another device), one on the page
    email = sign_up(page, stack)
    status, other = auth_call(stack, "POST", "signin", {"email": email, "password": PASSWORD})
    assert status == 200
    other_access = other["tokens"]["access_token"]
    # when
    open_account(page)
    # then: both listed, this one marked
    sessions = page.locator("#session-list li")
    sessions.nth(1).wait_for()
    assert sessions.count() == 2
    current = page.locator("#session-list li[data-current='true']")
    assert current.count() == 1
    assert "(this session)" in current.text_content()
    elsewhere = page.locator("#session-list li[data-current='false']")
    assert "Python-urllib" in elsewhere.text_content()
    assert "Signed in" in elsewhere.text_content() and "last used" in elsewhere.text_content()
    # when: the other one is ended
    elsewhere.get_by_role("button").click()
    # then: gone from the list, and the auth service refuses its token
    elsewhere.wait_for(state="detached")
    assert sessions.count() == 1 and current.count() == 1
    assert auth_call(stack, "GET", "sessions", token=other_access)[0] == 401
    # when: this one is ended: the page is signed out
    current.get_by_role("button", name="End this session").click()
    page.locator("#auth-view").wait_for()
    assert page.locator("#chat-view").is_hidden() and page.locator("#account").is_hidden()
    assert page.get_by_role("button", name="Account").count() == 0
    assert page.problems == []


def test_the_account_panel_changes_the_password(page, stack):
    # given
    email = sign_up(page, stack)
    open_account(page)
    new_password = "a brand new horse 42"
    # when: a wrong current password
    page.get_by_label("Current password").fill("not the password")
    page.get_by_label("New password (at least 8 characters)").fill(new_password)
    page.get_by_role("button", name="Change password").click()
    # then: the API's message is shown, and nothing changed
    page.get_by_role("alert").get_by_text("current_password").wait_for()
    assert auth_call(stack, "POST", "signin", {"email": email, "password": PASSWORD})[0] == 200
    # when: the right one
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password (at least 8 characters)").fill(new_password)
    page.get_by_role("button", name="Change password").click()
    # then
    page.get_by_role("status").get_by_text("Password changed").wait_for()
    assert page.get_by_role("alert").is_hidden()
    assert auth_call(stack, "POST", "signin", {"email": email, "password": new_password})[0] == 200
    assert auth_call(stack, "POST", "signin", {"email": email, "password": PASSWORD})[0] == 401
    assert page.problems == []


def test_two_factor_turned_on_in_the_panel_then_a_sign_in_asks_for_a_code(page, stack):
    # given
    email = sign_up(page, stack)
    open_account(page)
    state = page.locator("#mfa-state")
    assert state.text_content() == "Two-factor sign-in is off."
    # when: turned on with a code from the shown secret
    page.get_by_role("button", name="Turn on two-factor").click()
    secret_box = page.get_by_label("Secret key")
    secret_box.wait_for()
    page.wait_for_function("() => document.getElementById('mfa-secret').value !== ''")
    secret = secret_box.input_value()
    assert page.get_by_label("Setup link (otpauth)").input_value().startswith("otpauth://totp/")
    assert f"secret={secret}" in page.get_by_label("Setup link (otpauth)").input_value()
    totp = pyotp.TOTP(secret)
    confirmed_at = time.time()
    page.get_by_label("Code from the app").fill(totp.at(confirmed_at))
    page.get_by_role("button", name="Confirm code").click()
    # then: on, and the ten recovery codes shown once
    page.locator("#mfa-recovery-codes li").nth(9).wait_for()
    assert page.locator("#mfa-recovery-codes li").count() == 10
    assert state.text_content() == "Two-factor sign-in is on."
    status, body = auth_call(stack, "POST", "signin", {"email": email, "password": PASSWORD})
    assert status == 200 and body["mfa_required"] is True and "tokens" not in body
    # when: signed out, then in on the page: the second step asks for a code
    page.get_by_role("button", name="Sign out").click()
    sign_in_on_page(page, email)
    code_box = page.get_by_label("Code from your authenticator app (or a recovery code)")
    code_box.wait_for()
    assert page.locator("#signin-form").is_hidden()
    # a wrong code is said in words and the step stays
    code_box.fill("000000" if totp.at(confirmed_at + 30) != "000000" else "111111")
    page.get_by_role("button", name="Verify code").click()
    page.get_by_role("alert").get_by_text("That code did not work").wait_for()
    assert page.locator("#auth-view").is_visible()
    # a fresh code (the next step's: the one used to confirm works only once) signs in
    code_box.fill(totp.at(confirmed_at + 30))
    page.get_by_role("button", name="Verify code").click()
    page.get_by_text(email).wait_for()
    assert page.locator("#chat-view").is_visible()
    # the panel knows it is on, and turns it off with the password (a wrong one is refused)
    open_account(page)
    assert state.text_content() == "Two-factor sign-in is on."
    page.get_by_label("Your password, to turn two-factor off").fill("not the password")
    page.get_by_role("button", name="Turn off two-factor").click()
    page.get_by_role("alert").get_by_text("password").wait_for()
    assert state.text_content() == "Two-factor sign-in is on."
    page.get_by_label("Your password, to turn two-factor off").fill(PASSWORD)
    page.get_by_role("button", name="Turn off two-factor").click()
    page.wait_for_function("() => document.getElementById('mfa-state').dataset.state === 'off'")
    status, body = auth_call(stack, "POST", "signin", {"email": email, "password": PASSWORD})
    assert status == 200 and "tokens" in body
    assert page.problems == []
