"""Writes the bad-input corpus beside this file (run once; the files are committed). `expected.yaml` says what
ingest must do with each: a clear one-line error, or rows kept and quarantined with their reasons.

    .venv/bin/python tests/data/bad_inputs/build_corpus.py
"""

from __future__ import annotations

import codecs
from pathlib import Path

import polars as pl

HERE = Path(__file__).parent
HEADER = "report_id,modality,exam,clinical_information,findings,impression\n"
GOOD = "R1,CT,CT head,Headache.,No intracranial hemorrhage.,No acute intracranial abnormality.\n"


def write(name: str, data: str | bytes, encoding: str = "utf-8") -> None:
    (HERE / name).write_bytes(data if isinstance(data, bytes) else data.encode(encoding))


def big_field_csv(path: Path, size: int = 5 * 1024 * 1024) -> Path:
    """A 5 MB findings field (built by the test, not committed)."""
    field = ("Lungs clear. " * (size // 13 + 1))[:size]
    path.write_text(HEADER + GOOD + f'R2,CT,CT chest,Cough.,"{field}",Normal.\n')
    return path


def main() -> None:
    text = HEADER + "R1,MR,IRM genou,Douleur.,Épanchement articulaire modéré; ménisque intact.,Épanchement modéré.\n"
    write("latin1.csv", text + "R2,XR,XR chest,Cough.,Heart size normal (±5%).,No acute disease.\n", "cp1252")
    write("utf16_bom.csv", codecs.BOM_UTF16_LE + (HEADER + GOOD).encode("utf-16-le"))
    write("utf16_no_bom.csv", (HEADER + GOOD + GOOD.replace("R1", "R2")).encode("utf-16-le"))
    write("utf8_bom.csv", codecs.BOM_UTF8 + (HEADER + GOOD).encode())
    write(
        "crlf.csv",
        (HEADER + GOOD + 'R2,CT,CT chest,Cough.,"Line one.\nLine two.",Normal chest.\n').replace("\n", "\r\n"),
    )
    write(
        "quotes_newlines.csv",
        HEADER
        + 'R1,CT,CT head,"Fall, ""dizzy"".","Ventricles normal.\nNo ""mass"", no bleed.","Normal, ""stable""."\n',
    )
    write(
        "html_markup.csv",
        HEADER + 'R1,US,US abdomen,Pain.,"<p>Liver normal.<br/>No gallstones &amp; no <b>ductal</b> dilation.</p>",'
        "<div>Normal abdomen.</div>\n",
    )
    write("missing_column.csv", "report_id,modality,exam,clinical_information,findings\nR1,CT,CT head,x,No bleed.\n")
    write("extra_columns.csv", HEADER.strip() + ",referrer,billing_code\n" + GOOD.strip() + ",Ward 4,77001\n")
    write("empty.csv", "")
    write("header_only.csv", HEADER)
    write("numbers_in_text.csv", HEADER + GOOD + "R2,CT,CT head,x,12345,0.5\nR3,CT,CT head,x,No bleed.,#N/A\n")
    write(
        "duplicate_ids.csv",
        HEADER
        + GOOD
        + GOOD
        + GOOD.replace("No intracranial hemorrhage.", "Small subdural hematoma.")
        + GOOD.replace("R1", "R2"),
    )
    write(
        "non_english.csv",
        HEADER
        + "R1,CT,КТ головы,Головная боль.,Кровоизлияния нет.,Без острой патологии.\n"
        + "R2,CT,头部CT,头痛。,未见出血。,未见急性异常。\n"
        + "R3,CT,TDM crânienne,Céphalées.,Pas d'hémorragie intracrânienne.,Pas d'anomalie aiguë.\n",
    )
    write(
        "spreadsheet_formulas.csv",
        HEADER
        + 'R1,CT,CT head,x,"=CMD(""calc"")!A0",Normal.\n'
        + "R2,CT,CT head,x,No bleed.,@SUM(A1:A9)\n"
        + 'R3,CT,"+HYPERLINK(""http://x"")",x,No bleed.,Normal.\n'
        + "R4,CT,CT head,x,No bleed.,- Cardiomegaly (mild).\n",
    )
    write("nul_bytes.csv", (HEADER + GOOD + "R2,CT,CT head,x,No\x00bleed.,Normal.\n").encode())
    pl.DataFrame(
        {"report_id": [1, 2, 3], "findings": [101, 202, None], "impression": [1.5, 2.5, 3.5], "modality": [1, 2, 3]}
    ).write_parquet(HERE / "wrong_types.parquet")
    pl.DataFrame({"report_id": ["R1"], "findings": [["No", "bleed"]], "impression": ["Normal."]}).write_parquet(
        HERE / "nested_column.parquet"
    )
    write("truncated.csv", HEADER + GOOD + 'R2,CT,CT chest,Cough.,"Lungs are clear and the')
    good_parquet = HERE / "truncated.parquet"
    pl.DataFrame(
        {"report_id": ["R1"] * 50, "findings": ["No bleed."] * 50, "impression": ["Normal."] * 50}
    ).write_parquet(good_parquet)
    good_parquet.write_bytes(good_parquet.read_bytes()[:200])
    write("ragged_row.csv", HEADER + GOOD + "R2,CT,CT head,x,No bleed,Normal,unexpected\n")
    write("half_empty_rows.csv", HEADER + GOOD + "R2,CT,CT head,x,,Normal.\nR3,CT,CT head,x,No bleed.,   \nR4,,,,,\n")
    write("missing_ids.csv", HEADER + GOOD + ",CT,CT head,x,No bleed.,Normal.\n")
    write("impression_equals_findings.csv", HEADER + GOOD + "R2,CT,CT head,x,No acute bleed.,no acute bleed\n")
    write(
        "reports.jsonl",
        '{"report_id": "R1", "findings": "No bleed.", "impression": "Normal.", "modality": "CT"}\n'
        '{"report_id": "R2", "findings": "No bleed.", "impression": "Normal.", "modality": "CT", "age": 54}\n'
        '{"report_id": "R3", "findings": "No bleed.", "impr\n'
        '["R4", "not an object"]\n'
        "\n"
        '{"report_id": 5, "findings": "Small effusion.", "impression": "Effusion.", "modality": null}\n',
    )
    write(
        "free_text.csv",
        "accession,report\n"
        '1,"EXAM: CT head\nHISTORY: Fall.\n\nFINDINGS:\nNo hemorrhage.\nNo mass.\n\n'
        'IMPRESSION: No acute abnormality."\n'
        '2,"1. Clinical history: Cough\n2. Report: Lungs clear.\n3. Conclusion: Normal chest."\n'
        '3,"CT HEAD. FINDINGS: Small old infarct. OPINION: No acute change."\n'
        '4,"Lungs are clear and there is no effusion. Normal chest."\n',
    )
    folder = HERE / "text_folder"
    folder.mkdir(exist_ok=True)
    (folder / "a.txt").write_text("INDICATION: Knee pain.\nFINDINGS: Small effusion.\nIMPRESSION: Joint effusion.\n")
    (folder / "b.txt").write_bytes("FINDINGS: Hépatomégalie.\r\nCONCLUSION: Foie augmenté.\r\n".encode("cp1252"))
    (folder / "c.txt").write_text("FINDINGS: Lungs clear.\n")
    (folder / "D.TXT").write_text("FINDINGS: Small nodule.\nIMPRESSION: Pulmonary nodule.\n")  # upper-case suffix
    (folder / "readme.md").write_text("Exported by the RIS on request 42.\n")  # not a report: listed as skipped
    write("spreadsheet.xlsx", b"PK\x03\x04 not really a workbook")
    write("binary_garbage.csv", bytes(range(256)) * 4)
    write("tabs.tsv", HEADER.replace(",", "\t") + GOOD.replace(",", "\t"))
    write(
        "text_column_with_sections_elsewhere.csv",
        HEADER.strip() + ",text\n" + GOOD.strip() + ",Preliminary read by resident\n",
    )
    write(
        "bom.jsonl",
        codecs.BOM_UTF8 + b'{"report_id": "R1", "findings": "No bleed.", "impression": "Normal."}\n'
        b'{"report_id": "R2", "findings": "Small bleed.", "impression": "Hemorrhage."}\n',
    )
    pl.DataFrame(
        {
            "source_row": [7, 9],
            "report_id": ["R1", "R2"],
            "findings": ["No bleed.", "Bleed."],
            "impression": ["Normal.", "Hemorrhage."],
        }
    ).write_parquet(HERE / "own_source_row.parquet")
    write("no_ids_repeated.csv", "findings,impression\nNo bleed.,Normal.\nNo bleed.,Normal.\nBleed.,Hemorrhage.\n")
    write(
        "mostly_utf8.csv",
        (HEADER + "R1,MR,IRM,x,Épanchement modéré.,Épanchement.\n").encode()
        + b"R2,MR,IRM,x,Stray byte \x96 here.,Normal.\n",
    )
    write("duplicate_header.csv", "report_id,findings,findings,impression\nR1,a,b,Normal.\n")
    write("form_feed.csv", HEADER + "R1,CT,CT head,x,Page one.\x0cPage two.,Normal.\n")


if __name__ == "__main__":
    main()
