"""The one place that loads trained runs and exported rerankers back into scorers.

A run folder (rankscope train --out) holds spec.yaml, adapter/ (the final state: PEFT format, or trained
weights plus head.safetensors), best/ (the best checkpoint by the dev measure, the default everywhere a
run is loaded) and checkpoints/; an export folder holds a merged model and rankscope.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from pydantic import ValidationError

from rankscope.config import ExperimentSpec, read_yaml, spec_from_dict, stored_spec_data
from rankscope.errors import InputError
from rankscope.fields import KEEP_DEFAULT_SYSTEM
from rankscope.io import read_weights
from rankscope.methods import get_method, load_trained, prepare
from rankscope.methods.registry import PEFT_CONFIG, PEFT_WEIGHTS, merged, method_scorer, spec_scorer
from rankscope.models.loading import load_backbone
from rankscope.scorers.base import Scorer
from rankscope.scorers.registry import build_scorer, get_scorer

HEAD_FILE = "head.safetensors"
INFO_FILE = "reranker.json"
EXPORT_INFO = "rankscope.json"
BEST_DIR = "best"
SOUP_FILE = "soup.json"
"""A soup's record of its ingredients and weights (rankscope.train.soup)."""


def run_spec(run_dir: str | Path) -> ExperimentSpec:
    path = Path(run_dir) / "spec.yaml"
    if not path.is_file():
        raise InputError("not a training run folder (no spec.yaml)", run_dir)
    return spec_from_dict(stored_spec_data(read_yaml(path)), path, check_files=False, stored=True)


def load_head(scorer: Scorer, folder: Path) -> None:
    """Load a trained scoring head (linear-head, cross-encoder, a method's prompter) into `scorer.head`."""
    head = getattr(scorer, "head", None)
    if head is None:
        return
    if not (folder / HEAD_FILE).is_file():
        raise InputError(f"the scorer needs its trained head ({HEAD_FILE})", folder)
    device = next(head.parameters()).device
    head.load_state_dict({k: v.to(device) for k, v in read_weights(folder / HEAD_FILE).items()})


def saved_states(out: Path, final_step: int | None) -> dict[int, Path]:
    """step -> folder of every saved state still on disk: checkpoints, and the final adapter."""
    states: dict[int, Path] = {}
    ckpts = out / "checkpoints"
    if ckpts.is_dir():
        for p in ckpts.glob("checkpoint-*"):
            if p.is_dir() and p.name.split("-")[-1].isdigit():
                states[int(p.name.split("-")[-1])] = p
    if final_step is not None and (out / "adapter").is_dir():
        states[final_step] = out / "adapter"
    return states


def run_inputs(run_dir: str | Path | None, checkpoint: str | Path | None = None) -> list[Path | str]:
    """What scoring with a trained run reads: the run folder, the checkpoint folder (which may lie
    elsewhere) and the base model; an output must not replace any of them. A run that cannot be read
    gives what is known (its loading names the problem)."""
    if run_dir is None:
        return []
    found: list[Path | str] = [Path(run_dir)]
    try:
        found.append(adapter_folder(run_dir, checkpoint))
        found.append(run_spec(run_dir).model)
    except InputError:
        pass
    return found


def adapter_folder(run_dir: str | Path, checkpoint: str | Path | None = None) -> Path:
    """The trained state to load: by default RUN/best (the best checkpoint, summary.json's
    best_checkpoint), else RUN/adapter for runs without one; `checkpoint` picks another: "best", "final"
    (RUN/adapter), a checkpoint folder, or a step number / name under RUN/checkpoints."""
    run_dir = Path(run_dir)
    if checkpoint is None:
        folder = run_dir / BEST_DIR if (run_dir / BEST_DIR).is_dir() else run_dir / "adapter"
    elif str(checkpoint) in ("final", "adapter"):
        folder = run_dir / "adapter"
    elif str(checkpoint) == BEST_DIR:
        folder = run_dir / BEST_DIR
    else:
        name = str(checkpoint)
        folder = Path(name)
        if isinstance(checkpoint, int) or name.isdigit() or not folder.is_dir():  # a step is never a folder
            folder = (
                run_dir / "checkpoints" / (name if name.startswith("checkpoint-") else f"checkpoint-{name}")
            )
    if not folder.is_dir():
        if folder.parent.name == "checkpoints":
            steps = ", ".join(map(str, sorted(saved_states(folder.parent.parent, None)))) or "none"
            raise InputError(
                f"no such checkpoint (the run keeps checkpoints: {steps}; or best, final)", folder
            )
        raise InputError("no trained adapter here", folder)
    return folder


def load_run_scorer(
    run_dir: str | Path,
    adapter: str | Path | None = None,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    max_query_tokens: int | None = None,
    max_doc_tokens: int | None = None,
    merge: bool = False,
) -> tuple[Scorer, ExperimentSpec]:
    """The scorer of a trained run, in eval mode: its best checkpoint by default, or `adapter` ("final",
    "best", a checkpoint folder, step number or name; see adapter_folder). `max_query_tokens` and
    `max_doc_tokens` replace the spec's token budgets (e.g. longer documents than in training); the
    returned spec carries the budgets the scorer uses. `merge` writes LoRA adapters into the base weights
    before scoring, as `export` does: about half the CPU time of unmerged adapters, but in bf16 the
    merged weights are rounded, so scores move a little (docs/results.md, "Scoring with LoRA adapters
    unmerged"); a run without adapters scores as it is."""
    spec = with_budgets(run_spec(run_dir), max_query_tokens, max_doc_tokens)
    folder = adapter_folder(run_dir, adapter)
    kind = get_scorer(spec.scorer, "scorer").kind
    bb = load_backbone(
        spec.model, kind=kind, dtype=dtype, device=device, trust_remote_code=spec.trust_remote_code
    )
    if (folder / PEFT_CONFIG).is_file():
        from peft import PeftModel

        read_weights(folder / PEFT_WEIGHTS)  # a damaged file is one line naming it, not PEFT's traceback
        model = PeftModel.from_pretrained(bb.model, str(folder))  # PEFT's own format, loaded the PEFT way
    else:
        model = load_trained(prepare(bb.model, spec.method), folder)
    if merge:
        model = merged(model)
    scorer = method_scorer(spec, model, bb.tokenizer)
    load_head(scorer, folder)
    model.eval()
    return scorer, spec


def with_budgets(
    spec: ExperimentSpec, max_query_tokens: int | None, max_doc_tokens: int | None
) -> ExperimentSpec:
    """`spec` with the given token budgets in place of its own (None keeps one), validated as the spec's
    own fields are."""
    update = {
        k: v
        for k, v in (("max_query_tokens", max_query_tokens), ("max_doc_tokens", max_doc_tokens))
        if v is not None
    }
    if not update:
        return spec
    try:
        return ExperimentSpec.model_validate({**spec.dump(), **update}, context={"stored": True})
    except ValidationError as e:
        field = "--" + str(e.errors()[0]["loc"][0]).replace("_", "-")
        raise InputError(e.errors()[0]["msg"], field) from None


def zero_shot_scorer(
    spec: ExperimentSpec, adapter: Path, device: str = "cpu", dtype: torch.dtype = torch.float32
) -> Scorer:
    """The spec's scorer over the untouched base model; a trained scoring head (linear-head,
    cross-encoder) is loaded too, as in the adapter ablations, so only the backbone differs."""
    bb = load_backbone(spec.model, kind=get_scorer(spec.scorer, "scorer").kind, dtype=dtype, device=device)
    scorer = spec_scorer(spec, bb.model, bb.tokenizer)
    if get_method(spec.method.name).scorer is None:  # a method's own module (Q-PEFT) is not a head
        load_head(scorer, adapter)
    bb.model.eval()
    return scorer


def load_exported_scorer(
    folder: str | Path,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    max_query_tokens: int | None = None,
    max_doc_tokens: int | None = None,
    system_prompt: str | None = None,
    trust_remote_code: bool = False,
) -> Scorer:
    """The scorer of a folder written by `export`, with the export's token budgets and system prompt
    unless others are given; a model with its own code loads only with `trust_remote_code`."""
    folder = Path(folder)
    info_path = folder / EXPORT_INFO
    if not info_path.is_file():
        raise InputError(f"not an exported reranker ({EXPORT_INFO} missing)", folder)
    info = json.loads(info_path.read_text())
    kind = get_scorer(info["scorer"]).kind
    bb = load_backbone(folder, kind=kind, dtype=dtype, device=device, trust_remote_code=trust_remote_code)
    settings = export_settings(info, max_query_tokens, max_doc_tokens, system_prompt)
    scorer = build_scorer(info["scorer"], bb.model, bb.tokenizer, None, *settings)
    load_head(scorer, folder)
    return scorer


def exported_scorer(model: str | Path) -> str | None:
    """The scorer an export (`rankscope export`) was trained with, from its rankscope.json: for the export
    folder itself, or a .gguf file written into one (`--format gguf`); None for any other model."""
    path = Path(str(model))
    info = path.parent / EXPORT_INFO if path.suffix == ".gguf" else path / EXPORT_INFO
    if not info.is_file():
        return None
    try:
        return str(json.loads(info.read_text())["scorer"])
    except (ValueError, KeyError, TypeError):
        return None


def export_settings(
    info: dict, max_query_tokens: int | None, max_doc_tokens: int | None, system_prompt: str | None
) -> tuple[int | None, int | None, str | None]:
    """The query and document budgets and the system prompt to score an export with (its rankscope.json
    as `info`): those given, else the export's own; one exported before the system_prompt key was trained
    with the template's default prompt, so it keeps it."""
    return (
        max_query_tokens or info.get("max_query_tokens"),
        max_doc_tokens or info.get("max_doc_tokens"),
        info.get("system_prompt", KEEP_DEFAULT_SYSTEM) if system_prompt is None else system_prompt,
    )
