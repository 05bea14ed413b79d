"""The study's input configurations (findings only, findings + clinical information, instruction prompt), and the
one way a prompt becomes token ids, in training and in generation alike.

A prompt longer than its budget (`max_length` less the target's room) loses the end of its findings, then of its
clinical information, at a word boundary: never the instruction, the headings or the "IMPRESSION:" the model
writes after. Fitting is done on the text, so training and generation tokenise the very same string. A tokenizer
that adds a beginning-of-sequence token on its own (Llama 3, Mistral) gets it in front of every prompt, as the
model saw in pretraining. Chat templates get a fixed date, so a prompt built today equals one built at the retry.
"""

from __future__ import annotations

import math

import polars as pl

from radimpress.errors import RadimpressError

INSTRUCTION = "You are a radiologist. Write the IMPRESSION of this report from its clinical information and findings."
# Llama 3.x templates print "Today Date: <date_string>" (default: the clock): a fixed one keeps prompts reproducible.
CHAT_TEMPLATE_DATE = "26 Jul 2024"
TARGET_MARGIN = 8  # tokens of room above the training impressions' 99th percentile


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
        return tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, date_string=CHAT_TEMPLATE_DATE
        )
    return body


def build_prompts(reports: pl.DataFrame, input_config: str, tokenizer=None, budget: int | None = None) -> list[str]:
    """Prompts for every row of a canonical report frame; with `budget`, each cut to fit it (`fit_prompt`)."""
    rows = list(reports.select("findings", "clinical_information").iter_rows())
    prompts = [build_prompt(findings, clinical, input_config, tokenizer) for findings, clinical in rows]
    if budget is None:
        return prompts
    # One batched encoding finds the few prompts over budget; only those are cut, one at a time.
    lengths = [len(ids) for ids in encode_prompts(tokenizer, prompts)]
    return [
        prompt if length <= budget else fit_prompt(*row, input_config, tokenizer, budget)
        for prompt, length, row in zip(prompts, lengths, rows, strict=True)
    ]


def fit_prompt(findings: str, clinical: str | None, input_config: str, tokenizer, budget: int) -> str:
    """`build_prompt`, with the end of the findings (then of the clinical information) cut at a word boundary until
    the prompt's token ids (`encode_prompts`) number at most `budget`."""

    def fits(findings_words: list[str], clinical_words: list[str] | None) -> bool:
        text = build_prompt(
            " ".join(findings_words),
            None if clinical_words is None else " ".join(clinical_words),
            input_config,
            tokenizer,
        )
        return len(encode_prompts(tokenizer, [text])[0]) <= budget

    findings_words, clinical_words = findings.split(), None if clinical is None else clinical.split()
    if fits(findings_words, clinical_words):
        return build_prompt(findings, clinical, input_config, tokenizer)  # untouched: spacing and lines kept
    kept = _longest_prefix(len(findings_words), lambda n: fits(findings_words[:n], clinical_words))
    findings_words = findings_words[:kept]
    if kept == 0 and clinical_words and input_config != "findings":
        kept = _longest_prefix(len(clinical_words), lambda n: fits([], clinical_words[:n]))
        clinical_words = clinical_words[:kept]
    clinical_text = None if clinical_words is None else " ".join(clinical_words)
    if not fits(findings_words, clinical_words):
        bare = len(encode_prompts(tokenizer, [build_prompt("", clinical_text, input_config, tokenizer)])[0])
        raise RadimpressError(
            f"the {input_config} prompt takes {bare} tokens with no report text in it, more than the {budget} that "
            "train.max_length leaves after the impression's room: raise train.max_length"
        )
    return build_prompt(" ".join(findings_words), clinical_text, input_config, tokenizer)


def _longest_prefix(n: int, fits) -> int:
    """The largest k <= n with fits(k), by bisection (fits is monotone: fewer words, fewer tokens); 0 if none."""
    low, high = 0, n
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


def encode_prompts(tokenizer, prompts: list[str]) -> list[list[int]]:
    """Token ids of each prompt: the template's own tokens, after the tokenizer's beginning-of-sequence token where
    it adds one by itself (and the template has not already put it there)."""
    ids = tokenizer(prompts, add_special_tokens=False)["input_ids"] if prompts else []
    bos = _expected_bos(tokenizer)
    return [[bos, *row] if bos is not None and row[:1] != [bos] else row for row in ids]


def _expected_bos(tokenizer) -> int | None:
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return None
    return bos if tokenizer("x", add_special_tokens=True)["input_ids"][:1] == [bos] else None


def target_room(tokenizer, targets: list[str], max_length: int) -> int:
    """Tokens kept for the impression (end-of-sequence included): the training targets' 99th percentile plus
    `TARGET_MARGIN`, at most half of `max_length`. Generation's `max_new_tokens` defaults to it."""
    lengths = sorted(len(ids) + 1 for ids in tokenizer(targets, add_special_tokens=False)["input_ids"]) or [1]
    p99 = lengths[min(len(lengths) - 1, math.ceil(0.99 * len(lengths)) - 1)]
    return min(p99 + TARGET_MARGIN, max_length // 2)


def build_target(impression: str) -> str:
    """What the model learns to write after the prompt (the tokenizer appends end-of-sequence)."""
    return f" {impression.strip()}"
