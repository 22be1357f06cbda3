"""Deterministic generator of the dialogue domains' ontology + database JSON files.

Run ``python -m envs.dialogue.generate_data`` to rewrite ``envs/dialogue/data/*.json``.
The same seed always writes byte-identical files (a test checks this), so the committed
data is reproducible. Each domain declares informable slots (the constraints a user can
state, with every value they take), information slots (what a user can ask about an
offered venue: phone, address, ...) and at least 50 entities with varied values.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

__all__ = ["DOMAIN_SPECS", "build_domain", "main", "write_all"]

DATA_DIR = Path(__file__).resolve().parent / "data"
SEED = 20261128

_YES_NO = {"yes": "{yes}", "no": "{no}"}

# Per domain: noun, entity count, informable slots (name, values, question, phrase,
# optional per-value phrases and value weights) and information slots.
DOMAIN_SPECS: dict[str, dict[str, Any]] = {
    "restaurant": {
        "noun": "restaurant",
        "entities": 90,
        "informable": [
            {
                "name": "food",
                "values": [
                    "italian",
                    "chinese",
                    "indian",
                    "british",
                    "french",
                    "thai",
                    "japanese",
                    "mexican",
                    "spanish",
                    "lebanese",
                    "turkish",
                    "korean",
                ],
                "question": "What kind of food would you like?",
                "phrase": "serving {value} food",
            },
            {
                "name": "area",
                "values": ["centre", "north", "south", "east", "west"],
                "weights": [4, 2, 2, 1, 1],
                "question": "Which part of town do you have in mind?",
                "phrase": "in the {value}",
            },
            {
                "name": "pricerange",
                "values": ["cheap", "moderate", "expensive"],
                "question": "What price range would you like?",
                "phrase": "in the {value} price range",
            },
            {
                "name": "ambience",
                "values": ["casual", "romantic", "family", "lively"],
                "question": "What kind of atmosphere are you after?",
                "phrase": "with a {value} atmosphere",
            },
            {
                "name": "outdoor",
                "values": ["yes", "no"],
                "weights": [1, 2],
                "question": "Would you like outdoor seating?",
                "phrase": "{value}",
                "value_phrases": {"yes": "with outdoor seating", "no": "without outdoor seating"},
            },
        ],
        "info": [
            {"name": "phone", "phrase": "the phone number"},
            {"name": "address", "phrase": "the address"},
            {"name": "postcode", "phrase": "the postcode"},
            {"name": "opening", "phrase": "the opening hours"},
        ],
        "name_parts": [
            [
                "The Golden",
                "Little",
                "Royal",
                "Old",
                "Blue",
                "Red",
                "Silver",
                "Lucky",
                "Green",
                "Riverside",
                "Hidden",
                "Copper",
                "Wild",
                "Saffron",
                "Jade",
            ],
            [
                "Spoon",
                "Lantern",
                "Fork",
                "Garden",
                "Table",
                "Kitchen",
                "Olive",
                "Dragon",
                "Lotus",
                "Bistro",
                "Pepper",
                "Oak",
                "Tandoor",
                "Harbour",
                "Brasserie",
            ],
        ],
    },
    "hotel": {
        "noun": "hotel",
        "entities": 70,
        "informable": [
            {
                "name": "area",
                "values": ["centre", "north", "south", "east", "west"],
                "weights": [3, 2, 2, 2, 1],
                "question": "Which area would you like to stay in?",
                "phrase": "in the {value}",
            },
            {
                "name": "pricerange",
                "values": ["cheap", "moderate", "expensive"],
                "question": "What is your budget: cheap, moderate or expensive?",
                "phrase": "in the {value} price range",
            },
            {
                "name": "stars",
                "values": ["1", "2", "3", "4", "5"],
                "weights": [1, 2, 3, 3, 1],
                "question": "How many stars should it have?",
                "phrase": "with {value} stars",
                "value_phrases": {"1": "with 1 star"},
            },
            {
                "name": "type",
                "values": ["hotel", "guesthouse", "bed and breakfast"],
                "question": "Would you prefer a hotel, a guesthouse or a bed and breakfast?",
                "phrase": "that is a {value}",
            },
            {
                "name": "parking",
                "values": ["yes", "no"],
                "question": "Do you need parking?",
                "phrase": "{value}",
                "value_phrases": {"yes": "with free parking", "no": "without parking"},
            },
            {
                "name": "internet",
                "values": ["yes", "no"],
                "weights": [3, 1],
                "question": "Do you need wifi?",
                "phrase": "{value}",
                "value_phrases": {"yes": "with free wifi", "no": "without wifi"},
            },
        ],
        "info": [
            {"name": "phone", "phrase": "the phone number"},
            {"name": "address", "phrase": "the address"},
            {"name": "postcode", "phrase": "the postcode"},
            {"name": "checkin", "phrase": "the check-in time"},
        ],
        "name_parts": [
            [
                "Acorn",
                "Alexander",
                "Ashley",
                "Avalon",
                "Carolina",
                "Cityroomz",
                "Finches",
                "Gonville",
                "Hamilton",
                "Kirkwood",
                "Lensfield",
                "Limehouse",
                "Warkworth",
                "Worth",
            ],
            ["House", "Lodge", "Inn", "Hotel", "Guesthouse", "Court", "Manor", "Rooms"],
        ],
    },
    "attraction": {
        "noun": "attraction",
        "entities": 60,
        "informable": [
            {
                "name": "type",
                "values": [
                    "museum",
                    "park",
                    "theatre",
                    "cinema",
                    "gallery",
                    "college",
                    "nightclub",
                    "swimming pool",
                    "church",
                    "boat tour",
                ],
                "question": "What type of attraction are you interested in?",
                "phrase": "that is a {value}",
            },
            {
                "name": "area",
                "values": ["centre", "north", "south", "east", "west"],
                "weights": [4, 1, 1, 1, 1],
                "question": "Which area should it be in?",
                "phrase": "in the {value}",
            },
            {
                "name": "entrance",
                "values": ["free", "cheap", "moderate", "expensive"],
                "weights": [3, 2, 2, 1],
                "question": "How much would you like to pay for entrance?",
                "phrase": "with {value} entrance",
            },
            {
                "name": "goodfor",
                "values": ["families", "couples", "groups", "students"],
                "question": "Who is it for?",
                "phrase": "good for {value}",
            },
        ],
        "info": [
            {"name": "phone", "phrase": "the phone number"},
            {"name": "address", "phrase": "the address"},
            {"name": "postcode", "phrase": "the postcode"},
            {"name": "opening", "phrase": "the opening hours"},
        ],
        "name_parts": [
            [
                "Castle",
                "Kettle's",
                "Scott",
                "Fitzwilliam",
                "Botanic",
                "Abbey",
                "Corn",
                "Whipple",
                "Jesus",
                "Clare",
                "Mumford",
                "Primavera",
                "Ballare",
                "Byard",
            ],
            [
                "Museum",
                "Gardens",
                "Yard",
                "Hall",
                "Gallery",
                "Exchange",
                "Pavilion",
                "Centre",
                "Arts",
                "Park",
                "Theatre",
                "Club",
            ],
        ],
    },
}

_STREETS = [
    "Mill Road",
    "Regent Street",
    "Hills Road",
    "Trumpington Street",
    "King Street",
    "Bridge Street",
    "Newmarket Road",
    "Chesterton Road",
    "Histon Road",
    "Station Road",
    "Market Square",
    "Castle Street",
    "Green Street",
    "Park Terrace",
    "Huntingdon Road",
]
_AREA_POSTCODE = {"centre": "CB2", "north": "CB4", "south": "CB1", "east": "CB5", "west": "CB3"}


def _value_phrases(slot: dict[str, Any]) -> dict[str, str]:
    given = slot.get("value_phrases", {})
    return {v: given.get(v, slot["phrase"].format(value=v)) for v in slot["values"]}


def build_domain(name: str, seed: int = SEED) -> dict[str, Any]:
    """Builds one domain's ontology + database deterministically from ``seed``."""
    spec = DOMAIN_SPECS[name]
    rng = random.Random(f"{seed}-{name}")
    informable = [
        {
            "name": s["name"],
            "values": list(s["values"]),
            "question": s["question"],
            "value_phrases": _value_phrases(s),
        }
        for s in spec["informable"]
    ]
    first, second = spec["name_parts"]
    names = sorted({f"{a} {b}" for a in first for b in second})
    rng.shuffle(names)
    entities: list[dict[str, str]] = []
    for i in range(spec["entities"]):
        entity = {"name": names[i]}
        for s in spec["informable"]:
            values = s["values"]
            # The first len(values) entities cover every value, so every value matches.
            if i < len(values):
                entity[s["name"]] = values[i]
            else:
                entity[s["name"]] = rng.choices(values, weights=s.get("weights"))[0]
        area = entity.get("area", "centre")
        entity["phone"] = f"01223 {rng.randint(200000, 999999)}"
        entity["address"] = f"{rng.randint(1, 180)} {rng.choice(_STREETS)}"
        entity["postcode"] = (
            f"{_AREA_POSTCODE[area]} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
            f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
        )
        opens, closes = rng.choice([(9, 17), (10, 18), (11, 23), (12, 22), (17, 23), (8, 20)])
        entity["opening"] = f"{opens:02d}:00-{closes:02d}:00"
        entity["checkin"] = f"{rng.choice([13, 14, 15, 16])}:00"
        entities.append(entity)
    info_names = [s["name"] for s in spec["info"]]
    entities = [
        {k: e[k] for k in ["name", *(s["name"] for s in spec["informable"]), *info_names]}
        for e in entities
    ]
    return {
        "domain": name,
        "noun": spec["noun"],
        "informable": informable,
        "info": list(spec["info"]),
        "entities": entities,
    }


def write_all(out_dir: Path = DATA_DIR, seed: int = SEED) -> list[Path]:
    """Writes ``<domain>.json`` for every domain into ``out_dir``; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in DOMAIN_SPECS:
        path = out_dir / f"{name}.json"
        text = json.dumps(build_domain(name, seed), indent=1, ensure_ascii=True) + "\n"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """CLI: regenerate the domain files (``--out DIR``, ``--seed N``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output folder")
    parser.add_argument("--seed", type=int, default=SEED, help="generator seed")
    args = parser.parse_args(argv)
    for path in write_all(args.out, args.seed):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
