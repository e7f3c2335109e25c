"""``python -m bench.retrieval``, the documented command (README, ``make bench-retrieval``):
it runs ``bench.quality.retrieval``."""

from bench.quality.retrieval import main

if __name__ == "__main__":
    main()
