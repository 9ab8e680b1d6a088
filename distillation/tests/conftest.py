import os

import pytest


@pytest.fixture(scope="session")
def catalog_home(tmp_path_factory):
    """A PRSM_HOME with the digits-mlp catalog teacher built (quick), shared by workers started later."""
    home = tmp_path_factory.mktemp("prsm-home")
    previous = os.environ.get("PRSM_HOME")
    os.environ["PRSM_HOME"] = str(home)
    from prsm.engine.catalog import catalog_build

    catalog_build("digits-mlp", quick=True)
    yield home
    if previous is None:
        os.environ.pop("PRSM_HOME", None)
    else:
        os.environ["PRSM_HOME"] = previous
