"""Analyses over the store: influence, audience audit, spikes, explanations, content analytics."""
