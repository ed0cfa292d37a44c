"""Scoring question sets and conversations against the service."""
