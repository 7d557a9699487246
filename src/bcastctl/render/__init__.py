"""Fleet -> per-region manifests and the kustomize tree (pure but for writing the tree)."""
