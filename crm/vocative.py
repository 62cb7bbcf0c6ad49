"""The Czech vocative (5th case) of names, for salutations: "Vážený pane Dvořáku".

Letters and mail address a person in the vocative, which Czech forms from the nominative by
the ending of the word. These rules cover the common surname and first-name endings; they are
a suggestion the user may correct, never applied behind their back. Women's surnames
(-ová, adjectival -á) and adjectival men's surnames (-ý, -í) do not change. A salutation may
name the degree instead of the surname ("Vážený pane inženýre"): ``salutations`` offers both.
"""

from __future__ import annotations

from crm.person_names import NameParts

# First names whose vocative the endings do not predict.
_FIRST_NAMES = {
    "Pavel": "Pavle", "Karel": "Karle", "Michal": "Michale", "Daniel": "Danieli",
    "Petr": "Petře", "Alexandr": "Alexandře", "Jan": "Jane", "Josef": "Josefe",
    "Marek": "Marku", "Tomáš": "Tomáši", "Jiří": "Jiří", "Ondřej": "Ondřeji",
    "Hugo": "Hugo", "Leo": "Leo", "Otto": "Otto", "Marie": "Marie", "Lucie": "Lucie",
}  # fmt: skip
_SOFT = "šžčřcjťďňsxzl"
_VELAR = ("k", "h", "g", "ch")
# The degree as a man and as a woman are addressed by it.
_TITLE_VOCATIVES = {
    "Ing.": ("inženýre", "inženýrko"),
    "Ing. arch.": ("inženýre", "inženýrko"),
    "Mgr.": ("magistře", "magistro"),
    "MUDr.": ("doktore", "doktorko"),
    "MVDr.": ("doktore", "doktorko"),
    "JUDr.": ("doktore", "doktorko"),
    "PhDr.": ("doktore", "doktorko"),
    "RNDr.": ("doktore", "doktorko"),
    "PharmDr.": ("doktore", "doktorko"),
    "PaedDr.": ("doktore", "doktorko"),
    "Dr.": ("doktore", "doktorko"),
    "doc.": ("docente", "docentko"),
    "prof.": ("profesore", "profesorko"),
}


def is_female(parts: NameParts) -> bool:
    """Czech women's surnames end in -ová or the adjectival -á (Nováková, Černá)."""
    last = parts.last_name.casefold()
    if last:
        return last.endswith("á")
    return parts.first_name.casefold().endswith(("a", "e"))


def vocative(word: str, *, female: bool = False) -> str:
    """The vocative of one Czech name (surname or first name); unknown shapes stay as given."""
    if not word or not word.isalpha():
        return word
    if word in _FIRST_NAMES:
        return _FIRST_NAMES[word]
    low = word.casefold()
    if female:
        # Women's surnames keep their form; first names in -a take -o (Jana → Jano).
        return word[:-1] + "o" if low.endswith("a") and not low.endswith("ia") else word
    if low.endswith(("ý", "í", "é", "o", "e", "i", "u", "ů", "y", "á")):
        return word
    if low.endswith("a"):
        return word[:-1] + "o"  # Svoboda → Svobodo, Procházka → Procházko
    if low.endswith("ek") and len(word) > 3:
        return word[:-2] + "ku"  # Marek → Marku, Havlíček → Havlíčku
    if low.endswith("ec") and len(word) > 3:
        return word[:-2] + "če"  # Němec → Němče
    if low.endswith("el") and len(word) > 3:
        return word[:-2] + "le"  # Havel → Havle
    if low.endswith("il"):
        return word + "e"  # Pospíšil → Pospíšile
    if low.endswith(_VELAR):
        return word + "u"  # Novák → Nováku, Dvořák → Dvořáku
    if low.endswith("r"):
        # After a consonant -r softens (Petr → Petře), after a vowel it takes -e (Kašpar → Kašpare).
        return word[:-1] + "ře" if low[-2:-1] not in "aeiouyáéíóúůý" else word + "e"
    if low[-1] in _SOFT:
        return word + "i"  # Beneš → Beneši, Král → Králi
    return word + "e"  # Zeman → Zemane, Holub → Holube


def suggest_salutation(parts: NameParts) -> str:
    """The salutation "Vážený pane Dvořáku" / "Vážená paní Marková"; "" without a name."""
    female = is_female(parts)
    name = parts.last_name or parts.first_name
    if not name or " " in name:
        return ""
    if female:
        return f"Vážená paní {vocative(name, female=True) if not parts.last_name else name}"
    return f"Vážený pane {vocative(name)}"


def salutations(parts: NameParts) -> list[str]:
    """The salutations a form offers: by surname, and by the highest degree before the name."""
    out = [s for s in (suggest_salutation(parts),) if s]
    female = is_female(parts)
    for title in parts.title_before.split():
        forms = _TITLE_VOCATIVES.get(title)
        if forms:
            out.append(f"Vážená paní {forms[1]}" if female else f"Vážený pane {forms[0]}")
            break
    return out
