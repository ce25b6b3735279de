//! Counter-based randomness: a value is a pure function of (seed, what, which), so any day of any
//! customer can be computed in any order, on any thread, and comes out the same. The world itself
//! is drawn with ChaCha (see `world`); the per-day noise uses this because it is read at random.

/// SplitMix64's finaliser: a bijective 64-bit mix with good avalanche.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of the run's seed, a salt naming what is drawn, and two coordinates.
#[inline]
pub fn h3(seed: u64, salt: u64, a: u64, b: u64) -> u64 {
    mix(mix(mix(seed ^ salt.wrapping_mul(0xA24B_AED4_963E_E407)) ^ a) ^ b.wrapping_mul(0x9FB2_1C65_1E98_DF25))
}

/// A uniform number in [0, 1) from a hash.
#[inline]
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform number in [lo, hi) from a hash.
#[inline]
pub fn between(h: u64, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(h)
}

/// One element of a list chosen by a hash.
#[inline]
pub fn pick<T: Copy>(list: &[T], h: u64) -> T {
    list[(mix(h) % list.len() as u64) as usize]
}

/// Salts: one per kind of draw, so that two draws of the same coordinates never coincide.
pub mod salt {
    /// Daily consumption noise of a customer.
    pub const NOISE: u64 = 1;
    /// Whether and when a transformer area's concentrator fails in a month.
    pub const AREA_FAIL: u64 = 2;
    /// Whether and when a single meter's collection fails in a month.
    pub const METER_FAIL: u64 = 3;
    /// Daily loss noise of an area or feeder.
    pub const LOSS: u64 = 4;
    /// Names, phones and addresses.
    pub const NAME: u64 = 5;
    /// Payments of a bill.
    pub const PAY: u64 = 6;
    /// Power-factor adjustment of a bill.
    pub const PF: u64 = 7;
    /// Register split into time-of-use registers.
    pub const TOU: u64 = 8;
}
