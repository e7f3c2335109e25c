"""A paper as an RIS record."""

from __future__ import annotations

from typing import Any

from arm_client.models import Paper as ApiPaper
from models.citations.csl import _family, csl_item


def ris_record(paper: ApiPaper) -> str:
    """An RIS record (CRLF lines, as the RIS specification writes them).

    TY: "UNPB" (the specification's "unpublished work") for a preprint, which is what Zotero
    writes for its preprint type and what EndNote, Mendeley and Zotero read back as one; "GEN"
    would lose that it is a manuscript. "JOUR" once a journal reference says it was published.
    AU: "Family, Given, Suffix" as the specification asks, or an institution's name whole.
    """
    item: dict[str, Any] = csl_item(paper)  # from the metadata, never a stored csl
    published = paper.published_date
    lines = [("TY", "JOUR" if item["type"] == "article-journal" else "UNPB")]
    for name in item.get("author", []):
        if "literal" in name:
            lines.append(("AU", name["literal"]))
        else:
            parts = [_family(name), name.get("given", ""), name.get("suffix", "")]
            lines.append(("AU", ", ".join(p for p in parts if p)))
    lines += [
        ("TI", item["title"]),
        ("PY", str(published.year)),
        ("DA", published.strftime("%Y/%m/%d")),
    ]
    if "container-title" in item:
        lines.append(("JO", item["container-title"]))
    else:
        lines.append(("PB", "arXiv"))
    lines += [
        ("AN", f"arXiv:{paper.arxiv_id}"),
        ("DO", item["DOI"]),
        ("UR", item["URL"]),
        ("ER", ""),
    ]
    return "".join(f"{tag}  - {value}\r\n" for tag, value in lines)
