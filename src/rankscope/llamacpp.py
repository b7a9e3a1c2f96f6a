"""Scoring a GGUF file with llama.cpp (the optional `llama-cpp-python` package), to check that a served
export scores as the fine-tune did.

The torch scorer makes the token ids (its tokenizer and templates), llama.cpp runs them: the yes/no
scorer reads the last position's logits, query likelihood the log-probabilities of the query tokens.
So a difference between the two comes from the GGUF weights and llama.cpp's kernels, not from
tokenisation. `pip install llama-cpp-python` compiles llama.cpp (minutes on 2 cores); without it
`available()` is False and the export checks parity through transformers' GGUF loader only.

On CPUs with AMX-INT8 (Sapphire Rapids and later), llama.cpp repacks quantized weights into its AMX
buffers and crashes in `ggml_backend_amx_mul_mat` (llama.cpp issue #20824; seen here on every q8_0
file, including the tiny test model's): there the scorer loads the model without llama.cpp's extra
buffer types (`use_extra_bufts = False`), which scores correctly.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import logsumexp

from rankscope.errors import InputError
from rankscope.scorers.base import Pair, Scorer


def available() -> bool:
    """Whether llama-cpp-python is installed."""
    return importlib.util.find_spec("llama_cpp") is not None


def require() -> None:
    """Refuse clearly where llama-cpp-python is missing."""
    if not available():
        raise InputError("scoring with llama.cpp needs `pip install llama-cpp-python`", "--backend")


def has_amx_int8() -> bool:
    """Whether this CPU reports AMX-INT8 (where llama.cpp's AMX buffers crash, see above)."""
    try:
        return "amx_int8" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@contextmanager
def _without_extra_buffers() -> Iterator[None]:
    """llama-cpp-python's Llama with model params `use_extra_bufts = False` (no repacking, no AMX)."""
    from llama_cpp import llama as high_level

    lib = high_level.llama_cpp
    default = lib.llama_model_default_params

    def params() -> Any:
        p = default()
        p.use_extra_bufts = False
        return p

    lib.llama_model_default_params = params
    try:
        yield
    finally:
        lib.llama_model_default_params = default


class LlamaCppScorer(Scorer):
    """`reference`'s scores (yes-no or query-likelihood) computed by llama.cpp over the GGUF at `path`."""

    def __init__(
        self, path: str | Path, reference: Scorer, n_ctx: int = 1024, threads: int | None = None
    ) -> None:
        require()
        from llama_cpp import Llama

        self.name = getattr(reference, "name", "")
        if self.name not in ("yes-no", "query-likelihood"):
            raise InputError(f"llama.cpp scores yes-no and query-likelihood, not '{self.name}'", "--backend")
        self.reference = reference
        guard = _without_extra_buffers() if has_amx_int8() else nullcontext()
        with guard:
            self.llm = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_batch=n_ctx,
                n_ubatch=n_ctx,
                logits_all=self.name == "query-likelihood",
                n_threads=threads or os.cpu_count() or 1,
                verbose=False,
            )

    def close(self) -> None:
        """Free llama.cpp's model and context now (not at interpreter exit)."""
        self.llm.close()

    def _run(self, ids: Sequence[int]) -> None:
        if len(ids) > self.llm.n_ctx():
            raise InputError(
                f"a sequence of {len(ids)} tokens exceeds llama.cpp's context of {self.llm.n_ctx()}"
            )
        self.llm.reset()
        self.llm.eval(list(ids))

    def _last_logits(self) -> np.ndarray:
        import llama_cpp

        ptr = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.llm.n_vocab(),)).astype(np.float64)

    def score(self, pairs: Sequence[Pair], progress: Callable[[int], None] | None = None) -> list[float]:
        ref: Any = self.reference
        out: list[float] = []
        if self.name == "yes-no":
            yes, no = list(ref.yes), list(ref.no)
            for ids in ref.encode(pairs):
                self._run(ids)
                z = self._last_logits()
                out.append(float(logsumexp(z[yes]) - logsumexp(z[no])))
                if progress:
                    progress(1)
            return out
        seqs, spans = ref.encode(pairs)
        for ids, (start, end) in zip(seqs, spans, strict=True):
            self._run(ids)
            logits = np.asarray(self.llm.scores[start - 1 : end - 1], dtype=np.float64)
            target = np.asarray(ids[start:end])
            logz = logsumexp(logits, axis=1)
            out.append(float((logits[np.arange(len(target)), target] - logz).mean()))
            if progress:
                progress(1)
        return out
