"""Orchestration of a whole run: ingest, validate, link, score, write."""
from __future__ import annotations

from pipeline.stages import ingest_and_validate, load_records, stack_person_records  # noqa: F401
