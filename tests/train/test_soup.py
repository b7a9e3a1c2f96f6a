"""`soup` averages the trained weights of runs of one model into a run folder that loads like any run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from rankscope.errors import InputError
from rankscope.methods.registry import TRAINABLE_FILE, merged
from rankscope.scorers.base import Pair
from rankscope.train.run import train
from rankscope.train.soup import SOUP_FILE, soup
from rankscope.trained import HEAD_FILE, load_run_scorer, run_spec

PAIRS = [
    Pair("query fleas live a year 0", "passage: fleas live a year (0)"),
    Pair("query goldfish grow in tanks 1", "passage: dogs bark loudly (1)"),
]
FULL = {"name": "freeze", "layers": "1", "targets": ["attn.v", "mlp.up"], "full_weights": True}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, llama_dir: Path, triples_file: Path) -> list[Path]:
    """Two seeds of one full-weight linear-head recipe on the tiny Llama (weights and a head)."""
    from rankscope.config import spec_from_dict

    out = []
    for seed in (0, 1):
        spec = spec_from_dict(
            {
                "model": str(llama_dir),
                "scorer": "linear-head",
                "objective": "listwise",
                "method": FULL,
                "train": {"files": [str(triples_file)], "group_size": 3, "dev_fraction": 0.25, "seed": seed},
                "dev": {"depth": 5, "at_start": False},
                "optim": {"steps": 3, "batch_size": 2, "lr": 0.02, "save_every": 100, "seed": seed},
                "eval_sets": [],
                "device": "cpu",
            }
        )
        run = tmp_path_factory.mktemp("soup") / f"seed{seed}"
        train(spec, run)
        out.append(run)
    return out


def _state(folder: Path, name: str = TRAINABLE_FILE) -> dict[str, torch.Tensor]:
    return load_file(str(folder / name))


def test_soup_is_the_mean_and_loads_as_a_run(runs: list[Path], tmp_path: Path) -> None:
    out = soup(runs, tmp_path / "soup")
    a, b, s = (_state(r / "adapter") for r in [*runs, out])
    assert set(s) == set(a) and len(s) == 2  # attn.v and mlp.up of layer 1 (no biases), none else
    for key in s:
        assert not torch.equal(a[key], b[key])  # two seeds trained apart
        torch.testing.assert_close(s[key], (a[key] + b[key]) / 2)
    ha, hb, hs = (_state(r / "adapter", HEAD_FILE) for r in [*runs, out])
    for key in hs:
        torch.testing.assert_close(hs[key], (ha[key] + hb[key]) / 2)
    recipe = json.loads((out / SOUP_FILE).read_text())
    assert [p["weight"] for p in recipe["ingredients"]] == [1.0, 1.0]
    scores = load_run_scorer(out)[0].score(PAIRS)
    assert scores != load_run_scorer(runs[0])[0].score(PAIRS)
    # it scores as seed 0's model with the averaged weights and head put in by hand (types alone were checked)
    by_hand = load_run_scorer(runs[0])[0]
    by_hand.model.load_state_dict({k: (a[k] + b[k]) / 2 for k in s}, strict=False)  # type: ignore[attr-defined]
    by_hand.head.load_state_dict({k: (ha[k] + hb[k]) / 2 for k in hs})  # type: ignore[attr-defined]
    assert scores == pytest.approx(by_hand.score(PAIRS), abs=1e-5)


def test_weights_and_checkpoint_folders(runs: list[Path], tmp_path: Path) -> None:
    """A checkpoint folder inside a run is an ingredient; weight 3:1 gives the 3:1 mean."""
    ckpt = runs[1] / "checkpoints" / "checkpoint-3"
    out = soup([runs[0] / "adapter", ckpt], tmp_path / "soup", weights=[3, 1])
    a, b, s = _state(runs[0] / "adapter"), _state(ckpt), _state(out / "adapter")
    for key in s:
        torch.testing.assert_close(s[key], 0.75 * a[key] + 0.25 * b[key])
    assert json.loads((out / SOUP_FILE).read_text())["ingredients"][1]["run"] == str(runs[1])


def test_bad_soups_fail_clearly_and_write_nothing(runs: list[Path], make_spec, tmp_path: Path) -> None:
    out = tmp_path / "soup"
    with pytest.raises(InputError, match="at least two"):
        soup(runs[:1], out)
    with pytest.raises(InputError, match="3 weights for 2"):
        soup(runs, out, weights=[1, 1, 1])
    for w in (float("nan"), float("inf")):  # wrote a NaN soup before
        with pytest.raises(InputError, match="weights must be finite"):
            soup(runs, out, weights=[w, 1.0])
    before = sorted(p.name for p in runs[0].iterdir())
    for inside in (runs[0], runs[0] / "adapter", runs[0].parent):  # --overwrite would delete an ingredient
        with pytest.raises(InputError, match="would replace or lie inside the input"):
            soup(runs, inside, overwrite=True)
    assert sorted(p.name for p in runs[0].iterdir()) == before
    with pytest.raises(InputError, match="neither a training run"):
        soup([runs[0], tmp_path], out)
    lora = tmp_path / "lora"
    train(
        make_spec(
            scorer="linear-head",
            method={"name": "freeze", "layers": "1", "targets": ["attn.v"], "full_weights": False},
        ),
        lora,
    )
    with pytest.raises(InputError, match="'method' differs"):
        soup([runs[0], lora], out)
    other = tmp_path / "other"
    train(make_spec(scorer="query-likelihood", objective="ql-nll", method=FULL), other)
    with pytest.raises(InputError, match="'scorer' differs"):
        soup([runs[0], other], out)
    prompted = tmp_path / "prompted"  # the same run's spec with another system prompt
    prompted.mkdir()
    for f in runs[1].iterdir():
        if f.is_dir():
            shutil.copytree(f, prompted / f.name)
        else:
            (prompted / f.name).write_bytes(f.read_bytes())
    data = yaml.safe_load((runs[1] / "spec.yaml").read_text())
    (prompted / "spec.yaml").write_text(yaml.safe_dump({**data, "system_prompt": "You are a pirate."}))
    with pytest.raises(InputError, match="'system_prompt' differs"):
        soup([runs[0], prompted], out)  # accepted, and scored with the first's prompt, before
    bad = tmp_path / "bad"  # a damaged ingredient: one tensor of another shape
    bad_adapter = bad / "adapter"
    bad_adapter.mkdir(parents=True)
    (bad / "spec.yaml").write_text((runs[1] / "spec.yaml").read_text())
    state = _state(runs[1] / "adapter")
    key = sorted(state)[0]
    state[key] = torch.zeros(2, 2)
    save_file(state, str(bad_adapter / TRAINABLE_FILE))
    (bad_adapter / HEAD_FILE).write_bytes((runs[1] / "adapter" / HEAD_FILE).read_bytes())
    with pytest.raises(InputError, match=f"'{key}' has shape"):
        soup([runs[0], bad / "adapter"], out)
    assert not out.exists() and not list(tmp_path.glob(".soup*"))  # nothing half-written


def test_lora_soup_is_the_exact_mean_of_the_updates(make_spec, tmp_path: Path) -> None:
    """Two LoRA seeds (r=4, alpha 8), weighted 1:3: the soup is one adapter of rank 8 whose merged
    weights are the weighted mean of the two merged models."""
    runs = []
    for seed in (0, 1):
        run = tmp_path / f"lora{seed}"
        spec = make_spec(train={"seed": seed}, optim={"seed": seed})
        train(spec, run)
        runs.append(run)
    out = soup(runs, tmp_path / "soup", weights=[1, 3])
    config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (8, 8)
    assert run_spec(out).method.rank == 8  # type: ignore[attr-defined]
    w0, w1, ws = (merged(load_run_scorer(r)[0].model).state_dict() for r in [*runs, out])
    changed = 0
    for key in ws:
        torch.testing.assert_close(ws[key], 0.25 * w0[key] + 0.75 * w1[key], atol=1e-6, rtol=1e-5)
        changed += int(not torch.equal(w0[key], w1[key]))
    assert changed >= 2  # the LoRA targets moved, differently per seed
    cfg = json.loads((runs[0] / "adapter" / "adapter_config.json").read_text())
    (runs[1] / "best" / "adapter_config.json").write_text(json.dumps({**cfg, "use_dora": True}))
    with pytest.raises(InputError, match="only plain LoRA adapters.*use_dora"):
        soup(runs, tmp_path / "dora")


def test_cli_soup(runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], invoke) -> None:
    out = tmp_path / "s"
    assert invoke("soup", *map(str, runs), "--out", str(out)) in (0, None)
    assert "2 tensors averaged" in capsys.readouterr().out
    assert "rankscope soup" in (out / "adapter" / "README.md").read_text()  # the card names the command
    assert invoke("soup", *map(str, runs), "--out", str(out)) == 2  # never overwrites silently
    assert "exists and is not empty" in capsys.readouterr().err
    weights = ("--weight", "0", "--weight", "0")
    assert invoke("soup", *map(str, runs), "--out", str(tmp_path / "t"), *weights) == 2
    assert "not all zero" in capsys.readouterr().err
