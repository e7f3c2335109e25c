"""The KubeRay manifests and ``k8s.generate``, which writes their ``serveConfigV2``."""
