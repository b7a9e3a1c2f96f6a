"""Chat prompts: a chat template's own default system prompt is dropped unless asked for."""

from __future__ import annotations

import copy

import pytest

from rankscope.fields import KEEP_DEFAULT_SYSTEM
from rankscope.scorers.prompts import YES_NO, TokenTemplate, chat_text

# SmolLM2-style: a default system turn when the messages bring none
WITH_DEFAULT = (
    "{% for m in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n{% endif %}"
    "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Gemma-style: no system role; a system message is folded into the first user turn
FOLDED = (
    "{% if messages[0]['role'] == 'system' %}{% set first = messages[0]['content'] + '\n\n' %}"
    "{% set rest = messages[1:] %}{% else %}{% set first = '' %}{% set rest = messages %}{% endif %}"
    "{% for m in rest %}<start_of_turn>user\n{{ first if loop.first else '' }}"
    "{{ m['content'] }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


@pytest.fixture()
def with_template(tokenizer):
    def make(template: str):
        tok = copy.deepcopy(tokenizer)
        tok.chat_template = template
        return tok

    return make


def test_a_default_system_prompt_is_dropped_unless_kept(with_template) -> None:
    tok = with_template(WITH_DEFAULT)
    assert (
        chat_text(tok, "Q")
        == "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
    )
    assert "You are a helpful assistant" in chat_text(tok, "Q", KEEP_DEFAULT_SYSTEM)
    assert "<|im_start|>system\nJudge.<|im_end|>" in chat_text(tok, "Q", "Judge.")
    t = TokenTemplate.build(tok, YES_NO, chat=True)
    kept = t.with_system(KEEP_DEFAULT_SYSTEM)
    assert kept.literal_tokens > t.literal_tokens and kept.with_system(None).pieces == t.pieces


@pytest.mark.parametrize("template", [FOLDED, "plain"])
def test_templates_without_a_default_are_left_alone(with_template, tokenizer, template: str) -> None:
    tok = with_template(FOLDED) if template == FOLDED else tokenizer
    plain = tok.apply_chat_template(
        [{"role": "user", "content": "Q"}], tokenize=False, add_generation_prompt=True
    )
    assert chat_text(tok, "Q") == plain == chat_text(tok, "Q", KEEP_DEFAULT_SYSTEM)
    assert chat_text(tok, "Q", "S") != plain


def test_the_token_cache_stays_bounded_and_right(tokenizer, monkeypatch) -> None:
    import rankscope.scorers.prompts as prompts

    monkeypatch.setattr(prompts, "CACHE_TEXTS", 10)
    t = TokenTemplate.build(tokenizer, "Query: {query} Document: {doc}", chat=False)
    fresh = TokenTemplate.build(tokenizer, "Query: {query} Document: {doc}", chat=False)
    for i in range(0, 40, 4):  # a stream of chunks: 4 documents of one query each
        docs = [f"passage {j} about topic {j % 7}" for j in range(i, i + 4)]
        t.prepare(query=[f"query {i}"], doc=docs)
        assert len(t._cache) <= 10
        assert [t.ids(query=f"query {i}", doc=d) for d in docs] == [
            fresh.ids(query=f"query {i}", doc=d) for d in docs
        ]
    big = [f"doc {j}" for j in range(25)]  # one call larger than the cap: all of it is cached
    t.prepare(doc=big)
    assert all(t.lead["doc"] + d in t._cache for d in big)
