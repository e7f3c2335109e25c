"""The baseline app: the seed design rebuilt (``seed_arm``), what ``bench.load`` compares the
graph against."""
