"""Segment reports by modality (and body part): one dataset per modality, `unknown` rather than a guess.

The modality is read, in order, from the export's modality column, its exam description, and finally the
report text. The text is only trusted when it names exactly one modality in words that describe the exam
itself ("PA and lateral views", "axial T2-weighted images"): a chest X-ray that says "compared with the CT
of 2019" names two and stays `unknown`.
"""

from __future__ import annotations

import polars as pl

MODALITIES = ("mri", "ct", "ultrasound", "mammography", "nuclear_medicine", "fluoroscopy", "xray", "unknown")

# Checked in order on the modality column, then the exam text; word boundaries keep "CT" out of "ACT".
# Nuclear medicine comes first (PET/CT, SPECT/CT are read by nuclear medicine); mammography and fluoroscopy
# come before X-ray: both are X-ray techniques with their own reports.
MODALITY_PATTERNS: dict[str, str] = {
    "nuclear_medicine": r"(?i)\b(nm|pt|nuclear[ _]medicine|pet|spect|scintigra\w*|bone scan|v/?q scan|hida|mibg|"
    r"dat ?scan)\b",
    "mri": r"(?i)\b(mri|mra|mrcp|mr|magnetic resonance)\b",
    "ct": r"(?i)\b(ct|cta|cat scan|computed tomography)\b",
    "ultrasound": r"(?i)\b(us|ultrasound|sonogram|sonography|doppler|duplex|echo(cardiogram)?)\b",
    "mammography": r"(?i)\b(mg|mammo(gram|graphy)?|tomosynthesis)\b",
    "fluoroscopy": r"(?i)\b(rf|fl|fluoro\w*|barium \w+|esophagram|vcug|upper gi series|arthrogram)\b",
    # Views name a projection radiograph: "2 views", "two-view chest", "PA and lateral", "XXXX and lateral".
    "xray": r"(?i)\b(x[- ]?ray|x-xxxx|xr|radiograph\w*|cr|dx|dr|plain films?|chest film|"
    r"(\d|single|one|two|three|four)[- ]?v(iews?)?|and lat(eral)?|pa lat(eral)?|lateral views?|"
    r"(portable )?ap (chest|portable|upright|supine)|portable chest)\b",
}

# In report text only phrases that describe how the exam was done count, not mentions of other exams.
TEXT_PATTERNS: dict[str, str] = {
    "mri": r"(?i)\b(t1[- ]weighted|t2[- ]weighted|flair|diffusion[- ]weighted|gadolinium|magnetic resonance)\b",
    "ct": r"(?i)\b(hounsfield|axial ct images|ct images|computed tomography)\b",
    "ultrasound": r"(?i)\b(sonographic\w*|hypoechoic|hyperechoic|anechoic|doppler|transducer)\b",
    "mammography": r"(?i)\b(mammogra\w*|bi-?rads|fibroglandular|craniocaudal|mlo view)\b",
    "nuclear_medicine": r"(?i)\b(radiotracer|tc-?99m|fdg|scintigra\w*|uptake of (the )?tracer)\b",
    "fluoroscopy": r"(?i)\b(fluoroscop\w*|contrast was (injected|instilled)|barium)\b",
    "xray": r"(?i)\b(pa and lateral|frontal and lateral|lateral views?|ap view|radiographs?)\b",
}

# The body part named first in the exam wins ("Two-view chest; left knee" is a chest exam, "femoral head" a limb).
BODY_PARTS: dict[str, str] = {
    # "cervical" alone can be the uterine cervix ("US pelvis cervical length"): only a cervical spine is a spine.
    "spine": r"(?i)\b((cervical|thoracic|lumbar) (spine|vertebr\w*)|spine|spinal|lumbar|sacrum|[clt]-spine|"
    r"vertebra\w*)\b",
    "upper_extremity": r"(?i)\b(shoulder|elbow|wrist|hand|humerus|humeral|forearm|fingers?|clavicle)\b",
    "lower_extremity": r"(?i)\b(hip|knee|ankle|foot|feet|femur|femoral|tibia|fibula|leg|toes?|lower extremity)\b",
    "head": r"(?i)\b(head|brain|skull|cranial|orbits?|sinus(es)?|iac|pituitary)\b",
    "neck": r"(?i)\b(neck|thyroid|soft tissue neck|carotids?)\b",
    "breast": r"(?i)\b(breasts?|mammo\w*)\b",
    "cardiac": r"(?i)\b(cardiac|heart|coronary|echo(cardiogram)?)\b",
    "chest": r"(?i)\b(chest|thorax|lungs?|ribs?|cxr)\b",
    "abdomen": r"(?i)\b(abdomen|abdominal|liver|renal|kidneys?|gallbladder|pancrea\w*|ruq|hida)\b",
    "pelvis": r"(?i)\b(pelvis|pelvic|uterus|ovar\w*|prostate|bladder|scrot\w*)\b",
}


def _first_match(text: pl.Expr, patterns: dict[str, str]) -> pl.Expr:
    """The first code whose pattern `text` contains, else null."""
    expr = pl.lit(None, dtype=pl.String)
    for code, pattern in reversed(patterns.items()):
        expr = pl.when(text.str.contains(pattern)).then(pl.lit(code)).otherwise(expr)
    return expr


def _only_match(text: pl.Expr, patterns: dict[str, str]) -> pl.Expr:
    """The code whose pattern `text` contains when exactly one does, else null (two modalities: no guess)."""
    hits = {code: text.str.contains(pattern).fill_null(False) for code, pattern in patterns.items()}
    only = pl.lit(None, dtype=pl.String)
    for code, hit in reversed(hits.items()):
        only = pl.when(hit).then(pl.lit(code)).otherwise(only)
    return pl.when(pl.sum_horizontal(hits.values()) == 1).then(only).otherwise(pl.lit(None, dtype=pl.String))


def _report_text(needed: pl.Expr) -> pl.Expr:
    """Findings and impression where `needed`, else "" (cut with str.head, so the patterns scan only those rows)."""
    text = pl.concat_str(pl.col("findings"), pl.col("impression"), separator=" ", ignore_nulls=True)
    return text.str.head(pl.when(needed).then(text.str.len_chars()).otherwise(0))


def modality_expr() -> pl.Expr:
    """Canonical modality code from the modality column, the exam description, then the report text."""
    return _modality_from_text(_modality_from_columns())


def _modality_from_columns() -> pl.Expr:
    return pl.coalesce(
        _first_match(pl.col("modality"), MODALITY_PATTERNS), _first_match(pl.col("exam"), MODALITY_PATTERNS)
    )


def _modality_from_text(from_columns: pl.Expr) -> pl.Expr:
    from_text = _only_match(_report_text(from_columns.is_null()), TEXT_PATTERNS)
    return pl.coalesce(from_columns, from_text, pl.lit("unknown"))


def _earliest_match(text: pl.Expr, patterns: dict[str, str]) -> pl.Expr:
    """The code whose pattern matches earliest in `text` (ties: the first listed), else null.

    One pass: the patterns become named alternatives of one regex, whose leftmost match is the earliest.
    """
    combined = "(?i)" + "|".join(f"(?P<{code}>{p.removeprefix('(?i)')})" for code, p in patterns.items())
    groups = text.str.extract_groups(combined)
    return pl.coalesce(pl.when(groups.struct.field(code).is_not_null()).then(pl.lit(code)) for code in patterns)


def body_part_expr() -> pl.Expr:
    """Body part from the exam description (then the modality column); the text mentions too many to trust."""
    return pl.coalesce(
        _earliest_match(pl.col("exam"), BODY_PARTS), _earliest_match(pl.col("modality"), BODY_PARTS), pl.lit("unknown")
    )


def with_modality(reports: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    """`reports` with `modality` as a canonical code and a `body_part` column."""
    absent = [c for c in ("modality", "exam", "findings", "impression") if c not in reports.collect_schema()]
    frame = reports.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in absent)
    # Two steps: the text patterns only scan the reports whose columns named no modality.
    frame = frame.with_columns(_modality_from_columns().alias("_from_columns"), body_part_expr().alias("body_part"))
    frame = frame.with_columns(_modality_from_text(pl.col("_from_columns")).alias("modality"))
    return frame.drop("_from_columns", *absent)


def segment_by_modality(reports: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """One frame per modality code, rows in their original order."""
    coded = with_modality(reports)
    return {code: coded.filter(pl.col("modality") == code) for code in sorted(coded["modality"].unique())}
