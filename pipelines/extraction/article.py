"""The extraction result: what one article page yields."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Article:
    """Clean text and metadata of one article page.

    ``paragraphs`` is the body without the lead; ``text`` is the article as
    archived: the lead as first paragraph, then the body, blank-line separated.
    """

    url: str
    title: str | None = None
    lead: str | None = None
    author: str | None = None
    published: str | None = None  # ISO 8601, +07:00 when a time is known
    updated: str | None = None
    tags: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    image: str | None = None
    language: str | None = None
    # Where the body was read: "container", the outlet's declared one; "page", the whole page.
    body_from: str | None = None

    @property
    def text(self) -> str:
        parts = ([self.lead] if self.lead else []) + self.paragraphs
        return "\n\n".join(parts)

    def columns(self) -> dict:
        """The archive's article columns this extraction fills (text as archived)."""
        return {"title": self.title, "lead": self.lead, "author": self.author,
                "published": self.published, "updated": self.updated, "tags": self.tags,
                "text": self.text, "image": self.image, "language": self.language}

    def to_dict(self) -> dict:
        return {**asdict(self), "text": self.text}
