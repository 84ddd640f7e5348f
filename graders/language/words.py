"""Words that carry no content, and the stemmer: the word rules the graders share.

One list of function words; the two places that grade by a shorter list take a named part of
it (each part was tuned with the grades it gives: a longer list would change them).
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text`` as a set."""
    return frozenset(text.split())


# In every list: articles, the commonest prepositions and conjunctions, "be", "it", "that".
_CORE = word_set("a an the of to in on for and or is are be it its that with by as at from")

# Function words carry no content of an answer; a short fixed list keeps the calibration's
# word-overlap features (graders.calibration.features) stable.
FUNCTION_WORDS = _CORE | frozenset(
    re.findall(
        r"\w+",
        """was were been being this these those which who whom what when where how why not no
        can could should would will shall may might must do does did has have had i you he she
        we they them their there here than then so such into out up down over under about also
        only just each any all some more most other own same very if but because while per via""",
    )
)

# Skipped around a negator or a scale word when looking for what an answer says the opposite
# of (graders.language.opposites; compared with stems). "model(s)" is the lessons' subject.
OPPOSITES_SKIPPED = (
    _CORE | word_set("was were this do does did can will would should") | word_set("model models")
)

# End the noun phrase after a number in a question ("two of the benefits"):
# graders.language.reference_parsing.
COUNT_PHRASE_ENDS = _CORE | word_set("each which who their them you your per than")


@lru_cache(maxsize=1)
def stemmer() -> snowballstemmer.stemmer:
    """The English Snowball stemmer (one instance: building it is not free)."""
    return snowballstemmer.stemmer("english")
