"""Validate the answers before cookiecutter writes anything.

Each check returns the one-line reason it fails, or None. `main()` prints the first reason and
exits non-zero; cookiecutter then removes the half-made project directory.
"""

import json
import keyword
import re
import sys

SUPPORTED_PYTHON_VERSIONS = ("3.12", "3.13")

# The generated project's own top-level modules: a slug with one of these names is confusing.
PROJECT_MODULES = frozenset(
    {"conftest", "core", "features", "main", "manage", "migrations", "scripts", "settings",
     "tests"}
)  # fmt: skip
# Every package in the generated project's uv.lock (as a Python name), and the modules they
# install under other names. uv refuses a project named like one of its dependencies.
# tests/test_hooks.py fails when the lock gains a package that is missing here.
DEPENDENCY_NAMES = frozenset(
    {"aiohappyeyeballs", "aiohttp", "aiosignal", "aiosqlite", "alembic", "annotated_doc",
     "annotated_types", "anyio", "argon2", "argon2_cffi", "argon2_cffi_bindings",
     "ast_serialize", "asyncpg", "attr", "attrs", "certifi", "cffi", "charset_normalizer",
     "click", "colorama", "cryptography", "dns", "dnspython", "dotenv", "ecdsa",
     "email_validator", "execnet", "fastapi", "fastapi_offline", "frozenlist", "google",
     "googleapis_common_protos", "greenlet", "h11", "httpcore", "httptools", "httpx", "idna",
     "iniconfig", "jinja2", "jose", "librt", "mako", "markdown_it", "markdown_it_py",
     "markupsafe", "mdurl", "multidict", "multipart", "mypy", "mypy_extensions", "opentelemetry",
     "opentelemetry_api", "opentelemetry_exporter_http_transport",
     "opentelemetry_exporter_otlp_common", "opentelemetry_exporter_otlp_proto_common",
     "opentelemetry_exporter_otlp_proto_http", "opentelemetry_proto", "opentelemetry_sdk",
     "opentelemetry_semantic_conventions", "packaging", "passlib", "pathspec", "pluggy",
     "prometheus_client", "propcache", "protobuf", "pyasn1", "pycparser", "pycron", "pydantic",
     "pydantic_core", "pydantic_settings", "pygments", "pytest", "pytest_asyncio", "pytest_xdist",
     "python_dotenv", "python_jose", "python_multipart", "pyyaml", "redis", "requests", "rich",
     "rsa", "ruff", "shellingham", "six", "sqlalchemy", "sqlmodel", "starlette", "structlog",
     "taskiq", "taskiq_dependencies", "taskiq_redis", "typer", "types_passlib", "types_pyasn1",
     "types_python_jose", "typing_extensions", "typing_inspection", "urllib3", "uvicorn",
     "uvloop", "watchfiles", "websockets", "xdist", "yaml", "yarl"}
)  # fmt: skip

_SLUG = re.compile(r"^[a-z][a-z0-9_]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Free text lands in Python and TOML string literals; keep it plain.
_UNSAFE_TEXT_CHARS = set('"\\{}\n\r\t`$')


def check_plain_text(field: str, value: str) -> str | None:
    if not value.strip():
        return f"{field} is empty; give it a value ({field}=...)."
    if unsafe := sorted(_UNSAFE_TEXT_CHARS & set(value)):
        return f"{field} {value!r} contains {''.join(unsafe)!r}; use plain text without them."
    return None


def check_slug(slug: str) -> str | None:
    if not _SLUG.match(slug):
        return (
            f"project_slug {slug!r} is not a valid name: use lowercase letters, digits and "
            "underscores, starting with a letter (e.g. project_slug=order_service)."
        )
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        return (
            f"project_slug {slug!r} is a Python keyword; "
            f"choose another (e.g. project_slug=my_{slug})."
        )
    if slug in PROJECT_MODULES | DEPENDENCY_NAMES or slug in sys.stdlib_module_names:
        return (
            f"project_slug {slug!r} would shadow the module of the same name; "
            f"choose another (e.g. project_slug=my_{slug})."
        )
    return None


def check_email(email: str) -> str | None:
    if not _EMAIL.match(email):
        return (
            f"author_email {email!r} is not an e-mail address; "
            "give one like author_email=you@example.com."
        )
    return None


def check_python_version(version: str) -> str | None:
    if version not in SUPPORTED_PYTHON_VERSIONS:
        allowed = ", ".join(SUPPORTED_PYTHON_VERSIONS)
        return (
            f"python_version {version!r} is not supported; "
            f"choose one of {allowed} (e.g. python_version={SUPPORTED_PYTHON_VERSIONS[0]})."
        )
    return None


def validate(answers: dict[str, str]) -> str | None:
    """The first problem with the answers, or None when they are all usable."""
    return (
        check_plain_text("project_name", answers["project_name"])
        or check_plain_text("description", answers["description"])
        or check_plain_text("author_name", answers["author_name"])
        or check_slug(answers["project_slug"])
        or check_email(answers["author_email"])
        or check_python_version(answers["python_version"])
    )


def main() -> int:
    # tojson makes any answer a safe literal: quotes and backslashes cannot break this file.
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    error = validate({key: str(value) for key, value in answers.items()})
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
