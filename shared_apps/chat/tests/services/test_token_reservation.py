"""The daily token budget holds against replies running in parallel: a reply reserves its
``max_tokens`` plus its prompt's estimate when it is planned, and settles to its real usage
when it is stored. (Checked before and recorded after, N parallel replies all passed the
check and together spent N times what was left.)"""

from __future__ import annotations

import pytest

from shared_apps.chat import limits, services
from shared_apps.chat.models import Message
from shared_apps.chat.prompts import estimate_tokens
from shared_apps.chat.providers.base import Usage
from shared_apps.core.errors import RateLimited

pytestmark = pytest.mark.django_db


def used(user_id) -> int:
    from django.core.cache import cache

    return cache.get(f"chat-rate:tok:{user_id}:{int(limits.time.time() // limits.DAY)}", 0)


def test_parallel_replies_cannot_reserve_more_than_the_budget(user_id, settings, clock):
    # given: a budget of 10,000 tokens and replies of up to 2,000 each
    settings.CHAT_RATE_TOKENS_PER_DAY = 10_000
    settings.CHAT_MAX_OUTPUT_TOKENS = 2_000
    prompt = estimate_tokens("go")
    # when: ten replies are planned before any of them ends (as ten sockets would at once)
    admitted, refused = [], 0
    for _ in range(10):
        try:
            admitted.append(services.reply_prepare(user_id=user_id, conversation_id=None, content="go"))
        except RateLimited:
            refused += 1
    # then: the reservations fit the budget (the last one only what was left), the rest are refused
    granted = [plan.request.max_tokens for plan in admitted]
    assert granted == [2_000] * 4 + [10_000 - 4 * (2_000 + prompt) - prompt]
    assert refused == 5
    assert used(user_id) == 10_000
    assert sum(g + prompt for g in granted) <= settings.CHAT_RATE_TOKENS_PER_DAY


def test_a_finished_reply_settles_its_reservation_to_the_real_usage(user_id, settings, clock):
    # given
    settings.CHAT_RATE_TOKENS_PER_DAY = 100_000
    settings.CHAT_MAX_OUTPUT_TOKENS = 4_000
    plan = services.reply_prepare(user_id=user_id, conversation_id=None, content="hi")
    assert plan.request.max_tokens == 4_000
    assert used(user_id) == 4_000 + estimate_tokens("hi")
    # when: it used 30 tokens (the final save may be retried: it settles once)
    for _ in range(2):
        services.reply_finish_save(
            message=plan.assistant_message, content="Hello!", seq=1, status="complete", usage=Usage(10, 20, 30)
        )
    # then
    assert used(user_id) == 30


def test_a_reply_without_usage_settles_to_an_estimate_of_what_it_sent(user_id, settings, clock):
    # given: a reply cut off before the upstream reported usage
    settings.CHAT_RATE_TOKENS_PER_DAY = 100_000
    plan = services.reply_prepare(user_id=user_id, conversation_id=None, content="hi")
    # when
    services.reply_finish_save(
        message=plan.assistant_message, content="x" * 400, seq=3, status=Message.Status.FAILED, usage=None
    )
    # then: the prompt and the text that arrived count, not the whole reservation
    assert used(user_id) == estimate_tokens("hi") + 100


def test_a_reservation_made_yesterday_settles_against_yesterday(user_id, settings, clock):
    # given: a reply planned a second before midnight UTC
    settings.CHAT_RATE_TOKENS_PER_DAY = 100_000
    clock.advance(limits.DAY - 16)
    plan = services.reply_prepare(user_id=user_id, conversation_id=None, content="hi")
    # when: it ends after midnight
    clock.advance(2)
    services.reply_finish_save(
        message=plan.assistant_message, content="ok", seq=1, status="complete", usage=Usage(5, 5, 10)
    )
    # then: today's budget is untouched
    assert used(user_id) == 0


def test_near_the_end_of_the_budget_a_reply_gets_what_is_left(user_id, settings, clock):
    # given: 1,000 tokens left of the day's budget
    settings.CHAT_RATE_TOKENS_PER_DAY = 10_000
    limits.token_usage_record(user_id=user_id, tokens=9_000)
    # when: a reply asks for up to 4,096
    plan = services.reply_prepare(user_id=user_id, conversation_id=None, content="hi", max_tokens=4_096)
    # then: it may produce what is left, no more
    assert plan.request.max_tokens == 1_000 - estimate_tokens("hi")
    with pytest.raises(RateLimited, match="used up"):
        services.reply_prepare(user_id=user_id, conversation_id=str(plan.conversation.id), content="more")


def test_max_tokens_never_takes_the_reply_past_the_context_window(user_id, settings, clock):
    # given: a context window smaller than the default output cap
    settings.CHAT_CONTEXT_TOKENS = 1_000
    settings.CHAT_MAX_OUTPUT_TOKENS = 4_096
    # when: a reply is planned without a max_tokens of its own
    plan = services.reply_prepare(user_id=user_id, conversation_id=None, content="x" * 400)
    # then: what the model is sent plus what it may answer fits the window
    prompt = sum(estimate_tokens(m.content) for m in plan.request.messages)
    assert plan.request.max_tokens == 1_000 - prompt


def test_a_reply_cut_before_its_first_delta_is_charged_its_prompt(user_id, settings, clock):
    # given: a planned reply that ends with no text and no usage reported (failed, cancelled)
    plan = services.reply_prepare(user_id=user_id, conversation_id=None, content="a question " * 20)
    reservation = plan.assistant_message.token_reservation
    # when / then: the prompt it sent still counts
    assert services.reply_tokens_used(reservation, "", None) == reservation.prompt_tokens > 0
