"""TLDR text: abstracts split into sentences, sentences and LLM answers tidied into TLDRs,
cut to a word budget. Each rule measured on SciTLDR train/dev."""

from __future__ import annotations

import re

# Words after which a full stop does not end the sentence. Case-sensitive: "CF." (collaborative
# filtering) may end one. "etc." is left out: it usually does end a sentence. No rule for single
# letters: "of size N. We" ends a sentence far more often in abstracts than an initial does.
_ABBREVIATIONS = {
    "e.g.",
    "i.e.",
    "al.",
    "vs.",
    "cf.",
    "Fig.",
    "Figs.",
    "fig.",
    "Eq.",
    "Eqs.",
    "eq.",
    "Sec.",
    "Ref.",
    "Refs.",
    "approx.",
    "resp.",
    "No.",
    "no.",
    "Dr.",
    "Prof.",
    "St.",
    "ca.",
    "viz.",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9(\"'\[])")


def split_sentences(text: str) -> list[str]:
    """Sentences of an abstract; abbreviations (e.g., et al.) and decimals do not split."""
    text = " ".join(text.split())
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.start()].strip()
        last_word = candidate.rsplit(" ", 1)[-1].lstrip("([{\"'")
        if last_word in _ABBREVIATIONS:
            continue  # "et al." / "Fig.": not the end of a sentence
        sentences.append(candidate)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


def words(text: str) -> list[str]:
    return text.split()


_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_PREAMBLE = re.compile(
    r"^\s*(?:\*\*)?(?:here(?:'s| is)[^:\n]*:|sure[,!.][^:\n]*:|tl;?dr\s*[:\-]|tldr\s*[:\-]|"
    r"summary\s*[:\-]|one[- ]sentence summary\s*[:\-])(?:\*\*)?\s*",
    re.IGNORECASE,
)


def clean_llm_summary(text: str, max_words: int) -> str:
    """An LLM answer made into a bare TLDR: no <think> block, preamble, quotes or markdown."""
    text = _THINK.sub("", text)
    text = text.strip()
    previous = None
    while previous != text:
        previous = text
        text = _PREAMBLE.sub("", text).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    text = text.strip("*_`#> ").strip("\"'\u201c\u201d\u2018\u2019 ").strip()
    return compress(text, max_words)


def compress(sentence: str, max_words: int) -> str:
    """A sentence cut to at most ``max_words`` words, preferably at a clause boundary."""
    tokens = words(sentence)
    if len(tokens) <= max_words:
        return sentence.strip()
    head = tokens[:max_words]
    # Prefer ending at the last comma/semicolon in the second half of the allowance.
    for i in range(len(head) - 1, max_words // 2, -1):
        if head[i].endswith((",", ";", ":")):
            head = head[: i + 1]
            break
    text = " ".join(head).rstrip(",;:")
    return text if text.endswith((".", "!", "?")) else text + "."


# Discourse openers that references never keep ("In this paper, we ..." -> "We ...").
_OPENERS = re.compile(
    r"^(?:(?:in this (?:paper|work|study|article|note|letter|thesis)|here(?:in)?|specifically|"
    r"to this end|in particular|moreover|furthermore|additionally|finally|therefore|thus|hence|"
    r"consequently|as a result|however|in addition|to (?:do so|achieve this|address (?:this|these) "
    r"(?:issues?|problems?|challenges?|limitations?))|first(?:ly)?|second(?:ly)?|then|overall|"
    r"in summary|in conclusion|instead|in contrast|on the other hand|importantly|notably|"
    r"crucially|surprisingly|empirically|experimentally|theoretically|concretely|practically|"
    r"motivated by (?:this|these observations?))\s*,?\s+)+",
    re.IGNORECASE,
)
_LEAD_CLAUSE_WE = re.compile(r"^[^,]{3,100},\s+(?=we\s)")


def tldr_sentence(sentence: str, max_words: int = 40) -> str:
    """An abstract sentence made TLDR-like: no discourse opener, no parentheticals, no leading
    clause before "we", at most ``max_words`` words. Each step measured on SciTLDR train/dev."""
    text = _OPENERS.sub("", sentence.strip())
    text = _LEAD_CLAUSE_WE.sub("", text)
    text = re.sub(r"\s*\([^()]*\)", "", text)
    text = re.sub(r"\s*\[[^\[\]]*\]", "", text)
    text = re.sub(r"\s+([,.;:])", r"\1", " ".join(text.split())).strip()
    if not text:
        text = sentence.strip()
    text = text[0].upper() + text[1:]
    return compress(text, max_words)
