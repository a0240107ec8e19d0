"""The line format of ``newsflow stories similarity``: one pair of articles to compare.

In: a JSON object per line with the two titles and texts (languages optional, ISO 639-1);
other fields (an ``id``, human ratings) are kept and written back untouched beside the
``similarity`` and ``same_story`` the command adds.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StoryPair(BaseModel):
    model_config = ConfigDict(extra="allow")

    title_1: str
    text_1: str
    title_2: str
    text_2: str
    lang_1: str | None = Field(None, min_length=2, max_length=3)
    lang_2: str | None = Field(None, min_length=2, max_length=3)
