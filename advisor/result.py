"""The result model's public names: what ``suggest`` returns, and its stable JSON form.

The records themselves, their one dict conversion and the JSON Schema live in
:mod:`advisor.schema`; this module keeps the short import path of the public result.
"""

from __future__ import annotations

from .schema import SCHEMA_VERSION, Candidate, Notice, Reason, Recommendation, dumps

__all__ = ["SCHEMA_VERSION", "Candidate", "Notice", "Reason", "Recommendation", "dumps"]
