"""Training examples: prompt + target token ids with the prompt masked, packed into rows, collated into batches.

Fine-tuning keeps examples in `datasets.Dataset`s: Arrow files, memory-mapped, so a million examples cost disk
rather than Python objects. Tokenising is a batched `Dataset.map` written to `<cache_dir>/tokenized-<key>.arrow`,
the key a fingerprint of the texts, the tokenizer, `max_length`, this module's code and the tokenizer libraries'
versions, so a second fine-tune of the same data (a resumed one, or another variant of the same base and input)
reads that file back instead of tokenising again. `tokenize_pairs` and `pack_examples` are the same steps on
Python lists, for small inputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from radimpress.modeling.prompts import encode_prompts

if TYPE_CHECKING:
    from datasets import Dataset

IGNORE_INDEX = -100  # label value the loss skips: the prompt tokens
EXAMPLE_COLUMNS = ("input_ids", "labels")
ROW_COLUMNS = ("input_ids", "labels", "position_ids")  # a packed row
# In every cache key: a change to this file or to the tokenizer libraries must not reuse files written before it
# (`datasets` hashes a module-level function by its name, not its code).
_SOURCES = (Path(__file__), Path(__file__).with_name("prompts.py"))  # prompts.py encodes the prompts
_CODE = (
    "".join(hashlib.sha256(p.read_bytes()).hexdigest() for p in _SOURCES)
    + version("tokenizers")
    + version("transformers")
)


def tokenize_pairs(
    tokenizer, prompts: list[str], targets: list[str], max_length: int, max_target: int | None = None
) -> list[dict]:
    """input_ids = prompt + target + EOS; labels mask the prompt. A target is cut to `max_target` tokens (EOS
    included; default: all but 7 of `max_length`); a prompt still too long loses its start, not the target."""
    columns = _tokenize_batch({"prompt": prompts, "target": targets}, tokenizer, max_length, max_target)
    return [dict(zip(EXAMPLE_COLUMNS, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def tokenize_dataset(
    tokenizer, prompts: list[str], targets: list[str], max_length: int, cache_dir: Path, max_target: int | None = None
) -> Dataset:
    """`tokenize_pairs` as a batched `Dataset.map`, memory-mapped from (and cached in) a file in `cache_dir`.

    Returns:
        A Dataset with `input_ids` and `labels` (int32 lists), one row per pair, in the order of the pairs.
    """
    from datasets import Dataset
    from datasets.table import InMemoryTable

    # Our own fingerprint for the texts: `datasets` would pickle the whole table to hash it (seconds and a
    # second copy in memory at a million pairs).
    pairs = Dataset(
        InMemoryTable.from_pydict({"prompt": prompts, "target": targets}), fingerprint=_texts_key(prompts, targets)
    )
    key = _key(pairs._fingerprint, tokenizer, max_length, max_target)
    return pairs.map(
        _tokenize_batch,
        batched=True,
        fn_kwargs={"tokenizer": tokenizer, "max_length": max_length, "max_target": max_target},
        remove_columns=["prompt", "target"],
        features=_int32_lists(EXAMPLE_COLUMNS),
        cache_file_name=_cache_file(cache_dir, "tokenized", key),
        new_fingerprint=key,
        desc="tokenising",
    )


def _tokenize_batch(
    batch: dict[str, list[str]], tokenizer, max_length: int, max_target: int | None = None
) -> dict[str, list[list[int]]]:
    # Prompts are encoded exactly as generation encodes them; targets carry no special tokens but the final EOS.
    prompts, targets = encode_prompts(tokenizer, batch["prompt"]), _token_ids(tokenizer, batch["target"])
    room = max_length - 7 if max_target is None else max_target  # a long target leaves at least 7 prompt tokens
    columns: dict[str, list[list[int]]] = {name: [] for name in EXAMPLE_COLUMNS}
    for prompt_ids, target_ids in zip(prompts, targets, strict=True):
        target_ids = target_ids[: room - 1] + [tokenizer.eos_token_id]
        # Prompts fitted to their budget (`prompts.fit_prompt`) are never cut here; others lose their start.
        prompt_ids = prompt_ids[-(max_length - len(target_ids)) :]
        columns["input_ids"].append(prompt_ids + target_ids)
        columns["labels"].append([IGNORE_INDEX] * len(prompt_ids) + target_ids)
    return columns


def _token_ids(tokenizer, texts: list[str]) -> list[list[int]]:
    """One batched call (the same ids as one call per text); the templates hold any special tokens they need."""
    return tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []


def pack_examples(examples: list[dict], max_length: int) -> list[dict]:
    """Whole examples packed first-fit-decreasing into rows of at most `max_length` tokens.

    Positions restart at every example: with no attention mask, transformers reads the restarts as sequence
    boundaries and keeps each example's attention inside itself. Each example's first token is never a label,
    so no example learns to predict its first token from the one before it.
    """
    if not examples:
        return []
    table = pa.Table.from_pylist([{name: e[name] for name in EXAMPLE_COLUMNS} for e in examples])
    members = _packed_members(pc.list_value_length(table["input_ids"]).to_numpy(), max_length)
    return _joined_rows(table.take(pc.list_flatten(members)), members).to_pylist()


def pack_dataset(examples: Dataset, max_length: int, cache_dir: Path) -> Dataset:
    """`pack_examples` over a Dataset, the rows cached in a file in `cache_dir` like `tokenize_dataset`'s.

    The assignment of examples to rows is computed from the lengths column alone; the rows are then built by a
    batched `.map` that gathers each batch's examples from the memory-mapped file, so no token list is ever
    held for the whole dataset.

    Returns:
        A Dataset with `input_ids`, `labels` and `position_ids` (int32 lists), one row per packed row.
    """
    from datasets import Dataset
    from datasets.table import InMemoryTable

    key = _key(examples._fingerprint, max_length)  # _fingerprint: what `datasets` names a dataset's content by
    cache_file = _cache_file(cache_dir, "packed", key)
    if Path(cache_file).is_file():  # the assignment passes over every example: skip it when the rows are cached
        return Dataset.from_file(cache_file)
    source = examples.with_format("arrow")
    members = _packed_members(pc.list_value_length(source["input_ids"]).to_numpy(), max_length)
    rows = Dataset(InMemoryTable.from_pydict({"members": members}), fingerprint=f"{key}-members")
    packed = rows.with_format("arrow").map(
        _pack_batch,
        batched=True,
        fn_kwargs={"examples": source},
        remove_columns=["members"],
        features=_int32_lists(ROW_COLUMNS),
        cache_file_name=cache_file,
        new_fingerprint=key,
        desc="packing",
    )
    return packed.with_format(None)  # `map` keeps its input's (Arrow) format


def _pack_batch(batch: pa.Table, examples: Dataset) -> pa.Table:
    members = batch["members"]
    return _joined_rows(examples[pc.list_flatten(members).to_numpy()], members)  # one gather per batch of rows


def _packed_members(lengths: np.ndarray, capacity: int) -> pa.ListArray:
    """The example indices of each row, in the order they go in: longest first, each into the first row with room."""
    order = np.argsort(-lengths, kind="stable")  # equal lengths keep their order, as Python's sorted does
    rows = np.asarray(first_fit(lengths[order].tolist(), capacity), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rows))])  # rows open in turn: none is empty
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(order[np.argsort(rows, kind="stable")]))


def first_fit(sizes: list[int], capacity: int) -> list[int]:
    """The row each size goes into, in turn: the lowest-numbered row with room left, a new row when none has.

    A max-tree over the rows' room finds that row in log(rows) steps, where scanning the rows would make packing
    a million examples quadratic (hours). Rows not opened yet have all their room, so "the first row with room"
    is a new row exactly when no open row has enough.
    """
    leaves = 1 << max(len(sizes) - 1, 0).bit_length()  # at most one row per size
    room = [capacity] * (2 * leaves)  # room[node]: the most room left in any row under node; rows are the leaves
    rows = []
    for size in sizes:
        node = 1
        while node < leaves:
            node = 2 * node if room[2 * node] >= size else 2 * node + 1
        rows.append(node - leaves)
        room[node] -= size
        node //= 2
        while node and room[node] != max(room[2 * node], room[2 * node + 1]):
            room[node] = max(room[2 * node], room[2 * node + 1])
            node //= 2
    return rows


def _joined_rows(picked: pa.Table, members: pa.ListArray | pa.ChunkedArray) -> pa.Table:
    """Rows joining consecutive runs of `picked` examples, one run per `members` list, positions restarting at each."""
    sizes = pc.list_value_length(picked["input_ids"]).to_numpy()
    ends = np.cumsum(sizes)
    starts = ends - sizes
    labels = pc.list_flatten(picked["labels"]).to_numpy().copy()
    labels[starts] = IGNORE_INDEX  # no example learns its first token from the one before it
    offsets = pa.array(np.concatenate([[0], ends[np.cumsum(pc.list_value_length(members).to_numpy()) - 1]]), pa.int32())

    def rows(values: np.ndarray) -> pa.ListArray:
        return pa.ListArray.from_arrays(offsets, pa.array(values, pa.int32()))

    return pa.table(
        {
            "input_ids": rows(pc.list_flatten(picked["input_ids"]).to_numpy()),
            "labels": rows(labels),
            "position_ids": rows(np.arange(int(sizes.sum())) - np.repeat(starts, sizes)),
        }
    )


def _int32_lists(columns: tuple[str, ...]):
    from datasets import Features, List, Value

    return Features({name: List(Value("int32")) for name in columns})  # token ids and -100 fit: half of int64's disk


def _texts_key(prompts: Iterable[str], targets: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for texts in (prompts, targets):
        for text in texts:
            data = text.encode()
            digest.update(len(data).to_bytes(8, "little") + data)  # length-prefixed: ("ab", "c") != ("a", "bc")
        digest.update(b"\xff" * 8)  # no length prefix looks like this: the prompts end here
    return digest.hexdigest()[:32]


def _key(*parts) -> str:
    """A cache-file fingerprint of `parts`, hashed the way `datasets` hashes a map's arguments, and of _CODE."""
    from datasets.fingerprint import Hasher

    return Hasher.hash([_CODE, *parts])


def _cache_file(cache_dir: Path, step: str, key: str) -> str:
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    return str(Path(cache_dir) / f"{step}-{key}.arrow")


def collate(batch: list[dict], pad_id: int) -> dict:
    """Right-pad a batch for training; padding is masked out of attention and loss.

    Packed rows carry position ids instead of an attention mask; their padding is one more sequence of its own.
    """
    width = max(len(example["input_ids"]) for example in batch)
    if "position_ids" in batch[0]:
        return {
            "input_ids": torch.tensor([e["input_ids"] + [pad_id] * (width - len(e["input_ids"])) for e in batch]),
            "labels": torch.tensor([e["labels"] + [IGNORE_INDEX] * (width - len(e["labels"])) for e in batch]),
            "position_ids": torch.tensor([e["position_ids"] + list(range(width - len(e["input_ids"]))) for e in batch]),
            "use_cache": False,  # with a cache, transformers would not look for the packed sequences' boundaries
        }

    def pad(values: list[int], fill: int) -> list[int]:
        return values + [fill] * (width - len(values))

    return {
        "input_ids": torch.tensor([pad(e["input_ids"], pad_id) for e in batch]),
        "labels": torch.tensor([pad(e["labels"], IGNORE_INDEX) for e in batch]),
        "attention_mask": torch.tensor([pad([1] * len(e["input_ids"]), 0) for e in batch]),
    }
