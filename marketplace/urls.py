from django.urls import path

from . import pages, search_pages, trade_pages, views

app_name = "marketplace"

urlpatterns = [
    path("jobs/<uuid:job_id>/deploy/", views.job_deploy_page, name="job-deploy"),
    path("jobs/<uuid:job_id>/list/", views.job_list_page, name="job-list"),
    path("library/", trade_pages.library_page, name="library"),
    path("selling/", trade_pages.selling_page, name="selling"),
    path("selling/revenue.json", trade_pages.selling_revenue_json, name="selling-revenue"),
    path("selling/<uuid:listing_id>/prices/", trade_pages.listing_prices_page, name="selling-prices"),
    path("selling/<uuid:listing_id>/status/", trade_pages.listing_status_page, name="selling-status"),
    path("", search_pages.search_page, name="search"),
    path("<uuid:listing_id>/", pages.listing_page, name="listing"),
    path("<uuid:listing_id>/suggestions/", pages.listing_suggestions_fragment, name="listing-suggestions"),
    path("<uuid:listing_id>/charts/<slug:name>.json", pages.listing_chart_json, name="listing-chart"),
    path("<uuid:listing_id>/purchase/", pages.listing_purchase_page, name="listing-purchase"),
    path("<uuid:listing_id>/rate/", pages.listing_rate_page, name="listing-rate"),
    path("<uuid:listing_id>/report/", pages.listing_report_page, name="listing-report"),
]
