"""Synthetic training queries: prompt, generation, cleaning, the evaluation guard, the rank filter, the
written file and the command line (tiny random llama, a fake data root, stub scorers for the filter)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from rankscope import synth
from rankscope.data.readers import read_bge_jsonl
from rankscope.data.types import Collection, Document
from rankscope.scorers.base import Pair, Scorer

WORDS = [
    *("river", "bridge", "engine", "copper", "winter", "garden", "signal", "market", "forest", "voltage"),
    *(
        "glacier",
        "harbour",
        "lantern",
        "orchard",
        "pigment",
        "quartz",
        "saddle",
        "timber",
        "violin",
        "whistle",
    ),
]


def passage(i: int) -> str:
    """A distinct passage of about a dozen words (BM25 finds overlaps between neighbours)."""
    words = [WORDS[(i * 3 + k) % len(WORDS)] for k in range(10)]
    return f"passage {i} about " + " ".join(words)


def make_corpus(n: int = 12) -> dict[str, Document]:
    return {f"d{i}": Document(f"d{i}", passage(i)) for i in range(n)}


class StubScorer(Scorer):
    """Scores from a table (query, passage text) -> score; anything else scores 0."""

    name = "stub"

    def __init__(self, table: dict[tuple[str, str], float]) -> None:
        self.table = table

    def score(self, pairs: Sequence[Pair], progress: Callable[[int], None] | None = None) -> list[float]:
        if progress:
            progress(len(pairs))
        return [self.table.get((p.query, p.doc), 0.0) for p in pairs]


# --------------------------------------------------------------------------- units


def test_clean_query() -> None:
    doc = "the flea life cycle lasts up to a year depending on hosts and the conditions around them"
    assert synth.clean_query("  Query: how long do fleas live\nmore text", doc) == (
        "how long do fleas live",
        "ok",
    )
    assert synth.clean_query('"flea lifespan"', doc) == ("flea lifespan", "ok")
    assert synth.clean_query("\n\n  \n", doc) == (None, "empty")
    assert synth.clean_query("fleas", doc) == (None, "too_short")
    assert synth.clean_query("?!", doc) == (None, "empty")
    assert synth.clean_query(doc.upper(), doc) == (None, "copy")
    assert synth.clean_query("flea life cycle lasts up to a year depending on hosts", doc)[1] == "copy"
    assert synth.clean_query("flea life cycle", doc) == ("flea life cycle", "ok")  # short spans are fine


def test_prompt_uses_chat_template_when_there_is_one(tokenizer) -> None:
    chat = tokenizer.decode(synth.build_prompt(tokenizer, "goldfish grow to fit their tank"))
    assert chat.count("<|im_start|>user") == 4 and chat.count("<|im_start|>assistant") == 4
    assert chat.endswith("<|im_start|>assistant\n")
    for _, query in synth.FEW_SHOT:
        assert query in chat
    plain_tok = synth_plain_tokenizer(tokenizer)
    ids = synth.build_prompt(plain_tok, "goldfish grow to fit their tank")
    assert ids[0] == plain_tok.bos_token_id
    text = plain_tok.decode(ids[1:])
    assert "<|im_start|>" not in text
    assert text.endswith("Passage: goldfish grow to fit their tank\nQuery:")


def synth_plain_tokenizer(tokenizer):
    import copy

    tok = copy.deepcopy(tokenizer)
    tok.chat_template = None
    return tok


def test_batched_left_padded_generation_equals_one_by_one(tokenizer, llama) -> None:
    prompts = [synth.build_prompt(tokenizer, passage(i) * (1 + i % 3), 40) for i in range(4)]
    assert len({len(p) for p in prompts}) > 1  # the batch really is padded
    batched = synth.generate_queries(llama, tokenizer, prompts, max_new_tokens=6, batch_size=4)
    single = [synth.generate_queries(llama, tokenizer, [p], max_new_tokens=6)[0] for p in prompts]
    assert batched == single
    sampled = [
        synth.generate_queries(llama, tokenizer, prompts, max_new_tokens=6, temperature=1.0, seed=3)
        for _ in range(2)
    ]
    assert sampled[0] == sampled[1]  # seeded


def test_eval_judged_passages_are_never_sources() -> None:
    corpus = make_corpus(12)
    same_space = Collection("scifact-test", {"q1": "a claim"}, {"q1": {"d1": 1, "d5": 0}}, corpus)
    # Another id space: its id d3 means nothing here, but its judged passage text equals d7's.
    other = Collection("adi", {"x": "another query"}, {"x": {"d3": 1, "z": 1}})
    other.corpus = {"z": Document("z", passage(7).upper())}
    guard = synth.EvalGuard.from_collections([same_space, other])
    for seed in range(5):
        sample, excluded = synth.sample_passages(corpus, 12, seed, guard, space="scifact")
        ids = {d.doc_id for d in sample}
        assert ids == {f"d{i}" for i in range(12)} - {"d1", "d5", "d7"}
        assert excluded == 3
    # A corpus file has no known id space: any judged id is excluded.
    sample, excluded = synth.sample_passages(corpus, 12, 0, guard, space=None)
    assert {"d1", "d3", "d5", "d7"}.isdisjoint(d.doc_id for d in sample) and excluded == 4
    assert (
        synth.sample_passages(corpus, 4, 1, guard, "scifact")[0]
        == synth.sample_passages(corpus, 4, 1, guard, "scifact")[0]
    )


def test_filter_keeps_only_queries_whose_source_ranks_first() -> None:
    src = {k: Document(k, f"source {k}") for k in "abc"}
    cands = [
        synth.Candidate("qa", src["a"], ("n1", "n2", "n3")),  # source highest: rank 1
        synth.Candidate("qb", src["b"], ("n1", "n2", "n3")),  # two negatives above: rank 3
        synth.Candidate("qc", src["c"], ("n1", "n2")),  # a tie counts against the source: rank 2
    ]
    table = {
        ("qa", "source a"): 5.0,
        ("qa", "n1"): 1.0,
        ("qa", "n2"): 4.9,
        ("qb", "source b"): 1.0,
        ("qb", "n1"): 3.0,
        ("qb", "n3"): 2.0,
        ("qc", "source c"): 2.0,
        ("qc", "n2"): 2.0,
    }
    ranks = synth.source_ranks(StubScorer(table), cands)
    assert ranks == [1, 3, 2]
    assert [c.query for c in synth.keep_by_rank(cands, ranks, 1)] == ["qa"]
    assert [c.query for c in synth.keep_by_rank(cands, ranks, 2)] == ["qa", "qc"]


def test_bm25_negatives_skip_the_source_and_its_duplicates() -> None:
    corpus = make_corpus(8)
    corpus["dup"] = Document("dup", passage(2))
    negs = synth.bm25_negatives(corpus, [(passage(2), corpus["d2"])], 4)[0]
    assert len(negs) == 4 and passage(2) not in negs and len(set(negs)) == 4


def test_synthesize_cleans_filters_and_guards(tokenizer, monkeypatch) -> None:
    corpus = make_corpus(6)
    ev = Collection("dl19", {"1": "what is an eval query"}, {"1": {"x": 1}})
    guard = synth.EvalGuard.from_collections([ev])
    raw = iter(
        [
            "river bridge engine\n",
            "what is an eval query",
            "river bridge engine",
            "",
            "x",
            "copper winter garden",
        ]
    )

    def fake_generate(model, tok, prompts, progress=None, **kw):
        return [next(raw) for _ in prompts]

    monkeypatch.setattr(synth, "generate_queries", fake_generate)
    sample, _ = synth.sample_passages(corpus, 6, 0)
    first = sample[0].full_text
    scorer = StubScorer({("river bridge engine", first): 10.0})
    res = synth.synthesize(
        corpus, None, tokenizer, scorer, passages=6, guard=guard, negatives=3, show_progress=False
    )
    s = res.stats
    assert s["generated"] == 6 and s["valid"] == 2 and s["kept"] == 1
    assert s["dropped"] == {"eval_query": 1, "duplicate": 1, "empty": 1, "too_short": 1}
    assert res.rows[0]["query"] == "river bridge engine" and res.rows[0]["pos"] == [first]
    assert first not in res.rows[0]["neg"] and len(res.rows[0]["neg"]) == 3


def test_a_query_without_negatives_is_dropped_not_kept_unjudged(tokenizer, monkeypatch) -> None:
    monkeypatch.setattr(synth, "generate_queries", lambda model, tok, prompts, **kw: ["river bridge engine"])
    res = synth.synthesize(
        make_corpus(1), None, tokenizer, StubScorer({}), passages=1, negatives=3, show_progress=False
    )  # one passage: BM25 has nothing to set against it
    assert res.rows == [] and res.stats["dropped"] == {"no_negatives": 1} and res.stats["valid"] == 0


def test_cli_refuses_to_write_an_empty_file(
    data_root, llama_dir, tmp_path, capsys, invoke, monkeypatch
) -> None:
    monkeypatch.setattr(
        synth, "synthesize", lambda *a, **kw: synth.SynthResult([], {"dropped": {"empty": 3}})
    )
    out = tmp_path / "o" / "synth.jsonl"
    args = ["synth", "--dataset", "scifact-train", "--model", str(llama_dir), "--passages", "3"]
    args += ["--eval-sets", "scifact-test"]
    assert invoke(*args, "--out", str(out), "--device", "cpu", "--dtype", "float32") == 2
    assert "no generated query was kept" in capsys.readouterr().err and not out.exists()


# --------------------------------------------------------------------------- command line


@pytest.fixture()
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake RANKSCOPE_DATA: SciFact (shared corpus, train and test qrels) and MS MARCO dev (no corpus)."""
    root = tmp_path / "data"
    sf = root / "scifact"
    (sf / "qrels").mkdir(parents=True)
    corpus = make_corpus(14)
    sf.joinpath("corpus.jsonl").write_text(
        "".join(json.dumps({"_id": d, "title": "", "text": doc.text}) + "\n" for d, doc in corpus.items())
    )
    sf.joinpath("queries.jsonl").write_text(
        json.dumps({"_id": "1", "text": "train claim"})
        + "\n"
        + json.dumps({"_id": "2", "text": "test claim"})
    )
    sf.joinpath("qrels", "train.tsv").write_text("query-id\tcorpus-id\tscore\n1\td0\t1\n")
    sf.joinpath("qrels", "test.tsv").write_text("query-id\tcorpus-id\tscore\n2\td3\t1\n2\td4\t1\n2\td9\t1\n")
    ms = root / "msmarco-passage-dev-small"
    ms.mkdir()
    ms.joinpath("queries.dev.small.tsv").write_text("7\tsome query\n")
    ms.joinpath("qrels.dev.small.txt").write_text("7 0 123 1\n")
    monkeypatch.setenv("RANKSCOPE_DATA", str(root))
    return root


def test_cli_writes_a_training_file_without_eval_passages(
    data_root, llama_dir, tmp_path, capsys, invoke
) -> None:
    out = tmp_path / "runs" / "synth.jsonl"
    args = ["synth", "--dataset", "scifact-train", "--model", str(llama_dir), "--passages", "20"]
    args += ["--out", str(out), "--negatives", "3", "--keep-top", "4", "--temperature", "1.0"]
    args += ["--eval-sets", "scifact-test", "--max-new-tokens", "8", "--device", "cpu", "--dtype", "float32"]
    assert invoke(*args) == 0
    rows = read_bge_jsonl(out)
    stats = json.loads((tmp_path / "runs" / "synth.synth.json").read_text())
    assert stats["kept"] == len(rows) == stats["valid"] > 0  # keep-top 4 of 1 + 3 keeps every valid query
    assert stats["passages_excluded_as_judged"] == 3 and stats["generated"] == 11
    judged = {passage(i) for i in (3, 4, 9)}
    for query, pos, neg in rows:
        assert query and len(pos) == 1 and pos[0] not in neg and len(neg) <= 3
        assert judged.isdisjoint(pos + neg)
    assert sorted(p.name for p in out.parent.iterdir()) == ["synth.jsonl", "synth.synth.json"]
    assert "kept" in capsys.readouterr().out
    # The same output again without --overwrite: refused, the file is untouched.
    before = out.read_bytes()
    assert invoke(*args) == 2
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    "extra",
    [
        ["--dataset", "no-such-set"],
        ["--dataset", "msmarco-dev-small"],  # no corpus
        ["--dataset", "scifact-train", "--eval-sets", "scifact-test,nope"],
        ["--dataset", "scifact-train", "--filter-scorer", "pairwise"],
        ["--dataset", "scifact-train", "--corpus", "x.jsonl"],
        ["--corpus", "missing.jsonl"],
    ],
)
def test_cli_bad_input_exits_2_and_writes_nothing(
    data_root, llama_dir, tmp_path, capsys, extra, invoke
) -> None:
    out = tmp_path / "o" / "synth.jsonl"
    code = invoke("synth", "--model", str(llama_dir), "--passages", "3", "--out", str(out), *extra)
    assert code == 2
    assert "error" in capsys.readouterr().err
    assert not out.parent.exists() or not any(out.parent.iterdir())
