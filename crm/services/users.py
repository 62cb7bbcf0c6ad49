"""Users, groups (sales teams), owner companies, logins and API tokens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from crm import audit
from crm.errors import AuthenticationFailed, Conflict, NotFound, ValidationError
from crm.fields import EMAIL_RE, MAX_ID, parse_int
from crm.models import ROLES, ApiToken, Group, OwnerCompany, User, utcnow
from crm.passwords import hash_password, new_token, token_digest, verify_password
from crm.permissions import require_role
from crm.services import sessions, throttle

# The languages of the UI and of what the CRM writes for a user (web/translations has a catalog
# for each but English).
LANGUAGES = ("en", "cs", "sk", "pl")
MIN_PASSWORD = 8


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError({"password": f"must have at least {MIN_PASSWORD} characters"})


def get_or_create_owner_company(session: Session, name: str) -> OwnerCompany:
    company = session.scalar(select(OwnerCompany).where(OwnerCompany.name == name))
    if company is None:
        company = OwnerCompany(name=name)
        session.add(company)
        session.flush()
    return company


def get_or_create_group(session: Session, name: str, owner_company: str | None = None) -> Group:
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationError({"group": "must be a name of 1 to 200 characters"})
    group = session.scalar(select(Group).where(Group.name == name))
    if group is None:
        company = get_or_create_owner_company(session, owner_company) if owner_company else None
        group = Group(name=name, owner_company_id=company.id if company else None)
        session.add(group)
        session.flush()
    return group


def find_user(session: Session, email: str) -> User | None:
    """The user, groups loaded: an actor must answer the permission rule outside its session."""
    return session.scalar(
        select(User)
        .options(selectinload(User.groups))
        .where(func.lower(User.email) == email.strip().lower())
    )


def require_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"no user {email}")
    return user


def create_user(
    session: Session,
    email: str,
    name: str,
    role: str,
    groups: Sequence[str] = (),
    password: str | None = None,
    language: str = "en",
) -> User:
    errors: dict[str, str] = {}
    email = email.strip()
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors["email"] = "is not an email address"
    if not name.strip() or len(name) > 200:
        errors["name"] = "must be 1 to 200 characters"
    if role not in ROLES:
        errors["role"] = "must be one of " + ", ".join(ROLES)
    if language not in LANGUAGES:
        errors["language"] = "must be one of " + ", ".join(LANGUAGES)
    if password is not None and len(password) < MIN_PASSWORD:
        errors["password"] = f"must have at least {MIN_PASSWORD} characters"
    if errors:
        raise ValidationError(errors)
    if find_user(session, email) is not None:
        raise Conflict(f"a user {email} already exists")
    user = User(
        email=email.lower(),
        name=name.strip(),
        role=role,
        language=language,
        password_hash=hash_password(password) if password else None,
        groups=[get_or_create_group(session, g) for g in groups if g.strip()],
    )
    session.add(user)
    session.flush()
    return user


def update_user(session: Session, actor: User, user_id: int, data: dict[str, Any]) -> User:
    """Admin edits a user: name, role, groups, active, language, a new password.

    Deactivating a user or setting their password ends every session of theirs (an admin
    who sets their own gets a new session: web.security.renew_session)."""
    require_role(actor, "admin")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    errors: dict[str, str] = {}
    name = str(data.get("name", user.name)).strip()
    role = data.get("role", user.role)
    language = data.get("language", user.language)
    if not name or len(name) > 200:
        errors["name"] = "must be 1 to 200 characters"
    if role not in ROLES:
        errors["role"] = "must be one of " + ", ".join(ROLES)
    if language not in LANGUAGES:
        errors["language"] = "must be one of " + ", ".join(LANGUAGES)
    group_ids = data.get("group_ids")
    groups = user.groups
    if group_ids is not None:
        wanted: list[int] | None
        try:  # ids from a form (strings) or JSON (numbers); anything else names no group
            wanted = sorted({parse_int(i) for i in group_ids})
        except (TypeError, ValueError):
            wanted = None
        found = (session.get(Group, i) for i in wanted or () if 0 < i <= MAX_ID)
        groups = [g for g in found if g is not None]
        if wanted is None or len(groups) != len(wanted):
            errors["group_ids"] = "contains an unknown group"
    active = bool(data.get("active", user.active))
    if user.id == actor.id and (role != "admin" or not active):
        errors["role"] = "you cannot take away your own admin rights"
    password = data.get("password") or ""
    if password and len(password) < MIN_PASSWORD:
        errors["password"] = f"must have at least {MIN_PASSWORD} characters"
    if errors:
        raise ValidationError(errors)
    user.name, user.role, user.language, user.groups, user.active = (
        name,
        role,
        language,
        groups,
        active,
    )
    if password:
        user.password_hash = hash_password(password)
    if password or not active:
        sessions.end_all(session, user.id)
    session.flush()
    return user


def sign_out_everywhere(session: Session, actor: User, user_id: int) -> int:
    """An admin ends every web session of the user (API tokens stay: `dossier token revoke`)."""
    require_role(actor, "admin")
    if session.get(User, user_id) is None:
        raise NotFound(f"user {user_id} not found")
    return sessions.end_all(session, user_id)


def set_language(session: Session, user: User, language: str) -> None:
    if language not in LANGUAGES:
        raise ValidationError({"language": "must be one of " + ", ".join(LANGUAGES)})
    db_user = session.get(User, user.id)
    assert db_user is not None
    db_user.language = language


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """The user's own new password. Every session of theirs ends, so every copied cookie stops
    working; the browser they changed it in gets a new one (web.security.renew_session)."""
    db_user = session.get(User, user.id)
    assert db_user is not None
    if not verify_password(current, db_user.password_hash):
        raise ValidationError({"current_password": "is not your current password"})
    _check_password(new)
    db_user.password_hash = hash_password(new)
    sessions.end_all(session, db_user.id)


def authenticate(session: Session, email: str, password: str) -> User:
    """The active user of this email and password. An unknown or inactive account costs one
    password check too (crm.passwords.verify_password), so the answer's time tells nothing."""
    user = find_user(session, email)
    usable = user is not None and user.active
    matches = verify_password(password, user.password_hash if user and usable else None)
    if user is None or not usable or not matches:
        raise AuthenticationFailed("wrong email or password")
    return user


def log_in(session: Session, email: str, password: str, address: str | None) -> User:
    """Authenticate a login form, throttled (crm.services.throttle): raises LoginThrottled
    before checking anything when this address must wait, records a failure (the caller
    commits it) and raises AuthenticationFailed on a wrong email or password."""
    throttle.check(session, email, address)
    try:
        user = authenticate(session, email, password)
    except AuthenticationFailed:
        throttle.record_failure(session, email, address)
        known = find_user(session, email)
        audit.record(
            session,
            f"address:{address or '?'}",
            "sign-in-failed",
            "user",
            known.id if known else None,
            {"email": (None, email[:254]), "address": (None, address)},
        )
        raise
    throttle.forget(session, email, address)
    audit.record(session, user, "sign-in", "user", user.id, {"address": (None, address)})
    return user


def create_token(session: Session, email: str, label: str = "") -> str:
    user = require_user(session, email)
    token = new_token()
    session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), label=label[:100]))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User:
    row = session.scalar(
        select(ApiToken)
        .options(selectinload(ApiToken.user).selectinload(User.groups))
        .where(ApiToken.token_hash == token_digest(token))
    )
    if row is None or not row.user.active:
        raise AuthenticationFailed("invalid API token")
    return row.user


TOKEN_USE_EVERY = dt.timedelta(minutes=1)


def token_use_due(session: Session, token: str) -> int | None:
    """The id of this token when its last use is older than TOKEN_USE_EVERY (or never
    written), else None: a read, so most requests need no write at all."""
    row = session.execute(
        select(ApiToken.id, ApiToken.last_used_at).where(ApiToken.token_hash == token_digest(token))
    ).one_or_none()
    if row is None or (row.last_used_at and row.last_used_at > utcnow() - TOKEN_USE_EVERY):
        return None
    return int(row.id)


def record_token_use(session: Session, token_id: int) -> None:
    """When the token was last used (shown to its owner), at most once per TOKEN_USE_EVERY:
    one conditional UPDATE, so racing requests write it once."""
    now = utcnow()
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOKEN_USE_EVERY),
        )
        .values(last_used_at=now)
    )


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    """The user's API tokens, the newest first (only their labels and dates: the values are
    not kept)."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke_token(session: Session, token_id: int, owner: User | None = None) -> ApiToken:
    """Delete the token: the next request with it answers 401. ``owner`` given (the account
    page), only a token of theirs; another's is not found. Without (the CLI), any token."""
    row = session.get(ApiToken, token_id) if 0 < token_id <= MAX_ID else None
    if row is None or (owner is not None and row.user_id != owner.id):
        raise NotFound(f"no API token {token_id}")
    session.execute(delete(ApiToken).where(ApiToken.id == row.id))
    return row


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def list_groups(session: Session) -> list[Group]:
    return list(session.scalars(select(Group).order_by(Group.name)))


def list_owner_companies(session: Session) -> list[OwnerCompany]:
    return list(session.scalars(select(OwnerCompany).order_by(OwnerCompany.name)))


def create_group(session: Session, actor: User, name: str, owner_company_id: int | None) -> Group:
    require_role(actor, "admin")
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationError({"name": "must be 1 to 200 characters"})
    if session.scalar(select(Group).where(Group.name == name)):
        raise ValidationError({"name": "a group of this name exists"})
    if owner_company_id is not None and session.get(OwnerCompany, owner_company_id) is None:
        raise ValidationError({"owner_company_id": "no such owner company"})
    group = get_or_create_group(session, name)
    group.owner_company_id = owner_company_id
    return group


def create_owner_company(session: Session, actor: User, name: str) -> OwnerCompany:
    require_role(actor, "admin")
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationError({"name": "must be 1 to 200 characters"})
    if session.scalar(select(OwnerCompany).where(OwnerCompany.name == name)):
        raise ValidationError({"name": "an owner company of this name exists"})
    return get_or_create_owner_company(session, name)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id, options=[selectinload(User.groups)])
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user
