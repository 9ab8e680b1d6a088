"""Attention's matrix products are counted: a Hugging Face model on the CPU runs them inside
``scaled_dot_product_attention``, which torch's FlopCounterMode has no formula for."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from prsm.engine.adapters import SequenceAdapter
from prsm.engine.evaluation.cost import flops_per_example
from prsm.engine.evaluation.onnx_profile import onnx_profile
from prsm.engine.export.onnx import export_onnx

LAYERS, HEADS, HIDDEN, SEQUENCE = 2, 4, 32, 16


def tiny_bert(attention: str = "sdpa"):
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=30, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                        intermediate_size=64, max_position_embeddings=64, num_labels=2)
    config._attn_implementation = attention
    torch.manual_seed(0)
    return BertForSequenceClassification(config).eval()


def tokens(batch: int = 1) -> dict[str, np.ndarray]:
    ids = np.random.default_rng(0).integers(5, 30, (batch, SEQUENCE)).astype(np.int64)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids)}


def torch_flops(model, example: dict[str, np.ndarray]) -> int:
    def run():
        with torch.inference_mode():
            return model(**{name: torch.from_numpy(array[:1]) for name, array in example.items()}).logits

    return flops_per_example(run, 1)


def test_a_tiny_bert_counts_what_its_onnx_export_counts(tmp_path):
    model, example = tiny_bert(), tokens(2)
    path = export_onnx(model, SequenceAdapter(None), example, tmp_path / "bert.onnx", ["a", "b"])

    profile = onnx_profile(path, example)
    counted = torch_flops(model, example)

    assert counted == pytest.approx(profile["flops_matmul_conv"], rel=0.02)
    with FlopCounterMode(display=False) as plain, torch.inference_mode():  # torch's counter as it comes
        model(**{name: torch.from_numpy(array[:1]) for name, array in example.items()})
    attention = LAYERS * 2 * (2 * HEADS * SEQUENCE * SEQUENCE * (HIDDEN // HEADS))  # Q @ K^T and A @ V per layer
    assert counted == plain.get_total_flops() + attention


def test_the_sdpa_and_eager_attention_paths_count_the_same():
    example = tokens()

    assert torch_flops(tiny_bert("sdpa"), example) == torch_flops(tiny_bert("eager"), example)


@pytest.mark.parametrize(("query", "key", "value"), [
    ((2, 4, 16, 8), (2, 4, 16, 8), (2, 4, 16, 8)),
    ((3, 10, 6), (3, 7, 6), (3, 7, 5)),  # no heads axis, another key length and value width
])
def test_a_bare_attention_call_counts_its_two_products(query, key, value):
    q, k, v = torch.randn(query), torch.randn(key), torch.randn(value)
    *leading, s_q, d_k = query

    assert flops_per_example(lambda: F.scaled_dot_product_attention(q, k, v), 1) == (
        2 * int(np.prod(leading)) * s_q * key[-2] * (d_k + value[-1]))
