import polars as pl
import pytest

from radimpress.data.sections import HEADING_SYNONYMS, SECTION_FIELDS, has_sections, split_sections, split_sections_expr


def _sections(**given: str) -> dict[str, str | None]:
    """The expected split: the given sections, None for every other field."""
    return {field: given.get(field) for field in SECTION_FIELDS}


def _has_sections(texts: list[str | None]) -> list[bool]:
    return (
        pl.DataFrame({"text": texts}, schema={"text": pl.String}).select(has_sections(pl.col("text")))["text"].to_list()
    )


@pytest.mark.parametrize(
    ("field", "synonym"), [(field, synonym) for field, synonyms in HEADING_SYNONYMS.items() for synonym in synonyms]
)
def test_every_synonym_heads_its_section(field, synonym):
    assert split_sections(f"{synonym}: Some text.") == _sections(**{field: "Some text."})
    assert split_sections(f"{synonym.title()}\nSome text.") == _sections(**{field: "Some text."})


@pytest.mark.parametrize(
    "text",
    [
        "FINDINGS: Lungs clear.\nIMPRESSION: Normal.",
        "FINDINGS :  Lungs clear.  \nIMPRESSION:Normal.",
        "FINDINGS\nLungs clear.\nIMPRESSION\nNormal.",
        "FINDINGS - Lungs clear.\nIMPRESSION -\nNormal.",
        "FINDINGS—Lungs clear.\nIMPRESSION — Normal.",
        "**Findings:** Lungs clear.\n**Impression**\nNormal.",
        "# Findings\nLungs clear.\n## IMPRESSION: Normal.",
        "   Findings:\n   Lungs clear.\n\n   Impression:   \n   Normal.",
    ],
)
def test_colon_own_line_and_dash_headings(text):
    assert split_sections(text) == _sections(findings="Lungs clear.", impression="Normal.")


@pytest.mark.parametrize(
    "text",
    [
        "1. FINDINGS: Lungs clear.\n2) Impression: Normal.",
        "II. Findings:\nLungs clear.\nIII. IMPRESSION\nNormal.",
        "A) findings - Lungs clear.\nb. impression: Normal.",
        "(1) FINDINGS: Lungs clear.\n(2) IMPRESSION: Normal.",
    ],
)
def test_numbered_headings(text):
    assert split_sections(text) == _sections(findings="Lungs clear.", impression="Normal.")


def test_lower_and_mixed_case_headings_at_line_start():
    text = "exam: CT head\nClinical History: fall\nComparison: none\nfindings: No bleed.\nImPrEsSiOn: Normal."
    expected = _sections(
        exam="CT head", clinical_information="fall", comparison="none", findings="No bleed.", impression="Normal."
    )
    assert split_sections(text) == expected


def test_upper_case_headings_inside_a_flattened_line():
    text = "EXAM: CT HEAD. HISTORY: Fall. COMPARISON: None. FINDINGS: No bleed. IMPRESSION: Normal head CT."
    expected = _sections(
        exam="CT HEAD.",
        clinical_information="Fall.",
        comparison="None.",
        findings="No bleed.",
        impression="Normal head CT.",
    )
    assert split_sections(text) == expected


def test_mixed_case_heading_inside_a_line_is_text():
    text = "Findings: Lungs clear. Impression: normal chest."
    assert split_sections(text) == _sections(findings="Lungs clear. Impression: normal chest.")


def test_sentences_starting_with_synonym_words_are_not_headings():
    text = (
        "FINDINGS:\nFindings are stable.\nHistory of smoking.\nImpression of the heart on the liver.\n"
        "Study limited by motion.\nReport reviewed with Dr. X.\nHistory-taking limited.\nIMPRESSION: Stable."
    )
    findings = (
        "Findings are stable.\nHistory of smoking.\nImpression of the heart on the liver.\n"
        "Study limited by motion.\nReport reviewed with Dr. X.\nHistory-taking limited."
    )
    assert split_sections(text) == _sections(findings=findings, impression="Stable.")


def test_multi_line_sections_keep_their_line_breaks():
    text = "FINDINGS:\n  Lungs clear.\n\nHeart normal.\n  No effusion.  \n\nIMPRESSION:\n1. Normal.\n2. No change."
    expected = _sections(
        findings="Lungs clear.\n\nHeart normal.\n  No effusion.", impression="1. Normal.\n2. No change."
    )
    assert split_sections(text) == expected


def test_repeated_sections_are_joined_in_order():
    text = "HISTORY: Cough.\nINDICATION:\nRule out pneumonia.\nFINDINGS: Clear.\nCLINICAL HISTORY: Fever."
    expected = _sections(clinical_information="Cough.\nRule out pneumonia.\nFever.", findings="Clear.")
    assert split_sections(text) == expected


def test_empty_sections_are_null_and_add_no_blank_lines():
    text = "COMPARISON:\nFINDINGS: Clear.\nIMPRESSION:   \nTECHNIQUE: PA view.\nIMPRESSION: Normal.\nCONCLUSION:"
    assert split_sections(text) == _sections(findings="Clear.", technique="PA view.", impression="Normal.")


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_crlf_and_lone_cr_are_newlines(newline):
    text = newline.join(["CT CHEST", "FINDINGS", "Lungs clear.", "", "No effusion.", "IMPRESSION: Normal.", ""])
    expected = _sections(preamble="CT CHEST", findings="Lungs clear.\n\nNo effusion.", impression="Normal.")
    assert split_sections(text) == expected


def test_text_before_the_first_heading_is_the_preamble():
    text = "  CT ABDOMEN AND PELVIS\nFINAL REPORT\n\nFINDINGS: Normal liver."
    assert split_sections(text) == _sections(preamble="CT ABDOMEN AND PELVIS\nFINAL REPORT", findings="Normal liver.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "REASON FOR EXAM: Chest pain.\nEXAM: Chest X-ray.",
            _sections(clinical_information="Chest pain.", exam="Chest X-ray."),
        ),
        (
            "REASON FOR EXAM: Chest pain. EXAM: Chest X-ray.",
            _sections(clinical_information="Chest pain.", exam="Chest X-ray."),
        ),
        (
            "Reason for examination - Fall.\nType of exam: CT head.",
            _sections(clinical_information="Fall.", exam="CT head."),
        ),
        ("REASON FOR STUDY: Fall. STUDY: CT head.", _sections(clinical_information="Fall.", exam="CT head.")),
        ("CLINICAL HISTORY: Fall. HISTORY: Smoker.", _sections(clinical_information="Fall.\nSmoker.")),
    ],
)
def test_longer_headings_win_over_their_prefixes(text, expected):
    assert split_sections(text) == expected


def test_text_without_headings_is_all_preamble():
    text = "Lungs are clear. Findings are stable.\nImpression of the heart on the liver."
    assert split_sections(text) == _sections(preamble=text)
    assert split_sections("") == _sections()
    assert _has_sections([text, "", "FINDINGS: Clear.", "Some text.\nImpression\nNormal."]) == [
        False,
        False,
        True,
        True,
    ]


def test_null_text_gives_all_null():
    assert split_sections(None) == _sections()
    assert _has_sections([None]) == [False]
    frame = pl.DataFrame({"text": [None, "FINDINGS: Clear."]}, schema={"text": pl.String})
    split = frame.select(split_sections_expr(pl.col("text")).alias("sections")).unnest("sections")
    assert split.columns == list(SECTION_FIELDS)
    assert split.schema == pl.Schema({field: pl.String for field in SECTION_FIELDS})
    assert split.to_dicts() == [_sections(), _sections(findings="Clear.")]


CT_REPORT = """\
CT ABDOMEN AND PELVIS WITH CONTRAST

EXAMINATION: CT abdomen and pelvis with IV contrast.
CLINICAL HISTORY: 64-year-old man with right lower quadrant pain. History of appendectomy.
COMPARISON: CT abdomen 03/14/2021.
TECHNIQUE: Axial images from the lung bases through the pelvis after 100 mL Omnipaque 350.
Coronal and sagittal reformats.

FINDINGS:
Lower chest: Lung bases are clear.
Liver: Normal in size. A 1.2 cm hypodensity in segment 6, unchanged.
Bowel: No obstruction. Findings are otherwise unremarkable.

IMPRESSION:
1. No acute abnormality in the abdomen or pelvis.
2. Stable hepatic cyst.
"""


def test_full_ct_report():
    assert split_sections(CT_REPORT) == _sections(
        preamble="CT ABDOMEN AND PELVIS WITH CONTRAST",
        exam="CT abdomen and pelvis with IV contrast.",
        clinical_information="64-year-old man with right lower quadrant pain. History of appendectomy.",
        comparison="CT abdomen 03/14/2021.",
        technique="Axial images from the lung bases through the pelvis after 100 mL Omnipaque 350.\n"
        "Coronal and sagittal reformats.",
        findings="Lower chest: Lung bases are clear.\n"
        "Liver: Normal in size. A 1.2 cm hypodensity in segment 6, unchanged.\n"
        "Bowel: No obstruction. Findings are otherwise unremarkable.",
        impression="1. No acute abnormality in the abdomen or pelvis.\n2. Stable hepatic cyst.",
    )


MRI_REPORT = (
    "MRI BRAIN WITHOUT AND WITH CONTRAST\r\n"
    "\r\n"
    "Indication: Headaches for 3 weeks.\r\n"
    "Comparison: None.\r\n"
    "Technique: Sagittal T1, axial T2, FLAIR, DWI and post-contrast T1 images.\r\n"
    "\r\n"
    "Findings:\r\n"
    "No restricted diffusion to suggest acute infarct.\r\n"
    "Ventricles and sulci are normal for age. No mass, mass effect or abnormal enhancement.\r\n"
    "\r\n"
    "Conclusion: Normal MRI of the brain.\r\n"
    "\r\n"
    "Electronically signed by Dr. A. Smith."
)


def test_full_mri_report():
    assert split_sections(MRI_REPORT) == _sections(
        preamble="MRI BRAIN WITHOUT AND WITH CONTRAST",
        clinical_information="Headaches for 3 weeks.",
        comparison="None.",
        technique="Sagittal T1, axial T2, FLAIR, DWI and post-contrast T1 images.",
        findings="No restricted diffusion to suggest acute infarct.\n"
        "Ventricles and sulci are normal for age. No mass, mass effect or abnormal enhancement.",
        impression="Normal MRI of the brain.\n\nElectronically signed by Dr. A. Smith.",
    )


VARIED_REPORTS = [
    CT_REPORT,
    MRI_REPORT,
    None,
    "",
    "No headings at all.",
    "FINDINGS: Lungs clear. IMPRESSION: Normal chest.",
    "1. FINDINGS:\nEffusion.\n2) Impression: Effusion.",
    "History:\nFall.\r\nHISTORY: Fever.\rFINDINGS\r\nFracture.",
    "REASON FOR EXAM: Pain. EXAM: XR knee. IMPRESSION: No fracture.",
    "Findings are stable.\nImpression of the heart.",
    "**Findings:** Clear.\n**Impression:** Normal.",
    "PROCEDURE - Biopsy.\nOPINION — Benign.",
    "COMPARISONS:\nIMPRESSIONS: Unchanged.",
    "Type of exam: US abdomen\nSummary: Gallstones.",
    "INTERPRETATION: Normal sinus rhythm. Report:\nSee above.",
]


def test_vectorised_and_single_report_splits_agree():
    frame = pl.DataFrame({"text": VARIED_REPORTS}, schema={"text": pl.String})
    split = frame.select(split_sections_expr(pl.col("text")).alias("sections"))["sections"].to_list()
    assert split == [split_sections(text) for text in VARIED_REPORTS]
    assert split[8] == _sections(clinical_information="Pain.", exam="XR knee.", impression="No fracture.")
    assert split[14] == _sections(findings="Normal sinus rhythm. Report:\nSee above.")
