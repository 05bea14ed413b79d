"""QLoRA and full fine-tuning, checkpoint-and-resume after SIGKILL, and the out-of-memory back-off, on tiny bases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from radimpress.config import GenerateConfig, LoraConfig, TinyBaseConfig, TrainConfig
from radimpress.errors import RadimpressError
from radimpress.modeling.generate import generate_texts
from radimpress.modeling.loading import load_base_model, load_finetuned, load_tokenizer, saved_method
from radimpress.modeling.prompts import build_prompts, build_target
from radimpress.modeling.train import (
    CHECKPOINT_FILES,
    TrainingOutOfMemory,
    finetune,
    last_complete_checkpoint,
    with_oom_backoff,
)
from radimpress.sim.synthetic import generate_reports
from radimpress.sim.tiny import build_tiny_base

ROOT = Path(__file__).resolve().parents[2]
REPORTS = generate_reports(64, seed=1)
TRAIN_ROWS, TEST_ROWS = REPORTS.head(48), REPORTS.tail(8)
LORA = LoraConfig(r=4, alpha=8, dropout=0.1, target_modules=["q_proj", "v_proj"])  # dropout: resume must restore RNG
GENERATE = GenerateConfig(max_new_tokens=10, batch_size=8)


def _train_config(**changes) -> TrainConfig:
    # 48 pairs, micro-batch 8, 4 epochs: 24 optimizer steps.
    values = dict(epochs=4, learning_rate=0.01, batch_size=8, max_length=128, seed=0, checkpoint_steps=4)
    return TrainConfig(**(values | changes))


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    texts = [t for column in ("findings", "clinical_information") for t in REPORTS[column]]
    cfg = TinyBaseConfig(vocab_size=400, pretrain_steps=0, seed=2)
    return build_tiny_base("tiny-llama", texts, cfg, tmp_path_factory.mktemp("base") / "tiny-llama")


def _pairs(base: Path) -> tuple[list[str], list[str]]:
    prompts = build_prompts(TRAIN_ROWS, "findings", load_tokenizer(base))
    return prompts, [build_target(t) for t in TRAIN_ROWS["impression"]]


def _generated(model, base: Path) -> list[str]:
    tokenizer = load_tokenizer(base)
    return generate_texts(model.eval(), tokenizer, build_prompts(TEST_ROWS, "findings", tokenizer), GENERATE).texts


@pytest.mark.parametrize("method", ["qlora", "full"])
def test_method_trains_saves_and_reloads_the_same_model(base, tmp_path, method):
    captured = {}

    class Capture(TrainerCallback):
        def on_train_end(self, args, state, control, model=None, **kwargs):
            captured["model"] = model

    result = finetune(base, *_pairs(base), LORA, _train_config(method=method), tmp_path, callbacks=[Capture()])
    assert saved_method(result.adapter_dir) == method
    assert len(result.losses) == 24 and result.losses[-1] < result.losses[0]
    assert not (tmp_path / "trainer").exists()  # checkpoints are dropped once the weights are saved
    reloaded, _ = load_finetuned(base, result.adapter_dir)
    assert _generated(reloaded, base) == _generated(captured["model"], base)
    if method == "full":
        trained = load_base_model(result.adapter_dir).state_dict()
        original = load_base_model(base).state_dict()
        assert all(torch.equal(trained[k], original[k]) is False for k in trained if k.endswith("q_proj.weight"))
    else:  # the base stays 4-bit: its linear layers are bitsandbytes Linear4bit
        assert any(type(m).__name__ == "Linear4bit" for m in reloaded.modules())


RESUME_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from transformers import TrainerCallback
    sys.path.insert(0, {tests!r})
    from test_finetune_methods import LORA, _pairs, _train_config
    from radimpress.modeling.train import finetune

    class Slow(TrainerCallback):  # gives the test time to kill it between checkpoints
        def on_step_end(self, args, state, control, **kwargs):
            time.sleep(0.3)

    base = Path({base!r})
    finetune(base, *_pairs(base), LORA, _train_config(), Path({out!r}), callbacks=[Slow()])
    """
)


def test_a_finetune_killed_mid_training_resumes_from_its_last_checkpoint(base, tmp_path):
    uninterrupted = finetune(base, *_pairs(base), LORA, _train_config(), tmp_path / "uninterrupted")

    out = tmp_path / "killed"
    script = RESUME_WORKER.format(tests=str(ROOT / "tests" / "modeling"), base=str(base), out=str(out))
    worker = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    deadline = time.monotonic() + 120
    second = out / "trainer" / "checkpoint-8" / "trainer_state.json"
    while not second.is_file() and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker.poll() is None, "the worker ended before its second checkpoint"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    assert worker.returncode == -signal.SIGKILL
    assert not (out / "adapter").exists()  # it really died mid-training

    resumed = finetune(base, *_pairs(base), LORA, _train_config(), out)  # what a Prefect retry runs
    assert resumed.resumed_from_step >= 8
    assert len(resumed.losses) == len(uninterrupted.losses) == 24  # the loss history survives the kill
    # Optimizer, scheduler, data order and dropout RNG come back from the checkpoint: the same run, to 1e-5.
    worst = max(abs(a - b) for a, b in zip(resumed.losses, uninterrupted.losses, strict=True))
    print(
        f"killed and resumed from step {resumed.resumed_from_step}: final loss {resumed.losses[-1]!r} "
        f"vs {uninterrupted.losses[-1]!r} uninterrupted; largest step-wise difference {worst:.2e} (tolerance 1e-5)"
    )
    assert resumed.losses[-1] == pytest.approx(uninterrupted.losses[-1], abs=1e-5)


def test_a_partial_checkpoint_is_skipped_and_removed(tmp_path):
    for step in (4, 8, 12):
        (tmp_path / f"checkpoint-{step}").mkdir()
    for step in (4, 8):
        for name in CHECKPOINT_FILES:
            (tmp_path / f"checkpoint-{step}" / name).write_text("{}")
    (tmp_path / "checkpoint-12" / "optimizer.pt").write_text("")  # killed while saving: no trainer state yet
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-8")
    assert not (tmp_path / "checkpoint-12").exists()
    assert last_complete_checkpoint(tmp_path / "absent") is None


def test_oom_backoff_halves_the_micro_batch_and_doubles_accumulation():
    calls = []

    def attempt(batch_size: int, accumulation: int) -> tuple[int, int]:
        calls.append((batch_size, accumulation))
        if batch_size > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return batch_size, accumulation

    assert with_oom_backoff(attempt, 8, 1, max_backoffs=3) == (2, 4)
    assert calls == [(8, 1), (4, 2), (2, 4)]  # the effective batch stays 8


def test_oom_backoff_gives_up_with_a_clear_error():
    def always_oom(batch_size: int, accumulation: int):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(TrainingOutOfMemory, match=r"micro-batch 4 \(after 1 halvings\).*train.max_length"):
        with_oom_backoff(always_oom, 8, 1, max_backoffs=1)


def test_an_injected_oom_in_training_retries_at_half_the_batch_with_the_same_steps(base, tmp_path):
    class OutOfMemoryAboveFour(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if args.per_device_train_batch_size > 4:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")

    train = _train_config(checkpoint_steps=0)
    result = finetune(base, *_pairs(base), LORA, train, tmp_path, callbacks=[OutOfMemoryAboveFour()])
    assert (result.batch_size, result.gradient_accumulation_steps) == (4, 2)
    assert len(result.losses) == 24  # the same optimizer steps as at micro-batch 8


def test_a_finetune_goes_on_from_a_saved_adapter_with_its_rank(base, tmp_path):
    prompts, targets = _pairs(base)
    first = finetune(base, prompts, targets, LORA, _train_config(epochs=1, checkpoint_steps=0), tmp_path / "first")
    wider = LORA.model_copy(update={"r": 8})  # ignored: the saved adapter's rank and targets go on
    second = finetune(
        base,
        prompts,
        targets,
        wider,
        _train_config(epochs=1, checkpoint_steps=0),
        tmp_path / "second",
        start_from=first.adapter_dir,
    )
    start, went_on = (load_finetuned(base, r.adapter_dir)[0] for r in (first, second))
    assert went_on.peft_config["default"].r == 4
    assert second.losses[0] < first.losses[0]  # it starts where the first left off, not from a fresh adapter
    lora_b = [name for name, _ in went_on.named_parameters() if "lora_B" in name]
    changed = [not torch.equal(dict(start.named_parameters())[n], dict(went_on.named_parameters())[n]) for n in lora_b]
    assert lora_b and all(changed)


def test_a_full_fine_tune_has_no_adapter_to_start_from(base):
    from radimpress.errors import RadimpressError
    from radimpress.modeling.train import trainable_model

    with pytest.raises(RadimpressError, match="method full has no adapter to start from"):
        trainable_model(base, LORA, "full", start_from=base)


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_gradient_checkpointing_trains_to_the_same_losses(base, tmp_path, method):
    # Recomputing the activations (with the dropout masks replayed) must not change what is learnt.
    seen = []

    class Checkpointing(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            seen.append(model.get_base_model().is_gradient_checkpointing)

    config = _train_config(method=method, checkpoint_steps=0)
    plain = finetune(base, *_pairs(base), LORA, config, tmp_path / "a", callbacks=[Checkpointing()])
    config = _train_config(method=method, checkpoint_steps=0, gradient_checkpointing=True)
    recomputed = finetune(base, *_pairs(base), LORA, config, tmp_path / "b", callbacks=[Checkpointing()])
    assert seen == [False, True]  # a tiny base is under 1B parameters: off unless asked
    assert recomputed.losses == pytest.approx(plain.losses, rel=1e-4)
    assert len(plain.losses) == 24


def test_a_two_process_lora_fine_tune_learns_what_one_process_learns(base, tmp_path):
    # torchrun, 2 gloo ranks of micro-batch 4 against 1 process of micro-batch 8: the same 8 examples a step. Measured:
    # every step's loss within 0.003 of the one-process run (sums over ranks round differently); 1% is the tolerance.
    config = _train_config(checkpoint_steps=0)
    single = finetune(base, *_pairs(base), LORA, config, tmp_path / "one")
    double = finetune(base, *_pairs(base), LORA, config.model_copy(update={"gpus": 2}), tmp_path / "two")
    assert (double.batch_size, len(double.losses)) == (4, len(single.losses)) == (4, 24)
    assert double.losses == pytest.approx(single.losses, rel=0.01) and double.losses[-1] < double.losses[0]
    assert saved_method(double.adapter_dir) == "lora" and (tmp_path / "two" / "distributed.log").is_file()
    reloaded, _ = load_finetuned(base, double.adapter_dir)
    assert len(_generated(reloaded, base)) == len(TEST_ROWS)


def test_distributed_arguments_choose_ddp_or_fsdp(monkeypatch):
    from radimpress.errors import RadimpressError
    from radimpress.modeling.train import _distributed_arguments

    assert _distributed_arguments(TrainConfig(method="lora", gpus=2), cpu=True) == {}  # not launched yet: rank-less
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert _distributed_arguments(TrainConfig(method="qlora"), cpu=True)["ddp_backend"] == "gloo"
    assert _distributed_arguments(TrainConfig(method="lora"), cpu=False)["ddp_backend"] == "nccl"
    assert _distributed_arguments(TrainConfig(method="full"), cpu=False) == {"fsdp": "full_shard auto_wrap"}
    with pytest.raises(RadimpressError, match="full fine-tune over several processes needs GPUs"):
        _distributed_arguments(TrainConfig(method="full"), cpu=True)


def test_a_failed_distributed_fine_tune_names_its_exit_code_and_its_log(base, tmp_path):
    # A full fine-tune over two CPU processes is refused in each rank: torchrun fails, the worker says where to look.
    config = _train_config(method="full", gpus=2, checkpoint_steps=0)
    with pytest.raises(
        RadimpressError, match=r"the 2-process fine-tune failed \(torchrun exit code \d+\).*whole log: "
    ):
        finetune(base, *_pairs(base), LORA, config, tmp_path)
    assert "needs GPUs (FSDP)" in (tmp_path / "distributed.log").read_text()
