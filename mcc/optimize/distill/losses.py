"""Distillation losses on Keras tensors (backend-neutral ``keras.ops``).

Every function returns a scalar averaged over the batch; the tests check each one against a plain
numpy computation on fixed tensors.
"""

from __future__ import annotations

import keras
from keras import ops

_TINY = 1e-30


def as_logits(out, probs: bool):
    """Logits of a model output: ``log p`` for softmax outputs (equal to the logits up to a
    per-sample constant, so every softmax of it, at any temperature, is the same)."""
    return ops.log(ops.maximum(out, _TINY)) if probs else out


def hard_loss(y, logits):
    """Sparse categorical cross-entropy of integer labels ``y`` on ``logits``."""
    y = ops.reshape(ops.cast(y, "int32"), (-1,))
    return ops.mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))


def soft_loss(student_logits, teacher_logits, temperature: float):
    """Hinton's soft term ``T^2 * KL(softmax(t/T) || softmax(s/T))`` averaged over the batch."""
    t = temperature
    log_ps = ops.log_softmax(student_logits / t, axis=-1)
    log_pt = ops.log_softmax(teacher_logits / t, axis=-1)
    kl = ops.sum(ops.exp(log_pt) * (log_pt - log_ps), axis=-1)
    return (t * t) * ops.mean(kl)


def response_loss(student_logits, teacher_logits, y, temperature: float, alpha: float):
    """``alpha * T^2 * KL + (1 - alpha) * CE(y, student)`` (Hinton et al. 2015)."""
    return alpha * soft_loss(student_logits, teacher_logits, temperature) + \
        (1.0 - alpha) * hard_loss(y, student_logits)


def hint_loss(student_adapted, teacher_feature):
    """FitNets hint: mean squared error between the adapted student feature and the teacher's."""
    return ops.mean(ops.square(student_adapted - teacher_feature))


def _flat(x):
    return ops.reshape(x, (ops.shape(x)[0], -1))


def _huber(d):
    a = ops.abs(d)
    return ops.where(a < 1.0, 0.5 * d * d, a - 0.5)


def _pairwise_distances(e):
    sq = ops.sum(e * e, axis=1)
    d2 = ops.expand_dims(sq, 1) + ops.expand_dims(sq, 0) - 2.0 * ops.matmul(e, ops.transpose(e))
    n = ops.shape(e)[0]
    off = 1.0 - ops.eye(n, dtype=e.dtype)
    return ops.sqrt(ops.maximum(d2, 1e-12)) * off, off


def rkd_distance_loss(student_emb, teacher_emb):
    """RKD distance: Huber loss between the pairwise distances of the samples' embeddings, each
    set normalized by its mean off-diagonal distance (embeddings may differ in width)."""
    ds, off = _pairwise_distances(_flat(student_emb))
    dt, _ = _pairwise_distances(_flat(teacher_emb))
    n_pairs = ops.sum(off)
    ds = ds / (ops.sum(ds) / n_pairs)
    dt = dt / (ops.sum(dt) / n_pairs)
    return ops.sum(_huber(ds - dt) * off) / n_pairs


def _angles(e):
    # cos of the angle at vertex j between samples i and k: <unit(e_i - e_j), unit(e_k - e_j)>
    diff = ops.expand_dims(e, 0) - ops.expand_dims(e, 1)             # [j, i, :] = e_i - e_j
    norm = ops.sqrt(ops.maximum(ops.sum(diff * diff, axis=-1, keepdims=True), 1e-12))
    unit = diff / norm
    return ops.matmul(unit, ops.transpose(unit, (0, 2, 1)))          # [j, i, k]


def rkd_angle_loss(student_emb, teacher_emb):
    """RKD angle: Huber loss between the cosines of the angles formed by every triplet of
    distinct samples, mean over the triplets."""
    s, t = _flat(student_emb), _flat(teacher_emb)
    n = ops.shape(s)[0]
    eye = ops.eye(n, dtype=s.dtype)
    distinct = (1.0 - ops.expand_dims(eye, 2)) * (1.0 - ops.expand_dims(eye, 1)) * (1.0 - ops.expand_dims(eye, 0))
    return ops.sum(_huber(_angles(s) - _angles(t)) * distinct) / ops.maximum(ops.sum(distinct), 1.0)


def relation_loss(student_emb, teacher_emb, distance_weight: float = 1.0, angle_weight: float = 2.0):
    """Relational KD: weighted RKD distance and angle terms."""
    loss = 0.0
    if distance_weight:
        loss = loss + distance_weight * rkd_distance_loss(student_emb, teacher_emb)
    if angle_weight:
        loss = loss + angle_weight * rkd_angle_loss(student_emb, teacher_emb)
    return loss
