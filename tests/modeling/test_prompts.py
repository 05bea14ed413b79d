"""Prompts are token-identical in training and generation, fitted to the same budget by cutting findings only,
with BOS where the tokenizer expects it and a fixed date in chat templates; tokenizers built like Llama 3's and
Mistral's (byte-level BPE, BOS added by the post-processor, a chat template), offline."""

from __future__ import annotations

import polars as pl
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from radimpress.errors import RadimpressError
from radimpress.modeling.packing import IGNORE_INDEX, tokenize_dataset
from radimpress.modeling.prompts import (
    CHAT_TEMPLATE_DATE,
    INSTRUCTION,
    build_prompt,
    build_prompts,
    build_target,
    encode_prompts,
    target_room,
)
from radimpress.sim.synthetic import generate_reports

REPORTS = generate_reports(40, seed=4).select("findings", "clinical_information", "impression")
LONG = " ".join(REPORTS["findings"].head(12))  # far beyond the budget below
FRAME = pl.concat(
    [
        REPORTS.head(6),
        pl.DataFrame({"findings": [LONG], "clinical_information": ["Headache."]}).with_columns(
            pl.lit("No acute abnormality.").alias("impression")
        ),
    ]
)
MAX_LENGTH = 256

# Llama 3.x prints "Today Date:" from the clock unless `date_string` is given.
LLAMA_TEMPLATE = (
    "{{- bos_token }}{%- if not date_string is defined %}{%- set date_string = strftime_now('%d %b %Y') %}"
    "{%- endif %}<|start_header_id|>system<|end_header_id|>\n\nToday Date: {{ date_string }}<|eot_id|>"
    "{%- for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{{ message['content'] | trim }}<|eot_id|>{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)
MISTRAL_TEMPLATE = "{{ bos_token }}{% for message in messages %}[INST] {{ message['content'] }} [/INST]{% endfor %}"


def _tokenizer(bos: str, eos: str, extra: list[str], template: str) -> PreTrainedTokenizerFast:
    texts = [t for column in ("findings", "clinical_information", "impression") for t in REPORTS[column]]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    specials = [bos, eos, "<pad>", *extra]
    core.train_from_iterator([*texts, INSTRUCTION], trainers.BpeTrainer(vocab_size=600, special_tokens=specials))
    core.post_processor = processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, 0)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token=bos, eos_token=eos, pad_token="<pad>")
    tokenizer.chat_template = template
    return tokenizer


LLAMA = _tokenizer(
    "<|begin_of_text|>", "<|end_of_text|>", ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"], LLAMA_TEMPLATE
)
MISTRAL = _tokenizer("<s>", "</s>", ["[INST]", "[/INST]"], MISTRAL_TEMPLATE)


@pytest.mark.parametrize("tokenizer", [LLAMA, MISTRAL], ids=["llama3-like", "mistral-like"])
@pytest.mark.parametrize("input_config", ["findings", "findings_clinical", "instruction"])
def test_training_and_generation_feed_the_same_prompt_tokens(tokenizer, input_config, tmp_path):
    targets = [build_target(text) for text in FRAME["impression"]]
    room = target_room(tokenizer, targets, MAX_LENGTH)
    budget = MAX_LENGTH - room
    prompts = build_prompts(FRAME, input_config, tokenizer, budget)
    trained = tokenize_dataset(tokenizer, prompts, targets, MAX_LENGTH, tmp_path, max_target=room)
    seen_in_training = [
        [token for token, label in zip(row["input_ids"], row["labels"], strict=True) if label == IGNORE_INDEX]
        for row in trained
    ]
    fed_to_generation = encode_prompts(tokenizer, build_prompts(FRAME, input_config, tokenizer, budget))
    assert seen_in_training == fed_to_generation
    bos = tokenizer.bos_token_id
    assert all(ids[0] == bos and ids.count(bos) == 1 for ids in fed_to_generation)  # once, even with a template's
    assert all(len(ids) <= budget for ids in fed_to_generation)
    assert all(len(row["input_ids"]) <= MAX_LENGTH for row in trained)


@pytest.mark.parametrize("input_config", ["findings_clinical", "instruction"])
def test_a_long_prompt_loses_the_end_of_its_findings_only(input_config):
    budget = 180
    full = build_prompt(LONG, "Headache.", input_config, LLAMA)
    assert len(encode_prompts(LLAMA, [full])[0]) > budget
    fitted = build_prompts(FRAME.tail(1), input_config, LLAMA, budget)[0]
    assert len(encode_prompts(LLAMA, [fitted])[0]) <= budget
    assert len(encode_prompts(LLAMA, [build_prompt(LONG[: len(fitted)], "Headache.", input_config, LLAMA)])[0]) > 0
    kept = fitted.split("FINDINGS: ", 1)[1].split("\nIMPRESSION:", 1)[0]
    assert kept and LONG.startswith(kept) and len(kept) < len(LONG) // 2  # a prefix, cut at a word boundary
    assert LONG[len(kept)] == " "
    assert "CLINICAL INFORMATION: Headache.\nFINDINGS: " in fitted and "\nIMPRESSION:" in fitted
    if input_config == "instruction":
        assert INSTRUCTION in fitted and fitted.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_a_budget_too_small_for_the_template_itself_is_refused_in_one_line():
    with pytest.raises(RadimpressError, match=r"^the instruction prompt takes \d+ tokens with no report text in it"):
        build_prompts(FRAME.head(1), "instruction", LLAMA, 20)


def test_a_prompt_that_fits_is_left_exactly_as_built():
    prompt = build_prompt("Lungs  clear.\nNo effusion.", None, "findings", MISTRAL)
    assert build_prompts(
        pl.DataFrame({"findings": ["Lungs  clear.\nNo effusion."], "clinical_information": [None]}),
        "findings",
        MISTRAL,
        200,
    ) == [prompt]


def test_chat_templates_get_a_fixed_date():
    prompt = build_prompt("Lungs clear.", None, "instruction", LLAMA)
    assert f"Today Date: {CHAT_TEMPLATE_DATE}<|eot_id|>" in prompt


def test_a_tokenizer_without_a_bos_of_its_own_gets_none():
    class NoBos:  # like the tiny bases' tokenizers: an EOS, no BOS post-processor
        bos_token_id = None

        def __call__(self, texts, add_special_tokens=False):
            return {"input_ids": [[len(t)] for t in texts] if isinstance(texts, list) else [len(texts)]}

    assert encode_prompts(NoBos(), ["ab", "abc"]) == [[2], [3]]


def test_the_target_room_is_the_99th_percentile_plus_a_margin_capped_at_half():
    targets = [" " + "word " * n for n in range(1, 101)]
    lengths = sorted(len(ids) + 1 for ids in MISTRAL(targets, add_special_tokens=False)["input_ids"])
    assert target_room(MISTRAL, targets, 4096) == lengths[98] + 8
    assert target_room(MISTRAL, targets, 64) == 32
