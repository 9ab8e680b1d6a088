from django.shortcuts import render

from distillation.selectors import jobs_of

RECENT_JOBS = 5

# What the visitor's example shows: one measured run from docs/BENCHMARKS.md ("Movie reviews",
# fifth session, the capped 4-layer MiniLM student). Figures copied from that table, not rounded up.
EXAMPLE = {
    "title": "Sentiment of movie reviews",
    "teacher": "an MPNet teacher (109 million parameters, 87.8% right on 2,114 held-out review sentences)",
    "student": "a 4-layer MiniLM student (10.7 million parameters, 84.7% on the same sentences)",
    "retention": "96.5", "compression": "10.2", "speedup": "8.6",
    "latency": "65.3 ms → 7.6 ms per sentence (CPU, batch 1)",
}


def home(request):
    if request.user.is_authenticated:
        return render(request, "home.html", {"jobs": jobs_of(user=request.user)[:RECENT_JOBS]})
    return render(request, "home.html", {"example": EXAMPLE})
