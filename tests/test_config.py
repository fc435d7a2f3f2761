"""Configuration files: dlcards.toml or [tool.dlcards] in pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlcards.config import Config, ConfigError, load_config


def test_no_config_gives_defaults(tmp_path: Path) -> None:
    """Without a config file every setting has its default."""
    assert load_config(tmp_path) == Config()


def test_dlcards_toml_is_read_relative_to_its_folder(tmp_path: Path) -> None:
    """Every key of dlcards.toml is read; paths are relative to the file's folder."""
    (tmp_path / "dlcards.toml").write_text(
        'notes = "vault"\ndecks = "out"\ntags = ["prep"]\npackaging = "single"\noutput = "out/all.apkg"\n'
        '[deck_names]\n"deep-learning/" = "DL"\n',
        encoding="utf-8",
    )
    config = load_config(tmp_path)
    assert config == Config(
        notes=tmp_path / "vault",
        decks=tmp_path / "out",
        tags=("prep",),
        packaging="single",
        output=tmp_path / "out/all.apkg",
        deck_names={"deep-learning": "DL"},
        origin=str(tmp_path / "dlcards.toml"),
    )


def test_pyproject_tool_table_is_read(tmp_path: Path) -> None:
    """[tool.dlcards] in pyproject.toml works when there is no dlcards.toml."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.dlcards]\nnotes = "n"\n', encoding="utf-8"
    )
    assert load_config(tmp_path).notes == tmp_path / "n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('note = "x"\n', "unknown key 'note'; did you mean 'notes'?"),
        ('packaging = "one"\n', "packaging must be one of per-deck, single"),
        ("tags = 3\n", "tags must be a list of tags"),
        ("notes = [\n", "invalid TOML"),
        ('[deck_names]\nx = ""\n', "deck_names.'x' must be a deck name"),
    ],
)
def test_bad_config_is_an_error_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    """Unknown keys (with a suggestion), wrong types and bad TOML are errors naming the file."""
    (tmp_path / "dlcards.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / 'dlcards.toml'}: ")
    assert message in str(error.value)


def test_unknown_key_in_pyproject_is_named_with_its_table(tmp_path: Path) -> None:
    """In pyproject.toml the key is named with its table, tool.dlcards."""
    (tmp_path / "pyproject.toml").write_text("[tool.dlcards]\ndeck = 'x'\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"unknown key tool\.dlcards\.'deck'; did you mean tool\.dlcards\.'decks'\?"
    ):
        load_config(tmp_path)
