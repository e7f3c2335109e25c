"""Code that runs inside Serve's HTTP proxy process (not in any stage): ``error_shape``
rewrites the proxy's own answers in the arm's error shape."""
