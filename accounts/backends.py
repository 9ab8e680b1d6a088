from django.contrib.auth.backends import ModelBackend

from ledger.users import user_by_username, username_normalize


class UsernameBackend(ModelBackend):
    """Django's password check, finding the account by the username rule of ``ledger.users``
    (NFKC, then without case): one name, one account, whichever way it is typed."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is not None:
            user = user_by_username(username, active_only=False)
            username = user.get_username() if user else username_normalize(username)
        return super().authenticate(request, username=username, password=password, **kwargs)
