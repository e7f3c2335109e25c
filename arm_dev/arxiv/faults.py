"""The stand-in's fault modes: how it misbehaves on purpose, as arXiv does.

Modes (options in brackets)::

    ok            a normal answer
    429 503 500   that status, body "Rate exceeded." (429) or "Service Unavailable"
    406           arXiv's other throttle: 406, body "Rate exceeded."     [retry_after: S]
    rate_exceeded HTTP 200 with the plain body "Rate exceeded."          [retry_after: S]
    slow          nothing for delay_s seconds, then the normal answer     [delay_s: 5]
    trickle       headers, then the normal feed a few bytes every interval_s (each read is
                  quick, the whole answer is not)                         [interval_s: 0.1]
    reset         the connection reset (RST) before any answer
    empty         HTTP 200, valid Atom, totalResults > 0 and no entries (arXiv's glitch)
    truncated     the normal feed cut in half: a complete HTTP message with half an XML document,
                  or with drop=true the full Content-Length announced and the connection closed
                  half-way                                               [drop: false]
    html          an HTML error page (a proxy's)                         [status: 200]
    bad_gzip      "Content-Encoding: gzip" on a body that is not gzip
    huge          well-formed XML of size_bytes, streamed; without a Content-Length when
                  declare_length is false                 [size_bytes: 64 MiB, declare_length]
    bomb          an Atom feed with a billion-laughs entity bomb in its DTD
    xxe           an Atom feed with an external entity (file:///etc/passwd)
    error         arXiv's error feed                       [message, status: 400 (old arXiv: 200)]

``retry_after`` works with every mode that answers. A mode with count N answers the next N
requests that way and then recovers, so a client's retries can be shown to succeed.

Here: the answers that replace arXiv's (``canned_answer``), the ones that spoil it
(``spoil``) and the ones that act on the connection (``reset_connection``, ``send_huge``);
``trickle`` and a dropped ``truncated`` body are the server's ``_send`` options.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from arm_dev.arxiv.feed import render_error

# Hostile feeds: a parser that expands entities blows up (billion laughs: 10^9 "lol"s from a
# 1 kB document) or reads local files (an external entity). arXiv never sends a DTD.
BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE feed [\n<!ENTITY lol "lol">\n'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
        for i in range(1, 10)
    )
    + b']>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol9;</title></feed>\n'
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?>\n<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&xxe;</title></feed>\n'
)

Answer = tuple[int, dict[str, str], bytes]  # (status, headers, body)


def canned_answer(fault: dict[str, Any]) -> Answer | None:
    """The answer of a mode that replaces arXiv's whatever the query; None for other modes."""
    mode = fault["mode"]
    text = {"Content-Type": "text/plain"}
    if mode in ("429", "503", "500", "406"):
        body = b"Service Unavailable\n" if mode in ("503", "500") else b"Rate exceeded.\n"
        return int(mode), text, body
    if mode == "rate_exceeded":
        return 200, text, b"Rate exceeded.\n"
    if mode == "error":
        msg = str(fault.get("message", "Invalid query string"))
        return int(fault.get("status", 400)), {}, render_error(msg)
    if mode == "html":
        html = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
        html += b"<body><h1>Bad Gateway</h1><p>The proxy got no answer.</p></body></html>\n"
        return int(fault.get("status", 200)), {"Content-Type": "text/html"}, html
    if mode == "bomb":
        return 200, {}, BILLION_LAUGHS
    if mode == "xxe":
        return 200, {}, EXTERNAL_ENTITY
    return None


def spoil(fault: dict[str, Any], body: bytes) -> Answer:
    """The normal feed ``body`` as the mode spoils it (``truncated`` without ``drop``,
    ``bad_gzip``); unchanged for the other modes."""
    mode = fault["mode"]
    if mode == "truncated" and not fault.get("drop"):
        body = body[: len(body) // 2]  # a whole HTTP message holding half a document
    if mode == "bad_gzip":
        return 200, {"Content-Encoding": "gzip"}, body
    return 200, {}, body


def reset_connection(handler: BaseHTTPRequestHandler) -> None:
    """Close with a TCP RST (SO_LINGER 0), no answer: what a dying front end does."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # The real close (the RST) comes when finish() drops the last file on the socket,
    # before socketserver's shutdown(SHUT_WR) could send a polite FIN first.
    handler.connection.close()
    handler.close_connection = True


def send_huge(
    handler: BaseHTTPRequestHandler,
    fault: dict[str, Any],
    headers: dict[str, str],
    progress: Callable[[int], None],
) -> int:
    """Well-formed XML of ``size_bytes`` (one long summary), streamed in 64 KiB chunks;
    without a Content-Length (read until close) unless ``declare_length``. ``progress`` is
    told the bytes sent as it goes: how much went out before a hang-up."""
    size = int(fault.get("size_bytes", 64 * 1024 * 1024))
    head = (
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><summary>'
    )
    tail = b"</summary></entry></feed>\n"
    pad = size - len(head) - len(tail)
    handler.send_response(200)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.send_header("Content-Type", "application/atom+xml; charset=utf-8")
    if fault.get("declare_length", True):
        handler.send_header("Content-Length", str(size))
    else:
        handler.send_header("Connection", "close")
        handler.close_connection = True
    handler.end_headers()
    handler.wfile.write(head)
    sent = len(head)
    chunk = b"lol " * (16 * 1024)
    while pad > 0:
        part = chunk[: min(pad, len(chunk))]
        handler.wfile.write(part)
        sent += len(part)
        pad -= len(part)
        progress(sent)
    handler.wfile.write(tail)
    return sent + len(tail)
