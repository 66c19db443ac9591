"""Data layer: raw logs and SR-GNN pickles in, prefix examples, validation splits and batched graphs out."""
