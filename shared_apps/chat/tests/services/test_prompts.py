"""What the model is sent: the system prompt, the newest earlier turns that fit the context
budget (CHAT_CONTEXT_TOKENS less the reply's reserve), then the new message."""

from __future__ import annotations

import pytest

from shared_apps.chat.models import Conversation, Message
from shared_apps.chat.prompts import estimate_tokens, prompt_build
from shared_apps.chat.providers.base import PromptMessage
from shared_apps.chat.selectors import branch_leaf
from shared_apps.chat.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

RESERVE = 100
NEW = "And what about Spain?"


def sent(prompt: list[PromptMessage]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in prompt]


def leaf(conversation: Conversation):
    return branch_leaf(conversation=conversation)


def turn(conversation: Conversation, question: str, answer: str) -> tuple[Message, Message]:
    asked = MessageFactory(conversation=conversation, content=question)
    return asked, MessageFactory(conversation=conversation, assistant=True, parent=asked, content=answer)


@pytest.fixture
def two_turns(conversation) -> list[Message]:
    """Four earlier messages of 40 characters each (14 estimated tokens apiece)."""
    return [
        *turn(conversation, "Q1: What is the capital of France? ....", "A1: Paris is the capital of France. ...."),
        *turn(conversation, "Q2: What is the capital of Italy? .....", "A2: Rome is the capital of Italy. ......"),
    ]


def test_a_history_that_fits_is_sent_whole_in_order_with_the_new_message_last(conversation, two_turns):
    # given a conversation of two turns, well within the budget
    # when
    prompt = prompt_build(conversation=conversation, new_content=NEW, reserve=RESERVE, parent_id=leaf(conversation))
    # then the model sees every earlier turn, oldest first, then the new message
    assert sent(prompt) == [*((m.role, m.content) for m in two_turns), ("user", NEW)]


def test_the_oldest_turn_is_dropped_when_the_budget_is_exceeded_and_the_newest_kept(conversation, two_turns, settings):
    # given a budget with room for exactly the newest earlier turn
    q1, a1, q2, a2 = two_turns
    settings.CHAT_CONTEXT_TOKENS = (
        RESERVE + estimate_tokens(NEW) + estimate_tokens(q2.content) + estimate_tokens(a2.content)
    )
    # when
    prompt = prompt_build(conversation=conversation, new_content=NEW, reserve=RESERVE, parent_id=leaf(conversation))
    # then the newest earlier turn is sent, the oldest is not
    assert sent(prompt) == [("user", q2.content), ("assistant", a2.content), ("user", NEW)]


def test_the_reserve_for_the_reply_shrinks_the_budget(conversation, two_turns, settings):
    # given the budget of the previous test, with one token more reserved for the reply
    _q1, _a1, q2, a2 = two_turns
    settings.CHAT_CONTEXT_TOKENS = (
        RESERVE + estimate_tokens(NEW) + estimate_tokens(q2.content) + estimate_tokens(a2.content)
    )
    # when
    prompt = prompt_build(conversation=conversation, new_content=NEW, reserve=RESERVE + 1, parent_id=leaf(conversation))
    # then the newest question no longer fits: only the last answer goes with the new message
    assert sent(prompt) == [("assistant", a2.content), ("user", NEW)]


def test_the_history_is_the_newest_messages_without_holes(conversation, settings):
    # given a long earlier answer between two short messages, and room for the short ones only
    short_old = MessageFactory(conversation=conversation, content="hi")
    MessageFactory(conversation=conversation, assistant=True, parent=short_old, content="x" * 400)
    short_new = MessageFactory(conversation=conversation, content="ok")
    settings.CHAT_CONTEXT_TOKENS = RESERVE + estimate_tokens(NEW) + 2 * estimate_tokens("hi")
    # when
    prompt = prompt_build(conversation=conversation, new_content=NEW, reserve=RESERVE, parent_id=leaf(conversation))
    # then the history stops at the answer that does not fit: no older message skips past it
    assert sent(prompt) == [("user", short_new.content), ("user", NEW)]


def test_the_system_prompt_of_the_conversation_overrides_the_default_and_comes_first(db, settings):
    # given
    settings.CHAT_SYSTEM_PROMPT = "You are a helpful assistant."
    conversation = ConversationFactory(system_prompt="You are a pirate.")
    asked, answered = turn(conversation, "Hello", "Ahoy")
    # when
    prompt = prompt_build(conversation=conversation, new_content=NEW, reserve=RESERVE, parent_id=leaf(conversation))
    # then
    assert sent(prompt) == [
        ("system", "You are a pirate."),
        ("user", asked.content),
        ("assistant", answered.content),
        ("user", NEW),
    ]


def test_the_default_system_prompt_is_sent_when_the_conversation_has_none(conversation, settings):
    # given
    settings.CHAT_SYSTEM_PROMPT = "You are a helpful assistant."
    # when
    prompt = prompt_build(conversation=conversation, new_content=NEW, reserve=RESERVE, parent_id=leaf(conversation))
    # then
    assert sent(prompt) == [("system", "You are a helpful assistant."), ("user", NEW)]


def test_without_any_system_prompt_no_system_message_is_sent(conversation):
    # when
    prompt = prompt_build(conversation=conversation, new_content=NEW, reserve=RESERVE, parent_id=leaf(conversation))
    # then
    assert sent(prompt) == [("user", NEW)]


def test_the_system_prompt_is_paid_for_out_of_the_history_budget(conversation, two_turns, settings):
    # given room for the newest turn, but a system prompt that takes some of it
    _q1, _a1, q2, a2 = two_turns
    settings.CHAT_CONTEXT_TOKENS = (
        RESERVE + estimate_tokens(NEW) + estimate_tokens(q2.content) + estimate_tokens(a2.content)
    )
    settings.CHAT_SYSTEM_PROMPT = "Be brief."
    # when
    prompt = prompt_build(conversation=conversation, new_content=NEW, reserve=RESERVE, parent_id=leaf(conversation))
    # then only the last answer still fits beside the system prompt
    assert sent(prompt) == [("system", "Be brief."), ("assistant", a2.content), ("user", NEW)]


def test_an_empty_reply_in_flight_is_not_sent(conversation):
    # given an answered turn, then a question whose reply is being produced (empty so far)
    asked, answered = turn(conversation, "First question", "First answer")
    pending = MessageFactory(conversation=conversation, content="Second question")
    MessageFactory(conversation=conversation, streaming=True, parent=pending)
    # when
    prompt = prompt_build(conversation=conversation, new_content=NEW, reserve=RESERVE, parent_id=leaf(conversation))
    # then the model never sees an empty assistant message
    assert sent(prompt) == [
        ("user", asked.content),
        ("assistant", answered.content),
        ("user", pending.content),
        ("user", NEW),
    ]


def test_the_new_message_is_last_even_when_it_alone_exceeds_the_budget(conversation, two_turns, settings):
    # given a new message bigger than the whole budget
    settings.CHAT_CONTEXT_TOKENS = 300
    huge = "word " * 2000
    # when
    prompt = prompt_build(conversation=conversation, new_content=huge, reserve=RESERVE, parent_id=leaf(conversation))
    # then it is sent alone, and last: no history is squeezed in
    assert sent(prompt) == [("user", huge)]


def test_without_history_only_the_new_message_is_sent(conversation, two_turns):
    # when (the first message of a conversation has no parent, so no earlier turns)
    prompt = prompt_build(conversation=conversation, new_content=NEW, reserve=RESERVE, parent_id=None)
    # then
    assert sent(prompt) == [("user", NEW)]


def test_another_conversations_messages_are_never_sent(conversation, user_id):
    # given another conversation of the same user
    turn(ConversationFactory(user_id=user_id), "Secret question", "Secret answer")
    # when
    prompt = prompt_build(conversation=conversation, new_content=NEW, reserve=RESERVE, parent_id=leaf(conversation))
    # then
    assert sent(prompt) == [("user", NEW)]


def test_only_the_path_to_the_parent_is_sent_never_another_branch(conversation):
    # given a question answered twice (a regenerated reply beside the first), each answer followed up
    asked, first = turn(conversation, "Capital of France?", "Paris.")
    second = MessageFactory(conversation=conversation, assistant=True, parent=asked, content="It is Paris!")
    MessageFactory(conversation=conversation, parent=first, content="On the first branch")
    # when a reply to a follow-up of the second answer is prompted
    prompt = prompt_build(conversation=conversation, new_content=NEW, reserve=RESERVE, parent_id=second.id)
    # then the model sees the root-to-parent path only
    assert sent(prompt) == [("user", asked.content), ("assistant", "It is Paris!"), ("user", NEW)]


@pytest.mark.parametrize(("text", "tokens"), [("", 4), ("a", 5), ("abcd", 5), ("abcde", 6), ("x" * 400, 104)])
def test_estimate_tokens_is_a_quarter_of_the_characters_rounded_up_plus_the_overhead(text, tokens):
    assert estimate_tokens(text) == tokens
