"""Mean BERTScore precision, recall and F1 (bert-score's, raw: no baseline exists for a local encoder; an empty
prediction scores 0), as radimpress scores it. The encoder: `encoder_path` (None: the offline all-MiniLM-L6-v2)
read at `num_layers` (None: the profile default)."""

import evaluate

from radimpress.config import EncoderConfig
from radimpress.evaluation import hf_evaluate, metrics


class RadimpressBertscore(evaluate.Metric):
    def _info(self):
        return hf_evaluate.metric_info(__doc__)

    def _compute(self, predictions, references, encoder_name="all-MiniLM-L6-v2", encoder_path=None, num_layers=None):
        encoder = EncoderConfig(name=encoder_name, path=encoder_path, num_layers=num_layers)
        record = metrics.encoder_record(encoder)
        return metrics.bert_scores(list(predictions), list(references), record, metrics.bertscore_layers(encoder))
