"""What one request may send the arm (``InputLimits`` enforces it; /capabilities shows it)."""

from __future__ import annotations

# The largest request the arm reads. A full /execute body (500-character query, 20 categories,
# dates) is under 4 KiB even with every character \u-escaped.
MAX_BODY_BYTES = 16 * 1024
MAX_URL_BYTES = 2048  # path + query string; no route takes query parameters
BODY_TIMEOUT_S = 10.0  # for a whole body (16 KiB at most): any client not stalling is far faster
