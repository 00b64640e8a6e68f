"""Sweeps: search spaces, search strategies and the trial runner."""
