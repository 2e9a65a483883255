"""RFC 9162 Merkle tree: published vectors, and proofs checked against a naive recursive reference."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.tlog.merkle import (
    EMPTY_ROOT,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.ledger.merkle_reference import RangeHasher, ref_mth, ref_path, ref_subproof

# The Certificate Transparency reference tree (certificate-transparency and transparency-dev/merkle tests).
CT_ENTRIES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
CT_CONSISTENCY = {
    (2, 8): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
CT_LEAVES = [leaf_hash(e) for e in CT_ENTRIES]


def _proof(ranges: Sequence[tuple[int, int]], leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The hashes of ``ranges`` in one streaming pass, as the database-backed log builds its proofs."""
    hasher = RangeHasher(ranges)
    for leaf in leaf_hashes[: hasher.needed]:
        hasher.add(leaf)
    return hasher.hashes()


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    return _proof(inclusion_ranges(index, len(leaf_hashes)), leaf_hashes)


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    return _proof(consistency_ranges(old_size, len(leaf_hashes)), leaf_hashes)


def leaves_of(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_empty_tree_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_hash([]) == EMPTY_ROOT


def test_ct_reference_roots() -> None:
    for n in range(1, 9):
        assert root_hash(CT_LEAVES[:n]).hex() == CT_ROOTS[n - 1]


@pytest.mark.parametrize(("index", "size"), sorted(CT_INCLUSION))
def test_ct_reference_inclusion(index: int, size: int) -> None:
    proof = inclusion_proof(index, CT_LEAVES[:size])
    assert [p.hex() for p in proof] == CT_INCLUSION[index, size]
    assert verify_inclusion(index, size, CT_LEAVES[index], proof, bytes.fromhex(CT_ROOTS[size - 1]))


@pytest.mark.parametrize(("old", "new"), sorted(CT_CONSISTENCY))
def test_ct_reference_consistency(old: int, new: int) -> None:
    proof = consistency_proof(old, CT_LEAVES[:new])
    assert [p.hex() for p in proof] == CT_CONSISTENCY[old, new]
    old_root, new_root = bytes.fromhex(CT_ROOTS[old - 1]), bytes.fromhex(CT_ROOTS[new - 1])
    assert verify_consistency(old, new, old_root, new_root, proof)


@given(st.integers(1, 300), st.data())
def test_inclusion_matches_reference_and_verifies(size: int, data: st.DataObject) -> None:
    leaves = leaves_of(size)
    index = data.draw(st.integers(0, size - 1))
    root = root_hash(leaves)
    assert root == ref_mth(leaves)
    proof = inclusion_proof(index, leaves)
    assert proof == ref_path(index, leaves)
    assert verify_inclusion(index, size, leaves[index], proof, root)
    # The same proof must not vouch for another leaf, position or root (the size is bound by the root).
    assert not verify_inclusion(index, size, leaf_hash(b"other"), proof, root)
    assert not verify_inclusion(index, size, leaves[index], proof, node_hash(root, root))
    if size > 1:
        other = (index + 1) % size
        assert not verify_inclusion(other, size, leaves[index], proof, root)
        assert not verify_inclusion(index, size, leaves[index], proof[:-1], root)
        assert not verify_inclusion(index, size, leaves[index], [*proof, root], root)
        flipped = bytes([proof[0][0] ^ 1]) + proof[0][1:]
        assert not verify_inclusion(index, size, leaves[index], [flipped, *proof[1:]], root)


@given(st.integers(1, 300), st.data())
def test_consistency_matches_reference_and_verifies(new: int, data: st.DataObject) -> None:
    leaves = leaves_of(new)
    old = data.draw(st.integers(1, new))
    old_root, new_root = root_hash(leaves[:old]), root_hash(leaves)
    proof = consistency_proof(old, leaves)
    assert proof == (ref_subproof(old, leaves, True) if old < new else [])
    assert verify_consistency(old, new, old_root, new_root, proof)
    forged = [*leaves[: old - 1], leaf_hash(b"forged")]
    assert not verify_consistency(old, new, root_hash(forged), new_root, proof)
    assert not verify_consistency(old, new, old_root, node_hash(new_root, new_root), proof)
    if proof:
        assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
        assert not verify_consistency(old, new, old_root, new_root, [*proof, new_root])
        flipped = bytes([proof[-1][0] ^ 1]) + proof[-1][1:]
        assert not verify_consistency(old, new, old_root, new_root, [*proof[:-1], flipped])


def test_consistency_edge_cases() -> None:
    leaves = leaves_of(5)
    root = root_hash(leaves)
    assert consistency_proof(0, leaves) == []
    assert verify_consistency(0, 5, EMPTY_ROOT, root, [])
    assert not verify_consistency(0, 5, root, root, [])
    assert verify_consistency(5, 5, root, root, [])
    assert not verify_consistency(5, 5, root, EMPTY_ROOT, [])
    assert not verify_consistency(4, 5, root_hash(leaves[:4]), root, [])
    assert not verify_consistency(5, 4, root, root_hash(leaves[:4]), [])
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_ranges(6, 5)


def test_malformed_hashes_are_rejected_not_crashing() -> None:
    leaves = leaves_of(4)
    proof = inclusion_proof(1, leaves)
    root = root_hash(leaves)
    assert not verify_inclusion(1, 4, leaves[1][:31], proof, root)
    assert not verify_inclusion(1, 4, leaves[1], [proof[0][:31], *proof[1:]], root)
    assert not verify_inclusion(4, 4, leaves[1], proof, root)
    assert not verify_inclusion(-1, 4, leaves[1], proof, root)


def test_range_hasher_refuses_to_answer_before_all_leaves_are_fed() -> None:
    hasher = RangeHasher([(0, 2), (2, 3)])
    hasher.add(leaf_hash(b"a"))
    with pytest.raises(ValueError, match="only 1 of 3 leaves"):
        hasher.hashes()
