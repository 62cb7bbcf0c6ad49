"""What the CRM itself writes into records, in the language of the user who acts.

A deal action stores an activity titled "Meeting: <deal>" and a closed deal a note "WON – Price";
those texts are data (they are searched, exported and read in other clients), so they are written
once, in the actor's language (``User.language``), not translated each time they are shown. crm
has no message catalog of its own: these few words are kept here, per language, and a test checks
that every word has every language.
"""

from __future__ import annotations

# English word -> its form per language (English is the word itself).
WORDS: dict[str, dict[str, str]] = {
    "Task": {"cs": "Úkol", "sk": "Úloha", "pl": "Zadanie"},
    "Call": {"cs": "Hovor", "sk": "Hovor", "pl": "Rozmowa"},
    "Meeting": {"cs": "Schůzka", "sk": "Stretnutie", "pl": "Spotkanie"},
    "Close": {"cs": "Uzavření", "sk": "Uzavretie", "pl": "Zamknięcie"},
    "Next contact": {"cs": "Další kontakt", "sk": "Ďalší kontakt", "pl": "Następny kontakt"},
    "WON": {"cs": "VYHRÁNO", "sk": "VYHRANÉ", "pl": "WYGRANA"},
    "LOST": {"cs": "PROHRÁNO", "sk": "PREHRANÉ", "pl": "PRZEGRANA"},
}


def written(word: str, language: str) -> str:
    """``word`` as a user of ``language`` writes it (English for a language without it)."""
    return WORDS.get(word, {}).get(language, word)
