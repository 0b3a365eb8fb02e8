"""The verdict probe on a character-level stand-in for llama.cpp: where it reads, what it masks."""

import math

import numpy as np

from accord.llm.local_verdicts import VerdictProbe, first_token_ids


class CharModel:
    """Token id = character code; a word-level token for each verdict, as real vocabularies have."""

    words = {"yes": 300, "no": 301}

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        word = text.decode()
        return [self.words[word]] if word in self.words else [ord(c) for c in word]

    def detokenize(self, tokens: list[int]) -> bytes:
        names = {v: k for k, v in self.words.items()}
        return "".join(names.get(t, chr(t)) for t in tokens).encode()


def _steps(probe: VerdictProbe, prompt: list[int], written: str) -> np.ndarray:
    """Feed the probe the answer one character at a time; the logits it returns at the last step."""
    logits = np.zeros(400)
    logits[300], logits[301] = math.log(3), math.log(1)  # "yes" three times as likely as "no"
    ids = list(prompt)
    probe(np.array(ids), logits.copy())
    out = logits
    for char in written:
        ids.append(ord(char))
        out = probe(np.array(ids), logits.copy())
    return out


def test_probe_reads_the_verdict_where_the_result_opens_and_masks_the_other_choices_when_forced() -> None:
    probe = VerdictProbe(CharModel(), ["yes", "no"])
    _steps(probe, [1, 2, 3], '{"result": "')
    assert probe.probabilities is not None
    assert abs(probe.probabilities["yes"] - 0.75) < 1e-9 and abs(probe.probabilities["no"] - 0.25) < 1e-9

    forced = VerdictProbe(CharModel(), ["yes", "no"], forced="no")
    out = _steps(forced, [1, 2, 3], '{ "result" : "')
    assert out[300] == -math.inf and out[301] == 0.0  # only "no" can be written


def test_probe_gives_nothing_when_the_answer_does_not_start_with_the_result() -> None:
    probe = VerdictProbe(CharModel(), ["yes", "no"])
    _steps(probe, [1], '{"rationale": "it looks fine to me, nothing to add", "result": "')
    assert probe.probabilities is None  # reason first: the verdict is conditioned on the reason


def test_choices_that_share_a_first_token_cannot_be_told_apart() -> None:
    assert first_token_ids(CharModel(), ["yes", "no"]) == [300, 301]
    assert first_token_ids(CharModel(), ["good", "great"]) is None  # both start with "g"
    assert VerdictProbe(CharModel(), ["good", "great"]).probabilities is None


def test_first_token_probe_reads_the_first_position_only() -> None:
    from accord.llm.local_verdicts import FirstTokenProbe

    probe = FirstTokenProbe(CharModel(), ["yes", "no"])
    logits = np.zeros(400)
    logits[300], logits[301] = math.log(1), math.log(4)
    probe(np.array([1, 2]), logits.copy())
    logits[300] = 10.0  # a later position changes nothing
    probe(np.array([1, 2, 3]), logits.copy())
    assert probe.probabilities is not None and abs(probe.probabilities["no"] - 0.8) < 1e-9
