"""Errors of the users feature; core/exceptions.py maps each base class to its status."""

from core.exceptions import AuthenticationError, BusinessRuleError, ConflictError, NotFoundError


class UserNotFoundError(NotFoundError):
    message = "The user was not found."


class EmailTakenError(ConflictError):
    """Raised by `core.persistence.flush`; its message names the column (email)."""


class InvalidCredentialsError(AuthenticationError):
    message = "Incorrect email or password."


class InvalidTokenError(AuthenticationError):
    message = "The token is invalid or has expired."


class InactiveUserError(AuthenticationError):
    message = "The account is disabled or no longer exists."


class WrongPasswordError(BusinessRuleError):
    code = "wrong_password"
    message = "The current password is not correct."


class SelfLockoutError(BusinessRuleError):
    code = "self_lockout"
    message = "You cannot remove your own admin rights or deactivate yourself."
