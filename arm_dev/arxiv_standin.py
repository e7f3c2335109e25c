"""The old command, ``python -m arm_dev.arxiv_standin``, kept for the README's pointer: the
arXiv stand-in is the package ``arm_dev.arxiv`` (``python -m arm_dev.arxiv``, ``make standin``)."""

from arm_dev.arxiv.__main__ import main

if __name__ == "__main__":
    main()
