"""Models: where a named base is (`registry`), weights on disk (`loading`), the prompts of each input
configuration (`prompts`), training examples (`packing`), fine-tuning (`train`), batched generation
(`generate`, or `vllm` on CUDA machines) and peak memory (`resources`)."""
