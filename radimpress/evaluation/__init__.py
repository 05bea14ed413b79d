"""Numbers: metrics (`metrics`), rule baselines (`baselines`), the factual-correctness judge (`judge`) and
the study's comparison tables and plot (`compare`)."""
