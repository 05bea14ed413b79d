"""The Markdown artifact and the HTML page, rendered from test_eda_statistics' frames; report text is untrusted."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

import polars as pl
import pytest
from test_eda_statistics import PHI_REPORTS, QUARANTINE, _reports

from radimpress.data.eda.plots import PLOTS
from radimpress.data.eda.render import HtmlCell, html_table, render_html, render_markdown
from radimpress.data.eda.statistics import SECTIONS, eda_statistics, eda_summary, quarantine_reasons
from radimpress.data.phi import phi_counts

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(16)  # the page only embeds the bytes; test_eda checks the real plots


def _render(reports: pl.DataFrame, quarantine: pl.DataFrame, plot_dir: Path) -> tuple[str, str]:
    """The Markdown and the HTML page of `reports`, as `run_eda` renders them."""
    phi = phi_counts(reports, SECTIONS)
    tables = eda_statistics(reports)
    reasons = quarantine_reasons(quarantine)
    summary = eda_summary(tables, reasons, phi)
    plots = {name: plot_dir / name for name in PLOTS}
    for path in plots.values():
        path.write_bytes(PNG)
    return render_markdown(summary, tables, reasons, phi), render_html(summary, tables, reasons, phi, plots)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[str, str]:
    return _render(PHI_REPORTS, QUARANTINE, tmp_path_factory.mktemp("plots"))


@pytest.fixture
def markdown(rendered) -> str:
    return rendered[0]


@pytest.fixture
def page(rendered) -> str:
    return rendered[1]


def test_markdown_puts_key_numbers_first(markdown):
    assert markdown.index("Reports kept: 11; quarantined: 3.") < markdown.index("## Per modality")
    assert "Quarantine by reason: duplicate_id 2, no_findings 1." in markdown
    assert "| duplicate_id | 2 |" in markdown
    # 2 titled names, 2 dates: each in 2 impressions
    assert "PHI matches found by the regex screen: 4 (reports with a match per category: date 2, titled_name 2)." in (
        markdown
    )
    assert "| mri | findings | 3 | 0 | 0.00 | 6.00 | 3.61 | 3 | 3.20 | 5.00 | 9.50 | 10 |" in markdown
    # no ct report has clinical information: no statistics of it, rather than a median of 0 words
    assert "| ct | clinical_information | 5 | 5 | 1.00 | - | - | - | - | - | - | - |" in markdown
    assert "![Quarantined rows by reason](quarantine.png)" in markdown
    assert "Smith" not in markdown and "01/02/2020" not in markdown


def test_html_is_self_contained_with_headline_first(page):
    assert "http://" not in page and "https://" not in page and "file:" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 5 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "href=" not in page and "<link" not in page and "<style>" in page
    headline = page[: page.index("<section>")]
    assert '<div class="fact"><b>11</b>reports kept</div>' in headline
    assert '<div class="fact"><b>3</b>rows quarantined</div>' in headline
    assert '<div class="fact"><b>4</b>PHI matches found</div>' in headline
    # per modality: reports, median words of clinical information, findings and impression, templated normal share
    # (no ct report has clinical information: "-", not 0 words)
    assert '<tr><td>ct</td><td class="number">5</td><td>-</td><td class="number">2.0</td>' in headline
    assert '<td class="number">40.0%</td></tr>' in headline


def test_html_escapes_and_redacts_report_text(page):
    assert "<script>" not in page and "<b>unchanged" not in page
    assert "seen by dr. [name] on [date] &lt;b&gt;unchanged&lt;/b&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; normal" in page
    assert "Smith" not in page and "01/02/2020" not in page


def test_a_script_in_an_impression_comes_out_escaped(tmp_path):
    reports = _reports([{"modality": "ct", "findings": "x", "impression": '<script>alert("x")</script> Normal.'}])
    quarantine = QUARANTINE.with_columns(pl.lit("<img src=x onerror=alert(1)>").alias("reason"))
    _, page = _render(reports, quarantine, tmp_path)
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; normal" in page
    # the reason shows twice, in the headline's sentence and in the quarantine table, escaped both times
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") == 2


def test_an_empty_table_reads_none(tmp_path):
    _, page = _render(PHI_REPORTS, QUARANTINE.clear(), tmp_path)
    quarantine = page[page.index("<h2>Quarantine</h2>") : page.index("<h2>PHI</h2>")]
    assert "<p>None.</p>" in quarantine and "<table>" not in quarantine


def test_html_table_formats_numbers_and_leaves_text_to_the_template():
    frame = pl.DataFrame({"body_part": ["<knee>", None], "reports": [1234, 5], "share": [0.125, 1.0]})
    table = html_table(frame)
    assert table.columns == ["body part", "reports", "share"]
    assert table.rows == [
        [HtmlCell("<knee>"), HtmlCell("1,234", number=True), HtmlCell("12.5%", number=True)],
        [HtmlCell("-"), HtmlCell("5", number=True), HtmlCell("100.0%", number=True)],
    ]


def test_markdown_escapes_pipes_in_report_text(tmp_path):
    reports = _reports([{"modality": "ct", "findings": "x", "impression": "Left | right."}])
    markdown, _ = _render(reports, QUARANTINE.clear(), tmp_path)
    assert r"| ct | 1 | left \| right | 1 | 1.00 |" in markdown


def test_the_page_template_ships_with_the_package():
    template = resources.files("radimpress.data.eda") / "templates" / "eda.html.j2"
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert template.is_file()
    assert any(fnmatch("data/eda/templates/eda.html.j2", glob) for glob in package_data["radimpress"])
