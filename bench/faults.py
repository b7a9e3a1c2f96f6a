"""Fault injection: SIGKILL `rankscope` commands at random moments and check that nothing is lost.

- train: each trial starts a run of a tiny random-weight model (LoRA with dropout, a checkpoint every 2
  steps, 2 kept) and kills it at a random moment, or while a checkpoint is being written (a
  checkpoint-N folder without checksums.json), then `train --resume` until it finishes; the final
  adapter must equal an uninterrupted run's byte for byte and loss.jsonl must hold each step once.
- rerank, export: killed at a random moment; the output path must be absent or complete (never a partial
  file), and a rerun must write files identical to an uninterrupted run's and remove the killed one's
  temporary copy.
- sweep: a 2-run grid killed at a random moment, then `sweep --resume` until it finishes; every run's
  adapter must equal the uninterrupted sweep's and results.jsonl must hold each run once.

A warm run can finish before the moment drawn (it is drawn from the uninterrupted run's time): it is then
removed and tried again with the moment drawn from half the window, up to 4 tries.

Commands run in forked children of this process (the libraries are imported once, so a child starts at
once and a kill lands during the work, not during imports). Prints one line per command, e.g.
"train: 12 kills (5 while checkpointing), 12 identical adapters".

    PYTHONPATH=src python bench/faults.py --kills 20 --rerank-kills 5 --export-kills 3 --sweep-kills 3
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

# imported here, before any fork, so that children start at once (no torch op runs in this process)
import rankscope.reranker  # noqa: E402, F401
import rankscope.sweep  # noqa: E402, F401
import rankscope.train.export  # noqa: E402, F401
import rankscope.train.run  # noqa: E402, F401
from rankscope.cli import main as cli_main  # noqa: E402
from rankscope.train.checksums import CHECKSUMS  # noqa: E402

TOPICS = [
    "fleas live a year",
    "goldfish grow in tanks",
    "wifi has a long range",
    "bluetooth pairs devices",
    "cats sleep a lot",
    "dogs bark loudly",
    "trains run on rails",
    "rain falls from clouds",
]
STEPS, SAVE_EVERY = 8, 2
ATTEMPTS = 4  # tries at killing a trial's run before it finishes


# --------------------------------------------------------------------------- children


def spawn(args: Sequence[str], log: Path, target: Callable[[], None] | None = None) -> int:
    """Fork a child that runs `rankscope ARGS` (or `target`) with its output appended to `log`."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if target is not None:
            target()
            code = 0
        else:
            sys.argv = ["rankscope", *args]
            try:
                cli_main()
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def wait(pid: int) -> int:
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def run(args: Sequence[str], log: Path) -> float:
    """Run `rankscope ARGS` to the end (it must succeed); returns its wall time."""
    start = time.perf_counter()
    code = wait(spawn(args, log))
    if code != 0:
        raise SystemExit(f"rankscope {' '.join(args)} failed with {code}; see {log}")
    return time.perf_counter() - start


def run_killed(args: Sequence[str], log: Path, trigger: Callable[[float], bool]) -> bool:
    """Start `rankscope ARGS` and SIGKILL it when `trigger(seconds since start)` says so; False when it
    finished first."""
    pid = spawn(args, log)
    start = time.perf_counter()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                raise SystemExit(f"rankscope {' '.join(args)} failed with {code}; see {log}")
            return False
        if trigger(time.perf_counter() - start):
            os.kill(pid, signal.SIGKILL)
            wait(pid)
            with open(log, "a") as f:
                f.write(f"--- SIGKILL after {time.perf_counter() - start:.3f}s\n")
            return True
        time.sleep(0.001)


# --------------------------------------------------------------------------- inputs


def build_inputs(work: Path) -> dict[str, Path]:
    """A tiny random-weight Llama with a BPE tokenizer, triples, a spec, candidates and a sweep spec."""

    def make_model() -> None:
        """The test suite's tiny random-weight Llama and BPE tokenizer (rankscope.testing)."""
        from rankscope.testing import make_tokenizer, tiny_llama

        tok = make_tokenizer()
        tiny_llama(len(tok)).save_pretrained(work / "model")
        tok.save_pretrained(work / "model")

    if wait(spawn([], work / "setup.log", make_model)) != 0:  # torch ops only ever run in children
        raise SystemExit(f"building the tiny model failed; see {work / 'setup.log'}")
    triples = work / "triples.tsv"
    rows = []
    for i, topic in enumerate(TOPICS):
        other = TOPICS[(i + 3) % len(TOPICS)]
        rows += [f"query {topic} {j}\tpassage: {topic} ({j})\tpassage: {other} ({j})" for j in range(2)]
    triples.write_text("\n".join(rows) + "\n")
    spec = {
        "model": str(work / "model"),
        "scorer": "yes-no",
        "objective": "listwise",
        "method": {"name": "lora", "rank": 4, "alpha": 8, "dropout": 0.1},
        "train": {"files": [str(triples)], "group_size": 3, "dev_fraction": 0.25, "seed": 0},
        "dev": {"depth": 5, "at_start": False},
        "optim": {
            "steps": STEPS,
            "batch_size": 2,
            "lr": 0.02,
            "save_every": SAVE_EVERY,
            "keep_checkpoints": 2,
            "seed": 0,
            "report_to": ["none"],
        },
        "eval_sets": [],
        "device": "cpu",
    }
    (work / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    sweep = {**spec, "optim": {**spec["optim"], "steps": 4}, "grid": {"method.rank": [2, 4]}}
    (work / "sweep.yaml").write_text(yaml.safe_dump(sweep, sort_keys=False))
    cands = work / "candidates.jsonl.gz"
    with gzip.open(cands, "wt") as f:
        for q, topic in enumerate(TOPICS):
            hits = [
                {"docid": f"d{q}-{i:02d}", "rank": i + 1, "score": -float(i), "content": TOPICS[(q + i) % 8]}
                for i in range(24)
            ]
            f.write(json.dumps({"qid": f"q{q}", "query": topic, "hits": hits}) + "\n")
    queries = work / "queries.tsv"
    queries.write_text("".join(f"q{q}\t{t}\n" for q, t in enumerate(TOPICS)))
    return {"spec": work / "spec.yaml", "sweep": work / "sweep.yaml", "candidates": cands, "queries": queries}


# --------------------------------------------------------------------------- checks


@dataclass
class Tally:
    name: str
    kills: int = 0
    while_checkpointing: int = 0
    finished_first: int = 0
    identical: int = 0
    trials: int = 0
    partial_visible: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        unit = {"train": "adapters", "sweep": "sweeps", "export": "exports"}.get(self.name, "run files")
        ckpt = f" ({self.while_checkpointing} while checkpointing)" if self.name == "train" else ""
        extra = f", {self.finished_first} finished before the kill" if self.finished_first else ""
        partial = (
            f", {self.partial_visible} partial outputs visible" if self.name in ("rerank", "export") else ""
        )
        return f"{self.name}: {self.kills} kills{ckpt}, {self.identical} identical {unit}{partial}{extra}"


def same_files(a: Path, b: Path, names: Sequence[str]) -> bool:
    return all((a / n).is_file() == (b / n).is_file() for n in names) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names if (a / n).is_file()
    )


ADAPTER_FILES = ("adapter_model.safetensors", "head.safetensors")


def incomplete_checkpoints(run_dir: Path) -> list[Path]:
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    return [p for p in folder.glob("checkpoint-*") if p.is_dir() and not (p / CHECKSUMS).is_file()]


def logged_steps(run_dir: Path) -> list[int]:
    path = run_dir / "loss.jsonl"
    return (
        [json.loads(x)["step"] for x in path.read_text().splitlines() if x.strip()] if path.is_file() else []
    )


# --------------------------------------------------------------------------- commands


def kill_early(
    args: Sequence[str],
    out: Path,
    log: Path,
    seconds: float,
    rng: random.Random,
    tally: Tally,
    trigger: Callable[[float], bool] | None = None,
    retry: bool = True,
) -> bool:
    """Run `rankscope ARGS` (writing `out`) and SIGKILL it when `trigger` says so or, without one, at a
    moment drawn from the first 90% of `seconds` (the uninterrupted run's time). A warm run can finish
    before that moment: then, with `retry`, `out` is removed and the run tried again with the moment drawn
    from half the window, up to ATTEMPTS tries. Counts kills and runs that finished first in `tally`."""
    window = 0.9 * seconds
    for _ in range(ATTEMPTS):
        moment = rng.uniform(0.0, window) if trigger is None else 0.0
        if run_killed(args, log, trigger or (lambda t, m=moment: t >= m)):
            tally.kills += 1
            return True
        tally.finished_first += 1
        if not retry:
            return False
        shutil.rmtree(out)
        window /= 2
    return False


def checkpoint_trigger(folder: Path) -> Callable[[float], bool]:
    """True while `folder` (a checkpoint) is being written: it exists without its checksums.json."""
    return lambda _: folder.is_dir() and not (folder / CHECKSUMS).is_file()


def fault_train(
    work: Path, inputs: dict[str, Path], kills: int, per_run: int, share: float, rng: random.Random
) -> Tally:
    tally = Tally("train")
    base = work / "train-base"
    seconds = run(["train", str(inputs["spec"]), "--out", str(base)], work / "train-base.log")
    for i in range(kills):
        out, log = work / f"train-{i}", work / f"train-{i}.log"
        args = ["train", str(inputs["spec"]), "--out", str(out)]
        for k in range(per_run):
            trigger = None
            if (i == 0 and k == 0) or rng.random() < share:  # while a checkpoint is being written
                step = SAVE_EVERY * rng.randint(1, STEPS // SAVE_EVERY)
                trigger = checkpoint_trigger(out / "checkpoints" / f"checkpoint-{step}")
            # a resumed run that finished cannot be tried again (removing it would lose the earlier kills)
            resumed = ["--resume"] if k else []
            if kill_early([*args, *resumed], out, log, seconds, rng, tally, trigger, retry=not k):
                tally.while_checkpointing += bool(incomplete_checkpoints(out))
        run([*args, "--resume"], log)
        tally.trials += 1
        same = same_files(base / "adapter", out / "adapter", ADAPTER_FILES)
        steps = logged_steps(out)
        tally.identical += same
        if not same:
            tally.problems.append(f"{out}: adapter differs from {base}")
        if steps != list(range(1, STEPS + 1)):
            tally.problems.append(f"{out}: loss.jsonl steps {steps}")
    return tally


def visible_output(out: Path, base: Path, names: Sequence[str]) -> bool:
    """True when `out` exists but is not a whole output (a partial output at the final path)."""
    return out.exists() and not same_files(base, out, names)


def fault_atomic(
    name: str, work: Path, args_for: Callable[[Path], list[str]], names: Sequence[str], kills: int, rng
) -> Tally:
    """A command writing one output folder: killed at a random moment, then rerun with --overwrite."""
    tally = Tally(name)
    base = work / f"{name}-base"
    seconds = run(args_for(base), work / f"{name}-base.log")
    for i in range(kills):
        out, log = work / f"{name}-{i}", work / f"{name}-{i}.log"
        kill_early(args_for(out), out, log, seconds, rng, tally)
        if visible_output(out, base, names):
            tally.partial_visible += 1
            tally.problems.append(f"{out}: a partial output at the final path")
        run([*args_for(out), "--overwrite"], log)
        tally.trials += 1
        left = list(out.parent.glob(f".{out.name}.tmp-*"))
        if left:
            tally.problems.append(f"{out}: temporary copies left after the rerun: {left}")
        same = same_files(base, out, names)
        tally.identical += same
        if not same:
            tally.problems.append(f"{out}: differs from {base}")
    return tally


def fault_sweep(work: Path, inputs: dict[str, Path], kills: int, rng: random.Random) -> Tally:
    tally = Tally("sweep")
    base = work / "sweep-base"
    seconds = run(["sweep", str(inputs["sweep"]), "--out", str(base)], work / "sweep-base.log")
    names = sorted(p.name for p in (base / "runs").iterdir())
    for i in range(kills):
        out, log = work / f"sweep-{i}", work / f"sweep-{i}.log"
        args = ["sweep", str(inputs["sweep"]), "--out", str(out)]
        kill_early(args, out, log, seconds, rng, tally)
        run([*args, "--resume"], log)
        tally.trials += 1
        rows = [json.loads(x)["name"] for x in (out / "results.jsonl").read_text().splitlines() if x.strip()]
        same = all(
            same_files(base / "runs" / n / "adapter", out / "runs" / n / "adapter", ADAPTER_FILES)
            for n in names
        )
        same = same and sorted(rows) == names
        tally.identical += same
        if not same:
            tally.problems.append(f"{out}: adapters or results.jsonl ({rows}) differ from {base}")
    return tally


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=12, help="train trials, each killed --kills-per-run times")
    p.add_argument("--kills-per-run", type=int, default=1)
    share = "share of kills aimed at a checkpoint being written (the first always is)"
    p.add_argument("--checkpoint-share", type=float, default=0.4, help=share)
    p.add_argument("--rerank-kills", type=int, default=3)
    p.add_argument("--export-kills", type=int, default=2)
    p.add_argument("--sweep-kills", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    a = p.parse_args()
    rng = random.Random(a.seed)
    work = a.work or Path(tempfile.mkdtemp(prefix="rankscope-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    inputs = build_inputs(work)
    tallies = []
    if a.kills:
        tallies.append(fault_train(work, inputs, a.kills, a.kills_per_run, a.checkpoint_share, rng))
        print(tallies[-1].line(), flush=True)
    if a.rerank_kills:
        common = ["--candidates", str(inputs["candidates"]), "--queries", str(inputs["queries"])]
        common += ["--model", str(work / "model"), "--scorer", "yes-no", "--depth", "24", "--device", "cpu"]
        tallies.append(
            fault_atomic(
                "rerank",
                work,
                lambda out: ["rerank", *common, "--out", str(out)],
                ["run.trec", "metrics.json"],
                a.rerank_kills,
                rng,
            )
        )
        print(tallies[-1].line(), flush=True)
    if a.export_kills:
        trained = work / "train-base"
        if not trained.is_dir():
            run(["train", str(inputs["spec"]), "--out", str(trained)], work / "train-base.log")
        tallies.append(
            fault_atomic(
                "export",
                work,
                lambda out: ["export", str(trained), "--out", str(out)],
                ["model.safetensors", "rankscope.json", "config.json"],
                a.export_kills,
                rng,
            )
        )
        print(tallies[-1].line(), flush=True)
    if a.sweep_kills:
        tallies.append(fault_sweep(work, inputs, a.sweep_kills, rng))
        print(tallies[-1].line(), flush=True)
    problems = [x for t in tallies for x in t.problems]
    for x in problems:
        print(f"problem: {x}")
    print(f"{'FAIL' if problems else 'ok'} in {time.perf_counter() - start:.0f}s (work folder {work})")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
