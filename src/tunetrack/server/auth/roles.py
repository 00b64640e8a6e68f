"""What a user may do: a global role, overridden per experiment by a grant.

A user's permission on an experiment is their grant on it if they have one, else their
role's: ``none`` nothing, ``viewer`` READ, ``editor`` EDIT; an ``admin`` has MANAGE on every
experiment whatever the grants. READ reads an experiment and its runs, metrics and artifacts;
EDIT also creates runs, logs to them and renames or tags the experiment; MANAGE also deletes
and restores the experiment and its runs.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Permission(enum.IntEnum):
    """What a user may do with one experiment; each level includes the ones below."""

    NONE = 0
    READ = 1
    EDIT = 2
    MANAGE = 3


class Role(enum.Enum):
    """A user's global role."""

    NONE = "none"
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def permission(self) -> Permission:
        """The permission this role gives on an experiment without a grant."""
        return _ROLE_PERMISSION[self]


_ROLE_PERMISSION = {
    Role.NONE: Permission.NONE,
    Role.VIEWER: Permission.READ,
    Role.EDITOR: Permission.EDIT,
    Role.ADMIN: Permission.MANAGE,
}
GRANTS = (Permission.READ, Permission.EDIT, Permission.MANAGE)


@dataclass(frozen=True)
class User:
    """An authenticated user: name, role and grants (experiment id -> permission)."""

    name: str
    role: Role
    grants: Mapping[str, Permission] = field(default_factory=dict)

    def permission_on(self, experiment_id: str) -> Permission:
        """What this user may do with the experiment ``experiment_id``."""
        if self.role is Role.ADMIN:
            return Permission.MANAGE
        return self.grants.get(experiment_id, self.role.permission)

    def at_least(self, role: Role) -> bool:
        """Whether this user's role is ``role`` or above."""
        return self.role.permission >= role.permission
