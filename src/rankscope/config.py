"""Experiment specs: YAML validated by pydantic; an unknown or wrong field is refused, naming it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

import rankscope.methods  # noqa: F401  (registers the built-in methods and their configs)
from rankscope.errors import InputError
from rankscope.fields import (
    DOC_TOKENS,
    KEEP_DEFAULT_SYSTEM,
    QUERY_TOKENS,
    STUDENT_WEIGHT,
    TEMPERATURE,
    DatasetName,
    Strict,
    is_stored,
)
from rankscope.methods.freeze import FreezeMethod
from rankscope.methods.lora import LoraMethod
from rankscope.methods.registry import METHOD_CONFIGS, MethodConfig

__all__ = [
    "ExperimentSpec",
    "FreezeMethod",
    "LoraMethod",
    "MethodConfig",
    "NegativeFilter",
    "TeacherConfig",
    "TeacherMember",
    "load_spec",
    "spec_from_dict",
]


def _check_scorer(name: str) -> str:
    from rankscope.scorers.registry import SCORERS

    entry = SCORERS.get(name)
    if entry is None or entry.reranker is None:
        trainable = [n for n, e in SCORERS.items() if e.reranker is not None]
        raise ValueError(f"unknown or untrainable scorer '{name}': expected one of {', '.join(trainable)}")
    return name


def _check_objective(name: str, info: ValidationInfo) -> str:
    from rankscope.train.losses import LOSSES

    if name not in LOSSES and not is_stored(info):
        raise ValueError(f"unknown objective '{name}': expected one of {', '.join(LOSSES)}")
    return name


def objectives_for(scorer: str) -> list[str]:
    """Which objectives a scorer can be trained with: the losses that accept its kind of score."""
    from rankscope.scorers.registry import get_scorer
    from rankscope.train.losses import objectives_for as for_kind

    return for_kind(get_scorer(scorer, "scorer").scores)


def needs_negatives(objective: str) -> bool:
    from rankscope.train.losses import LOSSES

    return LOSSES[objective].needs_negatives


def needs_teacher(objective: str) -> bool:
    from rankscope.train.losses import LOSSES

    return LOSSES[objective].needs_teacher


def _check_teacher_scorer(name: str, info: ValidationInfo) -> str:
    from rankscope.scorers.registry import SCORERS

    entry = SCORERS.get(name)
    pointwise = [n for n, e in SCORERS.items() if e.scores != "ab"]
    if (entry is None and not is_stored(info)) or (entry is not None and entry.scores == "ab"):
        raise ValueError(
            f"unknown or pairwise teacher scorer '{name}': expected one of {', '.join(pointwise)}"
        )
    return name


def _objective_list(value: Any) -> Any:
    """`[ql-nll, ranknet]` is short for `[{name: ql-nll}, {name: ranknet}]`."""
    if isinstance(value, list):
        return [{"name": v} if isinstance(v, str) else v for v in value]
    return value


ScorerName = Annotated[str, AfterValidator(_check_scorer)]
ObjectiveName = Annotated[str, AfterValidator(_check_objective)]


def _parse_method(value: Any, handler: ValidatorFunctionWrapHandler) -> MethodConfig:
    """Validate `method` with the config class registered under its `name`."""
    if isinstance(value, MethodConfig):
        return value
    if not isinstance(value, dict):
        raise ValueError("expected a mapping with a 'name' (lora, freeze, ...)")
    name = value.get("name")
    if name not in METHOD_CONFIGS:
        raise ValueError(f"unknown method '{name}': expected one of {', '.join(METHOD_CONFIGS)}")
    return METHOD_CONFIGS[name].model_validate(value)


class TeacherMember(Strict):
    """One scorer of a teacher ensemble: a model with a zero-shot scorer, or a trained run folder."""

    model: str | None = None
    scorer: Annotated[str, AfterValidator(_check_teacher_scorer)] | None = None
    run: str | None = None
    """a rankscope training run folder: its best (or final) adapter scores."""
    weight: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _one_source(self) -> TeacherMember:
        if (self.run is None) == (self.model is None or self.scorer is None):
            raise ValueError("give either model and scorer, or run")
        if self.run is not None and (self.model or self.scorer):
            raise ValueError("a run brings its own model and scorer: drop model/scorer")
        return self

    @property
    def label(self) -> str:
        return f"run:{self.run}" if self.run else f"{self.scorer}:{self.model}"


class TeacherConfig(Strict):
    """Teacher scores for distillation and false-negative filtering: a weighted ensemble of scorers
    (each member's scores normalised within each query, then summed), or a file of scores (jsonl rows
    {query, doc, score} with texts, or a TREC run). Computed once per run, cached in teacher_scores.jsonl."""

    scorers: list[TeacherMember] = []
    file: str | None = None
    reuse: list[str] = []
    """other runs' teacher caches (a run folder or its teacher_scores.jsonl) read before scoring, so the
    seeds of one recipe score their pairs once; each must be made by the same members, and is trusted to
    come from the same document budget (max_doc_tokens); the dtype is in the members' labels
    (teacher.dtype)."""
    normalise: Literal["zscore", "none"] = "zscore"
    temperature: float = Field(TEMPERATURE, gt=0, description="softmax temperature of the kl objective")
    scale: float = Field(
        1.0,
        gt=0,
        description="multiplies the teacher's scores in the distillation losses: z-scores spread by 1 within "
        "a query, and a student whose scores spread wider (a bi-encoder's 20 x cosine, about 3 over BM25 "
        "candidates) is otherwise pulled to compress them",
    )
    student_weight: float = Field(
        STUDENT_WEIGHT, gt=0, le=1, description="the student's weight w in the residual-listwise objective"
    )
    dtype: Literal["float32", "auto", "bfloat16"] = "float32"
    """the members' weights while they score: float32 (the same scores on every machine), or auto (bf16 on
    CUDA and on CPUs with native bf16, where bf16 runs faster), or bfloat16. A member scored in bf16 is
    recorded as LABEL@bfloat16 in the cache, so caches of the two are never mixed."""

    @model_validator(mode="after")
    def _one_source(self) -> TeacherConfig:
        if bool(self.scorers) == (self.file is not None):
            raise ValueError("give either scorers (an ensemble) or file")
        return self


class NegativeFilter(Strict):
    """Drop mined negatives the teacher scores at or above (positive - margin): likely false negatives."""

    margin: float = 0.0


class WeightedObjective(Strict):
    name: ObjectiveName
    weight: float = Field(1.0, gt=0)


class TrainData(Strict):
    """Where training groups come from: registered datasets (their qrels + candidates) and/or files."""

    datasets: list[DatasetName] = []
    files: list[str] = []
    """MS MARCO triples (.tsv) or FlagEmbedding hard-negative jsonl (query/pos/neg)."""
    candidates: str = "bm25"
    """candidate set that hard negatives come from; "bm25" mines them over the corpus when no set is named."""
    negatives: Literal["hard", "graded", "random"] = "hard"
    """hard: candidates judged 0 or unjudged below the best positive (all unjudged ones when no positive
    is among the candidates: 74 of SciFact's 809 training queries); graded: those and, for a positive of
    grade g, candidates judged 1..g-1, labelled with their grade (the same as hard on binary judgements);
    random: from the corpus."""
    group_size: int = Field(8, ge=1, description="1 positive + (group_size - 1) negatives")
    positives_per_query: int = Field(4, ge=1)
    min_relevance: int = Field(1, ge=1, description="lowest grade that counts as a positive")
    max_queries: int | None = Field(None, ge=1)
    """at most this many queries per source, drawn with `seed`: seeds of a capped recipe train on different
    queries (the sample is part of what a seed varies), unlike the held-out split (`split_seed`)."""
    dev_fraction: float = Field(0.1, ge=0, lt=1)
    seed: int = 0
    split_seed: int = 0
    """which queries dev_fraction holds out; apart from `seed` (the order of the groups and the negatives
    sampled), so that seeds of one recipe hold out, and are compared on, the same queries."""
    filter_negatives: NegativeFilter | None = None
    """with a teacher: drop likely false negatives from the training groups (refilled from the query's
    other negatives; groups that cannot be refilled are dropped)."""

    @model_validator(mode="after")
    def _some_data(self) -> TrainData:
        if not self.datasets and not self.files:
            raise ValueError("give training data: datasets and/or files")
        return self


class DevConfig(Strict):
    """Reranked at every checkpoint; no dataset means the held-out training queries."""

    dataset: DatasetName | None = None
    candidates: str = "bm25"
    depth: int = Field(30, ge=1)
    max_queries: int | None = Field(20, ge=1)
    pairwise_top: int = Field(10, ge=2)
    at_start: bool = True
    """also evaluate before the first step (the zero-shot row of metrics.jsonl)."""
    select_by: str | None = None
    """measure that picks the best checkpoint (RUN/best): a dev measure (default the first, nDCG@10) or
    dev_loss (lowest wins)."""


class OptimConfig(Strict):
    steps: int = Field(100, ge=1)
    batch_size: int = Field(4, ge=1, description="groups per step per device")
    grad_accum: int = Field(1, ge=1)
    lr: float = Field(1e-4, gt=0)
    warmup: int = Field(0, ge=0, description="warm-up steps")
    scheduler: Literal["linear", "cosine", "constant"] = "linear"
    """the learning rate after `warmup` steps of linear warm-up: decays to 0 (linear, cosine) or stays."""
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    bf16: Literal["auto"] | bool = "auto"
    gradient_checkpointing: bool = False
    save_every: int = Field(50, ge=1)
    keep_checkpoints: int = Field(3, ge=1)
    eval_every: int | None = Field(None, ge=1, description="extra dev evaluations between checkpoints")
    report_to: Literal["auto"] | list[Literal["tensorboard", "wandb", "mlflow", "none"]] = "auto"
    """where the Trainer also logs loss, learning rate and dev metrics: auto is TensorBoard (RUN/tensorboard)
    when installed; W&B runs in offline mode unless WANDB_MODE says otherwise."""
    seed: int = 0


class ExperimentSpec(Strict):
    model: str
    scorer: ScorerName
    objective: Annotated[ObjectiveName | list[WeightedObjective], BeforeValidator(_objective_list)]
    method: Annotated[MethodConfig, WrapValidator(_parse_method)] = LoraMethod()
    train: TrainData
    dev: DevConfig = DevConfig()
    optim: OptimConfig = OptimConfig()
    teacher: TeacherConfig | None = None
    eval_sets: list[DatasetName] = ["dl19", "scifact-test"]
    """evaluation datasets that must never reach training (checked by query id and text)."""
    max_query_tokens: int = Field(QUERY_TOKENS, ge=1)
    max_doc_tokens: int = Field(DOC_TOKENS, ge=1)
    device: str = "auto"
    trust_remote_code: bool = False
    """run the model's own code from its folder or the Hub (off unless asked for)."""
    system_prompt: str | None = None
    """system message of chat prompts (yes-no, linear-head, pairwise): None drops the chat template's own
    default (rankscope's default since it measured better), "@default" keeps it, "" is an empty one."""

    @property
    def objectives(self) -> list[WeightedObjective]:
        if isinstance(self.objective, list):
            return self.objective
        return [WeightedObjective.model_construct(name=self.objective)]  # the name is validated already

    @model_validator(mode="after")
    def _fits(self, info: ValidationInfo) -> ExperimentSpec:
        from rankscope.train.losses import LOSSES

        allowed = objectives_for(self.scorer)
        if not self.objectives:
            raise ValueError("objective: name at least one objective")
        for obj in self.objectives:
            if obj.name not in LOSSES and is_stored(info):  # a custom objective of a trained run: not needed
                continue
            if obj.name not in allowed:
                fits = f"use one of {', '.join(allowed)}" if allowed else "no registered objective fits it"
                raise ValueError(f"objective: '{obj.name}' does not fit scorer '{self.scorer}': {fits}")
            if needs_negatives(obj.name) and self.train.group_size < 2:
                raise ValueError(f"objective: '{obj.name}' needs negatives: set train.group_size >= 2")
            if needs_teacher(obj.name) and self.teacher is None:
                raise ValueError(f"objective: '{obj.name}' distils a teacher: add a teacher section")
        if self.train.filter_negatives is not None:
            if self.teacher is None:
                raise ValueError("train.filter_negatives: needs a teacher section to score the negatives")
            if self.train.group_size < 2:
                raise ValueError("train.filter_negatives: needs groups with negatives (group_size >= 2)")
        if self.method.scorers is not None and self.scorer not in self.method.scorers:
            raise ValueError(
                f"method: '{self.method.name}' works with scorer {' or '.join(self.method.scorers)}, "
                f"not '{self.scorer}'"
            )
        return self

    def dump(self) -> dict[str, Any]:
        """Plain data (every default filled in) for DIR/spec.yaml."""
        return self.model_dump(mode="json", serialize_as_any=True)


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "spec"


_UNION_TAG = re.compile(
    r"^(function-(after|before|wrap|plain)|list|dict|tuple|set|frozenset|nullable|union|tagged-union"
    r"|lax-or-strict|json-or-python|chain)\[|^(str|int|float|bool)$"
)
"""pydantic's names for the forms of a field that takes several (`objective`: a name or a list)"""


def format_errors(err: ValidationError) -> str:
    """'field.path: message' for each pydantic error, joined by '; '. A field that takes one of several
    forms is named without pydantic's tags for the forms, and where one form got further (into the value,
    or to checking it), the other forms' "Input should be ..." type errors at or above it are left out."""
    found: list[tuple[tuple[Any, ...], str]] = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and _UNION_TAG.search(p)))
        found.append((loc, str(e["msg"]).removeprefix("Value error, ")))
    out = []
    for loc, msg in found:
        further = any(  # another form of this field got further: into the value, or checking it
            o[: len(loc)] == loc and (len(o) > len(loc) or not m.startswith("Input should be"))
            for o, m in found
        )
        if msg.startswith("Input should be") and further:
            continue
        line = f"{_where(loc)}: {msg}" if loc else msg
        if line not in out:
            out.append(line)
    return "; ".join(out)


def resolve_path(value: str, base: Path) -> str:
    """`data:NAME` -> the shared data folder; a relative path -> beside the spec file, if it is there."""
    if value.startswith("data:"):
        from rankscope.data.registry import resolve_data_path

        return str(resolve_data_path(value))
    p = Path(value).expanduser()
    if not p.is_absolute() and (base / p).exists():
        return str((base / p).resolve())
    return str(p.resolve()) if p.exists() else value


def _resolved(value: str, base: Path, field: str, source: str | Path) -> str:
    """`resolve_path`, its refusals (a `data:` path outside the data folder) naming the spec and field."""
    try:
        return resolve_path(value, base)
    except InputError as e:
        raise InputError(f"{field}: {e}", source) from None


def resolve_model_path(value: str, base: Path) -> str:
    """A model folder (with config.json) or .gguf file beside the spec file -> its absolute path, as for
    train.files; an alias, a Hub id or any other value is kept."""
    p = Path(value).expanduser()
    if p.is_absolute():
        return value
    here = base / p
    if (here / "config.json").is_file() or (here.is_file() and here.suffix.lower() == ".gguf"):
        return str(here.resolve())
    return value


def stored_spec_data(data: Any) -> Any:
    """A run's stored spec.yaml as plain data: one written before `system_prompt` existed was trained
    with the chat template's default system prompt, so it keeps it (`KEEP_DEFAULT_SYSTEM`)."""
    if isinstance(data, dict) and "system_prompt" not in data:
        return {**data, "system_prompt": KEEP_DEFAULT_SYSTEM}
    return data


def spec_from_dict(
    data: Any,
    source: str | Path = "spec",
    base: Path | None = None,
    check_files: bool = True,
    stored: bool = False,
) -> ExperimentSpec:
    """Validate plain data as a spec; errors become one InputError naming `source` and the field.
    `stored`: a trained run's spec.yaml, whose dataset and objective names need not be registered now."""
    if not isinstance(data, dict):
        raise InputError("expected a YAML mapping of spec fields", source)
    try:
        spec = ExperimentSpec.model_validate(data, context={"stored": stored})
    except ValidationError as e:
        raise InputError(format_errors(e), source) from None
    base = base or Path.cwd()
    spec.model = resolve_model_path(spec.model, base)
    files = [_resolved(f, base, f"train.files.{i}", source) for i, f in enumerate(spec.train.files)]
    for i, f in enumerate(files):
        if check_files and not Path(f).is_file():
            raise InputError(f"train.files.{i}: no such file '{spec.train.files[i]}'", source)
    spec.train.files = files
    if spec.teacher is not None and spec.teacher.file is not None:
        spec.teacher.file = _resolved(spec.teacher.file, base, "teacher.file", source)
        if check_files and not Path(spec.teacher.file).is_file():
            raise InputError(f"teacher.file: no such file '{spec.teacher.file}'", source)
    if spec.teacher is not None:
        for m in spec.teacher.scorers:
            if m.run is not None:
                m.run = resolve_path(m.run, base)
            if m.model is not None:
                m.model = resolve_model_path(m.model, base)
        spec.teacher.reuse = [resolve_path(r, base) for r in spec.teacher.reuse]  # beside the spec file
    return spec


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate a YAML experiment spec."""
    p = Path(path)
    if not p.is_file():
        raise InputError("no such spec file", p)
    return spec_from_dict(read_yaml(p), p, p.resolve().parent)


def read_yaml(path: str | Path) -> Any:
    """A YAML file's content; text that is not UTF-8 or not YAML is an InputError naming the file (and
    the line)."""
    p = Path(path)
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {e.start})", p) from None
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        raise InputError(
            f"invalid YAML ({getattr(e, 'problem', e)})", p, None if line is None else line + 1
        ) from None
