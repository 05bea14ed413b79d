"""radimpress: fine-tune open LLMs to draft radiology impressions, and prove which one is good enough, at what cost.

The packages follow the method: `config` (profiles; depends on nothing else) -> `data` (ingest, sections, PHI,
modality, splits, EDA) -> `modeling` (bases, prompts, fine-tuning, generation) -> `evaluation` (metrics,
baselines, judge, comparison) and `review` (rubric, reviewers' scores); `sim` holds demo-only code; `stages` runs
each step of the method in a folder named by its cache key. The library imports neither prefect nor mlflow.
"""

__version__ = "0.1.0"
