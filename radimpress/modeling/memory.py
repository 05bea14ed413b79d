"""How much GPU memory a fine-tune needs, planned from the model's shape before any weight is loaded.

The plan adds, per GPU:
- weights: bf16 (2 bytes a parameter); for qlora the decoder's linear layers in nf4 with double quantisation
  (4.127 bits a parameter, QLoRA paper) while embeddings, norms and the output head stay bf16; for `full` with
  mixed precision the fp32 master weights (4 bytes), bf16 copies being made layer by layer under autocast;
- trainable state: each trainable parameter's gradient and AdamW's two moments (8 bytes in fp32, 2 in 8-bit),
  plus the LoRA weights themselves (fp32: peft upcasts adapters on a bf16 base); `full` shards all of it over the
  GPUs (FSDP), LoRA replicates it (DDP);
- activations: with gradient checkpointing each layer keeps its bf16 input (2 s b h bytes) and one layer at a time
  is recomputed with everything (34 s b h bytes, Korthikanti et al. 2022, eq. 1; the 5 a s^2 b attention scores
  only without SDPA / flash attention); without checkpointing every layer keeps everything;
- logits: s b V values in bf16, their fp32 copy for the loss and its gradient (10 bytes each): large for Llama 3's
  128k vocabulary;
- overhead: 1 GB for the CUDA context and cuBLAS workspaces, and 5% of the rest for allocator fragmentation.

It is an estimate, checked against published figures in tests/modeling/test_memory.py (LLaMA-Factory's table of
memory per method and size, the QLoRA paper's 65B model on a 48 GB GPU); a real GPU can differ by some percent,
which is why a CUDA out-of-memory error still halves the micro-batch (`train.with_oom_backoff`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from radimpress.config import LoraConfig, Profile, TrainConfig
from radimpress.config.catalog import MODEL_REGISTRY, Architecture
from radimpress.config.variants import expand_variants
from radimpress.errors import RadimpressError

GB = 1e9
NF4_BYTES = 4.127 / 8  # 4-bit NormalFloat + double-quantised block constants (QLoRA, section 3)
OPTIMIZER_BYTES = {"adamw": 8, "adamw_8bit": 2, "paged_adamw_8bit": 2}  # two moments per trainable parameter
CONTEXT_BYTES = 1 * GB
FRAGMENTATION = 0.05
LOGIT_BYTES = 2 + 4 + 4  # bf16 logits, their fp32 copy for the loss, its gradient
GPUS = {"H100 80GB": 80 * GB, "H200 141GB": 141 * GB, "A100 40GB": 40 * GB, "L40S 48GB": 48 * GB}


class ModelDoesNotFitError(RadimpressError):
    """A fine-tune that cannot fit on the GPU at micro-batch 1."""


@dataclass(frozen=True)
class TrainingSetup:
    method: str  # "lora", "qlora" or "full"
    sequence_length: int
    micro_batch: int = 1
    lora_rank: int = 8
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    adapter_bytes: int = 4  # fp32 adapters (peft's default on a bf16 base); 2 where they are cast to bf16
    gradient_checkpointing: bool = True
    optimizer: str = "adamw"
    full_precision: str = "mixed"  # "mixed": fp32 master weights + bf16 autocast; "pure_bf16": bf16 everything
    flash_attention: bool = True
    gpus: int = 1


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes needed on each GPU, by what needs them."""

    weights: float
    trainable: float
    activations: float
    logits: float

    @property
    def total(self) -> float:
        work = self.weights + self.trainable + self.activations + self.logits
        return work * (1 + FRAGMENTATION) + CONTEXT_BYTES

    def fits(self, gpu_bytes: float) -> bool:
        return self.total <= gpu_bytes


def architecture_of(folder: str | Path) -> Architecture:
    """The shape a model folder's config.json gives (any Llama- or Mistral-like decoder).

    Raises:
        RadimpressError: no config.json, or one without the fields of such a decoder.
    """
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise RadimpressError(f"no config.json in {folder}: cannot plan the fine-tune's memory")
    config = json.loads(path.read_text())
    try:
        return Architecture(
            hidden_size=config["hidden_size"],
            num_hidden_layers=config["num_hidden_layers"],
            num_attention_heads=config["num_attention_heads"],
            num_key_value_heads=config.get("num_key_value_heads") or config["num_attention_heads"],
            intermediate_size=config["intermediate_size"],
            vocab_size=config["vocab_size"],
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
            head_dim=config.get("head_dim"),
        )
    except KeyError as missing:
        raise RadimpressError(f"{path} has no {missing}: not a decoder radimpress can plan for") from None


def linear_shapes(shape: Architecture) -> dict[str, tuple[int, int]]:
    """(inputs, outputs) of each linear layer of one decoder layer, by its module name."""
    h, i = shape.hidden_size, shape.intermediate_size
    return {
        "q_proj": (h, shape.attention_width),
        "k_proj": (h, shape.kv_width),
        "v_proj": (h, shape.kv_width),
        "o_proj": (shape.attention_width, h),
        "gate_proj": (h, i),
        "up_proj": (h, i),
        "down_proj": (i, h),
    }


def _linear_parameters(shape: Architecture) -> int:
    return shape.num_hidden_layers * sum(a * b for a, b in linear_shapes(shape).values())


def _bf16_parameters(shape: Architecture) -> int:
    """Embeddings, the output head (unless tied) and the norms: never quantised."""
    embeddings = shape.vocab_size * shape.hidden_size * (1 if shape.tie_word_embeddings else 2)
    norms = (2 * shape.num_hidden_layers + 1) * shape.hidden_size
    return embeddings + norms


def parameter_count(shape: Architecture) -> int:
    return _linear_parameters(shape) + _bf16_parameters(shape)


def lora_parameters(shape: Architecture, rank: int, targets: tuple[str, ...]) -> int:
    """Parameters of rank-`rank` adapters (A: r x in, B: out x r) on the named linear layers of every layer."""
    shapes = linear_shapes(shape)
    unknown = sorted(set(targets) - set(shapes))
    if unknown:
        raise RadimpressError(f"lora.target_modules {unknown} are not linear layers of this model: {sorted(shapes)}")
    return shape.num_hidden_layers * sum(rank * sum(shapes[name]) for name in targets)


def plan_memory(shape: Architecture, setup: TrainingSetup) -> MemoryPlan:
    """The bytes each GPU needs for this fine-tune at its peak (see the module docstring for each term)."""
    return MemoryPlan(
        weights=_weights(shape, setup),
        trainable=_trainable(shape, setup),
        activations=_activations(shape, setup),
        logits=float(setup.micro_batch * setup.sequence_length * shape.vocab_size * LOGIT_BYTES),
    )


def _weights(shape: Architecture, setup: TrainingSetup) -> float:
    if setup.method == "qlora":
        return _linear_parameters(shape) * NF4_BYTES + _bf16_parameters(shape) * 2
    if setup.method == "full":
        per_parameter = 4 if setup.full_precision == "mixed" else 2
        return parameter_count(shape) * per_parameter / setup.gpus  # FSDP shards the weights
    return parameter_count(shape) * 2.0


def _trainable(shape: Architecture, setup: TrainingSetup) -> float:
    optimizer = OPTIMIZER_BYTES[setup.optimizer]
    if setup.method == "full":
        # bf16 AdamW keeps its moments in the parameters' dtype: 2 + 2 bytes, not 8.
        moments = optimizer if setup.full_precision == "mixed" or optimizer == 2 else 4
        gradient = 4 if setup.full_precision == "mixed" else 2
        return parameter_count(shape) * (gradient + moments) / setup.gpus
    adapters = lora_parameters(shape, setup.lora_rank, setup.lora_targets)
    return adapters * (2 * setup.adapter_bytes + optimizer)  # weights and gradients in the adapters' dtype


def _activations(shape: Architecture, setup: TrainingSetup) -> float:
    s, b, h = setup.sequence_length, setup.micro_batch, shape.hidden_size
    layer = 34 * s * b * h + (0 if setup.flash_attention else 5 * shape.num_attention_heads * s * s * b)
    if setup.gradient_checkpointing:
        return shape.num_hidden_layers * 2 * s * b * h + layer
    return float(shape.num_hidden_layers * layer)


def largest_micro_batch(shape: Architecture, setup: TrainingSetup, gpu_bytes: float) -> int | None:
    """The largest micro-batch, halving from the setup's, whose plan fits; None when not even 1 does."""
    batch = setup.micro_batch
    while batch >= 1:
        if plan_memory(shape, replace(setup, micro_batch=batch)).fits(gpu_bytes):
            return batch
        batch //= 2
    return None


def require_fit(name: str, shape: Architecture, setup: TrainingSetup, gpu_bytes: float, gpu: str) -> int:
    """The micro-batch to train with on this GPU.

    Raises:
        ModelDoesNotFitError: not even micro-batch 1 fits; one line saying what would.
    """
    batch = largest_micro_batch(shape, setup, gpu_bytes)
    if batch is not None:
        return batch
    need = plan_memory(shape, replace(setup, micro_batch=1)).total
    hint = "use method qlora" if setup.method != "qlora" else "lower train.max_length"
    if setup.method == "full":
        hint = "use method lora or qlora, or more GPUs (train.gpus shards a full fine-tune)"
    raise ModelDoesNotFitError(
        f"{name} {setup.method} at {setup.sequence_length} tokens needs {need / GB:.1f} GB a GPU even at micro-batch "
        f"1, more than the {gpu_bytes / GB:.0f} GB of {gpu}: {hint}"
    )


def training_setup(lora: LoraConfig, train: TrainConfig, parameters: int, gpu: bool = True) -> TrainingSetup:
    """What the memory plan needs to know of a fine-tune, with `auto` settings resolved as training resolves them."""
    return TrainingSetup(
        method=train.method,
        sequence_length=train.max_length,
        micro_batch=train.batch_size,
        lora_rank=lora.r,
        lora_targets=tuple(lora.target_modules),
        gradient_checkpointing=uses_gradient_checkpointing(train, parameters),
        optimizer=optimizer_name(train, gpu),
        gpus=train.gpus,
    )


def uses_gradient_checkpointing(train: TrainConfig, parameters: int) -> bool:
    """The profile's choice, else on above 1B parameters (where activations start to crowd a GPU)."""
    return train.gradient_checkpointing if train.gradient_checkpointing is not None else parameters > 1e9


def optimizer_name(train: TrainConfig, gpu: bool) -> str:
    """The optimizer, `auto` resolved: paged 8-bit AdamW for qlora on a GPU (bitsandbytes has no CPU kernels for
    it), else AdamW."""
    if train.optimizer != "auto":
        return train.optimizer
    return "paged_adamw_8bit" if gpu and train.method == "qlora" else "adamw"


PLANNED_GPUS = {"H100 80GB": 80 * GB, "H200 141GB": 141 * GB}  # what `radimpress check` plans for


def profile_memory_plan(profile: Profile, gpus: dict[str, float] = PLANNED_GPUS) -> list[dict[str, object]]:
    """One row per distinct fine-tune setup of the profile's real models (the judge's too): the micro-batch that
    fits each GPU and the memory it needs there, or the memory micro-batch 1 would need where none fits."""
    setups: dict[tuple[str, str, TrainingSetup], None] = {}
    trainings = [(v.model, "fine-tune", v.lora, v.train) for v in expand_variants(profile)]
    trainings.append((profile.judge.model, "judge", profile.judge.lora, profile.judge.train))
    for model, role, lora, train in trainings:
        shape = MODEL_REGISTRY[model].shape
        if shape is not None:
            setups[(model, role, training_setup(lora, train, parameter_count(shape)))] = None
    return [_plan_row(model, role, setup, gpus) for model, role, setup in setups]


def _plan_row(model: str, role: str, setup: TrainingSetup, gpus: dict[str, float]) -> dict[str, object]:
    shape = MODEL_REGISTRY[model].shape
    row: dict[str, object] = {"model": model, "role": role, "method": setup.method, "tokens": setup.sequence_length}
    row |= {"micro_batch": setup.micro_batch, "lora_r": setup.lora_rank if setup.method != "full" else None}
    for gpu, size in gpus.items():
        batch = largest_micro_batch(shape, setup, size)
        need = plan_memory(shape, replace(setup, micro_batch=batch or 1)).total / GB
        row[gpu] = f"{need:.0f} GB at micro-batch {batch}" if batch else f"does not fit: {need:.0f} GB at 1"
    return row
