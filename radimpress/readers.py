"""Read a hospital export as text columns: CSV / TSV, Parquet, JSONL, or a folder of .txt reports.

Every reader returns a lazy frame of String columns plus `source_row` (the 1-based row, line or file number
in the export), so each kept or quarantined report can be traced back to where it came from. Lines that
cannot be parsed at all (a broken JSON line) come back as `unreadable` rows with a reason instead of
failing the whole file; a file that cannot be read at all raises one clear InputDataError.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from radimpress.errors import InputDataError

FORMATS = ("csv", "tsv", "parquet", "jsonl", "text_folder")
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
TEXT_COLUMN = "text"  # the column a text folder's reports land in
_SNIFF_BYTES = 1 << 16
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Export:
    rows: pl.LazyFrame  # String columns + source_row
    unreadable: pl.DataFrame  # source_row, reason, detail: lines no reader could parse
    encoding: str  # what the bytes were decoded as


def read_source(path: Path, fmt: str = "auto", encoding: str = "auto", work_dir: Path | None = None) -> Export:
    """Open the export at `path` lazily; `work_dir` holds a UTF-8 copy when the file is in another encoding.

    Raises:
        InputDataError: the file is missing, empty, of an unknown kind, or unreadable.
    """
    path = Path(path)
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "text_folder":
        return _read_text_folder(path, encoding)
    if not path.is_file():
        raise InputDataError(f"input file not found: {path}")
    if not _head(path).strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise InputDataError(f"{path} is empty")
    if fmt == "parquet":
        return Export(_scan_parquet(path), _no_unreadable(), "parquet")
    encoding = detect_encoding(path) if encoding == "auto" else encoding
    text_path = path if encoding == "utf-8" else transcode_to_utf8(path, encoding, work_dir or Path.cwd())
    if fmt == "jsonl":
        return _read_jsonl(text_path, encoding)
    return Export(_scan_csv(text_path, "\t" if fmt == "tsv" else ",", path), _no_unreadable(), encoding)


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "text_folder"
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(SUFFIX_FORMATS))
        raise InputDataError(
            f"cannot tell the format of {path} from '{path.suffix}' (known: {known}; or set data.format)"
        )
    return fmt


def detect_encoding(path: Path) -> str:
    """utf-8 (with or without BOM), utf-16 (BOM, or every other byte NUL), else cp1252 / latin-1.

    Windows exports are usually cp1252, which agrees with latin-1 on letters such as é; a file that is
    not valid cp1252 is read as latin-1, which decodes any byte.
    """
    head = _head(path)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _looks_utf16(head):
        return "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
    for candidate in ("utf-8", "cp1252"):
        if _decodes(path, candidate):
            return candidate
    return "latin-1"


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(_SNIFF_BYTES)


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a BOM: ASCII text leaves a NUL in every other byte (stray NULs in UTF-8 do not)."""
    pairs = len(head) // 2
    return pairs > 8 and max(head[0::2].count(0), head[1::2].count(0)) > 0.4 * pairs


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def transcode_to_utf8(path: Path, encoding: str, work_dir: Path) -> Path:
    """A UTF-8 copy of `path` (polars reads only UTF-8), written block by block so size does not matter."""
    work_dir.mkdir(parents=True, exist_ok=True)
    target = work_dir / f"{path.stem}.utf8{path.suffix}"
    try:
        with path.open(encoding=encoding, newline="") as source, target.open("w", encoding="utf-8", newline="") as out:
            for block in iter(lambda: source.read(1 << 20), ""):
                out.write(block.removeprefix("\ufeff"))
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputDataError(f"{path} is not readable as {encoding} ({exc}); set data.encoding") from None
    return target


def _scan_csv(path: Path, separator: str, shown: Path) -> pl.LazyFrame:
    try:
        header = pl.read_csv(path, n_rows=0, separator=separator, infer_schema=False).columns
    except pl.exceptions.PolarsError as exc:
        raise InputDataError(f"cannot read {shown}: {_first_line(exc)}") from None
    if any(_CONTROL_CHARS.search(name) for name in header):
        raise InputDataError(
            f"{shown} does not look like a text export: its header holds control bytes (a binary file?)"
        )
    schema = {name: pl.String for name in header}
    return pl.scan_csv(path, separator=separator, schema=schema, encoding="utf8").with_row_index("source_row", offset=1)


def _scan_parquet(path: Path) -> pl.LazyFrame:
    try:
        schema = pl.read_parquet_schema(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputDataError(f"cannot read {path}: {_first_line(exc)} (a truncated or non-Parquet file?)") from None
    nested = [f"'{name}' ({dtype})" for name, dtype in schema.items() if dtype.is_nested() or dtype == pl.Object]
    if nested:
        raise InputDataError(f"{path}: column {nested[0]} holds nested values, not text; flatten it in the export")
    return pl.scan_parquet(path).select(pl.all().cast(pl.String)).with_row_index("source_row", offset=1)


def _read_jsonl(path: Path, encoding: str) -> Export:
    """One JSON object per line; a line that is not one becomes an unreadable row, not a failed file."""
    rows, bad = [], []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record, problem = _json_record(line)
            if problem:
                bad.append({"source_row": number, "reason": "unparseable_line", "detail": problem})
            else:
                rows.append({"source_row": number, **record})
    if not rows and not bad:
        raise InputDataError(f"{path} has no JSON lines")
    frame = pl.from_dicts(rows, infer_schema_length=None) if rows else pl.DataFrame({"source_row": []})
    frame = frame.with_columns(pl.col("source_row").cast(pl.UInt32), pl.exclude("source_row").cast(pl.String))
    return Export(frame.lazy(), _unreadable_frame(bad), encoding)


def _json_record(line: str) -> tuple[dict[str, str | None], str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return {}, f"not JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(record, dict):
        return {}, f"a JSON {type(record).__name__}, not an object"
    return {str(k): _json_text(v) for k, v in record.items()}, ""


def _json_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _read_text_folder(folder: Path, encoding: str) -> Export:
    """One report per .txt file (searched recursively); its relative path without suffix is the report id."""
    if not folder.is_dir():
        raise InputDataError(f"input folder not found: {folder}")
    files = sorted(folder.rglob("*.txt"))
    if not files:
        raise InputDataError(f"{folder} holds no .txt reports")
    texts, used = [], set()
    for file in files:
        text, used_encoding = _decode_file(file, encoding)
        texts.append(text)
        used.add(used_encoding)
    frame = pl.DataFrame(
        {
            "source_row": pl.Series(range(1, len(files) + 1), dtype=pl.UInt32),
            "report_id": [str(f.relative_to(folder).with_suffix("")) for f in files],
            TEXT_COLUMN: texts,
        }
    )
    return Export(frame.lazy(), _no_unreadable(), "+".join(sorted(used)))


def _decode_file(file: Path, encoding: str) -> tuple[str, str]:
    chosen = detect_encoding(file) if encoding == "auto" and file.stat().st_size else encoding
    chosen = "utf-8" if chosen == "auto" else chosen
    return file.read_bytes().decode(chosen, errors="replace").removeprefix("\ufeff"), chosen


def _unreadable_frame(rows: list[dict]) -> pl.DataFrame:
    schema = {"source_row": pl.UInt32, "reason": pl.String, "detail": pl.String}
    return pl.DataFrame(rows, schema=schema)


def _no_unreadable() -> pl.DataFrame:
    return _unreadable_frame([])


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
