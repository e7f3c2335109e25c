"""``python -m bench.summaries``, the documented command (README, ``make eval-summaries``):
it runs ``bench.quality.summaries``."""

from bench.quality.summaries import main

if __name__ == "__main__":
    main()
