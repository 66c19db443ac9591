"""The registered parts of the composed models: encoders, readouts and scorers, one family per file."""
