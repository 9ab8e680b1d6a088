"""The marketplace's listing page: a listing (/marketplace/<id>/) with its
purchase confirmation, rating and report forms. They call the selectors and services the API calls."""

import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.views import domain_errors_shown
from distillation.views import model_card_html
from ledger import pricing
from ledger import selectors as ledger_selectors
from ledger.amounts import display_ftns

from . import listing_extras, selectors, services
from .models import Purchase
from .usage import listing_usage

DONE_KEYS = "marketplace_purchase_keys"  # the session's confirmations already paid


class PurchaseForm(forms.Form):
    kind = forms.ChoiceField(choices=Purchase.Kind.choices, widget=forms.HiddenInput)
    expected_price = forms.IntegerField(min_value=1, widget=forms.HiddenInput)  # units, as shown
    rent_period_days = forms.IntegerField(required=False, widget=forms.HiddenInput)
    key = forms.UUIDField(widget=forms.HiddenInput)  # one per rendered confirmation: a double click pays once


class RateForm(forms.Form):
    stars = forms.TypedChoiceField(coerce=int, choices=[(n, f"{n} star{'s' if n > 1 else ''}") for n in range(5, 0, -1)],
                                   widget=forms.RadioSelect)
    review = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class ReportForm(forms.Form):
    reason = forms.CharField(label="What is wrong with this listing?", max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))


def listing_page(request, listing_id):
    return _listing_response(request, _listing_or_404(request, listing_id))


def _listing_or_404(request, listing_id):
    listing = selectors.listing_visible_to(user=request.user, listing_id=listing_id)
    if listing is None:
        raise Http404("No such listing.")
    return listing


def _listing_response(request, listing, *, status=200, **forms_):
    user = request.user
    page = selectors.listing_page(listing=listing)
    context = {
        "listing": listing, "page": page, "job": listing.job, "card_html": model_card_html(page["model_card"]),
        "retention_percent": _percent(page["benchmarks"]["retention"]),
        "splits": {kind: _split(listing, price) for kind, price in
                   (("buy", listing.price_buy), ("rent", listing.price_rent)) if price},
        "is_owner": user.is_authenticated and listing.owner_id == user.pk,
        "purchase": selectors.purchase_current(listing=listing, user=user),
        "can_download": user.is_authenticated and selectors.listing_download_allowed(listing=listing, user=user),
        "reviews": selectors.listing_reviews(listing=listing),
        "report_form": forms_.get("report_form") or ReportForm(), "confirm": forms_.get("confirm"),
        **_extras_context(request, listing, forms_.get("rate_form")),
    }
    return render(request, "marketplace/listing.html", context, status=status)


def _extras_context(request, listing, rate_form) -> dict:
    """Charts, lineage graph, versions, the rating distribution and form, suggestions and usage snippets."""
    rating = listing_extras.listing_rating_state(listing=listing, user=request.user)
    own = rating["own"]
    if rate_form is None:
        rate_form = RateForm(initial={"stars": own.stars, "review": own.review} if own else None)
    return {
        "charts": listing_extras.listing_chart_list(listing=listing),
        "lineage_graph": listing_extras.listing_lineage_graph(listing=listing),
        "family": listing_extras.listing_versions(listing=listing),
        "distribution": listing_extras.listing_rating_distribution(listing=listing),
        "rating": rating, "rate_form": rate_form,
        "can_rate": rating["state"] in ("rate", "edit"),
        "usage": listing_usage(listing=listing),
    }


def _with_percent(listings: list) -> list:
    for other in listings:
        other.retention_percent = _percent(other.retention)
    return listings


def listing_suggestions_fragment(request, listing_id):
    """Similar models and cheaper ones of similar quality: a fragment the listing page loads after it is
    shown (htmx), so ranking the category's listings does not hold up the page."""
    listing = _listing_or_404(request, listing_id)
    return render(request, "marketplace/_listing_suggestions.html", {
        "similar": _with_percent(listing_extras.listing_similar(listing)),
        "cheaper": _with_percent(listing_extras.listing_cheaper(listing))})


def listing_chart_json(request, listing_id, name):
    """One of the listing's charts against its teacher, as the JSON static/js/charts.js draws."""
    chart = listing_extras.listing_charts(listing=_listing_or_404(request, listing_id)).get(name)
    if chart is None:
        raise Http404("The report has no figures for this chart.")
    return JsonResponse(chart)


def _split(listing, price: int) -> dict:
    """The ledger's sale split of ``price`` (one teacher, as the purchase service passes it)."""
    share = (listing.job.request or {}).get("revenue_sharing")
    split = pricing.revenue_split(price=price, teacher_weights=[1], teacher_share=share)
    teacher_share = pricing.TEACHER_SHARE if share is None else pricing.exact_fraction(share)
    return {"price": price, "creator": split.creator, "teachers": sum(split.teachers), "platform": split.platform,
            "teacher_percent": float(teacher_share) * 100, "platform_percent": float(pricing.PLATFORM_SHARE) * 100,
            "creator_percent": 100 - float(teacher_share + pricing.PLATFORM_SHARE) * 100}


def _percent(share):
    return None if share is None else share * 100


@login_required
def listing_purchase_page(request, listing_id):
    """GET: the confirmation (price, split, balance after); POST: the purchase at the price shown."""
    listing = _listing_or_404(request, listing_id)
    if request.method == "POST":
        return _purchase(request, listing)
    kind = request.GET.get("kind", Purchase.Kind.BUY)
    price = listing.price_buy if kind == Purchase.Kind.BUY else listing.price_rent
    if kind not in Purchase.Kind.values or price is None:
        raise Http404("This model is not offered that way.")
    form = PurchaseForm(initial={"kind": kind, "expected_price": price, "key": uuid.uuid4(),
                                 "rent_period_days": listing.rent_period_days if kind == Purchase.Kind.RENT else None})
    return _listing_response(request, listing, confirm=_confirmation(request, listing, form, kind, price))


def _confirmation(request, listing, form, kind: str, price: int) -> dict:
    spendable = ledger_selectors.wallet_balance(user=request.user) - ledger_selectors.wallet_promo_credit(user=request.user)
    return {"form": form, "kind": kind, "price": price, "spendable": spendable, "after": spendable - price,
            "split": _split(listing, price), "rent_period_days": listing.rent_period_days}


def _purchase(request, listing):
    form = PurchaseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That confirmation was not complete; confirm again.")
        return redirect("marketplace:listing", listing_id=listing.listing_id)
    data = dict(form.cleaned_data)  # a refusal naming a field takes it out of cleaned_data
    key = str(data["key"])
    if key in request.session.get(DONE_KEYS, []):  # the same confirmation sent again: it was paid once
        return redirect("marketplace:listing", listing_id=listing.listing_id)
    with domain_errors_shown(request, form=form) as shown:
        purchase = services.listing_purchase(listing=listing, buyer=request.user, kind=data["kind"],
                                             expected_price=data["expected_price"],
                                             expected_period_days=data["rent_period_days"],
                                             dedupe_key=f"purchase:{request.user.pk}:{key}")
    if shown.error is not None:
        if selectors.purchase_current(listing=listing, user=request.user) is not None:
            # a second click while the first was being paid: that one went through
            return redirect("marketplace:listing", listing_id=listing.listing_id)
        confirm = _confirmation(request, listing, form, data["kind"], data["expected_price"])
        return _listing_response(request, listing, confirm=confirm, status=shown.error.status_code)
    request.session[DONE_KEYS] = [*request.session.get(DONE_KEYS, [])[-19:], key]
    verb = "Bought" if purchase.kind == Purchase.Kind.BUY else "Rented"
    messages.success(request, f"{verb} “{listing.title}” for {display_ftns(purchase.price)} FTNS. Download it below.")
    return redirect("marketplace:listing", listing_id=listing.listing_id)


@login_required
@require_POST
def listing_rate_page(request, listing_id):
    listing = _listing_or_404(request, listing_id)
    form = RateForm(request.POST)
    if not form.is_valid():
        return _listing_response(request, listing, rate_form=form, status=400)
    edited = listing_extras.listing_rating_state(listing=listing, user=request.user)["own"] is not None
    rate = services.listing_rating_update if edited else services.listing_rate
    with domain_errors_shown(request, form=form) as shown:
        rate(listing=listing, rater=request.user, **form.cleaned_data)
    if shown.error is not None:
        return _listing_response(request, listing, rate_form=form, status=shown.error.status_code)
    messages.success(request, "Thank you: your rating is published." if not edited else "Your rating is updated.")
    return redirect("marketplace:listing", listing_id=listing.listing_id)


@login_required
@require_POST
def listing_report_page(request, listing_id):
    listing = _listing_or_404(request, listing_id)
    form = ReportForm(request.POST)
    if not form.is_valid():
        return _listing_response(request, listing, report_form=form, status=400)
    with domain_errors_shown(request, form=form) as shown:
        services.listing_report_create(listing=listing, reporter=request.user, reason=form.cleaned_data["reason"])
    if shown.error is not None:
        return _listing_response(request, listing, report_form=form, status=shown.error.status_code)
    messages.success(request, "Reported: a moderator will look at this listing.")
    return redirect("marketplace:listing", listing_id=listing.listing_id)

