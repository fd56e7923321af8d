"""Executors: one module per backend, heavy imports only inside its own module."""
