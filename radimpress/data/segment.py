"""Segment reports by modality (and body part): one dataset per modality, `unknown` rather than a guess.

The modality is read, in order, from the export's modality column, its exam description, and finally the
report text. The text is only trusted when it names exactly one modality in words that describe the exam
itself ("PA and lateral views", "axial T2-weighted images"): a chest X-ray that says "compared with the CT
of 2019" names two and stays `unknown`.

Words that only mention a modality never decide it: "3 cm craniocaudal" is a dimension, not a mammogram view;
BI-RADS is given for breast ultrasound and MRI too; "PT/PTT" is a lab test and "pt" a patient, not PET.
"""

from __future__ import annotations

import polars as pl

from radimpress.config import MODALITIES  # the codes a profile may name; defined there so config imports no data code

__all__ = ["MODALITIES", "body_part_expr", "modality_expr", "segment_by_modality", "with_modality"]

# Codes a RIS or PACS writes (DICOM modality 0008,0060 and exam-name prefixes). In the modality column each counts
# as a word; XA (X-ray angiography) is the cath lab's.
MODALITY_CODES: dict[str, str] = {
    "nuclear_medicine": "nm|pt",
    "mri": "mr",
    "ct": "ct",
    "ultrasound": "us",
    "mammography": "mg",
    "fluoroscopy": "rf|fl|xa",
    "xray": "xr|cr|dx|dr",
}

# Names of a modality, or of an exam only one modality performs: alternatives of whole words. In the exam text the
# one named first wins ("PET/CT" is nuclear medicine, "US-guided biopsy after CT" ultrasound, "CT myelogram" CT).
MODALITY_NAMES: dict[str, str] = {
    "nuclear_medicine": r"nuclear|nuc med|pet|spect|scintigra\w*|lymphoscintigra\w*|bone scan|v/?q( scan)?|hida|mibg|"
    r"dat ?scan|muga|octreo\w*|gallium|indium|tc-?99m|technetium|sestamibi|mibi|tetrofosmin|thallium|cardiolite|"
    r"myoview|fdg|gastric emptying|thyroid (uptake|scan)|i-?131|i-?123|radioiodine|mag-?3|dmsa|dtpa",
    "mri": r"mri|mra|mrv|mrcp|fmri|magnetic resonance",
    "ct": r"ct|cta|ctv|ctu|ctpa|ccta|hrct|cat scan|computed tomogra\w*",
    "ultrasound": r"ultrasound\w*|ultrasonogra\w*|sonogra\w*|sonographic|doppler|duplex|echo(cardiogra\w*)?|tte|tee|"
    r"us[- ]guided",
    "mammography": r"mammo\w*|tomosynthesis",
    "fluoroscopy": r"fluoro\w*|videofluoro\w*|barium|esophagram|esophagogra\w*|upper gi|ugi|"
    r"small bowel (series|follow[- ]?through)|sbft|vcug|voiding cystourethrogra\w*|hysterosalpingogra\w*|hsg|"
    r"defecogra\w*|mbs|swallow(ing)? (study|function|evaluation)|gastrografin",
    "xray": r"x[- ]?rays?|x-xxxx|xr|radiogra\w*|plain (films?|radiogra\w*)|(chest|portable) films?|"
    r"portable (chest|abdomen|ap)|kub|cxr|skeletal survey|bone survey|babygram",
}

# Exams named by what was done rather than by the modality; read only when the exam names no modality, so
# "MR arthrogram", "CT coronary angiography" and "dobutamine stress echo" keep their modality.
EXAM_CUES: dict[str, str] = {
    # Pharmacologic and nuclear stress tests image myocardial perfusion with a tracer.
    "nuclear_medicine": r"myocardial perfusion|lexiscan|regadenoson|nuclear stress|stress perfusion|perfusion imaging|"
    r"(adenosine|dobutamine|pharmacologic(al)?) (nuclear )?stress|(rest|stress)[/ -](rest|stress)",
    # Catheter studies, contrast studies and guided injections are done under fluoroscopy.
    "fluoroscopy": r"((left|right|bilateral|l|r) )?heart cath\w*|cardiac cath\w*|cath|catheteri[sz]ation|"
    r"catheter (check|exchange|injection|study)|angiogra\w*|arteriogra\w*|venogra\w*|ventriculogra\w*|aortogra\w*|"
    r"arthrogra\w*|myelogra\w*|cholangiogra\w*|fistulogra\w*|sinogra\w*|nephrostogra\w*|cystogra\w*|urethrogra\w*|"
    r"loopogra\w*|enema|pci|embolization|kyphoplasty|vertebroplasty|lumbar puncture|"
    r"(epidural|facet|transforaminal|sacroiliac|si joint|joint|nerve root|steroid)( \w+)? injections?",
    # The paired breast views name a mammogram, where "oblique views" alone would read as X-ray.
    "mammography": r"(cc|craniocaudal) (and|&|/) ?(mlo|mediolateral oblique)|mlo|mediolateral oblique|"
    r"spot compression|spot magnification",
    # Views, projections and series name a projection radiograph: "five views", "2V", "PA and lateral", "foot series".
    "xray": r"(\d{1,2}|one|two|three|four|five|six|seven|eight|single|multiple|several|bilateral|both|frontal|"
    r"lateral|oblique|ap|pa|lat|axial|axillary|sunrise|merchant|mortise|scaphoid|swimmer'?s?|decubitus|lordotic|"
    r"odontoid|"
    r"open[- ]mouth|flexion|extension|weight[- ]?bearing|standing|upright|supine|cross[- ]?table|frog[- ]?leg|"
    r"tunnel|notch|grashey|skyline|stress)[- ]?(views?|vw|v|projections?|exposures?)|"
    r"(pa|ap|frontal)( ?(and|&|/) ?| )lat(eral)?|and lat(eral)?|(ap|pa) (chest|pelvis|abdomen|portable|upright|"
    r"supine|erect|semi-?erect)|series|survey|bone age",
}

# A two-letter code in the exam text counts only as the first word of a line, in capitals, followed by another
# word ("US ABDOMEN", "NM BONE SCAN"): not "PT/PTT", "Dr.", "DX: cough" or "the US". PT (patient) and DR (doctor)
# read too often as words there; they count only in the modality column.
_EXAM_CODES: dict[str, str] = {
    "nuclear_medicine": "NM",
    "ultrasound": "US",
    "mammography": "MG",
    "fluoroscopy": "RF|FL|XA",
    "xray": "XR|CR|DX",
}

# For the modality column, in this order (a "CT\PT" study is a PET/CT): nuclear medicine first, mammography and
# fluoroscopy before X-ray (both are X-ray techniques with their own reports).
MODALITY_PATTERNS: dict[str, str] = {
    code: rf"(?i)\b({MODALITY_CODES[code]}|{MODALITY_NAMES[code]})\b" for code in MODALITY_CODES
}
# "MR" in capitals standing anywhere in the exam ("BRAIN MR W/O"), never "Mr." nor "mr" in a sentence.
_MR_ANYWHERE = r"\b(?-i:MR)([\s,;)]|$)"

# In report text only phrases that describe how the exam was done count, not mentions of other exams: no bare
# modality names, no "BI-RADS", no "craniocaudal" on its own (a dimension as often as a mammogram view).
TEXT_PATTERNS: dict[str, str] = {
    "mri": r"(?i)\b(t1[- ]weighted|t2[- ]weighted|flair|diffusion[- ]weighted|restricted diffusion|gadolinium|"
    r"magnetic resonance|(t1|t2|stir|flair)[- ](hyper|hypo|iso)intens\w*|signal intensity|fat[- ]saturat\w*|"
    r"(background )?parenchymal enhancement|susceptibility artifact)\b",
    "ct": r"(?i)\b(hounsfield|hu|axial ct images|ct images|computed tomography|multiplanar reformat\w*|"
    r"reformatted images|(hypo|hyper)attenuat\w*|dose length product|dlp|ctdi\w*)\b",
    "ultrasound": r"(?i)\b(sonographic\w*|hypoechoic|hyperechoic|anechoic|isoechoic|echogenic\w*|echotexture|"
    r"doppler|transducer|acoustic shadowing|posterior acoustic|color flow|resistive indices|resistive index|"
    r"peak systolic velocit\w*|compressib\w*|transvaginal|transabdominal|gray[- ]?scale)\b",
    "mammography": r"(?i)\b((cc|craniocaudal|mlo|mediolateral oblique|xccl)( and (cc|craniocaudal|mlo|"
    r"mediolateral oblique))? (views?|projections?)|(cc|craniocaudal) and (mlo|mediolateral oblique)|"
    r"breast (tissue )?(density|composition)|(scattered (areas of )?fibroglandular|heterogeneously|extremely) "
    r"dens\w*|almost entirely fatty|spot (compression|magnification)|magnification views?|tomosynthesis)\b",
    "nuclear_medicine": r"(?i)\b(radiotracer|radiopharmaceutical|tc-?99m|technetium|fdg|scintigra\w*|"
    r"uptake of (the )?(radio)?tracer|tracer (uptake|activity|accumulation)|suv ?(max)?|standardized uptake|"
    r"tracer distribution|mci|millicuries?|sestamibi|tetrofosmin|thallium|myoview|cardiolite|photopenic|"
    r"hypermetabolic|fdg[- ]avid|gated spect|spect)\b",
    "fluoroscopy": r"(?i)\b(fluoroscop\w*|fluoro (time|guidance)|contrast was (injected|instilled)|barium|"
    r"laryngeal penetration|tracheal aspiration|spot (films?|radiographs?)|sheath|left ventriculogra\w*|"
    r"selective (\w+ )?(angiogra\w*|injection|catheteri[sz]ation))\b",
    "xray": r"(?i)\b(pa and lateral|ap and lateral|frontal and lateral|(frontal|lateral|ap|pa|decubitus|lordotic|"
    r"portable) (views?|projections?|radiographs?)|(single|one|two|three|four|five|\d) (views?|projections?) of)\b",
}

# The body part named first in the exam wins ("Two-view chest; left knee" is a chest exam, "femoral head" a limb).
BODY_PARTS: dict[str, str] = {
    # "cervical" alone can be the uterine cervix ("US pelvis cervical length"): only a cervical spine is a spine.
    "spine": r"(?i)\b((cervical|thoracic|lumbar) (spine|vertebr\w*)|spine|spinal|lumbar|sacrum|coccyx|[clt]-spine|"
    r"vertebra\w*|myelogra\w*|scoliosis|kyphoplasty|vertebroplasty|epidural|facet|transforaminal|"
    r"[clt][1-7]-[clst]\d)\b",
    "upper_extremity": r"(?i)\b(shoulders?|elbows?|wrists?|hands?|humerus|humeral|forearm|fingers?|thumb|clavicle|"
    r"scaphoid|scapula|radius|ulna|metacarpal\w*|upper extremit\w*|acromioclavicular)\b",
    "lower_extremity": r"(?i)\b(hips?|knees?|ankles?|foot|feet|femur|femoral|tibia|tibial|fibula|legs?|toes?|"
    r"calcane\w*|patella\w*|metatarsal\w*|heel|achilles|hallux|lower extremit\w*)\b",
    "head": r"(?i)\b(head|brain|skull|cranial|intracranial|orbits?|sinus(es)?|iac|pituitary|sella|facial|face|"
    r"mandible|maxillofacial|temporal bones?|mastoids?|circle of willis)\b",
    "neck": r"(?i)\b(neck|thyroid|parathyroid|soft tissue neck|carotids?|parotid|larynx|laryngeal)\b",
    "breast": r"(?i)\b(breasts?|mammo\w*)\b|(?m:^)[ \t]*(?-i:MG)[ \t]+[a-z]",
    "cardiac": r"(?i)\b(cardiac|heart|coronary|echo(cardiogra\w*)?|myocardial|myocardium|lexiscan|regadenoson|"
    r"sestamibi|myoview|cardiolite|thallium|muga|nuclear stress|ventriculogra\w*|tte|tee|ccta|calcium score)\b",
    "chest": r"(?i)\b(chest|thorax|thoracic|lungs?|ribs?|cxr|pulmonary|sternum|mediastin\w*|v/?q)\b",
    "abdomen": r"(?i)\b(abdomen|abdominal|abd|a/p|(right|left) upper quadrant|liver|hepatic|renal|kidneys?|"
    r"gallbladder|biliary|pancrea\w*|spleen|splenic|ruq|hida|mrcp|kub|bowel|colon|stomach|gastric|upper gi|"
    r"appendi\w*|adrenals?|enema|enterogra\w*)\b",
    "pelvis": r"(?i)\b(pelvis|pelvic|uterus|uterine|ovar\w*|adnex\w*|prostate|bladder|scrot\w*|testic\w*|"
    r"transvaginal|endometri\w*|vcug|cystourethrogra\w*|hysterosalpingogra\w*|hsg|urethr\w*|obstetric\w*)\b",
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


# Read for how the exam was done: a report with no title opens with its technique ("Sagittal T1 and T2-weighted
# images"), which lands in the exam or, with a TECHNIQUE heading, in other_sections.
_TEXT_COLUMNS = ("exam", "other_sections", "findings", "impression")


def _report_text(needed: pl.Expr) -> pl.Expr:
    """The report's text where `needed`, else "" (cut with str.head, so the patterns scan only those rows)."""
    text = pl.concat_str(*(pl.col(c) for c in _TEXT_COLUMNS), separator=" ", ignore_nulls=True)
    return text.str.head(pl.when(needed).then(text.str.len_chars()).otherwise(0))


def _mention_pattern() -> str:
    """A modality named as another exam ("prior PET/CT", "abnormal US", "recommend MRI"), in a block of exam text."""
    names = "|".join(MODALITY_NAMES.values())
    words = r"prior|previous|recent|outside|known|abnormal|recommend(ed|s)?|compared (with|to)|comparison( with| to)?"
    return rf"(?i-u)\b({words})\s+((an?|the|outside|recent)\s+)?({names}|us|mr)([/-]({names}))*\b"


_MENTION = _mention_pattern()


def _exam_name_patterns() -> dict[str, str]:
    """`MODALITY_NAMES` as words, plus each exam code standing first on a line and "MR" in capitals."""
    names = {code: rf"\b({words})\b" for code, words in MODALITY_NAMES.items()}
    for code, letters in _EXAM_CODES.items():
        names[code] += rf"|(?m:^)[ \t]*(?-i:{letters})[ \t]+[a-z]"
    names["mri"] += "|" + _MR_ANYWHERE
    return names


_EXAM_NAME_PATTERNS = _exam_name_patterns()
_EXAM_CUE_PATTERNS = {code: rf"\b({cues})\b" for code, cues in EXAM_CUES.items()}


def modality_expr() -> pl.Expr:
    """Canonical modality code from the modality column, the exam description, then the report text.

    Reads the columns modality, exam, other_sections, findings and impression (`with_modality` adds absent ones).
    """
    return _modality_from_text(_modality_from_columns())


def _modality_from_columns() -> pl.Expr:
    exam = pl.col("exam").str.replace_all(_MENTION, " ")
    return pl.coalesce(
        _first_match(pl.col("modality"), MODALITY_PATTERNS),
        _earliest_match(exam, _EXAM_NAME_PATTERNS),
        _earliest_match(exam, _EXAM_CUE_PATTERNS),
    )


def _modality_from_text(from_columns: pl.Expr) -> pl.Expr:
    from_text = _only_match(_report_text(from_columns.is_null()), TEXT_PATTERNS)
    return pl.coalesce(from_columns, from_text, pl.lit("unknown"))


def _earliest_match(text: pl.Expr, patterns: dict[str, str]) -> pl.Expr:
    """The code whose pattern matches earliest in `text` (ties: the first listed), else null.

    One pass: the patterns become named alternatives of one regex, whose leftmost match is the earliest. In ASCII
    (`-u`): with Unicode word classes and case folding, locating a match in a long alternation is 25x slower.
    """
    combined = "(?i-u)" + "|".join(f"(?P<{code}>{p.removeprefix('(?i)')})" for code, p in patterns.items())
    groups = text.str.extract_groups(combined)
    return pl.coalesce(pl.when(groups.struct.field(code).is_not_null()).then(pl.lit(code)) for code in patterns)


def body_part_expr() -> pl.Expr:
    """Body part from the exam description (then the modality column); the text mentions too many to trust."""
    return pl.coalesce(
        _earliest_match(pl.col("exam"), BODY_PARTS), _earliest_match(pl.col("modality"), BODY_PARTS), pl.lit("unknown")
    )


def with_modality(reports: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    """`reports` with `modality` as a canonical code and a `body_part` column."""
    absent = [c for c in ("modality", *_TEXT_COLUMNS) if c not in reports.collect_schema()]
    # Lazy, so each text pattern runs once though `_only_match` names it twice (eager polars repeats it).
    frame = reports.lazy().with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in absent)
    # Two steps: the text patterns only scan the reports whose columns named no modality.
    frame = frame.with_columns(_modality_from_columns().alias("_from_columns"), body_part_expr().alias("body_part"))
    frame = frame.with_columns(_modality_from_text(pl.col("_from_columns")).alias("modality"))
    frame = frame.drop("_from_columns", *(c for c in absent if c != "modality"))
    return frame.collect() if isinstance(reports, pl.DataFrame) else frame


def segment_by_modality(reports: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """One frame per modality code, rows in their original order."""
    coded = with_modality(reports)
    return {code: coded.filter(pl.col("modality") == code) for code in sorted(coded["modality"].unique())}
