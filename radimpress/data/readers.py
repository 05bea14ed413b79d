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
    fmt: str = "csv"
    skipped: tuple[str, ...] = ()  # files of a folder that are not reports (not .txt)


def read_source(path: Path, fmt: str = "auto", encoding: str = "auto", work_dir: Path | None = None) -> Export:
    """Open the export at `path` lazily; `work_dir` holds a UTF-8 copy when the file is in another encoding.

    Raises:
        InputDataError: the file is missing, empty, of an unknown kind, or unreadable.
    """
    path = Path(path)
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "text_folder":
        return _read_text_folder(path, encoding)
    if encoding != "auto":
        _check_encoding_name(encoding)
    if not path.is_file():
        raise InputDataError(f"input file not found: {path}")
    if not _head(path).strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise InputDataError(f"{path} is empty")
    if fmt == "parquet":
        return Export(_scan_parquet(path), no_unreadable_rows(), "parquet", fmt)
    encoding = detect_encoding(path) if encoding == "auto" else encoding
    text_path = path if encoding == "utf-8" else transcode_to_utf8(path, encoding, work_dir or Path.cwd())
    if fmt == "jsonl":
        return _read_jsonl(text_path, encoding)
    return Export(_scan_csv(text_path, "\t" if fmt == "tsv" else ",", path), no_unreadable_rows(), encoding, fmt)


def _check_encoding_name(encoding: str) -> None:
    try:
        codecs.lookup(encoding.removesuffix("+replace"))
    except LookupError:
        raise InputDataError(
            f"unknown encoding '{encoding}' (data.encoding): try auto, utf-8, cp1252 or utf-16"
        ) from None


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
    if _decodes(path, "utf-8"):
        return "utf-8"
    if _mostly_utf8(path):
        return "utf-8+replace"  # a few stray bytes in a UTF-8 file: replace them rather than garble every accent
    return "cp1252" if _decodes(path, "cp1252") else "latin-1"


def _mostly_utf8(path: Path) -> bool:
    """More well-formed UTF-8 multi-byte characters than malformed bytes: a UTF-8 file with a few stray bytes."""
    with path.open("rb") as handle:
        text = handle.read(1 << 24).decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for char in text if ord(char) > 127) - bad
    return good > bad


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
    errors = "replace" if encoding.endswith("+replace") else "strict"
    codec = encoding.removesuffix("+replace")
    try:
        with (
            path.open(encoding=codec, errors=errors, newline="") as source,
            target.open("w", encoding="utf-8", newline="") as out,
        ):
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
    _check_unique_names(header, shown)
    schema = {name: pl.String for name in header}
    scan = pl.scan_csv(path, separator=separator, schema=schema, encoding="utf8")
    return _with_source_row(scan, header)


def _check_unique_names(header: list[str], shown: Path) -> None:
    """polars renames a repeated header name to '<name>_duplicated_0': which copy is meant cannot be guessed."""
    for name in header:
        repeated = re.fullmatch(r"(.+)_duplicated_\d+", name)
        if repeated and repeated.group(1) in header:
            raise InputDataError(f"{shown}: column '{repeated.group(1)}' appears twice in the header; rename one")


def _with_source_row(scan: pl.LazyFrame, names: list[str]) -> pl.LazyFrame:
    """Number the rows from 1; an export's own `source_row` column (a re-ingested quarantine file) is kept aside."""
    if "source_row" in names:
        scan = scan.rename({"source_row": "export_source_row"})
    return scan.with_row_index("source_row", offset=1)


def _scan_parquet(path: Path) -> pl.LazyFrame:
    try:
        schema = pl.read_parquet_schema(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputDataError(f"cannot read {path}: {_first_line(exc)} (a truncated or non-Parquet file?)") from None
    nested = [f"'{name}' ({dtype})" for name, dtype in schema.items() if dtype.is_nested() or dtype == pl.Object]
    if nested:
        raise InputDataError(f"{path}: column {nested[0]} holds nested values, not text; flatten it in the export")
    return _with_source_row(pl.scan_parquet(path).select(pl.all().cast(pl.String)), list(schema))


def _read_jsonl(path: Path, encoding: str) -> Export:
    """One JSON object per line; a line that is not one becomes an unreadable row, not a failed file."""
    rows, bad = [], []
    with path.open(encoding="utf-8-sig") as handle:  # -sig: a byte-order mark is not part of the first record
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record, problem = _json_record(line)
            if problem:
                bad.append({"source_row": number, "reason": "unparseable_line", "detail": problem})
            else:
                record["export_source_row"] = record.pop("source_row", None)
                rows.append({**record, "source_row": number})
    if not rows and not bad:
        raise InputDataError(f"{path} has no JSON lines")
    frame = pl.from_dicts(rows, infer_schema_length=None) if rows else pl.DataFrame({"source_row": []})
    frame = frame.with_columns(pl.col("source_row").cast(pl.UInt32), pl.exclude("source_row").cast(pl.String))
    if "export_source_row" in frame.columns and frame["export_source_row"].null_count() == frame.height:
        frame = frame.drop("export_source_row")
    return Export(frame.lazy(), _unreadable_frame(bad), encoding, "jsonl")


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
    every = sorted(p for p in folder.rglob("*") if p.is_file())
    files = [p for p in every if p.suffix.lower() == ".txt"]  # a.txt and B.TXT alike
    if not files:
        raise InputDataError(f"{folder} holds no .txt reports")
    skipped = tuple(str(p.relative_to(folder)) for p in every if p.suffix.lower() != ".txt")
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
    return Export(frame.lazy(), no_unreadable_rows(), "+".join(sorted(used)), "text_folder", skipped)


def _decode_file(file: Path, encoding: str) -> tuple[str, str]:
    if encoding != "auto":
        _check_encoding_name(encoding)
    chosen = detect_encoding(file) if encoding == "auto" and file.stat().st_size else encoding
    chosen = "utf-8" if chosen == "auto" else chosen
    codec = chosen.removesuffix("+replace")
    return file.read_bytes().decode(codec, errors="replace").removeprefix("\ufeff"), chosen


def _unreadable_frame(rows: list[dict]) -> pl.DataFrame:
    schema = {"source_row": pl.UInt32, "reason": pl.String, "detail": pl.String}
    return pl.DataFrame(rows, schema=schema)


def no_unreadable_rows() -> pl.DataFrame:
    """An empty frame of unreadable lines (source_row, reason, detail)."""
    return _unreadable_frame([])


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
