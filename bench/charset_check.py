"""How often a non-UTF-8 text file is decoded to exactly the text that was written.

`python bench/charset_check.py` encodes short passages in 20 languages in their legacy encodings
(Latin-1, cp1252, cp125x, KOI8-R, ISO-8859-x, Shift-JIS, EUC, GB18030, Big5) and decodes them the
way quotebot does (bot.ingest.extraction.charset). It reports the accuracy of charset-normalizer alone,
of the preference for cp1252 with the tolerances in the module, and chooses those two tolerances
by leave-one-out cross-validation (each passage, in all its encodings, is held out together):
the held-out accuracy is the number to trust, the in-sample one is shown beside it.
"""

from __future__ import annotations

import itertools
import json
import sys

from bot.ingest.extraction import charset

# (language, text, encodings it is written in)
SAMPLES: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "fr",
        "Le café de la rue Saint-Honoré est fermé à cause de la grève. Où est mon élève? "
        "Ça va très bien, merci. Hélène a préféré rester à la maison.",
        ("latin-1", "cp1252"),
    ),
    ("fr-short", "Déjà vu à l'hôtel.", ("latin-1",)),
    (
        "de",
        "Die Straße war nass, und die Bäume schüttelten ihre Blätter. Über den Hügeln lag "
        "Nebel. Größere Fahrzeuge müssen jedoch einen Umweg fahren.",
        ("latin-1",),
    ),
    ("de-short", "Grüße aus München", ("latin-1",)),
    (
        "es",
        "El niño comió una manzana en la mañana. ¿Dónde está la estación? La canción terminó "
        "y todos aplaudieron.",
        ("latin-1",),
    ),
    (
        "pt",
        "A população da região aumentou. As eleições serão realizadas em outubro, e a votação "
        "começará às oito horas. Não há informações sobre a situação econômica.",
        ("latin-1",),
    ),
    (
        "it",
        "La città è molto bella e la gente è cordiale. Perché non vieni più spesso? Così "
        "potremmo andare al caffè.",
        ("latin-1",),
    ),
    (
        "nl",
        "Het café was gesloten, maar de financiële situatie is verbeterd. Hij zei: ‘Dat is "
        "geen probleem’.",
        ("cp1252",),
    ),
    (
        "sv",
        "Välkommen till Göteborg! Här är vädret ofta blåsigt, men sommaren är vacker och "
        "människorna är vänliga.",
        ("latin-1",),
    ),
    (
        "en-latin1",
        "The naïve café owner said the façade would cost £5,000. The résumé was sent on Monday.",
        ("latin-1",),
    ),
    (
        "en-cp1252",
        "He said “hello” — and left… The report’s conclusion was clear: costs rose by €5 "
        "million. “We can’t wait,” she said – and nobody disagreed.",
        ("cp1252",),
    ),
    ("en-quotes-short", "He said “hello” — and left… €5", ("cp1252",)),
    ("en-short", "The café owner said hello.\n", ("latin-1",)),
    ("en-word", "café", ("latin-1",)),
    (
        "ru",
        "Привет, как дела? Это русский текст. Москва является столицей России, и в ней живут "
        "миллионы людей. Погода сегодня хорошая.",
        ("cp1251", "koi8-r"),
    ),
    (
        "uk",
        "Київ є столицею України. Сьогодні гарна погода, і люди гуляють містом.",
        ("cp1251",),
    ),
    (
        "bg",
        "София е столицата на България. Днес времето е хубаво и хората се разхождат.",
        ("cp1251",),
    ),
    (
        "pl",
        "Zażółć gęślą jaźń. Wczoraj pojechaliśmy do Krakowa, gdzie zwiedziliśmy Wawel. Pogoda "
        "była piękna, a ludzie bardzo życzliwi.",
        ("cp1250", "iso8859-2"),
    ),
    (
        "cs",
        "Příliš žluťoučký kůň úpěl ďábelské ódy. Praha je hlavní město České republiky a leží "
        "na řece Vltavě.",
        ("cp1250",),
    ),
    (
        "hu",
        "Budapest Magyarország fővárosa. A Duna két partján fekszik, és sok szép épülete van.",
        ("cp1250",),
    ),
    (
        "el",
        "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας. Ο καιρός σήμερα είναι πολύ καλός και οι "
        "άνθρωποι είναι στους δρόμους.",
        ("cp1253", "iso8859-7"),
    ),
    (
        "tr",
        "İstanbul, Türkiye'nin en büyük şehridir. Bugün hava çok güzel ve insanlar sokaklarda "
        "yürüyor. Öğrenciler okula gidiyor.",
        ("cp1254",),
    ),
    (
        "he",
        "ירושלים היא בירת ישראל. היום מזג האוויר נעים והאנשים מטיילים ברחובות.",
        ("cp1255",),
    ),
    (
        "ar",
        "القاهرة هي عاصمة مصر. الطقس اليوم جميل والناس يتجولون في الشوارع.",
        ("cp1256",),
    ),
    (
        "ja",
        "日本語のテキストです。これは文書です。東京は大きい都市です。今日は天気がいいですね。",
        ("shift_jis", "euc-jp"),
    ),
    ("zh", "这是中文文本，用于测试编码检测。北京是中国的首都。今天天气很好。", ("gb18030",)),
    ("zh-tw", "這是繁體中文的文字。台北是台灣最大的城市。今天天氣很好。", ("big5",)),
    ("ko", "한국어 텍스트입니다. 서울은 대한민국의 수도입니다. 오늘 날씨가 좋습니다.", ("euc-kr",)),
]

GRID = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2]


def cases() -> list[tuple[str, str, bytes, str]]:
    """(sample name, encoding, bytes, expected text) for every sample in every encoding."""
    return [
        (name, encoding, text.encode(encoding), text)
        for name, text, encodings in SAMPLES
        for encoding in encodings
    ]


def correct(data: bytes, expected: str, tolerances: tuple[float, float] | None) -> bool:
    try:
        text, _ = charset.decode(data, tolerances=tolerances)
    except Exception:
        return False
    return text == expected


def binary_refused() -> tuple[int, int]:
    """(refused, tried): random bytes of 64, 300 and 4,096 bytes (with and without NUL bytes,
    or only high bytes) and the first 50 kB of /bin/ls when there is one."""
    import random

    from bot.ingest.extraction.plaintext import decode_text

    rng = random.Random(0)
    samples = [
        bytes(rng.randrange(low, 256) for _ in range(size))
        for size in (64, 300, 4096)
        for low in (0, 1, 128)
        for _ in range(10)
    ]
    try:
        with open("/bin/ls", "rb") as handle:
            samples.append(handle.read(50_000))
    except OSError:
        pass
    refused = 0
    for data in samples:
        try:
            decode_text(data)
        except Exception:
            refused += 1
    return refused, len(samples)


def main() -> int:
    all_cases = cases()
    names = sorted({case[0] for case in all_cases})
    outcome = {
        pair: {i: correct(data, text, pair) for i, (_, _, data, text) in enumerate(all_cases)}
        for pair in itertools.product(GRID, GRID)
    }
    alone = sum(correct(data, text, None) for _, _, data, text in all_cases)

    def accuracy(pair: tuple[float, float], keep: set[int]) -> float:
        return sum(outcome[pair][i] for i in keep) / len(keep)

    def best(keep: set[int]) -> tuple[float, float]:
        # most accurate; among equals the smallest tolerances (the least preference)
        return max(outcome, key=lambda pair: (accuracy(pair, keep), -pair[0] - pair[1]))

    everything = set(range(len(all_cases)))
    held_out = 0
    for name in names:
        test = {i for i, case in enumerate(all_cases) if case[0] == name}
        chosen = best(everything - test)
        held_out += sum(outcome[chosen][i] for i in test)
    chosen = best(everything)
    current = (charset.CHAOS_TOLERANCE, charset.COHERENCE_TOLERANCE)
    report = {
        "cases": len(all_cases),
        "samples": len(names),
        "detector_alone": alone,
        "chosen_tolerances_all_data": chosen,
        "in_sample_correct": sum(outcome[chosen].values()),
        "leave_one_sample_out_correct": held_out,
        "module_tolerances": current,
        "module_correct": sum(correct(data, text, current) for _, _, data, text in all_cases),
        "binary_refused_of_tried": binary_refused(),
        "wrong_with_module": [
            f"{name} in {encoding}"
            for name, encoding, data, text in all_cases
            if not correct(data, text, current)
        ],
    }
    json.dump(report, sys.stdout, indent=1, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
