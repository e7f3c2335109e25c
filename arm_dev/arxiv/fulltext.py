"""The stand-in's full texts: ``GET /html/<id>`` (LaTeXML-shaped HTML) and ``GET /pdf/<id>``.

Three sources, first match wins:

1. **Real fixtures**: ``<fixtures>/<id>.html`` and ``<id>.pdf`` (``tests/fixtures/fulltext/``,
   their sources and licences in its SOURCES.md), served as they are.
2. **Generated** for any other id (load tests read thousands): a paper made from the id alone
   (seeded), titled after the stand-in's record when it has one, in LaTeXML's markup (sections,
   ``ltx_para`` paragraphs with ids, math with ``alttext``, a captioned figure, a bibliography,
   page navigation to be dropped) or as a two-column PDF with a running header and page
   numbers. Each paper states one finding in its experiments section (``finding``), so a
   test can ask for it and check the paragraph it gets.
3. **Faults**, per id (``POST /_fulltext {"arxiv_id": .., "mode": ..}``):

       no_html        /html answers 200 with arXiv's "No HTML" stub page (the PDF is real)
       not_found      404 for both
       latexml_error  /html is LaTeXML's conversion error page
       truncated_pdf  the PDF cut in half (and no HTML)
       encrypted_pdf  a PDF that needs a password (and no HTML)
       scanned_pdf    a PDF of drawn shapes, no text layer (and no HTML)
       oversized      /html is 64 MiB of valid markup
       slow           /html sends its body 64 bytes every 0.5 s

A version suffix (``v2``) is accepted; the generated text is the same for every version.
"""

from __future__ import annotations

import hashlib
import io
import random
import re
from html import escape
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "tests/fixtures/fulltext"
FAULT_MODES = (
    "no_html",
    "not_found",
    "latexml_error",
    "truncated_pdf",
    "encrypted_pdf",
    "scanned_pdf",
    "oversized",
    "slow",
)
NO_HTML_MODES = {"no_html", "truncated_pdf", "encrypted_pdf", "scanned_pdf"}
LOSSES = ["focal", "contrastive", "hinge", "triplet", "Huber", "label-smoothed cross-entropy"]
DATASETS = ["ImageNet", "SQuAD", "CIFAR-10", "MS MARCO", "LibriSpeech", "WMT14"]
FILLER = (  # noqa: SIM905 (a paragraph of words reads better than a list of them)
    "model data training results method approach performance evaluation baseline task "
    "representation learning network layer parameters experiments analysis benchmark "
    "accuracy features signal estimate samples distribution objective gradient inference"
).split()

STUB_PAGE = """<!DOCTYPE html><html><head><title>No HTML for '{id}'</title></head><body>
<header><a href="https://arxiv.org">arXiv</a></header><main><h1>No HTML for '{id}'</h1>
<p>HTML is not available for the source. This could be due to the source files not being HTML,
LaTeX, or a conversion failure.</p><p>If you are the author of this paper, please view the
conversion errors.</p></main></body></html>"""

ERROR_PAGE = """<!DOCTYPE html><html lang="en"><head><title>{id}</title></head><body>
<div class="ltx_page_main"><div class="ltx_page_content"><article class="ltx_document">
<div class="package-alerts ltx_document" role="status"><p>Conversion to HTML had a Fatal error
and exited abruptly. This document may be truncated or damaged.</p></div>
<span class="ltx_ERROR undefined">\\documentclass</span></article></div></div></body></html>"""


def _seed(arxiv_id: str) -> random.Random:
    base = re.sub(r"v\d+$", "", arxiv_id)
    return random.Random(int(hashlib.sha256(base.encode()).hexdigest()[:16], 16))


def finding(arxiv_id: str) -> tuple[str, str]:
    """The paper's one finding: (loss name, the sentence stating it, as in its text)."""
    rng = _seed(arxiv_id)
    loss, dataset, gain = rng.choice(LOSSES), rng.choice(DATASETS), rng.randint(2, 9)
    return loss, (
        f"We train with the {loss} loss, which improves accuracy on {dataset} by {gain} "
        "points over the cross-entropy baseline."
    )


def _sentences(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        words = [rng.choice(FILLER) for _ in range(rng.randint(10, 20))]
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


def outline(arxiv_id: str, title: str) -> list[tuple[str, str, list[str]]]:
    """(number, title, paragraphs) per section of the generated paper."""
    rng = _seed(arxiv_id)
    _, stated = finding(arxiv_id)
    return [
        ("1", "Introduction", [_sentences(rng, 5) for _ in range(3)]),
        ("2", "Method", [_sentences(rng, 6), _sentences(rng, 4) + " $x$"]),
        ("3", "Experiments", [_sentences(rng, 4), stated + " " + _sentences(rng, 3)]),
        ("4", "Conclusion", [f"We studied {title.lower()}. " + _sentences(rng, 3)]),
    ]


def generated_html(arxiv_id: str, title: str, latest: int = 1) -> bytes:
    versioned = arxiv_id if re.search(r"v\d+$", arxiv_id) else f"{arxiv_id}v{latest}"
    parts = [
        # As arXiv's pages: the base names the version served (what an unversioned ask gets).
        f"<!DOCTYPE html><html lang='en'><head><title>{escape(title)}</title>"
        f"<base href='/html/{escape(versioned)}/'/></head><body>",
        "<nav class='ltx_page_navbar'><a href='#S1'>Introduction</a> Back to arXiv</nav>",
        "<div class='ltx_page_main'><div class='ltx_page_content'>",
        "<article class='ltx_document ltx_authors_1line'>",
        f"<h1 class='ltx_title ltx_title_document'>{escape(title)}</h1>",
        "<div class='ltx_abstract'><h6 class='ltx_title ltx_title_abstract'>Abstract</h6>",
        f"<p class='ltx_p' id='id1.id1'>We study {escape(title.lower())}.</p></div>",
    ]
    for number, name, paragraphs in outline(arxiv_id, title):
        parts.append(
            f"<section class='ltx_section' id='S{number}'><h2 class='ltx_title "
            f"ltx_title_section'><span class='ltx_tag ltx_tag_section'>{number} </span>"
            f"{name}</h2>"
        )
        for i, text in enumerate(paragraphs, start=1):
            body = escape(text).replace(
                "$x$", "<math alttext='\\mathcal{L}(x)' class='ltx_Math'><mi>L</mi></math>"
            )
            parts.append(
                f"<div class='ltx_para' id='S{number}.p{i}'><p class='ltx_p'>{body}</p></div>"
            )
        if number == "3":
            parts.append(
                "<figure class='ltx_figure' id='S3.F1'><img src='x1.png'/><figcaption "
                "class='ltx_caption'><span class='ltx_tag ltx_tag_figure'>Figure 1: </span>"
                "Accuracy against training steps.</figcaption></figure>"
            )
        parts.append("</section>")
    parts.append(
        "<section class='ltx_bibliography' id='bib'><h2 class='ltx_title'>References</h2>"
        "<ul class='ltx_biblist'><li class='ltx_bibitem' id='bib.bib1'>A. Author. A paper. "
        "2020.</li></ul></section></article></div>"
        "<footer class='ltx_page_footer'>Generated by LaTeXML</footer></div></body></html>"
    )
    return "".join(parts).encode()


def generated_pdf(arxiv_id: str, title: str, *, password: str | None = None) -> bytes:
    """A two-column paper set by ReportLab (BSD), with a running header and page numbers."""
    from reportlab.lib.enums import TA_JUSTIFY
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import inch
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph

    styles = getSampleStyleSheet()
    out = io.BytesIO()
    width, height = letter
    column = (width - 2 * inch - 0.3 * inch) / 2
    frames = [
        Frame(inch, inch, column, height - 2 * inch, id="left"),
        Frame(inch + column + 0.3 * inch, inch, column, height - 2 * inch, id="right"),
    ]

    def margins(canvas: Any, doc: Any) -> None:
        canvas.setFont("Helvetica", 8)
        canvas.drawString(inch, height - 0.6 * inch, f"Preprint: {title[:60]}")
        canvas.drawCentredString(width / 2, 0.5 * inch, str(doc.page))

    doc = BaseDocTemplate(out, pagesize=letter, encrypt=password)
    doc.addPageTemplates([PageTemplate(id="two", frames=frames, onPage=margins)])
    body = styles["BodyText"]
    body.firstLineIndent = 12
    body.alignment = TA_JUSTIFY  # as papers are set: a short line ends a paragraph
    story = [Paragraph(escape(title), styles["Title"])]
    for number, name, paragraphs in outline(arxiv_id, title):
        story.append(Paragraph(f"{number} {name}", styles["Heading2"]))
        for text in paragraphs:
            story.append(Paragraph(escape(text.replace("$x$", "L(x)")), body))
    story.append(Paragraph("References", styles["Heading2"]))
    story.append(Paragraph("A. Author. A paper. 2020.", body))
    doc.build(story)
    return out.getvalue()


def scanned_pdf() -> bytes:
    """A page of drawn shapes: what a scan looks like to a text extractor."""
    from reportlab.pdfgen import canvas as pdf_canvas

    out = io.BytesIO()
    page = pdf_canvas.Canvas(out)
    for row in range(40):
        page.rect(72, 720 - row * 16, 400 - (row % 5) * 30, 8, fill=1)
    page.showPage()
    page.save()
    return out.getvalue()


def answer(
    kind: str, arxiv_id: str, title: str, mode: str, latest: int = 1
) -> tuple[int, str, bytes]:
    """(status, content type, body) of ``GET /<kind>/<arxiv_id>`` under fault ``mode``
    ("ok" when none); ``oversized`` and ``slow`` are the server's to send."""
    html_type, pdf_type = "text/html; charset=utf-8", "application/pdf"
    if mode == "not_found":
        return 404, "text/plain", b"Not Found\n"
    fixture = FIXTURES / f"{arxiv_id}.{kind}"
    if mode == "ok" and fixture.is_file():
        return 200, html_type if kind == "html" else pdf_type, fixture.read_bytes()
    if kind == "html":
        if mode in NO_HTML_MODES or (mode == "ok" and (FIXTURES / f"{arxiv_id}.pdf").is_file()):
            return 200, html_type, STUB_PAGE.format(id=escape(arxiv_id)).encode()
        if mode == "latexml_error":
            return 200, html_type, ERROR_PAGE.format(id=escape(arxiv_id)).encode()
        return 200, html_type, generated_html(arxiv_id, title, latest)
    if mode == "encrypted_pdf":
        return 200, pdf_type, generated_pdf(arxiv_id, title, password="secret")
    if mode == "scanned_pdf":
        return 200, pdf_type, scanned_pdf()
    pdf = generated_pdf(arxiv_id, title)
    return 200, pdf_type, pdf[: len(pdf) // 2] if mode == "truncated_pdf" else pdf
