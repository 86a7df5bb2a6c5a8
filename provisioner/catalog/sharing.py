"""What ``sharing:`` in template.yaml declares: the modes a service offers (a dedicated instance per
association, or a space for each association inside one shared instance), how the shared instance is
deployed, and how a space is made, changed (its limits) and removed through the service's own admin
command.

The commands run in one container of the shared instance (``docker exec``); the space's facts (its
address, its first admin's name and password, its quota) arrive as one JSON document on the command's
standard input, never on its command line, which job events show.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from provisioner.catalog.base import Localized
from provisioner.catalog.exports import Part

Mode = Literal["dedicated", "shared"]
ARGV = Field(min_length=1)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpaceHealth(Strict):
    path: str = Field(default="/", pattern=r"^/")
    expect_status: int = Field(default=200, ge=100, le=599)


class SpaceCommands(Strict):
    container: str
    create: list[str] = ARGV
    remove: list[str] = ARGV
    # Applies a space's changed limits (its facts' "quota") to the space as it is; without it a space
    # keeps the limits it was made with.
    change: list[str] | None = Field(default=None, min_length=1)


class SpaceQuota(Strict):
    """Which limits the service itself enforces per space; the portal says the others are not enforced."""

    members: bool = False
    storage: bool = False


class SpaceData(Strict):
    """Whether one space's data can be taken apart from the other spaces' (a backup of the space alone,
    its restore inside the shared instance, its move into a dedicated instance), and how.

    ``export`` writes the space's data into the folder its facts name (``"folder"``) inside the
    commands' container; ``import`` reads it back from there, into the space's place in the shared
    instance, or with ``"into": "single"`` into a dedicated instance of the service. Where the service
    cannot separate a space's data, ``separable`` is false and ``restore`` tells the association, in
    plain words, what restoring would do instead (the shared instance's backup brings back every space).
    """

    separable: bool
    export: list[str] | None = Field(default=None, min_length=1)
    import_: list[str] | None = Field(default=None, min_length=1, alias="import")
    restore: Localized | None = None
    # What of the folder ``export`` writes goes into an export of the space, in open formats (paths
    # inside that folder): without parts, a space's data is backed up but not exported.
    parts: list[Part] = Field(default_factory=list)

    @model_validator(mode="after")
    def _said_how(self) -> SpaceData:
        if self.separable and (self.export is None or self.import_ is None):
            raise ValueError(
                "sharing.shared.data: a separable space's data needs its export and import commands"
            )
        if not self.separable and self.restore is None:
            raise ValueError(
                "sharing.shared.data: where a space's data cannot be separated, restore says (de, en) "
                "what a restore would do"
            )
        if self.parts and not self.separable:
            raise ValueError("sharing.shared.data: only a separable space's data has parts to export")
        return self


class SpaceNames(Strict):
    """Which names of a space the service itself refuses. A space is named in the service after its
    subdomain (a Mattermost team, a Nextcloud group, ...); a name the service would refuse is refused
    when the space is requested, not later by a failing job."""

    min_length: int = Field(default=1, ge=1, le=63)
    # A name that begins with one of these is refused (Mattermost reserves such words for its own pages).
    refused_prefixes: list[str] = Field(default_factory=list)

    def refusal(self, name: str) -> str | None:
        """Why the service would refuse ``name``, or None."""
        if len(name) < self.min_length:
            return f"a name of at least {self.min_length} characters"
        for prefix in self.refused_prefixes:
            if name.startswith(prefix):
                return f"a name not beginning with {prefix!r}"
        return None


class SignedLinks(Strict):
    """Links that let a space's moderators in with a token the service checks (a JWT, RFC 7519, signed
    with HS256 by a secret the shared instance and the control plane share), where the service has no
    accounts of its own to give: ``sub`` names the space (its subdomain), ``room`` the room or ``*``."""

    # One of the template's secrets: the shared instance is deployed with it, and it signs the links.
    secret: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    issuer: str = Field(min_length=1, max_length=64)
    audience: str = Field(min_length=1, max_length=64)
    # Where a link leads under the space's address; "{space}" and "{room}" are filled in.
    path: str = Field(default="/{space}/{room}", pattern=r"^/")
    # The query parameter that carries the token.
    parameter: str = Field(default="jwt", pattern=r"^[a-z_]{1,20}$")
    max_days: int = Field(default=30, ge=1, le=366)


class SharedMode(Strict):
    # "server": at most one shared instance per server, a new one on another server when all are full;
    # "lab": one for the whole lab, which refuses new spaces when it is full.
    scope: Literal["server", "lab"] = "server"
    spaces_per_instance: int = Field(ge=1, le=10000)
    # The shared instance's own parameters (the template's schema applies); a space has none.
    parameters: dict[str, object] = Field(default_factory=dict)
    commands: SpaceCommands
    # Asked at each space's own address, through the proxy, as a visitor would.
    health: SpaceHealth = Field(default_factory=SpaceHealth)
    quota: SpaceQuota = Field(default_factory=SpaceQuota)
    # The account name the space's first admin signs in with; "{space}" becomes the space's subdomain.
    admin_user: str = Field(default="admin-{space}", pattern=r"^[a-z0-9{}._@-]{1,60}$")
    names: SpaceNames = Field(default_factory=SpaceNames)
    # For a service whose spaces' moderators come in by signed links rather than accounts.
    signed_links: SignedLinks | None = None
    # Whether a space's data can be backed up, restored and moved out on its own; every shared
    # template says so, since the portal tells associations what a restore of their space does.
    data: SpaceData


class Sharing(Strict):
    modes: list[Mode] = Field(min_length=1)
    shared: SharedMode | None = None
    # Why a service that associations might expect to share is offered dedicated only, in plain words
    # for operators choosing what associations may request.
    dedicated_only: Localized | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Sharing:
        if len(set(self.modes)) != len(self.modes):
            raise ValueError("sharing.modes lists a mode twice")
        if ("shared" in self.modes) != (self.shared is not None):
            raise ValueError(
                "sharing.shared describes the shared mode: give it exactly when modes has shared"
            )
        if self.dedicated_only is not None and "shared" in self.modes:
            raise ValueError("sharing.dedicated_only says why there is no shared mode: not beside one")
        return self


def offered_modes(sharing: Sharing | None) -> list[Mode]:
    """What a template offers; a template without ``sharing:`` is deployed dedicated only."""
    return list(sharing.modes) if sharing is not None else ["dedicated"]


def shared_mode(sharing: Sharing | None, service: str) -> SharedMode:
    """How ``service`` is shared; ``ValueError`` for a service without a shared mode."""
    if sharing is None or sharing.shared is None:
        raise ValueError(f"{service} has no shared mode")
    return sharing.shared
