import pytest

from common.providers.local.synth.genres import GENRE_BY_NAME, GENRES
from common.providers.local.synth.style import MOODS, read_style


@pytest.mark.parametrize(
    ("prompt", "genre"),
    [
        ("lofi hip hop beats to study to", "lofi"),
        ("Lo-Fi chill", "lofi"),
        ("boom bap hip-hop", "hiphop"),
        ("hard rap track", "hiphop"),
        ("upbeat summer pop", "pop"),
        ("indie rock", "rock"),
        ("dark grunge", "rock"),
        ("smooth jazz lounge", "jazz"),
        ("bossa nova", "jazz"),
        ("calm ambient meditation", "ambient"),
        ("euphoric edm", "electronic"),
        ("deep house", "electronic"),
        ("epic cinematic trailer", "cinematic"),
        ("orchestral film score", "cinematic"),
        ("acoustic folk campfire", "folk"),
        ("country road", "folk"),
        ("classical piano nocturne", "classical"),
        ("a chopin waltz", "classical"),
    ],
)
def test_prompt_words_choose_the_genre(prompt, genre):
    assert read_style(prompt).genre.name == genre


@pytest.mark.parametrize("genre", GENRES, ids=lambda g: g.name)
def test_tempo_stays_in_the_genre_range_whatever_the_mood(genre):
    name = next(iter(genre.words))
    for mood in MOODS:
        style = read_style(f"{name} {next(iter(mood.words))}")
        assert style.genre is genre
        assert genre.bpm[0] <= style.bpm <= genre.bpm[1]


def test_mood_words_move_tempo_and_choose_the_mode():
    sad = read_style("sad pop song")
    happy = read_style("happy pop song")
    energetic = read_style("energetic pop song")
    assert sad.mode == "minor" and happy.mode == "major"
    assert sad.bpm < happy.bpm <= energetic.bpm
    assert read_style("dark jazz").mode == "minor"
    assert read_style("dreamy jazz").mode == "major"
    assert read_style("calm rock").bpm < read_style("energetic rock").bpm


@pytest.mark.parametrize(
    ("prompt", "key"),
    [
        ("sad song in D major", "D major"),
        ("happy tune in F# minor", "F# minor"),
        ("jazz in Bb major", "Bb major"),
        ("edm in e minor, 128 bpm", "E minor"),
        ("lofi in Eb min", "Eb minor"),
    ],
)
def test_an_explicit_key_wins(prompt, key):
    assert read_style(prompt).key_name == key


def test_an_explicit_tempo_wins_over_the_genre_range():
    style = read_style("ambient at 150 bpm")
    assert (style.genre.name, style.bpm, style.bpm_explicit) == ("ambient", 150, True)


@pytest.mark.parametrize("prompt", ["xyzzy plugh", "", None, "a song about my cat"])
def test_unknown_prompts_still_get_a_coherent_style_chosen_from_the_text(prompt):
    style = read_style(prompt)
    assert style == read_style(prompt)
    assert style.genre.bpm[0] <= style.bpm <= style.genre.bpm[1]
    assert style.genre is GENRE_BY_NAME[style.genre.name]


def test_unknown_prompts_spread_over_genres_and_keys():
    styles = [read_style(f"untitled {i}") for i in range(60)]
    assert len({s.genre.name for s in styles}) >= 6
    assert len({s.tonic for s in styles}) >= 8
