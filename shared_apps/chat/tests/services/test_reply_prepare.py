"""reply_prepare: validation, limits, what is stored before the model call, and what the model
is asked (the CompletionRequest)."""

from __future__ import annotations

import uuid

import pytest

from shared_apps.chat import limits, services
from shared_apps.chat.models import Conversation, Message
from shared_apps.chat.providers.base import PromptMessage, Usage
from shared_apps.chat.providers.local import LOCAL_MODEL
from shared_apps.chat.tests.factories import ConversationFactory, MessageFactory
from shared_apps.core.errors import ApplicationError, NotFound, RateLimited, ValidationFailed

pytestmark = pytest.mark.django_db


def stored() -> tuple[int, int]:
    return Conversation.objects.count(), Message.objects.count()


# --- what is stored and what the model is asked ---------------------------------------------------


def test_a_first_message_stores_a_conversation_the_message_and_an_empty_streaming_reply(user_id, settings):
    # given generated titles (off in the test settings)
    settings.CHAT_TITLES = True
    # when
    plan = services.reply_prepare(
        user_id=user_id,
        conversation_id=None,
        content="  What is   the capital\nof France?  ",
        temperature=0.3,
        max_tokens=50,
        client_message_id="m-1",
        request_id="req-1",
    )
    # then the conversation is untitled until its first reply is over (a title is generated then)
    conversation = Conversation.objects.get()
    assert plan.conversation == conversation and not plan.existing and plan.title_wanted
    assert conversation.user_id == user_id and (conversation.title, conversation.title_source) == ("", "none")
    # and the user message and an empty streaming reply to it are stored
    user_message, assistant = Message.objects.order_by("created_at")
    assert (user_message.role, user_message.content, user_message.status) == (
        "user",
        "  What is   the capital\nof France?  ",
        "complete",
    )
    assert user_message.client_message_id == "m-1" and user_message.user_id == user_id
    assert (assistant.role, assistant.content, assistant.status, assistant.seq) == ("assistant", "", "streaming", 0)
    assert assistant.parent == user_message and assistant.model == LOCAL_MODEL
    assert (plan.user_message.id, plan.assistant_message.id) == (user_message.id, assistant.id)
    # and the model is asked with the message and the caller's parameters
    request = plan.request
    assert request.messages == [PromptMessage("user", "  What is   the capital\nof France?  ")]
    assert (request.model, request.temperature, request.max_tokens) == ("gpt-4o-mini", 0.3, 50)
    assert (request.request_id, request.user_id) == ("req-1", str(user_id))


def test_a_message_in_a_conversation_sends_its_history_and_marks_activity(user_id, conversation):
    # given an answered turn
    asked = MessageFactory(conversation=conversation, content="Capital of France?")
    MessageFactory(conversation=conversation, assistant=True, parent=asked, content="Paris.")
    before = Conversation.objects.get(id=conversation.id).last_activity_at
    # when
    plan = services.reply_prepare(user_id=user_id, conversation_id=str(conversation.id), content="And Italy?")
    # then the model sees the earlier turn, then the new message
    assert plan.request.messages == [
        PromptMessage("user", "Capital of France?"),
        PromptMessage("assistant", "Paris."),
        PromptMessage("user", "And Italy?"),
    ]
    # and the new messages are the conversation's newest, its activity time moved on
    newest = list(Message.objects.filter(conversation=conversation).order_by("-created_at")[:2])
    assert [m.id for m in newest] == [plan.assistant_message.id, plan.user_message.id]
    assert Conversation.objects.get(id=conversation.id).last_activity_at > before


def test_the_conversations_model_is_used_unless_another_is_asked_for(user_id):
    # given
    conversation = ConversationFactory(user_id=user_id, model="fake-model")
    # when
    default = services.reply_prepare(user_id=user_id, conversation_id=str(conversation.id), content="a")
    asked = services.reply_prepare(
        user_id=user_id, conversation_id=str(conversation.id), content="b", model="gpt-4o-mini"
    )
    # then
    assert default.request.model == "fake-model"
    assert asked.request.model == "gpt-4o-mini"


def test_an_explicit_max_tokens_is_reserved_out_of_the_context_budget(user_id, conversation, settings):
    # given an earlier message that fits beside the default reserve (1024) but not beside 2000
    MessageFactory(conversation=conversation, content="x" * 400)  # 104 estimated tokens
    settings.CHAT_CONTEXT_TOKENS = 1024 + 6 + 104  # the reserve, the new message "hi", the earlier one
    # when
    roomy = services.reply_prepare(user_id=user_id, conversation_id=str(conversation.id), content="hi")
    tight = services.reply_prepare(user_id=user_id, conversation_id=str(conversation.id), content="hi", max_tokens=2000)
    # then
    assert [m.content for m in roomy.request.messages] == ["x" * 400, "hi"]
    assert [m.content for m in tight.request.messages] == ["hi"]


def test_content_of_exactly_the_maximum_length_is_accepted(user_id, settings):
    # given
    settings.CHAT_MAX_MESSAGE_CHARS = 10
    # when
    plan = services.reply_prepare(user_id=user_id, conversation_id=None, content="0123456789")
    # then
    assert plan.user_message.content == "0123456789"


# --- a repeated client_message_id ------------------------------------------------------------------


def test_a_repeated_client_message_id_without_a_conversation_returns_the_first_reply(user_id):
    # given
    first = services.reply_prepare(user_id=user_id, conversation_id=None, content="hi", client_message_id="m-1")
    before = stored()
    # when the client sends the same message again (it never saw the answer)
    again = services.reply_prepare(user_id=user_id, conversation_id=None, content="hi", client_message_id="m-1")
    # then it gets the first reply back, nothing new is stored and the model is not asked
    assert again.existing and again.request is None
    assert again.conversation.id == first.conversation.id
    assert (again.user_message.id, again.assistant_message.id) == (first.user_message.id, first.assistant_message.id)
    assert stored() == before


def test_a_repeated_client_message_id_in_a_conversation_returns_the_first_reply(user_id, conversation):
    # given
    first = services.reply_prepare(
        user_id=user_id, conversation_id=str(conversation.id), content="hi", client_message_id="m-1"
    )
    before = stored()
    # when
    again = services.reply_prepare(
        user_id=user_id, conversation_id=str(conversation.id), content="hi", client_message_id="m-1"
    )
    # then
    assert again.existing and again.request is None
    assert (again.user_message.id, again.assistant_message.id) == (first.user_message.id, first.assistant_message.id)
    assert stored() == before


def test_the_same_client_message_id_of_another_user_is_a_new_message(user_id, other_user_id):
    # given
    mine = services.reply_prepare(user_id=user_id, conversation_id=None, content="hi", client_message_id="m-1")
    # when
    theirs = services.reply_prepare(user_id=other_user_id, conversation_id=None, content="hi", client_message_id="m-1")
    # then
    assert not theirs.existing and theirs.user_message.id != mine.user_message.id
    assert theirs.conversation.user_id == other_user_id


def _use_up_the_message_rate(settings, user_id, conversation):
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 1
    return services.reply_prepare(
        user_id=user_id, conversation_id=str(conversation.id), content="hi", client_message_id="m-1"
    )


def _use_up_the_token_budget(settings, user_id, conversation):
    settings.CHAT_RATE_TOKENS_PER_DAY = 10
    plan = services.reply_prepare(
        user_id=user_id, conversation_id=str(conversation.id), content="hi", client_message_id="m-1"
    )
    services.reply_finish_save(
        message=plan.assistant_message, content="Hello!", seq=1, status="complete", usage=Usage(5, 5, 10)
    )
    return plan


@pytest.mark.parametrize("use_up", [_use_up_the_message_rate, _use_up_the_token_budget], ids=["rate", "budget"])
def test_a_repeated_client_message_id_in_a_conversation_is_answered_even_at_a_limit(
    user_id, conversation, settings, clock, use_up
):
    # given a message answered, after which a limit is reached
    first = use_up(settings, user_id, conversation)
    # when the client retries it (it lost the connection before the answer)
    again = services.reply_prepare(
        user_id=user_id, conversation_id=str(conversation.id), content="hi", client_message_id="m-1"
    )
    # then it gets the first reply back, as it does without a conversation_id
    assert again.existing and again.assistant_message.id == first.assistant_message.id


# --- refused input: the right error, nothing stored --------------------------------------------------


BAD_INPUT = [
    pytest.param(
        {"content": ""},
        ValidationFailed,
        "content: The message is empty.",
        "content",
        id="empty content",
    ),
    pytest.param(
        {"content": " \n\t "},
        ValidationFailed,
        "content: The message is empty.",
        "content",
        id="blank content",
    ),
    pytest.param(
        {"content": None},
        ValidationFailed,
        "content: The message is empty.",
        "content",
        id="no content",
    ),
    pytest.param(
        {"content": "a\x00b"},
        ValidationFailed,
        "content: Must not contain NUL characters.",
        "content",
        id="NUL in content",
    ),
    pytest.param(
        {"content": "x" * 11},
        ValidationFailed,
        "content: At most 10 characters.",
        "content",
        id="oversized content",
    ),
    pytest.param(
        {"model": "gpt-5"},
        ValidationFailed,
        "model: 'gpt-5' is not allowed here; allowed: gpt-4o-mini, fake-model.",
        "model",
        id="model not allowed",
    ),
    pytest.param(
        {"temperature": -0.1},
        ValidationFailed,
        "temperature: Must be between 0 and 2.",
        "temperature",
        id="temperature below 0",
    ),
    pytest.param(
        {"temperature": 2.01},
        ValidationFailed,
        "temperature: Must be between 0 and 2.",
        "temperature",
        id="temperature above 2",
    ),
    pytest.param(
        {"temperature": float("nan")},
        ValidationFailed,
        "temperature: Must be between 0 and 2.",
        "temperature",
        id="temperature NaN",
    ),
    pytest.param(
        {"max_tokens": 0},
        ValidationFailed,
        "max_tokens: Must be between 1 and 4096.",
        "max_tokens",
        id="max_tokens 0",
    ),
    pytest.param(
        {"max_tokens": 4097},
        ValidationFailed,
        "max_tokens: Must be between 1 and 4096.",
        "max_tokens",
        id="max_tokens above the maximum",
    ),
    pytest.param(
        {"client_message_id": "c" * 101},
        ValidationFailed,
        "client_message_id: At most 100 characters.",
        "client_message_id",
        id="client_message_id too long",
    ),
    pytest.param(
        {"client_message_id": "m\x00"},
        ValidationFailed,
        "client_message_id: Must not contain NUL characters.",
        "client_message_id",
        id="NUL in client_message_id",
    ),
    pytest.param(
        {"conversation_id": "not-a-uuid"},
        ValidationFailed,
        "conversation_id: Must be a valid UUID.",
        "conversation_id",
        id="malformed conversation id",
    ),
    pytest.param(
        {"conversation_id": str(uuid.uuid4())},
        NotFound,
        "Conversation not found.",
        None,
        id="unknown conversation id",
    ),
    pytest.param(
        {"conversation_id": "theirs"},
        NotFound,
        "Conversation not found.",
        None,
        id="another user's conversation",
    ),
]


@pytest.mark.parametrize(("overrides", "error", "message", "field"), BAD_INPUT)
@pytest.mark.parametrize("in_conversation", [False, True], ids=["new", "existing"])
def test_refused_input_raises_the_domain_error_and_stores_nothing(
    user_id, other_user_id, settings, overrides, error, message, field, in_conversation
):
    # given
    settings.CHAT_MAX_MESSAGE_CHARS = 10
    mine = ConversationFactory(user_id=user_id)
    theirs = ConversationFactory(user_id=other_user_id)
    arguments = {"content": "hello", "conversation_id": str(mine.id) if in_conversation else None, **overrides}
    if arguments["conversation_id"] == "theirs":
        arguments["conversation_id"] = str(theirs.id)
    before = stored()
    # when
    with pytest.raises(ApplicationError) as raised:
        services.reply_prepare(user_id=user_id, **arguments)
    # then
    assert type(raised.value) is error
    assert raised.value.message == message and str(raised.value) == message
    assert raised.value.code == ("not_found" if error is NotFound else "invalid_argument")
    if field is not None:
        assert field in raised.value.details
    assert stored() == before


def test_refused_input_does_not_use_up_the_message_rate(user_id, settings, clock):
    # given a rate of one message a minute
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 1
    for bad in ({"content": ""}, {"content": "hi", "model": "gpt-5"}, {"content": "hi", "conversation_id": "x"}):
        with pytest.raises(ApplicationError):
            services.reply_prepare(user_id=user_id, **{"conversation_id": None, **bad})
    # when
    plan = services.reply_prepare(user_id=user_id, conversation_id=None, content="hi")
    # then the one valid message of the minute is accepted
    assert not plan.existing


# --- limits ---------------------------------------------------------------------------------------


def test_the_third_message_in_a_minute_is_refused_with_a_retry_after(user_id, conversation, settings, clock):
    # given a rate of two messages a minute, 15 s into the minute
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 2
    for content in ("one", "two"):
        services.reply_prepare(user_id=user_id, conversation_id=str(conversation.id), content=content)
    before = stored()
    # when
    with pytest.raises(RateLimited) as raised:
        services.reply_prepare(user_id=user_id, conversation_id=str(conversation.id), content="three")
    # then
    assert raised.value.code == "rate_limited"
    assert raised.value.message == "At most 2 messages per minute; try again in 45 s."
    assert raised.value.retry_after == 45 and raised.value.details == {"retry_after": 45}
    assert stored() == before


def test_messages_are_accepted_again_in_the_next_minute(user_id, settings, clock):
    # given a rate used up
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 2
    for content in ("one", "two"):
        services.reply_prepare(user_id=user_id, conversation_id=None, content=content)
    with pytest.raises(RateLimited):
        services.reply_prepare(user_id=user_id, conversation_id=None, content="three")
    # when
    clock.advance(45)
    plan = services.reply_prepare(user_id=user_id, conversation_id=None, content="three")
    # then
    assert plan.user_message.content == "three"


def test_a_used_up_token_budget_refuses_the_next_message(user_id, settings, clock):
    # given a daily budget of 100 tokens and a reply that used exactly that
    settings.CHAT_RATE_TOKENS_PER_DAY = 100
    plan = services.reply_prepare(user_id=user_id, conversation_id=None, content="hi")
    services.reply_finish_save(
        message=plan.assistant_message, content="Hello!", seq=1, status="complete", usage=Usage(60, 40, 100)
    )
    before = stored()
    # when
    with pytest.raises(RateLimited) as raised:
        services.reply_prepare(user_id=user_id, conversation_id=str(plan.conversation.id), content="more")
    # then refused until the next UTC day (15 s of today have passed)
    assert raised.value.code == "rate_limited"
    assert raised.value.message == "The daily budget of 100 model tokens is used up."
    assert raised.value.retry_after == limits.DAY - 15
    assert stored() == before


def test_a_token_budget_not_yet_used_up_accepts_the_next_message(user_id, settings, clock):
    # given a reply that used one token less than the budget
    settings.CHAT_RATE_TOKENS_PER_DAY = 100
    plan = services.reply_prepare(user_id=user_id, conversation_id=None, content="hi")
    services.reply_finish_save(
        message=plan.assistant_message, content="Hello!", seq=1, status="complete", usage=Usage(60, 39, 99)
    )
    # when
    again = services.reply_prepare(user_id=user_id, conversation_id=str(plan.conversation.id), content="more")
    # then
    assert again.user_message.content == "more"


def test_a_used_up_token_budget_does_not_use_up_the_message_rate(user_id, settings, clock):
    # given a budget used up and a rate of two messages a minute, one used
    settings.CHAT_RATE_TOKENS_PER_DAY = 100
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 2
    plan = services.reply_prepare(user_id=user_id, conversation_id=None, content="hi")
    limits.token_usage_record(user_id=user_id, tokens=100)
    for _ in range(3):
        with pytest.raises(RateLimited, match="daily budget"):
            services.reply_prepare(user_id=user_id, conversation_id=str(plan.conversation.id), content="more")
    # when the budget is raised
    settings.CHAT_RATE_TOKENS_PER_DAY = 1000
    again = services.reply_prepare(user_id=user_id, conversation_id=str(plan.conversation.id), content="more")
    # then the second message of the minute is accepted
    assert again.user_message.content == "more"
