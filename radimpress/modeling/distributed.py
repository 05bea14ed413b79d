"""One fine-tune over several GPUs: `train.gpus: N` runs `finetune` again in N ranks launched by torchrun.

The worker's process writes what the ranks need (the texts, the configs) to `<out>/distributed.json`, has already
tokenised the examples into the shared cache (so no two ranks write one file), and waits for torchrun. Each rank
binds its own GPU (LOCAL_RANK), takes `batch_size / N` examples a micro-batch (the same examples per optimizer step
as one GPU), and transformers' Trainer does the rest: DDP for lora and qlora (gloo on CPU, NCCL on GPUs), FSDP for
full. Rank 0 alone saves the weights and run.json, which the worker then reads. Progress callbacks do not cross into
the ranks: the Prefect task shows no percentage for a distributed fine-tune, its log shows torchrun's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from radimpress.config import LoraConfig, TrainConfig
from radimpress.errors import RadimpressError

SPEC = "distributed.json"
LOG = "distributed.log"


def launch(
    base: str | Path,
    prompts: list[str],
    targets: list[str],
    lora: LoraConfig,
    train: TrainConfig,
    out_dir: Path,
    cache_dir: Path,
    validation: tuple[list[str], list[str]] | None,
    start_from: Path | None,
    max_target: int | None,
) -> None:
    """Run the fine-tune in `train.gpus` ranks and wait for them.

    Raises:
        RadimpressError: torchrun ended with an error; the message names its log (the last lines are in it).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "base": str(base),
        "prompts": prompts,
        "targets": targets,
        "lora": lora.model_dump(mode="json"),
        "train": train.model_dump(mode="json"),
        "out_dir": str(out_dir),
        "cache_dir": str(cache_dir),
        "validation": list(validation) if validation else None,
        "start_from": str(start_from) if start_from else None,
        "max_target": max_target,
    }
    (out_dir / SPEC).write_text(json.dumps(spec))
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # one node: a local rendezvous on 127.0.0.1, nothing listens beyond it
        f"--nproc_per_node={train.gpus}",
        "-m",
        "radimpress.modeling.rank",  # each rank runs `finetune` again from the spec
        str(out_dir / SPEC),
    ]
    # Each rank gets its share of the CPU: N ranks of all-core torch would fight over the same cores.
    threads = max(1, (os.cpu_count() or 1) // train.gpus)
    with (out_dir / LOG).open("w") as log:
        done = subprocess.run(
            command, stdout=log, stderr=subprocess.STDOUT, env=os.environ | {"OMP_NUM_THREADS": str(threads)}
        )
    if done.returncode:
        tail = (out_dir / LOG).read_text().strip().splitlines()[-1:] or [""]
        raise RadimpressError(
            f"the {train.gpus}-process fine-tune failed (torchrun exit code {done.returncode}): {tail[0][:300]} "
            f"(whole log: {out_dir / LOG})"
        )
