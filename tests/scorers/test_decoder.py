from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rankscope.scorers.base import Pair, length_batches
from rankscope.scorers.decoder import PairwiseScorer, QueryLikelihoodScorer, YesNoScorer

PAIRS = [
    Pair("how long do fleas live", "the flea life cycle lasts up to a year"),
    Pair("do goldfish grow", "goldfish grow to fit their tank"),
    Pair("wifi vs bluetooth", "wifi and bluetooth are wireless standards with different ranges and speeds"),
]


def test_length_batches_cover_all_and_respect_budget() -> None:
    lengths = [5, 50, 7, 30, 30, 2]
    batches = list(length_batches(lengths, max_tokens=64, max_batch=3))
    assert sorted(i for b in batches for i in b) == list(range(6))
    for b in batches:
        assert len(b) <= 3 and len(b) * max(lengths[i] for i in b) <= max(64, lengths[b[0]])


def test_yes_no_matches_full_logits(llama, tokenizer) -> None:
    scorer = YesNoScorer(llama, tokenizer, max_batch=2)
    got = scorer.score(PAIRS)
    for pair, g in zip(PAIRS, got, strict=True):
        ids = torch.tensor([scorer.template.ids(query=pair.query, doc=pair.doc)])
        with torch.no_grad():
            z = llama(ids).logits[0, -1]
        want = torch.logsumexp(z[scorer.yes], 0) - torch.logsumexp(z[scorer.no], 0)
        assert abs(g - want.item()) < 1e-4


def test_yes_no_uses_chat_template(tokenizer, llama) -> None:
    ids = YesNoScorer(llama, tokenizer).template.ids(query="q", doc="d")
    text = tokenizer.decode(ids)
    assert text.startswith("<|im_start|>user") and text.rstrip().endswith("assistant")


def test_system_prompt_replaces_the_default_and_keeps_budgets(tokenizer, llama) -> None:
    scorer = YesNoScorer(llama, tokenizer)
    scorer.template.max_tokens["doc"] = 3
    before = scorer.template.literal_tokens
    assert scorer.set_system_prompt("Judge relevance.")
    text = tokenizer.decode(scorer.template.ids(query="q", doc="d"))
    assert text.startswith("<|im_start|>system\nJudge relevance.<|im_end|>\n<|im_start|>user")
    assert scorer.template.max_tokens["doc"] == 3 and scorer.template.literal_tokens > before
    scorer.set_system_prompt(None)  # back to the template's default: no system turn in this one
    assert tokenizer.decode(scorer.template.ids(query="q", doc="d")).startswith("<|im_start|>user")
    ql = QueryLikelihoodScorer(llama, tokenizer)
    prompt = ql.prompt
    assert not ql.set_system_prompt("")  # no chat template in the query-likelihood prompt: unchanged
    assert ql.prompt is prompt


def test_query_likelihood_matches_full_logits(llama, tokenizer) -> None:
    scorer = QueryLikelihoodScorer(llama, tokenizer)
    got = scorer.score(PAIRS)
    seqs, spans = scorer.encode(PAIRS)
    for seq, (s, e), g in zip(seqs, spans, got, strict=True):
        with torch.no_grad():
            logp = F.log_softmax(llama(torch.tensor([seq])).logits[0], -1)
        want = torch.stack([logp[p - 1, seq[p]] for p in range(s, e)]).mean()
        assert abs(g - want.item()) < 1e-4
    # the query tokens are what is scored
    assert tokenizer.decode(seqs[0][spans[0][0] : spans[0][1]]).strip() == PAIRS[0].query


def test_batching_does_not_change_scores(llama, tokenizer) -> None:
    one = YesNoScorer(llama, tokenizer, max_batch=1).score(PAIRS)
    many = YesNoScorer(llama, tokenizer, max_batch=64).score(PAIRS)
    assert max(abs(a - b) for a, b in zip(one, many, strict=True)) < 1e-4


@pytest.mark.parametrize("name", ["yes-no", "linear-head"])
def test_prefix_cache_scores_as_the_full_sequence(llama, tokenizer, name: str) -> None:
    from rankscope.scorers.linear_head import LinearHeadScorer

    pairs = [*PAIRS, Pair("q", "d"), Pair(PAIRS[0].query, PAIRS[2].doc * 3)]  # lengths differ: padding
    kind = YesNoScorer if name == "yes-no" else LinearHeadScorer
    plain = kind(llama, tokenizer, max_batch=3)
    cached = kind(llama, tokenizer, max_batch=3)
    if name == "linear-head":
        cached.head = plain.head  # the same trained head (the linear head gave yes/no scores here)
    cached.prefix_cache = True
    assert len(cached.template.pieces[0]) > 3  # "<|im_start|>user\nQuery:" is shared by every pair
    want, got = plain.score(pairs), cached.score(pairs)
    assert max(abs(a - b) for a, b in zip(want, got, strict=True)) < 1e-4
    assert cached.score([]) == []


@pytest.mark.parametrize("window", [4, 8, 12])
def test_prefix_cache_with_a_sliding_window_shorter_than_the_prefix(tokenizer, window: int) -> None:
    """Gemma 3's sliding layers kept only their window of the cached prefix's keys, and the rows after it
    failed (a tensor size error) when the prefix was as long as the window: the prefix now goes into a
    plain cache that keeps every key, and the cached scores equal the uncached ones at every window."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from rankscope.testing import TINY_DECODER

    torch.manual_seed(0)
    layer_types = ["sliding_attention", "full_attention"]
    cfg = Gemma3TextConfig(
        vocab_size=len(tokenizer), num_hidden_layers=2, head_dim=8, sliding_window=window,
        layer_types=layer_types, max_position_embeddings=512, **TINY_DECODER,
    )  # fmt: skip
    model = Gemma3ForCausalLM(cfg).eval()
    plain, cached = YesNoScorer(model, tokenizer, max_batch=3), YesNoScorer(model, tokenizer, max_batch=3)
    cached.prefix_cache = True
    assert len(cached.template.pieces[0]) == 8  # the prefix: shorter than, as long as, longer than windows
    after, calls = cached._logits_after, []
    cached._logits_after = lambda *a: calls.append(1) or after(*a)  # type: ignore[method-assign]
    want, got = plain.score(PAIRS), cached.score(PAIRS)
    assert calls  # the cached path ran (an uncached fallback would score alike)
    assert max(abs(a - b) for a, b in zip(want, got, strict=True)) < 1e-4


def test_pairwise_probabilities_match_full_logits(llama, tokenizer) -> None:
    """P(A beats B) = sigmoid(lse(z[A tokens]) - lse(z[B tokens])) at the prompt's last position (only
    0 < p < 1 was checked: swapped answer tokens, every preference inverted, passed)."""
    scorer = PairwiseScorer(llama, tokenizer, max_batch=2)
    triples = [("q", "a doc", "b doc"), ("q", "b doc", "a doc"), (PAIRS[0].query, PAIRS[0].doc, PAIRS[1].doc)]
    probs = scorer.prefer(triples)
    for (q, a, b), got in zip(triples, probs, strict=True):
        ids = torch.tensor([scorer.template.ids(query=q, doc=a, doc_b=b)])
        with torch.no_grad():
            z = llama(ids).logits[0, -1]
        want = torch.sigmoid(torch.logsumexp(z[scorer.a], 0) - torch.logsumexp(z[scorer.b], 0))
        assert abs(got - want.item()) < 1e-5
    assert abs(probs[0] - probs[1]) > 1e-6  # the order of the two documents matters


def test_template_tokens_match_whole_string_tokenisation(tokenizer) -> None:
    from rankscope.scorers.prompts import YES_NO, TokenTemplate

    t = TokenTemplate.build(tokenizer, YES_NO, chat=False, add_bos=False)
    whole = tokenizer.encode(
        YES_NO.format(query="do goldfish grow", doc="goldfish grow in ponds"), add_special_tokens=False
    )
    assert t.ids(query="do goldfish grow", doc="goldfish grow in ponds") == whole


def test_qpeft_scores_and_trains_only_the_prompter(llama, tokenizer, tmp_path) -> None:
    import copy

    from rankscope.scorers.qpeft import QPeftScorer, build_prompter, load_prompter

    for variant in ("qpeft-r", "qpeft-a"):
        model = copy.deepcopy(llama)
        scorer = QPeftScorer(model, tokenizer, build_prompter(variant, 32, k=4), variant)
        seqs, spans = scorer.encode(PAIRS)
        from rankscope.scorers.base import pad_right

        ids, mask = pad_right(seqs, scorer.pad_id, torch.device("cpu"))
        lp = scorer.token_logprobs_for(PAIRS, ids, mask, spans)
        lp.sum().backward()
        assert all(p.grad is None for p in model.parameters())
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in scorer.prompter.parameters())
        scores = scorer.score(PAIRS)
        assert torch.allclose(torch.tensor(scores), lp.detach(), atol=1e-4)
        scorer.save(tmp_path / variant)
        name, prompter = load_prompter(tmp_path / variant)
        again = QPeftScorer(model, tokenizer, prompter, name).score(PAIRS)
        assert max(abs(a - b) for a, b in zip(scores, again, strict=True)) < 1e-5


def test_qpeft_scores_a_short_document_the_same_in_any_batch(llama, tokenizer) -> None:
    import copy

    from rankscope.scorers.qpeft import QPeftScorer, build_prompter

    short, long = Pair("do goldfish grow", "goldfish"), Pair("wifi", "tanks hold water " * 6)
    for variant in ("qpeft-r", "qpeft-a"):
        torch.manual_seed(0)
        prompter = build_prompter(variant, 32, k=6)  # more prompts than the short document has tokens
        for p in prompter.parameters():
            torch.nn.init.normal_(p, std=0.3)  # a trained prompter, not the zero-initialised one
        scorer = QPeftScorer(copy.deepcopy(llama), tokenizer, prompter, variant)
        alone = scorer.score([short])[0]
        batched = scorer.score([short, long])[0]  # padding was picked as prompts of the short one
        assert abs(alone - batched) < 1e-5, variant


def test_qpeft_r_picks_the_same_tokens_whatever_the_batch_width() -> None:
    """A repeated document token ties in similarity; topk broke the tie by the row's padded width, so the
    prompts came out in another order in another batch (SmolLM2 scores moved by up to 0.28)."""
    from rankscope.scorers.qpeft import TopKPrompt

    torch.manual_seed(0)
    h = 32
    prompt = TopKPrompt(h, k=2)
    for p in prompt.parameters():
        torch.nn.init.normal_(p, std=0.3)
    q_tok, a, b = torch.randn(h), torch.randn(h), torch.randn(h)
    b = 0.7 * q_tok + 0.3 * b  # the most similar to the query token
    a = 0.4 * q_tok + 0.6 * a  # second, and it occurs twice
    doc = torch.stack([a, b, a])
    q, q_mask = q_tok[None, None], torch.ones(1, 1, dtype=torch.long)
    outs = []
    for width in (3, 4, 8, 16, 64, 192):
        d = torch.zeros(1, width, h)
        d[0, :3] = doc
        d_mask = torch.zeros(1, width, dtype=torch.long)
        d_mask[0, :3] = 1
        with torch.no_grad():
            outs.append(prompt(q, q_mask, d, d_mask)[0])
    for out in outs[1:]:
        torch.testing.assert_close(out, outs[0])


def test_relevance_heads_stay_float32_under_bf16_autocast(llama, tokenizer) -> None:
    """nn.Linear is an autocast op: casting the input alone left scores on bf16's grid (ties), and the
    yes/no logits were rounded by up to 0.14."""
    from rankscope.scorers.base import head_logits
    from rankscope.scorers.encoder import CrossEncoderHead
    from rankscope.scorers.linear_head import LinearHead

    torch.manual_seed(0)
    hidden = torch.randn(200, 32)
    for head in (LinearHead(32), CrossEncoderHead(32)):
        want = head(hidden)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = head(hidden)
        assert got.dtype == torch.float32 and len(set(got.tolist())) == 200
        torch.testing.assert_close(got, want)
    ids = [5, 9]
    want = head_logits(llama, hidden, ids)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = head_logits(llama, hidden, ids)
    torch.testing.assert_close(got, want)
    weight = llama.get_output_embeddings().weight[ids]
    torch.testing.assert_close(
        head_logits(llama, hidden.bfloat16(), ids), hidden.bfloat16().float() @ weight.T
    )


def test_pairwise_preferences_of_a_confident_model_do_not_saturate(llama, tokenizer, monkeypatch) -> None:
    """sigmoid in float32 is exactly 1.0 from z = 17, so two confident preferences tied in duoT5's sums."""
    scorer = PairwiseScorer(llama, tokenizer)
    z = torch.tensor([17.0, 20.0, 25.0])
    monkeypatch.setattr(scorer, "logits", lambda ids, mask: z[: ids.shape[0]])
    p = scorer.prefer([("q", "a", "b"), ("q", "a", "c"), ("q", "b", "c")])
    assert len(set(p)) == 3 and all(v < 1.0 for v in p)
