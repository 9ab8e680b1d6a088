import argparse
import json

import pytest

from prsm.engine.catalog.cli import add_parser


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="prsm")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_prsm_catalog_lists_every_teacher_with_its_status(prsm_home, capsys):
    assert run(["catalog"]) == 0
    out = capsys.readouterr().out
    for name in ("digits-mlp", "fashion-cnn", "sentiment-minilm", "sentiment-mpnet"):
        assert name in out
    assert "not built" in out and "prsm catalog build NAME" in out


def test_prsm_catalog_build_shows_progress_and_then_the_list_says_built(prsm_home, capsys):
    assert run(["catalog", "build", "digits-mlp", "--quick"]) == 0
    captured = capsys.readouterr()
    assert "digits-mlp: train" in captured.err and "100%" in captured.err
    assert "held-out accuracy" in captured.out
    assert run(["catalog", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["digits-mlp"]["status"] == "built" and rows["sentiment-mpnet"]["status"] == "not built"


def test_building_an_unknown_name_is_a_usage_error(prsm_home, capsys):
    with pytest.raises(SystemExit) as exit_:
        run(["catalog", "build", "gpt-17"])
    assert exit_.value.code == 2
    assert "gpt-17" in capsys.readouterr().err
