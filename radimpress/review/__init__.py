"""Human review: the factual-correctness rubric (`rubric`) and the review sample with reviewers' scores (`sheet`)."""
