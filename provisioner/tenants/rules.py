"""What an association's slug, name and contact address must look like, wherever they are typed: the
API's request bodies and the command line check the same rules."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
# An address is dot-separated atoms on both sides of the @ (RFC 5322's dot-atom), letters of any
# script allowed (RFC 6531). No space, no control character (Python reads \x1c-\x1e and \x85 as line
# breaks) and none of RFC 5322's specials, which a mail header parses as structure: "0@,.0:" would be
# two addresses and a group. No lookaround, so the pattern also works in pydantic's regex engine.
_LETTER = r"""[^\s\x00-\x1f\x7f-\x9f()<>\[\]:;@\\,."]"""
EMAIL = rf"^{_LETTER}+(?:\.{_LETTER}+)*@{_LETTER}+(?:\.{_LETTER}+)*\.{_LETTER}{{2,}}$"


class NewTenant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=SLUG, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    contact_email: str = Field(pattern=EMAIL, max_length=254)
