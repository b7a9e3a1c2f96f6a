"""`rankscope export`: a run's LoRA merged into a standalone Hugging Face folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from rankscope.errors import InputError
from rankscope.io import atomic_dir, check_apart
from rankscope.methods import get_method
from rankscope.methods.registry import merged
from rankscope.train.card import model_card
from rankscope.trained import EXPORT_INFO, HEAD_FILE, adapter_folder, load_run_scorer, run_spec


def export(
    run_dir: str | Path,
    out: str | Path,
    overwrite: bool = False,
    checkpoint: str | Path | None = None,
    extra: Callable[[Path, Any, Any], None] | None = None,
) -> Path:
    """Merge the run's adapter into its base model and save a standalone folder (+ head, + rankscope.json).
    The best checkpoint by default; `checkpoint` picks another ("final", a step, a folder). `extra(folder,
    merged model, tokenizer)` adds files (the GGUF export) before the folder is moved into place."""
    spec = run_spec(run_dir)
    check_apart(out, [run_dir])  # --overwrite would delete the run being exported
    if get_method(spec.method.name).scorer is not None:
        raise InputError(
            f"method '{spec.method.name}' scores through its own module, not merged weights: "
            "score with the run folder instead",
            run_dir,
        )
    folder = adapter_folder(run_dir, checkpoint)
    scorer, spec = load_run_scorer(run_dir, folder)
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
            "system_prompt": spec.system_prompt,
            "trained_in": str(Path(run_dir).resolve()),
            "checkpoint": str(folder.resolve()),
            "base": spec.model,
            "method": spec.method.name,
            "trust_remote_code": spec.trust_remote_code,  # loading it back runs the model's code: asked again
        }
        (tmp / EXPORT_INFO).write_text(json.dumps(info, indent=2) + "\n")
        (tmp / "README.md").write_text(model_card(Path(run_dir), spec, merged=True))
        if extra is not None:
            extra(tmp, model, scorer.tokenizer)  # type: ignore[attr-defined]
    return Path(out)
