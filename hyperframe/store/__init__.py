"""Storage: segment files, manifests, the commit discipline and the key index."""
