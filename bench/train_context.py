"""``python -m bench.train_context``, the documented command (README, ``deployments.summarizer``):
it runs ``bench.training.context_scorer``."""

from bench.training.context_scorer import main

if __name__ == "__main__":
    main()
