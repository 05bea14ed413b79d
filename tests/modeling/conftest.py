"""Fine-tunes in these tests cache their tokenised examples in a temporary data directory, never in ./data."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory):
    """Session-wide, so module-scoped fixtures that fine-tune see it too (subprocesses inherit it)."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("data")
        patch.setenv("RADIMPRESS_DATA_DIR", str(folder))
        yield folder
