"""Prefect flows: composition only; stage logic lives in ``tasks/``."""
