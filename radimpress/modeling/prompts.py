"""The study's input configurations: findings only, findings + clinical information, instruction prompt."""

from __future__ import annotations

import polars as pl

INSTRUCTION = "You are a radiologist. Write the IMPRESSION of this report from its clinical information and findings."


def _sections(findings: str, clinical: str | None, with_clinical: bool) -> str:
    text = f"FINDINGS: {findings}\nIMPRESSION:"
    if with_clinical:
        text = f"CLINICAL INFORMATION: {clinical or 'None.'}\n{text}"
    return text


def build_prompt(findings: str, clinical: str | None, input_config: str, tokenizer=None) -> str:
    """The model input for one report; the impression follows it directly."""
    if input_config == "findings":
        return _sections(findings, clinical, with_clinical=False)
    if input_config == "findings_clinical":
        return _sections(findings, clinical, with_clinical=True)
    body = f"{INSTRUCTION}\n{_sections(findings, clinical, with_clinical=True)}"
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        # Models with a chat template were instruction-tuned with it: speak their format.
        messages = [{"role": "user", "content": body}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return body


def build_prompts(reports: pl.DataFrame, input_config: str, tokenizer=None) -> list[str]:
    """Prompts for every row of a canonical report frame."""
    return [
        build_prompt(row["findings"], row["clinical_information"], input_config, tokenizer)
        for row in reports.select("findings", "clinical_information").iter_rows(named=True)
    ]


def build_target(impression: str) -> str:
    """What the model learns to write after the prompt (the tokenizer appends end-of-sequence)."""
    return f" {impression.strip()}"
