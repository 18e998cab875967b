import pytest

from rag.errors import ConfigError
from rag.settings import Settings
from rag.templates import PLACEHOLDERS, load_prompt


def test_precedence_defaults_file_env_arguments(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('top_k = 7\nmodel = "from-file"\ncollection = "file-coll"\n')
    env = {"RAG_CONFIG": str(cfg), "RAG_TOP_K": "9", "RAG_INDEX_DIR": str(tmp_path / "env-index")}
    s = Settings.load(environ=env, top_k=3, model=None)
    assert s.top_k == 3  # argument beats environment
    assert s.model == "from-file"  # a None argument does not mask the file
    assert s.collection == "file-coll"
    assert s.index_dir == tmp_path / "env-index"
    assert s.chunk_tokens == 128  # default
    assert Settings.load(environ=env).top_k == 9  # environment beats file


def test_unknown_key_in_config_file_names_the_known_ones(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("topk = 3\n")
    with pytest.raises(ConfigError, match="Unknown setting.*topk.*known settings: index_dir"):
        Settings.load(environ={"RAG_CONFIG": str(cfg)})


def test_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match=r"top_k \(RAG_TOP_K\).*'lots'"):
        Settings.load(environ={"RAG_TOP_K": "lots"})
    with pytest.raises(ConfigError, match="backend"):
        Settings.load(environ={"RAG_BACKEND": "gpt"})


def test_missing_explicit_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(environ={"RAG_CONFIG": str(tmp_path / "nope.toml")})


def test_secrets_stay_out_of_the_hash_and_the_printout():
    a = Settings.load(environ={"OPENAI_API_KEY": "sk-secret-1"})
    b = Settings.load(environ={"OPENAI_API_KEY": "sk-secret-2"})
    assert a.settings_hash() == b.settings_hash()
    assert "sk-secret" not in str(a.public_dict()) and a.public_dict()["openai_api_key"] == "set"
    assert a.settings_hash() != a.replace(top_k=9).settings_hash()


def test_every_bundled_prompt_loads_with_its_placeholders():
    for name in PLACEHOLDERS:
        assert load_prompt(name).template.strip()


def test_a_prompt_that_lost_a_placeholder_is_refused(tmp_path):
    (tmp_path / "answer_user.txt").write_text("Question: {question}\nAnswer with care. {extra}")
    with pytest.raises(ConfigError, match=r"missing \{sources\}, unknown \{extra\}"):
        load_prompt("answer_user", tmp_path)
    assert "{sources}" in load_prompt("answer_user").template  # others still come from the bundle


def test_unknown_rag_variables_are_named_with_the_closest_known_one():
    from rag.settings import unknown_variables

    env = {"RAG_TOPK": "9", "RAG_INDEXDIR": "/x", "RAG_NOTHING_LIKE_IT": "1", "HOME": "/root"}
    found = unknown_variables(env)
    assert found["RAG_TOPK"] == "unknown environment variable RAG_TOPK (did you mean RAG_TOP_K?)"
    assert "did you mean RAG_INDEX_DIR?" in found["RAG_INDEXDIR"]
    assert "did you mean" not in found["RAG_NOTHING_LIKE_IT"] and "rag config" in found["RAG_NOTHING_LIKE_IT"]
    assert set(found) == {"RAG_TOPK", "RAG_INDEXDIR", "RAG_NOTHING_LIKE_IT"}


def test_every_variable_a_setting_reads_is_known():
    from rag.settings import unknown_variables

    env = {f"RAG_{name.upper()}": "x" for name in Settings.model_fields}
    env.update({"RAG_CONFIG": "c.toml", "RAG_OPENAI_API_KEY": "k", "RAG_OPENAI_BASE_URL": "u", "OPENAI_API_KEY": "k"})
    assert "RAG_UI_USERNAME" in env and "RAG_UI_PASSWORD" in env
    assert unknown_variables(env) == {}


def test_load_warns_about_an_unknown_variable_once_per_process(monkeypatch):
    import warnings

    from rag import settings
    from rag.errors import RagWarning

    monkeypatch.setattr(settings, "_WARNED_ENV", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = Settings.load(environ={"RAG_TOPK": "9"})
        Settings.load(environ={"RAG_TOPK": "9"})
    assert [str(w.message) for w in caught if w.category is RagWarning] == [
        "unknown environment variable RAG_TOPK (did you mean RAG_TOP_K?)"
    ]
    assert first.top_k == 5  # still ignored: only named
