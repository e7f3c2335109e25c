"""``python -m bench.autoscale``, the documented command (README, ``make bench-autoscale``):
it runs ``bench.load.autoscale``."""

from bench.load.autoscale import main

if __name__ == "__main__":
    raise SystemExit(main())
