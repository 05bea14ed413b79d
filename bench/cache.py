"""Keying a big model folder: today's full read of every byte against the manifest, side by side in one run.

    .venv/bin/python bench/cache.py              # a 2 GiB folder (4 safetensors shards + index, config, tokenizer)
    .venv/bin/python bench/cache.py --gib 8

A stage that takes a model folder (a `model_paths` base, a fully fine-tuned model) is keyed by its content. Reading
every byte costs a sha256 pass over the weights on every run, for every stage that takes the folder; the manifest
(`radimpress.stages.keys.manifest`) reads only file names, sizes, small files and each safetensors header. The
folder is built once under data/bench/cache. Both keys are computed three times with the in-process memo cleared
(so the full read really reads); the page cache stays warm, which favours the full read: from a cold disk it is
slower still. The manifest's limit is printed too: weights rewritten in place with the same shapes keep its key,
which is why a stage's own outputs are keyed by the digests recorded when the stage finished, not by manifest.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from radimpress.stages import keys  # noqa: E402

SHARDS, CHUNK = 4, 64 << 20
REPEATS = 3


def write_shard(path: Path, size: int) -> None:
    """A valid safetensors file holding one uint8 tensor of `size` random bytes."""
    header = json.dumps({"weight": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]}}).encode()
    header += b" " * (-len(header) % 8)  # the format pads the header to 8 bytes
    with path.open("wb") as handle:
        handle.write(len(header).to_bytes(8, "little") + header)
        for start in range(0, size, CHUNK):
            handle.write(os.urandom(min(CHUNK, size - start)))


def build_model_folder(folder: Path, total_bytes: int) -> Path:
    """config.json, tokenizer.json, an index and SHARDS shards, the layout of a Hub checkpoint; kept between runs."""
    shard_size = total_bytes // SHARDS
    names = [f"model-{i:05d}-of-{SHARDS:05d}.safetensors" for i in range(1, SHARDS + 1)]
    if all((folder / n).is_file() and (folder / n).stat().st_size > shard_size for n in names):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 2048}))
    (folder / "tokenizer.json").write_text(json.dumps({"vocab": {f"t{i}": i for i in range(50_000)}}))
    index = {"metadata": {"total_size": shard_size * SHARDS}, "weight_map": {f"w{i}": n for i, n in enumerate(names)}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    for name in names:
        write_shard(folder / name, shard_size)
    return folder


def timed(key_folder, folder: Path) -> tuple[float, str]:
    """Median seconds of REPEATS keyings, the in-process memo cleared before each."""
    seconds, key = [], ""
    for _ in range(REPEATS):
        keys._file_digest.cache_clear()
        started = time.perf_counter()
        key = key_folder(folder)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=2.0, help="size of the model folder")
    args = parser.parse_args()
    folder = build_model_folder(ROOT / "data/bench/cache/model", int(args.gib * (1 << 30)))
    size = sum(f.stat().st_size for f in folder.iterdir())
    print(f"model folder: {size / (1 << 30):.2f} GiB in {len(list(folder.iterdir()))} files ({folder})")
    assert keys.is_model_folder(folder) and set(keys.path_fingerprint(folder)) == {"manifest"}

    full_seconds, full_key = timed(keys.digest_path, folder)
    manifest_seconds, manifest_key = timed(keys.manifest_digest, folder)
    print(f"full read (every byte, sha256): {full_seconds:8.3f} s   key {full_key[:16]}")
    print(f"manifest (names, sizes, headers): {manifest_seconds:6.3f} s   key {manifest_key[:16]}")

    shard = next(folder.glob("*.safetensors"))
    with shard.open("r+b") as handle:  # rewrite one weight byte in place: same shapes, same header
        handle.seek(shard.stat().st_size - 1)
        last = handle.read(1)
        handle.seek(-1, os.SEEK_END)
        handle.write(bytes([last[0] ^ 0xFF]))
    keys._file_digest.cache_clear()
    print(
        "a weight byte rewritten in place: full-read key changed "
        f"{keys.digest_path(folder) != full_key}, manifest key changed {keys.manifest_digest(folder) != manifest_key}"
        " (the manifest trusts that weights with unchanged headers are unchanged: pin a revision or use a new folder)"
    )
    print(f"speed-up: {full_seconds / manifest_seconds:.1f}x")


if __name__ == "__main__":
    main()
