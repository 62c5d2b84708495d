"""LESSONS: one table of plain RunConfigs, each lesson with its text, a question to answer before running it,
what to notice and what to expect. Presets (`train --preset NAME`) are the lessons' configs by name."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .config import ConfigError, RunConfig
from .training import batch_key

CIRCLES_ARTICLE = "learnpytorch.io, 02. PyTorch Neural Network Classification (model_1 and model_3)"


@dataclass(frozen=True)
class Lesson:
    """A lesson: presets (name -> config) trained over `seeds` seeds each (seed, seed + 1, ...)."""
    name: str
    title: str
    text: str
    question: str
    options: tuple[str, ...]
    verdict: Callable[[dict[str, float]], str]   # mean test accuracy per preset -> the option the run supports
    notice: str
    expectation: str
    presets: dict[str, RunConfig]
    seeds: int = 1
    article: str = ""                             # a tutorial this lesson reproduces number for number
    report: bool = False                          # show the accuracy/F1 report and the per-layer view

    def configs(self) -> list[RunConfig]:
        """Every run of the lesson: preset-major, each preset's seeds in order."""
        return [c.replace(seed=c.seed + k) for c in self.presets.values() for k in range(self.seeds)]

    def groups(self) -> list[list[RunConfig]]:
        """The runs as batches: presets that differ only in per-member fields (activation, lr, seed) train together."""
        out: dict[RunConfig, list[RunConfig]] = {}
        for c in self.configs():
            out.setdefault(batch_key(c), []).append(c)
        return list(out.values())


def _better(a: str, b: str, margin: float = 0.02) -> Callable[[dict[str, float]], str]:
    def verdict(acc: dict[str, float]) -> str:
        gap = acc[a] - acc[b]
        return "Yes, by more than 2 points" if gap > margin else "No, it does worse" if gap < -margin else \
            "About the same (within 2 points)"
    return verdict


def _which_beat(threshold: float, first: str, second: str) -> Callable[[dict[str, float]], str]:
    def verdict(acc: dict[str, float]) -> str:
        a, b = acc[first] > threshold, acc[second] > threshold
        return "Both" if a and b else f"Only {first}" if a else f"Only {second}" if b else "Neither"
    return verdict


def _reaches(preset: str, threshold: float) -> Callable[[dict[str, float]], str]:
    return lambda acc: "Yes" if acc[preset] >= threshold else "No"


def _lowest(acc: dict[str, float]) -> str:
    return min(acc, key=acc.get)


# float64 but for the article's lesson (float32, as it runs): a lesson's click trains its seeds (and presets of one
# shape) as one batch, and in float64 a batch equals each run alone, so the page shows `train --preset`'s numbers
YES_SAME_NO = ("Yes, by more than 2 points", "About the same (within 2 points)", "No, it does worse")
_HEART = dict(dtype="float64", dataset="heart_failure", standardize=True, test_size=0.2, optimizer="sgd", lr=0.01, epochs=1000,
              batch_size=0, loss="bce", seed=0)
_CIRCLES = dict(dataset="circles", n_samples=1000, noise=0.03, data_seed=42, test_size=0.2, hidden_layers=(10, 10),
                optimizer="sgd", lr=0.1, epochs=1000, batch_size=0, loss="bce", seed=42, seeding="torch")
_MOONS = dict(dtype="float64", dataset="moons", n_samples=10_000, noise=0.2, data_seed=42, hidden_layers=(10,), loss="ce",
              optimizer="adamw", lr=1e-3, weight_decay=0.01, batch_size=32, epochs=50, seed=0)
_XOR = dict(dtype="float64", dataset="xor", n_samples=400, noise=0.05, optimizer="adam", lr=0.03, epochs=300, batch_size=0,
            seed=0)
_SPIRAL = dict(dtype="float64", dataset="spiral", n_samples=600, n_classes=3, noise=0.1, loss="ce", activation="relu",
               optimizer="adam", lr=0.01, epochs=500, batch_size=0, seed=0)
_SHOOTOUT = dict(dtype="float64", dataset="moons", n_samples=600, noise=0.2, hidden_layers=(8,), optimizer="adam", lr=0.01,
                 epochs=300, batch_size=0, seed=0)
SHOOTOUT = ("relu", "tanh", "elu", "gelu", "sigmoid")
_FEATURES = dict(dtype="float64", dataset="circles", n_samples=1000, noise=0.03, data_seed=42, test_size=0.2, hidden_layers=(),
                 activation="none", optimizer="sgd", lr=0.1, epochs=1000, batch_size=0, loss="bce", seed=0)

LESSONS: dict[str, Lesson] = {lesson.name: lesson for lesson in (
    Lesson("heart", "More linear layers don't help",
           "Real data: 299 heart-failure patients, 12 measurements each, and whether they died during follow-up. "
           "Three small networks, the same data and seeds: a 12→5→1 linear one, a deeper and wider linear one "
           "(12→20→20→1) and the 12→5→1 one with ReLU. Linear layers stacked are still one linear map.",
           "Does the deeper, wider linear net (12→20→20→1) beat the small linear one (12→5→1) on test accuracy?",
           YES_SAME_NO, _better("heart-deep-linear", "heart-linear"),
           "The two linear nets end within a point or two of each other: twenty times the weights buy nothing. "
           "Bending is no free win either: with five ReLUs and plain SGD the third net ends lower here. On 60 "
           "test patients one patient is 1.7 points; compare the seeds before you believe a gap.",
           "About the same: stacking linear layers composes to one linear map, so depth and width add no power.",
           {"heart-linear": RunConfig(**_HEART, hidden_layers=(5,), activation="none"),
            "heart-deep-linear": RunConfig(**_HEART, hidden_layers=(20, 20), activation="none"),
            "heart-relu": RunConfig(**_HEART, hidden_layers=(5,), activation="relu")}, seeds=5),
    Lesson("circles", "Straight lines can't cut out a circle",
           "Two rings of points, one inside the other (1000 points, noise 0.03). The same 2→10→10→1 network, "
           "SGD with learning rate 0.1 for 1000 epochs, once without an activation and once with ReLU. This "
           "follows the learnpytorch.io classification tutorial exactly: same data, split, seed and loop, same log.",
           "After 1000 epochs, which model beats 75% test accuracy?",
           ("Neither", "Only circles-linear", "Only circles-relu", "Both"),
           _which_beat(0.75, "circles-linear", "circles-relu"),
           "The linear model stays near 50% (a coin flip) however long it trains: its boundary is a straight line. "
           "The ReLU model's loss creeps down for 700 epochs, then falls, and its boundary closes into a ring.",
           "Only the ReLU model: the article prints 79% test accuracy at epoch 900 for it and 46% for the linear one.",
           {"circles-linear": RunConfig(**_CIRCLES, activation="none"),
            "circles-relu": RunConfig(**_CIRCLES, activation="relu")}, article=CIRCLES_ARTICLE),
    Lesson("moons", "Half moons: close is not the same as right",
           "Two interleaving half moons, 10 000 points with noise 0.2. A 2→10→2 network, AdamW (lr 0.001), "
           "mini-batches of 32 for 50 epochs, cross-entropy: linear against ReLU, over three seeds.",
           "Will the linear model reach 90% test accuracy?", ("Yes", "No"), _reaches("moons-linear", 0.90),
           "The linear model gets most points right (the moons are mostly apart) but its line cuts both tips off; "
           "the report shows the errors on both classes. In the per-layer view the ReLU layer folds the plane.",
           "No: a line tops out in the high 80s here; ReLU reaches the mid 90s.",
           {"moons-linear": RunConfig(**_MOONS, activation="none"),
            "moons-relu": RunConfig(**_MOONS, activation="relu")}, seeds=3, report=True),
    Lesson("xor", "XOR: one hidden layer is the difference",
           "Four quadrants; diagonal ones share a class. No straight line separates them. A model with no hidden "
           "layer (logistic regression) against one with a hidden layer of 8 ReLUs.",
           "Can the model with no hidden layer beat 60% test accuracy?", ("Yes", "No"), _reaches("xor-linear", 0.60),
           "Without a hidden layer the boundary is one line and the best it can do is about half right; with "
           "eight ReLUs the boundary bends around the quadrants.",
           "No: about 50% without a hidden layer; close to 100% with one.",
           {"xor-linear": RunConfig(**_XOR, hidden_layers=(), activation="none"),
            "xor-relu": RunConfig(**_XOR, hidden_layers=(8,), activation="relu")}, seeds=3),
    Lesson("spiral", "Spirals: depth matters",
           "Three interleaved spiral arms. ReLU networks of the same width (8): one hidden layer against three. "
           "Each extra layer can fold what the previous ones made.",
           "Does going from one hidden layer to three (width 8) add more than 2 points of test accuracy?",
           YES_SAME_NO, _better("spiral-deep", "spiral-shallow"),
           "The one-layer net draws a few wedges; the three-layer net follows the arms further round.",
           "Yes: the deeper net is clearly better on the same budget of epochs.",
           {"spiral-shallow": RunConfig(**_SPIRAL, hidden_layers=(8,)),
            "spiral-deep": RunConfig(**_SPIRAL, hidden_layers=(8, 8, 8))}, seeds=3),
    Lesson("activations", "Activation shoot-out",
           "The same noisy moons, the same 2→8→1 network and the same three seeds: only the activation differs "
           "(ReLU, Tanh, ELU, GELU, Sigmoid). All five train as one batch.",
           "Which activation ends with the lowest test accuracy?", tuple(a for a in SHOOTOUT),
           lambda acc: _lowest(acc).removeprefix("act-"),
           "Sigmoid squashes everything into (0, 1) and its gradient is at most 0.25: in the same 300 epochs its "
           "boundary is still nearly straight. Each seed moves a model by a point or two: read the spread too.",
           "Sigmoid, a few points behind; Tanh leads. The saturating, off-centre activation learns slowest.",
           {f"act-{a}": RunConfig(**_SHOOTOUT, activation=a) for a in SHOOTOUT}, seeds=3),
    Lesson("features", "Give a line better inputs: x1² and x2²",
           "The circles again, and a model with no hidden layer at all: one straight line. Fed the raw x1 and x2 it "
           "cannot cut out a ring. Fed x1² and x2² instead (a feature cross, as TensorFlow Playground's inputs), "
           "the same linear model draws a line in the squared plane, which is a circle in the plane you see.",
           "Will the linear model on x1² and x2² beat 95% test accuracy?", ("Yes", "No"),
           _reaches("features-squares", 0.95),
           "The boundary over x1, x2 is a closed curve although the model is linear: the bending is in the inputs, "
           "chosen by hand. A hidden layer with an activation learns such features instead of being given them.",
           "Yes: the raw linear model stays near 50%; on x1², x2² it separates the rings almost perfectly.",
           {"features-raw": RunConfig(**_FEATURES),
            "features-squares": RunConfig(**_FEATURES, features="x1^2,x2^2")}, seeds=3),
)}

PRESETS: dict[str, RunConfig] = {name: c for lesson in LESSONS.values() for name, c in lesson.presets.items()}


def preset(name: str) -> RunConfig:
    """A preset's config by name, or ConfigError listing the names."""
    if name not in PRESETS:
        raise ConfigError(f"preset: {name!r} is not one of {', '.join(PRESETS)}")
    return PRESETS[name]


def preset_results(lesson: Lesson, finals: dict[str, dict | None]) -> dict[str, dict]:
    """Per preset: its own run's final metrics ('first', the `train --preset` run) and the mean test accuracy
    over its seeds ('mean'); None where not finished. `finals` maps run key -> final metrics."""
    out = {}
    for name, c in lesson.presets.items():
        accs = [f["test_acc"] for k in range(lesson.seeds) if (f := finals.get(c.replace(seed=c.seed + k).key))]
        out[name] = {"first": finals.get(c.key), "mean": float(np.mean(accs)) if accs else None, "runs": len(accs)}
    return out


def verdict(lesson: Lesson, results: dict[str, dict]) -> str | None:
    """The option of the lesson's question that the finished results support (None until all are in)."""
    means = {name: r["mean"] for name, r in results.items()}
    return None if any(v is None for v in means.values()) else lesson.verdict(means)


def preset_members(lesson: Lesson, groups: list[list[RunConfig]]) -> dict[str, tuple[int, list[int]]]:
    """Per preset: (its group's index, the indices of its seeds' runs in that group)."""
    out = {}
    for name, c in lesson.presets.items():
        for g, group in enumerate(groups):
            members = [k for k, m in enumerate(group) if m.replace(seed=c.seed) == c]
            if members:
                out[name] = (g, members)
    return out


def summary(lesson: Lesson) -> dict:
    """JSON-safe: name, title, question, options, seeds, article and the presets' configs."""
    return {"name": lesson.name, "title": lesson.title, "question": lesson.question, "options": list(lesson.options),
            "seeds": lesson.seeds, "article": lesson.article,
            "configs": {name: c.to_dict() for name, c in lesson.presets.items()}}
