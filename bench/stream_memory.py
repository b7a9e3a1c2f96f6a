"""Memory of `rankscope rerank --stream` as the candidates file grows (issue 8: bounded memory).

Writes synthetic candidates files of N lines (one query per line, `--hits` hits each, text inline) and
reranks each with `--stream --depth 2` under `/usr/bin/time -v`, with a tiny random-weight BERT bi-encoder
(the test suite's: memory of the stream does not depend on the weights, and a real model would need hours
for 2M pairs on 2 cores). Prints each file's peak RSS and, last, the largest file's peak as a ratio of the
smallest's:

    PYTHONPATH=src python bench/stream_memory.py --lines 10000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = [
    "fleas",
    "goldfish",
    "wifi",
    "bluetooth",
    "cats",
    "dogs",
    "trains",
    "rain",
    "clouds",
    "rails",
    "tanks",
    "year",
    "range",
    "devices",
]


def write_candidates(path: Path, lines: int, hits: int) -> None:
    with path.open("w") as f:
        for q in range(lines):
            words = [WORDS[(q * 7 + j) % len(WORDS)] for j in range(4)]
            row = {
                "qid": f"q{q}",
                "query": " ".join(words[:3]),
                "hits": [
                    {
                        "docid": f"d{q}-{h}",
                        "score": float(hits - h),
                        "content": f"{' '.join(words)} passage {h}",
                    }
                    for h in range(hits)
                ],
            }
            f.write(json.dumps(row) + "\n")


def save_tiny_bert(folder: Path) -> None:
    """The test suite's tiny random-weight BERT and BPE tokenizer (rankscope.testing), saved to `folder`."""
    from rankscope.testing import make_tokenizer, tiny_bert

    tok = make_tokenizer()
    tiny_bert(len(tok), tok.pad_token_id).save_pretrained(folder)
    tok.save_pretrained(folder)


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of a command."""
    t0 = time.time()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))  # type: ignore[union-attr]
    return kb / 1024, time.time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, nargs="+", default=[10_000, 1_000_000])
    ap.add_argument("--hits", type=int, default=4)
    ap.add_argument("--depth", type=int, default=2)
    args = ap.parse_args()
    rankscope = str(Path(sys.executable).parent / "rankscope")
    env_note = f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "tiny-bert"
        save_tiny_bert(model)
        peaks = []
        for n in sorted(args.lines):
            cands = Path(tmp) / f"cands-{n}.jsonl"
            write_candidates(cands, n, args.hits)
            size_mb = cands.stat().st_size / 2**20
            cmd = [rankscope, "rerank", "--stream", "--candidates", str(cands), "--model", str(model)]
            cmd += [
                "--scorer",
                "bi-encoder",
                "--depth",
                str(args.depth),
                "--out",
                str(Path(tmp) / f"run-{n}"),
            ]
            mb, secs = peak_rss(cmd)
            pairs = n * min(args.depth, args.hits)
            print(
                f"{n:,} lines ({size_mb:.0f} MB file), {pairs:,} pairs: peak RSS {mb:.0f} MB in {secs:.0f} s"
            )
            peaks.append(mb)
            cands.unlink()
        small, large = sorted(args.lines)[0], sorted(args.lines)[-1]
        print(
            f"stream memory: {large:,} lines peaked at {peaks[-1]:.0f} MB, {peaks[-1] / peaks[0]:.2f}x "
            f"the {small:,}-line file's {peaks[0]:.0f} MB ({env_note})"
        )


if __name__ == "__main__":
    main()
