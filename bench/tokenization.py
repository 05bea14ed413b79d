"""Tokenising for fine-tuning at hospital scale: 1,000,000 (prompt, impression) pairs through the list-of-lists code
fine-tuning used before and through the `datasets` path (batched `Dataset.map` into memory-mapped Arrow), side by
side in one run.

    .venv/bin/python bench/tokenization.py                 # 1,000,000 pairs (the pairs file is built once, ~20 s)
    .venv/bin/python bench/tokenization.py --pairs 100000

Pairs: 50,000 synthetic reports as findings + clinical information prompts with their impressions, repeated up to
--pairs; the tokenizer: a 1,024-token BPE learnt from 5,000 reports (what a tiny base ships). max_length 256 (the
default). Each side runs in its own process, so each peak memory (max RSS, mapped Arrow pages included) is its own;
both first load the pairs as Python lists, as `finetune` receives them, and report that baseline too.

  lists:    the old `tokenize_pairs` (one tokenizer call per text, a dict of Python lists per example) over every
            pair; the old `pack_examples` scans every open row for each example, so packing is quadratic: it runs
            on the first --pack-pairs pairs and on half as many, and the growth is extrapolated to every pair.
  datasets: `tokenize_dataset` then `pack_dataset` over every pair (into a fresh cache under data/bench), a second
            `tokenize_dataset` of the same pairs (served from the cache), and `pack_dataset` of the first
            --pack-pairs examples for the comparison.

Asserted: the examples of both sides are identical on 1,000+ sampled pairs, their token and label totals over every
pair are equal, and both pack the first --pack-pairs pairs into identical rows. Target: the datasets side peaks at
no more than 4 GiB. Times, peaks and the ratio are printed last.
"""

from __future__ import annotations

import os
import sys

# This file is named like the standard library's `tokenize`, which inspect and linecache import: keep its folder off
# sys.path, or they would import this file instead.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from queue import Empty  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH = ROOT / "data" / "bench"
MAX_LENGTH, VOCAB_SIZE, DISTINCT_REPORTS, TOKENIZER_REPORTS = 256, 1024, 50_000, 5_000
IGNORE_INDEX = -100
TARGET_PEAK_GIB = 4.0


def build_pairs(path: Path, pairs: int) -> Path:
    """Prompts and targets of DISTINCT_REPORTS synthetic reports, repeated to `pairs` rows, as Parquet."""
    import polars as pl

    from radimpress.modeling.prompts import build_prompts, build_target
    from radimpress.sim.synthetic import generate_reports

    reports = generate_reports(min(pairs, DISTINCT_REPORTS), seed=0)
    distinct = pl.DataFrame(
        {
            "prompt": build_prompts(reports, "findings_clinical"),
            "target": [build_target(text) for text in reports["impression"]],
        }
    )
    frame = pl.concat([distinct] * -(-pairs // distinct.height)).head(pairs)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    return path


def build_tokenizer(folder: Path) -> Path:
    from radimpress.sim.synthetic import generate_reports
    from radimpress.sim.tiny import train_tokenizer

    reports = generate_reports(TOKENIZER_REPORTS, seed=11)
    texts = [t for column in ("clinical_information", "findings", "impression") for t in reports[column]]
    train_tokenizer(texts, VOCAB_SIZE).save_pretrained(folder)
    return folder


def load_pairs(path: str) -> tuple[list[str], list[str]]:
    import polars as pl

    frame = pl.read_parquet(path)
    return frame["prompt"].to_list(), frame["target"].to_list()


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def resident_gib() -> dict[str, float]:
    """Resident memory now: anonymous (the heap) and mapped files (libraries, Arrow: pages the kernel can drop)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {name: int(fields[name].split()[0]) / 2**20 for name in ("RssAnon", "RssFile")}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime  # every thread's: the tokenizer's Rust threads too


def timed(call):
    """`call()`'s result with its wall-clock and CPU seconds (CPU: the machine may be shared)."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = call()
    return result, {"wall": time.perf_counter() - wall, "cpu": cpu_seconds() - cpu}


def seconds(times: dict) -> str:
    return f"{times['wall']:7.1f} s ({times['cpu']:6.1f} s CPU)"


def duration(value: float) -> str:
    return f"{value / 3600:,.1f} h" if value >= 3600 else f"{value / 60:,.1f} min" if value >= 60 else f"{value:.0f} s"


def sample_indices(count: int) -> list[int]:
    return sorted(set(range(0, count, max(1, count // 1000))) | {count - 1})


def rows_digest(rows) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps([row["input_ids"], row["labels"], row["position_ids"]]).encode())
    return digest.hexdigest()


# --- lists: the code fine-tuning used before, verbatim ---------------------------------------------------------


def old_tokenize_pairs(tokenizer, prompts: list[str], targets: list[str], max_length: int) -> list[dict]:
    """input_ids = prompt + target + EOS; labels mask the prompt. Long prompts lose their start, not the target."""
    examples = []
    for prompt, target in zip(prompts, targets, strict=True):
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        target_ids = tokenizer(target, add_special_tokens=False)["input_ids"][: max_length - 8]
        target_ids = target_ids + [tokenizer.eos_token_id]
        prompt_ids = prompt_ids[-(max_length - len(target_ids)) :]
        examples.append({"input_ids": prompt_ids + target_ids, "labels": [IGNORE_INDEX] * len(prompt_ids) + target_ids})
    return examples


def old_pack_examples(examples: list[dict], max_length: int) -> list[dict]:
    """Whole examples packed first-fit-decreasing into rows of at most `max_length` tokens."""
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


def run_lists(pairs_path: str, tokenizer_dir: str, pack_pairs: int, cache_dir: str) -> dict:
    from radimpress.modeling.loading import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_dir)
    prompts, targets = load_pairs(pairs_path)
    loaded = peak_gib()
    examples, tokenize = timed(lambda: old_tokenize_pairs(tokenizer, prompts, targets, MAX_LENGTH))
    packs = {}
    for count in (pack_pairs // 2, pack_pairs):
        rows, packs[count] = timed(lambda count=count: old_pack_examples(examples[:count], MAX_LENGTH))
    return {
        "loaded_gib": loaded,
        "tokenize": tokenize,
        "pack": packs,
        "sample": [examples[i] for i in sample_indices(len(examples))],
        "totals": [
            sum(len(e["input_ids"]) for e in examples),
            sum(sum(e["input_ids"]) for e in examples),
            sum(sum(e["labels"]) for e in examples),
        ],
        "packed": (len(rows), rows_digest(rows)),
    }


# --- datasets: radimpress's fine-tuning path -----------------------------------------------------------------


def run_datasets(pairs_path: str, tokenizer_dir: str, pack_pairs: int, cache_dir: str) -> dict:
    import datasets
    import pyarrow.compute as pc

    from radimpress.modeling.loading import load_tokenizer
    from radimpress.modeling.packing import pack_dataset, tokenize_dataset

    datasets.disable_progress_bars()
    tokenizer = load_tokenizer(tokenizer_dir)
    prompts, targets = load_pairs(pairs_path)
    loaded = peak_gib()
    cache = Path(cache_dir)
    examples, tokenize = timed(lambda: tokenize_dataset(tokenizer, prompts, targets, MAX_LENGTH, cache))
    packed, pack = timed(lambda: pack_dataset(examples, MAX_LENGTH, cache))
    resident = resident_gib()
    again, cached = timed(lambda: tokenize_dataset(tokenizer, prompts, targets, MAX_LENGTH, cache))
    assert again.cache_files == examples.cache_files
    disk_gib = sum(p.stat().st_size for p in cache.iterdir()) / 2**30
    columns = examples.with_format("arrow")
    flat_ids, flat_labels = pc.list_flatten(columns["input_ids"]), pc.list_flatten(columns["labels"])
    rows = pack_dataset(examples.select(range(pack_pairs)), MAX_LENGTH, cache).to_list()
    return {
        "loaded_gib": loaded,
        "tokenize": tokenize,
        "pack": pack,
        "cached": cached,
        "resident": resident,
        "rows": len(packed),
        "disk_gib": disk_gib,
        "sample": examples.select(sample_indices(len(examples))).to_list(),
        "totals": [len(flat_ids), pc.sum(flat_ids).as_py(), pc.sum(flat_labels).as_py()],
        "packed": (len(rows), rows_digest(rows)),
    }


# --- side by side ---------------------------------------------------------------------------------------------


def _child(target, arguments: tuple, queue) -> None:
    try:
        result = target(*arguments)
    except BaseException as exc:  # report it to the parent instead of leaving it waiting
        queue.put({"error": f"{target.__name__}: {type(exc).__name__}: {exc}"})
        raise
    result["peak_gib"] = peak_gib()
    queue.put(result)


def measure(target, *arguments) -> dict:
    """Run one side in a fresh process: its own times, examples and peak memory."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, arguments, queue))
    process.start()
    while True:  # a child that dies without a word (killed, out of memory) must not leave us waiting
        try:
            result = queue.get(timeout=5)
            break
        except Empty:
            if not process.is_alive():
                sys.exit(f"{target.__name__} died with exit code {process.exitcode}")
    process.join()
    if "error" in result:
        sys.exit(result["error"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--pack-pairs", type=int, default=20_000, help="pairs the quadratic old packing runs on")
    args = parser.parse_args()
    pack_pairs = min(args.pack_pairs, args.pairs)
    pairs_path = BENCH / f"pairs_{args.pairs}.parquet"
    if not pairs_path.exists():
        build_pairs(pairs_path, args.pairs)
    tokenizer_dir = BENCH / f"tokenizer_{VOCAB_SIZE}"
    if not (tokenizer_dir / "tokenizer.json").exists():
        build_tokenizer(tokenizer_dir)
    cache_dir = BENCH / "tokenized"
    shutil.rmtree(cache_dir, ignore_errors=True)  # the datasets side tokenises, not reads a cache left behind
    print(f"pairs: {pairs_path.relative_to(ROOT)} ({args.pairs:,} pairs, {pairs_path.stat().st_size / 1e6:,.0f} MB)")
    arguments = (str(pairs_path), str(tokenizer_dir), pack_pairs, str(cache_dir))

    new = measure(run_datasets, *arguments)
    old = measure(run_lists, *arguments)
    tokens = new["totals"][0]
    print(f"tokens: {tokens:,} ({tokens / args.pairs:.1f} per pair, max_length {MAX_LENGTH})")
    print(
        f"lists:    tokenise {seconds(old['tokenize'])}, {args.pairs / old['tokenize']['wall']:,.0f} pairs/s; "
        f"peak {old['peak_gib']:.2f} GiB (pairs loaded: {old['loaded_gib']:.2f} GiB)"
    )
    half, full = sorted(old["pack"])
    growth = old["pack"][full]["cpu"] / old["pack"][half]["cpu"]
    estimate = old["pack"][full]["cpu"] * (args.pairs / full) ** 2
    print(
        f"          pack {half:,} pairs {seconds(old['pack'][half])}, {full:,} pairs {seconds(old['pack'][full])}: "
        f"{growth:.1f}x CPU for 2x pairs; all {args.pairs:,} pairs would take about {duration(estimate)} CPU (not run)"
    )
    print(
        f"datasets: tokenise {seconds(new['tokenize'])}, {args.pairs / new['tokenize']['wall']:,.0f} pairs/s; "
        f"peak {new['peak_gib']:.2f} GiB (pairs loaded: {new['loaded_gib']:.2f} GiB; resident after packing: "
        f"{new['resident']['RssAnon']:.2f} GiB heap + {new['resident']['RssFile']:.2f} GiB mapped libraries and Arrow)"
    )
    print(
        f"          pack all {args.pairs:,} pairs {seconds(new['pack'])} -> {new['rows']:,} rows; the same "
        f"tokenising again {seconds(new['cached'])} (from the cache); cache files {new['disk_gib']:.2f} GiB"
    )
    assert new["sample"] == old["sample"], "the datasets path must give the old examples"
    assert new["totals"] == old["totals"], (new["totals"], old["totals"])
    assert new["packed"] == old["packed"], (new["packed"], old["packed"])
    print(
        f"examples: identical on {len(new['sample']):,} sampled pairs; token and label totals equal over all "
        f"{args.pairs:,}; the first {pack_pairs:,} pairs pack into identical rows ({new['packed'][0]:,})"
    )
    speedup = {kind: old["tokenize"][kind] / new["tokenize"][kind] for kind in ("wall", "cpu")}
    print(f"tokenising, lists / datasets: {speedup['wall']:.1f}x wall, {speedup['cpu']:.1f}x CPU")
    print(f"peak memory, lists / datasets: {old['peak_gib'] / new['peak_gib']:.1f}x (lists without packing)")
    print(f"datasets peak memory: {new['peak_gib']:.2f} GiB with packing (target <= {TARGET_PEAK_GIB:.0f} GiB)")


if __name__ == "__main__":
    main()
