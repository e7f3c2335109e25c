"""The stand-in's HTTP server: ``StandIn`` holds the records, the fault switch and the request
log, and answers on a background thread::

    POST /_control {"mode": MODE, "count": N, ...options}  next N requests misbehave (N=-1: all)
    GET  /_requests                    every request seen, logged on arrival: start/end times,
                                       query, status, mode, bytes sent
    GET  /api/query                    arXiv's API: Atom over the records (``query``, ``feed``),
                                       or the fault mode's answer (``faults``)
    GET  /html/<id>, /pdf/<id>         a paper's full text: real fixtures, else generated
                                       (``fulltext``)
    POST /_fulltext {"arxiv_id": ID, "mode": MODE}   that paper's full text misbehaves
                                       (mode "ok" clears it)
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from arm_dev.arxiv.faults import Answer, canned_answer, reset_connection, send_huge, spoil
from arm_dev.arxiv.feed import render_error, render_feed
from arm_dev.arxiv.fulltext import FAULT_MODES
from arm_dev.arxiv.fulltext import answer as fulltext_answer
from arm_dev.arxiv.query import QueryError, evaluate
from arm_dev.arxiv.records import Record
from arm_dev.background_server import BackgroundServer

logger = logging.getLogger(__name__)


class StandIn(BackgroundServer):
    """The stand-in's state and server; ``with StandIn(...) as s:`` serves on a thread."""

    def __init__(
        self,
        records: list[Record] | None = None,
        *,
        atom_file: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_s: float = 0.0,
    ) -> None:
        self.records = records or []
        self.by_id = {r.arxiv_id: r for r in self.records}
        self.atom = atom_file.read_bytes() if atom_file else None
        self.latency_s = latency_s
        self.lock = threading.Lock()
        self.log: list[dict[str, Any]] = []
        self.fault: dict[str, Any] = {"mode": "ok", "count": 0}
        self.fulltext_faults: dict[str, str] = {}  # version-less id -> fulltext fault mode
        # Full-text requests, apart from the API's: a test counting API requests is not
        # thrown off by a Reader still reading in the background.
        self.fulltext_log: list[dict[str, Any]] = []
        super().__init__(host, port, _handler_for(self))

    @property
    def url(self) -> str:
        return f"{self.origin}/api/query"

    def set_fault(self, mode: str, count: int = 1, **options: Any) -> None:
        with self.lock:
            self.fault = {"mode": mode, "count": count, **options}

    def reset(self) -> None:
        with self.lock:
            self.log.clear()
            self.fault = {"mode": "ok", "count": 0}
            self.fulltext_faults.clear()
            self.fulltext_log.clear()

    def set_fulltext_fault(self, arxiv_id: str, mode: str) -> None:
        if mode not in (*FAULT_MODES, "ok"):
            raise ValueError(f"unknown full-text mode {mode!r}; one of {FAULT_MODES}")
        with self.lock:
            if mode == "ok":
                self.fulltext_faults.pop(arxiv_id, None)
            else:
                self.fulltext_faults[arxiv_id] = mode

    def fulltext(self, kind: str, paper: str) -> tuple[int, str, bytes, str]:
        """(status, content type, body, fault mode) of ``GET /<kind>/<paper>``."""
        base = re.sub(r"v\d+$", "", paper)
        with self.lock:
            mode = self.fulltext_faults.get(base, "ok")
        record = self.by_id.get(base)
        title = record.title if record else f"A generated paper {base}"
        latest = record.version if record else 1
        status, ctype, body = fulltext_answer(kind, paper, title, mode, latest)
        return status, ctype, body, mode

    def requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.log]

    def fulltext_requests(self) -> list[dict[str, Any]]:
        """Every /html and /pdf request seen: path, status, fault mode, times."""
        with self.lock:
            return [dict(r) for r in self.fulltext_log]

    def _take_fault(self) -> dict[str, Any]:
        with self.lock:
            fault = dict(self.fault)
            if fault["mode"] == "ok" or fault["count"] == 0:
                return {"mode": "ok"}
            if fault["count"] > 0:
                self.fault["count"] -= 1
            return fault

    def answer(self, params: dict[str, list[str]], fault: dict[str, Any] | None = None) -> Answer:
        """(status, headers, body) for one /api/query request; ``fault``: the mode to answer
        with (None: take the next one). Modes that act on the connection itself (reset,
        trickle, a dropped body, huge) are the handler's; this gives them the normal answer."""
        fault = self._take_fault() if fault is None else fault
        mode = fault["mode"]
        if self.latency_s:
            time.sleep(self.latency_s)
        if mode == "slow":
            time.sleep(float(fault.get("delay_s", 5.0)))
        status, headers, body = self._answer(params, fault)
        if fault.get("retry_after") is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        return status, headers, body

    def _answer(self, params: dict[str, list[str]], fault: dict[str, Any]) -> Answer:
        canned = canned_answer(fault)
        if canned is not None:
            return canned
        query = params.get("search_query", [""])[0]
        id_list = [i for i in params.get("id_list", [""])[0].split(",") if i]
        try:
            start = int(params.get("start", ["0"])[0])
            per_page = int(params.get("max_results", ["10"])[0])
        except ValueError:
            return 400, {}, render_error("start and max_results must be integers")
        if per_page < 0 or per_page > 30000:
            return 400, {}, render_error("max_results must be between 0 and 30000")
        title = (
            f"search_query={query}&id_list={','.join(id_list)}&start={start}&max_results={per_page}"
        )
        if self.atom is not None:
            return 200, {}, self.atom
        try:
            if id_list:
                found = [
                    self.by_id[i.split("v")[0]] for i in id_list if i.split("v")[0] in self.by_id
                ]
                if query:
                    found = evaluate(query, found)
            else:
                found = evaluate(query, self.records)
        except QueryError as exc:
            return 400, {}, render_error(str(exc))
        page = found[start : start + per_page]
        if fault["mode"] == "empty":
            page = []  # arXiv's glitch: totalResults says there are entries, the page has none
        return spoil(fault, render_feed(page, len(found), start, per_page, title))


def _handler_for(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:
            logger.debug("stand-in: " + fmt, *args)

        def _send(
            self,
            status: int,
            body: bytes,
            headers: dict[str, str] | None = None,
            *,
            every_s: float | None = None,
            stop_at: int | None = None,
        ) -> int:
            """Send an answer; returns the body bytes sent. ``every_s``: 16 bytes at a time,
            that many seconds apart (trickle); ``stop_at``: close the connection after that
            many bytes although the Content-Length promised all of them."""
            self.send_response(status)
            ctype = "application/atom+xml; charset=utf-8"
            for key, value in (headers or {}).items():
                if key.lower() == "content-type":
                    ctype = value
                else:
                    self.send_header(key, value)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if stop_at is not None:
                self.wfile.write(body[:stop_at])
                self.close_connection = True
                return stop_at
            if every_s is None:
                self.wfile.write(body)
                return len(body)
            sent = 0
            for at in range(0, len(body), 16):
                self.wfile.write(body[at : at + 16])
                self.wfile.flush()
                sent += len(body[at : at + 16])
                time.sleep(float(every_s))
            return sent

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/_requests":
                self._send(
                    200, json.dumps(state.requests()).encode(), {"Content-Type": "application/json"}
                )
                return
            kind, _, paper = url.path.strip("/").partition("/")
            if kind in ("html", "pdf") and paper:
                self._send_fulltext(kind, paper)
                return
            if url.path != "/api/query":
                self._send(404, b"not found\n", {"Content-Type": "text/plain"})
                return
            params = parse_qs(url.query, keep_blank_values=True)
            fault = state._take_fault()
            mode = fault["mode"]
            entry: dict[str, Any] = {
                "t_start": time.time(),
                "search_query": params.get("search_query", [""])[0],
                "raw_query": url.query,
                "user_agent": self.headers.get("User-Agent", ""),
                "mode": mode,
                "t_end": None,
                "status": None,
                "bytes_sent": 0,
            }
            with state.lock:  # logged on arrival: a client that hangs up is still seen
                state.log.append(entry)
            try:
                if mode == "reset":
                    reset_connection(self)
                    return
                status, headers, body = state.answer(params, fault)
                with state.lock:
                    entry["status"] = status
                if mode == "huge":

                    def progress(sent: int) -> None:
                        with state.lock:
                            entry["bytes_sent"] = sent

                    sent = send_huge(self, fault, headers, progress)
                elif mode == "trickle":
                    sent = self._send(status, body, headers, every_s=fault.get("interval_s", 0.1))
                elif mode == "truncated" and fault.get("drop"):
                    sent = self._send(status, body, headers, stop_at=len(body) // 2)
                else:
                    sent = self._send(status, body, headers)
                with state.lock:
                    entry["bytes_sent"] = sent
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client hung up (its timeout or its cap)
            finally:
                with state.lock:
                    entry["t_end"] = time.time()

        def _send_fulltext(self, kind: str, paper: str) -> None:
            entry: dict[str, Any] = {"t_start": time.time(), "path": self.path, "status": None}
            with state.lock:
                state.fulltext_log.append(entry)
            status, ctype, body, mode = state.fulltext(kind, paper)
            entry.update(status=status, mode=mode)
            headers = {"Content-Type": ctype}
            if kind == "pdf" and status == 200:
                headers["Content-Disposition"] = f'inline; filename="{paper}.pdf"'
            try:
                if mode == "oversized" and kind == "html":
                    send_huge(self, {"size_bytes": 64 << 20}, {}, lambda sent: None)
                elif mode == "slow" and kind == "html":
                    self._send(status, body, headers, every_s=0.5)
                else:
                    self._send(status, body, headers)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            finally:
                entry["t_end"] = time.time()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/_control":
                mode = str(payload.pop("mode", "ok"))
                count = int(payload.pop("count", 1))
                state.set_fault(mode, count, **payload)
            elif self.path == "/_reset":
                state.reset()
            elif self.path == "/_fulltext":
                try:
                    state.set_fulltext_fault(str(payload["arxiv_id"]), str(payload["mode"]))
                except (KeyError, ValueError) as exc:
                    self._send(400, str(exc).encode(), {"Content-Type": "text/plain"})
                    return
            else:
                self._send(404, b"not found\n", {"Content-Type": "text/plain"})
                return
            self._send(200, b"{}", {"Content-Type": "application/json"})

    return Handler
