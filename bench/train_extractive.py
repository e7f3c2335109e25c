"""``python -m bench.train_extractive``, the documented command (README,
``deployments.summarizer``): it runs ``bench.training.sentence_scorer``."""

from bench.training.sentence_scorer import main

if __name__ == "__main__":
    main()
