"""Model cards: RUN/adapter/README.md (and an export's README.md) say what the adapter is, what it was
trained on, how well it did on dev and evaluation data, and the command that made it."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

from rankscope.config import ExperimentSpec
from rankscope.methods.registry import PEFT_CONFIG

EVALS_DIR = "evals"
"""RUN/evals/NAME.json: evaluation-set metrics of the run, written by `rankscope rerank --run`."""


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _table(rows: list[dict[str, Any]], first: str) -> str:
    if not rows:
        return "_none recorded_\n"
    cols = [first, *[k for k in rows[-1] if k not in (first, "seconds")]]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")
    return "\n".join(out) + "\n"


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else ("" if v is None else str(v))


def is_hub_id(model: str) -> bool:
    """True for a Hugging Face Hub id (org/name), not a rankscope alias, a local folder or a .gguf file."""
    from rankscope.models.loading import ALIASES

    path = Path(model).expanduser()
    local = path.exists() or path.is_absolute() or model.startswith((".", "~")) or model.endswith(".gguf")
    return model not in ALIASES and not local and "/" in model


def _peft_snippet(model: str, auto: str, peft_auto: str) -> list[str]:
    """PEFT's own loading code: on the Hub id where the base is one (portable), else on the base folder
    that adapter_config.json records (a rankscope alias is no Hub id; the folder is this machine's)."""
    if is_hub_id(model):
        return [
            "from peft import PeftModel",
            f"from transformers import {auto}",
            "",
            f'base = {auto}.from_pretrained("{model}")',
            'model = PeftModel.from_pretrained(base, ".")  # this folder',
        ]
    return [
        f"from peft import {peft_auto}",
        "",
        f'model = {peft_auto}.from_pretrained(".")  # this folder, on the base folder it records',
    ]


def model_card(
    run_dir: Path, spec: ExperimentSpec, command: str | None = None, merged: bool = False, peft: bool = True
) -> str:
    """The card's Markdown, from the run's spec.yaml, metrics.jsonl, summary.json and evals/; `merged`
    for an export (the adapter merged into a plain model folder); `peft` when the card's folder is a PEFT
    adapter (LoRA), which PEFT loads on its own (full weights and Q-PEFT load with rankscope only)."""
    from rankscope.scorers.registry import get_scorer

    auto = "AutoModel" if get_scorer(spec.scorer).kind == "encoder" else "AutoModelForCausalLM"
    peft_auto = "AutoPeftModel" if auto == "AutoModel" else "AutoPeftModelForCausalLM"
    summary = (
        json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").is_file() else {}
    )
    sessions = summary.get("environment", [])  # the first session's command made the run, not a resume's
    first_command = sessions[0].get("command") if sessions else None
    if first_command is None and len(sessions) > 1:  # this process resumed a run whose start left no command
        command = "not recorded (the run was started from Python, or before rankscope recorded commands)"
    evals = [
        {"set": p.stem, **json.loads(p.read_text())} for p in sorted((run_dir / EVALS_DIR).glob("*.json"))
    ]
    data = [*spec.train.datasets, *[Path(f).name for f in spec.train.files]]
    method = spec.method.model_dump(mode="json")
    lines = [
        "---",
        f"base_model: {spec.model}",
        "library_name: " + ("transformers" if merged else "peft" if peft else "rankscope"),
        "tags: [rankscope, reranker, " + spec.scorer + ", " + spec.method.name + "]",
        "---",
        "",
        f"# {spec.scorer} reranker on {spec.model} ({spec.method.name})",
        "",
        *(
            [
                "Trained with rankscope. "
                + ("Load it as a plain model:" if merged else "Load it with PEFT:"),
                "",
                "```python",
                *(
                    [f"from transformers import {auto}", "", f'model = {auto}.from_pretrained(".")']
                    if merged
                    else _peft_snippet(spec.model, auto, peft_auto)
                ),
                "```",
                "",
                "or as a reranker: `rankscope.Reranker."
                + ('from_export(".")`.' if merged else f'from_run("{run_dir}")`.'),
            ]
            if merged or peft
            else [
                f"Trained with rankscope ({spec.method.name}: not a PEFT adapter). Load it as a reranker: "
                f'`rankscope.Reranker.from_run("{run_dir}")`, or merge it into a plain model folder with '
                "`rankscope export`.",
            ]
        ),
        "",
        "## Training",
        "",
        f"- base model: `{spec.model}`; scorer `{spec.scorer}`; objective "
        + ", ".join(f"{o.name} x{o.weight:g}" for o in spec.objectives),
        f"- method: `{json.dumps(method)}`",
        f"- data: {', '.join(data) or 'none'}; groups of {spec.train.group_size} "
        f"({spec.train.negatives} negatives), seed {spec.train.seed}",
        f"- steps: {summary.get('steps', spec.optim.steps)}, lr {spec.optim.lr:g}, "
        f"batch {spec.optim.batch_size} x accumulation {spec.optim.grad_accum}",
        f"- command: `{first_command or command or 'rankscope train SPEC --out ' + str(run_dir)}`",
        *[f"- resumed at step {e.get('step')}: `{e['command']}`" for e in sessions[1:] if e.get("command")],
        *[
            f"- environment from step {e.get('step')}: "
            + ", ".join(f"{k} {v}" for k, v in e.items() if k not in ("step", "command"))
            for e in sessions
        ],
        "",
        "## Dev metrics per checkpoint",
        "",
        _table(_jsonl(run_dir / "metrics.jsonl"), "step"),
        "## Evaluation sets",
        "",
        _table(evals, "set"),
        "## Spec",
        "",
        "```yaml",
        yaml.safe_dump(spec.dump(), sort_keys=False).rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def write_card(
    run_dir: Path, spec: ExperimentSpec, folder: Path | None = None, command: str | None = None
) -> Path:
    """Write the card into `folder` (default RUN/adapter) as README.md, atomically."""
    from rankscope.io import atomic_file

    folder = folder or run_dir / "adapter"
    target = folder / "README.md"
    with atomic_file(target) as tmp:
        tmp.write_text(model_card(run_dir, spec, command, peft=(folder / PEFT_CONFIG).is_file()))
    return target


def current_command() -> str:
    """The command line of this process, as a person would type it again."""
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else []
    return shlex.join(argv) if argv and argv[0] == "rankscope" else ""


def record_eval(run_dir: Path, name: str, metrics: dict[str, float], info: dict[str, Any]) -> Path:
    """Keep an evaluation of the run (RUN/evals/NAME.json) and refresh its model card."""
    from rankscope.io import atomic_file
    from rankscope.trained import run_spec

    path = run_dir / EVALS_DIR / f"{name}.json"
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps({**metrics, **info}, indent=2) + "\n")
    if (run_dir / "adapter").is_dir():
        write_card(run_dir, run_spec(run_dir))
    return path
