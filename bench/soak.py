"""``python -m bench.soak``, the documented command (README, ``make soak``):
it runs ``bench.load.soak``."""

from bench.load.soak import main

if __name__ == "__main__":
    raise SystemExit(main())
