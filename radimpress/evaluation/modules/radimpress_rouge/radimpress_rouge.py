"""ROUGE-1/2/L/Lsum precision, recall and F1 (rouge-score's numbers, stemmed, letters outside ASCII kept), the mean
over the pairs, as radimpress scores them."""

import evaluate

from radimpress.evaluation import hf_evaluate, metrics


class RadimpressRouge(evaluate.Metric):
    def _info(self):
        return hf_evaluate.metric_info(__doc__)

    def _compute(self, predictions, references):
        return metrics.rouge_scores(list(predictions), list(references))
