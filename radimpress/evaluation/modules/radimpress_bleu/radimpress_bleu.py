"""Corpus BLEU on a 0-1 scale (sacrebleu's, from per-report statistics), as radimpress scores it."""

import evaluate

from radimpress.evaluation import hf_evaluate, metrics


class RadimpressBleu(evaluate.Metric):
    def _info(self):
        return hf_evaluate.metric_info(__doc__)

    def _compute(self, predictions, references):
        return {"bleu": metrics.bleu_score(list(predictions), list(references))}
