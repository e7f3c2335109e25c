"""The local arXiv index: records from arXiv's bulk metadata, lexical terms, the Qdrant
collection, the ingest job."""
