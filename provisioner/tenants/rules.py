"""What an association's slug, name and contact address must look like, wherever they are typed: the
API's request bodies and the command line check the same rules."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
# No control characters: Python reads \x1c-\x1e and \x85 as line breaks, which a mail header refuses.
_PART = r"[^@\s\x00-\x1f\x7f-\x9f]"
EMAIL = rf"^{_PART}{{1,64}}@{_PART}{{1,252}}\.{_PART}{{2,}}$"


class NewTenant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=SLUG, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    contact_email: str = Field(pattern=EMAIL, max_length=254)
