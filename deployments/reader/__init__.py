"""The Reader stage: a paper's full text from arXiv (LaTeXML HTML first, the PDF after), parsed
to sections and paragraphs with anchors, cut into passages that fit the embedder's window.

Cores (plain Python): ``document`` (the parsed paper), ``html_text`` and ``pdf_text`` (the two
parsers), ``passages`` (the cutting). The fetch, cache and deployment build on them."""
