"""The static-shape training engine: batches of a few padded shapes, each step capturable as a CUDA graph."""
