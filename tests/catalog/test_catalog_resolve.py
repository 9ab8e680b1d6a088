import pytest

from prsm.engine.catalog import CATALOG_NAMES, CatalogError, catalog_build, catalog_list, default_data, resolve
from prsm.engine.errors import BadInput


def test_resolving_a_teacher_that_is_not_built_names_the_command_that_builds_it(prsm_home):
    with pytest.raises(CatalogError) as error:
        resolve("catalog:fashion-cnn")
    assert "prsm catalog build fashion-cnn" in str(error.value)


def test_resolving_an_unknown_name_lists_the_catalog(prsm_home):
    with pytest.raises(CatalogError) as error:
        resolve("catalog:gpt-17")
    assert "gpt-17" in str(error.value)
    assert all(name in str(error.value) for name in CATALOG_NAMES)


def test_catalog_errors_are_bad_input_so_the_cli_exits_2():
    assert issubclass(CatalogError, BadInput)


def test_a_built_teacher_resolves_to_its_folder_and_the_list_shows_it_built(prsm_home):
    before = {row["name"]: row for row in catalog_list()}
    assert before["digits-mlp"]["status"] == "not built" and before["digits-mlp"]["accuracy"] is None
    folder = catalog_build("digits-mlp", quick=True)
    assert resolve("catalog:digits-mlp") == folder == prsm_home / "catalog" / "digits-mlp"
    after = {row["name"]: row for row in catalog_list()}
    assert after["digits-mlp"]["status"] == "built" and after["digits-mlp"]["quick"] is True
    assert 0.0 < after["digits-mlp"]["accuracy"] <= 1.0
    assert after["fashion-cnn"]["status"] == "not built"


def test_every_entry_lists_its_task_and_data_set(prsm_home):
    rows = catalog_list()
    assert [row["name"] for row in rows] == list(CATALOG_NAMES)
    assert {row["task"] for row in rows} == {"tabular", "image", "text"}
    assert all(row["dataset"].startswith("builtin:") and row["params"] > 0 for row in rows)


def test_a_catalog_teacher_defaults_to_the_data_it_was_built_on():
    assert default_data("catalog:sentiment-minilm") == "builtin:movie-reviews"
    assert default_data("catalog:digits-mlp") == "builtin:digits"


def test_the_held_out_rows_of_a_built_teacher_are_known_to_the_engine(prsm_home):
    from prsm.engine.catalog import heldout_indices, read_card

    with pytest.raises(CatalogError, match="prsm catalog build digits-mlp"):
        heldout_indices("catalog:digits-mlp")
    catalog_build("digits-mlp", quick=True)
    rows = heldout_indices("catalog:digits-mlp")
    assert rows == read_card("digits-mlp")["heldout"]["indices"] and len(set(rows)) == len(rows) > 0
