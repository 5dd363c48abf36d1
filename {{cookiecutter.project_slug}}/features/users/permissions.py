"""Roles and what each may do: the one place to change who may do what.

Routes ask for permissions, never for roles. `make feature` adds each new feature's
permissions to `Permission` and what an ordinary user gets of them to `USER_PERMISSIONS`;
edit both freely.
"""

from enum import StrEnum


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


class Permission(StrEnum):
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"


# Every signed-in user may manage their own account (/users/me); this is what else they may do.
USER_PERMISSIONS: list[Permission] = []

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.USER: frozenset(USER_PERMISSIONS),
    Role.ADMIN: frozenset(Permission),  # everything, the permissions of new features included
}


def missing_permissions(role: str, required: set[Permission]) -> set[Permission]:
    granted = ROLE_PERMISSIONS.get(Role(role), frozenset()) if role in Role else frozenset()
    return required - granted


def has_permissions(role: str, *permissions: Permission) -> bool:
    return not missing_permissions(role, set(permissions))
