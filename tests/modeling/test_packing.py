"""The Dataset path (tokenize_dataset, pack_dataset) against the list-of-lists code it replaced, and its cache."""

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from datasets import Dataset

from radimpress.modeling import packing
from radimpress.modeling.packing import IGNORE_INDEX, pack_dataset, pack_examples, tokenize_dataset, tokenize_pairs
from radimpress.sim.tiny import train_tokenizer

ROOT = Path(__file__).resolve().parents[2]
LONG_FINDINGS = " ".join(["Small left pleural effusion with adjacent atelectasis."] * 6)
PROMPTS = [
    "FINDINGS: Small left pleural effusion.\nIMPRESSION:",
    f"CLINICAL INFORMATION: Dyspnoea.\nFINDINGS: {LONG_FINDINGS}\nIMPRESSION:",  # longer than max_length
    "FINDINGS: x\nIMPRESSION:",
]
TARGETS = [" Small left pleural effusion.", " No acute abnormality.", " " + LONG_FINDINGS]  # the last: capped
MAX_LENGTH = 32


def old_tokenize_pairs(tokenizer, prompts: list[str], targets: list[str], max_length: int) -> list[dict]:
    """The list-of-lists tokenisation fine-tuning used before the Dataset path, verbatim."""
    examples = []
    for prompt, target in zip(prompts, targets, strict=True):
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        target_ids = tokenizer(target, add_special_tokens=False)["input_ids"][: max_length - 8]
        target_ids = target_ids + [tokenizer.eos_token_id]
        prompt_ids = prompt_ids[-(max_length - len(target_ids)) :]
        examples.append({"input_ids": prompt_ids + target_ids, "labels": [IGNORE_INDEX] * len(prompt_ids) + target_ids})
    return examples


def old_pack_examples(examples: list[dict], max_length: int) -> list[dict]:
    """The packing used before (first fit by scanning every row: quadratic), verbatim."""
    rows: list[dict] = []
    for example in sorted(examples, key=lambda e: -len(e["input_ids"])):
        size = len(example["input_ids"])
        row = next((r for r in rows if len(r["input_ids"]) + size <= max_length), None)
        if row is None:
            row = {"input_ids": [], "labels": [], "position_ids": []}
            rows.append(row)
        row["input_ids"] += example["input_ids"]
        row["labels"] += [IGNORE_INDEX, *example["labels"][1:]]
        row["position_ids"] += list(range(size))
    return rows


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer([*PROMPTS, *TARGETS, "Dyspnoea. Pleural effusion. No acute abnormality."], vocab_size=300)


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_the_dataset_path_gives_the_old_ids_labels_and_truncation(tokenizer, tmp_path):
    examples = tokenize_dataset(tokenizer, PROMPTS, TARGETS, MAX_LENGTH, tmp_path)
    assert examples.to_list() == old_tokenize_pairs(tokenizer, PROMPTS, TARGETS, MAX_LENGTH)
    assert tokenize_pairs(tokenizer, PROMPTS, TARGETS, MAX_LENGTH) == examples.to_list()
    eos = tokenizer.eos_token_id
    short, long_prompt, long_target = examples
    assert short["input_ids"] == _ids(tokenizer, PROMPTS[0]) + _ids(tokenizer, TARGETS[0]) + [eos]
    assert short["labels"] == [IGNORE_INDEX] * len(_ids(tokenizer, PROMPTS[0])) + _ids(tokenizer, TARGETS[0]) + [eos]
    target_ids = _ids(tokenizer, TARGETS[1]) + [eos]
    kept = MAX_LENGTH - len(target_ids)
    assert len(_ids(tokenizer, PROMPTS[1])) > MAX_LENGTH
    assert long_prompt["input_ids"] == _ids(tokenizer, PROMPTS[1])[-kept:] + target_ids  # the prompt's end survives
    assert long_target["labels"][-(MAX_LENGTH - 7) :] == _ids(tokenizer, TARGETS[2])[: MAX_LENGTH - 8] + [eos]
    assert examples.features["input_ids"].feature.dtype == "int32"


def test_packing_a_dataset_gives_the_old_rows(tokenizer, tmp_path):
    examples = tokenize_dataset(tokenizer, PROMPTS * 3, TARGETS * 3, MAX_LENGTH, tmp_path)
    rows = pack_dataset(examples, 2 * MAX_LENGTH, tmp_path)
    expected = old_pack_examples(old_tokenize_pairs(tokenizer, PROMPTS * 3, TARGETS * 3, MAX_LENGTH), 2 * MAX_LENGTH)
    assert rows.to_list() == expected
    assert rows.column_names == ["input_ids", "labels", "position_ids"]
    assert len(rows) < len(examples)


def test_packing_literal_examples_first_fit_decreasing(tmp_path):
    examples = [
        {"input_ids": [1, 2, 3, 4, 5], "labels": [-100, -100, 3, 4, 5]},
        {"input_ids": [6, 7, 8], "labels": [-100, 7, 8]},
        {"input_ids": [9, 10, 11, 12], "labels": [-100, -100, 11, 12]},
        {"input_ids": [13, 14], "labels": [13, 14]},
    ]
    # Longest first: 5 opens row 0, 4 does not fit beside it (row 1), 3 fills row 0, 2 joins row 1.
    expected = [
        {
            "input_ids": [1, 2, 3, 4, 5, 6, 7, 8],
            "labels": [-100, -100, 3, 4, 5, -100, 7, 8],
            "position_ids": [0, 1, 2, 3, 4, 0, 1, 2],
        },
        {
            "input_ids": [9, 10, 11, 12, 13, 14],
            "labels": [-100, -100, 11, 12, -100, 14],  # the first token of each example is never a label
            "position_ids": [0, 1, 2, 3, 0, 1],
        },
    ]
    assert old_pack_examples(examples, 8) == expected
    assert pack_examples(examples, 8) == expected
    assert pack_dataset(Dataset.from_list(examples), 8, tmp_path).to_list() == expected


def test_first_fit_finds_the_rows_scanning_found():
    rng = random.Random(0)
    for capacity, count in ((256, 1500), (16, 300), (7, 50)):
        examples = []
        for _ in range(count):
            size = rng.randint(1, capacity)
            examples.append({"input_ids": [rng.randrange(500) for _ in range(size)], "labels": list(range(size))})
        assert pack_examples(examples, capacity) == old_pack_examples(examples, capacity), capacity
    assert pack_examples([], 8) == [] and packing.first_fit([], 8) == []


def test_a_second_tokenisation_of_the_same_data_is_served_from_the_cache(tokenizer, tmp_path, monkeypatch):
    first = tokenize_dataset(tokenizer, PROMPTS, TARGETS, MAX_LENGTH, tmp_path)
    [cache_file] = [Path(f["filename"]) for f in first.cache_files]
    assert cache_file.parent == tmp_path and cache_file.name == f"tokenized-{first._fingerprint}.arrow"
    written = cache_file.stat()
    packed = pack_dataset(first, 2 * MAX_LENGTH, tmp_path)

    def never(*args, **kwargs):
        raise AssertionError("tokenised or packed again instead of reading the cache")

    with monkeypatch.context() as patch:
        patch.setattr(packing, "_tokenize_batch", never)  # what `.map` would call on a cache miss
        patch.setattr(packing, "first_fit", never)
        second = tokenize_dataset(tokenizer, list(PROMPTS), list(TARGETS), MAX_LENGTH, tmp_path)
        assert [Path(f["filename"]) for f in second.cache_files] == [cache_file]
        assert pack_dataset(second, 2 * MAX_LENGTH, tmp_path).cache_files == packed.cache_files
        with pytest.raises(AssertionError, match="instead of reading the cache"):  # other data: a new file
            tokenize_dataset(tokenizer, PROMPTS[:2], TARGETS[:2], MAX_LENGTH, tmp_path)
        with pytest.raises(AssertionError, match="instead of reading the cache"):  # another max_length too
            tokenize_dataset(tokenizer, PROMPTS, TARGETS, MAX_LENGTH + 1, tmp_path)
    assert (cache_file.stat().st_ino, cache_file.stat().st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    assert second.to_list() == first.to_list()


HOME_WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_packing import PROMPTS, TARGETS
    from radimpress.modeling.packing import pack_dataset, tokenize_dataset
    from radimpress.sim.tiny import train_tokenizer

    tokenizer = train_tokenizer(PROMPTS + TARGETS, vocab_size=300)
    examples = tokenize_dataset(tokenizer, PROMPTS, TARGETS, 32, Path({cache!r}))
    print(len(pack_dataset(examples, 64, Path({cache!r}))))
    """
)


def test_the_cache_stays_in_its_folder_and_nothing_goes_to_home(tmp_path):
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    script = HOME_WORKER.format(tests=str(Path(__file__).parent), cache=str(cache))
    hidden = {"HF_HOME", "HF_DATASETS_CACHE", "XDG_CACHE_HOME", "TRANSFORMERS_CACHE"}
    env = {k: v for k, v in os.environ.items() if k not in hidden} | {"HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert list(home.rglob("*")) == []
    assert sorted(p.name.split("-")[0] for p in cache.iterdir()) == ["packed", "tokenized"]
