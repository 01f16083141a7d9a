"""``ranker.json``: the learned ranker of a model version, one typed model for training and serving.

Training writes it (``training/ranker.py``); the API loads and validates it with the rest of the
version (``artifacts.load_model``). ``calibration`` maps raw scores to the one score scale the API
answers with: the estimated probability that an item is the user's next interaction.
"""

import math
from typing import Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

FEATURES = (
    "nbr_recent",
    "nbr_affinity",
    "transition",
    "log_pop",
    "trending",
    "segment_pop",
    "category_affinity",
    "negative",
    "nbr_recent_rel",
    "transition_rel",
    "nbr_history",
)
COLD_FLOOR = 1e-9  # cold-start raw scores are popularity shares; calibrated on their logarithm


class Platt(BaseModel):
    """``p = 1 / (1 + exp(-(a * x + b)))``; ``a > 0`` keeps the order of the raw scores."""

    model_config = ConfigDict(frozen=True)

    a: float = Field(default=1.0, gt=0)
    b: float = 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = np.clip(self.a * np.asarray(x, dtype=np.float64) + self.b, -700.0, 700.0)
        return 1.0 / (1.0 + np.exp(-z))


class Calibration(BaseModel):
    """Fit on held-out validation interactions at training time, one map per scoring path, so scores
    are comparable between known users (the ranker's logit) and cold-start users (popularity)."""

    model_config = ConfigDict(frozen=True)

    warm: Platt = Platt()
    cold: Platt = Platt(a=1.0, b=math.log(1e-3))

    def warm_probability(self, raw: np.ndarray) -> np.ndarray:
        return self.warm(raw)

    def cold_probability(self, raw: np.ndarray) -> np.ndarray:
        return self.cold(np.log(np.maximum(np.asarray(raw, dtype=np.float64), COLD_FLOOR)))


class ScoringParams(BaseModel):
    recency_decay: float = Field(default=0.9, gt=0, le=1)
    recent_items: int = Field(default=20, ge=1)
    transition_decay: float = Field(default=0.6, gt=0, le=1)
    transition_items: int = Field(default=5, ge=1)


class RankerSpec(BaseModel):
    """A linear ranker over standardised candidate features, and how the page is built."""

    model_config = ConfigDict(frozen=True)

    features: list[str]
    coef: list[float]
    intercept: float = 0.0
    mean: list[float]
    std: list[float]
    params: ScoringParams = ScoringParams()
    cold_start: Literal["global", "segment"] = "global"
    diversity_cap: float = Field(default=0.4, gt=0, le=1)
    kind: str = "learned"
    calibration: Calibration = Calibration()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise ValueError(f"unknown features {unknown}")
        if not len(self.coef) == len(self.features) == len(self.mean) == len(self.std):
            raise ValueError("coef, mean and std must have one value per feature")
        if not all(math.isfinite(v) for v in (*self.coef, *self.mean, *self.std, self.intercept)):
            raise ValueError("coefficients must be finite")
        return self

    @classmethod
    def one_hot(cls, feature: str, params: ScoringParams | None = None, **extra: object) -> "RankerSpec":
        """A ranker that scores by one feature alone (baselines, single-feature guards, tests)."""
        n = len(FEATURES)
        coef = [1.0 if f == feature else 0.0 for f in FEATURES]
        return cls.model_validate(
            {"features": list(FEATURES), "coef": coef, "mean": [0.0] * n, "std": [1.0] * n}
            | {"params": params or ScoringParams()}
            | extra
        )
