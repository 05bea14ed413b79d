"""A seeded generator of realistic synthetic radiology reports that keeps each case's ground truth.

The text keeps three promises that make the simulated reviewer (`radimpress.review`) possible: the sentence
that states a finding contains its term literally, its side word ("left", "right", "bilateral") and severity
word ("mild", "moderate", "severe") when set, and a negation ("no", "without", "negative for") before the
term when it is absent. Each sentence states one finding. The vocabulary lives in module-level tables so the
reviewer shares the lexicon.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

import polars as pl

MODALITIES = ("mri", "ct", "xray", "ultrasound")
COLUMNS = ("report_id", "modality", "exam", "clinical_information", "findings", "impression", "ground_truth")
SIDES = ("left", "right", "bilateral")
SEVERITIES = ("mild", "moderate", "severe")
NORMAL_SHARE = 0.3  # DESIGN: about 25-35% of cases have no positive finding
MINOR_IN_IMPRESSION = 0.5  # radiologists often leave minor findings out of the impression
PERTINENT_NEGATIVE = 0.25  # share of impressions that also state an absent finding ("No pneumothorax.")


@dataclass(frozen=True)
class FindingSpec:
    """One finding a body region can show, and how reports phrase it."""

    term: str
    """Lexicon term, written literally in every sentence that states the finding."""
    significant: bool
    """Clinically significant (always in the impression) or minor (sometimes left out)."""
    locations: tuple[str, ...]
    """Where it can be; "{side}" marks where a left/right word goes, else it goes before the location."""
    preposition: str = "in the"
    """Joins term and location; "" leaves the location unwritten, as when the term names it (cardiomegaly)."""
    sides: tuple[str, ...] = ()
    """Sides it can take; empty for midline or unpaired findings."""
    graded: bool = False
    """Whether it takes a severity."""
    grammar: str = "count"
    """Article and verb agreement: "count" takes a/an, "mass" no article, "plural" takes "are"."""
    structure: str = ""
    """The normal statement this finding replaces (a nodule silences "The lungs are clear.")."""


@dataclass(frozen=True)
class Region:
    """A body region examined by one modality: its exams, indications, normal wording and findings."""

    name: str
    exams: tuple[str, ...]
    indications: tuple[str, ...]
    normal_statements: tuple[tuple[str, tuple[str, ...]], ...]
    """(structure, wordings) pairs: one wording per structure that has no positive finding."""
    normal_impressions: tuple[str, ...]
    findings: tuple[FindingSpec, ...]
    limb: bool = False
    """The exam has a side ("MRI left knee") and every finding takes it."""
    female_only: bool = False


@dataclass(frozen=True)
class _Finding:
    spec: FindingSpec
    location: str  # a location template, may hold "{side}"
    side: str | None
    severity: str | None
    negated: bool = False
    in_impression: bool = False


BRAIN_LOCATIONS = (
    "frontal lobe",
    "parietal lobe",
    "temporal lobe",
    "occipital lobe",
    "cerebellar hemisphere",
    "basal ganglia",
    "thalamus",
)
LUNG_LOBES = ("upper lobe", "lower lobe")
LUMBAR_LEVELS = ("L3-L4", "L4-L5", "L5-S1")
LR = ("left", "right")

CHEST_FINDINGS = (
    FindingSpec("pleural effusion", True, ("pleural space",), "", SIDES, True, structure="pleura"),
    FindingSpec("pneumothorax", True, ("pleural space",), "", LR, True, structure="pleura"),
    FindingSpec("consolidation", True, LUNG_LOBES, sides=LR, grammar="mass", structure="lungs"),
    FindingSpec("pulmonary nodule", True, LUNG_LOBES, sides=LR, structure="lungs"),
)
CHEST_XR_NORMALS = (
    ("lungs", ("The lungs are clear.", "The lungs are well expanded and clear.")),
    ("pleura", ("The pleural spaces are clear.", "The costophrenic angles are sharp.")),
    ("heart", ("The cardiomediastinal silhouette is within normal limits.", "The heart is normal in size.")),
    ("bones", ("The osseous structures are intact.", "The visualized bones are unremarkable.")),
)

MRI_REGIONS = (
    Region(
        "brain",
        ("MRI brain without contrast", "MRI brain with and without contrast"),
        (
            "headache",
            "left-sided weakness",
            "right-sided weakness",
            "new-onset seizure",
            "dizziness and vertigo",
            "memory loss",
            "visual disturbance",
            "altered mental status",
        ),
        (
            (
                "ventricles",
                (
                    "The ventricles are normal in size and configuration.",
                    "Ventricles and sulci are age appropriate.",
                ),
            ),
            (
                "parenchyma",
                ("There is no restricted diffusion.", "The brain parenchyma is normal in signal intensity."),
            ),
            ("flow voids", ("The major intracranial flow voids are preserved.",)),
            ("sinuses", ("The paranasal sinuses and mastoid air cells are clear.",)),
            ("orbits", ("The orbits are unremarkable.",)),
        ),
        ("No acute intracranial abnormality.", "Normal MRI of the brain.", "Unremarkable MRI of the brain."),
        (
            FindingSpec("infarct", True, BRAIN_LOCATIONS, sides=LR, structure="parenchyma"),
            FindingSpec("hemorrhage", True, BRAIN_LOCATIONS, sides=LR, grammar="mass", structure="parenchyma"),
            FindingSpec("mass", True, BRAIN_LOCATIONS, sides=LR, structure="parenchyma"),
            FindingSpec(
                "hydrocephalus",
                True,
                ("ventricles",),
                "",
                graded=True,
                grammar="mass",
                structure="ventricles",
            ),
            FindingSpec(
                "white matter hyperintensities",
                False,
                ("periventricular white matter", "subcortical white matter"),
                graded=True,
                grammar="plural",
                structure="parenchyma",
            ),
        ),
    ),
    Region(
        "lumbar spine",
        ("MRI lumbar spine without contrast", "MRI lumbar spine with and without contrast"),
        (
            "low back pain",
            "low back pain radiating to the left leg",
            "low back pain radiating to the right leg",
            "numbness in both legs",
            "back pain after a fall",
        ),
        (
            ("alignment", ("Alignment is normal.", "Lumbar lordosis is maintained.")),
            ("vertebrae", ("Vertebral body heights are maintained.",)),
            ("conus", ("The conus medullaris terminates normally at L1.",)),
            ("discs", ("The intervertebral discs are preserved.",)),
            ("canal", ("The spinal canal is patent.",)),
            ("foramina", ("The neural foramina are patent.",)),
            ("paraspinal", ("The paraspinal soft tissues are unremarkable.",)),
        ),
        ("No significant abnormality of the lumbar spine.", "Normal MRI of the lumbar spine."),
        (
            FindingSpec("disc herniation", True, LUMBAR_LEVELS, "at", LR, structure="discs"),
            FindingSpec("canal stenosis", True, LUMBAR_LEVELS, "at", graded=True, grammar="mass", structure="canal"),
            FindingSpec("foraminal stenosis", False, LUMBAR_LEVELS, "at", SIDES, True, "mass", "foramina"),
            FindingSpec("disc bulge", False, LUMBAR_LEVELS, "at", graded=True, structure="discs"),
            FindingSpec("compression fracture", True, ("L1", "L2", "T12"), "at", graded=True, structure="vertebrae"),
        ),
    ),
    Region(
        "knee",
        ("MRI {side} knee without contrast",),
        (
            "{side} knee pain after a twisting injury",
            "{side} knee pain and swelling",
            "locking of the {side} knee",
            "instability of the {side} knee after a sports injury",
        ),
        (
            ("menisci", ("The menisci are intact.",)),
            ("ligaments", ("The cruciate and collateral ligaments are intact.",)),
            ("cartilage", ("The articular cartilage is preserved.",)),
            ("marrow", ("Bone marrow signal is normal.",)),
            ("extensor", ("The extensor mechanism is intact.",)),
        ),
        ("No internal derangement of the {side} knee.", "Normal MRI of the {side} knee."),
        (
            FindingSpec(
                "meniscal tear",
                True,
                (
                    "posterior horn of the {side} medial meniscus",
                    "body of the {side} medial meniscus",
                    "posterior horn of the {side} lateral meniscus",
                ),
                structure="menisci",
            ),
            FindingSpec(
                "anterior cruciate ligament tear",
                True,
                ("anterior cruciate ligament",),
                "",
                structure="ligaments",
            ),
            FindingSpec("joint effusion", False, ("knee joint",), "", graded=True),
            FindingSpec(
                "chondromalacia",
                False,
                ("patella", "medial femoral condyle"),
                "of the",
                graded=True,
                grammar="mass",
                structure="cartilage",
            ),
        ),
        limb=True,
    ),
)

CT_REGIONS = (
    Region(
        "head",
        ("CT head without contrast",),
        (
            "fall with head strike",
            "sudden severe headache",
            "confusion",
            "right-sided weakness",
            "left facial droop",
            "syncope",
        ),
        (
            ("ventricles", ("The ventricles are normal in size.",)),
            ("parenchyma", ("Gray-white matter differentiation is preserved.",)),
            ("extra-axial", ("There is no extra-axial collection.",)),
            ("calvarium", ("The calvarium is intact.",)),
            ("sinuses", ("The visualized paranasal sinuses and mastoid air cells are clear.",)),
        ),
        (
            "No acute intracranial abnormality.",
            "No acute intracranial process.",
            "Normal noncontrast CT of the head.",
        ),
        (
            FindingSpec("hemorrhage", True, BRAIN_LOCATIONS, sides=LR, grammar="mass", structure="parenchyma"),
            FindingSpec("infarct", True, BRAIN_LOCATIONS, sides=LR, structure="parenchyma"),
            FindingSpec(
                "skull fracture",
                True,
                ("frontal bone", "parietal bone", "occipital bone"),
                "of the",
                LR,
                structure="calvarium",
            ),
            FindingSpec(
                "small vessel ischemic changes",
                False,
                ("periventricular white matter",),
                graded=True,
                grammar="plural",
                structure="parenchyma",
            ),
        ),
    ),
    Region(
        "chest",
        ("CT chest with contrast", "CT chest without contrast", "CT angiography chest"),
        (
            "shortness of breath",
            "cough and fever",
            "pleuritic chest pain",
            "hemoptysis",
            "follow-up of an abnormal chest radiograph",
            "tachycardia and hypoxia",
        ),
        (
            ("lungs", ("The lungs are clear.",)),
            ("airways", ("The central airways are patent.",)),
            ("pleura", ("The pleural spaces are clear.",)),
            ("heart", ("The heart is normal in size.",)),
            ("vessels", ("The pulmonary arteries are well opacified.",)),
            ("mediastinum", ("Mediastinal and hilar structures are unremarkable.",)),
        ),
        ("No acute intrathoracic abnormality.", "No acute cardiopulmonary process."),
        (
            *CHEST_FINDINGS,
            FindingSpec(
                "pulmonary embolism",
                True,
                ("lower lobe pulmonary arteries", "upper lobe pulmonary arteries"),
                sides=SIDES,
                grammar="mass",
                structure="vessels",
            ),
            FindingSpec(
                "atelectasis",
                False,
                ("lower lobe",),
                sides=SIDES,
                graded=True,
                grammar="mass",
                structure="lungs",
            ),
        ),
    ),
    Region(
        "abdomen",
        ("CT abdomen and pelvis with contrast", "CT abdomen and pelvis without contrast"),
        (
            "right lower quadrant pain",
            "left lower quadrant pain and fever",
            "flank pain and hematuria",
            "abdominal pain and nausea",
            "elevated liver enzymes",
        ),
        (
            ("liver", ("The liver is normal in size and attenuation.",)),
            ("gallbladder", ("The gallbladder is unremarkable.",)),
            ("kidneys", ("The kidneys enhance symmetrically.",)),
            ("bowel", ("The bowel is normal in caliber.",)),
            ("appendix", ("The appendix is normal.",)),
            ("pancreas", ("The pancreas and spleen are unremarkable.",)),
        ),
        ("No acute abnormality in the abdomen or pelvis.", "No acute intra-abdominal process."),
        (
            FindingSpec("appendicitis", True, ("appendix",), "", grammar="mass", structure="appendix"),
            FindingSpec("hydronephrosis", True, ("kidney",), "", SIDES, True, "mass", "kidneys"),
            FindingSpec("nephrolithiasis", False, ("kidney",), "", SIDES, grammar="mass", structure="kidneys"),
            FindingSpec("hepatic steatosis", False, ("liver",), "", graded=True, grammar="mass", structure="liver"),
            FindingSpec(
                "diverticulitis",
                True,
                ("sigmoid colon", "descending colon"),
                "of the",
                grammar="mass",
                structure="bowel",
            ),
        ),
    ),
)

XRAY_REGIONS = (
    Region(
        "chest",
        ("XR chest PA and lateral", "XR chest portable AP", "XR chest 1 view"),
        (
            "cough",
            "shortness of breath",
            "fever and cough",
            "chest pain",
            "preoperative evaluation",
            "follow-up of pneumonia",
        ),
        CHEST_XR_NORMALS,
        (
            "No acute cardiopulmonary abnormality.",
            "No acute cardiopulmonary process.",
            "Normal chest radiograph.",
        ),
        (
            *CHEST_FINDINGS,
            FindingSpec("cardiomegaly", True, ("heart",), "", graded=True, grammar="mass", structure="heart"),
            FindingSpec(
                "atelectasis",
                False,
                ("lung base",),
                sides=SIDES,
                graded=True,
                grammar="mass",
                structure="lungs",
            ),
            FindingSpec("pulmonary edema", True, ("lungs",), "", graded=True, grammar="mass", structure="lungs"),
        ),
    ),
    Region(
        "hand",
        ("XR {side} hand 3 views",),
        (
            "fall on an outstretched {side} hand",
            "{side} hand pain after a punch injury",
            "joint pain and stiffness",
            "swelling of the {side} fingers",
        ),
        (
            ("bones", ("The bones are normally mineralized.",)),
            ("alignment", ("Alignment is anatomic.",)),
            ("joints", ("The joint spaces are preserved.",)),
            ("soft tissue", ("The soft tissues are unremarkable.",)),
        ),
        ("No acute osseous abnormality of the {side} hand.", "Normal radiographs of the {side} hand."),
        (
            FindingSpec(
                "fracture",
                True,
                ("fifth metacarpal", "fourth metacarpal", "proximal phalanx of the index finger"),
                "of the",
                structure="bones",
            ),
            FindingSpec(
                "dislocation",
                True,
                ("fifth metacarpophalangeal joint", "thumb interphalangeal joint"),
                "of the",
                structure="alignment",
            ),
            FindingSpec(
                "osteoarthritis",
                False,
                ("interphalangeal joints",),
                "of the",
                graded=True,
                grammar="mass",
                structure="joints",
            ),
            FindingSpec(
                "soft tissue swelling",
                False,
                ("dorsum of the {side} hand",),
                "along the",
                graded=True,
                grammar="mass",
                structure="soft tissue",
            ),
        ),
        limb=True,
    ),
    Region(
        "knee",
        ("XR {side} knee 2 views", "XR {side} knee 3 views"),
        ("{side} knee pain", "fall onto the {side} knee", "chronic {side} knee pain", "{side} knee swelling"),
        (
            ("bones", ("The bones are intact.",)),
            ("alignment", ("Alignment is normal.",)),
            ("joints", ("The joint spaces are preserved.",)),
            ("soft tissue", ("The soft tissues are unremarkable.",)),
        ),
        ("No acute osseous abnormality of the {side} knee.", "Normal radiographs of the {side} knee."),
        (
            FindingSpec("fracture", True, ("patella", "tibial plateau", "distal femur"), "of the", structure="bones"),
            FindingSpec("joint effusion", False, ("suprapatellar recess",), graded=True, structure="soft tissue"),
            FindingSpec(
                "osteoarthritis",
                False,
                ("medial compartment", "lateral compartment"),
                "of the",
                graded=True,
                grammar="mass",
                structure="joints",
            ),
        ),
        limb=True,
    ),
)

ULTRASOUND_REGIONS = (
    Region(
        "right upper quadrant",
        ("US right upper quadrant", "US abdomen limited"),
        (
            "right upper quadrant pain",
            "right upper quadrant pain after fatty meals",
            "elevated liver enzymes",
            "nausea and epigastric pain",
        ),
        (
            ("liver", ("The liver is normal in size and echotexture.",)),
            ("gallbladder", ("The gallbladder is normally distended.",)),
            ("ducts", ("The common bile duct measures 4 mm.",)),
            ("pancreas", ("The visualized pancreas is unremarkable.",)),
        ),
        (
            "Normal right upper quadrant ultrasound.",
            "No sonographic abnormality of the liver or gallbladder.",
        ),
        (
            FindingSpec("gallstones", True, ("gallbladder",), "within the", grammar="plural", structure="gallbladder"),
            FindingSpec(
                "gallbladder wall thickening",
                True,
                ("gallbladder",),
                "",
                graded=True,
                grammar="mass",
                structure="gallbladder",
            ),
            FindingSpec(
                "biliary dilatation",
                True,
                ("common bile duct",),
                "",
                graded=True,
                grammar="mass",
                structure="ducts",
            ),
            FindingSpec("hepatic steatosis", False, ("liver",), "", graded=True, grammar="mass", structure="liver"),
        ),
    ),
    Region(
        "kidneys",
        ("US renal", "US kidneys and bladder"),
        ("flank pain", "acute kidney injury", "recurrent urinary tract infections", "hematuria"),
        (
            ("kidneys", ("Both kidneys are normal in size and echogenicity.",)),
            ("bladder", ("The urinary bladder is unremarkable.",)),
        ),
        ("Normal renal ultrasound.", "No sonographic abnormality of the kidneys."),
        (
            FindingSpec("hydronephrosis", True, ("kidney",), "", SIDES, True, "mass", "kidneys"),
            FindingSpec(
                "renal cyst",
                False,
                ("upper pole of the {side} kidney", "lower pole of the {side} kidney"),
                sides=LR,
                structure="kidneys",
            ),
        ),
    ),
    Region(
        "thyroid",
        ("US thyroid", "US neck soft tissue"),
        (
            "palpable neck nodule",
            "abnormal thyroid function tests",
            "neck swelling",
            "follow-up of a thyroid nodule",
        ),
        (
            ("thyroid", ("The thyroid gland is normal in size and echotexture.",)),
            ("nodes", ("There are no abnormal cervical lymph nodes.",)),
        ),
        ("Normal thyroid ultrasound.", "No sonographic abnormality of the thyroid gland."),
        (
            FindingSpec(
                "thyroid nodule",
                True,
                ("upper pole of the {side} thyroid lobe", "lower pole of the {side} thyroid lobe"),
                sides=LR,
                structure="thyroid",
            ),
            FindingSpec("goiter", False, ("thyroid gland",), "", graded=True, grammar="mass", structure="thyroid"),
        ),
    ),
    Region(
        "pelvis",
        ("US pelvis transabdominal and transvaginal", "US pelvis transabdominal"),
        (
            "pelvic pain",
            "abnormal uterine bleeding",
            "left pelvic pain",
            "right pelvic pain",
            "irregular menses",
        ),
        (
            ("uterus", ("The uterus is normal in size with a normal endometrial stripe.",)),
            ("ovaries", ("Both ovaries are normal in size with normal flow.",)),
            ("cul-de-sac", ("The cul-de-sac is clear.",)),
        ),
        ("Normal pelvic ultrasound.", "No sonographic abnormality of the pelvis."),
        (
            FindingSpec("ovarian cyst", False, ("{side} ovary",), sides=LR, structure="ovaries"),
            FindingSpec("fibroid", False, ("uterine fundus", "uterine body"), structure="uterus"),
            FindingSpec("adnexal mass", True, ("adnexa",), sides=LR, structure="ovaries"),
            FindingSpec("free fluid", False, ("cul-de-sac",), graded=True, grammar="mass", structure="cul-de-sac"),
        ),
        female_only=True,
    ),
)

REGIONS: dict[str, tuple[Region, ...]] = {
    "mri": MRI_REGIONS,
    "ct": CT_REGIONS,
    "xray": XRAY_REGIONS,
    "ultrasound": ULTRASOUND_REGIONS,
}

FINDING_TERMS: dict[str, dict[str, bool]] = {
    modality: {spec.term: spec.significant for region in regions for spec in region.findings}
    for modality, regions in REGIONS.items()
}
"""Modality -> {finding term: clinically significant?}: the lexicon the simulated reviewer reads with."""

POSITIVE_SENTENCES = (
    "{NP}{where}.",
    "There {be} {np}{where}.",
    "{NP} {be} seen{where}.",
    "{NP} {be} present{where}.",
    "Findings are consistent with {np}{where}.",
)
IMPRESSION_POSITIVES = ("{NP}{where}.", "{NP}{where}.", "Findings consistent with {np}{where}.")
IMPRESSION_REMARKS = ("recommend clinical correlation", "recommend follow-up imaging", "correlate clinically")
NEGATED_SENTENCES = (
    "No {term}.",
    "There {be} no {term}.",
    "No evidence of {term}.",
    "Negative for {term}.",
    "No {term} {be} identified.",
)
MINOR_ONLY_IMPRESSIONS = ("No acute abnormality.", "No acute findings.", "No significant abnormality.")
IMPRESSION_NEGATIONS = ("No {term}.", "No evidence of {term}.")
CLINICAL_TEMPLATES = (
    "{age}-year-old {sex} with {ind}.",
    "{age}-year-old {sex} presenting with {ind}.",
    "{Ind}.",
    "{Ind}. {age}-year-old {sex}.",
    "History: {ind}.",
    "{age} y/o {sex} with {ind} for {dur}.",
)
SEXES = ("man", "woman", "male", "female", "patient")
FEMALE_SEXES = ("woman", "female", "patient")
DURATIONS = ("two days", "one week", "three weeks", "several months")


def generate_reports(n: int, seed: int, modalities: Sequence[str] = MODALITIES) -> pl.DataFrame:
    """Generate synthetic reports with their ground truth.

    Args:
        n: Number of reports.
        seed: Seed of the generator; the same (n, seed, modalities) gives the same frame.
        modalities: Modality codes to draw from (keys of `REGIONS`), each row picking one at random.

    Returns:
        A frame of `COLUMNS`, all strings; `ground_truth` is a JSON list of the case's findings, positive and
        stated-absent: {"finding", "location", "side", "severity", "negated", "significant", "in_impression"}.

    Raises:
        ValueError: n is negative, or modalities is empty or holds an unknown code.
    """
    _check_request(n, modalities)
    rng = random.Random(seed)
    choices = tuple(modalities)
    rows = [{"report_id": f"SYN-{i + 1:06d}", **_generate_case(rng, rng.choice(choices))} for i in range(n)]
    return pl.DataFrame({c: [row[c] for row in rows] for c in COLUMNS}, schema={c: pl.String for c in COLUMNS})


def _check_request(n: int, modalities: Sequence[str]) -> None:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    unknown = [m for m in modalities if m not in REGIONS]
    if not modalities or unknown:
        raise ValueError(f"modalities must be a non-empty subset of {sorted(REGIONS)}, got {list(modalities)}")


def _generate_case(rng: random.Random, modality: str) -> dict[str, str]:
    region = rng.choice(REGIONS[modality])
    side = rng.choice(LR) if region.limb else None
    positives = _draw_positives(rng, region, side)
    negatives = _draw_negatives(rng, region, positives)
    positives, negatives = _mark_impression(rng, positives, negatives)
    return {
        "modality": modality,
        "exam": rng.choice(region.exams).format(side=side),
        "clinical_information": _write_clinical_information(rng, region, side),
        "findings": _write_findings(rng, region, positives, negatives),
        "impression": _write_impression(rng, region, side, positives, negatives),
        "ground_truth": json.dumps([_truth_entry(f) for f in positives + negatives]),
    }


def _draw_positives(rng: random.Random, region: Region, exam_side: str | None) -> list[_Finding]:
    if rng.random() < NORMAL_SHARE:
        return []
    count = min(rng.choice((1, 1, 1, 2, 2, 3)), len(region.findings))
    return [_draw_positive(rng, spec, exam_side) for spec in rng.sample(region.findings, count)]


def _draw_positive(rng: random.Random, spec: FindingSpec, exam_side: str | None) -> _Finding:
    side = exam_side or (rng.choice(spec.sides) if spec.sides else None)
    severity = rng.choice(SEVERITIES) if spec.graded and rng.random() < 0.85 else None
    return _Finding(spec, rng.choice(spec.locations), side, severity)


def _draw_negatives(rng: random.Random, region: Region, positives: list[_Finding]) -> list[_Finding]:
    """Absent findings the radiologist states explicitly, drawn from those the case does not have."""
    present = {f.spec.term for f in positives}
    candidates = [spec for spec in region.findings if spec.term not in present]
    count = min(rng.choice((0, 1, 1, 2, 3)), len(candidates))
    return [_Finding(spec, spec.locations[0], None, None, negated=True) for spec in rng.sample(candidates, count)]


def _mark_impression(
    rng: random.Random, positives: list[_Finding], negatives: list[_Finding]
) -> tuple[list[_Finding], list[_Finding]]:
    """Decide what the impression states: significant findings, some minor ones, sometimes one negative."""
    shown = [replace(f, in_impression=_worth_stating(rng, f)) for f in positives]
    if negatives and rng.random() < PERTINENT_NEGATIVE:
        negatives = [replace(negatives[0], in_impression=True), *negatives[1:]]
    return shown, negatives


def _worth_stating(rng: random.Random, finding: _Finding) -> bool:
    return finding.spec.significant or finding.severity == "severe" or rng.random() < MINOR_IN_IMPRESSION


def _write_impression(
    rng: random.Random, region: Region, side: str | None, positives: list[_Finding], negatives: list[_Finding]
) -> str:
    """Significant findings first, then minor ones, then a stated negative; a normal impression if none."""
    stated = sorted((f for f in positives if f.in_impression), key=lambda f: not f.spec.significant)
    items = [_impression_item(rng, f) for f in stated]
    if not items:  # a normal impression; "Normal ..." would deny the minor findings left out, so not then
        normals = MINOR_ONLY_IMPRESSIONS if positives else region.normal_impressions
        items.append(rng.choice(normals).format(side=side))
    items += [_negated_sentence(rng, f, IMPRESSION_NEGATIONS) for f in negatives if f.in_impression]
    return _join_items(rng, items)


def _impression_item(rng: random.Random, finding: _Finding) -> str:
    # Impressions sometimes drop the severity: the ground truth keeps it, and only a wrong one is penalised.
    shown = replace(finding, severity=finding.severity if rng.random() < 0.85 else None)
    sentence = _positive_sentence(rng, shown, IMPRESSION_POSITIVES)
    if finding.spec.significant and rng.random() < 0.3:
        sentence = f"{sentence[:-1]}, {rng.choice(IMPRESSION_REMARKS)}."
    return sentence


def _join_items(rng: random.Random, items: list[str]) -> str:
    """A numbered list (as most multi-finding impressions are) or running sentences."""
    if rng.random() < (0.75 if len(items) > 1 else 0.15):
        return "\n".join(f"{i}. {item}" for i, item in enumerate(items, start=1))
    return " ".join(items)


def _write_findings(rng: random.Random, region: Region, positives: list[_Finding], negatives: list[_Finding]) -> str:
    """Positive findings first, then normal statements of untouched structures mixed with stated negatives."""
    silenced = {f.spec.structure for f in positives}
    others = [rng.choice(wordings) for structure, wordings in region.normal_statements if structure not in silenced]
    others += [_negated_sentence(rng, f, NEGATED_SENTENCES) for f in negatives]
    rng.shuffle(others)
    return " ".join([_positive_sentence(rng, f, POSITIVE_SENTENCES) for f in positives] + others)


def _write_clinical_information(rng: random.Random, region: Region, side: str | None) -> str:
    indication = rng.choice(region.indications).format(side=side)
    age = rng.randint(18, 55) if region.female_only else rng.randint(18, 90)
    sex = rng.choice(FEMALE_SEXES if region.female_only else SEXES)
    template = rng.choice(CLINICAL_TEMPLATES)
    return template.format(age=age, sex=sex, ind=indication, Ind=_capitalize(indication), dur=rng.choice(DURATIONS))


def _positive_sentence(rng: random.Random, finding: _Finding, templates: tuple[str, ...]) -> str:
    noun_phrase, where = _phrase(finding)
    be = "are" if finding.spec.grammar == "plural" else "is"
    return rng.choice(templates).format(NP=_capitalize(noun_phrase), np=noun_phrase, be=be, where=where)


def _negated_sentence(rng: random.Random, finding: _Finding, templates: tuple[str, ...]) -> str:
    be = "are" if finding.spec.grammar == "plural" else "is"
    return rng.choice(templates).format(term=finding.spec.term, be=be)


def _phrase(finding: _Finding) -> tuple[str, str]:
    """Noun phrase ("a moderate left pleural effusion") and location phrase (" in the left frontal lobe")."""
    spec = finding.spec
    # Left/right reads best inside a "the" location ("in the left lower lobe"); elsewhere it is an adjective.
    side_in_location = spec.preposition.endswith("the") and finding.side in LR
    words = (finding.severity, None if side_in_location else finding.side, spec.term)
    noun_phrase = " ".join(w for w in words if w)
    if spec.grammar == "count":
        noun_phrase = f"{'an' if noun_phrase[0] in 'aeiou' else 'a'} {noun_phrase}"
    if not spec.preposition:
        return noun_phrase, ""
    location = _place_side(finding.location, finding.side if side_in_location else None)
    return noun_phrase, f" {spec.preposition} {location}"


def _place_side(location: str, side: str | None) -> str:
    if side is None:
        return location.replace("{side} ", "")
    return location.replace("{side}", side) if "{side}" in location else f"{side} {location}"


def _truth_entry(finding: _Finding) -> dict[str, object]:
    return {
        "finding": finding.spec.term,
        "location": _place_side(finding.location, None),
        "side": finding.side,
        "severity": finding.severity,
        "negated": finding.negated,
        "significant": finding.spec.significant,
        "in_impression": finding.in_impression,
    }


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]
