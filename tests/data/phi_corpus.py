"""A labelled set for PHI redaction: realistic report sentences of several modalities with planted identifiers of
every kind `radimpress.data.phi` must catch, each with its exact span, and clinical sentences with the usual false
positive traps (eponyms, modality words, "MR." for mitral regurgitation, sentence-initial capitals) and no PHI.

Built from the hand-written pieces below with a seeded `random.Random`: nothing is copied from a real report.
Pure standard library, so the bench and a scratch environment for another de-identification tool can import it.

    from phi_corpus import build_corpus, score
    reports = build_corpus(seed=0)
    print(score(reports, [my_redact(r.text) for r in reports]))
"""

from __future__ import annotations

import difflib
import random
import re
from collections import Counter
from dataclasses import dataclass

# Kinds of planted identifier; names count as caught only when every word of them is gone.
NAME_KINDS = ("titled_name", "lowercase_title", "name_after_cue", "name_repeated", "name_gazetteer")
KINDS = (
    "email",
    "phone",
    "mrn",
    "age_over_89",
    "date",
    "date_2digit_year",
    "date_range",
    "date_month_name",
    "time",
    *NAME_KINDS,
    "institution",
    "city",
)

# First names a census list knows; surnames that are no clinical word.
FIRST_NAMES = (
    "Jane",
    "John",
    "Maria",
    "Robert",
    "Linda",
    "James",
    "Susan",
    "David",
    "Karen",
    "Michael",
    "Angela",
    "Thomas",
    "Patricia",
    "Daniel",
    "Helen",
    "Carlos",
    "Grace",
    "Peter",
    "Nancy",
    "Samuel",
)
SURNAMES = (
    "Roe",
    "Okafor",
    "Nguyen",
    "Kowalski",
    "Patel",
    "O'Brien",
    "McAllister",
    "Hernandez",
    "Lindqvist",
    "Fitzgerald",
    "Abernathy",
    "Castellano",
    "Whitfield",
    "Drummond",
    "Yamamoto",
    "Brennan",
    "Szabo",
    "Thornton",
    "Delgado",
    "Achterberg",
)
TITLES = ("Dr.", "Dr", "Mrs.", "Mr.", "Ms.", "Prof.", "Doctor")
LOWER_TITLES = ("dr.", "dr", "mrs.", "mr.", "ms.")
CUES = (
    "Patient",
    "Pt",
    "Patient name:",
    "Name:",
    "Seen by",
    "Referred by",
    "Attending:",
    "Signed by",
    "Dictated by",
    "cc:",
    "Discussed with",
    "Electronically signed by",
    "Read by",
    "Results discussed with",
)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "Aug",
    "Sep",
    "Sept",
    "Oct",
    "Nov",
    "Dec",
)
SAINTS = ("Mary's", "Luke's", "Joseph's", "Vincent's", "Jude", "Francis", "Elizabeth's", "Anthony's")
INSTITUTION_NAMES = (
    "Mercy",
    "Riverside",
    "Lakeview",
    "Good Samaritan",
    "Providence",
    "Baptist",
    "Northwestern",
    "Sutter",
    "Fairview",
    "Valley",
    "Cedar Ridge",
    "Holy Cross",
    "Children's",
    "Kaiser",
)
INSTITUTION_KINDS = (
    "Hospital",
    "Medical Center",
    "Clinic",
    "Health",
    "Institute",
    "Regional Medical Center",
    "Memorial Hospital",
    "Imaging Center",
    "Cancer Institute",
)
CITIES = (
    "Springfield",
    "Boston",
    "Chicago",
    "Houston",
    "Phoenix",
    "Denver",
    "Seattle",
    "Portland",
    "Nashville",
    "Cleveland",
    "Sacramento",
    "Albuquerque",
    "Milwaukee",
    "San Diego",
    "Kansas City",
    "Baltimore",
    "Louisville",
    "Tucson",
    "Omaha",
    "Des Moines",
)
STATES = ("Illinois", "Ohio", "Texas", "Oregon", "Maryland", "Iowa", "Arizona", "IL", "OH", "TX", "CA", "MA")


@dataclass(frozen=True)
class Planted:
    """One planted identifier: its kind and its exact span in the report text."""

    kind: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class LabelledReport:
    modality: str
    text: str
    planted: tuple[Planted, ...]


class _Builder:
    """Appends plain text and planted identifiers, keeping each identifier's span."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.planted: list[Planted] = []
        self.length = 0

    def add(self, text: str, kind: str | None = None) -> _Builder:
        if kind is not None:
            self.planted.append(Planted(kind, self.length, self.length + len(text), text))
        self.parts.append(text)
        self.length += len(text)
        return self

    def report(self, modality: str) -> LabelledReport:
        return LabelledReport(modality, "".join(self.parts), tuple(self.planted))


# --- identifier generators ------------------------------------------------------------------------------------


def _date(rng: random.Random) -> str:
    m, d, y = rng.randint(1, 12), rng.randint(1, 28), rng.randint(1995, 2024)
    return rng.choice([f"{m:02d}/{d:02d}/{y}", f"{m}/{d}/{y % 100:02d}", f"{y}-{m:02d}-{d:02d}", f"{m}-{d}-{y}"])


def _date_2digit_year(rng: random.Random) -> str:
    year = rng.choice([rng.randint(80, 99), rng.randint(0, 9)])  # 10-19 read as fractions ("7/10" pain)
    return f"{rng.randint(1, 12)}/{year:02d}"


def _date_range(rng: random.Random) -> str:
    m, d, y = rng.randint(1, 12), rng.randint(1, 14), rng.randint(85, 99)
    return rng.choice(
        [f"{m}/{d}-{d + rng.randint(1, 9)}/{y}", f"{m}/{d}-{m}/{d + 3}/{y}", f"{m}/{d}/{y}-{m}/{d + 2}/{y}"]
    )


def _date_month_name(rng: random.Random) -> str:
    month, day, year = rng.choice(MONTHS), rng.randint(1, 28), rng.randint(1990, 2024)
    suffix = rng.choice(["", "", "th"]) if day > 3 and day < 21 else ""
    return rng.choice(
        [
            f"{month} {day}{suffix}, {year}",
            f"{month} {day} {year}",
            f"{month} {day},{year}",
            f"{month.upper()} {day}, {year}",
            f"{day} {month} {year}",
            f"{day}-{month[:3]}-{year}",
            f"{day:02d}-{month[:3].upper()}-{year % 100:02d}",
            f"{month} {day}{suffix}",
            f"{month}. {day}, {year}" if len(month) <= 4 else f"{month} {day}, {year}",
        ]
    )


def _time(rng: random.Random) -> str:
    h, m = rng.randint(1, 12), rng.choice([0, 5, 15, 30, 45, 50])
    military = f"{rng.randint(0, 23):02d}{m:02d}"
    return rng.choice(
        [
            f"{h}:{m:02d}AM",
            f"{h}:{m:02d} PM",
            f"{h}:{m:02d} a.m.",
            f"{rng.randint(13, 23)}:{m:02d}",
            f"{military} hours",
            f"{military} hrs",
            f"{h} pm",
            f"{h}am",
        ]
    )


def _phone(rng: random.Random) -> str:
    a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    return rng.choice([f"({a}) {b}-{c:04d}", f"{a}-{b}-{c:04d}", f"{a}.{b}.{c:04d}"])


def _mrn(rng: random.Random) -> str:
    return str(rng.randint(10**6, 10**9))


def _institution(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return f"{rng.choice(['St.', 'Saint', 'St'])} {rng.choice(SAINTS)}" + rng.choice(
            ["", " Hospital", " Medical Center"]
        )
    return f"{rng.choice(INSTITUTION_NAMES)} {rng.choice(INSTITUTION_KINDS)}"


def _name(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(SURNAMES)


# --- report sentences -----------------------------------------------------------------------------------------

MODALITY_SENTENCES = {
    "mri": (
        "MRI brain with and without contrast.",
        "No restricted diffusion.",
        "Mild chronic small vessel ischemic change.",
        "The ventricles are normal in size.",
        "No abnormal enhancement.",
    ),
    "ct": (
        "CT chest with contrast.",
        "No pulmonary embolism.",
        "A 4 mm nodule in the right upper lobe is stable.",
        "No lymphadenopathy.",
        "Mild emphysema.",
    ),
    "xray": (
        "Chest, 2 views.",
        "The lungs are clear.",
        "No pneumothorax or effusion.",
        "Heart size is normal.",
        "Degenerative change of the thoracic spine.",
    ),
    "ultrasound": (
        "Ultrasound of the abdomen.",
        "The liver is normal in echotexture.",
        "No gallstones.",
        "The common bile duct measures 4 mm.",
        "No hydronephrosis.",
    ),
    "echo": (
        "Transthoracic echocardiogram.",
        "Normal LV size and systolic function.",
        "Mild MR. No AS.",
        "Trace MR. Normal LV wall thickness.",
        "Trace TR. Estimated RVSP 30 mmHg.",
    ),
}

# Clinical text with the traps and no PHI at all.
TRAPS = (
    "History of Crohn disease with terminal ileitis.",
    "Known Hodgkin lymphoma, post treatment.",
    "Baker's cyst in the popliteal fossa.",
    "Monteggia fracture dislocation of the left forearm.",
    "Colles fracture of the distal radius.",
    "Schmorl node at L2.",
    "Morton's neuroma between the third and fourth metatarsals.",
    "Enlarged Virchow node.",
    "History of Bell's palsy.",
    "Hartmann pouch without leak.",
    "Mild MR. No AS.",
    "Trace MR. Normal LV function.",
    "Moderate MR. Mild TR.",
    "Mild MS. Normal RV size.",
    "MR Brain without contrast.",
    "DR Chest normal.",
    "CT Abdomen Pelvis with contrast.",
    "US Renal complete.",
    "PET CT skull base to thigh.",
    "Stable since prior.",
    "Mild degenerative change.",
    "Normal study.",
    "Findings: Stable appearance.",
    "Impression: No acute findings.",
    "Opacity in 3/4 of the lung.",
    "Pain 7/10 in the right knee.",
    "Visual acuity 20/40.",
    "Strength 4/5 in the left leg.",
    "Grade 2/6 systolic murmur.",
    "Disc bulge at C5-6.",
    "Compression deformity at T4-T5.",
    "A 1.5 cm nodule in the right upper lobe.",
    "Measured at level 10, 1234 slices.",
    "85-year-old male with cough.",
    "Size 3 × 4 mm, unchanged.",
    "Compared with 2019.",
    "Paget disease of the pelvis.",
    "Wilms tumor follow-up.",
    "Ewing sarcoma of the femur.",
    "Graves disease with goiter.",
    "Klatskin tumor at the hilum.",
    "Hill-Sachs lesion.",
    "Bankart lesion.",
    "Segond fracture.",
    "Osgood-Schlatter disease.",
    "Legg-Calve-Perthes disease.",
    "Chiari I malformation.",
    "Dandy-Walker variant.",
    "Arnold-Chiari malformation.",
    "Barrett esophagus.",
    "Meckel diverticulum.",
    "Zenker diverticulum.",
    "Wilson disease.",
    "Addison disease.",
    "Cushing syndrome.",
    "Parkinson disease.",
    "Alzheimer disease.",
    "Huntington disease.",
    "Marfan syndrome.",
    "Turner syndrome.",
    "Down syndrome.",
    "Normal Morison pouch.",
    "Circle of Willis is patent.",
    "Eustachian tube dysfunction.",
    "Sylvian fissures normal.",
    "Foramen of Monro patent.",
    "Mild MR. Normal RV function.",
    "Trace MR. Stable LV.",
    "Mild MS. No MR.",
    "Severe MR. Grade 3 TR.",
    "Grace period of follow-up is not applicable.",
    "Will follow up in 6 months.",
    "May represent atelectasis.",
    "Mark the site before biopsy.",
    "Iris and lens are normal.",
    "Follow-up in 3 months is recommended.",
    "No fracture. Stable alignment.",
    "Tiny Schmorl nodes.",
    "Fleischner Society guidelines apply.",
    "BI-RADS 2: Benign.",
    "LI-RADS 3.",
    "TI-RADS 4.",
)


def _with_planted(rng: random.Random, modality: str) -> LabelledReport:
    """A report of `modality` with two to four planted sentences among its own."""
    b = _Builder()
    body = list(MODALITY_SENTENCES[modality])
    rng.shuffle(body)
    b.add(rng.choice(["CLINICAL INFORMATION: ", "Indication: ", "History: "]))
    for plant in rng.sample(_PLANTERS, rng.randint(2, 4)):
        plant(rng, b)
        b.add(" ")
    b.add(rng.choice(["FINDINGS: ", "Findings: "]) + " ".join(body[:3]) + " ")
    if rng.random() < 0.5:
        b.add(rng.choice(TRAPS) + " ")
    b.add("IMPRESSION: " + body[3])
    return b.report(modality)


def _plant_patient(rng, b):  # the issue's own case: the full name without a title, then repeated
    first, last = _name(rng)
    b.add(rng.choice(["Patient ", "Pt "])).add(f"{first} {last}", "name_after_cue").add(", MRN ").add(_mrn(rng), "mrn")
    b.add(", seen ").add(_date(rng), "date").add(" at ").add(_time(rng), "time").add(" at ").add(
        _institution(rng), "institution"
    )
    b.add(" in ").add(rng.choice(CITIES), "city").add(". Call ").add(rng.choice(["Dr. ", "Dr "])).add(
        last, "titled_name"
    )
    b.add(" at ").add(_phone(rng), "phone").add(".")


def _plant_cue(rng, b):
    first, last = _name(rng)
    initial = rng.choice("ABCDEHJKLMPRST")
    name = rng.choice([f"{first} {last}", last, f"{last}, {first}", f"{first} {initial}. {last}"])
    b.add(rng.choice(CUES) + " ").add(name, "name_after_cue")
    if rng.random() < 0.5:
        b.add(" on ").add(_date(rng), "date")
    b.add(".")


def _plant_repeat(rng, b):
    first, last = _name(rng)
    b.add(rng.choice(["Referred by ", "Patient ", "Discussed with "])).add(f"{first} {last}", "name_after_cue").add(
        ". "
    )
    b.add(rng.choice(["Findings reviewed with ", "Prior study of ", "Images sent to ", "Follow-up per "]))
    b.add(last, "name_repeated").add(rng.choice([".", " on request.", "'s team."]))


def _plant_gazetteer(rng, b):
    first, last = _name(rng)
    b.add(
        rng.choice(
            ["Comparison made with outside films provided by ", "Requested by ", "Prior exam for ", "Family contact "]
        )
    )
    b.add(f"{first} {last}", "name_gazetteer").add(".")


def _plant_title(rng, b):
    first, last = _name(rng)
    name = rng.choice([last, f"{first} {last}"])
    b.add(rng.choice(["Results called to ", "Findings conveyed to ", "Ordered by ", ""]) + rng.choice(TITLES) + " ")
    b.add(name, "titled_name").add(rng.choice([" at the bedside.", ".", " by phone."]))


def _plant_lower_title(rng, b):
    last = rng.choice(SURNAMES)
    b.add(rng.choice(["d/w ", "called to ", "per "]) + rng.choice(LOWER_TITLES) + " ")
    b.add(last.lower() if rng.random() < 0.5 else last, "lowercase_title").add(".")


def _plant_dates(rng, b):
    kind, value = rng.choice(
        [
            ("date_2digit_year", _date_2digit_year),
            ("date_range", _date_range),
            ("date_month_name", _date_month_name),
            ("date", _date),
        ]
    )
    b.add(rng.choice(["Comparison: ", "Prior CT ", "Admitted ", "Compared with the study of "])).add(value(rng), kind)
    b.add(rng.choice([".", " at outside facility.", " for comparison."]))


def _plant_time(rng, b):
    b.add(rng.choice(["Exam performed at ", "Findings called at ", "Study started "])).add(_time(rng), "time").add(".")


def _plant_place(rng, b):
    b.add(rng.choice(["Transferred from ", "Outside images from ", "Prior study at "])).add(
        _institution(rng), "institution"
    )
    if rng.random() < 0.6:
        b.add(rng.choice([" in ", ", "])).add(rng.choice(CITIES), "city")
        if rng.random() < 0.5:
            b.add(", ").add(rng.choice(STATES), "city")
    b.add(".")


def _plant_contact(rng, b):
    b.add("Report sent to ").add(
        f"{rng.choice(['j.doe', 'reading.room', 'rad-team'])}@{rng.choice(['mercy.org', 'hosp.net'])}", "email"
    )
    b.add("; fax: ").add(_phone(rng), "phone").add(". A ").add(str(rng.randint(90, 104)), "age_over_89").add(
        "-year-old."
    )


_PLANTERS = (
    _plant_patient,
    _plant_cue,
    _plant_repeat,
    _plant_gazetteer,
    _plant_title,
    _plant_lower_title,
    _plant_dates,
    _plant_dates,
    _plant_time,
    _plant_place,
    _plant_contact,
)


def _trap_report(rng: random.Random, modality: str) -> LabelledReport:
    b = _Builder()
    b.add(" ".join(rng.sample(TRAPS, 3)) + " " + " ".join(MODALITY_SENTENCES[modality][:2]))
    return b.report(modality)


def build_corpus(seed: int = 0, reports: int = 240, trap_reports: int = 120) -> list[LabelledReport]:
    """`reports` reports with planted identifiers (about 3.5 sentences of them each, over 800 identifiers in all),
    then `trap_reports` with none, every modality in turn."""
    rng = random.Random(seed)
    modalities = sorted(MODALITY_SENTENCES)
    planted = [_with_planted(rng, modalities[i % len(modalities)]) for i in range(reports)]
    return planted + [_trap_report(rng, modalities[i % len(modalities)]) for i in range(trap_reports)]


# --- scoring --------------------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z0-9]+")
_TAG = re.compile(r"\[[A-Z][A-Z0-9_>]+\]")


def leaked(planted: Planted, redacted: str) -> bool:
    """The identifier is still there: its exact text, or for a name any word of it (two letters or more)."""
    if planted.kind in NAME_KINDS:
        words = [w for w in re.findall(r"[A-Za-z'][A-Za-z'-]+", planted.text) if len(w.strip("'")) > 1]
        return any(re.search(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])", redacted) for w in words)
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(planted.text)}(?![A-Za-z0-9])", redacted) is not None


def redacted_words(text: str, redacted: str) -> list[tuple[int, int]]:
    """Spans of the words of `text` that redaction changed (tags and asterisks are never text)."""
    masked = _TAG.sub("\x00", redacted).replace("*", "\x00")
    removed = [False] * len(text)
    for op, i1, i2, _, _ in difflib.SequenceMatcher(None, text, masked, autojunk=False).get_opcodes():
        if op in ("replace", "delete"):
            removed[i1:i2] = [True] * (i2 - i1)
    return [m.span() for m in _WORD.finditer(text) if any(removed[m.start() : m.end()])]


@dataclass(frozen=True)
class Score:
    recall: dict[str, float]  # per kind, and "all"
    found: dict[str, int]
    planted: dict[str, int]
    precision: float  # redacted words that were planted / all redacted words
    redacted_words: int
    false_positives: Counter  # words redacted though nothing was planted there


def score(reports: list[LabelledReport], redacted: list[str]) -> Score:
    planted, found, false_positives = Counter(), Counter(), Counter()
    true_words = all_words = 0
    for report, out in zip(reports, redacted, strict=True):
        for item in report.planted:
            planted[item.kind] += 1
            found[item.kind] += not leaked(item, out)
        for start, end in redacted_words(report.text, out):
            all_words += 1
            if any(p.start < end and start < p.end for p in report.planted):
                true_words += 1
            else:
                false_positives[report.text[start:end]] += 1
    recall = {kind: found[kind] / planted[kind] for kind in KINDS if planted[kind]}
    recall["all"] = sum(found.values()) / max(sum(planted.values()), 1)
    precision = true_words / all_words if all_words else 1.0
    return Score(recall, dict(found), dict(planted), precision, all_words, false_positives)
