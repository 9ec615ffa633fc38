"""The demo tenant's vocabulary: its branches in Seoul, names, segments, store kinds."""

from __future__ import annotations

# (region, branch, centre lat, centre lon); the Han river splits the two regions.
BRANCHES = [
    ("Gangbuk", "Jongno", 37.5729, 126.9794),
    ("Gangbuk", "Mapo", 37.5566, 126.9237),
    ("Gangnam", "Gangnam", 37.4979, 127.0276),
    ("Gangnam", "Songpa", 37.5133, 127.1001),
]
SURNAMES = ["Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han", "Oh"]
GIVEN = [
    "Minjun",
    "Seoyeon",
    "Jiho",
    "Hayoon",
    "Doyun",
    "Seoah",
    "Eunwoo",
    "Jiwoo",
    "Siwoo",
    "Haeun",
    "Yejun",
    "Sua",
    "Juwon",
    "Jimin",
    "Hyunwoo",
    "Yuna",
]
INCOME = ["low", "lower_middle", "middle", "upper_middle", "high"]
HOUSEHOLD = ["single", "couple", "young_family", "family_teens", "empty_nest", "retired"]
LIFE_STAGE = ["student", "early_career", "young_family", "established", "pre_retirement", "retired"]
LIFESTYLE = [
    "golf",
    "hiking",
    "commuter",
    "pet_owner",
    "investor",
    "health_conscious",
    "frequent_traveller",
    "homeowner",
    "car_owner",
    "small_business",
]
STORES = ["Lounge", "Partner Bank", "Cafe Partner", "Mart Kiosk"]
