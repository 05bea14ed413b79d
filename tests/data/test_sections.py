import polars as pl
import pytest

from radimpress.data.sections import (
    HEADING_SYNONYMS,
    KEPT_SECTIONS,
    OTHER_REASONS,
    SECTION_FIELDS,
    has_sections,
    other_sections_amounts,
    split_sections,
    split_sections_expr,
)


def _split(text: str | None) -> dict[str, str | None]:
    """`split_sections` without the headings found (tested on their own)."""
    return {field: text for field, text in split_sections(text).items() if field != "headings"}


def _sections(**given: str) -> dict[str, str | None]:
    """The expected split: the given sections, None for every other field."""
    return {field: given.get(field) for field in SECTION_FIELDS}


def _has_sections(texts: list[str | None]) -> list[bool]:
    return (
        pl.DataFrame({"text": texts}, schema={"text": pl.String})
        .select(has_sections(pl.col("text")).alias("found"))["found"]
        .to_list()
    )


def _expected_for(section: str, text: str) -> dict[str, str | None]:
    """What one section holding `text` under `heading` gives: a kept field, or a labelled part of other_sections."""
    if section == "summary_or_interpretation":  # alone in a report, it is the conclusion
        return _sections(impression=text)
    if section in KEPT_SECTIONS:
        return _sections(**{section: text})
    return {}


@pytest.mark.parametrize(
    ("field", "synonym"), [(field, synonym) for field, synonyms in HEADING_SYNONYMS.items() for synonym in synonyms]
)
def test_every_synonym_heads_its_section(field, synonym):
    for text, heading in ((f"{synonym}: Some text.", synonym), (f"{synonym.title()}\nSome text.", synonym.title())):
        expected = _expected_for(field, "Some text.") or _sections(other_sections=f"{heading}: Some text.")
        assert _split(text) == expected


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
    assert _split(text) == _sections(findings="Lungs clear.", impression="Normal.")


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
    assert _split(text) == _sections(findings="Lungs clear.", impression="Normal.")


def test_lower_and_mixed_case_headings_at_line_start():
    text = "exam: CT head\nClinical History: fall\nComparison: none\nfindings: No bleed.\nImPrEsSiOn: Normal."
    expected = _sections(
        exam="CT head",
        clinical_information="fall",
        findings="No bleed.",
        impression="Normal.",
        other_sections="Comparison: none",
    )
    assert _split(text) == expected


def test_upper_case_headings_inside_a_flattened_line():
    text = "EXAM: CT HEAD. HISTORY: Fall. COMPARISON: None. FINDINGS: No bleed. IMPRESSION: Normal head CT."
    expected = _sections(
        exam="CT HEAD.",
        clinical_information="Fall.",
        findings="No bleed.",
        impression="Normal head CT.",
        other_sections="COMPARISON: None.",
    )
    assert _split(text) == expected


def test_mixed_case_heading_inside_a_line_is_text():
    text = "Findings: Lungs clear. Impression: normal chest."
    assert _split(text) == _sections(findings="Lungs clear. Impression: normal chest.")


def test_sentences_starting_with_synonym_words_are_not_headings():
    text = (
        "FINDINGS:\nFindings are stable.\nHistory of smoking.\nImpression of the heart on the liver.\n"
        "Study limited by motion.\nReport reviewed with Dr. X.\nHistory-taking limited.\nIMPRESSION: Stable."
    )
    findings = (
        "Findings are stable.\nHistory of smoking.\nImpression of the heart on the liver.\n"
        "Study limited by motion.\nReport reviewed with Dr. X.\nHistory-taking limited."
    )
    assert _split(text) == _sections(findings=findings, impression="Stable.")


def test_multi_line_sections_keep_their_line_breaks():
    text = "FINDINGS:\n  Lungs clear.\n\nHeart normal.\n  No effusion.  \n\nIMPRESSION:\n1. Normal.\n2. No change."
    expected = _sections(
        findings="Lungs clear.\n\nHeart normal.\n  No effusion.", impression="1. Normal.\n2. No change."
    )
    assert _split(text) == expected


def test_repeated_sections_are_joined_in_order():
    text = "HISTORY: Cough.\nINDICATION:\nRule out pneumonia.\nFINDINGS: Clear.\nCLINICAL HISTORY: Fever."
    expected = _sections(clinical_information="Cough.\nRule out pneumonia.\nFever.", findings="Clear.")
    assert _split(text) == expected


def test_empty_sections_are_null_and_add_no_blank_lines():
    text = "COMPARISON:\nFINDINGS: Clear.\nIMPRESSION:   \nTECHNIQUE: PA view.\nIMPRESSION: Normal.\nCONCLUSION:"
    assert _split(text) == _sections(findings="Clear.", impression="Normal.", other_sections="TECHNIQUE: PA view.")


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_crlf_and_lone_cr_are_newlines(newline):
    text = newline.join(["CT CHEST", "FINDINGS", "Lungs clear.", "", "No effusion.", "IMPRESSION: Normal.", ""])
    expected = _sections(exam="CT CHEST", findings="Lungs clear.\n\nNo effusion.", impression="Normal.")
    assert _split(text) == expected


def test_text_before_the_first_heading_is_the_title_and_preamble():
    text = "  CT ABDOMEN AND PELVIS\nFINAL REPORT\n\nFINDINGS: Normal liver."
    expected = _sections(
        exam="CT ABDOMEN AND PELVIS", findings="Normal liver.", other_sections="PREAMBLE: FINAL REPORT"
    )
    assert _split(text) == expected


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
    assert _split(text) == expected


def test_text_without_headings_is_all_preamble():
    text = "Lungs are clear. Findings are stable.\nImpression of the heart on the liver."
    assert _split(text) == _sections(other_sections=f"PREAMBLE: {text}")
    assert _split("Normal chest") == _sections(other_sections="PREAMBLE: Normal chest")  # a title needs a heading
    assert _split("") == _sections()
    assert _has_sections([text, "", "FINDINGS: Clear.", "Some text.\nImpression\nNormal."]) == [
        False,
        False,
        True,
        True,
    ]


def test_null_text_gives_all_null():
    assert _split(None) == _sections()
    assert _has_sections([None]) == [False]
    frame = pl.DataFrame({"text": [None, "FINDINGS: Clear."]}, schema={"text": pl.String})
    split = frame.select(split_sections_expr(pl.col("text")).alias("sections")).unnest("sections")
    assert split.columns == [*SECTION_FIELDS, "headings"]
    assert split.schema == pl.Schema({field: pl.String for field in split.columns})
    assert split.drop("headings").to_dicts() == [_sections(), _sections(findings="Clear.")]


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
    assert _split(CT_REPORT) == _sections(
        exam="CT abdomen and pelvis with IV contrast.",  # the EXAMINATION heading wins over the title
        clinical_information="64-year-old man with right lower quadrant pain. History of appendectomy.",
        other_sections="PREAMBLE: CT ABDOMEN AND PELVIS WITH CONTRAST\n"
        "COMPARISON: CT abdomen 03/14/2021.\n"
        "TECHNIQUE: Axial images from the lung bases through the pelvis after 100 mL Omnipaque 350.\n"
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
    assert _split(MRI_REPORT) == _sections(
        exam="MRI BRAIN WITHOUT AND WITH CONTRAST",
        clinical_information="Headaches for 3 weeks.",
        findings="No restricted diffusion to suggest acute infarct.\n"
        "Ventricles and sulci are normal for age. No mass, mass effect or abnormal enhancement.",
        impression="Normal MRI of the brain.",  # the sign-off is not part of the training target
        other_sections="Comparison: None.\n"
        "Technique: Sagittal T1, axial T2, FLAIR, DWI and post-contrast T1 images.\n"
        "SIGN-OFF: Electronically signed by Dr. A. Smith.",
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
    assert _split(VARIED_REPORTS[8]) == _sections(
        clinical_information="Pain.", exam="XR knee.", impression="No fracture."
    )
    # The only INTERPRETATION of a report is its conclusion.
    assert _split(VARIED_REPORTS[14]) == _sections(impression="Normal sinus rhythm. Report:\nSee above.")


@pytest.mark.parametrize("heading", ["CLINICAL", "CLINICAL DATA", "Clinical data", "REASON FOR REFERRAL"])
def test_clinical_data_headings(heading):
    text = f"{heading}: Knee pain after a fall.\nFINDINGS: Joint effusion.\nIMPRESSION: Effusion."
    expected = _sections(
        clinical_information="Knee pain after a fall.", findings="Joint effusion.", impression="Effusion."
    )
    assert _split(text) == expected


def test_history_and_physical_is_not_a_heading():
    text = "FINDINGS: History and physical: see chart. Lungs clear.\nIMPRESSION: Normal."
    assert _split(text)["findings"] == "History and physical: see chart. Lungs clear."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # the technique sentence stays with the findings it opens: a model needs the findings
            "HISTORY: Pain.\nTECHNIQUE AND FINDINGS: Axial images. The liver is normal.\nIMPRESSION: Normal.",
            _sections(
                clinical_information="Pain.", findings="Axial images. The liver is normal.", impression="Normal."
            ),
        ),
        (  # mid-line, as exports that flatten newlines write it: nothing glued to the section before
            "HISTORY: Pain. TECHNIQUE AND FINDINGS: The liver is normal. IMPRESSION: Normal.",
            _sections(clinical_information="Pain.", findings="The liver is normal.", impression="Normal."),
        ),
        (
            "HISTORY: Pain. COMPARISON EXAM: CT 2019. FINDINGS: Normal liver. IMPRESSION: Normal.",
            _sections(
                clinical_information="Pain.",
                findings="Normal liver.",
                impression="Normal.",
                other_sections="COMPARISON EXAM: CT 2019.",  # labelled as written
            ),
        ),
        (  # combined findings and impression feed the findings; the report has no impression of its own
            "HISTORY: Pain.\nFINDINGS AND IMPRESSION: Normal liver. No acute process.",
            _sections(clinical_information="Pain.", findings="Normal liver. No acute process."),
        ),
        (
            "Findings/Impression: Normal liver.",
            _sections(findings="Normal liver."),
        ),
        (
            "FINDINGS: Nodule.\nIMPRESSION AND RECOMMENDATIONS: Nodule, follow up in 6 months.",
            _sections(findings="Nodule.", impression="Nodule, follow up in 6 months."),
        ),
        (
            "HISTORY & COMPARISON: Cough; none.\nFINDINGS: Clear.\nIMPRESSION: Normal.",
            _sections(clinical_information="Cough; none.", findings="Clear.", impression="Normal."),
        ),
        (
            "COMPARISON AND TECHNIQUE: None; PA view.\nFINDINGS: Clear.\nIMPRESSION: Normal.",
            _sections(
                findings="Clear.", impression="Normal.", other_sections="COMPARISON AND TECHNIQUE: None; PA view."
            ),
        ),
    ],
)
def test_compound_headings_split_into_the_first_priority_part(text, expected):
    assert _split(text) == expected


def test_sections_after_the_impression_are_kept_out_of_it():
    text = (
        "FINDINGS: 8 mm nodule.\nIMPRESSION: Pulmonary nodule.\nRECOMMENDATION: CT in 6 months.\n"
        "PLAN: Discuss at tumour board.\nFollow-up: 3 months.\nADDENDUM: Prior study reviewed.\n"
        "NOTE: Called to Dr. Lee."
    )
    assert _split(text) == _sections(
        findings="8 mm nodule.",
        impression="Pulmonary nodule.",
        other_sections="RECOMMENDATION: CT in 6 months.\nPLAN: Discuss at tumour board.\nFollow-up: 3 months.\n"
        "ADDENDUM: Prior study reviewed.\nNOTE: Called to Dr. Lee.",
    )


@pytest.mark.parametrize(
    "signoff",
    [
        "I have personally reviewed the images and agree with the report.",
        "Electronically signed by: John Smith, MD on 01/02/2020 10:15",
        "Dictated by: J. Smith\nTranscribed by: A. Jones",
        "Thank you for this referral.",
        "Report electronically signed by Dr. Smith.",
    ],
)
def test_sign_offs_are_kept_out_of_the_impression(signoff):
    expected_signoff = "\n".join(f"SIGN-OFF: {line}" for line in signoff.split("\n"))
    for text in (
        f"FINDINGS: Clear.\nIMPRESSION: Normal chest.\n\n{signoff}",
        f"FINDINGS: Clear. IMPRESSION: Normal chest. {signoff}",
    ):
        assert _split(text) == _sections(findings="Clear.", impression="Normal chest.", other_sections=expected_signoff)


def test_sign_off_words_inside_a_sentence_stay_text():
    text = "FINDINGS: Clear.\nIMPRESSION: Normal, as dictated by protocol."
    assert _split(text)["impression"] == "Normal, as dictated by protocol."
    assert _has_sections(["Electronically signed by Dr. Smith."]) == [False]  # a sign-off is no section heading


@pytest.mark.parametrize(
    ("text", "findings", "comparison"),
    [
        (
            "FINDINGS: COMPARISON: None. The liver is normal. The spleen is normal.",
            "The liver is normal. The spleen is normal.",
            "None.",
        ),
        (
            "FINDINGS: The liver is normal. COMPARISON: 1/2/2019. The spleen is normal.",
            "The liver is normal. The spleen is normal.",
            "1/2/2019.",
        ),
        (
            "FINDINGS: The liver is normal. COMPARISON: CT of 01.02.2019\nThe spleen is normal.",
            "The liver is normal.\nThe spleen is normal.",
            "CT of 01.02.2019",
        ),
    ],
)
def test_a_mid_line_comparison_takes_only_its_sentence(text, findings, comparison):
    assert _split(f"{text}\nIMPRESSION: Normal.") == _sections(
        findings=findings, impression="Normal.", other_sections=f"COMPARISON: {comparison}"
    )


def test_a_line_start_comparison_runs_to_the_next_heading():
    text = "COMPARISON: CT 2019. Interval surgery.\nFINDINGS: Clear.\nIMPRESSION: Normal."
    assert _split(text)["other_sections"] == "COMPARISON: CT 2019. Interval surgery."


@pytest.mark.parametrize(
    ("text", "findings", "impression"),
    [  # a neurophysiology report: SUMMARY describes the recording, INTERPRETATION concludes
        (
            "SUMMARY: Posterior alpha rhythm, left temporal slowing.\nINTERPRETATION: Abnormal EEG.",
            "Posterior alpha rhythm, left temporal slowing.",
            "Abnormal EEG.",
        ),
        ("INTERPRETATION: Left temporal slowing.\nSUMMARY: Abnormal EEG.", "Left temporal slowing.", "Abnormal EEG."),
        ("FINDINGS: Gallstones.\nSUMMARY: Cholelithiasis.", "Gallstones.", "Cholelithiasis."),
        ("INTERPRETATION: Normal perfusion.\nIMPRESSION: No ischemia.", "Normal perfusion.", "No ischemia."),
        ("SUMMARY: Normal study.\nCONCLUSION: No ischemia.", "Normal study.", "No ischemia."),
        ("FINDINGS: Slowing.\nINTERPRETATION: Abnormal.\nFOLLOW-UP: Repeat EEG.", "Slowing.", "Abnormal."),
    ],
)
def test_summary_and_interpretation_the_last_one_concludes_unless_there_is_an_impression(text, findings, impression):
    split = _split(text)
    assert (split["findings"], split["impression"]) == (findings, impression)


@pytest.mark.parametrize(
    ("text", "exam", "preamble"),
    [
        ("CT ABDOMEN AND PELVIS WITH CONTRAST\n\nFINDINGS: Normal.", "CT ABDOMEN AND PELVIS WITH CONTRAST", None),
        (
            "MRI LEFT KNEE WITHOUT CONTRAST\nAccession 123\nFINDINGS: Normal.",
            "MRI LEFT KNEE WITHOUT CONTRAST",
            "Accession 123",
        ),
        ("CT HEAD. FINDINGS: Normal.", "CT HEAD.", None),
        ("The patient is a 45-year-old man.\nFINDINGS: Normal.", None, "The patient is a 45-year-old man."),
        ("Lungs clear. Heart normal.\nFINDINGS: Normal.", None, "Lungs clear. Heart normal."),
        ("X" * 121 + "\nFINDINGS: Normal.", None, "X" * 121),
        ("CT HEAD\nEXAM: CT head without contrast.\nFINDINGS: Normal.", "CT head without contrast.", "CT HEAD"),
    ],
)
def test_a_short_first_line_before_the_first_heading_is_the_exam_title(text, exam, preamble):
    split = _split(f"{text}\nIMPRESSION: Normal.")
    assert split["exam"] == exam
    assert split["other_sections"] == (None if preamble is None else f"PREAMBLE: {preamble}")


def test_headings_found_as_written():
    text = "History: Pain.\nFINDINGS: COMPARISON: None. Clear.\nTECHNIQUE AND FINDINGS: X.\nElectronically signed by Y."
    assert split_sections(text)["headings"] == "History, FINDINGS, COMPARISON, TECHNIQUE AND FINDINGS"
    assert split_sections("No headings here.")["headings"] is None


EXPORTED_REPORT = """\
MRI LEFT KNEE WITHOUT CONTRAST
Final report
CLINICAL DATA: Twisting injury, pain.
COMPARISON EXAM: Radiographs 01/02/2019.
TECHNIQUE AND FINDINGS: Multiplanar multisequence images. COMPARISON: None. There is a complex tear of the \
posterior horn of the medial meniscus. Small joint effusion.
IMPRESSION:
1. Medial meniscal tear.
2. Small effusion.
RECOMMENDATIONS: Orthopedic referral.
I have personally reviewed the images and agree with the report.
Electronically signed by Dr. A. Jones on 01/03/2019.
"""


def test_every_word_of_a_report_is_kept_or_in_other_sections():
    split = split_sections(EXPORTED_REPORT)
    words = {word for text in split.values() if text for word in text.split()}
    headings = {"CLINICAL", "DATA:", "EXAM:", "TECHNIQUE", "AND", "FINDINGS:", "IMPRESSION:", "RECOMMENDATIONS:"}
    missing = [word for word in EXPORTED_REPORT.split() if word not in words and word not in headings]
    assert missing == []
    assert split["exam"] == "MRI LEFT KNEE WITHOUT CONTRAST"
    assert split["impression"] == "1. Medial meniscal tear.\n2. Small effusion."
    assert split["findings"].startswith("Multiplanar multisequence images. There is a complex tear")


def test_other_sections_amounts_per_reason():
    reports = pl.DataFrame({"text": [EXPORTED_REPORT, "FINDINGS: Clear.\nIMPRESSION: Normal.", None, CT_REPORT]})
    split = reports.select(split_sections_expr(pl.col("text")).struct.field("other_sections"))
    amounts = other_sections_amounts(split)
    assert list(amounts) == list(OTHER_REASONS)
    comparison = len("Radiographs 01/02/2019.") + len("None.") + len("CT abdomen 03/14/2021.")
    assert amounts["comparison"] == {"reports": 2, "chars": comparison}
    assert amounts["preamble"] == {
        "reports": 2,
        "chars": len("Final report") + len("CT ABDOMEN AND PELVIS WITH CONTRAST"),
    }
    assert amounts["after_impression"] == {"reports": 1, "chars": len("Orthopedic referral.")}
    signoff = "I have personally reviewed the images and agree with the report.\n" + (
        "Electronically signed by Dr. A. Jones on 01/03/2019."
    )
    assert amounts["signoff"] == {"reports": 1, "chars": len(signoff) - 1}  # the line break between the two parts
    assert amounts["technique"]["reports"] == 1
    assert other_sections_amounts(pl.DataFrame({"other_sections": [None]}, schema={"other_sections": pl.String})) == {
        reason: {"reports": 0, "chars": 0} for reason in OTHER_REASONS
    }
