"""Teacher scores: per-query z-scored ensembles, a scores file, the cache that a resumed run reads instead
of scoring again, and distillation runs on them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rankscope.config import TeacherConfig
from rankscope.data.examples import Group
from rankscope.errors import InputError
from rankscope.train import teacher
from rankscope.train.run import train
from rankscope.train.teacher import combine, pair_key, read_cache


def test_combine_zscores_each_member_within_each_query() -> None:
    raw = {
        ("q1", "a"): [1.0, 10.0],
        ("q1", "b"): [3.0, 30.0],
        ("q2", "a"): [5.0, -1.0],
        ("q2", "b"): [5.0, 1.0],
    }
    got = combine(raw, [0.5, 2.0])
    assert got[("q1", "a")] == pytest.approx(0.5 * -1 + 2.0 * -1)
    assert got[("q1", "b")] == pytest.approx(0.5 * 1 + 2.0 * 1)
    assert got[("q2", "a")] == pytest.approx(0.0 + 2.0 * -1)  # a constant member adds nothing
    assert combine(raw, [1.0, 0.0], "none")[("q2", "b")] == 5.0


def teacher_file(path: Path, triples: Path) -> Path:
    """A teacher that scores a passage 2 for its query's topic (either number), 0 otherwise."""
    lines = [ln.split("\t") for ln in triples.read_text().splitlines()]
    queries = [q for q, _, _ in lines]
    passages = sorted({p for _, *ps in lines for p in ps})
    rows = [
        {"query": q, "doc": p, "score": 2.0 if q.split(" ", 1)[1][:-2] in p else 0.0}
        for q in queries
        for p in passages
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("objective", ["margin-mse", "kl"])
def test_distillation_trains_from_a_teacher_file(
    make_spec, triples_file: Path, tmp_path: Path, objective: str
) -> None:
    spec = make_spec(
        objective=[{"name": objective}, {"name": "listwise", "weight": 0.1}],
        teacher={"file": str(teacher_file(tmp_path / "teacher.jsonl", triples_file)), "temperature": 2.0},
        train={"group_size": 4},
    )
    res = train(spec, tmp_path / "run")
    losses = [json.loads(x)["loss"] for x in (tmp_path / "run" / "loss.jsonl").read_text().splitlines()]
    assert len(losses) == 3 and max(losses) - min(losses) > 1e-6
    assert res.metrics[-1]["dev_loss"] is not None
    assert "distillation: scores spread" in (tmp_path / "run" / "train.log").read_text()
    from rankscope.io import file_digest
    from rankscope.train.teacher import members_of

    label = f"file:teacher.jsonl#{file_digest(tmp_path / 'teacher.jsonl')}"
    cache = read_cache(tmp_path / "run" / "teacher_scores.jsonl", [label])
    assert cache[pair_key("query fleas live a year 0", "passage: fleas live a year (0)")] == [2.0]
    assert cache[pair_key("query fleas live a year 0", "passage: bluetooth pairs devices (0)")] == [0.0]
    # another file of the same name is another member: its scores never come from this cache
    other = tmp_path / "other" / "teacher.jsonl"
    other.parent.mkdir()
    other.write_text((tmp_path / "teacher.jsonl").read_text().replace('"score": 2', '"score": 5'))
    assert members_of(spec.teacher.model_copy(update={"file": str(other)})) != [label]


def test_teacher_file_must_cover_the_groups(make_spec, tmp_path: Path) -> None:
    empty = tmp_path / "t.jsonl"
    empty.write_text(json.dumps({"query": "x", "doc": "y", "score": 1}) + "\n")
    with pytest.raises(InputError, match="no training group has teacher scores"):
        train(make_spec(objective="kl", teacher={"file": str(empty)}), tmp_path / "run")


def test_resume_reads_the_teacher_cache_and_trains_alike(
    make_spec, tmp_path: Path, monkeypatch, train_killed
) -> None:
    spec = make_spec(
        objective="kl",
        teacher={"scorers": [{"model": make_spec().model, "scorer": "query-likelihood", "weight": 1.0}]},
        optim={"steps": 4, "save_every": 2},
    )
    whole = train(spec, tmp_path / "whole")
    summary = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert summary["teacher_pairs_computed"] == summary["teacher_pairs"] > 0

    train_killed(spec, tmp_path / "cut", 2)
    cached = (tmp_path / "cut" / "teacher_scores.jsonl").read_text()
    assert cached == (tmp_path / "whole" / "teacher_scores.jsonl").read_text()

    def no_scoring(*args, **kw):
        raise AssertionError("the teacher was loaded again on resume")

    monkeypatch.setattr(teacher, "build_member", no_scoring)
    resumed = train(None, tmp_path / "cut", resume=True)
    assert resumed.steps == whole.steps == 4
    assert json.loads((tmp_path / "cut" / "summary.json").read_text())["teacher_pairs_computed"] == 0
    a = load_file(str(tmp_path / "whole" / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "adapter" / "adapter_model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)


def test_attach_leaves_out_groups_without_scores() -> None:
    scores = teacher.TeacherScores(["m"], {}, {pair_key("q", "a"): 1.0, pair_key("q", "b"): -1.0})
    groups = [Group("1", "q", ("a", "b"), (1.0, 0.0)), Group("1", "q", ("a", "c"), (1.0, 0.0))]
    kept, missing = scores.attach(groups)
    assert missing == 1 and kept[0].teacher == (1.0, -1.0)


def test_attach_scores_the_spare_negatives_it_knows() -> None:
    combined = {pair_key("q", "a"): 1.0, pair_key("q", "b"): -1.0, pair_key("q", "s1"): 0.5}
    scores = teacher.TeacherScores(["m"], {}, combined)
    (kept,), missing = scores.attach([Group("1", "q", ("a", "b"), (1.0, 0.0), spare=("s1", "s2"))])
    assert missing == 0 and kept.spare == ("s1",) and kept.spare_teacher == (0.5,)
    pairs = [k for k, _ in teacher.group_pairs([kept], spare=True)]
    assert pairs == [pair_key("q", d) for d in ("a", "b", "s1")]
    assert len(teacher.group_pairs([kept])) == 2
    graded = Group("1", "q", ("a", "b"), (3.0, 0.0), spare=("s2", "s1"), spare_labels=(0.0, 2.0))
    (kept,), _ = scores.attach([graded])  # the spares' grades stay with the spares kept
    assert kept.spare == ("s1",) and kept.spare_labels == (2.0,) and kept.spare_grades() == (2.0,)


def test_reuse_reads_another_runs_cache_instead_of_scoring(
    make_spec, tmp_path: Path, monkeypatch, train_killed
) -> None:
    members = [{"model": make_spec().model, "scorer": "query-likelihood", "weight": 1.0}]
    first = make_spec(objective="kl", teacher={"scorers": members}, optim={"steps": 2, "save_every": 2})
    train(first, tmp_path / "seed0")

    def no_scoring(*args, **kw):
        raise AssertionError("the teacher scored pairs that a cache holds")

    monkeypatch.setattr(teacher, "build_member", no_scoring)
    second = make_spec(
        objective="kl",
        teacher={"scorers": members, "reuse": [str(tmp_path / "seed0")]},
        optim={"steps": 4, "save_every": 2, "seed": 1},
    )
    train_killed(second, tmp_path / "seed1", 2)
    own = (tmp_path / "seed1" / "teacher_scores.jsonl").read_text()
    assert own == (tmp_path / "seed0" / "teacher_scores.jsonl").read_text()
    # the run keeps its own copy, which is what a resume reads: the reused run may be gone by then
    (tmp_path / "seed0" / "teacher_scores.jsonl").unlink()
    assert train(None, tmp_path / "seed1", resume=True).steps == 4
    summary = json.loads((tmp_path / "seed1" / "summary.json").read_text())
    assert summary["teacher_pairs_computed"] == 0 and summary["teacher_pairs"] > 0


def test_reuse_refuses_a_missing_cache_or_other_members(make_spec, tmp_path: Path) -> None:
    members = [{"model": make_spec().model, "scorer": "query-likelihood", "weight": 1.0}]
    spec = make_spec(objective="kl", teacher={"scorers": members, "reuse": [str(tmp_path / "none")]})
    with pytest.raises(InputError, match="teacher.reuse: no teacher cache"):
        train(spec, tmp_path / "a")
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"members": ["bi-encoder:minilm-l6"]}) + "\n")
    spec = make_spec(objective="kl", teacher={"scorers": members, "reuse": [str(other)]})
    with pytest.raises(InputError, match=r"other.jsonl:1: teacher.reuse: made by teacher members"):
        train(spec, tmp_path / "b")
    other.write_text("not json\n")
    with pytest.raises(InputError, match="not a teacher cache"):
        train(spec, tmp_path / "c")


def test_log_spreads_says_when_the_teacher_would_squeeze_the_student(caplog) -> None:
    from rankscope.train.trainer import log_spreads

    scores = torch.tensor([[3.0, 0.0, -3.0], [6.0, 3.0, 0.0]])
    z = torch.tensor([[1.0, 0.0, -1.0], [1.0, 0.0, -1.0]])
    with caplog.at_level("INFO", logger="rankscope.train"):
        student, target = log_spreads(scores, z, 1.0)
    assert student == pytest.approx(3 * target) and "teacher.scale is about 3" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="rankscope.train"):
        log_spreads(scores, z, 3.0)
    assert "scores spread" in caplog.text and "teacher.scale is about" not in caplog.text


def test_a_bf16_teacher_scores_in_bf16_and_its_cache_is_kept_apart(make_spec, tmp_path: Path) -> None:
    members = [{"model": make_spec().model, "scorer": "query-likelihood", "weight": 1.0}]
    bf16 = {"scorers": members, "dtype": "bfloat16"}
    assert teacher.members_of(TeacherConfig(**bf16)) == [
        "query-likelihood:" + make_spec().model + "@bfloat16"
    ]
    assert teacher.members_of(TeacherConfig(scorers=members)) == ["query-likelihood:" + make_spec().model]
    spec = make_spec(objective="kl", teacher=bf16, optim={"steps": 2, "save_every": 2})
    train(spec, tmp_path / "bf16")
    head = json.loads((tmp_path / "bf16" / "teacher_scores.jsonl").read_text().splitlines()[0])
    assert head["members"][0].endswith("@bfloat16")
    # a float32 teacher does not take the bf16 scores for its own
    f32 = make_spec(objective="kl", teacher={"scorers": members, "reuse": [str(tmp_path / "bf16")]})
    with pytest.raises(InputError, match="teacher.reuse: made by teacher members"):
        train(f32, tmp_path / "f32")


def test_a_trec_run_teacher_refuses_query_ids_that_name_two_queries(tmp_path: Path) -> None:
    from rankscope.config import TrainData
    from rankscope.data.examples import Group
    from rankscope.train.teacher import read_teacher_file

    run = tmp_path / "teacher.trec"
    run.write_text("1 Q0 d1 1 10.0 t\n1 Q0 d2 2 9.0 t\n")
    one = [Group("1", "what similarity laws", ("p", "n"), (1.0, 0.0), "cranfield")]
    assert read_teacher_file(str(run), one, TrainData(files=["x"])) == {}  # ids match no text id: none
    two = [*one, Group("1", "what problems of indexing", ("q", "m"), (1.0, 0.0), "cisi")]
    with pytest.raises(InputError, match="query id '1' names different queries"):
        read_teacher_file(str(run), two, TrainData(files=["x"]))  # scored both with one list before


def test_a_run_member_scores_in_the_teachers_dtype(make_spec, tmp_path: Path) -> None:
    """teacher.dtype reached model members only: a run member was scored in float32 while the cache
    labelled its scores @bfloat16."""
    from rankscope.config import TeacherMember

    run = tmp_path / "run"
    train(make_spec(optim={"steps": 1}), run)
    member = TeacherMember(run=str(run))
    spec = make_spec(teacher={"scorers": [{"run": str(run)}], "dtype": "bfloat16"})
    assert teacher.members_of(spec.teacher) == [f"run:{run}@bfloat16"]
    scorer = teacher.build_member(member, spec, "cpu")
    assert next(scorer.model.parameters()).dtype == torch.bfloat16  # type: ignore[attr-defined]


def test_a_failed_cache_write_keeps_the_old_cache_and_no_copy(tmp_path: Path) -> None:
    """The cache went through `.teacher_scores.jsonl.tmp`, left behind by a failed write (a full disk)."""
    path = tmp_path / "teacher_scores.jsonl"
    teacher.write_cache(path, ["m"], {pair_key("q", "d"): [1.0]})
    before = path.read_text()
    with pytest.raises(TypeError):
        teacher.write_cache(path, ["m"], {pair_key("q", "d"): [1.0], pair_key("q", "e"): [object()]})  # type: ignore[list-item]
    assert path.read_text() == before and [p.name for p in tmp_path.iterdir()] == [path.name]
    assert read_cache(path, ["m"]) == {pair_key("q", "d"): [1.0]}
