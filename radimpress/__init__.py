"""radimpress: fine-tune open LLMs to draft radiology impressions, and prove which one is good enough, at what cost.

The library is plain Python over polars frames and files; it imports neither prefect nor mlflow.
"""

__version__ = "0.1.0"
