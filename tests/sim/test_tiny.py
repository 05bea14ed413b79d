"""Tiny-base pretraining packs each batch's documents into rows: the loss must be that of the padded batch."""

import pytest
import torch

from radimpress.modeling.packing import collate, pack_examples
from radimpress.sim.synthetic import generate_reports
from radimpress.sim.tiny import build_tiny_model, train_tokenizer


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-mistral"])
def test_packed_documents_have_the_loss_of_the_padded_batch(name):
    reports = generate_reports(40, seed=3)
    documents = reports["findings"].to_list() + reports["impression"].to_list()
    tokenizer = train_tokenizer(documents, 400)
    model = build_tiny_model(name, len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id, seed=0).eval()
    encoded = [tokenizer(d, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for d in documents]
    examples = [{"input_ids": ids, "labels": ids} for ids in encoded[:32]]
    with torch.no_grad():
        padded = model(**collate(examples, tokenizer.pad_token_id)).loss
        packed_batch = collate(pack_examples(examples, 2 * max(map(len, encoded))), tokenizer.pad_token_id)
        packed = model(**packed_batch).loss
    assert packed_batch["input_ids"].numel() < collate(examples, tokenizer.pad_token_id)["input_ids"].numel()
    assert packed.item() == pytest.approx(padded.item(), rel=1e-5)
