"""Scorers from trained runs, and `rankscope export`: LoRA merged into a standalone Hugging Face folder."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file, save_file

from rankscope.config import ExperimentSpec, spec_from_dict
from rankscope.errors import InputError
from rankscope.io import atomic_dir
from rankscope.methods import get_method, load_trained, prepare
from rankscope.methods.registry import merged
from rankscope.models.loading import load_backbone
from rankscope.scorers.base import Scorer
from rankscope.train.scoring import build_scorer, method_scorer
from rankscope.train.trainer import HEAD_FILE

EXPORT_INFO = "rankscope.json"


def run_spec(run_dir: str | Path) -> ExperimentSpec:
    path = Path(run_dir) / "spec.yaml"
    if not path.is_file():
        raise InputError("not a training run folder (no spec.yaml)", run_dir)
    return spec_from_dict(yaml.safe_load(path.read_text()), path, check_files=False)


def _load_head(scorer: Scorer, folder: Path) -> None:
    head = getattr(scorer, "head", None)
    if head is None:
        return
    if not (folder / HEAD_FILE).is_file():
        raise InputError(f"the scorer needs its trained head ({HEAD_FILE})", folder)
    device = next(head.parameters()).device
    head.load_state_dict({k: v.to(device) for k, v in load_file(str(folder / HEAD_FILE)).items()})


def load_run_scorer(
    run_dir: str | Path,
    adapter: str | Path | None = None,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Scorer, ExperimentSpec]:
    """The scorer of a trained run (its final adapter, or `adapter`: a checkpoint folder), in eval mode."""
    spec = run_spec(run_dir)
    folder = Path(adapter) if adapter else Path(run_dir) / "adapter"
    if not folder.is_dir():
        raise InputError("no trained adapter here", folder)
    kind = "encoder" if spec.scorer == "cross-encoder" else "causal"
    bb = load_backbone(spec.model, kind=kind, dtype=dtype, device=device)
    if (folder / "adapter_config.json").is_file():
        from peft import PeftModel

        model = PeftModel.from_pretrained(bb.model, str(folder))  # PEFT's own format, loaded the PEFT way
    else:
        model = load_trained(prepare(bb.model, spec.method), folder)
    scorer = method_scorer(spec, model, bb.tokenizer)
    _load_head(scorer, folder)
    model.eval()
    return scorer, spec


def load_exported_scorer(
    folder: str | Path, device: str = "cpu", dtype: torch.dtype = torch.float32
) -> Scorer:
    """The scorer of a folder written by `export`."""
    folder = Path(folder)
    info_path = folder / EXPORT_INFO
    if not info_path.is_file():
        raise InputError(f"not an exported reranker ({EXPORT_INFO} missing)", folder)
    info = json.loads(info_path.read_text())
    kind = "encoder" if info["scorer"] == "cross-encoder" else "causal"
    bb = load_backbone(folder, kind=kind, dtype=dtype, device=device)
    scorer = build_scorer(
        info["scorer"], bb.model, bb.tokenizer, None, info["max_query_tokens"], info["max_doc_tokens"]
    )
    _load_head(scorer, folder)
    return scorer


def export(run_dir: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    """Merge the run's adapter into its base model and save a standalone folder (+ head, + rankscope.json)."""
    spec = run_spec(run_dir)
    if get_method(spec.method.name).scorer is not None:
        raise InputError(
            f"method '{spec.method.name}' scores through its own module, not merged weights: "
            "score with the run folder instead",
            run_dir,
        )
    scorer, spec = load_run_scorer(run_dir)
    model = merged(scorer.model)  # type: ignore[attr-defined]
    with atomic_dir(out, overwrite) as tmp:
        model.save_pretrained(tmp)
        scorer.tokenizer.save_pretrained(tmp)  # type: ignore[attr-defined]
        head = getattr(scorer, "head", None)
        if head is not None:
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}, str(tmp / HEAD_FILE)
            )
        info = {
            "scorer": spec.scorer,
            "max_query_tokens": spec.max_query_tokens,
            "max_doc_tokens": spec.max_doc_tokens,
            "trained_in": str(Path(run_dir).resolve()),
            "base": spec.model,
            "method": spec.method.name,
        }
        (tmp / EXPORT_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return Path(out)
