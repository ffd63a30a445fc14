"""Understand: language, sentiment, hostility, irony, complaint, claim and USAF triage.

Batch in, labels + reasons out. Import the API from ``perron.enrich.classify`` (``classify``,
``enrich``) and ``perron.enrich.triage`` (``triage``, ``Context``, ``FactSheet``); importing
this package loads no model.
"""
