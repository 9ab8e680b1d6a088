"""When two usernames are the same, and finding a user by the name someone typed.

Two usernames are the same when they are equal after Unicode NFKC normalisation and then case
folding: ``ＡＤＡ`` (full-width), ``Ada`` and ``ada`` are one name. Normalising first matters: a
case-insensitive comparison of the raw text lets the full-width form past. The ledger is the
lowest layer that looks users up by name (transfers, staff grants), so the rule lives here;
accounts applies the same rule at sign-up and login.
"""

import unicodedata

from django.contrib.auth import get_user_model

User = get_user_model()


def username_normalize(username: str) -> str:
    return unicodedata.normalize("NFKC", username)


def username_key(username: str) -> str:
    """The form two usernames are compared in: NFKC, then case-folded."""
    return username_normalize(username).casefold()


def user_by_username(username: str, *, active_only: bool = True) -> User | None:
    """The user with this name by the rule above; the exact spelling wins over another case of it.

    None when there is none, or when only several other-case spellings exist (accounts made before
    the rule): money never goes to a guess.
    """
    name = username_normalize(username)
    users = User.objects.filter(username__iexact=name)
    if active_only:
        users = users.filter(is_active=True)
    # iexact folds only ASCII on SQLite and upper-cases on PostgreSQL: the rule is checked here.
    matches = [user for user in users if username_key(user.username) == username_key(name)]
    exact = [user for user in matches if user.username == name]
    if exact:
        return exact[0]
    return matches[0] if len(matches) == 1 else None
