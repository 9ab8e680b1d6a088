from .selectors import wallet_balance


def ftns_balance(request):
    """The signed-in user's FTNS balance for the navigation, read only when a template shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"ftns_balance": lambda: wallet_balance(user=user)}
