"""Roles and what each may do. Routes ask for permissions, never for roles."""

from enum import StrEnum


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


class Permission(StrEnum):
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"


# Every user may manage their own account (/users/me); these are the extra rights of each role.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.USER: frozenset(),
    Role.ADMIN: frozenset(Permission),
}


def missing_permissions(role: str, required: set[Permission]) -> set[Permission]:
    granted = ROLE_PERMISSIONS.get(Role(role), frozenset()) if role in Role else frozenset()
    return required - granted
