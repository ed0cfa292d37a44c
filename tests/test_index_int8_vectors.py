"""int8 codes with row scales: how rows are quantised, and the check on rows read back."""

from __future__ import annotations

import numpy as np
import pytest

from bot.errors import IndexCorruptError
from bot.index.int8_vectors import BLOCK, Int8Vectors, quantise


def _unit_rows(rows: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class _Rows:
    """Exact rows kept in memory, as a store's vector file would give them."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors
        self.asked: list[list[int]] = []

    def read(self, rows: np.ndarray) -> np.ndarray:
        self.asked.append(rows.tolist())
        return self.vectors[rows].copy()

    def describe(self) -> str:
        return "/index/gen-00000001/vectors.npy"


def test_quantise_is_symmetric_per_row() -> None:
    vectors = np.array([[0.5, -0.25, 0.0, 0.125], [-2.0, 1.0, 0.5, 0.0]], dtype=np.float32)
    codes, scales = quantise(vectors)
    assert codes.dtype == np.int8 and scales.dtype == np.float32
    assert codes.tolist() == [[127, -64, 0, 32], [-127, 64, 32, 0]]  # round half to even: 63.5
    assert scales.tolist() == pytest.approx([0.5 / 127, 2.0 / 127])
    assert np.allclose(codes * scales[:, None], vectors, atol=scales.max() / 2 + 1e-7)


def test_a_zero_row_has_zero_codes_and_scale() -> None:
    codes, scales = quantise(np.zeros((2, 3), dtype=np.float32))
    assert not codes.any() and not scales.any()


def test_quantise_gives_each_row_the_same_codes_alone_or_in_any_block() -> None:
    vectors = _unit_rows(BLOCK + 17, 8, seed=4)
    codes, scales = quantise(vectors)
    for row in (0, 1, BLOCK - 1, BLOCK, BLOCK + 16):
        alone_codes, alone_scale = quantise(vectors[row : row + 1])
        assert np.array_equal(alone_codes[0], codes[row]) and alone_scale[0] == scales[row]
    assert np.abs(codes).max(axis=1).tolist() == [127] * len(vectors)


def test_rough_scores_follow_the_exact_products() -> None:
    vectors = _unit_rows(500, 64, seed=5)
    held = Int8Vectors.of(vectors, _Rows(vectors))
    query = _unit_rows(1, 64, seed=6)[0]
    rough, exact = held.rough_scores(query), vectors @ query
    assert rough.shape == (500,)
    assert np.abs(rough - exact).max() < 0.02
    assert held.nbytes == 500 * 64 + 500 * 4


def test_rows_read_back_are_the_exact_float32_rows() -> None:
    vectors = _unit_rows(50, 16, seed=7)
    source = _Rows(vectors)
    held = Int8Vectors.of(vectors, source)
    rows = np.array([3, 9, 40])
    assert np.array_equal(held.rows(rows), vectors[rows])
    assert source.asked == [[3, 9, 40]]


def test_a_row_that_no_longer_quantises_to_its_codes_is_corruption() -> None:
    vectors = _unit_rows(50, 16, seed=8)
    held = Int8Vectors.of(vectors, _Rows(vectors))
    changed = vectors.copy()
    changed[9, 0] += 0.1  # the file was rewritten after it was opened
    moved = Int8Vectors(held.codes, held.scales, _Rows(changed))
    assert np.array_equal(moved.rows(np.array([3, 40])), vectors[[3, 40]])
    with pytest.raises(IndexCorruptError, match=r"vectors\.npy no longer matches"):
        moved.rows(np.array([3, 9]))


def test_a_row_rescaled_without_changing_its_codes_is_corruption_too() -> None:
    vectors = _unit_rows(10, 16, seed=9)
    held = Int8Vectors.of(vectors, _Rows(vectors))
    moved = Int8Vectors(held.codes, held.scales, _Rows(vectors * np.float32(2)))
    with pytest.raises(IndexCorruptError):
        moved.rows(np.array([0]))
