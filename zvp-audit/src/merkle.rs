//! The RFC 6962 Merkle tree over the log's records (also RFC 9162 §2.1).
//!
//! Leaves are hashed as `SHA-256(0x00 ‖ entry)` and interior nodes as
//! `SHA-256(0x01 ‖ left ‖ right)`, so a leaf can never pass for a node. A tree of `n` leaves
//! splits at the largest power of two below `n`. An inclusion proof shows that a record is in
//! the tree with a given root; a consistency proof shows that a tree of size `m` is a prefix
//! of one of size `n` — that the log only grew. Proofs here are computed from the leaf
//! hashes; the verifiers need only the proof and the roots.

use aws_lc_rs::digest::{Context, SHA256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    sha256(&[&[]])
}

/// The hash of a leaf: `SHA-256(0x00 ‖ entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    sha256(&[&[0x00], entry])
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

/// SHA-256 over the concatenation of `parts`.
fn sha256(parts: &[&[u8]]) -> Hash {
    let mut context = Context::new(&SHA256);
    for part in parts {
        context.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// The largest power of two strictly below `n` (for `n >= 2`).
fn split(n: usize) -> usize {
    // INVARIANT: n >= 2, so n - 1 >= 1 and the shift is in range.
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The root of the tree over `leaves` (leaf hashes).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [only] => *only,
        _ => {
            let (left, right) = leaves.split_at(split(leaves.len()));
            node_hash(&root(left), &root(right))
        }
    }
}

/// The right edge of a growing tree: the roots of its perfect subtrees, largest first (one
/// per set bit of the size). Appending a leaf and computing the root cost `O(log n)` hashes
/// and the state is `O(log n)` hashes, however many leaves there are — what a running log keeps
/// instead of every leaf hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    peaks: Vec<Hash>,
}

impl CompactRange {
    /// The empty tree.
    pub const fn new() -> Self {
        Self {
            size: 0,
            peaks: Vec::new(),
        }
    }

    /// The tree over `leaves`.
    pub fn of(leaves: &[Hash]) -> Self {
        let mut range = Self::new();
        for leaf in leaves {
            range.push(*leaf);
        }
        range
    }

    /// The number of leaves.
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the perfect subtrees, largest first: with the size, all there is to the
    /// range (what a log stores to take up its tree again without reading its records).
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// The range of a tree of `size` leaves with these `peaks` (largest first), if they can
    /// be one: a tree has one peak per set bit of its size.
    pub fn from_peaks(size: u64, peaks: Vec<Hash>) -> Option<Self> {
        (u64::from(size.count_ones()) == peaks.len() as u64).then_some(Self { size, peaks })
    }

    /// Appends a leaf hash: it merges with every peak of its size, as in binary addition.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut carry = self.size;
        while carry & 1 == 1 {
            // INVARIANT: a set low bit of the size means a peak of that size is last.
            let Some(left) = self.peaks.pop() else { break };
            hash = node_hash(&left, &hash);
            carry >>= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    /// The root of the tree: the peaks folded from the right, which is RFC 6962's split at
    /// the largest power of two below the size, applied all the way down the right edge.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return empty_root();
        };
        peaks.fold(*last, |right, left| node_hash(left, &right))
    }
}

/// Why a proof could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The tree size.
        size: usize,
    },
    /// A tree size beyond the leaves there are, or sizes in the wrong order.
    #[error("tree sizes {first} and {second} do not fit a log of {available} records")]
    SizeOutOfRange {
        /// The older size.
        first: usize,
        /// The newer size.
        second: usize,
        /// The leaves there are.
        available: usize,
    },
}

/// The inclusion proof of leaf `index` in the tree of the first `size` leaves (RFC 6962
/// `PATH`).
///
/// # Errors
///
/// [`ProofError`] when `index >= size` or `size > leaves.len()`.
pub fn inclusion_proof(
    leaves: &[Hash],
    index: usize,
    size: usize,
) -> Result<Vec<Hash>, ProofError> {
    let Some(tree) = leaves.get(..size) else {
        return Err(ProofError::SizeOutOfRange {
            first: size,
            second: size,
            available: leaves.len(),
        });
    };
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(index, tree, &mut proof);
    Ok(proof)
}

/// RFC 6962 `PATH(m, D[n])`, appended to `out` from the leaf up.
fn path(m: usize, tree: &[Hash], out: &mut Vec<Hash>) {
    if tree.len() <= 1 {
        return;
    }
    let k = split(tree.len());
    let (left, right) = tree.split_at(k);
    if m < k {
        path(m, left, out);
        out.push(root(right));
    } else {
        path(m - k, right, out);
        out.push(root(left));
    }
}

/// The consistency proof between the trees of the first `first` and `second` leaves (RFC
/// 6962 `PROOF`). Empty when `first` is 0 or equals `second`.
///
/// # Errors
///
/// [`ProofError::SizeOutOfRange`] when `first > second` or `second > leaves.len()`.
pub fn consistency_proof(
    leaves: &[Hash],
    first: usize,
    second: usize,
) -> Result<Vec<Hash>, ProofError> {
    let out_of_range = ProofError::SizeOutOfRange {
        first,
        second,
        available: leaves.len(),
    };
    let Some(tree) = leaves.get(..second) else {
        return Err(out_of_range);
    };
    if first > second {
        return Err(out_of_range);
    }
    let mut proof = Vec::new();
    if first > 0 && first < second {
        subproof(first, tree, true, &mut proof);
    }
    Ok(proof)
}

/// RFC 6962 `SUBPROOF(m, D[n], b)`, appended to `out`.
fn subproof(m: usize, tree: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    let n = tree.len();
    if m == n {
        if !whole {
            out.push(root(tree));
        }
        return;
    }
    let k = split(n);
    let (left, right) = tree.split_at(k);
    if m <= k {
        subproof(m, left, whole, out);
        out.push(root(right));
    } else {
        subproof(m - k, right, false, out);
        out.push(root(left));
    }
}

/// Whether `proof` shows that `leaf` (a leaf hash) is leaf `index` of the tree of `size`
/// leaves with root `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: usize,
    size: usize,
    proof: &[Hash],
    root: &Hash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// Whether `proof` shows that the tree of `first` leaves with root `first_root` is a prefix
/// of the tree of `second` leaves with root `second_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    first: usize,
    second: usize,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 {
        return proof.is_empty() && *first_root == empty_root();
    }
    let Some((head, rest)) = proof.split_first() else {
        return false;
    };
    // When `first` is a power of two its root is the first node of the path, and not sent.
    let (start, rest): (&Hash, &[Hash]) = if first.is_power_of_two() {
        (first_root, proof)
    } else {
        (head, rest)
    };
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*start, *start);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *first_root && sr == *second_root && s == 0
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn h(hex: &str) -> Hash {
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    /// The entries of the reference tree used by the Certificate Transparency implementations.
    fn reference_leaves() -> Vec<Hash> {
        let entries: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[
                0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
                0x6e, 0x6f,
            ],
        ];
        entries.iter().map(|e| leaf_hash(e)).collect()
    }

    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn roots_match_the_rfc_6962_reference_tree() {
        let leaves = reference_leaves();
        for (size, expected) in ROOTS.iter().enumerate() {
            assert_eq!(root(&leaves[..size]), h(expected), "size {size}");
        }
    }

    #[test]
    fn inclusion_proofs_match_the_reference_vectors() {
        let leaves = reference_leaves();
        for (index, expected) in [
            (
                0,
                [
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                [
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ] {
            let expected: Vec<Hash> = expected.iter().map(|x| h(x)).collect();
            assert_eq!(inclusion_proof(&leaves, index, 8).unwrap(), expected);
            assert!(verify_inclusion(
                &leaves[index],
                index,
                8,
                &expected,
                &h(ROOTS[8])
            ));
        }
    }

    #[test]
    fn consistency_proofs_match_the_reference_vectors() {
        let leaves = reference_leaves();
        for (first, expected) in [
            (
                2,
                vec![
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                vec![
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ] {
            let expected: Vec<Hash> = expected.iter().map(|x| h(x)).collect();
            assert_eq!(consistency_proof(&leaves, first, 8).unwrap(), expected);
            assert!(verify_consistency(
                first,
                8,
                &h(ROOTS[first]),
                &h(ROOTS[8]),
                &expected
            ));
        }
    }

    #[test]
    fn degenerate_consistency_cases() {
        let leaves = reference_leaves();
        let (r4, r5, r8) = (h(ROOTS[4]), h(ROOTS[5]), h(ROOTS[8]));
        assert!(verify_consistency(4, 4, &r4, &r4, &[]));
        assert!(!verify_consistency(4, 4, &r4, &r5, &[]));
        assert!(!verify_consistency(4, 4, &r4, &r4, &[[0; 32]]));
        assert!(verify_consistency(0, 8, &empty_root(), &r8, &[]));
        assert!(!verify_consistency(0, 8, &h(ROOTS[1]), &r8, &[]));
        assert!(!verify_consistency(6, 8, &h(ROOTS[6]), &r8, &[]));
        assert!(!verify_consistency(8, 6, &r8, &h(ROOTS[6]), &[]));
        assert_eq!(
            consistency_proof(&leaves, 5, 3),
            Err(ProofError::SizeOutOfRange {
                first: 5,
                second: 3,
                available: 8
            })
        );
        assert_eq!(
            inclusion_proof(&leaves, 8, 8),
            Err(ProofError::IndexOutOfRange { index: 8, size: 8 })
        );
        assert!(!verify_inclusion(&leaves[5], 8, 8, &[], &r8));
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    #[test]
    fn every_proof_verifies_for_every_size_up_to_40() {
        let all = leaves(40);
        let roots: Vec<Hash> = (0..=40).map(|n| root(&all[..n])).collect();
        for n in 0..=40 {
            for i in 0..n {
                let proof = inclusion_proof(&all, i, n).unwrap();
                assert!(
                    verify_inclusion(&all[i], i, n, &proof, &roots[n]),
                    "{i}/{n}"
                );
            }
            for m in 0..=n {
                let proof = consistency_proof(&all, m, n).unwrap();
                assert!(
                    verify_consistency(m, n, &roots[m], &roots[n], &proof),
                    "{m}->{n}"
                );
            }
        }
    }

    #[test]
    fn a_compact_range_has_the_root_of_its_leaves_at_every_size() {
        let all = leaves(300);
        let mut range = CompactRange::new();
        assert_eq!(range.root(), empty_root());
        for n in 1..=300 {
            range.push(all[n - 1]);
            assert_eq!(range.size(), n as u64);
            assert_eq!(range.root(), root(&all[..n]), "{n}");
            // log2 state: one peak per set bit of the size.
            assert_eq!(range.peaks.len(), n.count_ones() as usize);
        }
        assert_eq!(CompactRange::of(&all[..77]).root(), root(&all[..77]));
        // The reference tree's roots.
        let reference = reference_leaves();
        assert_eq!(CompactRange::of(&reference).root(), root(&reference));
    }

    proptest! {
        /// The compact range of any leaves has the tree's root.
        #[test]
        fn compact_ranges_agree_with_the_tree(n in 0usize..2000, seed in any::<u64>()) {
            let all: Vec<Hash> = (0..n as u64)
                .map(|i| leaf_hash(&(i ^ seed).to_le_bytes()))
                .collect();
            prop_assert_eq!(CompactRange::of(&all).root(), root(&all));
        }

        /// A range taken up again from its size and peaks grows on as the original does; a
        /// wrong number of peaks for the size is refused.
        #[test]
        fn ranges_taken_up_from_their_peaks_grow_on(n in 0usize..500, more in 0usize..100) {
            let all = leaves(n + more);
            let first = CompactRange::of(&all[..n]);
            let mut again = CompactRange::from_peaks(first.size(), first.peaks().to_vec()).unwrap();
            for leaf in &all[n..] {
                again.push(*leaf);
            }
            prop_assert_eq!(again.root(), root(&all));
            let mut extra = first.peaks().to_vec();
            extra.push([7; 32]);
            prop_assert_eq!(CompactRange::from_peaks(first.size(), extra), None);
        }

        /// Any change to an inclusion proof — a flipped bit, a dropped or an added hash —
        /// fails verification.
        #[test]
        fn mangled_inclusion_proofs_fail(n in 2usize..64, i in any::<prop::sample::Index>(),
                                         which in any::<prop::sample::Index>(), bit in 0u8..8) {
            let all = leaves(n);
            let i = i.index(n);
            let r = root(&all);
            let proof = inclusion_proof(&all, i, n).unwrap();
            let mut flipped = proof.clone();
            let w = which.index(flipped.len());
            flipped[w][w % 32] ^= 1 << bit;
            prop_assert!(!verify_inclusion(&all[i], i, n, &flipped, &r));
            prop_assert!(!verify_inclusion(&all[i], i, n, &proof[..proof.len() - 1], &r));
            let mut longer = proof.clone();
            longer.push([0xab; 32]);
            prop_assert!(!verify_inclusion(&all[i], i, n, &longer, &r));
            prop_assert!(!verify_inclusion(&all[(i + 1) % n], i, n, &proof, &r));
        }

        /// Any change to a consistency proof fails verification.
        #[test]
        fn mangled_consistency_proofs_fail(n in 3usize..64, m in any::<prop::sample::Index>(),
                                           which in any::<prop::sample::Index>(), bit in 0u8..8) {
            let all = leaves(n);
            let m = 1 + m.index(n - 1);
            let (rm, rn) = (root(&all[..m]), root(&all));
            let proof = consistency_proof(&all, m, n).unwrap();
            prop_assume!(!proof.is_empty());
            let mut flipped = proof.clone();
            let w = which.index(flipped.len());
            flipped[w][w % 32] ^= 1 << bit;
            prop_assert!(!verify_consistency(m, n, &rm, &rn, &flipped));
            prop_assert!(!verify_consistency(m, n, &rm, &rn, &proof[..proof.len() - 1]));
            let mut longer = proof.clone();
            longer.push([0xcd; 32]);
            prop_assert!(!verify_consistency(m, n, &rm, &rn, &longer));
        }
    }
}
