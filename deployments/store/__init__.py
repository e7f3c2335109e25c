"""The stores under the local index and memory: one small interface (``points.PointStore``), two
engines behind it. Qdrant Edge (``edge.EdgeStore``) is Qdrant's engine in this process, for a
folder on one machine; ``client.ClientStore`` speaks to a Qdrant server (``QDRANT_URL``)."""
