"""``python -m deployments.ingest``: the ingest job's command line (``job.main``)."""

import sys

from deployments.ingest.job import main

sys.exit(main())
