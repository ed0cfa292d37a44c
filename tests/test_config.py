from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError


def test_precedence_flags_over_env_over_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[retrieval]\ntop_k = 7\ndense_weight = 0.3\n")
    assert load_settings(config).retrieval.top_k == 7
    monkeypatch.setenv("QUOTEBOT_RETRIEVAL__TOP_K", "5")
    settings = load_settings(config)
    assert (settings.retrieval.top_k, settings.retrieval.dense_weight) == (5, 0.3)
    assert load_settings(config, {"retrieval": {"top_k": 2}}).retrieval.top_k == 2


def test_unknown_key_is_named(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[retrieval]\ntopk = 3\n")
    with pytest.raises(ConfigError, match=r"retrieval\.topk"):
        load_settings(config)


def test_retired_keyword_budgets_are_ignored_with_a_warning(tmp_path: Path) -> None:
    """Configs copied from an earlier example still load: the keyword budgets are gone (keyword
    search is exact), another unknown key in the same section is still refused."""
    config = tmp_path / "quotebot.toml"
    config.write_text("[postgres]\nef_search = 300\nkeyword_rescored = 1000\n")
    with pytest.warns(FutureWarning, match="keyword_rescored: no longer used"):
        assert load_settings(config).postgres.ef_search == 300
    config.write_text("[postgres]\nkeyword_rescored = 1000\nef_serch = 3\n")
    with pytest.warns(FutureWarning), pytest.raises(ConfigError, match="ef_serch"):
        load_settings(config)


def test_secret_in_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[discord]\ntoken = "abc.def.ghi"\n')
    with pytest.raises(ConfigError, match="environment") as caught:
        load_settings(config)
    assert "abc.def.ghi" not in str(caught.value)


@pytest.mark.parametrize(
    "name", ["QUOTEBOT_DISCORD__TOKEN", "QUOTEBOT_DISCORD_TOKEN", "quotebot_discord__token"]
)
def test_token_variable_under_quotebot_says_to_use_discord_token(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """pydantic-settings would say "discord.token: Extra inputs are not permitted" (or, for one
    underscore, ignore it silently)."""
    monkeypatch.setenv(name, "abc.def.ghi")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert str(caught.value) == (
        f"{name} is not read: the Discord bot token comes only from the DISCORD_TOKEN "
        f"environment variable; set that instead and unset {name}"
    )
    assert "abc.def.ghi" not in str(caught.value)


def test_discord_connect_retry_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings(None).discord.connect_retry_seconds == 900.0
    monkeypatch.setenv("QUOTEBOT_DISCORD__CONNECT_RETRY_SECONDS", "2.5")
    monkeypatch.setenv("QUOTEBOT_DISCORD__CONNECT_RETRY_MAX_DELAY_SECONDS", "0.3")
    discord = load_settings(None).discord
    assert (discord.connect_retry_seconds, discord.connect_retry_max_delay_seconds) == (2.5, 0.3)
    monkeypatch.setenv("QUOTEBOT_DISCORD__CONNECT_RETRY_SECONDS", "-1")
    with pytest.raises(ConfigError, match=r"discord\.connect_retry_seconds"):
        load_settings(None)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml")


def test_example_config_is_valid_and_complete() -> None:
    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    assert load_settings(example) == load_settings(None)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("[discord]\nshard_id = 1\n", "go together"),
        ("[discord]\nshard_id = 2\nshard_count = 2\n", "below shard_count"),
        ("[discord]\nshard_count = 2\n", r"shard_count needs shard_id \(one shard\) or shard_ids"),
        ("[discord]\nshard_ids = [0]\n", "shard_ids needs shard_count"),
        ("[discord]\nshard_id = 0\nshard_ids = [1]\nshard_count = 2\n", "not both"),
        ("[discord]\nshard_ids = []\nshard_count = 2\n", "shard_ids is empty"),
        (
            "[discord]\nshard_ids = [0, 2, -1]\nshard_count = 2\n",
            r"between 0 and 1 \(shard_count is 2\); got \[2, -1\]",
        ),
        ("[discord]\nshard_ids = [1, 0, 1]\nshard_count = 2\n", r"twice: \[1, 0, 1\]"),
    ],
)
def test_shard_settings_are_checked(tmp_path: Path, section: str, message: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(section)
    with pytest.raises(ConfigError, match=message):
        load_settings(config)


def test_a_range_of_shards_from_toml_or_a_json_list_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[discord]\nshard_ids = [2, 3]\nshard_count = 4\n")
    discord = load_settings(config).discord
    assert (discord.shard_ids, discord.shard_count, discord.shard_id) == ([2, 3], 4, None)
    monkeypatch.setenv("QUOTEBOT_DISCORD__SHARD_IDS", "[0, 1]")
    assert load_settings(config).discord.shard_ids == [0, 1]
    monkeypatch.setenv("QUOTEBOT_DISCORD__SHARD_IDS", "0,1")  # not JSON: refused, not guessed
    with pytest.raises(ConfigError, match=r"discord\.shard_ids: Input should be a valid list"):
        load_settings(config)
