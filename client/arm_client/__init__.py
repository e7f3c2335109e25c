"""The research arm's typed client: ``arm_client.models`` (the API's schemas, shared with the
server), and the clients and the ``arm`` command line."""
