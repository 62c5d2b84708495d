"""Each epoch's sample order for mini-batch training, drawn as DataLoader(shuffle=True) draws it (the engine's
shufflers, one per member)."""
from __future__ import annotations

import torch
from torch import Tensor


def epoch_order(n: int, gen: torch.Generator) -> Tensor:
    """This epoch's sample order, the same stream as DataLoader(shuffle=True, generator=gen): the
    loader draws its workers' base seed, RandomSampler a permutation and, run to its end, a second
    one for the remainder (of which num_samples % n = 0 are used)."""
    torch.empty((), dtype=torch.int64).random_(generator=gen)
    order = torch.randperm(n, generator=gen)
    torch.randperm(n, generator=gen)
    return order


def global_rng_epoch_order(n: int, gen: torch.Generator) -> Tensor:
    """This epoch's sample order as DataLoader(shuffle=True) without a generator draws it from the global
    RNG (gen standing in for it): the workers' base seed, then the sampler's seed of a fresh generator."""
    torch.empty((), dtype=torch.int64).random_(generator=gen)
    seed = int(torch.empty((), dtype=torch.int64).random_(generator=gen))
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


SHUFFLES = {"nonlin": epoch_order, "torch": global_rng_epoch_order}   # seeding -> epoch order
