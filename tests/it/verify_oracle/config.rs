//! Configuration (pairs, seed, the pair to show) and a tiny deterministic RNG (splitmix64).

/// The seed when `REPOKID_ORACLE_SEED` is not set.
pub(super) const DEFAULT_SEED: u64 = 0x5EED_2026_0A11;

pub(super) struct Config {
    pub(super) pairs: u64,
    pub(super) seed: u64,
    pub(super) show: Option<u64>,
}

pub(super) fn config() -> Config {
    let num = |name: &str| -> Option<u64> {
        let v = std::env::var(name).ok()?;
        let v = v.trim().replace('_', "");
        let parsed = match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => v.parse(),
        };
        Some(parsed.unwrap_or_else(|_| panic!("{name}={v} is not a number")))
    };
    Config {
        pairs: num("REPOKID_ORACLE_PAIRS").unwrap_or(10_000),
        seed: num("REPOKID_ORACLE_SEED").unwrap_or(DEFAULT_SEED),
        show: num("REPOKID_ORACLE_SHOW"),
    }
}

// ================================================================================================
// A tiny deterministic RNG (splitmix64)
// ================================================================================================

pub(super) struct Rng(pub(super) u64);

impl Rng {
    /// The generator of pair `i` of stream `stream`: every pair can be regenerated on its own.
    pub(super) fn for_pair(seed: u64, stream: u64, i: u64) -> Rng {
        let mut r = Rng(seed
            .wrapping_add(stream.wrapping_mul(0xA24B_AED4_963E_E407))
            .wrapping_add(i.wrapping_mul(0x9FB2_1C65_1E98_DF25)));
        r.next();
        r
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next() % n as u64) as usize
    }

    /// True with probability `pct`%.
    pub(super) fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }

    pub(super) fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }
}
