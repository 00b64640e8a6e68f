"""tunetrack: hyperparameter sweeps with their own experiment tracking."""
