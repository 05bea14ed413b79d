"""Mean cosine similarity of the sentence embeddings of prediction and reference (0 for an empty prediction), as
radimpress scores it, under the key `similarity_<encoder_name>`. The encoder: `encoder_path` (None: the offline
all-MiniLM-L6-v2)."""

import evaluate

from radimpress.config import EncoderConfig
from radimpress.evaluation import hf_evaluate, metrics


class RadimpressSimilarity(evaluate.Metric):
    def _info(self):
        return hf_evaluate.metric_info(__doc__)

    def _compute(self, predictions, references, encoder_name="all-MiniLM-L6-v2", encoder_path=None):
        record = metrics.encoder_record(EncoderConfig(name=encoder_name, path=encoder_path))
        value = metrics.embedding_similarity(list(predictions), list(references), record)
        return {f"similarity_{record.name}": value}
