"""A paper's full text from arXiv: the LaTeXML HTML first, the PDF when there is no HTML.

- Politeness: every request takes a turn of the application's one arXiv gate (the ArxivGate
  deployment, shared with the API searches: arxiv.org is one host to be polite to); a
  Retry-After holds the gate's next turn back for everyone.
- arXiv answers 200 with a stub page for a paper without HTML: the body decides
  (``parse_html`` raises ``no_html``), not the status. A LaTeXML error page sends the reader
  to the PDF too; the warning names the PDF's reason when that fails as well.
- Every body is capped in bytes (``max_body_bytes``, refused unread when its Content-Length
  says so) and in time (``timeout_s`` for the whole body, and the caller's deadline).
- The version asked is the version read: ``<id>v<n>`` is fetched as such; an unversioned
  request takes the version from the LaTeXML page's ``<base href>`` or the PDF's file name.
- Parsing runs in a worker thread, so a 40-page PDF does not stall the replica's event loop.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import httpx

from deployments.arxiv.attempts import refusal
from deployments.arxiv.gate import RequestGate
from deployments.reader.document import Document, ParseFailed, TextSource, Unreadable
from deployments.reader.html_text import parse_html
from deployments.reader.pdf_text import parse_pdf

GATE_WAIT_S = 60.0  # a turn at the application's arXiv gate, at most (then: unavailable)
MAX_BODY_BYTES = 32 << 20  # arXiv's PDFs are capped at 50 MB; past 32 MB is scans or data
VERSION_IN_BASE = re.compile(rb"<base[^>]+href=[\"']?/html/[^\"'/]*?v(\d+)/?", re.IGNORECASE)
VERSION_IN_NAME = re.compile(r"v(\d+)\.pdf", re.IGNORECASE)


class ReadFailed(Exception):
    """No usable full text; ``reason`` is one of ``Unreadable``, ``retry_after_s`` set when
    arXiv asked to wait."""

    def __init__(self, reason: Unreadable, detail: str, retry_after_s: float | None = None):
        super().__init__(f"{reason}: {detail}")
        self.reason: Unreadable = reason
        self.detail = detail
        self.retry_after_s = retry_after_s


@dataclass
class Fetched:
    """A parsed full text and where it came from: ``version`` None when arXiv did not say."""

    document: Document
    source: TextSource
    url: str
    version: int | None
    html_failure: Unreadable | None  # why the HTML was not used, when the PDF was
    bytes_read: int
    parse_s: float


class FullTextClient:
    """Fetch and parse one paper version at a time (see the module docstring)."""

    def __init__(
        self,
        gate: RequestGate,
        *,
        html_url: str = "https://arxiv.org/html",
        pdf_url: str = "https://arxiv.org/pdf",
        timeout_s: float = 30.0,
        max_body_bytes: int = MAX_BODY_BYTES,
        user_agent: str = "research-arm",
    ) -> None:
        self.gate = gate
        self.html_url = html_url.rstrip("/")
        self.pdf_url = pdf_url.rstrip("/")
        self.timeout_s = timeout_s
        self.max_body_bytes = max_body_bytes
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            headers={"User-Agent": user_agent},
            follow_redirects=True,
            limits=httpx.Limits(max_connections=1),  # one connection at a time, as the API
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def links(self, paper: str) -> tuple[str, str]:
        """(HTML URL, PDF URL) of a paper version ("2401.01234v2")."""
        return f"{self.html_url}/{paper}", f"{self.pdf_url}/{paper}"

    async def fetch(self, paper: str) -> Fetched:
        """The paper's parsed full text, HTML first. Raises ReadFailed."""
        html_url, pdf_url = self.links(paper)
        html_failure: Unreadable
        try:
            body, _ = await self._get(html_url)
            started = time.perf_counter()
            document = await asyncio.to_thread(parse_html, body)
            version = _version(VERSION_IN_BASE.search(body[:16384]), paper)
            elapsed = time.perf_counter() - started
            return Fetched(document, "html", html_url, version, None, len(body), elapsed)
        except ParseFailed as exc:
            html_failure = exc.reason
        except ReadFailed as exc:
            if exc.reason not in ("not_found", "too_large"):
                raise  # arXiv is down or throttling: the PDF would fare no better now
            html_failure = exc.reason
        body, name = await self._get(pdf_url)
        started = time.perf_counter()
        try:
            document = await asyncio.to_thread(parse_pdf, body)
        except ParseFailed as exc:
            raise ReadFailed(exc.reason, exc.detail) from None
        version = _version(VERSION_IN_NAME.search(name), paper)
        elapsed = time.perf_counter() - started
        return Fetched(document, "pdf", pdf_url, version, html_failure, len(body), elapsed)

    async def _get(self, url: str) -> tuple[bytes, str]:
        """(body, file name from Content-Disposition) of a 200; ReadFailed otherwise."""
        try:
            async with asyncio.timeout(GATE_WAIT_S):
                token, _ = await self.gate.acquire()
        except TimeoutError:
            raise ReadFailed(
                "unavailable", f"no turn at the arXiv gate in {GATE_WAIT_S:g}s"
            ) from None
        hold_off = 0.0
        cap = self.max_body_bytes
        try:
            async with (
                asyncio.timeout(self.timeout_s),
                self._http.stream("GET", url) as response,
            ):
                declared = response.headers.get("Content-Length", "")
                if response.status_code == 200 and declared.isdigit() and int(declared) > cap:
                    raise ReadFailed("too_large", f"{declared} bytes, over the {cap}-byte cap")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > cap:
                        raise ReadFailed("too_large", f"over the {cap}-byte cap")
                refused = refusal(
                    response.status_code, bytes(body[:64]), response.headers.get("Retry-After")
                )
                if refused is not None and refused.retry_after_s:
                    hold_off = refused.retry_after_s  # holds the next turn back for everyone
        except (httpx.TimeoutException, TimeoutError):
            raise ReadFailed("timeout", f"no complete answer in {self.timeout_s:g}s") from None
        except httpx.HTTPError as exc:
            raise ReadFailed("unavailable", f"{type(exc).__name__}: {exc}") from None
        finally:
            await asyncio.shield(self.gate.release(token, hold_off))
        status = response.status_code
        if refused is not None:
            raise ReadFailed("unavailable", refused.reason, refused.retry_after_s)
        if status in (404, 410):
            raise ReadFailed("not_found", f"arXiv answered HTTP {status} for {url}")
        if status != 200:
            raise ReadFailed("unavailable", f"arXiv answered HTTP {status} for {url}")
        disposition = response.headers.get("Content-Disposition", "")
        return bytes(body), disposition


def _version(match: re.Match[bytes] | re.Match[str] | None, paper: str) -> int | None:
    asked = re.search(r"v(\d+)$", paper)
    if asked:
        return int(asked.group(1))
    return int(match.group(1)) if match else None
