"""The losses training uses beyond plain cross-entropy, each per sample so the caller chooses the weights.

- partial_label: a photo of shoes may be a sandal, a sneaker or an ankle boot. The label is the set of
  allowed classes, and the loss is -log of the probability the model puts on the whole set (Jin &
  Ghahramani 2002; Feng et al. 2020): the model may split its belief inside the set as the picture says.
  With one allowed class it is the usual cross-entropy.
- uniform: a hat, a skirt or a pair of shorts is none of the ten classes. Outlier exposure (Hendrycks,
  Mazeika & Dietterich 2019) trains such pictures towards the uniform distribution, so "not sure" is
  learnt rather than only thresholded. Written as KL(uniform || p): 0 exactly at the uniform distribution.
- distillation: the student matches a teacher's probabilities softened by a temperature (Hinton, Vinyals
  & Dean 2015), scaled by the temperature squared so its gradients keep their size.
"""

from __future__ import annotations

import math

import torch


def partial_label(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """(B, K) logits, (B, K) bool with at least one True per row -> (B,) -log(sum of allowed probabilities)."""
    log_p = logits.log_softmax(dim=1)
    return -log_p.masked_fill(~allowed, float("-inf")).logsumexp(dim=1)


def uniform(logits: torch.Tensor) -> torch.Tensor:
    """(B, K) logits -> (B,) KL(uniform || softmax(logits)) = -mean_k log p_k - log K."""
    return -logits.log_softmax(dim=1).mean(dim=1) - math.log(logits.shape[1])


def photo(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """(B, K) logits, (B, K) bool -> (B,): partial_label where a row allows any class, uniform where it
    allows none (a garment that is none of the K classes)."""
    known = allowed.any(dim=1)
    safe = torch.where(known[:, None], allowed, torch.ones_like(allowed))  # no all-False row reaches logsumexp
    return torch.where(known, partial_label(logits, safe), uniform(logits))


def distillation(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """(B, K) student and teacher logits -> (B,) T^2 * KL(softmax(teacher / T) || softmax(student / T))."""
    target = (teacher / temperature).log_softmax(dim=1)
    mine = (student / temperature).log_softmax(dim=1)
    return (target.exp() * (target - mine)).sum(dim=1) * temperature**2
