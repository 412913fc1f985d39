"""Why two characters read alike, in words a writer can check: the roles they share, the traits and the manner of
speaking their profiles both name. The closeness itself comes from their profile embeddings (Character.similar_to);
this only explains it, from the profile fields."""

import re

import numpy as np

# Two characters of one story this close in who they are read as one person written twice (tuned on profiles
# written for the tests: a copy with a changed name and a few words is above 0.9, distinct people below 0.75).
LOOK_ALIKE = 0.88
# The most cast members compared pairwise on the cast page (a cast past this is compared by its first members).
MOST_COMPARED = 200
WORD_RE = re.compile(r"[a-z][a-z'-]{3,}")
FIELD_CHARS = 5000  # the part of each profile field read for shared words
COMMON_WORDS = """about above after again against always among another anyone anything around because been before being
    below between both cannot could does doing down during each even every from further have having here hers
    herself himself into itself just know like little made make many more most much must never once only other
    ought ours over same seems shall should some such than that their theirs them themselves then there these
    they this those through under until very want were what when where which while whom whose will with would
    your yours also often still rather quite really though wants wanted tries trying someone"""
COMMON = frozenset(COMMON_WORDS.split())


def salient_words(text: str) -> list[str]:
    """The words that say something, in the order the text gives them (once each)."""
    words = (w.strip("'-") for w in WORD_RE.findall(text[:FIELD_CHARS].lower()))
    return list(dict.fromkeys(w for w in words if w not in COMMON))


def shared(a: str, b: str, most: int = 4) -> list[str]:
    """The first `most` words of `a` that `b` uses too (a profile names what matters most first)."""
    theirs = set(salient_words(b))
    return [w for w in salient_words(a) if w in theirs][:most]


def reasons(character, other, roles: dict[int, set[str]]) -> list[str]:
    """What `character` and `other` have in common, as short phrases (roles: character id -> role labels)."""
    found = []
    common_roles = sorted(roles.get(character.pk, set()) & roles.get(other.pk, set()))
    if common_roles:
        found.append("both " + " and ".join(role.lower() for role in common_roles))
    traits = shared(f"{character.personality} {character.goals}", f"{other.personality} {other.goals}")
    if traits:
        found.append("traits: " + ", ".join(traits))
    voice = shared(character.speech_pattern, other.speech_pattern, most=3)
    if voice:
        found.append("voice: " + ", ".join(voice))
    looks = shared(character.appearance, other.appearance, most=3)
    if looks:
        found.append("looks: " + ", ".join(looks))
    return found


def look_alike_pairs(characters: list, threshold: float = LOOK_ALIKE) -> list[tuple]:
    """(a, b, similarity) for the characters whose profile embeddings are at least `threshold` alike, closest first.
    Characters without an embedding are left out; at most MOST_COMPARED are compared."""
    with_vectors = [c for c in characters if c.profile_embedding is not None][:MOST_COMPARED]
    if len(with_vectors) < 2:
        return []
    matrix = np.array([np.asarray(c.profile_embedding, dtype=np.float32) for c in with_vectors])
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    similarity = matrix @ matrix.T
    pairs = [
        (with_vectors[i], with_vectors[j], float(similarity[i, j]))
        for i, j in zip(*np.triu_indices(len(with_vectors), k=1), strict=True)
        if similarity[i, j] >= threshold
    ]
    return sorted(pairs, key=lambda pair: -pair[2])
