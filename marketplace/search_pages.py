"""The marketplace's search page (/marketplace/): filters that combine, results that follow them (htmx) and
a URL that holds the query. It calls the selectors the API calls."""

from django import forms
from django.core.paginator import Paginator
from django.shortcuts import render

from ledger.amounts import to_units

from . import selectors

RESULTS_PER_PAGE = 20
ORDERING_CHOICES = [("newest", "Newest"), ("-retention", "Highest retention"), ("latency", "Fastest"),
                    ("price", "Cheapest"), ("-price", "Dearest"), ("-rating", "Best rated"), ("oldest", "Oldest")]


class SearchForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200)
    domain = forms.CharField(required=False, max_length=100, help_text="e.g. digits, sentiment")
    min_retention = forms.FloatField(label="Retention at least, %", required=False, min_value=0, max_value=100)
    max_latency_ms = forms.FloatField(label="Latency at most, ms", required=False, min_value=0)
    max_price = forms.DecimalField(label="Price at most, FTNS", required=False, min_value=0, decimal_places=6)
    ordering = forms.ChoiceField(label="Order by", choices=ORDERING_CHOICES, required=False)

    def filters(self) -> dict:
        data = self.cleaned_data
        retention = data.get("min_retention")
        price = data.get("max_price")
        return {"q": data.get("q") or "", "domain": data.get("domain") or "",
                "min_retention": None if retention is None else retention / 100,
                "max_latency_ms": data.get("max_latency_ms"),
                "max_price": None if price is None else to_units(price),
                "ordering": data.get("ordering") or "newest"}


def search_page(request):
    form = SearchForm(request.GET or None)
    valid = form.is_valid() if form.is_bound else True
    listings = selectors.listing_search(**form.filters()) if valid and form.is_bound else selectors.listing_search()
    if not valid:
        listings = listings.none()
    page = Paginator(listings, RESULTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "total": page.paginator.count}
    partial = request.htmx and not request.htmx.history_restore_request
    template = "marketplace/_search_results.html" if partial else "marketplace/search.html"
    return render(request, template, context)
