"""What a text student's word embeddings know before training: the mean of a sentence's token
embeddings under logistic regression, on the catalog teacher's own held-out sentences.

    .venv/bin/python bench/embedding_probe.py       # catalog:sentiment-mpnet on movie reviews, ~3 minutes

Embeddings probed, each at full width and after the PCA to the student's width that the engine
uses to start a narrower student:
- input: the teacher's token embeddings (what the engine's students start from);
- output (token): the teacher's last layer at the token, run on ``[CLS] token [SEP]`` alone;
- output (CLS): the same run, at the first position (what the teacher's head reads).
A student whose layers add little lands near the "input" row.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import catalog_teacher_built, print_machine, table  # noqa: E402


def pca(x: np.ndarray, width: int | None) -> np.ndarray:
    if width is None:
        return x
    centred = x - x.mean(0, keepdims=True)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return centred @ components[:width].T


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", default="sentiment-mpnet", help="a built catalog text teacher")
    p.add_argument("--width", type=int, default=192, help="the student's width (the PCA's dimensions)")
    p.add_argument("--max-length", type=int, default=64)
    args = p.parse_args()
    print_machine("what word embeddings know: bag-of-embeddings logistic regression")

    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from prsm.engine.backends.transformers import vocab
    from prsm.engine.catalog.registry import read_card, resolve
    from prsm.engine.data.loaders import load_data

    if not catalog_teacher_built(args.teacher):
        print(f"skipped: catalog:{args.teacher} is not built (prsm catalog build {args.teacher})")
        return
    card, folder = read_card(args.teacher), resolve(args.teacher)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    data = load_data(card["dataset"])
    test = np.asarray(card["heldout"]["indices"])
    train = np.setdiff1d(np.arange(len(data)), test)
    kept = np.asarray(vocab.trim_plan(tokenizer, [data.texts[i] for i in train], args.max_length)["kept_ids"])

    started = time.perf_counter()
    token_out, cls_out = [], []
    with torch.inference_mode():
        for start in range(0, len(kept), 512):
            ids = torch.tensor([[tokenizer.cls_token_id, int(t), tokenizer.sep_token_id] for t in kept[start:start + 512]])
            hidden = model.base_model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
            token_out.append(hidden[:, 1].numpy())
            cls_out.append(hidden[:, 0].numpy())
    print(f"{len(kept)} tokens through the teacher in {time.perf_counter() - started:.0f} s")
    tables = {"input": model.get_input_embeddings().weight.detach().numpy()[kept],
              "output (token)": np.concatenate(token_out), "output (CLS)": np.concatenate(cls_out)}

    position = {int(t): i for i, t in enumerate(kept)}
    encoded = tokenizer(list(data.texts), truncation=True, max_length=args.max_length)["input_ids"]
    rows = [[position[t] for t in ids[1:-1] if t in position] for ids in encoded]
    results = []
    for name, embeddings in tables.items():
        for width in (None, args.width):
            table_ = pca(embeddings, width)
            x = np.stack([table_[r].mean(0) if r else np.zeros(table_.shape[1]) for r in rows])
            x = (x - x[train].mean(0)) / (x[train].std(0) + 1e-6)
            model_ = LogisticRegression(max_iter=2000).fit(x[train], data.labels[train])
            results.append({"embeddings": name, "width": width or table_.shape[1],
                            "test acc": round(float(model_.score(x[test], data.labels[test])), 4)})
    print(f"catalog:{args.teacher} ({card['accuracy']:.4f} on the same {len(test)} held-out rows)")
    print(table(results))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
