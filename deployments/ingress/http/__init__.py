"""The Ingress's HTTP edge: the app, its middlewares, auth, docs and the one error mapping."""
