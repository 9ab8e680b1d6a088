"""Buying as a client does: read the listing, then purchase at the price (and rent period) it showed."""


def terms_shown(api, listing, kind: str = "buy") -> dict:
    """What the buyer accepts, from the listing as the API shows it now (a price the listing does not
    offer becomes "1", so the purchase reaches the service and is refused there)."""
    shown = api.get(f"/api/v1/marketplace/models/{listing.listing_id}/").json()
    terms = {"kind": kind, "expected_price": shown[f"price_{kind}"] or "1"}
    return terms | ({"rent_period_days": shown["rent_period_days"]} if kind == "rent" else {})


def purchase(api, listing, kind: str = "buy", key: str = "k1", terms: dict | None = None, **body):
    return api.post(f"/api/v1/marketplace/models/{listing.listing_id}/purchase/",
                    {**(terms or terms_shown(api, listing, kind)), **body}, format="json", HTTP_IDEMPOTENCY_KEY=key)
