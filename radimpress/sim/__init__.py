"""Demo-only code, and the only place it lives: synthetic reports with ground truth (`synthetic`), the simulated
reviewer that applies the rubric to that truth (`reviewer`), and tiny offline bases (`tiny`). The real pipeline
reaches it only for `data.source: synthetic`, `review.source: simulated` and the tiny models."""
