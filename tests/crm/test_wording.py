"""The words the CRM writes into records (crm.wording) exist in every language a user may
choose."""

from __future__ import annotations

from crm.services import users
from crm.wording import WORDS, written


def test_every_written_word_has_every_language() -> None:
    for word, forms in WORDS.items():
        assert set(forms) == set(users.LANGUAGES) - {"en"}, word
        assert all(forms.values()), word


def test_english_and_an_unknown_word_are_written_as_they_are() -> None:
    assert written("Meeting", "en") == "Meeting"
    assert written("Meeting", "cs") == "Schůzka"
    assert written("Lunch", "pl") == "Lunch"
