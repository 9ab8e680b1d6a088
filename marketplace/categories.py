"""The marketplace's taxonomy: what a listed model does, by task and domain (docs/MARKETPLACE.md).

A category is a slug ``<task>/<domain>`` with a label. A model is put in one when listed, from its job's
task, the request's ``domain`` and the name of its data (``builtin:fashion-mnist``, an upload's name);
its owner may move it to any category its task allows. Pure functions: the migration that backfills
existing listings imports them too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TASKS = ("text", "image", "tabular")


@dataclass(frozen=True)
class Category:
    slug: str
    label: str
    tasks: tuple[str, ...]  # the tasks whose models may carry it
    keywords: frozenset[str]  # words of a domain or a data name that put a model here

    @property
    def task(self) -> str:
        return self.slug.split("/", 1)[0]


def _category(slug: str, label: str, keywords: str = "", tasks: tuple[str, ...] | None = None) -> Category:
    return Category(slug, label, tasks or (slug.split("/", 1)[0],), frozenset(keywords.split()))


# Order matters: the first category whose keywords meet the words wins, so the specific ones come first
# ("fashion-mnist" is clothing before "mnist" makes it digits). The built-in data sets are named here.
CATEGORIES: tuple[Category, ...] = (
    _category("text/sentiment", "Text · sentiment", "sentiment sentiments polarity opinion opinions review reviews "
              "movie-reviews review-snippets imdb sst emotion emotions"),
    _category("text/topic", "Text · topic", "topic topics news newsgroups ag-news category categories genre"),
    _category("text/spam", "Text · spam", "spam sms phishing junk"),
    _category("text/toxicity", "Text · toxicity", "toxic toxicity hate abuse abusive offensive moderation"),
    _category("text/intent", "Text · intent", "intent intents chatbot support dialogue"),
    _category("text/other", "Text · other"),
    _category("image/clothing", "Image · clothing", "fashion fashion-mnist clothing clothes apparel garment garments"),
    # the built-in digits are 8x8 images given as 64 pixel features: a tabular job, but digits all the same
    _category("image/digits", "Image · handwritten digits", "digits digit mnist handwritten handwriting",
              tasks=("image", "tabular")),
    _category("image/objects", "Image · objects", "cifar cifar10 cifar-10 objects object animals imagenet vehicles"),
    _category("image/medical", "Image · medical", "medical x-ray xray radiology pathology scan scans"),
    _category("image/other", "Image · other"),
    _category("tabular/medical", "Tabular · medical", "medical breast-cancer cancer diabetes health clinical heart "
              "disease patients"),
    _category("tabular/finance", "Tabular · finance", "finance financial credit fraud loan loans bank banking churn"),
    _category("tabular/chemistry", "Tabular · chemistry", "wine chemistry chemical chemicals molecules"),
    _category("tabular/other", "Tabular · other"),
)
BY_SLUG = {category.slug: category for category in CATEGORIES}
CHOICES = [(category.slug, category.label) for category in CATEGORIES]


def category_label(slug: str) -> str:
    category = BY_SLUG.get(slug)
    return category.label if category else slug


def words_of(*texts: str | None) -> set[str]:
    """Lower-case words of a domain or data name, each hyphenated name also whole ("fashion-mnist")."""
    words: set[str] = set()
    for text in texts:
        text = (text or "").lower().removeprefix("builtin:")
        text = re.sub(r"\.(csv|jsonl|zip|tar|gz|tgz)$", "", text)
        for token in re.findall(r"[a-z0-9][a-z0-9_-]*", text):
            words.add(token)
            words.update(part for part in re.split(r"[_-]", token) if part)
    return words


def category_assign(*, task: str, domain: str = "", data: str = "") -> str:
    """The category of a model of ``task`` trained for ``domain`` on ``data``: the first whose keywords
    meet their words, among those the task allows; ``<task>/other`` when none does."""
    task = task if task in TASKS else "tabular"
    words = words_of(domain, data)
    for category in CATEGORIES:
        if task in category.tasks and category.keywords & words:
            return category.slug
    return f"{task}/other"


def category_refusal(*, slug: str, task: str) -> str | None:
    """Why a model of ``task`` cannot be put in ``slug``; None when it can."""
    category = BY_SLUG.get(slug)
    if category is None:
        return f"{slug!r} is not a category; choose one of {', '.join(BY_SLUG)}."
    if task and task not in category.tasks:
        return f"A {task} model cannot be in {category.label}; choose a {task} category."
    return None


def categories_for(task: str) -> list[Category]:
    """The categories a model of ``task`` may be put in (every one when the task is unknown)."""
    return [category for category in CATEGORIES if not task or task in category.tasks]
