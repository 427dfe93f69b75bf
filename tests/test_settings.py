from __future__ import annotations

from pathlib import Path

import pytest

from qa.settings import SHIPPED_READER, InvalidSetting, Settings


def test_env_then_overrides():
    env = {
        "QA_INDEX_DIR": "/tmp/x",
        "QA_TOP_K": "7",
        "QA_ANSWER_THRESHOLD": "0.3",
        "QA_CORPUS": "a:b",
        "QA_API_TOKEN": "t",
    }
    s = Settings.from_env(env, top_k=9, reader=None)
    assert s.index_dir == Path("/tmp/x") and s.top_k == 9 and s.answer_threshold == 0.3
    assert s.corpus == [Path("a"), Path("b")] and s.api_token == "t" and s.reader == "auto"


def test_defaults_are_relative_to_the_working_directory():
    s = Settings.from_env({})
    assert s.index_dir == Path("index") and s.corpus == [Path("seeds")]
    assert Path(s.embed_model).is_dir()  # the packaged MiniLM, nothing to download
    assert s.reader_path == str(SHIPPED_READER)


def test_bad_env_value_names_the_variable():
    with pytest.raises(ValueError, match="QA_TOP_K"):
        Settings.from_env({"QA_TOP_K": "many"})


def test_groups_hold_each_field_once_and_flat_names_reach_them():
    env = {"QA_STORE": "pgvector", "QA_READER_PASSAGES": "2", "QA_STORE_TIMEOUT": "1.5"}
    s = Settings.from_env(env, top_k=3)
    assert s.storage.store == "pgvector" and s.reading.reader_passages == 2
    assert s.storage.store_timeout == 1.5 == s.store_timeout  # the store's, beside its pool
    assert s.retrieval.top_k == 3 == s.top_k  # flat reads still work for scripts
    changed = s.replace(top_k=4, answer_threshold=0.5)
    assert (changed.retrieval.top_k, changed.reading.answer_threshold) == (4, 0.5)
    assert s.retrieval.top_k == 3
    assert changed.storage == s.storage and changed.storage is not s.storage  # copied, not shared
    with pytest.raises(TypeError, match="no field 'topk'"):
        Settings(topk=3)


@pytest.mark.parametrize(
    ("env", "overrides", "message"),
    [
        ({"QA_TOP_K": "0"}, {}, "QA_TOP_K=0: top_k must be between 1 and 100"),
        ({"QA_TOP_K": "101"}, {}, "QA_TOP_K=101: top_k must be between 1 and 100"),
        ({}, {"top_k": 0}, "top_k must be between 1 and 100"),
        ({"QA_MAX_TOP_K": "3"}, {"top_k": 5}, "top_k must be between 1 and 3"),
        ({"QA_MAX_BATCH": "0"}, {}, "QA_MAX_BATCH=0: max_batch must be a whole number"),
        ({"QA_STORE_TIMEOUT": "0"}, {}, "QA_STORE_TIMEOUT=0: store_timeout must be a number"),
        ({"QA_STORE_TIMEOUT": "nan"}, {}, "QA_STORE_TIMEOUT=nan: store_timeout must be a number"),
        ({}, {"store_timeout": -1.0}, "store_timeout must be a number of seconds above 0"),
    ],
)
def test_values_the_service_refuses_are_refused_at_start_up_in_its_words(
    env: dict[str, str], overrides: dict[str, int], message: str
) -> None:
    """The same rule as a request's ``top_k`` (``LimitSettings.top_k_problem``, which
    ``qa.text.validate.check_top_k`` applies), so the words are the API's; a variable is named
    as the user set it."""
    with pytest.raises(InvalidSetting) as caught:
        Settings.from_env(env, **overrides)
    assert str(caught.value).startswith(message)
