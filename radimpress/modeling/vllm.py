"""Optional vLLM generation backend for GPU users (`generate.backend: vllm`).

On a GPU machine each generate stage runs in a process of its own (`radimpress.stages.isolated`), in that
process's main thread (recent vLLM refuses to start elsewhere), so its engine takes one GPU, sized by
`generate.gpu_memory_utilization` and by this adapter's rank, and is freed when the stage ends: the next base's
engine never finds the GPU full. The adapter is a `LoRARequest` on the base's engine; QLoRA adapters go onto the
base quantised with bitsandbytes, as they were trained; a fully fine-tuned model is the engine's model. Within one
process (a CPU-less test, a notebook), engines are kept per base and serve every adapter that fits their rank.

vLLM is a CUDA-only dependency and is not installed by default: `pip install vllm` on the GPU worker. A profile
that asks for it on a machine without it fails when the run starts, with one line saying so. The test suite checks
that message and the mapping of the profile's settings; it cannot run an engine (no GPU in CI). The transformers
backend is the reference: its greedy tokens are tested to survive batching and the round trip through MLflow.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from radimpress.config import GenerateConfig
from radimpress.errors import RadimpressError

if TYPE_CHECKING:
    from radimpress.modeling.generate import GenerationResult

# Engines live for their process (a generate stage's, on a GPU machine). vLLM's engine is not thread-safe; the lock
# serialises its use.
_ENGINES: dict[tuple[str, str], object] = {}
_ADAPTER_IDS: dict[str, int] = {}
_LOCK = threading.Lock()
LORA_RANKS = (8, 16, 32, 64, 128, 256)  # vLLM's supported max_lora_rank values


class VllmUnavailableError(RadimpressError):
    """The profile asks for the vLLM backend and vLLM is not installed here."""


def require_vllm() -> None:
    """Fail with one actionable line when vLLM cannot be imported."""
    try:
        import vllm  # noqa: F401
    except ImportError:
        raise VllmUnavailableError(
            "generate.backend 'vllm' needs vLLM, which is not installed here: `pip install vllm` on a CUDA machine, "
            "or use generate.backend 'transformers' (the default; it runs on CPU and GPU)"
        ) from None


def sampling_arguments(cfg: GenerateConfig) -> dict:
    """SamplingParams keyword arguments equivalent to the profile's generation settings."""
    if cfg.do_sample:
        return {"temperature": cfg.temperature, "top_p": cfg.top_p, "seed": cfg.seed, "max_tokens": cfg.max_new_tokens}
    return {"temperature": 0.0, "max_tokens": cfg.max_new_tokens}  # temperature 0 is greedy in vLLM


def max_lora_rank(adapter_dir: Path) -> int:
    """The smallest rank vLLM supports that holds this adapter (at least 64, so later adapters of a sweep fit)."""
    rank = json.loads((Path(adapter_dir) / "adapter_config.json").read_text())["r"]
    fitting = [size for size in LORA_RANKS if size >= max(rank, 64)]
    if not fitting:
        raise RadimpressError(
            f"LoRA rank {rank} is above vLLM's largest, {LORA_RANKS[-1]}: use the transformers backend"
        )
    return fitting[0]


def generate_texts_with_vllm(
    base: str | Path, adapter_dir: Path, tokenizer, prompts: list[str], cfg: GenerateConfig
) -> GenerationResult:
    """Completions of `prompts`, tokenised and decoded exactly as the transformers backend does."""
    from radimpress.modeling.generate import decoded_result, until_eos
    from radimpress.modeling.loading import saved_method
    from radimpress.modeling.prompts import encode_prompts

    encoded = encode_prompts(tokenizer, prompts)
    generated, seconds = generate_token_ids_with_vllm(base, adapter_dir, saved_method(adapter_dir), encoded, cfg)
    return decoded_result(tokenizer, [until_eos(tokens, tokenizer.eos_token_id) for tokens in generated], seconds)


def generate_token_ids_with_vllm(
    base: str | Path, adapter_dir: Path, method: str, encoded: list[list[int]], cfg: GenerateConfig
) -> tuple[list[list[int]], float]:
    """New token ids for every prompt (in prompt order) and the seconds generation took, engine start excluded."""
    require_vllm()
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt
    from vllm.lora.request import LoRARequest

    with _LOCK:
        if method == "full":
            engine, request = _engine(str(adapter_dir), engine_options(cfg, quantized=False, lora_rank=None)), None
        else:
            options = engine_options(cfg, quantized=method == "qlora", lora_rank=max_lora_rank(adapter_dir))
            engine = _engine(str(base), options)
            key = str(Path(adapter_dir).resolve())
            adapter_id = _ADAPTER_IDS.setdefault(key, len(_ADAPTER_IDS) + 1)
            request = LoRARequest(f"adapter-{adapter_id}", adapter_id, key)
        started = time.perf_counter()
        outputs = engine.generate(
            [TokensPrompt(prompt_token_ids=ids) for ids in encoded],
            SamplingParams(**sampling_arguments(cfg)),
            lora_request=request,
            use_tqdm=True,
        )
        seconds = time.perf_counter() - started
    return [list(output.outputs[0].token_ids) for output in outputs], seconds


def engine_options(cfg: GenerateConfig, quantized: bool, lora_rank: int | None) -> dict:
    """`vllm.LLM` keyword arguments: the profile's memory share, LoRA serving at the adapter's rank, bitsandbytes."""
    options: dict = {"gpu_memory_utilization": cfg.gpu_memory_utilization}
    if lora_rank:
        options |= {"enable_lora": True, "max_lora_rank": lora_rank, "max_loras": 4}
    if quantized:
        options["quantization"] = "bitsandbytes"
    return options


def _engine(model: str, options: dict):
    key = (model, json.dumps(options, sort_keys=True))
    if key not in _ENGINES:
        from vllm import LLM

        _ENGINES[key] = LLM(model=model, tokenizer=model, **options)
    return _ENGINES[key]
