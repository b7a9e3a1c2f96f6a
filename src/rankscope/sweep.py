"""`rankscope sweep SPEC --out DIR`: a grid of training runs, one after another, into DIR/runs/NAME, one row
per finished run in DIR/results.jsonl and a bar chart DIR/comparison.png.

A sweep spec is an experiment spec plus `grid:`, a mapping of dotted field paths to value lists, and
optionally `seeds:`, which runs every grid point once per seed (train.seed and optim.seed):

    grid:
      method.rank: [1, 8]
      objective: [ranknet, listwise]
    seeds: [0, 1, 2]

`rankscope report DIR` then compares configurations with each query's dev value averaged over seeds.

Every grid point is validated as an experiment spec before anything runs. A killed sweep loses nothing
saved: `--resume` skips the finished runs and resumes the interrupted one from its last checkpoint.
`only=(I, N)` runs the points whose index % N == I, so N processes (one per GPU) can share one DIR.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from rankscope.config import ExperimentSpec, MethodConfig, format_errors, spec_from_dict
from rankscope.errors import InputError
from rankscope.io import atomic_file, write_yaml

log = logging.getLogger("rankscope.train")
SWEEP_FILE = "sweep.yaml"
RESULTS_FILE = "results.jsonl"
FIGURE_FILE = "comparison.png"
RUNS_DIR = "runs"
_NOT_METRICS = {"step", "seconds"}

FieldPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")]


class SweepGrid(BaseModel):
    """The sweep-only part of a sweep spec; every other key is the base experiment spec."""

    model_config = ConfigDict(extra="allow")
    grid: dict[FieldPath, Annotated[list[Any], Field(min_length=1)]] = Field(min_length=1)
    seeds: Annotated[list[int], Field(min_length=1)] | None = None
    """run every grid point once per seed (train.seed and optim.seed both set to it)."""


@dataclass
class GridPoint:
    index: int
    name: str
    values: dict[str, Any]
    spec: ExperimentSpec
    config: str = ""
    """the grid combination's name without the seed (= name when the sweep has no seeds)."""
    seed: int | None = None


@dataclass
class Sweep:
    source: Path
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    points: list[GridPoint]
    seeds: list[int] | None = None

    def plan(self) -> dict[str, Any]:
        """Plain data stored as DIR/sweep.yaml: a resumed sweep must be the same sweep."""
        return {"grid": self.grid, **({"seeds": self.seeds} if self.seeds else {}), **self.base}


def _check_field(key: str, source: Path) -> None:
    """Refuse a grid path that names no spec field, as far as the spec's sections tell (method fields
    depend on the method's name and are checked with each grid point)."""
    model: type[BaseModel] | None = ExperimentSpec
    for part in key.split("."):
        if model is None:
            return
        fields = model.model_fields
        if part not in fields:
            raise InputError(
                f"grid: unknown field '{key}' ('{part}': expected one of {', '.join(fields)})", source
            )
        ann = fields[part].annotation
        nested = isinstance(ann, type) and issubclass(ann, BaseModel) and not issubclass(ann, MethodConfig)
        model = ann if nested else None  # type: ignore[assignment]


def _set(data: dict[str, Any], key: str, value: Any, source: Path) -> None:
    parts = key.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        if part not in node or node[part] is None:
            node[part] = {"name": "lora"} if (i == 0 and part == "method") else {}
        node = node[part]
        if not isinstance(node, dict):
            raise InputError(f"grid: '{key}': '{'.'.join(parts[: i + 1])}' is not a mapping", source)
    node[parts[-1]] = copy.deepcopy(value)


def _label(value: Any) -> str:
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, list | tuple):
        text = "+".join(_label(v) for v in value)
    elif isinstance(value, dict):
        text = "+".join(f"{k}={_label(v)}" for k, v in value.items())
    elif isinstance(value, str) and ("/" in value or os.sep in value):
        text = Path(value).name or value
    else:
        text = str(value)
    return re.sub(r"[^A-Za-z0-9.+=-]+", "_", text).strip("_") or "x"


def point_names(grid: dict[str, list[Any]], combos: list[tuple[Any, ...]]) -> list[str]:
    """'rank-8_targets-attn+mlp': the last part of each path (the whole path where two share one)."""
    lasts = [k.split(".")[-1] for k in grid]
    labels = [k.replace(".", "-") if lasts.count(k.split(".")[-1]) > 1 else k.split(".")[-1] for k in grid]
    names = ["_".join(f"{lab}-{_label(v)}" for lab, v in zip(labels, combo, strict=True)) for combo in combos]
    out = [n if names.count(n) == 1 else f"{n}-{i}" for i, n in enumerate(names)]
    taken = set(names)
    for i, n in enumerate(out):  # a suffixed name must not be another point's ("tiny" twice and "tiny-1")
        while n != names[i] and n in taken:
            n += "x"
        taken.add(n)
        out[i] = n
    return out


def planned_names(grid: dict[str, list[Any]], seeds: list[int] | None = None) -> list[str]:
    """The names of a grid's points in grid order (each configuration once per seed), as `load_sweep`
    names them."""
    configs = point_names(grid, list(itertools.product(*grid.values())))
    return [seeded_name(c, s) for c in configs for s in (seeds or [None])]


def seeded_name(config: str, seed: int | None) -> str:
    """A point's name: its configuration's, and `_seed-N` when the sweep has seeds."""
    return config if seed is None else f"{config}_seed-{seed}"


def grid_order(out: Path) -> list[str] | None:
    """The point names of the sweep in folder `out`, in grid order (from its sweep.yaml); None without
    one. results.jsonl holds rows in the order the points finished."""
    try:
        plan = yaml.safe_load((Path(out) / SWEEP_FILE).read_text())
        return planned_names(plan["grid"], plan.get("seeds"))
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return None


def in_grid_order(rows: list[dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    """`rows` (results.jsonl's) sorted in grid order; rows of names the grid lacks keep their order last."""
    order = grid_order(out)
    if not order:
        return rows
    rank = {n: i for i, n in enumerate(order)}
    return sorted(rows, key=lambda r: rank.get(str(r.get("name")), len(rank)))


def read_sweep_yaml(path: Path) -> Any:
    if not path.is_file():
        raise InputError("no such sweep spec file", path)
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        raise InputError(
            f"invalid YAML ({getattr(e, 'problem', e)})", path, None if line is None else line + 1
        ) from None


def load_sweep(path: str | Path) -> Sweep:
    """Read a sweep spec and validate every grid point as an experiment spec (InputError names the point
    and the field)."""
    source = Path(path)
    data = read_sweep_yaml(source)
    if not isinstance(data, dict):
        raise InputError("expected a YAML mapping: an experiment spec plus 'grid'", source)
    try:
        SweepGrid.model_validate(data)
    except ValidationError as e:
        raise InputError(format_errors(e), source) from None
    grid: dict[str, list[Any]] = data["grid"]
    seeds: list[int] | None = data.get("seeds")
    base = {k: v for k, v in data.items() if k not in ("grid", "seeds")}
    keys = list(grid)
    if seeds is not None:
        if len(set(seeds)) != len(seeds):
            raise InputError(f"seeds: each seed once, got {seeds}", source)
        for k in ("train.seed", "optim.seed"):
            if k in grid:
                raise InputError(f"grid: '{k}' and seeds set the same field", source)
    for k in keys:
        _check_field(k, source)
        clash = [o for o in keys if o != k and o.startswith(k + ".")]
        if clash:
            raise InputError(f"grid: '{k}' and '{clash[0]}' set the same field", source)
    combos = list(itertools.product(*grid.values()))
    names = point_names(grid, combos)
    points: list[GridPoint] = []
    for combo, config in zip(combos, names, strict=True):
        for seed in seeds or [None]:
            i = len(points)
            values = dict(zip(keys, combo, strict=True))
            d = copy.deepcopy(base)
            for k, v in values.items():
                _set(d, k, v, source)
            name = seeded_name(config, seed)
            if seed is not None:
                _set(d, "train.seed", seed, source)
                _set(d, "optim.seed", seed, source)
                values = {**values, "seed": seed}
            try:
                spec = spec_from_dict(d, source, source.resolve().parent)
            except InputError as e:
                msg = str(e).removeprefix(f"{source}: ")
                raise InputError(f"grid point {i} ({name}): {msg}", source) from None
            points.append(GridPoint(i, name, values, spec, config, seed))
    return Sweep(source, base, grid, points, seeds)


def folder_layers(folder: Path) -> int | None:
    """The number of transformer blocks a model folder's config.json declares (or its text_config)."""
    from rankscope.models.components import config_layers

    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return config_layers(config) or config_layers(config.get("text_config") or {})


def check_models(source: Path, points: list[GridPoint]) -> None:
    """What a spec alone cannot validate, checked for every point before the first one trains: the model
    exists, and its method.layers lie within the model's layers."""
    from rankscope.models.components import parse_layers
    from rankscope.models.loading import resolve_model

    seen: dict[str, Path] = {}
    for p in points:
        try:
            if p.spec.model not in seen:
                seen[p.spec.model] = resolve_model(p.spec.model)
            layers = getattr(p.spec.method, "layers", None)
            n = folder_layers(seen[p.spec.model])
            if layers is not None and n is not None:
                parse_layers(layers, n)
        except InputError as e:
            msg = str(e).removeprefix(f"{e.path}: ") if e.path else str(e)
            field = "model" if e.path == "--model" else "method.layers"
            raise InputError(f"grid point {p.index} ({p.name}): {field}: {msg}", source) from None


def parse_only(text: str | None) -> tuple[int, int] | None:
    """'I/N' -> (I, N) with 0 <= I < N."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if m is None or int(m.group(2)) < 1 or int(m.group(1)) >= int(m.group(2)):
        raise InputError(f"expected I/N with 0 <= I < N (e.g. 0/4), got '{text}'", "--only")
    return int(m.group(1)), int(m.group(2))


def read_results(out: Path) -> list[dict[str, Any]]:
    path = out / RESULTS_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill mid-write
                continue
    return rows


def result_row(point: GridPoint, run_dir: Path, out: Path) -> dict[str, Any]:
    """name, the grid values, the final dev metrics, steps, the best checkpoint (step and value of the
    selection measure) and seconds of a finished run."""
    summary = json.loads((run_dir / "summary.json").read_text())
    final = summary.get("final_dev") or {}
    row: dict[str, Any] = {"name": point.name, **point.values}
    if point.seed is not None:
        row["config"] = point.config
    row.update({k: v for k, v in final.items() if k not in _NOT_METRICS})
    row["steps"] = summary.get("steps")
    best = summary.get("best_checkpoint") or {}
    if best:  # what `rerank --run` and `export` use by default; the metrics above are the final step's
        row["best_step"], row["best_value"] = best.get("step"), best.get("value")
    row["seconds"] = round(float(summary.get("train_seconds", 0)) + float(summary.get("dev_seconds", 0)), 2)
    if summary.get("stopped_at_non_finite_loss") is not None:
        row["stopped_at_non_finite_loss"] = summary["stopped_at_non_finite_loss"]
    row["run"] = str(run_dir.relative_to(out))
    return row


def _append(out: Path, row: dict[str, Any]) -> None:
    path = out / RESULTS_FILE
    with path.open("a+b") as f:  # one write of one line: processes sharing DIR do not mix
        torn = False  # the last line cut short (a full disk): the row starts on a line of its own
        if f.seek(0, os.SEEK_END) > 0:
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
        f.write((("\n" if torn else "") + json.dumps(row) + "\n").encode())


def pick_metric(rows: list[dict[str, Any]]) -> str | None:
    """nDCG@10, else the first dev metric the rows hold."""
    keys = [k for r in rows for k in r]
    if "nDCG@10" in keys:
        return "nDCG@10"
    for k in keys:
        if k.startswith(("RR", "R@", "P@", "AP", "nDCG")):
            return k
    return None


def write_figure(out: Path, rows: list[dict[str, Any]], order: list[str]) -> Path | None:
    """comparison.png: one bar per finished run (grid order) for the dev metric."""
    from rankscope.report.figures import save
    from rankscope.report.figures_inspect import sweep_figure

    metric = pick_metric(rows)
    if metric is None or not rows:
        return None
    rank = {n: i for i, n in enumerate(order)}
    rows = sorted(rows, key=lambda r: rank.get(r.get("name"), len(rank)))
    path = out / FIGURE_FILE
    with atomic_file(path) as tmp:
        save(sweep_figure(rows, metric, "name"), tmp)
    return path


@dataclass
class SweepResult:
    out: Path
    rows: list[dict[str, Any]]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    figure: Path | None = None
    metric: str | None = None


def _write_plan(out: Path, sweep: Sweep) -> None:
    stored = out / SWEEP_FILE
    plan = sweep.plan()
    if stored.is_file():
        before, now = yaml.safe_load(stored.read_text()), json.loads(json.dumps(plan))
        if before != now or list(before.get("grid") or {}) != list(now.get("grid") or {}):  # key order: names
            raise InputError("the sweep spec differs from the one this sweep started with (sweep.yaml)", out)
        return
    write_yaml(stored, plan)


def run_sweep(
    spec: str | Path,
    out: str | Path,
    resume: bool = False,
    only: tuple[int, int] | None = None,
    on_point: Callable[[GridPoint, str], None] | None = None,
) -> SweepResult:
    """Train the grid points one after another (those with index % N == I for `only=(I, N)`)."""
    from rankscope.train.run import train

    sweep = load_sweep(spec)
    out = Path(out)
    mine = [p for p in sweep.points if only is None or p.index % only[1] == only[0]]
    check_models(sweep.source, mine)
    runs = out / RUNS_DIR
    if not resume:
        started = [p.name for p in mine if (runs / p.name).exists()]
        if started:
            raise InputError(f"run '{started[0]}' exists: pass --resume to continue this sweep", out)
    out.mkdir(parents=True, exist_ok=True)
    _write_plan(out, sweep)
    result = SweepResult(out, [])
    done = {r.get("name") for r in read_results(out)}
    for p in mine:
        run_dir = runs / p.name
        if p.name in done:
            result.skipped.append(p.name)
            if on_point:
                on_point(p, "finished before: skipped")
            continue
        if not (run_dir / "summary.json").is_file():
            again = (run_dir / "spec.yaml").is_file()
            if on_point:
                on_point(p, "resuming" if again else "training")
            start = time.perf_counter()
            train(p.spec, run_dir, resume=again)
            log.info("sweep: %s done in %.0fs", p.name, time.perf_counter() - start)
        _append(out, result_row(p, run_dir, out))
        result.ran.append(p.name)
    result.rows = read_results(out)
    result.metric = pick_metric(result.rows)
    result.figure = write_figure(out, result.rows, [p.name for p in sweep.points])
    return result
