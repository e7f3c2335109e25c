"""The ArxivFetcher stage (and its ArxivGate): search arXiv politely and parse its Atom feed.

Cores (plain Python): ``query`` (free text -> ``search_query``), ``atom`` (feed -> papers),
``gate`` (one request at a time, >= 3 s apart), ``client`` (httpx + gate + retries + cache).
Deployments: ``fetcher_deployment`` (ArxivFetcher) and ``gate_deployment`` (ArxivGate, the one
gate of the application).
"""
