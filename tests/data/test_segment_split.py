import polars as pl
import pytest

from radimpress.config import SplitConfig
from radimpress.data.segment import segment_by_modality, with_modality
from radimpress.data.split import SPLITS, split_overlap, split_reports


def _modality_codes(modality: list[str | None], exam: list[str | None]) -> list[str]:
    reports = pl.DataFrame(
        {"report_id": [str(i) for i in range(len(exam))], "modality": modality, "exam": exam},
        schema={"report_id": pl.String, "modality": pl.String, "exam": pl.String},
    )
    codes = {rid: code for code, frame in segment_by_modality(reports).items() for rid in frame["report_id"]}
    return [codes[str(i)] for i in range(len(exam))]


@pytest.mark.parametrize(
    ("exam", "code"),
    [
        ("MR brain", "mri"),
        ("MRI lumbar spine", "mri"),
        ("CTA chest", "ct"),
        ("CT head without contrast", "ct"),
        ("XR chest PA and lateral", "xray"),
        ("Chest radiograph", "xray"),
        ("US abdomen", "ultrasound"),
        ("Doppler lower extremity veins", "ultrasound"),
        ("MG screening bilateral", "mammography"),
        ("Digital tomosynthesis left breast", "mammography"),
        ("PET/CT skull base to thigh", "nuclear_medicine"),  # read by nuclear medicine, not CT
        ("NM bone scan whole body", "nuclear_medicine"),
        ("SPECT myocardial perfusion", "nuclear_medicine"),
        ("Fluoroscopic barium swallow", "fluoroscopy"),
        ("VCUG", "fluoroscopy"),
        ("Chest, 2 views, frontal and lateral", "xray"),  # IU X-ray exam texts
        ("CHEST 2V FRONTAL/LATERAL", "xray"),
        ("PA and lateral chest x-XXXX", "xray"),
        ("X Ray Chest", "xray"),
        ("Plain film chest", "xray"),
        ("ACT score review", "unknown"),  # "CT" inside a word is not CT
        ("Bone densitometry", "unknown"),
        (None, "unknown"),
    ],
)
def test_exam_text_gives_the_modality(exam, code):
    assert _modality_codes([None], [exam]) == [code]


@pytest.mark.parametrize(("code", "modality"), [("PT", "nuclear_medicine"), ("DR", "xray"), ("CR", "xray")])
def test_dicom_modality_codes(code, modality):
    assert _modality_codes([code], ["Chest"]) == [modality]


def test_modality_column_is_read_before_the_exam_text():
    codes = _modality_codes(
        ["MR", "CT", "US", "Ultrasound", "XR", None],
        ["", None, "US-guided biopsy after CT", "CT-correlated abdomen", "Chest, compare prior CT", "CT head"],
    )
    assert codes == ["mri", "ct", "ultrasound", "ultrasound", "xray", "ct"]


def test_segments_keep_rows_and_order():
    reports = pl.DataFrame(
        {
            "report_id": ["1", "2", "3", "4", "5"],
            "modality": ["MR", None, "MR", "OT", "CT"],
            "exam": ["MR knee", "CT chest", "MR brain", "Outside film review", "CT head"],
            "findings": ["a", "b", "c", "d", "e"],
        }
    )
    segments = segment_by_modality(reports)
    assert sorted(segments) == ["ct", "mri", "unknown"]
    assert segments["mri"]["report_id"].to_list() == ["1", "3"]
    assert segments["ct"]["report_id"].to_list() == ["2", "5"]
    assert segments["unknown"]["findings"].to_list() == ["d"]
    assert segments["ct"]["modality"].to_list() == ["ct", "ct"]  # the code replaces the raw value
    assert sum(frame.height for frame in segments.values()) == reports.height
    assert reports["modality"].to_list() == ["MR", None, "MR", "OT", "CT"]  # input not mutated


def _reports(n: int) -> pl.DataFrame:
    return pl.DataFrame({"report_id": [f"R{i:05d}" for i in range(n)], "findings": [f"finding {i}" for i in range(n)]})


CFG = SplitConfig(train=0.7, validation=0.1, test=0.2, seed=0)


def test_split_is_deterministic_disjoint_and_complete():
    reports = _reports(300)
    first, second = split_reports(reports, CFG), split_reports(reports.reverse(), CFG)
    assert list(first) == list(SPLITS)
    for name in SPLITS:
        assert first[name].equals(second[name])  # row order of the input does not matter
        assert first[name]["report_id"].is_sorted()
    ids = [set(first[name]["report_id"]) for name in SPLITS]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set().union(*ids) == set(reports["report_id"])
    assert sum(first[name].height for name in SPLITS) == reports.height
    assert first["train"].columns == reports.columns


def test_split_roughly_follows_the_shares():
    sizes = {name: frame.height for name, frame in split_reports(_reports(2000), CFG).items()}
    assert sizes["train"] == pytest.approx(1400, abs=70)
    assert sizes["validation"] == pytest.approx(200, abs=45)
    assert sizes["test"] == pytest.approx(400, abs=60)


def test_another_seed_gives_another_split():
    reports = _reports(200)
    other = SplitConfig(train=0.7, validation=0.1, test=0.2, seed=1)
    assert not split_reports(reports, CFG)["test"].equals(split_reports(reports, other)["test"])


def test_editing_one_report_moves_no_other_report():
    reports = _reports(300)
    edited = reports.with_columns(
        pl.when(pl.col("report_id") == "R00007").then(pl.lit("rewritten text")).otherwise("findings").alias("findings")
    )
    before, after = split_reports(reports, CFG), split_reports(edited, CFG)
    for name in SPLITS:
        assert before[name]["report_id"].to_list() == after[name]["report_id"].to_list()
    changed = [name for name in SPLITS if not before[name].equals(after[name])]
    assert len(changed) == 1  # only the edited report's split differs, and only in that row


def test_adding_reports_moves_no_existing_report():
    before, after = split_reports(_reports(300), CFG), split_reports(_reports(400), CFG)
    for name in SPLITS:
        old = set(before[name]["report_id"])
        assert old == set(after[name]["report_id"]) & set(_reports(300)["report_id"])


def _coded(**columns: list[str | None]) -> pl.DataFrame:
    size = len(next(iter(columns.values())))
    frame = pl.DataFrame({"report_id": [str(i) for i in range(size)], **columns}, schema_overrides={})
    return with_modality(frame.with_columns(pl.all().cast(pl.String)))


@pytest.mark.parametrize(
    ("findings", "code"),
    [
        ("Axial T2-weighted and FLAIR images show no infarct.", "mri"),
        ("Frontal and lateral views of the chest. Lungs are clear.", "xray"),
        ("Hypoechoic 1 cm nodule in the right lobe.", "ultrasound"),
        ("Scattered fibroglandular density. BI-RADS 1.", "mammography"),
        ("Lungs clear.", "unknown"),  # nothing says how the exam was done
        # Two modalities named: the X-ray report that mentions the prior MRI stays unknown rather than a guess.
        ("PA and lateral views. Compared with gadolinium-enhanced MRI.", "unknown"),
    ],
)
def test_report_text_gives_the_modality_only_when_unambiguous(findings, code):
    coded = _coded(modality=[None], exam=[None], findings=[findings], impression=["Normal."])
    assert coded["modality"].to_list() == [code]


def test_exam_text_wins_over_report_text():
    coded = _coded(modality=[None], exam=["CT head"], findings=["Axial T2-weighted images."], impression=["x"])
    assert coded["modality"].to_list() == ["ct"]


@pytest.mark.parametrize(
    ("exam", "body_part"),
    [
        ("MRI lumbar spine", "spine"),
        ("CT thoracic spine", "spine"),  # spine before chest
        ("CT head without contrast", "head"),
        ("Xray Chest PA and Lateral", "chest"),
        ("US abdomen complete", "abdomen"),
        ("MR knee left", "lower_extremity"),
        ("XR wrist 3 views", "upper_extremity"),
        ("MG screening bilateral breasts", "breast"),
        ("US pelvis cervical length", "pelvis"),  # the cervix, not the cervical spine
        ("XR femoral head", "lower_extremity"),
        ("CT cervical spine", "spine"),
        ("Outside film", "unknown"),
        (None, "unknown"),
    ],
)
def test_body_part_is_read_from_the_exam(exam, body_part):
    assert _coded(modality=[None], exam=[exam])["body_part"].to_list() == [body_part]


def test_one_patient_never_lands_in_two_splits():
    # 300 patients with 1-4 reports each, in two modalities: every patient's reports share one split.
    rows = [(f"P{p}", f"R{p}-{k}") for p in range(300) for k in range(1 + p % 4)]
    reports = pl.DataFrame({"patient_id": [p for p, _ in rows], "report_id": [r for _, r in rows]})
    splits = split_reports(reports, SplitConfig(train=0.6, validation=0.2, test=0.2, seed=1))
    patients = {name: set(frame["patient_id"]) for name, frame in splits.items()}
    assert not patients["train"] & patients["test"]
    assert not patients["train"] & patients["validation"]
    assert not patients["validation"] & patients["test"]
    assert sum(frame.height for frame in splits.values()) == reports.height
    share = len(patients["train"]) / 300
    assert 0.5 < share < 0.7  # near the profile's 0.6


def test_a_patient_gets_the_same_split_in_every_modality():
    cfg = SplitConfig(seed=4)
    mri = pl.DataFrame({"patient_id": [f"P{i}" for i in range(50)], "report_id": [f"M{i}" for i in range(50)]})
    ct = pl.DataFrame({"patient_id": [f"P{i}" for i in range(50)], "report_id": [f"C{i}" for i in range(50)]})
    by_patient = [
        {p: name for name, frame in split_reports(data, cfg).items() for p in frame["patient_id"]} for data in (mri, ct)
    ]
    assert by_patient[0] == by_patient[1]


def test_a_study_with_its_patient_id_on_some_rows_only_stays_in_one_split():
    rows = 200
    reports = pl.DataFrame(
        {
            "patient_id": [f"P{i // 2}" if i % 2 == 0 else None for i in range(rows)],  # only the first row says it
            "study_id": [f"S{i // 2}" for i in range(rows)],
            "report_id": [str(i) for i in range(rows)],
        }
    )
    splits = split_reports(reports, SplitConfig(seed=3))
    studies = [set(frame["study_id"]) for frame in splits.values()]
    assert sum(len(s) for s in studies) == rows // 2


def test_blank_patient_ids_do_not_form_one_giant_patient():
    reports = pl.DataFrame({"patient_id": ["  "] * 60, "report_id": [str(i) for i in range(60)]})
    sizes = {name: frame.height for name, frame in split_reports(reports, SplitConfig(seed=0)).items()}
    assert sizes["train"] < 60 and sizes["test"] > 0  # each report its own group


def test_study_id_groups_when_there_is_no_patient_id():
    reports = pl.DataFrame(
        {
            "patient_id": [None] * 40,
            "study_id": [f"S{i // 2}" for i in range(40)],  # two reports per study
            "report_id": [str(i) for i in range(40)],
        },
        schema={"patient_id": pl.String, "study_id": pl.String, "report_id": pl.String},
    )
    splits = split_reports(reports, SplitConfig(seed=0))
    studies = [set(frame["study_id"]) for frame in splits.values()]
    assert sum(len(s) for s in studies) == 20  # no study in two splits


def test_identical_texts_under_different_ids_and_patients_never_straddle_splits():
    reports = _reports(400).with_columns(
        pl.Series("patient_id", [f"P{i}" for i in range(400)]),
        pl.format("Impression {}.", "report_id").alias("impression"),
    )
    # 60 planted copies of 20 reports, under new ids and new patients, with case and punctuation changed.
    copies = reports.head(20).with_columns(
        pl.format("COPY{}", pl.col("report_id")).alias("report_id"),
        pl.format("Q{}", pl.col("report_id")).alias("patient_id"),
        (pl.col("findings").str.to_uppercase() + "  ").alias("findings"),
        pl.col("impression").str.replace_all(r"\.", "").alias("impression"),
    )
    planted = pl.concat([reports, copies, copies.with_columns(pl.format("{}b", "report_id").alias("report_id"))])
    splits = split_reports(planted, CFG)
    where = {rid: name for name, frame in splits.items() for rid in frame["report_id"]}
    for original in reports.head(20)["report_id"]:
        assert where[original] == where[f"COPY{original}"] == where[f"COPY{original}b"]
    overlap = split_overlap(splits)
    assert overlap["test"]["pairs_in_train"] == overlap["validation"]["pairs_in_train"] == 0
    assert overlap["test"]["reports"] == splits["test"].height


def test_overlap_counts_impressions_seen_in_train():
    frame = pl.DataFrame({"findings": ["a", "b", "c"], "impression": ["Normal.", "normal", "Mass."]})
    splits = {"train": frame.head(1), "validation": frame.slice(1, 1), "test": frame.slice(1, 2)}
    overlap = split_overlap(splits)
    assert overlap["test"] == {
        "reports": 2,
        "pairs_in_train": 0,
        "impressions_in_train": 1,
        "impressions_in_train_share": 0.5,
    }


# Issue 14: exams named by their views, series or procedure, and the modality codes and names standing as codes.
@pytest.mark.parametrize(
    ("exam", "code"),
    [
        ("FOOT SERIES", "xray"),
        ("Left ankle series", "xray"),
        ("ACUTE ABDOMINAL SERIES", "xray"),
        ("FIVE VIEWS OF THE LUMBAR SPINE", "xray"),
        ("Five views", "xray"),
        ("SINGLE FRONTAL VIEW OF THE CHEST", "xray"),
        ("Single frontal view", "xray"),
        ("PA and lateral", "xray"),
        ("Shoulder, Grashey and axillary views", "xray"),
        ("DX CHEST PORTABLE", "xray"),
        ("CR CHEST", "xray"),
        ("LEXISCAN MYOCARDIAL PERFUSION", "nuclear_medicine"),
        ("Lexiscan nuclear stress test", "nuclear_medicine"),
        ("Regadenoson myocardial perfusion study", "nuclear_medicine"),
        ("SESTAMIBI STRESS TEST", "nuclear_medicine"),
        ("Cardiolite stress test", "nuclear_medicine"),
        ("Myoview rest and stress", "nuclear_medicine"),
        ("Thallium stress test", "nuclear_medicine"),
        ("Adenosine stress test with imaging", "nuclear_medicine"),
        ("NM BONE SCAN WHOLE BODY", "nuclear_medicine"),
        ("LEFT HEART CATH", "fluoroscopy"),
        ("Right and left heart cath", "fluoroscopy"),
        ("Cardiac catheterization", "fluoroscopy"),
        ("Coronary angiogram", "fluoroscopy"),
        ("Barium swallow", "fluoroscopy"),
        ("Modified barium swallow", "fluoroscopy"),
        ("Barium enema", "fluoroscopy"),
        ("Hysterosalpingogram", "fluoroscopy"),
        ("HSG", "fluoroscopy"),
        ("Lumbar myelogram", "fluoroscopy"),
        ("Fluoroscopy-guided L4-L5 epidural steroid injection", "fluoroscopy"),
        ("Right hip arthrogram", "fluoroscopy"),
        ("US ABDOMEN", "ultrasound"),
        ("MG SCREENING BILATERAL", "mammography"),
        ("BRAIN MR W/WO", "mri"),
        ("Cardiac MR, adenosine stress perfusion", "mri"),
        # A named modality wins over the views, stress agents and procedures that point elsewhere.
        ("Dobutamine stress echo", "ultrasound"),
        ("Cardiac MRI with regadenoson stress perfusion", "mri"),
        ("CT coronary angiography", "ct"),
        ("CT myelogram lumbar spine", "ct"),
        ("MR arthrogram left shoulder", "mri"),
        ("Mammogram, two views", "mammography"),
        ("Craniocaudal and mediolateral oblique views of the left breast", "mammography"),
    ],
)
def test_views_series_stress_tests_and_procedures_give_the_modality(exam, code):
    assert _modality_codes([None], [exam]) == [code]


# Words that look like a modality code or name one in passing never decide the modality.
@pytest.mark.parametrize(
    ("exam", "code"),
    [
        ("PORTABLE CHEST 1 VIEW\nPt with elevated PT/PTT prior to procedure.", "xray"),
        ("Pt with elevated PT/PTT prior to procedure.", "unknown"),
        ("PT/INR 1.4. Rule out bleed.", "unknown"),
        ("pt fell at home", "unknown"),
        ("PT WITH CHEST PAIN", "unknown"),
        ("DX: cough and fever.", "unknown"),
        ("Recently returned to the US from abroad.", "unknown"),
        ("Mr. XXXX reports worsening symptoms.", "unknown"),
        ("Referred by Dr. XXXX.", "unknown"),
        ("ON ASPIRIN 81 MG DAILY", "unknown"),
        ("CR 1.8 ON ADMISSION", "unknown"),
        ("ADDENDUM\nKnown malignancy, restaging. Prior PET/CT XX/XX/XXXX.", "unknown"),
        ("Abnormal US at an outside hospital.", "unknown"),
        ("LEXISCAN MYOCARDIAL PERFUSION\nRecommend MRI if equivocal.", "nuclear_medicine"),
    ],
)
def test_mentions_and_look_alike_codes_in_the_exam_text(exam, code):
    assert _modality_codes([None], [exam]) == [code]


def test_a_code_in_the_modality_column_counts_as_a_code():
    assert _modality_codes(["PT", "CT\\PT", "pt", "XA"], ["Chest"] * 4) == [
        "nuclear_medicine",
        "nuclear_medicine",  # a PET/CT study lists both
        "nuclear_medicine",
        "fluoroscopy",
    ]


@pytest.mark.parametrize(
    ("exam", "findings", "code"),
    [
        ("CT SOFT TISSUE NECK", "A level II node measures 1.2 cm short axis and 3.2 cm craniocaudal.", "ct"),
        (None, "A level II node measures 1.2 cm short axis and 3.2 cm craniocaudal.", "unknown"),  # not a view
        (None, "The collection measures 3.2 cm craniocaudal and 18 Hounsfield units.", "ct"),
        (None, "The right thyroid lobe measures 4.1 cm craniocaudal. Hypoechoic nodule.", "ultrasound"),
        (None, "Craniocaudal and mediolateral oblique views. No suspicious mass.", "mammography"),
        ("MRI BILATERAL BREASTS", "Irregular enhancing mass at 10 o'clock. BI-RADS 4.", "mri"),
        (None, "Mild background parenchymal enhancement. BI-RADS 2.", "mri"),
        (None, "Oval circumscribed hypoechoic mass at 2 o'clock. BI-RADS 3.", "ultrasound"),
        (None, "No suspicious finding. BI-RADS 1.", "unknown"),  # BI-RADS is given for US and MRI too
        (None, "PT/PTT normal. Lungs are clear.", "unknown"),
        (None, "Compared with the CT of 2019, stable. Recommend MRI.", "unknown"),  # names, not how it was done
    ],
)
def test_report_text_mentions_do_not_decide_the_modality(exam, findings, code):
    coded = _coded(modality=[None], exam=[exam], findings=[findings], impression=["See findings."])
    assert coded["modality"].to_list() == [code]


def test_a_chest_x_ray_whose_history_has_pt_ptt_is_an_x_ray():
    coded = _coded(
        modality=[None, None],
        exam=["CHEST 2 VIEWS", None],
        clinical_information=["Pt with elevated PT/PTT.", "Pt with elevated PT/PTT."],
        findings=["Frontal and lateral views. Lungs are clear.", "Lungs are clear."],
        impression=["Normal.", "Normal."],
    )
    assert coded["modality"].to_list() == ["xray", "unknown"]


def test_a_technique_kept_in_other_sections_gives_the_modality():
    coded = _coded(
        modality=[None],
        exam=[None],
        other_sections=["COMPARISON: CT of 2019.\nTECHNIQUE: Sagittal T1 and T2-weighted images of the spine."],
        findings=["Disc bulge at L4-L5."],
        impression=["Mild stenosis."],
    )
    assert coded["modality"].to_list() == ["mri"]


@pytest.mark.parametrize(
    ("exam", "body_part"),
    [
        ("LEXISCAN MYOCARDIAL PERFUSION", "cardiac"),
        ("LEFT HEART CATH", "cardiac"),
        ("FOOT SERIES", "lower_extremity"),
        ("FIVE VIEWS OF THE LUMBAR SPINE", "spine"),
        ("SINGLE FRONTAL VIEW OF THE CHEST", "chest"),
        ("CT A/P W CONTRAST", "abdomen"),
        ("ULTRASOUND RIGHT UPPER QUADRANT", "abdomen"),
        ("MG DIAGNOSTIC LEFT", "breast"),
        ("VCUG", "pelvis"),
        ("Barium enema", "abdomen"),
        ("CCTA with calcium score", "cardiac"),
    ],
)
def test_body_part_of_the_new_wordings(exam, body_part):
    assert _coded(modality=[None], exam=[exam])["body_part"].to_list() == [body_part]
