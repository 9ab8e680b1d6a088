"""The buyer's library (/marketplace/library/) and the seller's dashboard (/marketplace/selling/): what
a person bought or rents, and what they sell with its sales, revenue (from the ledger) and the forms
that change a listing's prices or withdraw and relist it (``services.listing_update``)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.views import domain_errors_shown
from ledger.amounts import display_ftns, to_units

from . import selectors, services
from .categories import categories_for
from .models import Listing
from .price_advice import RULE

LISTINGS_PER_PAGE = 10  # each listing brings two forms: a page's time grows with them


class ListingPricesForm(forms.Form):
    """A listing's category (one its task allows), its prices in FTNS (empty: not offered that way) and
    its rent period."""

    category = forms.ChoiceField(label="Category", required=False,
                                 help_text="Where buyers find it; one of the taxonomy's for its task.")

    price_buy = forms.DecimalField(label="Price to buy (FTNS)", required=False, min_value=0.000001, max_digits=18,
                                   decimal_places=6, help_text="Empty: not for sale.")
    price_rent = forms.DecimalField(label="Price to rent (FTNS a period)", required=False, min_value=0.000001,
                                    max_digits=18, decimal_places=6, help_text="Empty: not for rent.")
    rent_period_days = forms.IntegerField(label="Rent period (days)", min_value=1, max_value=3650)
    price_per_1k_predictions = forms.DecimalField(
        label="Price per 1,000 predictions (FTNS)", required=False, min_value=0, max_digits=18, decimal_places=6,
        help_text="Charged to buyers and renters who call the served model; empty or 0: free.")

    def __init__(self, *args, listing: Listing, **kwargs):
        # each listing's form on the one page needs ids of its own; the names stay plain
        kwargs.setdefault("auto_id", f"id_%s_{listing.pk}")
        kwargs.setdefault("initial", {"price_buy": _ftns_text(listing.price_buy), "price_rent": _ftns_text(listing.price_rent),
                                      "rent_period_days": listing.rent_period_days, "category": listing.category,
                                      "price_per_1k_predictions": _ftns_text(listing.price_per_1k_predictions or None)})
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(c.slug, c.label) for c in categories_for(listing.task)]

    def changes(self) -> dict:
        data = self.cleaned_data
        changes = {"price_buy": _units(data["price_buy"]), "price_rent": _units(data["price_rent"]),
                   "rent_period_days": data["rent_period_days"],
                   "price_per_1k_predictions": _units(data.get("price_per_1k_predictions")) or 0}
        return changes | ({"category": data["category"]} if data.get("category") else {})


class ListingStatusForm(forms.Form):
    """Withdraw a listing from sale, or relist it."""

    status = forms.ChoiceField(choices=[(Listing.Status.WITHDRAWN, "withdraw"), (Listing.Status.ACTIVE, "relist")])

    def __init__(self, *args, listing: Listing, **kwargs):
        kwargs.setdefault("auto_id", f"id_%s_{listing.pk}")
        super().__init__(*args, **kwargs)


def _ftns_text(units):
    return None if units is None else display_ftns(units).replace(",", "")


def _units(ftns):
    return None if ftns is None else to_units(ftns)


@login_required
@require_GET
def library_page(request):
    return render(request, "marketplace/library.html", {"rows": selectors.buyer_library(user=request.user)})


@login_required
@require_GET
def selling_page(request):
    return _selling_response(request)


@login_required
@require_GET
def selling_revenue_json(request):
    return JsonResponse(selectors.seller_revenue_series(user=request.user))


def _selling_response(request, *, bound: dict | None = None, status: int = 200):
    """The dashboard, a page of listings at a time (the totals and the chart cover them all); ``bound`` is
    {listing pk: {form name: the posted form}} to show beside that listing, on the page that holds it."""
    rows = selectors.seller_listing_figures(user=request.user)
    totals = {"revenue": sum(row["revenue"] for row in rows), "sales": sum(row["sales"] for row in rows),
              "rentals": sum(row["rentals"] for row in rows)}
    number = request.GET.get("page")
    if bound:
        number = _page_holding([row["listing"].pk for row in rows], next(iter(bound)))
    page = Paginator(rows, LISTINGS_PER_PAGE).get_page(number)
    rows = page.object_list
    for row in rows:
        listing, posted = row["listing"], (bound or {}).get(row["listing"].pk, {})
        row["prices_form"] = posted.get("prices") or ListingPricesForm(listing=listing)
        row["status_form"] = posted.get("status") or ListingStatusForm(listing=listing)
    return render(request, "marketplace/selling.html", {"rows": rows, "page": page, "totals": totals,
                                                        "price_rule": RULE}, status=status)


def _page_holding(pks: list[int], listing_pk: int) -> int:
    """The dashboard's page (newest first, ``LISTINGS_PER_PAGE`` a page) that holds the listing."""
    return (pks.index(listing_pk) if listing_pk in pks else 0) // LISTINGS_PER_PAGE + 1


def _back_to(listing: Listing):
    """The dashboard's page that holds ``listing``, scrolled to it."""
    pks = list(Listing.objects.filter(owner=listing.owner).order_by("-created_at", "-pk").values_list("pk", flat=True))
    number = _page_holding(pks, listing.pk)
    query = f"?page={number}" if number > 1 else ""
    return redirect(f"{reverse('marketplace:selling')}{query}#listing-{listing.listing_id}")


def _own_listing_or_404(request, listing_id) -> Listing:
    # someone else's listing is a 404 here, as one that does not exist
    listing = Listing.objects.filter(listing_id=listing_id, owner=request.user).first()
    if listing is None:
        raise Http404("No such listing of yours.")
    return listing


@login_required
@require_POST
def listing_prices_page(request, listing_id):
    listing = _own_listing_or_404(request, listing_id)
    form = ListingPricesForm(request.POST, listing=listing)
    if not form.is_valid():
        return _selling_response(request, bound={listing.pk: {"prices": form}}, status=400)
    with domain_errors_shown(request, form=form) as shown:
        services.listing_update(listing=listing, user=request.user, **form.changes())
    if shown.error is not None:
        return _selling_response(request, bound={listing.pk: {"prices": form}}, status=shown.error.status_code)
    messages.success(request, f"New prices for “{listing.title}” saved.")
    return _back_to(listing)


@login_required
@require_POST
def listing_status_page(request, listing_id):
    listing = _own_listing_or_404(request, listing_id)
    form = ListingStatusForm(request.POST, listing=listing)
    if not form.is_valid():
        return _selling_response(request, bound={listing.pk: {"status": form}}, status=400)
    with domain_errors_shown(request, form=form) as shown:
        services.listing_update(listing=listing, user=request.user, status=form.cleaned_data["status"])
    if shown.error is not None:
        return _selling_response(request, bound={listing.pk: {"status": form}}, status=shown.error.status_code)
    done = "withdrawn from sale" if form.cleaned_data["status"] == Listing.Status.WITHDRAWN else "listed again"
    messages.success(request, f"“{listing.title}” {done}.")
    return _back_to(listing)
